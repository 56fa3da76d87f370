"""Lint IAM policy documents before any AWS call, and scan anything for hard-coded credentials.

Rule names are a contract (playbook waivers name them):

- ``allow-star-star``: Allow of every action on every resource;
- ``allow-not-action``: ``NotAction`` with ``Effect: Allow``;
- ``passrole-star``: Allow of ``iam:PassRole`` (or a wildcard covering it) on Resource ``*``; not
  repeated on a statement that ``allow-star-star`` already flags, which includes PassRole;
- ``cross-account-trust-without-external-id``: a trust policy lets another account assume the
  role without an ``sts:ExternalId`` condition (trust profile only); a trust restricted to one
  organization by ``aws:PrincipalOrgID`` (or ``aws:PrincipalOrgPaths``) needs none;
- ``hardcoded-credential``: a string that looks like an AWS access key id or secret access key,
  a URL with a password in it (``postgres://app:pw@db/app``), or a literal high-entropy value under
  a secret-like key (``password``, ``pwd``, ``dsn``, ``signing_key``, ``api_key``, ``token`` ...).

The credential scan (``scan_credentials``) is meant to run on a playbook *after* its ``${var}``
placeholders are substituted as well as before, so a key split across two vars is still found.

The helpers ``statement_list``, ``grants_admin`` and ``grants_full_service`` are shared with the
compliance checks, so the converge lint and the sweep agree on what "admin" means.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from iamflow.policy.document import parse_document

PROFILES = ("identity", "trust", "resource", "boundary")
# the rules of this module, by name (a contract: playbook waivers name them)
LEGACY_RULES: dict[str, str] = {
    "allow-star-star": "Allow of every action on every resource (administrator access)",
    "allow-not-action": "NotAction with Effect Allow: every action not listed, including future ones",
    "passrole-star": "Allow of iam:PassRole on Resource '*': any role can be handed to a service",
    "cross-account-trust-without-external-id": "a trust lets another account assume the role without "
                                               "sts:ExternalId (and without aws:PrincipalOrgID)",
    "hardcoded-credential": "an access key, a password in a URL, or a literal secret under a secret-like key",
}
OWN_ACCOUNT_PLACEHOLDER = "${account_id}"
# a credential must be removed from the playbook, never accepted knowingly
UNWAIVABLE_RULES = frozenset({"hardcoded-credential"})

ACCESS_KEY_ID = "access key id"
SECRET_ACCESS_KEY = "secret access key"
PASSWORD_IN_URL = "password in a URL or connection string"
LITERAL_SECRET = "literal secret"
_CREDENTIAL_WORDS = {
    ACCESS_KEY_ID: "looks like a hard-coded AWS access key id",
    SECRET_ACCESS_KEY: "looks like a hard-coded AWS secret access key",
    PASSWORD_IN_URL: "holds a URL or connection string with a literal password in it (user:password@host, "
                     "Password=...)",
    LITERAL_SECRET: "holds what looks like a literal secret (a long, random-looking value under a secret-like key)",
}

_ACCESS_KEY_ID_RE = re.compile(r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}\b")
# A secret access key is exactly 40 characters of [A-Za-z0-9/+]. '=' ends a run on the left (so
# "key=<secret>" is caught) but not on the right (base64 padding means a longer encoded blob).
_SECRET_KEY_RE = re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
_TOKEN_SPLIT_RE = re.compile(r"[\s\"'`<>,;()\[\]{}|]+")
_ARN_ACCOUNT_RE = re.compile(r"^arn:[^:]*:[^:]*:[^:]*:([^:]*):")
_PLACEHOLDER_RE = re.compile(r"\$\{[^}]*\}")
# scheme://user:password@host; the password part must be non-empty (a placeholder is removed first)
_URL_PASSWORD_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s/:@]*:[^\s/@]+@")
# Password=...; in an ADO.NET / ODBC / libpq style connection string
_CONN_PASSWORD_RE = re.compile(r"(?<![A-Za-z0-9_])(password|pwd)[ \t]*=[ \t]*[^\s;&'\"]", re.IGNORECASE)
# key words that mark a secret, matched in a key split into lower-case words (dbPassword -> db_password)
_SECRET_KEY_SUBSTRINGS = ("password", "passwd", "passphrase", "secret", "credential", "token", "apikey",
                          "api_key", "private_key", "privatekey", "signing_key", "signingkey", "access_key",
                          "connection_string", "conn_str")
_SECRET_KEY_WORDS = frozenset({"pwd", "pass", "dsn", "pw"})
_CAMEL_PIECE_RE = re.compile(r"[A-Z]{2,}(?![a-z])|[A-Z]?[a-z]+|[A-Z]|[0-9]+")
_CAMEL_RE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NON_ALNUM_RE = re.compile(r"[^a-z0-9]+")
_FILE_NAME_RE = re.compile(r"[A-Za-z0-9_./-]+\.(json|ya?ml|pem|key|crt|cer|txt|env|ini|cfg|conf|p12|pfx)")
# a value made of words and numbers joined by separators (prod-db.internal, myapp/production/db)
# (each alternative starts differently and separators are required between words, so matching is linear)
_WORD = r"(?:[A-Z]*[a-z]+(?:[A-Z][a-z]+)*|[A-Z]+|[0-9]+)"
_WORDY_RE = re.compile(rf"{_WORD}(?:[-_./:@]+{_WORD})*")
_NOT_SECRET_WORDS = frozenset({"true", "false", "yes", "no", "on", "off", "null", "none", "enabled", "disabled"})
MIN_SECRET_LENGTH = 12
MIN_SECRET_ENTROPY = 3.5  # bits per character (Shannon)

_ACCOUNT_ID_RE = re.compile(r"^\d{12}$")


@dataclass(frozen=True)
class LintFinding:
    """One rule a document breaks, and where (``Statement[1].Action``)."""

    rule: str
    severity: str  # "error" or "warning"
    message: str
    path: str


def lint_policy(doc: dict[str, Any] | str, *, profile: str, own_account: str | None,
                credentials: bool = True) -> list[LintFinding]:
    """Return the findings of every rule on a policy document.

    :param doc: the document (placeholders such as ``${account_id}`` may still be in it).
    :param profile: what the document is: ``identity``, ``trust``, ``resource`` or ``boundary``.
    :param own_account: the account the document lives in (an id, or the ``${account_id}``
        placeholder); ``None`` means unknown, so every concrete account id counts as another account.
    :param credentials: False to skip the credential scan (a caller that scans the whole file).
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown lint profile {profile!r}; expected one of {', '.join(PROFILES)}")
    parsed = parse_document(doc)
    findings: list[LintFinding] = []
    for path, statement in _statements_with_paths(parsed):
        if not _is_allow(statement):
            continue
        findings.extend(_check_allow_statement(path, statement))
        if profile == "trust":
            finding = _check_cross_account_trust(path, statement, own_account)
            if finding is not None:
                findings.append(finding)
    for where, kind in scan_credentials(parsed) if credentials else ():
        findings.append(LintFinding(
            "hardcoded-credential", "error",
            f"{credential_message(kind)}; keep credentials out of policy documents",
            where,
        ))
    return findings


