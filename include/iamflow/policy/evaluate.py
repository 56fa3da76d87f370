"""An offline IAM evaluator: would AWS allow this request, given these policies? And why.

``evaluate(request, policies)`` follows AWS's documented policy evaluation logic ("Policy evaluation
logic", "Cross-account policy evaluation logic", "Permissions boundaries for IAM entities", the
KMS "Key policies" and STS ``AssumeRole`` references). It is pure: no AWS call, no Airflow.

**Statements.** A statement applies to a request when its ``Action`` (or ``NotAction``) covers the
action -- names compare case-insensitively, ``*`` and ``?`` are wildcards --, its ``Resource`` (or
``NotResource``) covers the resource -- ARNs compare case-sensitively, part by part, see
``arn.py`` --, its ``Principal`` (or ``NotPrincipal``, in resource-based policies and RCPs) names
the principal, and its ``Condition`` holds (see ``conditions.py``). Policy variables are
substituted from the request (``${aws:username}``, ``${aws:PrincipalTag/team}``, any key of the
context, with ``${key, 'default'}`` defaults), in documents of ``Version`` ``2012-10-17`` only; a
pattern whose variable has no value matches nothing and the key is reported missing. A statement
that cannot be read (no ``Action``, an ``Effect`` that is neither Allow nor Deny ...) is skipped and
the trace says why; nothing here raises on a malformed document. A resource-based statement without
``Resource`` covers the resource it is attached to (a role's trust policy has none).

**Principals.** ``"*"`` and ``{"AWS": "*"}`` name everyone. An account id or the account's root ARN
(``arn:aws:iam::111122223333:root``) names every principal of that account -- in a resource-based
policy that *delegates* to the account's IAM policies, it grants nothing by itself. A user ARN,
an assumed-role session ARN (``arn:aws:sts::ACCT:assumed-role/app/session``) or a federated-user
ARN names that principal *directly*. A role ARN names every session of the role (matched by account
and role name: a session ARN does not carry the role's path). ``Service`` and ``Federated`` entries
name service principals (``lambda.amazonaws.com``) and identity providers. ``NotPrincipal`` exempts
a principal only when every identity it carries is listed -- its session, its role and its account,
as AWS's NotPrincipal page asks --, and a ``Deny`` with ``NotPrincipal`` always applies to a principal
that has a permissions boundary (AWS: "will always deny any IAM principal that has a permissions
boundary policy attached").

**Decision**, in AWS's order:

1. An explicit ``Deny`` that applies, in any policy given (RCPs, SCPs, the resource-based policy,
   identity policies, the permissions boundary, the session policy): ``explicit_deny``.
2. RCPs (of the resource's account) and SCPs (of the principal's account), when given: every level
   of the organization path (root, OUs ..., account) must have an ``Allow`` that applies, else
   ``implicit_deny``.
3. The grant. The *identity path* is: an identity policy allows, and the permissions boundary (when
   set) allows, and the session policy (when given) allows. A federated-user session
   (``sts:GetFederationToken``) without a session policy has no permissions. The account root user
   needs no identity policy. Then:

   - **same account** -- the resource's account is ``PolicySet.resource_account``, else the account
     written in the resource's ARN (a KMS key's, a role's; S3 ARNs have none), else the principal's:
     the identity path, or a
     resource-based ``Allow`` that names the principal. A grant naming the user ARN, the session
     ARN, the federated-user ARN (or everyone) is not limited by an implicit deny in the identity
     policies, the boundary or the session policy; a grant naming the role ARN is limited by the
     boundary and the session policy (the IAM evaluation page's table of same-account
     resource-based policies); a grant naming the account delegates to the identity path.
   - **cross-account**: both the identity path *and* an ``Allow`` of the resource-based policy
     naming the principal (directly, by role, or by account) -- AWS evaluates both accounts.
   - ``resource_kind="kms-key"``: the key policy must allow, even within the account ("Unless the
     key policy explicitly allows it, you cannot use IAM policies to allow access to a KMS key"); a
     key policy allowing the account root delegates to the identity path (the default key policy).
   - ``resource_kind="role-trust"`` (``sts:AssumeRole*`` on a role; the trust policy is the
     resource-based policy): the trust policy must allow the principal. Within the account, a trust
     naming the principal directly suffices without an identity policy ("When a resource-based
     policy grants access to a principal in the same account, no additional identity-based policy
     is required", STS ``AssumeRole``), but the principal's permissions boundary must still allow
     the action (IAM "Update a role trust policy": "If a permissions boundary is set for the user,
     then it must allow the sts:AssumeRole action"); a trust naming the account delegates to the
     identity path. The account root user cannot assume a role.
   - A principal without identity policies (a service, an identity provider, an anonymous caller)
     is allowed only by a resource-based policy naming it.

**Request context.** ``evaluate`` adds what the principal implies unless the request carries it:
``aws:PrincipalArn`` (a session's role ARN, without the path it cannot know), ``aws:PrincipalAccount``,
``aws:PrincipalType`` (User, AssumedRole, FederatedUser, Account), ``aws:username`` (users),
``aws:userid`` (when ``Principal.userid`` is given), ``aws:PrincipalTag/<k>``,
``aws:PrincipalIsAWSService``, ``aws:PrincipalServiceName`` and ``aws:ResourceAccount``.

**Trace.** Every statement considered gets a ``StatementTrace`` (its Sid, else ``Statement[i]``, or
``Statement`` when the document holds a single statement object) with one sentence of reason and
the condition keys it needed that the request lacks. ``Evaluation.to_json()`` is the contract of
``iamflow explain --json``::

    {"decision": "allowed" | "explicit_deny" | "implicit_deny",
     "deciding": [<statement>, ...],        # the denies that applied, or the allows that granted
     "missing_context": ["aws:SourceIp", ...],
     "trace": [<layer>, <statement>, ..., <layer>, <statement>, ...]}

where a ``<statement>`` is ``{"layer", "policy", "statement", "effect", "matched", "reason",
"missing": [...], "level"}`` (``level``: the index of the SCP or RCP level, else null) and a
``<layer>`` is ``{"layer", "verdict", "reason"}`` (verdict ``allow``, ``deny``, ``no-match`` or
``absent``), each layer followed by its statements, layers in evaluation order (rcp, scp, resource,
identity, boundary, session).

**Performance.** Documents are compiled once (their patterns, names and condition values) and
cached by identity: a document must not be mutated once evaluated (``clear_cache()`` forgets them).
Each compiled document also remembers, per action (and layer and policy name), which of its
statements the action alone rules out, with their finished traces: most statements of a
principal's policies are about other actions, so a warm evaluation only works on the few that
name the action. ARN matches are cached by ``arn.py``, regexes by ``lru_cache``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from iamflow.policy.arn import arn_matches
from iamflow.policy.catalog import wildcard_regex
from iamflow.policy.conditions import (
    Condition,
    ConditionOutcome,
    as_text,
    compile_conditions,
    evaluate_conditions,
    substitute,
)

Decision = Literal["allowed", "explicit_deny", "implicit_deny"]
Verdict = Literal["allow", "deny", "no-match", "absent"]
ResourceKind = Literal["generic", "kms-key", "role-trust"]
LAYERS = ("rcp", "scp", "resource", "identity", "boundary", "session")

# how a resource-based statement names the principal, strongest first
DIRECT, ROLE, ACCOUNT = "direct", "role", "account"
_RANK = {DIRECT: 3, ROLE: 2, ACCOUNT: 1}
# layers whose statements must say which resources they cover
_RESOURCE_REQUIRED = frozenset({"identity", "boundary", "session"})
_CURRENT_VERSION = "2012-10-17"


# --- the public data -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Principal:
    """Who makes the request: an IAM user, a role (its sessions), a role session, a federated user, the
    account root user, a service principal (``lambda.amazonaws.com``), an identity provider, or
    ``"*"`` for an anonymous caller."""

    arn: str
    tags: Mapping[str, str] = field(default_factory=dict)  # principal tags (aws:PrincipalTag/<k>)
    userid: str | None = None  # the unique id (aws:userid), when known

    @property
    def account(self) -> str | None:
        """The account the principal belongs to (None for services and anonymous callers)."""
        return _who(self.arn).account

    @property
    def kind(self) -> str:
        """user, role, assumed-role, federated-user, root, service, federated, anonymous or unknown."""
        return _who(self.arn).kind

    @property
    def username(self) -> str | None:
        """An IAM user's name (aws:username); None for any other principal."""
        who = _who(self.arn)
        return who.name if who.kind == "user" else None

    @property
    def role_arn(self) -> str | None:
        """The role of a role session (without its path), or the role itself."""
        return _who(self.arn).role_arn


