"""A document against the IAM service reference: actions, resources, condition keys, operator types.

What IAM does with a document that names things that do not exist is the reason for these rules:
it stores most of them and silently grants (or denies) nothing. An unknown action matches no
request, a resource ARN of the wrong shape names no resource, a misspelt condition key is absent
from every request (so a ``StringEquals`` on it is always false, and a ``StringNotEquals`` always
true). The facts come from the service reference (:mod:`iamflow.policy.catalog`); ARNs are
matched by :mod:`iamflow.policy.arn`, part by part, never by prefix.

The reference is not complete, and AWS's own managed policies show where: they name retired
services, actions and resource types the reference does not list, and resources for actions the
reference says do not take them. A rule whose facts are that uncertain is a warning, not an
error: errors cannot be waived, and a copy of an AWS policy must not be refused. The AWS-managed
policy regression test (the 1 582 policies moto bundles) produces no error.

Actions (``Action`` and ``NotAction``; ``*`` alone, and a value holding a ``${...}`` placeholder,
are not checked; names compare case-insensitively, as IAM compares them):

- ``unknown-service`` (error): the prefix of ``s4:GetObject`` is no service's (did you mean ``s3``);
- ``unknown-action`` (error): ``s3:GetObjects`` is no action of ``s3`` (did you mean ``s3:GetObject``);
- ``wildcard-matches-nothing`` (error): ``s3:Gett*`` matches no action of ``s3``;
- ``not-in-reference`` (warning): a service AWS has retired (``codestar``, ``evidently`` ...), or an
  action or condition key AWS's own policies use that the reference does not list (tables below).

Resources (``Resource`` of an Allow or Deny statement with ``Action``; a statement with
``NotAction`` or ``NotResource`` is left alone, as are ``*``, a value that is wholly a
placeholder, and a value not starting with ``arn:``, which is the grammar's):

- ``invalid-arn`` (error): the ARN cannot name a resource: fewer than six parts; a service part
  that is no service's; a region or account where its service's ARNs have none, or none where they
  need one (``arn:aws:s3:us-east-1::b/*``: S3 ARNs have no region); or a resource type that is a
  misspelling of a documented one (``tabel/x``, did you mean ``table/``). An empty account is
  accepted everywhere: resources AWS owns have one (public SSM documents, public AMIs).
- ``undocumented-resource-type`` (warning): the resource part fits no type the reference
  documents, and is no near miss of one (``changetoken/``), or the same word in another case or
  punctuation (``stateMachine:`` written ``statemachine:``; IAM compares ARNs case-sensitively);
- ``resource-mismatch`` (error): the ARN is of a service none of the statement's actions acts on
  (``s3:GetObject`` on a DynamoDB table). A service acts on its own resources, on those any of its
  actions acts on in the reference (``sts`` on ``iam`` roles, ``ssm`` on ``ec2`` instances), on
  those of services whose prefix starts or extends its own (``ssmmessages`` and ``ssm``), on IAM
  roles (every service is handed roles), and on the few pairs of ``_ALSO_ACTS_ON``.
- ``resource-type-mismatch`` (warning): the ARN is of the statement's services, but no action of
  the statement acts on its type per the reference (``s3:GetObject`` on a bucket;
  ``s3:ListAllMyBuckets``, which takes only ``*``, on a bucket). A resource that some other action
  of its statement uses is normal (IAM ignores the pair) and not reported.

Condition keys (every key of every operator block; keys compare case-insensitively):

- ``unknown-condition-key`` (error): no global key, no service, no identity provider has it
  (did-you-mean from the global keys and the services concerned);
- ``condition-key-not-applicable`` (warning): the key is real but of a service none of the
  statement's actions is of, so their requests never carry it. Lenient on purpose: a key of the
  service of any action of the statement counts, whether or not that action lists it. Not checked
  for a statement with ``NotAction``, a ``*`` action, or an action that did not resolve.

A key whose prefix holds a ``.`` or ``/`` is a web identity provider's claim
(``token.actions.githubusercontent.com:sub``, ``accounts.google.com:aud``): providers define their
own, so any is accepted, and whether it holds one value or several (``amr``) is not judged.

Operators and keys (operators the grammar does not know are skipped; ``Null`` fits every key):

- ``operator-key-type-mismatch`` (error): the operator cannot compare the key's values
  (``NumericLessThan`` on ``aws:SourceIp``; an IP address key takes only ``IpAddress`` and
  ``NotIpAddress``): the condition never matches as meant;
- ``operator-key-type-unusual`` (warning): a String operator on a Bool, Numeric, Date or Binary
  key, or an Arn or Bool operator on a String key: IAM compares the text, so it can work, but the
  typed operator says what is meant. AWS's managed policies use ``ArnLike`` on String keys that
  hold ARNs (``kms:EncryptionContext:aws:s3:arn``) and ``StringEquals`` on Bool keys. String
  operators on ARN keys are fine and not reported; ``aws:EpochTime`` takes Date and Numeric ones.
- ``set-operator-on-single-valued-key`` (warning): ``ForAllValues:``/``ForAnyValue:`` on a key that
  has one value;
- ``multivalued-key-without-set-operator`` (warning): a multi-valued key (``aws:TagKeys``) compared
  without a set prefix: IAM then needs a single value to match;
- ``forallvalues-with-allow`` (security warning): ``ForAllValues:`` in an Allow is true when the key
  is absent from the request (an empty set satisfies "all values"), so the statement also allows
  requests that carry no value, unless a ``Null`` check on the key requires one.
"""

