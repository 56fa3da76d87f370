"""CloudTrail: a multi-region trail that logs every management event (CIS 3.1), log file validation (CIS 3.2).

AWS facts: a multi-region trail records the API activity of every region of the account, and is
visible in each region as a *shadow trail* (``DescribeTrails`` with ``includeShadowTrails``); a
trail with no custom event selector logs all management events, reads and writes. A trail that
exists but is stopped (``GetTrailStatus`` → ``IsLogging: false``) records nothing. Log file
validation makes CloudTrail deliver a signed SHA-256 digest every hour, so that a log file deleted
or altered after delivery can be detected (``aws cloudtrail validate-logs``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from iamflow.compliance.config import ComplianceConfig
from iamflow.compliance.findings import Result, errored, failed, passed
from iamflow.compliance.registry import ResourceScope, check
from iamflow.compliance.snapshot import CLOUDTRAIL_TRAILS, Snapshot, Trail

_TRAIL: ResourceScope = {"needs": (CLOUDTRAIL_TRAILS,), "service": "cloudtrail", "resource_type": "AwsCloudTrailTrail"}


def _trails(snapshot: Snapshot) -> list[Trail]:
    assert snapshot.cloudtrail_trails is not None
    # a multi-region trail is listed once per region; judge it once, by its ARN
    return list({t.arn: t for t in snapshot.cloudtrail_trails}.values())


def _fields(trail: Trail) -> dict[str, object]:
    return {"resource_id": trail.name, "home_region": trail.home_region, "multi_region": trail.multi_region,
            "is_logging": trail.is_logging, "management_events": trail.management_events}


def _trail_arn(snapshot: Snapshot) -> str:
    """The resource of an account-level CloudTrail finding (no trail to name)."""
    return f"arn:{snapshot.partition}:cloudtrail:{snapshot.region}:{snapshot.account_id}:trail"


def _shortfall(trail: Trail) -> str | None:
    """Why a multi-region trail does not satisfy CIS 3.1, or None when it does (unknowns excluded)."""
    if trail.is_logging is False:
        return "is not logging (stopped)"
    if trail.management_events not in (None, "All"):
        return f"logs management events {trail.management_events}, not reads and writes"
    return None


@check(
    title="A multi-region CloudTrail trail logs every management event",
    severity="high",
    cis=("3.1",),
    cis5=("3.1",),
    fsbp=("CloudTrail.1",),
    description="At least one multi-region trail is logging and records all management events (read and "
    "write), so that API activity in every region, including regions nobody uses, is recorded.",
    remediation="Create a multi-region trail (CreateTrail with IsMultiRegionTrail), start it (StartLogging) and "
    "keep management events at ReadWriteType All; deny cloudtrail:StopLogging and DeleteTrail by SCP.",
    **_TRAIL,
)
def cloudtrail_multi_region_enabled(snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> Iterator[Result]:
    """PASS per multi-region trail that qualifies; else one FAIL for the region (ERROR for trails not readable)."""
    multi = [t for t in _trails(snapshot) if t.multi_region]
    good = [t for t in multi if t.is_logging and t.management_events == "All"]
    if good:
        for trail in good:
            yield passed(trail.arn, f"Trail {trail.name} is multi-region, logging and records all management events.",
                         **_fields(trail))
        return
    unknown = [t for t in multi if _shortfall(t) is None]
    for trail in unknown:
        why = "; ".join(f"{call}: {msg}" for call, msg in sorted(trail.errors.items())) or "status not returned"
        yield errored(trail.arn, f"Trail {trail.name} is multi-region but its status is unknown ({why}).",
                      **_fields(trail))
    if unknown:
        return
    if not multi:
        reason = "no multi-region trail exists" + (" (only single-region trails)" if snapshot.cloudtrail_trails else "")
    else:
        reason = "; ".join(f"trail {t.name} {_shortfall(t)}" for t in multi)
    yield failed(_trail_arn(snapshot), f"No multi-region trail records every management event: {reason}.",
                 resource_id=snapshot.account_id)


@check(
    title="CloudTrail log file validation is enabled",
    severity="medium",
    cis=("3.2",),
    cis5=("3.2",),
    fsbp=("CloudTrail.4",),
    description="Every trail has log file integrity validation enabled, so that altered or deleted log files "
    "can be detected from the signed digest files.",
    remediation="Enable validation on the trail: UpdateTrail with EnableLogFileValidation.",
    **_TRAIL,
)
def cloudtrail_log_file_validation_enabled(snapshot: Snapshot, config: ComplianceConfig,
                                           now: datetime) -> Iterator[Result]:
    """PASS or FAIL per trail."""
    for trail in _trails(snapshot):
        if trail.log_file_validation:
            yield passed(trail.arn, f"Trail {trail.name} has log file validation enabled.", **_fields(trail))
        else:
            yield failed(trail.arn, f"Trail {trail.name} does not validate its log files.", **_fields(trail))