def scan_credentials(obj: Any, path: str = "") -> list[tuple[str, str]]:
    """Return ``(path, kind)`` for every string in ``obj`` that looks like a credential.

    Walks dicts (keys and values), lists and strings. ``kind`` is ``"access key id"``, ``"secret
    access key"``, ``"password in a URL"`` or, for a value under a secret-like key
    (:func:`is_secret_key`) that looks random (:func:`looks_like_literal_secret`), ``"literal
    secret"``. The matched value itself is never returned, and a key that looks like a credential is
    shown as ``<redacted>`` in the paths below it. Call it on a playbook before and after its vars
    are substituted: ``AKIA${a}${b}`` is only a key once substituted.
    """
    hits: list[tuple[str, str]] = []
    _scan(obj, path, hits, False)
    return hits


def credential_message(kind: str) -> str:
    """The start of the message for a ``scan_credentials`` hit, e.g. ``looks like a hard-coded AWS access key id``."""
    return _CREDENTIAL_WORDS.get(kind, f"looks like a hard-coded {kind}")


def is_secret_key(key: str) -> bool:
    """True for a key that names a secret: ``password``, ``DB_PWD``, ``dsn``, ``signingKey``, ``api-key`` ...

    A key with a ``:`` is an IAM condition key (``secretsmanager:SecretId``), never a place for a secret.
    """
    if ":" in key:
        return False
    words = _NON_ALNUM_RE.sub("_", _CAMEL_RE.sub("_", key).lower()).strip("_")
    return any(s in words for s in _SECRET_KEY_SUBSTRINGS) or bool(_SECRET_KEY_WORDS & set(words.split("_")))