from __future__ import annotations

import difflib
import re
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from iamflow.policy.arn import (
    has_variable,
    is_placeholder,
    leading_literal,
    mismatched_parts,
    parse_arn,
    pattern_matches_format,
    split_parts,
)
from iamflow.policy.catalog import (
    Action,
    Catalog,
    ConditionKey,
    Service,
    global_key,
    global_keys,
)
from iamflow.policy.doctypes import DocumentType
from iamflow.policy.findings import ERROR, SECURITY_WARNING, WARNING, Finding, Path, code
from iamflow.policy.operators import Operator, parse_operator

UNKNOWN_SERVICE = code("unknown-service", ERROR, "an action's service prefix is no AWS service's",
                       group="catalog")
UNKNOWN_ACTION = code("unknown-action", ERROR, "the service has no action of that name", group="catalog")
WILDCARD_MATCHES_NOTHING = code("wildcard-matches-nothing", ERROR,
                                "an action pattern matches no action of its service", group="catalog")
INVALID_ARN = code("invalid-arn", ERROR, "a resource ARN has the shape of no AWS resource type",
                   group="catalog")
UNDOCUMENTED_RESOURCE_TYPE = code("undocumented-resource-type", WARNING,
                                  "a resource ARN fits no resource type the service reference documents",
                                  group="catalog")
RESOURCE_MISMATCH = code("resource-mismatch", ERROR,
                         "a resource of a service none of the statement's actions acts on", group="catalog")
RESOURCE_TYPE_MISMATCH = code("resource-type-mismatch", WARNING,
                              "a resource of a type no action of the statement acts on, per the reference",
                              group="catalog")
NOT_IN_REFERENCE = code("not-in-reference", WARNING,
                        "a retired service, or an action or key AWS uses but the reference does not list",
                        group="catalog")
UNKNOWN_CONDITION_KEY = code("unknown-condition-key", ERROR,
                             "a condition key is no global key, and no service's", group="catalog")
CONDITION_KEY_NOT_APPLICABLE = code("condition-key-not-applicable", WARNING,
                                    "a condition key of a service none of the statement's actions belongs to",
                                    group="catalog")
OPERATOR_KEY_TYPE_MISMATCH = code("operator-key-type-mismatch", ERROR,
                                  "the operator cannot compare values of the key's type", group="catalog")
OPERATOR_KEY_TYPE_UNUSUAL = code("operator-key-type-unusual", WARNING,
                                 "the operator compares the key's values as text instead of by their type",
                                 group="catalog")
SET_OPERATOR_ON_SINGLE_VALUED_KEY = code("set-operator-on-single-valued-key", WARNING,
                                         "ForAllValues/ForAnyValue on a key that has a single value",
                                         group="catalog")
MULTIVALUED_KEY_WITHOUT_SET_OPERATOR = code("multivalued-key-without-set-operator", WARNING,
                                            "a multi-valued key compared without ForAllValues/ForAnyValue",
                                            group="catalog")
FORALLVALUES_WITH_ALLOW = code("forallvalues-with-allow", SECURITY_WARNING,
                               "ForAllValues in an Allow is true when the key is absent from the request",
                               group="catalog")

# Names AWS's own managed policies use that the service reference does not document: services AWS
# has retired (the reference drops them; IAM still stores policies naming them), and actions and
# keys the reference does not list (retired APIs, unpublished ones). They are reported as
# ``not-in-reference`` warnings, not errors, so that a copy of an AWS policy is not refused. The
# AWS-managed policy regression test shows what to add when the pinned reference changes.
_RETIRED_SERVICES = frozenset({
    "builderid", "codestar", "deepcomposer", "deeplens", "deepracer", "elastic-inference", "evidently",
    "iot1click", "iotevents", "zocalo",
})
_UNLISTED_ACTIONS: frozenset[str] = frozenset(
    f"{prefix}:{name}".lower() for prefix, names in {
        "budgets": "CreateBudget DeleteBudget DescribeBudget DescribeBudgets UpdateBudget",
        "cloud9": "ValidateEnvironmentName",
        "cloudhsm": "CreateLunaClient DeleteLunaClient DescribeHapg DescribeLunaClient GetConfig ModifyHapg "
                    "ModifyLunaClient",
        "memorydb": "ReplicateMultiRegionClusterData",
        "organizations": "CreateBuilderIdOwnedAccount",
        "payments": "AcceptTermsAndConditionsForProgramByAccountId BatchGetPaymentProfiles "
                    "CreatePaymentAttempt CreatePaymentProfile Get "
                    "GetAcceptedTermsAndConditionsForProgramByAccountId "
                    "GetAccountBalance GetDefaultPaymentProfile GetEligibleCurrencies GetPaymentAttempt "
                    "GetPaymentPreferences GetPreferredCurrency GetRecommendedTermsAndConditionsForProgram "
                    "ListPaymentProfiles SearchFinancialRecords SetPreferredCurrency UpdatePaymentProfile",
        "qapps": "ImportDocumentToQApp ImportDocumentToQAppSession",
        "route53-recovery-control-config": "DescribeRoutingControlByName",
        "securityagent": "BatchGetAgentInstances BatchGetSecurityTestContentMetadata BatchGetTasks "
                         "CreateDocumentReview DeleteDocumentReview GetCodeReviewTask GetDocReviewTask "
                         "GetDocumentReview GetDocumentReviewArtifact ListAgentInstances ListControls "
                         "ListDocumentReviewComments ListDocumentReviews ListTasks StartPentestExecution "
                         "StopPentestExecution",
    }.items() for name in names.split()
)
_UNLISTED_KEYS = frozenset({
    "aws:ismcpserviceaction", "aws:principalorgmasteraccountid", "deepracer:multiuser", "deepracer:usertoken",
    "lakeformation:gluearn",
})

