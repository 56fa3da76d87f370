"""ARNs: split them, and match a policy's resource pattern against an ARN format or a concrete ARN.

An ARN is ``arn:partition:service:region:account:resource``: six parts separated by the first
five colons, so the resource part may hold more colons (``log-group:/aws/x:*``). A part may be
empty (S3 ARNs have neither region nor account: ``arn:aws:s3:::bucket``).

Three kinds of text meet here:

- a **policy pattern** (a ``Resource`` value): ``*`` stands for any run of characters, ``?`` for
  one; within the first five parts a wildcard stays inside its part, but IAM lets a ``*`` that
  ends the last written part run over the remaining colons (``arn:aws:s3:*`` covers every S3
  ARN). ``${...}`` is a policy variable (``${aws:username}``) or an iamflow placeholder
  (``${account_id}``): either becomes a value only at request or render time, so it matches any
  text here. IAM's escapes ``${*}``, ``${?}`` and ``${$}`` stand for the literal character.
- an **ARN format** of the service reference: ``arn:${Partition}:s3:::${BucketName}/${ObjectName}``.
  Each ``${Var}`` stands for one non-empty value; a variable directly followed by ``/`` or ``:``
  in the format cannot hold that separator (the bucket of ``${BucketName}/${ObjectName}`` has no
  ``/``), any other may (an IAM ``${RoleNameWithPath}``, an S3 object key). A literal ``*`` in a
  format (a few use one) stands for anything.
- a **concrete ARN** (``arn:aws:s3:::my-bucket/a.txt``), as an offline evaluator meets them.

Matching is part by part, never by prefix: ``arn:aws:s3:::my-bucket/*`` matches the S3 object
format, ``arn:aws:s3:us-east-1::my-bucket/*`` matches no S3 format (the region must be empty).
One exception: a resource AWS owns has an empty account part (the public SSM document
``arn:aws:ssm:us-east-1::document/AWS-RunShellScript``, a public AMI, an AWS-managed Resource
Explorer view), though the reference writes ``${Account}`` for its type, so an empty account in a
pattern matches a format's account variable.
A pattern matches a format when some ARN exists that both describe; with wildcards on both sides
that is the intersection of two small automata, computed once per pair of parts and cached.
Comparisons are case-sensitive, as IAM compares resources.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

PARTS = ("partition", "service", "region", "account", "resource")

# a token of a pattern or format: (repetition, the literal character or None for "any", excluded characters)
_ONE, _PLUS, _STAR = 0, 1, 2
Token = tuple[int, str | None, str]
_ESCAPES = {"${*}": "*", "${?}": "?", "${$}": "$"}
_VARIABLE = re.compile(r"\$\{[^}]*\}")
_SPECIAL = re.compile(r"[*?$]")


@dataclass(frozen=True)
class Arn:
    """The five parts after ``arn:`` of an ARN, a policy pattern or an ARN format, as written."""

    partition: str
    service: str
    region: str
    account: str
    resource: str

    def part(self, name: str) -> str:
        value: str = getattr(self, name)
        return value


def split_parts(text: str) -> list[str]:
    """``text`` split at its colons, except those inside a ``${...}`` variable (``${aws:username}``)."""
    parts: list[str] = []
    current: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if text.startswith("${", i):
            end = text.find("}", i)
            if end < 0:
                current.append(text[i:])
                break
            current.append(text[i:end + 1])
            i = end + 1
            continue
        c = text[i]
        if c == ":":
            parts.append("".join(current))
            current = []
        else:
            current.append(c)
        i += 1
    parts.append("".join(current))
    return parts


@lru_cache(maxsize=8192)
def parse_arn(text: str) -> Arn | None:
    """The parts of an ARN, pattern or format ``text``; None when it is not ``arn:`` and six parts.

    A pattern of fewer parts whose last part ends in ``*`` stands for every ARN it starts
    (``arn:aws:s3:*``): the missing parts are ``*``.
    """
    if not isinstance(text, str) or not text.startswith("arn:"):
        return None
    parts = split_parts(text)
    if len(parts) < 6:
        if not _ends_with_star(parts[-1]):
            return None
        parts += ["*"] * (6 - len(parts))
    resource = ":".join(parts[5:])
    return Arn(parts[1], parts[2], parts[3], parts[4], resource)


def arn_part_count(text: str) -> int:
    """How many colon-separated parts ``text`` has (``${...}`` variables kept whole)."""
    return len(split_parts(text))


def is_placeholder(text: str) -> bool:
    """True when ``text`` is wholly one ``${...}`` value (``${bucket_arn}``): it could be any resource."""
    return bool(_VARIABLE.fullmatch(text)) and text not in _ESCAPES


def has_variable(text: str) -> bool:
    """True when ``text`` holds a ``${...}`` policy variable or placeholder (escapes excluded)."""
    return any(m.group(0) not in _ESCAPES for m in _VARIABLE.finditer(text))


def _ends_with_star(part: str) -> bool:
    tokens = _pattern_tokens(part)
    return bool(tokens) and tokens[-1][0] == _STAR and not part.endswith("}")


# --- tokens --------------------------------------------------------------------------------------------


@lru_cache(maxsize=8192)
def _pattern_tokens(part: str) -> tuple[Token, ...]:
    """A policy pattern's part: ``*`` any run, ``?`` one character, ``${...}`` any run, else literals."""
    out: list[Token] = []
    i, n = 0, len(part)
    while i < n:
        if part.startswith("${", i) and (end := part.find("}", i)) >= 0:
            var = part[i:end + 1]
            out.append((_ONE, _ESCAPES[var], "") if var in _ESCAPES else (_STAR, None, ""))
            i = end + 1
            continue
        c = part[i]
        out.append((_STAR, None, "") if c == "*" else (_ONE, None, "") if c == "?" else (_ONE, c, ""))
        i += 1
    return tuple(out)


