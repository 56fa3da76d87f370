"""Findings: what one check concluded about one resource, in the shape of the report contract.

A check function yields :class:`Result` objects (status, resource, message, extra fields); the
registry adds the check's metadata (ID, severity, CIS controls, remediation) and turns them into
:class:`Finding` objects. ``Finding.to_dict`` is the ``findings.json`` contract (DESIGN.md).

Redaction happens once, where a value enters a finding: constructing a :class:`Finding` (also
through ``with_status``, ``dataclasses.replace`` and ``from_dict``) passes every string field,
tag, extra value and mute note through :func:`~iamflow.secrets.hygiene.redact`, so no secret
value can reach a report, an XCom or a log through a finding, and the writers need not redact.

Most findings hold nothing to redact, and redacting costs a call per field: a finding first joins
the texts that vary (resource, message, resource id, tag values, string extra values and the
items of flat extra lists) with newlines, which no secret run contains, and searches the whole
once for a run of 40 secret-key characters, the test :func:`~iamflow.secrets.hygiene.redact_text`
starts with; the texts a check repeats (check id, account, region, remediation, title, resource
type) are judged once per combination, and control ids by their length. With nothing found,
every field is left as it is (what the redaction would have returned; flat extra lists become
lists, as redaction makes them); otherwise, or with a nested extra value or a mute note, every
field is redacted one by one as before.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from iamflow.secrets.hygiene import _ANY_RUN, redact, redact_text

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

# extra values that redaction leaves as they are (it changes strings, and copies dicts, lists and tuples)
_SCALARS = (int, float, bool, type(None), datetime, date)

# titles and remediations repeat in every finding of a check: redact each distinct text once
_redact_cached = lru_cache(maxsize=4096)(redact_text)


@lru_cache(maxsize=1024)
def _fixed_texts_clean(texts: tuple[str, ...]) -> bool:
    """Whether redaction leaves each of these texts (the ones a check repeats in all its findings) unchanged."""
    return all(isinstance(t, str) and redact_text(t) == t for t in texts)


def _clean_text(value: str) -> str:
    if len(value) < 40:  # too short to hold a secret access key: redact_text returns it unchanged
        return value
    return _redact_cached(value) if len(value) < 2000 else redact_text(value)


# further fixed fields every finding carries; extra fields may not reuse any of these names
FIXED_FIELDS = CONTRACT_FIELDS + ("uid", "title", "resource_id", "resource_type", "tags", "muted_by")
_FIXED_SET = frozenset(FIXED_FIELDS)


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
    bad = [k for k in kwargs if k in _FIXED_SET]
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
        if self._nothing_to_redact():
            return
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

    def _nothing_to_redact(self) -> bool:
        """True when redaction would leave every value as it is (flat extra lists are then copied as lists).

        The texts that vary per finding are joined with newlines (not a secret-key character, so a
        run never spans two fields) and searched once; the texts a check repeats in every finding
        (check id, account, region, remediation, title, resource type) are judged once per distinct
        combination. A value the join cannot take (not a string, a nested extra value, a mute
        note) answers False: the caller then redacts field by field, as always.
        """
        try:
            if self.muted_by or not _fixed_texts_clean((self.check_id, self.account_id, self.region,
                                                         self.remediation, self.title, self.resource_type)):
                return False
        except TypeError:  # a field that is not even hashable
            return False
        for ids in self.compliance.values():
            for c in ids:
                if len(c) >= 40:
                    return False
        texts = [self.resource_arn, self.message, self.resource_id, *self.tags.values()]
        lists = []
        for key, value in self.extra.items():
            if isinstance(value, str):
                texts.append(value)
            elif isinstance(value, (list, tuple)):
                for item in value:
                    if isinstance(item, str):
                        texts.append(item)
                    elif not isinstance(item, _SCALARS):
                        return False
                lists.append(key)
            elif not isinstance(value, _SCALARS):
                return False
        try:
            joined = "\n".join(texts)
        except TypeError:  # a field that is not a string
            return False
        if len(joined) >= 40 and _ANY_RUN.search(joined) is not None:
            return False
        if lists:  # what redact() gives a flat list or tuple: a new list of the same items
            object.__setattr__(self, "extra", {k: list(v) if k in lists else v for k, v in self.extra.items()})
        return True

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
