"""Creates never leave a duplicate: a lost answer, then a failed follow-up, for every create.

The lost-response fault lets moto execute the create, then hands botocore a read timeout, a
dropped connection or a 5xx in place of the answer. Afterwards there is exactly one object,
counted through the service's list calls, and the next run converges it without creating again.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from _handler_helpers import converge, make_env, operations, plan_of, trust

from iamflow.errors import ApplyError
from iamflow.resources import handler_for
from iamflow.resources.base import Change, Plan
from iamflow.resources.execute import execute_plan
from iamflow.resources.kms_key import KeyLookupError
from iamflow.spec.kinds_cognito import CognitoAppClient, CognitoUserPool
from iamflow.spec.kinds_kms import KmsKey
from iamflow.spec.kinds_secrets import Secret
from iamflow.spec.models import IamInstanceProfile, IamManagedPolicy, IamRole
from tests.helpers.faults import fail_nth_write, lose_nth_write

pytestmark = pytest.mark.usefixtures("no_retry_delay")

LOST = ("read-timeout", "connection-closed", "500")


def raw(service: str) -> Any:
    """A plain boto3 client on the same moto, outside ``clients`` (no faults, not counted)."""
    return boto3.client(service, region_name="us-east-1")


def customer_keys() -> list[dict[str, Any]]:
    kms = raw("kms")
    keys = [kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"] for k in kms.list_keys()["Keys"]]
    return [k for k in keys if k.get("KeyManager") == "CUSTOMER" and k["KeyState"] != "PendingDeletion"]


def pools(name: str = "users") -> list[str]:
    return [p["Id"] for p in raw("cognito-idp").list_user_pools(MaxResults=60)["UserPools"] if p["Name"] == name]


def app_clients(pool_id: str, name: str) -> list[str]:
    listed = raw("cognito-idp").list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]
    return [c["ClientId"] for c in listed if c["ClientName"] == name]


def secrets(name: str) -> list[str]:
    return [s["ARN"] for s in raw("secretsmanager").list_secrets()["SecretList"] if s["Name"] == name]


def converge_again_without_writes(clients: Any, call_log: Any, resource: Any, env: Any) -> None:
    call_log.reset()
    plan = converge(handler_for(resource.kind), clients, resource, env)
    assert plan.changes == [] and call_log.writes() == []


# --- the mechanism --------------------------------------------------------------------------------


def test_a_lost_create_answer_retried_by_botocore_makes_a_second_key(clients):
    """The scenario the rest of this file proves fixed: the SDK repeats a create that was done."""
    fault = lose_nth_write(clients, 1)
    clients.client("kms").create_key(Description="plain")
    assert fault.lost == [("kms", "CreateKey")] and fault.attempts == 2
    assert len(customer_keys()) == 2


def test_a_client_without_retries_sends_a_failing_call_once(clients, call_log):
    fault = fail_nth_write(clients, 1, "InternalFailure", status=500)
    with pytest.raises(Exception, match="InternalFailure"):
        clients.client("kms", retries=False).create_key()
    assert fault.failed_sends == 1
    fault.remove()
    retried = fail_nth_write(clients, 1, "InternalFailure", status=500)
    with pytest.raises(Exception, match="InternalFailure"):
        clients.client("kms").create_key()
    assert retried.failed_sends > 1  # the ordinary client keeps botocore's retries
    # both clients are counted, once per call, and are distinct
    assert call_log.by_operation() == {"kms:CreateKey": 2}
    assert clients.client("kms", retries=False) is not clients.client("kms")
    assert customer_keys() == []


def test_check_mode_refuses_a_write_through_the_client_without_retries(check_clients):
    from iamflow.errors import CheckModeViolation

    with pytest.raises(CheckModeViolation):
        check_clients.client("kms", retries=False).create_key()


def test_an_ambiguous_failure_with_nothing_found_raises_the_original_error(clients):
    looked: list[dict[str, Any]] = []

    def adopt(_clients: Any, params: dict[str, Any]) -> None:
        looked.append(params)
        return None

    # the answer is lost on a call that was *not* done: nothing to find, the timeout stands
    plan = Plan("x.y", changes=[Change("iam", "create_role", {"RoleName": "r", "AssumeRolePolicyDocument": "{}"},
                                       "create role r", adopt=adopt)])
    fault = fail_nth_write(clients, 1, "ServiceFailure", status=500)
    with pytest.raises(Exception, match="ServiceFailure"):
        execute_plan(clients, plan)
    assert looked == [{"RoleName": "r", "AssumeRolePolicyDocument": "{}"}]
    fault.remove()
    fail_nth_write(clients, 1, "MalformedPolicyDocument")
    with pytest.raises(ApplyError, match="MalformedPolicyDocument"):  # permanent, not ambiguous: no lookup
        execute_plan(clients, plan)
    assert len(looked) == 1
    assert raw("iam").list_roles()["Roles"] == []


# --- KMS keys -------------------------------------------------------------------------------------


def kms_key(**fields: Any) -> KmsKey:
    fields.setdefault("name", "data")
    return KmsKey(kind="kms_key", description="data key", tags={"team": "a"}, rotation=True, **fields)


@pytest.mark.parametrize("lost", LOST)
def test_kms_lost_create_key_answer_is_adopted_by_its_tag(clients, call_log, lost):
    res = kms_key()
    env = make_env(clients, res)
    fault = lose_nth_write(clients, 1, lost)
    plan = converge(handler_for("kms_key"), clients, res, env)
    assert fault.lost == [("kms", "CreateKey")] and fault.attempts == 1  # sent once: retries are off
    [key] = customer_keys()
    assert raw("kms").describe_key(KeyId="alias/data")["KeyMetadata"]["KeyId"] == key["KeyId"]
    assert any("found the object and adopted it" in n for n in plan.notes)
    fault.remove()
    converge_again_without_writes(clients, call_log, res, env)


def test_kms_key_created_but_not_aliased_is_adopted_on_the_next_run(clients, call_log):
    res = kms_key(aliases=["alias/data", "alias/data-2"])
    env = make_env(clients, res)
    fault = fail_nth_write(clients, 2, "KMSInternalException")  # the first CreateAlias
    with pytest.raises(ApplyError, match="create alias alias/data"):
        converge(handler_for("kms_key"), clients, res, env)
    fault.remove()
    [orphan] = customer_keys()
    assert raw("kms").list_aliases(KeyId=orphan["KeyId"])["Aliases"] == []

    plan = plan_of(clients, res, env)
    assert "create_key" not in operations(plan)
    assert sorted(operations(plan)) == ["create_alias", "create_alias", "enable_key_rotation"]
    converge(handler_for("kms_key"), clients, res, env)
    [key] = customer_keys()
    assert key["KeyId"] == orphan["KeyId"]
    aliases = {a["AliasName"] for a in raw("kms").list_aliases(KeyId=key["KeyId"])["Aliases"]}
    assert aliases == {"alias/data", "alias/data-2"}
    converge_again_without_writes(clients, call_log, res, env)


def test_kms_key_created_but_not_aliased_is_retired_when_declared_absent(clients, call_log):
    res = kms_key()
    env = make_env(clients, res)
    fault = fail_nth_write(clients, 2, "KMSInternalException")  # CreateAlias
    with pytest.raises(ApplyError, match="create alias alias/data"):
        converge(handler_for("kms_key"), clients, res, env)
    fault.remove()
    [orphan] = customer_keys()

    gone = kms_key(state="absent")
    plan = plan_of(clients, gone, env)
    assert operations(plan) == ["schedule_key_deletion"]
    converge(handler_for("kms_key"), clients, gone, env)
    meta = raw("kms").describe_key(KeyId=orphan["KeyId"])["KeyMetadata"]
    assert meta["KeyState"] == "PendingDeletion"
    call_log.reset()
    assert plan_of(clients, gone, env).changes == []
    assert call_log.writes() == []


def test_kms_two_unaliased_keys_with_the_same_tag_are_an_error_naming_both(clients, call_log):
    res = kms_key()
    env = make_env(clients, res)
    kms = raw("kms")
    tag = [{"TagKey": "iamflow:id", "TagValue": "t/kms_key.data"}]
    ids = sorted(kms.create_key(Tags=tag)["KeyMetadata"]["KeyId"] for _ in range(2))
    call_log.reset()
    with pytest.raises(KeyLookupError, match="2 KMS keys without an alias carry the tag iamflow:id=t/kms_key.data") as err:
        handler_for("kms_key").read(clients, res, env)
    assert all(i in str(err.value) for i in ids)
    assert call_log.writes() == []


def test_kms_keys_of_others_and_keys_pending_deletion_are_not_adopted(clients):
    res = kms_key()
    env = make_env(clients, res)
    kms = raw("kms")
    kms.create_key(Tags=[{"TagKey": "iamflow:id", "TagValue": "other/kms_key.data"}])
    retired = kms.create_key(Tags=[{"TagKey": "iamflow:id", "TagValue": "t/kms_key.data"}])["KeyMetadata"]["KeyId"]
    kms.schedule_key_deletion(KeyId=retired, PendingWindowInDays=7)
    assert handler_for("kms_key").read(clients, res, env) is None


def test_kms_a_no_op_run_makes_no_extra_call(clients, call_log):
    """The tag lookup runs only when no declared alias exists."""
    res = kms_key()
    env = make_env(clients, res)
    converge(handler_for("kms_key"), clients, res, env)
    call_log.reset()
    converge(handler_for("kms_key"), clients, res, env)
    assert "kms:ListKeys" not in call_log.by_operation()


def test_kms_the_iamflow_tag_survives_purge_and_is_not_added_to_existing_keys(clients, call_log):
    res = kms_key(purge_tags=True)
    env = make_env(clients, res)
    converge(handler_for("kms_key"), clients, res, env)
    key_id = customer_keys()[0]["KeyId"]
    tags = {t["TagKey"]: t["TagValue"] for t in raw("kms").list_resource_tags(KeyId=key_id)["Tags"]}
    assert tags == {"team": "a", "iamflow:id": "t/kms_key.data"}
    converge_again_without_writes(clients, call_log, res, env)
    # a key made before iamflow tagged its keys is converged without the tag being forced on it
    raw("kms").untag_resource(KeyId=key_id, TagKeys=["iamflow:id"])
    converge_again_without_writes(clients, call_log, res, env)


# --- Cognito --------------------------------------------------------------------------------------


def user_pool() -> CognitoUserPool:
    return CognitoUserPool(kind="cognito_user_pool", name="users", mfa="OPTIONAL", tags={"app": "a"})


def backend() -> CognitoAppClient:
    return CognitoAppClient(kind="cognito_app_client", name="backend", user_pool="users", generate_secret=True,
                            explicit_auth_flows=["ALLOW_USER_SRP_AUTH"])


@pytest.mark.parametrize("lost", LOST)
def test_cognito_lost_create_user_pool_answer_is_adopted_by_its_tag(clients, call_log, lost):
    res = user_pool()
    env = make_env(clients, res)
    fault = lose_nth_write(clients, 1, lost)
    plan = converge(handler_for("cognito_user_pool"), clients, res, env)
    assert fault.lost == [("cognito-idp", "CreateUserPool")] and fault.attempts == 1
    [pool_id] = pools()
    # the follow-up went to the adopted pool
    assert raw("cognito-idp").get_user_pool_mfa_config(UserPoolId=pool_id)["MfaConfiguration"] == "OPTIONAL"
    assert any("adopted" in n for n in plan.notes)
    fault.remove()
    converge_again_without_writes(clients, call_log, res, env)


def test_cognito_pool_whose_follow_up_failed_is_converged_without_a_second_pool(clients, call_log):
    res = user_pool()
    env = make_env(clients, res)
    fault = fail_nth_write(clients, 2, "InvalidParameterException")  # SetUserPoolMfaConfig
    with pytest.raises(ApplyError, match="set MFA OPTIONAL"):
        converge(handler_for("cognito_user_pool"), clients, res, env)
    fault.remove()
    call_log.reset()
    plan = converge(handler_for("cognito_user_pool"), clients, res, env)
    assert "create_user_pool" not in operations(plan) and "set_user_pool_mfa_config" in operations(plan)
    assert len(pools()) == 1
    converge_again_without_writes(clients, call_log, res, env)


@pytest.mark.parametrize("lost", LOST)
def test_cognito_lost_create_user_pool_client_answer_is_adopted_by_name(clients, call_log, lost):
    pool_res, client_res = user_pool(), backend()
    env = make_env(clients, pool_res, client_res)
    converge(handler_for("cognito_user_pool"), clients, pool_res, env)
    [pool_id] = pools()
    fault = lose_nth_write(clients, 1, lost)
    converge(handler_for("cognito_app_client"), clients, client_res, env)
    assert fault.lost == [("cognito-idp", "CreateUserPoolClient")] and fault.attempts == 1
    [client_id] = app_clients(pool_id, "backend")
    # what was adopted carried the client secret on to Secrets Manager, as the lost answer would have
    idp, sm = raw("cognito-idp"), raw("secretsmanager")
    secret = idp.describe_user_pool_client(UserPoolId=pool_id, ClientId=client_id)["UserPoolClient"]["ClientSecret"]
    assert sm.get_secret_value(SecretId="iamflow/cognito/users/clients/backend")["SecretString"] == secret
    fault.remove()
    converge_again_without_writes(clients, call_log, client_res, env)


def test_cognito_client_whose_secret_was_not_stored_is_converged_without_a_second_client(clients, call_log):
    pool_res, client_res = user_pool(), backend()
    env = make_env(clients, pool_res, client_res)
    converge(handler_for("cognito_user_pool"), clients, pool_res, env)
    [pool_id] = pools()
    fault = fail_nth_write(clients, 2, "AccessDeniedException")  # CreateSecret of the client secret
    with pytest.raises(ApplyError, match="store the client secret"):
        converge(handler_for("cognito_app_client"), clients, client_res, env)
    fault.remove()
    plan = converge(handler_for("cognito_app_client"), clients, client_res, env)
    assert "create_user_pool_client" not in operations(plan)
    assert len(app_clients(pool_id, "backend")) == 1 and len(secrets("iamflow/cognito/users/clients/backend")) == 1
    converge_again_without_writes(clients, call_log, client_res, env)


# --- Secrets Manager ------------------------------------------------------------------------------


SECRET_POLICY = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Deny", "Principal": "*", "Action": "secretsmanager:DeleteSecret", "Resource": "*"}]}


def app_secret() -> Secret:
    return Secret(kind="secret", name="app/db", description="db", generate={"length": 32},
                  resource_policy=SECRET_POLICY)


@pytest.mark.parametrize("lost", LOST)
def test_secret_lost_create_secret_answer_leaves_one_secret(clients, call_log, lost):
    res = app_secret()
    env = make_env(clients, res)
    fault = lose_nth_write(clients, 1, lost)
    converge(handler_for("secret"), clients, res, env)
    assert fault.lost == [("secretsmanager", "CreateSecret")]
    assert len(secrets("app/db")) == 1
    assert raw("secretsmanager").get_resource_policy(SecretId="app/db").get("ResourcePolicy")
    fault.remove()
    converge_again_without_writes(clients, call_log, res, env)


def test_secret_made_between_read_and_create_is_adopted_by_name(clients, call_log):
    """CreateSecret's retries carry one ClientRequestToken; a secret that exists anyway is looked up."""
    res = app_secret()
    env = make_env(clients, res)
    plan = plan_of(clients, res, env)
    raw("secretsmanager").create_secret(Name="app/db", Description="db", SecretString="made meanwhile")
    handler_for("secret").apply(clients, plan)
    assert any("it already exists; found the object and adopted it" in n for n in plan.notes)
    assert len(secrets("app/db")) == 1
    assert raw("secretsmanager").get_resource_policy(SecretId="app/db").get("ResourcePolicy")  # the follow-up ran
    converge_again_without_writes(clients, call_log, res, env)


