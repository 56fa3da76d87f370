"""Cognito identity pools: guest access, user pool providers, tags, and the two roles with their trust.

AWS facts this handler follows (Cognito identity API):

* Pool names are not unique, and ``CreateIdentityPool`` makes another pool on every call: it is
  sent once (``retry=False``) and an ambiguous failure is resolved by finding the pool by name
  and its ``iamflow:id`` tag (``IdentityPoolTags``). Two tagged pools, or an untagged namesake,
  are an error (never a second pool).
* ``UpdateIdentityPool`` replaces the whole configuration (providers, tags, classic flow, the
  other login providers): every setting read is carried into it, the declared ones changed.
* ``SetIdentityPoolRoles`` replaces the pool's default roles (its role mappings are carried over)
  and needs ``iam:PassRole`` on them. Each role's trust policy is written by this handler:
  ``cognito-identity.amazonaws.com`` may call ``sts:AssumeRoleWithWebIdentity`` when ``aud`` is
  this pool's id and ``amr`` says ``authenticated`` (or ``unauthenticated`` for the guest role).
  A new pool's id is known only at apply time, so its trust documents are rendered then.
* ``GetIdentityPoolRoles`` is read only when the playbook names a role; the embedded AWS (moto
  5.2.5) implements neither it nor ``SetIdentityPoolRoles``, so roles are tested against AWS's
  documented behaviour and their moto tests are skipped with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypedDict

from iamflow.aws.errors import not_found, paginate_token
from iamflow.policy.document import parse_document, policies_equal
from iamflow.resources._common import ID_TAG, id_tag_value, last_segment, render_for_api
from iamflow.resources.base import (
    Change,
    Grant,
    Output,
    Plan,
    PlanEnv,
    Rendered,
    ResourceHandler,
    regional_arn,
)
from iamflow.resources.cognito._common import PoolLookupError, find_pool
from iamflow.resources.cognito.app_client import find_client
from iamflow.spec.kinds_cognito import pool_owner
from iamflow.spec.kinds_cognito_identity import ROLE_FIELDS, CognitoIdentityPool

if TYPE_CHECKING:
    from iamflow.aws.clients import AwsClients

COGNITO_IDENTITY = "cognito-identity.amazonaws.com"
ROLE_KEYS = {"authenticated_role": "authenticated", "unauthenticated_role": "unauthenticated"}
PAGE = 60
# what UpdateIdentityPool takes (DescribeIdentityPool answers the same shape)
UPDATE_MEMBERS = frozenset({"IdentityPoolId", "IdentityPoolName", "AllowUnauthenticatedIdentities", "AllowClassicFlow",
                            "SupportedLoginProviders", "DeveloperProviderName", "OpenIdConnectProviderARNs",
                            "CognitoIdentityProviders", "SamlProviderARNs", "IdentityPoolTags"})


class IdentityPoolState(TypedDict):
    """A pool as ``DescribeIdentityPool`` returns it, and its roles when they were read."""

    id: str
    raw: dict[str, Any]
    roles: dict[str, str] | None
    role_mappings: dict[str, Any] | None


@dataclass(frozen=True)
class IdentityPoolFacts:
    """The providers resolved to ids, and the trust policies the pool's roles have now."""

    providers: list[dict[str, Any]] | None = None  # None: some pool or client does not exist yet
    missing: list[str] = field(default_factory=list)
    trusts: dict[str, dict[str, Any] | None] = field(default_factory=dict)  # role ARN -> trust (None: no role)


def role_trust(pool_id: str, amr: str) -> dict[str, Any]:
    """The trust policy of a role an identity pool hands out: this pool (``aud``) and this kind of identity."""
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"Federated": COGNITO_IDENTITY},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{COGNITO_IDENTITY}:aud": pool_id},
                      "ForAnyValue:StringLike": {f"{COGNITO_IDENTITY}:amr": amr}},
    }]}


