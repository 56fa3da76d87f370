"""``expect:`` in plans, against in-process moto: every shipped expectation holds, a broken one blocks the plan.

Plan evaluates the expectations against the declared state before any write, AWS-managed policies
read once per run; a failing expectation blocks the resource: FAILED, the trace, no write.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from iamflow.aws.clients import AwsClients
from iamflow.engine import FAILED, run_playbook
from iamflow.settings import playbooks_dir
from iamflow.spec.loader import discover_playbooks, load_playbook

EXPECTING = ["developer-access", "lambda-execution-role", "require-mfa", "cross-account-audit", "iamflow-bootstrap"]


@pytest.fixture(autouse=True)
def aws_policies(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped roles attach AWS-managed policies (ReadOnlyAccess, SecurityAudit ...): moto must have them."""
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")


def expectation_notes(result: Any) -> list[str]:
    return [n for r in result.results for n in r.notes if n.startswith("expect: ")]


@pytest.mark.parametrize("name", EXPECTING)
def test_every_shipped_expectation_holds_in_check_mode_and_after_apply(aws: Any, clients: AwsClients, name: str):
    playbook = load_playbook(playbooks_dir() / f"{name}.yaml")
    assert any(getattr(r, "expect", None) for r in playbook.resources), f"{name} declares no expectation"
    planned = run_playbook(clients, playbook, check_mode=True)
    assert not planned.failed, [(r.resource, r.error) for r in planned.results]
    notes = expectation_notes(planned)
    assert notes and all(" holds: " in n for n in notes), notes
    assert clients.call_log.writes() == []
    applied = run_playbook(clients, playbook)
    assert not applied.failed, [(r.resource, r.error) for r in applied.results]
    again = run_playbook(clients, playbook, check_mode=True)
    assert not again.failed and all(" holds: " in n for n in expectation_notes(again))


def test_every_shipped_role_declares_expectations() -> None:
    for path in discover_playbooks():
        for r in load_playbook(path).resources:
            if r.kind == "iam_role":
                assert r.expect is not None and (r.expect.allowed or r.expect.denied), f"{path.name}: {r.name}"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pb.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_an_expectation_that_does_not_hold_blocks_the_plan_with_its_trace_and_writes_nothing(
        aws: Any, clients: AwsClients, tmp_path: Path) -> None:
    path = _write(tmp_path, """\
        name: leaky
        resources:
          - kind: iam_role
            name: app
            trust_policy:
              Version: "2012-10-17"
              Statement:
                - {Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}
            inline_policies:
              data:
                Version: "2012-10-17"
                Statement:
                  - {Sid: ReadAll, Effect: Allow, Action: "s3:Get*", Resource: "arn:aws:s3:::*"}
            expect:
              allowed:
                - {action: s3:GetObject, resource: "arn:aws:s3:::app-data/x"}
              denied:
                - {action: s3:GetObject, resource: "arn:aws:s3:::payroll/salaries.csv"}
        """)
    result = run_playbook(clients, load_playbook(path))
    [role] = result.results
    assert role.status == FAILED
    assert "1 of 2 expectations of role app do not hold" in (role.error or "")
    assert "expect.denied[0]" in (role.error or "") and "ReadAll" in (role.error or "")
    assert clients.call_log.writes() == []
    import boto3

    assert boto3.client("iam", region_name="us-east-1").list_roles()["Roles"] == []


def test_unmanaged_fields_are_taken_as_they_are_in_the_account(aws: Any, clients: AwsClients, tmp_path: Path,
                                                               iam: Any) -> None:
    """A role that leaves managed_policies unmanaged is proven with what is attached now."""
    iam.create_role(RoleName="app", AssumeRolePolicyDocument='{"Version":"2012-10-17","Statement":[]}')
    iam.attach_role_policy(RoleName="app", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    path = _write(tmp_path, """\
        name: hands-off
        resources:
          - kind: iam_role
            name: app
            trust_policy:
              Version: "2012-10-17"
              Statement:
                - {Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}
            expect:
              denied:
                - {action: iam:CreateUser, resource: "*"}
        """)
    clients.call_log.reset()
    result = run_playbook(clients, load_playbook(path), check_mode=True)
    [role] = result.results
    assert role.status == FAILED and "AdministratorAccess" in (role.error or "")
    # the AWS-managed policy was read once, with read calls only
    assert clients.call_log.by_operation().get("iam:GetPolicyVersion") == 1
    assert clients.call_log.writes() == []


def test_the_recap_counts_the_expectations_that_held(aws: Any, clients: AwsClients) -> None:
    from iamflow.engine import format_recap

    playbook = load_playbook(playbooks_dir() / "lambda-execution-role.yaml")
    planned = run_playbook(clients, playbook, check_mode=True)
    recap = format_recap(playbook.name, planned.results, check_mode=True)
    role = playbook.by_key()["iam_role.lambda-execution-role"]
    total = len(role.expect.allowed) + len(role.expect.denied)
    [line] = [ln for ln in recap.splitlines() if ln.startswith("iam_role.lambda-execution-role")]
    assert line.endswith(f"expect={total}/{total}")
    [policy_line] = [ln for ln in recap.splitlines() if ln.startswith("iam_managed_policy.")]
    assert "expect=" not in policy_line
