"""The drift check for ssm_parameter, organizations_policy and cognito_identity_pool, read-only, against moto.

Each shipped (or small) playbook is applied, then changed by hand: the sweep reports the resource
as differing (or missing), never writes, and the org-guardrails ``expect:`` proofs are answered
against the live SCP.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import boto3
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
CONFIG = ComplianceConfig.from_dict({"checks": {"enabled": [DRIFT, EXPECTATION]}})
IDENTITY_PLAYBOOK = """
name: identities
resources:
  - kind: cognito_identity_pool
    name: myapp identities
    allow_unauthenticated: false
"""


def _folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *names: str, extra: str | None = None) -> Path:
    folder = tmp_path / "playbooks"
    folder.mkdir()
    for name in names:
        shutil.copy(playbooks_dir() / f"{name}.yaml", folder / f"{name}.yaml")
    if extra:
        (folder / "identities.yaml").write_text(extra)
    monkeypatch.setenv("IAMFLOW_PLAYBOOKS_DIR", str(folder))
    return folder


def _apply(clients: AwsClients, folder: Path) -> None:
    for path in sorted(folder.glob("*.yaml")):
        result = run_playbook(clients, load_playbook(path))
        assert not result.failed, [r.error for r in result.results]
    clients.call_log.reset()


def _findings(clients: AwsClients, now: Any, check: str = DRIFT) -> dict[str, Finding]:
    result = sweep_target(Target(), base=clients, config=CONFIG, mutelist=None, now=now, sleep=Sleeps())
    return {f.resource_id: f for f in result.findings if f.check_id == check}


def test_parameters_in_sync_then_a_hand_change_differs_and_a_deletion_is_missing(aws, clients, tmp_path, monkeypatch,
                                                                                  now) -> None:
    folder = _folder(tmp_path, monkeypatch, "myapp-kms", "myapp-parameters")
    _apply(clients, folder)
    found = _findings(clients, now)
    assert found["ssm_parameter//myapp/database/password"].status == PASS
    assert found["ssm_parameter//myapp/database/host"].status == PASS
    assert clients.call_log.writes() == []

    ssm = boto3.client("ssm", region_name="us-east-1")
    ssm.put_parameter(Name="/myapp/database/host", Value="evil.example", Type="String", Overwrite=True)
    ssm.delete_parameter(Name="/myapp/database/password")
    found = _findings(clients, now)
    host = found["ssm_parameter//myapp/database/host"]
    assert host.status == FAIL and "value" in host.message
    assert found["ssm_parameter//myapp/database/password"].status == FAIL
    assert found["ssm_parameter//myapp/database/password"].extra["drift"] == "missing"
    assert clients.call_log.writes() == []


def test_guardrails_drift_and_their_expectations_on_the_live_scp(aws, clients, tmp_path, monkeypatch, now) -> None:
    org = boto3.client("organizations", region_name="us-east-1")
    org.create_organization(FeatureSet="ALL")
    folder = _folder(tmp_path, monkeypatch, "org-guardrails")
    _apply(clients, folder)
    key = "organizations_policy/org-guardrails"
    assert _findings(clients, now)[key].status == PASS
    proofs = _findings(clients, now, EXPECTATION)
    assert proofs and all(f.status == PASS for f in proofs.values()), [f.message for f in proofs.values()]

    (scp,) = [p for p in org.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"] if p["Name"] == "org-guardrails"]
    org.update_policy(PolicyId=scp["Id"], Content=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Action": "organizations:LeaveOrganization", "Resource": "*"}]}))
    drift = _findings(clients, now)[key]
    assert drift.status == FAIL and "document" in drift.message
    proofs = _findings(clients, now, EXPECTATION)
    broken = [f for f in proofs.values() if f.status == FAIL]
    assert broken and all("DOES NOT HOLD" in f.message for f in broken)
    assert clients.call_log.writes() == []


def test_an_identity_pool_with_guest_access_turned_on_by_hand_differs(aws, clients, tmp_path, monkeypatch, now) -> None:
    folder = _folder(tmp_path, monkeypatch, extra=IDENTITY_PLAYBOOK)
    _apply(clients, folder)
    key = "cognito_identity_pool/myapp identities"
    assert _findings(clients, now)[key].status == PASS
    ci = boto3.client("cognito-identity", region_name="us-east-1")
    (pool,) = ci.list_identity_pools(MaxResults=60)["IdentityPools"]
    got = ci.describe_identity_pool(IdentityPoolId=pool["IdentityPoolId"])
    ci.update_identity_pool(IdentityPoolId=pool["IdentityPoolId"], IdentityPoolName=got["IdentityPoolName"],
                            AllowUnauthenticatedIdentities=True, IdentityPoolTags=got["IdentityPoolTags"])
    drift = _findings(clients, now)[key]
    assert drift.status == FAIL and "guest access" in drift.message
    assert clients.call_log.writes() == []
