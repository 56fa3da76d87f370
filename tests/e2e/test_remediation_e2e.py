"""``remediate_credentials`` end to end: ``airflow dags test`` on the embedded AWS, answers by REST, as named users.

An ``airflow api-server`` with the simple auth manager and three users (``approver`` and ``carol``
listed or not in a test ``approvals.yaml``, and ``dag_test``, the name ``airflow dags test``
triggers its runs as) shares the Airflow home with the ``dags test`` process. Each run parks at
``approve``; the test answers through the HITL REST API as one of those users, then checks IAM,
the remediation run record and the approval audit file:

- Reject by an approver changes nothing and is recorded;
- Approve by the user who triggered the run is refused (the run fails at ``approve``), recorded;
- Approve by someone not listed is refused;
- Approve by an approver deactivates the key and tags the user, recorded with the plan's hash.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from iamflow.settings import project_root
from tests.e2e.test_onboarding_e2e import Run, _finish, _healthy, _stop
from tools.demo import airflow_command, airflow_env

pytestmark = pytest.mark.e2e

DAG_ID = "remediate_credentials"
DAG_FILE = project_root() / "dags" / f"{DAG_ID}.py"
ACCOUNT = "123456789012"
USER = "stale-ci"
PASSWORD = "remediation-e2e"
USERS = ("approver", "carol", "dag_test")
WAIT = 120.0
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Stack:
    env: dict[str, str]
    api: str
    tokens: dict[str, str]
    reports: Path
    logs: Path
    aws: Any

    def call(self, user: str, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.api}{path}", data=data, method=method, headers={
            "Authorization": f"Bearer {self.tokens[user]}", "Content-Type": "application/json"})
        with _opener.open(request, timeout=10) as response:
            return json.loads(response.read() or b"null")

    def iam(self) -> Any:
        import boto3

        return boto3.client("iam", endpoint_url=self.aws.endpoint_url, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def audit(self) -> list[dict[str, Any]]:
        file = self.reports / "audit" / "approvals.jsonl"
        return [json.loads(line) for line in file.read_text().splitlines()] if file.exists() else []


def _token(api: str, user: str) -> str:
    request = urllib.request.Request(f"{api}/auth/token", data=json.dumps({"username": user, "password": PASSWORD})
                                     .encode(), method="POST", headers={"Content-Type": "application/json"})
    with _opener.open(request, timeout=10) as response:
        return str(json.loads(response.read())["access_token"])


@pytest.fixture(scope="module")
def stack(e2e_airflow_home: Path, e2e_aws: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    from iamflow.aws.local import free_port

    logs = tmp_path_factory.mktemp("remediation-logs")
    reports = logs / "reports"
    approvals = logs / "approvals.yaml"
    approvals.write_text("workflows:\n  remediate_credentials: {users: [approver, dag_test]}\n", encoding="utf-8")
    passwords = logs / "passwords.json"
    passwords.write_text(json.dumps(dict.fromkeys(USERS, PASSWORD)), encoding="utf-8")
    port = free_port()
    env = airflow_env(e2e_aws.endpoint_url, e2e_airflow_home, extra={
        "IAMFLOW_REPORT_DIR": str(reports),
        "IAMFLOW_APPROVALS_CONFIG": str(approvals),
        "IAMFLOW_PLAYBOOKS_DIR": str(logs / "no-playbooks"),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:admin" for u in USERS),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
    })
    api = f"http://127.0.0.1:{port}"
    with (logs / "api-server.log").open("wb") as log:
        server = subprocess.Popen(airflow_command("api-server", "--port", str(port), "--workers", "1"), env=env,
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        assert _healthy(api, server, 120.0), (logs / "api-server.log").read_text(errors="replace")[-3000:]
        yield Stack(env, api, {u: _token(api, u) for u in USERS}, reports, logs, e2e_aws)
    finally:
        _stop(server)


@pytest.fixture(scope="module")
def stale_key(stack: Stack) -> str:
    """A user whose only key was last used 100 days ago (backdated in moto's in-process backend)."""
    from moto.backends import get_backend
    from moto.iam.models import AccessKeyLastUsed

    iam = stack.iam()
    iam.create_user(UserName=USER)
    key_id = str(iam.create_access_key(UserName=USER)["AccessKey"]["AccessKeyId"])
    key = get_backend("iam")[ACCOUNT]["global"].users[USER].access_keys[0]
    now = datetime.now(UTC).replace(tzinfo=None)
    key.create_date = now - timedelta(days=200)
    key.last_used = AccessKeyLastUsed(timestamp=now - timedelta(days=100), service="s3", region="us-east-1")
    return key_id


def _status(stack: Stack, key_id: str) -> str:
    keys = stack.iam().list_access_keys(UserName=USER)["AccessKeyMetadata"]
    return str(next(k["Status"] for k in keys if k["AccessKeyId"] == key_id))


def _awaiting(stack: Stack, process: subprocess.Popen[bytes]) -> str | None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline and process.poll() is None:
        try:
            for run in stack.call("approver", "GET", f"/api/v2/dags/{DAG_ID}/dagRuns?state=running")["dag_runs"]:
                ti = stack.call("approver", "GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{run['dag_run_id']}/taskInstances/approve")
                if ti.get("state") == "awaiting_input":
                    return str(run["dag_run_id"])
        except urllib.error.HTTPError as exc:
            if exc.code != 404:
                raise
        time.sleep(0.5)
    return None


def _run(stack: Stack, answer: str, as_user: str, name: str) -> tuple[Run, str, dict[str, Any]]:
    log_path = stack.logs / f"{name}.log"
    started = time.monotonic()
    with log_path.open("wb") as log:
        process = subprocess.Popen(airflow_command("dags", "test", DAG_ID, "--dagfile-path", str(DAG_FILE)),
                                   env=stack.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    detail: dict[str, Any] = {}
    try:
        run_id = _awaiting(stack, process)
        if run_id is not None:
            path = f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/approve/-1/hitlDetails"
            detail = stack.call(as_user, "GET", path)
            stack.call(as_user, "PATCH", path, {"chosen_options": [answer], "params_input": {}})
    finally:
        result = _finish(process, log_path, started, WAIT)
    assert run_id is not None, "the run never reached the approval step:\n" + result.explain()
    return result, run_id, detail


def test_reject_changes_nothing_and_is_audited(stack: Stack, stale_key: str) -> None:
    result, run_id, detail = _run(stack, "Reject", "approver", "reject")
    assert f"{stale_key} Active -> Inactive" in detail["body"], detail
    assert result.returncode == 0, result.explain()
    assert _status(stack, stale_key) == "Active"
    last = stack.audit()[-1]
    assert (last["decision"], last["by"], last["run_id"], last["triggered_by"]) == ("reject", "approver", run_id,
                                                                                    "dag_test")
    assert last["plan_hash"] in detail["body"]


@pytest.mark.parametrize(("user", "reason"), [("dag_test", "triggered this run"), ("carol", "is not an approver")])
def test_an_answer_from_someone_who_may_not_approve_is_refused(stack: Stack, stale_key: str, user: str,
                                                               reason: str) -> None:
    result, run_id, _detail = _run(stack, "Approve", user, f"refused-{user}")
    assert result.returncode != 0, result.explain()
    assert _status(stack, stale_key) == "Active"
    last = stack.audit()[-1]
    assert (last["decision"], last["by"], last["run_id"]) == ("refused", user, run_id)
    assert reason in last["reason"]


def test_approve_by_an_approver_applies_and_is_audited(stack: Stack, stale_key: str) -> None:
    result, run_id, detail = _run(stack, "Approve", "approver", "approve")
    assert result.returncode == 0, result.explain()
    assert _status(stack, stale_key) == "Inactive"
    tags = {t["Key"]: t["Value"] for t in stack.iam().list_user_tags(UserName=USER)["Tags"]}
    assert tags[f"iamflow:deactivated:{stale_key}"] == datetime.now(UTC).date().isoformat()
    last = stack.audit()[-1]
    assert (last["decision"], last["by"], last["run_id"]) == ("approve", "approver", run_id)
    record = json.loads(next((stack.reports / "remediation").glob("*/run.json")).read_text())
    assert record["plan_hash"] == last["plan_hash"] and last["plan_hash"] in detail["body"]
    assert [r["outcome"] for r in record["results"]] == ["done"]