def test_secret_whose_follow_up_failed_is_converged_without_a_second_create(clients, call_log):
    res = app_secret()
    env = make_env(clients, res)
    fault = fail_nth_write(clients, 2, "MalformedPolicyDocumentException")  # PutResourcePolicy
    with pytest.raises(ApplyError, match="put the resource policy"):
        converge(handler_for("secret"), clients, res, env)
    fault.remove()
    plan = converge(handler_for("secret"), clients, res, env)
    assert operations(plan) == ["put_resource_policy"]
    assert len(secrets("app/db")) == 1
    converge_again_without_writes(clients, call_log, res, env)


# --- IAM ------------------------------------------------------------------------------------------


POLICY_DOC = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]}


def iam_role() -> IamRole:
    return IamRole(kind="iam_role", name="app", trust_policy=trust(),
                   managed_policies=["arn:aws:iam::aws:policy/ReadOnlyAccess"])


def count_iam(kind: str, name: str) -> int:
    iam = raw("iam")
    if kind == "iam_role":
        return sum(r["RoleName"] == name for r in iam.list_roles()["Roles"])
    if kind == "iam_managed_policy":
        return sum(p["PolicyName"] == name for p in iam.list_policies(Scope="Local")["Policies"])
    return sum(p["InstanceProfileName"] == name for p in iam.list_instance_profiles()["InstanceProfiles"])


