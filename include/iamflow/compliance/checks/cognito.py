"""Cognito user pools (MFA, password policy, sign-up, threat protection, deletion protection) and their app clients.

MFA is judged from ``GetUserPoolMfaConfig``, the setting sign-in follows (the converge engine
reads it too); ``DescribeUserPool``'s ``MfaConfiguration`` can lag behind a
``SetUserPoolMfaConfig`` and is not used. A pool whose MFA config could not be read is an ERROR
of the MFA check only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from iamflow.compliance.config import ComplianceConfig
from iamflow.compliance.findings import Result, errored, failed, passed
from iamflow.compliance.registry import ResourceScope, check
from iamflow.compliance.snapshot import MFA_SMS, USER_POOLS, Snapshot, UserPool, UserPoolClient

_POOL: ResourceScope = {"needs": (USER_POOLS,), "service": "cognito-idp", "resource_type": "AwsCognitoUserPool"}
_CLIENT: ResourceScope = {"needs": (USER_POOLS,), "service": "cognito-idp", "resource_type": "AwsCognitoUserPoolClient"}
_PASSWORD_FIX = "Update the pool's password policy (UpdateUserPool Policies.PasswordPolicy) so that "


def _pools(snapshot: Snapshot, *, clients: bool = False, mfa: bool = False) -> Iterator[UserPool]:
    assert snapshot.user_pools is not None
    yield from (p for p in snapshot.user_pools if not _pool_problem(p, clients=clients, mfa=mfa))


def _pool_problem(pool: UserPool, *, clients: bool, mfa: bool = False) -> str | None:
    keys = ["DescribeUserPool"]
    if clients:
        keys += ["ListUserPoolClients", "DescribeUserPoolClient"]
    if mfa:
        keys.append("GetUserPoolMfaConfig")
    problems = [f"{k}: {pool.errors[k]}" for k in keys if k in pool.errors]
    return "; ".join(problems) or None


def _unreadable(snapshot: Snapshot, *, clients: bool = False, mfa: bool = False) -> Iterator[Result]:
    """ERROR results for pools (or their app clients, or their MFA config) that could not be read."""
    assert snapshot.user_pools is not None
    for pool in snapshot.user_pools:
        problem = _pool_problem(pool, clients=clients, mfa=mfa)
        if problem:
            yield errored(pool.arn, f"User pool {pool.name} could not be read: {problem}", **_fields(pool))


def _fields(pool: UserPool) -> dict[str, object]:
    return {"resource_id": pool.pool_id, "tags": pool.tags, "pool_name": pool.name}


# what a client check says of one app client: the text after "App client C of pool P" when it fails (None
# when it passes), the text when it passes, and the finding's extra fields
ClientVerdict = tuple[str | None, str, dict[str, object]]


def _each_client(snapshot: Snapshot, judge: Callable[[UserPoolClient], ClientVerdict]) -> Iterator[Result]:
    """The app-client checks' one loop: ERROR per unreadable pool, then a verdict per client of the others."""
    yield from _unreadable(snapshot, clients=True)
    for pool in _pools(snapshot, clients=True):
        for client in pool.clients:
            problem, good, extra = judge(client)
            fields = {"resource_id": client.client_id, "tags": pool.tags, "pool_id": pool.pool_id,
                      "client_name": client.name, **extra}
            subject = f"App client {client.name} of pool {pool.name}"
            if problem is None:
                yield passed(pool.arn, f"{subject}{good}.", **fields)
            else:
                yield failed(pool.arn, f"{subject}{problem}.", **fields)


