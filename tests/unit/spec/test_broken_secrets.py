"""Broken secret declarations: refused with file, resource and field named, before any AWS call."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from iamflow.spec.loader import check_playbook

LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:rot"


def secret(body: str, name: str = "app/db") -> str:
    return f"name: x\nresources:\n  - kind: secret\n    name: {name}\n" + textwrap.indent(textwrap.dedent(body), "    ")


GEN = "generate: {length: 16}\n"

CASES = [
    ("literal-value", secret("value: hunter2hunter2\n"), "app/db", "value", "never written in a playbook"),
    ("literal-secret-string", secret("secret_string: abc\n"), "app/db", "secret_string", "never written"),
    ("literal-password-in-template", secret("template: {username: app, password: hunter2}\n"), "app/db",
     "template", "must be generated"),
    ("template-without-generated", secret("template: {username: app}\n"), "app/db", "template",
     "at least one generated field"),
    ("no-value-source", secret("description: x\n"), "app/db", "generate", "needs 'generate' or 'template'"),
    ("both-sources", secret(GEN + "template: {p: {generate: {}}}\n"), "app/db", "generate", "not both"),
    ("generate-too-short", secret("generate: {length: 4}\n"), "app/db", "generate.length", "8"),
    ("generate-too-long", secret("generate: {length: 5000}\n"), "app/db", "generate.length", "4096"),
    ("everything-excluded", secret("generate: {exclude_punctuation: true, exclude_uppercase: true, "
                                   "exclude_lowercase: true, exclude_numbers: true}\n"), "app/db", "generate",
     "nothing is left"),
    ("every-days-too-high", secret(GEN + f"rotation: {{lambda_arn: '{LAMBDA}', every_days: 1001}}\n"), "app/db",
     "rotation.every_days", "1000"),
    ("every-days-zero", secret(GEN + f"rotation: {{lambda_arn: '{LAMBDA}', every_days: 0}}\n"), "app/db",
     "rotation.every_days", "1"),
    ("no-schedule", secret(GEN + f"rotation: {{lambda_arn: '{LAMBDA}'}}\n"), "app/db", "rotation",
     "exactly one of every_days"),
    ("bad-schedule", secret(GEN + f"rotation: {{lambda_arn: '{LAMBDA}', schedule: 'weekly'}}\n"), "app/db",
     "rotation.schedule", "rate("),
    ("bad-lambda", secret(GEN + "rotation: {lambda_arn: 'my-function', every_days: 30}\n"), "app/db",
     "rotation.lambda_arn", "not a Lambda function ARN"),
    ("recovery-too-short", secret(GEN + "recovery_window_days: 3\n"), "app/db", "recovery_window_days", "7"),
    ("recovery-too-long", secret(GEN + "recovery_window_days: 31\n"), "app/db", "recovery_window_days", "30"),
    ("unknown-kms-key", secret(GEN + "kms_key: nope-key\n"), "app/db", "kms_key", "does not declare"),
    ("bad-kms-arn", secret(GEN + "kms_key: 'arn:aws:iam::123456789012:role/x'\n"), "app/db", "kms_key",
     "not a KMS key or alias ARN"),
    ("bad-name", secret(GEN, name="'bad name!'"), "bad name!", "name", "letters, digits"),
    ("arn-suffix-name", secret(GEN, name="app-abcdef"), "app-abcdef", "name", "six characters"),
    ("bad-validator", secret(GEN + f"rotation: {{lambda_arn: '{LAMBDA}', every_days: 30, verify: {{validator: "
                                   "{regex: '^a', json_keys: [a]}}}\n"), "app/db", "rotation.verify.validator",
     "exactly one"),
    ("force-delete-present", secret(GEN + "force_delete: true\n"), "app/db", "force_delete", "state: absent"),
]


@pytest.mark.parametrize(("case", "text", "resource", "field", "fragment"), CASES, ids=[c[0] for c in CASES])
def test_broken_secret_is_refused(tmp_path: Path, case, text, resource, field, fragment):
    path = tmp_path / f"{case}.yaml"
    path.write_text(text)
    result = check_playbook(path)
    assert result.playbook is None, f"{case} was accepted"
    matching = [p for p in result.errors if p.resource == resource and (p.field or "").startswith(field)]
    assert matching, [str(p) for p in result.errors]
    assert any(fragment in p.message for p in matching), [str(p) for p in matching]
    assert all(p.file == str(path) for p in result.errors)


def test_a_literal_value_is_never_echoed(tmp_path: Path):
    path = tmp_path / "p.yaml"
    path.write_text(secret("value: Sup3rS3cretLiteral\n"))
    assert "Sup3rS3cretLiteral" not in "\n".join(str(p) for p in check_playbook(path).problems)


def test_the_shipped_secret_playbook_validates():
    from iamflow.settings import project_root

    result = check_playbook(project_root() / "include" / "playbooks" / "myapp-secrets.yaml")
    assert result.playbook is not None and not result.errors
    res = result.playbook.resources[0]
    assert res.rotation.every_days == 30 and res.tags == {"Environment": "production", "Application": "myapp"}
