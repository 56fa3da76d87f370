"""The per-run recap page of a playbook DAG: every task's outcome and every resource's result.

Reached from the "iamflow recap" extra link of every playbook task, at ``/compliance/recap?dag_id=
<dag>&run_id=<run>`` (``run_id`` omitted: the DAG's newest run), and as JSON at
``/compliance/api/recap``. It reads the run's task instances and the XComs the playbook tasks push
(their return value, or the result a failed task pushed before failing) from Airflow's metadata
database, so it shows the recap of runs whose logs the api-server cannot serve (``airflow dags
test`` runs, such as the demo's, keep their logs on the console).

Each task row says ``ok`` / ``changed`` / ``failed``, how many resources failed after applying
some changes (``partial``) and the count of changes; each resource row its status, changes and
error. Nothing here is secret: results never hold a secret value (the engine's rule for XCom).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import Depends, HTTPException, Query, Request

from iamflow.airflow.operators.converge import task_outcome

log = logging.getLogger(__name__)

RESULT_KEYS = ("return_value", "iamflow_failed_result")  # FAILED_RESULT_KEY of the operators
STATUSES = ("ok", "changed", "failed", "skipped")


@dataclass
class TaskRecord:
    """One task instance of the run, and what it pushed."""

    task_id: str
    state: str | None
    try_number: int = 1
    values: dict[str, Any] = field(default_factory=dict)  # XCom key -> value


@dataclass
class RunRecord:
    """A DAG run's tasks, as read from Airflow."""

    dag_id: str
    run_id: str
    state: str | None
    tasks: list[TaskRecord]


RunLoader = Callable[[str, "str | None"], "RunRecord | None"]


def build_view(run: RunRecord) -> dict[str, Any]:
    """The page's content: task rows (outcome, partial, changes, counts) and resource rows, and totals."""
    tasks: list[dict[str, Any]] = []
    resources: list[dict[str, Any]] = []
    recap: dict[str, Any] | None = None
    for task in sorted(run.tasks, key=lambda t: (t.task_id == "recap", t.task_id)):
        value = next((task.values[k] for k in RESULT_KEYS if isinstance(task.values.get(k), dict)), None)
        if task.task_id == "recap":
            recap = value
            continue
        results = _results_of(value)
        for r in results:
            resources.append({"task_id": task.task_id, **_resource_row(r)})
        tasks.append({"task_id": task.task_id, "state": task.state or "none", "try_number": task.try_number,
                      **_outcome(value, results), "resources": len(results)})
    totals = {s: sum(1 for r in resources if r["status"] == s) for s in STATUSES}
    return {
        "dag_id": run.dag_id, "run_id": run.run_id, "state": run.state or "none", "tasks": tasks,
        "resources": resources, "totals": totals,
        "partial": sum(1 for r in resources if r["partial"]),
        "change_count": sum(t["change_count"] for t in tasks),
        "check_mode": bool(recap.get("check_mode")) if recap else any(r["check_mode"] for r in resources),
        "recap": recap,
    }


def _results_of(value: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not value:
        return []
    if isinstance(value.get("results"), dict):  # a batched task
        return [v for v in value["results"].values() if isinstance(v, dict)]
    return [value] if "resource" in value else []


def _resource_row(r: dict[str, Any]) -> dict[str, Any]:
    changes = [str(c) for c in r.get("changes") or []]
    if r.get("status") == "failed":  # what it planned did not all happen: show what did, and where it stopped
        changes = [f"applied: {c}" for c in r.get("applied") or []]
        if r.get("failed_step"):
            changes.append(f"failed: {r['failed_step']}")
    return {"resource": str(r.get("resource")), "status": str(r.get("status")), "partial": bool(r.get("partial")),
            "changes": changes, "notes": [str(n) for n in r.get("notes") or []],
            "error": r.get("error") or "", "seconds": r.get("seconds") or 0, "check_mode": bool(r.get("check_mode"))}


def _outcome(value: dict[str, Any] | None, results: list[dict[str, Any]]) -> dict[str, Any]:
    if value is None:
        return {"outcome": "no result", "partial": 0, "change_count": 0}
    if "outcome" in value:
        return {"outcome": value["outcome"], "partial": int(value.get("partial") or 0),
                "change_count": int(value.get("change_count") or 0)}
    whole = task_outcome(results)
    return {"outcome": whole["outcome"], "partial": whole["partial"], "change_count": whole["change_count"]}


def load_run(dag_id: str, run_id: str | None) -> RunRecord | None:
    """Read a run (the newest when ``run_id`` is None) from Airflow's metadata database; None if absent."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        if run_id is None:
            run_id = session.scalar(select(DagRun.run_id).where(DagRun.dag_id == dag_id)
                                    .order_by(DagRun.run_after.desc()).limit(1))
            if run_id is None:
                return None
        state = session.scalar(select(DagRun.state).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
        if state is None:
            return None
        tis = session.execute(select(TaskInstance.task_id, TaskInstance.state, TaskInstance.try_number)
                              .where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)).all()
        xcoms = session.execute(select(XComModel.task_id, XComModel.key, XComModel.value)
                                .where(XComModel.dag_id == dag_id, XComModel.run_id == run_id,
                                       XComModel.key.in_(RESULT_KEYS))).all()
    tasks = {t.task_id: TaskRecord(t.task_id, str(t.state) if t.state else None, int(t.try_number or 1))
             for t in tis}
    for row in xcoms:
        if row.task_id in tasks:
            tasks[row.task_id].values[row.key] = _decode(row.value)
    return RunRecord(dag_id, run_id, str(state), list(tasks.values()))


def _decode(value: Any) -> Any:
    """An XCom value as stored by Airflow 3 (JSON; older rows may hold it as a JSON string)."""
    for _ in range(2):
        if isinstance(value, (bytes, str)):
            try:
                value = json.loads(value)
            except ValueError:
                return None
    return value


def add_recap_routes(app: Any, render: Callable[..., Any], *, loader: RunLoader | None = None,
                     require_auth: bool = True) -> None:
    """Add ``/recap`` (HTML) and ``/api/recap`` (JSON) to the iamflow UI app.

    Inside Airflow both also require read access to the playbook DAG's runs (``dag_id``).
    """
    read_run = loader or load_run
    dependencies = []
    if require_auth:
        from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
        from airflow.api_fastapi.core_api.security import requires_access_dag

        dependencies = [Depends(requires_access_dag("GET", DagAccessEntity.RUN))]

    def view_of(dag_id: str, run_id: str | None) -> dict[str, Any]:
        try:
            run = read_run(dag_id, run_id or None)
        except Exception as exc:  # no metadata database (outside Airflow)
            log.debug("could not read run %s of %s", run_id, dag_id, exc_info=True)
            raise HTTPException(status_code=503, detail=f"cannot read Airflow's runs: {type(exc).__name__}") from exc
        if run is None:
            raise HTTPException(status_code=404, detail=f"no run {run_id or '(newest)'} of DAG {dag_id!r}")
        return build_view(run)

    @app.get("/recap", dependencies=dependencies)
    def recap_page(request: Request, dag_id: str = Query(..., max_length=250),
                   run_id: str | None = Query(None, max_length=250)) -> Any:
        return render(request, "recap.html", view=view_of(dag_id, run_id), outcomes=STATUSES)

    @app.get("/api/recap", dependencies=dependencies)
    def recap_api(dag_id: str = Query(..., max_length=250),
                  run_id: str | None = Query(None, max_length=250)) -> dict[str, Any]:
        return view_of(dag_id, run_id)
