"""Privilege escalation: the method table, the per-principal analysis and both checks, on hand-built snapshots.

Every case is a small account; the assertions name the exact methods each principal is found to
have (none: PASS), decided by the real offline evaluator.
"""

from __future__ import annotations

from typing import Any

import pytest
from compliance_builders import ACCOUNT, auth, policy, principal, run, snapshot

from iamflow.compliance import escalation as esc
from iamflow.compliance.checks import iam_escalation as checks
from iamflow.compliance.findings import ERROR, FAIL, PASS
from iamflow.compliance.snapshot import AuthorizationDetails
from iamflow.policy.arn import pattern_matches_format
from iamflow.policy.catalog import catalog

ARN = f"arn:aws:iam::{ACCOUNT}"


def stmt(effect: str, action: Any, resource: Any = "*", condition: dict[str, Any] | None = None,
         *, not_action: bool = False, not_resource: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"Effect": effect, ("NotAction" if not_action else "Action"): action,
                           ("NotResource" if not_resource else "Resource"): resource}
    if condition:
        out["Condition"] = condition
    return out


def allow(action: Any, resource: Any = "*", condition: dict[str, Any] | None = None, **kw: bool) -> dict[str, Any]:
    return stmt("Allow", action, resource, condition, **kw)


def deny(action: Any, resource: Any = "*", condition: dict[str, Any] | None = None, **kw: bool) -> dict[str, Any]:
    return stmt("Deny", action, resource, condition, **kw)


def pdoc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def service_trust(*services: str) -> dict[str, Any]:
    return pdoc({"Effect": "Allow", "Principal": {"Service": list(services)}, "Action": "sts:AssumeRole"})


def aws_trust(*arns: str) -> dict[str, Any]:
    return pdoc({"Effect": "Allow", "Principal": {"AWS": list(arns)}, "Action": "sts:AssumeRole"})


def user(name: str, *statements: dict[str, Any], **kw: Any) -> Any:
    inline = {"own": pdoc(*statements)} if statements else {}
    return principal("user", name, inline_policies=inline, **kw)


def role(name: str, *statements: dict[str, Any], trust: dict[str, Any] | None = None, **kw: Any) -> Any:
    inline = {"own": pdoc(*statements)} if statements else {}
    return principal("role", name, inline_policies=inline, trust_policy=trust or service_trust("ec2.amazonaws.com"),
                     **kw)


LAMBDA_ROLE = role("lambda-worker", trust=service_trust("lambda.amazonaws.com"))
LAMBDA_INVOKE = ("iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction")
BOUNDARY = policy("no-invoke-boundary", pdoc(allow(["iam:PassRole", "lambda:CreateFunction", "s3:*"])))
SELF_VERSIONING = policy("self-versioning", pdoc(allow("iam:CreatePolicyVersion", f"{ARN}:policy/*")))
OTHER_POLICY = policy("someone-elses", pdoc(allow("s3:GetObject")))
ADMIN_BOUNDARY = policy("everything", pdoc(allow("*")))


def attached(*policies: Any) -> tuple[tuple[str, str], ...]:
    return tuple((p.name, p.arn) for p in policies)


