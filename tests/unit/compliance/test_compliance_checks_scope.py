"""The checks that complete the sweep's scope: PASS, FAIL and ERROR on hand-built snapshots."""

from __future__ import annotations

from typing import Any

import pytest
from compliance_builders import (
    ACCOUNT,
    REGION,
    ROOT_ARN,
    auth,
    config,
    days_ago,
    principal,
    report,
    row,
    run,
    snapshot,
    statuses,
    user_arn,
)

from iamflow.compliance.checks import account, cognito, kms, secrets
from iamflow.compliance.checks import iam_policies as pol
from iamflow.compliance.checks import iam_roles as roles
from iamflow.compliance.checks import iam_users as users
from iamflow.compliance.findings import ERROR, FAIL, PASS
from iamflow.compliance.snapshot import (
    ACCESS_ANALYZERS,
    AUTHORIZATION_DETAILS,
    CREDENTIAL_REPORT,
    SECRETS,
    SERVER_CERTIFICATES,
    USER_POOLS,
    AccessAnalyzer,
    KmsKey,
    Secret,
    ServerCertificate,
    UserPool,
    UserPoolClient,
    VirtualMfaDevice,
)

ADMIN = ("AdministratorAccess", "arn:aws:iam::aws:policy/AdministratorAccess")
AUDIT = ("SecurityAudit", "arn:aws:iam::aws:policy/SecurityAudit")


def _failed_step(step: str) -> dict[str, Any]:
    return {"errors": {step: "AccessDenied: not authorized"}}


# --- iam_user_with_inline_policy --------------------------------------------------------------------------


def test_user_with_inline_policy() -> None:
    snap = snapshot(authorization=auth(users=[
        principal("user", "inline", inline_policies={"s3-read": {"Statement": []}}),
        principal("user", "clean", attached_policies=(ADMIN,)),
    ]))
    findings = run(pol.iam_user_with_inline_policy, snap)
    assert statuses(findings) == {"inline": FAIL, "clean": PASS}
    failing = next(f for f in findings if f.status == FAIL)
    assert failing.compliance == {"CIS-3.0": ["1.15"], "CIS-5.0": ["1.14"], "FSBP": ["IAM.2"]} and failing.extra["inline_policies"] == ["s3-read"]
    assert "s3-read" in failing.message


def test_user_with_inline_policy_without_authorization_details_is_an_error() -> None:
    findings = run(pol.iam_user_with_inline_policy, snapshot(**_failed_step(AUTHORIZATION_DETAILS)))
    assert [f.status for f in findings] == [ERROR] and findings[0].resource_arn == ROOT_ARN


# --- iam_administrator_access_with_mfa --------------------------------------------------------------------


def _admin_groups() -> dict[str, Any]:
    return {
        "authorization": auth(
            users=[principal("user", "alice", groups=("admins",)), principal("user", "bob", groups=("admins", "ops")),
                   principal("user", "carol", groups=("secure-admins",)), principal("user", "ghost", groups=("new",))],
            groups=[principal("group", "admins", attached_policies=(ADMIN,)), principal("group", "ops"),
                    principal("group", "secure-admins", attached_policies=(ADMIN,)),
                    principal("group", "empty-admins", attached_policies=(ADMIN,)),
                    principal("group", "new", attached_policies=(ADMIN,))],
        ),
        # ghost was created after the report was generated: not in it
        "credential_report": report(row("alice", mfa=True), row("bob"), row("carol", mfa=True)),
    }


def test_administrator_groups_require_mfa_of_every_member() -> None:
    findings = run(pol.iam_administrator_access_with_mfa, snapshot(**_admin_groups()))
    assert statuses(findings) == {"admins": FAIL, "ops": PASS, "secure-admins": PASS, "empty-admins": PASS, "new": ERROR}
    failing = next(f for f in findings if f.status == FAIL)
    assert failing.extra["users_without_mfa"] == ["bob"] and failing.severity == "high"
    assert failing.resource_arn == f"arn:aws:iam::{ACCOUNT}:group/admins" and failing.compliance == {}


