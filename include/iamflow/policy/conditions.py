"""IAM condition evaluation: a statement's ``Condition`` block decided against a request context.

This is the condition half of the offline evaluator (``evaluate.py``); it also owns policy-variable
substitution, which ``Resource`` patterns share. The rules, after AWS's "IAM JSON policy elements:
Condition operators" and "Variables and tags" pages:

- A block maps operators to ``{key: value or [values]}``. Every operator of the block and every key
  under an operator must hold (AND); the values listed for one key are alternatives (OR).
- Key names compare case-insensitively; values case-sensitively, except for the ``...IgnoreCase``
  operators and ``Bool`` (``"true"``/``"false"`` in any case). A JSON ``true`` or ``5`` in a
  policy means the string ``"true"`` or ``"5"``, as IAM stores it.
- A key absent from the request (or present with no value) makes a positive operator false and a
  negated one (``StringNotEquals``, ``StringNotLike``, ``NumericNotEquals``, ``DateNotEquals``,
  ``NotIpAddress``, ``ArnNotEquals``, ``ArnNotLike``) true: "If the key that you specify in a policy
  condition is not present in the request context, the values do not match" -- and a negated
  operator asks for no match. ``...IfExists`` makes an absent key true whatever the operator;
  ``Null`` tests presence itself (``"true"``: the key must be absent). ``ForAllValues:`` is true
  when the key is absent or every request value matches some policy value; ``ForAnyValue:`` is
  false when the key is absent, else true when some request value matches. A negated operator
  under a set prefix negates per request value (``ForAllValues:StringNotLike``: no request value is
  like any policy value).
- Every absent key that decided a condition is reported as *missing*, except under ``...IfExists``
  and ``Null``, whose purpose is to test presence (the outcome's notes still name the key).
- Families: ``String*`` (``Like``: ``*`` any run, ``?`` one character, case-sensitive), ``Numeric*``
  (decimal numbers), ``Date*`` (W3C ISO 8601 dates, with or without a time and zone, or epoch
  seconds; a zone-less time is UTC), ``Bool``, ``BinaryEquals`` (base64 compared as bytes),
  ``IpAddress``/``NotIpAddress`` (IPv4 and IPv6 addresses and CIDR blocks), ``Arn*`` (``ArnEquals``
  and ``ArnLike`` both compare part by part with wildcards, case-sensitively; see ``arn.py``) and
  ``Null``. A request value that cannot be read as the operator's type matches nothing; so does a
  policy value.
- Policy variables (``${aws:username}``, ``${aws:PrincipalTag/team}``, any ``${key}`` of the
  request) are substituted in condition values and in ``Resource`` patterns, only in documents of
  ``Version`` ``2012-10-17`` (older documents read them as literal text). ``${key, 'default'}``
  uses the default when the key has no value (``''`` inside the quotes is one quote). ``${*}``,
  ``${?}`` and ``${$}`` are the literal characters. A substituted value is literal text even in a
  ``Like`` pattern. A variable whose key has no value (and no default), or holds several values,
  is null: its pattern or value matches nothing, and the key is reported missing.

A malformed block (an unknown operator, a value that is an object) never raises: the condition is
false, and the reason says what could not be read.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from iamflow.policy.arn import arn_matches
from iamflow.policy.operators import Operator, parse_operator

# the request context: lower-case key name -> its values (empty: the key carries no value)
Context = Mapping[str, tuple[str, ...]]
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_ESCAPES = {"*": "*", "?": "?", "$": "$"}
_VARIABLE = re.compile(r"\$\{((?:[^}']|'(?:[^']|'')*')*)\}")
_VARIABLE_BODY = re.compile(r"\s*([^,]*?)\s*(?:,\s*'((?:[^']|'')*)'\s*)?")

# base operator -> (positive base it negates or is, negated)
_NEGATIONS = {
    "StringNotEquals": "StringEquals", "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike", "NumericNotEquals": "NumericEquals", "DateNotEquals": "DateEquals",
    "NotIpAddress": "IpAddress", "ArnNotEquals": "ArnEquals", "ArnNotLike": "ArnLike",
}
# positive base -> how a failed comparison reads ("'bob' is not 'alice'")
_FAILED = {
    "StringEquals": "is not", "StringEqualsIgnoreCase": "is not", "StringLike": "is not like",
    "NumericEquals": "is not", "NumericLessThan": "is not less than", "NumericLessThanEquals": "is not at most",
    "NumericGreaterThan": "is not greater than", "NumericGreaterThanEquals": "is not at least",
    "DateEquals": "is not", "DateLessThan": "is not before", "DateLessThanEquals": "is not at or before",
    "DateGreaterThan": "is not after", "DateGreaterThanEquals": "is not at or after",
    "Bool": "is not", "BinaryEquals": "is not", "IpAddress": "is not in", "ArnEquals": "is not",
    "ArnLike": "is not like",
}
_HELD = {"StringEquals": "is", "StringEqualsIgnoreCase": "is", "StringLike": "is like", "NumericEquals": "is",
         "DateEquals": "is", "IpAddress": "is in", "ArnEquals": "is", "ArnLike": "is like"}


# --- policy variables ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Substituted:
    """A text with its policy variables replaced; ``text`` is None when one of them has no value."""

    text: str | None
    missing: tuple[str, ...] = ()


def has_variables(text: str) -> bool:
    """True when ``text`` holds a ``${...}`` variable or escape, so it needs substitution."""
    return "${" in text


def substitute(text: str, context: Context, *, like: bool) -> Substituted:
    """``text`` with each ``${key}`` replaced by the request's value of ``key``.

    With ``like``, the result is a wildcard pattern: the escapes stay escapes and every
    substituted value is escaped (``*`` becomes ``${*}``), so a value is always literal; else the
    result is plain text and the escapes become their characters.
    """
    if "${" not in text:
        return Substituted(text)
    out: list[str] = []
    missing: list[str] = []
    pos = 0
    for m in _VARIABLE.finditer(text):
        out.append(text[pos:m.start()])
        pos = m.end()
        body = m.group(1)
        if body in _ESCAPES:
            out.append(m.group(0) if like else body)
            continue
        key, default = _variable_parts(body)
        values = context.get(key.lower(), ())
        if len(values) == 1:
            value = values[0]
        elif default is not None:
            value = default
        else:
            missing.append(key)
            continue
        out.append(escape_wildcards(value) if like else value)
    out.append(text[pos:])
    if missing:
        return Substituted(None, tuple(missing))
    return Substituted("".join(out))


def escape_wildcards(value: str) -> str:
    """``value`` written so that a wildcard pattern reads it literally (``a*b`` -> ``a${*}b``)."""
    if not any(c in value for c in "*?$"):
        return value
    return "".join("${" + c + "}" if c in _ESCAPES else c for c in value)


def variable_keys(text: str) -> tuple[str, ...]:
    """The condition keys the policy variables of ``text`` name (escapes excluded)."""
    keys = []
    for m in _VARIABLE.finditer(text):
        if m.group(1) not in _ESCAPES:
            keys.append(_variable_parts(m.group(1))[0])
    return tuple(keys)


@lru_cache(maxsize=4096)
def _variable_parts(body: str) -> tuple[str, str | None]:
    """The key and the default value (None when there is none) of a variable's ``${...}`` body."""
    m = _VARIABLE_BODY.fullmatch(body)
    if m is None:
        return body.strip(), None
    default = m.group(2)
    return m.group(1), default.replace("''", "'") if default is not None else None