# (id, authorization details, {principal name: method ids found, in table order})
CASES: list[tuple[str, AuthorizationDetails, dict[str, tuple[str, ...]]]] = [
    ("create-policy-version-on-an-attached-policy",
     auth(users=[principal("user", "alice", attached_policies=attached(SELF_VERSIONING))], policies=[SELF_VERSIONING]),
     {"alice": ("create-policy-version",)}),
    ("create-policy-version-only-on-a-policy-not-held",
     auth(users=[user("alice", allow("iam:CreatePolicyVersion", OTHER_POLICY.arn))], policies=[OTHER_POLICY]),
     {"alice": ()}),
    ("create-policy-version-inline-with-no-customer-policy-held",
     auth(users=[user("alice", allow("iam:CreatePolicyVersion"))]),
     {"alice": ()}),
    ("passrole-lambda-create-invoke",
     auth(roles=[role("deployer", allow(list(LAMBDA_INVOKE))), LAMBDA_ROLE]),
     {"deployer": ("passrole-lambda-invoke",), "lambda-worker": ()}),
    ("passrole-lambda-but-no-role-trusts-lambda",
     auth(roles=[role("deployer", allow(list(LAMBDA_INVOKE))), role("box")]),
     {"deployer": (), "box": ()}),
    ("passrole-lambda-bounded-without-invoke",
     auth(roles=[role("deployer", allow(list(LAMBDA_INVOKE)), permissions_boundary_arn=BOUNDARY.arn), LAMBDA_ROLE],
          policies=[BOUNDARY]),
     {"deployer": (), "lambda-worker": ()}),
    ("passrole-lambda-with-a-broad-boundary",
     auth(roles=[role("deployer", allow(list(LAMBDA_INVOKE)), permissions_boundary_arn=ADMIN_BOUNDARY.arn),
                 LAMBDA_ROLE], policies=[ADMIN_BOUNDARY]),
     {"deployer": ("passrole-lambda-invoke",), "lambda-worker": ()}),
    ("passrole-lambda-denied-invoke",
     auth(roles=[role("deployer", allow(list(LAMBDA_INVOKE)), deny("lambda:Invoke*")), LAMBDA_ROLE]),
     {"deployer": (), "lambda-worker": ()}),
    ("passrole-limited-to-a-role-lambda-can-use",
     auth(roles=[role("deployer", allow("iam:PassRole", LAMBDA_ROLE.arn), allow(["lambda:*"])), LAMBDA_ROLE,
                 role("box")]),
     {"deployer": ("passrole-lambda-invoke", "passrole-lambda-existing-dynamodb", "update-lambda-code",
                   "passrole-lambda-cross-account"), "lambda-worker": (), "box": ()}),
    ("passrole-limited-to-a-role-lambda-cannot-use",
     auth(roles=[role("deployer", allow("iam:PassRole", f"{ARN}:role/box"),
                      allow(["lambda:CreateFunction", "lambda:InvokeFunction"])), LAMBDA_ROLE, role("box")]),
     {"deployer": (), "lambda-worker": (), "box": ()}),
    ("passrole-only-to-ec2-by-condition",
     auth(roles=[role("deployer", allow("iam:PassRole", "*", {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}),
                      allow(["lambda:CreateFunction", "lambda:InvokeFunction"])), LAMBDA_ROLE]),
     {"deployer": (), "lambda-worker": ()}),
    ("a-role-passing-only-itself-gains-nothing",
     auth(roles=[role("self-passer", allow("iam:PassRole", f"{ARN}:role/self-passer"),
                      allow(["lambda:CreateFunction", "lambda:InvokeFunction"]), trust=service_trust("lambda.amazonaws.com"))]),
     {"self-passer": ()}),
    ("set-default-version-of-a-group-policy",
     auth(users=[user("una", groups=("versioned",))],
          groups=[principal("group", "versioned", attached_policies=attached(OTHER_POLICY),
                            inline_policies={"v": pdoc(allow("iam:SetDefaultPolicyVersion", OTHER_POLICY.arn))})],
          policies=[OTHER_POLICY]),
     {"una": ("set-default-policy-version",)}),
    ("passrole-to-ec2-with-run-instances",
     auth(roles=[role("launcher", allow(["iam:PassRole", "ec2:RunInstances"])), role("box")]),
     {"launcher": ("passrole-ec2",), "box": ()}),
    ("passrole-to-roles-tagged-like-the-caller",
     auth(users=[user("ann", allow("iam:PassRole", "*",
                                   {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}),
                      allow(["lambda:CreateFunction", "lambda:InvokeFunction"]), tags={"team": "red"}),
                 user("ben", allow("iam:PassRole", "*",
                                   {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}),
                      allow(["lambda:CreateFunction", "lambda:InvokeFunction"]), tags={"team": "blue"})],
          roles=[role("red-fn", trust=service_trust("lambda.amazonaws.com"), tags={"team": "red"})]),
     {"ann": ("passrole-lambda-invoke",), "ben": (), "red-fn": ()}),
    ("lambda-names-must-agree-between-create-and-invoke",
     auth(roles=[role("dev", allow("iam:PassRole"), allow("lambda:CreateFunction", "arn:aws:lambda:*:*:function:dev-*"),
                      allow("lambda:InvokeFunction", "arn:aws:lambda:*:*:function:dev-*")),
                 role("prod", allow("iam:PassRole"), allow("lambda:CreateFunction", "arn:aws:lambda:*:*:function:dev-*"),
                      allow("lambda:InvokeFunction", "arn:aws:lambda:*:*:function:prod-*")), LAMBDA_ROLE]),
     {"dev": ("passrole-lambda-invoke",), "prod": (), "lambda-worker": ()}),
    ("escalation-only-through-a-group",
     auth(users=[user("gus", groups=("admins-to-be",)), user("hal")],
          groups=[principal("group", "admins-to-be", inline_policies={"g": pdoc(allow("iam:AttachGroupPolicy",
                                                                                     f"{ARN}:group/admins-to-be"))})]),
     {"gus": ("attach-group-policy",), "hal": ()}),
    ("join-another-group",
     auth(users=[user("ivy", allow("iam:AddUserToGroup", f"{ARN}:group/*"), groups=("readers",))],
          groups=[principal("group", "readers"), principal("group", "admins")]),
     {"ivy": ("add-user-to-group",)}),
    ("join-only-ones-own-group",
     auth(users=[user("ivy", allow("iam:AddUserToGroup", f"{ARN}:group/readers"), groups=("readers",))],
          groups=[principal("group", "readers"), principal("group", "admins")]),
     {"ivy": ()}),
    ("access-keys-for-oneself-only",
     auth(users=[user("jo", allow("iam:CreateAccessKey", f"{ARN}:user/${{aws:username}}")), user("kim")]),
     {"jo": (), "kim": ()}),
    ("access-keys-for-anyone",
     auth(users=[user("jo", allow(["iam:CreateAccessKey", "iam:UpdateLoginProfile"])), user("kim")]),
     {"jo": ("create-access-key", "update-login-profile"), "kim": ()}),
    ("access-keys-for-anyone-in-a-one-user-account",
     auth(users=[user("jo", allow("iam:CreateAccessKey"))]),
     {"jo": ()}),
    ("access-keys-for-users-but-not-admins",
     auth(users=[user("jo", allow("iam:CreateAccessKey", f"{ARN}:user/*"),
                      deny("iam:CreateAccessKey", f"{ARN}:user/admin-*")), user("admin-kim"), user("lee")]),
     {"jo": ("create-access-key",), "admin-kim": (), "lee": ()}),
    ("attach-user-policy-any-policy",
     auth(users=[user("max", allow("iam:AttachUserPolicy", f"{ARN}:user/${{aws:username}}"))]),
     {"max": ("attach-user-policy",)}),
    ("attach-user-policy-only-read-only",
     auth(users=[user("max", allow("iam:AttachUserPolicy", "*",
                                   {"ArnEquals": {"iam:PolicyARN": "arn:aws:iam::aws:policy/ReadOnlyAccess"}}))]),
     {"max": ()}),
    ("put-role-policy-on-itself",
     auth(roles=[role("ops", allow("iam:PutRolePolicy", f"{ARN}:role/ops"))]),
     {"ops": ("put-role-policy",)}),
    ("user-attaches-to-a-role-it-can-assume",
     auth(users=[user("ned", allow(["iam:AttachRolePolicy", "sts:AssumeRole"])), user("oz", allow("iam:AttachRolePolicy"))],
          roles=[role("target", trust=aws_trust(f"{ARN}:root"))]),
     {"ned": ("attach-role-policy",), "oz": (), "target": ()}),
    ("user-attaches-to-a-role-that-trusts-it-directly",
     auth(users=[user("oz", allow("iam:AttachRolePolicy"))], roles=[role("target", trust=aws_trust(f"{ARN}:user/oz"))]),
     {"oz": ("attach-role-policy",), "target": ()}),
    ("rewrite-a-trust-then-assume",
     auth(users=[user("pat", allow("iam:UpdateAssumeRolePolicy", f"{ARN}:role/*"))], roles=[role("admin")]),
     {"pat": ("update-assume-role-policy",), "admin": ()}),
    ("rewrite-a-trust-with-a-boundary-forbidding-assume",
     auth(users=[user("pat", allow("iam:UpdateAssumeRolePolicy", f"{ARN}:role/*"),
                      permissions_boundary_arn=policy("iam-only", None).arn)],
          roles=[role("admin")], policies=[policy("iam-only", pdoc(allow("iam:*")))]),
     {"pat": (), "admin": ()}),
    ("only-from-the-office-network",
     auth(users=[user("quinn", allow("iam:CreateAccessKey", "*", {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}})),
                 user("ray")]),
     {"quinn": ("create-access-key",), "ray": ()}),
    ("deny-unless-mfa-is-avoidable",
     auth(users=[user("sam", allow("iam:CreateAccessKey"),
                      deny("*", "*", {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}})), user("ray")]),
     {"sam": ("create-access-key",), "ray": ()}),
    ("a-tag-the-principal-lacks",
     auth(users=[user("tom", allow("iam:CreateAccessKey", "*", {"StringEquals": {"aws:PrincipalTag/role": "admin"}})),
                 user("ray")]),
     {"tom": (), "ray": ()}),
    ("update-code-of-existing-functions",
     auth(roles=[role("dev", allow("lambda:UpdateFunctionCode")), LAMBDA_ROLE]),
     {"dev": ("update-lambda-code",), "lambda-worker": ()}),
    ("update-code-without-any-lambda-role",
     auth(roles=[role("dev", allow("lambda:UpdateFunctionCode")), role("box")]),
     {"dev": (), "box": ()}),
    ("ssm-send-command-with-ec2-roles",
     auth(roles=[role("operator", allow("ssm:SendCommand")), role("box")]),
     {"operator": ("ssm-send-command",), "box": ()}),
    ("ssm-send-command-only-with-a-harmless-document",
     auth(roles=[role("operator", allow("ssm:SendCommand", ["arn:aws:ec2:*:*:instance/*",
                                                            "arn:aws:ssm:*:*:document/AWS-ConfigureAWSPackage"])),
                 role("box")]),
     {"operator": (), "box": ()}),
    ("codebuild-with-start-build-batch-as-the-alternative",
     auth(roles=[role("ci", allow(["iam:PassRole", "codebuild:CreateProject", "codebuild:StartBuildBatch"])),
                 role("builder", trust=service_trust("codebuild.amazonaws.com"))]),
     {"ci": ("passrole-codebuild",), "builder": ()}),
    ("service-linked-roles-are-not-principals",
     auth(roles=[principal("role", "AWSServiceRoleForSupport", path="/aws-service-role/support.amazonaws.com/",
                           inline_policies={"p": pdoc(allow("iam:*"))}, trust_policy=service_trust("support.amazonaws.com"))]),
     {}),
]


