"""Names, paths and tags as AWS accepts them: each kind's documented character set and length.

Every check matches the whole value: a trailing newline is a character like any other, and is
refused where AWS's set has no newline. Where AWS's pattern uses ``\\w`` (IAM names, Cognito pool
and app client names) it means ASCII letters, digits and ``_`` (AWS evaluates it as Java does), so
a look-alike letter from another script is refused. Where AWS's pattern uses Unicode categories
(``\\p{L}`` letters, ``\\p{M}`` marks, ``\\p{S}`` symbols, ``\\p{N}`` numbers, ``\\p{P}``
punctuation, ``\\p{Z}`` separators) the same categories are checked with :mod:`unicodedata`.

A refusal names the first character outside the set and its position (counted from 1), e.g.
``'\\n' at position 13`` or ``U+0430 CYRILLIC SMALL LETTER A at position 1``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class CharSet:
    """The characters a name may hold, with the wording used in error messages."""

    description: str
    allows: Callable[[str], bool]


def ascii_set(extra: str, description: str) -> CharSet:
    """ASCII letters and digits plus the characters of ``extra``."""
    one = re.compile(f"[A-Za-z0-9{re.escape(extra)}]")
    return CharSet(description, lambda ch: one.fullmatch(ch) is not None)


def unicode_set(categories: str, extra: str, description: str) -> CharSet:
    """Characters whose Unicode general category starts with one of ``categories``, plus ``extra``."""
    major = frozenset(categories)
    allowed = frozenset(extra)
    return CharSet(description, lambda ch: ch in allowed or unicodedata.category(ch)[0] in major)


# IAM user, role, policy and instance profile names and inline policy names: [\w+=,.@-]+
IAM_NAME = ascii_set("_+=,.@-", "ASCII letters, digits and +=,.@_-")
# IAM path of roles and instance profiles: / or /.../ with ASCII ! through ~ between
IAM_PATH_CHARS = CharSet("ASCII characters from '!' to '~'", lambda ch: "!" <= ch <= "~")
IAM_PATH_RE = re.compile(r"/|/[\x21-\x7e]+/")
# CreatePolicy's path is stricter: segments of letters, digits and .,+@=_-
POLICY_PATH_CHARS = ascii_set("/.,+@=_-", "ASCII letters, digits and /.,+@=_-")
POLICY_PATH_RE = re.compile(r"(/[A-Za-z0-9.,+@=_-]+)*/")
# KMS alias names after alias/: letters, digits, /_-
KMS_ALIAS_NAME = ascii_set("/_-", "ASCII letters, digits and /_-")
# Secrets Manager secret names
SECRET_NAME = ascii_set("/_+=.@-", "ASCII letters, digits and /_+=.@-")
# Cognito pool and app client names: [\w\s+=,.@-]+; of the whitespace only the space is kept
# (a tab or a newline in a name is invisible in every listing)
COGNITO_NAME = ascii_set(" _+=,.@-", "ASCII letters, digits, spaces and +=,.@_-")
# Cognito usernames, group names, custom attribute names, redirect URLs: [\p{L}\p{M}\p{S}\p{N}\p{P}]+
COGNITO_PRINTABLE = unicode_set("LMSNP", "", "Unicode letters, marks, symbols, digits and punctuation (no spaces)")
# Tag keys and values: [\p{L}\p{Z}\p{N}_.:/=+\-@]
TAG = unicode_set("LZN", "_.:/=+-@", "Unicode letters, digits, spaces and _.:/=+-@")


def describe_char(ch: str) -> str:
    """A character as an error message shows it: ``'a'`` for printable ASCII, else its code point and name."""
    if ch == " ":
        return "a space"
    if "!" <= ch <= "~":
        return repr(ch)
    if ch in "\n\r\t":
        return repr(ch)
    name = unicodedata.name(ch, "")
    return f"U+{ord(ch):04X}" + (f" {name}" if name else f" ({unicodedata.category(ch)})")


# Filled in when a resource is planned; where a value may hold one (tags, paths), it stands for a
# value of AWS's own set, as long as the longest value it can take.
RUNTIME_PLACEHOLDERS = {"account_id": "123456789012", "partition": "aws-us-gov", "region": "ap-southeast-2"}
_RUNTIME_RE = re.compile(r"\$\{(" + "|".join(RUNTIME_PLACEHOLDERS) + r")\}")


def with_runtime_samples(value: str) -> str:
    """``value`` with each run-time placeholder replaced by the longest value it can take."""
    return _RUNTIME_RE.sub(lambda m: RUNTIME_PLACEHOLDERS[m.group(1)], value)


def first_outside(value: str, charset: CharSet, *, placeholders: bool = False) -> tuple[int, str] | None:
    """(position counted from 1, character) of the first character of ``value`` outside ``charset``.

    With ``placeholders``, the run-time placeholders (``${account_id}`` ...) are not looked at.
    """
    skip: set[int] = set()
    if placeholders:
        for m in _RUNTIME_RE.finditer(value):
            skip.update(range(m.start(), m.end()))
    for index, ch in enumerate(value):
        if index not in skip and not charset.allows(ch):
            return index + 1, ch
    return None


def check_chars(value: str, charset: CharSet, what: str, *, placeholders: bool = False) -> None:
    """Raise ``ValueError`` naming the first character of ``value`` that ``charset`` does not allow."""
    bad = first_outside(value, charset, placeholders=placeholders)
    if bad is not None:
        position, ch = bad
        raise ValueError(
            f"{what} {value!r} has {describe_char(ch)} at position {position}; "
            f"it may contain only {charset.description}"
        )


def check_length(value: str, what: str, max_len: int, min_len: int = 1) -> None:
    """Raise ``ValueError`` when ``value`` is shorter than ``min_len`` or longer than ``max_len``."""
    if len(value) < min_len:
        raise ValueError(f"{what} must not be empty" if min_len == 1 else
                         f"{what} must have at least {min_len} characters, got {len(value)}")
    if len(value) > max_len:
        raise ValueError(f"{what} must be at most {max_len} characters, got {len(value)}")


def check_name(value: str, charset: CharSet, what: str, max_len: int, min_len: int = 1) -> str:
    """Check a name's length and characters; return it unchanged."""
    check_length(value, what, max_len, min_len)
    check_chars(value, charset, what)
    return value


