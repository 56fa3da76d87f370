"""The drift check against in-process moto: a shipped playbook applied, then changed and deleted by hand.

The sweep compares through the converge engine's read and plan with read-only clients; the call
log proves it never writes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from compliance_moto_helpers import Sleeps

from iamflow.aws.clients import AwsClients
from iamflow.compliance.config import ComplianceConfig
from iamflow.compliance.drift import PlaybookDriftProvider, load_playbooks
from iamflow.compliance.findings import ERROR, FAIL, PASS, Finding
from iamflow.compliance.report import FINDINGS_JSON, LATEST
from iamflow.compliance.sweep import run_sweep, sweep_target
from iamflow.compliance.targets import Target
from iamflow.engine import run_playbook
from iamflow.settings import playbooks_dir
from iamflow.spec.loader import load_playbook

CHECK = "iamflow_playbook_drift"
SHIPPED = playbooks_dir() / "developer-access.yaml"
ROLE, BOUNDARY = "developer-role", "developer-boundary"
DRIFT_ONLY = ComplianceConfig.from_dict({"checks": {"enabled": [CHECK]}})


@pytest.fixture
def playbooks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A playbooks folder holding one shipped playbook, used by the sweep's default drift provider."""
    folder = tmp_path / "playbooks"
    folder.mkdir()
    shutil.copy(SHIPPED, folder / SHIPPED.name)
    monkeypatch.setenv("IAMFLOW_PLAYBOOKS_DIR", str(folder))
    return folder


@pytest.fixture
def applied(aws: Any, clients: AwsClients, playbooks: Path, with_aws_policies: None) -> AwsClients:
    """The shipped playbook converged in moto; the call log is cleared afterwards."""
    result = run_playbook(clients, load_playbook(playbooks / SHIPPED.name))
    assert not result.failed, result.results
    clients.call_log.reset()
    return clients


def drift_findings(clients: AwsClients, now: Any, config: ComplianceConfig = DRIFT_ONLY) -> dict[str, Finding]:
    result = sweep_target(Target(), base=clients, config=config, mutelist=None, now=now, sleep=Sleeps())
    found = [f for f in result.findings if f.check_id == CHECK]
    return {f.resource_id: f for f in found}


def test_an_applied_playbook_is_in_sync_and_the_sweep_never_writes(applied: AwsClients, now) -> None:
    findings = drift_findings(applied, now)

    assert {k: f.status for k, f in findings.items()} == {
        f"iam_managed_policy/{BOUNDARY}": PASS, f"iam_role/{ROLE}": PASS}
    role = findings[f"iam_role/{ROLE}"]
    assert role.resource_arn == f"arn:aws:iam::{role.account_id}:role/developers/{ROLE}"
    assert role.extra["playbook"].endswith(SHIPPED.name) and role.extra["drift"] == "in_sync"
    assert applied.call_log.count() > 0
    assert applied.call_log.writes() == [] and applied.call_log.refused == []


def test_a_hand_edited_trust_policy_fails_naming_the_resource_and_the_change(applied: AwsClients, now) -> None:
    iam = applied.client("iam")
    iam.update_assume_role_policy(RoleName=ROLE, PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
                       "Action": "sts:AssumeRole"}]}))
    applied.call_log.reset()

    findings = drift_findings(applied, now)

    role = findings[f"iam_role/{ROLE}"]
    assert role.status == FAIL and role.extra["drift"] == "differs"
    assert ROLE in role.message and "trust" in role.message.lower(), role.message
    assert findings[f"iam_managed_policy/{BOUNDARY}"].status == PASS
    assert applied.call_log.writes() == []


def test_a_deleted_role_fails_as_missing(applied: AwsClients, now) -> None:
    iam = applied.client("iam")
    for p in iam.list_attached_role_policies(RoleName=ROLE)["AttachedPolicies"]:
        iam.detach_role_policy(RoleName=ROLE, PolicyArn=p["PolicyArn"])
    iam.delete_role(RoleName=ROLE)
    applied.call_log.reset()

    findings = drift_findings(applied, now)

    role = findings[f"iam_role/{ROLE}"]
    assert role.status == FAIL and role.extra["drift"] == "missing"
    assert "does not exist" in role.message and ROLE in role.message
    assert applied.call_log.writes() == []