def looks_like_literal_secret(value: str) -> bool:
    """True when a string under a secret-like key looks like the secret itself, not a reference to it.

    Placeholders (``${...}``) are left out first. Short values (under 12 characters), words and
    numbers joined by separators (``myapp/prod/db``, ``db.internal.example.com``), booleans, ARNs,
    URLs without a password, file names and prose (with spaces) are not secrets; anything else
    with a Shannon entropy of at least 3.5 bits per character is.
    """
    literal = _PLACEHOLDER_RE.sub("", value).strip()
    if len(literal) < MIN_SECRET_LENGTH or literal.lower() in _NOT_SECRET_WORDS:
        return False
    if literal.startswith("arn:") or "://" in literal or any(c.isspace() for c in literal):
        return False
    if _FILE_NAME_RE.fullmatch(literal) or _WORDY_RE.fullmatch(literal):
        return False
    return shannon_entropy(literal) >= MIN_SECRET_ENTROPY


def shannon_entropy(text: str) -> float:
    """Shannon entropy of ``text`` in bits per character (0 for an empty string)."""
    if not text:
        return 0.0
    counts = Counter(text)
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def action_matches(pattern: str, action: str) -> bool:
    """Return True when an IAM action pattern (``*`` and ``?`` wildcards) matches an action."""
    if "*" not in pattern and "?" not in pattern:
        return pattern.lower() == action.lower()
    return _pattern_regex(pattern).fullmatch(action) is not None


def statement_list(doc: dict[str, Any] | str) -> list[dict[str, Any]]:
    """Return the statements of a document as a list (a single statement becomes a one-item list)."""
    return [s for _path, s in _statements_with_paths(parse_document(doc))]


def grants_admin(doc: dict[str, Any] | str) -> bool:
    """Return True when a statement allows ``*`` (or ``*:*``) on Resource ``*``.

    Statements with ``NotResource`` are ignored: what they exclude is for a human to judge.
    """
    return any(
        _is_allow(s) and "NotResource" not in s and _has_star_action(s) and "*" in _strings(s.get("Resource"))
        for s in statement_list(doc)
    )


def grants_full_service(doc: dict[str, Any] | str, service: str) -> bool:
    """Return True when a statement allows ``<service>:*`` (or ``*``) on Resource ``*``, e.g. ``kms``."""
    full = {f"{service.lower()}:*", "*", "*:*"}
    return any(
        _is_allow(s)
        and "NotResource" not in s
        and any(a.lower() in full for a in _strings(s.get("Action")))
        and "*" in _strings(s.get("Resource"))
        for s in statement_list(doc)
    )


def apply_waivers(
    findings: list[LintFinding], waivers: Iterable[tuple[str, str]]
) -> tuple[list[LintFinding], list[str]]:
    """Split findings into those still standing and notes for those a waiver accepts.

    A waiver ``(rule, reason)`` accepts every finding of that rule in the document, and its note
    reads ``waived <rule> at <path>: <reason>``. ``hardcoded-credential`` cannot be waived.
    """
    reasons: dict[str, str] = {}
    for rule, reason in waivers:
        reasons.setdefault(rule, reason)
    remaining: list[LintFinding] = []
    notes: list[str] = []
    for f in findings:
        if f.rule in reasons and f.rule not in UNWAIVABLE_RULES:
            notes.append(f"waived {f.rule} at {f.path}: {reasons[f.rule]}")
        else:
            remaining.append(f)
    return remaining, notes


