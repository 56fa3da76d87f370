"""Broken kms_key resources: refused by the loader with file, resource and field, before any AWS call."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from iamflow.cli import main
from iamflow.spec.loader import check_playbook

HEAD = "name: x\nresources:\n  - kind: kms_key\n    name: k\n"
ROLE = "  - kind: iam_role\n    name: app\n    trust_policy: {Statement: [{Effect: Allow, " \
       "Principal: {Service: lambda.amazonaws.com}, Action: 'sts:AssumeRole'}]}\n"

# (case id, fields of the key (indented lines), expected field fragment, message fragment)
CASES = [
    ("rotation-period-too-short", "    rotation: true\n    rotation_period_days: 30\n", "rotation_period_days", "90"),
    ("rotation-period-too-long", "    rotation: true\n    rotation_period_days: 3000\n", "rotation_period_days",
     "2560"),
    ("rotation-period-without-rotation", "    rotation_period_days: 365\n", "rotation_period_days",
     "rotation: true"),
    ("pending-window-too-short", "    state: absent\n    pending_days: 3\n", "pending_days", "7"),
    ("pending-window-too-long", "    state: absent\n    pending_days: 31\n", "pending_days", "30"),
    ("rotation-on-asymmetric", "    key_spec: RSA_2048\n    rotation: true\n", "rotation",
     "only symmetric ENCRYPT_DECRYPT keys"),
    ("rotation-on-hmac", "    key_spec: HMAC_256\n    rotation: true\n", "rotation", "HMAC_256"),
    ("unknown-admin-role", "    admins: [nobody]\n", "admins", "iam_role 'nobody', which the playbook does not declare"),
    ("unknown-user-role", "    users: [ghost]\n", "users", "does not declare"),
    ("bad-principal-arn", "    users: ['arn:aws:s3:::bucket']\n", "users", "not an IAM principal ARN"),
    ("incompatible-usage", "    key_spec: ECC_NIST_P256\n    key_usage: ENCRYPT_DECRYPT\n", "key_usage",
     "not allowed with key_spec ECC_NIST_P256"),
    ("unknown-key-spec", "    key_spec: AES_128\n", "key_spec", "SYMMETRIC_DEFAULT"),
    ("reserved-alias", "    aliases: [alias/aws/mine]\n", "aliases", "reserved for AWS"),
    ("alias-without-prefix", "    aliases: [mine]\n", "aliases", "not an alias name"),
    ("empty-aliases", "    aliases: []\n", "aliases", "at least 1"),
    ("policy-and-admins", "    admins: [arn:aws:iam::123456789012:role/a]\n"
     "    policy: {Statement: [{Effect: Allow, Principal: {AWS: '*'}, Action: 'kms:Decrypt', Resource: '*'}]}\n",
     "policy", "not both"),
    ("policy-lint", "    policy: {Statement: [{Effect: Allow, Principal: {AWS: '*'}, Action: '*', Resource: '*'}]}\n",
     "policy", "allow-star-star"),
    ("missing-policy-file", "    policy: no-such-key-policy.json\n", "policy", "not found"),
    ("reserved-name", "", "name", "reserved"),  # the resource is named aws/k, see _text
]


def _text(case_id: str, fields: str) -> str:
    head = HEAD.replace("name: k\n", "name: aws/k\n") if case_id == "reserved-name" else HEAD
    return head + fields + ROLE


@pytest.mark.parametrize(("case_id", "fields", "field", "fragment"), CASES, ids=[c[0] for c in CASES])
def test_broken_kms_key_is_refused_naming_the_field(tmp_path: Path, case_id: str, fields: str, field: str,
                                                    fragment: str) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(textwrap.dedent(_text(case_id, fields)))
    result = check_playbook(path)
    assert result.playbook is None
    resource = "aws/k" if case_id == "reserved-name" else "k"
    matching = [p for p in result.errors if p.resource == resource and (p.field or "").startswith(field)]
    assert matching, f"no error on field {field!r}; got {[str(p) for p in result.errors]}"
    text = "\n".join(str(p) for p in matching)
    assert fragment in text and str(path) in text


def test_valid_key_loads_and_defaults(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(HEAD + "    rotation: true\n    admins: [app]\n    users: [app]\n" + ROLE)
    result = check_playbook(path)
    assert result.errors == [], [str(p) for p in result.errors]
    key = result.playbook.find("k", ("kms_key",))
    assert key.key_usage == "ENCRYPT_DECRYPT" and key.pending_days == 30 and key.prove is True
    assert key.alias_names == ["alias/k"]
    assert [(f, n) for f, n, _ in key.references()] == [("admins", "app"), ("users", "app")]


def test_hmac_key_gets_its_usage(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(HEAD + "    key_spec: HMAC_256\n")
    key = check_playbook(path).playbook.find("k", ("kms_key",))
    assert key.key_usage == "GENERATE_VERIFY_MAC"


def test_cli_refuses_broken_kms_playbooks_without_aws_call(tmp_path: Path, api_calls: list[str],
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    for case_id, fields, *_ in CASES:
        (tmp_path / f"{case_id}.yaml").write_text(textwrap.dedent(_text(case_id, fields)))
    assert main(["apply", str(tmp_path)]) == 1
    assert api_calls == []