@dataclass(frozen=True)
class Request:
    """One API request: who, which action, on which resource, with which condition keys."""

    principal: Principal
    action: str
    resource: str  # an ARN, or "*" for actions with no resource
    context: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Policy:
    """A policy document and the name the trace gives it."""

    name: str
    document: dict[str, Any]


@dataclass(frozen=True)
class PolicySet:
    """Every policy that applies to one request, by type."""

    identity: tuple[Policy, ...] = ()
    boundary: Policy | None = None
    scps: tuple[tuple[Policy, ...], ...] = ()
    rcps: tuple[tuple[Policy, ...], ...] = ()
    session: Policy | None = None
    resource: Policy | None = None
    resource_account: str | None = None
    resource_kind: ResourceKind = "generic"


@dataclass(frozen=True)
class StatementTrace:
    """What one statement did with the request."""

    layer: str
    policy: str
    statement: str
    effect: str
    matched: bool
    reason: str
    missing: tuple[str, ...] = ()
    level: int | None = None  # the SCP or RCP level (index into PolicySet.scps / .rcps)

    def to_json(self) -> dict[str, Any]:
        return {"layer": self.layer, "policy": self.policy, "statement": self.statement, "effect": self.effect,
                "matched": self.matched, "reason": self.reason, "missing": list(self.missing),
                "level": self.level}

    @property
    def label(self) -> str:
        """``<policy> <statement>``, as summaries name a statement."""
        return f"{self.policy} {self.statement}"


@dataclass(frozen=True)
class LayerTrace:
    """One layer's verdict on the request."""

    layer: str
    verdict: Verdict
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"layer": self.layer, "verdict": self.verdict, "reason": self.reason}


@dataclass(frozen=True)
class Evaluation:
    """The decision, the statements that made it, and the whole trace."""

    decision: Decision
    deciding: tuple[StatementTrace, ...]
    missing_context: tuple[str, ...]
    statements: tuple[StatementTrace, ...]
    layers: tuple[LayerTrace, ...]
    summary: str

    @property
    def allowed(self) -> bool:
        return self.decision == "allowed"

    def to_json(self) -> dict[str, Any]:
        """``{"decision", "deciding", "missing_context", "trace"}``, the module docstring's shape."""
        trace: list[dict[str, Any]] = []
        for layer in self.layers:
            trace.append(layer.to_json())
            trace.extend(s.to_json() for s in self.statements if s.layer == layer.layer)
        return {"decision": self.decision, "deciding": [s.to_json() for s in self.deciding],
                "missing_context": list(self.missing_context), "trace": trace}