IAM_CASES = {
    "iam_role": (iam_role, "CreateRole"),
    "iam_managed_policy": (lambda: IamManagedPolicy(kind="iam_managed_policy", name="app", document=POLICY_DOC),
                           "CreatePolicy"),
    "iam_instance_profile": (lambda: IamInstanceProfile(kind="iam_instance_profile", name="app"),
                             "CreateInstanceProfile"),
}


@pytest.mark.parametrize("kind", sorted(IAM_CASES))
@pytest.mark.parametrize("lost", LOST)
def test_iam_lost_create_answer_retried_by_botocore_is_adopted_by_name(clients, call_log, kind, lost):
    make, operation = IAM_CASES[kind]
    res = make()
    env = make_env(clients, res)
    fault = lose_nth_write(clients, 1, lost)
    plan = converge(handler_for(kind), clients, res, env)
    # IAM creates keep their retries: the retry answers EntityAlreadyExists, and the object is adopted
    assert fault.lost == [("iam", operation)] and fault.attempts == 2
    assert any("it already exists" in n for n in plan.notes)
    assert count_iam(kind, "app") == 1
    fault.remove()
    converge_again_without_writes(clients, call_log, res, env)


def test_iam_role_whose_follow_up_failed_is_converged_without_a_second_create(clients, call_log):
    res = iam_role()
    env = make_env(clients, res)
    fault = fail_nth_write(clients, 2, "LimitExceeded")  # AttachRolePolicy
    with pytest.raises(ApplyError, match="attach"):
        converge(handler_for("iam_role"), clients, res, env)
    fault.remove()
    plan = converge(handler_for("iam_role"), clients, res, env)
    assert operations(plan) == ["attach_role_policy"]
    assert count_iam("iam_role", "app") == 1
    converge_again_without_writes(clients, call_log, res, env)