# Services whose actions act on another service's resources without the reference saying so, as
# AWS's own policies and documentation use them: SSM sessions to EKS Connector clusters, VPC
# endpoint services fronted by an Elastic Load Balancing load balancer. (Every service is taken to
# act on IAM roles: it is handed them, and policies name them beside its actions.)
_ALSO_ACTS_ON = frozenset({("ssm", "eks"), ("ec2", "elasticloadbalancing")})
# one service under two prefixes: AWS CodeStar Connections became AWS CodeConnections
_SAME_SERVICE = (frozenset({"codestar-connections", "codeconnections"}),)

_CUTOFF = 0.75
_TEMPLATE_VARIABLE = re.compile(r"\$\{[^}]*\}|<[^>]*>")  # the variable part of a templated key name
_CACHE_LIMIT = 100_000  # names remembered per catalog, so that a long-lived process stays small
_SHORT_CUTOFF = 0.5  # for names of up to 3 characters ("s4" is 0.5 from "s3")

# key type -> operator families that compare it by its type; and those that compare its text
_TYPED: dict[str, frozenset[str]] = {
    "String": frozenset({"String"}),
    "ARN": frozenset({"ARN", "String"}),
    "Numeric": frozenset({"Numeric"}),
    "Date": frozenset({"Date"}),
    "Bool": frozenset({"Bool"}),
    "IPAddress": frozenset({"IPAddress"}),
    "Binary": frozenset({"Binary"}),
}
_AS_TEXT: dict[str, frozenset[str]] = {
    "String": frozenset({"Bool", "ARN"}),
    "Numeric": frozenset({"String"}),
    "Date": frozenset({"String"}),
    "Bool": frozenset({"String"}),
    "Binary": frozenset({"String"}),
}
# aws:EpochTime is documented as "Date, Numeric": seconds since the epoch, compared with either family
_ALSO_NUMERIC = frozenset({"aws:epochtime"})


def check_semantics(doc: dict[str, Any], doc_type: DocumentType, catalog: Catalog) -> list[Finding]:
    """Every catalog problem of ``doc``: elements of the wrong shape are left to the grammar."""
    if not isinstance(doc, dict):
        return []
    index = _index(catalog)
    findings: list[Finding] = []
    for path, statement in _statements(doc.get("Statement")):
        findings += _check_statement(index, path, statement)
    return findings


# --- the catalog, indexed for this module ------------------------------------------------------------


@dataclass(frozen=True)
class _FormatOf:
    """An ARN format, and the resource type (service and name) it belongs to."""

    arn: str
    service: str
    name: str


@dataclass(frozen=True)
class _Resolved:
    """What one action string names: its actions; ``everything`` for ``*``; ``opaque`` when unknowable."""

    actions: tuple[Action, ...] = ()
    everything: bool = False
    opaque: bool = False
    problem: tuple[str, str] | None = None  # (code, message)
    services: frozenset[str] = frozenset()


@dataclass(frozen=True)
class _KeyInfo:
    """Where a condition key is defined: globally, by an identity provider, by a service, or not found yet."""

    kind: str  # "global", "idp", "service", "none"
    key: ConditionKey | None = None
    owner: str | None = None


