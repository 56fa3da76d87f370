"""IAM users and their credentials, from the credential report (CIS 1.10 to 1.14) and the virtual MFA device list.

The two access-key checks (rotation, CIS 1.14, and unused keys, CIS 1.12) also judge the root
user's keys: the report's ``<root_account>`` row carries the same ``access_key_N_*`` columns, and
an old or idle root key is the worst case of both (Prowler reports it too). Their findings name
the account root (``arn:<partition>:iam::<account>:root``, resource id the account id). A report
without the root row (moto's never has one) yields no root finding here; whether root has a key
at all is ``iam_no_root_access_key``'s, from the account summary.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from iamflow.compliance.checks._common import (
    KEY_ID_PERMISSIONS,
    age_days,
    day,
    iso,
    key_fields,
    key_label,
    principal_tags,
)
from iamflow.compliance.config import ComplianceConfig
from iamflow.compliance.findings import Result, errored, failed, passed
from iamflow.compliance.registry import check
from iamflow.compliance.snapshot import (
    AUTHORIZATION_DETAILS,
    CREDENTIAL_REPORT,
    VIRTUAL_MFA_DEVICES,
    AccessKeyColumns,
    CredentialRow,
    Snapshot,
)


@dataclass(frozen=True)
class KeyHolder:
    """Whose access keys a per-key finding is about: an IAM user, or the root user."""

    arn: str
    resource_id: str
    who: str  # "user alice" or "the root user"
    tags: dict[str, str]


# judges one active key: (its holder, the key, its label such as "Access key 1")
KeyJudge = Callable[[KeyHolder, AccessKeyColumns, str], Iterator[Result]]


def _users(snapshot: Snapshot) -> Iterator[tuple[CredentialRow, dict[str, str]]]:
    assert snapshot.credential_report is not None
    tags = principal_tags(snapshot)
    for row in snapshot.credential_report.users:
        yield row, tags.get(row.arn, {})


def _key_holders(snapshot: Snapshot) -> Iterator[tuple[CredentialRow, KeyHolder]]:
    """The report's users, then the root user when the report has its row."""
    for row, tags in _users(snapshot):
        yield row, KeyHolder(row.arn, row.user, f"user {row.user}", tags)
    assert snapshot.credential_report is not None
    root = snapshot.credential_report.root
    if root is not None:
        yield root, KeyHolder(snapshot.root_arn, snapshot.account_id, "the root user", {})


def _per_active_key(snapshot: Snapshot, judge: KeyJudge) -> Iterator[Result]:
    """PASS each key holder without an active access key; let ``judge`` rule on every active key of the others."""
    for row, holder in _key_holders(snapshot):
        if not row.active_keys:
            name = holder.who[0].upper() + holder.who[1:]
            yield passed(holder.arn, f"{name} has no active access key.", resource_id=holder.resource_id,
                         tags=holder.tags)
            continue
        for key in row.active_keys:
            yield from judge(holder, key, key_label(key.slot).capitalize())


