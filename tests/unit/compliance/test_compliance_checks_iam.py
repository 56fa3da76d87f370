"""Every IAM check: PASS and FAIL on hand-built snapshots with an injected clock."""

from __future__ import annotations

from typing import Any

import pytest
from compliance_builders import (
    ACCOUNT,
    ADMIN_DOC,
    NOW,
    ROOT_ARN,
    auth,
    config,
    days_ago,
    doc,
    key,
    policy,
    principal,
    report,
    row,
    run,
    snapshot,
    statuses,
    user_arn,
)

from iamflow.compliance.checks import iam_password_policy as pw
from iamflow.compliance.checks import iam_policies as pol
from iamflow.compliance.checks import iam_roles as roles
from iamflow.compliance.checks import iam_root as root
from iamflow.compliance.checks import iam_users as users
from iamflow.compliance.findings import ERROR, FAIL, GLOBAL_REGION, PASS
from iamflow.compliance.snapshot import ROOT_ROW, AccessKeyColumns, PasswordPolicy, VirtualMfaDevice
from iamflow.compliance.sweep import resolve_access_key_ids

# --- users and credentials ----------------------------------------------------------------------


def test_mfa_for_console_users() -> None:
    snap = snapshot(credential_report=report(
        row("console-no-mfa", password=True),
        row("console-mfa", password=True, mfa=True),
        row("api-only", keys=(key(1),)),
    ))
    findings = run(users.iam_user_mfa_enabled_console_access, snap)
    assert statuses(findings) == {"console-no-mfa": FAIL, "console-mfa": PASS, "api-only": PASS}
    failing = next(f for f in findings if f.status == FAIL)
    assert failing.resource_arn == user_arn("console-no-mfa")
    assert failing.region == GLOBAL_REGION and failing.account_id == ACCOUNT
    assert failing.compliance == {"CIS-3.0": ["1.10"], "CIS-5.0": ["1.9"], "FSBP": ["IAM.5"]} and failing.severity == "high"


def test_rotate_access_keys_judges_active_keys_only() -> None:
    snap = snapshot(credential_report=report(
        row("old", keys=(key(1, created=days_ago(91)), key(2, created=days_ago(5)))),
        row("old-but-inactive", keys=(key(1, active=False, created=days_ago(500)),)),
        row("exactly-90", keys=(key(1, created=days_ago(90)),)),
    ))
    findings = run(users.iam_rotate_access_key_90_days, snap)
    assert statuses(findings) == {
        "old/access_key_1": FAIL, "old/access_key_2": PASS, "old-but-inactive": PASS, "exactly-90/access_key_1": PASS,
    }
    stale = next(f for f in findings if f.status == FAIL)
    assert stale.resource_arn == user_arn("old")
    assert stale.extra["access_key"] == "access_key_1" and stale.extra["age_days"] == 91
    assert "access_key_id" in stale.extra  # filled by the sweep when it can look the id up
    assert stale.message.startswith("Access key 1 of user old")


def test_rotation_threshold_comes_from_config() -> None:
    snap = snapshot(credential_report=report(row("u", keys=(key(1, created=days_ago(40)),))))
    cfg = config(thresholds={"access_key_max_age_days": 30})
    assert statuses(run(users.iam_rotate_access_key_90_days, snap, cfg)) == {"u/access_key_1": FAIL}


def test_unused_access_keys_including_never_used_and_old() -> None:
    snap = snapshot(credential_report=report(
        row("used-recently", keys=(key(1, created=days_ago(300), used=days_ago(3)),)),
        row("used-long-ago", keys=(key(1, created=days_ago(300), used=days_ago(45)),)),
        row("never-used-old", keys=(key(1, created=days_ago(46)),)),
        row("never-used-new", keys=(key(1, created=days_ago(2)),)),
        row("no-keys"),
    ))
    assert statuses(run(users.iam_user_accesskey_unused, snap)) == {
        "used-recently/access_key_1": PASS,
        "used-long-ago/access_key_1": FAIL,
        "never-used-old/access_key_1": FAIL,
        "never-used-new/access_key_1": PASS,
        "no-keys": PASS,
    }


def test_unused_console_passwords_including_never_used() -> None:
    snap = snapshot(credential_report=report(
        row("recent", password=True, password_used=days_ago(1)),
        row("stale", password=True, password_used=days_ago(60)),
        row("never-old", password=True, password_changed=days_ago(50)),
        row("never-new", password=True, created=days_ago(500), password_changed=days_ago(10)),
        row("no-password"),
    ))
    findings = run(users.iam_user_console_access_unused, snap)
    assert statuses(findings) == {
        "recent": PASS, "stale": FAIL, "never-old": FAIL, "never-new": PASS, "no-password": PASS,
    }
    assert "never signed in" in next(f.message for f in findings if f.resource_id == "never-old")


