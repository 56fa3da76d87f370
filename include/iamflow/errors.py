"""The one exception hierarchy of iamflow.

Validation errors and permanent AWS errors are not worth a retry; throttling and transient errors
are left as botocore raised them so that Airflow's retries apply.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class IamflowError(Exception):
    """Base class of every error iamflow raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a playbook: where it is, what is wrong, and the stable code of the rule.

    ``severity`` is ``error`` (the playbook is refused), ``security_warning``, ``warning`` or
    ``suggestion`` (shown, never refusing). ``rule`` is the code a ``waive:`` entry can name, shown
    in brackets; ``code`` is the rule's code for every problem (``iamflow lint --json``).
    """

    file: str
    resource: str | None
    field: str | None
    message: str
    rule: str | None = None
    severity: str = "error"
    line: int | None = None  # 1-based place in ``file``, when known
    column: int | None = None
    code: str | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}" + (f":{self.column}" if self.column is not None else "")
        if self.resource:
            where += f": resource {self.resource!r}"
        if self.field:
            where += f", field {self.field!r}"
        rule = f" [{self.rule}]" if self.rule else ""
        prefix = "" if self.severity == "error" else f"{self.severity.replace('_', ' ')}: "
        return f"{where}: {prefix}{self.message}{rule}"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def to_json(self) -> dict[str, object]:
        """The problem as ``iamflow lint --json`` prints it (a contract: the keys never change)."""
        return {
            "file": self.file, "resource": self.resource, "path": self.field, "line": self.line,
            "column": self.column, "severity": self.severity, "code": self.code or self.rule or "invalid",
            "message": self.message,
        }


class ValidationError(IamflowError):
    """A playbook (or several) failed validation; carries every problem found, not only the first."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems) or "validation failed")


class CheckModeViolation(IamflowError):
    """A write call was attempted by a client that is in check (read-only) mode."""


class PermanentAwsError(IamflowError):
    """An AWS error that a retry will not fix (access denied, malformed input, missing dependency)."""


class ApplyError(PermanentAwsError):
    """Applying a resource's plan failed; the message names the resource and the step."""