def _found(auth_details: AuthorizationDetails) -> dict[str, tuple[str, ...]]:
    findings = run(checks.iam_policy_allows_privilege_escalation, snapshot(authorization=auth_details))
    out = {}
    for f in findings:
        ids = tuple(m["id"] for m in f.extra["escalation_methods"])
        assert f.status == (FAIL if ids else PASS), f.message
        out[f.resource_id] = ids
    return out


@pytest.mark.parametrize(("details", "expected"), [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES])
def test_escalation_methods_per_principal(details: AuthorizationDetails, expected: dict[str, tuple[str, ...]]) -> None:
    assert _found(details) == expected


def test_a_finding_names_the_principal_the_method_and_the_permissions() -> None:
    details = auth(roles=[role("deployer", allow(list(LAMBDA_INVOKE))), LAMBDA_ROLE])
    (finding,) = [f for f in run(checks.iam_policy_allows_privilege_escalation, snapshot(authorization=details))
                  if f.status == FAIL]
    assert finding.resource_arn == f"{ARN}:role/deployer"
    assert finding.check_id == "iam_policy_allows_privilege_escalation" and finding.severity == "high"
    assert finding.message == ("Role deployer can escalate its privileges by a known method: "
                               "PassExistingRoleToNewLambdaThenInvoke (iam:PassRole, lambda:CreateFunction, "
                               "lambda:InvokeFunction passing role/lambda-worker).")
    (method,) = finding.extra["escalation_methods"]
    assert method["permissions"] == list(LAMBDA_INVOKE)
    assert method["targets"] == [LAMBDA_ROLE.arn]
    assert method["policies"] == ["inline role/deployer/own"]
    assert method["conditions"] == [] and method["source"] == esc.RHINO_2018
    assert finding.extra["principal_type"] == "role"


