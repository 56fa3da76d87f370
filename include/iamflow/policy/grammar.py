"""The grammar of a policy document: elements, their combinations, value shapes, and size.

These are the rules IAM applies before it looks at what a document means; a document that breaks
one is refused (``MalformedPolicyDocument``) or, for a few, accepted but not what was meant. Every
problem is reported in one pass, each finding pointing at the element it is about
(``("Statement", 2, "Effect")``; a document whose ``Statement`` is a single object has paths
``("Statement", "Effect")``).

The AWS facts behind the rules:

- A document is a JSON object of ``Version``, ``Id`` and ``Statement`` only; a statement holds
  ``Sid``, ``Effect``, ``Principal``/``NotPrincipal``, ``Action``/``NotAction``,
  ``Resource``/``NotResource`` and ``Condition`` only. Element names are case-sensitive, and so is
  ``Effect``'s value (``Allow`` or ``Deny``).
- ``Version`` is ``2012-10-17`` or ``2008-10-17``. Policy variables (``${aws:username}``) only work
  under ``2012-10-17``; a document without ``Version`` is read as ``2008-10-17``.
- A statement has exactly one of ``Action``/``NotAction``. Identity and resource policies need
  exactly one of ``Resource``/``NotResource``; a role trust policy may hold neither (IAM answers
  "Has prohibited field Resource").
- ``Principal``/``NotPrincipal`` must not appear in an identity policy; trust and resource policies
  need exactly one. ``NotPrincipal`` is not supported in a role trust policy, and only with
  ``Effect: Deny`` elsewhere.
- IAM documents ``Sid`` as ASCII letters and digits; other services' resource policies accept any
  string. Sids are unique within a document.
- An action is ``service:Action`` (wildcards ``*`` and ``?`` in the action part only) or ``*``; a
  resource is ``*`` or an ARN of at least six ``:``-separated parts whose service part is named
  (IAM: "Resource vendor must be fully qualified and cannot contain regexes").
- A principal is ``"*"`` or an object of ``AWS``, ``Service``, ``Federated`` and ``CanonicalUser``;
  an ``AWS`` principal is ``*``, an account id or an IAM/STS ARN without wildcards.
- A condition is operator -> key -> value(s); a value is a string, number or boolean, never an
  object. Each operator family compares one kind of value (dates, numbers, CIDRs, ARNs ...).
- A role trust policy only grants the ``sts`` actions that act on a role: ``AssumeRole*``,
  ``TagSession``, ``SetSourceIdentity``, ``SetContext``.
- Size is counted in characters without the whitespace outside strings; the limit depends on the
  document type. The limit shared by a principal's inline policies is checked by the caller, across
  documents, with :func:`document_size`. AWS-managed policies are not held to the quota of
  customer managed ones (``ReadOnlyAccess`` is over 90 000 characters): to validate one, pass a
  document type whose ``max_chars`` is None.

A value holding ``${...}`` (an iamflow placeholder or an AWS policy variable) could be anything:
its shape is never checked.
"""

from __future__ import annotations

import datetime
import difflib
import ipaddress
import json
import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from iamflow.policy.catalog import catalog, wildcard_regex
from iamflow.policy.doctypes import IDENTITY, RESOURCE, TRUST, DocumentType
from iamflow.policy.findings import ERROR, SUGGESTION, WARNING, Finding, Path, code
from iamflow.policy.operators import SET_PREFIXES, Operator, operator_names, parse_operator

_G = "grammar"

POLICY_NOT_OBJECT = code("policy-not-object", ERROR, "the document is not a JSON object", group=_G)
UNKNOWN_ELEMENT = code("unknown-element", ERROR,
                       "an element IAM does not know (names are case-sensitive)", group=_G)
VERSION_MISSING = code("version-missing", SUGGESTION,
                       "no Version: read as 2008-10-17, without policy variables", group=_G)
VERSION_INVALID = code("version-invalid", ERROR, "Version is not \"2012-10-17\" or \"2008-10-17\"", group=_G)
VERSION_2008 = code("version-2008", WARNING,
                    "Version 2008-10-17: policy variables are not substituted", group=_G)
