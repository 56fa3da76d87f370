"""Collect + checks against in-process moto: backdated states, root row, flat IAM calls, injected failures."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import moto
import pytest
from compliance_moto_helpers import (
    Sleeps,
    add_root_row,
    backdate_key,
    backdate_user,
    days_ago,
    set_report_time,
)

from iamflow.aws.clients import AwsClients, CallLog
from iamflow.compliance.collect import CollectOptions, collect_account
from iamflow.compliance.config import ComplianceConfig
from iamflow.compliance.findings import ERROR, FAIL, MUTED, PASS, Finding
from iamflow.compliance.mutelist import Mutelist
from iamflow.compliance.registry import enabled_checks, evaluate, steps_for
from iamflow.compliance.report import REPORT_FILES
from iamflow.compliance.snapshot import DriftItem
from iamflow.compliance.sweep import report_dir, run_sweep, sweep_account
from iamflow.compliance.targets import Target
from tests.helpers.faults import throttle_first

ACCOUNT = "123456789012"


def by(findings: list[Finding], check_id: str) -> dict[str, Finding]:
    """Findings of one check keyed by resource id (plus key slot)."""
    out = {}
    for f in findings:
        if f.check_id == check_id:
            out[f.resource_id + (f"/{f.extra['access_key'][-1]}" if f.extra.get("access_key") else "")] = f
    return out


def sweep(clients: AwsClients, now: datetime, config: ComplianceConfig | None = None,
          mutelist: Mutelist | None = None) -> list[Finding]:
    return sweep_account(clients, ACCOUNT, config or ComplianceConfig.load(), mutelist, now, sleep=Sleeps())


def test_backdated_users_give_per_user_findings_with_user_arns_and_key_ids(clients, seed, iam_backend, now) -> None:
    for name in ("stale", "fresh", "console-nomfa", "console-idle"):
        seed.iam.create_user(UserName=name)
    stale_key = seed.iam.create_access_key(UserName="stale")["AccessKey"]["AccessKeyId"]
    seed.iam.create_access_key(UserName="fresh")
    backdate_user(iam_backend, "stale", created=days_ago(now, 400))
    backdate_key(iam_backend, "stale", created=days_ago(now, 200), used=days_ago(now, 100))
    backdate_key(iam_backend, "fresh", used=days_ago(now, 1))
    for name in ("console-nomfa", "console-idle"):
        seed.iam.create_login_profile(UserName=name, Password="Correct-Horse-9")
        backdate_user(iam_backend, name, created=days_ago(now, 300))
    backdate_user(iam_backend, "console-nomfa", password_used=days_ago(now, 10))
    backdate_user(iam_backend, "console-idle", password_used=days_ago(now, 60))
    device = seed.iam.create_virtual_mfa_device(VirtualMFADeviceName="console-idle")["VirtualMFADevice"]
    seed.iam.enable_mfa_device(UserName="console-idle", SerialNumber=device["SerialNumber"],
                               AuthenticationCode1="123456", AuthenticationCode2="654321")

    findings = sweep(clients, now)

    rotate = by(findings, "iam_rotate_access_key_90_days")
    assert rotate["stale/1"].status == FAIL and rotate["fresh/1"].status == PASS
    assert rotate["stale/1"].resource_arn == f"arn:aws:iam::{ACCOUNT}:user/stale"
    assert rotate["stale/1"].extra["access_key_id"] == stale_key and stale_key in rotate["stale/1"].message
    unused = by(findings, "iam_user_accesskey_unused")
    assert unused["stale/1"].status == FAIL and unused["fresh/1"].status == PASS
    mfa = by(findings, "iam_user_mfa_enabled_console_access")
    assert (mfa["console-nomfa"].status, mfa["console-idle"].status, mfa["stale"].status) == (FAIL, PASS, PASS)
    console = by(findings, "iam_user_console_access_unused")
    assert (console["console-nomfa"].status, console["console-idle"].status) == (PASS, FAIL)
    for f in findings:
        if f.check_id.startswith("iam_user") or f.check_id == "iam_rotate_access_key_90_days":
            assert f.resource_arn == f"arn:aws:iam::{ACCOUNT}:user/{f.resource_id}", f
        assert f.account_id == ACCOUNT
    # moto has no <root_account> row: root usage is unknown, and says so instead of passing
    assert by(findings, "iam_avoid_root_usage")[ACCOUNT].status == ERROR


def test_root_checks_from_a_root_row_and_the_account_summary(clients, seed, iam_backend, now) -> None:
    add_root_row(clients, ACCOUNT, created=days_ago(now, 900), password_used=now - timedelta(hours=3),
                 key_active=True, key_created=days_ago(now, 800))
    iam_backend.account_summary._account_mfa_enabled = 1
    iam_backend.account_summary._account_access_keys_present = 1
    seed.iam.create_user(UserName="someone")
    device = seed.iam.create_virtual_mfa_device(VirtualMFADeviceName="someone")["VirtualMFADevice"]
    seed.iam.enable_mfa_device(UserName="someone", SerialNumber=device["SerialNumber"],
                               AuthenticationCode1="123456", AuthenticationCode2="654321")

    findings = sweep(clients, now)
    root = {f.check_id: f for f in findings if f.resource_arn == f"arn:aws:iam::{ACCOUNT}:root"}
    assert root["iam_avoid_root_usage"].status == FAIL
    assert root["iam_no_root_access_key"].status == FAIL
    assert root["iam_root_mfa_enabled"].status == PASS
    # the only virtual device belongs to a user, so root's MFA is a hardware one
    assert root["iam_root_hardware_mfa_enabled"].status == PASS

    # moto cannot assign a virtual device to root; show the collector one, as AWS would list it
    def root_device(parsed: dict[str, Any], **_: Any) -> None:
        parsed["VirtualMFADevices"].append({"SerialNumber": f"arn:aws:iam::{ACCOUNT}:mfa/root-account-mfa-device",
                                            "User": {"Arn": f"arn:aws:iam::{ACCOUNT}:root"}})

    clients.client("iam").meta.events.register("after-call.iam.ListVirtualMFADevices", root_device)
    findings = sweep(clients, now)
    assert by(findings, "iam_root_hardware_mfa_enabled")[ACCOUNT].status == FAIL
    assert by(findings, "iam_avoid_root_usage")[ACCOUNT].status == FAIL


def _population(seed: Any, backend: Any, now: datetime, n: int, *, stale_keys: int) -> None:
    """n users, mixed console/MFA/keys; exactly ``stale_keys`` of them with a stale key."""
    for i in range(n):
        name = f"user-{i:04d}"
        seed.iam.create_user(UserName=name)
        if i % 2 == 0:
            seed.iam.create_login_profile(UserName=name, Password="Correct-Horse-9")
            backend.users[name].password_last_used = (now - timedelta(days=2)).replace(tzinfo=None)
        if i % 4 == 0:
            device = seed.iam.create_virtual_mfa_device(VirtualMFADeviceName=name)["VirtualMFADevice"]
            seed.iam.enable_mfa_device(UserName=name, SerialNumber=device["SerialNumber"],
                                       AuthenticationCode1="123456", AuthenticationCode2="654321")
        if i % 3 == 0 or i < stale_keys:
            seed.iam.create_access_key(UserName=name)
            backdate_key(backend, name, used=days_ago(now, 1),
                         created=days_ago(now, 300) if i < stale_keys else days_ago(now, 5))


def _measure(n: int, now: datetime, *, stale_keys: int) -> tuple[dict[str, int], dict[str, int], int]:
    import boto3
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.iam.models import iam_backends

    with moto.mock_aws():
        class Seed:
            iam = boto3.client("iam", region_name="us-east-1")
        _population(Seed, iam_backends[DEFAULT_ACCOUNT_ID]["aws"], now, n, stale_keys=stale_keys)
        log = CallLog()
        clients = AwsClients.from_boto3(call_log=log)
        collect_account(clients, now=now, sleep=Sleeps())
        collected = dict(log.by_operation())
        log.reset()
        findings = sweep_account(clients, ACCOUNT, ComplianceConfig(), None, now, sleep=Sleeps())
        return collected, log.by_operation(), len(findings)


def test_iam_calls_do_not_grow_with_the_number_of_users(now) -> None:
    small_collect, small_sweep, small_findings = _measure(5, now, stale_keys=3)
    large_collect, large_sweep, large_findings = _measure(50, now, stale_keys=3)
    assert large_findings > small_findings * 5
    assert small_collect == large_collect
    assert small_sweep == large_sweep  # including the key-id lookups, which follow failing keys, not users
    iam_ops = {k for k in large_sweep if k.startswith("iam:")}
    assert iam_ops <= {
        "iam:GenerateCredentialReport", "iam:GetCredentialReport", "iam:GetAccountAuthorizationDetails",
        "iam:GetAccountPasswordPolicy", "iam:GetAccountSummary", "iam:ListVirtualMFADevices", "iam:ListAccessKeys",
        "iam:ListServerCertificates",
    }
    assert large_sweep["iam:ListAccessKeys"] == 3


def test_key_id_lookups_are_capped(clients, seed, iam_backend, now) -> None:
    for i in range(4):
        seed.iam.create_user(UserName=f"u{i}")
        seed.iam.create_access_key(UserName=f"u{i}")
        backdate_key(iam_backend, f"u{i}", created=days_ago(now, 200), used=days_ago(now, 1))
    config = ComplianceConfig.from_dict({"collection": {"access_key_id_lookups": 2}})
    clients.call_log.reset()
    findings = sweep(clients, now, config)
    assert clients.call_log.by_operation()["iam:ListAccessKeys"] == 2
    named = [f for f in by(findings, "iam_rotate_access_key_90_days").values() if f.extra["access_key_id"]]
    assert len(named) == 2
    off = ComplianceConfig.from_dict({"collection": {"access_key_id_lookups": 0}})
    clients.call_log.reset()
    sweep(clients, now, off)
    assert "iam:ListAccessKeys" not in clients.call_log.by_operation()


def test_a_failed_collection_step_turns_its_checks_into_errors(clients, seed, now) -> None:
    seed.iam.create_user(UserName="alice")
    throttle_first(clients.client("iam"), 100, operation="GetAccountAuthorizationDetails", code="AccessDenied")
    findings = sweep(clients, now)
    gaad_checks = {"iam_policy_attached_only_to_group_or_roles", "iam_inline_policy_no_administrative_privileges",
                   "iam_role_cross_account_trust_requires_external_id", "iam_support_role_created"}
    for check_id in gaad_checks:
        (only,) = [f for f in findings if f.check_id == check_id]
        assert only.status == ERROR and "AccessDenied" in only.message and "authorization_details" in only.message
    # the other steps still ran
    assert by(findings, "iam_user_mfa_enabled_console_access")["alice"].status == PASS


def test_a_failed_credential_report_is_an_error_never_a_silent_pass(clients, seed, now) -> None:
    seed.iam.create_user(UserName="alice")
    throttle_first(clients.client("iam"), 100, operation="GetCredentialReport", code="AccessDenied")
    findings = sweep(clients, now)
    for check_id in ("iam_user_mfa_enabled_console_access", "iam_rotate_access_key_90_days", "iam_avoid_root_usage"):
        assert [f.status for f in findings if f.check_id == check_id] == [ERROR], check_id


def test_credential_report_generation_backs_off_while_in_progress(clients, now) -> None:
    throttle_first(clients.client("iam"), 2, operation="GenerateCredentialReport", code="ReportInProgress")
    sleeps = Sleeps()
    snapshot = collect_account(clients, now=now, steps=["credential_report"], sleep=sleeps,
                               options=CollectOptions(report_poll_seconds=0.5))
    assert snapshot.errors == {} and snapshot.credential_report is not None
    assert not snapshot.credential_report.reused
    # two refusals, then moto's STARTED, then COMPLETE: three waits, doubling
    assert sleeps == [0.5, 1.0, 2.0]


def test_credential_report_limit_exceeded_gives_up_after_the_timeout(clients, now) -> None:
    throttle_first(clients.client("iam"), 1000, operation="GenerateCredentialReport", code="LimitExceeded")
    sleeps = Sleeps()
    snapshot = collect_account(clients, now=now, steps=["credential_report"], sleep=sleeps,
                               options=CollectOptions(report_timeout_seconds=10, report_poll_seconds=1))
    assert "not complete after 10 s" in snapshot.errors["credential_report"]
    assert sum(sleeps) >= 10 and snapshot.credential_report is None


def test_a_fresh_report_is_reused_and_an_old_or_implausible_one_regenerated(clients, now) -> None:
    set_report_time(clients, now - timedelta(hours=1))
    clients.client("iam").generate_credential_report()  # make one exist
    clients.call_log.reset()
    snapshot = collect_account(clients, now=now, steps=["credential_report"], sleep=Sleeps())
    assert snapshot.credential_report.reused
    calls = clients.call_log.by_operation()
    assert calls["iam:GetCredentialReport"] == 1 and "iam:GenerateCredentialReport" not in calls
    clients.call_log.reset()
    stale = collect_account(clients, now=now + timedelta(hours=5), steps=["credential_report"], sleep=Sleeps())
    assert not stale.credential_report.reused
    assert clients.call_log.by_operation()["iam:GenerateCredentialReport"] >= 1
    future = collect_account(clients, now=now - timedelta(hours=2), steps=["credential_report"], sleep=Sleeps())
    assert not future.credential_report.reused  # "generated" in the future: not trusted


def test_policies_roles_and_support_role_from_authorization_details(clients, seed, now, with_aws_policies) -> None:
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    seed.iam.create_user(UserName="boss")
    seed.iam.attach_user_policy(UserName="boss", PolicyArn=admin)
    seed.iam.put_user_policy(UserName="boss", PolicyName="all", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, "Action": "sts:AssumeRole"}]}
    seed.iam.create_role(RoleName="vendor", Path="/developers/", AssumeRolePolicyDocument=json.dumps(trust))
    seed.iam.create_role(RoleName="support", AssumeRolePolicyDocument=json.dumps(trust))
    seed.iam.attach_role_policy(RoleName="support", PolicyArn="arn:aws:iam::aws:policy/AWSSupportAccess")
    seed.iam.create_policy(PolicyName="kms-all", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}))

    findings = sweep(clients, now)
    assert by(findings, "iam_user_administrator_access_policy")["boss"].status == FAIL
    assert by(findings, "iam_aws_attached_policy_no_administrative_privileges")["AdministratorAccess"].status == FAIL
    assert by(findings, "iam_inline_policy_no_administrative_privileges")["boss/all"].status == FAIL
    assert by(findings, "iam_policy_attached_only_to_group_or_roles")["boss"].status == FAIL
    assert by(findings, "iam_role_cross_account_trust_requires_external_id")["vendor"].status == FAIL
    assert by(findings, "iam_role_permissions_boundary_required")["vendor"].status == FAIL
    assert by(findings, "iam_support_role_created")[ACCOUNT].status == PASS
    assert by(findings, "iam_policy_no_full_access_to_kms")["kms-all"].status == FAIL


def test_kms_secrets_and_cognito_from_moto(clients, seed, now, tmp_path: Path) -> None:
    rotating = seed.kms.create_key()["KeyMetadata"]["KeyId"]
    seed.kms.enable_key_rotation(KeyId=rotating)
    static = seed.kms.create_key()["KeyMetadata"]["KeyId"]
    doomed = seed.kms.create_key()["KeyMetadata"]["KeyId"]
    seed.kms.schedule_key_deletion(KeyId=doomed, PendingWindowInDays=7)
    seed.secrets.create_secret(Name="db/password", SecretString="hunter2-but-longer-Zq9")
    seed.secrets.create_secret(Name="api/token", SecretString="tok-Xq8-secret-value")
    seed.secrets.rotate_secret(SecretId="api/token", RotationRules={"AutomaticallyAfterDays": 30}, RotateImmediately=False)
    pool = seed.cognito.create_user_pool(
        PoolName="customers", MfaConfiguration="OFF",
        Policies={"PasswordPolicy": {"MinimumLength": 8, "RequireUppercase": True, "RequireLowercase": True,
                                     "RequireNumbers": True, "RequireSymbols": False, "TemporaryPasswordValidityDays": 3}},
    )["UserPool"]["Id"]
    client = seed.cognito.create_user_pool_client(
        UserPoolId=pool, ClientName="web", GenerateSecret=True, ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"],
        RefreshTokenValidity=365, AccessTokenValidity=1, TokenValidityUnits={"RefreshToken": "days", "AccessToken": "days"},
    )["UserPoolClient"]

    findings = sweep(clients, now)
    rotation = by(findings, "kms_cmk_rotation_enabled")
    assert rotation[rotating].status == PASS and rotation[static].status == FAIL and doomed not in rotation
    assert by(findings, "kms_cmk_not_deleted_unintentionally")[doomed].status == FAIL
    assert all(f.region == "us-east-1" for f in findings if f.check_id.startswith(("kms", "secrets", "cognito")))
    secrets = by(findings, "secretsmanager_automatic_rotation_enabled")
    assert secrets["db/password"].status == FAIL and secrets["api/token"].status == PASS
    assert by(findings, "secretsmanager_secret_never_rotated")["api/token"].status == PASS
    assert by(findings, "cognito_user_pool_mfa_enabled")[pool].status == FAIL
    assert by(findings, "cognito_user_pool_password_policy_minimum_length_14")[pool].status == FAIL
    assert by(findings, "cognito_user_pool_password_policy_symbol")[pool].status == FAIL
    assert by(findings, "cognito_user_pool_temporary_password_expiration")[pool].status == PASS
    tokens = by(findings, "cognito_user_pool_client_token_validity")[client["ClientId"]]
    assert tokens.status == FAIL and "refresh token 365 day(s)" in tokens.message and "access token 1 day(s)" in tokens.message
    assert by(findings, "cognito_user_pool_client_user_password_auth_disabled")[client["ClientId"]].status == FAIL

    # nothing secret reaches the reports: secret values, the app client secret, MFA seeds
    seed.iam.create_user(UserName="mfa-user")
    device = seed.iam.create_virtual_mfa_device(VirtualMFADeviceName="mfa-user")["VirtualMFADevice"]
    seed.iam.enable_mfa_device(UserName="mfa-user", SerialNumber=device["SerialNumber"],
                               AuthenticationCode1="123456", AuthenticationCode2="654321")
    paths = run_sweep([Target()], tmp_path, base=clients, now=now, sleep=Sleeps()).paths
    written = "".join((paths.run_dir / name).read_text() for name in REPORT_FILES)
    assert "mfa-user" in written
    for value in ("hunter2-but-longer-Zq9", "tok-Xq8-secret-value", client["ClientSecret"],
                  device["Base32StringSeed"].decode()):
        assert value not in written


def test_mutelist_applies_during_the_sweep(clients, seed, now) -> None:
    seed.iam.create_user(UserName="break-glass")
    seed.iam.create_login_profile(UserName="break-glass", Password="Correct-Horse-9")
    mutelist = Mutelist.from_dict({"Mutelist": {"Accounts": {ACCOUNT: {"Checks": {
        "iam_user_mfa_enabled_console_access": {"Regions": ["global"], "Resources": ["user/break-glass$"],
                                                "owner": "sec", "reason": "token in safe", "expires": "2099-01-01"}}}}}})
    finding = by(sweep(clients, now, mutelist=mutelist), "iam_user_mfa_enabled_console_access")["break-glass"]
    assert finding.status == MUTED and finding.muted_by["owner"] == "sec"


def test_report_dir_defaults_to_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("IAMFLOW_REPORT_DIR", str(tmp_path))
    assert report_dir() == tmp_path and report_dir("x") == Path("x")
    monkeypatch.delenv("IAMFLOW_REPORT_DIR")
    assert report_dir() == Path("reports")


def test_drift_hook_feeds_the_drift_check(clients, seed, now) -> None:
    seed.iam.create_role(RoleName="app", AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))

    def provider(provider_clients: AwsClients, snapshot: Any) -> list[DriftItem]:
        names = {r["RoleName"] for r in provider_clients.client("iam").list_roles()["Roles"]}
        return [DriftItem("iam_role", name, f"arn:aws:iam::{snapshot.account_id}:role/{name}",
                          "in_sync" if name in names else "missing", playbook="app.yaml") for name in ("app", "gone")]

    config = ComplianceConfig.from_dict({"checks": {"enabled": ["iamflow_playbook_drift"]}})
    findings = sweep_account(clients, ACCOUNT, config, None, now, drift_provider=provider, sleep=Sleeps())
    assert {f.resource_id: f.status for f in findings} == {"iam_role/app": PASS, "iam_role/gone": FAIL}
    without = sweep_account(clients, ACCOUNT, config, None, now, sleep=Sleeps())
    assert [f.status for f in without] == [ERROR] and "no drift provider" in without[0].message


def test_an_old_root_key_fails_rotation_and_unused_checks_when_the_report_has_the_root_row(clients, iam_backend,
                                                                                            now) -> None:
    root_arn = f"arn:aws:iam::{ACCOUNT}:root"
    # moto's report has no root row: the key checks say nothing of root rather than pass it
    plain = sweep(clients, now)
    for check_id in ("iam_rotate_access_key_90_days", "iam_user_accesskey_unused"):
        assert not [f for f in plain if f.check_id == check_id and f.resource_arn == root_arn], check_id
    # as AWS writes the row: an active root key made 200 days ago, never used
    add_root_row(clients, ACCOUNT, created=days_ago(now, 900), key_active=True, key_created=days_ago(now, 200))
    findings = sweep(clients, now)
    rotate = by(findings, "iam_rotate_access_key_90_days")[f"{ACCOUNT}/1"]
    unused = by(findings, "iam_user_accesskey_unused")[f"{ACCOUNT}/1"]
    assert (rotate.status, unused.status) == (FAIL, FAIL)
    assert rotate.resource_arn == unused.resource_arn == root_arn
    assert rotate.message.startswith("Access key 1 of the root user was created") and rotate.extra["age_days"] == 200
    assert rotate.extra["access_key_id"] is None  # ListAccessKeys cannot name root's keys for another caller


def _mfa_verdicts(clients: AwsClients, now: datetime) -> dict[str, Finding]:
    return by(sweep(clients, now), "cognito_user_pool_mfa_enabled")


def test_cognito_mfa_is_read_from_get_user_pool_mfa_config_not_describe_user_pool(clients, seed, now) -> None:
    pool = seed.cognito.create_user_pool(PoolName="lagging", MfaConfiguration="OFF")["UserPool"]["Id"]
    seed.cognito.set_user_pool_mfa_config(UserPoolId=pool, MfaConfiguration="ON",
                                          SoftwareTokenMfaConfiguration={"Enabled": True})
    # the reproducer: DescribeUserPool still says OFF while the MFA config (what sign-in follows) says ON
    assert seed.cognito.describe_user_pool(UserPoolId=pool)["UserPool"].get("MfaConfiguration", "OFF") == "OFF"
    assert seed.cognito.get_user_pool_mfa_config(UserPoolId=pool)["MfaConfiguration"] == "ON"
    verdict = _mfa_verdicts(clients, now)[pool]
    assert verdict.status == PASS and verdict.extra["mfa_factors"] == ["TOTP"], verdict.message


def test_cognito_mfa_with_sms_as_the_only_factor_fails(clients, seed, now) -> None:
    pool = seed.cognito.create_user_pool(PoolName="sms-only")["UserPool"]["Id"]
    sns_role = f"arn:aws:iam::{ACCOUNT}:role/cognito-sms"
    seed.cognito.set_user_pool_mfa_config(UserPoolId=pool, MfaConfiguration="ON",
                                          SmsMfaConfiguration={"SmsConfiguration": {"SnsCallerArn": sns_role}})
    verdict = _mfa_verdicts(clients, now)[pool]
    assert verdict.status == FAIL and "SMS is its only factor; enable TOTP" in verdict.message


def test_an_unreadable_cognito_mfa_config_is_an_error_of_the_mfa_check_only(clients, seed, now) -> None:
    pool = seed.cognito.create_user_pool(PoolName="hidden", DeletionProtection="ACTIVE")["UserPool"]["Id"]
    throttle_first(clients.client("cognito-idp"), 100, operation="GetUserPoolMfaConfig", code="AccessDeniedException")
    findings = sweep(clients, now)
    verdict = by(findings, "cognito_user_pool_mfa_enabled")[pool]
    assert verdict.status == ERROR and "GetUserPoolMfaConfig" in verdict.message
    assert by(findings, "cognito_user_pool_deletion_protection_enabled")[pool].status == PASS


ROTATION_CHECKS = ("secretsmanager_automatic_rotation_enabled", "secretsmanager_secret_rotated_periodically",
                   "secretsmanager_secret_never_rotated")
ADMIN_SECRET = "iamflow/cognito/myapp-users/admin"


def _rotation_verdicts(clients: AwsClients, now: datetime) -> dict[str, Finding]:
    findings = sweep(clients, now)
    return {check_id: by(findings, check_id)[ADMIN_SECRET] for check_id in ROTATION_CHECKS}


def test_the_bootstrap_admin_password_secret_is_no_false_alarm_until_the_admin_signs_in(clients, seed, now) -> None:
    from iamflow.engine import run_playbook
    from iamflow.settings import project_root
    from iamflow.spec.loader import load_playbook

    # the shipped playbook creates the pool, its bootstrap admin, and the temporary-password secret
    playbook = load_playbook(project_root() / "include" / "playbooks" / "myapp-auth.yaml")
    assert all(r.status == "changed" for r in run_playbook(clients, playbook).results)
    # a month later the admin has still not signed in: nothing to rotate, the secret is pending
    later = now + timedelta(days=30)
    pending = _rotation_verdicts(clients, later)
    assert {f.status for f in pending.values()} == {PASS}, [f.message for f in pending.values()]
    assert all("has not signed in yet" in f.message and f.extra["admin_status"] == "FORCE_CHANGE_PASSWORD"
               for f in pending.values())

    # the admin signs in and sets a password: the secret now holds a dead password and should go
    (pool,) = [p["Id"] for p in seed.cognito.list_user_pools(MaxResults=60)["UserPools"] if p["Name"] == "myapp-users"]
    seed.cognito.admin_set_user_password(UserPoolId=pool, Username="admin", Password="Own-Passw0rd-Chosen!x",
                                         Permanent=True)
    signed_in = _rotation_verdicts(clients, later)
    assert {f.status for f in signed_in.values()} == {FAIL}
    assert all("status CONFIRMED" in f.message and "delete the secret" in f.message for f in signed_in.values())

    # the admin is deleted: the secret is an orphan
    seed.cognito.admin_delete_user(UserPoolId=pool, Username="admin")
    orphan = _rotation_verdicts(clients, later)
    assert {f.status for f in orphan.values()} == {FAIL}
    assert all("no longer exists" in f.message for f in orphan.values())

    # the admin's state cannot be read: an error, never a pass
    throttle_first(clients.client("cognito-idp"), 100, operation="AdminGetUser", code="AccessDeniedException")
    unreadable = _rotation_verdicts(clients, later)
    assert {f.status for f in unreadable.values()} == {ERROR}
    assert all("AccessDeniedException" in f.message for f in unreadable.values())


def test_a_secret_with_the_bootstrap_name_but_not_the_tag_is_an_ordinary_secret(clients, seed, now) -> None:
    seed.secrets.create_secret(Name=ADMIN_SECRET, SecretString="not-iamflows-Zq9-long-enough")
    verdicts = _rotation_verdicts(clients, now + timedelta(days=200))
    assert {f.status for f in verdicts.values()} == {FAIL}
    assert not any(f.extra.get("iamflow_bootstrap") for f in verdicts.values())


def test_an_app_client_secret_copy_fails_rotation_with_how_it_rotates_in_cognito(clients, seed, now,
                                                                                  tmp_path: Path) -> None:
    from iamflow.engine import run_playbook
    from iamflow.spec.loader import load_playbook

    (tmp_path / "backend-auth.yaml").write_text(
        "name: backend-auth\nresources:\n"
        "  - {kind: cognito_user_pool, name: backend-pool}\n"
        "  - {kind: cognito_app_client, name: worker, user_pool: backend-pool, generate_secret: true}\n")
    playbook = load_playbook(tmp_path / "backend-auth.yaml")
    assert all(r.status == "changed" for r in run_playbook(clients, playbook).results)
    name = "iamflow/cognito/backend-pool/clients/worker"
    # an untagged secret of the same shape is somebody else's: judged plainly
    seed.secrets.create_secret(Name="iamflow/cognito/backend-pool/clients/other", SecretString="x" * 32)
    findings = sweep(clients, now + timedelta(days=200))
    for check_id in ROTATION_CHECKS:
        copy = by(findings, check_id)[name]
        # a long-lived credential that never rotated is a true FAIL; the message says how it rotates
        assert copy.status == FAIL, (check_id, copy.message)
        assert "app client worker of user pool backend-pool" in copy.message
        assert "AddUserPoolClientSecret" in copy.message and "DeleteUserPoolClientSecret" in copy.message
        assert copy.extra["iamflow_app_client_secret"] is True and copy.extra["app_client"] == "worker"
        other = by(findings, check_id)["iamflow/cognito/backend-pool/clients/other"]
        assert other.status == FAIL and "AddUserPoolClientSecret" not in other.message
        assert "iamflow_app_client_secret" not in other.extra

def test_steps_run_side_by_side_yet_errors_and_keys_keep_their_order(clients, seed, now) -> None:
    seed.iam.create_user(UserName="alice")
    key_ids = [seed.kms.create_key(Description=f"k{i}")["KeyMetadata"]["KeyId"] for i in range(12)]
    throttle_first(clients.client("iam"), 100, operation="GetAccountAuthorizationDetails", code="AccessDenied")
    throttle_first(clients.client("secretsmanager"), 100, operation="ListSecrets", code="AccessDeniedException")
    throttle_first(clients.client("iam"), 100, operation="GetAccountSummary", code="AccessDenied")
    throttle_first(clients.client("kms"), 1, operation="DescribeKey", code="AccessDeniedException")
    parallel = collect_account(clients, now=now, sleep=Sleeps(), options=CollectOptions(workers=8))
    # the steps' errors in step order, as one after another would store them (moto does not
    # implement Access Analyzer: that step's error is moto's, not one of the injected refusals)
    assert [e for e in parallel.errors if e != "access_analyzers"] == ["authorization_details", "account_summary",
                                                                         "secrets"]
    assert all("AccessDenied" in e for k, e in parallel.errors.items() if k != "access_analyzers")
    # keys in ListKeys order; the one refused DescribeKey stays on its key, the others are read
    assert [k.key_id for k in parallel.kms_keys] == key_ids
    assert sum(bool(k.errors) for k in parallel.kms_keys) == 1
    assert all(k.state == "Enabled" for k in parallel.kms_keys if not k.errors)
    serial = collect_account(clients, now=now, sleep=Sleeps(), options=CollectOptions(workers=1))
    assert list(serial.errors) == list(parallel.errors)
    assert [k.key_id for k in serial.kms_keys] == key_ids


def test_sweep_findings_are_the_same_whatever_the_number_of_workers(clients, seed, now) -> None:
    for i in range(5):
        seed.iam.create_user(UserName=f"u{i}")
        seed.kms.create_key()
        seed.secrets.create_secret(Name=f"s{i}", SecretString="x")
    config = ComplianceConfig.load()
    checks = enabled_checks(config)
    runs = [evaluate(checks, collect_account(clients, now=now, steps=steps_for(checks), sleep=Sleeps(),
                                             options=CollectOptions(workers=w)), config, now) for w in (1, 8)]
    assert [f.to_dict() for f in runs[0]] == [f.to_dict() for f in runs[1]]


def test_checks_are_judged_as_their_steps_finish_while_slower_steps_still_run(clients, seed, now) -> None:
    """The sweep's pipeline: the users' checks run while KMS is still read, and the findings are evaluate()'s."""
    import threading

    from iamflow.compliance.registry import Evaluation
    from iamflow.compliance.snapshot import AUTHORIZATION_DETAILS, CREDENTIAL_REPORT, KMS_KEYS

    seed.iam.create_user(UserName="alice", Tags=[{"Key": "team", "Value": "payments"}])
    seed.iam.create_login_profile(UserName="alice", Password="Correct-Horse-9")
    seed.kms.create_key(Description="held back")
    config = ComplianceConfig.load()
    checks = enabled_checks(config)
    evaluation = Evaluation(checks, config, now)
    # KMS answers only once the console-MFA check of the users has been judged: without the
    # pipeline the KMS step would wait out the timeout, and the gate would be opened by nobody
    gate = threading.Event()
    opened_by_pipeline: list[bool] = []
    clients.client("kms").meta.events.register("before-call.kms.DescribeKey",
                                               lambda **_: opened_by_pipeline.append(gate.wait(timeout=20)))
    seen: list[tuple[frozenset[str], list[str]]] = []

    def progress(snapshot, running):  # type: ignore[no-untyped-def]
        evaluation.advance(snapshot, running)
        seen.append((running, list(evaluation.evaluated)))
        if "iam_user_mfa_enabled_console_access" in evaluation.evaluated:
            gate.set()

    snapshot = collect_account(clients, now=now, steps=steps_for(checks), sleep=Sleeps(),
                               options=CollectOptions(workers=8), on_progress=progress)
    assert opened_by_pipeline == [True]
    first, last = seen[0][0], seen[-1][0]
    assert first == frozenset(steps_for(checks)) - {"drift"} and last == frozenset()
    # judged while KMS was still running, and only once both of its inputs had settled
    when = next(running for running, done in seen if "iam_user_mfa_enabled_console_access" in done)
    assert KMS_KEYS in when and not {CREDENTIAL_REPORT, AUTHORIZATION_DETAILS} & when
    kms_checks = [c.id for c in checks if KMS_KEYS in c.needs]
    assert kms_checks and not set(kms_checks) & set(next(done for running, done in seen if KMS_KEYS in running
                                                         and "iam_user_mfa_enabled_console_access" in done))
    findings = evaluation.findings(snapshot)
    assert [f.to_dict() for f in findings] == [f.to_dict() for f in evaluate(checks, snapshot, config, now)]
    alice = by(findings, "iam_user_mfa_enabled_console_access")["alice"]
    assert alice.status == FAIL and alice.tags == {"team": "payments"}  # the tags it reads, settled first