def test_a_broken_playbook_is_an_error_naming_the_file(applied: AwsClients, playbooks: Path, now) -> None:
    (playbooks / "broken.yaml").write_text("name: broken\nresources:\n  - kind: iam_role\n    name: no-trust\n")

    findings = drift_findings(applied, now)

    broken = [f for f in findings.values() if f.status == ERROR]
    assert len(broken) == 1 and "broken.yaml" in broken[0].message, broken
    assert broken[0].resource_arn == f"arn:aws:iam::{broken[0].account_id}:root"
    assert findings[f"iam_role/{ROLE}"].status == PASS  # the other playbooks are still compared


def test_a_playbook_for_other_accounts_is_not_compared(applied: AwsClients, playbooks: Path, now) -> None:
    text = (playbooks / SHIPPED.name).read_text()
    (playbooks / SHIPPED.name).write_text(text.replace("resources:", 'accounts: ["999999999999"]\nresources:', 1))
    assert drift_findings(applied, now) == {}
    (playbooks / SHIPPED.name).write_text(text.replace("resources:", 'accounts: ["123456789012"]\nresources:', 1))
    assert set(drift_findings(applied, now)) == {f"iam_managed_policy/{BOUNDARY}", f"iam_role/{ROLE}"}


def test_a_read_failure_is_an_error_for_that_resource_only(applied: AwsClients, now) -> None:
    from tests.helpers.faults import error_response

    iam = applied.read_only().client("iam")  # the drift reads go through the read-only sibling

    def deny(request: Any, **_: Any) -> Any:
        return error_response(request, iam, "AccessDenied", "not authorized to iam:GetRole", 403)

    iam.meta.events.register_first("before-send.iam.GetRole", deny)
    findings = drift_findings(applied, now)

    role = findings[f"iam_role/{ROLE}"]
    assert role.status == ERROR and "AccessDenied" in role.message
    assert findings[f"iam_managed_policy/{BOUNDARY}"].status == PASS


def test_the_full_sweep_compares_playbooks_by_default(applied: AwsClients, now, tmp_path: Path) -> None:
    result = run_sweep([Target()], tmp_path / "reports", base=applied, now=now, sleep=Sleeps())

    written = json.loads((tmp_path / "reports" / LATEST / FINDINGS_JSON).read_text())
    drift = {f["resource_id"]: f["status"] for f in written if f["check_id"] == CHECK}
    assert drift == {f"iam_managed_policy/{BOUNDARY}": PASS, f"iam_role/{ROLE}": PASS}
    # the credential report is the only thing the sweep asks AWS to do; the drift reads never write
    assert {op for _, op in applied.call_log.writes()} <= {"GenerateCredentialReport"}
    assert result.results[0].calls.get("iam:GetRole", 0) >= 1


def test_the_provider_validates_the_playbooks_once(playbooks: Path) -> None:
    provider = PlaybookDriftProvider()
    first = provider.playbooks()
    assert provider.playbooks() is first
    assert [p.path.name for p in first] == [SHIPPED.name] == [p.path.name for p in load_playbooks()]
    assert first[0].targets("123456789012")


