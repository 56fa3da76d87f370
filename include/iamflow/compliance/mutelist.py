"""Suppressions in Prowler's mutelist YAML format, plus ``owner``, ``reason`` and ``expires``.

::

    Mutelist:
      Accounts:
        "123456789012":                 # an account id, or "*"
          Checks:
            "iam_user_mfa_enabled_console_access":   # a regex searched in the check id; "*" is every check
              Regions: ["*"]            # "global" for IAM findings
              Resources: ["user/break-glass"]        # regexes searched in the resource ARN or id
              Tags: ["team=ops"]        # optional; each a regex matched against whole key=value pairs, all must match
              Exceptions:               # optional; a finding matching every field given here is not muted
                Resources: ["prod"]
              owner: platform-team      # iamflow extension
              reason: break-glass user, MFA is in the safe
              expires: 2025-12-31       # muting stops after this day (UTC); the report lists expired entries

A leading ``*`` in a pattern means "anything before". Only ``FAIL`` findings become ``MUTED``: a
``PASS`` has nothing to hide and an ``ERROR`` (a collection failure) must never be hidden.

Patterns are Python regexes searched as Prowler does (``re.search``), run by RE2, an engine whose
time is linear in the text: a pattern such as ``(a+)+$`` cannot stall the sweep. RE2 refuses the
constructs only a backtracking engine has (backreferences like ``\1``, lookarounds like
``(?=...)``, possessive quantifiers); such a pattern is an error naming the file and the entry.
Without the ``google-re2`` package, Python's engine runs the patterns, and any pattern that could
backtrack catastrophically (a repeat inside a repeat, an alternation under a repeat,
backreferences, lookarounds) is refused instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, TypedDict

from iamflow.compliance.config import ComplianceConfigError, read_yaml_file
from iamflow.compliance.findings import FAIL, MUTED, Finding
from iamflow.compliance.patterns import Pattern, compile_pattern

TOP_KEYS = ("Mutelist", "Mute List", "Allowlist")
_ENTRY_KEYS = {"Regions", "Resources", "Tags", "Exceptions", "Description", "owner", "reason", "expires"}
_EXCEPTION_KEYS = {"Accounts", "Regions", "Resources", "Tags"}


def _compile(pattern: Any, where: str) -> Pattern:
    if isinstance(pattern, bool) or not isinstance(pattern, (str, int)):
        raise ComplianceConfigError(f"{where}: expected a string pattern, got {type(pattern).__name__}")
    text = str(pattern)
    if text == "*":
        text = ".*"
    elif text.startswith("*"):
        text = ".*" + text[1:]
    try:
        return compile_pattern(text)
    except re.error as exc:
        raise ComplianceConfigError(f"{where}: bad regex {pattern!r}: {exc}") from exc
    except ValueError as exc:
        raise ComplianceConfigError(f"{where}: pattern {pattern!r} refused: {exc}") from exc
    except (RecursionError, OverflowError) as exc:
        raise ComplianceConfigError(f"{where}: pattern {pattern!r} refused: it is too complex") from exc


@lru_cache(maxsize=512)
def _check_regex(check_id: str) -> Pattern:
    return _compile(check_id, "check id")


def _patterns(value: Any, where: str) -> tuple[Pattern, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ComplianceConfigError(f"{where}: expected a list")
    return tuple(_compile(p, f"{where}[{i}]") for i, p in enumerate(value))


def _search(patterns: Iterable[Pattern], *values: str) -> bool:
    return any(p.search(v) for p in patterns for v in values if v)


def _tags_match(patterns: tuple[Pattern, ...], tags: dict[str, str]) -> bool:
    pairs = [f"{k}={v}" for k, v in tags.items()]
    return all(any(p.fullmatch(pair) for pair in pairs) for p in patterns)


def _expiry(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        # a date is valid through that whole day (UTC)
        return datetime.combine(value + timedelta(days=1), time.min, tzinfo=UTC)
    if isinstance(value, str):
        try:
            if len(value) == 10:
                return _expiry(date.fromisoformat(value), where)
            return _expiry(datetime.fromisoformat(value.replace("Z", "+00:00")), where)
        except ValueError as exc:
            raise ComplianceConfigError(f"{where}: not a date: {value!r}") from exc
    raise ComplianceConfigError(f"{where}: not a date: {value!r}")


class MuteDescription(TypedDict):
    """A mute entry as a muted finding's ``muted_by`` and the report show it."""

    account: str
    check: str
    resources: list[str]
    owner: str
    reason: str
    expires: str | None