@lru_cache(maxsize=8192)
def _format_tokens(part: str) -> tuple[Token, ...]:
    """An ARN format's part: ``${Var}`` one or more characters (not the separator after it), else literals."""
    out: list[Token] = []
    i, n = 0, len(part)
    while i < n:
        if part.startswith("${", i) and (end := part.find("}", i)) >= 0:
            following = part[end + 1:end + 2]
            out.append((_PLUS, None, following if following in ("/", ":") else ""))
            i = end + 1
            continue
        c = part[i]
        out.append((_STAR, None, "") if c == "*" else (_ONE, c, ""))
        i += 1
    return tuple(out)


@lru_cache(maxsize=8192)
def _literal_tokens(part: str) -> tuple[Token, ...]:
    return tuple((_ONE, c, "") for c in part)


def _compatible(a: Token, b: Token) -> bool:
    """True when one character exists that both tokens accept."""
    ca, cb = a[1], b[1]
    if ca is not None and cb is not None:
        return ca == cb
    if ca is not None:
        return ca not in b[2]
    if cb is not None:
        return cb not in a[2]
    return True


def _intersects(left: tuple[Token, ...], right: tuple[Token, ...]) -> bool:
    """True when some text matches both token sequences (a search over pairs of positions)."""
    n, m = len(left), len(right)
    # state: position in left, position in right, whether the token at each position has taken a character
    start = (0, 0, False, False)
    seen = {start}
    todo = [start]
    while todo:
        i, j, li, rj = todo.pop()
        if i == n and j == m:
            return True
        nexts: list[tuple[int, int, bool, bool]] = []
        if i < n and (left[i][0] == _STAR or (left[i][0] == _PLUS and li)):
            nexts.append((i + 1, j, False, rj))
        if j < m and (right[j][0] == _STAR or (right[j][0] == _PLUS and rj)):
            nexts.append((i, j + 1, li, False))
        if i < n and j < m and _compatible(left[i], right[j]):
            ni, nli = (i + 1, False) if left[i][0] == _ONE else (i, True)
            nj, nrj = (j + 1, False) if right[j][0] == _ONE else (j, True)
            nexts.append((ni, nj, nli, nrj))
        for state in nexts:
            if state not in seen:
                seen.add(state)
                todo.append(state)
    return False


# --- matching ------------------------------------------------------------------------------------------


@lru_cache(maxsize=65536)
def part_matches_format(pattern_part: str, format_part: str) -> bool:
    """True when a policy pattern's part and an ARN format's part can name the same value."""
    if pattern_part == "*":
        return True
    if not _SPECIAL.search(format_part):  # a literal format part: the pattern must be able to spell it
        if not _SPECIAL.search(pattern_part):
            return pattern_part == format_part
    elif _VARIABLE.fullmatch(format_part):  # one variable: any value but the empty one
        return pattern_part != ""
    return _intersects(_pattern_tokens(pattern_part), _format_tokens(format_part))


def mismatched_parts(pattern: str, arn_format: str) -> tuple[str, ...]:
    """The parts (``"region"``, ``"resource"`` ...) in which a policy pattern cannot match an ARN format.

    Empty when the pattern can name a resource of that format. Either text not being an ARN
    makes every part mismatch.
    """
    p, f = parse_arn(pattern), parse_arn(arn_format)
    if p is None or f is None:
        return PARTS
    return tuple(name for name in PARTS if not _part_ok(name, p, f))


@lru_cache(maxsize=65536)
def pattern_matches_format(pattern: str, arn_format: str) -> bool:
    """True when the policy ``Resource`` pattern can name a resource of ``arn_format``.

    ``arn:aws:s3:::my-bucket/*`` and ``arn:${Partition}:s3:::${BucketName}/${ObjectName}`` match;
    ``arn:aws:s3:us-east-1::my-bucket/*`` does not (S3 ARNs have no region).
    """
    p, f = parse_arn(pattern), parse_arn(arn_format)
    if p is None or f is None:
        return False
    # the service first: it rules out most formats at once
    return all(_part_ok(name, p, f) for name in ("service", "resource", "region", "account", "partition"))


def _part_ok(name: str, pattern: Arn, arn_format: Arn) -> bool:
    written, expected = pattern.part(name), arn_format.part(name)
    if name == "account" and written == "" and _VARIABLE.fullmatch(expected):
        return True  # a resource AWS owns: its ARN has no account
    return part_matches_format(written, expected)


@lru_cache(maxsize=65536)
def arn_matches(pattern: str, arn: str) -> bool:
    """True when the concrete ``arn`` is one the policy pattern names (IAM's ``Resource`` and ``ArnLike``).

    Policy variables in ``pattern`` must have been substituted first: one left in matches anything.
    """
    if pattern == "*":
        return True
    p, a = parse_arn(pattern), parse_arn(arn)
    if p is None or a is None:
        return pattern == arn
    return all(_intersects(_pattern_tokens(p.part(name)), _literal_tokens(a.part(name))) for name in PARTS)


def leading_literal(part: str) -> str:
    """The literal start of a format's or pattern's resource part, up to its first ``/`` or ``:``.

    ``table/${TableName}`` gives ``table/``; ``${BucketName}/${ObjectName}`` gives ``""``.
    """
    out: list[str] = []
    for c in part:
        if c in "$*?":
            return ""
        out.append(c)
        if c in "/:":
            break
    return "".join(out)
