"""Findings: what one check concluded about one resource, in the shape of the report contract.

A check function yields :class:`Result` objects (status, resource, message, extra fields); the
registry adds the check's metadata (ID, severity, CIS controls, remediation) and turns them into
:class:`Finding` objects. ``Finding.to_dict`` is the ``findings.json`` contract (DESIGN.md).

Redaction happens once, where a value enters a finding: constructing a :class:`Finding` (also
through ``with_status``, ``dataclasses.replace`` and ``from_dict``) passes every string field,
tag, extra value and mute note through :func:`~iamflow.secrets.hygiene.redact`, so no secret
value can reach a report, an XCom or a log through a finding, and the writers need not redact.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from iamflow.secrets.hygiene import redact, redact_text

PASS, FAIL, ERROR, MUTED = "PASS", "FAIL", "ERROR", "MUTED"
STATUSES = (PASS, FAIL, ERROR, MUTED)
SEVERITIES = ("critical", "high", "medium", "low", "informational")
GLOBAL_REGION = "global"

# the findings.json contract, in the order written to CSV
CONTRACT_FIELDS = (
    "check_id",
    "status",
    "severity",
    "account_id",
    "region",
    "resource_arn",
    "message",
    "remediation",
    "compliance",
)
# the string fields of a finding redacted on construction
_TEXT_FIELDS = ("check_id", "account_id", "region", "resource_arn", "message", "remediation", "title", "resource_id",
                "resource_type")

# titles and remediations repeat in every finding of a check: redact each distinct text once
_redact_cached = lru_cache(maxsize=4096)(redact_text)


def _clean_text(value: str) -> str:
    if len(value) < 40:  # too short to hold a secret access key: redact_text returns it unchanged
        return value
    return _redact_cached(value) if len(value) < 2000 else redact_text(value)


# further fixed fields every finding carries; extra fields may not reuse any of these names
FIXED_FIELDS = CONTRACT_FIELDS + ("uid", "title", "resource_id", "resource_type", "tags", "muted_by")


@dataclass(frozen=True)
class Result:
    """One conclusion of a check function, before the registry adds the check's metadata."""

    status: str
    resource_arn: str
    message: str
    resource_id: str = ""
    region: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def _result(status: str, resource_arn: str, message: str, **kwargs: Any) -> Result:
    resource_id = str(kwargs.pop("resource_id", "") or "")
    region = kwargs.pop("region", None)
    tags = dict(kwargs.pop("tags", None) or {})
    bad = [k for k in kwargs if k in FIXED_FIELDS]
    if bad:
        raise ValueError(f"extra field(s) {bad} clash with the fixed finding fields")
    return Result(status, resource_arn, message, resource_id, region, tags, dict(kwargs))


def passed(resource_arn: str, message: str, **kwargs: Any) -> Result:
    """A PASS result; keyword arguments other than resource_id/region/tags become extra fields."""
    return _result(PASS, resource_arn, message, **kwargs)


def failed(resource_arn: str, message: str, **kwargs: Any) -> Result:
    """A FAIL result; keyword arguments other than resource_id/region/tags become extra fields."""
    return _result(FAIL, resource_arn, message, **kwargs)


def errored(resource_arn: str, message: str, **kwargs: Any) -> Result:
    """An ERROR result: the check could not decide for this resource (say why in the message)."""
    return _result(ERROR, resource_arn, message, **kwargs)


@dataclass(frozen=True)
class Finding:
    """One finding of the report contract: a check's verdict on one resource of one account."""

    check_id: str
    status: str
    severity: str
    account_id: str
    region: str
    resource_arn: str
    message: str
    remediation: str
    compliance: dict[str, list[str]]
    title: str = ""
    resource_id: str = ""
    resource_type: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    muted_by: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {self.status!r}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, not {self.severity!r}")
        self._redact()

    def _redact(self) -> None:
        """Redact every value of this finding in place (the one redaction between a check and a report)."""
        for name in _TEXT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, str):
                object.__setattr__(self, name, _clean_text(value))
        if self.tags:
            object.__setattr__(self, "tags", redact(self.tags))
        if self.extra:
            object.__setattr__(self, "extra", redact(self.extra))
        if self.muted_by:
            object.__setattr__(self, "muted_by", redact(self.muted_by))
        if any(len(c) >= 40 for ids in self.compliance.values() for c in ids):  # control ids: short, as a rule
            object.__setattr__(self, "compliance", redact(self.compliance))

    @property
    def uid(self) -> str:
        """A stable identity across runs: the same check on the same resource (and key) gives the same uid."""
        parts = (
            self.check_id,
            self.account_id,
            self.region,
            self.resource_arn,
            self.resource_id,
            str(self.extra.get("access_key", "")),
        )
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]

    def with_status(self, status: str, **changes: Any) -> Finding:
        """Return a copy with another status (and any other field changed)."""
        return replace(self, status=status, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Return the findings.json shape: the contract fields, fixed fields, then extra fields at top level."""
        out: dict[str, Any] = {
            "check_id": self.check_id,
            "status": self.status,
            "severity": self.severity,
            "account_id": self.account_id,
            "region": self.region,
            "resource_arn": self.resource_arn,
            "message": self.message,
            "remediation": self.remediation,
            "compliance": {k: list(v) for k, v in self.compliance.items()},
            "uid": self.uid,
            "title": self.title,
            "resource_id": self.resource_id,
            "resource_type": self.resource_type,
            "tags": dict(self.tags),
            "muted_by": dict(self.muted_by) if self.muted_by else None,
        }
        for key, value in self.extra.items():
            out.setdefault(key, value)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        """Rebuild a finding from :meth:`to_dict` output (extra fields are the unknown keys)."""
        extra = {k: v for k, v in data.items() if k not in FIXED_FIELDS}
        return cls(
            check_id=data["check_id"],
            status=data["status"],
            severity=data["severity"],
            account_id=data["account_id"],
            region=data["region"],
            resource_arn=data["resource_arn"],
            message=data["message"],
            remediation=data.get("remediation", ""),
            compliance={k: list(v) for k, v in (data.get("compliance") or {}).items()},
            title=data.get("title", ""),
            resource_id=data.get("resource_id", ""),
            resource_type=data.get("resource_type", ""),
            tags=dict(data.get("tags") or {}),
            extra=extra,
            muted_by=data.get("muted_by"),
        )


def summarize(findings: list[Finding]) -> dict[str, int]:
    """Count findings per status (every status present, zero when absent)."""
    counts = dict.fromkeys(STATUSES, 0)
    for f in findings:
        counts[f.status] += 1
    return counts
