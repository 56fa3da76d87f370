"""IAM policy documents: parse, normalise for semantic comparison, render.

``normalize_policy`` is the one place that decides when two documents mean the same thing, so that
a re-run against an unchanged account makes no write call. What counts as "the same":

- ``Version`` left out equals ``"2012-10-17"``;
- a single statement (or action, resource, principal, condition value) equals a one-item list, and
  list order and duplicates do not matter; statement order and duplicate statements do not either;
- action names compare case-insensitively (IAM does), resources and principals do not;
- ``Principal: "*"`` equals ``{"AWS": "*"}``, and a bare 12-digit account id in an AWS principal
  equals that account's root ARN (IAM stores the ARN form whichever one was sent);
- condition values compare as strings (``true`` equals ``"true"``, ``5`` equals ``"5"``), as IAM
  stores them.

``Sid`` is significant: it is a label, but AWS stores and returns it, so a playbook that changes a
Sid expects the account to change too. An empty Sid equals no Sid.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote, unquote_plus

DEFAULT_VERSION = "2012-10-17"

_ACCOUNT_ID = re.compile(r"^\d{12}$")
# keys whose value is a list of action names (compared case-insensitively) or of resources
_ACTION_KEYS = ("Action", "NotAction")
_RESOURCE_KEYS = ("Resource", "NotResource")
_PRINCIPAL_KEYS = ("Principal", "NotPrincipal")


def parse_document(value: dict[str, Any] | str) -> dict[str, Any]:
    """Return a policy document as a dict, from a dict, a JSON string or a URL-encoded JSON string."""
    if isinstance(value, dict):
        return value
    if not isinstance(value, str):
        raise ValueError(f"a policy document must be a mapping or a JSON string, not {type(value).__name__}")
    text = value.strip()
    if not text:
        raise ValueError("a policy document must not be empty")
    # Some IAM APIs return documents URL-encoded (RFC 3986, so '+' is a literal plus); plain JSON
    # first, then percent-decoding, and '+'-as-space only as a last resort.
    candidates = [text]
    if "%" in text:
        candidates.append(unquote(text))
        candidates.append(unquote_plus(text))
    error: json.JSONDecodeError | None = None
    for candidate in candidates:
        try:
            doc = json.loads(candidate)
        except json.JSONDecodeError as exc:
            error = error or exc
            continue
        if not isinstance(doc, dict):
            raise ValueError(f"a policy document must be a JSON object, got a JSON {type(doc).__name__}")
        return doc
    raise ValueError(f"a policy document string is neither JSON nor URL-encoded JSON: {error}")


def normalize_policy(doc: dict[str, Any] | str, *, account_id: str | None = None) -> dict[str, Any]:
    """Return the canonical form of a policy document, for semantic comparison.

    :param doc: the document (dict, JSON or URL-encoded JSON).
    :param account_id: accepted for API stability; bare account ids are normalised for every account,
        and run-time placeholders are substituted before documents reach this function.
    """
    del account_id  # see the docstring: kept in the signature, not needed by the rules
    parsed = parse_document(doc)
    out: dict[str, Any] = {}
    for key, value in parsed.items():
        if key == "Statement":
            continue
        out[key] = value
    out.setdefault("Version", DEFAULT_VERSION)
    statements = [_normalize_statement(s) for s in _as_list(parsed.get("Statement"))]
    out["Statement"] = _sorted_unique_statements(statements)
    return dict(sorted(out.items()))


def policies_equal(a: dict[str, Any] | str | None, b: dict[str, Any] | str | None) -> bool:
    """Return True when two documents mean the same thing (``None`` equals only ``None``)."""
    if a is None or b is None:
        return a is None and b is None
    return normalize_policy(a) == normalize_policy(b)


def canonical_json(doc: dict[str, Any] | str) -> str:
    """Render the normalised document as pretty JSON with sorted keys, for diffs."""
    return json.dumps(normalize_policy(doc), indent=2, sort_keys=True)


def render_policy(doc: dict[str, Any] | str) -> str:
    """Render a document as compact JSON for an API call, keeping the author's order."""
    return json.dumps(parse_document(doc), separators=(",", ":"))


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _scalar_str(value: Any) -> str:
    # IAM stores condition values as strings: JSON true becomes "true", 5 becomes "5"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def _sorted_strings(values: list[Any]) -> list[str]:
    return sorted({_scalar_str(v) for v in values})


def _normalize_principal(value: Any) -> Any:
    if value == "*":
        value = {"AWS": "*"}
    if not isinstance(value, dict):
        return value
    out: dict[str, list[str]] = {}
    for ptype, pvalues in value.items():
        items = _sorted_strings(_as_list(pvalues))
        if ptype == "AWS":
            items = sorted({f"arn:aws:iam::{v}:root" if _ACCOUNT_ID.match(v) else v for v in items})
        out[ptype] = items
    return dict(sorted(out.items()))


def _normalize_condition(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for operator, block in value.items():
        if isinstance(block, dict):
            out[operator] = {key: _sorted_strings(_as_list(v)) for key, v in sorted(block.items())}
        else:
            out[operator] = block
    return dict(sorted(out.items()))


def _normalize_statement(statement: Any) -> Any:
    if not isinstance(statement, dict):
        return statement
    out: dict[str, Any] = {}
    for key, value in statement.items():
        if key in _ACTION_KEYS:
            out[key] = sorted({_scalar_str(a).lower() for a in _as_list(value)})
        elif key in _RESOURCE_KEYS:
            out[key] = _sorted_strings(_as_list(value))
        elif key in _PRINCIPAL_KEYS:
            out[key] = _normalize_principal(value)
        elif key == "Condition":
            out[key] = _normalize_condition(value)
        elif key == "Sid" and value in ("", None):
            continue
        else:
            out[key] = value
    return dict(sorted(out.items()))


def _sorted_unique_statements(statements: list[Any]) -> list[Any]:
    by_json: dict[str, Any] = {}
    for s in statements:
        by_json.setdefault(json.dumps(s, sort_keys=True), s)
    return [by_json[k] for k in sorted(by_json)]
