"""The last task of a playbook DAG: Ansible's PLAY RECAP over the resource tasks' results.

A resource's result is the return value of its task: the result itself for a per-resource task,
its entry in ``results`` for a batched task (``IamflowBatchOperator``); a failed task's result is
under the same keys, pushed before it failed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator, TriggerRule

from iamflow.airflow.compat import AirflowFailException
from iamflow.airflow.operators.base import PlaybookRecapLink
from iamflow.airflow.operators.converge import FAILED_RESULT_KEY, RetryLedger, task_outcome

if TYPE_CHECKING:
    from airflow.sdk import Context

    from iamflow.engine import ResourceResult

# Task states meaning "never ran because something upstream did not succeed".
_NOT_RUN_STATES = frozenset({"upstream_failed", "skipped", "removed", "none", "scheduled", "queued"})


class PlaybookRecapOperator(BaseOperator):
    """Gather every resource task's result, log the PLAY RECAP and fail the run if any resource failed.

    Runs whatever happened upstream (``trigger_rule="all_done"``). A resource task that left no
    result counts as ``failed`` when it failed itself and as ``skipped`` when it never ran (its
    upstream failed). The recap is logged, and its summary pushed to XCom, before the task fails.

    :param playbook_name: Name of the playbook, for the recap title. (templated)
    :param resource_task_ids: Resource key → task id, in the order the recap lists them (a plain
        list of task ids uses each task id as the key); several keys share a batched task's id.
    :param batched_task_ids: The batched tasks, whose retry ledgers the recap deletes (the run is over).
    """

    template_fields: Sequence[str] = ("playbook_name",)
    ui_color = "#d6e9f8"
    operator_extra_links = (PlaybookRecapLink(),)

    def __init__(
        self,
        *,
        playbook_name: str,
        resource_task_ids: Mapping[str, str] | Sequence[str],
        batched_task_ids: Sequence[str] = (),
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("trigger_rule", TriggerRule.ALL_DONE)
        kwargs.setdefault("retries", 0)
        super().__init__(**kwargs)
        self.playbook_name = playbook_name
        if isinstance(resource_task_ids, Mapping):
            self.resource_task_ids = dict(resource_task_ids)
        else:
            self.resource_task_ids = {t: t for t in resource_task_ids}
        self.batched_task_ids = list(batched_task_ids)

    def execute(self, context: Context) -> dict[str, Any]:
        from iamflow.engine import CHANGED, FAILED, OK, SKIPPED, ResourceResult, format_recap

        params = context.get("params") or {}
        check_mode = bool(params.get("check_mode", False))
        ti = context["ti"]
        states = self._task_states(context)

        results: list[ResourceResult] = []
        pulled: dict[str, Any] = {}
        for key, task_id in self.resource_task_ids.items():
            if task_id not in pulled:
                pulled[task_id] = (ti.xcom_pull(task_ids=task_id)
                                   or ti.xcom_pull(task_ids=task_id, key=FAILED_RESULT_KEY))
            data = pulled[task_id]
            if isinstance(data, dict) and isinstance(data.get("results"), dict):  # a batched task
                data = data["results"].get(key)
            if isinstance(data, dict):
                result = ResourceResult.from_dict({"resource": key, "status": FAILED, **data})
            else:
                state = str(states.get(task_id) or "unknown")
                status = SKIPPED if state in _NOT_RUN_STATES else FAILED
                result = ResourceResult(key, status, check_mode=check_mode,
                                        error=f"task {task_id} ended {state} without a result")
            results.append(result)

        recap = format_recap(self.playbook_name, results, check_mode=check_mode)
        self.log.info("\n%s", recap)
        problems = [r for r in results if r.status in (FAILED, SKIPPED) and r.error]
        for r in problems:
            self.log.warning("%s %s: %s", r.status, r.resource, r.error)

        counts = {OK: 0, CHANGED: 0, FAILED: 0, SKIPPED: 0}
        for r in results:
            counts[r.status] = counts.get(r.status, 0) + 1
        summary = {
            "playbook": self.playbook_name,
            "check_mode": check_mode,
            "counts": counts,
            "resources": {r.resource: r.status for r in results},
        }
        whole = task_outcome([r.to_dict() for r in results])
        summary.update(outcome=whole["outcome"], partial=whole["partial"], change_count=whole["change_count"])
        self._clear_ledgers(ti)
        failed = [r.resource for r in results if r.status == FAILED]
        if failed:
            # a failing task pushes no return value; the recap belongs in XCom all the same
            ti.xcom_push(key="return_value", value=summary)
            raise AirflowFailException(
                f"Playbook {self.playbook_name}: {len(failed)} resource(s) failed: {', '.join(failed)}"
            )
        return summary

    def _clear_ledgers(self, ti: Any) -> None:
        ledger = RetryLedger()
        for task_id in self.batched_task_ids:
            try:
                ledger.clear(ti.dag_id, ti.run_id, task_id)
            except Exception:  # a leftover ledger only costs a Variable; the recap matters more
                self.log.debug("could not delete the retry ledger of %s", task_id, exc_info=True)

    def _task_states(self, context: Context) -> dict[str, str]:
        """Final states of the resource tasks in this run (empty when they cannot be read)."""
        ti = context["ti"]
        try:
            found = ti.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id],
                                       task_ids=list(self.resource_task_ids.values()))
        except Exception:  # only a finer label (failed vs skipped) is lost
            self.log.debug("could not read the task states", exc_info=True)
            return {}
        per_run = found.get(ti.run_id, found) if isinstance(found, dict) else {}
        return {str(k): str(v) for k, v in per_run.items()} if isinstance(per_run, dict) else {}

