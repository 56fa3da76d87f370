"""The one report model (identity, comparison, order, controls per framework, counts) and the posture gate."""

from __future__ import annotations

from typing import Any

import pytest

from iamflow.compliance import results
from iamflow.compliance.config import PostureSettings
from iamflow.compliance.findings import ERROR, FAIL, MUTED, PASS, Finding
from iamflow.compliance.posture import evaluate_gate, format_summary, load_run, load_summary, posture_counts

A, B = "111111111111", "222222222222"
DRIFT = "iamflow_playbook_drift"


def row(check: str, status: str, resource: str = "alice", *, account: str = A, severity: str = "high",
        compliance: dict[str, list[str]] | None = None, **extra: Any) -> dict[str, Any]:
    """A findings.json row, as the writer makes it (uid included)."""
    return Finding(check, status, severity, account, "global", f"arn:aws:iam::{account}:user/{resource}",
                   f"{check} on {resource}", "fix", compliance if compliance is not None else {"CIS-3.0": ["1.10"]},
                   resource_id=resource, extra=dict(extra)).to_dict()


MFA = "iam_user_mfa_enabled_console_access"
KEYS = "iam_rotate_access_key_90_days"


# each case: previous rows, current rows, expected {bucket: [resource ids]} and the reasons of not_evaluated
CASES: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, list[str]], dict[str, str]]] = {
    "a new failure": ([row(MFA, PASS, "bob")], [row(MFA, FAIL, "bob")], {"new": ["bob"]}, {}),
    "a new resource failing": ([row(MFA, PASS, "bob")], [row(MFA, PASS, "bob"), row(MFA, FAIL, "erin")],
                               {"new": ["erin"]}, {}),
    "fixed": ([row(MFA, FAIL, "bob")], [row(MFA, PASS, "bob")], {"fixed": ["bob"]}, {}),
    "still failing": ([row(MFA, FAIL, "bob")], [row(MFA, FAIL, "bob")], {"still_failing": ["bob"]}, {}),
    "muted now": ([row(MFA, FAIL, "bob")], [row(MFA, MUTED, "bob")], {"muted": ["bob"]}, {}),
    "muted before, failing now is new": ([row(MFA, MUTED, "bob")], [row(MFA, FAIL, "bob")], {"new": ["bob"]}, {}),
    "erred before, failing now is new": ([row(MFA, ERROR, "bob")], [row(MFA, FAIL, "bob")], {"new": ["bob"]}, {}),
    "resource gone": ([row(MFA, FAIL, "bob"), row(MFA, PASS, "carol")], [row(MFA, PASS, "carol")],
                      {"not_evaluated": ["bob"]}, {"bob": results.RESOURCE_GONE}),
    "check disabled": ([row(MFA, FAIL, "bob"), row(KEYS, PASS, "carol")], [row(KEYS, PASS, "carol")],
                       {"not_evaluated": ["bob"]}, {"bob": results.CHECK_NOT_RUN}),
    "the same resource erred now": ([row(MFA, FAIL, "bob")], [row(MFA, ERROR, "bob")],
                                    {"not_evaluated": ["bob"]}, {"bob": results.CHECK_ERROR}),
    "the check erred for the account": ([row(MFA, FAIL, "bob")], [row(MFA, ERROR, "root")],
                                        {"not_evaluated": ["bob"]}, {"bob": results.CHECK_ERROR}),
    "account not swept": ([row(MFA, FAIL, "bob", account=B), row(MFA, PASS, "carol")], [row(MFA, PASS, "carol")],
                          {"not_evaluated": ["bob"]}, {"bob": results.ACCOUNT_NOT_SWEPT}),
    "playbook removed": ([row(DRIFT, FAIL, "iam_role/x", playbook="pb/a.yaml"),
                          row(DRIFT, PASS, "iam_role/y", playbook="pb/b.yaml")],
                         [row(DRIFT, PASS, "iam_role/y", playbook="pb/b.yaml")],
                         {"not_evaluated": ["iam_role/x"]}, {"iam_role/x": results.PLAYBOOK_REMOVED}),
    "resource dropped from a playbook that remains": (
        [row(DRIFT, FAIL, "iam_role/x", playbook="pb/a.yaml"), row(DRIFT, PASS, "iam_role/y", playbook="pb/a.yaml")],
        [row(DRIFT, PASS, "iam_role/y", playbook="pb/a.yaml")],
        {"not_evaluated": ["iam_role/x"]}, {"iam_role/x": results.RESOURCE_GONE}),
    "the key slot is the identity, not the looked-up key id": (
        [row(KEYS, FAIL, "bob", access_key="access_key_1")],
        [row(KEYS, FAIL, "bob", access_key="access_key_1", access_key_id="AKIAIOSFODNN7EXAMPLE"),
         row(KEYS, FAIL, "bob", access_key="access_key_2")],
        {"still_failing": ["bob"], "new": ["bob"]}, {}),
}
BUCKETS = ("new", "still_failing", "fixed", "muted", "not_evaluated")