@pytest.mark.parametrize("step", [AUTHORIZATION_DETAILS, CREDENTIAL_REPORT])
def test_administrator_groups_need_both_steps(step: str) -> None:
    fields = _admin_groups()
    fields.pop("authorization" if step == AUTHORIZATION_DETAILS else "credential_report")
    findings = run(pol.iam_administrator_access_with_mfa, snapshot(**fields, **_failed_step(step)))
    assert [f.status for f in findings] == [ERROR] and step in findings[0].message


# --- iam_user_hardware_mfa_enabled ------------------------------------------------------------------------


def test_user_hardware_mfa() -> None:
    devices = [VirtualMfaDevice(f"arn:aws:iam::{ACCOUNT}:mfa/app-alice", user_arn("alice"), None),
               VirtualMfaDevice(f"arn:aws:iam::{ACCOUNT}:mfa/unassigned", None, None)]
    snap = snapshot(credential_report=report(row("alice", mfa=True), row("bob", mfa=True), row("carol")),
                    virtual_mfa_devices=devices)
    findings = run(users.iam_user_hardware_mfa_enabled, snap)
    assert statuses(findings) == {"alice": FAIL, "bob": PASS, "carol": FAIL}
    by_user = {f.resource_id: f for f in findings}
    assert by_user["alice"].extra["virtual_mfa_devices"] == [f"arn:aws:iam::{ACCOUNT}:mfa/app-alice"]
    assert "no MFA device" in by_user["carol"].message


def test_user_hardware_mfa_without_the_device_list_is_an_error() -> None:
    snap = snapshot(credential_report=report(row("bob", mfa=True)), skipped={"virtual_mfa_devices": "not selected"})
    assert [f.status for f in run(users.iam_user_hardware_mfa_enabled, snap)] == [ERROR]


# --- iam_securityaudit_role_created -----------------------------------------------------------------------


def test_security_audit_role() -> None:
    with_role = snapshot(authorization=auth(roles=[principal("role", "auditor", attached_policies=(AUDIT,)),
                                                   principal("role", "app")]))
    without = snapshot(authorization=auth(roles=[principal("role", "app", attached_policies=(ADMIN,))]))
    passing = run(pol.iam_securityaudit_role_created, with_role)
    assert [f.status for f in passing] == [PASS] and passing[0].extra["security_audit_roles"] == ["auditor"]
    failing = run(pol.iam_securityaudit_role_created, without)
    assert [f.status for f in failing] == [FAIL] and failing[0].resource_arn == ROOT_ARN
    assert [f.status for f in run(pol.iam_securityaudit_role_created,
                                  snapshot(**_failed_step(AUTHORIZATION_DETAILS)))] == [ERROR]


# --- iam_role_cross_service_confused_deputy_prevention ----------------------------------------------------


def _trust(principal_: Any, condition: dict[str, Any] | None = None, action: Any = "sts:AssumeRole") -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": principal_, "Action": action}
    if condition is not None:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


LAMBDA = {"Service": "lambda.amazonaws.com"}
DEPUTY_CASES = {
    "no-condition": (_trust(LAMBDA), FAIL),
    "source-account": (_trust(LAMBDA, {"StringEquals": {"aws:SourceAccount": ACCOUNT}}), PASS),
    "source-arn-mixed-case-key": (_trust({"Service": ["events.amazonaws.com"]},
                                         {"ArnLike": {"AWS:SourceArn": f"arn:aws:events:*:{ACCOUNT}:rule/*"}}), PASS),
    "source-org": (_trust(LAMBDA, {"StringEquals": {"aws:SourceOrgID": "o-abc123"}}), PASS),
    "wildcard-only-value": (_trust(LAMBDA, {"StringLike": {"aws:SourceArn": "*"}}), FAIL),
    "if-exists-lets-calls-through": (_trust(LAMBDA, {"StringEqualsIfExists": {"aws:SourceAccount": ACCOUNT}}), FAIL),
    "unrelated-condition": (_trust(LAMBDA, {"Bool": {"aws:SecureTransport": "true"}}), FAIL),
    "same-account-service": (_trust({"Service": "secretsmanager.amazonaws.com"}), PASS),
    "sts-star": (_trust(LAMBDA, action="sts:*"), FAIL),
}


