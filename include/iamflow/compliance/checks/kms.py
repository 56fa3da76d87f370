"""KMS customer-managed keys: rotation (CIS 3.6), rotation period, use, pending deletion, public key policies."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from iamflow.compliance.checks._common import day
from iamflow.compliance.config import ComplianceConfig
from iamflow.compliance.findings import Result, errored, failed, passed
from iamflow.compliance.registry import ResourceScope, check
from iamflow.compliance.snapshot import KMS_KEYS, KmsKey, Snapshot
from iamflow.policy.lint import statement_list

# AWS's rotation period when RotationPeriodInDays is not reported (older API answers, moto)
DEFAULT_ROTATION_PERIOD_DAYS = 365
_KEY: ResourceScope = {"needs": (KMS_KEYS,), "service": "kms", "resource_type": "AwsKmsKey"}


def _keys(snapshot: Snapshot) -> Iterator[KmsKey]:
    assert snapshot.kms_keys is not None
    yield from (k for k in snapshot.kms_keys if k.is_customer_managed and "DescribeKey" not in k.errors)


def _undescribed(snapshot: Snapshot) -> Iterator[Result]:
    """ERROR results for keys whose DescribeKey failed: their kind and state are unknown."""
    assert snapshot.kms_keys is not None
    for key in snapshot.kms_keys:
        if "DescribeKey" in key.errors:
            yield errored(key.arn, f"KMS key {key.key_id} could not be described: {key.errors['DescribeKey']}",
                          resource_id=key.key_id)


def _fields(key: KmsKey) -> dict[str, object]:
    return {"resource_id": key.key_id, "tags": key.tags, "key_state": key.state, "aliases": list(key.aliases)}


def _rotatable(key: KmsKey) -> bool:
    return key.state == "Enabled" and key.supports_automatic_rotation


@check(
    title="Customer-managed KMS keys rotate automatically",
    severity="medium",
    cis=("3.6",),
    cis5=("3.6",),
    fsbp=("KMS.4",),
    description="Every enabled symmetric customer-managed key with AWS-generated material has automatic "
    "rotation enabled (asymmetric, HMAC and imported keys cannot rotate automatically).",
    remediation="Enable automatic rotation (EnableKeyRotation, optionally with RotationPeriodInDays).",
    **_KEY,
)
def kms_cmk_rotation_enabled(snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> Iterator[Result]:
    """FAIL per rotatable key without automatic rotation."""
    yield from _undescribed(snapshot)
    for key in _keys(snapshot):
        if not _rotatable(key):
            continue
        if key.rotation_enabled is None:
            why = key.errors.get("GetKeyRotationStatus", "not returned")
            yield errored(key.arn, f"KMS key {key.key_id}: rotation status unknown ({why}).", **_fields(key))
        elif key.rotation_enabled:
            yield passed(key.arn, f"KMS key {key.key_id} rotates automatically.", **_fields(key))
        else:
            yield failed(key.arn, f"KMS key {key.key_id} does not rotate automatically.", **_fields(key))


@check(
    title="KMS key rotation period is within the maximum",
    severity="low",
    description="For keys with automatic rotation, RotationPeriodInDays is at most "
    "thresholds.kms_max_rotation_period_days (365). When KMS does not report the period, AWS's default "
    "(365 days) is assumed and the message says so.",
    remediation="Re-enable rotation with a shorter period: EnableKeyRotation with RotationPeriodInDays.",
    **_KEY,
)
def kms_cmk_rotation_period_within_max(snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> Iterator[Result]:
    """FAIL per rotating key whose period exceeds the maximum."""
    yield from _undescribed(snapshot)
    limit = config.thresholds.kms_max_rotation_period_days
    for key in _keys(snapshot):
        if not _rotatable(key) or not key.rotation_enabled:
            continue
        period = key.rotation_period_days
        note = ""
        if period is None:
            period, note = DEFAULT_ROTATION_PERIOD_DAYS, " (period not reported; AWS default assumed)"
        verdict = passed if period <= limit else failed
        yield verdict(key.arn, f"KMS key {key.key_id} rotates every {period} days{note}; maximum {limit}.",
                      rotation_period_days=period, **_fields(key))


@check(
    title="Customer-managed KMS keys are not pending deletion",
    severity="high",
    fsbp=("KMS.3",),
    description="No customer-managed key is in the PendingDeletion state (once deleted, data encrypted under it "
    "is lost).",
    remediation="If the deletion is unintended, CancelKeyDeletion and re-enable the key before the deletion date.",
    **_KEY,
)
def kms_cmk_not_deleted_unintentionally(snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> Iterator[Result]:
    """FAIL per key scheduled for deletion."""
    yield from _undescribed(snapshot)
    for key in _keys(snapshot):
        if key.state == "PendingDeletion":
            yield failed(key.arn, f"KMS key {key.key_id} is scheduled for deletion on {day(key.deletion_date)}.",
                         deletion_date=key.deletion_date.isoformat() if key.deletion_date else None, **_fields(key))
        else:
            yield passed(key.arn, f"KMS key {key.key_id} is not scheduled for deletion (state {key.state}).", **_fields(key))


def _public_statements(policy: dict[str, Any]) -> list[str]:
    found = []
    for i, s in enumerate(statement_list(policy)):
        if str(s.get("Effect", "")).lower() != "allow" or s.get("Condition"):
            continue
        principal = s.get("Principal")
        aws = principal.get("AWS") if isinstance(principal, dict) else principal
        values = aws if isinstance(aws, list) else [aws]
        if "*" in values:
            found.append(str(s.get("Sid") or f"Statement[{i}]"))
    return found


@check(
    title="KMS key policies do not allow everyone",
    severity="high",
    fsbp=("KMS.5",),
    description="No Allow statement of a customer-managed key's policy has Principal '*' without a Condition.",
    remediation="Replace the '*' principal with the account or role ARNs that need the key, or add conditions "
    "(aws:PrincipalOrgID, kms:CallerAccount, kms:ViaService).",
    **_KEY,
)
def kms_key_not_publicly_accessible(snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> Iterator[Result]:
    """FAIL per key whose policy allows any principal."""
    yield from _undescribed(snapshot)
    for key in _keys(snapshot):
        if key.state == "PendingDeletion":
            continue
        if key.policy is None:
            why = key.errors.get("GetKeyPolicy", "not returned")
            yield errored(key.arn, f"KMS key {key.key_id}: key policy unknown ({why}).", **_fields(key))
            continue
        public = _public_statements(key.policy)
        if public:
            yield failed(key.arn, f"KMS key {key.key_id} allows any principal in {', '.join(public)}.", **_fields(key))
        else:
            yield passed(key.arn, f"KMS key {key.key_id}'s policy names its principals.", **_fields(key))


@check(
    title="Customer-managed KMS keys are in use",
    severity="low",
    description="Every customer-managed key is Enabled. A Disabled key (or one left PendingImport or "
    "Unavailable) is not being used and still costs money and review; a key PendingDeletion passes, since "
    "its removal is already scheduled (kms_cmk_not_deleted_unintentionally watches that side).",
    remediation="Re-enable the key if something should use it; otherwise ScheduleKeyDeletion after checking "
    "that no data is still encrypted under it.",
    **_KEY,
)
def kms_cmk_are_used(snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> Iterator[Result]:
    """FAIL per customer-managed key that is neither enabled nor scheduled for deletion."""
    yield from _undescribed(snapshot)
    for key in _keys(snapshot):
        if key.state == "Enabled":
            yield passed(key.arn, f"KMS key {key.key_id} is enabled.", **_fields(key))
        elif key.state == "PendingDeletion":
            yield passed(key.arn, f"KMS key {key.key_id} is not used and is scheduled for deletion on "
                         f"{day(key.deletion_date)}.", **_fields(key))
        else:
            yield failed(key.arn, f"KMS key {key.key_id} is not used (state {key.state}).", **_fields(key))
