"""Hard-coded secrets and insecure Cognito redirect URLs, through the loader: each refused with the
file, the resource, the field and the rule named, and the value itself never shown."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from iamflow.cli import main
from iamflow.errors import Problem
from iamflow.spec.loader import check_playbook

RANDOM = "Zx9aQ1bRt2cYu3dV"
TRUST = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole"}]}
POOL = {"kind": "cognito_user_pool", "name": "users"}


def _write(tmp_path: Path, playbook: dict[str, Any]) -> Path:
    path = tmp_path / "pb.yaml"
    path.write_text(json.dumps({"name": "pb", **playbook}), encoding="utf-8")
    return path


def _errors(path: Path) -> list[Problem]:
    result = check_playbook(path)
    assert result.playbook is None or not result.errors
    return result.errors


def _credential(errors: list[Problem], resource: str | None, field: str) -> Problem:
    found = [p for p in errors if p.rule == "hardcoded-credential" and p.resource == resource and p.field == field]
    assert found, f"no hardcoded-credential on {resource!r} {field!r}; got {[str(p) for p in errors]}"
    return found[0]


def test_access_key_split_across_two_vars_is_caught_after_substitution(tmp_path: Path) -> None:
    path = _write(tmp_path, {"vars": {"a": "IOSFODNN", "b": "7EXAMPLE"}, "resources": [
        {"kind": "iam_role", "name": "r", "trust_policy": TRUST, "tags": {"Owner": "AKIA${a}${b}"}}]})
    errors = _errors(path)
    problem = _credential(errors, "r", "tags.Owner")
    assert problem.file == str(path)
    assert "access key id" in problem.message
    assert "AKIAIOSFODNN7EXAMPLE" not in str(problem)
    # reported once, not once per scan
    assert len([p for p in errors if p.rule == "hardcoded-credential"]) == 1


def test_split_key_in_a_policy_document_is_caught(tmp_path: Path) -> None:
    doc = {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
                          "Condition": {"StringEquals": {"aws:username": "AKIA${a}${b}"}}}]}
    path = _write(tmp_path, {"vars": {"a": "IOSFODNN", "b": "7EXAMPLE"},
                             "resources": [{"kind": "iam_managed_policy", "name": "p", "document": doc}]})
    _credential(_errors(path), "p", "document.Statement[0].Condition.StringEquals.aws:username")


def test_a_literal_key_is_reported_once(tmp_path: Path) -> None:
    path = _write(tmp_path, {"resources": [
        {"kind": "iam_role", "name": "r", "trust_policy": TRUST, "tags": {"Owner": "AKIAIOSFODNN7EXAMPLE"}}]})
    errors = _errors(path)
    assert len([p for p in errors if p.rule == "hardcoded-credential"]) == 1


@pytest.mark.parametrize(("key", "value", "what"), [
    ("pwd", RANDOM, "literal secret"),
    ("signing_key", "kX7!pQ2@zR9#mW4$", "literal secret"),
    ("dsn", "postgres://u:p@h/db", "password"),
    ("connection_string", "Server=db;User Id=app;Password=Zx9aQ1bRt2cYu3dV;", "password"),
])
def test_literal_secret_under_a_template_key(tmp_path: Path, key: str, value: str, what: str) -> None:
    template = {"username": "app", "password": {"generate": {"length": 32}}, key: value}
    path = _write(tmp_path, {"resources": [{"kind": "secret", "name": "app/db", "template": template}]})
    errors = _errors(path)
    problem = _credential(errors, "app/db", f"template.{key}")
    assert what in problem.message and value not in str(problem)
    # the schema refuses the literal too, naming the template field
    assert any(p.resource == "app/db" and p.field == "template" and f"template.{key}" in p.message for p in errors)


def test_literal_secret_in_vars(tmp_path: Path) -> None:
    path = _write(tmp_path, {"vars": {"db_password": RANDOM}, "resources": []})
    problem = _credential(_errors(path), None, "vars.db_password")
    assert RANDOM not in str(problem)


def test_placeholders_generate_specs_and_plain_values_pass(tmp_path: Path) -> None:
    path = _write(tmp_path, {
        "vars": {"secret_name": "myapp/production/db", "token_file": "keys/ci-token.json", "rotate_tokens": "yes"},
        "resources": [
            {"kind": "secret", "name": "${secret_name}",
             "template": {"username": "app", "password": {"generate": {"length": 32}}, "host": "db.internal"}},
            {"kind": "iam_role", "name": "r", "trust_policy": TRUST, "description": "reads ${token_file}"},
        ]})
    assert _errors(path) == []


def test_cli_lint_refuses_a_split_key_without_aws_call(tmp_path: Path, api_calls: list[str],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path, {"vars": {"a": "IOSFODNN", "b": "7EXAMPLE"}, "resources": [
        {"kind": "iam_role", "name": "r", "trust_policy": TRUST, "tags": {"Owner": "AKIA${a}${b}"}}]})
    assert main(["lint", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "hardcoded-credential" in err and "AKIAIOSFODNN7EXAMPLE" not in err
    assert api_calls == []


# --- Cognito redirect URLs -----------------------------------------------------------------------


def _client(field: str, url: str) -> dict[str, Any]:
    return {"resources": [POOL, {"kind": "cognito_app_client", "name": "web", "user_pool": "users", field: [url]}]}


@pytest.mark.parametrize("field", ["callback_urls", "logout_urls"])
@pytest.mark.parametrize(("url", "fragment"), [
    ("http://localhost.evil.example/cb", "the host here is 'localhost.evil.example'"),
    ("http://localhost@evil.example/cb", "user name or password"),
    ("http://127.0.0.1.evil.example/cb", "use https://"),
    ("http://example.com/cb", "use https://"),
    ("https://app.example.com/cb#frag", "fragment"),
    ("https:///cb", "use https://<host>"),
    ("http://localhost:99999/cb", "not a valid URL"),
    ("https://app.example.com/cb\n", "'\\n' at position 27"),
    ("ftp://localhost/cb", "use https://"),
])
def test_insecure_redirect_url_is_refused(tmp_path: Path, field: str, url: str, fragment: str) -> None:
    path = _write(tmp_path, _client(field, url))
    errors = _errors(path)
    mine = [p for p in errors if p.resource == "web" and p.field == field]
    assert mine and fragment in mine[0].message, [str(p) for p in errors]
    assert mine[0].file == str(path)


@pytest.mark.parametrize("field", ["callback_urls", "logout_urls"])
@pytest.mark.parametrize("url", [
    "http://localhost:3000/cb", "http://localhost/cb", "http://LOCALHOST:8080/", "http://127.0.0.1/cb",
    "http://[::1]/cb", "http://[::1]:8443/cb", "https://app.example.com/cb", "https://${region}.example.com/cb",
])
def test_secure_or_local_redirect_url_passes(tmp_path: Path, field: str, url: str) -> None:
    assert _errors(_write(tmp_path, _client(field, url))) == []