def find_identity_pool(ci: Any, name: str, tag: str) -> dict[str, Any] | None:
    """The ``DescribeIdentityPool`` result of the pool named ``name`` that carries ``iamflow:id`` = ``tag``."""
    listed = paginate_token(ci, "list_identity_pools", "IdentityPools", page_size=PAGE)
    mine, untagged = [], []
    for item in listed:
        if item.get("IdentityPoolName") != name:
            continue
        got = not_found(ci, "describe_identity_pool", IdentityPoolId=item["IdentityPoolId"])
        if got is None:
            continue
        have = (got.get("IdentityPoolTags") or {}).get(ID_TAG)
        if have == tag:
            mine.append(got)
        elif have is None:
            untagged.append(item["IdentityPoolId"])
    if len(mine) > 1:
        raise PoolLookupError(f"identity pool {name!r}: {len(mine)} pools carry {ID_TAG}={tag} "
                              f"({', '.join(sorted(p['IdentityPoolId'] for p in mine))}); delete all but one")
    if not mine and untagged:
        raise PoolLookupError(f"identity pool {name!r} exists ({', '.join(sorted(untagged))}) but is not managed by "
                              f"iamflow (no {ID_TAG} tag); tag it {ID_TAG}={tag} to adopt it, or rename one")
    return {k: v for k, v in mine[0].items() if k != "ResponseMetadata"} if mine else None


class CognitoIdentityPoolHandler(ResourceHandler[CognitoIdentityPool, IdentityPoolState, IdentityPoolFacts]):
    """Converge an identity pool, its providers and roles, and the trust policies of those roles."""

    kind: ClassVar[str] = "cognito_identity_pool"
    read_actions: ClassVar[tuple[str, ...]] = (
        "cognito-identity:ListIdentityPools",
        "cognito-identity:DescribeIdentityPool",
        "cognito-identity:GetIdentityPoolRoles",
        "cognito-idp:ListUserPools",
        "cognito-idp:DescribeUserPool",
        "cognito-idp:ListUserPoolClients",
        "cognito-idp:DescribeUserPoolClient",
        "iam:GetRole",
    )
    write_actions: ClassVar[tuple[str, ...]] = (
        "cognito-identity:CreateIdentityPool",
        "cognito-identity:UpdateIdentityPool",
        "cognito-identity:DeleteIdentityPool",
        "cognito-identity:SetIdentityPoolRoles",
        "iam:UpdateAssumeRolePolicy",
        "iam:PassRole",
    )

    def read(self, clients: AwsClients, resource: CognitoIdentityPool, env: PlanEnv) -> IdentityPoolState | None:
        """The pool by name and tag; its roles only when the playbook names one."""
        ci = clients.client("cognito-identity")
        got = find_identity_pool(ci, resource.name, id_tag_value(env, resource))
        if got is None:
            return None
        state: IdentityPoolState = {"id": got["IdentityPoolId"], "raw": got, "roles": None, "role_mappings": None}
        if resource.state == "present" and any(getattr(resource, f) for f in ROLE_FIELDS):
            roles = ci.get_identity_pool_roles(IdentityPoolId=state["id"])
            state["roles"] = dict(roles.get("Roles") or {})
            state["role_mappings"] = roles.get("RoleMappings")
        return state

    def lookup(self, clients: AwsClients, resource: CognitoIdentityPool, env: PlanEnv,
               current: IdentityPoolState | None) -> IdentityPoolFacts | None:
        """Resolve the providers' pools and clients to ids; read the trust policies of the named roles."""
        if resource.state == "absent":
            return None
        providers: list[dict[str, Any]] | None = []
        missing: list[str] = []
        idp = clients.client("cognito-idp") if resource.providers else None
        for p in resource.providers or []:
            owner, pool = pool_owner(env.playbook.name, p.user_pool)
            found = find_pool(idp, owner, pool)
            client = find_client(idp, found["Id"], p.client, pool) if found else None
            if found is None or client is None:
                missing.append(f"{p.user_pool}/{p.client}")
                continue
            assert providers is not None
            providers.append({"ProviderName": f"cognito-idp.{env.ctx.region}.amazonaws.com/{found['Id']}",
                              "ClientId": client["UserPoolClient"]["ClientId"],
                              "ServerSideTokenCheck": p.server_side_token_check})
        if missing:
            providers = None
        trusts: dict[str, dict[str, Any] | None] = {}
        iam = clients.client("iam")
        for role_field in ROLE_FIELDS:
            ref = getattr(resource, role_field)
            if ref:
                arn = env.ref_arn(ref, ("iam_role",))
                got = not_found(iam, "get_role", RoleName=last_segment(arn))
                trusts[arn] = parse_document(got["Role"]["AssumeRolePolicyDocument"]) if got else None
        return IdentityPoolFacts(providers, missing, trusts)

    def plan(self, resource: CognitoIdentityPool, current: IdentityPoolState | None, env: PlanEnv,
             facts: IdentityPoolFacts | None = None) -> Plan:
        """Plan pool, trusts and roles from ``current`` and the facts. Pure."""
        res = resource
        plan = Plan(resource=res.key, before=_view(current))
        if res.state == "absent":
            if current is not None:
                plan.changes.append(Change("cognito-identity", "delete_identity_pool",
                                           {"IdentityPoolId": current["id"]}, f"delete identity pool {res.name}"))
                plan.notes.append(f"identity pool {res.name}: the trust policies of its roles are left as they are")
            return plan
        facts = facts or IdentityPoolFacts()
        if facts.missing:
            plan.notes.append(f"identity pool {res.name}: not found yet: {', '.join(facts.missing)} (created by this "
                              "run before the pool, or converge them first)")
        pool_id: str | Output
        if current is None:
            pool_id = _plan_create(plan, res, env, facts)
        else:
            pool_id = current["id"]
            _plan_update(plan, res, env, current, facts)
        _plan_roles(plan, res, env, current, facts, pool_id)
        return plan

    def arn(self, resource: CognitoIdentityPool, env: PlanEnv, current: IdentityPoolState | None) -> str:
        if current is not None:
            return regional_arn(env.ctx, "cognito-identity", f"identitypool/{current['id']}")
        return f"arn:{env.ctx.partition}:iam::{env.ctx.account_id}:root"

    def grants(self, resource: CognitoIdentityPool, env: PlanEnv) -> list[Grant]:
        """Identity pools of the account and region (ids are AWS's); IAM on the named roles; user pools for lookups."""
        pools = regional_arn(env.ctx, "cognito-identity", "identitypool/*")
        lists = ("cognito-identity:ListIdentityPools", "cognito-identity:CreateIdentityPool",
                 "cognito-idp:ListUserPools")
        out = [Grant(lists, ("*",)),
               Grant(tuple(a for a in self.actions if a.startswith("cognito-identity:") and a not in lists), (pools,))]
        if resource.providers:
            out.append(Grant(("cognito-idp:DescribeUserPool", "cognito-idp:ListUserPoolClients",
                              "cognito-idp:DescribeUserPoolClient"),
                             (regional_arn(env.ctx, "cognito-idp", "userpool/*"),)))
        roles = tuple(env.ref_arn(getattr(resource, f), ("iam_role",)) for f in ROLE_FIELDS if getattr(resource, f))
        if roles:
            out.append(Grant(("iam:GetRole", "iam:UpdateAssumeRolePolicy", "iam:PassRole"), roles))
        return out


