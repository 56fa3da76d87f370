"""Many accounts: three reached through AssumeRole with an ExternalId, isolation, an unreachable one, Organizations, the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.exceptions import ClientError
from compliance_moto_helpers import Sleeps

from iamflow.cli import main
from iamflow.compliance.config import ComplianceConfig
from iamflow.compliance.findings import ERROR
from iamflow.compliance.registry import enabled_checks
from iamflow.compliance.report import LATEST
from iamflow.compliance.sweep import TargetResult, run_sweep, sweep_target
from iamflow.compliance.targets import Target, TargetsConfig, resolve_targets
from tests.helpers.faults import error_response

ACCOUNTS = {"a": "111111111111", "b": "222222222222", "c": "333333333333"}
ROLE = "IamflowAudit"


def _in_account(account: str, service: str = "iam") -> Any:
    creds = boto3.client("sts", region_name="us-east-1").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/{ROLE}", RoleSessionName="seed")["Credentials"]
    return boto3.client(service, region_name="us-east-1", aws_access_key_id=creds["AccessKeyId"],
                        aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])


def _seed_accounts() -> None:
    for label, account in ACCOUNTS.items():
        iam = _in_account(account)
        iam.create_user(UserName=f"only-in-{label}")
        iam.create_login_profile(UserName=f"only-in-{label}", Password="Correct-Horse-9")
        _in_account(account, "secretsmanager").create_secret(Name=f"secret-of-{label}", SecretString="x" * 12)


def _record_assume_role(clients: Any) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    clients.client("sts").meta.events.register(
        "provide-client-params.sts.AssumeRole", lambda params, **_: seen.append(dict(params)))
    return seen


def test_three_accounts_through_assume_role_never_mix(aws, clients, now, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    _seed_accounts()
    monkeypatch.setenv("SWEEP_EXTERNAL_ID", "ext-7f3a")
    targets_config = TargetsConfig.from_dict({
        "role_name": ROLE, "external_id": {"env": "SWEEP_EXTERNAL_ID"},
        "accounts": [{"account_id": a} for a in ACCOUNTS.values()],
    })
    targets = resolve_targets(targets_config, clients)
    assert [t.role_arn for t in targets] == [f"arn:aws:iam::{a}:role/{ROLE}" for a in ACCOUNTS.values()]
    assumed = _record_assume_role(clients)

    result = run_sweep(targets, tmp_path, base=clients, config=ComplianceConfig.load(), now=now,
                       external_id=targets_config.external_id.resolve(), sleep=Sleeps())

    assert [(p["RoleArn"], p["ExternalId"]) for p in assumed] == [(t.role_arn, "ext-7f3a") for t in targets]
    for label, account in ACCOUNTS.items():
        mine = [f for f in result.findings if f.account_id == account]
        assert mine, account
        others = [a for a in ACCOUNTS.values() if a != account]
        for f in mine:
            assert not any(o in f.resource_arn or o in f.message for o in others), f
        users = {f.resource_id for f in mine if f.check_id == "iam_user_mfa_enabled_console_access"}
        assert users == {f"only-in-{label}"}
        secrets = {f.resource_id for f in mine if f.check_id == "secretsmanager_automatic_rotation_enabled"}
        assert secrets == {f"secret-of-{label}"}
    assert "only-in-b" not in json.dumps([f.to_dict() for f in result.findings if f.account_id != ACCOUNTS["b"]])
    summary = json.loads((tmp_path / LATEST / "summary.json").read_text())
    assert sorted(summary["accounts"]) == sorted(ACCOUNTS.values())
    assert all(summary["api_calls"][a]["iam:GetAccountAuthorizationDetails"] == 1 for a in ACCOUNTS.values())


def test_an_unreachable_account_gives_errors_and_does_not_stop_the_others(aws, clients, now, tmp_path: Path) -> None:
    _seed_accounts()
    sts = clients.client("sts")

    def deny(request: Any, **_: Any) -> Any:
        body = request.body or ""
        if "444444444444" in (body.decode() if isinstance(body, bytes) else body):
            return error_response(request, sts, "AccessDenied", "not authorized to assume the role", 403)
        return None

    sts.meta.events.register_first("before-send.sts.AssumeRole", deny)
    targets = [Target(a, f"arn:aws:iam::{a}:role/{ROLE}") for a in (ACCOUNTS["a"], "444444444444")]
    result = run_sweep(targets, tmp_path, base=clients, config=ComplianceConfig.load(), now=now, sleep=Sleeps())

    lost = [f for f in result.findings if f.account_id == "444444444444"]
    assert {f.status for f in lost} == {ERROR}
    assert {f.check_id for f in lost} == {c.id for c in enabled_checks(ComplianceConfig.load())}
    assert all("AccessDenied" in f.message and "not reachable" in f.message for f in lost), lost[0].message
    assert any(f.account_id == ACCOUNTS["a"] and f.status != ERROR for f in result.findings)
    failed = next(r for r in result.results if r.target.account_id == "444444444444")
    assert failed.error and TargetResult.from_dict(json.loads(json.dumps(failed.to_dict()))).findings == failed.findings
    # an Airflow task's earlier attempts raise instead, so that its retries apply
    with pytest.raises(ClientError, match="AccessDenied"):
        sweep_target(targets[1], base=clients, config=ComplianceConfig.load(), mutelist=None, now=now,
                     raise_unreachable=True)


def test_organization_targets_with_tag_filter(aws, clients) -> None:
    org = boto3.client("organizations", region_name="us-east-1")
    org.create_organization(FeatureSet="ALL")
    ids = []
    for i in range(3):
        status = org.create_account(Email=f"acct{i}@example.com", AccountName=f"acct{i}")["CreateAccountStatus"]
        ids.append(status["AccountId"])
    org.tag_resource(ResourceId=ids[1], Tags=[{"Key": "sweep", "Value": "yes"}])
    everyone = resolve_targets(TargetsConfig.from_dict({"organization": True, "role_name": "OrganizationAccountAccessRole"}),
                               clients)
    current = clients.caller_context().account_id
    assert {t.account_id for t in everyone} == {current, *ids}
    assert next(t for t in everyone if t.account_id == current).role_arn is None
    assert next(t for t in everyone if t.account_id == ids[0]).role_arn == \
        f"arn:aws:iam::{ids[0]}:role/OrganizationAccountAccessRole"
    tagged = resolve_targets(TargetsConfig.from_dict({"organization": {"tags": {"sweep": "yes"}}, "role_name": "R"}), clients)
    assert [t.account_id for t in tagged] == [ids[1]]


def test_cli_sweeps_the_accounts_of_a_targets_file(aws, clients, now, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    _seed_accounts()
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    monkeypatch.setenv("SWEEP_EXTERNAL_ID", "ext-cli")
    targets = tmp_path / "targets.yaml"
    targets.write_text(yaml.safe_dump({
        "role_name": ROLE, "external_id": {"env": "SWEEP_EXTERNAL_ID"},
        "accounts": [{"account_id": ACCOUNTS["a"]}, {"account_id": ACCOUNTS["b"]}],
    }))
    out = tmp_path / "reports"
    code = main(["sweep", "--targets", str(targets), "--accounts", ACCOUNTS["b"], "--out", str(out),
                 "--now", now.isoformat(), "--run-id", "cli-run", "--detailed-exitcode"])
    printed = capsys.readouterr().out
    assert code == 2  # FAIL findings exist (no MFA for the console user)
    assert f"sweeping 1 account(s): {ACCOUNTS['b']}" in printed and str(out / "cli-run") in printed
    rows = json.loads((out / "cli-run" / "findings.json").read_text())
    assert {r["account_id"] for r in rows} == {ACCOUNTS["b"]}
    assert (out / LATEST / "report.html").exists()
    assert main(["sweep", "--targets", str(targets), "--out", str(out), "--now", "not-a-time"]) == 1