def test_two_active_access_keys() -> None:
    snap = snapshot(credential_report=report(
        row("two", keys=(key(1), key(2))),
        row("one-active", keys=(key(1), key(2, active=False))),
    ))
    assert statuses(run(users.iam_user_two_active_access_key, snap)) == {"two": FAIL, "one-active": PASS}


def test_no_access_key_left_unused_from_initial_setup() -> None:
    created = days_ago(30)
    snap = snapshot(credential_report=report(
        row("setup-key", password=True, created=created, keys=(key(1, created=created),)),
        row("used-key", password=True, keys=(key(1, used=days_ago(1)),)),
        row("api-user", keys=(key(1),)),
    ))
    findings = run(users.iam_user_no_setup_initial_access_key, snap)
    assert statuses(findings) == {"setup-key/access_key_1": FAIL, "used-key": PASS, "api-user": PASS}
    assert next(f for f in findings if f.status == FAIL).extra["created_with_user"] is True


def test_user_findings_carry_tags_from_authorization_details() -> None:
    snap = snapshot(
        credential_report=report(row("alice", password=True)),
        authorization=auth(users=[principal("user", "alice", tags={"team": "ops"})]),
    )
    assert run(users.iam_user_mfa_enabled_console_access, snap)[0].tags == {"team": "ops"}


# --- root ---------------------------------------------------------------------------------------


def _summary(mfa: int = 1, keys: int = 0) -> dict[str, int]:
    return {"AccountMFAEnabled": mfa, "AccountAccessKeysPresent": keys, "Users": 3}


def test_root_access_keys_from_summary_or_root_row() -> None:
    assert run(root.iam_no_root_access_key, snapshot(account_summary=_summary(keys=0)))[0].status == PASS
    bad = run(root.iam_no_root_access_key, snapshot(account_summary=_summary(keys=1)))[0]
    assert bad.status == FAIL and bad.resource_arn == ROOT_ARN and bad.severity == "critical"
    with_row = snapshot(account_summary=_summary(keys=0),
                        credential_report=report(root=row(ROOT_ROW, keys=(key(2, created=days_ago(9)),))))
    assert run(root.iam_no_root_access_key, with_row)[0].status == FAIL


def test_root_mfa() -> None:
    assert run(root.iam_root_mfa_enabled, snapshot(account_summary=_summary(mfa=1)))[0].status == PASS
    assert run(root.iam_root_mfa_enabled, snapshot(account_summary=_summary(mfa=0)))[0].status == FAIL


def test_root_hardware_mfa() -> None:
    virtual = VirtualMfaDevice(f"arn:aws:iam::{ACCOUNT}:mfa/root-account-mfa-device", ROOT_ARN, days_ago(3))
    someone_else = VirtualMfaDevice(f"arn:aws:iam::{ACCOUNT}:mfa/alice", user_arn("alice"), days_ago(3))
    hardware = snapshot(account_summary=_summary(mfa=1), virtual_mfa_devices=[someone_else])
    assert run(root.iam_root_hardware_mfa_enabled, hardware)[0].status == PASS
    soft = snapshot(account_summary=_summary(mfa=1), virtual_mfa_devices=[virtual])
    assert run(root.iam_root_hardware_mfa_enabled, soft)[0].status == FAIL
    none = snapshot(account_summary=_summary(mfa=0), virtual_mfa_devices=[])
    assert run(root.iam_root_hardware_mfa_enabled, none)[0].status == FAIL


def test_root_hardware_mfa_needs_both_steps() -> None:
    snap = snapshot(account_summary=_summary(mfa=1))
    snap.errors["virtual_mfa_devices"] = "ListVirtualMFADevices: AccessDenied: no"
    finding = run(root.iam_root_hardware_mfa_enabled, snap)[0]
    assert finding.status == ERROR and "virtual_mfa_devices" in finding.message


def test_root_usage_from_the_root_row() -> None:
    used = snapshot(credential_report=report(root=row(ROOT_ROW, password=True, password_used=NOW - (NOW - days_ago(0.5)))))
    assert run(root.iam_avoid_root_usage, used)[0].status == FAIL
    idle = snapshot(credential_report=report(root=row(ROOT_ROW, password=True, password_used=days_ago(30))))
    assert run(root.iam_avoid_root_usage, idle)[0].status == PASS
    by_key = snapshot(credential_report=report(root=row(ROOT_ROW, keys=(key(1, used=days_ago(0.1)),))))
    assert run(root.iam_avoid_root_usage, by_key)[0].status == FAIL


