"""Cognito user pools, app clients and groups against in-process moto.

Create, drift and converge, idempotent re-runs with zero writes, check mode with zero writes,
absent, duplicate and unmanaged pools, immutable changes, and the secrets rule: a generated
temporary password or client secret never reaches a log, a plan, a diff, a summary or a result.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import boto3
import pytest

from iamflow.engine import format_result, run_playbook
from iamflow.errors import ApplyError
from iamflow.resources import handler_for
from iamflow.resources.base import PlanEnv
from iamflow.resources.cognito import PoolLookupError
from iamflow.spec.kinds_cognito import CognitoAppClient, CognitoGroup, CognitoUserPool
from iamflow.spec.models import IamRole, Playbook

PLAYBOOK = "t"
TAG = {"iamflow:id": f"{PLAYBOOK}/users"}
ADMIN_SECRET = "iamflow/cognito/users/alice"
CLIENT_SECRET = "iamflow/cognito/users/clients/backend"


def pool(**over: Any) -> CognitoUserPool:
    fields: dict[str, Any] = dict(
        kind="cognito_user_pool",
        name="users",
        password_policy={"minimum_length": 14, "temporary_password_validity_days": 3},
        mfa="ON",
        auto_verified_attributes=["email"],
        schema=[{"name": "email", "required": True, "mutable": False}, {"name": "name", "required": True}],
        attributes_require_verification_before_update=["email"],
        account_recovery=["verified_email"],
        tags={"app": "myapp"},
        admin_users=[{"username": "alice", "email": "alice@example.com", "name": "Alice", "groups": ["admins"]}],
    )
    fields.update(over)
    return CognitoUserPool(**fields)


def web(**over: Any) -> CognitoAppClient:
    fields: dict[str, Any] = dict(
        kind="cognito_app_client",
        name="web",
        user_pool="users",
        access_token_validity={"value": 60, "unit": "minutes"},
        id_token_validity={"value": 60, "unit": "minutes"},
        refresh_token_validity={"value": 30, "unit": "days"},
        explicit_auth_flows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )
    fields.update(over)
    return CognitoAppClient(**fields)


def backend() -> CognitoAppClient:
    return CognitoAppClient(kind="cognito_app_client", name="backend", user_pool="users", generate_secret=True,
                            explicit_auth_flows=["ALLOW_USER_SRP_AUTH"])


ROLE = IamRole(kind="iam_role", name="admins-role", trust_policy={"Statement": [{
    "Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"},
    "Action": "sts:AssumeRoleWithWebIdentity"}]})


def admins(**over: Any) -> CognitoGroup:
    return CognitoGroup(kind="cognito_group", name="admins", user_pool="users", description="administrators",
                        precedence=1, role="admins-role", **over)


def book(*resources: Any) -> Playbook:
    return Playbook(name=PLAYBOOK, resources=list(resources))


def full_book(**pool_over: Any) -> Playbook:
    return book(pool(**pool_over), web(), backend(), ROLE, admins())


@pytest.fixture
def idp(clients: Any) -> Any:
    """A plain client for drift by hand and checks; its calls stay out of ``call_log``."""
    return boto3.client("cognito-idp", region_name="us-east-1")


@pytest.fixture
def sm(clients: Any) -> Any:
    return boto3.client("secretsmanager", region_name="us-east-1")


def run(clients: Any, playbook: Playbook, **kw: Any) -> Any:
    result = run_playbook(clients, playbook, **kw)
    failed = [r for r in result.results if r.status == "failed"]
    assert not failed or kw.get("expect_failure"), [r.error for r in failed]
    return result


def the_pool(idp: Any) -> dict[str, Any]:
    pools = idp.list_user_pools(MaxResults=60)["UserPools"]
    assert len(pools) == 1
    return idp.describe_user_pool(UserPoolId=pools[0]["Id"])["UserPool"]


def client_named(idp: Any, pool_id: str, name: str) -> dict[str, Any]:
    ids = [c["ClientId"] for c in idp.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]
           if c["ClientName"] == name]
    return idp.describe_user_pool_client(UserPoolId=pool_id, ClientId=ids[0])["UserPoolClient"]


def test_creates_pool_mfa_admin_user_clients_and_group(clients, idp, sm):
    result = run(clients, full_book())
    assert [r.status for r in result.results] == ["changed"] * 5

    got = the_pool(idp)
    assert got["Policies"]["PasswordPolicy"]["MinimumLength"] == 14
    assert got["AutoVerifiedAttributes"] == ["email"]
    assert got["DeletionProtection"] == "ACTIVE"
    assert got["UserPoolTags"] == {"app": "myapp", **TAG}
    assert got["UserAttributeUpdateSettings"] == {"AttributesRequireVerificationBeforeUpdate": ["email"]}
    schema = {a["Name"]: a for a in got["SchemaAttributes"]}
    assert schema["email"]["Mutable"] is False and schema["email"]["Required"] is True
    mfa = idp.get_user_pool_mfa_config(UserPoolId=got["Id"])
    assert mfa["MfaConfiguration"] == "ON" and mfa["SoftwareTokenMfaConfiguration"] == {"Enabled": True}

    user = idp.admin_get_user(UserPoolId=got["Id"], Username="alice")
    assert user["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    password = sm.get_secret_value(SecretId=ADMIN_SECRET, VersionStage="AWSCURRENT")["SecretString"]
    assert len(password) >= 20
    groups = idp.admin_list_groups_for_user(UserPoolId=got["Id"], Username="alice")["Groups"]
    assert [g["GroupName"] for g in groups] == ["admins"]
    assert groups[0]["RoleArn"] == "arn:aws:iam::123456789012:role/admins-role"

    w = client_named(idp, got["Id"], "web")
    assert "ClientSecret" not in w
    assert (w["AccessTokenValidity"], w["TokenValidityUnits"]["AccessToken"]) == (60, "minutes")
    assert w["PreventUserExistenceErrors"] == "ENABLED" and w["EnableTokenRevocation"] is True
    b = client_named(idp, got["Id"], "backend")
    assert sm.get_secret_value(SecretId=CLIENT_SECRET, VersionStage="AWSCURRENT")["SecretString"] == b["ClientSecret"]


def test_second_run_makes_zero_writes_and_few_reads(clients, call_log):
    run(clients, full_book())
    call_log.reset()

    result = run(clients, full_book())

    assert [r.status for r in result.results] == ["ok"] * 5
    assert all(r.diff == "" for r in result.results)
    assert call_log.writes() == []
    ops = call_log.by_operation()
    # pool: list + describe + MFA config + one AdminGetUser per admin user
    assert ops["cognito-idp:GetUserPoolMfaConfig"] == 1
    assert ops["cognito-idp:AdminGetUser"] == 1
    # each client and the group find the pool again (list + describe): 4 resources in all
    assert ops["cognito-idp:ListUserPools"] == 4
    assert ops["cognito-idp:DescribeUserPool"] == 4
    assert ops["cognito-idp:DescribeUserPoolClient"] == 2
    assert ops["secretsmanager:DescribeSecret"] == 1  # only the client with a secret checks it is stored


def test_check_mode_plans_everything_and_writes_nothing(clients, check_clients, call_log):
    result = run(check_clients, full_book(), check_mode=True)
    assert [r.status for r in result.results] == ["changed"] * 5
    assert call_log.writes() == [] and call_log.refused == []

    run(clients, full_book())
    call_log.reset()
    result = run(check_clients, full_book(password_policy={"minimum_length": 16}), check_mode=True)
    assert result.results[0].status == "changed"
    assert call_log.writes() == [] and call_log.refused == []


def test_converges_drift_made_by_hand(clients, idp, call_log):
    run(clients, full_book())
    got = the_pool(idp)
    pool_id = got["Id"]
    # a careful human sends the full config (as UpdateUserPool demands) with a weaker password policy
    base = {k: got[k] for k in ("Policies", "AutoVerifiedAttributes", "UserPoolTags", "DeletionProtection",
                                "UserAttributeUpdateSettings", "AccountRecoverySetting")}
    base["Policies"] = {"PasswordPolicy": {**got["Policies"]["PasswordPolicy"], "MinimumLength": 8}}
    idp.update_user_pool(UserPoolId=pool_id, MfaConfiguration="ON", **base)
    w = client_named(idp, pool_id, "web")
    idp.update_user_pool_client(UserPoolId=pool_id, ClientId=w["ClientId"], AccessTokenValidity=1,
                                TokenValidityUnits={"AccessToken": "days"})
    call_log.reset()

    result = run(clients, full_book())

    by = {r.resource: r for r in result.results}
    assert by["cognito_user_pool.users"].status == "changed"
    assert "minimum_length" in by["cognito_user_pool.users"].diff
    assert by["cognito_app_client.web"].status == "changed"
    assert [op for _, op in call_log.writes()] == ["UpdateUserPool", "UpdateUserPoolClient"]
    after = the_pool(idp)
    assert after["Policies"]["PasswordPolicy"]["MinimumLength"] == 14
    # the full config was sent: nothing else went back to a default
    assert after["AutoVerifiedAttributes"] == ["email"]
    assert after["UserPoolTags"] == {"app": "myapp", **TAG}
    assert after["DeletionProtection"] == "ACTIVE"
    w = client_named(idp, pool_id, "web")
    assert (w["AccessTokenValidity"], w["TokenValidityUnits"]["AccessToken"]) == (60, "minutes")
    assert w["ExplicitAuthFlows"] == ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    call_log.reset()
    assert [r.status for r in run(clients, full_book()).results] == ["ok"] * 5
    assert call_log.writes() == []


def test_mfa_is_read_from_get_user_pool_mfa_config(clients, idp, call_log):
    run(clients, book(pool()))
    pool_id = the_pool(idp)["Id"]
    idp.set_user_pool_mfa_config(UserPoolId=pool_id, MfaConfiguration="OPTIONAL",
                                 SoftwareTokenMfaConfiguration={"Enabled": True})
    call_log.reset()
    result = run(clients, book(pool()))
    assert result.results[0].changes == ["set MFA ON (TOTP) on user pool users"]
    assert idp.get_user_pool_mfa_config(UserPoolId=pool_id)["MfaConfiguration"] == "ON"


def test_two_tagged_pools_of_the_same_name_are_an_error_and_nothing_is_written(clients, idp, call_log):
    ids = [idp.create_user_pool(PoolName="users", UserPoolTags=TAG)["UserPool"]["Id"] for _ in range(2)]
    call_log.reset()

    result = run_playbook(clients, book(pool(), web(), backend()))

    first = result.results[0]
    assert first.status == "failed"
    assert "2 pools carry the tag iamflow:id=t/users" in first.error and all(i in first.error for i in ids)
    assert call_log.writes() == []


def test_an_untagged_pool_of_the_same_name_is_not_adopted(clients, idp, call_log):
    pool_id = idp.create_user_pool(PoolName="users")["UserPool"]["Id"]
    call_log.reset()
    with pytest.raises(PoolLookupError, match="exists .* but is not managed by iamflow"):
        env = PlanEnv(clients.caller_context(), book(pool()))
        handler_for("cognito_user_pool").read(clients, pool(), env)
    assert pool_id and call_log.writes() == []


def test_a_pool_of_another_playbook_is_left_alone(clients, idp):
    other = idp.create_user_pool(PoolName="users", UserPoolTags={"iamflow:id": "other/users"})["UserPool"]["Id"]
    run(clients, book(pool()))
    pools = idp.list_user_pools(MaxResults=60)["UserPools"]
    assert len(pools) == 2
    assert idp.describe_user_pool(UserPoolId=other)["UserPool"]["UserPoolTags"] == {"iamflow:id": "other/users"}


def test_schema_change_without_allow_replace_is_blocked_with_no_write(clients, idp, call_log):
    run(clients, book(pool()))
    pool_id = the_pool(idp)["Id"]
    changed_schema = [{"name": "email", "required": True, "mutable": True}, {"name": "name", "required": True}]
    call_log.reset()

    result = run_playbook(clients, book(pool(schema=changed_schema)))

    r = result.results[0]
    assert r.status == "failed"
    assert "replacement required" in r.error and "allow_replace" in r.error
    assert any(n.startswith("replacement required: schema attribute email") for n in r.notes)
    assert call_log.writes() == []
    assert the_pool(idp)["Id"] == pool_id


def test_schema_change_with_allow_replace_deletes_and_creates(clients, idp, sm, call_log):
    run(clients, book(pool()))
    old_id = the_pool(idp)["Id"]
    old_password = sm.get_secret_value(SecretId=ADMIN_SECRET, VersionStage="AWSCURRENT")["SecretString"]
    changed_schema = [{"name": "email", "required": True, "mutable": True}, {"name": "name", "required": True}]
    call_log.reset()

    result = run(clients, book(pool(schema=changed_schema, allow_replace=True)))

    ops = [op for _, op in call_log.writes()]
    assert ops[:3] == ["UpdateUserPool", "DeleteUserPool", "CreateUserPool"]  # protection off, explicitly
    assert "turn deletion protection off" in result.results[0].changes[0]
    new = the_pool(idp)
    assert new["Id"] != old_id
    assert {a["Name"]: a for a in new["SchemaAttributes"]}["email"]["Mutable"] is True
    # the admin user was created again, with a new password that replaced the stored one
    assert idp.admin_get_user(UserPoolId=new["Id"], Username="alice")["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    assert sm.get_secret_value(SecretId=ADMIN_SECRET, VersionStage="AWSCURRENT")["SecretString"] != old_password


def test_absent_protected_pool_needs_force(clients, idp, call_log):
    run(clients, full_book())
    call_log.reset()

    gone = book(pool(state="absent"))
    r = run_playbook(clients, gone).results[0]
    assert r.status == "failed" and "deletion protection" in r.error and "force: true" in r.error
    assert call_log.writes() == []

    r = run(clients, book(pool(state="absent", force=True))).results[0]
    assert r.status == "changed"
    assert [op for _, op in call_log.writes()] == ["UpdateUserPool", "DeleteUserPool"]
    assert idp.list_user_pools(MaxResults=60)["UserPools"] == []
    call_log.reset()
    assert run(clients, book(pool(state="absent", force=True))).results[0].status == "ok"
    assert call_log.writes() == []


def test_absent_clients_and_group(clients, idp, call_log):
    run(clients, full_book())
    pool_id = the_pool(idp)["Id"]
    call_log.reset()
    result = run(clients, book(pool(), web(state="absent"), admins(state="absent")))
    assert sorted(op for _, op in call_log.writes()) == ["DeleteGroup", "DeleteUserPoolClient"]
    names = [c["ClientName"] for c in idp.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]]
    assert names == ["backend"]
    assert idp.list_groups(UserPoolId=pool_id)["Groups"] == []
    assert result.results[0].status == "ok"


def test_group_role_and_precedence_drift(clients, idp, call_log):
    run(clients, full_book())
    pool_id = the_pool(idp)["Id"]
    idp.update_group(GroupName="admins", UserPoolId=pool_id, Precedence=9,
                     RoleArn="arn:aws:iam::123456789012:role/other")
    call_log.reset()
    run(clients, full_book())
    assert [op for _, op in call_log.writes()] == ["UpdateGroup"]
    g = idp.get_group(GroupName="admins", UserPoolId=pool_id)["Group"]
    assert (g["Precedence"], g["RoleArn"]) == (1, "arn:aws:iam::123456789012:role/admins-role")


def test_client_generate_secret_change_is_blocked(clients, call_log):
    run(clients, book(pool(), web()))
    call_log.reset()
    r = run_playbook(clients, book(pool(), web(generate_secret=True))).results[1]
    assert r.status == "failed" and "replacement required" in r.error
    assert call_log.writes() == []


def test_a_client_secret_missing_from_secrets_manager_is_stored_again(clients, sm, call_log):
    run(clients, book(pool(), backend()))
    sm.delete_secret(SecretId=CLIENT_SECRET, ForceDeleteWithoutRecovery=True)
    call_log.reset()
    r = run(clients, book(pool(), backend())).results[1]
    assert r.status == "changed"
    assert [op for _, op in call_log.writes()] == ["CreateSecret"]
    assert sm.get_secret_value(SecretId=CLIENT_SECRET, VersionStage="AWSCURRENT")["SecretString"]


def test_a_missing_pool_fails_the_client_apply_clearly(clients):
    handler = handler_for("cognito_app_client")
    env = PlanEnv(clients.caller_context(), book(pool(), web()))
    plan = handler.plan(web(), handler.read(clients, web(), env), env)
    with pytest.raises(ApplyError, match="user pool 'users' was not found"):
        handler.apply(clients, plan)


# --- the secrets rule ------------------------------------------------------------------------------


def _everything_shown(results: list[Any], plans: list[Any]) -> str:
    parts = [json.dumps([r.to_dict() for r in results], default=str)]
    parts += [format_result(r, diff=True) for r in results]
    for plan in plans:
        parts += [plan.diff(), json.dumps(plan.summary()), repr(plan.changes), repr(plan.before), repr(plan.after)]
        parts += [json.dumps(c.public_params(), default=repr) for c in plan.changes]
    return "\n".join(parts)


def _plans(clients: Any, playbook: Playbook) -> list[Any]:
    env = PlanEnv(clients.caller_context(), playbook)
    out = []
    for r in playbook.resources:
        handler = handler_for(r.kind)
        out.append(handler.plan(r, handler.read(clients, r, env), env))
    return out


def test_secrets_never_reach_logs_plans_diffs_or_results(clients, idp, sm, caplog):
    caplog.set_level(logging.DEBUG)  # botocore logs request params and response bodies at DEBUG
    first = run(clients, full_book()).results
    pool_id = the_pool(idp)["Id"]
    password = sm.get_secret_value(SecretId=ADMIN_SECRET, VersionStage="AWSCURRENT")["SecretString"]
    client_secret = client_named(idp, pool_id, "backend")["ClientSecret"]
    second = run(clients, full_book()).results
    plans = _plans(clients, full_book())

    shown = _everything_shown(first + second, plans) + "\n" + caplog.text
    shown += "\n".join(r.getMessage() for r in caplog.records)
    assert password not in shown
    assert client_secret not in shown
    # the user is told where the password is
    assert any(ADMIN_SECRET in c for c in first[0].changes)
    assert any(CLIENT_SECRET in c for r in first for c in r.changes)


def test_a_failed_apply_does_not_echo_the_password(clients, idp, sm, caplog, monkeypatch):
    """An AWS error message that echoes its input is redacted before it becomes an ApplyError."""
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []

    def echo(params: dict[str, Any], **_: Any) -> None:
        from botocore.exceptions import ClientError

        seen.append(params["TemporaryPassword"])
        raise ClientError({"Error": {"Code": "InvalidPasswordException",
                                     "Message": f"bad password {params['TemporaryPassword']}"}}, "AdminCreateUser")

    idp_client = clients.client("cognito-idp")
    idp_client.meta.events.register("provide-client-params.cognito-identity-provider.AdminCreateUser", echo)
    result = run_playbook(clients, book(pool()))
    r = result.results[0]
    assert r.status == "failed" and "<redacted>" in r.error
    assert seen and seen[0] not in r.error and seen[0] not in caplog.text


def test_re_runs_never_reset_the_temporary_password(clients, sm, call_log):
    run(clients, full_book())
    versions = sm.list_secret_version_ids(SecretId=ADMIN_SECRET)["Versions"]
    password = sm.get_secret_value(SecretId=ADMIN_SECRET, VersionStage="AWSCURRENT")["SecretString"]
    call_log.reset()
    run(clients, full_book())
    run(clients, full_book(password_policy={"minimum_length": 16}))  # a pool update, still no reset
    ops = call_log.by_operation()
    assert "cognito-idp:AdminCreateUser" not in ops and "secretsmanager:PutSecretValue" not in ops
    assert sm.get_secret_value(SecretId=ADMIN_SECRET, VersionStage="AWSCURRENT")["SecretString"] == password
    assert len(sm.list_secret_version_ids(SecretId=ADMIN_SECRET)["Versions"]) == len(versions)


def test_the_password_is_generated_at_apply_time_not_in_the_plan(clients):
    plans = _plans(clients, book(pool()))
    create_user = next(c for c in plans[0].changes if c.operation == "admin_create_user")
    assert repr(create_user.params["TemporaryPassword"]) == "<generated at apply time>"
    assert create_user.public_params()["TemporaryPassword"] == "<redacted>"


def test_shipped_myapp_auth_playbook_applies_then_is_a_no_op(clients, sm, call_log):
    from iamflow.settings import project_root
    from iamflow.spec.loader import load_playbook

    playbook = load_playbook(project_root() / "include" / "playbooks" / "myapp-auth.yaml")
    assert [r.status for r in run(clients, playbook).results] == ["changed"] * 3
    assert sm.get_secret_value(SecretId="iamflow/cognito/myapp-users/admin", VersionStage="AWSCURRENT")
    call_log.reset()
    assert [r.status for r in run(clients, playbook).results] == ["ok"] * 3
    assert call_log.writes() == []
    call_log.reset()
    run(clients, playbook, check_mode=True)
    assert call_log.writes() == [] and call_log.refused == []
