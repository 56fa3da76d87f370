"""The account password policy (CIS 1.8, 1.9, plus character classes and expiry); no policy at all is a FAIL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from iamflow.compliance.config import ComplianceConfig
from iamflow.compliance.findings import Result, failed, passed
from iamflow.compliance.registry import ResourceScope, check
from iamflow.compliance.snapshot import PASSWORD_POLICY, Snapshot


class _PasswordPolicyScope(ResourceScope):
    severity: str


_COMMON: _PasswordPolicyScope = {"needs": (PASSWORD_POLICY,), "service": "iam", "resource_type": "AwsAccountPasswordPolicy", "severity": "medium"}
_FIX = "Update the account password policy (IAM > Account settings, or UpdateAccountPasswordPolicy) so that "


def _verdict(snapshot: Snapshot, ok: bool | None, good: str, bad: str, requirement: str) -> Iterator[Result]:
    policy = snapshot.password_policy
    assert policy is not None
    if not policy.present:
        yield failed(snapshot.root_arn, f"Account {snapshot.account_id} has no password policy, so nothing requires "
                     f"{requirement}.", resource_id=snapshot.account_id)
    elif ok:
        yield passed(snapshot.root_arn, f"The password policy of account {snapshot.account_id} {good}",
                     resource_id=snapshot.account_id)
    else:
        yield failed(snapshot.root_arn, f"The password policy of account {snapshot.account_id} {bad}",
                     resource_id=snapshot.account_id)


@check(
    title="Password policy requires at least 14 characters",
    cis=("1.8",),
    cis5=("1.7",),
    fsbp=("IAM.7",),
    description="MinimumPasswordLength is at least thresholds.password_min_length (14).",
    remediation=_FIX + "the minimum password length is 14 or more.",
    **_COMMON,
)
def iam_password_policy_minimum_length_14(snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> Iterator[Result]:
    """FAIL when the minimum length is below the threshold."""
    want = config.thresholds.password_min_length
    length = snapshot.password_policy.get("MinimumPasswordLength", 0) if snapshot.password_policy else 0
    yield from _verdict(snapshot, length >= want, f"requires {length} characters (at least {want}).",
                        f"requires {length} characters, fewer than {want}.", f"passwords of {want} characters")


@check(
    title="Password policy prevents reusing the last 24 passwords",
    cis=("1.9",),
    cis5=("1.8",),
    fsbp=("IAM.7",),
    description="PasswordReusePrevention is at least thresholds.password_reuse_prevention (24).",
    remediation=_FIX + "password reuse prevention remembers 24 passwords.",
    **_COMMON,
)
def iam_password_policy_reuse_24(snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> Iterator[Result]:
    """FAIL when fewer previous passwords are remembered than the threshold."""
    want = config.thresholds.password_reuse_prevention
    reuse = snapshot.password_policy.get("PasswordReusePrevention", 0) if snapshot.password_policy else 0
    yield from _verdict(snapshot, reuse >= want, f"prevents reusing the last {reuse} passwords (at least {want}).",
                        f"prevents reusing only the last {reuse} passwords, fewer than {want}.",
                        f"that the last {want} passwords are not reused")


def _requires(snapshot: Snapshot, key: str, what: str) -> Iterator[Result]:
    value = bool(snapshot.password_policy.get(key, False)) if snapshot.password_policy else False
    yield from _verdict(snapshot, value, f"requires {what}.", f"does not require {what}.", f"{what} in passwords")


@check(
    title="Password policy requires an uppercase letter",
    description="RequireUppercaseCharacters is true.",
    remediation=_FIX + "passwords need at least one uppercase letter.",
    **_COMMON,
    fsbp=("IAM.7",),
)
def iam_password_policy_uppercase(snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> Iterator[Result]:
    """FAIL when uppercase letters are not required."""
    yield from _requires(snapshot, "RequireUppercaseCharacters", "an uppercase letter")


@check(
    title="Password policy requires a lowercase letter",
    description="RequireLowercaseCharacters is true.",
    remediation=_FIX + "passwords need at least one lowercase letter.",
    **_COMMON,
    fsbp=("IAM.7",),
)
def iam_password_policy_lowercase(snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> Iterator[Result]:
    """FAIL when lowercase letters are not required."""
    yield from _requires(snapshot, "RequireLowercaseCharacters", "a lowercase letter")


@check(
    title="Password policy requires a number",
    description="RequireNumbers is true.",
    remediation=_FIX + "passwords need at least one digit.",
    **_COMMON,
    fsbp=("IAM.7",),
)
def iam_password_policy_number(snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> Iterator[Result]:
    """FAIL when digits are not required."""
    yield from _requires(snapshot, "RequireNumbers", "a number")


@check(
    title="Password policy requires a symbol",
    description="RequireSymbols is true.",
    remediation=_FIX + "passwords need at least one symbol.",
    **_COMMON,
    fsbp=("IAM.7",),
)
def iam_password_policy_symbol(snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> Iterator[Result]:
    """FAIL when symbols are not required."""
    yield from _requires(snapshot, "RequireSymbols", "a symbol")


@check(
    title="Passwords expire within 90 days",
    description="MaxPasswordAge is set and at most thresholds.password_max_age_days (90).",
    remediation=_FIX + "passwords expire after 90 days or fewer.",
    **_COMMON,
    fsbp=("IAM.7",),
)
def iam_password_policy_expires_passwords_within_90_days_or_less(
    snapshot: Snapshot, config: ComplianceConfig, now: datetime
) -> Iterator[Result]:
    """FAIL when passwords never expire or live longer than the threshold."""
    want = config.thresholds.password_max_age_days
    age = snapshot.password_policy.get("MaxPasswordAge") if snapshot.password_policy else None
    if age:
        yield from _verdict(snapshot, age <= want, f"expires passwords after {age} days (at most {want}).",
                            f"expires passwords after {age} days, more than {want}.", f"passwords to expire within {want} days")
    else:
        yield from _verdict(snapshot, False, "", f"never expires passwords (at most {want} days).",
                            f"passwords to expire within {want} days")
