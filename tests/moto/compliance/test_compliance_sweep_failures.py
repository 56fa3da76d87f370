"""A sweep whose targets cannot be resolved fails loudly: exit 1 and a report whose ERROR finding names the cause.

A denied GetCallerIdentity is moto's IAM authorization refusing an access key it does not know; a
denied ListAccounts is AWS's AccessDeniedException answered to the client.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from iamflow.cli import main
from iamflow.compliance.findings import ERROR
from iamflow.compliance.sweep import CONFIGURATION_CHECK_ID, TARGETS_CHECK_ID
from iamflow.compliance.targets import TargetResolutionError, TargetsConfig, resolve_targets
from tests.helpers.faults import error_response

CURRENT = "123456789012"  # moto's default account, the organization's management account


@pytest.fixture
def organization(aws: Any) -> list[str]:
    """An organization of the current account and two member accounts, none tagged."""
    org = boto3.client("organizations", region_name="us-east-1")
    org.create_organization(FeatureSet="ALL")
    return [org.create_account(Email=f"m{i}@example.com", AccountName=f"member{i}")["CreateAccountStatus"]["AccountId"]
            for i in range(2)]


def _targets(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "targets.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _sweep(tmp_path: Path, targets: Path, *extra: str) -> int:
    return main(["sweep", "--targets", str(targets), "--out", str(tmp_path / "reports"), "--run-id", "run",
                 "--mutelist", str(tmp_path / "no-mutelist.yaml"), *extra])


def _report(tmp_path: Path) -> list[dict[str, Any]]:
    return json.loads((tmp_path / "reports" / "run" / "findings.json").read_text())


@pytest.fixture(autouse=True)
def empty_mutelist(tmp_path: Path) -> None:
    (tmp_path / "no-mutelist.yaml").write_text("")


@pytest.fixture
def as_principal(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Switch the CLI's credentials (the environment's) to a new IAM user holding ``doc``, then authorize every call."""
    from moto.core.authorization import enable_iam_authentication

    with ExitStack() as stack:
        def become(doc: dict[str, Any] | None) -> None:
            if doc is None:  # a key AWS does not know: even GetCallerIdentity is refused
                monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7UNKNOWN")
            else:
                iam = boto3.client("iam", region_name="us-east-1")
                iam.create_user(UserName="auditor")
                iam.put_user_policy(UserName="auditor", PolicyName="p", PolicyDocument=json.dumps(doc))
                key = iam.create_access_key(UserName="auditor")["AccessKey"]
                monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
                monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
            stack.enter_context(enable_iam_authentication())

        yield become


def test_an_organization_filter_matching_no_account_exits_1_with_an_error_report(
        organization: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    targets = _targets(tmp_path, {"role_name": "R", "organization": {"tags": {"sweep": "yes"}}})

    assert _sweep(tmp_path, targets, "--detailed-exitcode") == 1

    err = capsys.readouterr().err
    assert "matches no active account" in err and "tags sweep=yes" in err and "Traceback" not in err
    rows = _report(tmp_path)
    assert [(r["check_id"], r["status"], r["account_id"]) for r in rows] == [(TARGETS_CHECK_ID, ERROR, CURRENT)]
    assert rows[0]["resource_arn"] == f"arn:aws:iam::{CURRENT}:root"
    assert str(targets) in rows[0]["message"] and "matches no active account" in rows[0]["message"]
    assert (tmp_path / "reports" / "latest" / "findings.json").exists()


def test_resolving_never_falls_back_to_the_current_account(organization: list[str], clients: Any) -> None:
    excluded = TargetsConfig.from_dict({"organization": {"exclude": [CURRENT, *organization]}})
    with pytest.raises(TargetResolutionError, match="exclude") as info:
        resolve_targets(excluded, clients)
    assert info.value.account_id == CURRENT and not info.value.retryable
    # without accounts and organization, the current account is still the target
    assert [t.account_id for t in resolve_targets(TargetsConfig.from_dict({}), clients)] == [CURRENT]


def test_an_organization_is_required_when_asked_for(aws: Any, clients: Any) -> None:
    with pytest.raises(TargetResolutionError, match="the organization lists no active account"):
        resolve_targets(TargetsConfig.from_dict({"organization": True}), clients)
    with pytest.raises(TargetResolutionError, match="could not list the organization's accounts: "
                                                    "ListAccountsForParent: ParentNotFoundException"):
        resolve_targets(TargetsConfig.from_dict({"organization": {"ou_ids": ["ou-missing"]}}), clients)


def test_a_denied_list_accounts_exits_1_with_an_error_report(
        organization: list[str], clients: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # moto's authorizer answers Organizations' JSON protocol in XML, which botocore cannot parse: the
    # denial is AWS's answer, sent from the client instead
    org = clients.client("organizations")
    org.meta.events.register_first("before-send.organizations.ListAccounts", lambda request, **_: error_response(
        request, org, "AccessDeniedException",
        f"User: arn:aws:iam::{CURRENT}:user/auditor is not authorized to perform: organizations:ListAccounts", 400))
    monkeypatch.setattr("iamflow.cli.sweep.build_clients", lambda *a, **k: clients)
    targets = _targets(tmp_path, {"role_name": "R", "organization": True})

    assert _sweep(tmp_path, targets) == 1

    err = capsys.readouterr().err
    assert "could not list the organization's accounts: ListAccounts: AccessDeniedException" in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    rows = _report(tmp_path)
    assert [(r["check_id"], r["status"], r["account_id"]) for r in rows] == [(TARGETS_CHECK_ID, ERROR, CURRENT)]
    assert "organizations:ListAccounts" in rows[0]["message"]


def test_a_denied_get_caller_identity_exits_1_with_an_error_report(
        aws: Any, as_principal: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    as_principal(None)
    targets = _targets(tmp_path, {})

    assert _sweep(tmp_path, targets) == 1

    err = capsys.readouterr().err
    assert "sts:GetCallerIdentity" in err and "InvalidClientTokenId" in err and "Traceback" not in err, err
    rows = _report(tmp_path)
    assert [(r["check_id"], r["status"], r["account_id"]) for r in rows] == [(TARGETS_CHECK_ID, ERROR, "unknown")]


def test_invalid_settings_exit_1_with_an_error_report_and_no_aws_call(
        aws: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("iamflow.cli.sweep.build_clients", lambda *a, **k: pytest.fail("AWS was called"))
    (tmp_path / "no-mutelist.yaml").write_text("Mutelist:\n  Accounts:\n    '*':\n      Checks:\n"
                                              "        '*': {Regions: ['*'], Resources: ['(a)\\1']}\n")

    assert _sweep(tmp_path, _targets(tmp_path, {})) == 1

    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    assert "no-mutelist.yaml: Mutelist.Accounts.*.Checks.*.Resources[0]" in err, err
    rows = _report(tmp_path)
    assert [(r["check_id"], r["status"], r["account_id"]) for r in rows] == [(CONFIGURATION_CHECK_ID, ERROR, "unknown")]