# --- principals ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Who:
    kind: str
    text: str
    partition: str = "aws"
    account: str | None = None
    name: str | None = None  # user, role, federated user or service name
    role_arn: str | None = None

    @property
    def root_arn(self) -> str | None:
        return f"arn:{self.partition}:iam::{self.account}:root" if self.account else None

    @property
    def has_identity(self) -> bool:
        """True when IAM policies can be attached to the principal (or it is the root user)."""
        return self.kind in ("user", "role", "assumed-role", "federated-user", "root", "unknown")


def _is_account(text: str) -> bool:
    return len(text) == 12 and text.isdigit()


def _arn_account(resource: str) -> str | None:
    """The account written in a resource ARN (a KMS key's, a role's), or None (S3 ARNs have none)."""
    parts = resource.split(":", 5)
    return parts[4] if len(parts) == 6 and parts[0] == "arn" and _is_account(parts[4]) else None


@lru_cache(maxsize=16384)
def _who(arn: str) -> _Who:
    """What kind of principal ``arn`` is, and its parts."""
    text = arn.strip() if isinstance(arn, str) else ""
    if text in ("", "*", "anonymous"):
        return _Who("anonymous", text)
    if _is_account(text):
        return _Who("root", f"arn:aws:iam::{text}:root", "aws", text)
    if not text.startswith("arn:"):
        lowered = text.lower()
        is_service = lowered.endswith((".amazonaws.com", ".amazonaws.com.cn")) \
            and lowered != "cognito-identity.amazonaws.com"
        return _Who("service" if is_service else "federated", text, name=lowered if is_service else text)
    parts = text.split(":", 5)
    if len(parts) < 6:
        return _Who("unknown", text)
    partition, service, account, resource = parts[1], parts[2], parts[4] or None, parts[5]
    if service == "iam" and resource == "root":
        return _Who("root", text, partition, account)
    if service == "iam" and resource.startswith("user/"):
        return _Who("user", text, partition, account, resource.rsplit("/", 1)[-1])
    if service == "iam" and resource.startswith("role/"):
        return _Who("role", text, partition, account, resource.rsplit("/", 1)[-1], text)
    if service == "iam" and resource.startswith(("saml-provider/", "oidc-provider/")):
        return _Who("federated", text, partition, account, text)
    if service == "sts" and resource.startswith("assumed-role/"):
        role = resource.split("/")[1] if resource.count("/") >= 2 else None
        role_arn = f"arn:{partition}:iam::{account}:role/{role}" if role else None
        return _Who("assumed-role", text, partition, account, role, role_arn)
    if service == "sts" and resource.startswith("federated-user/"):
        return _Who("federated-user", text, partition, account, resource.split("/", 1)[1])
    return _Who("unknown", text, partition, account)


@dataclass(frozen=True, slots=True)
class _PrincipalSpec:
    """A compiled ``Principal`` or ``NotPrincipal`` element."""

    anyone: bool = False
    aws: tuple[str, ...] = ()
    services: frozenset[str] = frozenset()
    federated: frozenset[str] = frozenset()
    error: str | None = None


def _strings(value: object) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    return tuple(item.strip() for item in items if isinstance(item, str))


def _compile_principal(value: object) -> _PrincipalSpec:
    if value == "*":
        return _PrincipalSpec(anyone=True)
    if isinstance(value, str):
        return _PrincipalSpec(aws=(value.strip(),))
    if not isinstance(value, dict):
        return _PrincipalSpec(error="its principal element is neither \"*\" nor an object")
    aws: list[str] = []
    services: set[str] = set()
    federated: set[str] = set()
    anyone = False
    for kind, entries in value.items():
        names = _strings(entries)
        if kind == "AWS":
            anyone = anyone or "*" in names
            aws.extend(n for n in names if n != "*")
        elif kind == "Service":
            services.update(n.lower() for n in names)
        elif kind == "Federated":
            federated.update(names)
    return _PrincipalSpec(anyone, tuple(aws), frozenset(services), frozenset(federated))


def _names_role(entry: str, who: _Who) -> bool:
    """True when the ``AWS`` principal entry is the ARN of the principal's role (any path)."""
    if who.name is None or who.role_arn is None:
        return False
    prefix = f"arn:{who.partition}:iam::{who.account}:role/"
    return entry.startswith(prefix) and entry.rsplit("/", 1)[-1] == who.name


def _names_account(entry: str, who: _Who) -> bool:
    return who.account is not None and (entry == who.account or entry == who.root_arn)


def _principal_kind(spec: _PrincipalSpec, who: _Who) -> str | None:
    """How ``spec`` names the principal: DIRECT, ROLE, ACCOUNT, or None when it does not."""
    if spec.anyone:
        return DIRECT
    if who.kind == "service":
        return DIRECT if who.name in spec.services else None
    if who.kind == "federated":
        return DIRECT if who.text in spec.federated or (who.name or "") in spec.federated else None
    if who.kind == "anonymous":
        return None
    best: str | None = None
    for entry in spec.aws:
        if entry == who.text and who.kind in ("user", "assumed-role", "federated-user", "unknown"):
            return DIRECT
        kind = ROLE if _names_role(entry, who) else ACCOUNT if _names_account(entry, who) else None
        if kind is not None and (best is None or _RANK[kind] > _RANK[best]):
            best = kind
    return best


