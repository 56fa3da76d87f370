"""The Compliance view's approvals page over a crafted audit file and remediation run."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from iamflow.airflow.ui.app import create_app
from iamflow.approvals import APPROVE, REFUSED, Decision, record
from iamflow.remediation.plan import DEACTIVATE, Action, Plan
from iamflow.remediation.run import RunRecord
from iamflow.settings import audit_file


def _client(reports: Path) -> TestClient:
    return TestClient(create_app(reports, require_auth=False, dag_run_lookup=None))


def test_empty_page(tmp_path: Path) -> None:
    page = _client(tmp_path).get("/approvals")
    assert page.status_code == 200
    assert 'id="approvals-empty"' in page.text and 'id="remediation-empty"' in page.text


def test_decisions_newest_first_escaped_and_runs_listed(tmp_path: Path) -> None:
    record(Decision("onboard_team", "manual__1", APPROVE, "ann", "a" * 64, at="2026-12-01T10:00:00+00:00",
                    triggered_by="bo"), audit_file(tmp_path))
    record(Decision("remediate_credentials", "manual__2", REFUSED, "<script>x</script>", "b" * 64,
                    at="2026-12-01T11:00:00+00:00", triggered_by="<script>x</script>",
                    reason="Approve: triggered this run"), audit_file(tmp_path))
    action = Action(DEACTIVATE, "stale", "AKIAEXAMPLE000000001", "2026-08-01", 122, "unused")
    run = RunRecord("manual__3", Plan("123456789012", "2026-12-01T12:00:00+00:00", (action,)),
                    {"by": "ann"}, created_at="2026-12-01T12:00:00+00:00")
    run.results = [{**action.to_dict(), "outcome": "done", "detail": "deactivated"}]
    run.save(tmp_path)

    client = _client(tmp_path)
    page = client.get("/approvals").text
    assert "<script>x</script>" not in page and "&lt;script&gt;" in page
    assert page.index("manual__2") < page.index("manual__1"), "newest first"
    assert "triggered this run" in page and 'class="decision-refused"' in page
    assert "manual__3" in page and "1 done" in page and "AKIAEXAMPLE000000001" in page
    assert 'id="nav-approvals"' in page and 'class="active">Approvals' in page

    api = client.get("/api/approvals").json()
    assert [d["decision"] for d in api["decisions"]] == ["refused", "approve"]
    assert api["remediation_runs"][0]["run_id"] == "manual__3"
    assert api["remediation_runs"][0]["outcomes"] == {"done": 1}