@pytest.mark.parametrize("name", list(DEPUTY_CASES), ids=list(DEPUTY_CASES))
def test_confused_deputy_guard(name: str) -> None:
    trust, expected = DEPUTY_CASES[name]
    snap = snapshot(authorization=auth(roles=[principal("role", name, trust_policy=trust)]))
    assert statuses(run(roles.iam_role_cross_service_confused_deputy_prevention, snap)) == {name: expected}


def test_confused_deputy_judges_service_roles_only() -> None:
    snap = snapshot(authorization=auth(roles=[
        principal("role", "human", trust_policy=_trust({"AWS": ROOT_ARN})),
        principal("role", "mixed", trust_policy=_trust({"Service": "ec2.amazonaws.com", "AWS": ROOT_ARN})),
        principal("role", "AWSServiceRoleForSupport", path="/aws-service-role/support.amazonaws.com/",
                  trust_policy=_trust({"Service": "support.amazonaws.com"})),
        principal("role", "unreadable"),
    ]))
    findings = run(roles.iam_role_cross_service_confused_deputy_prevention, snap)
    assert statuses(findings) == {"unreadable": ERROR}
    assert run(roles.iam_role_cross_service_confused_deputy_prevention, snap)[0].severity == "high"


# --- Cognito: sign-up, threat protection, app clients -----------------------------------------------------


def _pool(pool_id: str, clients: list[UserPoolClient] | None = None, **kwargs: Any) -> UserPool:
    arn = f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/{pool_id}"
    return UserPool(pool_id, pool_id, arn, "ON", {}, "ACTIVE", clients=clients or [], **kwargs)


def _client(client_id: str, **kwargs: Any) -> UserPoolClient:
    return UserPoolClient(client_id, client_id, 3600, 3600, 86400, (), False, **kwargs)


UNREADABLE_POOL = _pool("unreadable", errors={"DescribeUserPool": "AccessDeniedException: no"})


def test_self_registration() -> None:
    snap = snapshot(user_pools=[_pool("admin-only", admin_create_user_only=True), _pool("open"), UNREADABLE_POOL])
    findings = run(cognito.cognito_user_pool_self_registration_disabled, snap)
    assert statuses(findings) == {"admin-only": PASS, "open": FAIL, "unreadable": ERROR}
    assert all(f.region == REGION for f in findings)


def test_advanced_security_must_be_enforced() -> None:
    snap = snapshot(user_pools=[_pool("enforced", advanced_security_mode="ENFORCED"),
                                _pool("audit", advanced_security_mode="AUDIT"), _pool("off"), UNREADABLE_POOL])
    findings = run(cognito.cognito_user_pool_advanced_security_enabled, snap)
    assert statuses(findings) == {"enforced": PASS, "audit": FAIL, "off": FAIL, "unreadable": ERROR}
    assert "AUDIT" in next(f.message for f in findings if f.resource_id == "audit")


def test_user_existence_errors() -> None:
    pool = _pool("p", clients=[_client("hidden", token_revocation=True, prevent_user_existence_errors="ENABLED"),
                               _client("legacy", token_revocation=True, prevent_user_existence_errors="LEGACY"),
                               _client("never-set", token_revocation=True)])
    broken = _pool("broken", errors={"DescribeUserPoolClient": "AccessDeniedException: no"})
    findings = run(cognito.cognito_user_pool_client_prevent_user_existence_errors, snapshot(user_pools=[pool, broken]))
    assert statuses(findings) == {"hidden": PASS, "legacy": FAIL, "never-set": FAIL, "broken": ERROR}