def test_every_created_object_that_takes_tags_carries_its_iamflow_id(clients, call_log):
    role, profile = iam_role(), IamInstanceProfile(kind="iam_instance_profile", name="app", tags={"a": "1"})
    policy = IamManagedPolicy(kind="iam_managed_policy", name="app", document=POLICY_DOC)
    secret = Secret(kind="secret", name="app/db", generate={"length": 32}, tags={"a": "1"}, purge_tags=True)
    key = kms_key()
    env = make_env(clients, role, profile, policy, secret, key)
    for res in (role, profile, policy, secret, key):
        converge(handler_for(res.kind), clients, res, env)
    iam, sm, kms = raw("iam"), raw("secretsmanager"), raw("kms")
    got = {
        "iam_role": iam.get_role(RoleName="app")["Role"].get("Tags"),
        "iam_instance_profile": iam.get_instance_profile(InstanceProfileName="app")["InstanceProfile"].get("Tags"),
        "iam_managed_policy": iam.get_policy(PolicyArn=f"arn:aws:iam::{env.ctx.account_id}:policy/app")["Policy"]["Tags"],
        "secret": sm.describe_secret(SecretId="app/db")["Tags"],
    }
    for kind, tags in got.items():
        name = "app/db" if kind == "secret" else "app"
        assert {t["Key"]: t["Value"] for t in tags or []}.get("iamflow:id") == f"t/{kind}.{name}", kind
    key_tags = kms.list_resource_tags(KeyId=customer_keys()[0]["KeyId"])["Tags"]
    assert {"TagKey": "iamflow:id", "TagValue": "t/kms_key.data"} in key_tags
    for res in (role, profile, policy, secret, key):  # declared tags with purge leave the mark alone
        converge_again_without_writes(clients, call_log, res, env)