class ExpiredSuppression(MuteDescription):
    """An expired entry, with how many FAIL findings it would have muted and the mutelist it is in."""

    would_mute: int
    mutelist: str


@dataclass(frozen=True)
class MuteEntry:
    """One check entry under one account of the mutelist."""

    account: str
    check: str
    regions: tuple[Pattern, ...]
    resources: tuple[Pattern, ...]
    tags: tuple[Pattern, ...] = ()
    exceptions: dict[str, tuple[Pattern, ...]] = field(default_factory=dict)
    description: str = ""
    owner: str = ""
    reason: str = ""
    expires: datetime | None = None
    expires_text: str | None = None

    def expired(self, now: datetime) -> bool:
        """Whether the entry has stopped muting at ``now``."""
        return self.expires is not None and now >= self.expires

    def matches(self, finding: Finding) -> bool:
        """Whether the entry covers the finding (expiry aside)."""
        if self.account != "*" and self.account != finding.account_id:
            return False
        if not _check_regex(self.check).search(finding.check_id):
            return False
        if not _search(self.regions, finding.region):
            return False
        if not _search(self.resources, finding.resource_arn, finding.resource_id):
            return False
        if self.tags and not _tags_match(self.tags, finding.tags):
            return False
        return not self._excepted(finding)

    def _excepted(self, finding: Finding) -> bool:
        if not self.exceptions:
            return False
        tests = {
            "Accounts": lambda ps: any(p.fullmatch(finding.account_id) for p in ps),
            "Regions": lambda ps: _search(ps, finding.region),
            "Resources": lambda ps: _search(ps, finding.resource_arn, finding.resource_id),
            "Tags": lambda ps: _tags_match(ps, finding.tags),
        }
        given = {k: v for k, v in self.exceptions.items() if v}
        return bool(given) and all(tests[k](v) for k, v in given.items())

    def describe(self) -> MuteDescription:
        """The entry as shown in a muted finding's ``muted_by`` and in the report."""
        return {
            "account": self.account,
            "check": self.check,
            "resources": [p.pattern for p in self.resources],
            "owner": self.owner,
            "reason": self.reason or self.description,
            "expires": self.expires_text,
        }


