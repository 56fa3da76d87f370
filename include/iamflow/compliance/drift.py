"""The drift provider: every playbook resource that targets an account, read and planned in check mode.

The sweep's ``iamflow_playbook_drift`` check (``checks/drift.py``) turns what this module yields
into findings. For each playbook found by :func:`~iamflow.spec.loader.discover_playbooks`
(``$IAMFLOW_PLAYBOOKS_DIR`` or ``include/playbooks``) whose ``accounts`` list is empty or names the
swept account, each resource goes through the converge engine's own read and pure plan, exactly
as ``iamflow plan`` would do it, and becomes one :class:`~iamflow.compliance.snapshot.DriftItem`:

- ``in_sync``: the plan has no change (PASS);
- ``missing``: a ``present`` resource does not exist (FAIL);
- ``differs``: the plan has changes (their one-line summaries become the message) or is blocked;
- ``error``: the playbook file does not validate (the item names the file and its problems), or
  reading one resource failed (the item names the resource and the call).

Only read-only clients are used (``clients.read_only()``): a handler that tried to write would
be refused by botocore before the request is built, and the refusal is reported as an ``error``
item. A drift sweep therefore never changes the account.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from iamflow.compliance.snapshot import DriftItem

if TYPE_CHECKING:
    from iamflow.aws.clients import AwsClients
    from iamflow.compliance.snapshot import Snapshot
    from iamflow.context import RunContext
    from iamflow.resources.base import PlanEnv
    from iamflow.spec.models import Playbook, ResourceBase

IN_SYNC, MISSING, DIFFERS, ERROR = "in_sync", "missing", "differs", "error"
# a DriftItem's kind when the item is about a playbook file rather than one of its resources
PLAYBOOK_KIND = "playbook"
# how many change summaries one item's message lists before "and N more"
MAX_CHANGES_LISTED = 5


@dataclass(frozen=True)
class LoadedPlaybook:
    """One playbook file: the playbook, or the errors that kept it from loading."""

    path: Path
    playbook: Playbook | None
    errors: tuple[str, ...] = ()

    def targets(self, account_id: str) -> bool:
        """Whether the playbook declares resources for ``account_id`` (an empty list means every account)."""
        return self.playbook is not None and (not self.playbook.accounts or account_id in self.playbook.accounts)


def load_playbooks(paths: Sequence[str | Path] | None = None, directory: str | Path | None = None) -> list[LoadedPlaybook]:
    """Validate the playbook files (every file below ``directory`` when ``paths`` is None); never raises."""
    from iamflow.spec.loader import check_playbook, discover_playbooks

    files = [Path(p) for p in paths] if paths is not None else discover_playbooks(
        Path(directory) if directory is not None else None)
    out = []
    for path in files:
        try:
            result = check_playbook(path)
        except Exception as exc:  # the loader never raises on bad input; a bug in it is still one file's problem
            out.append(LoadedPlaybook(path, None, (f"{path}: could not be checked: {type(exc).__name__}: {exc}",)))
            continue
        if result.errors or result.playbook is None:
            problems = tuple(str(p) for p in result.errors) or (f"{path}: could not be loaded",)
            out.append(LoadedPlaybook(path, None, problems))
        else:
            out.append(LoadedPlaybook(path, result.playbook))
    return out


class PlaybookDriftProvider:
    """A drift provider for ``collect_account`` / ``sweep_target``: ``provider(clients, snapshot)``.

    Playbooks are validated once, on first use, and shared by every account of a sweep (the
    provider is safe to call from several threads).

    :param paths: playbook files to compare; every file below ``directory`` when None.
    :param directory: where to discover playbooks (``$IAMFLOW_PLAYBOOKS_DIR`` or
        ``include/playbooks`` when None).
    """

    def __init__(self, paths: Sequence[str | Path] | None = None, directory: str | Path | None = None) -> None:
        self.paths = list(paths) if paths is not None else None
        self.directory = directory
        self._loaded: list[LoadedPlaybook] | None = None
        self._lock = threading.Lock()

    def playbooks(self) -> list[LoadedPlaybook]:
        """The validated playbook files (loaded on first call)."""
        with self._lock:
            if self._loaded is None:
                self._loaded = load_playbooks(self.paths, self.directory)
            return self._loaded

    def __call__(self, clients: AwsClients, snapshot: Snapshot) -> Iterator[DriftItem]:
        return drift_items(clients, snapshot, self.playbooks())

    def __repr__(self) -> str:
        where = f"{len(self.paths)} file(s)" if self.paths is not None else str(self.directory or "the playbooks folder")
        return f"PlaybookDriftProvider({where})"


def drift_items(clients: AwsClients, snapshot: Snapshot, playbooks: Sequence[LoadedPlaybook]) -> Iterator[DriftItem]:
    """One item per resource of each playbook targeting the snapshot's account, one per broken playbook file."""
    from iamflow.context import RunContext
    from iamflow.engine import plan_env
    from iamflow.spec.ownership import conflicted_keys

    reader = clients.read_only()
    ctx: RunContext | None = None
    # an object two of these playbooks declare is reported as a conflict, never compared: comparing it
    # against either declaration would only flap between them
    conflicts = conflicted_keys([lp.playbook for lp in playbooks
                                 if lp.playbook is not None and lp.targets(snapshot.account_id)])
    for loaded in playbooks:
        if loaded.playbook is None:
            yield DriftItem(PLAYBOOK_KIND, loaded.path.name, snapshot.root_arn, ERROR,
                            "the playbook does not validate: " + "; ".join(loaded.errors), display_path(loaded.path))
            continue
        if not loaded.targets(snapshot.account_id):
            continue
        if ctx is None:
            # the snapshot knows the account; the region is that of the regional collection steps
            ctx = RunContext(snapshot.account_id, snapshot.partition, snapshot.region)
        env = plan_env(ctx, loaded.playbook)
        mine = conflicts.get(loaded.playbook.source, {})
        for resource in env.playbook.resources:
            conflict = mine.get(resource.key)
            if conflict is not None:
                source = display_path(loaded.playbook.source)
                yield DriftItem(resource.kind, resource.name, handler_arn(env, resource), ERROR,
                                f"not compared: {conflict.message_for(loaded.playbook.source)}", source)
                continue
            yield compare_resource(reader, env, resource)


