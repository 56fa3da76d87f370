"""Apply an approved remediation plan, and roll a run back; every step idempotent and resumable.

A run is recorded in ``<report folder>/remediation/<run id>/run.json``: the plan (with its hash),
who approved it, and one result per action, rewritten atomically after each action. Running the
same run id again resumes it: an action already ``done`` is not repeated, and every other one is
judged again on the live state first.

Each action re-checks IAM before it writes, so an action approved on a state that has changed
since is skipped, never forced:

- **deactivate_key**: the key still exists, is active, and its last use is not newer than the
  plan's. iamflow tags the user ``iamflow:deactivated:<key id>`` with today's ISO date *first*,
  then sets the key ``Inactive`` (``UpdateAccessKey``): a crash in between leaves an active key
  with a tag, which the next plan deactivates again (re-dating the tag) and which is never deleted
  (deletion needs an inactive key). A key found inactive already gets its tag if it has none.
- **delete_key**: the key is inactive, its tag's date is ``delete_after_days`` old or more, and it
  was not used since; never a key this same run deactivated. ``DeleteAccessKey``, then the tag is
  removed (a key already gone only has its tag removed).
- **remove_password**: the login profile still exists and was not used since the plan;
  ``DeleteLoginProfile``. Irreversible, which is why the plan only proposes it when enabled.

Rollback reactivates the keys that run deactivated (``UpdateAccessKey`` ``Active``) and removes
their tags; a deleted key or a removed password cannot come back, and a key already active is
left as it is. Check mode (clients that refuse writes) is enforced by the clients, not here.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from iamflow.errors import IamflowError
from iamflow.remediation.live import read_user
from iamflow.remediation.plan import (
    ACTIVE,
    DEACTIVATE,
    DELETE,
    INACTIVE,
    Action,
    Plan,
    deactivation_tag,
    parse_day,
)
from iamflow.settings import remediation_dir

DONE, ALREADY, SKIPPED, FAILED = "done", "already", "skipped", "failed"
WRITE_ACTIONS = ("iam:UpdateAccessKey", "iam:DeleteAccessKey", "iam:DeleteLoginProfile", "iam:TagUser",
                 "iam:UntagUser")
_RUN_ID_OK = set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_.")


class RemediationError(IamflowError):
    """A remediation run cannot be found, read, resumed or rolled back."""


def new_run_id(now: datetime) -> str:
    """A run id that sorts by time and is unique: ``20261201T162200Z-3f9a``."""
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(2)


def _check_run_id(run_id: str) -> str:
    if not run_id or run_id in (".", "..") or set(run_id) - _RUN_ID_OK or len(run_id) > 200:
        raise RemediationError(f"invalid remediation run id {run_id!r}")
    return run_id


def run_file(run_id: str, out_dir: str | Path | None = None) -> Path:
    """The record of one run."""
    return remediation_dir(out_dir) / _check_run_id(run_id) / "run.json"


@dataclass
class RunRecord:
    """What a run was asked to do and what it did."""

    run_id: str
    plan: Plan
    approval: dict[str, Any] = field(default_factory=dict)
    results: list[dict[str, Any]] = field(default_factory=list)
    rollbacks: list[dict[str, Any]] = field(default_factory=list)
    created_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON."""
        return {"run_id": self.run_id, "account_id": self.plan.account_id, "created_at": self.created_at,
                "plan_hash": self.plan.hash, "plan": self.plan.to_dict(), "approval": self.approval,
                "results": self.results, "rollbacks": self.rollbacks}

    def save(self, out_dir: str | Path | None = None) -> Path:
        """Write the record atomically."""
        path = run_file(self.run_id, out_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, run_id: str, out_dir: str | Path | None = None) -> RunRecord:
        """Read a run's record; a clear error when there is none."""
        path = run_file(run_id, out_dir)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RemediationError(f"no remediation run {run_id} ({path} does not exist)") from None
        except ValueError as exc:
            raise RemediationError(f"{path}: not a remediation run record: {exc}") from None
        return cls(data["run_id"], Plan.from_dict(data["plan"]), data.get("approval") or {},
                   list(data.get("results") or []), list(data.get("rollbacks") or []), data.get("created_at", ""))

    def outcomes(self) -> dict[str, str]:
        """action id -> outcome so far."""
        return {r["id"]: r["outcome"] for r in self.results}


def _result(action: Action, outcome: str, detail: str) -> dict[str, Any]:
    return {**action.to_dict(), "outcome": outcome, "detail": detail}


def _newer(value: datetime | None, since: str | None) -> bool:
    day = parse_day(since)
    return value is not None and day is not None and value.date() > day


def _deactivate(iam: Any, action: Action, now: datetime) -> tuple[str, str]:
    state = read_user(iam, action.user)
    key = next((k for k in state.keys if k.key_id == action.access_key_id), None) if state else None
    if state is None or key is None:
        return SKIPPED, "the key no longer exists"
    tag = deactivation_tag(key.key_id)
    if key.status == INACTIVE:
        if tag not in state.tags:
            iam.tag_user(UserName=action.user, Tags=[{"Key": tag, "Value": now.date().isoformat()}])
        return ALREADY, "the key is inactive already"
    if _newer(key.last_used, action.since):
        return SKIPPED, f"the key was used {key.last_used.date().isoformat() if key.last_used else ''} since the plan"
    iam.tag_user(UserName=action.user, Tags=[{"Key": tag, "Value": now.date().isoformat()}])
    iam.update_access_key(UserName=action.user, AccessKeyId=key.key_id, Status=INACTIVE)
    return DONE, f"deactivated; tagged {tag}={now.date().isoformat()}"


