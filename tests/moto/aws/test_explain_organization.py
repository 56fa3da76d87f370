"""``iamflow explain`` of a live member account reads the SCPs and RCPs on its path (root → OUs → account).

moto answers a member account's own Organizations reads with AccountNotFoundException (AWS answers
AccessDenied: only the management account or a delegated administrator may read policies), so the
organization is read with the management account's credentials, as ``--org-role-arn`` does.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from iamflow.aws.clients import AwsClients
from iamflow.cli import main
from iamflow.compliance.access import live_policy_set
from iamflow.compliance.targets import Target, clients_for_target
from iamflow.policy.evaluate import evaluate

ADMIN = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def _deny(*actions: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Action": list(actions), "Resource": "*"}]})


@pytest.fixture
def organization(clients: AwsClients) -> dict[str, Any]:
    """root → workloads → member; an SCP on the root, another on the OU; the member holds an admin role."""
    org = boto3.client("organizations", region_name="us-east-1")
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    org.enable_policy_type(RootId=root, PolicyType="SERVICE_CONTROL_POLICY")
    ou = org.create_organizational_unit(ParentId=root, Name="workloads")["OrganizationalUnit"]["Id"]
    member = org.create_account(Email="member@example.com", AccountName="member")["CreateAccountStatus"]["AccountId"]
    org.move_account(AccountId=member, SourceParentId=root, DestinationParentId=ou)
    on_root = org.create_policy(Name="no-leaving", Type="SERVICE_CONTROL_POLICY", Description="",
                                Content=_deny("organizations:LeaveOrganization"))["Policy"]["PolicySummary"]["Id"]
    on_ou = org.create_policy(Name="no-trail-stop", Type="SERVICE_CONTROL_POLICY", Description="",
                              Content=_deny("cloudtrail:StopLogging"))["Policy"]["PolicySummary"]["Id"]
    org.attach_policy(PolicyId=on_root, TargetId=root)
    org.attach_policy(PolicyId=on_ou, TargetId=ou)
    member_clients = clients_for_target(clients, Target(member, f"arn:aws:iam::{member}:role/OrganizationAccountAccessRole"))
    iam = member_clients.client("iam")
    iam.create_role(RoleName="admin", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName="admin", PolicyName="all", PolicyDocument=json.dumps(ADMIN))
    return {"org": org, "root": root, "ou": ou, "member": member, "member_clients": member_clients}


def _answer(org: dict[str, Any], management: AwsClients | None, action: str) -> tuple[Any, list[str]]:
    request, policies, notes = live_policy_set(org["member_clients"], "admin", action, "*", {}, management)
    return evaluate(request, policies), notes


def test_scps_on_the_root_and_the_ou_decide_for_the_member_account(clients, organization) -> None:
    leave, notes = _answer(organization, clients, "organizations:LeaveOrganization")
    assert not leave.allowed and "no-leaving" in leave.summary
    stop, _ = _answer(organization, clients, "cloudtrail:StopLogging")
    assert not stop.allowed and "no-trail-stop" in stop.summary
    ok, _ = _answer(organization, clients, "s3:ListAllMyBuckets")
    assert ok.allowed
    assert any("SCPs of account" in n and "2 on root" in n and "on an OU" in n for n in notes), notes


def test_an_ou_without_full_aws_access_denies_what_no_level_allows(clients, organization) -> None:
    org = organization["org"]
    org.detach_policy(PolicyId="p-FullAWSAccess", TargetId=organization["ou"])
    answer, _ = _answer(organization, clients, "s3:ListAllMyBuckets")
    assert not answer.allowed
    assert answer.to_json()["decision"] == "implicit_deny"


def test_unreadable_organization_policies_are_said_not_hidden(clients, organization) -> None:
    answer, notes = _answer(organization, None, "organizations:LeaveOrganization")
    assert answer.allowed  # evaluated without the SCPs, and the answer says so
    assert any("could not be read" in n and "--org-role-arn" in n for n in notes), notes


def test_the_management_account_is_not_bound_by_scps(clients, organization, capsys) -> None:
    iam = boto3.client("iam", region_name="us-east-1")
    iam.create_role(RoleName="mgmt-admin", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName="mgmt-admin", PolicyName="all", PolicyDocument=json.dumps(ADMIN))
    rc = main(["explain", "--principal", "mgmt-admin", "--action", "organizations:LeaveOrganization",
               "--resource", "*", "--region", "us-east-1", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["decision"] == "allowed"
    assert any("do not apply to the management account" in n for n in out["notes"])