def test_a_conditional_method_names_the_keys_it_depends_on() -> None:
    details = CASES[[c[0] for c in CASES].index("only-from-the-office-network")][1]
    findings = {f.resource_id: f for f in run(checks.iam_policy_allows_privilege_escalation,
                                              snapshot(authorization=details))}
    (method,) = findings["quinn"].extra["escalation_methods"]
    assert method["conditions"] == ["aws:SourceIp"] and method["targets"] == [f"{ARN}:user/ray"]
    assert findings["quinn"].message == ("User quinn can escalate its privileges by a known method: CreateAccessKey "
                                         "(iam:CreateAccessKey on user/ray, when its conditions on aws:SourceIp "
                                         "hold).")
    mfa = CASES[[c[0] for c in CASES].index("deny-unless-mfa-is-avoidable")][1]
    sam = next(f for f in run(checks.iam_policy_allows_privilege_escalation, snapshot(authorization=mfa))
               if f.resource_id == "sam")
    assert sam.extra["escalation_methods"][0]["conditions"] == ["aws:MultiFactorAuthPresent"]


def test_assuming_another_role_is_named_among_the_permissions() -> None:
    details = CASES[[c[0] for c in CASES].index("user-attaches-to-a-role-it-can-assume")][1]
    ned = next(f for f in run(checks.iam_policy_allows_privilege_escalation, snapshot(authorization=details))
               if f.resource_id == "ned")
    (method,) = ned.extra["escalation_methods"]
    assert method["permissions"] == ["iam:AttachRolePolicy", "sts:AssumeRole"]
    assert method["targets"] == [f"{ARN}:role/target"]
    ops = _analysis(auth(roles=[role("ops", allow("iam:PutRolePolicy", f"{ARN}:role/ops"))]), "ops")
    assert ops.methods[0].permissions == ("iam:PutRolePolicy",)  # its own role: nothing to assume


