"""``iamflow explain`` against the live (in-process moto) account: one authorization-details snapshot.

The shipped developer-access playbook is applied; explain then reads the role's live policies,
boundary and trust, with read calls only, and answers like the offline evaluator does.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from iamflow.aws.clients import AwsClients
from iamflow.cli import main
from iamflow.engine import run_playbook
from iamflow.settings import playbooks_dir
from iamflow.spec.loader import load_playbook

ACCOUNT = "123456789012"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/developers/developer-role"


@pytest.fixture
def applied(aws: Any, clients: AwsClients, monkeypatch: pytest.MonkeyPatch) -> AwsClients:
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    result = run_playbook(clients, load_playbook(playbooks_dir() / "developer-access.yaml"))
    assert not result.failed, result.results
    return clients


def explain(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    rc = main(["explain", *args, "--region", "us-east-1", "--json"])
    return rc, json.loads(capsys.readouterr().out)


def test_the_live_boundary_denies_what_readonly_access_grants(applied: AwsClients,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    rc, out = explain(capsys, "--principal", "developer-role", "--action", "ec2:DescribeInstances", "--resource", "*")
    assert rc == 3 and out["decision"] == "implicit_deny"
    layers = {e["layer"]: e["verdict"] for e in out["trace"] if "verdict" in e}
    assert layers["identity"] == "allow" and layers["boundary"] in ("no-match", "deny")
    rc, out = explain(capsys, "--principal", ROLE_ARN, "--action", "s3:GetObject",
                      "--resource", "arn:aws:s3:::team-reports/q4.csv")
    assert rc == 0 and out["decision"] == "allowed"
    assert any("ReadOnlyAccess" in d["policy"] for d in out["deciding"])


def test_a_hand_made_change_is_what_explain_sees(applied: AwsClients, capsys: pytest.CaptureFixture[str]) -> None:
    iam = boto3.client("iam", region_name="us-east-1")
    iam.delete_role_permissions_boundary(RoleName="developer-role")
    rc, out = explain(capsys, "--principal", "developer-role", "--action", "ec2:DescribeInstances", "--resource", "*")
    assert rc == 0 and out["decision"] == "allowed"


def test_the_trust_decides_who_may_assume_the_role(applied: AwsClients, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out = explain(capsys, "--principal", "developer-role", "--action", "sts:AssumeRole", "--resource", ROLE_ARN)
    # the trust names the account root, which hands the decision to the caller's own policies: the
    # role's ReadOnlyAccess grants no sts:AssumeRole, so the trust alone is not enough
    assert rc == 3 and out["decision"] == "implicit_deny"
    layers = {e["layer"]: e["verdict"] for e in out["trace"] if "verdict" in e}
    assert layers["resource"] == "allow" and layers["identity"] != "allow"


def test_an_unknown_principal_is_an_error(applied: AwsClients, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "--principal", "nobody", "--action", "s3:GetObject", "--resource", "*",
                 "--region", "us-east-1"]) == 1
    assert "no role or user 'nobody'" in capsys.readouterr().err
