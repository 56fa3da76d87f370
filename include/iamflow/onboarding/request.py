"""A team's onboarding request: the form, its validation, and what a request may ask for.

A request names a team (a slug), an environment (from ``include/onboarding.yaml``), owner e-mail
addresses and optional extra managed policies (from the allowed list there). Every name the
team's resources get derives from the validated :class:`TeamRequest`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from iamflow.errors import IamflowError
from iamflow.settings import onboarding_config_path, teams_dir

ONBOARD, OFFBOARD = "onboard", "offboard"
TEAM_RE = re.compile(r"^[a-z][a-z0-9-]{1,30}$")
# Stricter than RFC 5322 on purpose: the owners also go into an AWS tag value, which allows
# letters, digits, spaces and _.:/=+-@ only.
EMAIL_RE = re.compile(r"^[A-Za-z0-9._+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
MAX_OWNERS = 10
TAG_VALUE_LIMIT = 256
PENDING_DIR = ".pending"


class RequestError(IamflowError):
    """An onboarding request that cannot go ahead; every problem names the form field it is about."""

    def __init__(self, problems: Iterable[tuple[str | None, str]]):
        self.problems = list(problems)
        super().__init__("\n".join(_problem_text(f, m) for f, m in self.problems) or "invalid request")


def _problem_text(field_name: str | None, message: str) -> str:
    return f"field {field_name!r}: {message}" if field_name else message


# --- configuration ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class OnboardingConfig:
    """``include/onboarding.yaml``: what a request may ask for and where team playbooks go."""

    environments: tuple[str, ...]
    extra_policies: dict[str, str]
    teams_dir: Path
    boundary_arn: str
    user_pool: str
    kms_pending_days: int = 30
    secret_recovery_days: int = 30
    rotation_lambda_arn: str = ""
    rotation_days: int = 30
    approval_timeout_hours: float = 24.0
    source: str = ""

    @property
    def pending_dir(self) -> Path:
        return self.teams_dir / PENDING_DIR


def load_config(path: str | Path | None = None) -> OnboardingConfig:
    """Read and check the onboarding configuration; ``$IAMFLOW_TEAMS_DIR`` overrides ``teams_dir``."""
    path = Path(path) if path is not None else onboarding_config_path()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise IamflowError(f"{path}: cannot read the onboarding configuration: {exc}") from exc
    if not isinstance(raw, dict):
        raise IamflowError(f"{path}: must be a mapping")

    def bad(key: str, message: str) -> IamflowError:
        return IamflowError(f"{path}: {key}: {message}")

    environments = raw.get("environments") or []
    if not isinstance(environments, list) or not environments or not all(
            isinstance(e, str) and re.match(r"^[a-z][a-z0-9]{0,15}$", e) for e in environments):
        raise bad("environments", "a non-empty list of short lower-case names (letters and digits)")
    policies = raw.get("extra_policies") or {}
    if not isinstance(policies, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v.startswith("arn:") and ":policy/" in v
            for k, v in policies.items()):
        raise bad("extra_policies", "a map of policy name to managed policy ARN")
    pool = str(raw.get("user_pool") or "")
    if "/" not in pool:
        raise bad("user_pool", "<playbook>/<pool>, e.g. myapp-auth/myapp-users")
    days = {k: int(raw.get(k, 30)) for k in ("kms_pending_days", "secret_recovery_days")}
    for key, value in days.items():
        if not 7 <= value <= 30:
            raise bad(key, f"must be 7 to 30 days, got {value}")
    teams = teams_dir(raw.get("teams_dir"))
    return OnboardingConfig(
        environments=tuple(environments),
        extra_policies=dict(policies),
        teams_dir=teams,
        boundary_arn=str(raw.get("boundary_arn") or ""),
        user_pool=pool,
        kms_pending_days=days["kms_pending_days"],
        secret_recovery_days=days["secret_recovery_days"],
        rotation_lambda_arn=str(raw.get("rotation_lambda_arn") or ""),
        rotation_days=int(raw.get("rotation_days") or 30),
        approval_timeout_hours=float(raw.get("approval_timeout_hours") or 24),
        source=str(path),
    )


# --- the request -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TeamRequest:
    """A validated request; every name the team's resources get derives from it."""

    action: str
    team: str
    environment: str
    owners: tuple[str, ...] = ()
    extra_policies: tuple[str, ...] = ()

    @property
    def slug(self) -> str:
        return f"{self.team}-{self.environment}"

    @property
    def playbook_name(self) -> str:
        return f"team-{self.slug}"

    role_name = key_name = playbook_name

    @property
    def alias(self) -> str:
        return f"alias/team-{self.slug}"

    @property
    def secret_name(self) -> str:
        return f"teams/{self.team}/{self.environment}/service-credentials"

    @property
    def group_name(self) -> str:
        return f"team-{self.team}"

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "team": self.team, "environment": self.environment,
                "owners": list(self.owners), "extra_policies": list(self.extra_policies)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TeamRequest:
        return cls(str(data["action"]), str(data["team"]), str(data["environment"]),
                   tuple(data.get("owners") or ()), tuple(data.get("extra_policies") or ()))