def _analysis(details: AuthorizationDetails, name: str) -> esc.PrincipalAnalysis:
    analyzer = esc.EscalationAnalyzer(details, account=ACCOUNT, region="eu-west-1")
    return analyzer.analyze(next(p for p in analyzer.principals() if p.name == name))


def test_a_missing_boundary_document_is_noted_and_left_out() -> None:
    details = auth(roles=[role("deployer", allow(list(LAMBDA_INVOKE)), permissions_boundary_arn=f"{ARN}:policy/gone"),
                          LAMBDA_ROLE])
    analysis = _analysis(details, "deployer")
    assert [m.method.id for m in analysis.methods] == ["passrole-lambda-invoke"]
    assert analysis.notes == (f"permissions boundary {ARN}:policy/gone has no document in the snapshot; it was left out",)


def test_a_principal_naming_no_method_action_costs_no_evaluation() -> None:
    details = auth(users=[user("reader", allow(["s3:Get*", "s3:List*"]))], roles=[LAMBDA_ROLE])
    assert _analysis(details, "reader").evaluations == 0


def test_a_message_names_three_methods_and_counts_the_rest() -> None:
    details = auth(users=[user("wide", allow(["iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:UpdateLoginProfile",
                                              "iam:PutUserPolicy", "iam:AttachUserPolicy"])), user("other")])
    (finding,) = [f for f in run(checks.iam_policy_allows_privilege_escalation, snapshot(authorization=details))
                  if f.resource_id == "wide"]
    assert finding.message == ("User wide can escalate its privileges by 5 known methods: CreateAccessKey "
                               "(iam:CreateAccessKey on user/other); CreateLoginProfile (iam:CreateLoginProfile on "
                               "user/other); UpdateLoginProfile (iam:UpdateLoginProfile on user/other); and 2 more.")
    assert len(finding.extra["escalation_methods"]) == 5


def test_not_action_allows_are_understood() -> None:
    details = auth(users=[user("wide", allow("s3:*", not_action=True)), user("other")])
    ids = {m.method.id for m in _analysis(details, "wide").methods}
    assert {"create-access-key", "put-user-policy", "attach-user-policy"} <= ids
    details = auth(users=[user("wide", allow("iam:*", not_action=True)), user("other")], roles=[LAMBDA_ROLE])
    ids = {m.method.id for m in _analysis(details, "wide").methods}
    assert ids == {"update-lambda-code"}  # every other method needs an iam: action


# --- the table -----------------------------------------------------------------------------------


def test_method_ids_and_names_are_unique_and_every_method_has_a_source() -> None:
    assert len({m.id for m in esc.METHODS}) == len(esc.METHODS)
    assert len({m.name for m in esc.METHODS}) == len(esc.METHODS)
    assert all(m.source and m.description and m.permissions for m in esc.METHODS)
    rhino = [m.name for m in esc.METHODS if m.source == esc.RHINO_2018]
    assert len(rhino) == 22  # Rhino's 21, with the DynamoDB-triggered Lambda split into new and existing table
    assert {"CreateNewPolicyVersion", "EditExistingLambdaFunctionWithRole", "PassExistingRoleToNewDataPipeline",
            "PassExistingRoleToNewLambdaThenTriggerWithNewDynamo",
            "PassExistingRoleToNewLambdaThenTriggerWithExistingDynamo"} <= set(rhino)