class _Index:
    """Look-ups on one catalog, cached: action strings, resource formats, condition keys, name lists."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._resolved: dict[str, _Resolved] = {}
        self._text_formats: dict[str, tuple[_FormatOf, ...]] = {}
        self._action_formats: dict[tuple[str, str], tuple[_FormatOf, ...]] = {}
        self._action_names: dict[str, dict[str, str]] = {}
        self._prefixes: list[str] | None = None
        self._by_arn_service: dict[str, tuple[_FormatOf, ...]] | None = None
        self._own_formats: dict[str, tuple[_FormatOf, ...]] = {}
        self._acts_on: dict[str, frozenset[str]] = {}
        self._keys: dict[str, _KeyInfo] = {}
        self._anywhere: dict[str, tuple[ConditionKey, str] | None] = {}
        self._key_names: dict[str, list[str]] = {}

    def service(self, prefix: str) -> Service | None:
        return self.catalog.service(prefix)

    def prefixes(self) -> list[str]:
        if self._prefixes is None:
            self._prefixes = [p.lower() for p in self.catalog.prefixes()]
        return self._prefixes

    # actions

    def resolve(self, text: str) -> _Resolved:
        found = self._resolved.get(text)
        if found is None:
            found = self._resolve(text)
            if found.actions:
                found = replace(found, services=frozenset(a.service for a in found.actions))
            if len(self._resolved) >= _CACHE_LIMIT:
                self._resolved.clear()
            found = self._resolved[text] = found
        return found

    def _resolve(self, text: str) -> _Resolved:
        if text == "*":
            return _Resolved(everything=True)
        if has_variable(text) or ":" not in text:
            return _Resolved(opaque=True)  # a placeholder could be anything; no colon is the grammar's
        prefix, name = text.split(":", 1)
        if "*" in prefix or "?" in prefix:
            return _Resolved(everything=True)
        service = self.service(prefix)
        if service is None and prefix.lower() in _RETIRED_SERVICES:
            return _Resolved(opaque=True, problem=(
                NOT_IN_REFERENCE,
                f"action {text!r} is of {prefix}, a service AWS has retired: it grants nothing now; "
                "remove it."))
        if service is None:
            hint = _did_you_mean(prefix.lower(), self.prefixes(), quote=True)
            return _Resolved(opaque=True, problem=(
                UNKNOWN_SERVICE,
                f"action {text!r} names the service {prefix!r}, which AWS does not have; "
                f"{hint or 'check the prefix in the Service Authorization Reference.'}"))
        if "*" in name or "?" in name:
            actions = tuple(service.matching(name))
            if actions:
                return _Resolved(actions)
            return _Resolved(opaque=True, problem=(
                WILDCARD_MATCHES_NOTHING,
                f"action pattern {text!r} matches no {service.prefix} action; correct the pattern or "
                "remove it."))
        action = service.action(name)
        if action is not None:
            return _Resolved((action,))
        if text.lower() in _UNLISTED_ACTIONS:
            return _Resolved(opaque=True, problem=(
                NOT_IN_REFERENCE,
                f"action {text!r} is used by AWS's own policies but not documented in the service reference "
                "(retired or unpublished); make sure it still exists."))
        names = self._names(service)
        hint = _did_you_mean(name.lower(), list(names), show=lambda n: f"{service.prefix}:{names[n]}")
        return _Resolved(opaque=True, problem=(
            UNKNOWN_ACTION,
            f"action {text!r} is not an action of {service.prefix}; "
            f"{hint or 'check the name in the Service Authorization Reference.'}"))

    def formats_of_text(self, text: str) -> tuple[_FormatOf, ...]:
        """The ARN formats the actions an action string names act on, each once."""
        found = self._text_formats.get(text)
        if found is None:
            by_arn = {f.arn: f for a in self.resolve(text).actions for f in self.formats_of(a)}
            if len(self._text_formats) >= _CACHE_LIMIT:
                self._text_formats.clear()
            found = self._text_formats[text] = tuple(by_arn.values())
        return found

    def _names(self, service: Service) -> dict[str, str]:
        names = self._action_names.get(service.prefix)
        if names is None:
            names = self._action_names[service.prefix] = {k: a.name for k, a in service.actions.items()}
        return names

    # resources

    def formats_of(self, action: Action) -> tuple[_FormatOf, ...]:
        """The ARN formats of the resource types ``action`` acts on (empty: it only takes ``*``)."""
        key = (action.service, action.name.lower())
        found = self._action_formats.get(key)
        if found is None:
            service = self.service(action.service)
            out: list[_FormatOf] = []
            for resource in action.resources:
                rt = service.resource_type(resource.name) if service else None
                if rt is not None and rt.arn:
                    out.append(_FormatOf(rt.arn, rt.service, rt.name))
            found = self._action_formats[key] = tuple(out)
        return found

    def acts_on(self, prefix: str) -> frozenset[str]:
        """The ARN services of every resource type any action of service ``prefix`` acts on."""
        found = self._acts_on.get(prefix)
        if found is None:
            service = self.service(prefix)
            actions = service.actions.values() if service else ()
            found = self._acts_on[prefix] = frozenset(
                _arn_service(f.arn) for a in actions for f in self.formats_of(a))
        return found

    def formats_with_service(self, arn_service: str) -> tuple[_FormatOf, ...]:
        """Every ARN format whose service part is ``arn_service``.

        The formats of the service of that prefix first; only when it has none, every service's
        (a few ARN services, ``elastic-inference``, ``catalog``, appear only in another service's data).
        """
        found = self._own_formats.get(arn_service)
        if found is None:
            service = self.service(arn_service)
            own = tuple(_FormatOf(rt.arn, rt.service, rt.name) for rt in (service.resource_types.values()
                        if service else ()) if _arn_service(rt.arn) == arn_service)
            found = self._own_formats[arn_service] = own or self._all_formats().get(arn_service, ())
        return found

    def formats_anywhere(self, arn_service: str) -> tuple[_FormatOf, ...]:
        """Every ARN format whose service part is ``arn_service``, in any service's data."""
        return self._all_formats().get(arn_service, ())

    def arn_services(self) -> list[str]:
        return sorted(self._all_formats())

    def _all_formats(self) -> dict[str, tuple[_FormatOf, ...]]:
        if self._by_arn_service is None:
            by: dict[str, list[_FormatOf]] = {}
            for prefix in self.catalog.prefixes():
                service = self.service(prefix)
                for rt in service.resource_types.values() if service else ():
                    by.setdefault(_arn_service(rt.arn), []).append(_FormatOf(rt.arn, rt.service, rt.name))
            self._by_arn_service = {k: tuple(v) for k, v in by.items()}
        return self._by_arn_service

    # condition keys

    def key(self, lowered: str) -> _KeyInfo:
        found = self._keys.get(lowered)
        if found is None:
            if len(self._keys) >= _CACHE_LIMIT:
                self._keys.clear()
            found = self._keys[lowered] = self._key(lowered)
        return found

    def _key(self, lowered: str) -> _KeyInfo:
        g = global_key(lowered)
        if g is not None:
            return _KeyInfo("global", g)
        prefix = lowered.split(":", 1)[0]
        if "." in prefix or "/" in prefix:
            sts = self.service("sts")
            return _KeyInfo("idp", sts.condition_key(lowered) if sts else None)
        service = self.service(prefix)
        ck = service.condition_key(lowered) if service else None
        if ck is not None and service is not None:
            return _KeyInfo("service", ck, service.prefix)
        return _KeyInfo("none")

    def key_anywhere(self, lowered: str) -> tuple[ConditionKey, str] | None:
        """The key and the service defining it, searching every service (for keys like ``saml:aud``)."""
        if lowered not in self._anywhere:
            if len(self._anywhere) >= _CACHE_LIMIT:
                self._anywhere.clear()
            hit: tuple[ConditionKey, str] | None = None
            for prefix in self.catalog.prefixes():
                service = self.service(prefix)
                ck = service.condition_key(lowered) if service else None
                if ck is not None and service is not None:
                    hit = (ck, service.prefix)
                    break
            self._anywhere[lowered] = hit
        return self._anywhere[lowered]

    def key_names(self, prefix: str) -> list[str]:
        """The documented names of the keys of service ``prefix`` (``""``: the global keys)."""
        names = self._key_names.get(prefix)
        if names is None:
            if not prefix:
                names = [k.name for k in global_keys()]
            else:
                service = self.service(prefix)
                names = [k.name for k in service.condition_keys.values()] if service else []
            self._key_names[prefix] = names
        return names


_INDEXES: weakref.WeakKeyDictionary[Any, _Index] = weakref.WeakKeyDictionary()


def _index(catalog: Catalog) -> _Index:
    try:
        found = _INDEXES.get(catalog)
        if found is None:
            found = _INDEXES[catalog] = _Index(catalog)
        return found
    except TypeError:  # a catalog that cannot be weakly referenced: no cache across documents
        return _Index(catalog)


@lru_cache(maxsize=8192)
def _arn_service(arn_format: str) -> str:
    parts = split_parts(arn_format)
    return parts[2] if len(parts) > 2 else ""


# --- statements ----------------------------------------------------------------------------------------


@dataclass
class _Statement:
    """One statement and what its actions resolved to."""

    path: Path
    body: dict[str, Any]
    action_texts: list[str] = field(default_factory=list)
    services: set[str] = field(default_factory=set)
    everything: bool = False  # a "*" action, or NotAction
    opaque: bool = False  # an action that could not be resolved
    _formats: dict[str, dict[str, _FormatOf]] | None = None

    @property
    def specific(self) -> bool:
        """True when the statement's actions are all known, so what applies to them can be judged."""
        return not self.everything and not self.opaque and bool(self.services)

    def formats(self, index: _Index, arn_service: str | None = None) -> tuple[_FormatOf, ...]:
        """The ARN formats the statement's actions act on (those whose service part is ``arn_service``)."""
        if self._formats is None:
            self._formats = {}
            for text in self.action_texts:
                for f in index.formats_of_text(text):
                    self._formats.setdefault(_arn_service(f.arn), {}).setdefault(f.arn, f)
        if arn_service is not None:
            # with the formats whose service part is a variable (backup's arn:${Partition}:${Vendor}:...)
            return tuple(f for key, by_arn in self._formats.items() if key == arn_service or "$" in key
                         for f in by_arn.values())
        return tuple(f for by_arn in self._formats.values() for f in by_arn.values())


def _statements(value: Any) -> Iterator[tuple[Path, dict[str, Any]]]:
    if isinstance(value, dict):
        yield ("Statement",), value
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, dict):
                yield ("Statement", i), item


