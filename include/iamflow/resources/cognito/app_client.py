"""App clients of a Cognito user pool; a generated secret goes to Secrets Manager only.

App clients take no tags, and their names are unique only by convention: a client is found by name
within its pool. ``CreateUserPoolClient`` is not idempotent (every attempt makes a client), so it is
sent once, botocore's retries off; when it fails ambiguously (a timeout, a dropped connection, a
5xx: the client may exist), the client is looked up by name in the pool and adopted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, NotRequired, TypedDict

from iamflow.aws.errors import not_found, paginate_token
from iamflow.resources.base import (
    Change,
    Grant,
    Output,
    Plan,
    PlanEnv,
    ResourceHandler,
    secret_arn_pattern,
    split_actions,
)
from iamflow.resources.cognito._common import (
    PAGE,
    TAG_KEY,
    PoolFacts,
    PoolLookupError,
    find_pool,
    input_members,
    lookup_pool,
    pool_arn,
    pool_id_for,
)
from iamflow.resources.cognito.user_pool import cognito_grants
from iamflow.spec.kinds_cognito import CognitoAppClient, TokenValidity
from iamflow.spec.names import secret_name_for_client

if TYPE_CHECKING:
    from iamflow.aws.clients import AwsClients

_UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}
CLIENT_SECRET = "client_secret"


class AppClientState(TypedDict):
    """An app client as read (its secret dropped at once), with the pool it lives in."""

    pool_id: str
    client: dict[str, Any]
    update_base: dict[str, Any]
    secret_stored: NotRequired[bool]


def _token(value: Any, unit: str | None, default_unit: str) -> dict[str, Any] | None:
    if value is None:
        return None
    unit = unit or default_unit
    return {"seconds": int(value) * _UNIT_SECONDS[unit], "text": f"{value} {unit}"}


def _client_view(raw: dict[str, Any], secret_stored: bool | None) -> dict[str, Any]:
    units = raw.get("TokenValidityUnits") or {}
    view: dict[str, Any] = {
        "generate_secret": bool(raw.get("_has_secret")),
        "access_token_validity": _token_text(raw.get("AccessTokenValidity"), units.get("AccessToken"), "hours"),
        "id_token_validity": _token_text(raw.get("IdTokenValidity"), units.get("IdToken"), "hours"),
        "refresh_token_validity": _token_text(raw.get("RefreshTokenValidity"), units.get("RefreshToken"), "days"),
        "explicit_auth_flows": sorted(raw.get("ExplicitAuthFlows") or []),
        "prevent_user_existence_errors": raw.get("PreventUserExistenceErrors") or "LEGACY",
        "enable_token_revocation": bool(raw.get("EnableTokenRevocation", False)),
        "callback_urls": sorted(raw.get("CallbackURLs") or []),
        "logout_urls": sorted(raw.get("LogoutURLs") or []),
        "allowed_oauth_flows": sorted(raw.get("AllowedOAuthFlows") or []),
        "allowed_oauth_scopes": sorted(raw.get("AllowedOAuthScopes") or []),
    }
    if secret_stored is not None:
        view["secret_stored"] = secret_stored
    return view


def _token_text(value: Any, unit: str | None, default_unit: str) -> str | None:
    got = _token(value, unit, default_unit)
    return got["text"] if got else None


def _seconds(text: str | None) -> int | None:
    if text is None:
        return None
    value, unit = text.split()
    return int(value) * _UNIT_SECONDS[unit]


def _desired_client(res: CognitoAppClient) -> dict[str, Any]:
    out: dict[str, Any] = {
        "generate_secret": res.generate_secret,
        "prevent_user_existence_errors": res.prevent_user_existence_errors,
        "enable_token_revocation": res.enable_token_revocation,
    }
    for field in ("access_token_validity", "id_token_validity", "refresh_token_validity"):
        tv: TokenValidity | None = getattr(res, field)
        if tv is not None:
            out[field] = str(tv)
    for field in ("explicit_auth_flows", "callback_urls", "logout_urls", "allowed_oauth_flows",
                  "allowed_oauth_scopes"):
        value = getattr(res, field)
        if value is not None:
            out[field] = sorted(value)
    if res.generate_secret:
        out["secret_stored"] = True
    return out


def _client_params(res: CognitoAppClient) -> dict[str, Any]:
    params: dict[str, Any] = {
        "PreventUserExistenceErrors": res.prevent_user_existence_errors,
        "EnableTokenRevocation": res.enable_token_revocation,
    }
    units: dict[str, str] = {}
    for field, key, unit_key in (("access_token_validity", "AccessTokenValidity", "AccessToken"),
                                 ("id_token_validity", "IdTokenValidity", "IdToken"),
                                 ("refresh_token_validity", "RefreshTokenValidity", "RefreshToken")):
        tv: TokenValidity | None = getattr(res, field)
        if tv is not None:
            params[key] = tv.value
            units[unit_key] = tv.unit
    if units:
        params["TokenValidityUnits"] = units
    for field, key in (("explicit_auth_flows", "ExplicitAuthFlows"), ("callback_urls", "CallbackURLs"),
                       ("logout_urls", "LogoutURLs"), ("allowed_oauth_flows", "AllowedOAuthFlows"),
                       ("allowed_oauth_scopes", "AllowedOAuthScopes")):
        value = getattr(res, field)
        if value is not None:
            params[key] = list(value)
    if res.allowed_oauth_flows is not None:
        params["AllowedOAuthFlowsUserPoolClient"] = bool(res.allowed_oauth_flows)
        if res.allowed_oauth_flows:
            params["SupportedIdentityProviders"] = ["COGNITO"]
    return params


class CognitoAppClientHandler(ResourceHandler[CognitoAppClient, AppClientState, PoolFacts]):
    """Converge an app client of a user pool; a generated secret goes to Secrets Manager only."""

    kind: ClassVar[str] = "cognito_app_client"
    read_actions: ClassVar[tuple[str, ...]] = (
        "cognito-idp:ListUserPools",
        "cognito-idp:DescribeUserPool",
        "cognito-idp:ListUserPoolClients",
        "cognito-idp:DescribeUserPoolClient",
        "secretsmanager:DescribeSecret",
    )
    write_actions: ClassVar[tuple[str, ...]] = (
        "cognito-idp:CreateUserPoolClient",
        "cognito-idp:UpdateUserPoolClient",
        "cognito-idp:DeleteUserPoolClient",
        "secretsmanager:CreateSecret",
        "secretsmanager:PutSecretValue",
    )

    def read(self, clients: AwsClients, resource: CognitoAppClient, env: PlanEnv) -> AppClientState | None:
        """Find the pool, then the client by name; the client secret is dropped as soon as it is read."""
        res = resource
        idp = clients.client("cognito-idp")
        pool = find_pool(idp, env.playbook.name, res.user_pool)
        if pool is None:
            return None
        got = find_client(idp, pool["Id"], res.name, res.user_pool)
        if got is None:
            return None
        raw = dict(got["UserPoolClient"])
        raw["_has_secret"] = bool(raw.pop("ClientSecret", None))  # never kept, never shown
        members = input_members(idp, "UpdateUserPoolClient")
        current: AppClientState = {
            "pool_id": pool["Id"],
            "client": raw,
            "update_base": {k: v for k, v in raw.items() if k in members and v is not None},
        }
        if raw["_has_secret"] and res.generate_secret and res.state == "present":
            sm = clients.client("secretsmanager")
            stored = not_found(sm, "describe_secret", SecretId=secret_name_for_client(res.user_pool, res.name))
            current["secret_stored"] = stored is not None
        return current

    def lookup(self, clients: AwsClients, resource: CognitoAppClient, env: PlanEnv,
               current: AppClientState | None) -> PoolFacts:
        """The pool the client lives in (already known when the client exists)."""
        if current is not None:
            return PoolFacts(current["pool_id"])
        return lookup_pool(clients.client("cognito-idp"), env.playbook.name, resource.user_pool)

    def plan(self, resource: CognitoAppClient, current: AppClientState | None, env: PlanEnv,
             facts: PoolFacts | None = None) -> Plan:
        """Plan create / update / replace / delete of the client. Pure."""
        res = resource
        raw = current["client"] if current is not None else None
        before = _client_view(raw, current.get("secret_stored")) if current is not None and raw else None
        plan = Plan(resource=res.key, before=before)
        label = f"app client {res.name} of user pool {res.user_pool}"
        pool_id = pool_id_for(facts, res.user_pool)
        secret_name = secret_name_for_client(res.user_pool, res.name)
        if res.state == "absent":
            if raw is not None:
                plan.changes.append(_delete_client(pool_id, raw["ClientId"], label))
                if raw["_has_secret"]:
                    plan.notes.append(f"the client secret in Secrets Manager ({secret_name}) is kept")
            return plan
        desired = _desired_client(res)
        plan.after = {**(before or {}), **desired}
        if current is None or raw is None or before is None:
            _plan_client_create(plan, res, pool_id, label, secret_name)
            return plan
        if desired["generate_secret"] != before["generate_secret"]:
            what = f"generate_secret: {before['generate_secret']} -> {desired['generate_secret']}"
            plan.notes.append(f"replacement required: {what}")
            if not res.allow_replace:
                plan.blocked = (f"replacement required for {label} ({what}); a client secret is fixed when the "
                                "client is created. Set allow_replace: true to delete and create it (its client "
                                "id changes)")
                plan.after = before
                return plan
            plan.changes.append(_delete_client(pool_id, raw["ClientId"], label))
            _plan_client_create(plan, res, pool_id, label, secret_name)
            return plan
        differs = [k for k in desired if k not in ("generate_secret", "secret_stored") and _client_differs(
            k, desired[k], before.get(k))]
        if differs:
            params = {**current["update_base"], **_client_params(res), "UserPoolId": pool_id,
                      "ClientId": raw["ClientId"]}
            if "TokenValidityUnits" in params:
                params["TokenValidityUnits"] = {**(current["update_base"].get("TokenValidityUnits") or {}),
                                                **_client_params(res)["TokenValidityUnits"]}
            plan.changes.append(Change("cognito-idp", "update_user_pool_client", params,
                                       f"update {', '.join(k.replace('_', ' ') for k in differs)} of {label} "
                                       "(sending the full configuration)"))
        if res.generate_secret and not current.get("secret_stored"):
            plan.changes.append(Change("cognito-idp", "describe_user_pool_client",
                                       {"UserPoolId": pool_id, "ClientId": raw["ClientId"]},
                                       f"read the client secret of {label} (kept in memory only)",
                                       publish={CLIENT_SECRET: ("UserPoolClient", "ClientSecret")},
                                       secret_outputs=True))
            plan.changes.append(_store_client_secret(secret_name, label))
        return plan

    def arn(self, resource: CognitoAppClient, env: PlanEnv, current: AppClientState | None) -> str:
        """App clients have no ARN: findings name the pool."""
        return pool_arn(env, current["pool_id"] if current else None)

    def grants(self, resource: CognitoAppClient, env: PlanEnv) -> list[Grant]:
        """Cognito on the account's pools; Secrets Manager on the client-secret secret, when generated."""
        idp, other = split_actions(self.actions, "cognito-idp")
        out = cognito_grants(idp, env)
        if resource.generate_secret:
            out.append(Grant(other, (secret_arn_pattern(env.ctx, secret_name_for_client(resource.user_pool,
                                                                                         resource.name)),)))
        return out


