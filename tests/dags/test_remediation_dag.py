"""The remediate_credentials DAG's structure: on the sweep's Asset, plan → governed approval → apply."""

from __future__ import annotations

import functools
from typing import Any

from iamflow.settings import project_root


@functools.cache
def _dag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(project_root() / "dags" / "remediate_credentials.py"), safe_mode=False)
    assert not bag.import_errors, bag.import_errors
    return bag.dags["remediate_credentials"]


def test_steps_and_schedule() -> None:
    dag = _dag()
    assert dag.get_task("plan").downstream_task_ids == {"approve"}
    assert dag.get_task("approve").downstream_task_ids == {"apply"}
    assert {t.task_id for t in dag.tasks} == {"plan", "approve", "apply"}
    assets = dag.timetable.asset_condition.objects
    assert [(a.name, a.uri) for a in assets] == [("iamflow_compliance_report", "x-iamflow://reports/compliance/latest")]
    assert dag.max_active_runs == 1 and "remediation" in dag.tags and dag.doc_md
    assert all(t.doc_md for t in dag.tasks)


def test_the_approval_is_governed() -> None:
    from iamflow.airflow.operators.approval import GovernedApprovalOperator

    approve = _dag().get_task("approve")
    assert isinstance(approve, GovernedApprovalOperator)
    assert approve.workflow == "remediate_credentials" and approve.plan_task_id == "plan"
    assert approve.defaults == ["Reject"], "no answer before the timeout means Reject"
    assert "xcom_pull(task_ids='plan'" in approve.body


def test_team_dags_use_the_governed_approval() -> None:
    from airflow.dag_processing.dagbag import DagBag

    from iamflow.airflow.operators.approval import GovernedApprovalOperator

    for dag_id in ("onboard_team", "offboard_team"):
        bag = DagBag(dag_folder=str(project_root() / "dags" / f"{dag_id}.py"), safe_mode=False)
        approve = bag.dags[dag_id].get_task("approve")
        assert isinstance(approve, GovernedApprovalOperator) and approve.workflow == dag_id
        assert approve.plan_hash_key == "signature"
