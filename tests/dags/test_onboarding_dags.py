"""The onboarding DAGs' structure: the form's JSON schema, the steps, the approval, one run at a time."""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import Any

import pytest

from iamflow.onboarding import load_config
from iamflow.settings import project_root

DAGS_DIR = project_root() / "dags"
STEPS = ["validate_request", "render_playbook", "plan", "approve", "apply", "publish", "recap"]


@functools.cache
def _dag(dag_id: str) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_DIR / f"{dag_id}.py"), safe_mode=False)
    assert not bag.import_errors, bag.import_errors
    return bag.dags[dag_id]


@pytest.mark.parametrize("dag_id", ["onboard_team", "offboard_team"])
def test_steps_in_order(dag_id: str) -> None:
    dag = _dag(dag_id)
    assert sorted(t.task_id for t in dag.tasks) == sorted(STEPS)
    for before, after in zip(STEPS, STEPS[1:], strict=False):
        assert dag.get_task(before).downstream_task_ids == {after}, f"{before} must lead to {after} only"
    assert dag.get_task("recap").trigger_rule == "all_done", "the recap always runs (it releases the lock)"
    assert dag.max_active_runs == 1
    assert dag.schedule is None and "onboarding" in dag.tags and dag.doc_md
    assert all(t.doc_md for t in dag.tasks), "every task explains itself in the UI"


@pytest.mark.parametrize("dag_id", ["onboard_team", "offboard_team"])
def test_approval_step(dag_id: str) -> None:
    from airflow.providers.standard.operators.hitl import ApprovalOperator

    approve = _dag(dag_id).get_task("approve")
    assert isinstance(approve, ApprovalOperator)
    assert approve.options == ["Approve", "Reject"]
    assert approve.defaults == ["Reject"], "no answer before the timeout means Reject"
    assert approve.response_timeout == timedelta(hours=load_config().approval_timeout_hours)
    assert "xcom_pull(task_ids='plan'" in approve.body and "xcom_pull(task_ids='plan'" in approve.subject


def test_onboarding_form_schema() -> None:
    params = _dag("onboard_team").params
    schemas = {k: params.get_param(k).schema for k in params}
    config = load_config()
    assert schemas["team"]["pattern"] == "^[a-z][a-z0-9-]{1,30}$"
    assert schemas["environment"]["enum"] == list(config.environments)
    assert schemas["owners"]["type"] == "array" and schemas["owners"]["minItems"] == 1
    assert "pattern" in schemas["owners"]["items"]
    assert schemas["extra_policies"]["items"]["enum"] == sorted(config.extra_policies)


def test_offboarding_form_asks_for_team_and_environment_only() -> None:
    params = _dag("offboard_team").params
    assert set(params) == {"team", "environment"}


def test_form_refuses_bad_input() -> None:
    """Airflow's Params check the trigger form's JSON schema, naming the param."""
    import copy

    from airflow.sdk.exceptions import ParamValidationError

    params = _dag("onboard_team").params
    good = {"team": "payments", "environment": "dev", "owners": ["a@example.com"], "extra_policies": []}
    accepted = copy.deepcopy(params)
    for key, value in good.items():
        accepted[key] = value
    assert accepted.validate() == good
    for key, value in (("team", "Bad Team"), ("environment", "qa"), ("owners", []), ("owners", ["nope"]),
                       ("extra_policies", ["AdministratorAccess"])):
        with pytest.raises(ParamValidationError, match=f"Invalid input for param {key}"):
            copy.deepcopy(params)[key] = value
