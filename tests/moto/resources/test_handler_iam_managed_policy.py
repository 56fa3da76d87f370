"""iam_managed_policy against in-process moto: create, versions, drift, check mode, deletion."""

from __future__ import annotations

import json
from typing import Any

import pytest
from _handler_helpers import allow, converge, make_env, operations, plan_of, tag_map, trust

from iamflow.errors import CheckModeViolation
from iamflow.policy.document import policies_equal
from iamflow.resources import handler_for
from iamflow.spec.models import IamManagedPolicy

HANDLER = handler_for("iam_managed_policy")
ARN = "arn:aws:iam::123456789012:policy/app/reader"


MARK = {"iamflow:id": "t/iam_managed_policy.reader"}  # set at creation, never purged


def policy(**fields: Any) -> IamManagedPolicy:
    fields.setdefault("document", allow("s3:GetObject"))
    return IamManagedPolicy(kind="iam_managed_policy", name="reader", path="/app/", **fields)


def default_document(iam: Any) -> dict[str, Any]:
    version = iam.get_policy(PolicyArn=ARN)["Policy"]["DefaultVersionId"]
    return iam.get_policy_version(PolicyArn=ARN, VersionId=version)["PolicyVersion"]["Document"]


def test_creates_the_policy_with_description_path_and_tags(clients, iam):
    resource = policy(description="read things", tags={"team": "data"})
    env = make_env(clients, resource, tags={"owner": "platform"})

    plan = converge(HANDLER, clients, resource, env)

    assert operations(plan) == ["create_policy"]
    assert plan.before is None and plan.after["tags"] == {"owner": "platform", "team": "data", **MARK}
    got = iam.get_policy(PolicyArn=ARN)["Policy"]
    assert got["Description"] == "read things"
    assert got["Path"] == "/app/"
    assert tag_map(got["Tags"]) == {"owner": "platform", "team": "data", **MARK}
    assert policies_equal(default_document(iam), allow("s3:GetObject"))


def test_second_run_is_a_no_op_with_two_reads_and_no_write(clients, call_log):
    resource = policy(tags={"team": "data"})
    env = make_env(clients, resource)
    converge(HANDLER, clients, resource, env)
    call_log.reset()

    plan = converge(HANDLER, clients, resource, env)

    assert not plan.changed
    assert plan.diff() == ""
    assert call_log.count(writes=True) == 0
    assert call_log.by_operation() == {"iam:GetPolicy": 1, "iam:GetPolicyVersion": 1}


def test_an_equal_but_reordered_document_makes_no_change(clients, call_log):
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "A", "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"},
            {"Sid": "B", "Effect": "Deny", "Action": "iam:*", "Resource": ["*"]},
        ],
    }
    reordered = {
        "Statement": [
            {"Resource": "*", "Action": "iam:*", "Effect": "Deny", "Sid": "B"},
            {"Action": ["s3:ListBucket", "s3:GetObject"], "Resource": ["*"], "Effect": "Allow", "Sid": "A"},
        ],
        "Version": "2012-10-17",
    }
    env = make_env(clients, policy(document=doc))
    converge(HANDLER, clients, policy(document=doc), env)
    call_log.reset()

    plan = plan_of(clients, policy(document=reordered), env)

    assert not plan.changed
    # equal documents: the versions are not even listed
    assert "iam:ListPolicyVersions" not in call_log.by_operation()


def test_a_document_change_creates_a_new_default_version(clients, iam):
    env = make_env(clients, policy())
    converge(HANDLER, clients, policy(), env)

    plan = converge(HANDLER, clients, policy(document=allow("s3:PutObject")), env)

    assert operations(plan) == ["create_policy_version"]
    assert plan.changes[0].params["SetAsDefault"] is True
    assert "s3:putobject" in plan.diff().lower()
    assert policies_equal(default_document(iam), allow("s3:PutObject"))
    assert iam.get_policy(PolicyArn=ARN)["Policy"]["DefaultVersionId"] == "v2"


def test_six_document_changes_keep_at_most_five_versions_pruning_the_oldest(clients, iam):
    env = make_env(clients, policy())
    converge(HANDLER, clients, policy(document=allow("s3:Action0")), env)

    for i in range(1, 7):
        plan = converge(HANDLER, clients, policy(document=allow(f"s3:Action{i}")), env)
        if i >= 5:  # v1..v5 exist: the oldest non-default goes first
            assert operations(plan) == ["delete_policy_version", "create_policy_version"]
            assert plan.changes[0].params["VersionId"] == f"v{i - 4}"
        else:
            assert operations(plan) == ["create_policy_version"]

    versions = iam.list_policy_versions(PolicyArn=ARN)["Versions"]
    assert sorted(v["VersionId"] for v in versions) == ["v3", "v4", "v5", "v6", "v7"]
    assert [v["VersionId"] for v in versions if v["IsDefaultVersion"]] == ["v7"]
    assert policies_equal(default_document(iam), allow("s3:Action6"))


def test_prunes_the_oldest_non_default_even_when_the_default_is_older(clients, iam):
    env = make_env(clients, policy())
    converge(HANDLER, clients, policy(document=allow("s3:A1")), env)
    for i in range(2, 6):
        iam.create_policy_version(PolicyArn=ARN, PolicyDocument=json.dumps(allow(f"s3:A{i}")))
    # five versions, v1 still default: v2 is the oldest non-default
    plan = converge(HANDLER, clients, policy(document=allow("s3:New")), env)

    assert operations(plan) == ["delete_policy_version", "create_policy_version"]
    assert plan.changes[0].params["VersionId"] == "v2"
    ids = sorted(v["VersionId"] for v in iam.list_policy_versions(PolicyArn=ARN)["Versions"])
    assert ids == ["v1", "v3", "v4", "v5", "v6"]


