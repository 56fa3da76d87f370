"""The remediation plan: one proposed action per credential, decided by pure rules.

Given the candidate users' live credentials (:class:`UserCredentials`, read by :mod:`.live`), the
sweep's thresholds and ``now``, :func:`propose` returns a :class:`Plan`:

- **deactivate_key**: an *active* access key whose last use (or, never used, its creation) is
  ``thresholds.credential_unused_days`` or more days ago (the sweep's ``iam_user_accesskey_unused``
  rule, CIS 1.12);
- **delete_key**: an *inactive* key that iamflow deactivated (tag ``iamflow:deactivated:<key id>``
  on the user, holding the ISO date: IAM records no deactivation time) ``delete_after_days`` or
  more days ago, and not used since that date. A key inactive without that tag is left alone: its
  deactivation date is unknown;
- **remove_password**: a console password unused for ``credential_unused_days`` days
  (``iam_user_console_access_unused``), only when ``remediation.yaml`` enables it: it cannot be
  undone (the user needs a new password from an administrator).

Never proposed: a rotation (a service user's rotation is declared on its ``iam_user`` and done by
the converge), anything on a user a playbook declares (its converge owns it), on an excluded user,
or on a credential whose finding the mutelist mutes. An active key is never deleted: deletion
always follows a deactivation in an earlier run.

The plan's hash covers its actions (not its time), so the same state plans to the same hash:
an approval names that hash.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from iamflow.approvals import plan_hash

DEACTIVATE, DELETE, REMOVE_PASSWORD = "deactivate_key", "delete_key", "remove_password"
ACTIONS = (DEACTIVATE, DELETE, REMOVE_PASSWORD)
TAG_PREFIX = "iamflow:deactivated:"
ACTIVE, INACTIVE = "Active", "Inactive"


def deactivation_tag(key_id: str) -> str:
    """The user tag that records when iamflow deactivated ``key_id``."""
    return f"{TAG_PREFIX}{key_id}"


@dataclass(frozen=True)
class KeyState:
    """One access key as IAM reports it."""

    key_id: str
    status: str
    created: datetime | None = None
    last_used: datetime | None = None


@dataclass(frozen=True)
class UserCredentials:
    """A user's credentials and tags, read live."""

    user: str
    arn: str
    keys: tuple[KeyState, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)
    has_password: bool = False
    password_created: datetime | None = None
    password_last_used: datetime | None = None