def _exempted(spec: _PrincipalSpec, who: _Who) -> bool:
    """True when ``NotPrincipal`` lists every identity the principal carries (session, role, account)."""
    if spec.anyone:
        return True
    if who.kind == "service":
        return who.name in spec.services
    if who.kind == "federated":
        return who.text in spec.federated
    if who.kind == "anonymous":
        return False
    if who.account is not None and not any(_names_account(e, who) for e in spec.aws):
        return False
    if who.role_arn is not None and not any(_names_role(e, who) for e in spec.aws):
        return False
    needs_self = who.kind in ("user", "assumed-role", "federated-user", "unknown")
    return not needs_self or who.text in spec.aws


# --- compiled documents --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Names:
    """``Action`` names: exact ones (lower-case) and wildcard patterns."""

    exact: frozenset[str]
    patterns: tuple[Any, ...]
    written: tuple[str, ...]

    def covers(self, action: str) -> bool:
        return action in self.exact or any(p.fullmatch(action) for p in self.patterns)


@dataclass(frozen=True, slots=True)
class _Statement:
    label: str
    effect: str
    error: str | None = None
    actions: _Names | None = None
    not_action: bool = False
    resources: tuple[str, ...] | None = None  # None: neither Resource nor NotResource
    not_resource: bool = False
    principal: _PrincipalSpec | None = None
    not_principal: bool = False
    conditions: tuple[Condition, ...] = ()
    variables: bool = True


@dataclass(frozen=True, slots=True)
class _Document:
    statements: tuple[_Statement, ...]
    error: str | None = None
    # (action, layer, policy name, level) -> per statement, its hit when the action alone decides it
    plans: dict[tuple[str, str, str, int | None], tuple[_Hit | None, ...]] = field(default_factory=dict)


_CACHE: dict[int, tuple[object, _Document]] = {}
_CACHE_LIMIT = 20000
_PLAN_LIMIT = 2048


def clear_cache() -> None:
    """Forget every compiled document (needed only when a document was mutated after evaluation)."""
    _CACHE.clear()


def _compiled(document: object) -> _Document:
    key = id(document)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] is document:
        return hit[1]
    compiled = _compile_document(document)
    if len(_CACHE) >= _CACHE_LIMIT:
        _CACHE.clear()
    _CACHE[key] = (document, compiled)
    return compiled


def _compile_document(document: object) -> _Document:
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return _Document((), "the document is not valid JSON")
    if not isinstance(document, dict):
        return _Document((), "the document is not a JSON object")
    variables = document.get("Version") == _CURRENT_VERSION
    raw = document.get("Statement")
    if isinstance(raw, dict):
        items: list[tuple[object, str]] = [(raw, "Statement")]
    elif isinstance(raw, list):
        items = [(s, f"Statement[{i}]") for i, s in enumerate(raw)]
    else:
        return _Document((), "the document has no Statement list")
    return _Document(tuple(_compile_statement(s, label, variables) for s, label in items))


def _compile_names(value: object) -> _Names | None:
    written = _strings(value)
    if not written:
        return None
    exact = frozenset(n.lower() for n in written if "*" not in n and "?" not in n)
    patterns = tuple(wildcard_regex(n) for n in written if "*" in n or "?" in n)
    return _Names(exact, patterns, written)


def _compile_statement(raw: object, label: str, variables: bool) -> _Statement:
    if not isinstance(raw, dict):
        return _Statement(label, "", "it is not an object")
    sid = raw.get("Sid")
    if isinstance(sid, str) and sid.strip():
        label = sid
    effect = raw.get("Effect")
    effect_text = effect if isinstance(effect, str) else ""
    if effect not in ("Allow", "Deny"):
        return _Statement(label, effect_text, f"its Effect {effect!r} is neither Allow nor Deny")
    error = _element_error(raw)
    if error:
        return _Statement(label, effect_text, error)
    not_action = "NotAction" in raw
    actions = _compile_names(raw["NotAction"] if not_action else raw["Action"])
    if actions is None:
        return _Statement(label, effect_text, f"its {'NotAction' if not_action else 'Action'} names no action")
    not_resource = "NotResource" in raw
    resources = None
    if not_resource or "Resource" in raw:
        resources = _strings(raw["NotResource"] if not_resource else raw["Resource"])
        if not resources:
            return _Statement(label, effect_text, "its Resource names no resource")
    not_principal = "NotPrincipal" in raw
    principal = None
    if not_principal or "Principal" in raw:
        principal = _compile_principal(raw["NotPrincipal"] if not_principal else raw["Principal"])
        if principal.error:
            return _Statement(label, effect_text, principal.error)
    conditions = compile_conditions(raw.get("Condition"), variables=variables)
    return _Statement(label, effect_text, None, actions, not_action, resources, not_resource, principal,
                      not_principal, conditions, variables)


def _element_error(raw: dict[str, Any]) -> str | None:
    for a, b in (("Action", "NotAction"), ("Resource", "NotResource"), ("Principal", "NotPrincipal")):
        if a in raw and b in raw:
            return f"it has both {a} and {b}"
    if "Action" not in raw and "NotAction" not in raw:
        return "it has neither Action nor NotAction"
    return None


