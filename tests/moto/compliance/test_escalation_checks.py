"""The privilege-escalation checks on in-process moto: exact findings from a collected snapshot, flat IAM calls."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import moto
from compliance_moto_helpers import Sleeps

from iamflow.aws.clients import AwsClients, CallLog
from iamflow.compliance.config import ComplianceConfig
from iamflow.compliance.findings import FAIL, PASS, Finding
from iamflow.compliance.sweep import sweep_account

ACCOUNT = "123456789012"
ARN = f"arn:aws:iam::{ACCOUNT}"
CHECKS = ["iam_policy_allows_privilege_escalation", "iam_no_custom_policy_permissive_role_assumption"]
ONLY_THESE = ComplianceConfig.from_dict({"checks": {"enabled": CHECKS}})
LAMBDA_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
EC2_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
LAMBDA_INVOKE = ["iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"]


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: Any, resource: Any = "*") -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def sweep(clients: AwsClients, now: datetime) -> list[Finding]:
    return sweep_account(clients, ACCOUNT, ONLY_THESE, None, now, sleep=Sleeps())


def outcome(findings: list[Finding], check_id: str) -> dict[str, tuple[str, tuple[str, ...]]]:
    """``{resource id: (status, escalation method ids)}`` of one check."""
    return {f.resource_id: (f.status, tuple(m["id"] for m in f.extra.get("escalation_methods", ())))
            for f in findings if f.check_id == check_id}


def _account(iam: Any) -> None:
    """The principals of the issue: each escalates, or is stopped, in one way."""
    iam.create_role(RoleName="lambda-worker", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))
    iam.create_role(RoleName="box", AssumeRolePolicyDocument=json.dumps(EC2_TRUST))
    # a user who can write a new version of a policy it holds
    versioning = iam.create_policy(PolicyName="self-versioning", PolicyDocument=doc(
        allow(["iam:CreatePolicyVersion", "iam:GetPolicy"], f"{ARN}:policy/*")))["Policy"]["Arn"]
    iam.create_user(UserName="alice")
    iam.attach_user_policy(UserName="alice", PolicyArn=versioning)
    # a role that passes a role to a new Lambda function and invokes it
    for name in ("deployer", "bounded-deployer", "denied-deployer", "narrow-deployer"):
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(EC2_TRUST))
    iam.put_role_policy(RoleName="deployer", PolicyName="deploy", PolicyDocument=doc(allow(LAMBDA_INVOKE)))
    # the same, bounded so that it cannot invoke
    boundary = iam.create_policy(PolicyName="no-invoke", PolicyDocument=doc(
        allow(["iam:PassRole", "lambda:CreateFunction", "logs:*"])))["Policy"]["Arn"]
    iam.put_role_policy(RoleName="bounded-deployer", PolicyName="deploy", PolicyDocument=doc(allow(LAMBDA_INVOKE)))
    iam.put_role_permissions_boundary(RoleName="bounded-deployer", PermissionsBoundary=boundary)
    # the same, with a Deny that removes the method
    iam.put_role_policy(RoleName="denied-deployer", PolicyName="deploy", PolicyDocument=doc(
        allow(LAMBDA_INVOKE), {"Effect": "Deny", "Action": "lambda:InvokeFunction", "Resource": "*"}))
    # PassRole limited to the one role it may pass (which Lambda can use)
    iam.put_role_policy(RoleName="narrow-deployer", PolicyName="deploy", PolicyDocument=doc(
        allow("iam:PassRole", f"{ARN}:role/lambda-worker"),
        allow(["lambda:CreateFunction", "lambda:InvokeFunction"], f"arn:aws:lambda:*:{ACCOUNT}:function:app-*")))
    # a user who escalates only through its group's policy
    iam.create_group(GroupName="ops")
    iam.put_group_policy(GroupName="ops", PolicyName="self-admin", PolicyDocument=doc(
        allow("iam:PutGroupPolicy", f"{ARN}:group/ops")))
    iam.create_user(UserName="gus")
    iam.add_user_to_group(GroupName="ops", UserName="gus")
    # a user with nothing of the kind
    iam.create_user(UserName="reader")
    iam.put_user_policy(UserName="reader", PolicyName="read", PolicyDocument=doc(allow(["s3:Get*", "s3:List*"])))
    iam.create_policy(PolicyName="assume-anything", PolicyDocument=doc(allow("sts:AssumeRole")))


def test_escalation_findings_from_a_collected_snapshot(clients, seed, now) -> None:
    _account(seed.iam)
    findings = sweep(clients, now)

    assert outcome(findings, "iam_policy_allows_privilege_escalation") == {
        "alice": (FAIL, ("create-policy-version",)),
        "gus": (FAIL, ("put-group-policy",)),
        "reader": (PASS, ()),
        "deployer": (FAIL, ("passrole-lambda-invoke",)),
        "bounded-deployer": (PASS, ()),
        "denied-deployer": (PASS, ()),
        "narrow-deployer": (FAIL, ("passrole-lambda-invoke",)),
        "lambda-worker": (PASS, ()),
        "box": (PASS, ()),
    }
    by_id = {f.resource_id: f for f in findings if f.check_id == "iam_policy_allows_privilege_escalation"}
    narrow = by_id["narrow-deployer"]
    assert narrow.resource_arn == f"{ARN}:role/narrow-deployer"
    assert narrow.extra["escalation_methods"][0]["targets"] == [f"{ARN}:role/lambda-worker"]
    assert narrow.extra["escalation_methods"][0]["permissions"] == LAMBDA_INVOKE
    assert by_id["alice"].extra["escalation_methods"][0]["targets"] == [f"{ARN}:policy/self-versioning"]
    assert by_id["gus"].extra["escalation_methods"][0]["policies"] == ["inline group/ops/self-admin"]
    assert outcome(findings, "iam_no_custom_policy_permissive_role_assumption") == {
        "self-versioning": (PASS, ()), "no-invoke": (PASS, ()), "assume-anything": (FAIL, ()),
    }


def _population(iam: Any, n: int) -> None:
    """n users in three groups; every fifth one with a self-service inline policy, every tenth one escalating."""
    _account(iam)
    for group in ("readers", "writers", "builders"):
        iam.create_group(GroupName=group)
    iam.put_group_policy(GroupName="builders", PolicyName="build", PolicyDocument=doc(allow(LAMBDA_INVOKE)))
    for i in range(n):
        name = f"user-{i:04d}"
        iam.create_user(UserName=name)
        iam.add_user_to_group(GroupName=("readers", "writers", "builders")[i % 3], UserName=name)
        if i % 5 == 0:
            iam.put_user_policy(UserName=name, PolicyName="self", PolicyDocument=doc(
                allow(["iam:CreateAccessKey", "iam:ChangePassword"], f"{ARN}:user/${{aws:username}}")))
        if i % 10 == 0:
            iam.put_user_policy(UserName=name, PolicyName="keys", PolicyDocument=doc(allow("iam:CreateAccessKey")))


def _measure(n: int, now: datetime) -> tuple[dict[str, int], dict[str, int]]:
    import boto3

    with moto.mock_aws():
        _population(boto3.client("iam", region_name="us-east-1"), n)
        log = CallLog()
        findings = sweep_account(AwsClients.from_boto3(call_log=log), ACCOUNT, ONLY_THESE, None, now, sleep=Sleeps())
        statuses: dict[str, int] = {}
        for f in findings:
            statuses[f.status] = statuses.get(f.status, 0) + 1
        return log.by_operation(), statuses


def test_iam_calls_do_not_grow_with_the_number_of_users(now) -> None:
    small_calls, small = _measure(10, now)
    large_calls, large = _measure(200, now)
    assert small_calls == large_calls
    assert {k for k in large_calls if k.startswith("iam:")} == {"iam:GetAccountAuthorizationDetails"}
    # one finding per user more; builders (a third) pass a role to Lambda, every tenth user creates anyone's keys
    assert sum(large.values()) - sum(small.values()) == 190
    assert large[FAIL] - small[FAIL] > 190 // 3
