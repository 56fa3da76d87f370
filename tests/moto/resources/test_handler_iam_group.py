"""iam_group against in-process moto: create, members, policies, drift, check mode, expect:, absent, faults."""

from __future__ import annotations

from typing import Any

import pytest
from _handler_helpers import allow, converge, converge_all, make_env, operations, plan_of

from iamflow.errors import ApplyError, CheckModeViolation
from iamflow.resources import handler_for
from iamflow.resources.base import PlanEnv
from iamflow.spec.expect import Expectations
from iamflow.spec.kinds_identities import IamGroup, IamUser
from iamflow.spec.models import IamManagedPolicy
from tests.helpers.faults import fail_nth_write

HANDLER = handler_for("iam_group")
P = "arn:aws:iam::123456789012:policy"
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"


def group(**fields: Any) -> IamGroup:
    return IamGroup(kind="iam_group", name="developers", **fields)


FULL = dict(path="/teams/", managed_policies=["dev-tools", READ_ONLY],
            inline_policies={"logs": allow("logs:PutLogEvents")}, members=["alice", "bob"])


@pytest.fixture
def env(clients: Any) -> PlanEnv:
    """A playbook with a managed policy and two users, already converged."""
    env = make_env(clients, IamManagedPolicy(kind="iam_managed_policy", name="dev-tools",
                                             document=allow("codecommit:GitPull")),
                   *(IamUser(kind="iam_user", name=n) for n in ("alice", "bob", "carol")))
    converge_all(clients, env)
    return env


def members(iam: Any) -> list[str]:
    return sorted(u["UserName"] for u in iam.get_group(GroupName="developers")["Users"])


def attached(iam: Any) -> list[str]:
    return sorted(p["PolicyArn"] for p in iam.list_attached_group_policies(GroupName="developers")["AttachedPolicies"])


def test_creates_the_group_with_policies_and_members(clients, env, iam):
    plan = converge(HANDLER, clients, group(**FULL), env)

    assert operations(plan) == ["create_group", "attach_group_policy", "attach_group_policy", "put_group_policy",
                                "add_user_to_group", "add_user_to_group"]
    assert iam.get_group(GroupName="developers")["Group"]["Path"] == "/teams/"
    assert members(iam) == ["alice", "bob"] and attached(iam) == sorted([READ_ONLY, f"{P}/dev-tools"])
    assert iam.list_group_policies(GroupName="developers")["PolicyNames"] == ["logs"]


def test_a_no_op_run_makes_no_write(clients, env, call_log):
    converge(HANDLER, clients, group(**FULL), env)
    call_log.reset()

    plan = converge(HANDLER, clients, group(**FULL), env)

    assert not plan.changed and plan.diff() == ""
    assert call_log.count(writes=True) == 0
    assert call_log.by_operation() == {"iam:GetGroup": 1, "iam:ListAttachedGroupPolicies": 1,
                                       "iam:ListGroupPolicies": 1, "iam:GetGroupPolicy": 1}


def test_converges_drift_made_by_hand(clients, env, iam):
    converge(HANDLER, clients, group(**FULL), env)
    iam.remove_user_from_group(GroupName="developers", UserName="bob")
    iam.add_user_to_group(GroupName="developers", UserName="carol")
    iam.detach_group_policy(GroupName="developers", PolicyArn=READ_ONLY)
    iam.attach_group_policy(GroupName="developers", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    iam.put_group_policy(GroupName="developers", PolicyName="logs", PolicyDocument='{"Version":"2012-10-17",'
                         '"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}')

    plan = converge(HANDLER, clients, group(**FULL), env)

    assert operations(plan) == ["detach_group_policy", "attach_group_policy", "put_group_policy",
                                "remove_user_from_group", "add_user_to_group"]
    assert "carol" in plan.diff()
    assert members(iam) == ["alice", "bob"] and attached(iam) == sorted([READ_ONLY, f"{P}/dev-tools"])
    assert not plan_of(clients, group(**FULL), env).changed


def test_members_left_out_are_unmanaged_and_an_empty_list_empties_the_group(clients, env, iam):
    converge(HANDLER, clients, group(**FULL), env)

    assert not converge(HANDLER, clients, group(managed_policies=FULL["managed_policies"]), env).changed
    assert members(iam) == ["alice", "bob"]

    plan = converge(HANDLER, clients, group(members=[]), env)
    assert operations(plan) == ["remove_user_from_group", "remove_user_from_group"]
    assert members(iam) == []


def test_check_mode_plans_but_cannot_apply(clients, check_clients, env, call_log, iam):
    call_log.reset()

    plan = plan_of(check_clients, group(**FULL), env)
    with pytest.raises(CheckModeViolation):
        HANDLER.apply(check_clients, plan)

    assert call_log.count(writes=True) == 0 and call_log.refused == [("iam", "CreateGroup")]
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_group(GroupName="developers")


def test_absent_removes_members_and_policies_first(clients, env, iam):
    converge(HANDLER, clients, group(**FULL), env)

    plan = converge(HANDLER, clients, IamGroup(kind="iam_group", name="developers", state="absent"), env)

    assert operations(plan) == ["remove_user_from_group", "remove_user_from_group", "detach_group_policy",
                                "detach_group_policy", "delete_group_policy", "delete_group"]
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_group(GroupName="developers")
    assert not converge(HANDLER, clients, IamGroup(kind="iam_group", name="developers", state="absent"), env).changed


def test_expect_proves_what_members_may_do(clients, env):
    proven = group(**FULL, expect=Expectations.model_validate({
        "allowed": [{"action": "codecommit:GitPull", "resource": "*"}, {"action": "s3:ListBucket", "resource": "*"}],
        "denied": [{"action": "iam:CreateUser", "resource": "*"}]}))

    plan = plan_of(clients, proven, env)

    assert plan.blocked is None
    assert sum("holds" in n for n in plan.notes) == 3


def test_an_expectation_that_fails_blocks_the_plan(clients, env, iam):
    wrong = group(**FULL, expect=Expectations.model_validate({"denied": [{"action": "s3:GetObject", "resource": "*"}]}))

    plan = plan_of(clients, wrong, env)

    assert plan.blocked and "DOES NOT HOLD" in plan.blocked and "ReadOnlyAccess" in plan.blocked
    with pytest.raises(ApplyError, match="Refusing to apply"):
        HANDLER.apply(clients, plan)


# create_group, attach x2, put_group_policy, add x2
CREATE_WRITES = 6


@pytest.mark.parametrize("n", range(1, CREATE_WRITES + 1))
def test_a_failed_write_during_creation_is_converged_by_the_next_run(clients, env, iam, n):
    from iamflow.aws.clients import AwsClients

    fail_nth_write(clients, n, code="AccessDenied")
    with pytest.raises(ApplyError, match=r"^Failed to .*: AccessDenied: "):
        converge(HANDLER, clients, group(**FULL), env)

    healthy = AwsClients.from_boto3()
    assert converge(HANDLER, healthy, group(**FULL), env).changed
    assert members(iam) == ["alice", "bob"] and attached(iam) == sorted([READ_ONLY, f"{P}/dev-tools"])
    assert not plan_of(healthy, group(**FULL), env).changed