def test_create_service_linked_role_is_not_an_escalation_method() -> None:
    assert all("iam:CreateServiceLinkedRole" not in m.actions for m in esc.METHODS)


@pytest.mark.parametrize("method", esc.METHODS, ids=lambda m: m.id)
def test_every_action_and_probe_resource_agrees_with_the_service_reference(method: esc.Method) -> None:
    analyzer = esc.EscalationAnalyzer(auth(), account=ACCOUNT, region="eu-west-1")
    if method.passes_role or any(p.target == esc.PASSABLE_ROLE for p in method.permissions):
        assert method.service and method.service.endswith(".amazonaws.com")
    for perm in method.permissions:
        for name in perm.actions:
            prefix, action_name = name.split(":")
            action = catalog().service(prefix).action(action_name)  # type: ignore[union-attr]
            assert action is not None, name
            if perm.target in esc.SNAPSHOT_TARGETS or perm.target == esc.ANY:
                continue
            probe = analyzer.fill(perm.target).replace(":::", f"::{ACCOUNT}:") if "::document/" in perm.target \
                else analyzer.fill(perm.target)
            formats = [catalog().service(prefix).resource_type(r.name).arn for r in action.resources]  # type: ignore
            assert any(pattern_matches_format(probe, f) for f in formats), (name, probe, formats)


# --- permissive role assumption ------------------------------------------------------------------

ASSUME_CASES = [
    ("assume-role-on-star", pdoc(allow("sts:AssumeRole")), FAIL),
    ("sts-star-on-star", pdoc(allow("sts:*")), FAIL),
    ("star-on-star", pdoc(allow("*")), FAIL),
    ("assume-on-any-role-of-any-account", pdoc(allow("sts:AssumeRole", "arn:aws:iam::*:role/*")), FAIL),
    ("not-resource", pdoc(allow("sts:AssumeRole", f"{ARN}:role/admin", not_resource=True)), FAIL),
    ("mfa-condition-does-not-narrow", pdoc(allow("sts:AssumeRole", "*", {"Bool": {"aws:MultiFactorAuthPresent": "true"}})),
     FAIL),
    ("named-roles", pdoc(allow("sts:AssumeRole", [f"{ARN}:role/deploy", "arn:aws:iam::444455556666:role/read"])), PASS),
    ("own-account-roles", pdoc(allow("sts:AssumeRole", f"{ARN}:role/*")), PASS),
    ("account-condition-narrows", pdoc(allow("sts:AssumeRole", "*", {"StringEquals": {"aws:ResourceAccount": ACCOUNT}})),
     PASS),
    ("denied-in-the-same-policy", pdoc(allow("*"), deny("sts:AssumeRole")), PASS),
    ("other-actions-only", pdoc(allow(["sts:GetCallerIdentity", "s3:*"])), PASS),
]


@pytest.mark.parametrize(("document", "status"), [(c[1], c[2]) for c in ASSUME_CASES], ids=[c[0] for c in ASSUME_CASES])
def test_permissive_role_assumption(document: dict[str, Any], status: str) -> None:
    custom = policy("under-test", document, attachments=2)
    aws_owned = policy("AWSOwned", pdoc(allow("sts:AssumeRole")), aws=True)
    findings = run(checks.iam_no_custom_policy_permissive_role_assumption,
                   snapshot(authorization=auth(policies=[custom, aws_owned])))
    assert [(f.resource_arn, f.status) for f in findings] == [(custom.arn, status)]


def test_permissive_role_assumption_messages_and_missing_documents() -> None:
    findings = run(checks.iam_no_custom_policy_permissive_role_assumption, snapshot(authorization=auth(policies=[
        policy("mfa", pdoc(allow("sts:AssumeRole", "*", {"Bool": {"aws:MultiFactorAuthPresent": "true"}})), attachments=1),
        policy("lost", None)])))
    by_id = {f.resource_id: f for f in findings}
    assert by_id["mfa"].message == ("Policy mfa (1 attachment(s)) allows sts:AssumeRole on every role, when the request "
                                    "meets its conditions on aws:MultiFactorAuthPresent; list the roles its holders "
                                    "need instead.")
    assert by_id["mfa"].extra["conditions"] == ["aws:MultiFactorAuthPresent"]
    assert by_id["lost"].status == ERROR