def test_root_usage_without_a_root_row_is_an_error() -> None:
    finding = run(root.iam_avoid_root_usage, snapshot(credential_report=report(row("alice"))))[0]
    assert finding.status == ERROR and "<root_account>" in finding.message


# --- password policy ----------------------------------------------------------------------------

STRONG = {"MinimumPasswordLength": 14, "PasswordReusePrevention": 24, "RequireUppercaseCharacters": True,
          "RequireLowercaseCharacters": True, "RequireNumbers": True, "RequireSymbols": True,
          "ExpirePasswords": True, "MaxPasswordAge": 90}
PASSWORD_CHECKS = [
    (pw.iam_password_policy_minimum_length_14, {"MinimumPasswordLength": 13}),
    (pw.iam_password_policy_reuse_24, {"PasswordReusePrevention": 5}),
    (pw.iam_password_policy_uppercase, {"RequireUppercaseCharacters": False}),
    (pw.iam_password_policy_lowercase, {"RequireLowercaseCharacters": False}),
    (pw.iam_password_policy_number, {"RequireNumbers": False}),
    (pw.iam_password_policy_symbol, {"RequireSymbols": False}),
    (pw.iam_password_policy_expires_passwords_within_90_days_or_less, {"MaxPasswordAge": 180}),
]


def test_password_policy_checks_pass_on_a_strong_policy_and_fail_on_a_weak_setting() -> None:
    for check, weaken in PASSWORD_CHECKS:
        strong = snapshot(password_policy=PasswordPolicy(True, dict(STRONG)))
        assert [f.status for f in run(check, strong)] == [PASS], check.id
        weak = snapshot(password_policy=PasswordPolicy(True, {**STRONG, **weaken}))
        finding = run(check, weak)[0]
        assert finding.status == FAIL and finding.resource_arn == ROOT_ARN, check.id


def test_no_password_policy_is_a_fail_not_an_error() -> None:
    for check, _ in PASSWORD_CHECKS:
        finding = run(check, snapshot(password_policy=PasswordPolicy(False)))[0]
        assert finding.status == FAIL and "no password policy" in finding.message, check.id


def test_password_expiry_missing_fails() -> None:
    settings = {k: v for k, v in STRONG.items() if k not in ("MaxPasswordAge", "ExpirePasswords")}
    finding = run(pw.iam_password_policy_expires_passwords_within_90_days_or_less,
                  snapshot(password_policy=PasswordPolicy(True, settings)))[0]
    assert finding.status == FAIL and "never expires" in finding.message


# --- policies -----------------------------------------------------------------------------------


def test_managed_policy_admin_checks_split_by_owner_and_attachment() -> None:
    snap = snapshot(authorization=auth(policies=[
        policy("AdministratorAccess", ADMIN_DOC, attachments=1, aws=True),
        policy("ReadOnlyAccess", doc(["s3:Get*"]), attachments=2, aws=True),
        policy("UnusedAwsAdmin", ADMIN_DOC, attachments=0, aws=True),
        policy("team-admin", doc("*:*"), attachments=1),
        policy("team-s3", doc("s3:*"), attachments=1),
        policy("dormant-admin", ADMIN_DOC, attachments=0),
    ]))
    assert statuses(run(pol.iam_aws_attached_policy_no_administrative_privileges, snap)) == {
        "AdministratorAccess": FAIL, "ReadOnlyAccess": PASS,
    }
    assert statuses(run(pol.iam_customer_attached_policy_no_administrative_privileges, snap)) == {
        "team-admin": FAIL, "team-s3": PASS,
    }
    unattached = run(pol.iam_customer_unattached_policy_no_administrative_privileges, snap)
    assert statuses(unattached) == {"dormant-admin": FAIL}
    assert unattached[0].resource_arn == f"arn:aws:iam::{ACCOUNT}:policy/dormant-admin"


def test_inline_admin_policies_of_users_groups_and_roles() -> None:
    snap = snapshot(authorization=auth(
        users=[principal("user", "u", inline_policies={"god": ADMIN_DOC})],
        groups=[principal("group", "g", inline_policies={"read": doc("s3:GetObject", "arn:aws:s3:::b/*")})],
        roles=[principal("role", "r", inline_policies={"all": doc("*", "*")})],
    ))
    findings = run(pol.iam_inline_policy_no_administrative_privileges, snap)
    assert statuses(findings) == {"u/god": FAIL, "g/read": PASS, "r/all": FAIL}
    assert {f.resource_arn for f in findings if f.status == FAIL} == {
        f"arn:aws:iam::{ACCOUNT}:user/u", f"arn:aws:iam::{ACCOUNT}:role/r",
    }


