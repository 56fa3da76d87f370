"""iam_role against in-process moto: create, drift, partial management, check mode, faults, deletion."""

from __future__ import annotations

import json
from typing import Any

import pytest
from _handler_helpers import allow, converge, converge_all, make_env, operations, plan_of, tag_map, trust
from botocore.exceptions import ClientError

from iamflow.errors import ApplyError, CheckModeViolation
from iamflow.policy.document import policies_equal
from iamflow.resources import handler_for
from iamflow.resources.base import PlanEnv
from iamflow.spec.models import IamInstanceProfile, IamManagedPolicy, IamRole
from tests.helpers.faults import fail_nth_write

HANDLER = handler_for("iam_role")
ACCOUNT = "123456789012"
P = f"arn:aws:iam::{ACCOUNT}:policy"


def managed(name: str, *actions: str) -> IamManagedPolicy:
    return IamManagedPolicy(
        kind="iam_managed_policy", name=name, document=allow(*(actions or ("s3:GetObject",)))
    )


def role(**fields: Any) -> IamRole:
    fields.setdefault("trust_policy", trust())
    return IamRole(kind="iam_role", name="app", **fields)


FULL = dict(
    description="the app",
    managed_policies=["read", "write"],
    inline_policies={"logs": allow("logs:PutLogEvents")},
    boundary="boundary",
    max_session_duration=7200,
    tags={"team": "data"},
)


@pytest.fixture
def env(clients: Any) -> PlanEnv:
    """A playbook with three managed policies (two to attach, one boundary), already converged."""
    policies = [
        managed("read", "s3:GetObject"),
        managed("write", "s3:PutObject"),
        managed("boundary", "s3:*"),
    ]
    env = make_env(clients, *policies, tags={"owner": "platform"})
    converge_all(clients, env)
    return env


def read_role(iam: Any) -> dict[str, Any]:
    """The role as plain boto3 sees it, in one dict."""
    got = iam.get_role(RoleName="app")["Role"]
    return {
        "trust": got["AssumeRolePolicyDocument"],
        "description": got.get("Description"),
        "max": got["MaxSessionDuration"],
        "boundary": (got.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn"),
        "tags": tag_map(got.get("Tags")),
        "attached": sorted(
            p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName="app")["AttachedPolicies"]
        ),
        "inline": {
            n: iam.get_role_policy(RoleName="app", PolicyName=n)["PolicyDocument"]
            for n in iam.list_role_policies(RoleName="app")["PolicyNames"]
        },
    }


MARK = {"iamflow:id": "t/iam_role.app"}  # set at creation, never purged


def assert_full_role(iam: Any) -> None:
    got = read_role(iam)
    assert policies_equal(got["trust"], trust())
    assert got["description"] == "the app"
    assert got["max"] == 7200
    assert got["boundary"] == f"{P}/boundary"
    assert got["tags"] == {"owner": "platform", "team": "data", **MARK}
    assert got["attached"] == [f"{P}/read", f"{P}/write"]
    assert list(got["inline"]) == ["logs"]
    assert policies_equal(got["inline"]["logs"], allow("logs:PutLogEvents"))


def test_creates_the_role_with_everything_in_as_few_calls_as_possible(clients, env, iam):
    plan = converge(HANDLER, clients, role(**FULL), env)

    assert operations(plan) == ["create_role", "attach_role_policy", "attach_role_policy", "put_role_policy"]
    create = plan.changes[0].params
    assert create["PermissionsBoundary"] == f"{P}/boundary"
    assert create["MaxSessionDuration"] == 7200
    assert create["Description"] == "the app"
    assert tag_map(create["Tags"]) == {"owner": "platform", "team": "data", **MARK}
    assert plan.before is None and plan.after["managed_policies"] == [f"{P}/read", f"{P}/write"]
    assert_full_role(iam)


def test_a_no_op_run_makes_no_write_and_at_most_four_reads(clients, env, call_log):
    converge(HANDLER, clients, role(**FULL), env)
    call_log.reset()

    plan = converge(HANDLER, clients, role(**FULL), env)

    assert not plan.changed
    assert plan.diff() == ""
    assert call_log.count(writes=True) == 0
    assert call_log.count() <= 4
    assert call_log.by_operation() == {
        "iam:GetRole": 1,
        "iam:ListRolePolicies": 1,
        "iam:GetRolePolicy": 1,
        "iam:ListAttachedRolePolicies": 1,
    }


def test_a_role_without_managed_inline_policies_reads_no_inline_document(clients, env, call_log, iam):
    converge(HANDLER, clients, role(**FULL), env)
    call_log.reset()

    partial = {k: v for k, v in FULL.items() if k != "inline_policies"}
    assert not converge(HANDLER, clients, role(**partial), env).changed
    assert call_log.count() == 3
    assert "iam:GetRolePolicy" not in call_log.by_operation()
    assert list(read_role(iam)["inline"]) == ["logs"]  # unmanaged: untouched