def _strings(value: Any) -> Iterator[tuple[Path, str]]:
    """The strings of a string-or-list element, each with its path suffix (``()`` for a lone string)."""
    if isinstance(value, str):
        yield (), value
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, str):
                yield (i,), item


def _check_statement(index: _Index, path: Path, body: dict[str, Any]) -> list[Finding]:
    findings: list[Finding] = []
    st = _Statement(path, body)
    action_key = "Action" if "Action" in body else "NotAction" if "NotAction" in body else None
    if action_key is not None:
        st.everything = action_key == "NotAction"
        for suffix, text in _strings(body.get(action_key)):
            resolved = index.resolve(text)
            if resolved.problem is not None:
                problem_code, message = resolved.problem
                findings.append(Finding(problem_code, message, (*path, action_key, *suffix)))
            st.everything |= resolved.everything
            st.opaque |= resolved.opaque
            if action_key == "Action":
                st.action_texts.append(text)
                st.services |= resolved.services
    else:
        st.opaque = True
    if (action_key == "Action" and body.get("Effect") in ("Allow", "Deny") and "NotResource" not in body
            and "Resource" in body):
        findings += _check_resources(index, st)
    findings += _check_conditions(index, st)
    return findings


# --- resources -----------------------------------------------------------------------------------------


def _check_resources(index: _Index, st: _Statement) -> list[Finding]:
    findings: list[Finding] = []
    for suffix, text in _strings(st.body.get("Resource")):
        if text == "*" or is_placeholder(text) or not text.startswith("arn:"):
            continue
        where = (*st.path, "Resource", *suffix)
        arn = parse_arn(text)
        if arn is None:
            count = len(split_parts(text))
            findings.append(Finding(INVALID_ARN, (
                f"resource {text!r} has {count} colon-separated parts, not the six of "
                "arn:partition:service:region:account:resource; write the missing ones (empty for none, "
                "* for any)."), where))
            continue
        if st.specific:
            literal = not any(c in arn.service for c in "*?$")
            candidates = st.formats(index, arn.service if literal else None)
            if any(pattern_matches_format(text, f.arn) for f in candidates):
                continue
        shape = _shape(index, text, st.formats(index, arn.service) if st.specific else ())
        if shape is not None:
            if shape.code:
                findings.append(Finding(shape.code, shape.message, where))
            continue
        if st.specific:
            findings.append(_mismatch(index, st, text, st.formats(index), where))
    return findings