ID_INVALID = code("id-invalid", ERROR, "Id is not a string", group=_G)
STATEMENT_MISSING = code("statement-missing", ERROR, "the document has no Statement", group=_G)
STATEMENT_EMPTY = code("statement-empty", ERROR, "Statement is an empty list", group=_G)
STATEMENT_NOT_OBJECT = code("statement-not-object", ERROR, "a statement is not a JSON object", group=_G)
SID_INVALID = code("sid-invalid", ERROR, "Sid is not a string, or holds characters IAM refuses", group=_G)
SID_DUPLICATE = code("sid-duplicate", ERROR, "two statements have the same Sid", group=_G)
EFFECT_MISSING = code("effect-missing", ERROR, "a statement has no Effect", group=_G)
EFFECT_INVALID = code("effect-invalid", ERROR, "Effect is not exactly \"Allow\" or \"Deny\"", group=_G)
ACTION_MISSING = code("action-missing", ERROR, "a statement has neither Action nor NotAction", group=_G)
ACTION_CONFLICT = code("action-conflict", ERROR, "a statement has both Action and NotAction", group=_G)
ACTION_INVALID = code("action-invalid", ERROR, "an action is not \"service:Action\" or \"*\"", group=_G)
RESOURCE_MISSING = code("resource-missing", ERROR,
                        "a statement has neither Resource nor NotResource", group=_G)
RESOURCE_CONFLICT = code("resource-conflict", ERROR,
                         "a statement has both Resource and NotResource", group=_G)
RESOURCE_IN_TRUST = code("resource-in-trust", ERROR,
                         "Resource or NotResource in a role trust policy", group=_G)
RESOURCE_INVALID = code("resource-invalid", ERROR, "a resource is not an ARN or \"*\"", group=_G)
PRINCIPAL_MISSING = code("principal-missing", ERROR,
                         "a trust or resource policy statement has no Principal", group=_G)
PRINCIPAL_CONFLICT = code("principal-conflict", ERROR,
                          "a statement has both Principal and NotPrincipal", group=_G)
PRINCIPAL_IN_IDENTITY = code("principal-in-identity", ERROR,
                             "Principal or NotPrincipal in an identity policy", group=_G)
NOT_PRINCIPAL_IN_TRUST = code("not-principal-in-trust", ERROR,
                              "NotPrincipal in a role trust policy", group=_G)
PRINCIPAL_INVALID = code("principal-invalid", ERROR,
                         "a principal is not of the shape its type needs", group=_G)
PRINCIPAL_TYPE_UNKNOWN = code("principal-type-unknown", ERROR,
                              "a Principal key other than AWS, Service, Federated, CanonicalUser", group=_G)
NOT_ACTION_IN_TRUST = code("not-action-in-trust", ERROR, "NotAction in a role trust policy", group=_G)
TRUST_ACTION_INVALID = code("trust-action-invalid", ERROR,
                            "a trust policy action that is not one of the sts actions on a role", group=_G)
EMPTY_LIST = code("empty-list", ERROR, "an element or condition value given as an empty list", group=_G)
CONDITION_INVALID = code("condition-invalid", ERROR, "Condition is not operator -> key -> value(s)", group=_G)
CONDITION_OPERATOR_UNKNOWN = code("condition-operator-unknown", ERROR,
                                  "a condition operator IAM does not know", group=_G)
CONDITION_OPERATOR_CASE = code("condition-operator-case", WARNING,
                               "a condition operator written in another case than AWS documents", group=_G)
CONDITION_OPERATOR_EMPTY = code("condition-operator-empty", WARNING,
                                "a condition operator with no keys", group=_G)
CONDITION_VALUE_INVALID = code("condition-value-invalid", ERROR,
                               "a condition value of the wrong kind for its operator", group=_G)
POLICY_TOO_LARGE = code("policy-too-large", ERROR, "the document is over its type's size limit", group="size")
INLINE_POLICIES_TOO_LARGE = code("inline-policies-too-large", ERROR,
                                 "a principal's inline policies together are over their size limit",
                                 group="size")

POLICY_ELEMENTS = ("Version", "Id", "Statement")
STATEMENT_ELEMENTS = ("Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource",
                      "NotResource", "Condition")
VERSIONS = ("2012-10-17", "2008-10-17")
EFFECTS = ("Allow", "Deny")
PRINCIPAL_TYPES = ("AWS", "Service", "Federated", "CanonicalUser")
# the sts actions a role trust policy can grant
TRUST_ACTIONS = ("sts:AssumeRole", "sts:AssumeRoleWithSAML", "sts:AssumeRoleWithWebIdentity",
                 "sts:TagSession", "sts:SetSourceIdentity", "sts:SetContext")