@pytest.mark.parametrize("case", list(CASES))
def test_comparison_with_the_previous_run(case: str) -> None:
    previous, current, expected, reasons = CASES[case]
    comparison = results.compare(current, previous, previous_run="before")
    assert comparison.compared and comparison.previous_run == "before"
    got = {b: [r["resource_id"] for r in getattr(comparison, b)] for b in BUCKETS}
    assert got == {b: expected.get(b, []) for b in BUCKETS}
    assert {r["resource_id"]: r[results.REASON_KEY] for r in comparison.not_evaluated} == reasons
    assert sum(comparison.reasons().values()) == len(reasons)


def test_a_first_run_compares_with_nothing() -> None:
    comparison = results.compare([row(MFA, FAIL, "bob"), row(MFA, PASS, "carol")], None)
    assert not comparison.compared and comparison.new == [] and comparison.fixed == []
    assert [r["resource_id"] for r in comparison.failing] == ["bob"]
    fields = results.comparison_fields(comparison)
    assert fields["new_failures"] == [] and fields["fixed"] == {"count": 0, "uids": []}
    assert fields["not_evaluated"]["count"] == 0 and fields["previous_run"] is None


def test_summary_fields_give_uids_and_counts() -> None:
    previous = [row(MFA, FAIL, "bob"), row(MFA, FAIL, "dave", severity="critical"), row(MFA, FAIL, "erin")]
    current = [row(MFA, PASS, "bob"), row(MFA, FAIL, "erin"), row(MFA, FAIL, "fred", severity="medium")]
    fields = results.comparison_fields(results.compare(current, previous, previous_run="r1"))
    assert fields["new_failures"] == [current[2]["uid"]]
    assert fields["fixed"] == {"count": 1, "uids": [current[0]["uid"]]}
    assert fields["not_evaluated"]["uids"] == [previous[1]["uid"]]
    assert fields["not_evaluated"]["by_reason"][results.RESOURCE_GONE] == 1
    assert fields["resolved_failures"] == [results.brief(current[0])]
    assert fields["still_failing"] == {"count": 1}
    assert fields["changes_by_severity"]["new"]["medium"] == 1
    assert fields["changes_by_severity"]["not_evaluated"]["critical"] == 1


def test_uid_of_a_row_without_one_is_the_findings_uid() -> None:
    full = row(KEYS, FAIL, "bob", access_key="access_key_2")
    bare = {k: v for k, v in full.items() if k != "uid"}
    assert results.finding_uid(bare) == full["uid"]
    assert results.finding_uid(bare) != results.finding_uid({**bare, "access_key": "access_key_1"})


def test_reading_order_is_status_severity_account_check_resource() -> None:
    rows = [row(MFA, PASS, "a"), row(MFA, FAIL, "z", severity="low"), row(MFA, ERROR, "b", severity="critical"),
            row(MFA, FAIL, "y", severity="critical", account=B), row(MFA, FAIL, "x", severity="critical"),
            row(MFA, MUTED, "c")]
    assert [r["resource_id"] for r in results.sort_rows(rows)] == ["x", "y", "z", "b", "c", "a"]
    findings = [Finding.from_dict(r) for r in rows]
    assert [f.resource_id for f in results.sort_findings(findings)] == ["x", "y", "z", "b", "c", "a"]


def test_controls_are_grouped_per_framework_in_numeric_order() -> None:
    rows = [
        row(MFA, FAIL, "a", compliance={"CIS-3.0": ["1.10"], "CIS-5.0": ["1.9"], "FSBP": ["IAM.5"]}),
        row(KEYS, PASS, "b", compliance={"CIS-3.0": ["1.14"], "CIS-5.0": ["1.13"], "FSBP": ["IAM.3"]}),
        row("x_check", PASS, "c", compliance={"CIS-3.0": ["1.2"], "FSBP": ["IAM.10"], "Other": ["7"]}),
        row("y_check", MUTED, "d", compliance={}),
    ]
    grouped = results.controls_by_framework(rows)
    assert list(grouped) == ["CIS-3.0", "CIS-5.0", "FSBP", "Other"]
    assert [c["id"] for c in grouped["CIS-3.0"]] == ["1.2", "1.10", "1.14"]
    assert [c["id"] for c in grouped["FSBP"]] == ["IAM.3", "IAM.5", "IAM.10"]
    iam5 = next(c for c in grouped["FSBP"] if c["id"] == "IAM.5")
    assert (iam5["control"], iam5["verdict"], iam5["FAIL"], iam5["checks"]) == ("FSBP IAM.5", FAIL, 1, [MFA])
    assert [c["verdict"] for c in grouped["CIS-5.0"]] == [FAIL, PASS]


@pytest.mark.parametrize(("counts", "verdict"), [
    ({FAIL: 1, ERROR: 1, PASS: 3}, FAIL), ({ERROR: 1, PASS: 3}, ERROR), ({PASS: 1, MUTED: 2}, PASS), ({MUTED: 1}, MUTED),
])
def test_control_verdict(counts: dict[str, int], verdict: str) -> None:
    assert results.verdict(counts) == verdict


