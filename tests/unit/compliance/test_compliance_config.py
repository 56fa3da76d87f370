"""compliance.yaml, targets.yaml and the credential report parser."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from iamflow.compliance.config import ComplianceConfig, ComplianceConfigError
from iamflow.compliance.snapshot import CredentialReport, parse_report_time
from iamflow.compliance.targets import ExternalIdSource, Target, TargetsConfig
from iamflow.settings import compliance_config_path


def test_shipped_config_loads_with_cis_defaults() -> None:
    config = ComplianceConfig.load(compliance_config_path())
    t = config.thresholds
    assert (t.access_key_max_age_days, t.credential_unused_days, t.password_min_length, t.password_reuse_prevention) == (
        90, 45, 14, 24)
    assert config.collection.credential_report_max_age == timedelta(hours=4)
    assert config.boundary_required.paths == ("/developers/",)


def test_defaults_when_no_file(tmp_path: Path) -> None:
    assert ComplianceConfig.from_dict({}).thresholds.credential_unused_days == 45
    with pytest.raises(ComplianceConfigError, match="no such file"):
        ComplianceConfig.load(tmp_path / "missing.yaml")


@pytest.mark.parametrize(("data", "message"), [
    ({"threshold": {}}, "unknown key"),
    ({"thresholds": {"acess_key_max_age_days": 30}}, "thresholds.acess_key_max_age_days"),
    ({"thresholds": {"access_key_max_age_days": "ninety"}}, "non-negative number"),
    ({"collection": {"credential_report_max_age_hours": 6}}, "at most 4"),
    ({"checks": {"disabled": ["no_such_check"]}}, "unknown check id"),
    ({"roles": {"permissions_boundary_required": {"name_patterns": ["("]}}}, "bad regex"),
])
def test_bad_config_is_rejected_with_the_key(data: dict, message: str) -> None:
    with pytest.raises(ComplianceConfigError, match=message):
        ComplianceConfig.from_dict(data)


def test_enabled_and_disabled_checks() -> None:
    config = ComplianceConfig.from_dict({"checks": {"enabled": ["iam_root_mfa_enabled", "kms_cmk_rotation_enabled"],
                                                    "disabled": ["kms_cmk_rotation_enabled"]}})
    assert config.is_enabled("iam_root_mfa_enabled")
    assert not config.is_enabled("kms_cmk_rotation_enabled") and not config.is_enabled("iam_avoid_root_usage")


def test_targets_explicit_list_and_organization() -> None:
    cfg = TargetsConfig.from_dict({
        "role_name": "Audit",
        "external_id": {"env": "SWEEP_EXTERNAL_ID"},
        "accounts": [{"account_id": "111111111111", "role_arn": "arn:aws:iam::111111111111:role/X"}, "222222222222"],
        "organization": {"ou_ids": ["ou-1"], "tags": {"sweep": "yes"}},
    })
    assert cfg.accounts == (Target("111111111111", "arn:aws:iam::111111111111:role/X"), Target("222222222222"))
    assert cfg.organization is not None and cfg.organization.tags == {"sweep": "yes"}
    assert TargetsConfig.from_dict({"organization": True}).organization is not None


@pytest.mark.parametrize("data", [
    {"external_id": "s3cr3t"},
    {"external_id": {"value": "s3cr3t"}},
    {"accounts": [{"account_id": "111111111111", "external_id": "s3cr3t"}]},
])
def test_external_id_values_are_refused_in_the_yaml(data: dict) -> None:
    with pytest.raises(ComplianceConfigError, match="ExternalId|external_id"):
        TargetsConfig.from_dict(data)


def test_external_id_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWEEP_EXTERNAL_ID", "from-env")
    assert ExternalIdSource(env="SWEEP_EXTERNAL_ID").resolve() == "from-env"
    monkeypatch.delenv("SWEEP_EXTERNAL_ID")
    with pytest.raises(ComplianceConfigError, match="not set"):
        ExternalIdSource(env="SWEEP_EXTERNAL_ID").resolve()


def test_account_ids_must_be_twelve_digits() -> None:
    with pytest.raises(ComplianceConfigError, match="12-digit"):
        TargetsConfig.from_dict({"accounts": [{"account_id": 1234}]})


REPORT = """user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated
<root_account>,arn:aws:iam::111122223333:root,2019-01-01T00:00:00+00:00,not_supported,2025-05-30T10:00:00+00:00,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
alice,arn:aws:iam::111122223333:user/alice,2024-01-01T00:00:00+00:00,true,no_information,2024-01-01T00:00:00+00:00,N/A,false,true,2024-02-01T00:00:00+00:00,2025-05-01T00:00:00+00:00,us-east-1,s3,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
"""


def test_credential_report_parsing() -> None:
    parsed = CredentialReport.parse(REPORT.encode(), datetime(2025, 6, 1, tzinfo=UTC))
    assert parsed.root is not None and parsed.root.mfa_active and parsed.root.password_last_used is not None
    (alice,) = parsed.users
    assert alice.password_enabled and alice.password_last_used is None and alice.password_last_used_raw == "no_information"
    assert [k.slot for k in alice.active_keys] == [1]
    assert alice.access_keys[0].last_used == datetime(2025, 5, 1, tzinfo=UTC)
    assert alice.access_keys[0].last_used_service == "s3"
    assert not alice.access_keys[1].present
    assert parse_report_time("N/A") is None and parse_report_time("not_supported") is None


def test_role_name_patterns_run_in_linear_time() -> None:
    config = ComplianceConfig.from_dict({"roles": {"permissions_boundary_required": {"name_patterns": ["(a+)+$"]}}})
    selector = config.boundary_required
    assert not selector.matches("/", "a" * 40 + "-x", {})  # would backtrack 2^40 times in Python's engine
    assert selector.matches("/", "a" * 40, {})
    with pytest.raises(ComplianceConfigError, match=r"name_patterns: pattern '\(a\)\\\\1' refused"):
        ComplianceConfig.from_dict({"roles": {"permissions_boundary_required": {"name_patterns": [r"(a)\1"]}}})


# --- the posture gate's settings ------------------------------------------------------------------


def test_posture_defaults_and_shipped_values(tmp_path: Path) -> None:
    from iamflow.compliance.config import PostureSettings

    assert ComplianceConfig.from_dict({}).posture == PostureSettings("notify", "high")
    shipped = ComplianceConfig.load(compliance_config_path()).posture
    assert (shipped.on_new_fail, shipped.min_severity) == ("notify", "high")
    path = tmp_path / "compliance.yaml"
    path.write_text("posture:\n  on_new_fail: fail\n  min_severity: critical\n")
    assert ComplianceConfig.load(path).posture == PostureSettings("fail", "critical")


@pytest.mark.parametrize(("data", "message"), [
    ({"posture": {"on_new_fail": "explode"}},
     r"posture\.on_new_fail: expected one of fail, notify, ignore, got 'explode'"),
    ({"posture": {"on_new_fail": True}}, r"posture\.on_new_fail: expected one of .*got True"),
    ({"posture": {"min_severity": "HIGH"}},
     r"posture\.min_severity: expected one of critical, high, medium, low, informational, got 'HIGH'"),
    ({"posture": {"min_severity": 3}}, r"posture\.min_severity: .*got 3"),
    ({"posture": {"on_new_failure": "fail"}}, r"unknown key\(s\) posture\.on_new_failure"),
    ({"posture": ["fail"]}, r"posture: expected a mapping, got list"),
])
def test_bad_posture_settings_name_the_file_and_key(tmp_path: Path, data: dict, message: str) -> None:
    import yaml

    path = tmp_path / "compliance.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ComplianceConfigError, match=message) as caught:
        ComplianceConfig.load(path)
    assert str(caught.value).startswith(f"{path}: ")