def test_kms_lost_create_alias_answer_retried_by_botocore_is_adopted(clients, call_log):
    res = kms_key()
    env = make_env(clients, res)
    fault = lose_nth_write(clients, 2)  # CreateAlias, after CreateKey
    plan = converge(handler_for("kms_key"), clients, res, env)
    assert fault.lost == [("kms", "CreateAlias")] and fault.attempts == 2  # idempotent by name: retried
    assert any("create alias alias/data" in n and "adopted" in n for n in plan.notes)
    [key] = customer_keys()
    assert raw("kms").describe_key(KeyId="alias/data")["KeyMetadata"]["KeyId"] == key["KeyId"]
    fault.remove()
    converge_again_without_writes(clients, call_log, res, env)


def test_cognito_lost_create_group_answer_retried_by_botocore_is_adopted(clients, call_log):
    from iamflow.spec.kinds_cognito import CognitoGroup

    pool_res = user_pool()
    group = CognitoGroup(kind="cognito_group", name="admins", user_pool="users", description="admins")
    env = make_env(clients, pool_res, group)
    converge(handler_for("cognito_user_pool"), clients, pool_res, env)
    [pool_id] = pools()
    fault = lose_nth_write(clients, 1)
    plan = converge(handler_for("cognito_group"), clients, group, env)
    assert fault.lost == [("cognito-idp", "CreateGroup")] and fault.attempts == 2
    assert any("adopted" in n for n in plan.notes)
    assert [g["GroupName"] for g in raw("cognito-idp").list_groups(UserPoolId=pool_id)["Groups"]] == ["admins"]
    fault.remove()
    converge_again_without_writes(clients, call_log, group, env)


