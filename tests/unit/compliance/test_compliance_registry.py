"""The registry keeps module, ID and metadata of every check consistent; the contract IDs all exist."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from iamflow.compliance import snapshot as snap
from iamflow.compliance.config import ComplianceConfig
from iamflow.compliance.findings import ERROR, SEVERITIES
from iamflow.compliance.registry import (
    CIS,
    CIS5,
    FSBP,
    STEP_PERMISSIONS,
    all_checks,
    enabled_checks,
    required_permissions,
    steps_for,
)

# the IDs issue 4 names, with their CIS AWS Foundations v3.0 controls (a contract: Prowler's names)
CONTRACT = {
    "iam_user_mfa_enabled_console_access": ["1.10"],
    "iam_rotate_access_key_90_days": ["1.14"],
    "iam_user_accesskey_unused": ["1.12"],
    "iam_user_console_access_unused": ["1.12"],
    "iam_user_two_active_access_key": ["1.13"],
    "iam_user_no_setup_initial_access_key": ["1.11"],
    "iam_policy_attached_only_to_group_or_roles": ["1.15"],
    "iam_no_root_access_key": ["1.4"],
    "iam_root_mfa_enabled": ["1.5"],
    "iam_root_hardware_mfa_enabled": ["1.6"],
    "iam_avoid_root_usage": ["1.7"],
    "iam_password_policy_minimum_length_14": ["1.8"],
    "iam_password_policy_reuse_24": ["1.9"],
    "iam_password_policy_uppercase": [],
    "iam_password_policy_lowercase": [],
    "iam_password_policy_number": [],
    "iam_password_policy_symbol": [],
    "iam_password_policy_expires_passwords_within_90_days_or_less": [],
    "iam_aws_attached_policy_no_administrative_privileges": ["1.16"],
    "iam_customer_attached_policy_no_administrative_privileges": ["1.16"],
    "iam_customer_unattached_policy_no_administrative_privileges": ["1.16"],
    "iam_inline_policy_no_administrative_privileges": ["1.16"],
    "iam_policy_no_full_access_to_kms": [],
    "iam_user_administrator_access_policy": [],
    "iam_role_administratoraccess_policy": [],
    "iam_support_role_created": ["1.17"],
    "kms_cmk_rotation_enabled": ["3.6"],
    "secretsmanager_automatic_rotation_enabled": [],
}
CHECKS_DIR = Path(snap.__file__).parent / "checks"

# CIS AWS Foundations v5.0 dropped v3.0's recommendation 1.3 (security questions), so every later
# recommendation of section 1 moved up by one (v3.0 1.4 "no root access key" is v5.0 1.3, ... v3.0 1.20
# "IAM Access Analyzer enabled" is v5.0 1.19); section 3's KMS rotation kept its number (3.6).
CIS3_TO_CIS5 = {f"1.{n}": f"1.{n - 1}" for n in range(4, 23)} | {"3.6": "3.6"}

# the Security Hub FSBP controls of our scope, each with the one thing it evaluates
FSBP_CONTROLS = {
    "IAM.1": "customer managed policies allow full '*' administrative privileges",
    "IAM.2": "IAM users have policies attached",
    "IAM.3": "active access keys rotated within 90 days",
    "IAM.4": "the root user has an access key",
    "IAM.5": "MFA for every IAM user with a console password",
    "IAM.6": "hardware MFA for the root user",
    "IAM.7": "the account password policy has strong configurations",
    "IAM.8": "unused IAM user credentials are removed",
    "IAM.9": "MFA for the root user",
    "KMS.3": "KMS keys are not deleted unintentionally",
    "KMS.4": "KMS key rotation is enabled",
    "KMS.5": "KMS keys are not publicly accessible",
    "SecretsManager.1": "secrets have automatic rotation enabled",
    "SecretsManager.2": "secrets with automatic rotation rotate successfully",
    "SecretsManager.3": "unused secrets are removed",
    "SecretsManager.4": "secrets are rotated within a given number of days",
    "Cognito.1": "user pools have threat protection (advanced security) in full-function enforcement mode",
}
# what a sweep maps each control to (a contract: reports and the Compliance view group findings by it)
FSBP_CONTRACT = {
    "IAM.1": {"iam_customer_attached_policy_no_administrative_privileges",
              "iam_customer_unattached_policy_no_administrative_privileges"},
    "IAM.2": {"iam_policy_attached_only_to_group_or_roles", "iam_user_with_inline_policy"},
    "IAM.3": {"iam_rotate_access_key_90_days"},
    "IAM.4": {"iam_no_root_access_key"},
    "IAM.5": {"iam_user_mfa_enabled_console_access"},
    "IAM.6": {"iam_root_hardware_mfa_enabled"},
    "IAM.7": {"iam_password_policy_minimum_length_14", "iam_password_policy_reuse_24",
              "iam_password_policy_uppercase", "iam_password_policy_lowercase", "iam_password_policy_number",
              "iam_password_policy_symbol", "iam_password_policy_expires_passwords_within_90_days_or_less"},
    "IAM.8": {"iam_user_accesskey_unused", "iam_user_console_access_unused"},
    "IAM.9": {"iam_root_mfa_enabled"},
    "KMS.3": {"kms_cmk_not_deleted_unintentionally"},
    "KMS.4": {"kms_cmk_rotation_enabled"},
    "KMS.5": {"kms_key_not_publicly_accessible"},
    "SecretsManager.1": {"secretsmanager_automatic_rotation_enabled"},
    "SecretsManager.2": {"secretsmanager_secret_rotation_overdue"},
    "SecretsManager.3": {"secretsmanager_secret_unused"},
    "SecretsManager.4": {"secretsmanager_secret_rotated_periodically"},
    "Cognito.1": {"cognito_user_pool_advanced_security_enabled"},
}


def test_every_contract_check_exists_with_its_cis_controls() -> None:
    registered = {c.id: c for c in all_checks()}
    missing = sorted(set(CONTRACT) - set(registered))
    assert not missing, f"contract check ids not registered: {missing}"
    for check_id, controls in CONTRACT.items():
        assert registered[check_id].compliance.get(CIS, []) == controls, check_id


@pytest.mark.parametrize("check", [c for c in all_checks() if c.cis], ids=lambda c: c.id)
def test_cis_5_numbers_follow_the_v3_ones(check) -> None:  # noqa: ANN001
    assert check.compliance[CIS5] == [CIS3_TO_CIS5[n] for n in check.cis]


def test_no_check_has_cis_5_numbers_without_v3_ones() -> None:
    assert [c.id for c in all_checks() if c.cis5 and not c.cis] == []


def test_fsbp_controls_map_to_the_checks_that_evaluate_them() -> None:
    mapped: dict[str, set[str]] = {}
    for c in all_checks():
        for control in c.compliance.get(FSBP, []):
            mapped.setdefault(control, set()).add(c.id)
    assert set(mapped) <= set(FSBP_CONTROLS), sorted(set(mapped) - set(FSBP_CONTROLS))
    assert mapped == FSBP_CONTRACT


def test_a_finding_carries_every_framework_of_its_check() -> None:
    check = {c.id: c for c in all_checks()}["iam_no_root_access_key"]
    assert check.compliance == {CIS: ["1.4"], CIS5: ["1.3"], FSBP: ["IAM.4"]}
    assert list(check.compliance) == [CIS, CIS5, FSBP]


@pytest.mark.parametrize("check", all_checks(), ids=lambda c: c.id)
def test_check_metadata_is_consistent(check) -> None:  # noqa: ANN001
    assert check.id == check.func.__name__
    assert re.fullmatch(r"[a-z][a-z0-9_]+", check.id)
    assert check.module.startswith("iamflow.compliance.checks."), check.module
    source = (CHECKS_DIR / f"{check.module.rsplit('.', 1)[1]}.py").read_text()
    assert f"def {check.id}(" in source
    assert check.id.split("_")[0] in {"iam", "kms", "secretsmanager", "cognito", "accessanalyzer", "iamflow"}
    assert check.severity in SEVERITIES
    assert check.title and check.description and check.remediation
    assert check.func.__doc__ and "\n" not in check.func.__doc__.strip(), "one-line docstring"
    assert check.needs and all(step in STEP_PERMISSIONS for step in check.needs)
    assert all(re.fullmatch(r"\d+\.\d+", c) for c in check.cis + check.cis5)
    assert all(re.fullmatch(r"(IAM|KMS|SecretsManager|Cognito)\.\d+", c) for c in check.fsbp)
    assert all(re.fullmatch(r"[a-z-]+:[A-Za-z]+", p) for p in check.permissions)
    assert "sts:GetCallerIdentity" in check.permissions
    assert check.regional == (check.service not in ("iam", "iamflow"))


def test_unused_credential_checks_say_never_used_counts_as_unused() -> None:
    checks = {c.id: c for c in all_checks()}
    for check_id in ("iam_user_accesskey_unused", "iam_user_console_access_unused"):
        assert "never used" in checks[check_id].description


def test_a_check_without_its_step_is_an_error_not_a_pass() -> None:
    empty = snap.Snapshot(account_id="111122223333")
    empty.errors[snap.CREDENTIAL_REPORT] = "GetCredentialReport: AccessDenied: no"
    for check in all_checks():
        findings = check(empty, ComplianceConfig(), datetime(2025, 1, 1, tzinfo=UTC))
        assert [f.status for f in findings] == [ERROR], check.id
        assert findings[0].resource_arn == "arn:aws:iam::111122223333:root"
        if snap.CREDENTIAL_REPORT in check.needs:
            assert "AccessDenied" in findings[0].message


def test_shipped_config_enables_every_check_including_drift() -> None:
    config = ComplianceConfig.load()
    enabled = {c.id for c in enabled_checks(config)}
    assert enabled == {c.id for c in all_checks()}
    assert set(CONTRACT) <= enabled
    assert snap.DRIFT in steps_for(enabled_checks(config))


def test_required_permissions_are_reads_and_cover_every_step() -> None:
    perms = required_permissions(all_checks())
    assert "iam:GetAccountAuthorizationDetails" in perms and "kms:GetKeyRotationStatus" in perms
    assert "iam:ListAccessKeys" in perms
    # AdminGetUser reads a Cognito user (the sweep keeps only its status)
    writes = [p for p in perms if not re.match(r"[a-z-]+:(Get|List|Describe|AdminGet)", p)]
    assert writes == ["iam:GenerateCredentialReport"]