# --- rules -------------------------------------------------------------------------------------


def _check_allow_statement(path: str, statement: dict[str, Any]) -> list[LintFinding]:
    findings: list[LintFinding] = []
    actions = _strings(statement.get("Action"))
    resources = _strings(statement.get("Resource"))
    star_star = _has_star_action(statement) and "*" in resources
    if star_star:
        findings.append(LintFinding(
            "allow-star-star", "error",
            "allows every action on every resource (administrator access); name the actions and "
            "resources this principal needs",
            f"{path}.Action",
        ))
    if "NotAction" in statement:
        findings.append(LintFinding(
            "allow-not-action", "error",
            "'NotAction' with 'Effect: Allow' allows every action not listed, including ones AWS adds "
            "later; list the allowed actions under 'Action' instead",
            f"{path}.NotAction",
        ))
    # an Allow of everything already says it all: one finding, so one waiver accepts an admin grant
    passrole = [a for a in actions if action_matches(a, "iam:PassRole")]
    if passrole and "*" in resources and not star_star:
        findings.append(LintFinding(
            "passrole-star", "error",
            f"allows iam:PassRole (through {', '.join(repr(a) for a in passrole)}) on Resource '*', so any "
            "role can be handed to a service; limit Resource to the ARNs of the roles that may be passed",
            f"{path}.Resource",
        ))
    return findings


def _check_cross_account_trust(path: str, statement: dict[str, Any], own_account: str | None) -> LintFinding | None:
    if not any(action_matches(a, "sts:AssumeRole") for a in _strings(statement.get("Action"))):
        return None
    principal = statement.get("Principal")
    if principal == "*":
        aws_principals, where = ["*"], f"{path}.Principal"
    elif isinstance(principal, dict):
        aws_principals, where = _strings(principal.get("AWS")), f"{path}.Principal.AWS"
    else:
        return None
    others = [p for p in aws_principals if not _is_own_account(p, own_account)]
    condition = statement.get("Condition")
    if not others or _requires_external_id(condition) or _requires_organization(condition):
        return None
    who = ", ".join(_describe_principal(p) for p in others)
    return LintFinding(
        "cross-account-trust-without-external-id", "error",
        f"lets {who} assume this role without an sts:ExternalId condition (confused-deputy risk); "
        "add a StringEquals condition on sts:ExternalId",
        where,
    )


def _principal_account(principal: str) -> str | None:
    if _ACCOUNT_ID_RE.match(principal) or principal == OWN_ACCOUNT_PLACEHOLDER:
        return principal
    m = _ARN_ACCOUNT_RE.match(principal)
    return m.group(1) if m else None


def _is_own_account(principal: str, own_account: str | None) -> bool:
    account = _principal_account(principal)
    if account is None:
        # "*", a unique id (AROA...) or anything unparseable: the account cannot be shown to be ours
        return False
    return account == OWN_ACCOUNT_PLACEHOLDER or (own_account is not None and account == own_account)


def _describe_principal(principal: str) -> str:
    if principal == "*":
        return "any AWS account ('*')"
    account = _principal_account(principal)
    return f"account {account}" if account else f"principal {principal!r}"


def _requires_external_id(condition: Any) -> bool:
    return _requires_key(condition, ("sts:externalid",))


def _requires_organization(condition: Any) -> bool:
    """True when only principals of a named organization (or organizational unit) pass.

    A trust open to a whole organization is how landing zones grant their own accounts; the
    confused-deputy risk that ExternalId answers is about third parties, which are outside it.
    """
    return _requires_key(condition, ("aws:principalorgid", "aws:principalorgpaths"), positive=True)


