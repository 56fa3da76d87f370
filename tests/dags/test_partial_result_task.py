"""A resource task that fails after some of its changes were applied says so, and so does the recap.

The operator runs against in-process moto with the fault injector on its clients: a permanent
failure fails the task with its partial result in XCom (applied steps and the failed one); a
transient one is re-raised for Airflow's retries, with the same record pushed first. The recap
task then reads ``failed=1 partial=1``.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import boto3
import pytest
from airflow.sdk.exceptions import AirflowFailException
from botocore.exceptions import ClientError

from iamflow.airflow.operators import IamflowResourceOperator, PlaybookRecapOperator
from iamflow.airflow.operators.converge import FAILED_RESULT_KEY
from iamflow.aws.clients import AwsClients
from tests.helpers.faults import fail_nth_write

KEY = "iam_role.app"
PLAYBOOK = """\
    name: partial
    resources:
      - kind: iam_role
        name: app
        trust_policy:
          Version: "2012-10-17"
          Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: "sts:AssumeRole"}]
        inline_policies:
          read:
            Version: "2012-10-17"
            Statement: [{Effect: Allow, Action: "s3:ListAllMyBuckets", Resource: "*"}]
    """


class FakeTI:
    def __init__(self, xcoms: dict[tuple[str, str], Any] | None = None) -> None:
        self.xcoms = dict(xcoms or {})
        self.dag_id, self.run_id = "playbook_partial", "manual__1"

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[("self", key)] = value

    def xcom_pull(self, task_ids: str, key: str = "return_value", **_: Any) -> Any:
        return self.xcoms.get((task_ids, key))

    def get_task_states(self, **_: Any) -> dict[str, dict[str, str]]:
        return {self.run_id: {KEY: "failed"}}


def _operator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[IamflowResourceOperator, AwsClients]:
    path = tmp_path / "partial.yaml"
    path.write_text(textwrap.dedent(PLAYBOOK), encoding="utf-8")
    clients = AwsClients.from_boto3(boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                                  region_name="us-east-1"))
    op = IamflowResourceOperator(task_id=KEY, playbook_path=str(path), resource_key=KEY)
    monkeypatch.setattr(op, "clients", lambda *, check_mode=False: clients)
    return op, clients


def test_a_permanent_failure_after_applied_changes_fails_the_task_with_its_partial_result(
        tmp_path, monkeypatch, aws, capsys, caplog):
    op, clients = _operator(tmp_path, monkeypatch)
    fail_nth_write(clients, 2, "MalformedPolicyDocument")
    ti = FakeTI()
    with caplog.at_level("INFO"), pytest.raises(AirflowFailException, match="MalformedPolicyDocument"):
        op.execute({"ti": ti, "params": {"check_mode": False, "diff": True}})
    result = ti.xcoms[("self", FAILED_RESULT_KEY)]
    assert (result["status"], result["partial"]) == ("failed", True)
    assert result["applied"] == ["create role app"] and result["failed_step"] == "put inline policy read on role app"
    logged = "".join(capsys.readouterr()) + caplog.text
    assert "applied: create role app" in logged and "failed: put inline policy read on role app" in logged

    recap_ti = FakeTI({(KEY, FAILED_RESULT_KEY): result})
    recap = PlaybookRecapOperator(task_id="recap", playbook_name="partial", resource_task_ids=[KEY])
    with caplog.at_level("INFO"), pytest.raises(AirflowFailException):
        recap.execute({"ti": recap_ti, "params": {}})
    logged = "".join(capsys.readouterr()) + caplog.text
    assert "failed=1 partial=1" in logged
    summary = recap_ti.xcoms[("self", "return_value")]  # the failing recap still pushes its summary
    assert (summary["outcome"], summary["partial"], summary["counts"]["failed"]) == ("failed", 1, 1)
    assert summary["change_count"] == 1  # the one change applied before the failure


def test_a_transient_failure_after_applied_changes_is_re_raised_with_its_partial_result_pushed(
        tmp_path, monkeypatch, aws, no_retry_delay):
    op, clients = _operator(tmp_path, monkeypatch)
    fail_nth_write(clients, 2, "ServiceFailure", status=500)
    ti = FakeTI()
    with pytest.raises(ClientError, match="ServiceFailure"):  # Airflow's retries apply
        op.execute({"ti": ti, "params": {"check_mode": False}})
    result = ti.xcoms[("self", FAILED_RESULT_KEY)]
    assert result["partial"] is True and result["applied"] == ["create role app"]
