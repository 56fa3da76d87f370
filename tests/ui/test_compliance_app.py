"""The Compliance view over a report folder with two crafted runs, mounted at /compliance as Airflow does."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from iamflow.airflow.ui import data
from iamflow.airflow.ui.app import create_app, trend_chart
from iamflow.compliance.findings import FAIL, MUTED, PASS, Finding
from iamflow.compliance.report import write_reports

NOW = datetime(2025, 6, 10, 12, 0, tzinfo=UTC)
A1, A2 = "111111111111", "222222222222"
FIRST, SECOND = "20250608T020000Z", "20250609T020000Z"


def finding(check: str, status: str, severity: str, account: str, user: str, *, cis: str = "1.14",
            **extra: object) -> Finding:
    arn = f"arn:aws:iam::{account}:user/{user}"
    return Finding(check_id=check, status=status, severity=severity, account_id=account, region="global",
                   resource_arn=arn, message=f"{check} on {user}", remediation="Fix it.",
                   compliance={"CIS-3.0": [cis]}, title=check, resource_id=user, resource_type="AwsIamUser",
                   extra=dict(extra))


def first_run() -> list[Finding]:
    return [
        finding("iam_root_mfa_enabled", FAIL, "critical", A1, "root", cis="1.5"),
        finding("iam_user_mfa_enabled_console_access", FAIL, "high", A1, "alice", cis="1.10"),
        finding("iam_rotate_access_key_90_days", FAIL, "medium", A1, "bob", access_key="access_key_1"),
        finding("iam_rotate_access_key_90_days", PASS, "medium", A2, "carol", access_key="access_key_1"),
    ]


def second_run() -> list[Finding]:
    # alice fixed her MFA (fixed); dave is new; bob's second key fails too (new: another key id)
    return [
        finding("iam_root_mfa_enabled", FAIL, "critical", A1, "root", cis="1.5"),
        finding("iam_user_mfa_enabled_console_access", PASS, "high", A1, "alice", cis="1.10"),
        finding("iam_user_mfa_enabled_console_access", FAIL, "high", A2, "dave", cis="1.10"),
        finding("iam_rotate_access_key_90_days", FAIL, "medium", A1, "bob", access_key="access_key_1"),
        finding("iam_rotate_access_key_90_days", FAIL, "medium", A1, "bob", access_key="access_key_2"),
        finding("iam_rotate_access_key_90_days", PASS, "medium", A2, "carol", access_key="access_key_1"),
        Finding(check_id="iam_policy_no_full_access", status=MUTED, severity="low", account_id=A2,
                region="global", resource_arn=f"arn:aws:iam::{A2}:policy/legacy", message="legacy admin",
                remediation="Narrow it.", compliance={"CIS-3.0": ["1.16"]},
                muted_by={"account": A2, "check": "iam_policy_no_full_access", "owner": "ops", "reason": "legacy",
                          "expires": "2025-06-15"}),
    ]


MUTELIST = f"""
Mutelist:
  Accounts:
    "{A2}":
      Checks:
        "iam_policy_no_full_access":
          Regions: ["*"]
          Resources: ["policy/legacy"]
          owner: ops
          reason: legacy
          expires: 2025-06-15
        "iam_user_mfa_enabled_console_access":
          Regions: ["*"]
          Resources: ["user/old"]
          owner: team-a
          reason: gone soon
          expires: 2025-06-01
        "iam_rotate_access_key_90_days":
          Regions: ["*"]
          Resources: ["*"]
          owner: team-b
          reason: far away
          expires: 2026-12-31