def find_client(idp: Any, pool_id: str, name: str, pool: str) -> dict[str, Any] | None:
    """The ``DescribeUserPoolClient`` result of the pool's one client named ``name``, or None.

    The result holds the client secret, if any: callers drop it or publish it as a secret output.
    """
    listed = paginate_token(idp, "list_user_pool_clients", "UserPoolClients", page_size=PAGE, UserPoolId=pool_id)
    ids = [c["ClientId"] for c in listed if c.get("ClientName") == name]
    if len(ids) > 1:
        raise PoolLookupError(f"user pool {pool!r} has {len(ids)} app clients named {name!r} "
                              f"({', '.join(sorted(ids))}); delete all but one")
    if not ids:
        return None
    got = not_found(idp, "describe_user_pool_client", UserPoolId=pool_id, ClientId=ids[0])
    return None if got is None else dict(got)


def _adopt_client(pool: str) -> Any:
    def adopt(clients: AwsClients, params: dict[str, Any]) -> dict[str, Any] | None:
        return find_client(clients.client("cognito-idp"), params["UserPoolId"], params["ClientName"], pool)

    return adopt


def _client_differs(key: str, want: Any, have: Any) -> bool:
    if key.endswith("_token_validity"):
        return _seconds(want) != _seconds(have)
    return bool(want != have)


