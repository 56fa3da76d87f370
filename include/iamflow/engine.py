"""The converge engine: one resource at a time (an Airflow task) or a whole playbook (the CLI).

read → plan (pure) → apply. In check mode the engine swaps in read-only clients, so a write is
refused by botocore before it is sent, whatever a handler tries.

Results are honest. A resource whose apply fails after some of its changes were made stays
``failed``, with ``partial: true``: its result lists the changes that were applied (``applied``)
and the step that failed (``failed_step``), the log prints both, and the recap counts it
(``failed=1 partial=1``). Nothing is rolled back: the next run reads what is there and converges
from it. A permanent failure (an ``IamflowError``) becomes the failed result; a transient one
(throttling, a 5xx) is re-raised as botocore raised it, so that a task's retries apply, carrying
its result (:func:`result_of`).

Concurrency: :func:`run_playbook` and :func:`run_batch` converge the resources of one dependency
level on a bounded thread pool (``workers``, :data:`DEFAULT_WORKERS` by default); a level starts
when the one before it is done. The threads share one set of clients (botocore clients are
thread-safe; their creation is serialised by :class:`~iamflow.aws.clients.AwsClients`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar, cast

from botocore.parsers import ResponseParserError
from pydantic import BaseModel

from iamflow.aws.clients import AwsClients
from iamflow.aws.errors import is_transient
from iamflow.context import RunContext
from iamflow.errors import IamflowError
from iamflow.resources import handler_for
from iamflow.resources.base import AnyHandler, Plan, PlanEnv
from iamflow.secrets.hygiene import protect_secret
from iamflow.spec.loader import dependencies, dependency_levels, waiver_notes
from iamflow.spec.models import Playbook, ResourceBase

log = logging.getLogger(__name__)

OK, CHANGED, FAILED, SKIPPED = "ok", "changed", "failed", "skipped"
DEFAULT_WORKERS = 4  # resources converged at once: IAM's request rate, not the machine, is the bound

T = TypeVar("T")


def fill_placeholders(value: T, ctx: RunContext) -> T:
    """Return ``value`` with ``${account_id}``, ``${partition}`` and ``${region}`` filled everywhere.

    Works on validated models (nested models, lists and maps included): every string field that
    holds a placeholder is filled, and only those fields are replaced, so what the playbook left
    out stays unmanaged. Values without a placeholder are returned as they are (the same object).
    """
    return cast(T, _fill(value, ctx))


def _fill(value: Any, ctx: RunContext) -> Any:
    if isinstance(value, str):
        if "${" not in value:
            return value
        filled = ctx.substitute(value)
        return value if filled == value else filled
    if isinstance(value, BaseModel):
        updates = {}
        for name in type(value).model_fields:
            old = getattr(value, name)
            new = _fill(old, ctx)
            if new is not old:
                updates[name] = new
        return value.model_copy(update=updates) if updates else value
    if isinstance(value, list):
        items = [_fill(v, ctx) for v in value]
        return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
    if isinstance(value, dict):
        pairs = [(_fill(k, ctx), _fill(v, ctx)) for k, v in value.items()]
        changed = any(k2 is not k or v2 is not v for (k2, v2), (k, v) in zip(pairs, value.items(), strict=True))
        return dict(pairs) if changed else value
    return value


def plan_env(ctx: RunContext, playbook: Playbook) -> PlanEnv:
    """The plan environment of a run: the playbook with its run-time placeholders filled for ``ctx``."""
    return PlanEnv(ctx, fill_placeholders(playbook, ctx))


def plan_resource(clients: AwsClients, env: PlanEnv, resource: ResourceBase) -> tuple[AnyHandler, Any, Plan]:
    """Read one (filled) resource, look up what its plan needs, and plan it; read calls only.

    The plan's diff leaves out the model fields the playbook does not manage.
    """
    handler = handler_for(resource.kind)
    current = handler.read(clients, resource, env)
    facts = handler.lookup(clients, resource, env, current)
    plan = handler.plan(resource, current, env, facts)
    plan.unmanaged = unmanaged_fields(resource)
    return handler, current, plan


# Fields that identify a resource: shown in every diff, whether the playbook spells them out or not.
_ALWAYS_SHOWN = frozenset({"kind", "name", "state"})


def unmanaged_fields(resource: ResourceBase) -> frozenset[str]:
    """The model fields ``resource`` leaves out (unmanaged), which its diff does not render."""
    return frozenset(f for f in type(resource).model_fields if f not in _ALWAYS_SHOWN and not resource.is_managed(f))


@dataclass
class ResourceResult:
    """What happened to one resource: JSON-able, never a secret (it goes to XCom)."""

    resource: str
    status: str
    check_mode: bool = False
    changes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    diff: str = ""
    error: str | None = None
    seconds: float = 0.0
    # a failure after some changes were made: those changes, and the step that failed
    partial: bool = False
    applied: list[str] = field(default_factory=list)
    failed_step: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ResourceResult:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def run_resource(clients: AwsClients, playbook: Playbook, key: str, *, check_mode: bool = False,
                 ctx: RunContext | None = None, env: PlanEnv | None = None) -> ResourceResult:
    """Converge one resource of a playbook (or, in check mode, only plan it).

    :param env: the run's plan environment (:func:`plan_env`), when several resources share it.
    """
    started = time.monotonic()
    if check_mode and not clients.check_mode:
        clients = clients.read_only()
    env = plan_env(ctx or clients.caller_context(), playbook) if env is None else env
    try:
        return _hide_env_values(_run_resource(clients, env, key, check_mode, started), playbook)
    except Exception as exc:
        carried = result_of(exc)
        if carried is not None:
            _hide_env_values(carried, playbook)
        raise


def _hide_env_values(result: ResourceResult, playbook: Playbook) -> ResourceResult:
    """Mask the values the playbook read from the environment (``${env:NAME}``) in what a result shows."""
    values = playbook.env_values
    if not values:
        return result
    for value in values.values():
        protect_secret(value)  # and in the logs, through every registered masker
    hide = playbook.hide_env_values
    result.diff = hide(result.diff)
    result.changes = [hide(c) for c in result.changes]
    result.notes = [hide(n) for n in result.notes]
    result.applied = [hide(c) for c in result.applied]
    result.failed_step = hide(result.failed_step) if result.failed_step else result.failed_step
    result.error = hide(result.error) if result.error else result.error
    return result


def _run_resource(clients: AwsClients, env: PlanEnv, key: str, check_mode: bool, started: float) -> ResourceResult:
    resource = env.playbook.by_key()[key]
    handler, _current, plan = plan_resource(clients, env, resource)
    plan.notes = waiver_notes(resource) + plan.notes
    result = ResourceResult(key, OK, check_mode=check_mode, changes=[c.summary for c in plan.changes],
                            notes=plan.notes, diff=plan.diff(hidden=env.playbook.env_values))
    if plan.blocked:
        result.status, result.error = FAILED, plan.blocked
    elif plan.changed:
        result.status = CHANGED
        if not check_mode:
            try:
                handler.apply(clients, plan)
            except Exception as exc:
                _record_failure(result, plan, exc)
                result.seconds = round(time.monotonic() - started, 3)
                if not isinstance(exc, IamflowError):
                    exc.iamflow_result = result  # type: ignore[attr-defined]
                    raise
                return result
    result.seconds = round(time.monotonic() - started, 3)
    return result


def _record_failure(result: ResourceResult, plan: Plan, exc: BaseException) -> None:
    """Turn a failed apply into the result: failed, with what was applied before it (partial)."""
    result.status = FAILED
    result.error = str(exc) if isinstance(exc, IamflowError) else f"{type(exc).__name__}: {exc}"
    result.applied = list(plan.applied)
    result.failed_step = plan.failed_step
    result.partial = bool(plan.applied)
    result.notes = list(plan.notes)
    if result.partial:
        log.error("%s failed after %d of its changes were applied: applied: %s; failed: %s",
                  result.resource, len(plan.applied), "; ".join(plan.applied), plan.failed_step)


def result_of(exc: BaseException) -> ResourceResult | None:
    """The (failed, possibly partial) result a transient error re-raised by :func:`run_resource` carries."""
    found = getattr(exc, "iamflow_result", None)
    return found if isinstance(found, ResourceResult) else None


@dataclass
class PlayResult:
    """The results of a whole playbook run, in dependency order."""

    playbook: str
    check_mode: bool
    results: list[ResourceResult]

    def counts(self) -> dict[str, int]:
        out = {OK: 0, CHANGED: 0, FAILED: 0, SKIPPED: 0}
        for r in self.results:
            out[r.status] = out.get(r.status, 0) + 1
        return out

    @property
    def partial(self) -> int:
        """How many resources failed after some of their changes were applied."""
        return sum(1 for r in self.results if r.partial)

    @property
    def failed(self) -> bool:
        return any(r.status == FAILED for r in self.results)

    @property
    def changed(self) -> bool:
        return any(r.status == CHANGED for r in self.results)


def run_playbook(clients: AwsClients, playbook: Playbook, *, check_mode: bool = False,
                 workers: int = DEFAULT_WORKERS,
                 on_result: Callable[[ResourceResult], None] | None = None) -> PlayResult:
    """Converge a whole playbook: levels in dependency order, each level's resources in parallel.

    A resource whose dependency failed is skipped, as a task would be upstream_failed in Airflow.
    """
    every = [key for level in dependency_levels(playbook) for key in level]
    run = run_batch(clients, playbook, every, check_mode=check_mode, workers=workers, on_result=on_result)
    return PlayResult(playbook.name, check_mode, run.results)


@dataclass
class BatchRun:
    """The results of :func:`run_batch`, in its order, and which failures a retry may fix."""

    results: list[ResourceResult]
    transient: list[str] = field(default_factory=list)  # keys that failed on a transient AWS error


def run_batch(clients: AwsClients, playbook: Playbook, keys: list[str], *, check_mode: bool = False,
              workers: int = DEFAULT_WORKERS, settled: dict[str, str] | None = None,
              on_result: Callable[[ResourceResult], None] | None = None) -> BatchRun:
    """Converge some resources of a playbook (an Airflow batch task) with the engine's threads.

    ``keys`` run level by level in dependency order. A dependency outside the batch counts as
    done when ``settled`` (key → status, from the tasks before this one) says ``ok`` or
    ``changed``; otherwise the resource is skipped, as :func:`run_playbook` skips it. A failure
    is recorded per resource and never stops the others; the transient ones (throttling that
    outlasted botocore's retries, a dropped connection) are listed so the caller can retry them.
    """
    if check_mode and not clients.check_mode:
        clients = clients.read_only()
    env = plan_env(clients.caller_context(), playbook)
    deps = dependencies(playbook)
    wanted = set(keys)
    done: dict[str, str] = dict(settled or {})
    transient: list[str] = []
    lock = threading.Lock()

    def one(key: str) -> ResourceResult:
        missing = [d for d in sorted(deps[key]) if done.get(d) not in (OK, CHANGED)]
        if missing:
            return ResourceResult(key, SKIPPED, check_mode=check_mode,
                                  error=f"skipped: {', '.join(missing)} did not succeed")
        try:
            return run_resource(clients, playbook, key, check_mode=check_mode, env=env)
        except IamflowError as exc:
            return ResourceResult(key, FAILED, check_mode=check_mode, error=str(exc))
        except Exception as exc:
            # a garbled answer is the endpoint's failure too; a task retry re-reads before it writes
            if is_transient(exc) or isinstance(exc, ResponseParserError):
                with lock:
                    transient.append(key)
            else:
                log.exception("unexpected error on %s", key)
            found = result_of(exc)  # a partial result: the changes applied before the failure
            if found is not None:
                return found
            return ResourceResult(key, FAILED, check_mode=check_mode, error=f"{type(exc).__name__}: {exc}")

    ordered: list[ResourceResult] = []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for level in dependency_levels(playbook):
            for result in pool.map(one, [k for k in level if k in wanted]):
                done[result.resource] = result.status
                ordered.append(result)
                if on_result:
                    on_result(result)
    return BatchRun(ordered, sorted(transient))


def format_result(result: ResourceResult, *, diff: bool = False) -> str:
    """One resource's outcome as Ansible prints a task: status line, changes, notes, diff.

    A partial failure lists the changes that were applied and the step that failed, instead of
    the planned changes.
    """
    mode = " (check mode)" if result.check_mode else ""
    partial = f" (partial: {len(result.applied)} change(s) applied)" if result.partial else ""
    lines = [f"{result.status}: [{result.resource}]{mode}{partial}"]
    if result.status == FAILED and (result.applied or result.failed_step):
        lines += [f"    applied: {c}" for c in result.applied]
        if result.failed_step:
            lines.append(f"    failed: {result.failed_step}")
    else:
        lines += [f"    - {c}" for c in result.changes]
    lines += [f"    note: {n}" for n in result.notes]
    if result.error:
        lines.append(f"    error: {result.error}")
    if diff and result.diff:
        lines += ["    " + line for line in result.diff.rstrip("\n").splitlines()]
    return "\n".join(lines)


def format_recap(name: str, results: list[ResourceResult], *, check_mode: bool = False) -> str:
    """The PLAY RECAP: one line per resource and the totals, like Ansible's.

    When a resource failed after some of its changes were applied, every line also counts
    ``partial``, beside ``failed`` (``failed=1 partial=1``): the failure left changes behind.
    """
    from iamflow.resources.expectations import is_held

    title = f"PLAY RECAP [{name}]" + (" (check mode)" if check_mode else "")
    width = max([len(r.resource) for r in results] + [20])
    lines = [title + " " + "*" * max(3, 72 - len(title))]
    counts = {OK: 0, CHANGED: 0, FAILED: 0, SKIPPED: 0}
    show_partial = any(r.partial for r in results)
    partial_total = 0
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
        partial_total += int(r.partial)
        flags = {k: int(r.status == k) for k in (OK, CHANGED, FAILED, SKIPPED)}
        line = f"{r.resource:<{width}} : " + _counts_text(flags, int(r.partial) if show_partial else None)
        proven = [held for held in map(is_held, r.notes) if held is not None]
        if proven:
            line += f"  expect={sum(proven)}/{len(proven)}"
        lines.append(line)
    lines.append(f"{'TOTAL':<{width}} : " + _counts_text(counts, partial_total if show_partial else None))
    return "\n".join(lines)


def _counts_text(counts: dict[str, int], partial: int | None) -> str:
    parts = [f"{k}={v}" for k, v in counts.items()]
    if partial is not None:  # a qualifier of failed, written next to it
        at = list(counts).index(FAILED)
        parts[at] += f" partial={partial}"
    return "  ".join(parts)