def test_converges_drift_made_by_hand(clients, env, iam):
    converge(HANDLER, clients, role(**FULL), env)
    iam.update_assume_role_policy(RoleName="app", PolicyDocument=json.dumps(trust("lambda.amazonaws.com")))
    iam.detach_role_policy(RoleName="app", PolicyArn=f"{P}/write")
    iam.attach_role_policy(RoleName="app", PolicyArn=f"{P}/boundary")
    iam.tag_role(RoleName="app", Tags=[{"Key": "extra", "Value": "x"}])
    iam.put_role_permissions_boundary(RoleName="app", PermissionsBoundary=f"{P}/read")
    iam.put_role_policy(RoleName="app", PolicyName="logs", PolicyDocument=json.dumps(allow("*")))
    iam.put_role_policy(RoleName="app", PolicyName="sneaky", PolicyDocument=json.dumps(allow("iam:*")))
    iam.update_role(RoleName="app", Description="the app", MaxSessionDuration=43200)

    plan = converge(HANDLER, clients, role(**FULL), env)

    assert operations(plan) == [
        "update_assume_role_policy",
        "update_role",
        "put_role_permissions_boundary",
        "detach_role_policy",
        "attach_role_policy",
        "delete_role_policy",
        "put_role_policy",
        "untag_role",
    ]
    diff = plan.diff()
    assert "lambda.amazonaws.com" in diff and "43200" in diff and "sneaky" in diff
    assert_full_role(iam)
    assert not plan_of(clients, role(**FULL), env).changed


def test_update_role_keeps_the_description_when_only_the_max_session_changes(clients, env, iam):
    converge(HANDLER, clients, role(**FULL), env)

    plan = converge(HANDLER, clients, role(**{**FULL, "max_session_duration": 3600}), env)

    assert operations(plan) == ["update_role"]
    assert plan.changes[0].summary == "update the max session duration of role app"
    got = read_role(iam)
    assert (got["description"], got["max"]) == ("the app", 3600)


def test_unmanaged_fields_are_left_alone(clients, env, iam):
    converge(HANDLER, clients, role(**FULL), env)
    iam.attach_role_policy(RoleName="app", PolicyArn=f"{P}/boundary")
    iam.update_role(RoleName="app", Description="changed by hand", MaxSessionDuration=10800)

    # only the trust policy declared: nothing else is compared
    plan = converge(HANDLER, clients, role(), env)

    # the playbook's default tags still apply (they are declared, for every resource)
    assert operations(plan) == ["untag_role"]
    got = read_role(iam)
    assert got["boundary"] == f"{P}/boundary"
    assert f"{P}/boundary" in got["attached"]
    assert (got["description"], got["max"]) == ("changed by hand", 10800)


def test_purge_policies_false_keeps_undeclared_attachments(clients, env, iam):
    converge(HANDLER, clients, role(**FULL), env)
    iam.attach_role_policy(RoleName="app", PolicyArn=f"{P}/boundary")

    plan = converge(
        HANDLER, clients, role(**{**FULL, "purge_policies": False, "managed_policies": ["read"]}), env
    )

    assert not plan.changed
    assert read_role(iam)["attached"] == [f"{P}/boundary", f"{P}/read", f"{P}/write"]


def test_explicit_empty_and_null_mean_make_it_empty(clients, env, iam):
    converge(HANDLER, clients, role(**FULL), env)

    plan = converge(
        HANDLER,
        clients,
        role(**{**FULL, "managed_policies": [], "inline_policies": {}, "boundary": None}),
        env,
    )

    assert operations(plan) == [
        "delete_role_permissions_boundary",
        "detach_role_policy",
        "detach_role_policy",
        "delete_role_policy",
    ]
    got = read_role(iam)
    assert (got["attached"], got["inline"], got["boundary"]) == ([], {}, None)


def test_an_arn_reference_and_placeholders_resolve(clients, env, iam):
    trust_doc = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:${partition}:iam::${account_id}:root"},
                "Action": "sts:AssumeRole",
            }
        ]
    }
    resource = role(
        trust_policy=trust_doc, managed_policies=["arn:${partition}:iam::${account_id}:policy/read"]
    )

    converge(HANDLER, clients, resource, env)

    got = read_role(iam)
    assert got["attached"] == [f"{P}/read"]
    assert got["trust"]["Statement"][0]["Principal"]["AWS"] == f"arn:aws:iam::{ACCOUNT}:root"
    assert not plan_of(clients, resource, env).changed


def test_a_path_difference_is_a_note(clients, env):
    converge(HANDLER, clients, role(), env)

    plan = plan_of(clients, role(path="/other/"), env)

    assert not plan.changed and plan.blocked is None
    assert any("path cannot change without replacement" in note for note in plan.notes)


