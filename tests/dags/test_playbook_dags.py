"""The playbook DAG factory: shape of a playbook DAG, the placeholder for a broken file, no AWS at parse."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from iamflow.airflow.dag_factory import RECAP_TASK_ID, PlaybookInvalidWarning, build_playbook_dags
from iamflow.airflow.operators import IamflowResourceOperator, PlaybookInvalidOperator, PlaybookRecapOperator
from iamflow.airflow.operators.converge import FAILED_RESULT_KEY
from iamflow.settings import project_root

PLAYBOOKS_DAG_FILE = project_root() / "dags" / "playbooks.py"

GOOD = """
name: web-app
description: |
  The web application's instance role, bounded and with its own policy.
resources:
  - kind: iam_instance_profile
    name: web-profile
    role: web-role
  - kind: iam_role
    name: web-role
    trust_policy:
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Principal: {Service: ec2.amazonaws.com}
          Action: sts:AssumeRole
    managed_policies: [web-policy]
  - kind: iam_managed_policy
    name: web-policy
    document:
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Action: s3:GetObject
          Resource: arn:aws:s3:::web-assets/*
"""

# two problems at once, in two resources: a misspelt field and a missing trust policy
BROKEN = """
name: broken-team
resources:
  - kind: iam_managed_policy
    name: broken-policy
    documnt: {}
  - kind: iam_role
    name: broken-role
"""

POLICY = "{Version: '2012-10-17', Statement: [{Effect: Allow, Action: s3:GetObject, Resource: 'arn:aws:s3:::b/*'}]}"

POLICY_KEY = "iam_managed_policy.web-policy"
ROLE_KEY = "iam_role.web-role"
PROFILE_KEY = "iam_instance_profile.web-profile"


def _write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


@pytest.fixture
def playbooks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "playbooks"
    directory.mkdir()
    _write(directory, "web-app.yaml", GOOD)
    _write(directory, "broken.yaml", BROKEN)
    monkeypatch.setenv("IAMFLOW_PLAYBOOKS_DIR", str(directory))
    monkeypatch.delenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", raising=False)
    return directory


def _parse_dag_file() -> Any:
    """A DagBag of dags/playbooks.py; the broken playbook's warning is recorded in it, not printed."""
    from airflow.dag_processing.dagbag import DagBag

    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        return DagBag(dag_folder=str(PLAYBOOKS_DAG_FILE), safe_mode=False)


def _build() -> dict[str, Any]:
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        return build_playbook_dags()


@pytest.fixture
def bag(playbooks: Path) -> Any:
    return _parse_dag_file()


def test_good_playbook_dag_shape(bag: Any) -> None:
    assert not bag.import_errors, bag.import_errors
    dag = bag.dags["playbook_web_app"]
    assert set(dag.task_ids) == {POLICY_KEY, ROLE_KEY, PROFILE_KEY, RECAP_TASK_ID}
    assert dag.get_task(ROLE_KEY).upstream_task_ids == {POLICY_KEY}, "the role runs after its policy"
    assert dag.get_task(PROFILE_KEY).upstream_task_ids == {ROLE_KEY}, "the profile runs after its role"
    assert dag.get_task(POLICY_KEY).upstream_task_ids == set()
    recap = dag.get_task(RECAP_TASK_ID)
    assert recap.upstream_task_ids == {POLICY_KEY, ROLE_KEY, PROFILE_KEY}
    assert recap.downstream_task_ids == set()
    assert recap.trigger_rule == "all_done"
    assert isinstance(recap, PlaybookRecapOperator)
    assert list(recap.resource_task_ids) == [POLICY_KEY, ROLE_KEY, PROFILE_KEY]  # dependency order


def test_good_playbook_dag_settings(bag: Any) -> None:
    dag = bag.dags["playbook_web_app"]
    assert dag.max_active_runs == 1
    assert dag.catchup is False
    assert dag.schedule is None
    assert set(dag.tags) == {"iamflow", "playbook", "web-app"}
    assert dag.default_args["owner"] == "iamflow"
    assert dag.default_args["retries"] >= 1
    params = dag.params.dump()
    assert params == {"check_mode": False, "diff": True, "vars": {}}
    assert dag.params.get_param("check_mode").schema["type"] == "boolean"
    assert dag.params.get_param("diff").schema["type"] == "boolean"
    assert "instance role" in dag.doc_md
    for key in (POLICY_KEY, ROLE_KEY, PROFILE_KEY):
        assert key in dag.doc_md


def test_resource_tasks(bag: Any, playbooks: Path) -> None:
    dag = bag.dags["playbook_web_app"]
    role = dag.get_task(ROLE_KEY)
    assert isinstance(role, IamflowResourceOperator)
    assert role.resource_key == ROLE_KEY
    assert Path(role.playbook_path) == playbooks / "web-app.yaml"
    assert role.aws_conn_id == "aws_default"
    assert role.check_mode is None, "check mode comes from the run's params unless forced"
    assert set(IamflowResourceOperator.template_fields) == {"playbook_path", "resource_key", "aws_conn_id"}
    assert role.retries >= 1
    for text in ("iam_role", "web-role", "present", "web-policy", POLICY_KEY):
        assert text in role.doc_md, f"{text!r} missing from the task doc"


def test_broken_playbook_becomes_a_placeholder(bag: Any, playbooks: Path) -> None:
    assert "playbook_web_app" in bag.dags, "a broken playbook must not hide the others"
    assert not bag.import_errors, "a broken playbook must not be an import error of dags/playbooks.py"
    dag = bag.dags["playbook_broken_team"]  # its own dag_id: the name could still be read
    assert "invalid" in set(dag.tags)
    assert dag.schedule is None
    assert "documnt" in dag.doc_md
    assert "trust_policy" in dag.doc_md
    assert "broken.yaml" in dag.doc_md
    [task] = dag.tasks
    assert isinstance(task, PlaybookInvalidOperator)
    assert task.retries == 0
    with pytest.raises(AirflowFailException) as failure:
        task.execute({})
    assert "documnt" in str(failure.value)
    assert "trust_policy" in str(failure.value)
    warned = "\n".join(w for ws in bag.captured_warnings.values() for w in ws)
    assert "broken.yaml" in warned and "documnt" in warned, "the problems must reach the parse log"


def test_unreadable_playbook_gets_a_file_based_id(playbooks: Path) -> None:
    _write(playbooks, "garbled.yaml", "name: [unclosed\n")
    with pytest.warns(PlaybookInvalidWarning) as warned:
        dags = build_playbook_dags()
    assert any("garbled.yaml" in str(w.message) for w in warned)
    dag = dags["playbook_invalid_garbled"]
    assert "invalid YAML" in dag.doc_md
    assert "playbook_web_app" in dags


def test_duplicate_name_keeps_the_first_file(playbooks: Path) -> None:
    _write(playbooks, "web-app.zz.yaml", GOOD)  # sorts after web-app.yaml
    with pytest.warns(PlaybookInvalidWarning) as warned:
        dags = build_playbook_dags()
    assert any("already used by" in str(w.message) for w in warned)
    assert "invalid" not in set(dags["playbook_web_app"].tags)
    assert "invalid" in set(dags["playbook_invalid_web-app.zz"].tags)


def test_two_playbooks_declaring_one_role_both_become_placeholders(playbooks: Path) -> None:
    _write(playbooks, "ci.yaml", """
        name: ci
        resources:
          - kind: iam_role
            name: web-role
            trust_policy: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {Service: codebuild.amazonaws.com}, Action: sts:AssumeRole}]}
        """)
    _write(playbooks, "docs.yaml", """
        name: docs
        resources:
          - kind: iam_managed_policy
            name: docs-policy
            document: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: s3:GetObject, Resource: "arn:aws:s3:::d/*"}]}
        """)
    with pytest.warns(PlaybookInvalidWarning):
        dags = build_playbook_dags()
    for dag_id, other in (("playbook_web_app", "ci.yaml"), ("playbook_ci", "web-app.yaml")):
        dag = dags[dag_id]
        assert "invalid" in set(dag.tags), dag_id
        assert "iam_role web-role is also declared by" in dag.doc_md and other in dag.doc_md
        [task] = dag.tasks
        with pytest.raises(AirflowFailException, match="one owner"):
            task.execute({})
    # a playbook that shares nothing with them is untouched
    assert "invalid" not in set(dags["playbook_docs"].tags)


def test_bad_schedule_only_breaks_its_own_dag(playbooks: Path) -> None:
    _write(playbooks, "nightly.yaml", f"""
        name: nightly
        schedule: "every night please"
        resources:
          - kind: iam_managed_policy
            name: nightly-policy
            document: {POLICY}
    """)
    with pytest.warns(PlaybookInvalidWarning) as warned:
        dags = build_playbook_dags()
    assert any("nightly" in str(w.message) for w in warned)
    assert "invalid" in set(dags["playbook_nightly"].tags)
    assert "could not be built" in dags["playbook_nightly"].doc_md


def test_scheduled_playbook(playbooks: Path) -> None:
    _write(playbooks, "nightly.yaml", f"""
        name: nightly
        schedule: "0 3 * * *"
        resources:
          - kind: iam_managed_policy
            name: nightly-policy
            document: {POLICY}
    """)
    dag = _build()["playbook_nightly"]
    assert dag.schedule == "0 3 * * *"
    assert dag.start_date is not None
    assert dag.catchup is False


def test_a_playbook_sets_its_tasks_retries(playbooks: Path) -> None:
    _write(playbooks, "patient.yaml", f"""
        name: patient
        retries: 5
        retry_delay_seconds: 90
        resources:
          - kind: iam_managed_policy
            name: patient-policy
            document: {POLICY}
    """)
    dags = _build()
    task = dags["playbook_patient"].get_task("iam_managed_policy.patient-policy")
    assert (task.retries, task.retry_delay.total_seconds()) == (5, 90)
    default = dags["playbook_web_app"].get_task(POLICY_KEY)
    assert (default.retries, default.retry_delay.total_seconds()) == (2, 20), "unless a playbook says otherwise"


def test_parsing_context_builds_only_the_wanted_dag(playbooks: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Airflow sets this when a worker parses the file to run one of the DAG's tasks
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", "playbook_web_app")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the broken playbook is not even looked at
        assert list(build_playbook_dags()) == ["playbook_web_app"]
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", "playbook_broken_team")
    with pytest.warns(PlaybookInvalidWarning):
        assert list(build_playbook_dags()) == ["playbook_broken_team"]


def test_parsing_creates_no_aws_client(bag: Any, playbooks: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import botocore.session

    created: list[str] = []
    original = botocore.session.Session.create_client

    def spy(self: Any, service_name: str, *args: Any, **kwargs: Any) -> Any:
        created.append(service_name)
        return original(self, service_name, *args, **kwargs)

    monkeypatch.setattr(botocore.session.Session, "create_client", spy)
    again = _parse_dag_file()
    assert "playbook_web_app" in again.dags
    assert created == [], f"parsing the playbook DAGs created AWS clients: {created}"


def test_parsing_imports_no_boto3(playbooks: Path) -> None:
    """The strict check, in a fresh interpreter: importing the DAG file loads neither boto3 nor botocore."""
    code = textwrap.dedent(f"""
        import json, runpy, sys
        found = runpy.run_path({str(PLAYBOOKS_DAG_FILE)!r})
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("boto3", "botocore", "moto")
                       or m.startswith(("airflow.providers.amazon.aws", "iamflow.engine", "iamflow.aws")))
        print(json.dumps({{"dags": sorted(k for k in found if k.startswith("playbook_")), "heavy": heavy}}))
    """)
    env = {**os.environ, "IAMFLOW_PLAYBOOKS_DIR": str(playbooks)}
    env.pop("_AIRFLOW_PARSING_CONTEXT_DAG_ID", None)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["dags"] == ["playbook_broken_team", "playbook_web_app"]
    assert report["heavy"] == [], f"parsing imported {report['heavy']}"


# --- the operators' run-time behaviour, with a stand-in task instance (no Airflow DB) -------------


class FakeTI:
    """Just enough of a RuntimeTaskInstance for the recap and resource operators."""

    def __init__(self, xcoms: dict[tuple[str, str], Any] | None = None, states: dict[str, str] | None = None):
        self.xcoms = dict(xcoms or {})
        self.states = states or {}
        self.dag_id, self.run_id = "playbook_web_app", "manual__1"

    def xcom_pull(self, task_ids: str, key: str = "return_value", **_: Any) -> Any:
        return self.xcoms.get((task_ids, key))

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[("self", key)] = value

    def get_task_states(self, **_: Any) -> dict[str, dict[str, str]]:
        return {self.run_id: self.states}


def _recap() -> PlaybookRecapOperator:
    return PlaybookRecapOperator(task_id="recap", playbook_name="web-app",
                                 resource_task_ids={k: k for k in (POLICY_KEY, ROLE_KEY, PROFILE_KEY)})


def test_recap_all_ok() -> None:
    ti = FakeTI({(k, "return_value"): {"resource": k, "status": s}
                 for k, s in ((POLICY_KEY, "ok"), (ROLE_KEY, "changed"), (PROFILE_KEY, "ok"))})
    summary = _recap().execute({"ti": ti, "params": {"check_mode": True}})
    assert summary == {
        "playbook": "web-app",
        "check_mode": True,
        "counts": {"ok": 2, "changed": 1, "failed": 0, "skipped": 0},
        "resources": {POLICY_KEY: "ok", ROLE_KEY: "changed", PROFILE_KEY: "ok"},
        "outcome": "changed", "partial": 0, "change_count": 0,
    }
    json.dumps(summary)


def test_recap_fails_the_run_and_counts_missing_results(capsys: pytest.CaptureFixture[str],
                                                         caplog: pytest.LogCaptureFixture) -> None:
    ti = FakeTI(
        {
            (POLICY_KEY, "return_value"): {"resource": POLICY_KEY, "status": "changed"},
            (ROLE_KEY, FAILED_RESULT_KEY): {"resource": ROLE_KEY, "status": "failed", "error": "AccessDenied"},
        },
        states={POLICY_KEY: "success", ROLE_KEY: "failed", PROFILE_KEY: "upstream_failed"},
    )
    with caplog.at_level("INFO"), pytest.raises(AirflowFailException, match=ROLE_KEY):
        _recap().execute({"ti": ti, "params": {}})
    # Airflow's task logger writes through structlog (stdout) or stdlib logging, depending on setup
    logged = "".join(capsys.readouterr()) + caplog.text
    assert "PLAY RECAP [web-app]" in logged, "the recap is logged before the task fails"
    assert "TOTAL                            : ok=0  changed=1  failed=1  skipped=1" in logged
    assert "AccessDenied" in logged
    pushed = ti.xcoms[("self", "return_value")]
    assert pushed["counts"] == {"ok": 0, "changed": 1, "failed": 1, "skipped": 1}
    assert pushed["resources"] == {POLICY_KEY: "changed", ROLE_KEY: "failed", PROFILE_KEY: "skipped"}


def test_resource_operator_constructor_does_no_io() -> None:
    op = IamflowResourceOperator(task_id="t", playbook_path="/nowhere/playbook.yaml", resource_key="iam_role.x")
    assert op.check_mode is None and op.region_name is None


def test_resource_operator_fails_without_retry_on_an_invalid_playbook(playbooks: Path) -> None:
    op = IamflowResourceOperator(task_id="t", playbook_path=str(playbooks / "broken.yaml"),
                                 resource_key="iam_role.broken-role")
    ti = FakeTI()
    with pytest.raises(AirflowFailException, match="trust_policy"):
        op.execute({"ti": ti, "params": {"check_mode": False, "diff": True}})
    assert ti.xcoms[("self", FAILED_RESULT_KEY)]["status"] == "failed"


def _moto_operator(playbooks: Path, key: str, monkeypatch: pytest.MonkeyPatch, **kwargs: Any) -> IamflowResourceOperator:
    import boto3

    from iamflow.aws.clients import AwsClients

    op = IamflowResourceOperator(task_id=key, playbook_path=str(playbooks / "web-app.yaml"), resource_key=key,
                                 **kwargs)
    monkeypatch.setattr(op, "clients", lambda *, check_mode=False: AwsClients.from_boto3(
        boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"),
        check_mode=check_mode))
    return op


def test_resource_operator_check_mode_then_apply(playbooks: Path, monkeypatch: pytest.MonkeyPatch, aws: Any) -> None:
    import boto3

    iam = boto3.client("iam", region_name="us-east-1", aws_access_key_id="testing",
                       aws_secret_access_key="testing")
    op = _moto_operator(playbooks, POLICY_KEY, monkeypatch)
    planned = op.execute({"ti": FakeTI(), "params": {"check_mode": True, "diff": True}})
    assert planned["status"] == "changed" and planned["check_mode"] is True
    assert iam.list_policies(Scope="Local")["Policies"] == []
    applied = op.execute({"ti": FakeTI(), "params": {"check_mode": False, "diff": False}})
    assert applied["status"] == "changed" and applied["check_mode"] is False
    assert [p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"]] == ["web-policy"]
    again = op.execute({"ti": FakeTI(), "params": {"check_mode": False, "diff": False}})
    assert again["status"] == "ok"
    json.dumps(again)
    # the operator argument wins over the run's params
    forced = _moto_operator(playbooks, ROLE_KEY, monkeypatch, check_mode=True)
    assert forced.execute({"ti": FakeTI(), "params": {"check_mode": False}})["status"] == "changed"
    assert iam.list_roles()["Roles"] == []


def test_resource_operator_lets_throttling_through(playbooks: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.exceptions import ClientError

    import iamflow.engine

    def throttled(*_: Any, **__: Any) -> Any:
        raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"},
                           "ResponseMetadata": {"HTTPStatusCode": 400}}, "GetPolicy")

    def denied(*_: Any, **__: Any) -> Any:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"},
                           "ResponseMetadata": {"HTTPStatusCode": 403}}, "GetPolicy")

    op = IamflowResourceOperator(task_id="t", playbook_path=str(playbooks / "web-app.yaml"), resource_key=POLICY_KEY)
    monkeypatch.setattr(op, "clients", lambda *, check_mode=False: object())
    monkeypatch.setattr(iamflow.engine, "run_resource", throttled)
    with pytest.raises(ClientError, match="Throttling"):  # Airflow's retries apply
        op.execute({"ti": FakeTI(), "params": {}})
    monkeypatch.setattr(iamflow.engine, "run_resource", denied)
    with pytest.raises(AirflowFailException, match="AccessDenied"):  # a retry would not help
        op.execute({"ti": FakeTI(), "params": {}})


EXPECTING = """\
name: proven
resources:
  - kind: iam_role
    name: proven-role
    trust_policy:
      Version: "2012-10-17"
      Statement:
        - {Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}
    inline_policies:
      read:
        Version: "2012-10-17"
        Statement:
          - {Sid: ReadReports, Effect: Allow, Action: s3:GetObject, Resource: "arn:aws:s3:::reports/*"}
    expect:
      allowed:
        - {action: s3:GetObject, resource: "arn:aws:s3:::reports/q4.csv"}
      denied:
        - {action: s3:PutObject, resource: "arn:aws:s3:::reports/q4.csv"}
"""


def test_the_task_log_and_the_recap_show_expectation_results_in_check_mode(
        playbooks: Path, monkeypatch: pytest.MonkeyPatch, aws: Any, capsys: pytest.CaptureFixture[str]) -> None:
    import boto3

    from iamflow.aws.clients import AwsClients

    _write(playbooks, "proven.yaml", EXPECTING)
    key = "iam_role.proven-role"
    op = IamflowResourceOperator(task_id=key, playbook_path=str(playbooks / "proven.yaml"), resource_key=key)
    monkeypatch.setattr(op, "clients", lambda *, check_mode=False: AwsClients.from_boto3(
        boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"),
        check_mode=check_mode))
    result = op.execute({"ti": FakeTI(), "params": {"check_mode": True, "diff": False}})
    assert result["status"] == "changed" and result["check_mode"] is True
    proven = [n for n in result["notes"] if n.startswith("expect: ")]
    assert len(proven) == 2 and all(" holds: " in n for n in proven)
    log = capsys.readouterr().out  # Airflow's task logger writes there outside a task runner
    assert "expect: expect.denied[0]" in log and "ReadReports" in log
    recap = PlaybookRecapOperator(task_id="recap", playbook_name="proven", resource_task_ids={key: key})
    recap.execute({"ti": FakeTI({(key, "return_value"): result}), "params": {"check_mode": True}})
    assert "expect=2/2" in capsys.readouterr().out
