"""The grammar of a policy document: elements, their combinations, value shapes, and size."""

from __future__ import annotations

from typing import Any

from iamflow.policy.doctypes import DocumentType
from iamflow.policy.findings import Finding


def check_grammar(doc: Any, doc_type: DocumentType) -> list[Finding]:
    """Every grammar problem of ``doc`` (any JSON value) as a ``doc_type`` document."""
    return []


def document_size(doc: Any) -> int:
    """The size of ``doc`` as IAM counts it: characters, whitespace not counted."""
    import json

    return len(json.dumps(doc, separators=(",", ":")))
