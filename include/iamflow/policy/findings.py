"""What the policy validator reports: a finding, its severity, its stable code, and the table of codes.

Every rule has a code (``unknown-action``, ``trust-open-to-anyone`` ...) that users' ``waive:``
entries name and that ``iamflow lint --json`` prints, so codes never change once released. A code
belongs to one severity:

- ``error``: AWS would refuse the document, or silently ignore part of it (an unknown action
  grants nothing; a misspelt condition key never matches). The playbook is refused: exit 1 and no
  AWS call. Grammar and catalog errors cannot be waived; the five rules iamflow had before the
  validator (``allow-star-star`` ...) stay waivable errors, except ``hardcoded-credential``.
- ``security_warning``: the document does what it says, and what it says is dangerous (a trust
  anyone can assume, PassRole on ``*``).
- ``warning``: probably not what was meant (a ForAllValues on a single-valued key).
- ``suggestion``: a better way to write the same thing.

Only errors refuse a playbook; the other severities are shown in lint and plan and can be waived.
"""

from __future__ import annotations

from dataclasses import dataclass

ERROR = "error"
SECURITY_WARNING = "security_warning"
WARNING = "warning"
SUGGESTION = "suggestion"
SEVERITIES = (ERROR, SECURITY_WARNING, WARNING, SUGGESTION)

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Code:
    """A rule's stable code, its severity, whether a ``waive:`` entry may accept it, and what it means."""

    code: str
    severity: str
    waivable: bool
    summary: str
    group: str  # for the table in docs/: grammar, catalog, size, security, legacy, playbook


@dataclass(frozen=True)
class Finding:
    """One rule a policy document breaks, and where inside the document (``("Statement", 1, "Action", 0)``)."""

    code: str
    message: str
    path: Path = ()

    @property
    def severity(self) -> str:
        return CODES[self.code].severity

    @property
    def waivable(self) -> bool:
        return CODES[self.code].waivable

    @property
    def where(self) -> str:
        """The path as text: ``Statement[1].Action[0]`` (empty for the whole document)."""
        return path_text(self.path)


def path_text(path: Path) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


CODES: dict[str, Code] = {}


def code(name: str, severity: str, summary: str, *, group: str, waivable: bool | None = None) -> str:
    """Register a code (at import of the module that owns the rule) and return its name."""
    if severity not in SEVERITIES:
        raise ValueError(f"unknown severity {severity!r}")
    if name in CODES:
        raise ValueError(f"code {name!r} is registered twice")
    CODES[name] = Code(name, severity, severity != ERROR if waivable is None else waivable, summary, group)
    return name
