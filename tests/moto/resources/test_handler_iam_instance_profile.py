"""iam_instance_profile against in-process moto: create, role swap, tags, check mode, deletion."""

from __future__ import annotations

from typing import Any

import pytest
from _handler_helpers import converge, converge_all, make_env, operations, plan_of, tag_map, trust

from iamflow.errors import CheckModeViolation
from iamflow.resources import handler_for
from iamflow.resources.base import PlanEnv
from iamflow.spec.models import IamInstanceProfile, IamRole

HANDLER = handler_for("iam_instance_profile")


def profile(**fields: Any) -> IamInstanceProfile:
    return IamInstanceProfile(kind="iam_instance_profile", name="web", **fields)


@pytest.fixture
def env(clients: Any) -> PlanEnv:
    """A playbook with two roles, already converged."""
    roles = [IamRole(kind="iam_role", name=n, trust_policy=trust()) for n in ("web-role", "other-role")]
    env = make_env(clients, *roles)
    converge_all(clients, env)
    return env


def read_profile(iam: Any) -> tuple[list[str], dict[str, str]]:
    got = iam.get_instance_profile(InstanceProfileName="web")["InstanceProfile"]
    return [r["RoleName"] for r in got["Roles"]], tag_map(got.get("Tags"))


def test_creates_the_profile_with_its_role_and_tags(clients, env, iam):
    plan = converge(HANDLER, clients, profile(role="web-role", path="/ec2/", tags={"team": "web"}), env)

    assert operations(plan) == ["create_instance_profile", "add_role_to_instance_profile"]
    assert read_profile(iam) == (["web-role"], {"team": "web", "iamflow:id": "t/iam_instance_profile.web"})
    assert iam.get_instance_profile(InstanceProfileName="web")["InstanceProfile"]["Path"] == "/ec2/"


def test_a_no_op_run_is_one_read_and_no_write(clients, env, call_log):
    resource = profile(role="web-role", tags={"team": "web"})
    converge(HANDLER, clients, resource, env)
    call_log.reset()

    plan = converge(HANDLER, clients, resource, env)

    assert not plan.changed and plan.diff() == ""
    assert call_log.by_operation() == {"iam:GetInstanceProfile": 1}


def test_converges_drift_made_by_hand(clients, env, iam):
    resource = profile(role="web-role", tags={"team": "web"})
    converge(HANDLER, clients, resource, env)
    iam.remove_role_from_instance_profile(InstanceProfileName="web", RoleName="web-role")
    iam.add_role_to_instance_profile(InstanceProfileName="web", RoleName="other-role")
    iam.tag_instance_profile(
        InstanceProfileName="web", Tags=[{"Key": "team", "Value": "x"}, {"Key": "y", "Value": "1"}]
    )

    plan = converge(HANDLER, clients, resource, env)

    # the old role goes first: a profile holds one role at most
    assert operations(plan) == [
        "remove_role_from_instance_profile",
        "add_role_to_instance_profile",
        "untag_instance_profile",
        "tag_instance_profile",
    ]
    assert read_profile(iam) == (["web-role"], {"team": "web", "iamflow:id": "t/iam_instance_profile.web"})
    assert not plan_of(clients, resource, env).changed


def test_a_role_arn_reference_is_reduced_to_the_role_name(clients, env, iam):
    resource = profile(role="arn:${partition}:iam::${account_id}:role/web-role")

    plan = converge(HANDLER, clients, resource, env)

    assert plan.changes[1].params == {"InstanceProfileName": "web", "RoleName": "web-role"}
    assert read_profile(iam)[0] == ["web-role"]
    assert not plan_of(clients, resource, env).changed


def test_role_unmanaged_or_explicitly_null(clients, env, iam):
    converge(HANDLER, clients, profile(role="web-role"), env)

    assert not plan_of(clients, profile(), env).changed  # role left out: unmanaged
    plan = converge(HANDLER, clients, profile(role=None), env)
    assert operations(plan) == ["remove_role_from_instance_profile"]
    assert read_profile(iam)[0] == []


def test_check_mode_plans_but_cannot_apply(clients, check_clients, env, call_log, iam):
    call_log.reset()

    plan = plan_of(check_clients, profile(role="web-role"), env)
    with pytest.raises(CheckModeViolation):
        HANDLER.apply(check_clients, plan)

    assert operations(plan) == ["create_instance_profile", "add_role_to_instance_profile"]
    assert call_log.count(writes=True) == 0
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_instance_profile(InstanceProfileName="web")


def test_absent_removes_the_role_then_deletes(clients, env, iam):
    converge(HANDLER, clients, profile(role="web-role"), env)
    gone = profile(state="absent")

    plan = converge(HANDLER, clients, gone, env)

    assert operations(plan) == ["remove_role_from_instance_profile", "delete_instance_profile"]
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_instance_profile(InstanceProfileName="web")
    assert iam.get_role(RoleName="web-role")  # the role itself is another resource
    assert not converge(HANDLER, clients, gone, env).changed
