"""iam_user against in-process moto: create, groups, policies, tags, console access, drift, check mode, expect:,
absent, faults, and what moto cannot do (user permission boundaries)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from _handler_helpers import allow, converge, converge_all, make_env, operations, plan_of, tag_map

from iamflow.errors import ApplyError, CheckModeViolation
from iamflow.resources import handler_for
from iamflow.resources.base import PlanEnv
from iamflow.resources.iam_user import console_secret_name
from iamflow.spec.expect import Expectations
from iamflow.spec.kinds_identities import IamGroup, IamUser
from iamflow.spec.models import IamManagedPolicy
from tests.helpers.faults import fail_nth_write

HANDLER = handler_for("iam_user")
P = "arn:aws:iam::123456789012:policy"


def user(**fields: Any) -> IamUser:
    return IamUser(kind="iam_user", name="alice", **fields)


FULL = dict(path="/people/", groups=["developers"], managed_policies=["self-service"],
            inline_policies={"logs": allow("logs:PutLogEvents")}, tags={"team": "web"})


@pytest.fixture
def env(clients: Any) -> PlanEnv:
    """A playbook with a policy and two groups (one with ReadOnlyAccess), already converged."""
    env = make_env(clients,
                   IamManagedPolicy(kind="iam_managed_policy", name="self-service",
                                    document=allow("iam:ChangePassword", resource="arn:aws:iam::*:user/people/*")),
                   IamGroup(kind="iam_group", name="developers",
                            managed_policies=["arn:aws:iam::aws:policy/ReadOnlyAccess"]),
                   IamGroup(kind="iam_group", name="ops"))
    converge_all(clients, env)
    return env


def groups_of(iam: Any, name: str = "alice") -> list[str]:
    return sorted(g["GroupName"] for g in iam.list_groups_for_user(UserName=name)["Groups"])


def test_creates_the_user_with_groups_policies_and_tags(clients, env, iam):
    plan = converge(HANDLER, clients, user(**FULL), env)

    assert operations(plan) == ["create_user", "attach_user_policy", "put_user_policy", "add_user_to_group"]
    got = iam.get_user(UserName="alice")["User"]
    assert got["Path"] == "/people/"
    assert tag_map(got["Tags"]) == {"team": "web", "iamflow:id": "t/iam_user.alice"}
    assert groups_of(iam) == ["developers"]
    assert [p["PolicyArn"] for p in iam.list_attached_user_policies(UserName="alice")["AttachedPolicies"]] == [
        f"{P}/self-service"]
    # no console password, no access key unless declared
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_login_profile(UserName="alice")
    assert iam.list_access_keys(UserName="alice")["AccessKeyMetadata"] == []


def test_a_no_op_run_makes_no_write(clients, env, call_log):
    converge(HANDLER, clients, user(**FULL), env)
    call_log.reset()

    plan = converge(HANDLER, clients, user(**FULL), env)

    assert not plan.changed and plan.diff() == ""
    assert call_log.count(writes=True) == 0
    assert call_log.by_operation() == {"iam:GetUser": 1, "iam:ListAttachedUserPolicies": 1, "iam:ListUserPolicies": 1,
                                       "iam:GetUserPolicy": 1, "iam:ListGroupsForUser": 1}


def test_converges_drift_made_by_hand(clients, env, iam):
    converge(HANDLER, clients, user(**FULL), env)
    iam.add_user_to_group(GroupName="ops", UserName="alice")
    iam.detach_user_policy(UserName="alice", PolicyArn=f"{P}/self-service")
    iam.tag_user(UserName="alice", Tags=[{"Key": "team", "Value": "x"}, {"Key": "stray", "Value": "1"}])

    plan = converge(HANDLER, clients, user(**FULL), env)

    assert operations(plan) == ["untag_user", "tag_user", "attach_user_policy", "remove_user_from_group"]
    assert groups_of(iam) == ["developers"]
    assert tag_map(iam.get_user(UserName="alice")["User"]["Tags"]) == {"team": "web", "iamflow:id": "t/iam_user.alice"}
    assert not plan_of(clients, user(**FULL), env).changed


def test_iamflow_marks_on_the_user_are_never_purged(clients, env, iam):
    converge(HANDLER, clients, user(**FULL), env)
    iam.tag_user(UserName="alice", Tags=[{"Key": "iamflow:deactivated:AKIAEXAMPLE", "Value": "2026-11-01"}])

    plan = converge(HANDLER, clients, user(**FULL), env)

    assert not plan.changed
    assert "iamflow:deactivated:AKIAEXAMPLE" in tag_map(iam.get_user(UserName="alice")["User"]["Tags"])


def test_console_access_stores_a_generated_password_that_is_never_shown(clients, env, iam, caplog):
    import boto3

    plan = converge(HANDLER, clients, user(console_access=True), env)

    assert operations(plan) == ["create_user", "create_secret", "create_login_profile"]
    secret = boto3.client("secretsmanager", region_name="us-east-1").get_secret_value(
        SecretId=console_secret_name("alice"), VersionStage="AWSCURRENT")["SecretString"]
    assert len(secret) == 32
    assert iam.get_login_profile(UserName="alice")["LoginProfile"]["UserName"] == "alice"
    # moto 5.2.5 ignores PasswordResetRequired on CreateLoginProfile (it always reports false); AWS
    # applies it, so what is checked is that the call asks for it, with the very password stored
    assert plan.changes[2].params["PasswordResetRequired"] is True
    from moto.iam.models import iam_backends

    assert iam_backends["123456789012"]["aws"].get_user("alice").password == secret
    shown = json.dumps(plan.summary()) + plan.diff() + repr([c.public_params() for c in plan.changes]) + caplog.text
    assert secret not in shown
    # the profile exists: no new password on a re-run
    assert not plan_of(clients, user(console_access=True), env).changed


def test_console_access_false_removes_the_profile_and_left_out_leaves_it(clients, env, iam):
    converge(HANDLER, clients, user(console_access=True), env)
    assert not plan_of(clients, user(), env).changed

    plan = converge(HANDLER, clients, user(console_access=False), env)

    assert operations(plan) == ["delete_login_profile"]
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_login_profile(UserName="alice")


def test_check_mode_plans_but_cannot_apply(clients, check_clients, env, call_log, iam):
    call_log.reset()

    plan = plan_of(check_clients, user(**FULL, console_access=True), env)
    with pytest.raises(CheckModeViolation):
        HANDLER.apply(check_clients, plan)

    assert call_log.count(writes=True) == 0 and call_log.refused == [("iam", "CreateUser")]
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_user(UserName="alice")


def test_absent_removes_what_iam_refuses_the_deletion_over(clients, env, iam):
    converge(HANDLER, clients, user(**FULL, console_access=True), env)
    iam.create_access_key(UserName="alice")
    gone = IamUser(kind="iam_user", name="alice", state="absent")

    plan = converge(HANDLER, clients, gone, env)

    assert operations(plan) == ["delete_login_profile", "delete_access_key", "remove_user_from_group",
                                "detach_user_policy", "delete_user_policy", "delete_user"]
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_user(UserName="alice")
    assert not converge(HANDLER, clients, gone, env).changed


def test_expect_counts_the_policies_of_its_groups(clients, env):
    proven = user(**FULL, expect=Expectations.model_validate({
        "allowed": [{"action": "s3:GetObject", "resource": "arn:aws:s3:::any/key"},
                    {"action": "iam:ChangePassword", "resource": "arn:aws:iam::123456789012:user/people/alice"}],
        "denied": [{"action": "s3:PutObject", "resource": "arn:aws:s3:::any/key"}]}))

    plan = plan_of(clients, proven, env)

    assert plan.blocked is None, plan.blocked
    assert sum(") holds: " in n for n in plan.notes) == 3


def test_an_expectation_that_does_not_hold_blocks_the_plan(clients, env, iam):
    wrong = user(groups=["ops"], expect=Expectations.model_validate(
        {"allowed": [{"action": "s3:GetObject", "resource": "arn:aws:s3:::any/key"}]}))

    plan = plan_of(clients, wrong, env)

    assert plan.blocked and "DOES NOT HOLD" in plan.blocked
    with pytest.raises(ApplyError, match="Refusing to apply"):
        HANDLER.apply(clients, plan)
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_user(UserName="alice")


# create_user, attach, put, add_user_to_group (tags ride on create_user)
CREATE_WRITES = 4


@pytest.mark.parametrize("n", range(1, CREATE_WRITES + 1))
def test_a_failed_write_during_creation_is_converged_by_the_next_run(clients, env, iam, n):
    from iamflow.aws.clients import AwsClients

    fail_nth_write(clients, n, code="AccessDenied")
    with pytest.raises(ApplyError, match=r"^Failed to .*: AccessDenied: "):
        converge(HANDLER, clients, user(**FULL), env)

    healthy = AwsClients.from_boto3()
    assert converge(HANDLER, healthy, user(**FULL), env).changed
    assert groups_of(iam) == ["developers"]
    assert not plan_of(healthy, user(**FULL), env).changed


def test_a_boundary_is_planned_as_aws_documents_it(clients, env):
    """Pure plans: CreateUser carries the boundary; a change is Put/DeleteUserPermissionsBoundary."""
    bounded = user(boundary="self-service")
    create = HANDLER.plan(bounded, None, env)
    assert create.changes[0].params["PermissionsBoundary"] == f"{P}/self-service"

    state = {"name": "alice", "arn": "", "path": "/", "boundary": f"{P}/old", "tags": {}, "managed_policies": [],
             "inline_policy_names": [], "inline_policies": {}, "groups": [], "console_access": None,
             "access_keys": None, "mfa_devices": None}
    assert operations(HANDLER.plan(bounded, state, env)) == ["put_user_permissions_boundary"]
    assert operations(HANDLER.plan(user(boundary=None), state, env)) == ["delete_user_permissions_boundary"]


@pytest.mark.skip(reason="moto 5.2.5 does not implement user permission boundaries: CreateUser drops the "
                  "PermissionsBoundary it is given, and PutUserPermissionsBoundary / DeleteUserPermissionsBoundary "
                  "are missing. AWS documents all three (IAM API reference); iamflow follows AWS, and the pure plan "
                  "test above shows the calls it makes.")
def test_a_boundary_is_set_changed_and_removed_against_aws(clients, env, iam):
    converge(HANDLER, clients, user(boundary="self-service"), env)
    assert iam.get_user(UserName="alice")["User"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == f"{P}/self-service"
    converge(HANDLER, clients, user(boundary=None), env)
    assert "PermissionsBoundary" not in iam.get_user(UserName="alice")["User"]