@lru_cache(maxsize=16384)
def like_regex(pattern: str, escapes: bool = True) -> re.Pattern[str]:
    """The case-sensitive regex of an IAM wildcard pattern: ``*`` any run, ``?`` one character.

    With ``escapes``, ``${*}``, ``${?}`` and ``${$}`` are the literal characters.
    """
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        if escapes and pattern.startswith("${", i) and i + 3 < n and pattern[i + 3] == "}" \
                and pattern[i + 2] in _ESCAPES:
            out.append(re.escape(pattern[i + 2]))
            i += 4
            continue
        c = pattern[i]
        out.append(".*" if c == "*" else "." if c == "?" else re.escape(c))
        i += 1
    return re.compile("".join(out), re.DOTALL)


# --- values --------------------------------------------------------------------------------------------


def as_text(value: object) -> str | None:
    """A policy or context value as IAM reads it (``true`` -> ``"true"``); None for objects, lists, null."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if not value.is_integer() else str(int(value))
    return None


@lru_cache(maxsize=16384)
def parse_number(text: str) -> float | None:
    """A numeric condition value, or None when ``text`` is not a finite decimal number."""
    try:
        number = float(text.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


@lru_cache(maxsize=16384)
def parse_date(text: str) -> float | None:
    """A date condition value as epoch seconds: W3C ISO 8601 (a zone-less time is UTC) or epoch seconds."""
    raw = text.strip()
    if not raw:
        return None
    number = parse_number(raw)
    if number is not None and re.fullmatch(r"[+-]?\d+(\.\d+)?", raw):
        return number
    candidate = raw[:-1] + "+00:00" if raw[-1:] in ("Z", "z") else raw
    try:
        moment = datetime.fromisoformat(candidate)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


@lru_cache(maxsize=8192)
def parse_network(text: str) -> IpNetwork | None:
    """An ``IpAddress`` policy value (an address or a CIDR block, v4 or v6), or None."""
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


@lru_cache(maxsize=16384)
def parse_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """A request's IP address (``aws:SourceIp``), or None when it is not one."""
    try:
        return ipaddress.ip_interface(text.strip()).ip
    except ValueError:
        return None


