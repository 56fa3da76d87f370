"""Security warnings on what a well-formed document grants, in the spirit of Access Analyzer's checks.

Only ``Allow`` statements grant, so ``Deny`` statements never produce these findings. An action
pattern counts as granting an action when IAM's wildcard match says so (``iam:*``, ``iam:Pass*``,
``*`` and ``*:*`` all grant ``iam:PassRole``); a ``NotAction`` statement grants every action its
patterns do not match. The rules, by document profile:

Trust and resource policies
    ``trust-open-to-anyone``: an Allow to ``Principal: "*"`` (or ``{"AWS": "*"}``, or a list
    holding ``*``) with no condition restricting the caller. A condition restricts when it uses a
    key that identifies the caller or where its request comes from (below) with an operator that
    demands the key: not negated (``StringNotEquals`` passes for any other value), not
    ``...IfExists`` and not ``ForAllValues:`` (both pass when the key is absent), not ``Null``
    (it only asks for presence), and with no value that is a bare wildcard (``*``). The keys:

    - the caller itself: ``aws:PrincipalOrgID``, ``aws:PrincipalOrgPaths``, ``aws:PrincipalAccount``,
      ``aws:PrincipalArn``, ``aws:userid``;
    - the resource a service acts for: ``aws:SourceAccount``, ``aws:SourceArn``, ``aws:SourceOrgID``,
      ``aws:SourceOrgPaths``, ``aws:SourceOwner``; they are absent when an IAM principal calls
      directly, so a demand on them also shuts out every direct caller;
    - the network: ``aws:SourceVpc``, ``aws:SourceVpcArn``, ``aws:SourceVpce``, ``aws:VpceAccount``,
      ``aws:VpceOrgID``, ``aws:VpceOrgPaths`` and ``aws:SourceIp`` (but not ``0.0.0.0/0`` or ``::/0``);
    - in a key policy, ``kms:CallerAccount`` too.

    Not restricting: ``aws:ResourceAccount`` (the resource of a resource policy is already fixed),
    ``aws:username`` (the same user name exists in every account), ``aws:PrincipalIsAWSService``
    (any account's use of a service), ``aws:VpcSourceIp`` (private addresses exist in every VPC),
    and ``kms:ViaService`` alone: a service calls KMS with its caller's identity, so any account
    using, say, S3 in that region passes it (AWS's own key policies pair it with ``kms:CallerAccount``).
    An organisation-wide trust guarded by ``aws:PrincipalOrgID`` is therefore not reported.
    In a key policy the finding is ``kms-key-open`` instead when the statement grants reading
    plaintext or control of the key (``kms:Decrypt``, ``kms:ReEncryptFrom``, the plaintext data-key
    calls, ``kms:CreateGrant``, ``kms:PutKeyPolicy``, so ``kms:*`` too); in a secret's policy it is
    always ``secret-policy-open``. One finding per statement.

    ``allow-with-not-principal``: an Allow with ``NotPrincipal`` grants every principal but the few
    listed, including anonymous callers.

Key policies
    ``kms-key-admin-to-non-root``: ``kms:*`` granted to a principal other than the account's root
    (``arn:<partition>:iam::<own account>:root``). The root statement is what delegates the key to
    IAM policies; anyone else with ``kms:*`` can both decrypt and rewrite the key policy, so key
    administrators should get the administrative actions and key users the cryptographic ones.

Trust policies
    ``oidc-trust-without-sub``: an Allow of ``sts:AssumeRoleWithWebIdentity`` to an OpenID Connect
    provider (``...:oidc-provider/<host>``, or a bare host such as ``accounts.google.com``) without a
    restricting condition on ``<host>:sub``: the audience alone does not say *who* holds the token
    (every GitHub Actions workflow in the world gets ``aud: sts.amazonaws.com``). Providers whose
    subject key is another one: Cognito identity pools (``cognito-identity.amazonaws.com:aud``, the
    identity pool id), Login with Amazon and Facebook (``www.amazon.com:app_id``,
    ``graph.facebook.com:app_id``). For GitHub a ``sub`` pattern that leaves the repository owner
    open (``*``, ``repo:*``, ``repo:*/app:*``: anyone can create a repository of that name) is no
    restriction. SAML providers are out of scope (their trust uses ``SAML:aud``).

    ``service-trust-without-source`` (warning): an Allow of ``sts:AssumeRole`` to a service
    principal without a restricting condition on ``aws:SourceAccount``, ``aws:SourceArn``,
    ``aws:SourceOrgID`` or ``aws:SourceOrgPaths``: without one, the service may assume the role on
    behalf of any customer's resource that names it (the cross-service confused deputy). Not
    reported for the compute services that only ever assume a role for a resource of the role's
    own account, bound to it by that account's ``iam:PassRole`` check (an instance profile, a
    function's execution role, a task or pod role, a cluster role): ``ec2``, ``lambda``,
    ``edgelambda``, ``ecs-tasks``, ``eks``, ``eks-fargate-pods`` and ``pods.eks``. ECS and EKS accept
    the keys, and adding them does no harm, but an execution role without them is AWS's own
    documented default, so a warning on every such role would be noise.

Identity policies that grant (managed and inline; a permissions boundary or an SCP only limits)
    ``passrole-unrestricted``: ``iam:PassRole`` on every role: a Resource pattern matching every
    role ARN (``arn:aws:iam::*:role/*``, ``arn:${partition}:iam::${account_id}:role/*``, ``arn:*:iam::*:*``)
    or ``NotResource`` that does not exclude every role. Resource ``*`` itself is the legacy
    ``passrole-star`` rule's (or ``allow-star-star``'s), so it is not repeated here.
    ``passrole-through-notaction``: a ``NotAction`` statement that does not exclude ``iam:PassRole``
    and reaches every role (Resource ``*``, a role wildcard, or a ``NotResource`` as above).

    ``assume-role-any``: ``sts:AssumeRole`` on Resource ``*``, a pattern matching every role, or a
    ``NotResource`` that does not exclude every role: the principal may assume any role whose trust
    lets it.

    Four categories for statements on Resource ``*`` (warnings; one finding per statement and
    category, naming at most five actions). A statement that ``allow-star-star`` already flags is
    skipped, and ``NotAction`` statements are ``allow-not-action``'s:

    - ``privilege-escalation``: the escalation paths of :mod:`iamflow.policy.risky_actions`; a
      combination (``iam:PassRole`` with ``ec2:RunInstances`` ...) counts when the document grants
      every action of it on Resource ``*``, and is reported on each statement holding a part;
    - ``permissions-management``: actions whose access level in the service reference is
      "Permissions management";
    - ``credential-exposure`` and ``data-exfiltration``: the lists of :mod:`.risky_actions`.

Conditions on identity statements are not weighed: a tag condition may narrow a grant, and a
human judges that and waives the finding.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from iamflow.policy import risky_actions as ra
from iamflow.policy.catalog import Catalog
from iamflow.policy.doctypes import IDENTITY, RESOURCE, TRUST, DocumentType
from iamflow.policy.findings import ERROR, SECURITY_WARNING, WARNING, Finding, Path, code
from iamflow.policy.operators import parse_operator

GROUP = "security"
TRUST_OPEN = code("trust-open-to-anyone", SECURITY_WARNING,
                  "a trust or resource policy allows Principal '*' with no condition restricting the caller",
                  group=GROUP)
NOT_PRINCIPAL = code("allow-with-not-principal", SECURITY_WARNING,
                     "an Allow with NotPrincipal grants every principal but the ones listed, anonymous ones included",
                     group=GROUP)
PASSROLE_UNRESTRICTED = code("passrole-unrestricted", SECURITY_WARNING,
                             "iam:PassRole on every role (a role wildcard ARN, or NotResource)", group=GROUP)
PASSROLE_NOTACTION = code("passrole-through-notaction", SECURITY_WARNING,
                          "a NotAction Allow that does not exclude iam:PassRole, on every role", group=GROUP)
KMS_OPEN = code("kms-key-open", SECURITY_WARNING,
                "a key policy lets anyone decrypt with, or take control of, the key", group=GROUP)
KMS_ADMIN = code("kms-key-admin-to-non-root", SECURITY_WARNING,
                 "a key policy grants kms:* to a principal other than the account root", group=GROUP)
SECRET_OPEN = code("secret-policy-open", SECURITY_WARNING,
                   "a secret's policy allows Principal '*' with no condition restricting the caller", group=GROUP)
ASSUME_ANY = code("assume-role-any", SECURITY_WARNING,
                  "an identity policy allows sts:AssumeRole on every role", group=GROUP)
OIDC_NO_SUB = code("oidc-trust-without-sub", SECURITY_WARNING,
                   "a web-identity trust does not constrain the token's subject (<provider>:sub)", group=GROUP)
IDENTITY_POOL_NO_AUD = code("identity-pool-trust-without-aud", ERROR,
                            "a Cognito identity pool trust does not pin the pool (cognito-identity.amazonaws.com:aud)",
                            group=GROUP)
IDENTITY_POOL_NO_AMR = code("identity-pool-trust-without-amr", SECURITY_WARNING,
                            "a Cognito identity pool trust does not say whether guests or signed-in users may assume it "
                            "(cognito-identity.amazonaws.com:amr)", group=GROUP)
SERVICE_NO_SOURCE = code("service-trust-without-source", WARNING,
                         "a service trust has no aws:SourceAccount/aws:SourceArn condition (confused deputy)",
                         group=GROUP)
PRIVILEGE_ESCALATION = code("privilege-escalation", WARNING,
                            "actions on Resource '*' that let a principal widen its own permissions", group=GROUP)
PERMISSIONS_MANAGEMENT = code("permissions-management", WARNING,
                              "permissions-management actions on Resource '*'", group=GROUP)
CREDENTIAL_EXPOSURE = code("credential-exposure", WARNING,
                           "actions on Resource '*' whose response holds a credential", group=GROUP)
DATA_EXFILTRATION = code("data-exfiltration", WARNING,
                         "actions on Resource '*' that return stored data or secret values", group=GROUP)

_CALLER_KEYS = frozenset(k.lower() for k in (
    "aws:PrincipalOrgID", "aws:PrincipalOrgPaths", "aws:PrincipalAccount", "aws:PrincipalArn", "aws:userid",
    "aws:SourceAccount", "aws:SourceArn", "aws:SourceOrgID", "aws:SourceOrgPaths", "aws:SourceOwner",
    "aws:SourceVpc", "aws:SourceVpcArn", "aws:SourceVpce", "aws:VpceAccount", "aws:VpceOrgID",
    "aws:VpceOrgPaths", "aws:SourceIp",
))
_KMS_CALLER_KEYS = _CALLER_KEYS | {"kms:calleraccount"}
_SOURCE_KEYS = frozenset(k.lower() for k in ("aws:SourceAccount", "aws:SourceArn", "aws:SourceOrgID",
                                             "aws:SourceOrgPaths"))
_ANY_ADDRESS = frozenset({"0.0.0.0/0", "::/0"})

# compute services that assume a role only for a resource of the role's own account (see above)
_SAME_ACCOUNT_COMPUTE = frozenset(f"{s}.amazonaws.com" for s in (
    "ec2", "lambda", "edgelambda", "ecs-tasks", "eks", "eks-fargate-pods", "pods.eks",
))
GITHUB_OIDC = "token.actions.githubusercontent.com"
COGNITO_IDENTITY = "cognito-identity.amazonaws.com"
# web-identity providers whose "who" key is not <host>:sub
_SUBJECT_KEY = {
    "cognito-identity.amazonaws.com": "aud",
    "www.amazon.com": "app_id",
    "graph.facebook.com": "app_id",
}
_OIDC_MARKER = ":oidc-provider/"
_ROOT_ARN = re.compile(r"arn:[^:]+:iam::([^:]+):root")
_OWN_PLACEHOLDER = "${account_id}"
# a role ARN of a concrete partition and account; a pattern covering every such ARN covers every role
_ANY_ROLE = "arn:aws:iam::123456789012:role/"
_PARTITION_FIELD, _ACCOUNT_FIELD = 1, 4
_GRANTING_EXCLUDED = frozenset({"boundary", "scp"})
_SHOWN = 5


def check_security(doc: dict[str, Any], doc_type: DocumentType, catalog: Catalog, *,
                   own_account: str | None) -> list[Finding]:
    """Every security finding of ``doc``: elements of the wrong shape are left to the grammar."""
    statements = [s for s in _statements(doc) if s.allow]
    findings: list[Finding] = []
    if doc_type.profile in (TRUST, RESOURCE):
        for s in statements:
            findings += _check_open(s, doc_type)
            if "NotPrincipal" in s.raw:
                findings.append(Finding(NOT_PRINCIPAL, (
                    f"allows every principal except {_brief(s.raw['NotPrincipal'])} (NotPrincipal), anonymous "
                    "callers included; name the allowed principals under Principal instead"),
                    s.path + ("NotPrincipal",)))
            if doc_type.name == "kms-key":
                findings += _check_kms_admin(s, own_account)
    if doc_type.profile == TRUST:
        for s in statements:
            findings += _check_oidc(s)
            findings += _check_service_trust(s)
    if doc_type.profile == IDENTITY and doc_type.name not in _GRANTING_EXCLUDED:
        for s in statements:
            findings += _check_passrole(s)
            findings += _check_assume_role(s)
        findings += _check_categories(statements, catalog)
    return findings


# --- statements --------------------------------------------------------------------------------


class _Patterns:
    """Action patterns, indexed so that asking whether they match an action rarely needs a regex."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.literal: set[str] = set()
        self.by_service: dict[str, list[str]] = {}
        self.any_service: list[str] = []
        for pattern in patterns:
            lowered = pattern.lower()
            head, sep, name = lowered.partition(":")
            if not _has_wildcard(lowered):
                self.literal.add(lowered)
            elif not sep or _has_wildcard(head):
                self.any_service.append(lowered)
            else:
                self.by_service.setdefault(head, []).append(name)

    def match(self, action: str) -> bool:
        """True when a pattern matches ``action`` (``iam:PassRole``), case-insensitively as IAM does."""
        lowered = action.lower()
        if lowered in self.literal:
            return True
        head, _sep, name = lowered.partition(":")
        return (any(_regex(p, True).fullmatch(name) for p in self.by_service.get(head, ()))
                or any(_regex(p, True).fullmatch(lowered) for p in self.any_service))

    def select(self, actions: tuple[str, ...]) -> list[str]:
        """The items of ``actions`` a pattern matches, looking only at the services the patterns name."""
        if self.any_service:
            return [a for a in actions if self.match(a)]
        grouped = _by_service(actions)
        services = set(self.by_service) | {literal.partition(":")[0] for literal in self.literal}
        return [a for service in services for a in grouped.get(service, ()) if self.match(a)]


