"""CloudTrail in the sweep against in-process moto: trails, their status and selectors, refused reads."""

from __future__ import annotations

from datetime import datetime

import boto3
from compliance_moto_helpers import Sleeps

from iamflow.aws.clients import AwsClients
from iamflow.compliance.collect import collect_account
from iamflow.compliance.config import ComplianceConfig
from iamflow.compliance.findings import ERROR, FAIL, PASS, Finding
from iamflow.compliance.sweep import sweep_account
from tests.helpers.faults import throttle_first

ACCOUNT = "123456789012"
CHECKS = ("cloudtrail_multi_region_enabled", "cloudtrail_log_file_validation_enabled")


def _trails(*specs: tuple[str, bool, bool, bool]) -> None:
    """Create (name, multi_region, validation, logging) trails, logging to one bucket."""
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="iamflow-test-trail-logs")
    ct = boto3.client("cloudtrail", region_name="us-east-1")
    for name, multi, validation, logging in specs:
        ct.create_trail(Name=name, S3BucketName="iamflow-test-trail-logs", IsMultiRegionTrail=multi,
                        EnableLogFileValidation=validation)
        if logging:
            ct.start_logging(Name=name)


def _sweep(clients: AwsClients, now: datetime) -> list[Finding]:
    return [f for f in sweep_account(clients, ACCOUNT, ComplianceConfig.load(), None, now, sleep=Sleeps())
            if f.check_id in CHECKS]


def _status(findings: list[Finding], check_id: str) -> dict[str, str]:
    return {f.resource_id: f.status for f in findings if f.check_id == check_id}


def test_a_logging_multi_region_trail_passes_and_a_stopped_unvalidated_one_fails(clients, now) -> None:
    _trails(("org-trail", True, True, True), ("local", False, False, False))
    snap = collect_account(clients, now=now, sleep=Sleeps(), steps=["cloudtrail_trails"])
    assert {t.name: (t.is_logging, t.management_events) for t in snap.cloudtrail_trails} == {
        "org-trail": (True, "All"), "local": (False, "All")}
    findings = _sweep(clients, now)
    assert _status(findings, "cloudtrail_multi_region_enabled") == {"org-trail": PASS}
    assert _status(findings, "cloudtrail_log_file_validation_enabled") == {"org-trail": PASS, "local": FAIL}


def test_a_stopped_multi_region_trail_fails_and_write_only_events_fail(clients, now) -> None:
    _trails(("org-trail", True, True, False), ("writes", True, True, True))
    boto3.client("cloudtrail", region_name="us-east-1").put_event_selectors(
        TrailName="writes", EventSelectors=[{"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True}])
    (only,) = [f for f in _sweep(clients, now) if f.check_id == "cloudtrail_multi_region_enabled"]
    assert only.status == FAIL
    assert "org-trail is not logging" in only.message and "writes logs management events WriteOnly" in only.message


def test_no_trail_at_all_fails_the_multi_region_check(clients, now) -> None:
    findings = _sweep(clients, now)
    assert [(f.check_id, f.status) for f in findings] == [("cloudtrail_multi_region_enabled", FAIL)]


def test_refused_reads_are_errors_never_a_pass(clients, now) -> None:
    _trails(("org-trail", True, True, True))
    throttle_first(clients.client("cloudtrail"), 100, operation="GetTrailStatus", code="AccessDeniedException")
    findings = _sweep(clients, now)
    assert _status(findings, "cloudtrail_multi_region_enabled") == {"org-trail": ERROR}

    throttle_first(clients.client("cloudtrail"), 100, operation="DescribeTrails", code="AccessDeniedException")
    findings = _sweep(clients, now)
    assert {f.check_id: f.status for f in findings} == dict.fromkeys(CHECKS, ERROR)
    assert all("cloudtrail_trails" in f.message for f in findings)