def _tags(res: CognitoIdentityPool, env: PlanEnv) -> dict[str, str]:
    return {**(env.tags_for(res) or {}), ID_TAG: id_tag_value(env, res)}


def _plan_create(plan: Plan, res: CognitoIdentityPool, env: PlanEnv, facts: IdentityPoolFacts) -> Output:
    tags = _tags(res, env)
    params: dict[str, Any] = {"IdentityPoolName": res.name, "AllowUnauthenticatedIdentities": res.allow_unauthenticated,
                              "IdentityPoolTags": tags}
    providers = _desired_providers(res, facts, plan)
    if providers:
        params["CognitoIdentityProviders"] = providers
    plan.changes.append(Change("cognito-identity", "create_identity_pool", params, f"create identity pool {res.name}",
                               publish={"identity_pool_id": ("IdentityPoolId",)}, retry=False,
                               adopt=_adopt(res.name, tags[ID_TAG])))
    plan.after = {"name": res.name, "allow_unauthenticated": res.allow_unauthenticated,
                  "providers": _provider_view(providers or []), "tags": dict(sorted(tags.items()))}
    return Output("identity_pool_id", "the new identity pool's id", f"creating identity pool {res.name} published no id")


def _desired_providers(res: CognitoIdentityPool, facts: IdentityPoolFacts, plan: Plan) -> list[dict[str, Any]] | None:
    """The declared providers as AWS states them (None: unmanaged); blocks the plan when some cannot be resolved."""
    if res.providers is None:
        return None
    if facts.providers is None:
        plan.blocked = (f"identity pool {res.name}: the user pool client(s) {', '.join(facts.missing)} do not exist; "
                        "converge the cognito_user_pool and cognito_app_client first")
        return []
    return facts.providers


