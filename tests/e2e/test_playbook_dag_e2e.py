"""A playbook DAG under ``airflow dags test`` against the embedded AWS: check mode, apply, no-op re-run.

The playbook sits in a temporary folder next to a broken one, so every run also proves that a
broken playbook leaves the other DAGs alone.
"""

from __future__ import annotations

import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from iamflow.settings import project_root
from tests.helpers.airflow import dags_test, recap_totals
from tools.demo import DagTestRun, run_dags

pytestmark = pytest.mark.e2e

DAG_FILE = project_root() / "dags" / "playbooks.py"
DAG_ID = "playbook_e2e_web"
POLICY, ROLE, PROFILE = "e2e-web-policy", "e2e-web-role", "e2e-web-profile"

PLAYBOOK = f"""
name: e2e-web
description: End-to-end test playbook.
tags:
  ManagedBy: iamflow
resources:
  - kind: iam_managed_policy
    name: {POLICY}
    document:
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Action: [s3:GetObject]
          Resource: arn:aws:s3:::e2e-web-assets/*
  - kind: iam_role
    name: {ROLE}
    trust_policy:
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Principal: {{Service: ec2.amazonaws.com}}
          Action: sts:AssumeRole
    managed_policies: [{POLICY}]
    inline_policies:
      logs:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Action: [logs:CreateLogStream, logs:PutLogEvents]
            Resource: "*"
  - kind: iam_instance_profile
    name: {PROFILE}
    role: {ROLE}
"""

BROKEN = """
name: e2e-broken
resources:
  - kind: iam_role
    name: e2e-broken-role
"""


@pytest.fixture(scope="module")
def env(e2e_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    directory = tmp_path_factory.mktemp("e2e-playbooks")
    (directory / "e2e-web.yaml").write_text(textwrap.dedent(PLAYBOOK), encoding="utf-8")
    (directory / "e2e-broken.yaml").write_text(textwrap.dedent(BROKEN), encoding="utf-8")
    return {**e2e_env, "IAMFLOW_PLAYBOOKS_DIR": str(directory)}


def _explain(run: DagTestRun) -> str:
    return f"airflow dags test {run.dag_id} exited {run.returncode}:\n" + "\n".join(run.output.splitlines()[-60:])


def _run(env: dict[str, str], tmp_path: Path, name: str, **conf: Any) -> DagTestRun:
    return dags_test(DAG_ID, env, conf=conf or None, dagfile=DAG_FILE, log_path=tmp_path / f"{name}.log")


def test_check_mode_then_apply_then_nothing_to_do(env: dict[str, str], e2e_iam: Any, tmp_path: Path) -> None:
    started = time.monotonic()

    check = _run(env, tmp_path, "check", check_mode=True)
    assert check.succeeded, _explain(check)
    assert check.recap, _explain(check)
    assert "PLAY RECAP [e2e-web] (check mode)" in check.recap
    assert recap_totals(check.recap) == {"ok": 0, "changed": 3, "failed": 0, "skipped": 0}, check.recap
    assert "create role e2e-web-role" in check.output, "the planned changes are in the task log"
    with pytest.raises(e2e_iam.exceptions.NoSuchEntityException):
        e2e_iam.get_role(RoleName=ROLE)
    local_policies = {p["PolicyName"] for p in e2e_iam.list_policies(Scope="Local")["Policies"]}
    assert POLICY not in local_policies, "check mode must not create anything"
    with pytest.raises(e2e_iam.exceptions.NoSuchEntityException):
        e2e_iam.get_instance_profile(InstanceProfileName=PROFILE)

    apply = _run(env, tmp_path, "apply")
    assert apply.succeeded, _explain(apply)
    assert apply.recap and "(check mode)" not in apply.recap
    assert recap_totals(apply.recap) == {"ok": 0, "changed": 3, "failed": 0, "skipped": 0}, apply.recap
    role = e2e_iam.get_role(RoleName=ROLE)["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    attached = e2e_iam.list_attached_role_policies(RoleName=ROLE)["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == [POLICY]
    assert e2e_iam.list_role_policies(RoleName=ROLE)["PolicyNames"] == ["logs"]
    profile = e2e_iam.get_instance_profile(InstanceProfileName=PROFILE)["InstanceProfile"]
    assert [r["RoleName"] for r in profile["Roles"]] == [ROLE]

    again = _run(env, tmp_path, "again")
    assert again.succeeded, _explain(again)
    assert again.recap, _explain(again)
    assert recap_totals(again.recap) == {"ok": 3, "changed": 0, "failed": 0, "skipped": 0}, again.recap
    for key in (f"iam_managed_policy.{POLICY}", f"iam_role.{ROLE}", f"iam_instance_profile.{PROFILE}"):
        assert any(line.startswith(key) and "ok=1" in line for line in again.recap.splitlines()), again.recap

    print(f"\ne2e playbook DAG: check {check.seconds}s, apply {apply.seconds}s, re-apply {again.seconds}s, "
          f"total {time.monotonic() - started:.1f}s")


def test_demo_runner_runs_each_dag_and_reports_the_broken_one(env: dict[str, str], tmp_path: Path) -> None:
    """``make run``'s runner: several DAGs through ``dags test`` in one Airflow process, split per DAG."""
    runs = {r.dag_id: r for r in run_dags(env, [DAG_ID, "playbook_e2e_broken"], tmp_path)}
    assert set(runs) == {DAG_ID, "playbook_e2e_broken"}

    good = runs[DAG_ID]
    assert good.succeeded, _explain(good)
    assert good.recap and good.recap.startswith("PLAY RECAP [e2e-web]"), _explain(good)
    assert recap_totals(good.recap)["failed"] == 0
    assert (tmp_path / f"{DAG_ID}.log").read_text(encoding="utf-8") == good.output

    broken = runs["playbook_e2e_broken"]
    assert not broken.succeeded, "the placeholder DAG of a broken playbook must fail"
    assert broken.recap is None
    errors = "\n".join(broken.errors())
    assert "e2e-broken.yaml" in errors and "does not validate" in errors, errors
    assert "trust_policy" in errors, errors
