"""Cognito user pools (with bootstrap admin users), app clients and groups.

Finding a pool: pool names are not unique in AWS, so a pool is this playbook's when its name
matches *and* its ``iamflow:id`` tag is ``<playbook>/<pool>``. Two such pools are an error (no
write, a message naming both ids); a same-named pool without the tag is an error too ("exists but
is not managed by iamflow"): iamflow never adopts a pool silently. Tag it by hand to adopt it.

Full configs: ``UpdateUserPool`` and ``UpdateUserPoolClient`` replace the whole configuration, and
what a call leaves out returns to its default (AWS documents it, moto does it). Every update sends
the current configuration as read, with the declared sections put over it.

MFA: the source of truth is ``GetUserPoolMfaConfig`` (sign-in follows it, in AWS and in moto),
and MFA is changed with ``SetUserPoolMfaConfig`` only. ``CreateUserPool`` leaves MFA out (AWS
refuses ``ON`` at creation without an SMS setup); ``UpdateUserPool`` repeats the effective value
so that it cannot reset MFA. moto 5.2.5 does not sync the two APIs: its ``DescribeUserPool`` may
lag behind, which is why iamflow never reads MFA from it.

Immutable settings (schema attributes, username attributes, an app client's secret) cannot be
changed in place: the plan says "replacement required" and is blocked, unless the resource says
``allow_replace: true`` — then it deletes and creates (turning deletion protection off first,
shown as its own step). ``state: absent`` on a pool with deletion protection is blocked unless the
pool also says ``force: true``; a protected pool is never deleted silently.

Secrets: an admin user's temporary password is generated at apply time (never in a plan), stored
in Secrets Manager first (``iamflow/cognito/<pool>/<user>``) and only then used to create the
user; an app client's generated secret goes to ``iamflow/cognito/<pool>/clients/<client>``. Both
values live in memory during apply only, are registered with the masking helpers below, and are
redacted from error messages; plans, diffs and summaries name where a secret is, never what it is.
Re-runs never reset a password: an existing user is left alone.
"""

from __future__ import annotations

import logging
import secrets
import string
import sys
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from iamflow.aws.errors import error_code
from iamflow.errors import ApplyError, PermanentAwsError
from iamflow.resources._common import desired_tags
from iamflow.resources.base import Change, Plan, PlanEnv, ResourceHandler
from iamflow.resources.execute import execute_change
from iamflow.spec.kinds_cognito import (
    pool_owner,
    pool_tag_value,
    secret_name_for_admin,
    secret_name_for_client,
)

if TYPE_CHECKING:
    from iamflow.aws.clients import AwsClients
    from iamflow.spec.kinds_cognito import CognitoAppClient, CognitoGroup, CognitoUserPool, TokenValidity
    from iamflow.spec.models import ResourceBase

TAG_KEY = "iamflow:id"
_PAGE = 60  # the largest page ListUserPools / ListUserPoolClients accept
_POOL_KINDS = ("cognito_user_pool",)
# what the update calls accept besides what the playbook declares; kept from the current config
_LEGACY_POOL_KEYS = ("SmsVerificationMessage", "EmailVerificationMessage", "EmailVerificationSubject")
_TOKEN_DEFAULT_UNITS = {"AccessToken": "hours", "IdToken": "hours", "RefreshToken": "days"}
_UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}
# symbols Cognito accepts that need no escaping in JSON or a repr, so redaction finds them verbatim
_SYMBOLS = "!#%*+-=?@^_~"


class PoolLookupError(PermanentAwsError):
    """The pool a resource names cannot be told apart (two tagged pools) or is not iamflow's."""


# --- secrets: generated at apply time, masked before anything could log them -------------------


class _Redactor(logging.Filter):
    """Replace registered secret values in log records of the loggers that print request bodies."""

    def __init__(self) -> None:
        super().__init__()
        self._values: set[str] = set()
        self._lock = threading.Lock()

    def add(self, value: str) -> None:
        with self._lock:
            self._values.add(value)

    def redact(self, text: str) -> str:
        with self._lock:
            values = sorted(self._values, key=len, reverse=True)
        for value in values:
            text = text.replace(value, "<redacted>")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self._values:
            message = record.getMessage()
            cleaned = self.redact(message)
            if cleaned != message:
                record.msg, record.args = cleaned, None
        return True