def test_cognito_lost_admin_create_user_answer_retried_by_botocore_is_adopted(clients, call_log):
    from iamflow.spec.kinds_cognito import AdminUser

    pool_res = user_pool()
    env = make_env(clients, pool_res)
    converge(handler_for("cognito_user_pool"), clients, pool_res, env)
    [pool_id] = pools()
    with_admin = pool_res.model_copy(update={"admin_users": [AdminUser(username="ops", email="ops@example.com")]})
    plan = plan_of(clients, with_admin, env)
    n = operations(plan).index("admin_create_user") + 1
    fault = lose_nth_write(clients, n)
    applied = converge(handler_for("cognito_user_pool"), clients, with_admin, env)
    assert fault.lost == [("cognito-idp", "AdminCreateUser")] and fault.attempts == 2
    assert any("admin user ops" in note and "adopted" in note for note in applied.notes)
    users = raw("cognito-idp").list_users(UserPoolId=pool_id)["Users"]
    assert [(u["Username"], u["UserStatus"]) for u in users] == [("ops", "FORCE_CHANGE_PASSWORD")]
    fault.remove()
    converge_again_without_writes(clients, call_log, with_admin, env)


def test_cognito_admin_user_someone_already_signed_in_as_is_not_adopted(clients):
    from iamflow.spec.kinds_cognito import AdminUser

    pool_res = user_pool()
    env = make_env(clients, pool_res)
    converge(handler_for("cognito_user_pool"), clients, pool_res, env)
    [pool_id] = pools()
    with_admin = pool_res.model_copy(update={"admin_users": [AdminUser(username="ops", email="ops@example.com")]})
    plan: Plan = plan_of(clients, with_admin, env)
    # between the read and the create, someone makes the user and signs in with it
    idp = raw("cognito-idp")
    idp.admin_create_user(UserPoolId=pool_id, Username="ops", MessageAction="SUPPRESS")
    idp.admin_set_user_password(UserPoolId=pool_id, Username="ops", Password="Their-own-Passw0rd!", Permanent=True)
    with pytest.raises(ApplyError, match="UsernameExists"):
        execute_plan(clients, plan)
    [user] = idp.list_users(UserPoolId=pool_id)["Users"]
    assert user["UserStatus"] == "CONFIRMED"
