"""Large playbooks: batched tasks per dependency level, per-resource results, retries of what failed.

DAG structure is checked on built DAGs (no AWS); the batch operator runs against in-process moto
with a stand-in task instance, and the fault injector makes one resource fail transiently.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from iamflow.airflow.dag_factory import RECAP_TASK_ID, build_playbook_dags, task_batches, uses_batches
from iamflow.airflow.operators.base import RECAP_PAGE_PATH, PlaybookRecapLink
from iamflow.airflow.operators.converge import IamflowBatchOperator, RetryLedger, results_table, task_outcome
from iamflow.airflow.operators.recap import PlaybookRecapOperator
from iamflow.aws.clients import AwsClients, CallLog
from iamflow.spec.loader import load_playbook
from tests.helpers.faults import fail_nth_write

TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                                 "Action": "sts:AssumeRole"}]}


def _doc(i: int) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                                                    "Resource": f"arn:aws:s3:::b-{i}/*"}]}


def playbook_doc(roles: int, policies: int, name: str = "big", **top: Any) -> dict[str, Any]:
    """``policies`` policies (level 0), ``roles`` roles attaching one each (level 1), a profile per 10 roles."""
    resources: list[dict[str, Any]] = [{"kind": "iam_managed_policy", "name": f"{name}-policy-{i}",
                                        "document": _doc(i)} for i in range(policies)]
    resources += [{"kind": "iam_role", "name": f"{name}-role-{i}", "trust_policy": TRUST,
                   "managed_policies": [f"{name}-policy-{i % policies}"]} for i in range(roles)]
    resources += [{"kind": "iam_instance_profile", "name": f"{name}-profile-{i}", "role": f"{name}-role-{i}"}
                  for i in range(0, roles, 10)]
    return {"name": name, **top, "resources": resources}


def write(directory: Path, doc: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{doc['name']}.yaml"
    path.write_text(json.dumps(doc))  # JSON is YAML, and has no anchors for the loader to refuse
    return path


def build(directory: Path) -> Any:
    dags = build_playbook_dags(directory)
    assert len(dags) == 1 and "invalid" not in next(iter(dags.values())).tags, dags
    return next(iter(dags.values()))


def test_a_small_playbook_keeps_one_task_per_resource(tmp_path: Path) -> None:
    write(tmp_path / "p", playbook_doc(roles=10, policies=3))
    dag = build(tmp_path / "p")
    assert len(dag.tasks) == 10 + 3 + 1 + 1
    assert "iam_role.big-role-4" in dag.task_ids
    assert dag.get_task("iam_role.big-role-4").upstream_task_ids == {"iam_managed_policy.big-policy-1"}


def test_past_the_threshold_resources_are_batched_by_dependency_level(tmp_path: Path) -> None:
    path = write(tmp_path / "p", playbook_doc(roles=60, policies=5, batch_size=25))
    dag = build(tmp_path / "p")
    assert uses_batches(load_playbook(path))
    assert sorted(dag.task_ids) == sorted(["level_0", "level_1_part_1", "level_1_part_2", "level_1_part_3",
                                           "level_2", RECAP_TASK_ID])
    sizes = {t.task_id: len(t.resource_keys) for t in dag.tasks if isinstance(t, IamflowBatchOperator)}
    assert sizes == {"level_0": 5, "level_1_part_1": 20, "level_1_part_2": 20, "level_1_part_3": 20, "level_2": 6}
    # a level runs after the batches that hold its dependencies, and the recap after everything
    assert dag.get_task("level_1_part_2").upstream_task_ids == {"level_0"}
    assert dag.get_task("level_2").upstream_task_ids == {"level_1_part_1", "level_1_part_2", "level_1_part_3"}
    assert dag.get_task("level_2").after_task_ids == ["level_1_part_1", "level_1_part_2", "level_1_part_3"]
    assert dag.get_task(RECAP_TASK_ID).upstream_task_ids == set(sizes)
    recap = dag.get_task(RECAP_TASK_ID)
    assert recap.resource_task_ids["iam_role.big-role-59"] == "level_1_part_3"
    assert sorted(recap.batched_task_ids) == sorted(sizes)
    every = [k for t in dag.tasks if isinstance(t, IamflowBatchOperator) for k in t.resource_keys]
    assert sorted(every) == sorted(r.key for r in load_playbook(path).resources), "each resource once"


@pytest.mark.parametrize(("top", "batched"), [
    ({}, False),  # 14 resources: under the default threshold
    ({"task_grouping": "batched"}, True),
    ({"task_grouping": "auto", "batch_threshold": 10}, True),
    ({"task_grouping": "per_resource"}, False),
])
def test_task_grouping_chooses(tmp_path: Path, top: dict[str, Any], batched: bool) -> None:
    path = write(tmp_path / "p", playbook_doc(roles=10, policies=3, **top))
    dag = build(tmp_path / "p")
    assert uses_batches(load_playbook(path)) is batched
    assert ("level_0" in dag.task_ids) is batched
    assert len(dag.tasks) == (4 if batched else 15)


def test_a_large_playbook_forced_per_resource_keeps_every_task(tmp_path: Path) -> None:
    write(tmp_path / "p", playbook_doc(roles=50, policies=5, task_grouping="per_resource"))
    assert len(build(tmp_path / "p").tasks) == 50 + 5 + 5 + 1


@pytest.mark.parametrize(("top", "field"), [
    ({"task_grouping": "per_resource", "batch_size": 10}, "batch_size"),
    ({"task_grouping": "batched", "batch_threshold": 10}, "batch_threshold"),
    ({"task_grouping": "sometimes"}, "task_grouping"),
    ({"batch_size": 0}, "batch_size"),
])
def test_bad_grouping_is_a_validation_error_naming_the_field(tmp_path: Path, top: dict[str, Any], field: str) -> None:
    from iamflow.spec.loader import check_playbook

    path = write(tmp_path / "p", playbook_doc(roles=1, policies=1, **top))
    errors = [str(p) for p in check_playbook(path).errors]
    assert errors and all(str(path) in e for e in errors) and any(f"field '{field}'" in e for e in errors), errors


def test_task_batches_split_a_level_evenly(tmp_path: Path) -> None:
    playbook = load_playbook(write(tmp_path / "p", playbook_doc(roles=101, policies=1, batch_size=50)))
    batches = task_batches(playbook)
    assert [len(batches[f"level_1_part_{m}"]) for m in (1, 2, 3)] == [34, 34, 33]


def test_outcome_and_table() -> None:
    results = [{"resource": "a", "status": "changed", "changes": ["create x", "tag x"], "seconds": 0.1},
               {"resource": "b", "status": "ok", "changes": []},
               {"resource": "c", "status": "failed", "changes": ["create c", "attach p to c"], "applied": ["create c"],
                "partial": True, "error": "AccessDenied"}]  # planned two changes, applied one
    assert task_outcome(results) == {"outcome": "failed", "partial": 1, "change_count": 3,
                                     "counts": {"ok": 1, "changed": 1, "failed": 1, "skipped": 0}}
    assert task_outcome(results[:2])["outcome"] == "changed" and task_outcome(results[1:2])["outcome"] == "ok"
    table = results_table(results).splitlines()
    assert table[0].split()[:4] == ["resource", "status", "changes", "seconds"]
    assert table[4].split()[:4] == ["c", "failed", "(partial)", "1"] and table[4].endswith("AccessDenied")


def test_the_recap_link_points_at_the_run_recap_page() -> None:
    from airflow.sdk.types import TaskInstanceKey

    from iamflow.airflow.ui.app import URL_PREFIX

    link = PlaybookRecapLink().get_link(None, ti_key=TaskInstanceKey("playbook_big", "level_0",  # type: ignore[arg-type]
                                                                     "manual__2026-01-01T00:00:00+00:00", 1))
    assert RECAP_PAGE_PATH == URL_PREFIX + "/recap"
    assert link == (f"{RECAP_PAGE_PATH}?dag_id=playbook_big&run_id=manual__2026-01-01T00%3A00%3A00%2B00%3A00"
                    "#task-level_0")


# --- the batch operator against moto ---------------------------------------------------------------


class FakeTI:
    """Just enough of a RuntimeTaskInstance: XComs of this run, a try number."""

    def __init__(self, xcoms: dict[tuple[str, str], Any] | None = None, try_number: int = 1) -> None:
        self.xcoms = dict(xcoms or {})
        self.dag_id, self.run_id, self.try_number = "playbook_big", "manual__1", try_number
        self.task_id = "level_0"

    def xcom_pull(self, task_ids: str, key: str = "return_value", **_: Any) -> Any:
        return self.xcoms.get((task_ids, key))

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[(self.task_id, key)] = value

    def get_task_states(self, **_: Any) -> dict[str, Any]:
        return {}


class MemoryLedger(RetryLedger):
    """The ledger's store in a dict: the Variable API needs a task runner; what is kept is the same."""

    def __init__(self) -> None:
        self.store: dict[str, Any] = {}

    def load(self, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
        return json.loads(self.store.get(self.key(dag_id, run_id, task_id), "{}"))

    def save(self, dag_id: str, run_id: str, task_id: str, results: dict[str, Any]) -> None:
        self.store[self.key(dag_id, run_id, task_id)] = json.dumps(results)

    def clear(self, dag_id: str, run_id: str, task_id: str) -> None:
        self.store.pop(self.key(dag_id, run_id, task_id), None)


def _operator(path: Path, task_id: str, keys: list[str], clients: AwsClients, ledger: MemoryLedger,
              after: list[str] | None = None) -> IamflowBatchOperator:
    op = IamflowBatchOperator(task_id=task_id, playbook_path=str(path), resource_keys=keys,
                              after_task_ids=after or [], workers=3)
    op.clients = lambda *, check_mode=False: clients.read_only() if check_mode else clients  # type: ignore[method-assign]
    op.ledger = ledger
    return op


@pytest.mark.usefixtures("aws", "no_retry_delay")
def test_a_retry_converges_only_the_resources_that_did_not_succeed(tmp_path: Path) -> None:
    path = write(tmp_path / "p", playbook_doc(roles=6, policies=4, name="rt"))
    policies = [f"iam_managed_policy.rt-policy-{i}" for i in range(4)]
    log = CallLog()
    clients = AwsClients.from_boto3(boto3.Session(region_name="us-east-1"), call_log=log)
    fault = fail_nth_write(clients, 2, "Throttling")  # every attempt of the 2nd write is throttled
    ledger = MemoryLedger()
    ti = FakeTI()
    with pytest.raises(AirflowException) as raised:
        _operator(path, "level_0", policies, clients, ledger).execute({"ti": ti, "params": {}})
    assert not isinstance(raised.value, AirflowFailException), "a transient failure leaves Airflow's retries on"
    first = ti.xcoms[("level_0", "return_value")]
    failed = [k for k, r in first["results"].items() if r["status"] == "failed"]
    assert len(failed) == 1 and first["transient"] == failed and first["outcome"] == "failed"
    assert first["counts"] == {"ok": 0, "changed": 3, "failed": 1, "skipped": 0}
    assert len(ledger.store) == 1, "the succeeded results are kept for the retry"

    fault.remove()
    log.reset()
    retry = FakeTI(try_number=2)
    summary = _operator(path, "level_0", policies, clients, ledger).execute({"ti": retry, "params": {}})
    assert summary["reused"] == sorted(set(policies) - set(failed))
    assert summary["counts"] == {"ok": 0, "changed": 4, "failed": 0, "skipped": 0}, "earlier changes still count"
    name = failed[0].split(".", 1)[1]
    touched = {c for c in log.calls if c != ("sts", "GetCallerIdentity")}
    assert touched and all(op in {"GetPolicy", "CreatePolicy", "ListPolicies", "GetPolicyVersion",
                                  "ListPolicyTags", "TagPolicy"} for _, op in touched), touched
    assert log.count(writes=True) == 1, "only the failed policy is converged again"
    local = boto3.client("iam", region_name="us-east-1").list_policies(Scope="Local")["Policies"]
    assert sorted(p["PolicyName"] for p in local) == sorted(k.split(".", 1)[1] for k in policies)
    assert name in {p["PolicyName"] for p in local}
    assert ledger.store == {}, "a try that succeeds deletes the ledger"


@pytest.mark.usefixtures("aws")
def test_a_later_level_skips_only_what_depends_on_a_failure(tmp_path: Path) -> None:
    path = write(tmp_path / "p", playbook_doc(roles=4, policies=2, name="sk"))
    clients = AwsClients.from_boto3(boto3.Session(region_name="us-east-1"))
    roles = [f"iam_role.sk-role-{i}" for i in range(4)]
    upstream = {"results": {"iam_managed_policy.sk-policy-0": {"status": "changed"},
                            "iam_managed_policy.sk-policy-1": {"status": "failed"}}}
    ti = FakeTI({("level_0", "return_value"): upstream})
    ti.task_id = "level_1"
    summary = _operator(path, "level_1", roles, clients, MemoryLedger(), after=["level_0"]).execute(
        {"ti": ti, "params": {"check_mode": True}})
    statuses = {k: r["status"] for k, r in summary["results"].items()}
    # roles 0 and 2 attach policy 0 (done), roles 1 and 3 attach policy 1 (failed upstream)
    assert statuses == {roles[0]: "changed", roles[1]: "skipped", roles[2]: "changed", roles[3]: "skipped"}
    assert "sk-policy-1 did not succeed" in summary["results"][roles[1]]["error"]
    assert summary["outcome"] == "changed", "a skipped resource fails nothing by itself: the recap reports it"


@pytest.mark.usefixtures("aws")
def test_check_mode_batch_and_the_recap_read_per_resource_results(tmp_path: Path) -> None:
    path = write(tmp_path / "p", playbook_doc(roles=3, policies=1, name="cm"))
    log = CallLog()
    clients = AwsClients.from_boto3(boto3.Session(region_name="us-east-1"), call_log=log)
    policy, roles = ["iam_managed_policy.cm-policy-0"], [f"iam_role.cm-role-{i}" for i in range(3)]
    ti = FakeTI()
    level0 = _operator(path, "level_0", policy, clients, MemoryLedger()).execute(
        {"ti": ti, "params": {"check_mode": True}})
    assert level0["outcome"] == "changed" and level0["change_count"] >= 1 and level0["check_mode"] is True
    ti.xcoms[("level_0", "return_value")] = level0
    ti.task_id = "level_1"
    level1 = _operator(path, "level_1", roles, clients, MemoryLedger(), after=["level_0"]).execute(
        {"ti": ti, "params": {"check_mode": True}})
    assert level1["counts"]["changed"] == 3, "a dependency planned in check mode counts as done"
    assert log.count(writes=True) == 0 and log.refused == []
    ti.xcoms[("level_1", "return_value")] = level1
    recap = PlaybookRecapOperator(task_id="recap", playbook_name="cm",
                                  resource_task_ids={**dict.fromkeys(policy, "level_0"),
                                                     **dict.fromkeys(roles, "level_1")})
    summary = recap.execute({"ti": ti, "params": {"check_mode": True}})
    assert summary["counts"] == {"ok": 0, "changed": 4, "failed": 0, "skipped": 0}
    assert summary["outcome"] == "changed"


@pytest.mark.usefixtures("aws", "no_retry_delay")
def test_a_garbled_answer_is_a_failure_a_retry_may_fix(tmp_path: Path) -> None:
    """moto's server answers some concurrent calls with a non-XML error page; AWS's endpoints can too."""
    from botocore.awsrequest import AWSResponse

    from iamflow.engine import run_batch
    from tests.helpers.faults import _answer, _RawBody

    path = write(tmp_path / "p", playbook_doc(roles=1, policies=2, name="gb"))
    clients = AwsClients.from_boto3(boto3.Session(region_name="us-east-1"))

    def garble(service: str, client: Any) -> None:
        def on_send(request: Any, **_: Any) -> Any:
            body = request.body or b""
            if "gb-policy-1" not in (body.decode() if isinstance(body, bytes) else str(body)):
                return None
            return _answer(request, AWSResponse(request.url, 200, {}, _RawBody(b"<html>oops")))

        client.meta.events.register_first("before-send.iam.GetPolicy", on_send)

    clients.add_client_hook(garble)
    run = run_batch(clients, load_playbook(path), ["iam_managed_policy.gb-policy-0", "iam_managed_policy.gb-policy-1"])
    assert {r.resource: r.status for r in run.results} == {"iam_managed_policy.gb-policy-0": "changed",
                                                          "iam_managed_policy.gb-policy-1": "failed"}
    assert run.transient == ["iam_managed_policy.gb-policy-1"]