# sts's actions when the catalog cannot say (only used to judge wildcards in trust policies)
_STS_ACTIONS_FALLBACK = ("AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity", "AssumeRoot",
                         "DecodeAuthorizationMessage", "GetAccessKeyInfo", "GetCallerIdentity",
                         "GetDelegatedAccessToken", "GetFederationToken", "GetServiceBearerToken",
                         "GetSessionToken", "GetWebIdentityToken", "SetContext", "SetSourceIdentity",
                         "TagGetWebIdentityToken", "TagSession")

# iamflow placeholders and their longest real values, for the size count
_SIZE_PLACEHOLDERS = {"${account_id}": "123456789012", "${partition}": "aws-us-gov",
                      "${region}": "ap-southeast-2"}

_PLACEHOLDER = "${"
_SID_IAM = re.compile(r"[A-Za-z0-9]*")
# service prefixes are lower-case in the reference, but IAM matches actions case-insensitively and
# AWS's own managed policies write "S3:GetBucketWebsite" or "cloudTrail:GetChannel"
_ACTION = re.compile(r"[A-Za-z0-9-]+:[A-Za-z0-9*?-]+")
_ACTION_PREFIX_WILDCARD = re.compile(r"[A-Za-z0-9*?-]+:[A-Za-z0-9*?-]+")
_ACCOUNT_ID = re.compile(r"\d{12}")
_PRINCIPAL_ARN = re.compile(r"arn:aws[a-z-]*:(iam|sts)::\d{12}:\S+")
_SERVICE_PRINCIPAL = re.compile(r"[a-z0-9][a-z0-9.-]*\.(amazonaws\.com(\.cn)?|c2s\.ic\.gov|sc2s\.sgov\.gov)")
_FEDERATED_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:(saml-provider|oidc-provider)/\S+")
_HOST_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)+"
                        r"(/\S*)?")
_CANONICAL_USER = re.compile(r"[0-9a-fA-F]{64}")
_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)")
_EPOCH = re.compile(r"\d+")
_ISO_DATE = re.compile(r"\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[-+]\d{2}:?\d{2})?)?)?)?")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_BOOL_TEXT = ("true", "false")


def check_grammar(doc: Any, doc_type: DocumentType) -> list[Finding]:
    """Every grammar problem of ``doc`` (any JSON value) as a ``doc_type`` document."""
    if not isinstance(doc, dict):
        message = (f"The policy document is {_kind(doc)}, not a JSON object; write it as "
                   "{\"Version\": \"2012-10-17\", \"Statement\": [...]}.")
        return [Finding(POLICY_NOT_OBJECT, message)]
    out: list[Finding] = []
    _check_top(doc, out)
    statements = doc.get("Statement")
    if isinstance(statements, dict):
        _check_statement(statements, ("Statement",), doc_type, out)
    elif isinstance(statements, list):
        for i, st in enumerate(statements):
            if isinstance(st, dict):
                _check_statement(st, ("Statement", i), doc_type, out)
            else:
                message = (f"Statement {i} is {_kind(st)}, not a JSON object; write it as "
                           "{\"Effect\": ..., \"Action\": ...}.")
                out.append(Finding(STATEMENT_NOT_OBJECT, message, ("Statement", i)))
        _check_sids(statements, out)
    _check_size(doc, doc_type, out)
    return out


def document_size(doc: Any) -> int:
    """How many characters IAM counts in ``doc``: its compact JSON without whitespace outside strings.

    iamflow placeholders count as their longest real value (``${region}`` as ``ap-southeast-2``), so
    a document that fits here fits in every account, partition and region.
    """
    try:
        text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False, default=str)
    except (TypeError, ValueError):  # keys JSON cannot hold, or a cycle: an estimate is enough
        text = re.sub(r"\s+", "", repr(doc))
    size = len(text)
    for placeholder, longest in _SIZE_PLACEHOLDERS.items():
        size += text.count(placeholder) * (len(longest) - len(placeholder))
    return size


# --- the document --------------------------------------------------------------------------------


