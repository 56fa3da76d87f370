"""The drift check over the shipped account-baseline playbook: the password policy and the developers group.

The sweep compares them through the converge engine's read and plan, with read-only clients, and
answers the group's ``expect:`` against the live group.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from compliance_moto_helpers import Sleeps

from iamflow.aws.clients import AwsClients
from iamflow.compliance.config import ComplianceConfig
from iamflow.compliance.findings import FAIL, PASS, Finding
from iamflow.compliance.sweep import sweep_target
from iamflow.compliance.targets import Target
from iamflow.engine import run_playbook
from iamflow.settings import playbooks_dir
from iamflow.spec.loader import load_playbook

DRIFT, EXPECTATION = "iamflow_playbook_drift", "iamflow_playbook_expectation"
SHIPPED = playbooks_dir() / "account-baseline.yaml"


@pytest.fixture
def applied(aws: Any, clients: AwsClients, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
            with_aws_policies: None) -> AwsClients:
    folder = tmp_path / "playbooks"
    folder.mkdir()
    shutil.copy(SHIPPED, folder / SHIPPED.name)
    monkeypatch.setenv("IAMFLOW_PLAYBOOKS_DIR", str(folder))
    result = run_playbook(clients, load_playbook(folder / SHIPPED.name))
    assert not result.failed, result.results
    clients.call_log.reset()
    return clients


def findings(clients: AwsClients, now: Any) -> dict[str, Finding]:
    config = ComplianceConfig.from_dict({"checks": {"enabled": [DRIFT, EXPECTATION]}})
    result = sweep_target(Target(), base=clients, config=config, mutelist=None, now=now, sleep=Sleeps())
    return {f.resource_id: f for f in result.findings if f.check_id in (DRIFT, EXPECTATION)}


def test_the_applied_baseline_is_in_sync_and_its_expectations_hold(applied: AwsClients, now) -> None:
    found = findings(applied, now)

    assert found["iam_account_password_policy/account"].status == PASS
    assert found["iam_group/developers"].status == PASS
    proofs = [f for k, f in found.items() if k.startswith("iam_group/developers/expect.")]
    assert len(proofs) == 6 and all(f.status == PASS for f in proofs), [f.message for f in proofs]
    assert found["iam_account_password_policy/account"].resource_arn.endswith(":root")
    assert applied.call_log.writes() == [] and applied.call_log.refused == []


def test_a_weakened_password_policy_and_a_hand_attached_policy_fail(applied: AwsClients, now) -> None:
    iam = applied.client("iam")
    iam.update_account_password_policy(MinimumPasswordLength=8)
    iam.attach_group_policy(GroupName="developers", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    applied.call_log.reset()

    found = findings(applied, now)

    policy = found["iam_account_password_policy/account"]
    assert policy.status == FAIL and "update the account password policy" in policy.message
    group = found["iam_group/developers"]
    assert group.status == FAIL and "detach policy AdministratorAccess from group developers" in group.message
    # the live group now grants iam:CreateUser: its expectation fails
    broken = found["iam_group/developers/expect.denied[2]"]
    assert broken.status == FAIL and "DOES NOT HOLD" in broken.message
    assert applied.call_log.writes() == []


def test_a_deleted_group_is_missing(applied: AwsClients, now) -> None:
    iam = applied.client("iam")
    for p in iam.list_attached_group_policies(GroupName="developers")["AttachedPolicies"]:
        iam.detach_group_policy(GroupName="developers", PolicyArn=p["PolicyArn"])
    iam.delete_group_policy(GroupName="developers", PolicyName="manage-own-credentials")
    iam.delete_group(GroupName="developers")

    group = findings(applied, now)["iam_group/developers"]

    assert group.status == FAIL and group.extra["drift"] == "missing"