def _delete(iam: Any, action: Action, rules_days: int, now: datetime) -> tuple[str, str]:
    state = read_user(iam, action.user)
    if state is None:
        return ALREADY, "the user no longer exists"
    key = next((k for k in state.keys if k.key_id == action.access_key_id), None)
    tag = deactivation_tag(str(action.access_key_id))
    if key is None:
        if tag in state.tags:
            iam.untag_user(UserName=action.user, TagKeys=[tag])
        return ALREADY, "the key is deleted already"
    since = parse_day(state.tags.get(tag))
    if key.status != INACTIVE:
        return SKIPPED, "the key is active again"
    if since is None or (now.date() - since).days < rules_days:
        return SKIPPED, "its deactivation date is missing or too recent"
    if key.last_used is not None and key.last_used.date() >= since:
        return SKIPPED, "the key was used after its deactivation"
    iam.delete_access_key(UserName=action.user, AccessKeyId=key.key_id)
    iam.untag_user(UserName=action.user, TagKeys=[tag])
    return DONE, "deleted"


def _remove_password(iam: Any, action: Action) -> tuple[str, str]:
    state = read_user(iam, action.user)
    if state is None or not state.has_password:
        return ALREADY, "the user has no console password"
    if _newer(state.password_last_used, action.since):
        return SKIPPED, "the user signed in since the plan"
    iam.delete_login_profile(UserName=action.user)
    return DONE, "console password removed"


def apply_plan(clients: Any, plan: Plan, *, run_id: str, delete_after_days: int, now: datetime | None = None,
               approval: dict[str, Any] | None = None, out_dir: str | Path | None = None) -> RunRecord:
    """Apply ``plan`` as run ``run_id`` (resuming it when its record exists); return the record.

    A record for ``run_id`` that holds another plan is refused: a run applies one approved plan.
    Errors of one action are recorded and the others still run; the caller fails the run after.
    """
    now = now or datetime.now(UTC)
    path = run_file(run_id, out_dir)
    if path.exists():
        record = RunRecord.load(run_id, out_dir)
        if record.plan.hash != plan.hash:
            raise RemediationError(f"run {run_id} already holds plan {record.plan.hash[:12]}, not {plan.hash[:12]}")
    else:
        record = RunRecord(run_id, plan, dict(approval or {}), created_at=now.isoformat())
    if approval:
        record.approval = dict(approval)
    record.save(out_dir)
    iam = clients.client("iam")
    results = {r["id"]: r for r in record.results}  # an earlier attempt's results stay until redone
    deactivated_here = {a.access_key_id for a in plan.actions if a.action == DEACTIVATE}

    def save() -> None:
        record.results = [results[a.id] for a in plan.actions if a.id in results]
        record.save(out_dir)

    for action in plan.actions:
        before = results.get(action.id)
        if before and before["outcome"] in (DONE, ALREADY):
            continue
        try:
            if action.action == DEACTIVATE:
                outcome, detail = _deactivate(iam, action, now)
            elif action.action == DELETE:
                if action.access_key_id in deactivated_here:
                    outcome, detail = SKIPPED, "never deleted in the run that deactivates it"
                else:
                    outcome, detail = _delete(iam, action, delete_after_days, now)
            else:
                outcome, detail = _remove_password(iam, action)
        except Exception as exc:
            if not _permanent(exc):
                save()
                raise  # transient: the caller's retry resumes the run
            outcome, detail = FAILED, f"{type(exc).__name__}: {exc}"
        results[action.id] = _result(action, outcome, detail)
        save()
    save()
    return record


def _permanent(exc: Exception) -> bool:
    from iamflow.aws.errors import is_transient

    return not is_transient(exc)


def rollback(clients: Any, run_id: str, *, now: datetime | None = None,
             out_dir: str | Path | None = None) -> RunRecord:
    """Reactivate the keys run ``run_id`` deactivated and remove their tags; record what happened."""
    now = now or datetime.now(UTC)
    record = RunRecord.load(run_id, out_dir)
    iam = clients.client("iam")
    done = []
    for r in record.results:
        if r.get("action") != DEACTIVATE or r.get("outcome") != DONE:
            continue
        user, key_id = str(r["user"]), str(r["access_key_id"])
        state = read_user(iam, user)
        key = next((k for k in state.keys if k.key_id == key_id), None) if state else None
        if state is None or key is None:
            done.append({"user": user, "access_key_id": key_id, "outcome": SKIPPED, "detail": "the key no longer exists"})
            continue
        if key.status != ACTIVE:
            iam.update_access_key(UserName=user, AccessKeyId=key_id, Status=ACTIVE)
        if deactivation_tag(key_id) in state.tags:
            iam.untag_user(UserName=user, TagKeys=[deactivation_tag(key_id)])
        done.append({"user": user, "access_key_id": key_id, "outcome": DONE if key.status != ACTIVE else ALREADY,
                     "detail": "reactivated" if key.status != ACTIVE else "active already"})
    record.rollbacks.append({"at": now.isoformat(), "results": done})
    record.save(out_dir)
    return record


def failed_results(record: RunRecord) -> list[dict[str, Any]]:
    """The results that failed."""
    return [r for r in record.results if r["outcome"] == FAILED]


def format_results(record: RunRecord) -> str:
    """The run's results, one line each."""
    lines = [f"{r['outcome']:>8}  {r['id']}: {r['detail']}" for r in record.results]
    return "\n".join(lines) or "nothing to do"


__all__ = ["ALREADY", "DONE", "FAILED", "SKIPPED", "WRITE_ACTIONS", "RemediationError", "RunRecord", "apply_plan",
           "failed_results", "format_results", "new_run_id", "rollback", "run_file"]
