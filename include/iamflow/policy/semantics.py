"""A document against the IAM service reference: actions, resources, condition keys, operator types."""

from __future__ import annotations

from typing import Any

from iamflow.policy.catalog import Catalog
from iamflow.policy.doctypes import DocumentType
from iamflow.policy.findings import Finding


def check_semantics(doc: dict[str, Any], doc_type: DocumentType, catalog: Catalog) -> list[Finding]:
    """Every catalog problem of ``doc``: elements of the wrong shape are left to the grammar."""
    return []