@dataclass(frozen=True)
class Action:
    """One proposed change to one credential; ``since`` is the evidence (last use, or deactivation date)."""

    action: str
    user: str
    access_key_id: str | None
    since: str | None
    idle_days: int
    reason: str

    @property
    def id(self) -> str:
        """A stable name: ``deactivate_key:alice:AKIA...``."""
        return f"{self.action}:{self.user}:{self.access_key_id or 'password'}"

    def to_dict(self) -> dict[str, Any]:
        """The action as JSON."""
        return {"id": self.id, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Action:
        """Rebuild an action from :meth:`to_dict`."""
        if data.get("action") not in ACTIONS:
            raise ValueError(f"unknown remediation action {data.get('action')!r}")
        return cls(data["action"], data["user"], data.get("access_key_id"), data.get("since"),
                   int(data.get("idle_days") or 0), data.get("reason", ""))

    def diff_line(self) -> str:
        """One line of the plan's diff."""
        if self.action == DEACTIVATE:
            return f"~ user {self.user}: access key {self.access_key_id} Active -> Inactive  ({self.reason})"
        if self.action == DELETE:
            return f"- user {self.user}: access key {self.access_key_id} deleted  ({self.reason})"
        return f"- user {self.user}: console password removed  ({self.reason})"


@dataclass(frozen=True)
class Skipped:
    """A credential the rules looked at and left alone, with why."""

    user: str
    credential: str
    reason: str


@dataclass(frozen=True)
class Plan:
    """The proposals for one account."""

    account_id: str
    generated_at: str
    actions: tuple[Action, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    source: str = ""

    @property
    def hash(self) -> str:
        """What an approval names: the SHA-256 of the account and the actions."""
        return plan_hash({"account_id": self.account_id, "actions": [a.to_dict() for a in self.actions]})

    def diff(self) -> str:
        """The plan as a diff (``~`` change, ``-`` removal), one line per action."""
        return "\n".join(a.diff_line() for a in self.actions)

    def to_dict(self) -> dict[str, Any]:
        """The plan as JSON (no secret: key ids and dates only)."""
        return {"account_id": self.account_id, "generated_at": self.generated_at, "source": self.source,
                "plan_hash": self.hash, "actions": [a.to_dict() for a in self.actions],
                "skipped": [asdict(s) for s in self.skipped]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        """Rebuild a plan from :meth:`to_dict`; its hash must still match."""
        plan = cls(data["account_id"], data.get("generated_at", ""),
                   tuple(Action.from_dict(a) for a in data.get("actions") or []),
                   tuple(Skipped(**s) for s in data.get("skipped") or []), data.get("source", ""))
        if data.get("plan_hash") and data["plan_hash"] != plan.hash:
            raise ValueError("the plan's actions do not match its plan_hash: it was altered")
        return plan


@dataclass(frozen=True)
class Rules:
    """The numbers and switches the rules use (from compliance.yaml and remediation.yaml)."""

    unused_days: int = 45
    delete_after_days: int = 30
    remove_console_passwords: bool = False
    exclude_users: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Scope:
    """What the findings allow: muted credentials, and the users playbooks declare."""

    muted_keys: frozenset[tuple[str, str]] = frozenset()  # (user, key id)
    muted_key_users: frozenset[str] = frozenset()  # a muted key finding that names no key id
    muted_passwords: frozenset[str] = frozenset()
    declared_users: frozenset[str] = frozenset()


def _days(since: datetime | date, now: datetime) -> int:
    start = since.date() if isinstance(since, datetime) else since
    return (now.date() - start).days


def parse_day(value: str | None) -> date | None:
    """The date a deactivation tag holds (``2026-10-01`` or a full ISO time); None when unreadable."""
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _key_action(u: UserCredentials, key: KeyState, rules: Rules, scope: Scope, now: datetime,
                skipped: list[Skipped]) -> Action | None:
    label = f"access key {key.key_id}"
    if key.status == ACTIVE:
        idle_since = key.last_used or key.created
        if idle_since is None:
            return None
        idle = _days(idle_since, now)
        if idle < rules.unused_days:
            return None
        if (u.user, key.key_id) in scope.muted_keys or u.user in scope.muted_key_users:
            skipped.append(Skipped(u.user, label, "its finding is muted"))
            return None
        what = "last used" if key.last_used else "never used, created"
        return Action(DEACTIVATE, u.user, key.key_id, idle_since.date().isoformat(), idle,
                      f"{what} {idle_since.date().isoformat()}, {idle} days ago; limit {rules.unused_days}")
    tag = u.tags.get(deactivation_tag(key.key_id))
    deactivated = parse_day(tag)
    if deactivated is None:
        skipped.append(Skipped(u.user, label, "inactive, but not deactivated by iamflow (no deactivation date)"
                               if tag is None else f"unreadable deactivation date {tag!r}"))
        return None
    if key.last_used is not None and key.last_used.date() >= deactivated:
        skipped.append(Skipped(u.user, label, f"used {key.last_used.date().isoformat()}, on or after its "
                               f"deactivation on {deactivated.isoformat()}"))
        return None
    held = _days(deactivated, now)
    if held < rules.delete_after_days:
        return None  # not due yet: nothing to say
    return Action(DELETE, u.user, key.key_id, deactivated.isoformat(), held,
                  f"deactivated by iamflow {deactivated.isoformat()}, {held} days ago, unused since; "
                  f"limit {rules.delete_after_days}")


def _password_action(u: UserCredentials, rules: Rules, scope: Scope, now: datetime,
                     skipped: list[Skipped]) -> Action | None:
    if not u.has_password:
        return None
    idle_since = u.password_last_used or u.password_created
    if idle_since is None or _days(idle_since, now) < rules.unused_days:
        return None
    idle = _days(idle_since, now)
    if u.user in scope.muted_passwords:
        skipped.append(Skipped(u.user, "console password", "its finding is muted"))
        return None
    if not rules.remove_console_passwords:
        skipped.append(Skipped(u.user, "console password", f"unused for {idle} days, but removing console passwords "
                               "is off in remediation.yaml (it cannot be undone)"))
        return None
    what = "last signed in" if u.password_last_used else "never signed in, set"
    return Action(REMOVE_PASSWORD, u.user, None, idle_since.date().isoformat(), idle,
                  f"{what} {idle_since.date().isoformat()}, {idle} days ago; limit {rules.unused_days}")


def propose(users: Iterable[UserCredentials], rules: Rules, now: datetime, *, account_id: str,
            scope: Scope = Scope(), source: str = "") -> Plan:
    """The plan for these users: at most one action per credential, in user then key order."""
    actions: list[Action] = []
    skipped: list[Skipped] = []
    for u in sorted(users, key=lambda x: x.user):
        if u.user in scope.declared_users:
            skipped.append(Skipped(u.user, "all credentials", "a playbook declares this user: its converge owns them"))
            continue
        if u.user in rules.exclude_users:
            skipped.append(Skipped(u.user, "all credentials", "excluded in remediation.yaml"))
            continue
        for key in sorted(u.keys, key=lambda k: k.key_id):
            action = _key_action(u, key, rules, scope, now, skipped)
            if action is not None:
                actions.append(action)
        action = _password_action(u, rules, scope, now, skipped)
        if action is not None:
            actions.append(action)
    return Plan(account_id, now.isoformat(), tuple(actions), tuple(skipped), source)


__all__ = [
    "ACTIONS",
    "DEACTIVATE",
    "DELETE",
    "REMOVE_PASSWORD",
    "TAG_PREFIX",
    "Action",
    "KeyState",
    "Plan",
    "Rules",
    "Scope",
    "Skipped",
    "UserCredentials",
    "deactivation_tag",
    "parse_day",
    "propose",
]
