"""Broken Cognito playbooks: refused with file, resource and field named, before any AWS call."""

from __future__ import annotations

from pathlib import Path

import pytest

from iamflow.spec.loader import check_playbook, load_playbook

POOL = """
  - kind: cognito_user_pool
    name: users
"""

CASES = [
    ("password-too-short", POOL + "    password_policy: {minimum_length: 5}\n", "users",
     "password_policy.minimum_length", "greater than or equal to 6"),
    ("password-too-long", POOL + "    password_policy: {minimum_length: 100}\n", "users",
     "password_policy.minimum_length", "less than or equal to 99"),
    ("temporary-validity", POOL + "    password_policy: {temporary_password_validity_days: 400}\n", "users",
     "password_policy.temporary_password_validity_days", "365"),
    ("bad-mfa", POOL + "    mfa: SOMETIMES\n", "users", "mfa", "'OFF', 'ON' or 'OPTIONAL'"),
    ("mfa-without-totp", POOL + "    mfa: \"ON\"\n    software_token: false\n", "users", "software_token", "SMS"),
    ("bad-schema-type", POOL + "    schema: [{name: age, type: Integer}]\n", "users", "schema[0].type", "String"),
    ("duplicate-schema", POOL + "    schema: [{name: email}, {name: email}]\n", "users", "schema", "twice"),
    ("bad-admin-email", POOL + "    admin_users: [{username: a, email: nope}]\n", "users", "admin_users[0].email",
     "not an email"),
    ("admin-group-undeclared", POOL + "    admin_users: [{username: a, email: a@example.com, groups: [ops]}]\n",
     "users", "admin_users[0].groups", "not a cognito_group"),
    ("bad-token-unit", POOL + "  - kind: cognito_app_client\n    name: web\n    user_pool: users\n"
     "    access_token_validity: {value: 60, unit: fortnights}\n", "web", "access_token_validity.unit", "minutes"),
    ("token-out-of-range", POOL + "  - kind: cognito_app_client\n    name: web\n    user_pool: users\n"
     "    access_token_validity: {value: 2, unit: days}\n", "web", "access_token_validity", "outside 5 minutes to 1 day"),
    ("refresh-too-short", POOL + "  - kind: cognito_app_client\n    name: web\n    user_pool: users\n"
     "    refresh_token_validity: {value: 10, unit: minutes}\n", "web", "refresh_token_validity", "60 minutes"),
    ("bad-auth-flow", POOL + "  - kind: cognito_app_client\n    name: web\n    user_pool: users\n"
     "    explicit_auth_flows: [ALLOW_EVERYTHING]\n", "web", "explicit_auth_flows[0]", "ALLOW_USER_SRP_AUTH"),
    ("unknown-pool", POOL + "  - kind: cognito_app_client\n    name: web\n    user_pool: nope\n", "web", "user_pool",
     "does not declare"),
    ("group-unknown-pool", "  - kind: cognito_group\n    name: g\n    user_pool: nope\n", "g", "user_pool",
     "does not declare"),
    ("group-unknown-role", POOL + "  - kind: cognito_group\n    name: g\n    user_pool: users\n    role: nope\n", "g",
     "role", "does not declare"),
    ("group-bad-role-arn", POOL + "  - kind: cognito_group\n    name: g\n    user_pool: users\n"
     "    role: 'arn:aws:iam::123456789012:policy/x'\n", "g", "role", "not a valid IAM role ARN"),
    ("insecure-callback", POOL + "  - kind: cognito_app_client\n    name: web\n    user_pool: users\n"
     "    callback_urls: ['http://example.com/cb']\n", "web", "callback_urls", "https://"),
]


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\nresources:\n" + body.lstrip("\n"), encoding="utf-8")
    return path


def _problems(path: Path, resource: str) -> list:
    from iamflow.spec.kinds_cognito import CognitoUserPool

    result = check_playbook(path)
    problems = list(result.errors)
    # the cross-resource rule the lead wires into the loader; checked here on the loaded playbook
    if result.playbook is not None:
        for r in result.playbook.resources:
            if isinstance(r, CognitoUserPool):
                problems += [(r.name, f, m) for f, m in r.playbook_errors(result.playbook)]
    return problems


@pytest.mark.parametrize(("case", "body", "resource", "field", "message"), CASES, ids=[c[0] for c in CASES])
def test_broken_cognito_playbook_is_refused(tmp_path, monkeypatch, case, body, resource, field, message):
    import botocore.client

    def no_aws(*args, **kwargs):
        raise AssertionError("validation made an AWS call")

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", no_aws)
    problems = _problems(_write(tmp_path, body), resource)
    flat = [(p.resource, p.field, p.message) if hasattr(p, "resource") else p for p in problems]
    assert any(r == resource and (f or "").startswith(field) and message in m for r, f, m in flat), flat
    for p in problems:
        if hasattr(p, "file"):
            assert p.file.endswith("broken.yaml")


def test_password_auth_flow_is_a_lint_warning_preferring_srp(tmp_path):
    body = POOL + ("  - kind: cognito_app_client\n    name: web\n    user_pool: users\n"
                   "    explicit_auth_flows: [ALLOW_USER_PASSWORD_AUTH, ALLOW_REFRESH_TOKEN_AUTH]\n")
    playbook = load_playbook(_write(tmp_path, body))  # a warning, not an error
    client = playbook.by_key()["cognito_app_client.web"]
    warnings = client.lint_warnings()
    assert [f for f, _ in warnings] == ["explicit_auth_flows"]
    assert "ALLOW_USER_SRP_AUTH" in warnings[0][1]
    srp = playbook.by_key()["cognito_app_client.web"].model_copy(
        update={"explicit_auth_flows": ["ALLOW_USER_SRP_AUTH"]})
    assert srp.lint_warnings() == []


def test_weak_pool_settings_are_warnings(tmp_path):
    body = POOL + "    password_policy: {minimum_length: 12}\n    mfa: OPTIONAL\n    deletion_protection: false\n"
    pool = load_playbook(_write(tmp_path, body)).resources[0]
    assert [f for f, _ in pool.lint_warnings()] == ["password_policy.minimum_length", "mfa", "deletion_protection"]


def test_shipped_auth_playbook_loads_without_warnings():
    from iamflow.settings import project_root

    playbook = load_playbook(project_root() / "include" / "playbooks" / "myapp-auth.yaml")
    assert [r.key for r in playbook.resources] == [
        "cognito_user_pool.myapp-users", "cognito_app_client.myapp-web", "cognito_group.admins"]
    for r in playbook.resources:
        assert r.lint_warnings() == []
    assert playbook.resources[0].playbook_errors(playbook) == []