@check(
    title="Console users have MFA enabled",
    severity="high",
    cis=("1.10",),
    cis5=("1.9",),
    fsbp=("IAM.5",),
    description="Every IAM user with a console password has an MFA device, read from the credential "
    "report's password_enabled and mfa_active columns.",
    remediation="Enable an MFA device for the user (IAM > Users > Security credentials > Assign MFA), or "
    "remove the console password if the user does not sign in to the console.",
    needs=(CREDENTIAL_REPORT,),
    reads=(AUTHORIZATION_DETAILS,),  # the users' tags, when collected
    service="iam",
    resource_type="AwsIamUser",
)
def iam_user_mfa_enabled_console_access(snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> Iterator[Result]:
    """FAIL for a user with a console password and no MFA."""
    for row, tags in _users(snapshot):
        if not row.password_enabled:
            yield passed(row.arn, f"User {row.user} has no console password.", resource_id=row.user, tags=tags)
        elif row.mfa_active:
            yield passed(row.arn, f"User {row.user} has a console password and MFA enabled.", resource_id=row.user, tags=tags)
        else:
            yield failed(
                row.arn, f"User {row.user} has a console password but no MFA device.", resource_id=row.user, tags=tags
            )


@check(
    title="Active access keys are rotated within 90 days",
    severity="medium",
    cis=("1.14",),
    cis5=("1.13",),
    fsbp=("IAM.3",),
    description="Each active access key, the root user's included, was created (last rotated) no more than "
    "thresholds.access_key_max_age_days (90) days ago. Inactive keys are not judged.",
    remediation="Create a new access key, move the workload to it, deactivate the old key, then delete it.",
    needs=(CREDENTIAL_REPORT,),
    reads=(AUTHORIZATION_DETAILS,),  # the users' tags, when collected
    service="iam",
    resource_type="AwsIamUser",
    permissions=KEY_ID_PERMISSIONS,
)
def iam_rotate_access_key_90_days(snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> Iterator[Result]:
    """FAIL per active key older than the maximum age."""
    limit = config.thresholds.access_key_max_age_days

    def judge(h: KeyHolder, key: AccessKeyColumns, label: str) -> Iterator[Result]:
        extra = {"resource_id": h.resource_id, "tags": h.tags, **key_fields(key.slot, key.last_rotated)}
        if key.last_rotated is None:
            yield errored(h.arn, f"{label} of {h.who} is active but the report gives no creation date.", **extra)
            return
        age = age_days(key.last_rotated, now)
        if age > limit:
            yield failed(
                h.arn,
                f"{label} of {h.who} was created {day(key.last_rotated)} ({age} days ago) and has not "
                f"been rotated within {limit} days.",
                age_days=age, **extra,
            )
        else:
            yield passed(h.arn, f"{label} of {h.who} is {age} days old (limit {limit}).", age_days=age, **extra)

    yield from _per_active_key(snapshot, judge)


@check(
    title="Access keys unused for 45 days or more are disabled",
    severity="medium",
    cis=("1.12",),
    cis5=("1.11",),
    fsbp=("IAM.8",),
    description="Each active access key, the root user's included, was used within "
    "thresholds.credential_unused_days (45) days. A key that was never used counts as unused once it is "
    "older than the threshold.",
    remediation="Deactivate the key (and delete it once nothing breaks); create a new one if the user needs it again.",
    needs=(CREDENTIAL_REPORT,),
    reads=(AUTHORIZATION_DETAILS,),  # the users' tags, when collected
    service="iam",
    resource_type="AwsIamUser",
    permissions=KEY_ID_PERMISSIONS,
)
def iam_user_accesskey_unused(snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> Iterator[Result]:
    """FAIL per active key not used (or never used and created) within the threshold."""
    limit = config.thresholds.credential_unused_days

    def judge(h: KeyHolder, key: AccessKeyColumns, label: str) -> Iterator[Result]:
        extra = {"resource_id": h.resource_id, "tags": h.tags, **key_fields(key.slot, key.last_rotated),
                 "last_used": iso(key.last_used)}
        if key.last_used is not None:
            idle = age_days(key.last_used, now)
            if idle >= limit:
                yield failed(h.arn, f"{label} of {h.who} was last used {day(key.last_used)} ({idle} days ago; "
                             f"limit {limit}).", idle_days=idle, **extra)
            else:
                yield passed(h.arn, f"{label} of {h.who} was used {idle} days ago.", idle_days=idle, **extra)
            return
        if key.last_rotated is None:
            yield errored(h.arn, f"{label} of {h.who} was never used and the report gives no creation date.", **extra)
            return
        age = age_days(key.last_rotated, now)
        if age >= limit:
            yield failed(h.arn, f"{label} of {h.who} was never used and was created {day(key.last_rotated)} "
                         f"({age} days ago; limit {limit}).", idle_days=age, **extra)
        else:
            yield passed(h.arn, f"{label} of {h.who} was never used but is only {age} days old.", idle_days=age,
                         **extra)

    yield from _per_active_key(snapshot, judge)


@check(
    title="Console passwords unused for 45 days or more are disabled",
    severity="medium",
    cis=("1.12",),
    cis5=("1.11",),
    fsbp=("IAM.8",),
    description="Each console password was used within thresholds.credential_unused_days (45) days. A "
    "password that was never used counts as unused once it was set (or the user created) longer ago "
    "than the threshold.",
    remediation="Remove the user's console password (IAM > Users > Security credentials > Manage console access).",
    needs=(CREDENTIAL_REPORT,),
    reads=(AUTHORIZATION_DETAILS,),  # the users' tags, when collected
    service="iam",
    resource_type="AwsIamUser",
)
def iam_user_console_access_unused(snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> Iterator[Result]:
    """FAIL per console password not used (or never used and set) within the threshold."""
    limit = config.thresholds.credential_unused_days
    for row, tags in _users(snapshot):
        if not row.password_enabled:
            yield passed(row.arn, f"User {row.user} has no console password.", resource_id=row.user, tags=tags)
            continue
        if row.password_last_used is not None:
            idle = age_days(row.password_last_used, now)
            verdict = failed if idle >= limit else passed
            yield verdict(
                row.arn, f"User {row.user} last signed in to the console {day(row.password_last_used)} "
                f"({idle} days ago; limit {limit}).", resource_id=row.user, tags=tags, idle_days=idle,
                password_last_used=iso(row.password_last_used),
            )
            continue
        since = row.password_last_changed or row.user_creation_time
        if since is None:
            yield errored(
                row.arn, f"User {row.user} never used the console password and the report gives no date to age it by.",
                resource_id=row.user, tags=tags,
            )
            continue
        age = age_days(since, now)
        verdict = failed if age >= limit else passed
        yield verdict(
            row.arn, f"User {row.user} never signed in to the console; the password was set {day(since)} "
            f"({age} days ago; limit {limit}).", resource_id=row.user, tags=tags, idle_days=age, password_last_used=None,
        )


@check(
    title="Users have at most one active access key",
    severity="medium",
    cis=("1.13",),
    cis5=("1.12",),
    description="No IAM user has two active access keys at once (two keys are only for the rotation window).",
    remediation="Finish the rotation: deactivate and delete the key the workload no longer uses.",
    needs=(CREDENTIAL_REPORT,),
    reads=(AUTHORIZATION_DETAILS,),  # the users' tags, when collected
    service="iam",
    resource_type="AwsIamUser",
)
def iam_user_two_active_access_key(snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> Iterator[Result]:
    """FAIL per user with two active keys."""
    for row, tags in _users(snapshot):
        active = row.active_keys
        if len(active) > 1:
            created = ", ".join(f"{key_label(k.slot)} created {day(k.last_rotated)}" for k in active)
            yield failed(
                row.arn, f"User {row.user} has {len(active)} active access keys ({created}).",
                resource_id=row.user, tags=tags, active_keys=len(active),
            )
        else:
            yield passed(
                row.arn, f"User {row.user} has {len(active)} active access key(s).",
                resource_id=row.user, tags=tags, active_keys=len(active),
            )


@check(
    title="No access key is set up with a console user and left unused",
    severity="medium",
    cis=("1.11",),
    cis5=("1.10",),
    description="A user with a console password has no active access key that was never used: keys "
    "created at user setup 'just in case' are the CIS 1.11 case (the credential report has no key "
    "id or owner intent, so every never-used active key of a console user counts).",
    remediation="Delete the unused access key; let the user create one when they actually need programmatic access.",
    needs=(CREDENTIAL_REPORT,),
    reads=(AUTHORIZATION_DETAILS,),  # the users' tags, when collected
    service="iam",
    resource_type="AwsIamUser",
    permissions=KEY_ID_PERMISSIONS,
)
def iam_user_no_setup_initial_access_key(snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> Iterator[Result]:
    """FAIL per never-used active key of a user who also has a console password."""
    for row, tags in _users(snapshot):
        if not row.password_enabled:
            yield passed(row.arn, f"User {row.user} has no console password.", resource_id=row.user, tags=tags)
            continue
        unused = [k for k in row.active_keys if k.last_used is None]
        if not unused:
            yield passed(
                row.arn, f"User {row.user} has no active access key that was never used.", resource_id=row.user, tags=tags
            )
            continue
        for key in unused:
            setup_gap = None
            if key.last_rotated and row.user_creation_time:
                setup_gap = abs(key.last_rotated - row.user_creation_time) <= timedelta(hours=1)
            when = " at user creation" if setup_gap else ""
            yield failed(
                row.arn, f"{key_label(key.slot).capitalize()} of console user {row.user} was created {day(key.last_rotated)}{when} "
                "and has never been used.", resource_id=row.user, tags=tags,
                created_with_user=bool(setup_gap), **key_fields(key.slot, key.last_rotated),
            )


@check(
    title="Users with MFA use a hardware device",
    severity="medium",
    description="Each IAM user has MFA (credential report mfa_active) and no virtual MFA device assigned "
    "(ListVirtualMFADevices, one paginated call for the account). FIDO security keys and hardware TOTP "
    "tokens are not virtual devices. A user without any MFA fails too, as in Prowler.",
    remediation="Assign the user a FIDO security key or hardware TOTP token (IAM > Users > Security credentials "
    "> Assign MFA device), then deactivate the virtual device.",
    needs=(CREDENTIAL_REPORT, VIRTUAL_MFA_DEVICES),
    reads=(AUTHORIZATION_DETAILS,),  # the users' tags, when collected
    service="iam",
    resource_type="AwsIamUser",
)
def iam_user_hardware_mfa_enabled(snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> Iterator[Result]:
    """FAIL per user without MFA or with a virtual MFA device."""
    assert snapshot.virtual_mfa_devices is not None
    virtual: dict[str, list[str]] = {}
    for device in snapshot.virtual_mfa_devices:
        if device.user_arn:
            virtual.setdefault(device.user_arn, []).append(device.serial_number)
    for row, tags in _users(snapshot):
        serials = sorted(virtual.get(row.arn, []))
        if serials:
            yield failed(row.arn, f"User {row.user} uses virtual MFA device {serials[0]}, not a hardware one.",
                         resource_id=row.user, tags=tags, virtual_mfa_devices=serials)
        elif row.mfa_active:
            yield passed(row.arn, f"User {row.user} uses a hardware MFA device.", resource_id=row.user, tags=tags,
                         virtual_mfa_devices=[])
        else:
            yield failed(row.arn, f"User {row.user} has no MFA device at all.", resource_id=row.user, tags=tags,
                         virtual_mfa_devices=[])