def test_converges_drift_made_by_hand(clients, iam):
    resource = policy(tags={"team": "data", "cost": "1"})
    env = make_env(clients, resource)
    converge(HANDLER, clients, resource, env)
    iam.create_policy_version(PolicyArn=ARN, PolicyDocument=json.dumps(allow("*")), SetAsDefault=True)
    iam.tag_policy(PolicyArn=ARN, Tags=[{"Key": "extra", "Value": "x"}, {"Key": "cost", "Value": "2"}])

    plan = converge(HANDLER, clients, resource, env)

    assert operations(plan) == ["create_policy_version", "untag_policy", "tag_policy"]
    assert policies_equal(default_document(iam), allow("s3:GetObject"))
    assert tag_map(iam.get_policy(PolicyArn=ARN)["Policy"]["Tags"]) == {"team": "data", "cost": "1", **MARK}
    assert not plan_of(clients, resource, env).changed


def test_tags_unmanaged_or_not_purged_are_left_alone(clients, iam):
    env = make_env(clients, policy())
    converge(HANDLER, clients, policy(tags={"a": "1"}), env)
    iam.tag_policy(PolicyArn=ARN, Tags=[{"Key": "b", "Value": "2"}])

    assert not plan_of(clients, policy(), env).changed  # tags left out: unmanaged
    plan = plan_of(clients, policy(tags={"a": "1", "c": "3"}, purge_tags=False), env)
    assert operations(plan) == ["tag_policy"]
    assert plan.after["tags"] == {"a": "1", "b": "2", "c": "3", **MARK}


def test_aws_reserved_tags_are_never_removed(clients, iam):
    env = make_env(clients, policy())
    converge(HANDLER, clients, policy(tags={"a": "1"}), env)
    # AWS itself refuses to let a caller set aws: tags; moto does not, which lets us test this
    iam.tag_policy(PolicyArn=ARN, Tags=[{"Key": "aws:cloudformation:stack-name", "Value": "s"}])

    plan = converge(HANDLER, clients, policy(tags={}), env)

    assert operations(plan) == ["untag_policy"]
    assert plan.changes[0].params["TagKeys"] == ["a"]
    # iamflow's own iamflow:id stays too
    assert tag_map(iam.get_policy(PolicyArn=ARN)["Policy"]["Tags"]) == {"aws:cloudformation:stack-name": "s", **MARK}


def test_a_description_difference_is_a_note_not_a_change(clients):
    env = make_env(clients, policy())
    converge(HANDLER, clients, policy(description="old"), env)

    plan = plan_of(clients, policy(description="new"), env)

    assert not plan.changed
    assert any("description cannot change" in note for note in plan.notes)


def test_placeholders_are_filled_before_comparing_and_sending(clients, iam):
    doc = allow("s3:GetObject", resource="arn:${partition}:s3:::bucket-${account_id}/*")
    env = make_env(clients, policy(document=doc))

    converge(HANDLER, clients, policy(document=doc), env)

    stored = default_document(iam)
    assert stored["Statement"][0]["Resource"] == "arn:aws:s3:::bucket-123456789012/*"
    assert not plan_of(clients, policy(document=doc), env).changed


def test_check_mode_plans_but_cannot_apply(clients, check_clients, call_log, iam):
    resource = policy()
    env = make_env(clients, resource)
    call_log.reset()

    plan = plan_of(check_clients, resource, env)
    assert operations(plan) == ["create_policy"]
    assert "+" in plan.diff()
    with pytest.raises(CheckModeViolation):
        HANDLER.apply(check_clients, plan)

    assert call_log.count(writes=True) == 0
    assert call_log.refused == [("iam", "CreatePolicy")]
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_policy(PolicyArn=ARN)


def test_absent_detaches_from_every_entity_and_deletes_versions_first(clients, iam):
    env = make_env(clients, policy())
    converge(HANDLER, clients, policy(), env)
    iam.create_policy_version(PolicyArn=ARN, PolicyDocument=json.dumps(allow("s3:Other")))
    iam.create_role(RoleName="r", AssumeRolePolicyDocument=json.dumps(trust()))
    iam.attach_role_policy(RoleName="r", PolicyArn=ARN)
    iam.create_user(UserName="u")
    iam.attach_user_policy(UserName="u", PolicyArn=ARN)
    iam.create_group(GroupName="g")
    iam.attach_group_policy(GroupName="g", PolicyArn=ARN)
    gone = IamManagedPolicy(kind="iam_managed_policy", name="reader", path="/app/", state="absent")

    plan = converge(HANDLER, clients, gone, env)

    assert operations(plan) == [
        "detach_group_policy",
        "detach_user_policy",
        "detach_role_policy",
        "delete_policy_version",
        "delete_policy",
    ]
    assert plan.after is None
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_policy(PolicyArn=ARN)
    assert iam.list_attached_role_policies(RoleName="r")["AttachedPolicies"] == []
    assert iam.list_attached_user_policies(UserName="u")["AttachedPolicies"] == []
    assert iam.list_attached_group_policies(GroupName="g")["AttachedPolicies"] == []
    again = converge(HANDLER, clients, gone, env)
    assert not again.changed and again.before is None