"""


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    out = tmp_path / "reports"
    write_reports(first_run(), out, run_id=FIRST, generated_at=NOW - timedelta(days=2))
    write_reports(second_run(), out, run_id=SECOND, generated_at=NOW - timedelta(days=1))
    summary = out / SECOND / "summary.json"
    # the sweep DAG names its run in the summary; a CLI sweep does not
    summary.write_text(json.dumps({**json.loads(summary.read_text()),
                                   "dag_run_id": "scheduled__2025-06-09T02:00:00+00:00"}))
    return out


@pytest.fixture
def mutelist(tmp_path: Path) -> Path:
    path = tmp_path / "mutelist.yaml"
    path.write_text(MUTELIST)
    return path


def client_for(report_dir: Path, mutelist: Path | None = None) -> TestClient:
    root = FastAPI()
    root.mount("/compliance", create_app(report_dir, mutelist=mutelist or report_dir / "none.yaml",
                                         require_auth=False, dag_run_lookup=None, clock=lambda: NOW))
    return TestClient(root)


@pytest.fixture
def client(reports: Path, mutelist: Path) -> TestClient:
    return client_for(reports, mutelist)


def test_runs_are_listed_oldest_first_without_latest(reports: Path) -> None:
    runs = data.list_runs(reports)
    assert [r.run_id for r in runs] == [FIRST, SECOND]
    assert runs[-1].dag_run_id == "scheduled__2025-06-09T02:00:00+00:00"
    assert runs[0].dag_run_id is None


def test_overview_shows_severity_counts_trend_new_and_fixed(client: TestClient) -> None:
    page = client.get("/compliance/")
    assert page.status_code == 200
    html = page.text
    assert f'<span id="run-id">{SECOND}</span>' in html
    assert 'id="severity-critical" data-severity="critical" data-fail="1"' in html
    assert 'id="severity-high" data-severity="high" data-fail="1"' in html
    assert 'id="severity-medium" data-severity="medium" data-fail="2"' in html
    assert 'id="severity-low" data-severity="low" data-fail="0"' in html
    assert 'id="total-FAIL" data-count="4"' in html
    assert html.count('class="trend-point"') == 2
    assert f'data-run="{FIRST}" data-fail="3"' in html and f'data-run="{SECOND}" data-fail="4"' in html
    assert '<span id="new-count">2</span>' in html  # dave, bob's second key
    assert '<span id="fixed-count">1</span>' in html  # alice
    assert '<span id="not-evaluated-count">0</span>' in html
    # the counts per severity of each change, on the run page
    assert '<tr data-change="new">' in html and '<tr data-change="fixed">' in html
    assert 'id="accounts-table"' in html and f'id="account-{A1}"' in html
    assert 'data-control="CIS-3.0 1.10" data-verdict="FAIL"' in html
    assert 'href="/dags/compliance_sweep/runs/scheduled__2025-06-09T02:00:00+00:00"' in html
    assert f'href="/compliance/reports/{SECOND}/report.html"' in html
    assert "cdn" not in html.lower() and "<script src" not in html


def test_overview_lists_expired_and_expiring_suppressions(client: TestClient) -> None:
    html = client.get("/compliance/").text
    assert 'id="suppressions-table"' in html
    assert 'data-state="expiring" data-check="iam_policy_no_full_access"' in html
    assert 'data-state="expired" data-check="iam_user_mfa_enabled_console_access"' in html
    assert "far away" not in html  # expires in 2026: not listed


def test_summary_api(client: TestClient) -> None:
    body = client.get("/compliance/api/summary").json()
    assert body["run"]["run_id"] == SECOND and body["previous_run_id"] == FIRST
    assert body["by_severity"]["critical"]["FAIL"] == 1
    assert body["totals"] == {"FAIL": 4, "ERROR": 0, "MUTED": 1, "PASS": 2}
    assert [p["FAIL"] for p in body["trend"]] == [3, 4]
    assert sorted(f["resource_id"] for f in body["new_failures"]) == ["bob", "dave"]
    assert [f["resource_id"] for f in body["resolved_failures"]] == ["alice"]
    assert [f["resource_id"] for f in body["fixed"]] == ["alice"] and body["not_evaluated"] == []
    assert body["changes_by_severity"]["new"] == {"critical": 0, "high": 1, "medium": 1, "low": 0, "informational": 0}
    assert body["changes_by_severity"]["fixed"]["high"] == 1 and body["still_failing_count"] == 2
    states = {e["check"]: (e["state"], e["muting"]) for e in body["suppressions"]["entries"]}
    assert states == {"iam_policy_no_full_access": ("expiring", 1), "iam_user_mfa_enabled_console_access": ("expired", 0)}
    assert {a["account_id"] for a in body["accounts"]} == {A1, A2}
    assert body["dag_run_path"] == "/dags/compliance_sweep/runs/scheduled__2025-06-09T02:00:00+00:00"

    older = client.get("/compliance/api/summary", params={"run": FIRST}).json()
    assert older["compared_with_previous"] is False and older["new_failures"] == []
    assert older["dag_run_path"] == "/dags/compliance_sweep/runs"
    assert client.get("/compliance/api/summary", params={"run": "nope"}).status_code == 404


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, 7),
        ({"status": "FAIL"}, 4),
        ({"severity": "high"}, 2),
        ({"severity": "high", "status": "FAIL"}, 1),
        ({"account": A2}, 3),
        ({"check": "iam_rotate_access_key_90_days"}, 3),
        ({"check": "iam_rotate_access_key_90_days", "account": A1, "status": "FAIL"}, 2),
        ({"status": "open"}, 4),
        ({"status": "FAIL,MUTED"}, 5),
        ({"q": "dave"}, 1),
    ],
)
def test_findings_api_filters(client: TestClient, params: dict[str, str], expected: int) -> None:
    body = client.get("/compliance/api/findings", params=params).json()
    assert body["total"] == expected == len(body["findings"])
    for key, field in (("account", "account_id"), ("check", "check_id"), ("severity", "severity")):
        if key in params:
            assert {f[field] for f in body["findings"]} == {params[key]}


def test_findings_api_limit_and_order(client: TestClient) -> None:
    body = client.get("/compliance/api/findings", params={"limit": 2}).json()
    assert body["total"] == 7 and body["count"] == 2
    assert [f["severity"] for f in body["findings"]] == ["critical", "high"]  # FAIL first, worst first


def test_findings_page_filters(client: TestClient) -> None:
    html = client.get("/compliance/findings", params={"severity": "high", "status": "FAIL"}).text
    assert 'id="findings-table"' in html
    assert html.count('<tr class="finding"') == 1
    assert 'data-account="222222222222" data-check="iam_user_mfa_enabled_console_access"' in html
    assert '<option value="high" selected>' in html
    assert 'id="filter-account"' in html and 'id="filter-q"' in html
    everything = client.get("/compliance/findings").text
    assert everything.count('<tr class="finding"') == 7
    none = client.get("/compliance/findings", params={"account": "999999999999"}).text
    assert 'id="findings-empty"' in none


def test_report_files_are_served(client: TestClient) -> None:
    response = client.get(f"/compliance/reports/{SECOND}/findings.json")
    assert response.status_code == 200 and len(response.json()) == 7
    assert client.get(f"/compliance/reports/{SECOND}/findings.csv").headers["content-type"].startswith("text/csv")
    report = client.get(f"/compliance/reports/{SECOND}/report.html")
    assert report.status_code == 200 and "sandbox" in report.headers["content-security-policy"]
    assert client.get("/compliance/reports/latest/summary.json").json()["run_id"] == SECOND


@pytest.mark.parametrize(
    "path",
    [
        "/compliance/reports/..%2F..%2Fsecret/findings.json",
        "/compliance/reports/%2E%2E/findings.json",
        f"/compliance/reports/{SECOND}/..%2F..%2Fsecret.txt",
        f"/compliance/reports/{SECOND}/%2E%2E",
        f"/compliance/reports/{SECOND}/secret.txt",
        "/compliance/reports/..../secret.txt",
        "/compliance/reports/.hidden/findings.json",
        "/compliance/reports/20990101T000000Z/findings.json",
    ],
)
def test_traversal_is_refused(client: TestClient, reports: Path, path: str) -> None:
    (reports / "secret.txt").write_text("top secret")
    (reports / SECOND / "secret.txt").write_text("top secret")
    response = client.get(path)
    assert response.status_code == 404
    assert "top secret" not in response.text


def test_empty_state(tmp_path: Path) -> None:
    client = client_for(tmp_path / "no-reports-yet")
    for path in ("/compliance/", "/compliance/findings"):
        page = client.get(path)
        assert page.status_code == 200
        assert 'id="empty-state"' in page.text
        assert "airflow dags trigger compliance_sweep" in page.text and "make run" in page.text
    assert client.get("/compliance/api/summary").json()["run"] is None
    assert client.get("/compliance/api/findings").json()["findings"] == []
    assert client.get("/compliance/reports/latest/findings.json").status_code == 404


def test_only_latest_folder_is_enough(tmp_path: Path, reports: Path) -> None:
    import shutil

    only_latest = tmp_path / "copy"
    shutil.copytree(reports / "latest", only_latest / "latest")
    body = client_for(only_latest).get("/compliance/api/summary").json()
    assert body["run"]["run_id"] == SECOND and body["previous_run_id"] is None


def test_bad_mutelist_is_reported_not_raised(reports: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("Mutelist: [not, a, mapping")
    html = client_for(reports, broken).get("/compliance/").text
    assert 'id="suppressions-error"' in html


def test_page_requires_airflow_user_when_auth_is_on(reports: Path) -> None:
    root = FastAPI()
    root.mount("/compliance", create_app(reports, dag_run_lookup=None))
    client = TestClient(root, follow_redirects=False)
    page = client.get("/compliance/")
    assert page.status_code == 303 and "login" in page.headers["location"]
    assert client.get("/compliance/api/summary").status_code == 401
    assert client.get(f"/compliance/reports/{SECOND}/findings.json").status_code == 401


def test_trend_chart_scales_to_the_peak() -> None:
    chart = trend_chart([{"run_id": "a", "generated_at": "2025-06-01T00:00:00", "FAIL": 0, "ERROR": 0},
                         {"run_id": "b", "generated_at": "2025-06-02T00:00:00", "FAIL": 10, "ERROR": 5}])
    low, high = chart["points"]
    assert low["y"] == chart["bottom"] and high["y"] == chart["top"]
    assert high["ey"] == pytest.approx((chart["top"] + chart["bottom"]) / 2, abs=0.1)
    assert trend_chart([])["points"] == []
