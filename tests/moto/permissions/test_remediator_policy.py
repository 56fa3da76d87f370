"""The remediator's least privilege, proven with moto's IAM authorization (as test_least_privilege.py does).

A principal holding exactly ``iamflow policy --for remediator`` (filled for moto's account) plans
(collecting the credential checks, as when no sweep report exists), applies (deactivate, delete,
remove a console password) and rolls back; removing any one action makes that run fail with an
AccessDenied naming it. moto compares a Resource with the request's ARN only for role calls, so
the ``user/*`` scoping rests on ``moto_resource_wildcard`` there (see that file's docstring).
"""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from iamflow.compliance.config import ComplianceConfig
from iamflow.permissions import (
    NEVER_AUTHORIZED,
    is_read_action,
    policy_actions,
    policy_for,
    render,
    without_action,
)
from iamflow.remediation.plan import DEACTIVATE, Action, Plan, Rules, deactivation_tag
from iamflow.remediation.run import RunRecord
from tests.moto.compliance.compliance_moto_helpers import backdate_key, backdate_user
from tests.moto.permissions.test_least_privilege import (
    ACCOUNT,
    CTX,
    POLICIES,
    REPO,
    Outcome,
    finish,
    moto_account,
    moto_resource_wildcard,
    principal_with,
    traced,
)

NOW = datetime.now(UTC)
RULES = Rules(unused_days=45, delete_after_days=30, remove_console_passwords=True)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "false")
    monkeypatch.setenv("IAMFLOW_PLAYBOOKS_DIR", str(tmp_path / "playbooks"))


def _seed() -> None:
    """stale: key unused 100 days; old: key iamflow deactivated 40 days ago; console: password unused 90 days."""
    import boto3
    from moto.backends import get_backend

    iam = boto3.client("iam", region_name="us-east-1")
    for user in ("stale", "old", "console"):
        iam.create_user(UserName=user)
    keys = {u: iam.create_access_key(UserName=u)["AccessKey"]["AccessKeyId"] for u in ("stale", "old")}
    backend = get_backend("iam")[ACCOUNT]["global"]
    backdate_key(backend, "stale", created=NOW - timedelta(days=200), used=NOW - timedelta(days=100))
    backdate_key(backend, "old", created=NOW - timedelta(days=300), used=NOW - timedelta(days=120))
    iam.update_access_key(UserName="old", AccessKeyId=keys["old"], Status="Inactive")
    iam.tag_user(UserName="old", Tags=[{"Key": deactivation_tag(keys["old"]),
                                        "Value": (NOW - timedelta(days=40)).date().isoformat()}])
    iam.create_login_profile(UserName="console", Password="Only-for-tests-1!")
    backdate_user(backend, "console", created=NOW - timedelta(days=200), password_used=NOW - timedelta(days=90))
    earlier = Action(DEACTIVATE, "old", keys["old"], None, 0, "earlier run")
    record = RunRecord("earlier", Plan(ACCOUNT, NOW.isoformat(), (earlier,)))
    record.results = [{**earlier.to_dict(), "outcome": "done", "detail": ""}]
    record.save()


def run_as(doc: dict[str, Any], reports: Path) -> Outcome:
    """Plan, apply and roll back as a principal holding ``doc``, in a fresh account."""
    from moto.core.authorization import enable_iam_authentication

    from iamflow.remediation.live import build_plan
    from iamflow.remediation.run import apply_plan, failed_results, rollback

    out = Outcome()
    with moto_account(), pytest.MonkeyPatch.context() as mp:
        mp.setenv("IAMFLOW_REPORT_DIR", str(reports))
        _seed()
        session = principal_with(doc)
        clients = traced(session, out)
        with enable_iam_authentication(), moto_resource_wildcard():
            try:
                plan = build_plan(clients, RULES, ComplianceConfig(), NOW)
                assert len(plan.actions) == 3, plan.to_dict()
                record = apply_plan(clients, plan, run_id="least-privilege", delete_after_days=30, now=NOW)
                out.failures += [f"{r['id']}: {r['detail']}" for r in failed_results(record)]
                rollback(clients, "least-privilege", now=NOW)
            except Exception as exc:
                out.failures.append(f"{type(exc).__name__}: {exc}")
    return finish(clients, out)


@functools.cache
def generated() -> dict[str, Any]:
    return policy_for("remediator", None, CTX)


def test_committed_policy_is_current() -> None:
    from iamflow.permissions import PLACEHOLDERS

    path = POLICIES / "iamflow-remediator.json"
    assert path.read_text() == render(policy_for("remediator", None, PLACEHOLDERS)), (
        f"{path.relative_to(REPO)} is stale: run `iamflow policy --for remediator > {path.relative_to(REPO)}`")


def test_scoped_to_users_and_the_credential_report() -> None:
    doc = json.loads((POLICIES / "iamflow-remediator.json").read_text())
    resources = {st["Resource"] for st in doc["Statement"]}
    assert resources == {"arn:${partition}:iam::${account_id}:user/*", "*"}
    star = next(st for st in doc["Statement"] if st["Resource"] == "*")
    assert all(is_read_action(a) for a in star["Action"]), "nothing but the credential report on *"
    writes = {a for a in policy_actions(doc) if not is_read_action(a)}
    assert writes == {"iam:DeleteAccessKey", "iam:DeleteLoginProfile", "iam:TagUser", "iam:UntagUser",
                      "iam:UpdateAccessKey"}, "no create, no policy or role change"


def test_the_cli_prints_it(capsys: pytest.CaptureFixture[str]) -> None:
    from iamflow.cli import main

    assert main(["policy", "--for", "remediator", "--account", ACCOUNT, "--partition", "aws"]) == 0
    assert json.loads(capsys.readouterr().out) == generated()


def test_runs_with_exactly_the_generated_policy(tmp_path: Path) -> None:
    out = run_as(generated(), tmp_path / "reports")
    assert out.failures == [] and out.denied == [], out
    used = out.actions - NEVER_AUTHORIZED
    assert used == set(policy_actions(generated())), "every granted action is used, and only those"


@pytest.mark.parametrize("action", policy_actions(policy_for("remediator", None, CTX)))
def test_removing_an_action_fails_with_access_denied(action: str, tmp_path: Path) -> None:
    out = run_as(without_action(generated(), action), tmp_path / "reports")
    name = action.split(":", 1)[1]
    assert out.failures or out.denied, f"the run succeeded without {action}"
    assert any(name in d for d in out.denied) or any(name in f for f in out.failures), out