@dataclass(frozen=True)
class _Shape:
    """What is wrong with an ARN's shape: a code and message, or no code when it cannot be judged."""

    code: str | None = None
    message: str = ""


def _shape(index: _Index, text: str, preferred: tuple[_FormatOf, ...]) -> _Shape | None:
    """None when ``text`` has the shape of a documented resource type; otherwise what differs."""
    arn = parse_arn(text)
    service = arn.service if arn else ""
    if not service or "*" in service or "?" in service or has_variable(service):
        return _Shape()
    candidates = index.formats_with_service(service)
    if not candidates:
        if index.service(service) is not None:
            return _Shape()  # a service the reference documents no resource type of: nothing to compare
        hint = _did_you_mean(service.lower(), index.arn_services(), quote=True)
        return _Shape(INVALID_ARN, f"resource {text!r} names the service {service!r}, which no AWS resource "
                      f"type has; {hint or 'check the ARN format in the Service Authorization Reference.'}")
    if any(pattern_matches_format(text, f.arn) for f in candidates):
        return None
    if any(pattern_matches_format(text, f.arn) for f in index.formats_anywhere(service)):
        return None  # a type only another service's data holds (the iam root of sts)
    own = [f for f in preferred if _arn_service(f.arn) == service]
    return _shape_problem(text, own + [f for f in candidates if f not in own])


def _shape_problem(text: str, candidates: list[_FormatOf]) -> _Shape:
    """What in ``text`` differs from the closest format (fewest parts differing, the actions' first)."""
    arn = parse_arn(text)
    assert arn is not None
    scored = [(len(m), i, f, m) for i, f in enumerate(candidates) if (m := mismatched_parts(text, f.arn))]
    fitting = [s for s in scored if "resource" not in s[3]]
    if fitting:
        _n, _i, best, parts = min(fitting, key=lambda s: (s[0], s[1]))
        fmt = parse_arn(best.arn)
        assert fmt is not None
        fixes = [_part_fix(name, arn.part(name), fmt.part(name), best) for name in parts]
        return _Shape(INVALID_ARN, f"resource {text!r} {' and '.join(fixes)}; the {best.service} {best.name} "
                      f"format is {best.arn}.")
    lead = leading_literal(arn.resource)
    leads: dict[str, _FormatOf] = {}
    for f in candidates:
        f_lead = _format_lead(f.arn)
        if f_lead and (f_lead not in leads or len(f.arn) < len(leads[f_lead].arn)):
            leads[f_lead] = f  # the shortest format of each start: table/ is the table, not its stream
    undocumented = (f"resource {text!r} has the shape of no resource type the service reference documents "
                    f"for {arn.service}, so it may match nothing")
    if not lead:
        return _Shape(UNDOCUMENTED_RESOURCE_TYPE, f"{undocumented}; check it against the {arn.service} ARN "
                      "formats in the Service Authorization Reference.")
    if lead in leads:
        near = leads[lead]
        return _Shape(UNDOCUMENTED_RESOURCE_TYPE, f"{undocumented}; the {near.service} {near.name} format is "
                      f"{near.arn}.")
    same = {_normal(k): f for k, f in leads.items()}.get(_normal(lead))
    if same is not None:
        # AWS's own policies write some types in another case or punctuation than the reference
        # (statemachine: for stateMachine:, connector-profile/ for connectorprofile/); IAM compares
        # ARNs case-sensitively, so one of the two is wrong, but which one is not ours to say
        return _Shape(UNDOCUMENTED_RESOURCE_TYPE, (
            f"{undocumented}: it writes {lead!r} where the reference writes {_format_lead(same.arn)!r} (ARNs "
            f"compare case-sensitively); the {same.service} {same.name} format is {same.arn}."))
    close = difflib.get_close_matches(lead.lower(), [k.lower() for k in leads], n=1, cutoff=_CUTOFF)
    if close:
        near = next(f for k, f in leads.items() if k.lower() == close[0])
        return _Shape(INVALID_ARN, (
            f"resource {text!r} has no {arn.service} resource type starting {lead!r}; did you mean "
            f"{_format_lead(near.arn)!r} (the {near.service} {near.name} format is {near.arn})?"))
    return _Shape(UNDOCUMENTED_RESOURCE_TYPE, f"{undocumented}; check it against the {arn.service} ARN "
                  "formats in the Service Authorization Reference.")


