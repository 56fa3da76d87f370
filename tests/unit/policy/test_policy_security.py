"""Each security rule fires on a dangerous document and stays silent on its closest safe sibling."""

from __future__ import annotations

from typing import Any

import pytest

from iamflow.policy import risky_actions
from iamflow.policy.catalog import catalog
from iamflow.policy.doctypes import DOCUMENT_TYPES, document_type
from iamflow.policy.findings import CODES, SECURITY_WARNING, WARNING, Finding, Path
from iamflow.policy.security import (
    ASSUME_ANY,
    CREDENTIAL_EXPOSURE,
    DATA_EXFILTRATION,
    IDENTITY_POOL_NO_AMR,
    IDENTITY_POOL_NO_AUD,
    KMS_ADMIN,
    KMS_OPEN,
    NOT_PRINCIPAL,
    OIDC_NO_SUB,
    PASSROLE_NOTACTION,
    PASSROLE_UNRESTRICTED,
    PERMISSIONS_MANAGEMENT,
    PRIVILEGE_ESCALATION,
    SECRET_OPEN,
    SERVICE_NO_SOURCE,
    TRUST_OPEN,
    check_security,
)

OWN = "111122223333"
OTHER = "444455556666"
GITHUB = "token.actions.githubusercontent.com"
GITHUB_PROVIDER = f"arn:aws:iam::{OWN}:oidc-provider/{GITHUB}"
EKS_HOST = "oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
S0: Path = ("Statement", 0)
S1: Path = ("Statement", 1)