@lru_cache(maxsize=4096)
def parse_binary(text: str) -> bytes | str:
    """A base64 value as bytes; the text itself when it is not base64."""
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return text


def _prepare(base: str, text: str, escapes: bool) -> object:
    """A policy value ready for comparison by the positive ``base`` operator (None: matches nothing)."""
    if base == "StringEquals":
        return text
    if base == "StringEqualsIgnoreCase":
        return text.casefold()
    if base == "StringLike":
        return like_regex(text, escapes)
    if base.startswith("Numeric"):
        return parse_number(text)
    if base.startswith("Date"):
        return parse_date(text)
    if base == "Bool":
        return text.lower()
    if base == "BinaryEquals":
        return parse_binary(text)
    if base == "IpAddress":
        return parse_network(text)
    # Arn*: the pattern itself; in a document without variables a "$" is literal text
    return text if escapes else text.replace("$", "${$}")


def _numeric_test(base: str) -> Callable[[float, float], bool]:
    suffix = base.removeprefix("Numeric").removeprefix("Date")
    return {
        "Equals": lambda a, b: a == b,
        "LessThan": lambda a, b: a < b,
        "LessThanEquals": lambda a, b: a <= b,
        "GreaterThan": lambda a, b: a > b,
        "GreaterThanEquals": lambda a, b: a >= b,
    }[suffix]


_TESTS: dict[str, Callable[[float, float], bool]] = {
    **{f"Numeric{s}": _numeric_test(f"Numeric{s}")
       for s in ("Equals", "LessThan", "LessThanEquals", "GreaterThan", "GreaterThanEquals")},
    **{f"Date{s}": _numeric_test(f"Date{s}")
       for s in ("Equals", "LessThan", "LessThanEquals", "GreaterThan", "GreaterThanEquals")},
}


