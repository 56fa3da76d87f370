"""The compliance sweep on a distributed Airflow: CeleryExecutor, PostgreSQL, Redis and two Celery workers.

One test, two DAG runs (xdist must not split them over two clusters):

1. ``compliance_sweep`` over an Organization of 20 member accounts plus the management account,
   each member reached by assume-role with the ExternalId: the run succeeds, the merged report
   holds every account's findings (and the seeded problems only in the accounts seeded with them),
   every member was entered with the ExternalId, and the mapped ``sweep_account`` tasks ran on
   both workers.
2. The same sweep again, and once ``worker-b`` is running one of its mapped tasks, that worker is
   SIGKILLed with its whole process group. The run still succeeds with a complete report: the lost
   tasks stop heart-beating, the scheduler fails them and Airflow retries them on ``worker-a``.

The cluster is built by ``conftest.py`` (see there for what runs where).
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # the fixtures' types, from this folder's conftest.py
    from conftest import AirflowCluster, Organization

pytestmark = [pytest.mark.distributed, pytest.mark.slow]

SWEEP_TASK = "sweep_account"
RUN_TIMEOUT = 240  # seconds; a run takes about a minute on 2 cores
KILL_RUN_TIMEOUT = 300  # the lost tasks wait for the heartbeat timeout and the 30 s retry delay


def _findings(cluster: AirflowCluster, run_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    summary = cluster.merge_summary(run_id)
    path = Path(summary["run_dir"]) / "findings.json"
    assert path.parent.parent == cluster.report_dir, summary
    return summary, json.loads(path.read_text(encoding="utf-8"))


def _explain(cluster: AirflowCluster, run_id: str) -> str:
    rows = "\n".join(f"  {t['task_id']}[{t['map_index']}] {t['state']} on {t['hostname']} try {t['try_number']}"
                     for t in cluster.task_instances(run_id))
    return f"run {run_id} is {cluster.run_state(run_id)}; task instances:\n{rows}\n{cluster.diagnostics()}"


def _assert_complete_report(cluster: AirflowCluster, run_id: str, org: Organization) -> None:
    summary, findings = _findings(cluster, run_id)
    by_account: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for f in findings:
        by_account[f["account_id"]].append(f)
    assert set(by_account) == org.accounts, (sorted(set(by_account) ^ org.accounts), summary["accounts"])
    assert not summary["unreachable"], summary["unreachable"]
    unreachable = [f for f in findings if f["status"] == "ERROR" and "not reachable" in f.get("message", "")]
    assert not unreachable, unreachable[:3]
    checks_per_account = {a: len({f["check_id"] for f in fs}) for a, fs in by_account.items()}
    assert min(checks_per_account.values()) >= 10, checks_per_account
    # findings differ per account: each seeded problem fails where it was seeded and nowhere else
    seeded = {pair for pairs in org.seeded.values() for pair in pairs}
    for account, account_findings in by_account.items():
        failing = {(f["check_id"], f.get("resource_id")) for f in account_findings if f["status"] == "FAIL"}
        assert failing & seeded == org.seeded.get(account, set()), (account, failing & seeded)
        arns = {f["resource_arn"] for f in account_findings if f.get("resource_arn")}
        assert all(f":{account}:" in arn or arn.endswith(f"::{account}") for arn in arns if ":iam::" in arn), \
            (account, sorted(arns)[:5])


def _sweep_tasks(cluster: AirflowCluster, run_id: str) -> list[dict[str, Any]]:
    return [t for t in cluster.task_instances(run_id) if t["task_id"] == SWEEP_TASK]


def test_the_sweep_spreads_over_two_celery_workers_and_survives_losing_one(
        airflow_cluster: AirflowCluster, organization: Organization) -> None:
    cluster, org = airflow_cluster, organization
    assert len(org.members) >= 20
    timings: dict[str, float] = {}

    # --- 1. a whole sweep, spread over both workers --------------------------------------------
    run1 = "distributed-sweep-1"
    start = time.monotonic()
    cluster.trigger(run1)
    assert cluster.wait_for_run(run1, RUN_TIMEOUT) == "success", _explain(cluster, run1)
    timings["run 1"] = time.monotonic() - start
    _assert_complete_report(cluster, run1, org)
    tasks = _sweep_tasks(cluster, run1)
    assert len(tasks) == len(org.accounts), _explain(cluster, run1)
    assert {t["state"] for t in tasks} == {"success"}, _explain(cluster, run1)
    hosts = {t["hostname"] for t in tasks}
    assert hosts == set(cluster.workers), f"mapped tasks ran on {hosts}, not on both workers\n{_explain(cluster, run1)}"
    for account in org.members:  # every member was entered through assume-role, with the ExternalId
        ids = org.assumed_external_ids(account)
        assert ids and set(ids) == {org.external_id}, (account, ids)
    assert not org.assumed_external_ids(org.management_account)  # the management account needs no role

    # --- 2. SIGKILL worker-b while it runs a mapped task: the run still completes ----------------
    run2 = "distributed-sweep-2"
    victim, survivor = cluster.services[cluster.workers[1]], cluster.workers[0]
    start = time.monotonic()
    cluster.trigger(run2)

    def victim_busy() -> bool:
        return any(t["state"] == "running" and t["hostname"] == victim.name for t in _sweep_tasks(cluster, run2))

    cluster.wait(f"a mapped task of {run2} running on {victim.name}", victim_busy, 120)
    victim.kill()
    cluster.killed.add(victim.name)
    timings["run 2 until the kill"] = time.monotonic() - start
    cluster.wait(f"{victim.name}'s process group gone", lambda: not victim.group_alive(), 30, interval=0.2)
    assert not cluster.processes_of(victim.name), f"{victim.name}'s processes survived its SIGKILL"
    # what it was running when it died (read after the kill: nothing of it can report any more)
    lost = {t["map_index"] for t in _sweep_tasks(cluster, run2)
            if t["state"] == "running" and t["hostname"] == victim.name}
    assert lost, f"no task was running on {victim.name} when it was killed\n{_explain(cluster, run2)}"

    assert cluster.wait_for_run(run2, KILL_RUN_TIMEOUT) == "success", _explain(cluster, run2)
    timings["run 2"] = time.monotonic() - start
    _assert_complete_report(cluster, run2, org)
    tasks = {t["map_index"]: t for t in _sweep_tasks(cluster, run2)}
    assert len(tasks) == len(org.accounts) and {t["state"] for t in tasks.values()} == {"success"}
    history = cluster.attempts(run2)
    for index in lost:  # each lost task was retried, and finished on the surviving worker
        assert tasks[index]["try_number"] >= 2 and tasks[index]["hostname"] == survivor, \
            (index, tasks[index], _explain(cluster, run2))
        assert any(h["map_index"] == index and h["hostname"] == victim.name and h["try_number"] == 1
                   for h in history if h["task_id"] == SWEEP_TASK), (index, history)
    print("\ndistributed sweep timings: " + ", ".join(f"{k} {v:.0f}s" for k, v in timings.items())
          + f"; {len(lost)} task(s) lost with {victim.name} and retried on {survivor}")
    (cluster.logs / "timings.json").write_text(json.dumps(timings), encoding="utf-8")

