"""The compliance_sweep DAG: its shape (mapped sweep in a pool, merge with the report Asset), schedule, cheap parsing.

The operators' logic runs against in-process moto here (resolve, one account's sweep with its
retry rule, merge); ``tests/e2e/test_compliance_sweep_e2e.py`` runs the whole DAG under Airflow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from iamflow.settings import project_root

DAG_FILE = project_root() / "dags" / "compliance_sweep.py"
DAG_ID = "compliance_sweep"


@pytest.fixture(scope="module")
def dag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAG_FILE), safe_mode=False)
    assert not bag.import_errors, bag.import_errors
    return bag.dags[DAG_ID]


def test_four_tasks_in_order(dag: Any) -> None:
    assert sorted(dag.task_ids) == ["merge_reports", "posture", "resolve_targets", "sweep_account"]
    assert dag.get_task("sweep_account").upstream_task_ids == {"resolve_targets"}
    assert dag.get_task("merge_reports").upstream_task_ids == {"resolve_targets", "sweep_account"}
    posture = dag.get_task("posture")
    assert posture.upstream_task_ids == {"merge_reports"} and posture.trigger_rule == "all_success"
    assert posture.retries == 0  # the verdict of a written report does not change on a retry
    dag.check_cycle()


def test_the_sweep_is_mapped_over_the_targets_in_its_pool(dag: Any) -> None:
    from airflow.sdk.definitions.mappedoperator import MappedOperator

    sweep = dag.get_task("sweep_account")
    assert isinstance(sweep, MappedOperator)
    assert set(sweep.expand_input.value) == {"target"}
    assert sweep.pool == "iamflow_sweep"
    assert sweep.retries >= 1 and sweep.owner == "iamflow"
    assert sweep.map_index_template


def test_the_pool_can_be_overridden_and_the_command_creates_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from iamflow.airflow.operators.sweep import pool_set_command, sweep_pool

    assert pool_set_command() == ["airflow", "pools", "set", "iamflow_sweep", "4",
                                  "iamflow compliance sweep: accounts swept at the same time"]
    monkeypatch.setenv("IAMFLOW_SWEEP_POOL", "default_pool")
    assert sweep_pool() == "default_pool"


def test_merge_publishes_the_report_asset_whatever_happened_upstream(dag: Any) -> None:
    merge = dag.get_task("merge_reports")
    assert [o.uri for o in merge.outlets] == ["x-iamflow://reports/compliance/latest"]
    assert merge.outlets[0].name == "iamflow_compliance_report"
    assert merge.trigger_rule == "all_done"
    assert merge.on_report is None, "the posture task sends the sweep's one message, not the merge"
    assert merge.on_failure_callback, "a failed merge is notified"


def test_schedule_owner_retries_and_docs(dag: Any) -> None:
    assert dag.schedule == "0 2 * * *" and dag.timetable.expression == "0 2 * * *"
    assert dag.catchup is False and dag.max_active_runs == 1
    assert {"iamflow", "compliance"} <= set(dag.tags)
    assert dag.default_args["owner"] == "iamflow" and dag.default_args["retries"] >= 1
    assert dag.doc_md and dag.doc_md.startswith("Nightly compliance sweep")
    assert all(task.doc_md for task in dag.tasks), [t.task_id for t in dag.tasks if not t.doc_md]


def test_parsing_imports_no_boto3_and_no_collector() -> None:
    """In a fresh interpreter: importing the DAG file loads neither boto3, botocore nor the sweep's code."""
    code = (
        "import runpy, sys; runpy.run_path(sys.argv[1]); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore', 'moto') "
        "or m.startswith('iamflow.compliance') or m == 'iamflow.engine'))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("_AIRFLOW_PARSING_CONTEXT")}
    done = subprocess.run([sys.executable, "-c", code, str(DAG_FILE)], capture_output=True, text=True, env=env,
                          check=True, timeout=120)
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout[-2000:]


# --- the operators on in-process moto -------------------------------------------------------------


class _Ti:
    def __init__(self, try_number: int = 1, max_tries: int = 2) -> None:
        self.try_number, self.max_tries, self.pushed = try_number, max_tries, {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def _with_clients(op: Any, clients: Any) -> Any:
    op.clients = lambda *, check_mode=False: clients
    return op


def test_resolve_returns_the_current_account_and_fixes_the_clock(aws, clients) -> None:
    from iamflow.airflow.operators.sweep import SWEEP_TIME_KEY, ResolveSweepTargetsOperator

    ti = _Ti()
    targets = _with_clients(ResolveSweepTargetsOperator(task_id="r"), clients).execute({"ti": ti})
    assert targets == [{"account_id": "123456789012", "role_arn": None, "name": ""}]
    assert datetime.fromisoformat(ti.pushed[SWEEP_TIME_KEY]) <= datetime.now(UTC)
    json.dumps(targets)


def test_resolve_fails_when_the_organization_filter_matches_no_account(aws, clients, tmp_path: Path) -> None:
    import boto3
    from airflow.sdk.exceptions import AirflowFailException

    from iamflow.airflow.operators.sweep import SWEEP_TIME_KEY, ResolveSweepTargetsOperator

    org = boto3.client("organizations", region_name="us-east-1")
    org.create_organization(FeatureSet="ALL")
    org.create_account(Email="m@example.com", AccountName="member")
    targets = tmp_path / "targets.yaml"
    targets.write_text("role_name: R\norganization:\n  tags: {sweep: 'yes'}\n")
    ti = _Ti()
    op = _with_clients(ResolveSweepTargetsOperator(task_id="r", targets_path=str(targets)), clients)

    with pytest.raises(AirflowFailException, match=r"tags sweep=yes\) matches no active account"):
        op.execute({"ti": ti})
    assert SWEEP_TIME_KEY not in ti.pushed


def test_merge_after_a_failed_resolve_writes_an_error_report_and_fails(tmp_path: Path) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from iamflow.airflow.operators.sweep import MergeSweepReportsOperator
    from iamflow.compliance.report import FINDINGS_JSON, LATEST
    from iamflow.compliance.sweep import TARGETS_CHECK_ID

    merge = MergeSweepReportsOperator(task_id="m", results=None, targets=None, report_dir=str(tmp_path / "reports"),
                                      sweep_time=datetime.now(UTC).isoformat())
    with pytest.raises(AirflowFailException, match="no account was swept: the resolve_targets task failed"):
        merge.execute({"ti": _Ti(), "dag_run": SimpleNamespace(run_id="manual__x")})
    rows = json.loads((tmp_path / "reports" / LATEST / FINDINGS_JSON).read_text())
    assert [(r["check_id"], r["status"]) for r in rows] == [(TARGETS_CHECK_ID, "ERROR")]


def test_an_unreachable_account_raises_until_the_last_attempt(aws, clients, tmp_path: Path) -> None:
    from botocore.exceptions import ClientError

    from iamflow.airflow.operators.sweep import SweepAccountOperator
    from iamflow.compliance.findings import ERROR
    from tests.helpers.faults import error_response

    sts = clients.client("sts")
    sts.meta.events.register_first("before-send.sts.AssumeRole", lambda request, **_: error_response(
        request, sts, "AccessDenied", "not authorized to assume the role", 403))
    target = {"account_id": "444444444444", "role_arn": "arn:aws:iam::444444444444:role/IamflowAudit", "name": ""}
    op = _with_clients(SweepAccountOperator(task_id="s", target=target, retries=2,
                                            sweep_time=datetime.now(UTC).isoformat()), clients)

    with pytest.raises(ClientError, match="AccessDenied"):
        op.execute({"ti": _Ti(try_number=1)})
    result = op.execute({"ti": _Ti(try_number=3)})
    assert result["error"] and "AccessDenied" in result["error"]
    assert {f["status"] for f in result["findings"]} == {ERROR}
    assert {f["account_id"] for f in result["findings"]} == {"444444444444"}


def test_sweep_then_merge_writes_the_reports(aws, clients, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from iamflow.airflow.operators.sweep import MergeSweepReportsOperator, SweepAccountOperator
    from iamflow.compliance.report import FINDINGS_JSON, LATEST

    monkeypatch.setenv("IAMFLOW_PLAYBOOKS_DIR", str(tmp_path / "no-playbooks"))
    (tmp_path / "no-playbooks").mkdir()
    clients.client("iam").create_user(UserName="alice")
    clients.client("iam").create_login_profile(UserName="alice", Password="Correct-Horse-9")
    when = datetime.now(UTC)
    target = {"account_id": "123456789012", "role_arn": None, "name": ""}
    sweep = _with_clients(SweepAccountOperator(task_id="s", target=target, sweep_time=when.isoformat()), clients)
    one = sweep.execute({"ti": _Ti()})
    lost = {"account_id": "555555555555", "role_arn": "arn:aws:iam::555555555555:role/X", "name": ""}
    seen: list[dict[str, Any]] = []
    merge = MergeSweepReportsOperator(task_id="m", results=[one, None], targets=[target, lost],
                                      sweep_time=when.isoformat(), report_dir=str(tmp_path / "reports"),
                                      on_report=seen.append)

    summary = merge.execute({"ti": _Ti(), "dag_run": SimpleNamespace(run_id="manual__x")})

    findings = json.loads((tmp_path / "reports" / LATEST / FINDINGS_JSON).read_text())
    assert any(f["check_id"] == "iam_user_mfa_enabled_console_access" and f["status"] == "FAIL"
               and f["resource_arn"].endswith(":user/alice") for f in findings)
    assert {f["status"] for f in findings if f["account_id"] == "555555555555"} == {"ERROR"}
    assert summary["run_dir"] == str(tmp_path / "reports" / summary["run_id"])
    assert summary["unreachable"]["555555555555"].startswith("the sweep task of this account failed")
    assert seen == [summary] and json.loads(json.dumps(summary)) == summary
    assert summary["run_id"] == when.strftime("%Y%m%dT%H%M%SZ")
    assert timedelta(0) <= datetime.now(UTC) - when < timedelta(minutes=5)


# --- the posture task -------------------------------------------------------------------------------


def _two_runs(clients: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, Any], Path]:
    """Two real sweeps of moto through the sweep and merge operators; the second finds a new high FAIL (bob)."""
    from iamflow.airflow.operators.sweep import MergeSweepReportsOperator, SweepAccountOperator

    monkeypatch.setenv("IAMFLOW_PLAYBOOKS_DIR", str(tmp_path / "no-playbooks"))
    (tmp_path / "no-playbooks").mkdir()
    config = tmp_path / "sweep.yaml"
    config.write_text("checks:\n  enabled: [iam_user_mfa_enabled_console_access]\n")
    iam = clients.client("iam")
    target = {"account_id": "123456789012", "role_arn": None, "name": ""}
    summary: dict[str, Any] = {}
    for i, user in enumerate(("alice", "bob")):
        iam.create_user(UserName=user)
        iam.create_login_profile(UserName=user, Password="Correct-Horse-9")
        when = (datetime.now(UTC) + timedelta(minutes=i)).isoformat()
        sweep = _with_clients(SweepAccountOperator(task_id="s", target=target, sweep_time=when,
                                                   config_path=str(config)), clients)
        merge = MergeSweepReportsOperator(task_id="m", results=[sweep.execute({"ti": _Ti()})], targets=[target],
                                          sweep_time=when, report_dir=str(tmp_path / "reports"),
                                          config_path=str(config))
        summary = merge.execute({"ti": _Ti(), "dag_run": SimpleNamespace(run_id=f"manual__{i}")})
    return summary, config


def _posture_config(path: Path, on_new_fail: str, min_severity: str) -> str:
    path.write_text(path.read_text() + f"posture:\n  on_new_fail: {on_new_fail}\n  min_severity: {min_severity}\n")
    return str(path)


def test_posture_fails_the_run_on_a_new_high_failure(aws, clients, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from iamflow.airflow.operators.sweep import SweepPostureOperator

    summary, config = _two_runs(clients, tmp_path, monkeypatch)
    sent: list[Any] = []
    op = SweepPostureOperator(task_id="p", report=summary, config_path=_posture_config(config, "fail", "high"),
                              notifier=sent.append)
    with pytest.raises(AirflowFailException, match=r"1 new failing finding\(s\) of severity high\+ \(1 high\)") as caught:
        op.execute({"ti": _Ti()})
    assert "user/bob" in str(caught.value) and "user/alice" not in str(caught.value)  # alice is not new
    assert "Report: " in str(caught.value) and "report.html" in str(caught.value)
    assert sent == [], "the failure callback sends the failed run's message: the task sends none"


def test_posture_notifies_and_returns_the_counts(aws, clients, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from iamflow.airflow.operators.sweep import SweepPostureOperator

    summary, config = _two_runs(clients, tmp_path, monkeypatch)
    sent: list[Any] = []
    op = SweepPostureOperator(task_id="p", report=summary, config_path=_posture_config(config, "notify", "high"),
                              notifier=sent.append)
    result = op.execute({"ti": _Ti()})
    assert result["posture"]["action"] == "notify" and result["posture"]["breaching"] == 1
    assert result["new"] == 1 and result["new_by_severity"]["high"] == 1 and result["fixed"] == 0
    assert result["still_failing"] == 1 and result["fail_by_severity"]["high"] == 2
    assert result["run_id"] == summary["run_id"] and json.loads(json.dumps(result)) == result
    assert len(sent) == 1 and "user/bob" in sent[0].text and sent[0].subject.startswith("[iamflow] sweep ")
    assert f"Compliance sweep {summary['run_id']}: " in sent[0].text, "the run's totals are in the one message"
    assert sent[0].text.endswith(f"Report: {Path(summary['run_dir']) / 'report.html'}")


def test_posture_below_the_threshold_passes(aws, clients, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from iamflow.airflow.operators.sweep import SweepPostureOperator

    summary, config = _two_runs(clients, tmp_path, monkeypatch)
    sent: list[Any] = []
    op = SweepPostureOperator(task_id="p", report=summary, config_path=_posture_config(config, "fail", "critical"),
                              notifier=sent.append)
    assert op.execute({"ti": _Ti()})["posture"]["action"] == "pass" and sent == []


def test_posture_refuses_bad_settings_without_a_retry(tmp_path: Path) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from iamflow.airflow.operators.sweep import SweepPostureOperator

    config = tmp_path / "compliance.yaml"
    config.write_text("posture:\n  on_new_fail: maybe\n")
    op = SweepPostureOperator(task_id="p", report={"run_dir": str(tmp_path)}, config_path=str(config))
    with pytest.raises(AirflowFailException, match=r"posture\.on_new_fail: expected one of fail, notify, ignore"):
        op.execute({"ti": _Ti()})