def _compare(base: str, request_value: str, prepared: object) -> bool:
    """True when one request value satisfies the positive ``base`` operator against one prepared value."""
    if prepared is None:
        return False
    if base == "StringEquals":
        return request_value == prepared
    if base == "StringEqualsIgnoreCase":
        return request_value.casefold() == prepared
    if base == "StringLike":
        return isinstance(prepared, re.Pattern) and prepared.fullmatch(request_value) is not None
    if base == "Bool":
        return request_value.lower() == prepared
    if base in ("ArnEquals", "ArnLike"):
        return isinstance(prepared, str) and arn_matches(prepared, request_value)
    if base == "IpAddress":
        address = parse_address(request_value)
        return (address is not None and isinstance(prepared, ipaddress.IPv4Network | ipaddress.IPv6Network)
                and address.version == prepared.version and address in prepared)
    if base == "BinaryEquals":
        return parse_binary(request_value) == prepared
    test = _TESTS.get(base)
    if test is None or not isinstance(prepared, float):
        return False
    number = parse_date(request_value) if base.startswith("Date") else parse_number(request_value)
    return number is not None and test(number, prepared)


# --- compiled conditions -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Condition:
    """One operator and key of a ``Condition`` block, compiled once per document."""

    operator_text: str
    operator: Operator | None
    key: str
    values: tuple[str, ...]
    prepared: tuple[object, ...] | None  # None when some value holds a variable: prepared per request
    error: str | None = None

    @property
    def key_lower(self) -> str:
        return self.key.lower()

    @property
    def positive(self) -> str:
        """The positive base operator this condition tests or negates."""
        assert self.operator is not None
        return _NEGATIONS.get(self.operator.base, self.operator.base)

    @property
    def negated(self) -> bool:
        return self.operator is not None and self.operator.base in _NEGATIONS


@dataclass(frozen=True, slots=True)
class ConditionOutcome:
    """Whether a block holds; the first failure's reason; the absent keys it needed; notes on absences."""

    holds: bool
    reason: str = ""
    missing: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


HOLDS = ConditionOutcome(True)


def compile_conditions(block: object, *, variables: bool = True) -> tuple[Condition, ...]:
    """The conditions of a statement's ``Condition`` value; an unreadable part becomes a failing condition."""
    if block is None:
        return ()
    if not isinstance(block, dict):
        return (Condition("Condition", None, "", (), (), "its Condition is not an object"),)
    out: list[Condition] = []
    for op_text, keys in block.items():
        operator = parse_operator(op_text)
        if operator is None:
            out.append(Condition(str(op_text), None, "", (), (), f"condition operator {op_text!r} is unknown"))
            continue
        if not isinstance(keys, dict):
            out.append(Condition(op_text, None, "", (), (), f"condition {op_text} is not an object of keys"))
            continue
        for key, raw in keys.items():
            out.append(_compile_one(op_text, operator, str(key), raw, variables))
    return tuple(out)


def _compile_one(op_text: str, operator: Operator, key: str, raw: Any, variables: bool) -> Condition:
    items = raw if isinstance(raw, list) else [raw]
    values: list[str] = []
    for item in items:
        text = as_text(item)
        if text is None:
            return Condition(op_text, None, key, (), (), f"condition {op_text} {key} has a value that is not a string")
        values.append(text)
    if not values:
        return Condition(op_text, None, key, (), (), f"condition {op_text} {key} has no value")
    if operator.base == "Null":
        return Condition(op_text, operator, key, tuple(values), tuple(v.lower() for v in values))
    base = _NEGATIONS.get(operator.base, operator.base)
    if variables and any(has_variables(v) for v in values):
        return Condition(op_text, operator, key, tuple(values), None)
    prepared = tuple(_prepare(base, v, escapes=variables) for v in values)
    return Condition(op_text, operator, key, tuple(values), prepared)


def _prepared_values(cond: Condition, context: Context, missing: list[str]) -> tuple[object, ...]:
    """The condition's values prepared for this request: variables substituted, null ones dropped."""
    if cond.prepared is not None:
        return cond.prepared
    base = cond.positive
    like = base in ("StringLike", "ArnLike", "ArnEquals")
    out: list[object] = []
    for value in cond.values:
        result = substitute(value, context, like=like)
        if result.text is None:
            missing.extend(result.missing)
            continue
        out.append(_prepare(base, result.text, escapes=True))
    return tuple(out)