# --- one statement -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Hit:
    trace: StatementTrace
    kind: str | None = None  # how a resource-based statement named the principal


class _Evaluator:
    """The request, prepared once: the lower-case action, the context, the principal's parts."""

    def __init__(self, request: Request, policies: PolicySet) -> None:
        self.request = request
        self.policies = policies
        self.who = _who(request.principal.arn)
        self.action = request.action if isinstance(request.action, str) else ""
        self.action_lower = self.action.lower()
        self.resource = request.resource if isinstance(request.resource, str) else ""
        self.resource_account = policies.resource_account or _arn_account(self.resource) or self.who.account
        self.context = _context(request, self.who, self.resource_account)
        self.has_boundary = policies.boundary is not None and self.who.kind in ("user", "role", "assumed-role")

    def policy(self, layer: str, policy: Policy | None, level: int | None = None) -> list[_Hit]:
        if policy is None:
            return []
        name = policy.name if isinstance(policy, Policy) else str(policy)
        document = _compiled(policy.document if isinstance(policy, Policy) else None)
        if document.error:
            return [_Hit(StatementTrace(layer, name, "Statement", "", False,
                                        f"{document.error}; the policy is skipped", (), level))]
        key = (self.action, layer, name, level)
        plan = document.plans.get(key)
        if plan is None:
            if len(document.plans) >= _PLAN_LIMIT:
                document.plans.clear()
            plan = document.plans[key] = tuple(self._settled(layer, name, s, level) for s in document.statements)
        return [hit if hit is not None else self.statement(layer, name, stmt, level)
                for hit, stmt in zip(plan, document.statements, strict=True)]

    def _settled(self, layer: str, name: str, stmt: _Statement, level: int | None) -> _Hit | None:
        """The statement's hit when it cannot apply whatever the principal, resource and context (it cannot
        be read, or its action element does not cover the action), else None."""
        reason: str | None = None
        if stmt.error is not None or stmt.actions is None:
            reason = f"{stmt.error}; the statement is skipped"
        elif stmt.actions.covers(self.action_lower) == stmt.not_action:
            element = "is excluded by NotAction" if stmt.not_action else "is not in Action"
            reason = f"action {self.action} {element}"
        elif stmt.resources is None and layer in _RESOURCE_REQUIRED:
            reason = "it has neither Resource nor NotResource; the statement is skipped"
        if reason is None:
            return None
        return _Hit(StatementTrace(layer, name, stmt.label, stmt.effect, False, reason, (), level))

    def statement(self, layer: str, name: str, stmt: _Statement, level: int | None) -> _Hit:
        try:
            matched, reason, missing, kind = self._check(layer, stmt)
        except Exception as exc:  # a document shape no rule foresaw: skip the statement, never raise
            matched, reason, missing, kind = False, f"it could not be evaluated ({exc}); the statement is skipped", (), None
        return _Hit(StatementTrace(layer, name, stmt.label, stmt.effect, matched, reason, missing, level), kind)

    def _check(self, layer: str, stmt: _Statement) -> tuple[bool, str, tuple[str, ...], str | None]:
        if stmt.error is not None or stmt.actions is None:
            return False, f"{stmt.error}; the statement is skipped", (), None
        if stmt.actions.covers(self.action_lower) == stmt.not_action:
            element = "is excluded by NotAction" if stmt.not_action else "is not in Action"
            return False, f"action {self.action} {element}", (), None
        missing: list[str] = []
        if stmt.resources is None:
            if layer in _RESOURCE_REQUIRED:
                return False, "it has neither Resource nor NotResource; the statement is skipped", (), None
        elif self._covers_resource(stmt, missing) == stmt.not_resource:
            element = "is excluded by NotResource" if stmt.not_resource else "is not in Resource"
            why = f"resource {self.resource} {element}"
            if missing:
                why += f" (the policy variable {', '.join(missing)} has no value in the request)"
            return False, why, tuple(dict.fromkeys(missing)), None
        kind: str | None = None
        if layer in ("resource", "rcp"):
            kind, why = self._principal(layer, stmt)
            if kind is None:
                return False, why, tuple(dict.fromkeys(missing)), None
        outcome = evaluate_conditions(stmt.conditions, self.context)
        missing.extend(outcome.missing)
        unique = tuple(dict.fromkeys(missing))
        if not outcome.holds:
            return False, outcome.reason, unique, kind
        return True, self._applies(stmt, kind, outcome), unique, kind

    def _covers_resource(self, stmt: _Statement, missing: list[str]) -> bool:
        assert stmt.resources is not None
        for pattern in stmt.resources:
            if "${" in pattern:
                if not stmt.variables:
                    pattern = pattern.replace("$", "${$}")
                else:
                    result = substitute(pattern, self.context, like=True)
                    if result.text is None:
                        missing.extend(result.missing)
                        continue
                    pattern = result.text
            if arn_matches(pattern, self.resource):
                return True
        return False

    def _principal(self, layer: str, stmt: _Statement) -> tuple[str | None, str]:
        spec = stmt.principal
        if spec is None:
            if layer == "rcp":
                return DIRECT, ""
            return None, "it has neither Principal nor NotPrincipal; the statement is skipped"
        if stmt.not_principal:
            if stmt.effect == "Deny" and self.has_boundary:
                return DIRECT, ""
            if _exempted(spec, self.who):
                return None, f"principal {self.who.text or '*'} is excluded by NotPrincipal"
            return DIRECT, ""
        kind = _principal_kind(spec, self.who)
        if kind is None:
            return None, f"principal {self.who.text or '*'} is not in Principal"
        return kind, ""

    def _applies(self, stmt: _Statement, kind: str | None, outcome: ConditionOutcome) -> str:
        text = f"{stmt.effect} applies to {self.action} on {self.resource}"
        if stmt.not_principal and stmt.effect == "Deny" and self.has_boundary:
            text += ("; a Deny with NotPrincipal always applies to a principal that has a permissions "
                     "boundary")
        elif kind == ACCOUNT:
            text += "; it names the principal's account, which delegates to that account's IAM policies"
        elif kind == ROLE:
            text += "; it names the principal's role"
        if stmt.conditions:
            text += "; " + ("; ".join(outcome.notes) if outcome.notes else "its conditions hold")
        return text


