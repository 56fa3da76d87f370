"""The checks that complete the sweep's scope, against in-process moto, with the embedded AWS's gaps spelled out.

Where moto departs from AWS the test says so and asserts what the sweep does there:
- ``ListAnalyzers`` answers "not yet implemented": ``accessanalyzer_enabled`` is an ERROR, never a guess;
- Secrets Manager never sets ``LastAccessedDate``: AWS's meaning of its absence ("never accessed") applies, and the
  secret is aged by its creation date;
- every uploaded server certificate expires on a fixed date in 2012: there every certificate is expired.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from test_compliance_collect import ACCOUNT, by, sweep

from iamflow.compliance.findings import ERROR, FAIL, PASS

ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
SERVICE_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def test_iam_scope_checks_from_moto(clients, seed, now, with_aws_policies) -> None:
    seed.iam.create_user(UserName="inline")
    seed.iam.put_user_policy(UserName="inline", PolicyName="s3-read", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}))
    seed.iam.create_user(UserName="admin-with-app")
    device = seed.iam.create_virtual_mfa_device(VirtualMFADeviceName="admin-with-app")["VirtualMFADevice"]
    seed.iam.enable_mfa_device(UserName="admin-with-app", SerialNumber=device["SerialNumber"],
                               AuthenticationCode1="123456", AuthenticationCode2="654321")
    seed.iam.create_user(UserName="admin-no-mfa")
    seed.iam.create_group(GroupName="admins")
    seed.iam.attach_group_policy(GroupName="admins", PolicyArn=ADMIN)
    seed.iam.add_user_to_group(GroupName="admins", UserName="admin-with-app")
    seed.iam.create_group(GroupName="careful-admins")
    seed.iam.attach_group_policy(GroupName="careful-admins", PolicyArn=ADMIN)
    seed.iam.add_user_to_group(GroupName="careful-admins", UserName="admin-with-app")
    seed.iam.add_user_to_group(GroupName="admins", UserName="admin-no-mfa")
    seed.iam.create_role(RoleName="lambda-open", AssumeRolePolicyDocument=json.dumps(SERVICE_TRUST))
    guarded = json.loads(json.dumps(SERVICE_TRUST))
    guarded["Statement"][0]["Condition"] = {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    seed.iam.create_role(RoleName="lambda-guarded", AssumeRolePolicyDocument=json.dumps(guarded))
    seed.iam.attach_role_policy(RoleName="lambda-guarded", PolicyArn="arn:aws:iam::aws:policy/SecurityAudit")
    seed.iam.upload_server_certificate(ServerCertificateName="old-elb", CertificateBody="-----BEGIN CERTIFICATE-----",
                                       PrivateKey="-----BEGIN PRIVATE KEY-----")

    findings = sweep(clients, now)
    assert by(findings, "iam_user_with_inline_policy")["inline"].status == FAIL
    assert by(findings, "iam_user_with_inline_policy")["admin-no-mfa"].status == PASS
    groups = by(findings, "iam_administrator_access_with_mfa")
    assert groups["admins"].status == FAIL and groups["admins"].extra["users_without_mfa"] == ["admin-no-mfa"]
    assert groups["careful-admins"].status == PASS
    hardware = by(findings, "iam_user_hardware_mfa_enabled")
    assert hardware["admin-with-app"].status == FAIL and "virtual" in hardware["admin-with-app"].message
    assert hardware["admin-no-mfa"].status == FAIL
    assert by(findings, "iam_securityaudit_role_created")[ACCOUNT].status == PASS
    deputy = by(findings, "iam_role_cross_service_confused_deputy_prevention")
    assert deputy["lambda-open"].status == FAIL and deputy["lambda-guarded"].status == PASS
    # moto stamps every server certificate with a fixed 2012 expiry, so it is expired here
    cert = by(findings, "iam_no_expired_server_certificates_stored")["old-elb"]
    assert cert.status == FAIL and cert.extra["expiration"].startswith("2012-")
    assert cert.compliance == {"CIS-3.0": ["1.19"], "CIS-5.0": ["1.18"]}
    # moto does not implement ListAnalyzers: an ERROR naming why, in the swept region
    analyzer = [f for f in findings if f.check_id == "accessanalyzer_enabled"]
    assert [f.status for f in analyzer] == [ERROR] and "ListAnalyzers" in analyzer[0].message
    assert analyzer[0].region == "us-east-1"


def test_service_scope_checks_from_moto(clients, seed, now) -> None:
    enabled = seed.kms.create_key()["KeyMetadata"]["KeyId"]
    disabled = seed.kms.create_key()["KeyMetadata"]["KeyId"]
    seed.kms.disable_key(KeyId=disabled)
    seed.secrets.create_secret(Name="private", SecretString="value-one-Zq9")
    seed.secrets.create_secret(Name="public", SecretString="value-two-Zq9")
    seed.secrets.put_resource_policy(SecretId="public", ResourcePolicy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}))
    seed.secrets.get_secret_value(SecretId="private")  # moto still leaves LastAccessedDate unset
    pool = seed.cognito.create_user_pool(PoolName="open", UserPoolAddOns={"AdvancedSecurityMode": "AUDIT"})
    pool_id = pool["UserPool"]["Id"]
    closed = seed.cognito.create_user_pool(PoolName="closed", AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
                                           UserPoolAddOns={"AdvancedSecurityMode": "ENFORCED"})["UserPool"]["Id"]
    legacy = seed.cognito.create_user_pool_client(UserPoolId=pool_id, ClientName="legacy",
                                                  EnableTokenRevocation=False)["UserPoolClient"]["ClientId"]
    strict = seed.cognito.create_user_pool_client(UserPoolId=pool_id, ClientName="strict",
                                                  PreventUserExistenceErrors="ENABLED")["UserPoolClient"]["ClientId"]

    findings = sweep(clients, now)
    used = by(findings, "kms_cmk_are_used")
    assert used[enabled].status == PASS and used[disabled].status == FAIL
    public = by(findings, "secretsmanager_not_publicly_accessible")
    assert public["public"].status == FAIL and public["private"].status == PASS
    # no LastAccessedDate on moto: "never accessed", aged by the creation date (just now, so within 90 days)
    unused = by(findings, "secretsmanager_secret_unused")
    assert unused["private"].status == PASS and "never been accessed" in unused["private"].message
    # 91 days after the creation (the fixture's clock was read before the secret was made)
    later = by(sweep(clients, datetime.now(UTC) + timedelta(days=91)), "secretsmanager_secret_unused")
    assert later["private"].status == FAIL, later["private"].message
    assert by(findings, "cognito_user_pool_self_registration_disabled")[pool_id].status == FAIL
    assert by(findings, "cognito_user_pool_self_registration_disabled")[closed].status == PASS
    security = by(findings, "cognito_user_pool_advanced_security_enabled")
    assert security[pool_id].status == FAIL and security[closed].status == PASS
    existence = by(findings, "cognito_user_pool_client_prevent_user_existence_errors")
    assert existence[legacy].status == FAIL and existence[strict].status == PASS
    revocation = by(findings, "cognito_user_pool_client_token_revocation_enabled")
    assert revocation[legacy].status == FAIL and revocation[strict].status == PASS
