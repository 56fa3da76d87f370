"""KMS, Secrets Manager, Cognito and drift checks: PASS and FAIL on hand-built snapshots."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from compliance_builders import ACCOUNT, REGION, config, days_ago, run, snapshot, statuses

from iamflow.compliance.checks import cognito, drift, kms, secrets
from iamflow.compliance.findings import ERROR, FAIL, PASS
from iamflow.compliance.snapshot import (
    MFA_EMAIL,
    MFA_SMS,
    MFA_TOTP,
    BootstrapPassword,
    DriftItem,
    KmsKey,
    Secret,
    UserPool,
    UserPoolClient,
)
from iamflow.spec.names import bootstrap_admin_of


def _key(key_id: str, **kwargs: object) -> KmsKey:
    defaults: dict[str, object] = {"state": "Enabled", "manager": "CUSTOMER", "spec": "SYMMETRIC_DEFAULT",
                                   "usage": "ENCRYPT_DECRYPT", "origin": "AWS_KMS"}
    defaults.update(kwargs)
    return KmsKey(key_id, f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}", **defaults)  # type: ignore[arg-type]


ROOT_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
     "Action": "kms:*", "Resource": "*"}]}
PUBLIC_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Sid": "Everyone", "Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"}]}


def test_kms_rotation_enabled_for_rotatable_customer_keys() -> None:
    snap = snapshot(kms_keys=[
        _key("rotating", rotation_enabled=True),
        _key("static", rotation_enabled=False),
        _key("aws-managed", manager="AWS", rotation_enabled=False),
        _key("asymmetric", spec="RSA_2048", rotation_enabled=False),
        _key("disabled", state="Disabled", rotation_enabled=False),
        _key("unknown", rotation_enabled=None, errors={"GetKeyRotationStatus": "AccessDeniedException: no"}),
    ])
    findings = run(kms.kms_cmk_rotation_enabled, snap)
    assert statuses(findings) == {"rotating": PASS, "static": FAIL, "unknown": ERROR}
    static = next(f for f in findings if f.resource_id == "static")
    assert static.region == REGION and static.compliance == {"CIS-3.0": ["3.6"], "CIS-5.0": ["3.6"], "FSBP": ["KMS.4"]}
    assert static.resource_arn.endswith("key/static")


def test_kms_rotation_period_against_the_maximum() -> None:
    snap = snapshot(kms_keys=[
        _key("yearly", rotation_enabled=True, rotation_period_days=365),
        _key("biennial", rotation_enabled=True, rotation_period_days=730),
        _key("unreported", rotation_enabled=True),
        _key("off", rotation_enabled=False),
    ])
    findings = run(kms.kms_cmk_rotation_period_within_max, snap)
    assert statuses(findings) == {"yearly": PASS, "biennial": FAIL, "unreported": PASS}
    assert "AWS default assumed" in next(f.message for f in findings if f.resource_id == "unreported")
    strict = config(thresholds={"kms_max_rotation_period_days": 180})
    assert statuses(run(kms.kms_cmk_rotation_period_within_max, snap, strict))["yearly"] == FAIL


def test_kms_keys_pending_deletion() -> None:
    snap = snapshot(kms_keys=[_key("doomed", state="PendingDeletion", deletion_date=days_ago(-7)), _key("fine")])
    findings = run(kms.kms_cmk_not_deleted_unintentionally, snap)
    assert statuses(findings) == {"doomed": FAIL, "fine": PASS}


def test_kms_public_key_policy() -> None:
    snap = snapshot(kms_keys=[_key("private", policy=ROOT_POLICY), _key("public", policy=PUBLIC_POLICY),
                              _key("unread", errors={"GetKeyPolicy": "AccessDeniedException: no"})])
    assert statuses(run(kms.kms_key_not_publicly_accessible, snap)) == {"private": PASS, "public": FAIL, "unread": ERROR}


def test_kms_key_that_could_not_be_described_is_an_error_in_every_kms_check() -> None:
    snap = snapshot(kms_keys=[_key("mystery", manager="UNKNOWN", errors={"DescribeKey": "AccessDeniedException: no"})])
    for check in (kms.kms_cmk_rotation_enabled, kms.kms_cmk_rotation_period_within_max,
                  kms.kms_cmk_not_deleted_unintentionally, kms.kms_key_not_publicly_accessible):
        assert statuses(run(check, snap)) == {"mystery": ERROR}, check.id


def _secret(name: str, *, rotation: bool = False, last: float | None = None, next_in: float | None = None,
            created: float = 400) -> Secret:
    return Secret(
        arn=f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}-AbCdEf", name=name, rotation_enabled=rotation,
        rotation_days=30 if rotation else None, last_rotated=days_ago(last) if last is not None else None,
        next_rotation=days_ago(-next_in) if next_in is not None else None, last_changed=None, created=days_ago(created),
    )


def test_secret_rotation_checks() -> None:
    snap = snapshot(secrets=[
        _secret("healthy", rotation=True, last=10, next_in=20),
        _secret("overdue", rotation=True, last=100, next_in=-70),
        _secret("manual-old", last=120),
        _secret("never", created=200),
        _secret("brand-new", created=2),
    ])
    assert statuses(run(secrets.secretsmanager_automatic_rotation_enabled, snap)) == {
        "healthy": PASS, "overdue": PASS, "manual-old": FAIL, "never": FAIL, "brand-new": FAIL,
    }
    assert statuses(run(secrets.secretsmanager_secret_rotated_periodically, snap)) == {
        "healthy": PASS, "overdue": FAIL, "manual-old": FAIL, "never": FAIL, "brand-new": PASS,
    }
    assert statuses(run(secrets.secretsmanager_secret_never_rotated, snap)) == {
        "healthy": PASS, "overdue": PASS, "manual-old": PASS, "never": FAIL, "brand-new": PASS,
    }
    overdue = run(secrets.secretsmanager_secret_rotation_overdue, snap)
    assert statuses(overdue) == {"healthy": PASS, "overdue": FAIL}
    assert next(f for f in overdue if f.status == FAIL).extra["overdue_days"] == 70


ROTATION_CHECKS = [secrets.secretsmanager_automatic_rotation_enabled, secrets.secretsmanager_secret_rotated_periodically,
                   secrets.secretsmanager_secret_never_rotated]
ADMIN_SECRET = "iamflow/cognito/myapp-users/admin"
BOOTSTRAP_CASES = [
    # (the admin's state as collected, expected status of every rotation check, words of the message)
    (BootstrapPassword("myapp-users", "admin", "eu-west-1_P", "FORCE_CHANGE_PASSWORD"), PASS,
     "who has not signed in yet: a temporary password is retired, not rotated"),
    (BootstrapPassword("myapp-users", "admin", "eu-west-1_P", "CONFIRMED"), FAIL,
     "who has signed in since (status CONFIRMED)"),
    (BootstrapPassword("myapp-users", "admin", "eu-west-1_P"), FAIL, "that user or pool no longer exists"),
    (BootstrapPassword("myapp-users", "admin"), FAIL, "that user or pool no longer exists"),
    (BootstrapPassword("myapp-users", "admin", "eu-west-1_P", error="AdminGetUser: AccessDeniedException: no"), ERROR,
     "could not be read: AdminGetUser: AccessDeniedException"),
]


@pytest.mark.parametrize("check", ROTATION_CHECKS, ids=lambda c: c.id)
@pytest.mark.parametrize(("state", "expected", "words"), BOOTSTRAP_CASES, ids=[
    "admin-pending-passes", "admin-signed-in-fails", "admin-gone-fails", "pool-gone-fails", "status-unreadable-errors",
])
def test_bootstrap_temporary_passwords_are_judged_by_the_admin_state(check: Any, state: BootstrapPassword,
                                                                      expected: str, words: str) -> None:
    # 200 days old and never rotated: every rotation check would fail an ordinary secret
    snap = snapshot(secrets=[replace(_secret(ADMIN_SECRET, created=200), bootstrap=state), _secret("plain", created=200)])
    findings = run(check, snap)
    assert statuses(findings) == {ADMIN_SECRET: expected, "plain": FAIL}
    verdict = next(f for f in findings if f.resource_id == ADMIN_SECRET)
    assert words in verdict.message and "Cognito admin user admin of user pool myapp-users" in verdict.message
    assert verdict.extra["iamflow_bootstrap"] is True


BOOTSTRAP_MARKS = [
    (ADMIN_SECRET, {"iamflow:id": "cognito_user_pool.myapp-users/admin"}, ("myapp-users", "admin")),
    ("iamflow/cognito/my=20pool/a=2Fb", {"iamflow:id": "cognito_user_pool.my pool/a/b"}, ("my pool", "a/b")),
    (ADMIN_SECRET, {}, None),
    (ADMIN_SECRET, {"iamflow:id": "cognito_user_pool.other-pool/admin"}, None),
    ("myapp/admin-password", {"iamflow:id": "cognito_user_pool.myapp-users/admin"}, None),
    ("iamflow/cognito/myapp-users/clients/web", {"iamflow:id": "iamflow/cognito/myapp-users/clients/web"}, None),
]


@pytest.mark.parametrize(("name", "tags", "owner"), BOOTSTRAP_MARKS, ids=[
    "tag-and-name-agree", "encoded-segments", "no-tag", "tag-names-another-pool", "name-is-not-iamflows",
    "app-client-secret",
])
def test_a_bootstrap_secret_needs_both_the_tag_and_the_name(name: str, tags: dict, owner: tuple | None) -> None:
    assert bootstrap_admin_of(name, tags) == owner


STRONG_POOL = {"MinimumLength": 14, "RequireUppercase": True, "RequireLowercase": True, "RequireNumbers": True,
               "RequireSymbols": True, "TemporaryPasswordValidityDays": 7}


def _client(client_id: str, *, access: int = 3600, id_token: int = 3600, refresh: int = 30 * 86400,
            flows: tuple[str, ...] = ("ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH")) -> UserPoolClient:
    return UserPoolClient(client_id, f"{client_id}-name", access, id_token, refresh, flows, True, True)


def _pool(pool_id: str, *, mfa: str = "ON", factors: tuple[str, ...] = (MFA_TOTP,), policy: dict | None = None,
          protection: str = "ACTIVE", clients: list[UserPoolClient] | None = None,
          errors: dict | None = None) -> UserPool:
    return UserPool(pool_id, f"{pool_id}-name", f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/{pool_id}", mfa,
                    dict(STRONG_POOL if policy is None else policy), protection, clients=clients or [],
                    errors=errors or {}, mfa_factors=factors)


POOL_CHECKS = [
    (cognito.cognito_user_pool_mfa_enabled, {"mfa": "OPTIONAL"}),
    (cognito.cognito_user_pool_password_policy_minimum_length_14, {"policy": {**STRONG_POOL, "MinimumLength": 8}}),
    (cognito.cognito_user_pool_password_policy_uppercase, {"policy": {**STRONG_POOL, "RequireUppercase": False}}),
    (cognito.cognito_user_pool_password_policy_lowercase, {"policy": {**STRONG_POOL, "RequireLowercase": False}}),
    (cognito.cognito_user_pool_password_policy_number, {"policy": {**STRONG_POOL, "RequireNumbers": False}}),
    (cognito.cognito_user_pool_password_policy_symbol, {"policy": {**STRONG_POOL, "RequireSymbols": False}}),
    (cognito.cognito_user_pool_temporary_password_expiration,
     {"policy": {**STRONG_POOL, "TemporaryPasswordValidityDays": 8}}),
    (cognito.cognito_user_pool_deletion_protection_enabled, {"protection": "INACTIVE"}),
]


def test_cognito_pool_checks_pass_on_a_strong_pool_and_fail_on_one_weakness() -> None:
    for check, weakness in POOL_CHECKS:
        snap = snapshot(user_pools=[_pool("strong"), _pool("weak", **weakness)])
        findings = run(check, snap)
        assert statuses(findings) == {"strong": PASS, "weak": FAIL}, check.id
        assert all(f.resource_arn.endswith(f"userpool/{f.resource_id}") for f in findings)


MFA_CASES = [
    # (pool settings read from GetUserPoolMfaConfig, expected status, words the message must hold)
    ({"mfa": "ON", "factors": (MFA_TOTP,)}, PASS, "requires MFA (TOTP)"),
    ({"mfa": "ON", "factors": (MFA_TOTP, MFA_SMS)}, PASS, "requires MFA (TOTP, SMS)"),
    ({"mfa": "ON", "factors": (MFA_EMAIL,)}, PASS, "requires MFA (EMAIL)"),
    ({"mfa": "ON", "factors": (MFA_SMS,)}, FAIL, "SMS is its only factor; enable TOTP"),
    ({"mfa": "ON", "factors": ()}, FAIL, "no factor enabled"),
    ({"mfa": "OPTIONAL", "factors": (MFA_TOTP,)}, FAIL, "has MFA OPTIONAL"),
    ({"mfa": "OFF", "factors": ()}, FAIL, "has MFA OFF"),
    ({"mfa": "UNKNOWN", "errors": {"GetUserPoolMfaConfig": "AccessDeniedException: no"}}, ERROR,
     "GetUserPoolMfaConfig: AccessDeniedException"),
]


@pytest.mark.parametrize(("settings", "expected", "words"), MFA_CASES, ids=[
    "on-totp", "on-totp-and-sms", "on-email", "on-sms-only", "on-no-factor", "optional", "off", "mfa-config-unreadable",
])
def test_cognito_mfa_from_the_mfa_config(settings: dict, expected: str, words: str) -> None:
    findings = run(cognito.cognito_user_pool_mfa_enabled, snapshot(user_pools=[_pool("p", **settings)]))
    assert statuses(findings) == {"p": expected}
    assert words in findings[0].message


def test_an_unreadable_mfa_config_only_affects_the_mfa_check() -> None:
    snap = snapshot(user_pools=[_pool("p", mfa="UNKNOWN", errors={"GetUserPoolMfaConfig": "AccessDeniedException: no"})])
    assert statuses(run(cognito.cognito_user_pool_deletion_protection_enabled, snap)) == {"p": PASS}


def test_cognito_client_token_lifetimes() -> None:
    snap = snapshot(user_pools=[_pool("p", clients=[
        _client("ok"), _client("long-refresh", refresh=90 * 86400), _client("long-access", access=86400),
    ])])
    findings = run(cognito.cognito_user_pool_client_token_validity, snap)
    assert statuses(findings) == {"ok": PASS, "long-refresh": FAIL, "long-access": FAIL}
    refresh = next(f for f in findings if f.resource_id == "long-refresh")
    assert "refresh token 90 day(s) (max 30 day(s))" in refresh.message and refresh.extra["pool_id"] == "p"
    relaxed = config(thresholds={"cognito_refresh_token_max_days": 120, "cognito_access_token_max_minutes": 1440})
    assert set(statuses(run(cognito.cognito_user_pool_client_token_validity, snap, relaxed)).values()) == {PASS}


def test_cognito_client_password_auth_flow() -> None:
    snap = snapshot(user_pools=[_pool("p", clients=[
        _client("srp"), _client("plain", flows=("ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH")),
        _client("legacy", flows=("USER_PASSWORD_AUTH",)),
    ])])
    assert statuses(run(cognito.cognito_user_pool_client_user_password_auth_disabled, snap)) == {
        "srp": PASS, "plain": FAIL, "legacy": FAIL,
    }


def test_cognito_unreadable_pool_or_clients_are_errors_for_that_pool() -> None:
    snap = snapshot(user_pools=[
        _pool("broken", errors={"DescribeUserPool": "AccessDeniedException: no"}),
        _pool("no-clients", errors={"ListUserPoolClients": "AccessDeniedException: no"}),
        _pool("fine", clients=[_client("c")]),
    ])
    assert statuses(run(cognito.cognito_user_pool_mfa_enabled, snap)) == {"broken": ERROR, "no-clients": PASS, "fine": PASS}
    assert statuses(run(cognito.cognito_user_pool_client_user_password_auth_disabled, snap)) == {
        "broken": ERROR, "no-clients": ERROR, "c": PASS,
    }


def test_drift_findings_from_the_provider_items() -> None:
    items = [
        DriftItem("iam_role", "app", f"arn:aws:iam::{ACCOUNT}:role/app", "in_sync", playbook="app.yaml"),
        DriftItem("iam_role", "gone", f"arn:aws:iam::{ACCOUNT}:role/gone", "missing", playbook="app.yaml"),
        DriftItem("iam_managed_policy", "p", f"arn:aws:iam::{ACCOUNT}:policy/p", "differs", "document: 2 statements",
                  "app.yaml"),
    ]
    findings = run(drift.iamflow_playbook_drift, snapshot(drift=items))
    assert statuses(findings) == {"iam_role/app": PASS, "iam_role/gone": FAIL, "iam_managed_policy/p": FAIL}
    assert findings[0].region == "global"


def test_drift_without_a_provider_is_an_error_not_a_pass() -> None:
    snap = snapshot()
    snap.skipped["drift"] = "no drift provider is configured"
    finding = run(drift.iamflow_playbook_drift, snap)[0]
    assert finding.status == ERROR and "no drift provider" in finding.message
