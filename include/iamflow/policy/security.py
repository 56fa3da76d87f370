"""Security warnings on what a well-formed document grants, in the spirit of Access Analyzer's checks."""

from __future__ import annotations

from typing import Any

from iamflow.policy.catalog import Catalog
from iamflow.policy.doctypes import DocumentType
from iamflow.policy.findings import Finding


def check_security(doc: dict[str, Any], doc_type: DocumentType, catalog: Catalog, *,
                   own_account: str | None) -> list[Finding]:
    """Every security finding of ``doc``: elements of the wrong shape are left to the grammar."""
    return []
