"""Sweep settings from ``include/compliance.yaml``: thresholds, collection limits, enabled checks, posture gate.

Every key is optional (the defaults are the CIS AWS Foundations v3.0 values); an unknown key is an
error that names the file and the key, so a typo never silently keeps a default.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import timedelta
from pathlib import Path
from typing import Any

from iamflow.compliance.patterns import cached_pattern, compile_pattern
from iamflow.errors import IamflowError
from iamflow.settings import compliance_config_path

MAX_REPORT_AGE = timedelta(hours=4)


class ComplianceConfigError(IamflowError):
    """``compliance.yaml`` (or a mutelist or targets file) is malformed; the message names file and key."""



def read_yaml_file(file: Path, what: str = "file") -> dict[str, Any]:
    """Read a settings file as YAML (an empty file is an empty mapping); errors name the file.

    The file is read by the same bounded reader as playbooks: a size limit, UTF-8 only, no
    anchors or aliases, no duplicate keys, bounded nesting.
    """
    from iamflow.spec.source import SourceError, load_yaml, read_text

    if not file.exists():
        raise ComplianceConfigError(f"{file}: no such {what}")
    try:
        data, _positions = load_yaml(read_text(file))
    except SourceError as exc:
        raise ComplianceConfigError(f"{file}: the {what} cannot be read: {exc.describe(with_detail=True)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ComplianceConfigError(f"{file}: the {what} must be a mapping, not {type(data).__name__}")
    return data

@dataclass(frozen=True)
class Thresholds:
    """The numbers the checks compare against."""

    access_key_max_age_days: int = 90
    credential_unused_days: int = 45
    root_usage_days: int = 1
    password_min_length: int = 14
    password_reuse_prevention: int = 24
    password_max_age_days: int = 90
    kms_max_rotation_period_days: int = 365
    secret_max_rotation_age_days: int = 90
    secret_never_rotated_grace_days: int = 7
    secret_unused_days: int = 90
    cognito_password_min_length: int = 14
    cognito_temporary_password_max_days: int = 7
    cognito_access_token_max_minutes: int = 60
    cognito_id_token_max_minutes: int = 60
    cognito_refresh_token_max_days: int = 30


@dataclass(frozen=True)
class RoleSelector:
    """Which roles a rule applies to: any listed path prefix, name regex or tag matches (empty: none)."""

    paths: tuple[str, ...] = ()
    name_patterns: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        """Whether the selector selects nothing."""
        return not (self.paths or self.name_patterns or self.tags)

    def matches(self, path: str, name: str, tags: dict[str, str]) -> bool:
        """Return True when the role's path, name or tags match the selector."""
        if any(path.startswith(p) for p in self.paths):
            return True
        if any(cached_pattern(p).fullmatch(name) for p in self.name_patterns):
            return True
        return any(tags.get(k) == v for k, v in self.tags.items())


@dataclass(frozen=True)
class CollectionSettings:
    """Limits of the collector."""

    credential_report_max_age: timedelta = MAX_REPORT_AGE
    credential_report_timeout_seconds: float = 300.0
    # The credential report has no access key ids, and finding one costs a ListAccessKeys call per
    # user; this caps those calls per account (only failing keys are looked up). 0 turns it off.
    access_key_id_lookups: int = 20


POSTURE_ACTIONS = ("fail", "notify", "ignore")
POSTURE_SEVERITIES = ("critical", "high", "medium", "low", "informational")


@dataclass(frozen=True)
class PostureSettings:
    """The posture gate after the reports are written (``posture:``; see :mod:`iamflow.compliance.posture`).

    ``on_new_fail``: what new FAIL findings at ``min_severity`` or worse do to the sweep's DAG run:
    ``fail`` it, only ``notify``, or ``ignore`` them (the counts are still logged).
    """

    on_new_fail: str = "notify"
    min_severity: str = "high"


@dataclass(frozen=True)
class ComplianceConfig:
    """Everything the sweep reads from ``compliance.yaml``."""

    thresholds: Thresholds = field(default_factory=Thresholds)
    collection: CollectionSettings = field(default_factory=CollectionSettings)
    boundary_required: RoleSelector = field(default_factory=RoleSelector)
    enabled: tuple[str, ...] | None = None  # None: every registered check
    disabled: frozenset[str] = frozenset()
    source: str = "<defaults>"
    posture: PostureSettings = field(default_factory=PostureSettings)

    def is_enabled(self, check_id: str) -> bool:
        """Whether a check runs."""
        if check_id in self.disabled:
            return False
        return self.enabled is None or check_id in self.enabled

    @classmethod
    def load(cls, path: str | Path | None = None) -> ComplianceConfig:
        """Load a config file (the shipped ``include/compliance.yaml`` when omitted; defaults if absent)."""
        file = Path(path) if path is not None else compliance_config_path()
        if path is None and not file.exists():
            return cls()
        return cls.from_dict(read_yaml_file(file), source=str(file))

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "<dict>") -> ComplianceConfig:
        """Build a config from a mapping shaped like ``compliance.yaml``."""
        _expect_mapping(data, source, "")
        _no_unknown(data, {"thresholds", "collection", "roles", "checks", "posture"}, source, "")
        thresholds = _thresholds(data.get("thresholds") or {}, source)
        collection = _collection(data.get("collection") or {}, source)
        roles = data.get("roles") or {}
        _expect_mapping(roles, source, "roles")
        _no_unknown(roles, {"permissions_boundary_required"}, source, "roles")
        selector = _selector(roles.get("permissions_boundary_required") or {}, source)
        checks = data.get("checks") or {}
        _expect_mapping(checks, source, "checks")
        _no_unknown(checks, {"enabled", "disabled"}, source, "checks")
        enabled_raw = checks.get("enabled", "*")
        enabled = None if enabled_raw in ("*", None, ["*"]) else tuple(_str_list(enabled_raw, source, "checks.enabled"))
        disabled = frozenset(_str_list(checks.get("disabled") or [], source, "checks.disabled"))
        posture = _posture(data.get("posture") or {}, source)
        config = cls(thresholds, collection, selector, enabled, disabled, source, posture)
        config.validate_check_ids()
        return config

    def validate_check_ids(self, known: Iterable[str] | None = None) -> None:
        """Raise when ``checks.enabled`` or ``checks.disabled`` names a check that does not exist."""
        if known is None:
            from iamflow.compliance.registry import all_checks

            known = [c.id for c in all_checks()]
        known_set = set(known)
        unknown = sorted((set(self.enabled or ()) | self.disabled) - known_set)
        if unknown:
            raise ComplianceConfigError(f"{self.source}: checks: unknown check id(s): {', '.join(unknown)}")


