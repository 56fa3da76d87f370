"""Operators that converge one playbook resource, and the one that stands in for a broken playbook.

Importing this module is cheap on purpose (DAG files import it at parse time): the engine,
boto3 and the Amazon provider's hooks are imported inside ``execute`` only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from iamflow.airflow.compat import AirflowException, AirflowFailException
from iamflow.airflow.operators.base import IamflowBaseOperator, PlaybookRecapLink

if TYPE_CHECKING:
    from airflow.sdk import Context

    from iamflow.engine import ResourceResult
    from iamflow.spec.models import ResourceBase

# A failed resource task pushes its result under this key before failing, so the recap can show
# why it failed (a task that raises pushes no return value).
FAILED_RESULT_KEY = "iamflow_failed_result"


class IamflowResourceOperator(IamflowBaseOperator):
    """Converge one resource of a playbook to its declared state (or, in check mode, only plan it).

    The playbook is loaded and validated again at run time, so a task always applies what the
    file says now. The outcome is logged like an Ansible task (status, changes, diff) and returned
    as a small JSON-able dict (XCom) that the recap task reads.

    A ``failed`` result, a validation error and a permanent AWS error (access denied, malformed
    input) fail the task without retry. Throttling and other transient errors are re-raised as
    botocore raised them, so the task's ``retries`` apply; a retry re-reads and converges from
    wherever the failed attempt stopped.

    :param playbook_path: Path of the playbook file. (templated)
    :param resource_key: ``kind.name`` of the resource to converge. (templated)
    :param aws_conn_id: Airflow connection for AWS (extra ``endpoint_url`` for the embedded
        AWS); ``None`` uses the default boto3 credential chain. (templated)
    :param region_name: AWS region; the connection's region when not given.
    :param check_mode: Plan only, with clients that refuse every write call. ``None`` (the
        default) takes the DAG run's ``check_mode`` param.
    """

    template_fields: Sequence[str] = ("playbook_path", "resource_key", "aws_conn_id")
    ui_color = "#f9e6c8"
    operator_extra_links = (PlaybookRecapLink(),)

    def __init__(
        self,
        *,
        playbook_path: str,
        resource_key: str,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        check_mode: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(aws_conn_id=aws_conn_id, region_name=region_name, **kwargs)
        self.playbook_path = playbook_path
        self.resource_key = resource_key
        self.check_mode = check_mode

    def execute(self, context: Context) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        from iamflow.aws.errors import is_transient
        from iamflow.engine import FAILED, ResourceResult, format_result, result_of, run_resource
        from iamflow.errors import IamflowError
        from iamflow.spec.loader import load_playbook

        params = context.get("params") or {}
        check_mode = self.check_mode if self.check_mode is not None else bool(params.get("check_mode", False))
        diff = bool(params.get("diff", True))

        def fail(error: str) -> AirflowFailException:
            result = ResourceResult(self.resource_key, FAILED, check_mode=check_mode, error=error)
            self._push_failure(context, result)
            self.log.error("%s", format_result(result, diff=False))
            return AirflowFailException(f"{self.resource_key}: {error}")

        try:
            # the run's vars Param overrides values only (a var that shapes the DAG is refused)
            playbook = load_playbook(self.playbook_path, param_vars=params.get("vars") or None)
        except IamflowError as exc:
            raise fail(f"the playbook does not validate:\n{exc}") from exc
        if self.resource_key not in playbook.by_key():
            raise fail(f"the playbook {self.playbook_path} no longer declares this resource "
                       "(the DAG is refreshed at the next parse)")

        try:
            clients = self.clients(check_mode=check_mode)
            result = run_resource(clients, playbook, self.resource_key, check_mode=check_mode)
        except IamflowError as exc:
            raise fail(str(exc)) from exc
        except (ClientError, BotoCoreError) as exc:
            if is_transient(exc):
                carried = result_of(exc)  # what was applied before it: the recap shows it if no retry succeeds
                if carried is not None:
                    self.log.error("%s", format_result(carried, diff=False))
                    self._push_failure(context, carried)
                raise
            raise fail(f"{type(exc).__name__}: {exc}") from exc

        if result.status == FAILED:  # e.g. a plan that must not be applied (replacement required)
            self.log.error("%s", format_result(result, diff=diff))
            self._push_failure(context, result)
            raise AirflowFailException(f"{self.resource_key}: {result.error or 'failed'}")
        self.log.info("%s", format_result(result, diff=diff))
        data = result.to_dict()
        return {**task_outcome([data]), **data}  # the result's own partial flag wins

    def _push_failure(self, context: Context, result: ResourceResult) -> None:
        ti = context.get("ti")
        if ti is None:
            return
        try:
            data = result.to_dict()
            ti.xcom_push(key=FAILED_RESULT_KEY, value={**task_outcome([data]), **data})
        except Exception:  # the failure itself matters more than its record
            self.log.warning("could not record the failed result of %s", self.resource_key, exc_info=True)


class PlaybookInvalidOperator(BaseOperator):
    """Fail with the problems of a playbook that does not validate (the placeholder DAG's task).

    :param playbook_path: The playbook file.
    :param problems: Every problem found, one line each (file, resource, field and message).
    """

    template_fields: Sequence[str] = ()
    ui_color = "#f4c7c3"

    def __init__(self, *, playbook_path: str, problems: Sequence[str], **kwargs: Any) -> None:
        kwargs.setdefault("retries", 0)
        super().__init__(**kwargs)
        self.playbook_path = playbook_path
        self.problems = list(problems)

    def execute(self, context: Context) -> None:
        lines = "\n".join(f"  - {p}" for p in self.problems)
        self.log.error("Playbook %s does not validate; nothing was converged:\n%s", self.playbook_path, lines)
        raise AirflowFailException(
            f"Playbook {self.playbook_path} does not validate ({len(self.problems)} problem(s)):\n{lines}"
        )


def resource_doc_md(resource: ResourceBase, runs_after: Sequence[str], playbook_path: str) -> str:
    """Markdown describing a resource task: kind, name, state, references and ordering."""
    lines = [
        f"### `{resource.key}`",
        "",
        "| | |",
        "|---|---|",
        f"| kind | `{resource.kind}` |",
        f"| name | `{resource.name}` |",
        f"| state | `{resource.state}` |",
    ]
    path = getattr(resource, "path", None)
    if path and path != "/":
        lines.append(f"| path | `{path}` |")
    description = getattr(resource, "description", None)
    if description:
        lines.append(f"| description | {_cell(description)} |")
    refs = resource.references()
    if refs:
        lines.append("| references | " + "<br>".join(f"`{f}` → {'/'.join(k)} `{n}`" for f, n, k in refs) + " |")
    external = _external_refs(resource)
    if external:
        lines.append("| external | " + "<br>".join(f"`{f}` → `{arn}`" for f, arn in external) + " |")
    if runs_after:
        lines.append("| runs after | " + ", ".join(f"`{k}`" for k in sorted(runs_after)) + " |")
    if resource.waive:
        lines.append("| waivers | " + "<br>".join(f"`{w.rule}`: {_cell(w.reason)}" for w in resource.waive) + " |")
    lines += ["", f"Declared in `{playbook_path}`."]
    return "\n".join(lines)


def _external_refs(resource: ResourceBase) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for field_name in resource.reference_fields:
        value = getattr(resource, field_name, None)
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, str) and v.startswith("arn:"):
                out.append((field_name, v))
    return out


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# --- batched tasks (large playbooks) ---------------------------------------------------------------

OK_STATUSES = ("ok", "changed")
LEDGER_PREFIX = "iamflow_retry_"


def task_outcome(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """What a task did, readable without its log: ``outcome``, ``partial`` and the count of changes.

    ``outcome`` is ``failed`` when a resource failed, else ``changed`` when one changed, else
    ``ok`` (skipped resources only count in ``counts``). ``partial`` counts failed resources that
    had applied some of their changes first (the result's ``partial`` flag, when it has one), and
    ``change_count`` counts the changes made: a failed resource's applied ones only.
    """
    counts = {"ok": 0, "changed": 0, "failed": 0, "skipped": 0}
    for r in results:
        counts[str(r.get("status"))] = counts.get(str(r.get("status")), 0) + 1
    outcome = "failed" if counts["failed"] else "changed" if counts["changed"] else "ok"
    # a failed resource's ``changes`` are what it planned; only its ``applied`` ones happened
    changes = sum(len(r.get("changes") or []) for r in results if r.get("status") == "changed")
    changes += sum(len(r.get("applied") or []) for r in results if r.get("status") == "failed")
    partial = sum(1 for r in results if r.get("partial"))
    return {"outcome": outcome, "partial": partial, "change_count": changes, "counts": counts}


def results_table(results: Sequence[dict[str, Any]]) -> str:
    """The per-resource table a batched task logs: resource, status, changes made, seconds, error."""
    rows = [("resource", "status", "changes", "seconds", "error / first change")]
    for r in results:
        status = str(r.get("status")) + (" (partial)" if r.get("partial") else "")
        detail = r.get("error") or (r.get("changes") or [""])[0]
        made = r.get("applied") if r.get("status") == "failed" else r.get("changes")
        rows.append((str(r.get("resource")), status, str(len(made or [])),
                     f"{float(r.get('seconds') or 0):.2f}", str(detail).replace("\n", " ")[:120]))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths, strict=True)) + "  " + row[4]
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths) + "  " + "-" * 20)
    return "\n".join(lines)


class RetryLedger:
    """The results of a batched task's earlier tries, kept for its next try.

    Airflow clears a task instance's XComs when a new try starts (3.3: ``ti_run`` hands the keys
    to the worker, which deletes them before ``execute``), so the previous try's return value is
    gone by the time the retry could read it. The ledger keeps the results of the resources that
    succeeded in an Airflow Variable named after the DAG run and task (a hash: Variable keys are
    short), written only when a try fails, and deleted by the try that finishes and by the recap.
    Results hold no secret (the engine's contract for XCom), so a Variable may hold them.
    """

    def key(self, dag_id: str, run_id: str, task_id: str) -> str:
        import hashlib

        digest = hashlib.sha256(f"{dag_id}\0{run_id}\0{task_id}".encode()).hexdigest()[:24]
        return LEDGER_PREFIX + digest

    def load(self, dag_id: str, run_id: str, task_id: str) -> dict[str, dict[str, Any]]:
        from airflow.sdk import Variable

        value = Variable.get(self.key(dag_id, run_id, task_id), default=None, deserialize_json=True)
        return value if isinstance(value, dict) else {}

    def save(self, dag_id: str, run_id: str, task_id: str, results: dict[str, dict[str, Any]]) -> None:
        from airflow.sdk import Variable

        Variable.set(self.key(dag_id, run_id, task_id), results, serialize_json=True,
                     description=f"iamflow: results kept for the retry of {dag_id}.{task_id} ({run_id})")

    def clear(self, dag_id: str, run_id: str, task_id: str) -> None:
        from airflow.sdk import Variable

        try:
            Variable.delete(self.key(dag_id, run_id, task_id))
        except Exception:  # nothing kept: nothing to delete
            return


class IamflowBatchOperator(IamflowBaseOperator):
    """Converge a batch of a playbook's resources (one dependency level, or part of one) in one task.

    The engine's threads converge the batch (``workers`` at once). Runs whatever happened
    upstream (``all_done``): a resource whose dependency did not succeed in an earlier task is
    skipped, the others converge. Every resource's result is logged (a table, then each change),
    returned in XCom under ``results`` with the task's outcome (:func:`task_outcome`), and a failed
    task pushes the same summary before it fails.

    A retry converges only the resources that did not succeed: the try that fails keeps the
    others' results in the :class:`RetryLedger`, and the next try reuses them. The task fails
    without retry when only permanent errors remain (a blocked plan, access denied, a playbook
    that no longer validates); with a transient one (throttling that outlasted botocore's
    retries) it fails so that Airflow's ``retries`` apply.

    :param playbook_path: Path of the playbook file. (templated)
    :param resource_keys: The ``kind.name`` keys this task converges.
    :param after_task_ids: The batched tasks whose results this one's dependencies are in.
    :param workers: Resources converged at once (the engine's thread pool).
    :param check_mode: Plan only; ``None`` takes the DAG run's ``check_mode`` param.
    """

    template_fields: Sequence[str] = ("playbook_path", "aws_conn_id")
    ui_color = "#f3d9b1"
    operator_extra_links = (PlaybookRecapLink(),)

    def __init__(self, *, playbook_path: str, resource_keys: Sequence[str], after_task_ids: Sequence[str] = (),
                 workers: int | None = None, aws_conn_id: str | None = "aws_default",
                 region_name: str | None = None, check_mode: bool | None = None, **kwargs: Any) -> None:
        from airflow.sdk import TriggerRule

        kwargs.setdefault("trigger_rule", TriggerRule.ALL_DONE)
        super().__init__(aws_conn_id=aws_conn_id, region_name=region_name, **kwargs)
        self.playbook_path = playbook_path
        self.resource_keys = list(resource_keys)
        self.after_task_ids = list(after_task_ids)
        self.workers = workers
        self.check_mode = check_mode
        self.ledger = RetryLedger()

    def execute(self, context: Context) -> dict[str, Any]:
        from iamflow.engine import DEFAULT_WORKERS, FAILED, run_batch
        from iamflow.errors import IamflowError
        from iamflow.spec.loader import load_playbook

        params = context.get("params") or {}
        check_mode = self.check_mode if self.check_mode is not None else bool(params.get("check_mode", False))
        diff = bool(params.get("diff", True))
        ti = context["ti"]
        ids = (ti.dag_id, ti.run_id, self.task_id)
        kept = self.ledger.load(*ids) if int(getattr(ti, "try_number", 1) or 1) > 1 else {}
        kept = {k: v for k, v in kept.items() if k in self.resource_keys and v.get("status") in OK_STATUSES}
        todo = [k for k in self.resource_keys if k not in kept]
        if kept:
            self.log.info("retry: %d resource(s) succeeded in an earlier try and are not converged again; "
                          "converging %d", len(kept), len(todo))

        transient: list[str] = []
        try:
            playbook = load_playbook(self.playbook_path)
            declared = playbook.by_key()
            fresh = [self._missing(k, check_mode) for k in todo if k not in declared]
            clients = self.clients(check_mode=check_mode)
            run = run_batch(clients, playbook, [k for k in todo if k in declared], check_mode=check_mode,
                            workers=self.workers or DEFAULT_WORKERS, settled=self._settled(ti))
            fresh += [r.to_dict() for r in run.results]
            transient = run.transient
        except IamflowError as exc:  # the playbook no longer validates: every resource left fails
            fresh = [{"resource": k, "status": FAILED, "check_mode": check_mode, "changes": [],
                      "error": f"the playbook does not validate:\n{exc}"} for k in todo]
        by_key = {**kept, **{r["resource"]: r for r in fresh}}
        results = [by_key[k] for k in self.resource_keys if k in by_key]
        summary = {**task_outcome(results), "check_mode": check_mode,
                   "try_number": int(getattr(ti, "try_number", 1) or 1), "reused": sorted(kept),
                   "transient": transient, "results": {r["resource"]: r for r in results}}
        self._log(results, diff=diff)
        failed = [r["resource"] for r in results if r.get("status") == FAILED]
        if not failed:
            self.ledger.clear(*ids)
            return summary
        return self._fail(context, summary, failed, transient, ids)

    def _fail(self, context: Context, summary: dict[str, Any], failed: list[str], transient: list[str],
              ids: tuple[str, str, str]) -> dict[str, Any]:
        ti = context["ti"]
        ti.xcom_push(key="return_value", value=summary)  # a failing task pushes no return value itself
        succeeded = {k: r for k, r in summary["results"].items() if r.get("status") in OK_STATUSES}
        if transient:
            self.ledger.save(*ids, succeeded)
            raise AirflowException(
                f"{len(failed)} resource(s) failed, {len(transient)} of them on a transient AWS error "
                f"(a retry converges only the {len(failed)} that did not succeed): {', '.join(failed)}")
        self.ledger.clear(*ids)
        raise AirflowFailException(f"{len(failed)} resource(s) failed: {', '.join(failed)}")

    @staticmethod
    def _missing(key: str, check_mode: bool) -> dict[str, Any]:
        return {"resource": key, "status": "failed", "check_mode": check_mode, "changes": [],
                "error": "the playbook no longer declares this resource (the DAG is refreshed at the next parse)"}

    def _settled(self, ti: Any) -> dict[str, str]:
        """Status of every resource converged by the upstream batched tasks in this run."""
        settled: dict[str, str] = {}
        for task_id in self.after_task_ids:
            data = ti.xcom_pull(task_ids=task_id)
            if isinstance(data, dict) and isinstance(data.get("results"), dict):
                settled.update({k: str(v.get("status")) for k, v in data["results"].items()})
        return settled

    def _log(self, results: list[dict[str, Any]], *, diff: bool) -> None:
        from iamflow.engine import FAILED, ResourceResult, format_result

        self.log.info("%d resource(s):\n%s", len(results), results_table(results))
        for r in results:
            if r.get("status") == "ok":
                continue
            text = format_result(ResourceResult.from_dict(r), diff=diff)
            (self.log.error if r.get("status") == FAILED else self.log.info)("%s", text)