def _delete_client(pool_id: Any, client_id: str, label: str) -> Change:
    return Change("cognito-idp", "delete_user_pool_client", {"UserPoolId": pool_id, "ClientId": client_id},
                  f"delete {label} ({client_id})")


def _plan_client_create(plan: Plan, res: CognitoAppClient, pool_id: Any, label: str, secret_name: str) -> None:
    params = {"UserPoolId": pool_id, "ClientName": res.name, "GenerateSecret": res.generate_secret,
              **_client_params(res)}
    publish: dict[str, tuple[str, ...]] = {CLIENT_SECRET: ("UserPoolClient", "ClientSecret")} if res.generate_secret else {}
    plan.changes.append(Change("cognito-idp", "create_user_pool_client", params,
                               f"create {label}" + (" with a generated secret" if res.generate_secret else ""),
                               publish=publish, secret_outputs=True,
                               retry=False, adopt=_adopt_client(res.user_pool)))
    if res.generate_secret:
        plan.changes.append(_store_client_secret(secret_name, label))


def _store_client_secret(secret_name: str, label: str) -> Change:
    value = Output(CLIENT_SECRET, "the client secret, known at apply time")
    return Change(
        "secretsmanager", "create_secret",
        {"Name": secret_name, "SecretString": value, "Description": f"Client secret of Cognito {label}, set by iamflow",
         "Tags": [{"Key": TAG_KEY, "Value": secret_name}]},
        f"store the client secret of {label} in Secrets Manager secret {secret_name}",
        sensitive=("SecretString",),
        # a run that failed after storing it left the secret: write the client's secret into it
        on_exists=Change("secretsmanager", "put_secret_value", {"SecretId": secret_name, "SecretString": value},
                         f"store the client secret of {label} in Secrets Manager secret {secret_name}",
                         sensitive=("SecretString",)),
    )
