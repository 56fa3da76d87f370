"""IAM condition operators: their names, the type of value each compares, and their modifiers.

An operator is a base (``StringEquals``, ``NumericLessThan``, ``IpAddress`` ...), optionally
followed by ``IfExists`` (every base but ``Null``), optionally preceded by a set prefix,
``ForAllValues:`` or ``ForAnyValue:``, meant for multi-valued keys.
"""

from __future__ import annotations

from dataclasses import dataclass

# base operator -> the family of values it compares
BASE_OPERATORS: dict[str, str] = {
    **{op: "String" for op in ("StringEquals", "StringNotEquals", "StringEqualsIgnoreCase",
                               "StringNotEqualsIgnoreCase", "StringLike", "StringNotLike")},
    **{op: "Numeric" for op in ("NumericEquals", "NumericNotEquals", "NumericLessThan",
                                "NumericLessThanEquals", "NumericGreaterThan", "NumericGreaterThanEquals")},
    **{op: "Date" for op in ("DateEquals", "DateNotEquals", "DateLessThan", "DateLessThanEquals",
                             "DateGreaterThan", "DateGreaterThanEquals")},
    "Bool": "Bool",
    "BinaryEquals": "Binary",
    "IpAddress": "IPAddress",
    "NotIpAddress": "IPAddress",
    **{op: "ARN" for op in ("ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike")},
    "Null": "Null",
}

SET_PREFIXES = ("ForAllValues", "ForAnyValue")
_BY_LOWER = {k.lower(): k for k in BASE_OPERATORS}


@dataclass(frozen=True)
class Operator:
    """A parsed condition operator."""

    text: str  # as written
    base: str  # the documented base name: "StringEquals"
    if_exists: bool
    set_prefix: str | None  # "ForAllValues", "ForAnyValue" or None
    exact_case: bool  # False when written in another case than AWS documents

    @property
    def family(self) -> str:
        """What the operator compares: String, Numeric, Date, Bool, Binary, IPAddress, ARN or Null."""
        return BASE_OPERATORS[self.base]

    @property
    def negated(self) -> bool:
        return "Not" in self.base


def parse_operator(text: str) -> Operator | None:
    """The operator ``text`` names, or None when it is not a condition operator IAM knows."""
    if not isinstance(text, str):
        return None
    rest, prefix, exact = text, None, True
    if ":" in rest:
        head, rest = rest.split(":", 1)
        prefix = next((p for p in SET_PREFIXES if p.lower() == head.lower()), None)
        if prefix is None:
            return None
        exact = head == prefix
    if_exists = rest.lower().endswith("ifexists") and rest.lower() != "ifexists"
    base_text = rest[: -len("IfExists")] if if_exists else rest
    base = _BY_LOWER.get(base_text.lower())
    if base is None or (if_exists and base == "Null"):
        return None
    exact = exact and base_text == base and (not if_exists or rest.endswith("IfExists"))
    return Operator(text, base, if_exists, prefix, exact)


def operator_names() -> list[str]:
    """Every documented operator name without modifiers (for "did you mean")."""
    return [*BASE_OPERATORS, *(f"{op}IfExists" for op in BASE_OPERATORS if op != "Null")]
