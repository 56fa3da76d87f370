"""The recap page of a playbook DAG run, mounted at /compliance as Airflow does, over crafted runs."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from iamflow.airflow.ui.app import create_app
from iamflow.airflow.ui.recap import RunRecord, TaskRecord, _decode, build_view

DAG = "playbook_big"
RUN = "manual__2026-01-01T00:00:00+00:00"


def _run() -> RunRecord:
    batch = {"outcome": "failed", "partial": 1, "change_count": 2, "check_mode": False,
             "results": {"iam_role.a": {"resource": "iam_role.a", "status": "changed", "changes": ["create role a"]},
                         "iam_role.b": {"resource": "iam_role.b", "status": "failed", "partial": True,
                                        "changes": ["create role b", "put inline policy logs"],
                                        "applied": ["create role b"], "failed_step": "put inline policy logs",
                                        "error": "MalformedPolicyDocument"}}}
    single = {"resource": "iam_managed_policy.p", "status": "ok", "changes": [], "seconds": 0.5}
    return RunRecord(DAG, RUN, "failed", [
        TaskRecord("level_1", "failed", 2, {"return_value": batch}),
        TaskRecord("iam_managed_policy.p", "success", 1, {"return_value": single}),
        TaskRecord("recap", "failed", 1, {"return_value": {"check_mode": False, "counts": {}}}),
        TaskRecord("level_2", "upstream_failed", 0, {}),
    ])


@pytest.fixture
def client() -> TestClient:
    runs = {(DAG, RUN): _run(), (DAG, None): _run()}
    app = create_app(require_auth=False, recap_loader=lambda dag, run: runs.get((dag, run)))
    outer = FastAPI()
    outer.mount("/compliance", app)
    return TestClient(outer)


def test_the_view_counts_tasks_and_resources() -> None:
    view = build_view(_run())
    assert [t["task_id"] for t in view["tasks"]] == ["iam_managed_policy.p", "level_1", "level_2"]
    by_task = {t["task_id"]: t for t in view["tasks"]}
    assert by_task["level_1"] | {} == {"task_id": "level_1", "state": "failed", "try_number": 2, "outcome": "failed",
                                       "partial": 1, "change_count": 2, "resources": 2}
    assert by_task["iam_managed_policy.p"]["outcome"] == "ok", "a per-resource result without a summary"
    assert by_task["level_2"]["outcome"] == "no result"
    assert view["totals"] == {"ok": 1, "changed": 1, "failed": 1, "skipped": 0}
    assert view["partial"] == 1 and view["change_count"] == 2


def test_the_recap_page_shows_outcomes_without_a_log(client: TestClient) -> None:
    page = client.get("/compliance/recap", params={"dag_id": DAG, "run_id": RUN})
    assert page.status_code == 200 and "default-src 'none'" in page.headers["content-security-policy"]
    html = page.text
    assert 'id="task-level_1" class="outcome-failed"' in html
    assert 'id="total-partial">1<' in html and 'id="total-changes">2<' in html
    assert "MalformedPolicyDocument" in html
    assert "applied: create role b" in html and "failed: put inline policy logs" in html
    assert f"/dags/{DAG}/runs/manual__2026-01-01T00%3A00%3A00%2B00%3A00" in html


def test_the_recap_api_and_the_newest_run(client: TestClient) -> None:
    got = client.get("/compliance/api/recap", params={"dag_id": DAG}).json()
    assert got["run_id"] == RUN and got["totals"]["failed"] == 1
    missing = client.get("/compliance/api/recap", params={"dag_id": "playbook_nope", "run_id": "x"})
    assert missing.status_code == 404 and "playbook_nope" in missing.json()["detail"]
    assert client.get("/compliance/recap").status_code == 422, "dag_id is required"


def test_a_value_is_escaped(client: TestClient, monkeypatch: Any) -> None:
    run = _run()
    run.tasks[0].values["return_value"]["results"]["iam_role.a"]["error"] = "<script>alert(1)</script>"
    app = create_app(require_auth=False, recap_loader=lambda dag, r: run)
    html = TestClient(app).get("/recap", params={"dag_id": DAG}).text
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


def test_decode_reads_json_and_json_strings() -> None:
    assert _decode({"a": 1}) == {"a": 1}
    assert _decode('{"a": 1}') == {"a": 1}
    assert _decode(b'"{\\"a\\": 1}"') == {"a": 1}
    assert _decode("not json") is None
