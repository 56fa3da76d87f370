"""Rotation verification: is each secret's rotation configured, on time, finished, and its value usable?

For each secret (the playbooks' secrets that declare ``rotation``, and with ``include_all`` every
other secret of the account) :func:`verify_rotation` yields one :class:`RotationCheck` per check:

``rotation_configured``  rotation enabled, by the declared Lambda, on the declared schedule
``last_rotated``         ``LastRotatedDate`` within the period plus the grace days (never → FAIL)
``next_rotation``        ``NextRotationDate`` not in the past
``pending_version``      no ``AWSPENDING`` on a version other than ``AWSCURRENT`` older than the
                         threshold (a stuck or failed rotation)
``current_value``        ``AWSCURRENT`` readable and accepted by the secret's validator

Calls per secret: ``DescribeSecret`` and ``GetSecretValue(VersionStage="AWSCURRENT")``, plus
``ListSecretVersionIds`` only when an ``AWSPENDING`` label sits on another version (its creation
date is only there), plus what a callable validator makes. ``include_all`` adds the
``ListSecrets`` pages.

The value read for ``current_value`` lives in a local variable of :func:`_check_value`: it is never
logged, returned or put in a reason. Reasons from a validator are scrubbed of the value (and of
every string inside it) before they are kept, in case a validator echoes what it was given.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    from iamflow.aws.clients import AwsClients
    from iamflow.spec.kinds_secrets import Secret

PASS, FAIL, ERROR = "PASS", "FAIL", "ERROR"
CHECKS = ("rotation_configured", "last_rotated", "next_rotation", "pending_version", "current_value")
DEFAULT_PENDING_MAX_AGE = timedelta(hours=24)
DEFAULT_GRACE = timedelta(days=1)
_RATE = re.compile(r"^rate\(\s*(\d+)\s+(hour|hours|day|days)\s*\)$")
Validator = Callable[..., tuple[bool, str]]


@dataclass(frozen=True)
class RotationCheck:
    """One check of one secret: JSON-able and free of any secret value."""

    secret: str
    check: str
    status: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass
class _Target:
    """What one secret is verified against (from the playbook, or defaults for an undeclared one)."""

    name: str
    lambda_arn: str | None = None
    every_days: int | None = None
    schedule: str | None = None
    grace: timedelta = DEFAULT_GRACE
    pending_max_age: timedelta = DEFAULT_PENDING_MAX_AGE
    validator: Any = None  # a ValidatorSpec
    declared: bool = True


def verify_rotation(
    clients: AwsClients,
    secrets: Iterable[Secret],
    *,
    now: datetime | None = None,
    include_all: bool = False,
    pending_max_age: timedelta | None = None,
    grace: timedelta | None = None,
) -> list[RotationCheck]:
    """Verify the rotation of ``secrets`` (declared ones with ``rotation``), and every secret with ``include_all``.

    :param now: the time to judge dates against (injected; defaults to the current UTC time).
    :param pending_max_age: the AWSPENDING age threshold for secrets whose playbook gives none.
    :param grace: the days past the schedule tolerated for secrets whose playbook gives none.
    """
    from iamflow.secrets.hygiene import guard_botocore_logs

    guard_botocore_logs()
    now = now or datetime.now(UTC)
    ctx = None
    targets: dict[str, _Target] = {}
    for s in secrets:
        if s.state != "present" or s.rotation is None or s.name in targets:
            continue
        if ctx is None:
            ctx = clients.caller_context()
        verify = s.rotation.verify
        targets[s.name] = _Target(
            name=s.name,
            lambda_arn=ctx.substitute(s.rotation.lambda_arn),
            every_days=s.rotation.every_days,
            schedule=s.rotation.schedule,
            grace=timedelta(days=verify.grace_days) if "grace_days" in verify.model_fields_set or grace is None
            else grace,
            pending_max_age=timedelta(hours=verify.pending_max_hours)
            if "pending_max_hours" in verify.model_fields_set or pending_max_age is None else pending_max_age,
            validator=verify.validator,
        )
    if include_all:
        sm = clients.client("secretsmanager")
        for page in sm.get_paginator("list_secrets").paginate(PaginationConfig={"PageSize": 100}):
            for item in page.get("SecretList", []):
                name = item["Name"]
                if name not in targets:
                    targets[name] = _Target(name=name, grace=grace or DEFAULT_GRACE,
                                            pending_max_age=pending_max_age or DEFAULT_PENDING_MAX_AGE,
                                            declared=False)
    out: list[RotationCheck] = []
    for target in targets.values():
        out.extend(_verify_one(clients, target, now))
    return out


def _verify_one(clients: AwsClients, t: _Target, now: datetime) -> list[RotationCheck]:
    from iamflow.aws.errors import error_code, is_transient

    sm = clients.client("secretsmanager")
    try:
        d = sm.describe_secret(SecretId=t.name)
    except Exception as exc:
        if is_transient(exc):
            raise
        code = error_code(exc) or type(exc).__name__
        reason = ("the secret does not exist" if code == "ResourceNotFoundException"
                  else f"cannot describe the secret: {code}")
        return [RotationCheck(t.name, c, ERROR, reason) for c in CHECKS]
    if d.get("DeletedDate") is not None:
        return [RotationCheck(t.name, c, ERROR, "the secret is scheduled for deletion") for c in CHECKS]
    checks = [
        _check_configured(t, d),
        _check_last_rotated(t, d, now),
        _check_next_rotation(d, now),
        _check_pending(clients, t, d, now),
        _check_value(clients, t),
    ]
    return checks


def _period(t: _Target, d: dict[str, Any]) -> timedelta | None:
    """The declared (or, for an undeclared secret, the configured) rotation period; None when unknown (cron)."""
    days = t.every_days
    schedule = t.schedule
    if not t.declared:
        rules = d.get("RotationRules") or {}
        days = rules.get("AutomaticallyAfterDays") or None
        schedule = rules.get("ScheduleExpression")
    if days:
        return timedelta(days=days)
    m = _RATE.match(schedule or "")
    if m:
        n = int(m.group(1))
        return timedelta(hours=n) if m.group(2).startswith("hour") else timedelta(days=n)
    return None


def _check_configured(t: _Target, d: dict[str, Any]) -> RotationCheck:
    name = t.name
    if not d.get("RotationEnabled"):
        return RotationCheck(name, "rotation_configured", FAIL, "automatic rotation is not enabled")
    if not t.declared:
        return RotationCheck(name, "rotation_configured", PASS, "automatic rotation is enabled")
    problems = []
    if d.get("RotationLambdaARN") != t.lambda_arn:
        problems.append(f"rotation Lambda is {d.get('RotationLambdaARN') or 'none'}, declared {t.lambda_arn}")
    rules = d.get("RotationRules") or {}
    if t.every_days is not None and rules.get("AutomaticallyAfterDays") != t.every_days:
        problems.append(f"rotates every {rules.get('AutomaticallyAfterDays')} days, declared {t.every_days}")
    if t.schedule is not None and rules.get("ScheduleExpression") not in (None, t.schedule):
        problems.append(f"schedule is {rules.get('ScheduleExpression')}, declared {t.schedule}")
    if problems:
        return RotationCheck(name, "rotation_configured", FAIL, "; ".join(problems))
    every = f"every {t.every_days} days" if t.every_days else f"on {t.schedule}"
    return RotationCheck(name, "rotation_configured", PASS, f"rotates {every} by {t.lambda_arn}")


def _check_last_rotated(t: _Target, d: dict[str, Any], now: datetime) -> RotationCheck:
    last = d.get("LastRotatedDate")
    if last is None:
        return RotationCheck(t.name, "last_rotated", FAIL, "never rotated")
    period = _period(t, d)
    if period is None:
        return RotationCheck(t.name, "last_rotated", PASS,
                             f"last rotated {_iso(last)} (the schedule gives no fixed period; see next_rotation)")
    due = _utc(last) + period + t.grace
    if now > due:
        return RotationCheck(t.name, "last_rotated", FAIL,
                             f"last rotated {_iso(last)}, overdue since {_iso(due)} "
                             f"(period {_days(period)} + grace {_days(t.grace)})")
    return RotationCheck(t.name, "last_rotated", PASS, f"last rotated {_iso(last)}, due by {_iso(due)}")


def _check_next_rotation(d: dict[str, Any], now: datetime) -> RotationCheck:
    name = d["Name"]
    nxt = d.get("NextRotationDate")
    if nxt is None:
        if not d.get("RotationEnabled"):
            return RotationCheck(name, "next_rotation", FAIL, "no rotation is scheduled")
        return RotationCheck(name, "next_rotation", FAIL, "rotation is enabled but AWS reports no NextRotationDate")
    if _utc(nxt) < now:
        return RotationCheck(name, "next_rotation", FAIL, f"next rotation {_iso(nxt)} is in the past")
    return RotationCheck(name, "next_rotation", PASS, f"next rotation {_iso(nxt)}")


def _stage_versions(stages: dict[str, list[str]], stage: str) -> list[str]:
    return [v for v, labels in stages.items() if stage in labels]


def _check_pending(clients: AwsClients, t: _Target, d: dict[str, Any], now: datetime) -> RotationCheck:
    stages = d.get("VersionIdsToStages") or {}
    current = _stage_versions(stages, "AWSCURRENT")
    pending = [v for v in _stage_versions(stages, "AWSPENDING") if v not in current]
    if not pending:
        return RotationCheck(t.name, "pending_version", PASS, "no rotation in progress")
    versions = _list_versions(clients, t.name)
    created = versions.get(pending[0])
    if created is None:
        return RotationCheck(t.name, "pending_version", ERROR,
                             f"AWSPENDING version {pending[0]} has no creation date")
    age = now - _utc(created)
    if age > t.pending_max_age:
        return RotationCheck(
            t.name, "pending_version", FAIL,
            f"AWSPENDING version {pending[0]} created {_iso(created)} is {_hours(age)} old "
            f"(threshold {_hours(t.pending_max_age)}): a rotation is stuck or failed",
        )
    return RotationCheck(t.name, "pending_version", PASS,
                         f"a rotation is in progress since {_iso(created)} (within {_hours(t.pending_max_age)})")


def _list_versions(clients: AwsClients, name: str) -> dict[str, datetime]:
    sm = clients.client("secretsmanager")
    out: dict[str, datetime] = {}
    token: str | None = None
    while True:
        page = sm.list_secret_version_ids(SecretId=name, **({"NextToken": token} if token else {}))
        for v in page.get("Versions", []):
            if v.get("CreatedDate") is not None:
                out[v["VersionId"]] = v["CreatedDate"]
        token = page.get("NextToken")
        if not token:
            return out


def load_validator(dotted: str) -> Validator:
    """Import ``package.module:function``."""
    module_name, _, attr = dotted.partition(":")
    validator: Validator = getattr(importlib.import_module(module_name), attr)
    return validator


def _check_value(clients: AwsClients, t: _Target) -> RotationCheck:
    from iamflow.aws.errors import error_code, is_transient

    name = t.name
    try:
        value = clients.client("secretsmanager").get_secret_value(SecretId=name, VersionStage="AWSCURRENT")
        secret_string = value.get("SecretString")
        del value
    except Exception as exc:
        if is_transient(exc):
            raise
        return RotationCheck(name, "current_value", ERROR,
                             f"AWSCURRENT is not readable: {error_code(exc) or type(exc).__name__}")
    if secret_string is None:
        return RotationCheck(name, "current_value", FAIL, "AWSCURRENT holds no string value")
    spec = t.validator
    try:
        if spec is None:
            ok, reason = True, "AWSCURRENT is readable (no validator declared)"
        elif spec.json_keys is not None:
            ok, reason = _validate_json_keys(secret_string, spec.json_keys)
        elif spec.regex is not None:
            ok = re.fullmatch(spec.regex, secret_string) is not None
            reason = "AWSCURRENT matches the pattern" if ok else "AWSCURRENT does not match the declared pattern"
        else:
            fn = load_validator(spec.callable)
            kwargs = {"secret_id": name} if "secret_id" in inspect.signature(fn).parameters else {}
            ok, reason = fn(secret_string, clients, **kwargs)
            reason = f"{spec.callable}: {reason}"
    except Exception as exc:  # a validator's failure is an ERROR of this check, never a crash of the run
        reason = f"validator raised {type(exc).__name__}: {exc}"
        return RotationCheck(name, "current_value", ERROR, scrub(reason, secret_string))
    return RotationCheck(name, "current_value", PASS if ok else FAIL, scrub(str(reason), secret_string))


def _validate_json_keys(secret_string: str, keys: list[str]) -> tuple[bool, str]:
    try:
        data = json.loads(secret_string)
    except ValueError:
        return False, "AWSCURRENT is not JSON"
    if not isinstance(data, dict):
        return False, "AWSCURRENT is JSON but not an object"
    missing = [k for k in keys if data.get(k) in (None, "")]
    if missing:
        return False, f"AWSCURRENT lacks the keys {', '.join(missing)}"
    return True, f"AWSCURRENT has the keys {', '.join(keys)}"


def scrub(text: str, secret_string: str) -> str:
    """Remove the value, and every string or number of it when it is JSON, from ``text``."""
    parts = {secret_string}
    try:
        data = json.loads(secret_string)
    except ValueError:
        data = None
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and len(item) >= 4:
            parts.add(item)
    for part in sorted(parts, key=len, reverse=True):
        if part:
            text = text.replace(part, "<redacted>")
    return text


def trigger_rotation(clients: AwsClients, secret_id: str) -> str:
    """Start a rotation now through the configured Lambda; return the new version id.

    .. seealso:: ``secretsmanager.rotate_secret``
    """
    return str(clients.client("secretsmanager").rotate_secret(SecretId=secret_id).get("VersionId") or "")


def rotation_complete(clients: AwsClients, secret_id: str, since: datetime) -> bool:
    """Whether a rotation started at ``since`` has finished.

    Finished means: ``AWSCURRENT`` is on a version created at or after ``since``, and no
    ``AWSPENDING`` label is left on another version.
    """
    d = clients.client("secretsmanager").describe_secret(SecretId=secret_id)
    stages = d.get("VersionIdsToStages") or {}
    current = _stage_versions(stages, "AWSCURRENT")
    if not current or [v for v in _stage_versions(stages, "AWSPENDING") if v not in current]:
        return False
    created = _list_versions(clients, secret_id).get(current[0])
    # AWS stores whole seconds: compare at that precision
    return created is not None and _utc(created) >= _utc(since).replace(microsecond=0)


class RotationSummary(TypedDict):
    """Counts by status, how many secrets were verified, the ones that did not pass, and every check."""

    counts: dict[str, int]
    secrets: int
    failing: list[str]
    checks: list[dict[str, str]]


def summarize(checks: list[RotationCheck]) -> RotationSummary:
    """A JSON-able summary: counts by status, the secrets that did not pass, and every check."""
    counts = {PASS: 0, FAIL: 0, ERROR: 0}
    for c in checks:
        counts[c.status] = counts.get(c.status, 0) + 1
    failing = sorted({c.secret for c in checks if c.status != PASS})
    return {"counts": counts, "secrets": len({c.secret for c in checks}), "failing": failing,
            "checks": [c.to_dict() for c in checks]}


def format_checks(checks: list[RotationCheck]) -> str:
    """A plain-text table of the checks, one line each."""
    if not checks:
        return "no secret with a declared rotation to verify"
    width = max(len(c.secret) for c in checks)
    return "\n".join(f"{c.status:<5} {c.secret:<{width}}  {c.check:<19} {c.reason}" for c in checks)


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _iso(value: datetime) -> str:
    return _utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def _days(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 86400:g}d"


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.1f}h"
