"""Credential remediation against in-process moto: plan, check mode, apply, resume, re-apply, rollback, CLI.

moto stamps keys and last uses with the real clock, so the tests backdate its backend objects
(tests/moto/compliance/compliance_moto_helpers.py) and judge as of the real time.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.backends import get_backend

from iamflow.approvals import read_audit
from iamflow.cli import main
from iamflow.compliance.config import ComplianceConfig
from iamflow.compliance.report import write_reports
from iamflow.remediation.live import PlanError, build_plan, collect_findings
from iamflow.remediation.plan import DEACTIVATE, DELETE, REMOVE_PASSWORD, Rules, deactivation_tag
from iamflow.remediation.run import ALREADY, DONE, SKIPPED, RunRecord, apply_plan, rollback
from tests.moto.compliance.compliance_moto_helpers import backdate_key, backdate_user

ACCOUNT = "123456789012"
NOW = datetime.now(UTC)
CONFIG = ComplianceConfig()
RULES = Rules(unused_days=45, delete_after_days=30)


@pytest.fixture(autouse=True)
def lean_iam(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "false")
    monkeypatch.setenv("IAMFLOW_REPORT_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("IAMFLOW_PLAYBOOKS_DIR", str(tmp_path / "playbooks"))


def backend() -> Any:
    return get_backend("iam")[ACCOUNT]["global"]


def seed_account() -> dict[str, str]:
    """stale (key unused 100 days), fresh (key used yesterday), old (inactive key iamflow deactivated 40 days ago),
    recent (inactive key deactivated 5 days ago), console (password unused 90 days)."""
    iam = boto3.client("iam", region_name="us-east-1")
    keys = {}
    for user in ("stale", "fresh", "old", "recent", "console"):
        iam.create_user(UserName=user)
    for user in ("stale", "fresh", "old", "recent"):
        keys[user] = iam.create_access_key(UserName=user)["AccessKey"]["AccessKeyId"]
    b = backend()
    backdate_key(b, "stale", created=NOW - timedelta(days=200), used=NOW - timedelta(days=100))
    backdate_key(b, "fresh", created=NOW - timedelta(days=200), used=NOW - timedelta(days=1))
    for user, days in (("old", 40), ("recent", 5)):
        backdate_key(b, user, created=NOW - timedelta(days=300), used=NOW - timedelta(days=120))
        iam.update_access_key(UserName=user, AccessKeyId=keys[user], Status="Inactive")
        iam.tag_user(UserName=user, Tags=[{"Key": deactivation_tag(keys[user]),
                                           "Value": (NOW - timedelta(days=days)).date().isoformat()}])
    iam.create_login_profile(UserName="console", Password="Initial-Passw0rd-only-for-tests!")
    backdate_user(b, "console", created=NOW - timedelta(days=200), password_used=NOW - timedelta(days=90))
    return keys


def key_status(user: str, key_id: str) -> str | None:
    iam = boto3.client("iam", region_name="us-east-1")
    for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]:
        if k["AccessKeyId"] == key_id:
            return str(k["Status"])
    return None


def user_tags(user: str) -> dict[str, str]:
    iam = boto3.client("iam", region_name="us-east-1")
    return {t["Key"]: t["Value"] for t in iam.list_user_tags(UserName=user)["Tags"]}


def earlier_run(keys: dict[str, str], tmp_path: Path) -> None:
    """Record that an earlier run deactivated old's and recent's keys (the sweep does not judge inactive keys)."""
    from iamflow.remediation.plan import Action, Plan

    actions = tuple(Action(DEACTIVATE, u, keys[u], "2026-01-01", 100, "earlier") for u in ("old", "recent"))
    record = RunRecord("20260101T000000Z-0000", Plan(ACCOUNT, "2026-01-01T00:00:00+00:00", actions))
    record.results = [{**a.to_dict(), "outcome": DONE, "detail": "deactivated"} for a in actions]
    record.save()


def test_plan_from_collected_findings_is_read_only(aws: Any, clients: Any, call_log: Any,
                                                   tmp_path: Path) -> None:
    keys = seed_account()
    earlier_run(keys, tmp_path)
    call_log.reset()
    plan = build_plan(clients, RULES, CONFIG, NOW)
    # collecting generates the credential report (it changes no resource); nothing else is written
    assert {op for _s, op in call_log.writes()} == {"GenerateCredentialReport"}
    assert plan.source.startswith("collected now")
    by_id = {a.id: a for a in plan.actions}
    assert set(by_id) == {f"{DEACTIVATE}:stale:{keys['stale']}", f"{DELETE}:old:{keys['old']}"}
    assert [s.user for s in plan.skipped if s.credential == "console password"] == ["console"]
    assert "Active -> Inactive" in plan.diff() and "deleted" in plan.diff()
    # the same state plans to the same hash
    assert build_plan(clients, RULES, CONFIG, NOW).hash == plan.hash


def test_a_collection_error_fails_the_plan(aws: Any, check_clients: Any) -> None:
    seed_account()
    # check-mode clients cannot generate the credential report: the checks come out ERROR
    with pytest.raises(PlanError, match="could not judge"):
        build_plan(check_clients, RULES, CONFIG, NOW)


def test_plan_reads_the_latest_report_and_respects_muted_findings(aws: Any, check_clients: Any,
                                                                   clients: Any, call_log: Any) -> None:
    keys = seed_account()
    # stale also has an unused console password, so its password finding makes it a candidate
    boto3.client("iam", region_name="us-east-1").create_login_profile(UserName="stale", Password="Only-for-tests-1!")
    backdate_user(backend(), "stale", created=NOW - timedelta(days=200), password_used=NOW - timedelta(days=90))
    findings = collect_findings(clients, CONFIG, NOW)
    muted = [f.with_status("MUTED", muted_by={"reason": "test"})
             if f.resource_id == "stale" and f.check_id == "iam_user_accesskey_unused" else f for f in findings]
    write_reports(muted, os.environ["IAMFLOW_REPORT_DIR"])
    call_log.reset()
    plan = build_plan(clients, RULES, CONFIG, NOW)
    assert call_log.writes() == []
    assert plan.source.endswith("latest/findings.json")
    assert not any(a.user == "stale" for a in plan.actions)
    assert any(s.user == "stale" and s.credential == f"access key {keys['stale']}" and "muted" in s.reason
               for s in plan.skipped)


def test_apply_deactivates_tags_and_deletes_then_reapply_writes_nothing(aws: Any, clients: Any, call_log: Any,
                                                                        tmp_path: Path) -> None:
    keys = seed_account()
    earlier_run(keys, tmp_path)
    plan = build_plan(clients, RULES, CONFIG, NOW)
    record = apply_plan(clients, plan, run_id="r1", delete_after_days=30, now=NOW)
    assert {r["id"]: r["outcome"] for r in record.results} == {a.id: DONE for a in plan.actions}
    assert key_status("stale", keys["stale"]) == "Inactive"
    assert user_tags("stale")[deactivation_tag(keys["stale"])] == NOW.date().isoformat()
    assert key_status("old", keys["old"]) is None and deactivation_tag(keys["old"]) not in user_tags("old")
    assert key_status("fresh", keys["fresh"]) == "Active" and key_status("recent", keys["recent"]) == "Inactive"
    # keys are deactivated, never deleted in the same run: stale's key is not proposed for deletion now
    again = build_plan(clients, RULES, CONFIG, NOW)
    assert not any(a.access_key_id == keys["stale"] for a in again.actions)
    # re-applying the same run is a no-op: every action is done, no write call is made
    call_log.reset()
    apply_plan(clients, plan, run_id="r1", delete_after_days=30, now=NOW)
    assert call_log.writes() == []
    # a new run of the old plan re-checks live state and writes nothing either
    call_log.reset()
    fresh_run = apply_plan(clients, plan, run_id="r2", delete_after_days=30, now=NOW)
    assert call_log.writes() == []
    assert {r["outcome"] for r in fresh_run.results} == {ALREADY}


def test_apply_resumes_after_a_crash_between_tag_and_deactivation(aws: Any, clients: Any) -> None:
    keys = seed_account()
    plan = build_plan(clients, RULES, CONFIG, NOW)
    iam = clients.client("iam")

    class Crash(BaseException):
        """The worker dies: nothing in iamflow catches it."""

    def crash(**_: Any) -> None:
        raise Crash

    with pytest.MonkeyPatch.context() as mp, pytest.raises(Crash):
        mp.setattr(iam, "update_access_key", crash)
        apply_plan(clients, plan, run_id="crashed", delete_after_days=30, now=NOW)
    # the tag was written first; the key is still active, so nothing may delete it
    assert deactivation_tag(keys["stale"]) in user_tags("stale") and key_status("stale", keys["stale"]) == "Active"
    record = apply_plan(clients, plan, run_id="crashed", delete_after_days=30, now=NOW)
    assert record.outcomes()[plan.actions[0].id] == DONE
    assert key_status("stale", keys["stale"]) == "Inactive"


def test_apply_skips_a_key_used_since_the_plan(aws: Any, clients: Any) -> None:
    keys = seed_account()
    plan = build_plan(clients, RULES, CONFIG, NOW)
    backdate_key(backend(), "stale", used=NOW)
    record = apply_plan(clients, plan, run_id="r", delete_after_days=30, now=NOW)
    assert record.results[0]["outcome"] == SKIPPED and "used" in record.results[0]["detail"]
    assert key_status("stale", keys["stale"]) == "Active"


def test_rollback_reactivates_what_the_run_deactivated(aws: Any, clients: Any, tmp_path: Path) -> None:
    keys = seed_account()
    earlier_run(keys, tmp_path)
    plan = build_plan(clients, RULES, CONFIG, NOW)
    apply_plan(clients, plan, run_id="r1", delete_after_days=30, now=NOW)
    record = rollback(clients, "r1", now=NOW)
    assert key_status("stale", keys["stale"]) == "Active"
    assert deactivation_tag(keys["stale"]) not in user_tags("stale")
    assert record.rollbacks[-1]["results"] == [{"user": "stale", "access_key_id": keys["stale"], "outcome": DONE,
                                                 "detail": "reactivated"}]
    # a second rollback changes nothing
    assert rollback(clients, "r1", now=NOW).rollbacks[-1]["results"][0]["outcome"] == ALREADY


def test_console_password_removed_only_when_enabled(aws: Any, clients: Any) -> None:
    seed_account()
    plan = build_plan(clients, Rules(remove_console_passwords=True), CONFIG, NOW)
    action = next(a for a in plan.actions if a.action == REMOVE_PASSWORD)
    assert action.user == "console"
    apply_plan(clients, plan, run_id="p", delete_after_days=30, now=NOW)
    with pytest.raises(clients.client("iam").exceptions.NoSuchEntityException):
        clients.client("iam").get_login_profile(UserName="console")


def test_declared_users_are_left_to_their_playbook(aws: Any, clients: Any, tmp_path: Path) -> None:
    seed_account()
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "svc.yaml").write_text(
        "name: svc\nresources:\n  - kind: iam_user\n    name: stale\n", encoding="utf-8")
    plan = build_plan(clients, RULES, CONFIG, NOW)
    assert not any(a.user == "stale" for a in plan.actions)
    assert any(s.user == "stale" and "playbook" in s.reason for s in plan.skipped)


def test_cli_plan_apply_rollback(aws: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    keys = seed_account()
    assert main(["remediate", "--plan"]) == 2
    out = capsys.readouterr().out
    assert f"access key {keys['stale']} Active -> Inactive" in out
    assert main(["remediate", "--apply", "--by", "ops-alice"]) == 0
    out = capsys.readouterr().out
    run_id = out.strip().splitlines()[-1].removeprefix("remediation run ")
    assert out.strip().splitlines()[-1] == f"remediation run {run_id}"
    audit = list(read_audit())
    assert [(a["decision"], a["by"], a["via"], a["run_id"]) for a in audit] == [("approve", "ops-alice", "cli", run_id)]
    record = json.loads((tmp_path / "reports" / "remediation" / run_id / "run.json").read_text())
    assert record["plan_hash"] == audit[0]["plan_hash"]
    assert main(["remediate", "--plan"]) == 0
    capsys.readouterr()
    assert main(["remediate", "--rollback", run_id]) == 0
    assert key_status("stale", keys["stale"]) == "Active"
    assert main(["remediate", "--rollback", "no-such-run"]) == 1
    assert "no remediation run no-such-run" in capsys.readouterr().err


def test_cli_plan_fails_on_a_bad_settings_file(aws: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "remediation.yaml"
    bad.write_text("delete_after_dayz: 3\n", encoding="utf-8")
    assert main(["remediate", "--plan", "--remediation-config", str(bad)]) == 1
    err = capsys.readouterr().err
    assert str(bad) in err and "delete_after_dayz" in err


def test_a_crash_while_redoing_an_action_keeps_the_later_results(aws: Any, clients: Any) -> None:
    keys = seed_account()
    iam = boto3.client("iam", region_name="us-east-1")
    iam.create_user(UserName="another")
    other = iam.create_access_key(UserName="another")["AccessKey"]["AccessKeyId"]
    backdate_key(backend(), "another", created=NOW - timedelta(days=200), used=NOW - timedelta(days=100))
    plan = build_plan(clients, RULES, CONFIG, NOW)
    assert [a.user for a in plan.actions] == ["another", "stale"]
    backdate_key(backend(), "another", used=NOW)  # used since the plan: skipped, so a later attempt redoes it
    first = apply_plan(clients, plan, run_id="r", delete_after_days=30, now=NOW)
    assert [r["outcome"] for r in first.results] == [SKIPPED, DONE]

    class Crash(BaseException):
        pass

    def crash(**_: Any) -> None:
        raise Crash

    with pytest.MonkeyPatch.context() as mp, pytest.raises(Crash):
        mp.setattr(clients.client("iam"), "get_user", crash)
        apply_plan(clients, plan, run_id="r", delete_after_days=30, now=NOW)
    assert RunRecord.load("r").outcomes() == {plan.actions[0].id: SKIPPED, plan.actions[1].id: DONE}
    rollback(clients, "r", now=NOW)
    assert key_status("stale", keys["stale"]) == "Active" and key_status("another", other) == "Active"