def form_schema(config: OnboardingConfig, action: str = ONBOARD) -> dict[str, dict[str, Any]]:
    """The trigger form, as keyword arguments for Airflow ``Param`` objects (JSON schema), by field.

    Offboarding asks for the team and the environment only.
    """
    fields: dict[str, dict[str, Any]] = {
        "team": {
            "type": "string", "pattern": TEAM_RE.pattern, "minLength": 2, "maxLength": 31,
            "title": "Team",
            "description": "The team's slug: a lower-case letter, then 1-30 lower-case letters, digits or '-'.",
        },
        "environment": {
            "type": "string", "enum": list(config.environments), "title": "Environment",
            "description": "Where the team's role, key, secret and group are created.",
        },
    }
    if action == ONBOARD:
        fields["owners"] = {
            "type": "array", "minItems": 1, "maxItems": MAX_OWNERS, "uniqueItems": True,
            "items": {"type": "string", "pattern": EMAIL_RE.pattern},
            "title": "Owners",
            "description": "E-mail addresses of the people accountable for the team's access (one per line).",
        }
        fields["extra_policies"] = {
            "type": "array", "uniqueItems": True, "default": [],
            "items": {"type": "string", "enum": sorted(config.extra_policies)},
            "title": "Extra managed policies",
            "description": "Optional, from the allowed list; the developer-boundary still caps the role.",
        }
    return fields


def validate_request(params: Mapping[str, Any], config: OnboardingConfig, action: str = ONBOARD) -> TeamRequest:
    """Check a request as the form should have (and a bit more); raise ``RequestError`` naming each field."""
    problems: list[tuple[str | None, str]] = []
    team = params.get("team")
    if not isinstance(team, str) or not TEAM_RE.match(team):
        problems.append(("team", f"{team!r} is not a team slug: a lower-case letter, then 1-30 lower-case "
                                 "letters, digits or '-' (e.g. payments-api)"))
    elif team.endswith("-") or "--" in team:
        problems.append(("team", f"{team!r}: no trailing '-' and no '--' (the names built from it would be odd)"))
    environment = params.get("environment")
    if environment not in config.environments:
        problems.append(("environment", f"{environment!r} is not an environment of {config.source or 'the config'}"
                                        f" (allowed: {', '.join(config.environments)})"))
    owners: list[str] = []
    policies: list[str] = []
    if action == ONBOARD:
        raw_owners = params.get("owners")
        if isinstance(raw_owners, str):  # a single address typed where a list was expected
            raw_owners = [raw_owners]
        if not isinstance(raw_owners, list) or not raw_owners:
            problems.append(("owners", "give at least one owner e-mail address"))
        else:
            owners = [str(o).strip() for o in raw_owners]
            bad = [o for o in owners if not EMAIL_RE.match(o)]
            if bad:
                problems.append(("owners", f"not an e-mail address: {', '.join(repr(b) for b in bad)}"))
            if len(set(owners)) != len(owners):
                problems.append(("owners", "lists the same address twice"))
            if len(owners) > MAX_OWNERS:
                problems.append(("owners", f"at most {MAX_OWNERS} owners, got {len(owners)}"))
            if len(" ".join(owners)) > TAG_VALUE_LIMIT:
                problems.append(("owners", f"together longer than {TAG_VALUE_LIMIT} characters (they go into "
                                           "the Owners tag)"))
        raw_policies = params.get("extra_policies")
        if raw_policies is None:
            raw_policies = []
        if not isinstance(raw_policies, list):
            problems.append(("extra_policies", "must be a list of policy names"))
        else:
            policies = [str(p) for p in raw_policies]
            unknown = [p for p in policies if p not in config.extra_policies]
            if unknown:
                problems.append(("extra_policies", f"not on the allowed list: {', '.join(repr(u) for u in unknown)} "
                                                   f"(allowed: {', '.join(sorted(config.extra_policies))})"))
            if len(set(policies)) != len(policies):
                problems.append(("extra_policies", "lists the same policy twice"))
    if problems:
        raise RequestError(problems)
    return TeamRequest(action, str(team), str(environment), tuple(owners), tuple(policies))