def test_aws_reserved_tags_are_never_removed(clients, env, iam):
    converge(HANDLER, clients, role(**FULL), env)
    # AWS refuses aws: tags from callers; moto accepts them, which lets us test the real path
    iam.tag_role(RoleName="app", Tags=[{"Key": "aws:cloudformation:stack-id", "Value": "s"}])

    plan = converge(HANDLER, clients, role(**{**FULL, "tags": {}}), env)

    assert operations(plan) == ["untag_role"]
    assert plan.changes[0].params["TagKeys"] == ["team"]
    assert read_role(iam)["tags"] == {"aws:cloudformation:stack-id": "s", "owner": "platform", **MARK}


def test_aws_reserved_tags_are_kept_by_a_pure_plan(clients, env):
    current = {
        "name": "app",
        "arn": f"arn:aws:iam::{ACCOUNT}:role/app",
        "path": "/",
        "description": None,
        "max_session_duration": 3600,
        "trust_policy": trust(),
        "boundary": None,
        "tags": {"aws:autoscaling:groupName": "g", "stale": "1"},
        "managed_policies": [],
        "inline_policy_names": [],
        "inline_policies": None,
        "instance_profiles": None,
    }

    plan = HANDLER.plan(role(tags={}), current, env)

    assert operations(plan) == ["untag_role", "tag_role"]  # the playbook's default tag is added
    assert plan.changes[0].params["TagKeys"] == ["stale"]
    assert plan.after["tags"] == {"aws:autoscaling:groupName": "g", "owner": "platform"}


def test_check_mode_plans_but_cannot_apply(clients, check_clients, env, call_log, iam):
    call_log.reset()

    plan = plan_of(check_clients, role(**FULL), env)
    assert operations(plan)[0] == "create_role"
    with pytest.raises(CheckModeViolation):
        HANDLER.apply(check_clients, plan)

    assert call_log.count(writes=True) == 0
    assert call_log.refused == [("iam", "CreateRole")]
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName="app")


def test_check_mode_shows_drift_and_changes_nothing(clients, check_clients, env, call_log, iam):
    converge(HANDLER, clients, role(**FULL), env)
    iam.update_role(RoleName="app", Description="the app", MaxSessionDuration=43200)
    call_log.reset()

    plan = plan_of(check_clients, role(**FULL), env)

    assert operations(plan) == ["update_role"]
    assert "43200" in plan.diff()
    with pytest.raises(CheckModeViolation):
        HANDLER.apply(check_clients, plan)
    assert read_role(iam)["max"] == 43200
    assert call_log.count(writes=True) == 0


def test_absent_removes_dependants_first(clients, env, iam):
    converge(HANDLER, clients, role(**FULL), env)
    profile = IamInstanceProfile(kind="iam_instance_profile", name="app-profile", role="app")
    converge(handler_for("iam_instance_profile"), clients, profile, env)
    gone = IamRole(kind="iam_role", name="app", state="absent")

    plan = converge(HANDLER, clients, gone, env)

    assert operations(plan) == [
        "remove_role_from_instance_profile",
        "detach_role_policy",
        "detach_role_policy",
        "delete_role_policy",
        "delete_role",
    ]
    assert plan.after is None and plan.before["inline_policies"]["logs"] is not None
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName="app")
    assert iam.get_instance_profile(InstanceProfileName="app-profile")["InstanceProfile"]["Roles"] == []
    assert iam.get_policy(PolicyArn=f"{P}/read")["Policy"]["AttachmentCount"] == 0
    assert not converge(HANDLER, clients, gone, env).changed


# create_role, attach x2, put_role_policy: the boundary and tags ride on create_role
CREATE_WRITES = 4


@pytest.mark.parametrize("n", range(1, CREATE_WRITES + 1))
def test_a_failed_write_during_creation_is_converged_by_the_next_run(clients, env, iam, aws, n):
    from iamflow.aws.clients import AwsClients

    fault = fail_nth_write(clients, n, code="AccessDenied")
    with pytest.raises(ApplyError, match=r"^Failed to .*: AccessDenied: "):
        converge(HANDLER, clients, role(**FULL), env)
    assert fault.failed and fault.failed[0][0] == "iam"

    healthy = AwsClients.from_boto3()
    plan = converge(HANDLER, healthy, role(**FULL), env)

    assert plan.changed
    assert_full_role(iam)
    assert [r["RoleName"] for r in iam.list_roles()["Roles"]] == ["app"]
    assert not plan_of(healthy, role(**FULL), env).changed


def test_a_transient_failure_is_re_raised_for_airflow_to_retry(clients, env, iam):
    fail_nth_write(clients, 2, code="Throttling")

    with pytest.raises(ClientError) as raised:
        converge(HANDLER, clients, role(**FULL), env)

    assert raised.value.response["Error"]["Code"] == "Throttling"
    assert iam.get_role(RoleName="app")  # the first write went through