def test_full_kms_access_in_customer_and_inline_policies() -> None:
    snap = snapshot(authorization=auth(
        policies=[policy("kms-all", doc("kms:*")), policy("kms-decrypt", doc("kms:Decrypt")),
                  policy("aws-kms", doc("kms:*"), aws=True, attachments=1)],
        roles=[principal("role", "r", inline_policies={"k": doc(["kms:*"])})],
    ))
    assert statuses(run(pol.iam_policy_no_full_access_to_kms, snap)) == {"kms-all": FAIL, "kms-decrypt": PASS}
    assert statuses(run(pol.iam_inline_policy_no_full_access_to_kms, snap)) == {"r/k": FAIL}


def test_administrator_access_attached_to_users_groups_roles() -> None:
    admin = (("AdministratorAccess", "arn:aws:iam::aws:policy/AdministratorAccess"),)
    snap = snapshot(authorization=auth(
        users=[principal("user", "boss", attached_policies=admin), principal("user", "dev")],
        groups=[principal("group", "admins", attached_policies=admin)],
        roles=[principal("role", "ops", attached_policies=admin),
               principal("role", "AWSServiceRoleForSupport", path="/aws-service-role/support.amazonaws.com/",
                         attached_policies=admin),
               principal("role", "app")],
    ))
    assert statuses(run(pol.iam_user_administrator_access_policy, snap)) == {"boss": FAIL, "dev": PASS}
    assert statuses(run(pol.iam_group_administrator_access_policy, snap)) == {"admins": FAIL}
    assert statuses(run(pol.iam_role_administratoraccess_policy, snap)) == {"ops": FAIL, "app": PASS}


def test_support_role() -> None:
    support = (("AWSSupportAccess", "arn:aws:iam::aws:policy/AWSSupportAccess"),)
    with_role = snapshot(authorization=auth(roles=[principal("role", "support", attached_policies=support)]))
    finding = run(pol.iam_support_role_created, with_role)[0]
    assert finding.status == PASS and finding.extra["support_roles"] == ["support"]
    without = snapshot(authorization=auth(users=[principal("user", "u", attached_policies=support)]))
    finding = run(pol.iam_support_role_created, without)[0]
    assert finding.status == FAIL and finding.resource_arn == ROOT_ARN


def test_policies_attached_only_to_groups_or_roles() -> None:
    snap = snapshot(authorization=auth(users=[
        principal("user", "direct", attached_policies=(("p", f"arn:aws:iam::{ACCOUNT}:policy/p"),)),
        principal("user", "inline", inline_policies={"x": doc("s3:GetObject")}),
        principal("user", "clean", groups=("devs",)),
    ]))
    assert statuses(run(pol.iam_policy_attached_only_to_group_or_roles, snap)) == {
        "direct": FAIL, "inline": FAIL, "clean": PASS,
    }


def test_a_policy_without_a_document_is_an_error_for_that_policy_only() -> None:
    snap = snapshot(authorization=auth(policies=[policy("broken", None, attachments=1), policy("ok", doc("s3:Get*"), attachments=1)]))
    assert statuses(run(pol.iam_customer_attached_policy_no_administrative_privileges, snap)) == {"broken": ERROR, "ok": PASS}


# --- roles --------------------------------------------------------------------------------------