def _check_top(doc: dict[Any, Any], out: list[Finding]) -> None:
    for key in doc:
        if key not in POLICY_ELEMENTS:
            message = (f"{key!r} is not a policy document element (only Version, Id and Statement are)"
                       f"{_did_you_mean(key, POLICY_ELEMENTS)}")
            out.append(Finding(UNKNOWN_ELEMENT, message, (str(key),)))
    _check_version(doc, out)
    if "Id" in doc and not isinstance(doc["Id"], str):
        out.append(Finding(ID_INVALID, f"Id is {_kind(doc['Id'])}; write it as a string.", ("Id",)))
    if "Statement" not in doc:
        out.append(Finding(STATEMENT_MISSING, "The document has no Statement; add a list of statements."))
        return
    statements = doc["Statement"]
    if isinstance(statements, list) and not statements:
        message = "Statement is an empty list; add at least one statement."
        out.append(Finding(STATEMENT_EMPTY, message, ("Statement",)))
    elif not isinstance(statements, (list, dict)):
        message = f"Statement is {_kind(statements)}; write it as a list of statement objects."
        out.append(Finding(STATEMENT_NOT_OBJECT, message, ("Statement",)))


def _check_version(doc: dict[Any, Any], out: list[Finding]) -> None:
    if "Version" not in doc:
        message = ("The document has no Version, so IAM reads it as 2008-10-17 where policy variables "
                   "do not work; add \"Version\": \"2012-10-17\".")
        out.append(Finding(VERSION_MISSING, message))
        return
    version = doc["Version"]
    if isinstance(version, datetime.date):
        text = version.isoformat()
        message = f"Version {text} was read as a date, not a string; quote it: \"{text}\"."
        out.append(Finding(VERSION_INVALID, message, ("Version",)))
    elif not isinstance(version, str) or version not in VERSIONS:
        message = f"Version {version!r} is not a policy language version; write \"2012-10-17\"."
        out.append(Finding(VERSION_INVALID, message, ("Version",)))
    elif version == "2008-10-17":
        message = ("Version 2008-10-17 does not substitute policy variables such as ${aws:username}; "
                   "write \"2012-10-17\".")
        out.append(Finding(VERSION_2008, message, ("Version",)))


def _check_sids(statements: list[Any], out: list[Finding]) -> None:
    first: dict[str, int] = {}
    for i, st in enumerate(statements):
        sid = st.get("Sid") if isinstance(st, dict) else None
        if not isinstance(sid, str) or not sid:
            continue
        if sid in first:
            message = (f"Statements {first[sid]} and {i} have the same Sid {sid!r}; give each statement "
                       "its own Sid.")
            out.append(Finding(SID_DUPLICATE, message, ("Statement", i, "Sid")))
        else:
            first[sid] = i


def _check_size(doc: dict[Any, Any], doc_type: DocumentType, out: list[Finding]) -> None:
    if doc_type.max_chars is None or doc_type.aggregate:
        return
    size = document_size(doc)
    if size > doc_type.max_chars:
        message = (f"The document is {size} characters (whitespace not counted), over the "
                   f"{doc_type.max_chars} allowed in {doc_type.label}; split it or merge statements.")
        out.append(Finding(POLICY_TOO_LARGE, message))


# --- a statement ---------------------------------------------------------------------------------


def _check_statement(st: dict[Any, Any], at: Path, doc_type: DocumentType, out: list[Finding]) -> None:
    for key in st:
        if key not in STATEMENT_ELEMENTS:
            message = f"{key!r} is not a statement element{_did_you_mean(key, STATEMENT_ELEMENTS)}"
            out.append(Finding(UNKNOWN_ELEMENT, message, (*at, str(key))))
    _check_sid(st, at, doc_type, out)
    _check_effect(st, at, out)
    _check_actions(st, at, doc_type, out)
    _check_resources(st, at, doc_type, out)
    _check_principals(st, at, doc_type, out)
    if "Condition" in st:
        _check_condition(st["Condition"], (*at, "Condition"), out)


def _check_sid(st: dict[Any, Any], at: Path, doc_type: DocumentType, out: list[Finding]) -> None:
    if "Sid" not in st:
        return
    sid = st["Sid"]
    if not isinstance(sid, str):
        out.append(Finding(SID_INVALID, f"Sid {sid!r} is {_kind(sid)}; write it as a string.", (*at, "Sid")))
    elif doc_type.profile != RESOURCE and not _SID_IAM.fullmatch(sid):
        message = f"Sid {sid!r} holds characters IAM refuses; use only letters A-Z, a-z and digits 0-9."
        out.append(Finding(SID_INVALID, message, (*at, "Sid")))


