"""Cognito user pools, with their bootstrap admin users.

``CreateUserPool`` is not idempotent (pool names are not unique, there is no client token): every
attempt makes a pool. It is sent once, botocore's retries off; when it fails ambiguously (a
timeout, a dropped connection, a 5xx: the pool may exist), the pool is looked up by its
``iamflow:id`` tag (:func:`~iamflow.resources.cognito._common.find_pool`) and adopted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, NotRequired, TypedDict

from iamflow.aws.errors import not_found
from iamflow.resources._common import desired_tags
from iamflow.resources.base import (
    Change,
    Generated,
    Grant,
    Output,
    Plan,
    PlanEnv,
    ResourceHandler,
    secret_arn_pattern,
    split_actions,
)
from iamflow.resources.cognito._common import TAG_KEY, find_pool, input_members, pool_arn
from iamflow.secrets.hygiene import generate_password
from iamflow.spec.kinds_cognito import CognitoUserPool, pool_tag_value
from iamflow.spec.names import USER_POOL_KIND, admin_secret_tag, secret_name_for_admin

if TYPE_CHECKING:
    from iamflow.aws.clients import AwsClients

# what the update calls accept besides what the playbook declares; kept from the current config
_LEGACY_POOL_KEYS = ("SmsVerificationMessage", "EmailVerificationMessage", "EmailVerificationSubject")
NEW_POOL_ID = "pool_id"


class PoolState(TypedDict):
    """A pool as read: its description, the update base, and (when present is declared) MFA and admins."""

    pool_id: str
    raw: dict[str, Any]
    update_base: dict[str, Any]
    mfa: NotRequired[dict[str, Any]]
    users: NotRequired[list[str]]


def _pool_view(raw: dict[str, Any], mfa: dict[str, Any] | None, declared_schema: list[str],
               users: list[str] | None) -> dict[str, Any]:
    """A pool in the playbook's shape (for comparison and diff); only declared schema attributes."""
    pp = (raw.get("Policies") or {}).get("PasswordPolicy") or {}
    email = raw.get("EmailConfiguration") or {}
    recovery = sorted((raw.get("AccountRecoverySetting") or {}).get("RecoveryMechanisms") or [],
                      key=lambda m: m.get("Priority", 0))
    schema: dict[str, Any] = {}
    by_name = {a["Name"]: a for a in raw.get("SchemaAttributes") or []}
    for name in declared_schema:
        attr = by_name.get(name) or by_name.get(f"custom:{name}")
        schema[name] = _schema_view(attr) if attr else None
    view: dict[str, Any] = {
        "password_policy": {
            "minimum_length": pp.get("MinimumLength", 8),
            "require_uppercase": bool(pp.get("RequireUppercase", False)),
            "require_lowercase": bool(pp.get("RequireLowercase", False)),
            "require_numbers": bool(pp.get("RequireNumbers", False)),
            "require_symbols": bool(pp.get("RequireSymbols", False)),
            "temporary_password_validity_days": pp.get("TemporaryPasswordValidityDays", 7),
        },
        "auto_verified_attributes": sorted(raw.get("AutoVerifiedAttributes") or []),
        "username_attributes": sorted(raw.get("UsernameAttributes") or []),
        "schema": schema,
        "attributes_require_verification_before_update": sorted(
            (raw.get("UserAttributeUpdateSettings") or {}).get("AttributesRequireVerificationBeforeUpdate") or []
        ),
        "deletion_protection": raw.get("DeletionProtection") == "ACTIVE",
        "email_sending_account": email.get("EmailSendingAccount", "COGNITO_DEFAULT"),
        "email_source_arn": email.get("SourceArn"),
        "account_recovery": [m["Name"] for m in recovery],
        "tags": dict(sorted((raw.get("UserPoolTags") or {}).items())),
    }
    if mfa is not None:
        view["mfa"] = mfa.get("MfaConfiguration") or "OFF"
        view["software_token"] = bool((mfa.get("SoftwareTokenMfaConfiguration") or {}).get("Enabled"))
    if users is not None:
        view["admin_users"] = sorted(users)
    return view


def _schema_view(attr: dict[str, Any]) -> dict[str, Any]:
    limits = attr.get("StringAttributeConstraints") or {}
    return {
        "type": attr.get("AttributeDataType", "String"),
        "required": bool(attr.get("Required", False)),
        "mutable": bool(attr.get("Mutable", True)),
        "min_length": int(limits["MinLength"]) if limits.get("MinLength") is not None else None,
        "max_length": int(limits["MaxLength"]) if limits.get("MaxLength") is not None else None,
    }


