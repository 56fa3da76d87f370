"""A batched playbook DAG retried by Airflow itself, under ``airflow dags test``.

The embedded AWS runs in this process, so the test can make it refuse one ``CreatePolicy`` with
``Throttling``. With ``AWS_MAX_ATTEMPTS=1`` the client does not retry it, so the batch task fails on a
transient error and Airflow starts its second try. That try must converge only the refused policy:
the other policies of the batch are taken from the retry ledger (an Airflow Variable), not read again.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from iamflow.settings import project_root
from tests.helpers.airflow import dags_test, recap_totals

pytestmark = pytest.mark.e2e

DAG_FILE = project_root() / "dags" / "playbooks.py"
DAG_ID = "playbook_e2e_retry"
POLICIES = [f"e2e-retry-policy-{i}" for i in range(4)]
REFUSED = POLICIES[2]


def _playbook() -> str:
    policies = "".join(textwrap.dedent(f"""
      - kind: iam_managed_policy
        name: {name}
        document:
          Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Action: [s3:GetObject]
              Resource: arn:aws:s3:::e2e-retry-{i}/*
    """) for i, name in enumerate(POLICIES))
    roles = "".join(textwrap.dedent(f"""
      - kind: iam_role
        name: e2e-retry-role-{i}
        trust_policy:
          Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Principal: {{Service: lambda.amazonaws.com}}
              Action: sts:AssumeRole
        managed_policies: [{POLICIES[i]}, {POLICIES[i + 2]}]
    """) for i in range(2))
    head = textwrap.dedent("""
        name: e2e-retry
        task_grouping: batched
        retries: 1
        retry_delay_seconds: 0
        resources:
    """)
    return head + textwrap.indent(policies + roles, "  ")


def test_airflow_s_retry_converges_only_what_the_first_try_left(
        e2e_env: dict[str, str], e2e_aws: Any, e2e_iam: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.iam.exceptions import IAMException
    from moto.iam.models import IAMBackend

    class Throttling(IAMException):
        code = "Throttling"  # IAM's throttling answer (HTTP 400)
        message = "Rate exceeded"

    creates: Counter[str] = Counter()
    reads: Counter[str] = Counter()
    create_policy, get_policy = IAMBackend.create_policy, IAMBackend.get_policy

    def counted_create(self: Any, description: str, path: str, policy_document: str, policy_name: str,
                       tags: Any) -> Any:
        creates[policy_name] += 1
        if policy_name == REFUSED and creates[policy_name] == 1:
            raise Throttling()  # refused before acting, as AWS throttles: nothing was created
        return create_policy(self, description, path, policy_document, policy_name, tags)

    def counted_get(self: Any, policy_arn: str) -> Any:
        reads[policy_arn.rsplit("/", 1)[-1]] += 1
        return get_policy(self, policy_arn)

    monkeypatch.setattr(IAMBackend, "create_policy", counted_create)
    monkeypatch.setattr(IAMBackend, "get_policy", counted_get)

    directory = tmp_path / "playbooks"
    directory.mkdir()
    (directory / "e2e-retry.yaml").write_text(_playbook(), encoding="utf-8")
    env = {**e2e_env, "IAMFLOW_PLAYBOOKS_DIR": str(directory), "AWS_MAX_ATTEMPTS": "1"}
    run = dags_test(DAG_ID, env, dagfile=DAG_FILE, log_path=tmp_path / "dags-test.log")
    tail = "\n".join(run.output.splitlines()[-80:])
    assert run.returncode == 0, tail

    recap = next((e.message for e in run.events if e.message.lstrip().startswith("PLAY RECAP")), "")
    assert recap_totals(recap) == {"ok": 0, "changed": 6, "failed": 0, "skipped": 0}, recap or tail
    # the first try failed on the throttled create, and Airflow ran the task a second time
    assert "Throttling" in run.output and "up_for_retry" in run.output.lower(), tail
    assert "3 resource(s) succeeded in an earlier try and are not converged again; converging 1" in run.output, tail
    assert creates == {name: (2 if name == REFUSED else 1) for name in POLICIES}
    # the retry read only the refused policy again: the three others were read once, by the first try,
    # and the second took their results from the ledger
    assert {name: reads[name] for name in POLICIES if name != REFUSED} == dict.fromkeys(
        [name for name in POLICIES if name != REFUSED], 1), dict(reads)
    assert reads[REFUSED] >= 2, dict(reads)

    local = e2e_iam.list_policies(Scope="Local")["Policies"]
    assert sorted(p["PolicyName"] for p in local if p["PolicyName"].startswith("e2e-retry")) == POLICIES
    attached = e2e_iam.list_attached_role_policies(RoleName="e2e-retry-role-0")["AttachedPolicies"]
    assert sorted(p["PolicyName"] for p in attached) == [POLICIES[0], POLICIES[2]]

    variables = dags_variables(env)
    assert not [v for v in variables if v.startswith("iamflow_retry_")], "the retry ledger is deleted at the end"


def dags_variables(env: dict[str, str]) -> list[str]:
    import json
    import subprocess

    from tools.demo import airflow_command

    done = subprocess.run(airflow_command("variables", "list", "--output", "json"), env=env, capture_output=True,
                          text=True, check=True)
    start = done.stdout.find("[")
    return [v["key"] for v in json.loads(done.stdout[start:])] if start >= 0 else []