def _check_effect(st: dict[Any, Any], at: Path, out: list[Finding]) -> None:
    if "Effect" not in st:
        message = "The statement has no Effect; add \"Effect\": \"Allow\" or \"Deny\"."
        out.append(Finding(EFFECT_MISSING, message, at))
        return
    effect = st["Effect"]
    if effect in EFFECTS:
        return
    if isinstance(effect, str) and effect.capitalize() in EFFECTS:
        message = (f"Effect {effect!r} must be written {effect.capitalize()!r}: IAM compares it "
                   "case-sensitively.")
    else:
        message = f"Effect {effect!r} is neither \"Allow\" nor \"Deny\"; write one of them."
    out.append(Finding(EFFECT_INVALID, message, (*at, "Effect")))


def _entries(value: Any, at: Path) -> Iterator[tuple[Any, Path]]:
    """Each entry of a string-or-list element with its path (a lone string has the element's path)."""
    if isinstance(value, list):
        for i, entry in enumerate(value):
            yield entry, (*at, i)
    else:
        yield value, at


def _pair(st: dict[Any, Any], at: Path, names: tuple[str, str], codes: tuple[str, str],
          out: list[Finding]) -> None:
    """Exactly one of the two ``names``: ``codes`` are those for neither and for both."""
    positive, negative = names
    missing, conflict = codes
    if positive in st and negative in st:
        message = f"The statement has both {positive} and {negative}; keep one."
        out.append(Finding(conflict, message, (*at, negative)))
    elif positive not in st and negative not in st:
        message = f"The statement has neither {positive} nor {negative}; add {positive}."
        out.append(Finding(missing, message, at))


def _list_shape_ok(value: Any, at: Path, element: str, invalid: str, out: list[Finding]) -> bool:
    """Whether ``value`` is a string or a non-empty list (reporting it when not)."""
    if isinstance(value, list):
        if not value:
            message = f"{element} is an empty list; name at least one value or remove it."
            out.append(Finding(EMPTY_LIST, message, at))
            return False
        return True
    if isinstance(value, str):
        return True
    out.append(Finding(invalid, f"{element} is {_kind(value)}; write a string or a list of strings.", at))
    return False


# --- Action --------------------------------------------------------------------------------------


def _check_actions(st: dict[Any, Any], at: Path, doc_type: DocumentType, out: list[Finding]) -> None:
    _pair(st, at, ("Action", "NotAction"), (ACTION_MISSING, ACTION_CONFLICT), out)
    trust = doc_type.profile == TRUST
    if trust and "NotAction" in st:
        message = "A role trust policy cannot use NotAction; list the sts actions in Action instead."
        out.append(Finding(NOT_ACTION_IN_TRUST, message, (*at, "NotAction")))
    for element in ("Action", "NotAction"):
        path = (*at, element)
        if element not in st or not _list_shape_ok(st[element], path, element, ACTION_INVALID, out):
            continue
        for entry, entry_path in _entries(st[element], path):
            if _action_ok(entry, entry_path, element, out) and trust and element == "Action":
                _check_trust_action(entry, entry_path, out)


def _action_ok(action: Any, at: Path, element: str, out: list[Finding]) -> bool:
    """Whether ``action`` is well formed (reporting it when not)."""
    if not isinstance(action, str):
        message = f"{element} entry {action!r} is {_kind(action)}; write \"service:Action\" as a string."
        out.append(Finding(ACTION_INVALID, message, at))
        return False
    if action == "*" or _PLACEHOLDER in action or _ACTION.fullmatch(action):
        return True
    if _ACTION_PREFIX_WILDCARD.fullmatch(action):
        message = (f"{element} {action!r} has a wildcard in its service prefix, which IAM refuses; name "
                   "the service (\"s3:Get*\") or use \"*\".")
    else:
        message = (f"{element} {action!r} is not of the form \"service:Action\" (like \"s3:GetObject\") "
                   "or \"*\".")
    out.append(Finding(ACTION_INVALID, message, at))
    return False


def _check_trust_action(action: str, at: Path, out: list[Finding]) -> None:
    if _PLACEHOLDER in action or _trust_action_ok(action.lower()):
        return
    allowed = ", ".join(TRUST_ACTIONS)
    if "*" in action or "?" in action:
        message = (f"Action {action!r} in a role trust policy matches actions other than the ones a "
                   f"trust can grant; list them instead: {allowed}.")
    else:
        message = f"Action {action!r} cannot be granted by a role trust policy; use one of {allowed}."
    out.append(Finding(TRUST_ACTION_INVALID, message, at))