def is_name(value: str, charset: CharSet, max_len: int, min_len: int = 1) -> bool:
    """True when ``value`` passes :func:`check_name`."""
    return min_len <= len(value) <= max_len and first_outside(value, charset) is None


def check_iam_path(value: str, *, policy: bool = False) -> str:
    """An IAM path: ``/`` alone or ``/.../``, 1-512 characters (a managed policy's path is stricter)."""
    what = "a managed policy path" if policy else "an IAM path"
    check_length(with_runtime_samples(value), what, 512)
    check_chars(value, POLICY_PATH_CHARS if policy else IAM_PATH_CHARS, what, placeholders=True)
    if not (POLICY_PATH_RE if policy else IAM_PATH_RE).fullmatch(with_runtime_samples(value)):
        hint = " with no empty segment" if policy else ""
        raise ValueError(f"{what} must begin and end with '/'{hint} (for example /developers/), got {value!r}")
    return value


def check_tag(key: str, value: str) -> None:
    """A tag key (1-128) and value (0-256) of AWS's tag character set; ``aws:`` keys are AWS's.

    Run-time placeholders (``${account_id}`` ...) may appear in both.
    """
    for text, what, limit, least in ((key, "tag key", 128, 1), (value, f"tag {key!r}: value", 256, 0)):
        check_length(with_runtime_samples(text), what, limit, least)
        check_chars(text, TAG, what, placeholders=True)
        if text is key and key.lower().startswith("aws:"):
            raise ValueError(f"tag key {key!r}: keys beginning with 'aws:' are reserved by AWS")


# Characters kept as they are when a name becomes part of a secret name (every other one, '/'
# included, is written as '=' and two hex digits per UTF-8 byte, so the name stays one path segment).
_SECRET_SEGMENT_KEEP = re.compile(r"[A-Za-z0-9_+=.@-]")


def secret_segment(text: str) -> str:
    """``text`` as one segment of a Secrets Manager name: unchanged when every character is allowed."""
    out: list[str] = []
    for ch in text:
        if _SECRET_SEGMENT_KEEP.fullmatch(ch):
            out.append(ch)
        else:
            out.extend(f"={byte:02X}" for byte in ch.encode("utf-8"))
    return "".join(out)


# --- where iamflow keeps the secrets it makes, and how it recognises them ------------------------------

# the tag iamflow puts on what it creates (``resources._common``), here because the conventions below read it
ID_TAG = "iamflow:id"
USER_POOL_KIND = "cognito_user_pool"  # the kind whose bootstrap admins' passwords iamflow stores


def secret_name_for_admin(pool: str, username: str) -> str:
    """Where the temporary password of a pool's bootstrap admin user is stored in Secrets Manager.

    A character that secret names do not allow (a space, a non-ASCII letter, '/') is written as
    '=' and hex digits (see :func:`secret_segment`), so the name stays valid and unambiguous.
    """
    return f"iamflow/cognito/{secret_segment(pool)}/{secret_segment(username)}"


def secret_name_for_client(pool: str, client: str) -> str:
    """Where the generated secret of an app client is stored in Secrets Manager."""
    return f"iamflow/cognito/{secret_segment(pool)}/clients/{secret_segment(client)}"


def client_secret_of(secret_name: str, tags: dict[str, str]) -> tuple[str, str] | None:
    """``(pool, client)`` name segments when a secret is the copy of an app client's secret iamflow stored.

    Both marks must agree: the name :func:`secret_name_for_client` gives (``iamflow/cognito/<pool>/
    clients/<client>``) and the ``iamflow:id`` tag iamflow sets to that same name. Segments are as
    written in the name (see :func:`secret_segment`). The compliance sweep uses this to say how
    such a secret rotates: with its app client, in Cognito, not by a Secrets Manager rotation Lambda.
    """
    parts = secret_name.split("/")
    if tags.get(ID_TAG) != secret_name or len(parts) != 5 or parts[:2] != ["iamflow", "cognito"] \
            or parts[3] != "clients" or not parts[2] or not parts[4]:
        return None
    return parts[2], parts[4]


def admin_secret_tag(resource_key: str, username: str) -> str:
    """The ``iamflow:id`` tag value of an admin's temporary-password secret: ``cognito_user_pool.<pool>/<user>``."""
    return f"{resource_key}/{username}"


def bootstrap_admin_of(secret_name: str, tags: dict[str, str]) -> tuple[str, str] | None:
    """``(pool, username)`` when a secret is the temporary password iamflow stored for a bootstrap admin.

    Both marks must agree: the ``iamflow:id`` tag set at creation (``cognito_user_pool.<pool>/<user>``)
    and the name :func:`secret_name_for_admin` gives that pool and user. Pool names cannot hold a
    '/', so the first one after the pool ends it. The compliance sweep uses this to judge such a
    secret by its purpose (retire it once the admin has signed in) rather than by rotation.
    """
    prefix = f"{USER_POOL_KIND}."
    value = tags.get(ID_TAG, "")
    if not value.startswith(prefix) or "/" not in value:
        return None
    pool, username = value[len(prefix):].split("/", 1)
    if not pool or not username or secret_name != secret_name_for_admin(pool, username):
        return None
    return pool, username