class Mutelist:
    """A parsed mutelist; :meth:`apply` mutes FAIL findings, :meth:`expired_entries` lists what stopped muting."""

    def __init__(self, entries: Iterable[MuteEntry] = (), source: str = "<empty>"):
        self.entries = list(entries)
        self.source = source

    @classmethod
    def load(cls, path: str | Path | None) -> Mutelist:
        """Load a mutelist file (an empty list when ``path`` is None)."""
        if path is None:
            return cls()
        file = Path(path)
        return cls.from_dict(read_yaml_file(file, "mutelist file"), source=str(file))

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "<dict>") -> Mutelist:
        """Parse the mutelist mapping (top key ``Mutelist``, or the older ``Mute List`` / ``Allowlist``)."""
        if not isinstance(data, dict):
            raise ComplianceConfigError(f"{source}: expected a mapping")
        if not data:
            return cls(source=source)
        top = next((k for k in TOP_KEYS if k in data), None)
        if top is None:
            raise ComplianceConfigError(f"{source}: expected a top-level key {TOP_KEYS[0]!r}")
        body = data[top] or {}
        if not isinstance(body, dict):
            raise ComplianceConfigError(f"{source}: {top}: expected a mapping with Accounts")
        unknown = sorted(str(k) for k in set(body) - {"Accounts"})
        if unknown:
            raise ComplianceConfigError(f"{source}: {top}: unknown key(s) {', '.join(unknown)}; expected Accounts")
        accounts = body.get("Accounts") or {}
        if not isinstance(accounts, dict):
            raise ComplianceConfigError(f"{source}: {top}.Accounts: expected a mapping")
        entries = []
        for account, block in accounts.items():
            where = f"{source}: {top}.Accounts.{account}"
            checks = (block or {}).get("Checks") if isinstance(block, dict) else None
            if not isinstance(checks, dict):
                raise ComplianceConfigError(f"{where}.Checks: expected a mapping of check id to entry")
            for check_id, entry in checks.items():
                entries.append(_entry(str(account), str(check_id), entry, f"{where}.Checks.{check_id}"))
        return cls(entries, source)

    def active(self, now: datetime) -> list[MuteEntry]:
        """Entries still muting at ``now``."""
        return [e for e in self.entries if not e.expired(now)]

    def apply(self, findings: Iterable[Finding], now: datetime) -> list[Finding]:
        """Return the findings with each FAIL that an unexpired entry covers turned into MUTED."""
        active = self.active(now)
        out = []
        for f in findings:
            entry = next((e for e in active if e.matches(f)), None) if f.status == FAIL else None
            out.append(f.with_status(MUTED, muted_by={**entry.describe(), "mutelist": self.source}) if entry else f)
        return out

    def expired_entries(self, now: datetime, findings: Iterable[Finding] = (), accounts: Iterable[str] = ()) -> list[ExpiredSuppression]:
        """Expired entries relevant to these accounts, each with how many FAIL findings it would have muted."""
        fails = [f for f in findings if f.status == FAIL]
        wanted = set(accounts) | {f.account_id for f in fails}
        out: list[ExpiredSuppression] = []
        for e in self.entries:
            if not e.expired(now) or (e.account != "*" and wanted and e.account not in wanted):
                continue
            out.append({**e.describe(), "would_mute": sum(1 for f in fails if e.matches(f)), "mutelist": self.source})
        return out

    def __len__(self) -> int:
        return len(self.entries)


def _entry(account: str, check_id: str, entry: Any, where: str) -> MuteEntry:
    if not isinstance(entry, dict):
        raise ComplianceConfigError(f"{where}: expected a mapping")
    unknown = sorted(set(entry) - _ENTRY_KEYS)
    if unknown:
        raise ComplianceConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; expected {', '.join(sorted(_ENTRY_KEYS))}")
    for required in ("Regions", "Resources"):
        if required not in entry:
            raise ComplianceConfigError(f"{where}: {required} is required (use [\"*\"] for all)")
    _compile(check_id, f"{where} (check id)")
    exceptions = entry.get("Exceptions") or {}
    if not isinstance(exceptions, dict) or set(exceptions) - _EXCEPTION_KEYS:
        raise ComplianceConfigError(f"{where}.Exceptions: expected a mapping with {', '.join(sorted(_EXCEPTION_KEYS))}")
    raw_expiry = entry.get("expires")
    return MuteEntry(
        account=account,
        check=check_id,
        regions=_patterns(entry.get("Regions"), f"{where}.Regions"),
        resources=_patterns(entry.get("Resources"), f"{where}.Resources"),
        tags=_patterns(entry.get("Tags"), f"{where}.Tags"),
        exceptions={k: _patterns(v, f"{where}.Exceptions.{k}") for k, v in exceptions.items()},
        description=str(entry.get("Description") or ""),
        owner=str(entry.get("owner") or ""),
        reason=str(entry.get("reason") or ""),
        expires=_expiry(raw_expiry, f"{where}.expires"),
        expires_text=None if raw_expiry is None else str(raw_expiry),
    )