def test_token_revocation() -> None:
    pool = _pool("p", clients=[_client("on", token_revocation=True), _client("off", token_revocation=False),
                               _client("unreported", token_revocation=None)])
    findings = run(cognito.cognito_user_pool_client_token_revocation_enabled, snapshot(user_pools=[pool]))
    assert statuses(findings) == {"on": PASS, "off": FAIL, "unreported": FAIL}
    failed_step = snapshot(errors={USER_POOLS: "ListUserPools: AccessDeniedException: no"})
    assert [f.status for f in run(cognito.cognito_user_pool_client_token_revocation_enabled, failed_step)] == [ERROR]


# --- KMS and Secrets Manager ------------------------------------------------------------------------------


def _key(key_id: str, state: str = "Enabled", **kwargs: Any) -> KmsKey:
    return KmsKey(key_id, f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}", state, kwargs.pop("manager", "CUSTOMER"),
                  "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", "AWS_KMS", **kwargs)


def test_customer_keys_are_used() -> None:
    snap = snapshot(kms_keys=[
        _key("enabled"), _key("disabled", "Disabled"), _key("importing", "PendingImport"),
        _key("doomed", "PendingDeletion", deletion_date=days_ago(-7)), _key("aws", "Disabled", manager="AWS"),
        _key("mystery", "Unknown", manager="UNKNOWN", errors={"DescribeKey": "AccessDeniedException: no"}),
    ])
    findings = run(kms.kms_cmk_are_used, snap)
    assert statuses(findings) == {"enabled": PASS, "disabled": FAIL, "importing": FAIL, "doomed": PASS,
                                  "mystery": ERROR}
    assert next(f for f in findings if f.status == FAIL).severity == "low"


def _secret(name: str, *, accessed: float | None = None, created: float | None = 400, **kwargs: Any) -> Secret:
    return Secret(f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}-AbCdEf", name, False, None, None, None,
                  None, days_ago(created) if created is not None else None,
                  last_accessed=days_ago(accessed) if accessed is not None else None, **kwargs)


def test_unused_secrets_judge_never_accessed_ones_by_creation_date() -> None:
    # the embedded AWS never sets LastAccessedDate: AWS documents its absence as "never accessed"
    snap = snapshot(secrets=[
        _secret("used", accessed=3), _secret("idle", accessed=91), _secret("exactly-90", accessed=90),
        _secret("never-old"), _secret("never-new", created=10), _secret("undated", created=None),
    ])
    findings = run(secrets.secretsmanager_secret_unused, snap)
    assert statuses(findings) == {"used": PASS, "idle": FAIL, "exactly-90": PASS, "never-old": FAIL,
                                  "never-new": PASS, "undated": ERROR}
    never = next(f for f in findings if f.resource_id == "never-old")
    assert "never been accessed" in never.message and never.extra["last_accessed"] is None
    strict = config(thresholds={"secret_unused_days": 30})
    assert statuses(run(secrets.secretsmanager_secret_unused, snap, strict))["never-new"] == PASS
    assert statuses(run(secrets.secretsmanager_secret_unused, snapshot(secrets=[_secret("u", accessed=40)]),
                        strict)) == {"u": FAIL}


def _resource_policy(principal_: Any, condition: dict[str, Any] | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Sid": "Read", "Effect": "Allow", "Principal": principal_,
                                 "Action": "secretsmanager:GetSecretValue", "Resource": "*"}
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


SECRET_POLICY_CASES = {
    "no-policy": (None, PASS),
    "named-role": (_resource_policy({"AWS": f"arn:aws:iam::{ACCOUNT}:role/app"}), PASS),
    "everyone": (_resource_policy("*"), FAIL),
    "everyone-aws": (_resource_policy({"AWS": ["*"]}), FAIL),
    "everyone-in-org": (_resource_policy("*", {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}), PASS),
    "everyone-over-tls": (_resource_policy("*", {"Bool": {"aws:SecureTransport": "true"}}), FAIL),
    "everyone-wildcard-account": (_resource_policy("*", {"StringLike": {"aws:PrincipalAccount": "*"}}), FAIL),
}