def _part_fix(name: str, written: str, expected: str, fmt: _FormatOf) -> str:
    if expected == "":
        return f"has the {name} {written!r}, but {fmt.service} {fmt.name} ARNs have no {name}: leave it empty"
    if written == "":
        return f"has no {name}, but {fmt.service} {fmt.name} ARNs need one: write it, or * for any"
    return f"has the {name} {written!r}, where {fmt.service} {fmt.name} ARNs have {expected!r}"


def _related(index: _Index, mine: str, theirs: str) -> bool:
    """True when actions of service ``mine`` may act on resources whose ARNs name service ``theirs``.

    So when the reference has some action of ``mine`` act on such a resource, when one prefix
    starts the other (``ssmmessages`` sessions are ``ssm`` ones, ``waf-regional`` extends ``waf``),
    and for the few pairs AWS uses that the reference omits (``_ALSO_ACTS_ON``).
    """
    if mine == theirs or theirs == "iam" or mine.startswith(theirs) or theirs.startswith(mine):
        return True
    if (mine, theirs) in _ALSO_ACTS_ON or any({mine, theirs} <= pair for pair in _SAME_SERVICE):
        return True
    return theirs in index.acts_on(mine)


def _format_lead(arn_format: str) -> str:
    parsed = parse_arn(arn_format)
    return leading_literal(parsed.resource) if parsed else ""


def _normal(word: str) -> str:
    """A resource-type word without case and punctuation: ``stateMachine:`` and ``state-machine/`` agree."""
    return "".join(c for c in word.lower() if c.isalnum())


def _mismatch(index: _Index, st: _Statement, text: str, formats: tuple[_FormatOf, ...],
              where: Path) -> Finding:
    """The finding for a resource of a documented type that no action of the statement acts on."""
    arn = parse_arn(text)
    service = arn.service if arn else "?"
    kind = next((f for f in index.formats_with_service(service) if pattern_matches_format(text, f.arn)), None)
    what = f"an ARN of the {kind.service} {kind.name} type" if kind else f"an ARN of {service}"
    literal = "*" not in service and "?" not in service and not has_variable(service)
    if literal and not any(_related(index, mine, service) for mine in st.services):
        return Finding(RESOURCE_MISMATCH, (
            f"resource {text!r} is {what}, and none of {_listing(st.action_texts)} apply to {service} "
            f"resources; name a resource these actions act on, or move it to a statement of {service} "
            "actions."), where)
    if not formats:
        verb = "acts" if len(st.action_texts) == 1 else "act"
        return Finding(RESOURCE_TYPE_MISMATCH, f"resource {text!r} is {what}, but the service reference says "
                       f"{_listing(st.action_texts)} {verb} only on Resource \"*\"; write \"*\" unless AWS "
                       "documents otherwise.", where)
    return Finding(RESOURCE_TYPE_MISMATCH, (
        f"resource {text!r} is {what}, and the service reference lists none of "
        f"{_listing(st.action_texts)} as acting on that type; name a resource these actions act on, or move "
        "it to a statement of actions that act on it."), where)


def _listing(items: list[str]) -> str:
    shown = items[:3]
    rest = len(items) - len(shown)
    text = ", ".join(shown)
    return f"{text} and {rest} more" if rest else text


# --- conditions ----------------------------------------------------------------------------------------


def _check_conditions(index: _Index, st: _Statement) -> list[Finding]:
    condition = st.body.get("Condition")
    if not isinstance(condition, dict):
        return []
    null_checked = {k.lower() for op, block in condition.items() if isinstance(op, str)
                    and op.lower() == "null" and isinstance(block, dict) for k in block if isinstance(k, str)}
    findings: list[Finding] = []
    for op_text, block in condition.items():
        if not isinstance(op_text, str) or not isinstance(block, dict):
            continue
        op = parse_operator(op_text)
        for key in block:
            if not isinstance(key, str) or not key:
                continue
            where = (*st.path, "Condition", op_text, key)
            found, problem = _condition_key(index, st, key, where)
            findings += problem
            if op is None or found is None:
                continue
            findings += _check_operator(op, found, key, where)
            if (op.set_prefix == "ForAllValues" and st.body.get("Effect") == "Allow"
                    and key.lower() not in null_checked):
                findings.append(Finding(FORALLVALUES_WITH_ALLOW, (
                    f"{op_text} on {key!r} in an Allow is also true when the request carries no {key}; add "
                    f"\"Null\": {{\"{key}\": \"false\"}} to require one, or use ForAnyValue."), where))
    return findings


@dataclass(frozen=True)
class _FoundKey:
    key: ConditionKey | None  # None: a key of unknown type (an identity provider's claim)
    idp: bool = False