_REDACTOR = _Redactor()
# botocore logs request params and response bodies at DEBUG on these loggers
_BODY_LOGGERS = ("botocore.endpoint", "botocore.parsers", "botocore.hooks", "botocore.auth", "botocore.httpsession")
for _name in _BODY_LOGGERS:
    logging.getLogger(_name).addFilter(_REDACTOR)


def protect_secret(value: str) -> None:
    """Register a secret value with every masker: Airflow's task-log masker and botocore's loggers."""
    _REDACTOR.add(value)
    try:  # the project's marker-based guard withholds whole request/response records as well
        from iamflow.secrets.hygiene import guard_botocore_logs

        guard_botocore_logs()
    except ImportError:  # pragma: no cover
        pass
    if "airflow.sdk" in sys.modules:  # inside a task: Airflow's masker redacts task logs and XCom
        try:
            from airflow.sdk.log import mask_secret

            mask_secret(value)
        except Exception:  # pragma: no cover - the masker is best effort on top of our own
            pass


def generate_password(minimum_length: int) -> str:
    """A password meeting any Cognito policy of ``minimum_length``: every character class, CSPRNG."""
    length = max(minimum_length, 20)
    classes = (string.ascii_uppercase, string.ascii_lowercase, string.digits, _SYMBOLS)
    alphabet = "".join(classes)
    chars = [secrets.choice(c) for c in classes]
    chars += [secrets.choice(alphabet) for _ in range(length - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    value = "".join(chars)
    protect_secret(value)
    return value


# --- deferred values: known only while applying -------------------------------------------------


@dataclass(frozen=True)
class Deferred:
    """A parameter value known only at apply time (a new pool's id, a generated password)."""

    key: str  # "pool_id", "client_secret", "password:<username>", or a key nothing provides
    label: str  # what a plan shows instead of the value
    missing: str = ""  # the error when nothing provides the value at apply time
    min_length: int = 0  # for generated passwords: the pool's minimum length

    def __repr__(self) -> str:
        return f"<{self.label}>"


@dataclass
class Step(Change):
    """A change whose response feeds later steps, or that falls back when its target already exists."""

    save: str | None = None  # remember this part of the response under this key
    save_path: tuple[str, ...] = ()
    save_secret: bool = False  # the saved value is a secret: mask it
    on_exists: str | None = None  # operation to call instead when the call fails with ResourceExistsException
    on_exists_params: dict[str, Any] | None = None


def _resolve(value: Any, values: dict[str, Any]) -> Any:
    if isinstance(value, Deferred):
        if value.key not in values:
            if value.key.startswith("password:"):
                values[value.key] = generate_password(value.min_length)
            else:
                raise ApplyError(value.missing or f"{value.label} is not known")
        return values[value.key]
    if isinstance(value, dict):
        return {k: _resolve(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, values) for v in value]
    return value


def apply_steps(clients: AwsClients, plan: Plan) -> None:
    """Execute a plan whose changes may use deferred values; secrets stay in this call's memory."""
    if plan.blocked:
        raise ApplyError(f"Refusing to apply {plan.resource}: {plan.blocked}")
    values: dict[str, Any] = {}
    for change in plan.changes:
        resolved = Change(change.service, change.operation, _resolve(change.params, values), change.summary,
                          change.sensitive)
        try:
            response = execute_change(clients, resolved)
        except ApplyError as exc:
            fallback = getattr(change, "on_exists", None)
            if not fallback or error_code(exc.__cause__) != "ResourceExistsException":  # type: ignore[arg-type]
                raise
            params = _resolve(change.on_exists_params or {}, values)  # type: ignore[attr-defined]
            response = execute_change(clients, Change(change.service, fallback, params, change.summary,
                                                      change.sensitive))
        if isinstance(change, Step) and change.save:
            got: Any = response
            for part in change.save_path:
                got = (got or {}).get(part)
            if got is not None:
                if change.save_secret:
                    protect_secret(str(got))
                values[change.save] = got
        del response


# --- finding things ------------------------------------------------------------------------------


def _not_found(client: Any, operation: str, **params: Any) -> dict[str, Any] | None:
    """Call a Cognito/Secrets Manager read; "not found" is an answer (None)."""
    try:
        return getattr(client, operation)(**params)
    except client.exceptions.ResourceNotFoundException:
        return None
    except Exception as exc:
        if error_code(exc) in ("UserNotFoundException", "ResourceNotFoundException"):
            return None
        raise


def find_pool(idp: Any, playbook: str, pool: str, *, strict: bool = True) -> dict[str, Any] | None:
    """The ``DescribeUserPool`` result of this playbook's pool ``pool``, or None.

    Lists every pool (pages of 60), describes those with the name, and keeps the one whose
    ``iamflow:id`` tag is ``<playbook>/<pool>``. With ``strict``, an untagged pool of that name
    is an error rather than "not there": creating a second one would make the name ambiguous.
    """
    ids: list[str] = []
    params: dict[str, Any] = {"MaxResults": _PAGE}
    while True:
        page = idp.list_user_pools(**params)
        ids += [p["Id"] for p in page.get("UserPools", []) if p.get("Name") == pool]
        if not page.get("NextToken"):
            break
        params["NextToken"] = page["NextToken"]
    want = pool_tag_value(playbook, pool)
    mine: list[dict[str, Any]] = []
    untagged: list[str] = []
    for pool_id in ids:
        got = _not_found(idp, "describe_user_pool", UserPoolId=pool_id)
        if got is None:  # deleted between the list and the describe
            continue
        tag = (got["UserPool"].get("UserPoolTags") or {}).get(TAG_KEY)
        if tag == want:
            mine.append(got["UserPool"])
        elif tag is None:
            untagged.append(pool_id)
    if len(mine) > 1:
        found = ", ".join(sorted(p["Id"] for p in mine))
        raise PoolLookupError(
            f"user pool {pool!r}: {len(mine)} pools carry the tag {TAG_KEY}={want} ({found}); "
            "iamflow cannot tell which one is meant. Delete or re-tag all but one"
        )
    if mine:
        return mine[0]
    if untagged and strict:
        raise PoolLookupError(
            f"user pool {pool!r} exists ({', '.join(sorted(untagged))}) but is not managed by iamflow "
            f"(no {TAG_KEY} tag). To adopt it, tag it {TAG_KEY}={want}; otherwise rename one of them"
        )
    return None


def _pool_id_for(current: dict[str, Any] | None, pool: str) -> Any:
    if current and current.get("pool_id"):
        return current["pool_id"]
    return Deferred(
        f"missing-pool:{pool}",
        f"id of user pool {pool}, created by this run",
        missing=f"user pool {pool!r} was not found; converge the cognito_user_pool {pool!r} first",
    )


def _input_members(client: Any, operation: str) -> set[str]:
    return set(client.meta.service_model.operation_model(operation).input_shape.members)


# --- user pools ----------------------------------------------------------------------------------


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


class CognitoUserPoolHandler(ResourceHandler):
    """Converge a Cognito user pool and its bootstrap admin users."""

    kind: ClassVar[str] = "cognito_user_pool"
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

    def read(self, clients: AwsClients, resource: ResourceBase, env: PlanEnv) -> dict[str, Any] | None:
        """Find the pool (list + describe), then its MFA config and which declared admins exist."""
        res: CognitoUserPool = resource  # type: ignore[assignment]
        idp = clients.client("cognito-idp")
        raw = find_pool(idp, env.playbook.name, res.name, strict=res.state == "present")
        if raw is None:
            return None
        members = _input_members(idp, "UpdateUserPool")
        current: dict[str, Any] = {
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
            if _not_found(idp, "admin_get_user", UserPoolId=raw["Id"], Username=u.username) is not None
        ]
        return current

    def plan(self, resource: ResourceBase, current: dict[str, Any] | None, env: PlanEnv) -> Plan:
        """Plan create / update / replace / delete of the pool. Pure."""
        res: CognitoUserPool = resource  # type: ignore[assignment]
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
        if current is None:
            _plan_pool_create(plan, res, desired, label, existing_users=[])
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
            _plan_pool_create(plan, res, desired, label, existing_users=[])
            plan.after = {**before, **desired}
            return plan

        _plan_pool_update(plan, res, desired, current, before, label)
        _plan_admin_users(plan, res, current["pool_id"], current.get("users") or [], label)
        plan.after = {**before, **desired}
        return plan

    def apply(self, clients: AwsClients, plan: Plan) -> None:
        apply_steps(clients, plan)


def _plan_pool_update(plan: Plan, res: CognitoUserPool, desired: dict[str, Any], current: dict[str, Any],
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
                      existing_users: list[str]) -> None:
    params: dict[str, Any] = {"PoolName": res.name, **_pool_config_params(desired)}
    if "username_attributes" in desired:
        params["UsernameAttributes"] = desired["username_attributes"]
    if res.attributes is not None:
        params["Schema"] = [_schema_param(a) for a in res.attributes]
    plan.changes.append(Step("cognito-idp", "create_user_pool", params, f"create {label}",
                             save="pool_id", save_path=("UserPool", "Id")))
    pool_id = Deferred("pool_id", f"id of the new {label}")
    if res.mfa is not None and res.mfa != "OFF":
        plan.changes.append(Change(
            "cognito-idp", "set_user_pool_mfa_config",
            {"UserPoolId": pool_id, "MfaConfiguration": res.mfa,
             "SoftwareTokenMfaConfiguration": {"Enabled": res.software_token}},
            f"set MFA {res.mfa} (TOTP) on {label}",
        ))
    _plan_admin_users(plan, res, pool_id, existing_users, label)


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


def _plan_pool_delete(plan: Plan, res: CognitoUserPool, current: dict[str, Any], label: str, *,
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
        password = Deferred(f"password:{user.username}", "generated at apply time", min_length=min_length)
        plan.changes.append(Step(
            "secretsmanager", "create_secret",
            {"Name": secret_name, "SecretString": password,
             "Description": f"Temporary password of Cognito admin user {user.username} ({label}), set by iamflow",
             "Tags": [{"Key": TAG_KEY, "Value": f"{plan.resource}/{user.username}"}]},
            f"store a generated temporary password for admin user {user.username} in Secrets Manager "
            f"secret {secret_name}",
            sensitive=("SecretString",),
            on_exists="put_secret_value",
            on_exists_params={"SecretId": secret_name, "SecretString": password},
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
        ))


# --- app clients ---------------------------------------------------------------------------------


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


class CognitoAppClientHandler(ResourceHandler):
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

    def read(self, clients: AwsClients, resource: ResourceBase, env: PlanEnv) -> dict[str, Any] | None:
        """Find the pool, then the client by name; the client secret is dropped as soon as it is read."""
        res: CognitoAppClient = resource  # type: ignore[assignment]
        idp = clients.client("cognito-idp")
        pool = find_pool(idp, env.playbook.name, res.user_pool)
        if pool is None:
            return {"pool_id": None, "client": None}
        ids: list[str] = []
        params: dict[str, Any] = {"UserPoolId": pool["Id"], "MaxResults": _PAGE}
        while True:
            page = idp.list_user_pool_clients(**params)
            ids += [c["ClientId"] for c in page.get("UserPoolClients", []) if c.get("ClientName") == res.name]
            if not page.get("NextToken"):
                break
            params["NextToken"] = page["NextToken"]
        if len(ids) > 1:
            raise PoolLookupError(f"user pool {res.user_pool!r} has {len(ids)} app clients named {res.name!r} "
                                  f"({', '.join(sorted(ids))}); delete all but one")
        current: dict[str, Any] = {"pool_id": pool["Id"], "client": None}
        if not ids:
            return current
        got = _not_found(idp, "describe_user_pool_client", UserPoolId=pool["Id"], ClientId=ids[0])
        if got is None:
            return current
        raw = dict(got["UserPoolClient"])
        raw["_has_secret"] = bool(raw.pop("ClientSecret", None))  # never kept, never shown
        current["client"] = raw
        if raw["_has_secret"] and res.generate_secret and res.state == "present":
            sm = clients.client("secretsmanager")
            stored = _not_found(sm, "describe_secret", SecretId=secret_name_for_client(res.user_pool, res.name))
            current["secret_stored"] = stored is not None
        members = _input_members(idp, "UpdateUserPoolClient")
        current["update_base"] = {k: v for k, v in raw.items() if k in members and v is not None}
        return current

    def plan(self, resource: ResourceBase, current: dict[str, Any] | None, env: PlanEnv) -> Plan:
        """Plan create / update / replace / delete of the client. Pure."""
        res: CognitoAppClient = resource  # type: ignore[assignment]
        current = current or {"pool_id": None, "client": None}
        raw = current.get("client")
        before = _client_view(raw, current.get("secret_stored")) if raw else None
        plan = Plan(resource=res.key, before=before)
        label = f"app client {res.name} of user pool {res.user_pool}"
        pool_id = _pool_id_for(current, res.user_pool)
        secret_name = secret_name_for_client(res.user_pool, res.name)
        if res.state == "absent":
            if raw is not None:
                plan.changes.append(_delete_client(pool_id, raw["ClientId"], label))
                if raw["_has_secret"]:
                    plan.notes.append(f"the client secret in Secrets Manager ({secret_name}) is kept")
            return plan
        desired = _desired_client(res)
        plan.after = {**(before or {}), **desired}
        if raw is None:
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
            plan.changes.append(Step("cognito-idp", "describe_user_pool_client",
                                     {"UserPoolId": pool_id, "ClientId": raw["ClientId"]},
                                     f"read the client secret of {label} (kept in memory only)",
                                     save="client_secret", save_path=("UserPoolClient", "ClientSecret"),
                                     save_secret=True))
            plan.changes.append(_store_client_secret(secret_name, label))
        return plan

    def apply(self, clients: AwsClients, plan: Plan) -> None:
        apply_steps(clients, plan)


def _client_differs(key: str, want: Any, have: Any) -> bool:
    if key.endswith("_token_validity"):
        return _seconds(want) != _seconds(have)
    return want != have


def _delete_client(pool_id: Any, client_id: str, label: str) -> Change:
    return Change("cognito-idp", "delete_user_pool_client", {"UserPoolId": pool_id, "ClientId": client_id},
                  f"delete {label} ({client_id})")


def _plan_client_create(plan: Plan, res: CognitoAppClient, pool_id: Any, label: str, secret_name: str) -> None:
    params = {"UserPoolId": pool_id, "ClientName": res.name, "GenerateSecret": res.generate_secret,
              **_client_params(res)}
    plan.changes.append(Step("cognito-idp", "create_user_pool_client", params,
                             f"create {label}" + (" with a generated secret" if res.generate_secret else ""),
                             save="client_secret" if res.generate_secret else None,
                             save_path=("UserPoolClient", "ClientSecret"), save_secret=True))
    if res.generate_secret:
        plan.changes.append(_store_client_secret(secret_name, label))


def _store_client_secret(secret_name: str, label: str) -> Step:
    value = Deferred("client_secret", "the client secret, known at apply time")
    return Step(
        "secretsmanager", "create_secret",
        {"Name": secret_name, "SecretString": value, "Description": f"Client secret of Cognito {label}, set by iamflow",
         "Tags": [{"Key": TAG_KEY, "Value": secret_name}]},
        f"store the client secret of {label} in Secrets Manager secret {secret_name}",
        sensitive=("SecretString",),
        on_exists="put_secret_value",
        on_exists_params={"SecretId": secret_name, "SecretString": value},
    )


# --- groups --------------------------------------------------------------------------------------


def _group_members(res: CognitoGroup, env: PlanEnv) -> list[str] | None:
    """Admin users of the group's pool (in the playbook) that list this group; None when none do."""
    pool = env.playbook.find(res.user_pool, _POOL_KINDS)
    users = [u.username for u in getattr(pool, "admin_users", None) or [] if res.name in u.groups]
    return users or None


class CognitoGroupHandler(ResourceHandler):
    """Converge a group of a user pool (description, precedence, IAM role) and its admin members."""

    kind: ClassVar[str] = "cognito_group"
    read_actions: ClassVar[tuple[str, ...]] = (
        "cognito-idp:ListUserPools",
        "cognito-idp:DescribeUserPool",
        "cognito-idp:GetGroup",
        "cognito-idp:ListUsersInGroup",
    )
    write_actions: ClassVar[tuple[str, ...]] = (
        "cognito-idp:CreateGroup",
        "cognito-idp:UpdateGroup",
        "cognito-idp:DeleteGroup",
        "cognito-idp:AdminAddUserToGroup",
        "iam:PassRole",
    )

    def read(self, clients: AwsClients, resource: ResourceBase, env: PlanEnv) -> dict[str, Any] | None:
        res: CognitoGroup = resource  # type: ignore[assignment]
        idp = clients.client("cognito-idp")
        pool = find_pool(idp, *pool_owner(env.playbook.name, res.user_pool))
        if pool is None:
            return {"pool_id": None, "group": None}
        got = _not_found(idp, "get_group", GroupName=res.name, UserPoolId=pool["Id"])
        current: dict[str, Any] = {"pool_id": pool["Id"], "group": got["Group"] if got else None}
        if got and res.state == "present" and _group_members(res, env):
            members: list[str] = []
            params: dict[str, Any] = {"UserPoolId": pool["Id"], "GroupName": res.name}
            while True:
                page = idp.list_users_in_group(**params)
                members += [u["Username"] for u in page.get("Users", [])]
                if not page.get("NextToken"):
                    break
                params["NextToken"] = page["NextToken"]
            current["members"] = members
        return current

    def plan(self, resource: ResourceBase, current: dict[str, Any] | None, env: PlanEnv) -> Plan:
        res: CognitoGroup = resource  # type: ignore[assignment]
        current = current or {"pool_id": None, "group": None}
        group = current.get("group")
        label = f"group {res.name} of user pool {res.user_pool}"
        pool_id = _pool_id_for(current, res.user_pool)
        before = None
        if group is not None:
            before = {"description": group.get("Description"), "precedence": group.get("Precedence"),
                      "role": group.get("RoleArn")}
            if "members" in current:
                before["members"] = sorted(current["members"])
        plan = Plan(resource=res.key, before=before)
        if res.state == "absent":
            if group is not None:
                plan.changes.append(Change("cognito-idp", "delete_group",
                                           {"GroupName": res.name, "UserPoolId": pool_id}, f"delete {label}"))
            return plan
        desired: dict[str, Any] = {}
        if res.is_managed("description"):
            desired["description"] = res.description
        if res.is_managed("precedence"):
            desired["precedence"] = res.precedence
        if res.is_managed("role"):
            desired["role"] = env.ref_arn(res.role, ("iam_role",)) if res.role else None
        wanted_members = _group_members(res, env)
        after = {**(before or {"description": None, "precedence": None, "role": None}), **desired}
        if group is None:
            params: dict[str, Any] = {"GroupName": res.name, "UserPoolId": pool_id}
            for key, api in (("description", "Description"), ("precedence", "Precedence"), ("role", "RoleArn")):
                if desired.get(key) is not None:
                    params[api] = desired[key]
            plan.changes.append(Change("cognito-idp", "create_group", params, f"create {label}"))
            have_members: list[str] = []
        else:
            differs = [k for k in desired if desired[k] != before.get(k)]  # type: ignore[union-attr]
            if "role" in differs and desired["role"] is None:
                plan.notes.append(f"{label}: Cognito cannot remove a group's role by update; left as is")
                differs.remove("role")
                after["role"] = before["role"]  # type: ignore[index]
            if differs:
                params = {"GroupName": res.name, "UserPoolId": pool_id}
                for key, api in (("description", "Description"), ("precedence", "Precedence"), ("role", "RoleArn")):
                    if after.get(key) is not None:
                        params[api] = after[key]
                plan.changes.append(Change("cognito-idp", "update_group", params,
                                           f"update {', '.join(differs)} of {label}"))
            have_members = current.get("members") or []
        if wanted_members:
            for username in wanted_members:
                if username not in have_members:
                    plan.changes.append(Change(
                        "cognito-idp", "admin_add_user_to_group",
                        {"UserPoolId": pool_id, "Username": username, "GroupName": res.name},
                        f"add admin user {username} to {label}"))
            after["members"] = sorted({*have_members, *wanted_members})
        plan.after = after
        return plan

    def apply(self, clients: AwsClients, plan: Plan) -> None:
        apply_steps(clients, plan)


HANDLERS: tuple[ResourceHandler, ...] = (CognitoUserPoolHandler(), CognitoAppClientHandler(), CognitoGroupHandler())