@pytest.mark.parametrize("name", list(SECRET_POLICY_CASES), ids=list(SECRET_POLICY_CASES))
def test_secret_resource_policy(name: str) -> None:
    policy_, expected = SECRET_POLICY_CASES[name]
    snap = snapshot(secrets=[_secret(name, policy=policy_)])
    assert statuses(run(secrets.secretsmanager_not_publicly_accessible, snap)) == {name: expected}


def test_secret_resource_policy_that_could_not_be_read_is_an_error() -> None:
    snap = snapshot(secrets=[_secret("locked", policy_error="GetResourcePolicy: AccessDeniedException: no")])
    findings = run(secrets.secretsmanager_not_publicly_accessible, snap)
    assert statuses(findings) == {"locked": ERROR} and "GetResourcePolicy" in findings[0].message
    assert [f.status for f in run(secrets.secretsmanager_secret_unused,
                                  snapshot(errors={SECRETS: "ListSecrets: AccessDeniedException: no"}))] == [ERROR]


# --- server certificates and Access Analyzer --------------------------------------------------------------


def _cert(name: str, expires_in_days: float | None) -> ServerCertificate:
    expiry = days_ago(-expires_in_days) if expires_in_days is not None else None
    return ServerCertificate(name, f"arn:aws:iam::{ACCOUNT}:server-certificate/{name}", "/", expiry)


def test_expired_server_certificates() -> None:
    snap = snapshot(server_certificates=[_cert("valid", 30), _cert("expired", -400), _cert("expires-now", 0),
                                         _cert("undated", None)])
    findings = run(account.iam_no_expired_server_certificates_stored, snap)
    assert statuses(findings) == {"valid": PASS, "expired": FAIL, "expires-now": FAIL, "undated": ERROR}
    expired = next(f for f in findings if f.resource_id == "expired")
    assert expired.compliance == {"CIS-3.0": ["1.19"], "CIS-5.0": ["1.18"]} and expired.region == "global"
    assert "400 days ago" in expired.message
    assert run(account.iam_no_expired_server_certificates_stored, snapshot(server_certificates=[])) == []
    failed_step = snapshot(errors={SERVER_CERTIFICATES: "ListServerCertificates: AccessDenied: no"})
    assert [f.status for f in run(account.iam_no_expired_server_certificates_stored, failed_step)] == [ERROR]


def _analyzer(name: str, type_: str = "ACCOUNT", status: str = "ACTIVE") -> AccessAnalyzer:
    return AccessAnalyzer(name, f"arn:aws:access-analyzer:{REGION}:{ACCOUNT}:analyzer/{name}", type_, status)


ANALYZER_CASES = {
    "active-account": ([_analyzer("a")], PASS),
    "active-organization": ([_analyzer("org", "ORGANIZATION")], PASS),
    "none": ([], FAIL),
    "only-unused-access": ([_analyzer("u", "ACCOUNT_UNUSED_ACCESS")], FAIL),
    "disabled": ([_analyzer("d", status="DISABLED")], FAIL),
    "one-active-of-two": ([_analyzer("d", status="FAILED"), _analyzer("b")], PASS),
}


@pytest.mark.parametrize("name", list(ANALYZER_CASES), ids=list(ANALYZER_CASES))
def test_access_analyzer(name: str) -> None:
    analyzers, expected = ANALYZER_CASES[name]
    findings = run(account.accessanalyzer_enabled, snapshot(access_analyzers=analyzers))
    assert [f.status for f in findings] == [expected]
    assert findings[0].region == REGION and findings[0].compliance == {"CIS-3.0": ["1.20"], "CIS-5.0": ["1.19"]}
    if expected == FAIL:
        assert findings[0].resource_arn == ROOT_ARN


def test_access_analyzer_not_implemented_is_an_error() -> None:
    # what the embedded AWS answers to ListAnalyzers
    snap = snapshot(errors={ACCESS_ANALYZERS: "ListAnalyzers: 404: Not yet implemented"})
    findings = run(account.accessanalyzer_enabled, snap)
    assert [f.status for f in findings] == [ERROR] and "Not yet implemented" in findings[0].message