def _expect_mapping(value: Any, source: str, where: str) -> None:
    if not isinstance(value, dict):
        raise ComplianceConfigError(f"{source}: {where or 'top level'}: expected a mapping, got {type(value).__name__}")


def _no_unknown(data: dict[str, Any], allowed: set[str], source: str, where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        prefix = f"{where}." if where else ""
        raise ComplianceConfigError(
            f"{source}: unknown key(s) {', '.join(prefix + str(k) for k in unknown)}; expected {', '.join(sorted(allowed))}"
        )


def _str_list(value: Any, source: str, where: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ComplianceConfigError(f"{source}: {where}: expected a list of strings")
    return list(value)


def _number(value: Any, source: str, where: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ComplianceConfigError(f"{source}: {where}: expected a non-negative number, got {value!r}")
    return value


def _thresholds(data: Any, source: str) -> Thresholds:
    _expect_mapping(data, source, "thresholds")
    names = {f.name for f in fields(Thresholds)}
    _no_unknown(data, names, source, "thresholds")
    return Thresholds(**{k: int(_number(v, source, f"thresholds.{k}")) for k, v in data.items()})


def _collection(data: Any, source: str) -> CollectionSettings:
    _expect_mapping(data, source, "collection")
    allowed = {"credential_report_max_age_hours", "credential_report_timeout_seconds", "access_key_id_lookups"}
    _no_unknown(data, allowed, source, "collection")
    kwargs: dict[str, Any] = {}
    if "credential_report_max_age_hours" in data:
        hours = _number(data["credential_report_max_age_hours"], source, "collection.credential_report_max_age_hours")
        if timedelta(hours=hours) > MAX_REPORT_AGE:
            raise ComplianceConfigError(
                f"{source}: collection.credential_report_max_age_hours: at most 4 (a staler report hides recent changes)"
            )
        kwargs["credential_report_max_age"] = timedelta(hours=hours)
    if "credential_report_timeout_seconds" in data:
        kwargs["credential_report_timeout_seconds"] = float(
            _number(data["credential_report_timeout_seconds"], source, "collection.credential_report_timeout_seconds")
        )
    if "access_key_id_lookups" in data:
        kwargs["access_key_id_lookups"] = int(_number(data["access_key_id_lookups"], source, "collection.access_key_id_lookups"))
    return CollectionSettings(**kwargs)


def _selector(data: Any, source: str) -> RoleSelector:
    where = "roles.permissions_boundary_required"
    _expect_mapping(data, source, where)
    _no_unknown(data, {"paths", "name_patterns", "tags"}, source, where)
    patterns = _str_list(data.get("name_patterns") or [], source, f"{where}.name_patterns")
    for p in patterns:
        try:
            compile_pattern(p)
        except re.error as exc:
            raise ComplianceConfigError(f"{source}: {where}.name_patterns: bad regex {p!r}: {exc}") from exc
        except ValueError as exc:
            raise ComplianceConfigError(f"{source}: {where}.name_patterns: pattern {p!r} refused: {exc}") from exc
    tags = data.get("tags") or {}
    _expect_mapping(tags, source, f"{where}.tags")
    return RoleSelector(
        paths=tuple(_str_list(data.get("paths") or [], source, f"{where}.paths")),
        name_patterns=tuple(patterns),
        tags={str(k): str(v) for k, v in tags.items()},
    )


def _choice(data: dict[str, Any], key: str, allowed: tuple[str, ...], default: str, source: str, where: str) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or value not in allowed:
        raise ComplianceConfigError(f"{source}: {where}.{key}: expected one of {', '.join(allowed)}, got {value!r}")
    return value


def _posture(data: Any, source: str) -> PostureSettings:
    _expect_mapping(data, source, "posture")
    _no_unknown(data, {"on_new_fail", "min_severity"}, source, "posture")
    defaults = PostureSettings()
    return PostureSettings(
        on_new_fail=_choice(data, "on_new_fail", POSTURE_ACTIONS, defaults.on_new_fail, source, "posture"),
        min_severity=_choice(data, "min_severity", POSTURE_SEVERITIES, defaults.min_severity, source, "posture"),
    )