def test_every_check_declares_each_step_it_looks_at(clients, seed, now) -> None:
    """A check evaluated early must not read a step still being collected: needs and reads name them all."""
    import dataclasses

    from iamflow.compliance.snapshot import _STEP_FIELDS, Snapshot

    seed.iam.create_user(UserName="alice", Tags=[{"Key": "team", "Value": "payments"}])
    seed.iam.create_access_key(UserName="alice")
    seed.iam.create_login_profile(UserName="alice", Password="Correct-Horse-9")
    seed.kms.create_key()
    seed.secrets.create_secret(Name="s", SecretString="x")
    seed.cognito.create_user_pool(PoolName="p")
    add_root_row(clients, ACCOUNT, created=days_ago(now, 900), key_active=True, key_created=days_ago(now, 200))
    config = ComplianceConfig.load()
    checks = enabled_checks(config)
    snapshot = collect_account(clients, now=now, steps=steps_for(checks), sleep=Sleeps())
    field_step = {name: step for step, name in _STEP_FIELDS.items()}

    class Recording(Snapshot):
        def __getattribute__(self, name: str) -> Any:
            if name in field_step:
                object.__getattribute__(self, "looked_at").add(field_step[name])
            return object.__getattribute__(self, name)

    undeclared = {}
    for c in checks:
        copy = Recording(**{f.name: getattr(snapshot, f.name) for f in dataclasses.fields(Snapshot)})
        object.__setattr__(copy, "looked_at", set())
        c(copy, config, now)
        if copy.looked_at - c.inputs:  # type: ignore[attr-defined]
            undeclared[c.id] = sorted(copy.looked_at - c.inputs)  # type: ignore[attr-defined]
    assert undeclared == {}
    # the declarations this test keeps honest
    reads = {c.id: c.reads for c in checks if c.reads}
    assert reads["iam_user_mfa_enabled_console_access"] == ("authorization_details",)
    assert reads["iam_no_root_access_key"] == ("credential_report",)