def _plan_update(plan: Plan, res: CognitoIdentityPool, env: PlanEnv, current: IdentityPoolState,
                 facts: IdentityPoolFacts) -> None:
    raw = current["raw"]
    after = dict(plan.before or {})
    what: list[str] = []
    # UpdateIdentityPool replaces everything: carry every setting it takes, change the declared ones
    update = {k: v for k, v in raw.items() if k in UPDATE_MEMBERS}
    if bool(raw.get("AllowUnauthenticatedIdentities")) != res.allow_unauthenticated:
        update["AllowUnauthenticatedIdentities"] = res.allow_unauthenticated
        after["allow_unauthenticated"] = res.allow_unauthenticated
        what.append("guest access " + ("on" if res.allow_unauthenticated else "off"))
    providers = _desired_providers(res, facts, plan)
    if providers is not None and not plan.blocked and _provider_view(providers) != _provider_view(
            raw.get("CognitoIdentityProviders") or []):
        update["CognitoIdentityProviders"] = providers
        after["providers"] = _provider_view(providers)
        what.append("providers")
    if res.is_managed("tags") or env.playbook.tags:
        want = _tags(res, env)
        have = dict(raw.get("IdentityPoolTags") or {})
        merged = want if res.is_managed("tags") else {**have, **want}
        if merged != have:
            update["IdentityPoolTags"] = merged
            after["tags"] = dict(sorted(merged.items()))
            what.append("tags")
    if what:
        plan.changes.append(Change("cognito-identity", "update_identity_pool", update,
                                   f"update the {', '.join(what)} of identity pool {res.name}"))
    plan.after = after


def _plan_roles(plan: Plan, res: CognitoIdentityPool, env: PlanEnv, current: IdentityPoolState | None,
                facts: IdentityPoolFacts, pool_id: str | Output) -> None:
    """Write each named role's trust (aud = the pool, amr = its kind), then the pool's roles."""
    desired: dict[str, str] = {}
    for role_field in ROLE_FIELDS:
        ref = getattr(res, role_field)
        if not ref:
            continue
        arn = env.ref_arn(ref, ("iam_role",))
        amr = ROLE_KEYS[role_field]
        desired[amr] = arn
        have = facts.trusts.get(arn)
        if isinstance(pool_id, str) and have is not None and policies_equal(role_trust(pool_id, amr), have):
            continue
        document: Any = (render_for_api(role_trust(pool_id, amr)) if isinstance(pool_id, str) else
                         Rendered(_trust_renderer(amr), f"the trust of an {amr} role of identity pool {res.name}"))
        plan.changes.append(Change("iam", "update_assume_role_policy",
                                   {"RoleName": last_segment(arn), "PolicyDocument": document},
                                   f"let identity pool {res.name}'s {amr} identities (and only those) assume "
                                   f"{last_segment(arn)} (aud and amr conditions)"))
    if not desired:
        return
    if plan.after is not None:
        plan.after["roles"] = dict(sorted(desired.items()))
    have_roles = current["roles"] if current is not None else None
    if have_roles == desired:
        return
    params: dict[str, Any] = {"IdentityPoolId": pool_id, "Roles": desired}
    if current is not None and current.get("role_mappings"):
        params["RoleMappings"] = current["role_mappings"]
    plan.changes.append(Change("cognito-identity", "set_identity_pool_roles", params,
                               f"set the roles of identity pool {res.name}"))


def _trust_renderer(amr: str) -> Any:
    def render(outputs: Any) -> str:
        return render_for_api(role_trust(outputs["identity_pool_id"], amr))

    return render


def _adopt(name: str, tag: str) -> Any:
    def adopt(clients: AwsClients, params: dict[str, Any]) -> dict[str, Any] | None:
        return find_identity_pool(clients.client("cognito-identity"), name, tag)

    return adopt


def _provider_view(providers: list[dict[str, Any]]) -> list[str]:
    return sorted(f"{p.get('ProviderName')} client {p.get('ClientId')}"
                  + (" (server-side token check)" if p.get("ServerSideTokenCheck") else "") for p in providers)


def _view(current: IdentityPoolState | None) -> dict[str, Any] | None:
    if current is None:
        return None
    raw = current["raw"]
    view: dict[str, Any] = {
        "name": raw.get("IdentityPoolName"),
        "allow_unauthenticated": bool(raw.get("AllowUnauthenticatedIdentities")),
        "providers": _provider_view(raw.get("CognitoIdentityProviders") or []),
        "tags": dict(sorted((raw.get("IdentityPoolTags") or {}).items())),
    }
    if current["roles"] is not None:
        view["roles"] = dict(sorted(current["roles"].items()))
    return view
