"""Cognito identity pool checks: guest access, and identity-pool role trusts pinning their pool (aud)."""

from __future__ import annotations

from typing import Any

import pytest
from compliance_builders import ACCOUNT, REGION, auth, principal, run, snapshot, statuses

from iamflow.compliance.checks import cognito_identity
from iamflow.compliance.findings import ERROR, FAIL, PASS
from iamflow.compliance.snapshot import AUTHORIZATION_DETAILS, IDENTITY_POOLS, IdentityPool

POOL_ID = f"{REGION}:11111111-2222-3333-4444-555555555555"


def pool(name: str, guests: bool, **kwargs: Any) -> IdentityPool:
    pid = f"{REGION}:{name}"
    return IdentityPool(pid, name, f"arn:aws:cognito-identity:{REGION}:{ACCOUNT}:identitypool/{pid}", guests, **kwargs)


def trust(condition: dict[str, Any] | None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"},
                                 "Action": "sts:AssumeRoleWithWebIdentity"}
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


def test_guest_access_fails_and_names_the_role_handed_to_guests() -> None:
    snap = snapshot(identity_pools=[pool("closed", False), pool("open", True, roles={
        "unauthenticated": f"arn:aws:iam::{ACCOUNT}:role/guest"})])
    findings = run(cognito_identity.cognito_identity_pool_guest_access_disabled, snap)
    assert statuses(findings) == {f"{REGION}:closed": PASS, f"{REGION}:open": FAIL}
    failing = next(f for f in findings if f.status == FAIL)
    assert "role/guest" in failing.message and failing.compliance == {"FSBP": ["Cognito.2"]}
    assert failing.region == REGION


def test_role_trusts_without_aud_fail_and_other_roles_are_not_judged() -> None:
    roles = [
        principal("role", "pinned", trust_policy=trust({
            "StringEquals": {"cognito-identity.amazonaws.com:aud": POOL_ID},
            "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"}})),
        principal("role", "amr-only", trust_policy=trust({
            "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"}})),
        principal("role", "wildcard-aud", trust_policy=trust({
            "StringLike": {"cognito-identity.amazonaws.com:aud": "*"}})),
        principal("role", "lambda", trust_policy={"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
    ]
    findings = run(cognito_identity.iam_role_identity_pool_trust_requires_aud, snapshot(authorization=auth(roles=roles)))
    assert statuses(findings) == {"pinned": PASS, "amr-only": FAIL, "wildcard-aud": FAIL}
    assert all(f.region == "global" for f in findings)


@pytest.mark.parametrize(("check", "step"), [
    (cognito_identity.cognito_identity_pool_guest_access_disabled, IDENTITY_POOLS),
    (cognito_identity.iam_role_identity_pool_trust_requires_aud, AUTHORIZATION_DETAILS),
])
def test_a_failed_collection_is_an_error(check: Any, step: str) -> None:
    findings = run(check, snapshot(errors={step: "AccessDeniedException: denied"}))
    assert [f.status for f in findings] == [ERROR] and step in findings[0].message
