"""The root user (CIS 1.4 to 1.7): account summary, virtual MFA devices and the report's ``<root_account>`` row."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from iamflow.compliance.checks._common import age_days, day
from iamflow.compliance.config import ComplianceConfig
from iamflow.compliance.findings import Result, errored, failed, passed
from iamflow.compliance.registry import check
from iamflow.compliance.snapshot import ACCOUNT_SUMMARY, CREDENTIAL_REPORT, VIRTUAL_MFA_DEVICES, Snapshot


def _summary(snapshot: Snapshot, key: str) -> int:
    assert snapshot.account_summary is not None
    return int(snapshot.account_summary.get(key, 0))


@check(
    title="The root user has no access key",
    severity="critical",
    cis=("1.4",),
    cis5=("1.3",),
    fsbp=("IAM.4",),
    description="AccountAccessKeysPresent in the account summary is 0, and the credential report's "
    "<root_account> row (when present) shows no active key.",
    remediation="Sign in as root, open Security credentials, and delete the root access keys; use IAM roles instead.",
    needs=(ACCOUNT_SUMMARY,),
    reads=(CREDENTIAL_REPORT,),  # the <root_account> row, when the report was collected
    service="iam",
    resource_type="AwsAccount",
    permissions=("iam:GetCredentialReport",),
)
def iam_no_root_access_key(snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> Iterator[Result]:
    """FAIL when the root user has an access key."""
    present = _summary(snapshot, "AccountAccessKeysPresent") > 0
    report = snapshot.credential_report
    root = report.root if report else None
    active = [k.slot for k in root.active_keys] if root else []
    if present or active:
        detail = f" (active key slot(s) {', '.join(map(str, active))})" if active else ""
        yield failed(snapshot.root_arn, f"The root user of account {snapshot.account_id} has access keys{detail}.",
                     resource_id=snapshot.account_id)
    else:
        yield passed(snapshot.root_arn, f"The root user of account {snapshot.account_id} has no access key.",
                     resource_id=snapshot.account_id)


@check(
    title="The root user has MFA enabled",
    severity="critical",
    cis=("1.5",),
    cis5=("1.4",),
    fsbp=("IAM.9",),
    description="AccountMFAEnabled in the account summary is 1.",
    remediation="Sign in as root and assign an MFA device (preferably a hardware key) under Security credentials.",
    needs=(ACCOUNT_SUMMARY,),
    service="iam",
    resource_type="AwsAccount",
)
def iam_root_mfa_enabled(snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> Iterator[Result]:
    """FAIL when root has no MFA."""
    if _summary(snapshot, "AccountMFAEnabled") == 1:
        yield passed(snapshot.root_arn, f"The root user of account {snapshot.account_id} has MFA enabled.",
                     resource_id=snapshot.account_id)
    else:
        yield failed(snapshot.root_arn, f"The root user of account {snapshot.account_id} has no MFA device.",
                     resource_id=snapshot.account_id)


@check(
    title="The root user has a hardware MFA device",
    severity="critical",
    cis=("1.6",),
    cis5=("1.5",),
    fsbp=("IAM.6",),
    description="Root MFA is enabled (account summary) and no virtual MFA device is assigned to the root user.",
    remediation="Replace the root user's virtual MFA device with a hardware MFA device or security key.",
    needs=(ACCOUNT_SUMMARY, VIRTUAL_MFA_DEVICES),
    service="iam",
    resource_type="AwsAccount",
)
def iam_root_hardware_mfa_enabled(snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> Iterator[Result]:
    """FAIL when root has no MFA or a virtual one."""
    assert snapshot.virtual_mfa_devices is not None
    if _summary(snapshot, "AccountMFAEnabled") != 1:
        yield failed(snapshot.root_arn, f"The root user of account {snapshot.account_id} has no MFA device at all.",
                     resource_id=snapshot.account_id)
        return
    virtual = [
        d for d in snapshot.virtual_mfa_devices
        if d.user_arn == snapshot.root_arn or d.serial_number.endswith(":mfa/root-account-mfa-device")
    ]
    if virtual:
        yield failed(snapshot.root_arn, f"The root user of account {snapshot.account_id} uses a virtual MFA device "
                     f"({virtual[0].serial_number}), not a hardware one.", resource_id=snapshot.account_id)
    else:
        yield passed(snapshot.root_arn, f"The root user of account {snapshot.account_id} uses a hardware MFA device.",
                     resource_id=snapshot.account_id)


@check(
    title="The root user is not used",
    severity="high",
    cis=("1.7",),
    cis5=("1.6",),
    description="The root user's password and access keys were not used in the last thresholds.root_usage_days "
    "(1) day(s), per the credential report's <root_account> row. A report without that row is an ERROR.",
    remediation="Use IAM roles or users for daily work; keep the root credentials locked away for the few tasks that need them.",
    needs=(CREDENTIAL_REPORT,),
    service="iam",
    resource_type="AwsAccount",
)
def iam_avoid_root_usage(snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> Iterator[Result]:
    """FAIL when root was used within the threshold."""
    assert snapshot.credential_report is not None
    root = snapshot.credential_report.root
    if root is None:
        yield errored(snapshot.root_arn, "The credential report has no <root_account> row, so root usage is unknown.",
                      resource_id=snapshot.account_id)
        return
    uses = [d for d in (root.password_last_used, *(k.last_used for k in root.access_keys)) if d is not None]
    last = max(uses) if uses else None
    limit = config.thresholds.root_usage_days
    if last is not None and age_days(last, now) < limit:
        yield failed(snapshot.root_arn, f"The root user of account {snapshot.account_id} was used {day(last)} "
                     f"(within the last {limit} day(s)).", resource_id=snapshot.account_id, root_last_used=last.isoformat())
    else:
        yield passed(snapshot.root_arn, f"The root user of account {snapshot.account_id} was last used {day(last)}.",
                     resource_id=snapshot.account_id, root_last_used=last.isoformat() if last else None)
