"""``iamflow explain`` offline: the playbooks' declared state, no AWS call; exit 0 allowed, 3 denied, 1 error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from iamflow.cli import main
from iamflow.cli.explain import question_from_cloudtrail
from iamflow.settings import playbooks_dir

DEV = str(playbooks_dir() / "developer-access.yaml")
LAMBDA = str(playbooks_dir() / "lambda-execution-role.yaml")
ACCOUNT = "123456789012"


def explain_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:
    rc = main(["explain", *args, "--json"])
    return rc, json.loads(capsys.readouterr().out)


@pytest.fixture(autouse=True)
def no_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Offline means offline: any boto3 client made here fails the test."""
    import boto3

    def refuse(*a: object, **k: object) -> None:
        raise AssertionError("explain with playbooks made an AWS client")

    monkeypatch.setattr(boto3, "client", refuse)
    monkeypatch.setattr(boto3.Session, "client", refuse)


def test_the_boundary_denies_what_no_attached_policy_could_grant(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out = explain_json(capsys, DEV, "--principal", "developer-role", "--action", "iam:CreateUser",
                           "--resource", f"arn:aws:iam::{ACCOUNT}:user/someone")
    assert rc == 3
    assert set(out) >= {"decision", "deciding", "missing_context", "trace"}
    assert out["decision"] == "explicit_deny"
    [deciding] = out["deciding"]
    assert deciding["layer"] == "boundary" and deciding["statement"] == "DenyIdentityAndAccountAdministration"


def test_an_allowed_request_names_the_granting_statement(capsys: pytest.CaptureFixture[str]) -> None:
    resource = f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/Users/index/by-email"
    rc, out = explain_json(capsys, LAMBDA, "--principal", "lambda-execution-role", "--action", "dynamodb:Query",
                           "--resource", resource)
    assert rc == 0 and out["decision"] == "allowed"
    assert any(d["statement"] == "UsersTableReadWrite" for d in out["deciding"])


def test_another_table_is_an_implicit_deny(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out = explain_json(capsys, LAMBDA, "--principal", f"arn:aws:iam::{ACCOUNT}:role/lambda-execution-role",
                           "--action", "dynamodb:GetItem", "--resource", f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/Orders")
    assert rc == 3 and out["decision"] == "implicit_deny" and out["deciding"] == []


def test_missing_context_is_listed_and_the_text_says_how_to_pass_it(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "mfa.yaml"
    path.write_text("""\
name: mfa
resources:
  - kind: iam_role
    name: ops
    trust_policy:
      Version: "2012-10-17"
      Statement: [{Effect: Allow, Principal: {Service: ec2.amazonaws.com}, Action: sts:AssumeRole}]
    inline_policies:
      terminate:
        Version: "2012-10-17"
        Statement:
          - Sid: TerminateWithMfa
            Effect: Allow
            Action: ec2:TerminateInstances
            Resource: "*"
            Condition: {Bool: {aws:MultiFactorAuthPresent: "true"}}
""")
    args = ["explain", str(path), "--principal", "ops", "--action", "ec2:TerminateInstances",
            "--resource", f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-0123456789abcdef0"]
    rc, out = explain_json(capsys, *args[1:])
    assert rc == 3 and out["decision"] == "implicit_deny"
    assert out["missing_context"] == ["aws:MultiFactorAuthPresent"]
    assert main(args) == 3
    text = capsys.readouterr().out
    assert "the request lacks: aws:MultiFactorAuthPresent" in text and "--context" in text
    assert main([*args, "--context", "aws:MultiFactorAuthPresent=true"]) == 0


def test_a_role_not_in_the_playbooks_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["explain", DEV, "--principal", "nobody", "--action", "s3:GetObject", "--resource", "*"])
    assert rc == 1 and "no iam_role 'nobody'" in capsys.readouterr().err


def test_bad_context_and_missing_flags_are_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", DEV, "--principal", "developer-role", "--action", "s3:GetObject"]) == 1
    assert "--resource" in capsys.readouterr().err
    assert main(["explain", DEV, "--principal", "developer-role", "--action", "s3:GetObject", "--resource", "*",
                 "--context", "novalue"]) == 1
    assert "KEY=VALUE" in capsys.readouterr().err


CLOUDTRAIL = {
    "Records": [{
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "AssumedRole", "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/developer-role/alice",
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": f"arn:aws:iam::{ACCOUNT}:role/developers/developer-role"},
                               "attributes": {"mfaAuthenticated": "false"}},
        },
        "eventSource": "iam.amazonaws.com", "eventName": "CreateUser", "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.7", "userAgent": "aws-cli/2.15",
        "errorCode": "AccessDenied",
        "errorMessage": f"User: arn:aws:sts::{ACCOUNT}:assumed-role/developer-role/alice is not authorized to perform: "
                        f"iam:CreateUser on resource: arn:aws:iam::{ACCOUNT}:user/bob with an explicit deny in a "
                        "permissions boundary",
    }]
}


def test_a_cloudtrail_access_denied_record_becomes_the_question() -> None:
    q = question_from_cloudtrail(CLOUDTRAIL)
    assert q.principal == f"arn:aws:iam::{ACCOUNT}:role/developers/developer-role"
    assert (q.action, q.resource) == ("iam:CreateUser", f"arn:aws:iam::{ACCOUNT}:user/bob")
    assert q.context["aws:SourceIp"] == ("203.0.113.7",) and q.context["aws:MultiFactorAuthPresent"] == ("false",)


def test_explain_answers_a_cloudtrail_record_offline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps(CLOUDTRAIL))
    rc, out = explain_json(capsys, DEV, "--cloudtrail-event", str(event))
    assert rc == 3 and out["decision"] == "explicit_deny"