@lru_cache(maxsize=256)
def _trust_action_ok(action: str) -> bool:
    """Whether a lower-case action (or wildcard) names only sts actions on a role, and at least one."""
    allowed = {a.lower() for a in TRUST_ACTIONS}
    if "*" not in action and "?" not in action:
        return action in allowed
    service, _, name = action.partition(":")
    if service != "sts":
        return False
    matched = {f"sts:{a}" for a in _sts_actions() if wildcard_regex(name).fullmatch(a)}
    return bool(matched) and matched <= allowed


@lru_cache(maxsize=1)
def _sts_actions() -> tuple[str, ...]:
    """sts's action names in lower case, from the service reference (a fixed list if it is unavailable)."""
    try:
        sts = catalog().service("sts")
    except Exception:  # noqa: BLE001 - the grammar must not fail because the reference cannot be read
        sts = None
    names = [a.name for a in sts.actions.values()] if sts is not None else list(_STS_ACTIONS_FALLBACK)
    return tuple(sorted(n.lower() for n in names))


# --- Resource ------------------------------------------------------------------------------------


def _check_resources(st: dict[Any, Any], at: Path, doc_type: DocumentType, out: list[Finding]) -> None:
    if doc_type.profile == TRUST:
        for element in ("Resource", "NotResource"):
            if element in st:
                message = (f"A role trust policy cannot hold {element} (IAM: \"Has prohibited field "
                           f"{element}\"); remove it: the resource is the role itself.")
                out.append(Finding(RESOURCE_IN_TRUST, message, (*at, element)))
        return
    _pair(st, at, ("Resource", "NotResource"), (RESOURCE_MISSING, RESOURCE_CONFLICT), out)
    for element in ("Resource", "NotResource"):
        path = (*at, element)
        if element not in st or not _list_shape_ok(st[element], path, element, RESOURCE_INVALID, out):
            continue
        for entry, entry_path in _entries(st[element], path):
            problem = _resource_problem(entry, element)
            if problem:
                out.append(Finding(RESOURCE_INVALID, problem, entry_path))


def _resource_problem(resource: Any, element: str) -> str | None:
    """Why ``resource`` is not ``*`` or an ARN, or None."""
    if not isinstance(resource, str):
        return f"{element} entry {resource!r} is {_kind(resource)}; write an ARN string or \"*\"."
    if resource == "*" or resource.startswith(_PLACEHOLDER):
        return None
    if not resource.startswith("arn:"):
        return (f"{element} {resource!r} is not an ARN; write the full ARN (\"arn:aws:s3:::my-bucket/*\" "
                "for an S3 object) or \"*\".")
    if _PLACEHOLDER in resource:  # a placeholder may stand for several parts
        return None
    parts = resource.split(":", 5)
    if len(parts) < 6:
        return (f"{element} {resource!r} has {len(parts)} of the 6 parts of an ARN "
                "(arn:partition:service:region:account:resource); add the missing ones, empty if need be.")
    service = parts[2]
    if not service or "*" in service or "?" in service:
        return (f"{element} {resource!r} does not name its service (IAM refuses a wildcard or nothing "
                "there); write the service, like \"arn:aws:s3:::my-bucket\".")
    return None


# --- Principal -----------------------------------------------------------------------------------


def _check_principals(st: dict[Any, Any], at: Path, doc_type: DocumentType, out: list[Finding]) -> None:
    if doc_type.profile == IDENTITY:
        for element in ("Principal", "NotPrincipal"):
            if element in st:
                message = (f"An identity policy cannot hold {element}: it applies to whoever it is "
                           "attached to; remove it.")
                out.append(Finding(PRINCIPAL_IN_IDENTITY, message, (*at, element)))
        return
    _pair(st, at, ("Principal", "NotPrincipal"), (PRINCIPAL_MISSING, PRINCIPAL_CONFLICT), out)
    # Allow with NotPrincipal in a resource policy is accepted by AWS, and dangerous: the security
    # rules report it (allow-with-not-principal), not the grammar
    if "NotPrincipal" in st and doc_type.profile == TRUST:
        message = "A role trust policy cannot use NotPrincipal; name the principals in Principal."
        out.append(Finding(NOT_PRINCIPAL_IN_TRUST, message, (*at, "NotPrincipal")))
    for element in ("Principal", "NotPrincipal"):
        if element in st:
            _check_principal(st[element], (*at, element), element, out)


