"""docs/policy-validation.md lists every code with its severity and waivability, exactly as registered.

Regenerate the table after adding a rule: ``PYTHONPATH=include python tests/unit/policy/test_policy_codes_doc.py``
prints it; paste it between the markers.
"""

from __future__ import annotations

import re
from pathlib import Path

import iamflow.policy.validate  # noqa: F401  (registers the validator's codes)
import iamflow.spec.codes  # noqa: F401  (registers the loader's codes)
from iamflow.policy.findings import CODES

DOC = Path(__file__).resolve().parents[3] / "docs" / "policy-validation.md"
BEGIN, END = "<!-- codes:begin -->", "<!-- codes:end -->"
GROUPS = ("grammar", "size", "catalog", "security", "legacy", "playbook")


def table() -> str:
    lines = ["| Code | Severity | Waivable | Meaning |", "|---|---|---|---|"]
    for group in GROUPS:
        for c in sorted((c for c in CODES.values() if c.group == group), key=lambda c: c.code):
            lines.append(f"| `{c.code}` | {c.severity} | {'yes' if c.waivable else 'no'} | {c.summary} |")
    return "\n".join(lines)


def documented() -> str:
    text = DOC.read_text()
    m = re.search(re.escape(BEGIN) + r"\n(.*?)\n" + re.escape(END), text, re.DOTALL)
    assert m, f"{DOC} has no {BEGIN} ... {END} block"
    return m.group(1).strip()


def test_every_code_belongs_to_a_documented_group() -> None:
    assert {c.group for c in CODES.values()} <= set(GROUPS)


def test_the_table_in_the_docs_is_the_registered_codes() -> None:
    assert documented() == table(), "docs/policy-validation.md is stale: regenerate its table (see this module)"


if __name__ == "__main__":
    print(table())