def _requires_key(condition: Any, keys: tuple[str, ...], *, positive: bool = False) -> bool:
    """True when ``condition`` demands one of ``keys`` be present (and, ``positive``, match a value)."""
    if not isinstance(condition, dict):
        return False
    for operator, block in condition.items():
        if not isinstance(block, dict):
            continue
        op = str(operator).lower()
        if positive and ("not" in op.split(":")[-1] or op.startswith("forallvalues:") or op == "null"):
            # StringNotEquals lets every other organization in; ForAllValues passes when the key is
            # absent; Null only asks that the key be there, whatever organization it names
            continue
        for key, value in block.items():
            if str(key).lower() not in keys:
                continue
            if positive and any(str(v).strip("*") == "" for v in _as_list(value)):
                continue
            # ...IfExists passes when the key is absent, and Null "true" demands its absence
            if op.endswith("ifexists"):
                continue
            if op == "null" and "true" in {str(v).lower() for v in _as_list(value)}:
                continue
            return True
    return False


# --- credential scan ---------------------------------------------------------------------------


def _scan(obj: Any, path: str, hits: list[tuple[str, str]], secret_key: bool) -> None:
    if isinstance(obj, str):
        kinds = _credential_kinds(obj)
        if secret_key and not kinds and looks_like_literal_secret(obj):
            kinds.append(LITERAL_SECRET)
        for kind in kinds:
            if (path, kind) not in hits:
                hits.append((path, kind))
    elif isinstance(obj, dict):
        for key, value in obj.items():
            key_text = str(key)
            key_kinds = _credential_kinds(key_text) if isinstance(key, str) else []
            child = _join(path, "<redacted>" if key_kinds else key_text)
            for kind in key_kinds:
                if (child, kind) not in hits:
                    hits.append((child, kind))
            _scan(value, child, hits, isinstance(key, str) and is_secret_key(key))
    elif isinstance(obj, (list, tuple)):
        for index, item in enumerate(obj):
            _scan(item, f"{path}[{index}]", hits, secret_key)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _credential_kinds(text: str) -> list[str]:
    kinds: list[str] = []
    if _ACCESS_KEY_ID_RE.search(text):
        kinds.append(ACCESS_KEY_ID)
    if any(_looks_like_secret(token) for token in _TOKEN_SPLIT_RE.split(text) if len(token) >= 40):
        kinds.append(SECRET_ACCESS_KEY)
    literal = _PLACEHOLDER_RE.sub("", text)
    if _URL_PASSWORD_RE.search(literal) or _CONN_PASSWORD_RE.search(literal):
        kinds.append(PASSWORD_IN_URL)
    return kinds


def _looks_like_secret(token: str) -> bool:
    # an ARN's resource part can be a 40-character path; a secret inside an ARN is not a real case
    if token.startswith("arn:"):
        return False
    for m in _SECRET_KEY_RE.finditer(token):
        run = m.group(0)
        # random keys mix all three classes; hex digests, words and base64 without digits do not
        if not (any(c.isupper() for c in run) and any(c.islower() for c in run) and any(c.isdigit() for c in run)):
            continue
        # nor do words run together (a Sid like AllowEc2InstancesWithEncryptedEbsVolumes): split into
        # CamelCase words and numbers, a random key falls apart into pieces of under 4 characters on
        # average (fewer than 1 in 10 000 random keys reach 4)
        if len(_CAMEL_PIECE_RE.findall(run)) * 4 <= len(run):
            continue
        return True
    return False


# --- helpers -----------------------------------------------------------------------------------


def _statements_with_paths(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    statements = doc.get("Statement")
    if isinstance(statements, dict):
        return [("Statement", statements)]
    if isinstance(statements, list):
        return [(f"Statement[{i}]", s) for i, s in enumerate(statements) if isinstance(s, dict)]
    return []


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _strings(value: Any) -> list[str]:
    return [v for v in _as_list(value) if isinstance(v, str)]


def _is_allow(statement: dict[str, Any]) -> bool:
    # IAM only accepts "Allow"; compare loosely so a mis-cased document is still linted
    return str(statement.get("Effect", "")).lower() == "allow"


def _has_star_action(statement: dict[str, Any]) -> bool:
    return any(a.strip() in ("*", "*:*") for a in _strings(statement.get("Action")))


@lru_cache(maxsize=16384)
def _pattern_regex(pattern: str) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.IGNORECASE | re.DOTALL)