def _check_principal(value: Any, at: Path, element: str, out: list[Finding]) -> None:
    if value == "*":
        return
    if not isinstance(value, dict) or not value:
        message = (f"{element} {value!r} is neither \"*\" nor an object like "
                   "{\"AWS\": \"arn:aws:iam::123456789012:root\"}; write one of them.")
        out.append(Finding(PRINCIPAL_INVALID, message, at))
        return
    for kind, names in value.items():
        path = (*at, str(kind))
        if kind not in PRINCIPAL_TYPES:
            message = (f"{element} type {kind!r} is not one of {', '.join(PRINCIPAL_TYPES)}"
                       f"{_did_you_mean(kind, PRINCIPAL_TYPES)}")
            out.append(Finding(PRINCIPAL_TYPE_UNKNOWN, message, path))
            continue
        if not _list_shape_ok(names, path, f"{element} {kind}", PRINCIPAL_INVALID, out):
            continue
        for name, entry_path in _entries(names, path):
            problem = _principal_problem(kind, name)
            if problem:
                out.append(Finding(PRINCIPAL_INVALID, problem, entry_path))


def _principal_problem(kind: str, name: Any) -> str | None:
    """Why ``name`` is not a principal of type ``kind``, or None."""
    if not isinstance(name, str):
        return f"{kind} principal {name!r} is {_kind(name)}; write it as a string."
    if _PLACEHOLDER in name:
        return None
    if kind == "AWS":
        return _aws_principal_problem(name)
    if kind == "Service":
        if _SERVICE_PRINCIPAL.fullmatch(name):
            return None
        return (f"Service principal {name!r} is not a service name like \"lambda.amazonaws.com\"; write "
                "the full name.")
    if kind == "Federated":
        if _FEDERATED_ARN.fullmatch(name) or (not name.startswith("arn:") and _HOST_NAME.fullmatch(name)):
            return None
        return (f"Federated principal {name!r} is neither a SAML/OIDC provider ARN nor an identity "
                "provider name like \"cognito-identity.amazonaws.com\"; write one of them.")
    if _CANONICAL_USER.fullmatch(name):
        return None
    return f"CanonicalUser principal {name!r} is not a 64-character hexadecimal canonical user id."


def _aws_principal_problem(name: str) -> str | None:
    if name == "*":
        return None
    if "*" in name or "?" in name:
        return (f"AWS principal {name!r} holds a wildcard, which IAM refuses in a principal; name the "
                "principal, or use \"*\" with a condition on aws:PrincipalArn.")
    if _ACCOUNT_ID.fullmatch(name) or _PRINCIPAL_ARN.fullmatch(name):
        return None
    return (f"AWS principal {name!r} is not \"*\", a 12-digit account id or an IAM/STS ARN "
            "(\"arn:aws:iam::123456789012:role/name\"); write one of them.")


# --- Condition -----------------------------------------------------------------------------------


def _check_condition(condition: Any, at: Path, out: list[Finding]) -> None:
    if not isinstance(condition, dict):
        message = (f"Condition is {_kind(condition)}; write an object of operator -> {{key: value}}, like "
                   "{\"Bool\": {\"aws:SecureTransport\": \"true\"}}.")
        out.append(Finding(CONDITION_INVALID, message, at))
        return
    for text, block in condition.items():
        path = (*at, str(text))
        operator = _check_operator(str(text), path, out)
        if not isinstance(block, dict):
            message = (f"Condition operator {text!r} holds {_kind(block)}; write an object of "
                       "condition key -> value(s).")
            out.append(Finding(CONDITION_INVALID, message, path))
            continue
        if not block:
            message = f"Condition operator {text!r} has no condition keys; add one or remove the operator."
            out.append(Finding(CONDITION_OPERATOR_EMPTY, message, path))
        for key, value in block.items():
            _check_condition_values(value, (*path, str(key)), str(key), operator, out)


def _check_operator(text: str, at: Path, out: list[Finding]) -> Operator | None:
    operator = parse_operator(text)
    if operator is None:
        message = f"{text!r} is not a condition operator{_operator_hint(text)}"
        out.append(Finding(CONDITION_OPERATOR_UNKNOWN, message, at))
        return None
    if not operator.exact_case:
        message = (f"Condition operator {text!r} is written in another case than AWS documents; write "
                   f"{_spelling(operator)!r}.")
        out.append(Finding(CONDITION_OPERATOR_CASE, message, at))
    return operator