def _trust(principal_value: object, condition: dict | None = None) -> dict:
    statement = {"Effect": "Allow", "Principal": principal_value, "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


def test_cross_account_trust_requires_an_external_id() -> None:
    snap = snapshot(authorization=auth(roles=[
        principal("role", "vendor", trust_policy=_trust({"AWS": "arn:aws:iam::999988887777:root"})),
        principal("role", "vendor-ok", trust_policy=_trust(
            {"AWS": "999988887777"}, {"StringEquals": {"sts:ExternalId": "abc"}})),
        principal("role", "internal", trust_policy=_trust({"AWS": f"arn:aws:iam::{ACCOUNT}:root"})),
        principal("role", "lambda", trust_policy=_trust({"Service": "lambda.amazonaws.com"})),
        principal("role", "anyone", trust_policy=_trust("*")),
    ]))
    findings = run(roles.iam_role_cross_account_trust_requires_external_id, snap)
    assert statuses(findings) == {"vendor": FAIL, "vendor-ok": PASS, "internal": PASS, "lambda": PASS, "anyone": FAIL}
    assert "999988887777" in next(f.message for f in findings if f.resource_id == "vendor")


def test_permission_boundary_required_for_selected_roles() -> None:
    boundary = f"arn:aws:iam::{ACCOUNT}:policy/dev-boundary"
    snap = snapshot(authorization=auth(roles=[
        principal("role", "alice-dev", path="/developers/"),
        principal("role", "bob-dev", path="/developers/", permissions_boundary_arn=boundary),
        principal("role", "ci", path="/", tags={"team": "data"}),
        principal("role", "app"),
    ]))
    cfg = config(roles={"permissions_boundary_required": {"paths": ["/developers/"], "tags": {"team": "data"}}})
    assert statuses(run(roles.iam_role_permissions_boundary_required, snap, cfg)) == {
        "alice-dev": FAIL, "bob-dev": PASS, "ci": FAIL,
    }
    assert run(roles.iam_role_permissions_boundary_required, snap, config()) == []  # no selector, no findings


# --- root's access keys in the rotation and unused-key checks -------------------------------------


ROOT_KEY_CASES = [
    # (check, the root row's key, expected status)
    (users.iam_rotate_access_key_90_days, key(1, created=days_ago(91), used=days_ago(1)), FAIL),
    (users.iam_rotate_access_key_90_days, key(1, created=days_ago(30), used=days_ago(1)), PASS),
    (users.iam_rotate_access_key_90_days, AccessKeyColumns(1, True, None, None), ERROR),
    (users.iam_user_accesskey_unused, key(1, created=days_ago(300), used=days_ago(60)), FAIL),
    (users.iam_user_accesskey_unused, key(1, created=days_ago(300), used=days_ago(2)), PASS),
    (users.iam_user_accesskey_unused, AccessKeyColumns(1, True, None, None), ERROR),
]


@pytest.mark.parametrize(("check", "root_key", "expected"), ROOT_KEY_CASES, ids=[
    "rotation-old-root-key-fails", "rotation-young-root-key-passes", "rotation-undated-root-key-errors",
    "unused-idle-root-key-fails", "unused-recent-root-key-passes", "unused-undated-root-key-errors",
])
def test_root_access_keys_are_judged_like_users_keys(check: Any, root_key: AccessKeyColumns, expected: str) -> None:
    snap = snapshot(credential_report=report(row("alice"), root=row(ROOT_ROW, keys=(root_key,))))
    findings = run(check, snap)
    assert statuses(findings) == {"alice": PASS, f"{ACCOUNT}/access_key_1": expected}
    rooted = next(f for f in findings if f.resource_id == ACCOUNT)
    assert rooted.resource_arn == ROOT_ARN and rooted.message.startswith("Access key 1 of the root user")


@pytest.mark.parametrize("check", [users.iam_rotate_access_key_90_days, users.iam_user_accesskey_unused],
                         ids=["rotation", "unused"])
def test_root_without_active_keys_passes_and_a_report_without_the_root_row_says_nothing_of_root(check: Any) -> None:
    inactive = AccessKeyColumns(1, False, days_ago(900), None)
    with_row = run(check, snapshot(credential_report=report(root=row(ROOT_ROW, keys=(inactive,)))))
    assert statuses(with_row) == {ACCOUNT: PASS}
    assert with_row[0].message == "The root user has no active access key."
    without_row = run(check, snapshot(credential_report=report(row("alice"))))
    assert statuses(without_row) == {"alice": PASS}


def test_root_key_findings_are_not_looked_up_with_list_access_keys() -> None:
    asked: list[str] = []

    class Iam:
        def list_access_keys(self, UserName: str) -> dict[str, Any]:  # noqa: N803 (boto3's name)
            asked.append(UserName)
            return {"AccessKeyMetadata": [{"AccessKeyId": "AKIAUSER", "CreateDate": days_ago(100)}]}

    class Clients:
        def client(self, name: str) -> Iam:
            return Iam()

    snap = snapshot(credential_report=report(row("alice", keys=(key(1, created=days_ago(100)),)),
                                             root=row(ROOT_ROW, keys=(key(1, created=days_ago(100)),))))
    findings = resolve_access_key_ids(Clients(), run(users.iam_rotate_access_key_90_days, snap), 10)  # type: ignore[arg-type]
    assert asked == ["alice"]
    assert {f.resource_id: f.extra["access_key_id"] for f in findings} == {"alice": "AKIAUSER", ACCOUNT: None}