def _context_values(value: object) -> tuple[str, ...]:
    if isinstance(value, list | tuple | set | frozenset):
        items = [as_text(v) for v in value]
        return tuple(v for v in items if v is not None)
    text = as_text(value)
    return () if text is None else (text,)


@lru_cache(maxsize=16384)
def _derived(arn: str, tags: tuple[tuple[str, str], ...], userid: str | None,
             resource_account: str | None) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The condition keys the principal itself implies, lower-case names."""
    who = _who(arn)
    out: list[tuple[str, tuple[str, ...]]] = []
    principal_arn = {"user": who.text, "role": who.text, "assumed-role": who.role_arn, "root": who.root_arn,
                     "federated-user": who.text}.get(who.kind)
    if principal_arn:
        out.append(("aws:principalarn", (principal_arn,)))
    if who.account and who.has_identity:
        out.append(("aws:principalaccount", (who.account,)))
    principal_type = {"user": "User", "role": "AssumedRole", "assumed-role": "AssumedRole",
                      "federated-user": "FederatedUser", "root": "Account"}.get(who.kind)
    if principal_type:
        out.append(("aws:principaltype", (principal_type,)))
    if who.kind == "user" and who.name:
        out.append(("aws:username", (who.name,)))
    if userid:
        out.append(("aws:userid", (userid,)))
    for key, value in tags:
        out.append((f"aws:principaltag/{key.lower()}", (value,)))
    if who.kind == "service":
        out.append(("aws:principalisawsservice", ("true",)))
        out.append(("aws:principalservicename", (who.name or who.text,)))
    elif who.kind != "anonymous":
        out.append(("aws:principalisawsservice", ("false",)))
    if resource_account:
        out.append(("aws:resourceaccount", (resource_account,)))
    return tuple(out)


def _context(request: Request, who: _Who, resource_account: str | None) -> dict[str, tuple[str, ...]]:
    context: dict[str, tuple[str, ...]] = {}
    given = request.context if isinstance(request.context, Mapping) else {}
    for key, value in given.items():
        context[str(key).lower()] = _context_values(value)
    principal = request.principal
    raw_tags = principal.tags if isinstance(principal.tags, Mapping) else {}
    tags = tuple(sorted((str(k), str(v)) for k, v in raw_tags.items()))
    userid = principal.userid if isinstance(principal.userid, str) else None
    for key, values in _derived(principal.arn, tags, userid, resource_account):
        context.setdefault(key, values)
    return context


# --- layers and the decision ---------------------------------------------------------------------------


class _Layer:
    """One layer's statements, and those of them that apply."""

    __slots__ = ("allows", "denies", "hits", "name", "present")

    def __init__(self, name: str, hits: list[_Hit], present: bool) -> None:
        self.name, self.hits, self.present = name, hits, present
        matched = [h.trace for h in hits if h.trace.matched]
        self.allows = [t for t in matched if t.effect == "Allow"]
        self.denies = [t for t in matched if t.effect == "Deny"]

    @property
    def allowed(self) -> bool:
        return bool(self.allows)


def _levels(ev: _Evaluator, layer: str, levels: tuple[tuple[Policy, ...], ...]) -> list[list[_Hit]]:
    out: list[list[_Hit]] = []
    for index, level in enumerate(levels):
        hits: list[_Hit] = []
        for policy in level:
            hits.extend(ev.policy(layer, policy, index))
        out.append(hits)
    return out


def evaluate(request: Request, policies: PolicySet) -> Evaluation:
    """Decide ``request`` against ``policies`` the way AWS would, with the trace of why."""
    ev = _Evaluator(request, policies)
    rcp_levels = _levels(ev, "rcp", policies.rcps)
    scp_levels = _levels(ev, "scp", policies.scps)
    resource = _Layer("resource", ev.policy("resource", policies.resource), policies.resource is not None)
    identity = _Layer("identity", [h for p in policies.identity for h in ev.policy("identity", p)],
                      bool(policies.identity))
    boundary = _Layer("boundary", ev.policy("boundary", policies.boundary), policies.boundary is not None)
    session = _Layer("session", ev.policy("session", policies.session), policies.session is not None)
    rcp = _Layer("rcp", [h for level in rcp_levels for h in level], bool(policies.rcps))
    scp = _Layer("scp", [h for level in scp_levels for h in level], bool(policies.scps))
    ordered = (rcp, scp, resource, identity, boundary, session)
    statements = tuple(h.trace for layer in ordered for h in layer.hits)
    missing = _missing(statements)
    judge = _Judge(ev, rcp_levels, scp_levels, resource, identity, boundary, session)
    decision, deciding, summary = judge.decide()
    if missing and decision != "allowed":
        summary += f" (the request lacks {', '.join(missing)})"
    return Evaluation(decision, tuple(deciding), missing, statements, judge.layer_traces(), summary + ".")