def test_counts_per_status_severity_and_account() -> None:
    rows = [row(MFA, FAIL, "a", severity="critical"), row(MFA, FAIL, "b", account=B), row(MFA, PASS, "c")]
    assert results.status_counts(rows) == {FAIL: 2, ERROR: 0, MUTED: 0, PASS: 1}
    assert results.severity_counts(rows)["critical"] == 1
    assert results.by_severity(rows)["high"] == {FAIL: 1, ERROR: 0, MUTED: 0, PASS: 1}
    accounts = results.by_account(rows, ["333333333333"])
    assert [a["account_id"] for a in accounts] == [A, B, "333333333333"]
    assert accounts[0]["fail_by_severity"]["critical"] == 1 and accounts[2][FAIL] == 0


# --- the posture gate -----------------------------------------------------------------------------


def _summary(current: list[dict[str, Any]], previous: list[dict[str, Any]] | None) -> dict[str, Any]:
    comparison = results.compare(current, previous, previous_run="r1" if previous is not None else None)
    return {"run_id": "r2", "totals": results.status_counts(current), "accounts": {A: {}},
            "by_severity": results.by_severity(current), **results.comparison_fields(comparison)}


BEFORE = [row(MFA, FAIL, "old", severity="critical"), row(MFA, FAIL, "gone", severity="high")]
NOW = [row(MFA, FAIL, "old", severity="critical"), row(MFA, FAIL, "new-high", severity="high"),
       row(MFA, FAIL, "new-low", severity="low"), row(MFA, MUTED, "muted", severity="critical")]


@pytest.mark.parametrize(("on_new_fail", "min_severity", "previous", "action", "breaching"), [
    ("fail", "high", BEFORE, "fail", ["new-high"]),
    ("notify", "high", BEFORE, "notify", ["new-high"]),
    ("ignore", "high", BEFORE, "pass", ["new-high"]),
    ("fail", "critical", BEFORE, "pass", []),  # the critical one is not new
    ("fail", "low", BEFORE, "fail", ["new-high", "new-low"]),
    ("fail", "informational", BEFORE, "fail", ["new-high", "new-low"]),
    ("notify", "critical", None, "notify", ["old"]),  # first run: every FAIL is new; MUTED never counts
])
def test_gate(on_new_fail: str, min_severity: str, previous: list[dict[str, Any]] | None, action: str,
              breaching: list[str]) -> None:
    verdict = evaluate_gate(PostureSettings(on_new_fail, min_severity), _summary(NOW, previous), NOW)
    assert verdict.action == action
    assert [r["resource_id"] for r in verdict.breaching] == breaching
    out = verdict.to_dict()
    assert out["breaching"] == len(breaching) and sum(out["breaching_by_severity"].values()) == len(breaching)
    if breaching:
        assert f"{len(breaching)} " in verdict.subject and all(b in verdict.text for b in breaching)


def test_gate_refuses_an_unknown_action() -> None:
    with pytest.raises(ValueError, match="on_new_fail"):
        evaluate_gate(PostureSettings("explode", "high"), _summary(NOW, BEFORE), NOW)


def test_the_printed_summary_and_the_counts() -> None:
    summary = _summary(NOW, BEFORE)
    text = format_summary(summary)
    assert text.splitlines()[0] == "Compliance sweep r2: 3 FAIL, 0 ERROR, 1 MUTED, 0 PASS in 1 account(s)"
    assert "FAIL by severity: 1 critical, 1 high, 1 low" in text
    assert "since run r1:" in text and "new: 2 (1 high, 1 low)" in text and "fixed: 0 (none)" in text
    assert "still failing: 1" in text and "no longer evaluated: 1 (1 resource gone)" in text
    counts = posture_counts(summary)
    assert counts["new"] == 2 and counts["new_by_severity"]["low"] == 1 and counts["fixed"] == 0
    assert counts["fail_by_severity"]["critical"] == 1 and counts["not_evaluated"] == 1
    assert "every FAIL is new" in format_summary(_summary(NOW, None))


def test_the_summary_is_read_without_the_findings(tmp_path: Any) -> None:
    """Printing a run's counts reads summary.json only: findings.json is the large file (150 MB at 10 000 users)."""
    (tmp_path / "summary.json").write_text('{"run_id": "r1", "totals": {"FAIL": 1}}')
    assert load_summary(tmp_path)["run_id"] == "r1"  # no findings.json at all: not needed
    with pytest.raises(ValueError, match=r"findings\.json: the sweep's report cannot be read"):
        load_run(tmp_path)
    (tmp_path / "findings.json").write_text('[{"uid": "a"}, 3]')
    assert load_run(tmp_path) == ({"run_id": "r1", "totals": {"FAIL": 1}}, [{"uid": "a"}])
    (tmp_path / "summary.json").write_text("[]")
    with pytest.raises(ValueError, match=r"summary\.json must be an object"):
        load_summary(tmp_path)