def _desired_pool(res: CognitoUserPool, env: PlanEnv, current_tags: dict[str, str] | None) -> dict[str, Any]:
    """The declared sections in the view's shape (only what the playbook manages)."""
    out: dict[str, Any] = {}
    if res.password_policy is not None:
        out["password_policy"] = res.password_policy.model_dump()
    for field in ("auto_verified_attributes", "username_attributes", "attributes_require_verification_before_update"):
        value = getattr(res, field)
        if value is not None:
            out[field] = sorted(value)
    if res.attributes is not None:
        out["schema"] = {a.name: {"type": a.type, "required": a.required, "mutable": a.mutable,
                                  "min_length": a.min_length, "max_length": a.max_length} for a in res.attributes}
    out["deletion_protection"] = res.deletion_protection
    if res.email_sending_account is not None:
        out["email_sending_account"] = res.email_sending_account
        out["email_source_arn"] = res.email_source_arn
    if res.account_recovery is not None:
        out["account_recovery"] = list(res.account_recovery)
    if res.mfa is not None:
        out["mfa"] = res.mfa
        out["software_token"] = res.software_token if res.mfa != "OFF" else None
    tags = desired_tags(env, res)
    marker = {TAG_KEY: pool_tag_value(env.playbook.name, res.name)}
    if tags is None:
        out["tags"] = dict(sorted({**(current_tags or {}), **marker}.items()))
    elif res.purge_tags:
        out["tags"] = dict(sorted({**tags, **marker}.items()))
    else:
        out["tags"] = dict(sorted({**(current_tags or {}), **tags, **marker}.items()))
    if res.admin_users is not None:
        out["admin_users"] = sorted(u.username for u in res.admin_users)
    return out


def _schema_differs(want: dict[str, Any] | None, have: dict[str, Any] | None) -> bool:
    if have is None or want is None:
        return want != have
    return any(want[k] != have[k] for k in ("type", "required", "mutable")) or any(
        want[k] is not None and want[k] != have[k] for k in ("min_length", "max_length")
    )


def _pool_config_params(desired: dict[str, Any]) -> dict[str, Any]:
    """API parameters for the declared mutable sections (shared by create and update)."""
    params: dict[str, Any] = {"DeletionProtection": "ACTIVE" if desired["deletion_protection"] else "INACTIVE",
                              "UserPoolTags": desired["tags"]}
    if "password_policy" in desired:
        pp = desired["password_policy"]
        params["Policies"] = {"PasswordPolicy": {
            "MinimumLength": pp["minimum_length"],
            "RequireUppercase": pp["require_uppercase"],
            "RequireLowercase": pp["require_lowercase"],
            "RequireNumbers": pp["require_numbers"],
            "RequireSymbols": pp["require_symbols"],
            "TemporaryPasswordValidityDays": pp["temporary_password_validity_days"],
        }}
    if "auto_verified_attributes" in desired:
        params["AutoVerifiedAttributes"] = desired["auto_verified_attributes"]
    if "attributes_require_verification_before_update" in desired:
        params["UserAttributeUpdateSettings"] = {
            "AttributesRequireVerificationBeforeUpdate": desired["attributes_require_verification_before_update"]
        }
    if "email_sending_account" in desired:
        email: dict[str, Any] = {"EmailSendingAccount": desired["email_sending_account"]}
        if desired.get("email_source_arn"):
            email["SourceArn"] = desired["email_source_arn"]
        params["EmailConfiguration"] = email
    if "account_recovery" in desired:
        params["AccountRecoverySetting"] = {"RecoveryMechanisms": [
            {"Name": name, "Priority": i + 1} for i, name in enumerate(desired["account_recovery"])
        ]}
    return params


