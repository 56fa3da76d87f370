"""Governed approval: who may approve a workflow's plan, and the append-only record of every decision.

The rules, for every approval step (``onboard_team``, ``offboard_team``, ``remediate_credentials``):

- **Approvers come from configuration**, ``include/approvals.yaml`` (``$IAMFLOW_APPROVALS_CONFIG``),
  per workflow: ``users`` (Airflow user names; under the simple auth manager of the demo, its
  users) and ``roles`` (an auth manager with roles, such as FAB, names them; a role listed here
  is accepted when the responder's roles are known, and the auth manager's own permissions decide
  who may answer at all). A workflow the file does not name has no approver: every answer is refused.
- **The person who triggered the run cannot approve it**, whatever the lists say.
- **Every decision is recorded**: who, when, the plan's hash, the workflow and run, and the
  outcome (``approve``, ``reject``, or ``refused`` with the reason), as one JSON line appended to
  ``<report folder>/audit/approvals.jsonl``. The file is opened with ``O_APPEND`` and written in
  one ``write`` per record under an exclusive lock, so concurrent writers never interleave; nothing
  in iamflow rewrites or truncates it.

Pure of Airflow and AWS: the Airflow layer passes in the responder and the run's triggering user.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from iamflow.errors import IamflowError
from iamflow.settings import approvals_config_path, audit_file

APPROVE, REJECT, REFUSED = "approve", "reject", "refused"
DECISIONS = (APPROVE, REJECT, REFUSED)
WORKFLOWS = ("onboard_team", "offboard_team", "remediate_credentials")
_KEYS = {"users", "roles"}


class ApprovalConfigError(IamflowError):
    """``approvals.yaml`` is malformed; the message names the file and the key."""


@dataclass(frozen=True)
class Approvers:
    """Who may approve one workflow."""

    users: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ApprovalConfig:
    """Approvers per workflow (a workflow missing here has none)."""

    workflows: dict[str, Approvers] = field(default_factory=dict)
    source: str = "<defaults>"

    @classmethod
    def load(cls, path: str | Path | None = None) -> ApprovalConfig:
        """Read ``approvals.yaml`` (``path``, else the configured file); a missing file means no approver."""
        file = Path(path) if path is not None else approvals_config_path()
        if not file.exists():
            return cls(source=str(file))
        from iamflow.spec.source import SourceError, load_yaml, read_text

        try:
            data, _positions = load_yaml(read_text(file))
        except SourceError as exc:
            raise ApprovalConfigError(f"{file}: cannot be read: {exc.describe(with_detail=True)}") from None
        return cls.from_dict(data or {}, source=str(file))

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "<dict>") -> ApprovalConfig:
        """Build from a mapping shaped like ``approvals.yaml``: ``{workflows: {NAME: {users, roles}}}``."""
        if not isinstance(data, dict) or set(data) - {"workflows"}:
            raise ApprovalConfigError(f"{source}: expected a mapping with the one key 'workflows'")
        raw = data.get("workflows") or {}
        if not isinstance(raw, dict):
            raise ApprovalConfigError(f"{source}: 'workflows' must be a mapping of workflow name to approvers")
        workflows = {}
        for name, entry in raw.items():
            if name not in WORKFLOWS:
                raise ApprovalConfigError(f"{source}: workflows.{name}: unknown workflow (expected one of "
                                          f"{', '.join(WORKFLOWS)})")
            if not isinstance(entry, dict) or set(entry) - _KEYS:
                raise ApprovalConfigError(f"{source}: workflows.{name}: expected a mapping with 'users' and/or 'roles'")
            workflows[name] = Approvers(frozenset(_names(entry.get("users"), source, f"workflows.{name}.users")),
                                        frozenset(_names(entry.get("roles"), source, f"workflows.{name}.roles")))
        return cls(workflows, source)

    def approvers(self, workflow: str) -> Approvers:
        """The approvers of ``workflow`` (none when the file does not name it)."""
        return self.workflows.get(workflow, Approvers())


def _names(value: Any, source: str, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ApprovalConfigError(f"{source}: {where}: must be a list of non-empty names")
    return [v.strip() for v in value]


@dataclass(frozen=True)
class Verdict:
    """Whether an answer counts, and why not."""

    allowed: bool
    reason: str = ""


def judge(config: ApprovalConfig, workflow: str, responder: str | None, *, triggered_by: str | None,
          responder_roles: Iterable[str] = (), roles_by_auth_manager: bool = False) -> Verdict:
    """Decide whether ``responder`` may answer ``workflow``'s approval of a run ``triggered_by`` someone.

    The same rule holds for Approve and Reject: an answer from someone who may not approve is not a
    decision. Self-approval is refused first, whatever the lists say.

    :param responder_roles: the responder's roles, when the caller knows them.
    :param roles_by_auth_manager: the auth manager has roles and its permissions let only the listed
        roles answer (FAB with the documented Approver role): an Airflow task cannot read the auth
        manager's users, so a workflow that lists roles then trusts it (docs/approvals.md). Under
        the simple auth manager this is False and only ``users`` count.
    """
    if not responder:
        return Verdict(False, "the answer names no user")
    if triggered_by and responder == triggered_by:
        return Verdict(False, f"{responder} triggered this run and cannot approve it")
    approvers = config.approvers(workflow)
    if responder in approvers.users:
        return Verdict(True)
    if approvers.roles and roles_by_auth_manager:
        return Verdict(True, f"role ({', '.join(sorted(approvers.roles))}) checked by the auth manager")
    if set(responder_roles) & approvers.roles:
        return Verdict(True)
    if not approvers.users and not approvers.roles:
        return Verdict(False, f"{config.source} names no approver for {workflow}")
    return Verdict(False, f"{responder} is not an approver of {workflow} in {config.source}")


def plan_hash(plan: Any) -> str:
    """The SHA-256 of a plan as canonical JSON (sorted keys, no spaces): what an approval refers to."""
    text = json.dumps(plan, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Decision:
    """One line of the audit file."""

    workflow: str
    run_id: str
    decision: str
    by: str
    plan_hash: str
    at: str = ""
    triggered_by: str | None = None
    reason: str = ""
    via: str = "airflow"

    def to_dict(self) -> dict[str, Any]:
        """The audit line's fields."""
        return {"at": self.at or datetime.now(UTC).isoformat(), "workflow": self.workflow, "run_id": self.run_id,
                "decision": self.decision, "by": self.by, "triggered_by": self.triggered_by,
                "plan_hash": self.plan_hash, "reason": self.reason, "via": self.via}


def record(decision: Decision, path: str | Path | None = None) -> dict[str, Any]:
    """Append ``decision`` to the audit file (``path``, else ``<report folder>/audit/approvals.jsonl``)."""
    if decision.decision not in DECISIONS:
        raise ValueError(f"decision must be one of {DECISIONS}, not {decision.decision!r}")
    file = Path(path) if path is not None else audit_file()
    file.parent.mkdir(parents=True, exist_ok=True)
    line = decision.to_dict()
    data = (json.dumps(line, sort_keys=True) + "\n").encode()
    fd = os.open(file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)  # closing releases the lock
    return line


def read_audit(path: str | Path | None = None) -> Iterator[dict[str, Any]]:
    """Every decision recorded, oldest first (a line that is not JSON is skipped)."""
    file = Path(path) if path is not None else audit_file()
    if not file.exists():
        return
    with file.open(encoding="utf-8") as fh:
        for line in fh:
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if isinstance(item, dict):
                yield item


__all__ = [
    "APPROVE",
    "REFUSED",
    "REJECT",
    "WORKFLOWS",
    "ApprovalConfig",
    "ApprovalConfigError",
    "Approvers",
    "Decision",
    "Verdict",
    "judge",
    "plan_hash",
    "read_audit",
    "record",
]