def test_three_accounts_compare_only_the_playbooks_that_target_them(aws, clients, now, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Accounts reached through AssumeRole: a playbook for account B is compared in B only, never in A or C."""
    import boto3

    accounts = ("111111111111", "222222222222", "333333333333")
    folder = tmp_path / "playbooks"
    folder.mkdir()
    (folder / "only-b.yaml").write_text(
        "name: only-b\naccounts: [\"222222222222\"]\nresources:\n"
        "  - kind: iam_managed_policy\n    name: b-reports-read\n    document:\n"
        "      Version: \"2012-10-17\"\n      Statement:\n"
        "        - {Effect: Allow, Action: [\"s3:GetObject\"], Resource: \"arn:aws:s3:::b-reports/*\"}\n")
    (folder / "everywhere.yaml").write_text(
        "name: everywhere\nresources:\n"
        "  - kind: iam_managed_policy\n    name: shared-deny\n    document:\n"
        "      Version: \"2012-10-17\"\n      Statement:\n"
        "        - {Effect: Deny, Action: [\"s3:DeleteBucket\"], Resource: \"*\"}\n")
    monkeypatch.setenv("IAMFLOW_PLAYBOOKS_DIR", str(folder))
    creds = boto3.client("sts", region_name="us-east-1").assume_role(
        RoleArn="arn:aws:iam::222222222222:role/IamflowAudit", RoleSessionName="seed")["Credentials"]
    in_b = AwsClients.from_boto3(boto3.Session(
        aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"], region_name="us-east-1"), region="us-east-1")
    for name in ("only-b.yaml", "everywhere.yaml"):
        assert not run_playbook(in_b, load_playbook(folder / name)).failed
    targets = [Target(a, f"arn:aws:iam::{a}:role/IamflowAudit") for a in accounts]

    result = run_sweep(targets, tmp_path / "reports", base=clients, config=DRIFT_ONLY, now=now, sleep=Sleeps())

    drift = {(f.account_id, f.resource_id): f.status for f in result.findings if f.check_id == CHECK}
    assert drift == {
        ("111111111111", "iam_managed_policy/shared-deny"): FAIL,
        ("222222222222", "iam_managed_policy/b-reports-read"): PASS,
        ("222222222222", "iam_managed_policy/shared-deny"): PASS,
        ("333333333333", "iam_managed_policy/shared-deny"): FAIL,
    }
    for f in result.findings:
        assert f.resource_arn.startswith(f"arn:aws:iam::{f.account_id}:"), f
    assert all(not r.error for r in result.results)


def test_a_role_two_playbooks_declare_is_reported_as_a_conflict_not_compared(
        applied: AwsClients, playbooks: Path, now) -> None:
    (playbooks / "ci.yaml").write_text(
        "name: ci\n"
        "resources:\n"
        f"  - kind: iam_role\n    name: {ROLE}\n    path: /developers/\n"
        "    trust_policy: {Version: '2012-10-17', Statement: [{Effect: Allow, "
        "Principal: {Service: codebuild.amazonaws.com}, Action: 'sts:AssumeRole'}]}\n")
    result = sweep_target(Target(), base=applied, config=DRIFT_ONLY, mutelist=None, now=now, sleep=Sleeps())
    found = [f for f in result.findings if f.check_id == CHECK]
    roles = [f for f in found if f.resource_id == f"iam_role/{ROLE}"]
    # one ERROR per declaration, each naming the other file; neither declaration is compared
    assert sorted(f.extra["playbook"].rsplit("/", 1)[-1] for f in roles) == ["ci.yaml", SHIPPED.name]
    for finding in roles:
        assert finding.status == ERROR and finding.extra["drift"] == "error", finding
        assert "not compared" in finding.message and "is also declared by" in finding.message
    [other] = [f for f in roles if f.extra["playbook"].endswith("ci.yaml")]
    assert SHIPPED.name in other.message
    assert {f.resource_id: f.status for f in found if f.resource_id != f"iam_role/{ROLE}"} == {
        f"iam_managed_policy/{BOUNDARY}": PASS}
    # nothing about the role was read: it is not compared at all
    assert ("iam", "GetRole") not in applied.call_log.calls
    assert applied.call_log.writes() == []


EXPECTATION = "iamflow_playbook_expectation"


def expectation_findings(clients: AwsClients, now: Any) -> list[Finding]:
    config = ComplianceConfig.from_dict({"checks": {"enabled": [CHECK, EXPECTATION]}})
    result = sweep_target(Target(), base=clients, config=config, mutelist=None, now=now, sleep=Sleeps())
    return [f for f in result.findings if f.check_id == EXPECTATION]


def test_the_shipped_expectations_hold_on_the_live_account(applied: AwsClients, now) -> None:
    found = expectation_findings(applied, now)
    assert found and all(f.status == PASS for f in found), [(f.resource_id, f.message) for f in found]
    role = [f for f in found if f.resource_id.startswith(f"iam_role/{ROLE}/")]
    assert {f.resource_id for f in role} >= {f"iam_role/{ROLE}/expect.denied[1]", f"iam_role/{ROLE}/expect.allowed[0]"}
    assert applied.call_log.writes() == []


def test_a_boundary_removed_by_hand_turns_the_expectation_to_fail(applied: AwsClients, seed: Any, now) -> None:
    seed.iam.delete_role_permissions_boundary(RoleName=ROLE)
    found = {f.resource_id: f for f in expectation_findings(applied, now)}
    # ReadOnlyAccess grants ec2:DescribeInstances; only the boundary kept it out
    broken = found[f"iam_role/{ROLE}/expect.denied[1]"]
    assert broken.status == FAIL and "DOES NOT HOLD" in broken.message
    assert broken.resource_arn.endswith(f":role/developers/{ROLE}")
    assert found[f"iam_role/{ROLE}/expect.denied[0]"].status == PASS  # iam:CreateUser: still not granted
