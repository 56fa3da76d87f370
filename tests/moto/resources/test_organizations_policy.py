"""organizations_policy against in-process moto: SCPs and RCPs, exact attachments, drift, faults, no-op."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from _handler_helpers import converge, make_env, operations, plan_of, tag_map
from botocore.exceptions import ClientError

from iamflow.errors import ApplyError, IamflowError
from iamflow.resources import handler_for
from iamflow.spec.kinds_orgs import OrganizationsPolicy
from tests.helpers.faults import fail_nth_write, lose_nth_write

HANDLER = handler_for("organizations_policy")
DENY_LEAVE = {"Version": "2012-10-17", "Statement": [
    {"Sid": "DenyLeave", "Effect": "Deny", "Action": "organizations:LeaveOrganization", "Resource": "*"}]}
DENY_TRAIL = {"Version": "2012-10-17", "Statement": [
    {"Sid": "DenyStop", "Effect": "Deny", "Action": ["cloudtrail:StopLogging", "cloudtrail:DeleteTrail"],
     "Resource": "*"}]}
RCP_DOC = {"Version": "2012-10-17", "Statement": [
    {"Sid": "OnlyTls", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*",
     "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}


@pytest.fixture
def org(clients: Any) -> Any:
    """An organization (SCPs enabled on the root) with OUs workloads and sandbox, and a member account."""
    client = boto3.client("organizations", region_name="us-east-1")
    client.create_organization(FeatureSet="ALL")
    root = client.list_roots()["Roots"][0]["Id"]
    client.enable_policy_type(RootId=root, PolicyType="SERVICE_CONTROL_POLICY")
    workloads = client.create_organizational_unit(ParentId=root, Name="workloads")["OrganizationalUnit"]["Id"]
    client.create_organizational_unit(ParentId=workloads, Name="sandbox")
    account = client.create_account(Email="member@example.com", AccountName="member")["CreateAccountStatus"]
    client.root_id = root  # type: ignore[attr-defined]
    client.workloads = workloads  # type: ignore[attr-defined]
    client.member = account["AccountId"]  # type: ignore[attr-defined]
    return client


def scp(**fields: Any) -> OrganizationsPolicy:
    fields.setdefault("document", DENY_LEAVE)
    return OrganizationsPolicy(kind="organizations_policy", name="guardrails", **fields)


def policy_named(org: Any, name: str, policy_type: str = "SERVICE_CONTROL_POLICY") -> dict[str, Any]:
    (found,) = [p for p in org.list_policies(Filter=policy_type)["Policies"] if p["Name"] == name]
    return dict(found)


def targets_of(org: Any, policy_id: str) -> set[str]:
    return {t["TargetId"] for t in org.list_targets_for_policy(PolicyId=policy_id)["Targets"]}


def full_access_targets(org: Any) -> set[str]:
    return targets_of(org, "p-FullAWSAccess")


def test_create_attaches_to_root_ou_name_and_account_then_a_re_run_is_a_no_op(clients, org, call_log):
    res = scp(description="guardrails", targets=["root", "sandbox", org.member], tags={"Team": "security"})
    env = make_env(clients, res)
    plan = converge(HANDLER, clients, res, env)
    assert operations(plan) == ["create_policy", "attach_policy", "attach_policy", "attach_policy"]

    policy = policy_named(org, "guardrails")
    content = json.loads(org.describe_policy(PolicyId=policy["Id"])["Policy"]["Content"])
    assert content == DENY_LEAVE and policy["Description"] == "guardrails"
    sandbox = org.list_organizational_units_for_parent(ParentId=org.workloads)["OrganizationalUnits"][0]["Id"]
    assert targets_of(org, policy["Id"]) == {org.root_id, sandbox, org.member}
    assert tag_map(org.list_tags_for_resource(ResourceId=policy["Id"])["Tags"]) == {
        "Team": "security", "iamflow:id": "t/organizations_policy.guardrails"}
    assert org.root_id in full_access_targets(org)

    call_log.reset()
    again = converge(HANDLER, clients, res, env)
    assert not again.changed and again.diff() == "", again.summary()
    assert call_log.count(writes=True) == 0


def test_drift_in_document_description_tags_and_targets_is_converged_exactly(clients, org, call_log):
    res = scp(description="guardrails", targets=["root"], tags={"Team": "security"})
    env = make_env(clients, res)
    converge(HANDLER, clients, res, env)
    policy_id = policy_named(org, "guardrails")["Id"]
    org.update_policy(PolicyId=policy_id, Content=json.dumps(DENY_TRAIL), Description="changed by hand")
    org.attach_policy(PolicyId=policy_id, TargetId=org.workloads)
    org.detach_policy(PolicyId=policy_id, TargetId=org.root_id)
    org.tag_resource(ResourceId=policy_id, Tags=[{"Key": "extra", "Value": "x"}])

    plan = plan_of(clients, res, env)
    assert operations(plan) == ["update_policy", "untag_resource", "attach_policy", "detach_policy"]
    assert "cloudtrail:stoplogging" in plan.diff().lower()
    HANDLER.apply(clients, plan)

    assert json.loads(org.describe_policy(PolicyId=policy_id)["Policy"]["Content"]) == DENY_LEAVE
    assert targets_of(org, policy_id) == {org.root_id}
    # FullAWSAccess is never touched by another policy's convergence
    assert {org.root_id, org.workloads} <= full_access_targets(org)
    call_log.reset()
    assert not converge(HANDLER, clients, res, env).changed
    assert call_log.count(writes=True) == 0


def test_targets_left_out_are_unmanaged(clients, org):
    converge(HANDLER, clients, scp(targets=["root"]), make_env(clients, scp(targets=["root"])))
    policy_id = policy_named(org, "guardrails")["Id"]
    org.attach_policy(PolicyId=policy_id, TargetId=org.workloads)
    assert not plan_of(clients, scp(), make_env(clients, scp())).changed


def test_check_mode_makes_no_write(clients, check_clients, org, call_log):
    res = scp(targets=["root"])
    env = make_env(clients, res)
    plan = plan_of(check_clients, res, env)
    assert operations(plan) == ["create_policy", "attach_policy"]
    with pytest.raises(Exception, match="check mode"):
        HANDLER.apply(check_clients, plan)
    assert call_log.count(writes=True) == 0
    assert [p["Name"] for p in org.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]] == ["FullAWSAccess"]


def test_absent_detaches_everywhere_then_deletes(clients, org, call_log):
    res = scp(targets=["root", "workloads"])
    converge(HANDLER, clients, res, make_env(clients, res))
    gone = OrganizationsPolicy(kind="organizations_policy", name="guardrails", state="absent")
    plan = converge(HANDLER, clients, gone, make_env(clients, gone))
    assert operations(plan) == ["detach_policy", "detach_policy", "delete_policy"]
    assert [p["Name"] for p in org.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]] == ["FullAWSAccess"]
    assert org.root_id in full_access_targets(org)
    call_log.reset()
    assert not converge(HANDLER, clients, gone, make_env(clients, gone)).changed
    assert call_log.count(writes=True) == 0


def test_full_aws_access_is_detached_only_when_declared(clients, org):
    declared = OrganizationsPolicy(kind="organizations_policy", name="FullAWSAccess", targets=["root"])
    plan = converge(HANDLER, clients, declared, make_env(clients, declared))
    # from the accounts and the two OUs, never from the root it is declared on
    detached = {c.params["TargetId"] for c in plan.changes}
    assert set(operations(plan)) == {"detach_policy"}
    assert {org.member, org.workloads} <= detached and org.root_id not in detached
    assert full_access_targets(org) == {org.root_id}


def test_an_rcp_enables_its_type_and_rcp_full_access_is_never_detached(clients, org):
    res = OrganizationsPolicy(kind="organizations_policy", name="tls-only", type="RESOURCE_CONTROL_POLICY",
                              document=RCP_DOC, targets=["workloads"])
    plan = converge(HANDLER, clients, res, make_env(clients, res))
    assert operations(plan) == ["create_policy", "enable_policy_type", "attach_policy"]
    rcp = policy_named(org, "tls-only", "RESOURCE_CONTROL_POLICY")
    assert targets_of(org, rcp["Id"]) == {org.workloads}

    declared = OrganizationsPolicy(kind="organizations_policy", name="RCPFullAWSAccess",
                                   type="RESOURCE_CONTROL_POLICY", targets=["root"])
    blocked = plan_of(clients, declared, make_env(clients, declared))
    assert blocked.blocked and "cannot be detached" in blocked.blocked


def test_an_unknown_or_ambiguous_ou_name_blocks_the_plan(clients, org, call_log):
    org.create_organizational_unit(ParentId=org.root_id, Name="sandbox")  # a second OU of that name
    for target, words in (("nowhere", "no OU has this name"), ("sandbox", "2 OUs have this name")):
        res = scp(targets=[target])
        plan = plan_of(clients, res, make_env(clients, res))
        assert plan.blocked and words in plan.blocked and target in plan.blocked
        with pytest.raises(ApplyError):
            HANDLER.apply(clients, plan)
    assert call_log.count(writes=True) == 0


def test_outside_an_organization_the_error_says_so(clients):
    res = scp(targets=["root"])
    with pytest.raises(IamflowError, match="not a member of an AWS Organization"):
        plan_of(clients, res, make_env(clients, res))


def test_a_failed_attach_names_the_policy_and_a_retry_converges(clients, org):
    res = scp(targets=["root", "workloads"])
    env = make_env(clients, res)
    fault = fail_nth_write(clients, 2, code="ConstraintViolationException")
    with pytest.raises(ApplyError, match=r"^Failed to attach SCP guardrails to ou-.*ConstraintViolation"):
        converge(HANDLER, clients, res, env)
    fault.remove()
    plan = converge(HANDLER, clients, res, env)
    assert operations(plan) == ["attach_policy", "attach_policy"]
    assert len([p for p in org.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]
                if p["Name"] == "guardrails"]) == 1


def test_throttling_propagates_for_the_task_retry(clients, org):
    res = scp(targets=["root"])
    fail_nth_write(clients, 1, code="TooManyRequestsException")
    with pytest.raises(ClientError) as raised:
        converge(HANDLER, clients, res, make_env(clients, res))
    assert raised.value.response["Error"]["Code"] == "TooManyRequestsException"


def test_a_lost_create_answer_adopts_the_policy_instead_of_failing(clients, org, no_retry_delay):
    res = scp(targets=["root"])
    env = make_env(clients, res)
    lose_nth_write(clients, 1)
    plan = converge(HANDLER, clients, res, env)
    assert any("adopted" in n for n in plan.notes)
    assert len([p for p in org.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]
                if p["Name"] == "guardrails"]) == 1
    assert not plan_of(clients, res, env).changed


def test_expectations_are_proven_in_the_plan_and_a_wrong_one_blocks_it(clients, org, call_log):
    res = scp(targets=["root"], expect={
        "denied": [{"action": "organizations:LeaveOrganization", "resource": "*"}],
        "allowed": [{"action": "s3:ListAllMyBuckets", "resource": "*"}]})
    plan = plan_of(clients, res, make_env(clients, res))
    assert not plan.blocked
    assert sum("holds" in n for n in plan.notes) == 2
    wrong = scp(targets=["root"], expect={"denied": [{"action": "s3:ListAllMyBuckets", "resource": "*"}]})
    plan = plan_of(clients, wrong, make_env(clients, wrong))
    assert plan.blocked and "do not hold" in plan.blocked
    assert call_log.count(writes=True) == 0


def test_the_shipped_guardrails_apply_prove_and_stay_put(clients, org, call_log):
    from iamflow.engine import run_playbook
    from iamflow.settings import project_root
    from iamflow.spec.loader import load_playbook

    pb = load_playbook(project_root() / "include" / "playbooks" / "org-guardrails.yaml")
    first = run_playbook(clients, pb)
    assert [r.status for r in first.results] == ["changed"], [r.error for r in first.results]
    policy_id = policy_named(org, "org-guardrails")["Id"]
    assert targets_of(org, policy_id) == {org.root_id}
    sids = {s["Sid"] for s in json.loads(org.describe_policy(PolicyId=policy_id)["Policy"]["Content"])["Statement"]}
    assert sids == {"DenyLeavingTheOrganization", "DenyStoppingOrDeletingCloudTrail",
                    "DenyRootCredentialsInMemberAccounts"}
    call_log.reset()
    second = run_playbook(clients, pb)
    assert [r.status for r in second.results] == ["ok"]
    assert call_log.count(writes=True) == 0
