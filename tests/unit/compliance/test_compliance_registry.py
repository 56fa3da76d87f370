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


def test_every_contract_check_exists_with_its_cis_controls() -> None:
    registered = {c.id: c for c in all_checks()}
    missing = sorted(set(CONTRACT) - set(registered))
    assert not missing, f"contract check ids not registered: {missing}"
    for check_id, controls in CONTRACT.items():
        assert registered[check_id].compliance.get(CIS, []) == controls, check_id


@pytest.mark.parametrize("check", all_checks(), ids=lambda c: c.id)
def test_check_metadata_is_consistent(check) -> None:  # noqa: ANN001
    assert check.id == check.func.__name__
    assert re.fullmatch(r"[a-z][a-z0-9_]+", check.id)
    assert check.module.startswith("iamflow.compliance.checks."), check.module
    source = (CHECKS_DIR / f"{check.module.rsplit('.', 1)[1]}.py").read_text()
    assert f"def {check.id}(" in source
    assert check.id.split("_")[0] in {"iam", "kms", "secretsmanager", "cognito", "accessanalyzer", "iamflow",
                                      "cloudtrail", "ssm"}
    assert check.severity in SEVERITIES
    assert check.title and check.description and check.remediation
    assert check.func.__doc__ and "\n" not in check.func.__doc__.strip(), "one-line docstring"
    assert check.needs and all(step in STEP_PERMISSIONS for step in check.needs)
    assert all(re.fullmatch(r"\d+\.\d+", c) for c in check.cis)
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