class CognitoUserPoolHandler(ResourceHandler[CognitoUserPool, PoolState, None]):
    """Converge a Cognito user pool and its bootstrap admin users."""

    kind: ClassVar[str] = USER_POOL_KIND
    read_actions: ClassVar[tuple[str, ...]] = (
        "cognito-idp:ListUserPools",
        "cognito-idp:DescribeUserPool",
        "cognito-idp:GetUserPoolMfaConfig",
        "cognito-idp:AdminGetUser",
    )
    write_actions: ClassVar[tuple[str, ...]] = (
        "cognito-idp:CreateUserPool",
        "cognito-idp:UpdateUserPool",
        "cognito-idp:SetUserPoolMfaConfig",
        "cognito-idp:DeleteUserPool",
        "cognito-idp:AdminCreateUser",
        "secretsmanager:CreateSecret",
        "secretsmanager:PutSecretValue",
    )

    def read(self, clients: AwsClients, resource: CognitoUserPool, env: PlanEnv) -> PoolState | None:
        """Find the pool (list + describe), then its MFA config and which declared admins exist."""
        res = resource
        idp = clients.client("cognito-idp")
        raw = find_pool(idp, env.playbook.name, res.name, strict=res.state == "present")
        if raw is None:
            return None
        members = input_members(idp, "UpdateUserPool")
        current: PoolState = {
            "pool_id": raw["Id"],
            "raw": raw,
            "update_base": {k: v for k, v in raw.items()
                            if k in members and v is not None and k not in _LEGACY_POOL_KEYS},
        }
        if res.state == "absent":
            return current
        mfa = idp.get_user_pool_mfa_config(UserPoolId=raw["Id"])
        current["mfa"] = {k: mfa.get(k) for k in ("MfaConfiguration", "SoftwareTokenMfaConfiguration")}
        current["users"] = [
            u.username for u in res.admin_users or []
            if not_found(idp, "admin_get_user", UserPoolId=raw["Id"], Username=u.username) is not None
        ]
        return current

    def plan(self, resource: CognitoUserPool, current: PoolState | None, env: PlanEnv, facts: None = None) -> Plan:
        """Plan create / update / replace / delete of the pool. Pure."""
        res = resource
        schema_names = [a.name for a in res.attributes or []]
        before = None
        if current is not None:
            before = _pool_view(current["raw"], current.get("mfa"), schema_names, current.get("users"))
        plan = Plan(resource=res.key, before=before)
        label = f"user pool {res.name}"
        if res.state == "absent":
            if current is not None:
                _plan_pool_delete(plan, res, current, label)
                plan.after = None
            return plan
        desired = _desired_pool(res, env, before["tags"] if before else None)
        if current is None or before is None:
            _plan_pool_create(plan, res, desired, label, existing_users=[], playbook=env.playbook.name)
            plan.after = {**(before or {}), **desired}
            return plan

        immutable: list[str] = []
        for name, want in (desired.get("schema") or {}).items():
            have = before["schema"].get(name) if before else None
            for limit in ("min_length", "max_length"):  # an undeclared limit is not managed
                if want[limit] is None and have:
                    want[limit] = have[limit]
            if _schema_differs(want, have):
                immutable.append(f"schema attribute {name}: {have or 'absent'} -> {want}")
        if "username_attributes" in desired and desired["username_attributes"] != before["username_attributes"]:
            immutable.append(
                f"username_attributes: {before['username_attributes']} -> {desired['username_attributes']}")
        if immutable:
            plan.notes += [f"replacement required: {what}" for what in immutable]
            if not res.allow_replace:
                plan.blocked = (f"replacement required for {label} ({'; '.join(immutable)}); these settings are "
                                "fixed when a pool is created. Set allow_replace: true to delete the pool, with "
                                "all its users, and create it again")
                plan.after = before
                return plan
            plan.notes.append(f"allow_replace: pool {current['pool_id']} and every user in it are deleted, "
                              "then the pool is created again")
            _plan_pool_delete(plan, res, current, label, force=True)
            _plan_pool_create(plan, res, desired, label, existing_users=[], playbook=env.playbook.name)
            plan.after = {**before, **desired}
            return plan

        _plan_pool_update(plan, res, desired, current, before, label)
        _plan_admin_users(plan, res, current["pool_id"], current.get("users") or [], label)
        plan.after = {**before, **desired}
        return plan

    def arn(self, resource: CognitoUserPool, env: PlanEnv, current: PoolState | None) -> str:
        return pool_arn(env, current["pool_id"] if current else None)

    def grants(self, resource: CognitoUserPool, env: PlanEnv) -> list[Grant]:
        """Pool actions on ``userpool/*`` (ids are random); Secrets Manager on the admins' password secrets."""
        idp, other = split_actions(self.actions, "cognito-idp")
        out = cognito_grants(idp, env)
        secrets = tuple(secret_arn_pattern(env.ctx, secret_name_for_admin(resource.name, u.username))
                        for u in resource.admin_users or [])
        if secrets:
            out.append(Grant(other, secrets))
        return out


