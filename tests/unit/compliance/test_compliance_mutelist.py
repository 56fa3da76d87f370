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


# --- patterns run in linear time; malformed files are clean errors ---------------------------------


def test_a_catastrophic_pattern_finishes_and_keeps_prowler_semantics() -> None:
    # (a+)+$ against a's followed by a non-a backtracks 2^40 times in Python's engine
    ml = mutelist({"*": {"Regions": ["*"], "Resources": ["(a+)+$"]}})
    out = ml.apply([finding(user="a" * 40 + "-x"), finding(user="b-" + "a" * 40)], NOW)
    assert [f.status for f in out] == [FAIL, MUTED]  # searched, as Prowler does: a match anywhere


@pytest.mark.parametrize(("pattern", "construct"), [
    (r"(a)\1", "RE2"),
    ("user/(?=admin)", "RE2"),
    ("user/(?<!x)y", "RE2"),
])
def test_patterns_only_a_backtracking_engine_runs_are_refused(pattern: str, construct: str) -> None:
    with pytest.raises(ComplianceConfigError, match=construct) as info:
        mutelist({"iam_root_mfa_enabled": {"Regions": ["*"], "Resources": ["alice", pattern]}})
    assert f"test.yaml: Mutelist.Accounts.{ACCOUNT}.Checks.iam_root_mfa_enabled.Resources[1]" in str(info.value)
    assert "refused" in str(info.value)


def test_without_re2_backtracking_patterns_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "re2", None)  # import re2 now raises ImportError
    for pattern in ("(a+)+$", "(a|aa)*b", "(.*a){12}", r"(a)\1", "(?=x)"):
        with pytest.raises(ComplianceConfigError, match="refused"):
            mutelist({"*": {"Regions": ["*"], "Resources": [pattern]}})
    ml = mutelist({"iam_.*": {"Regions": ["*"], "Resources": ["user/svc-.+", "*-legacy", "^arn:.*:user/(bob|carol)$"],
                              "Tags": ["env=dev|env=test"]}})
    out = ml.apply([finding(user="svc-a", tags={"env": "dev"}), finding(user="carol", tags={"env": "test"}),
                    finding(user="alice", tags={"env": "dev"}), finding(user="svc-a", tags={"env": "prod"})], NOW)
    assert [f.status for f in out] == [MUTED, MUTED, FAIL, FAIL]


@pytest.mark.parametrize(("text", "message"), [
    ("Mutelist: [a, b]\n", "Mutelist: expected a mapping with Accounts"),
    ("Mutelist: just text\n", "Mutelist: expected a mapping with Accounts"),
    ("Mutelist:\n  Acounts: {}\n", "unknown key(s) Acounts"),
    ("Mutelist:\n  Accounts: [x]\n", "Mutelist.Accounts: expected a mapping"),
    ("Mutelist:\n  Accounts:\n    '*': [x]\n", "Accounts.*.Checks: expected a mapping"),
    ("Mutelist:\n  Accounts:\n    '*':\n      Checks: {'*': [x]}\n", "Checks.*: expected a mapping"),
    ("Mutelist:\n  Accounts:\n    '*':\n      Checks: {'*': {Regions: '*', Resources: ['*']}}\n", "Regions: expected a list"),
    ("Mutelist:\n  Accounts:\n    '*':\n      Checks: {'*': {Regions: ['*'], Resources: [{a: 1}]}}\n",
     "Resources[0]: expected a string pattern"),
    ("Mutelist:\n  Accounts:\n    '*':\n      Checks: {'*': {Regions: ['*'], Resources: ['*'], Exceptions: [x]}}\n",
     "Exceptions: expected a mapping"),
    ("- a list\n", "must be a mapping, not list"),
    ("Mutelist: {\n", "invalid YAML"),
    ("[" * 5000 + "]" * 5000, "exceeded maximum nesting depth"),
    # a second key silently replacing the first would unmute (or mute) other findings
    ("Mutelist:\n  Accounts:\n    '*': {Checks: {}}\n    '*': {Checks: {}}\n", "duplicate key '*'"),
    ("a: &x [1, 2]\nb: [*x, *x]\n", "anchors and aliases"),
])
def test_malformed_files_are_errors_naming_the_file_and_the_entry(tmp_path, text: str, message: str) -> None:
    path = tmp_path / "mutelist.yaml"
    path.write_text(text)
    with pytest.raises(ComplianceConfigError) as info:
        Mutelist.load(path)
    assert str(info.value).startswith(str(path)), info.value
    assert message in str(info.value), info.value


def test_a_binary_mutelist_is_a_clean_error(tmp_path) -> None:
    path = tmp_path / "mutelist.yaml"
    path.write_bytes(b"Mutelist:\n  \xff\xfe\x00binary")
    with pytest.raises(ComplianceConfigError, match="not UTF-8 text") as info:
        Mutelist.load(path)
    assert str(info.value).startswith(str(path))