@lru_cache(maxsize=64)
def _by_service(actions: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    grouped: dict[str, list[str]] = {}
    for action in actions:
        grouped.setdefault(action.partition(":")[0].lower(), []).append(action)
    return {service: tuple(items) for service, items in grouped.items()}


class _Statement:
    """One statement, with its path and the string items of its Action and Resource."""

    def __init__(self, path: Path, raw: dict[str, Any]) -> None:
        self.path = path
        self.raw = raw
        self.actions = tuple(_strings(raw.get("Action")))
        self.resources = tuple(_strings(raw.get("Resource")))
        self._action_patterns: _Patterns | None = None
        self._not_action_patterns: _Patterns | None = None

    @property
    def allow(self) -> bool:
        # IAM only accepts "Allow"; compared loosely (as the legacy rules do) so a mis-cased one is checked
        effect = self.raw.get("Effect")
        return isinstance(effect, str) and effect.lower() == "allow"

    def grants(self, action: str) -> bool:
        """True when the statement's Action (or NotAction) lets ``action`` through."""
        if "Action" in self.raw:
            if self._action_patterns is None:
                self._action_patterns = _Patterns(self.actions)
            return self._action_patterns.match(action)
        if "NotAction" in self.raw:
            if self._not_action_patterns is None:
                self._not_action_patterns = _Patterns(_strings(self.raw.get("NotAction")))
            return not self._not_action_patterns.match(action)
        return False

    def select(self, actions: tuple[str, ...]) -> list[str]:
        """The items of ``actions`` (qualified names) the statement grants."""
        if "Action" in self.raw:
            if self._action_patterns is None:
                self._action_patterns = _Patterns(self.actions)
            return self._action_patterns.select(actions)
        return [a for a in actions if self.grants(a)]

    def through(self, action: str) -> list[str]:
        """The Action items that grant ``action``."""
        return [a for a in self.actions if _Patterns((a,)).match(action)] if self.grants(action) else []

    @property
    def star_star(self) -> bool:
        """What the legacy ``allow-star-star`` flags: ``*`` (or ``*:*``) on Resource ``*``."""
        return any(a.strip() in ("*", "*:*") for a in self.actions) and "*" in self.resources


def _statements(doc: dict[str, Any]) -> list[_Statement]:
    raw = doc.get("Statement")
    if isinstance(raw, dict):
        items: list[tuple[Path, Any]] = [(("Statement",), raw)]
    elif isinstance(raw, list):
        items = [(("Statement", i), s) for i, s in enumerate(raw)]
    else:
        return []
    return [_Statement(path, s) for path, s in items if isinstance(s, dict)]


def _strings(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [v for v in items if isinstance(v, str)]


def _element(path: Path, value: Any, index: int) -> Path:
    """The path of item ``index`` of an element that is a list, or of the element itself."""
    return path + (index,) if isinstance(value, list) else path


def _has_wildcard(text: str) -> bool:
    return "*" in text or "?" in text


@lru_cache(maxsize=65536)
def _regex(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _covers_prefix(pattern: str, prefix: str, *, ignore_case: bool) -> bool:
    """True when the wildcard ``pattern`` matches every string that starts with ``prefix``.

    That holds exactly when the pattern ends in ``*`` and what comes before it matches a leading
    part of ``prefix`` (the final ``*`` then takes the rest, whatever it is).
    """
    if not pattern.endswith("*"):
        return False
    rx = _regex(pattern[:-1], ignore_case)
    return any(rx.fullmatch(prefix, 0, end) for end in range(len(prefix) + 1))


def _covers_all_roles(resource: str) -> bool:
    """True when a Resource pattern matches every role of an account (``arn:aws:iam::*:role/*``).

    A literal partition or account (``${partition}``, ``${account_id}``, ``111122223333``) still
    means every role of that account; a placeholder anywhere else narrows it.
    """
    parts = resource.split(":", 5)
    for index, value in ((_PARTITION_FIELD, "aws"), (_ACCOUNT_FIELD, "123456789012")):
        if len(parts) > index and "*" not in parts[index] and "?" not in parts[index]:
            parts[index] = value
    return _covers_prefix(":".join(parts), _ANY_ROLE, ignore_case=False)


def _wide_role_resources(s: _Statement, *, star: bool) -> Path | None:
    """Where the statement reaches every role: a wide Resource item, or a NotResource sparing roles."""
    if "NotResource" in s.raw:
        excluded = _strings(s.raw.get("NotResource"))
        return None if any(_covers_all_roles(r) for r in excluded) else s.path + ("NotResource",)
    raw = s.raw.get("Resource")
    for i, r in enumerate(raw if isinstance(raw, list) else [raw]):
        if isinstance(r, str) and ((star and r == "*") or _covers_all_roles(r)):
            return _element(s.path + ("Resource",), raw, i)
    return None


def _listing(names: Iterable[str]) -> str:
    ordered = sorted(set(names), key=str.lower)
    shown = ", ".join(ordered[:_SHOWN])
    return shown if len(ordered) <= _SHOWN else f"{shown} and {len(ordered) - _SHOWN} more"


def _brief(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# --- conditions --------------------------------------------------------------------------------


def _bare_wildcard(value: str) -> bool:
    return not value.replace("*", "").replace("?", "")


def _loose_value(key: str, value: Any) -> bool:
    """True when a condition value lets anything through (``*``, ``0.0.0.0/0`` for aws:SourceIp)."""
    if isinstance(value, bool):
        return False
    if not isinstance(value, (str, int, float)):
        return True
    text = str(value).strip()
    return _bare_wildcard(text) or (key == "aws:sourceip" and text in _ANY_ADDRESS)


def _restricts(condition: Any, keys: frozenset[str],
               loose: Callable[[str, Any], bool] = _loose_value) -> bool:
    """True when some condition demands one of ``keys`` (lower case) to have a value that is not loose.

    Blocks are ANDed, so one demanding block is enough; within a block the values are ORed, so one
    loose value spoils the key.
    """
    if not isinstance(condition, dict):
        return False
    for op_text, block in condition.items():
        op = parse_operator(op_text) if isinstance(op_text, str) else None
        if (op is None or op.negated or op.if_exists or op.base == "Null" or op.set_prefix == "ForAllValues"
                or not isinstance(block, dict)):
            continue
        for key, value in block.items():
            if not isinstance(key, str) or key.lower() not in keys:
                continue
            values = value if isinstance(value, list) else [value]
            if values and not any(loose(key.lower(), v) for v in values):
                return True
    return False


# --- trust and resource policies ---------------------------------------------------------------


def _open_principal(s: _Statement) -> Path | None:
    principal = s.raw.get("Principal")
    base = s.path + ("Principal",)
    if principal == "*":
        return base
    if isinstance(principal, dict):
        aws = principal.get("AWS")
        if aws == "*":
            return base + ("AWS",)
        if isinstance(aws, list) and "*" in aws:
            return base + ("AWS", aws.index("*"))
    return None


def _check_open(s: _Statement, doc_type: DocumentType) -> list[Finding]:
    where = _open_principal(s)
    if where is None:
        return []
    kms = doc_type.name == "kms-key"
    if _restricts(s.raw.get("Condition"), _KMS_CALLER_KEYS if kms else _CALLER_KEYS):
        return []
    fix = ("name the principals, or add a condition on the caller (aws:PrincipalOrgID, aws:PrincipalAccount, "
           "aws:SourceAccount{})".format(", kms:CallerAccount" if kms else ""))
    if doc_type.name == "secret":
        return [Finding(SECRET_OPEN, f"lets any AWS principal ('*') use this secret; {fix}", where)]
    if kms:
        risky = [a for a in ra.KMS_OPEN_KEY_ACTIONS if s.grants(a)]
        if risky:
            return [Finding(KMS_OPEN, f"lets any AWS principal ('*') call {_listing(risky)} on this key; {fix}",
                            where)]
    what = "assume this role" if doc_type.profile == TRUST else f"use what {doc_type.label} grants"
    return [Finding(TRUST_OPEN, f"lets any AWS principal ('*') {what}; {fix}", where)]


def _is_own_root(value: str, own_account: str | None) -> bool:
    accounts = {_OWN_PLACEHOLDER} if own_account is None else {_OWN_PLACEHOLDER, own_account}
    if value in accounts:
        return True
    m = _ROOT_ARN.fullmatch(value)
    return m is not None and m.group(1) in accounts


def _check_kms_admin(s: _Statement, own_account: str | None) -> list[Finding]:
    if not any(a.strip() in ("*", "*:*") or _covers_prefix(a, "kms:", ignore_case=True) for a in s.actions):
        return []
    principal = s.raw.get("Principal")
    if principal == "*":
        values = ["*"]
    elif isinstance(principal, dict):
        values = [v for group in principal.values() for v in _strings(group)]
    else:
        return []
    others = [v for v in values if not _is_own_root(v, own_account)]
    if not others or (_open_principal(s) is not None and not _restricts(s.raw.get("Condition"), _KMS_CALLER_KEYS)):
        # nobody but the root; or an open grant, which kms-key-open reports
        return []
    return [Finding(KMS_ADMIN, (
        f"grants kms:* to {_listing(repr(v) for v in others)}, which may then both decrypt and rewrite this "
        "key policy; give key administrators the administrative actions and key users the cryptographic ones"),
        s.path + ("Action",))]


def _oidc_host(value: str) -> str | None:
    if value.startswith("arn:"):
        return value.split(_OIDC_MARKER, 1)[1].lower() if _OIDC_MARKER in value else None
    if ":" in value or "." not in value or "saml-provider" in value:
        return None
    return value.lower()


def _github_loose(key: str, value: Any) -> bool:
    if _loose_value(key, value):
        return True
    text = str(value)
    # the owner must be literal: anyone can create a repository of any name under their own account
    return text[:1] in ("*", "?") or (text.lower().startswith("repo:") and text[5:6] in ("*", "?"))


def _check_oidc(s: _Statement) -> list[Finding]:
    principal = s.raw.get("Principal")
    if not isinstance(principal, dict) or not s.grants(ra.ASSUME_ROLE_WITH_WEB_IDENTITY):
        return []
    federated = principal.get("Federated")
    findings: list[Finding] = []
    for i, value in enumerate(federated if isinstance(federated, list) else [federated]):
        host = _oidc_host(value) if isinstance(value, str) else None
        if host is None:
            continue
        if host == COGNITO_IDENTITY:
            findings += _check_identity_pool(s, _element(s.path + ("Principal", "Federated"), federated, i))
            continue
        key = f"{host}:{_SUBJECT_KEY.get(host, 'sub')}"
        loose = _github_loose if host == GITHUB_OIDC else _loose_value
        if _restricts(s.raw.get("Condition"), frozenset({key}), loose):
            continue
        findings.append(Finding(OIDC_NO_SUB, (
            f"lets any identity of the web-identity provider {host!r} assume this role, as no condition pins "
            f"{key!r}; add a StringEquals condition on {key!r} naming the identities allowed"),
            _element(s.path + ("Principal", "Federated"), federated, i)))
    return findings


def _check_identity_pool(s: _Statement, where: Path) -> list[Finding]:
    """A Cognito identity pool trust: ``aud`` must name the pool (an error), ``amr`` should say who (a warning).

    Without ``aud``, an identity of *any* identity pool, in any account, may assume the role (IAM
    requires identity-pool roles to carry at least one condition, and ``aud`` is the one that
    matters); without ``amr``, guests of the pool may assume the role meant for signed-in users.
    """
    condition = s.raw.get("Condition")
    aud, amr = f"{COGNITO_IDENTITY}:aud", f"{COGNITO_IDENTITY}:amr"
    out: list[Finding] = []
    if not _restricts(condition, frozenset({aud})):
        out.append(Finding(IDENTITY_POOL_NO_AUD, (
            f"lets an identity of any Cognito identity pool, of any account, assume this role, as no condition pins "
            f"{aud!r}; add a StringEquals condition on {aud!r} naming the identity pool id"), where))
    if not _restricts(condition, frozenset({amr})):
        out.append(Finding(IDENTITY_POOL_NO_AMR, (
            f"does not say which identities of the pool may assume this role; add a ForAnyValue:StringLike "
            f"condition on {amr!r}: \"authenticated\" (signed-in users) or \"unauthenticated\" (guests)"), where))
    return out


def _service_name(value: str) -> str:
    lowered = value.lower()
    return lowered[:-3] if lowered.endswith(".amazonaws.com.cn") else lowered


def _check_service_trust(s: _Statement) -> list[Finding]:
    principal = s.raw.get("Principal")
    if not isinstance(principal, dict) or not s.grants(ra.ASSUME_ROLE):
        return []
    services = principal.get("Service")
    values = services if isinstance(services, list) else [services]
    flagged = [(i, v) for i, v in enumerate(values)
               if isinstance(v, str) and _service_name(v) not in _SAME_ACCOUNT_COMPUTE]
    if not flagged or _restricts(s.raw.get("Condition"), _SOURCE_KEYS):
        return []
    return [Finding(SERVICE_NO_SOURCE, (
        f"lets {_listing(v for _i, v in flagged)} assume this role on behalf of any account's resource; add a "
        "condition on aws:SourceAccount (or aws:SourceArn) naming the account or resource it acts for"),
        _element(s.path + ("Principal", "Service"), services, flagged[0][0]))]


# --- identity policies -------------------------------------------------------------------------


def _check_passrole(s: _Statement) -> list[Finding]:
    if "Action" not in s.raw:
        if "NotAction" not in s.raw or not s.grants(ra.PASS_ROLE):
            return []
        if _wide_role_resources(s, star=True) is None:
            return []
        return [Finding(PASSROLE_NOTACTION, (
            "allows iam:PassRole on every role through NotAction, so any role can be handed to a service; add "
            "iam:PassRole to NotAction and grant it in its own statement on the roles that may be passed"),
            s.path + ("NotAction",))]
    through = s.through(ra.PASS_ROLE)
    # Resource '*' is the legacy passrole-star's (or allow-star-star's): never reported twice
    if not through or "*" in s.resources:
        return []
    where = _wide_role_resources(s, star=False)
    if where is None:
        return []
    target = "every role not excluded by NotResource" if where[-1] == "NotResource" else "every role"
    return [Finding(PASSROLE_UNRESTRICTED, (
        f"allows iam:PassRole (through {', '.join(repr(a) for a in through)}) on {target}, so any role can be "
        "handed to a service; limit Resource to the ARNs of the roles that may be passed"), where)]


def _check_assume_role(s: _Statement) -> list[Finding]:
    if "Action" not in s.raw or s.star_star:
        return []
    through = s.through(ra.ASSUME_ROLE)
    where = _wide_role_resources(s, star=True) if through else None
    if where is None:
        return []
    return [Finding(ASSUME_ANY, (
        f"allows sts:AssumeRole (through {', '.join(repr(a) for a in through)}) on every role, so this principal "
        "may assume any role whose trust lets it; limit Resource to the ARNs of the roles it needs"), where)]


@dataclass
class _CatalogIndex:
    """The permissions-management actions of a catalog, by service and by action pattern, computed once."""

    catalog: Catalog
    by_service: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    by_pattern: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def permissions_management(self, pattern: str) -> tuple[str, ...]:
        key = pattern.lower()
        found = self.by_pattern.get(key)
        if found is None:
            found = self.by_pattern[key] = self._expand(key)
        return found

    def _expand(self, pattern: str) -> tuple[str, ...]:
        if ":" not in pattern:
            return ()
        prefix, name = pattern.split(":", 1)
        if "*" in prefix or "?" in prefix:
            prefixes = [p for p in self.catalog.prefixes() if _regex(prefix, True).fullmatch(p)]
        else:
            prefixes = [prefix]
        rx = _regex(name, True)
        return tuple(qualified for p in prefixes for lowered, qualified in self._service(p) if rx.fullmatch(lowered))

    def _service(self, prefix: str) -> tuple[tuple[str, str], ...]:
        found = self.by_service.get(prefix)
        if found is None:
            service = self.catalog.service(prefix)
            actions = service.actions.values() if service is not None else ()
            found = self.by_service[prefix] = tuple(
                (a.name.lower(), a.qualified) for a in actions if "permissions management" in a.access_level.lower()
            )
        return found


_INDEXES: dict[int, _CatalogIndex] = {}


def _index(catalog: Catalog) -> _CatalogIndex:
    found = _INDEXES.get(id(catalog))
    if found is None or found.catalog is not catalog:
        found = _INDEXES[id(catalog)] = _CatalogIndex(catalog)
    return found


# every action of an escalation combination
_COMBINED = tuple(sorted({a for c in ra.ESCALATION_COMBINATIONS for a in c}))
_CATEGORY_TEXT = {
    PRIVILEGE_ESCALATION: "that let a principal widen its own permissions (alone or with others this policy grants)",
    PERMISSIONS_MANAGEMENT: "that manage permissions",
    CREDENTIAL_EXPOSURE: "whose responses hold credentials",
    DATA_EXFILTRATION: "that return stored data or secret values",
}


def _check_categories(statements: list[_Statement], catalog: Catalog) -> list[Finding]:
    wide = [s for s in statements if "Action" in s.raw and "*" in s.resources and not s.star_star]
    if not wide:
        return []
    granted = {a for s in wide for a in s.select(_COMBINED)}
    combos = [c for c in ra.ESCALATION_COMBINATIONS if granted.issuperset(c)]
    escalation = tuple(dict.fromkeys((*ra.ESCALATION_ACTIONS, *(a for c in combos for a in c))))
    index = _index(catalog)
    findings: list[Finding] = []
    for s in wide:
        found = {
            PRIVILEGE_ESCALATION: s.select(escalation),
            PERMISSIONS_MANAGEMENT: [q for p in s.actions for q in index.permissions_management(p)],
            CREDENTIAL_EXPOSURE: s.select(ra.CREDENTIAL_EXPOSURE_ACTIONS),
            DATA_EXFILTRATION: s.select(ra.DATA_EXFILTRATION_ACTIONS),
        }
        for rule, names in found.items():
            if names:
                findings.append(Finding(rule, (
                    f"allows actions {_CATEGORY_TEXT[rule]} on Resource '*': {_listing(names)}; limit Resource to "
                    "the ARNs they are needed on, or drop them"), s.path + ("Action",)))
    return findings