def _condition_key(index: _Index, st: _Statement, key: str,
                   where: Path) -> tuple[_FoundKey | None, list[Finding]]:
    """The key's definition, and the finding when it is unknown or not for the statement's actions."""
    lowered = key.lower()
    info = index.key(lowered)
    if info.kind == "global":
        return _FoundKey(info.key), []
    if info.kind == "idp":
        return _FoundKey(info.key, idp=True), []
    for prefix in sorted(st.services):
        service = index.service(prefix)
        ck = service.condition_key(lowered) if service else None
        if ck is not None:
            return _FoundKey(ck), []
    if info.kind == "service":
        owner: tuple[ConditionKey, str] | None = (info.key, info.owner) if info.key and info.owner else None
    else:
        owner = index.key_anywhere(lowered)
    if owner is not None:
        if not st.specific:
            return _FoundKey(owner[0]), []
        return _FoundKey(owner[0]), [Finding(CONDITION_KEY_NOT_APPLICABLE, (
            f"condition key {key!r} is a key of {owner[1]}, but the statement's actions are of "
            f"{', '.join(sorted(st.services))}: requests for them never carry it, so move the condition to a "
            f"statement with {owner[1]} actions or use a key of these services."), where)]
    if has_variable(key):
        return None, []
    if lowered in _UNLISTED_KEYS:
        return None, [Finding(NOT_IN_REFERENCE, (
            f"condition key {key!r} is used by AWS's own policies but not documented in the service "
            "reference or among the global keys; make sure requests carry it."), where)]
    prefix = lowered.split(":", 1)[0]
    names = [*index.key_names(""), *index.key_names(prefix),
             *(n for p in sorted(st.services) for n in index.key_names(p))]
    # a templated name (aws:ResourceTag/${TagKey}) is compared with the written key's tail in its variable
    tail = lowered.rsplit("/", 1)[1] if "/" in lowered else ""
    by_lower = {_TEMPLATE_VARIABLE.sub(tail, n.lower()).rstrip("/"): n for n in names}
    hint = _did_you_mean(lowered, list(by_lower), show=lambda n: by_lower[n])
    scope = "no global key" if prefix == "aws" else f"no global key and no key of {prefix or 'any service'}"
    return None, [Finding(UNKNOWN_CONDITION_KEY, (
        f"condition key {key!r} is {scope}, so requests never carry it; "
        f"{hint or 'check the name in the Service Authorization Reference.'}"), where)]


def _check_operator(op: Operator, found: _FoundKey, key: str, where: Path) -> list[Finding]:
    ck = found.key
    if ck is None or op.family == "Null":
        return []
    findings: list[Finding] = []
    base = ck.base_type
    family = op.family
    typed = _TYPED.get(base)
    also_numeric = family == "Numeric" and key.lower() in _ALSO_NUMERIC
    if typed is not None and family not in typed and not also_numeric:
        if family in _AS_TEXT.get(base, frozenset()):
            findings.append(Finding(OPERATOR_KEY_TYPE_UNUSUAL, (
                f"{op.text} compares {key!r} (of type {base}) as {family}: use {_operators_for(base)} "
                f"operators, which compare {base} values as such."), where))
        else:
            findings.append(Finding(OPERATOR_KEY_TYPE_MISMATCH, (
                f"{op.text} cannot compare {key!r} (of type {base}), so the condition never matches as "
                f"meant; use {_operators_for(base)} operators."), where))
    if found.idp:
        return findings  # a provider's claim may hold one value or several (amr), whatever the reference says
    if op.set_prefix is not None and not ck.multivalued:
        findings.append(Finding(SET_OPERATOR_ON_SINGLE_VALUED_KEY, (
            f"{op.text} is meant for keys with several values, and {key!r} has one; drop the "
            f"{op.set_prefix}: prefix."), where))
    elif op.set_prefix is None and ck.multivalued:
        findings.append(Finding(MULTIVALUED_KEY_WITHOUT_SET_OPERATOR, (
            f"{op.text} compares {key!r}, which holds several values, without a set prefix; write "
            f"ForAnyValue:{op.text} (any value matches) or ForAllValues:{op.text} (every value does)."),
            where))
    return findings


def _operators_for(base: str) -> str:
    return {"ARN": "Arn or String", "IPAddress": "IpAddress or NotIpAddress", "Bool": "Bool",
            "Binary": "BinaryEquals"}.get(base, base)


# --- names ---------------------------------------------------------------------------------------------


def _did_you_mean(word: str, candidates: list[str], *, quote: bool = False,
                  show: Callable[[str], str] | None = None) -> str:
    """``did you mean X?`` (or ``X or Y``) for the candidates closest to ``word``, or ``""``."""
    if len(word) <= 3:  # short names are all close to each other: keep those of the same first letter
        close = difflib.get_close_matches(word, [c for c in candidates if c[:1] == word[:1]], n=3,
                                          cutoff=_SHORT_CUTOFF)
    else:
        close = difflib.get_close_matches(word, candidates, n=3, cutoff=_CUTOFF)
    if not close:
        return ""
    shown = [show(c) if show else c for c in close]
    if quote:
        shown = [repr(s) for s in shown]
    listed = shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]
    return f"did you mean {listed}?"
