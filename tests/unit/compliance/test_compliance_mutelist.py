"""Prowler-format mutelist with owner/reason/expires: what it mutes, what it does not, what expired."""

from __future__ import annotations

from datetime import date

import pytest
import yaml
from compliance_builders import ACCOUNT, NOW, days_ago, user_arn

from iamflow.compliance.config import ComplianceConfigError
from iamflow.compliance.findings import ERROR, FAIL, MUTED, PASS, Finding
from iamflow.compliance.mutelist import Mutelist
from iamflow.settings import shipped_mutelist_path

SHIPPED = shipped_mutelist_path()


def finding(check_id: str = "iam_user_mfa_enabled_console_access", *, user: str = "alice", status: str = FAIL,
            account: str = ACCOUNT, region: str = "global", tags: dict | None = None) -> Finding:
    return Finding(check_id, status, "high", account, region, user_arn(user), f"{user} msg", "fix", {}, resource_id=user,
                   tags=tags or {})


def mutelist(entries: dict, account: str = ACCOUNT) -> Mutelist:
    return Mutelist.from_dict({"Mutelist": {"Accounts": {account: {"Checks": entries}}}}, source="test.yaml")


def test_mutes_matching_fail_and_records_owner_reason() -> None:
    ml = mutelist({"iam_user_mfa_enabled_console_access": {
        "Regions": ["*"], "Resources": ["user/break-glass$"], "owner": "sec", "reason": "token in the safe",
        "expires": date(2025, 12, 31)}})
    out = ml.apply([finding(user="break-glass"), finding(user="alice"), finding(user="break-glass", status=PASS)], NOW)
    assert [f.status for f in out] == [MUTED, FAIL, PASS]
    assert out[0].muted_by["owner"] == "sec" and out[0].muted_by["reason"] == "token in the safe"
    assert out[0].muted_by["expires"] == "2025-12-31"
    assert out[0].to_dict()["status"] == MUTED


def test_never_mutes_errors() -> None:
    ml = mutelist({"*": {"Regions": ["*"], "Resources": ["*"]}})
    assert ml.apply([finding(status=ERROR)], NOW)[0].status == ERROR


def test_expired_entry_stops_muting_and_is_listed() -> None:
    ml = mutelist({"iam_user_mfa_enabled_console_access": {
        "Regions": ["*"], "Resources": ["alice"], "owner": "ops", "reason": "migration", "expires": "2025-05-31"}})
    findings = [finding(user="alice")]
    assert ml.apply(findings, NOW)[0].status == FAIL  # expired the day before NOW
    assert ml.apply(findings, days_ago(1.5))[0].status == MUTED  # the date itself is still covered
    expired = ml.expired_entries(NOW, findings)
    assert len(expired) == 1
    assert expired[0]["owner"] == "ops" and expired[0]["would_mute"] == 1 and expired[0]["expires"] == "2025-05-31"
    assert ml.expired_entries(days_ago(1.5), findings) == []


def test_entry_without_expiry_never_expires() -> None:
    ml = mutelist({"iam_user_.*": {"Regions": ["*"], "Resources": ["*"]}})
    assert ml.apply([finding()], NOW)[0].status == MUTED
    assert ml.expired_entries(NOW, [finding()]) == []


def test_regex_resources_checks_and_wildcards() -> None:
    ml = mutelist({"iam_rotate_.*": {"Regions": ["*"], "Resources": ["user/svc-.+", "*-legacy"]}})
    out = ml.apply([
        finding("iam_rotate_access_key_90_days", user="svc-backup"),
        finding("iam_rotate_access_key_90_days", user="app-legacy"),
        finding("iam_rotate_access_key_90_days", user="alice"),
        finding("iam_user_mfa_enabled_console_access", user="svc-backup"),
    ], NOW)
    assert [f.status for f in out] == [MUTED, MUTED, FAIL, FAIL]


def test_account_and_region_must_match() -> None:
    ml = mutelist({"secretsmanager_.*": {"Regions": ["eu-west-1"], "Resources": ["*"]}})
    out = ml.apply([finding("secretsmanager_automatic_rotation_enabled", region="eu-west-1"),
                    finding("secretsmanager_automatic_rotation_enabled", region="us-east-1"),
                    finding("secretsmanager_automatic_rotation_enabled", region="eu-west-1", account="999988887777")], NOW)
    assert [f.status for f in out] == [MUTED, FAIL, FAIL]
    everywhere = mutelist({"*": {"Regions": ["*"], "Resources": ["*"]}}, account="*")
    assert everywhere.apply([finding(account="999988887777")], NOW)[0].status == MUTED


def test_tags_are_anded_and_alternation_ors() -> None:
    ml = mutelist({"*": {"Regions": ["*"], "Resources": ["*"], "Tags": ["team=ops", "env=dev|env=test"]}})
    out = ml.apply([
        finding(tags={"team": "ops", "env": "test"}),
        finding(tags={"team": "ops", "env": "prod"}),
        finding(tags={"team": "ops-legacy", "env": "dev"}),
        finding(tags={}),
    ], NOW)
    assert [f.status for f in out] == [MUTED, FAIL, FAIL, FAIL]


def test_exceptions_keep_findings_unmuted() -> None:
    ml = mutelist({"*": {"Regions": ["*"], "Resources": ["*"],
                         "Exceptions": {"Resources": ["user/prod-"], "Tags": ["tier=1"]}}})
    out = ml.apply([finding(user="prod-db", tags={"tier": "1"}), finding(user="prod-db"), finding(user="dev")], NOW)
    # excepted only when every exception field matches
    assert [f.status for f in out] == [FAIL, MUTED, MUTED]


@pytest.mark.parametrize(("entry", "message"), [
    ({"Resources": ["*"]}, "Regions is required"),
    ({"Regions": ["*"], "Resources": ["("]}, "bad regex"),
    ({"Regions": ["*"], "Resources": ["*"], "expires": "next week"}, "not a date"),
    ({"Regions": ["*"], "Resources": ["*"], "Owner": "x"}, "unknown key"),
])
def test_malformed_entries_are_rejected_with_their_path(entry: dict, message: str) -> None:
    with pytest.raises(ComplianceConfigError, match=message) as info:
        mutelist({"iam_root_mfa_enabled": entry})
    assert f"Accounts.{ACCOUNT}.Checks.iam_root_mfa_enabled" in str(info.value)


def test_older_top_level_keys_and_empty_files() -> None:
    data = {"Mute List": {"Accounts": {"*": {"Checks": {"*": {"Regions": ["*"], "Resources": ["alice"]}}}}}}
    assert Mutelist.from_dict(data).apply([finding()], NOW)[0].status == MUTED
    assert len(Mutelist.from_dict({})) == 0
    with pytest.raises(ComplianceConfigError, match="Mutelist"):
        Mutelist.from_dict({"Accounts": {}})


def test_shipped_example_is_all_comments_and_its_commented_entries_parse() -> None:
    assert len(Mutelist.load(SHIPPED)) == 0
    text = SHIPPED.read_text()
    example = "\n".join(line[2:] for line in text.splitlines() if line.startswith("# ") and not line.startswith("# #"))
    start = example.index("Mutelist:")
    parsed = Mutelist.from_dict(yaml.safe_load(example[start:]))
    assert len(parsed) == 3
    assert {e.owner for e in parsed.entries} >= {"platform-security@example.com", "integrations-team"}
    assert all(e.expires or e.account == "*" for e in parsed.entries)