@check(
    title="User pools require MFA, with TOTP",
    severity="high",
    description="GetUserPoolMfaConfig says MfaConfiguration ON (OPTIONAL lets users skip it) and SMS is not the "
    "only enabled factor: the guide prefers TOTP (an authenticator app) to SMS codes, which can be "
    "intercepted or redirected by a SIM swap.",
    remediation="Turn MFA ON with TOTP: SetUserPoolMfaConfig MfaConfiguration=ON, "
    "SoftwareTokenMfaConfiguration={Enabled: true}, after giving users a way to enrol.",
    **_POOL,
)
def cognito_user_pool_mfa_enabled(snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> Iterator[Result]:
    """FAIL per pool whose MFA is OFF or OPTIONAL, or ON with SMS as its only factor."""
    yield from _unreadable(snapshot, mfa=True)
    for pool in _pools(snapshot, mfa=True):
        fields = {**_fields(pool), "mfa_configuration": pool.mfa_configuration, "mfa_factors": list(pool.mfa_factors)}
        factors = ", ".join(pool.mfa_factors) or "no factor"
        if pool.mfa_configuration != "ON":
            yield failed(pool.arn, f"User pool {pool.name} has MFA {pool.mfa_configuration}; turn it ON with TOTP.",
                         **fields)
        elif pool.mfa_factors == (MFA_SMS,):
            yield failed(pool.arn, f"User pool {pool.name} requires MFA but SMS is its only factor; enable TOTP "
                         "(SoftwareTokenMfaConfiguration), which the guide prefers to SMS.", **fields)
        elif not pool.mfa_factors:
            yield failed(pool.arn, f"User pool {pool.name} has MFA ON but no factor enabled; enable TOTP.", **fields)
        else:
            yield passed(pool.arn, f"User pool {pool.name} requires MFA ({factors}).", **fields)


@check(
    title="User pool passwords have at least 14 characters",
    severity="medium",
    description="PasswordPolicy.MinimumLength is at least thresholds.cognito_password_min_length (14).",
    remediation=_PASSWORD_FIX + "MinimumLength is 14 or more.",
    **_POOL,
)
def cognito_user_pool_password_policy_minimum_length_14(
    snapshot: Snapshot, config: ComplianceConfig, now: datetime
) -> Iterator[Result]:
    """FAIL per pool whose minimum length is below the threshold."""
    yield from _unreadable(snapshot)
    want = config.thresholds.cognito_password_min_length
    for pool in _pools(snapshot):
        length = int(pool.password_policy.get("MinimumLength", 8))
        verdict = passed if length >= want else failed
        yield verdict(pool.arn, f"User pool {pool.name} requires passwords of {length} characters (at least {want}).",
                      **_fields(pool))


def _requires(snapshot: Snapshot, key: str, what: str) -> Iterator[Result]:
    for pool in _pools(snapshot):
        if pool.password_policy.get(key):
            yield passed(pool.arn, f"User pool {pool.name} requires {what} in passwords.", **_fields(pool))
        else:
            yield failed(pool.arn, f"User pool {pool.name} does not require {what} in passwords.", **_fields(pool))


@check(
    title="User pool passwords need an uppercase letter",
    severity="medium",
    description="PasswordPolicy.RequireUppercase is true.",
    remediation=_PASSWORD_FIX + "RequireUppercase is true.",
    **_POOL,
)
def cognito_user_pool_password_policy_uppercase(snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> Iterator[Result]:
    """FAIL per pool not requiring uppercase."""
    yield from _unreadable(snapshot)
    yield from _requires(snapshot, "RequireUppercase", "an uppercase letter")


@check(
    title="User pool passwords need a lowercase letter",
    severity="medium",
    description="PasswordPolicy.RequireLowercase is true.",
    remediation=_PASSWORD_FIX + "RequireLowercase is true.",
    **_POOL,
)
def cognito_user_pool_password_policy_lowercase(snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> Iterator[Result]:
    """FAIL per pool not requiring lowercase."""
    yield from _unreadable(snapshot)
    yield from _requires(snapshot, "RequireLowercase", "a lowercase letter")


@check(
    title="User pool passwords need a number",
    severity="medium",
    description="PasswordPolicy.RequireNumbers is true.",
    remediation=_PASSWORD_FIX + "RequireNumbers is true.",
    **_POOL,
)
def cognito_user_pool_password_policy_number(snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> Iterator[Result]:
    """FAIL per pool not requiring digits."""
    yield from _unreadable(snapshot)
    yield from _requires(snapshot, "RequireNumbers", "a number")


@check(
    title="User pool passwords need a symbol",
    severity="medium",
    description="PasswordPolicy.RequireSymbols is true.",
    remediation=_PASSWORD_FIX + "RequireSymbols is true.",
    **_POOL,
)
def cognito_user_pool_password_policy_symbol(snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> Iterator[Result]:
    """FAIL per pool not requiring symbols."""
    yield from _unreadable(snapshot)
    yield from _requires(snapshot, "RequireSymbols", "a symbol")


@check(
    title="Temporary passwords expire within 7 days",
    severity="medium",
    description="PasswordPolicy.TemporaryPasswordValidityDays is at most "
    "thresholds.cognito_temporary_password_max_days (7).",
    remediation=_PASSWORD_FIX + "TemporaryPasswordValidityDays is 7 or less.",
    **_POOL,
)
def cognito_user_pool_temporary_password_expiration(
    snapshot: Snapshot, config: ComplianceConfig, now: datetime
) -> Iterator[Result]:
    """FAIL per pool whose temporary passwords live too long."""
    yield from _unreadable(snapshot)
    limit = config.thresholds.cognito_temporary_password_max_days
    for pool in _pools(snapshot):
        days = int(pool.password_policy.get("TemporaryPasswordValidityDays", 7))
        verdict = passed if days <= limit else failed
        yield verdict(pool.arn, f"User pool {pool.name}'s temporary passwords are valid for {days} days (at most {limit}).",
                      **_fields(pool))


@check(
    title="User pools have deletion protection",
    severity="medium",
    description="DeletionProtection is ACTIVE.",
    remediation="Set DeletionProtection to ACTIVE (UpdateUserPool).",
    **_POOL,
)
def cognito_user_pool_deletion_protection_enabled(
    snapshot: Snapshot, config: ComplianceConfig, now: datetime
) -> Iterator[Result]:
    """FAIL per pool without deletion protection."""
    yield from _unreadable(snapshot)
    for pool in _pools(snapshot):
        verdict = passed if pool.deletion_protection == "ACTIVE" else failed
        yield verdict(pool.arn, f"User pool {pool.name} has deletion protection {pool.deletion_protection}.",
                      **_fields(pool))


def _duration(seconds: int) -> str:
    if seconds % 86400 == 0:
        return f"{seconds // 86400} day(s)"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} hour(s)"
    return f"{seconds // 60} minute(s)"


@check(
    title="App client token lifetimes are within the maxima",
    severity="medium",
    description="Each app client's access and ID token validity is at most thresholds.cognito_access_token_max_minutes "
    "/ cognito_id_token_max_minutes (60), and its refresh token validity at most "
    "thresholds.cognito_refresh_token_max_days (30).",
    remediation="Lower the client's AccessTokenValidity / IdTokenValidity / RefreshTokenValidity "
    "(UpdateUserPoolClient, with TokenValidityUnits).",
    **_CLIENT,
)
def cognito_user_pool_client_token_validity(snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> Iterator[Result]:
    """FAIL per client with a token lifetime above its maximum."""
    t = config.thresholds
    limits = {
        "access token": (t.cognito_access_token_max_minutes * 60, "access_token_seconds"),
        "ID token": (t.cognito_id_token_max_minutes * 60, "id_token_seconds"),
        "refresh token": (t.cognito_refresh_token_max_days * 86400, "refresh_token_seconds"),
    }

    def judge(client: UserPoolClient) -> ClientVerdict:
        values: dict[str, object] = {attr: getattr(client, attr) for _limit, attr in limits.values()}
        over = [f"{label} {_duration(getattr(client, attr))} (max {_duration(limit)})"
                for label, (limit, attr) in limits.items() if getattr(client, attr) > limit]
        return (f": {'; '.join(over)}" if over else None), " has token lifetimes within the maxima", values

    yield from _each_client(snapshot, judge)


@check(
    title="App clients do not allow plain username/password auth",
    severity="medium",
    description="No app client enables ALLOW_USER_PASSWORD_AUTH (or the legacy USER_PASSWORD_AUTH), which sends "
    "the password itself to Cognito instead of using SRP.",
    remediation="Remove ALLOW_USER_PASSWORD_AUTH from the client's ExplicitAuthFlows and use ALLOW_USER_SRP_AUTH.",
    **_CLIENT,
)
def cognito_user_pool_client_user_password_auth_disabled(
    snapshot: Snapshot, config: ComplianceConfig, now: datetime
) -> Iterator[Result]:
    """FAIL per client allowing USER_PASSWORD_AUTH."""

    def judge(client: UserPoolClient) -> ClientVerdict:
        flows = sorted(f for f in client.explicit_auth_flows if f in ("ALLOW_USER_PASSWORD_AUTH", "USER_PASSWORD_AUTH"))
        return ((f" allows {', '.join(flows)}" if flows else None), " does not allow password auth",
                {"explicit_auth_flows": list(client.explicit_auth_flows)})

    yield from _each_client(snapshot, judge)


@check(
    title="User pools do not allow self-registration",
    severity="medium",
    description="AdminCreateUserConfig.AllowAdminCreateUserOnly is true, so only administrators create users "
    "(false, AWS's default, lets anyone who knows an app client id call SignUp and obtain tokens).",
    remediation="Set AdminCreateUserConfig.AllowAdminCreateUserOnly to true (UpdateUserPool), or, if sign-up is "
    "intended, make sure a signed-up user gets no privilege (identity pool roles, groups) until vetted.",
    **_POOL,
)
def cognito_user_pool_self_registration_disabled(
    snapshot: Snapshot, config: ComplianceConfig, now: datetime
) -> Iterator[Result]:
    """FAIL per pool that lets users sign themselves up."""
    yield from _unreadable(snapshot)
    for pool in _pools(snapshot):
        if pool.admin_create_user_only:
            yield passed(pool.arn, f"User pool {pool.name} lets only administrators create users.", **_fields(pool))
        else:
            yield failed(pool.arn, f"User pool {pool.name} allows self-registration (AllowAdminCreateUserOnly is "
                         "false).", **_fields(pool))


@check(
    title="User pools enforce threat protection (advanced security)",
    severity="medium",
    fsbp=("Cognito.1",),
    description="UserPoolAddOns.AdvancedSecurityMode is ENFORCED: compromised-credential and adaptive "
    "authentication responses are applied. AUDIT only logs risks, and OFF (or no add-on) does nothing.",
    remediation="Set UserPoolAddOns.AdvancedSecurityMode to ENFORCED (UpdateUserPool; requires the Plus feature "
    "plan), after reviewing the risks AUDIT mode reported.",
    **_POOL,
)
def cognito_user_pool_advanced_security_enabled(
    snapshot: Snapshot, config: ComplianceConfig, now: datetime
) -> Iterator[Result]:
    """FAIL per pool whose advanced security is OFF or AUDIT."""
    yield from _unreadable(snapshot)
    for pool in _pools(snapshot):
        mode = pool.advanced_security_mode
        if mode == "ENFORCED":
            yield passed(pool.arn, f"User pool {pool.name} enforces advanced security.", mode=mode, **_fields(pool))
        elif mode == "AUDIT":
            yield failed(pool.arn, f"User pool {pool.name} runs advanced security in AUDIT mode only (not enforced).",
                         mode=mode, **_fields(pool))
        else:
            yield failed(pool.arn, f"User pool {pool.name} has advanced security {mode}.", mode=mode, **_fields(pool))


@check(
    title="App clients do not reveal whether a user exists",
    severity="medium",
    description="Each app client's PreventUserExistenceErrors is ENABLED, so sign-in, confirmation and password "
    "recovery answer the same way for unknown users. LEGACY (also AWS's answer when the client never set it) "
    "returns UserNotFoundException, which lets anyone enumerate user names.",
    remediation="Set PreventUserExistenceErrors to ENABLED (UpdateUserPoolClient).",
    **_CLIENT,
)
def cognito_user_pool_client_prevent_user_existence_errors(
    snapshot: Snapshot, config: ComplianceConfig, now: datetime
) -> Iterator[Result]:
    """FAIL per client whose errors reveal user existence."""

    def judge(client: UserPoolClient) -> ClientVerdict:
        setting = client.prevent_user_existence_errors
        return ((None if setting == "ENABLED" else f" reveals whether a user exists (PreventUserExistenceErrors "
                 f"{setting})"), " does not reveal whether a user exists", {"prevent_user_existence_errors": setting})

    yield from _each_client(snapshot, judge)


@check(
    title="App clients allow refresh token revocation",
    severity="medium",
    description="Each app client has EnableTokenRevocation true, so RevokeToken and GlobalSignOut invalidate its "
    "refresh tokens. Clients created before AWS introduced the setting, which report no value, fail.",
    remediation="Set EnableTokenRevocation to true (UpdateUserPoolClient).",
    **_CLIENT,
)
def cognito_user_pool_client_token_revocation_enabled(
    snapshot: Snapshot, config: ComplianceConfig, now: datetime
) -> Iterator[Result]:
    """FAIL per client without token revocation."""

    def judge(client: UserPoolClient) -> ClientVerdict:
        return ((None if client.token_revocation else " has token revocation disabled"),
                " has token revocation enabled", {"token_revocation": client.token_revocation})

    yield from _each_client(snapshot, judge)