def cognito_grants(actions: tuple[str, ...], env: PlanEnv) -> list[Grant]:
    """Cognito actions on the account's pools; listing and creating pools have no resource."""
    unscoped = {"cognito-idp:CreateUserPool", "cognito-idp:ListUserPools"}
    return [
        Grant(tuple(a for a in actions if a in unscoped), ("*",)),
        Grant(tuple(a for a in actions if a not in unscoped),
              (f"arn:{env.ctx.partition}:cognito-idp:{env.ctx.region}:{env.ctx.account_id}:userpool/*",)),
    ]


def _plan_pool_update(plan: Plan, res: CognitoUserPool, desired: dict[str, Any], current: PoolState,
                      before: dict[str, Any], label: str) -> None:
    pool_id = current["pool_id"]
    effective_mfa = before.get("mfa", "OFF")
    if "mfa" in desired:
        want_totp = desired["software_token"]
        if desired["mfa"] != before["mfa"] or (want_totp is not None and want_totp != before["software_token"]):
            params: dict[str, Any] = {"UserPoolId": pool_id, "MfaConfiguration": desired["mfa"]}
            if desired["mfa"] != "OFF":
                params["SoftwareTokenMfaConfiguration"] = {"Enabled": bool(want_totp)}
            plan.changes.append(Change("cognito-idp", "set_user_pool_mfa_config", params,
                                       f"set MFA {desired['mfa']} (TOTP) on {label}"))
            effective_mfa = desired["mfa"]
    differs = [k for k in desired if k not in ("mfa", "software_token", "schema", "username_attributes",
                                               "admin_users") and desired[k] != before.get(k)]
    if differs:
        params = {**current["update_base"], **_pool_config_params(desired), "UserPoolId": pool_id,
                  "MfaConfiguration": effective_mfa}
        _drop_unused_account_validity(params)
        plan.changes.append(Change("cognito-idp", "update_user_pool", params,
                                   f"update {', '.join(k.replace('_', ' ') for k in differs)} of {label} "
                                   "(sending the full configuration)"))


def _drop_unused_account_validity(params: dict[str, Any]) -> None:
    # AWS refuses both the legacy UnusedAccountValidityDays and TemporaryPasswordValidityDays
    admin = params.get("AdminCreateUserConfig")
    has_temp = ((params.get("Policies") or {}).get("PasswordPolicy") or {}).get("TemporaryPasswordValidityDays")
    if admin and has_temp and "UnusedAccountValidityDays" in admin:
        params["AdminCreateUserConfig"] = {k: v for k, v in admin.items() if k != "UnusedAccountValidityDays"}


def _plan_pool_create(plan: Plan, res: CognitoUserPool, desired: dict[str, Any], label: str,
                      existing_users: list[str], playbook: str) -> None:
    params: dict[str, Any] = {"PoolName": res.name, **_pool_config_params(desired)}
    if "username_attributes" in desired:
        params["UsernameAttributes"] = desired["username_attributes"]
    if res.attributes is not None:
        params["Schema"] = [_schema_param(a) for a in res.attributes]
    plan.changes.append(Change("cognito-idp", "create_user_pool", params, f"create {label}",
                               publish={NEW_POOL_ID: ("UserPool", "Id")},
                               retry=False, adopt=_adopt_pool(playbook, res.name)))
    pool_id = Output(NEW_POOL_ID, f"id of the new {label}")
    if res.mfa is not None and res.mfa != "OFF":
        plan.changes.append(Change(
            "cognito-idp", "set_user_pool_mfa_config",
            {"UserPoolId": pool_id, "MfaConfiguration": res.mfa,
             "SoftwareTokenMfaConfiguration": {"Enabled": res.software_token}},
            f"set MFA {res.mfa} (TOTP) on {label}",
        ))
    _plan_admin_users(plan, res, pool_id, existing_users, label)


def _adopt_pool(playbook: str, pool: str) -> Any:
    def adopt(clients: AwsClients, params: dict[str, Any]) -> dict[str, Any] | None:
        # not strict: a same-named pool without the tag is someone else's, not the one just made
        found = find_pool(clients.client("cognito-idp"), playbook, pool, strict=False)
        return None if found is None else {"UserPool": found}

    return adopt


