"""Governed approval rules and the audit file (pure: no Airflow, no AWS)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from iamflow.approvals import (
    APPROVE,
    REFUSED,
    ApprovalConfig,
    ApprovalConfigError,
    Decision,
    judge,
    plan_hash,
    read_audit,
    record,
)
from iamflow.settings import include_dir

CONFIG = ApprovalConfig.from_dict({"workflows": {"remediate_credentials": {"users": ["ann", "bo"],
                                                                          "roles": ["Approver"]},
                                                "onboard_team": {"users": ["ann"]}}})


def test_an_approver_who_did_not_trigger_the_run_may_approve() -> None:
    assert judge(CONFIG, "remediate_credentials", "ann", triggered_by="bo").allowed


def test_the_triggering_user_cannot_approve_even_when_listed() -> None:
    verdict = judge(CONFIG, "remediate_credentials", "bo", triggered_by="bo")
    assert not verdict.allowed and "triggered this run" in verdict.reason


@pytest.mark.parametrize(("workflow", "user"), [("remediate_credentials", "eve"), ("onboard_team", "bo"),
                                                ("offboard_team", "ann")])
def test_someone_not_listed_for_the_workflow_is_refused(workflow: str, user: str) -> None:
    assert not judge(CONFIG, workflow, user, triggered_by="x").allowed


def test_roles_count_only_when_known_or_enforced_by_an_auth_manager_with_roles() -> None:
    assert not judge(CONFIG, "remediate_credentials", "eve", triggered_by="x").allowed
    assert judge(CONFIG, "remediate_credentials", "eve", triggered_by="x", responder_roles=["Approver"]).allowed
    assert judge(CONFIG, "remediate_credentials", "eve", triggered_by="x", roles_by_auth_manager=True).allowed
    # never the triggering user, whatever the roles
    assert not judge(CONFIG, "remediate_credentials", "eve", triggered_by="eve", roles_by_auth_manager=True).allowed
    # a workflow without roles is not opened by an auth manager with roles
    assert not judge(CONFIG, "onboard_team", "eve", triggered_by="x", roles_by_auth_manager=True).allowed


def test_an_answer_without_a_user_is_refused() -> None:
    assert not judge(CONFIG, "remediate_credentials", None, triggered_by=None).allowed


@pytest.mark.parametrize(("data", "message"), [
    ({"workflow": {}}, "one key 'workflows'"),
    ({"workflows": {"deploy": {"users": ["a"]}}}, "workflows.deploy: unknown workflow"),
    ({"workflows": {"onboard_team": {"user": ["a"]}}}, "workflows.onboard_team"),
    ({"workflows": {"onboard_team": {"users": "a"}}}, "workflows.onboard_team.users"),
])
def test_a_bad_file_names_the_key(data: object, message: str) -> None:
    with pytest.raises(ApprovalConfigError, match=message):
        ApprovalConfig.from_dict(data, source="approvals.yaml")


def test_the_shipped_file_loads_and_names_every_workflow() -> None:
    config = ApprovalConfig.load(include_dir() / "approvals.yaml")
    assert set(config.workflows) == {"onboard_team", "offboard_team", "remediate_credentials"}


def test_a_missing_file_means_no_approver(tmp_path: Path) -> None:
    config = ApprovalConfig.load(tmp_path / "none.yaml")
    assert not judge(config, "onboard_team", "admin", triggered_by="x").allowed


def test_plan_hash_is_canonical() -> None:
    assert plan_hash({"a": 1, "b": [1, 2]}) == plan_hash({"b": [1, 2], "a": 1})
    assert plan_hash({"a": 1}) != plan_hash({"a": 2})


def test_the_audit_file_only_grows_and_concurrent_writers_never_interleave(tmp_path: Path) -> None:
    file = tmp_path / "audit" / "approvals.jsonl"
    record(Decision("onboard_team", "r0", APPROVE, "ann", "h0", at="2026-01-01T00:00:00+00:00"), file)
    first = file.read_bytes()

    def write(n: int) -> None:
        for i in range(50):
            record(Decision("remediate_credentials", f"r{n}-{i}", REFUSED, "eve", "h" * 64, reason="x" * 500), file)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert file.read_bytes().startswith(first)
    lines = file.read_text().splitlines()
    assert len(lines) == 201 and all(json.loads(line)["by"] in ("ann", "eve") for line in lines)
    items = list(read_audit(file))
    assert items[0] == {"at": "2026-01-01T00:00:00+00:00", "workflow": "onboard_team", "run_id": "r0",
                        "decision": "approve", "by": "ann", "triggered_by": None, "plan_hash": "h0", "reason": "",
                        "via": "airflow"}


def test_an_unknown_decision_is_not_recorded(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        record(Decision("onboard_team", "r", "maybe", "ann", "h"), tmp_path / "a.jsonl")
    assert not (tmp_path / "a.jsonl").exists()