def _spelling(operator: Operator) -> str:
    prefix = f"{operator.set_prefix}:" if operator.set_prefix else ""
    return f"{prefix}{operator.base}{'IfExists' if operator.if_exists else ''}"


def _operator_hint(text: str) -> str:
    """The end of the sentence about an unknown operator: the operator meant, when one is close."""
    head, sep, rest = text.rpartition(":")
    if rest.lower() == "nullifexists":
        return "; Null cannot take IfExists, it already tests whether the key exists: use \"Null\"."
    prefix = ""
    if sep:
        prefix = next((p for p in SET_PREFIXES if p.lower() == head.lower()), "")
        if not prefix:
            close = difflib.get_close_matches(head, SET_PREFIXES, n=1, cutoff=0.6)
            if not close:
                return f"; {head!r} is not a set prefix (ForAllValues or ForAnyValue)."
            prefix = close[0]
        prefix += ":"
    base = parse_operator(rest)
    suggestion = _spelling(base) if base is not None else _close(rest, operator_names())
    return f"; did you mean {prefix + suggestion!r}?" if suggestion else "."


def _check_condition_values(value: Any, at: Path, key: str, operator: Operator | None,
                            out: list[Finding]) -> None:
    if isinstance(value, list) and not value:
        message = (f"Condition key {key!r} has an empty list of values; give at least one value or "
                   "remove the key.")
        out.append(Finding(EMPTY_LIST, message, at))
        return
    for entry, path in _entries(value, at):
        if isinstance(entry, (dict, list)) or entry is None:
            message = (f"Condition key {key!r} has a value that is {_kind(entry)}; condition values are "
                       "strings, numbers or booleans.")
            out.append(Finding(CONDITION_VALUE_INVALID, message, path))
        elif operator is not None:
            problem = _value_problem(operator, entry)
            if problem:
                out.append(Finding(CONDITION_VALUE_INVALID, f"Condition key {key!r}: {problem}.", path))


def _value_problem(operator: Operator, value: str | int | float | bool) -> str | None:
    """Why a scalar does not fit ``operator``'s family, or None."""
    family = operator.family
    if isinstance(value, str) and _PLACEHOLDER in value:
        return None
    check = _VALUE_CHECKS.get(family)
    if check is None or check(value):
        return None
    return f"{value!r} is not {_VALUE_WANTED[family]}, as {operator.text} compares"


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool) or (isinstance(value, str) and value.lower() in _BOOL_TEXT)


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, (int, float)) or (isinstance(value, str) and bool(_NUMBER.fullmatch(value)))


def _is_date(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, str) and bool(_EPOCH.fullmatch(value) or _ISO_DATE.fullmatch(value))


def _is_ip(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True


def _is_arn(value: Any) -> bool:
    return isinstance(value, str) and (value.startswith("arn:") or "*" in value or "?" in value)


def _is_base64(value: Any) -> bool:
    return isinstance(value, str) and len(value) % 4 == 0 and bool(_BASE64.fullmatch(value))


_VALUE_CHECKS = {"Bool": _is_bool, "Null": _is_bool, "Numeric": _is_number, "Date": _is_date,
                 "IPAddress": _is_ip, "ARN": _is_arn, "Binary": _is_base64}
_VALUE_WANTED = {
    "Bool": "true or false",
    "Null": "true (the key is absent) or false (present)",
    "Numeric": "a number",
    "Date": "an ISO 8601 date or time (2024-01-31T12:00:00Z) or epoch seconds",
    "IPAddress": "an IP address or CIDR range (203.0.113.0/24)",
    "ARN": "an ARN (or a pattern with wildcards)",
    "Binary": "base64-encoded data",
}


# --- helpers -------------------------------------------------------------------------------------


def _kind(value: Any) -> str:
    """What a JSON value is, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


def _close(word: str, choices: tuple[str, ...] | list[str]) -> str | None:
    """The choice ``word`` most likely meant: the same letters in another case first, then a near spelling."""
    lowered = word.lower()
    for choice in choices:
        if choice.lower() == lowered:
            return choice
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return close[0] if close else None


def _did_you_mean(word: Any, choices: tuple[str, ...]) -> str:
    """The end of a sentence about an unknown name: the name meant, when one is close."""
    choice = _close(word, choices) if isinstance(word, str) else None
    if choice is None:
        return "."
    if choice.lower() == str(word).lower():
        return f"; names are case-sensitive, write {choice!r}."
    return f"; did you mean {choice!r}?"
