"""Onboarding and offboarding end to end: ``airflow dags test`` against the embedded AWS, approvals by REST.

The embedded AWS runs in this process, seeded and with the shipped developer-access and myapp-auth
playbooks applied by the engine (the boundary and the user pool the team playbook refers to). An
``airflow api-server`` started here on a free port shares the Airflow home (the SQLite metadata
DB) with the ``airflow dags test`` processes: each run parks at ``approve`` in AWAITING_INPUT, and
the test answers through the HITL REST API (PATCH .../taskInstances/approve/-1/hitlDetails), as
the Required Actions page does. Every wait is bounded; every process started here is stopped here.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from iamflow.settings import project_root
from tests.helpers.airflow import recap_totals
from tools.demo import airflow_command, airflow_env

pytestmark = pytest.mark.e2e

DAGS = project_root() / "dags"
TEAM, ENV, OTHER = "payments", "dev", "ledger"
ROLE = f"team-{TEAM}-{ENV}"
ALIAS = f"alias/team-{TEAM}-{ENV}"
SECRET = f"teams/{TEAM}/{ENV}/service-credentials"
GROUP = f"team-{TEAM}"
ONBOARD_CONF = {"team": TEAM, "environment": ENV, "owners": ["alice@example.com", "bob@example.com"],
                "extra_policies": ["ReadOnlyAccess"]}
WAIT_FOR_APPROVAL = 90.0  # seconds until the run must be parked at approve
WAIT_FOR_END = 90.0  # seconds until the run must end once answered
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Stack:
    env: dict[str, str]
    api: str
    token: str
    teams: Path
    aws: Any
    logs: Path

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(service, endpoint_url=self.aws.endpoint_url, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.api}{path}", data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        with _opener.open(request, timeout=10) as response:
            return json.loads(response.read() or b"null")


@dataclass
class Run:
    returncode: int
    output: str
    seconds: float

    @property
    def recap(self) -> str | None:
        lines = self.output.splitlines()
        for i, line in enumerate(lines):
            if "PLAY RECAP [" in line:
                block = [line]
                for nxt in lines[i + 1:]:
                    block.append(nxt)
                    if "TOTAL" in nxt:
                        return "\n".join(block)
        return None

    def totals(self) -> dict[str, int]:
        recap = self.recap or ""
        total = next((line[line.index("TOTAL"):] for line in recap.splitlines() if "TOTAL" in line), "")
        return recap_totals(total)

    def explain(self) -> str:
        return f"exit {self.returncode} after {self.seconds}s:\n" + "\n".join(self.output.splitlines()[-80:])


def _stop(process: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
        if process.poll() is not None:
            break
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError, PermissionError):  # children left in the group
        os.killpg(process.pid, signal.SIGKILL)


def _healthy(url: str, process: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with _opener.open(f"{url}/api/v2/monitor/health", timeout=3) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    return False


@pytest.fixture(scope="module")
def stack(e2e_airflow_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    import boto3

    from iamflow.aws.clients import AwsClients
    from iamflow.aws.local import LocalAws, free_port
    from iamflow.engine import run_playbook
    from iamflow.settings import playbooks_dir
    from iamflow.spec.loader import load_playbook
    from tests.conftest import fast_aws_managed_policies
    from tools.demo_seed import seed

    fast_aws_managed_policies()
    logs = tmp_path_factory.mktemp("onboarding-logs")
    teams = tmp_path_factory.mktemp("teams")
    with LocalAws(port=0) as aws:  # with AWS-managed policies: developer-role attaches ReadOnlyAccess
        aws.reset()
        seed(aws)
        clients = AwsClients(lambda s: boto3.client(s, endpoint_url=aws.endpoint_url, region_name="us-east-1",
                                                    aws_access_key_id="testing", aws_secret_access_key="testing"),
                             region="us-east-1")
        for name in ("developer-access", "myapp-auth"):
            play = run_playbook(clients, load_playbook(playbooks_dir() / f"{name}.yaml"))
            assert not play.failed, [r.to_dict() for r in play.results if r.status == "failed"]

        port = free_port()
        # the all-admins token answers as "Anonymous"; `dags test` triggers as "dag_test"
        approvals = logs / "approvals.yaml"
        approvals.write_text("workflows:\n  onboard_team: {users: [Anonymous]}\n"
                             "  offboard_team: {users: [Anonymous]}\n", encoding="utf-8")
        env = airflow_env(aws.endpoint_url, e2e_airflow_home, extra={
            "IAMFLOW_TEAMS_DIR": str(teams),
            "IAMFLOW_APPROVALS_CONFIG": str(approvals),
            "IAMFLOW_REPORT_DIR": str(logs / "reports"),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        })
        api = f"http://127.0.0.1:{port}"
        with (logs / "api-server.log").open("wb") as log:
            server = subprocess.Popen(airflow_command("api-server", "--port", str(port), "--workers", "1"), env=env,
                                      stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            assert _healthy(api, server, 120.0), (logs / "api-server.log").read_text(errors="replace")[-3000:]
            with _opener.open(f"{api}/auth/token", timeout=10) as response:  # all-admins: no credentials
                token = json.loads(response.read())["access_token"]
            yield Stack(env, api, token, teams, aws, logs)
        finally:
            _stop(server)


def _start(stack: Stack, dag_id: str, conf: dict[str, Any], name: str) -> tuple[subprocess.Popen[bytes], Path]:
    log_path = stack.logs / f"{name}.log"
    args = ["dags", "test", dag_id, "--conf", json.dumps(conf), "--dagfile-path", str(DAGS / f"{dag_id}.py")]
    with log_path.open("wb") as log:
        process = subprocess.Popen(airflow_command(*args), env=stack.env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    return process, log_path


def _finish(process: subprocess.Popen[bytes], log_path: Path, started: float, timeout: float) -> Run:
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass
    finally:
        _stop(process)
    return Run(process.returncode if process.returncode is not None else -1,
               log_path.read_text(encoding="utf-8", errors="replace"), round(time.monotonic() - started, 1))


def _awaiting_run(stack: Stack, dag_id: str, team: str, process: subprocess.Popen[bytes]) -> str | None:
    """The run id once its approve task is AWAITING_INPUT; None when the process ended first or time ran out."""
    deadline = time.monotonic() + WAIT_FOR_APPROVAL
    while time.monotonic() < deadline and process.poll() is None:
        try:
            runs = stack.call("GET", f"/api/v2/dags/{dag_id}/dagRuns?state=running")["dag_runs"]
            for run in runs:
                if (run.get("conf") or {}).get("team") != team:
                    continue
                ti = stack.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run['dag_run_id']}/taskInstances/approve")
                if ti.get("state") == "awaiting_input":
                    return str(run["dag_run_id"])
        except urllib.error.HTTPError as exc:
            if exc.code != 404:
                raise
        time.sleep(0.5)
    return None


def _run_many(stack: Stack, specs: list[tuple[str, dict[str, Any], str, str]],
              while_waiting: Any = None) -> list[tuple[Run, dict[str, Any]]]:
    """Start one ``dags test`` per (dag_id, conf, answer, name) at once, answer each approval, wait for all."""
    started = time.monotonic()
    processes = [_start(stack, dag_id, conf, name) for dag_id, conf, _answer, name in specs]
    details: list[dict[str, Any] | None] = [None] * len(specs)
    try:
        for i, ((dag_id, conf, answer, _name), (process, _log)) in enumerate(zip(specs, processes, strict=True)):
            run_id = _awaiting_run(stack, dag_id, conf["team"], process)
            if run_id is None:
                continue
            path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/approve/-1/hitlDetails"
            details[i] = stack.call("GET", path)
            if while_waiting is not None:
                while_waiting()
            stack.call("PATCH", path, {"chosen_options": [answer], "params_input": {}})
    finally:
        results = [_finish(process, log, started, WAIT_FOR_END) for process, log in processes]
    for result, detail in zip(results, details, strict=True):
        assert detail is not None, "the run never reached the approval step:\n" + result.explain()
    return [(r, d) for r, d in zip(results, details, strict=True) if d is not None]


def _run(stack: Stack, dag_id: str, conf: dict[str, Any], answer: str, name: str,
         while_waiting: Any = None) -> tuple[Run, dict[str, Any]]:
    return _run_many(stack, [(dag_id, conf, answer, name)], while_waiting)[0]


def _pool_id(stack: Stack) -> str:
    pools = stack.client("cognito-idp").list_user_pools(MaxResults=60)["UserPools"]
    return next(p["Id"] for p in pools if p["Name"] == "myapp-users")


def test_onboard_approved_creates_everything_and_publishes(stack: Stack) -> None:
    guard: dict[str, Run] = {}

    def concurrent_offboarding() -> None:
        # the same team from the other DAG while this run holds the team: refused at validate_request
        started = time.monotonic()
        process, log_path = _start(stack, "offboard_team", {"team": TEAM, "environment": ENV}, "guard")
        guard["run"] = _finish(process, log_path, started, WAIT_FOR_END)

    run, detail = _run(stack, "onboard_team", ONBOARD_CONF, "Approve", "onboard", concurrent_offboarding)
    assert run.returncode == 0, run.explain()
    assert detail and "Onboard team payments in dev" in detail["subject"]
    assert f"iam_role.{ROLE}" in detail["body"] and "create" in detail["body"], detail["body"]
    assert detail["options"] == ["Approve", "Reject"] and detail["defaults"] == ["Reject"]
    assert run.totals() == {"ok": 0, "changed": 4, "failed": 0, "skipped": 0}, run.recap

    blocked = guard["run"]
    assert blocked.returncode != 0, blocked.explain()
    assert "is busy" in blocked.output and "onboard run" in blocked.output, blocked.explain()

    iam, kms, sm = stack.client("iam"), stack.client("kms"), stack.client("secretsmanager")
    role = iam.get_role(RoleName=ROLE)["Role"]
    assert role["PermissionsBoundary"]["PermissionsBoundaryArn"].endswith(":policy/boundaries/developer-boundary")
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["AWS"].endswith(":root")
    attached = [p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=ROLE)["AttachedPolicies"]]
    assert attached == ["ReadOnlyAccess"]
    key = kms.describe_key(KeyId=ALIAS)["KeyMetadata"]
    assert key["KeyState"] == "Enabled"
    policy = kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"]
    assert role["Arn"] in policy
    secret = sm.describe_secret(SecretId=SECRET)
    assert secret["KmsKeyId"].endswith(ALIAS) or key["KeyId"] in secret["KmsKeyId"], secret
    group = stack.client("cognito-idp").get_group(GroupName=GROUP, UserPoolId=_pool_id(stack))["Group"]
    assert group["RoleArn"] == role["Arn"]

    published = stack.teams / f"{TEAM}-{ENV}.yaml"
    assert published.is_file(), sorted(stack.teams.rglob("*"))
    from iamflow.spec.loader import check_playbook

    assert not check_playbook(published).errors
    assert not list((stack.teams / ".pending").glob("*")), "the lock and the staged file are cleaned up"
    print(f"\nonboard (approved): {run.seconds}s; concurrent offboarding refused in {blocked.seconds}s")


def test_rerun_is_a_no_op_and_a_rejected_request_changes_nothing(stack: Stack) -> None:
    """Two requests at once (two teams, so the per-team lock lets both through): approve one, reject one."""
    other = {"team": OTHER, "environment": ENV, "owners": ["carol@example.com"]}
    (again, _d1), (rejected, _d2) = _run_many(stack, [("onboard_team", ONBOARD_CONF, "Approve", "onboard-again"),
                                                      ("onboard_team", other, "Reject", "reject")])
    assert again.returncode == 0, again.explain()
    assert again.totals() == {"ok": 4, "changed": 0, "failed": 0, "skipped": 0}, again.recap
    assert (stack.teams / f"{TEAM}-{ENV}.yaml").is_file()

    assert rejected.returncode == 0, rejected.explain()
    assert "rejected by" in rejected.output and "nothing was applied" in rejected.output, rejected.explain()
    assert rejected.recap is None, "nothing was applied, so there is no PLAY RECAP"
    iam = stack.client("iam")
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName=f"team-{OTHER}-{ENV}")
    aliases = [a["AliasName"] for a in stack.client("kms").list_aliases()["Aliases"]]
    assert f"alias/team-{OTHER}-{ENV}" not in aliases
    with pytest.raises(stack.client("secretsmanager").exceptions.ResourceNotFoundException):
        stack.client("secretsmanager").describe_secret(SecretId=f"teams/{OTHER}/{ENV}/service-credentials")
    assert not (stack.teams / f"{OTHER}-{ENV}.yaml").exists()
    assert not list((stack.teams / ".pending").glob("*"))
    print(f"\nonboard again (no-op): {again.seconds}s; rejected (in parallel): {rejected.seconds}s")


def test_offboarding_removes_the_team(stack: Stack) -> None:
    run, detail = _run(stack, "offboard_team", {"team": TEAM, "environment": ENV}, "Approve", "offboard")
    assert run.returncode == 0, run.explain()
    assert detail and "Offboard team payments in dev" in detail["subject"]
    assert run.totals() == {"ok": 0, "changed": 4, "failed": 0, "skipped": 0}, run.recap

    iam, kms, sm = stack.client("iam"), stack.client("kms"), stack.client("secretsmanager")
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName=ROLE)
    keys = kms.list_keys()["Keys"]
    states = {kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["Description"]:
              kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyState"] for k in keys}
    assert states.get(f"Data key of team {TEAM} ({ENV})") == "PendingDeletion", states
    secret = sm.describe_secret(SecretId=SECRET)
    assert secret.get("DeletedDate"), secret
    idp = stack.client("cognito-idp")
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.get_group(GroupName=GROUP, UserPoolId=_pool_id(stack))
    assert not (stack.teams / f"{TEAM}-{ENV}.yaml").exists()
    print(f"\noffboard (approved): {run.seconds}s")