def handler_arn(env: PlanEnv, resource: ResourceBase) -> str:
    """The resource's ARN as its handler names it before anything is read."""
    from iamflow.resources import handler_for

    return handler_for(resource.kind).arn(resource, env, None)


def compare_resource(clients: AwsClients, env: PlanEnv, resource: ResourceBase) -> DriftItem:
    """Read one (filled) resource with ``clients`` (read-only) and plan it; a failed read is an ``error`` item."""
    from iamflow.compliance.collect import describe_error
    from iamflow.engine import plan_resource
    from iamflow.resources import handler_for

    playbook = env.playbook
    source = display_path(playbook.source) if playbook.source else playbook.name
    handler = handler_for(resource.kind)
    try:
        _handler, current, plan = plan_resource(clients, env, resource)
    except Exception as exc:  # one resource's failure is its own ERROR, never the whole step's
        return DriftItem(resource.kind, resource.name, handler.arn(resource, env, None), ERROR,
                         f"could not compare: {describe_error(exc)}", source)
    arn = handler.arn(resource, env, current)
    if resource.state == "present" and not handler.exists(current):
        return DriftItem(resource.kind, resource.name, arn, MISSING, "", source)
    expectations = live_expectations(clients, env, resource, current)
    changes = [c.summary for c in plan.changes]
    if plan.blocked:
        changes.insert(0, plan.blocked)
    if not changes:
        return DriftItem(resource.kind, resource.name, arn, IN_SYNC, "", source, expectations)
    listed = changes[:MAX_CHANGES_LISTED]
    more = len(changes) - len(listed)
    summary = "; ".join(listed) + (f"; and {more} more" if more else "")
    return DriftItem(resource.kind, resource.name, arn, DIFFERS, summary, source, expectations)


def live_expectations(clients: AwsClients, env: PlanEnv, resource: ResourceBase,
                      current: object) -> tuple[tuple[str, bool, str], ...]:
    """A role's (managed policy's, user's, group's) ``expect:`` entries answered against the live account."""
    expect = getattr(resource, "expect", None)
    if expect is None or resource.state != "present" or current is None:
        return ()
    from iamflow.resources.expectations import policy_expectations
    from iamflow.resources.iam_role import live_expectations as role_expectations

    if resource.kind == "iam_role":
        results = role_expectations(clients, resource, env, current)  # type: ignore[arg-type]
    elif resource.kind == "iam_managed_policy":
        results = policy_expectations(expect, resource.name, current["document"], env)  # type: ignore[index]
    elif resource.kind in ("iam_user", "iam_group"):
        from iamflow.resources import iam_group, iam_user

        module = iam_user if resource.kind == "iam_user" else iam_group
        results = module.live_expectations(clients, resource, env, current)
    else:
        return ()
    return tuple((r.where, r.holds, r.line()) for r in results)


def display_path(path: str | Path) -> str:
    """A playbook file as findings name it: relative to the project when it lives there."""
    from iamflow.settings import project_root

    try:
        return Path(path).resolve().relative_to(project_root()).as_posix()
    except ValueError:
        return str(path)