def evaluate_conditions(conditions: tuple[Condition, ...], context: Context) -> ConditionOutcome:
    """Decide a compiled block against the request context (AND of every condition).

    Every condition is decided, so that all the absent keys the block needs are reported; the
    reason is the first failure's.
    """
    if not conditions:
        return HOLDS
    missing: list[str] = []
    notes: list[str] = []
    reason = ""
    holds = True
    for cond in conditions:
        ok, why = _evaluate_one(cond, context, missing, notes)
        if not ok and holds:
            holds, reason = False, why
    return ConditionOutcome(holds, reason, tuple(dict.fromkeys(missing)), tuple(notes))


def _evaluate_one(cond: Condition, context: Context, missing: list[str], notes: list[str]) -> tuple[bool, str]:
    """(holds, reason when it does not) for one operator and key."""
    operator = cond.operator
    if operator is None or cond.error is not None:
        return False, f"{cond.error or 'the condition cannot be read'}"
    values = context.get(cond.key_lower, ())
    if operator.base == "Null":
        return _null(cond, bool(values), notes)
    if not values:
        return _absent(cond, operator, missing, notes)
    prepared = _prepared_values(cond, context, missing)
    base = cond.positive
    negated = cond.negated

    def satisfies(request_value: str) -> bool:
        matched = any(_compare(base, request_value, p) for p in prepared)
        return not matched if negated else matched

    if operator.set_prefix == "ForAllValues":
        failing = next((v for v in values if not satisfies(v)), None)
        if failing is None:
            return True, ""
        return False, f"condition {cond.operator_text} {cond.key}: {_quote(failing)} {_verb(cond)} {_listing(cond)}"
    if operator.set_prefix == "ForAnyValue":
        if any(satisfies(v) for v in values):
            return True, ""
        return False, (f"condition {cond.operator_text} {cond.key}: no request value of {_quote_all(values)} "
                       f"satisfies it against {_listing(cond)}")
    matched = any(_compare(base, v, p) for v in values for p in prepared)
    if matched != negated:
        return True, ""
    return False, f"condition {cond.operator_text} {cond.key}: {_quote_all(values)} {_verb(cond)} {_listing(cond)}"


def _absent(cond: Condition, operator: Operator, missing: list[str], notes: list[str]) -> tuple[bool, str]:
    """The outcome of a condition whose key the request lacks."""
    name = cond.operator_text
    if operator.if_exists:
        notes.append(f"condition key {cond.key} is absent, so {name} holds")
        return True, ""
    missing.append(cond.key)
    if operator.set_prefix == "ForAllValues":
        notes.append(f"condition key {cond.key} is absent, so {name} holds")
        return True, ""
    if operator.set_prefix == "ForAnyValue":
        return False, f"condition key {cond.key} is missing from the request, so {name} is false"
    if cond.negated:
        notes.append(f"condition key {cond.key} is absent, so the negated {name} holds")
        return True, ""
    return False, f"condition key {cond.key} is missing from the request"


def _null(cond: Condition, present: bool, notes: list[str]) -> tuple[bool, str]:
    """``Null``: ``"true"`` holds when the key is absent, ``"false"`` when it is present."""
    assert cond.prepared is not None
    wanted = {v for v in cond.prepared if v in ("true", "false")}
    if ("false" if present else "true") in wanted:
        if not present:
            notes.append(f"condition key {cond.key} is absent, as Null requires")
        return True, ""
    state = "present" if present else "absent"
    return False, f"condition Null {cond.key}: the key is {state} in the request"


def _verb(cond: Condition) -> str:
    base = cond.positive
    return _HELD.get(base, "is") if cond.negated else _FAILED.get(base, "does not match")


def _quote(value: str) -> str:
    return repr(value)


def _quote_all(values: tuple[str, ...]) -> str:
    return _quote(values[0]) if len(values) == 1 else "[" + ", ".join(_quote(v) for v in values) + "]"


def _listing(cond: Condition) -> str:
    if len(cond.values) == 1:
        return _quote(cond.values[0])
    return "any of " + ", ".join(_quote(v) for v in cond.values)
