"""The credential scan beyond AWS keys: passwords in URLs and literal secrets under secret-like keys."""

from __future__ import annotations

from typing import Any

import pytest

from iamflow.policy.lint import (
    LITERAL_SECRET,
    PASSWORD_IN_URL,
    credential_message,
    is_secret_key,
    lint_policy,
    looks_like_literal_secret,
    scan_credentials,
)

RANDOM = "Zx9aQ1bRt2cYu3dV"  # 16 characters, three classes, no words


@pytest.mark.parametrize("key", [
    "password", "DB_PASSWORD", "dbPassword", "passwd", "pwd", "db-pwd", "db_pass", "passphrase", "dsn", "DATABASE_DSN",
    "signing_key", "signingKey", "private_key", "PrivateKey", "secret", "client_secret", "clientSecret", "token",
    "api_key", "apiKey", "API-KEY", "connection_string", "ConnectionString", "credentials",
])
def test_secret_like_keys(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", [
    "name", "username", "description", "kind", "host", "passport", "compass", "keyring", "secretsmanager:SecretId",
    "aws:SecureTransport",
])
def test_other_keys(key: str) -> None:
    assert not is_secret_key(key)


@pytest.mark.parametrize("value", [
    RANDOM, "S3cr3t!Passw0rd", "d8f7a6s5d4f3g2h1", "ghp_16C7e42F292c6912E7710c838347Ae178B4a", "p@55W0rd-Xy7#Lm",
    "prefix-${placeholder}-Zx9aQ1bRt2cYu3dV",
])
def test_literal_secrets(value: str) -> None:
    assert looks_like_literal_secret(value)


@pytest.mark.parametrize("value", [
    "${db_password}", "hunter2", "true", "disabled", "myapp/production/db", "prod-db.internal.example.com",
    "app-signing-key-2024", "keys/signing.pem", "tokens/ci.json", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x",
    "https://vault.example.com/v1/secret", "rotate it every ninety days", "aaaaaaaaaaaaaaaaaaaa", "MyApplicationToken",
    "CIDeployToken-2024", "a" * 5000 + "!",
])
def test_not_secrets(value: str) -> None:
    assert not looks_like_literal_secret(value)


@pytest.mark.parametrize(("obj", "expected"), [
    ({"password": RANDOM}, [("password", LITERAL_SECRET)]),
    ({"db": {"Pwd": RANDOM}}, [("db.Pwd", LITERAL_SECRET)]),
    ({"tokens": ["short", RANDOM]}, [("tokens[1]", LITERAL_SECRET)]),
    ({"dsn": "postgres://u:p@h/db"}, [("dsn", PASSWORD_IN_URL)]),
    ({"url": "mysql://app:hunter2@db.internal:3306/app"}, [("url", PASSWORD_IN_URL)]),
    ({"dsn": "postgres://u:${db_password}@h/db"}, []),
    ({"dsn": "postgres://u@h/db"}, []),
    ({"conn": "Server=db;User Id=app;Password=hunter2;"}, [("conn", PASSWORD_IN_URL)]),
    ({"conn": "Server=db;User Id=app;Password=${db_password};"}, []),
    ({"description": RANDOM}, []),  # not under a secret-like key
    ({"password": {"generate": {"length": 32}}}, []),
    ({"signing_key": "keys/signing.pem", "secret_name": "myapp/production/db", "token": "true"}, []),
])
def test_scan(obj: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert scan_credentials(obj) == expected


def test_the_value_is_never_in_the_hits_or_the_message() -> None:
    hits = scan_credentials({"template": {"pwd": RANDOM, "dsn": "postgres://u:hunter2@h/db"}})
    assert hits == [("template.pwd", LITERAL_SECRET), ("template.dsn", PASSWORD_IN_URL)]
    for path, kind in hits:
        assert RANDOM not in path + credential_message(kind)
        assert "hunter2" not in path + credential_message(kind)


def test_policy_lint_reports_a_password_in_a_condition_url() -> None:
    doc = {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
                          "Condition": {"StringEquals": {"aws:Referer": "https://u:hunter2@example.com/"}}}]}
    [finding] = lint_policy(doc, profile="identity", own_account="${account_id}")
    assert finding.rule == "hardcoded-credential"
    assert finding.path == "Statement[0].Condition.StringEquals.aws:Referer"
    assert "password" in finding.message and "hunter2" not in finding.message