def _doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def _grant(principal: Any, action: Any = "sts:AssumeRole", condition: dict[str, Any] | None = None,
           **extra: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": principal, "Action": action, **extra}
    if condition is not None:
        statement["Condition"] = condition
    return statement


def _web(provider: str, condition: dict[str, Any] | None) -> dict[str, Any]:
    return _doc(_grant({"Federated": provider}, "sts:AssumeRoleWithWebIdentity", condition))


def _findings(doc: dict[str, Any], doc_type: str, own_account: str | None = OWN) -> list[Finding]:
    return check_security(doc, document_type(doc_type), catalog(), own_account=own_account)


def _codes(doc: dict[str, Any], doc_type: str, own_account: str | None = OWN) -> list[tuple[str, Path]]:
    return sorted((f.code, f.path) for f in _findings(doc, doc_type, own_account))


# (id, document, document type, expected (code, path) pairs: [] means nothing at all)
CASES: list[tuple[str, dict[str, Any], str, list[tuple[str, Path]]]] = [
    # --- trust-open-to-anyone ---
    ("trust-star", _doc(_grant("*")), "trust", [(TRUST_OPEN, S0 + ("Principal",))]),
    ("trust-aws-star", _doc(_grant({"AWS": "*"})), "trust", [(TRUST_OPEN, S0 + ("Principal", "AWS"))]),
    ("trust-aws-list-with-star", _doc(_grant({"AWS": [f"arn:aws:iam::{OWN}:root", "*"]})), "trust",
     [(TRUST_OPEN, S0 + ("Principal", "AWS", 1))]),
    ("trust-single-statement", {"Statement": _grant("*")}, "trust", [(TRUST_OPEN, ("Statement", "Principal"))]),
    ("trust-org-id", _doc(_grant({"AWS": "*"}, condition={"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}})),
     "trust", []),
    ("trust-org-id-key-case", _doc(_grant("*", condition={"StringEquals": {"AWS:principalorgid": "o-a1b2c3d4e5"}})),
     "trust", []),
    ("trust-org-paths-for-any-value",
     _doc(_grant("*", condition={"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-a1b2c3d4e5/r-ab12/*"}})),
     "trust", []),
    ("trust-principal-account", _doc(_grant("*", condition={"StringEquals": {"aws:PrincipalAccount": OWN}})),
     "trust", []),
    ("trust-principal-arn",
     _doc(_grant("*", condition={"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{OWN}:role/ci-*"}})), "trust", []),
    ("trust-org-id-negated", _doc(_grant("*", condition={"StringNotEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}})),
     "trust", [(TRUST_OPEN, S0 + ("Principal",))]),
    ("trust-org-id-if-exists",
     _doc(_grant("*", condition={"StringEqualsIfExists": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}})),
     "trust", [(TRUST_OPEN, S0 + ("Principal",))]),
    ("trust-org-id-wildcard", _doc(_grant("*", condition={"StringLike": {"aws:PrincipalOrgID": "*"}})),
     "trust", [(TRUST_OPEN, S0 + ("Principal",))]),
    ("trust-org-id-one-wildcard-value",
     _doc(_grant("*", condition={"StringLike": {"aws:PrincipalOrgID": ["o-a1b2c3d4e5", "*"]}})),
     "trust", [(TRUST_OPEN, S0 + ("Principal",))]),
    ("trust-org-paths-for-all-values",
     _doc(_grant("*", condition={"ForAllValues:StringLike": {"aws:PrincipalOrgPaths": "o-a1b2c3d4e5/*"}})),
     "trust", [(TRUST_OPEN, S0 + ("Principal",))]),
    ("trust-org-id-null", _doc(_grant("*", condition={"Null": {"aws:PrincipalOrgID": "false"}})),
     "trust", [(TRUST_OPEN, S0 + ("Principal",))]),
    ("trust-username-is-no-restriction", _doc(_grant("*", condition={"StringEquals": {"aws:username": "alice"}})),
     "trust", [(TRUST_OPEN, S0 + ("Principal",))]),
    ("trust-resource-account-is-no-restriction",
     _doc(_grant("*", condition={"StringEquals": {"aws:ResourceAccount": OWN}})),
     "trust", [(TRUST_OPEN, S0 + ("Principal",))]),
    ("trust-source-ip", _doc(_grant("*", condition={"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}})), "trust", []),
    ("trust-source-ip-everywhere", _doc(_grant("*", condition={"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}})),
     "trust", [(TRUST_OPEN, S0 + ("Principal",))]),
    ("trust-deny-star", _doc({"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole"}), "trust", []),
    ("trust-named-account", _doc(_grant({"AWS": f"arn:aws:iam::{OTHER}:root"})), "trust", []),
    # --- secret-policy-open ---
    ("secret-open", _doc(_grant("*", "secretsmanager:GetSecretValue", Resource="*")), "secret",
     [(SECRET_OPEN, S0 + ("Principal",))]),
    ("secret-org-id",
     _doc(_grant("*", "secretsmanager:GetSecretValue", {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}},
                 Resource="*")), "secret", []),
    ("secret-caller-account-is-kms-only",
     _doc(_grant("*", "secretsmanager:GetSecretValue", {"StringEquals": {"kms:CallerAccount": OWN}}, Resource="*")),
     "secret", [(SECRET_OPEN, S0 + ("Principal",))]),
    # --- kms-key-open ---
    ("kms-open-decrypt", _doc(_grant({"AWS": "*"}, "kms:Decrypt", Resource="*")), "kms-key",
     [(KMS_OPEN, S0 + ("Principal", "AWS"))]),
    ("kms-open-all", _doc(_grant("*", "kms:*", Resource="*")), "kms-key", [(KMS_OPEN, S0 + ("Principal",))]),
    ("kms-open-reencrypt-wildcard", _doc(_grant("*", ["kms:Encrypt", "kms:ReEncrypt*"], Resource="*")), "kms-key",
     [(KMS_OPEN, S0 + ("Principal",))]),
    ("kms-open-data-key-wildcard", _doc(_grant("*", "kms:GenerateDataKey*", Resource="*")), "kms-key",
     [(KMS_OPEN, S0 + ("Principal",))]),
    ("kms-open-via-service-alone",
     _doc(_grant("*", "kms:Decrypt", {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}},
                 Resource="*")), "kms-key", [(KMS_OPEN, S0 + ("Principal",))]),
    ("kms-open-caller-account-and-via-service",
     _doc(_grant("*", ["kms:Decrypt", "kms:GenerateDataKey*"],
                 {"StringEquals": {"kms:CallerAccount": OWN, "kms:ViaService": "s3.eu-west-1.amazonaws.com"}},
                 Resource="*")), "kms-key", []),
    ("kms-open-encrypt-only", _doc(_grant("*", ["kms:Encrypt", "kms:DescribeKey"], Resource="*")), "kms-key",
     [(TRUST_OPEN, S0 + ("Principal",))]),
    ("kms-open-not-action", _doc({"Effect": "Allow", "Principal": "*", "NotAction": "kms:Encrypt", "Resource": "*"}),
     "kms-key", [(KMS_OPEN, S0 + ("Principal",))]),
    # --- kms-key-admin-to-non-root ---
    ("kms-root-own-account", _doc(_grant({"AWS": f"arn:aws:iam::{OWN}:root"}, "kms:*", Resource="*")),
     "kms-key", []),
    ("kms-root-placeholder",
     _doc(_grant({"AWS": "arn:${partition}:iam::${account_id}:root"}, "kms:*", Resource="*")), "kms-key", []),
    ("kms-root-bare-account-id", _doc(_grant({"AWS": OWN}, "kms:*", Resource="*")), "kms-key", []),
    ("kms-admin-role", _doc(_grant({"AWS": f"arn:aws:iam::{OWN}:role/ops"}, "kms:*", Resource="*")),
     "kms-key", [(KMS_ADMIN, S0 + ("Action",))]),
    ("kms-admin-other-root", _doc(_grant({"AWS": f"arn:aws:iam::{OTHER}:root"}, "*", Resource="*")),
     "kms-key", [(KMS_ADMIN, S0 + ("Action",))]),
    ("kms-admin-org-wide",
     _doc(_grant("*", "kms:*", {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}, Resource="*")),
     "kms-key", [(KMS_ADMIN, S0 + ("Action",))]),
    ("kms-admin-actions-listed",
     _doc(_grant({"AWS": f"arn:aws:iam::{OWN}:role/ops"}, ["kms:Create*", "kms:Describe*", "kms:Put*"],
                 Resource="*")), "kms-key", []),
    # --- allow-with-not-principal ---
    ("not-principal-trust", _doc({"Effect": "Allow", "NotPrincipal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
                                  "Action": "sts:AssumeRole"}), "trust", [(NOT_PRINCIPAL, S0 + ("NotPrincipal",))]),
    ("not-principal-key", _doc({"Effect": "Allow", "NotPrincipal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
                                "Action": "kms:DescribeKey", "Resource": "*"}), "kms-key",
     [(NOT_PRINCIPAL, S0 + ("NotPrincipal",))]),
    ("not-principal-deny", _doc({"Effect": "Deny", "NotPrincipal": {"AWS": f"arn:aws:iam::{OWN}:root"},
                                 "Action": "secretsmanager:*", "Resource": "*"}), "secret", []),
    # --- oidc-trust-without-sub ---
    ("github-sub-pinned",
     _web(GITHUB_PROVIDER, {"StringEquals": {f"{GITHUB}:aud": "sts.amazonaws.com",
                                             f"{GITHUB}:sub": "repo:my-org/app:ref:refs/heads/main"}}), "trust", []),
    ("github-aud-only", _web(GITHUB_PROVIDER, {"StringEquals": {f"{GITHUB}:aud": "sts.amazonaws.com"}}), "trust",
     [(OIDC_NO_SUB, S0 + ("Principal", "Federated"))]),
    ("github-no-condition", _web(GITHUB_PROVIDER, None), "trust", [(OIDC_NO_SUB, S0 + ("Principal", "Federated"))]),
    ("github-sub-star", _web(GITHUB_PROVIDER, {"StringLike": {f"{GITHUB}:sub": "*"}}), "trust",
     [(OIDC_NO_SUB, S0 + ("Principal", "Federated"))]),
    ("github-sub-any-repo", _web(GITHUB_PROVIDER, {"StringLike": {f"{GITHUB}:sub": "repo:*"}}), "trust",
     [(OIDC_NO_SUB, S0 + ("Principal", "Federated"))]),
    ("github-sub-any-owner", _web(GITHUB_PROVIDER, {"StringLike": {f"{GITHUB}:sub": "repo:*/app:*"}}), "trust",
     [(OIDC_NO_SUB, S0 + ("Principal", "Federated"))]),
    ("github-sub-org-wide", _web(GITHUB_PROVIDER, {"StringLike": {f"{GITHUB}:sub": "repo:my-org/*"}}), "trust", []),
    ("github-sub-negated",
     _web(GITHUB_PROVIDER, {"StringNotEquals": {f"{GITHUB}:sub": "repo:evil/app:ref:refs/heads/main"}}), "trust",
     [(OIDC_NO_SUB, S0 + ("Principal", "Federated"))]),
    ("github-bare-host-list",
     _doc(_grant({"Federated": ["accounts.google.com", GITHUB]}, "sts:AssumeRoleWithWebIdentity",
                 {"StringEquals": {"accounts.google.com:sub": "1234567890"}})), "trust",
     [(OIDC_NO_SUB, S0 + ("Principal", "Federated", 1))]),
    ("google-aud-only", _web("accounts.google.com", {"StringEquals": {"accounts.google.com:aud": "client.apps"}}),
     "trust", [(OIDC_NO_SUB, S0 + ("Principal", "Federated"))]),
    ("eks-sub-pinned",
     _web(f"arn:aws:iam::{OWN}:oidc-provider/{EKS_HOST}",
          {"StringEquals": {f"{EKS_HOST}:sub": "system:serviceaccount:app:web"}}), "trust", []),
    ("eks-aud-only",
     _web(f"arn:aws:iam::{OWN}:oidc-provider/{EKS_HOST}", {"StringEquals": {f"{EKS_HOST}:aud": "sts.amazonaws.com"}}),
     "trust", [(OIDC_NO_SUB, S0 + ("Principal", "Federated"))]),
    ("cognito-aud-pinned",
     _web("cognito-identity.amazonaws.com",
          {"StringEquals": {"cognito-identity.amazonaws.com:aud": "eu-west-1:11111111-2222-3333-4444-555555555555"},
           "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"}}), "trust", []),
    ("cognito-amr-only",
     _web("cognito-identity.amazonaws.com",
          {"ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"}}), "trust",
     [(IDENTITY_POOL_NO_AUD, S0 + ("Principal", "Federated"))]),
    ("cognito-aud-only",
     _web("cognito-identity.amazonaws.com",
          {"StringEquals": {"cognito-identity.amazonaws.com:aud": "eu-west-1:11111111-2222-3333-4444-555555555555"}}),
     "trust", [(IDENTITY_POOL_NO_AMR, S0 + ("Principal", "Federated"))]),
    ("cognito-aud-wildcard",
     _web("cognito-identity.amazonaws.com",
          {"StringLike": {"cognito-identity.amazonaws.com:aud": "*"},
           "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "unauthenticated"}}), "trust",
     [(IDENTITY_POOL_NO_AUD, S0 + ("Principal", "Federated"))]),
    ("cognito-no-condition",
     _web("cognito-identity.amazonaws.com", None), "trust",
     [(IDENTITY_POOL_NO_AUD, S0 + ("Principal", "Federated")), (IDENTITY_POOL_NO_AMR, S0 + ("Principal", "Federated"))]),
    ("saml-out-of-scope",
     _doc(_grant({"Federated": f"arn:aws:iam::{OWN}:saml-provider/okta"}, "sts:AssumeRoleWithSAML")), "trust", []),
    ("oidc-other-action", _doc(_grant({"Federated": GITHUB_PROVIDER}, "sts:TagSession")), "trust", []),
    # --- service-trust-without-source ---
    ("service-no-source", _doc(_grant({"Service": "states.amazonaws.com"})), "trust",
     [(SERVICE_NO_SOURCE, S0 + ("Principal", "Service"))]),
    ("service-source-account",
     _doc(_grant({"Service": "states.amazonaws.com"}, condition={"StringEquals": {"aws:SourceAccount": OWN}})),
     "trust", []),
    ("service-source-arn",
     _doc(_grant({"Service": "events.amazonaws.com"},
                 condition={"ArnLike": {"aws:SourceArn": f"arn:aws:events:eu-west-1:{OWN}:rule/*"}})), "trust", []),
    ("service-source-account-if-exists",
     _doc(_grant({"Service": "states.amazonaws.com"},
                 condition={"StringEqualsIfExists": {"aws:SourceAccount": OWN}})), "trust",
     [(SERVICE_NO_SOURCE, S0 + ("Principal", "Service"))]),
    ("service-list", _doc(_grant({"Service": ["lambda.amazonaws.com", "events.amazonaws.com"]})), "trust",
     [(SERVICE_NO_SOURCE, S0 + ("Principal", "Service", 1))]),
    ("service-ec2", _doc(_grant({"Service": "ec2.amazonaws.com"})), "trust", []),
    ("service-ec2-china", _doc(_grant({"Service": "ec2.amazonaws.com.cn"})), "trust", []),
    ("service-lambda", _doc(_grant({"Service": "lambda.amazonaws.com"})), "trust", []),
    ("service-ecs-tasks", _doc(_grant({"Service": "ecs-tasks.amazonaws.com"})), "trust", []),
    ("service-pods-eks", _doc(_grant({"Service": "pods.eks.amazonaws.com"}, ["sts:AssumeRole", "sts:TagSession"])),
     "trust", []),
    # --- passrole-unrestricted ---
    ("passrole-any-account-roles", _doc(_allow("iam:PassRole", "arn:aws:iam::*:role/*")), "managed",
     [(PASSROLE_UNRESTRICTED, S0 + ("Resource",))]),
    ("passrole-own-account-roles",
     _doc(_allow("iam:PassRole", [f"arn:aws:iam::{OWN}:role/app", "arn:${partition}:iam::${account_id}:role/*"])),
     "inline-role", [(PASSROLE_UNRESTRICTED, S0 + ("Resource", 1))]),
    ("passrole-wildcard-action-and-arn", _doc(_allow("iam:Pass*", "arn:*:iam::*:*")), "managed",
     [(PASSROLE_UNRESTRICTED, S0 + ("Resource",))]),
    ("passrole-iam-star-roles", _doc(_allow("iam:*", f"arn:aws:iam::{OWN}:role*")), "managed",
     [(PASSROLE_UNRESTRICTED, S0 + ("Resource",))]),
    ("passrole-role-path", _doc(_allow("iam:PassRole", f"arn:aws:iam::{OWN}:role/service-role/*")), "managed", []),
    ("passrole-role-variable", _doc(_allow("iam:PassRole", f"arn:aws:iam::{OWN}:role/${{aws:username}}")),
     "managed", []),
    ("passrole-star-is-legacy", _doc(_allow("iam:PassRole", "*")), "managed", []),
    ("passrole-not-resource-bucket",
     _doc({"Effect": "Allow", "Action": "iam:PassRole", "NotResource": "arn:aws:s3:::logs/*"}), "managed",
     [(PASSROLE_UNRESTRICTED, S0 + ("NotResource",))]),
    ("passrole-not-resource-all-roles",
     _doc({"Effect": "Allow", "Action": "iam:PassRole", "NotResource": "arn:aws:iam::*:role/*"}), "managed", []),
    ("passrole-deny", _doc({"Effect": "Deny", "Action": "iam:PassRole", "Resource": "arn:aws:iam::*:role/*"}),
     "managed", []),
    ("passrole-in-boundary", _doc(_allow("iam:PassRole", "arn:aws:iam::*:role/*")), "boundary", []),
    # --- passrole-through-notaction ---
    ("not-action-keeps-passrole", _doc({"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}), "managed",
     [(PASSROLE_NOTACTION, S0 + ("NotAction",))]),
    ("not-action-excludes-passrole", _doc({"Effect": "Allow", "NotAction": ["iam:*", "s3:*"], "Resource": "*"}),
     "managed", []),
    ("not-action-on-a-bucket", _doc({"Effect": "Allow", "NotAction": "s3:*", "Resource": "arn:aws:s3:::logs/*"}),
     "managed", []),
    # --- assume-role-any ---
    ("assume-role-star", _doc(_allow("sts:AssumeRole")), "managed", [(ASSUME_ANY, S0 + ("Resource",))]),
    ("assume-role-wildcards", _doc(_allow("sts:Assume*", ["arn:aws:s3:::x", "arn:aws:iam::*:role/*"])), "managed",
     [(ASSUME_ANY, S0 + ("Resource", 1))]),
    ("assume-role-named", _doc(_allow("sts:AssumeRole", f"arn:aws:iam::{OTHER}:role/audit")), "managed", []),
    ("assume-role-admin-is-legacy", _doc(_allow("*")), "managed", []),
    ("assume-role-star-on-roles", _doc(_allow("*", "arn:aws:iam::*:role/*")), "managed",
     [(ASSUME_ANY, S0 + ("Resource",)), (PASSROLE_UNRESTRICTED, S0 + ("Resource",))]),
    ("assume-role-in-scp", _doc(_allow("sts:AssumeRole")), "scp", []),
    # --- categories ---
    ("create-access-key", _doc(_allow("iam:CreateAccessKey")), "managed",
     [(CREDENTIAL_EXPOSURE, S0 + ("Action",)), (PRIVILEGE_ESCALATION, S0 + ("Action",))]),
    ("create-access-key-own-user",
     _doc(_allow("iam:CreateAccessKey", "arn:aws:iam::${account_id}:user/${aws:username}")), "managed", []),
    ("attach-role-policy", _doc(_allow("iam:AttachRolePolicy")), "inline-user",
     [(PERMISSIONS_MANAGEMENT, S0 + ("Action",)), (PRIVILEGE_ESCALATION, S0 + ("Action",))]),
    ("passrole-and-run-instances", _doc(_allow("ec2:RunInstances"), _allow("iam:PassRole")), "managed",
     [(PRIVILEGE_ESCALATION, S0 + ("Action",)), (PRIVILEGE_ESCALATION, S1 + ("Action",))]),
    ("run-instances-alone", _doc(_allow("ec2:RunInstances")), "managed", []),
    ("get-object", _doc(_allow("s3:GetObject")), "managed", [(DATA_EXFILTRATION, S0 + ("Action",))]),
    ("get-object-bucket", _doc(_allow("s3:GetObject", "arn:aws:s3:::logs/*")), "managed", []),
    ("parameters-wildcard", _doc(_allow("ssm:GetParameter*")), "managed", [(DATA_EXFILTRATION, S0 + ("Action",))]),
    ("ecr-token", _doc(_allow(["ecr:GetAuthorizationToken", "ecr:BatchGetImage"])), "managed",
     [(CREDENTIAL_EXPOSURE, S0 + ("Action",))]),
    ("iam-star", _doc(_allow("iam:*")), "managed",
     [(CREDENTIAL_EXPOSURE, S0 + ("Action",)), (PERMISSIONS_MANAGEMENT, S0 + ("Action",)),
      (PRIVILEGE_ESCALATION, S0 + ("Action",))]),
    ("read-only-describe", _doc(_allow(["ec2:Describe*", "iam:Get*", "iam:List*"])), "managed", []),
    ("categories-deny", _doc({"Effect": "Deny", "Action": "iam:*", "Resource": "*"}), "managed", []),
    ("categories-in-boundary", _doc(_allow("iam:*")), "boundary", []),
    ("categories-not-action", _doc({"Effect": "Allow", "NotAction": ["iam:*"], "Resource": "*"}), "managed", []),
]


@pytest.mark.parametrize(("doc", "doc_type", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rule(doc: dict[str, Any], doc_type: str, expected: list[tuple[str, Path]]) -> None:
    assert _codes(doc, doc_type) == sorted(expected)


def test_own_root_needs_a_known_account() -> None:
    doc = _doc(_grant({"AWS": f"arn:aws:iam::{OWN}:root"}, "kms:*", Resource="*"))
    assert _codes(doc, "kms-key", None) == [(KMS_ADMIN, S0 + ("Action",))]
    assert _codes(doc, "kms-key", OWN) == []


def test_case_ids_are_unique() -> None:
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids))


def test_every_code_is_fired_by_some_case() -> None:
    fired = {code for _id, _doc, _type, expected in CASES for code, _path in expected}
    security = {c.code for c in CODES.values() if c.group == "security"}
    assert fired == security


def test_codes_are_registered_with_their_severity() -> None:
    warnings = {SERVICE_NO_SOURCE, PRIVILEGE_ESCALATION, PERMISSIONS_MANAGEMENT, CREDENTIAL_EXPOSURE,
                DATA_EXFILTRATION}
    for name in (TRUST_OPEN, NOT_PRINCIPAL, PASSROLE_UNRESTRICTED, PASSROLE_NOTACTION, KMS_OPEN, KMS_ADMIN,
                 SECRET_OPEN, ASSUME_ANY, OIDC_NO_SUB, *warnings):
        assert CODES[name].group == "security"
        assert CODES[name].severity == (WARNING if name in warnings else SECURITY_WARNING)
        assert CODES[name].waivable


def test_listed_actions_exist_in_the_catalog() -> None:
    missing = []
    for name in risky_actions.every_listed_action():
        prefix, action = name.split(":")
        service = catalog().service(prefix)
        if service is None or service.action(action) is None:
            missing.append(name)
    assert missing == []


def test_long_listings_are_cut_after_five() -> None:
    (finding,) = [f for f in _findings(_doc(_allow("iam:*")), "managed") if f.code == PRIVILEGE_ESCALATION]
    assert "iam:AddUserToGroup, iam:AttachGroupPolicy" in finding.message
    assert finding.message.count("iam:") == 5
    assert " more;" in finding.message


@pytest.mark.parametrize(
    ("doc", "needle"),
    [
        (_doc(_grant("*")), "'*'"),
        (_web(GITHUB_PROVIDER, None), f"'{GITHUB}:sub'"),
        (_doc(_grant({"Service": "states.amazonaws.com"})), "states.amazonaws.com"),
        (_doc(_allow("iam:Pass*", "arn:aws:iam::*:role/*")), "'iam:Pass*'"),
    ],
    ids=["open", "oidc", "service", "passrole"],
)
def test_messages_name_the_offending_value(doc: dict[str, Any], needle: str) -> None:
    doc_type = "managed" if "Principal" not in str(doc) else "trust"
    (finding,) = _findings(doc, doc_type)
    assert needle in finding.message


def test_placeholders_are_not_errors() -> None:
    doc = _doc(_grant({"AWS": "arn:${partition}:iam::${trusted_account}:root"},
                      condition={"StringEquals": {"sts:ExternalId": "${external_id}"}}))
    assert _findings(doc, "trust") == []


ODD_SHAPES: list[Any] = [
    {},
    {"Statement": "x"},
    {"Statement": [1, None, "s", []]},
    {"Statement": [{"Effect": 1, "Principal": "*"}]},
    {"Statement": [{"Effect": "Allow", "Principal": 5, "Action": {"a": 1}, "Resource": 3}]},
    {"Statement": [{"Effect": "Allow", "Principal": {"AWS": [1, None], "Service": 2, "Federated": [3, "x"]},
                    "Action": [None, "sts:AssumeRoleWithWebIdentity", 7], "Condition": ["not", "a", "map"]}]},
    {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*",
                    "Condition": {"StringEquals": "flat", 3: {"k": "v"}, "Bogus": {"aws:PrincipalOrgID": "o-1"},
                                  "StringLike": {"aws:SourceIp": [None, {"a": 1}, True, 5]}}}]},
    {"Statement": [{"Effect": "Allow", "NotAction": [1, "iam:*"], "NotResource": [None], "Principal": {"AWS": "*"}}]},
    {"Statement": [{"Effect": "Allow", "Action": ["iam:PassRole", "*:Get*", "noservice", ":"],
                    "Resource": ["", ":", "arn", "arn:aws:iam::*:role/*"], "NotPrincipal": None}]},
]


@pytest.mark.parametrize("doc", ODD_SHAPES, ids=[f"shape-{i}" for i in range(len(ODD_SHAPES))])
@pytest.mark.parametrize("doc_type", sorted(DOCUMENT_TYPES))
def test_never_raises_on_odd_shapes(doc: dict[str, Any], doc_type: str) -> None:
    for finding in _findings(doc, doc_type):
        assert finding.code in CODES