def _missing(statements: Iterable[StatementTrace]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for trace in statements:
        for key in trace.missing:
            seen.setdefault(key.lower(), key)
    return tuple(seen[k] for k in sorted(seen))


def _labels(traces: list[StatementTrace]) -> str:
    return " and ".join(t.label for t in traces)


class _Judge:
    """AWS's decision over the evaluated layers (the module docstring's steps)."""

    def __init__(self, ev: _Evaluator, rcp_levels: list[list[_Hit]], scp_levels: list[list[_Hit]],
                 resource: _Layer, identity: _Layer, boundary: _Layer, session: _Layer) -> None:
        self.ev = ev
        self.who = ev.who
        self.kind = ev.policies.resource_kind
        self.rcp_levels, self.scp_levels = rcp_levels, scp_levels
        self.resource, self.identity, self.boundary, self.session = resource, identity, boundary, session
        self.what = f"{ev.action} on {ev.resource}"
        self.cross = self.who.account is not None and ev.resource_account != self.who.account
        self.res_kind = self._resource_kind()
        self.identity_ok = self.who.kind == "root" or identity.allowed
        self.boundary_ok = not boundary.present or boundary.allowed
        self.federated_without_session = self.who.kind == "federated-user" and not session.present
        self.session_ok = session.allowed if session.present else not self.federated_without_session
        self.id_path = self.who.has_identity and self.identity_ok and self.boundary_ok and self.session_ok

    def _resource_kind(self) -> str | None:
        best: str | None = None
        for hit in self.resource.hits:
            if hit.trace.matched and hit.trace.effect == "Allow" and hit.kind is not None \
                    and (best is None or _RANK[hit.kind] > _RANK[best]):
                best = hit.kind
        return best

    # the decision

    def decide(self) -> tuple[Decision, list[StatementTrace], str]:
        denies = [t for layer in self._all_layers() for t in layer.denies]
        if denies:
            more = f" (and {len(denies) - 1} more)" if len(denies) > 1 else ""
            return "explicit_deny", denies, f"denied: {denies[0].label} explicitly denies {self.what}{more}"
        for name, levels in (("RCPs", self.rcp_levels), ("SCPs", self.scp_levels)):
            index = _first_unallowed(levels)
            if index is not None:
                return "implicit_deny", [], f"denied: no {name[:-1]} at level {index} allows {self.what}"
        grant = self._grant()
        if isinstance(grant, str):
            return "implicit_deny", [], f"denied: {grant}"
        return "allowed", grant, self._allowed_summary(grant)

    def _all_layers(self) -> tuple[_Layer, ...]:
        rcp = _Layer("rcp", [h for level in self.rcp_levels for h in level], True)
        scp = _Layer("scp", [h for level in self.scp_levels for h in level], True)
        return rcp, scp, self.resource, self.identity, self.boundary, self.session

    def _allowed_summary(self, grant: list[StatementTrace]) -> str:
        if not grant:
            return f"allowed: the account root user needs no identity policy for {self.what}"
        verb = "allows" if len(grant) == 1 else "allow"
        return f"allowed: {_labels(grant)} {verb} {self.what}"

    def _grant(self) -> list[StatementTrace] | str:
        """The granting statements, or why nothing grants the request."""
        if not self.who.has_identity:
            if self.res_kind is not None:
                return self.resource.allows
            return self._no_resource_grant()
        if self.kind == "role-trust":
            return self._role_trust()
        if self.kind == "kms-key":
            return self._kms_key()
        if self.cross:
            return self._both_sides()
        resource_grant = self.res_kind == DIRECT or (self.res_kind == ROLE and self._limits_ok())
        if resource_grant or self.id_path:
            return (self.resource.allows if resource_grant else []) + (self._identity_grant() if self.id_path else [])
        if self.res_kind == ROLE:
            return f"the resource policy grants {self.what} to the role, and {self._limit_failure()}"
        why = self._identity_failure()
        if self.res_kind == ACCOUNT:
            why += ", and the resource policy names only the account, which delegates to its IAM policies"
        return why

    def _identity_grant(self) -> list[StatementTrace]:
        return self.identity.allows

    def _limits_ok(self) -> bool:
        return self.boundary_ok and self.session_ok

    def _both_sides(self) -> list[StatementTrace] | str:
        if self.res_kind is None:
            return (f"{self.what} crosses from account {self.who.account} to {self.ev.resource_account}, "
                    f"and {self._no_resource_grant(short=True)}")
        if not self.id_path:
            return (f"{self.what} crosses from account {self.who.account} to {self.ev.resource_account}, "
                    f"and {self._identity_failure()}")
        return self.resource.allows + self._identity_grant()

    def _kms_key(self) -> list[StatementTrace] | str:
        if not self.resource.present:
            return f"no key policy is given, and a KMS key's policy must allow {self.what}"
        if self.res_kind is None:
            return f"the key policy allows {self.what} neither to the principal nor to its account"
        if self.cross:
            return self._both_sides()
        if self.res_kind == DIRECT or (self.res_kind == ROLE and self._limits_ok()):
            return self.resource.allows
        if self.res_kind == ROLE:
            return f"the key policy grants {self.what} to the role, and {self._limit_failure()}"
        if self.id_path:
            return self.resource.allows + self._identity_grant()
        return f"the key policy delegates to IAM policies, and {self._identity_failure()}"

    def _role_trust(self) -> list[StatementTrace] | str:
        if self.who.kind == "root":
            return "the account root user cannot assume a role"
        if not self.resource.present:
            return f"no trust policy is given, and a role's trust policy must allow {self.what}"
        if self.res_kind is None:
            return f"the trust policy allows {self.what} neither to the principal nor to its account"
        if self.cross:
            return self._both_sides()
        if self.res_kind == DIRECT:
            if self.boundary_ok:
                return self.resource.allows
            return f"the trust policy names the principal, but the permissions boundary does not allow {self.what}"
        if self.res_kind == ROLE:
            if self._limits_ok():
                return self.resource.allows
            return f"the trust policy names the principal's role, and {self._limit_failure()}"
        if self.id_path:
            return self.resource.allows + self._identity_grant()
        return f"the trust policy names only the account, which delegates to IAM policies, and {self._identity_failure()}"

    def _no_resource_grant(self, short: bool = False) -> str:
        if not self.resource.present:
            return "no resource-based policy is given" if short else \
                f"no resource-based policy is given to allow {self.what} to {self.who.text or 'an anonymous caller'}"
        return f"no statement of the resource policy allows {self.what} to {self.who.text or 'an anonymous caller'}"

    def _identity_failure(self) -> str:
        if not self.identity_ok:
            return f"no identity policy allows {self.what}"
        return self._limit_failure()

    def _limit_failure(self) -> str:
        if not self.boundary_ok:
            return f"the permissions boundary does not allow {self.what}"
        if self.federated_without_session:
            return "a federated user session has no permissions without a session policy"
        return f"the session policy does not allow {self.what}"

    # the layer verdicts

    def layer_traces(self) -> tuple[LayerTrace, ...]:
        return (self._levels_trace("rcp", "RCP", self.rcp_levels), self._levels_trace("scp", "SCP", self.scp_levels),
                self._resource_trace(), self._identity_trace(),
                _plain_trace(self.boundary, "no permissions boundary is set", "the permissions boundary"),
                self._session_trace())

    def _levels_trace(self, layer: str, label: str, levels: list[list[_Hit]]) -> LayerTrace:
        if not levels:
            return LayerTrace(layer, "absent", f"no {label} is given")
        denies = [h.trace for level in levels for h in level if h.trace.matched and h.trace.effect == "Deny"]
        if denies:
            return LayerTrace(layer, "deny", f"{denies[0].label} denies {self.what}")
        index = _first_unallowed(levels)
        if index is not None:
            return LayerTrace(layer, "no-match", f"no {label} at level {index} allows {self.what}")
        return LayerTrace(layer, "allow", f"every level of {label}s allows {self.what}")

    def _resource_trace(self) -> LayerTrace:
        layer = self.resource
        if not layer.present:
            return LayerTrace("resource", "absent", "no resource-based policy is given")
        if layer.denies:
            return LayerTrace("resource", "deny", f"{layer.denies[0].label} denies {self.what}")
        if self.res_kind is None:
            return LayerTrace("resource", "no-match", f"no statement allows {self.what} to the principal")
        first = next(h.trace for h in layer.hits
                     if h.kind == self.res_kind and h.trace.matched and h.trace.effect == "Allow")
        how = {DIRECT: "the principal directly",
               ROLE: "the principal's role, so the permissions boundary and session policy still limit it",
               ACCOUNT: "the principal's account, which delegates to that account's IAM policies"}[self.res_kind]
        return LayerTrace("resource", "allow", f"{first.label} allows {self.what} to {how}")

    def _identity_trace(self) -> LayerTrace:
        if self.identity.denies:
            return LayerTrace("identity", "deny", f"{self.identity.denies[0].label} denies {self.what}")
        if self.who.kind == "root" and not self.identity.allowed:
            return LayerTrace("identity", "allow", "the account root user needs no identity policy")
        if not self.who.has_identity and not self.identity.present:
            return LayerTrace("identity", "absent", f"a {self.who.kind} principal has no identity policies")
        return _plain_trace(self.identity, "no identity policy is given", "identity policies")

    def _session_trace(self) -> LayerTrace:
        if self.federated_without_session:
            return LayerTrace("session", "absent", "no session policy is given, and a federated user session "
                                                   "has no permissions without one")
        return _plain_trace(self.session, "no session policy is given", "the session policy")


def _plain_trace(layer: _Layer, absent: str, label: str) -> LayerTrace:
    if not layer.present:
        return LayerTrace(layer.name, "absent", absent)
    if layer.denies:
        return LayerTrace(layer.name, "deny", f"{layer.denies[0].label} denies the request")
    if layer.allows:
        return LayerTrace(layer.name, "allow", f"{layer.allows[0].label} allows the request")
    return LayerTrace(layer.name, "no-match", f"no statement of {label} allows the request")


def _first_unallowed(levels: list[list[_Hit]]) -> int | None:
    """The first SCP or RCP level with no applicable Allow, or None when every level allows."""
    for index, hits in enumerate(levels):
        if not any(h.trace.matched and h.trace.effect == "Allow" for h in hits):
            return index
    return None


__all__ = [
    "Decision",
    "Evaluation",
    "LayerTrace",
    "Policy",
    "PolicySet",
    "Principal",
    "Request",
    "StatementTrace",
    "clear_cache",
    "evaluate",
]
