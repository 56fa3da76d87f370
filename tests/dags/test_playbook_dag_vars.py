"""A playbook DAG and variables from outside the file: a ``vars`` Param for values, ``${env:NAME}`` unseen.

The DAG is built from the playbook with the vars it has when parsed; a run's ``vars`` Param may
change a value (a description, an ExternalId), never a var that names a resource, its kind or a
reference (the task ids were made from it). Values read from the environment appear neither in
the DAG's docs nor in a task's docs or result.
"""

from __future__ import annotations

import json
import textwrap
import warnings
from pathlib import Path
from typing import Any

import boto3
import pytest
from airflow.sdk.exceptions import AirflowFailException

from iamflow.airflow.dag_factory import build_playbook_dags
from iamflow.airflow.operators import IamflowResourceOperator
from iamflow.airflow.operators.converge import FAILED_RESULT_KEY

SECRET_ID = "x-1b2c3d4e-never-in-docs"

PLAYBOOK = """\
    name: partner
    description: Partner role, ExternalId ${external_id}
    vars:
      team: red
      purpose: audits
      external_id: ${env:IAMFLOW_TEST_PARTNER_ID}
    resources:
      - kind: iam_role
        name: partner-${team}
        description: ${purpose} with ${external_id}
        trust_policy:
          Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Principal: {AWS: "arn:aws:iam::210987654321:root"}
              Action: sts:AssumeRole
              Condition: {StringEquals: {"sts:ExternalId": "${external_id}"}}
    """


class FakeTI:
    def __init__(self) -> None:
        self.xcoms: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = value


@pytest.fixture
def playbooks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "playbooks"
    directory.mkdir()
    (directory / "partner.yaml").write_text(textwrap.dedent(PLAYBOOK), encoding="utf-8")
    monkeypatch.setenv("IAMFLOW_PLAYBOOKS_DIR", str(directory))
    monkeypatch.setenv("IAMFLOW_TEST_PARTNER_ID", SECRET_ID)
    monkeypatch.delenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", raising=False)
    return directory


def _dag(directory: Path) -> Any:
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        return build_playbook_dags(directory)["playbook_partner"]


def _operator(playbooks: Path, monkeypatch: pytest.MonkeyPatch) -> IamflowResourceOperator:
    from iamflow.aws.clients import AwsClients

    op = IamflowResourceOperator(task_id="t", playbook_path=str(playbooks / "partner.yaml"),
                                 resource_key="iam_role.partner-red")
    monkeypatch.setattr(op, "clients", lambda *, check_mode=False: AwsClients.from_boto3(
        boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"),
        check_mode=check_mode))
    return op


def test_the_dag_has_a_vars_param_and_its_docs_never_show_an_environment_value(playbooks):
    dag = _dag(playbooks)
    assert dag.params.dump()["vars"] == {}
    assert dag.params.get_param("vars").schema["type"] == "object"
    [task_id] = [t for t in dag.task_ids if t != "recap"]
    assert task_id == "iam_role.partner-red"
    shown = [dag.doc_md, dag.description, *(t.doc_md or "" for t in dag.tasks)]
    assert all(SECRET_ID not in text for text in shown)
    assert "audits with ${env:IAMFLOW_TEST_PARTNER_ID}" in dag.get_task(task_id).doc_md


def test_a_run_s_vars_param_changes_a_value(playbooks, monkeypatch, aws):
    op = _operator(playbooks, monkeypatch)
    result = op.execute({"ti": FakeTI(), "params": {"check_mode": False, "diff": True,
                                                    "vars": {"purpose": "quarterly audits"}}})
    assert result["status"] == "changed"
    role = boto3.client("iam", region_name="us-east-1").get_role(RoleName="partner-red")["Role"]
    assert role["Description"] == f"quarterly audits with {SECRET_ID}"
    assert SECRET_ID not in json.dumps(result)


def test_a_run_s_vars_param_cannot_rename_a_resource(playbooks, monkeypatch, aws):
    op = _operator(playbooks, monkeypatch)
    ti = FakeTI()
    with pytest.raises(AirflowFailException, match="a Param cannot change it"):
        op.execute({"ti": ti, "params": {"check_mode": True, "vars": {"team": "blue"}}})
    assert "var 'team' decides field 'name' of resource" in ti.xcoms[FAILED_RESULT_KEY]["error"]
    assert boto3.client("iam", region_name="us-east-1").list_roles()["Roles"] == []