def _schema_param(attr: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"Name": attr.name, "AttributeDataType": attr.type, "Required": attr.required,
                           "Mutable": attr.mutable}
    if attr.min_length is not None or attr.max_length is not None:
        limits: dict[str, str] = {}
        if attr.min_length is not None:
            limits["MinLength"] = str(attr.min_length)
        if attr.max_length is not None:
            limits["MaxLength"] = str(attr.max_length)
        out["StringAttributeConstraints"] = limits
    return out


def _plan_pool_delete(plan: Plan, res: CognitoUserPool, current: PoolState, label: str, *,
                      force: bool = False) -> None:
    pool_id = current["pool_id"]
    raw = current["raw"]
    if raw.get("DeletionProtection") == "ACTIVE":
        if not (force or res.force):
            plan.blocked = (f"{label} ({pool_id}) has deletion protection on; iamflow deletes a protected pool "
                            "only when the playbook also says force: true")
            return
        params = dict(current["update_base"])
        mfa = (current.get("mfa") or {}).get("MfaConfiguration") or raw.get("MfaConfiguration") or "OFF"
        params.update({"UserPoolId": pool_id, "DeletionProtection": "INACTIVE", "MfaConfiguration": mfa})
        _drop_unused_account_validity(params)
        plan.changes.append(Change("cognito-idp", "update_user_pool", params,
                                   f"turn deletion protection off on {label} ({pool_id})"))
    plan.changes.append(Change("cognito-idp", "delete_user_pool", {"UserPoolId": pool_id},
                               f"delete {label} ({pool_id}) and every user in it"))
    if res.admin_users:
        plan.notes.append("the admin users' temporary-password secrets are kept in Secrets Manager: "
                          + ", ".join(secret_name_for_admin(res.name, u.username) for u in res.admin_users))


def _plan_admin_users(plan: Plan, res: CognitoUserPool, pool_id: Any, existing: list[str], label: str) -> None:
    """Create missing admin users: store a generated password first, then create the user with it."""
    min_length = res.password_policy.minimum_length if res.password_policy else 8
    for user in res.admin_users or []:
        if user.username in existing:
            continue
        secret_name = secret_name_for_admin(res.name, user.username)
        password = _password(user.username, min_length)
        plan.changes.append(Change(
            "secretsmanager", "create_secret",
            {"Name": secret_name, "SecretString": password,
             "Description": f"Temporary password of Cognito admin user {user.username} ({label}), set by iamflow",
             "Tags": [{"Key": TAG_KEY, "Value": admin_secret_tag(plan.resource, user.username)}]},
            f"store a generated temporary password for admin user {user.username} in Secrets Manager "
            f"secret {secret_name}",
            sensitive=("SecretString",),
            # a run that failed after storing the password left the secret: write the new one into it
            on_exists=Change("secretsmanager", "put_secret_value", {"SecretId": secret_name, "SecretString": password},
                             f"write a new generated temporary password to Secrets Manager secret {secret_name}",
                             sensitive=("SecretString",)),
        ))
        attributes = [{"Name": "email", "Value": user.email}, {"Name": "email_verified", "Value": "true"}]
        if user.name:
            attributes.append({"Name": "name", "Value": user.name})
        plan.changes.append(Change(
            "cognito-idp", "admin_create_user",
            {"UserPoolId": pool_id, "Username": user.username, "TemporaryPassword": password,
             "MessageAction": "SUPPRESS", "UserAttributes": attributes},
            f"create admin user {user.username} in {label}; the temporary password is in Secrets Manager "
            f"secret {secret_name}",
            sensitive=("TemporaryPassword",),
            adopt=_adopt_admin_user,
        ))


def _adopt_admin_user(clients: AwsClients, params: dict[str, Any]) -> dict[str, Any] | None:
    """A user is unique by name in its pool: a retried, lost create answers UsernameExists.

    The user is adopted only while it still waits for its first sign-in (``FORCE_CHANGE_PASSWORD``),
    the state the lost create left it in, with the temporary password this run just stored. Any other
    user of that name is someone's account: the error stands, and the next run reads it as present.
    """
    got = not_found(clients.client("cognito-idp"), "admin_get_user",
                    UserPoolId=params["UserPoolId"], Username=params["Username"])
    if got is None or got.get("UserStatus") != "FORCE_CHANGE_PASSWORD":
        return None
    return {"User": {"Username": got["Username"], "UserStatus": got["UserStatus"]}}


def _password(username: str, min_length: int) -> Generated:
    """A temporary password for ``username``, produced once at apply time and shared by two calls."""
    return Generated(f"password:{username}", lambda: generate_password(min_length), "generated at apply time")
