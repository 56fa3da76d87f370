"""A throwaway distributed Airflow on this machine: PostgreSQL, Redis, CeleryExecutor, two Celery workers.

Everything runs on 127.0.0.1 on free ports, in temporary directories, as child processes in their
own sessions (process groups), and is torn down after the test even when it fails:

- PostgreSQL: a fresh cluster made with Debian's ``initdb`` and run with ``pg_ctl`` (as the
  ``postgres`` user when the tests run as root: the server refuses to run as root).
- Redis: ``redis-server`` in the foreground, without persistence.
- Airflow: ``db migrate``, the sweep's pool, then scheduler, dag-processor, api-server (the
  workers' task execution API) and two ``airflow celery worker`` processes. Each worker gets its
  own task-instance hostname (``[core] hostname_callable``): both run on this machine, so the
  default (the FQDN) could not tell them apart.
- The embedded AWS (moto) runs in the test process; an Organization with member accounts is
  created in it.

The binaries come from Debian's ``postgresql`` and ``redis-server`` packages
(``.ci/setup-services.sh`` installs them). Without them the test is skipped, except under CI
(``CI`` set), where a missing binary is a failure.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from iamflow.airflow.operators.sweep import pool_set_command
from iamflow.aws.local import LocalAws, free_port
from tools.demo import airflow_command, airflow_env

DAG_ID = "compliance_sweep"
WORKERS = ("worker-a", "worker-b")
WORKER_CONCURRENCY = 2
MEMBER_ACCOUNTS = 20
MANAGEMENT_ACCOUNT = "123456789012"  # moto's organization master (its default account)
AUDIT_ROLE = "IamflowAudit"
EXTERNAL_ID_ENV = "IAMFLOW_SWEEP_EXTERNAL_ID"
TARGETS_ENV = "IAMFLOW_TARGETS"
SESSION_NAME = "iamflow-distributed-test"

# Failure detection tuned from minutes to seconds, so a lost task is retried within the test's
# budget: a task whose worker vanished stops heart-beating and is failed (then retried) after
# TASK_INSTANCE_HEARTBEAT_TIMEOUT; a task whose queue message went down with a worker before it
# started is rescheduled after TASK_QUEUED_TIMEOUT. The sweep task's own retry_delay (30 s) and
# retries (2) come from the DAG.
SCHEDULER_TUNING = {
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "3",
    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "90",
    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": "10",
    # manual runs only: unpausing the DAG must not add a scheduled run of the nightly cron
    "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
}

_HOSTNAME_MODULE = "iamflow_distributed_hostname"
_HOSTNAME_ENV = "IAMFLOW_DISTRIBUTED_WORKER"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "distributed: starts PostgreSQL, Redis and Airflow with CeleryExecutor and two workers")


# --- binaries ------------------------------------------------------------------------------------


def _require(what: str, found: str | None, hint: str) -> str:
    """Return the binary's path; skip (developer machine) or fail (CI) when it is missing."""
    if found:
        return found
    message = f"{what} not found: {hint} (run .ci/setup-services.sh)"
    if os.environ.get("CI"):
        pytest.fail(f"CI is set and {message}", pytrace=False)
    pytest.skip(message)


def _pg_bin_dir() -> str | None:
    dirs = [d for d in glob.glob("/usr/lib/postgresql/*/bin")
            if os.access(os.path.join(d, "initdb"), os.X_OK) and os.access(os.path.join(d, "pg_ctl"), os.X_OK)]
    if not dirs:
        return None
    return max(dirs, key=lambda d: int(Path(d).parent.name) if Path(d).parent.name.isdigit() else 0)


# --- processes -----------------------------------------------------------------------------------


@dataclass
class Service:
    """A child process in its own session, with its output in a log file."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole process group (the worker's pool processes and its tasks too)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM the group, then SIGKILL what is left after ``grace`` seconds; bounded."""
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            self.kill(sig)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and self.group_alive():
                time.sleep(0.2)
            if not self.group_alive():
                break
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)

    def group_alive(self) -> bool:
        self.process.poll()  # reap the leader so that a zombie leader does not count
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def _start(name: str, command: list[str], env: Mapping[str, str], logs: Path) -> Service:
    log = logs / f"{name}.log"
    with log.open("ab") as out:
        process = subprocess.Popen(command, env=dict(env), stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    return Service(name, process, log)


def _wait(what: str, condition: Callable[[], bool], timeout: float, *, interval: float = 0.5,
          services: tuple[Service, ...] = ()) -> None:
    """Poll ``condition`` until true; fail with the services' log tails after ``timeout`` or if one dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        dead = [s for s in services if not s.alive()]
        if dead:
            raise AssertionError(f"waiting for {what}: {dead[0].name} exited ({dead[0].process.returncode}):\n"
                                 f"{dead[0].tail()}")
        time.sleep(interval)
    tails = "\n".join(f"--- {s.name} ---\n{s.tail(25)}" for s in services)
    raise AssertionError(f"{what}: not within {timeout:g}s\n{tails}")


# --- PostgreSQL ----------------------------------------------------------------------------------


@dataclass
class Postgres:
    port: int
    user: str = "airflow"
    database: str = "airflow"

    @property
    def sqlalchemy_url(self) -> str:
        return f"postgresql+psycopg2://{self.user}@127.0.0.1:{self.port}/{self.database}"

    def connect(self) -> Any:
        import psycopg2

        return psycopg2.connect(host="127.0.0.1", port=self.port, user=self.user, dbname=self.database,
                                connect_timeout=5)

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        conn = self.connect()
        try:
            with conn, conn.cursor() as cur:
                cur.execute(sql, params)
                return list(cur.fetchall())
        finally:
            conn.close()


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    """A throwaway PostgreSQL cluster on 127.0.0.1:<free port> (trust auth, no fsync), removed afterwards."""
    bin_dir = _require("PostgreSQL (initdb, pg_ctl)", _pg_bin_dir(), "Debian package postgresql")
    base = Path(tempfile.mkdtemp(prefix="iamflow-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:  # postgres refuses to run as root: run the cluster as an unprivileged user
        user = "postgres"
        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            pytest.fail("running as root and there is no 'postgres' user to run PostgreSQL as", pytrace=False)
        os.chown(base, entry.pw_uid, entry.pw_gid)
        run_as = [shutil.which("runuser") or "/usr/sbin/runuser", "-u", user, "--"]
    data, log = base / "data", base / "postgres.log"
    port = free_port()
    pg_ctl = [*run_as, os.path.join(bin_dir, "pg_ctl"), "-D", str(data)]
    started = False
    try:
        done = subprocess.run([*run_as, os.path.join(bin_dir, "initdb"), "-D", str(data), "-U", "airflow",
                               "--auth=trust", "--encoding=UTF8", "--no-sync", "--no-instructions"],
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, f"initdb failed:\n{done.stdout}{done.stderr}"
        options = (f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={base} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        done = subprocess.run([*pg_ctl, "-l", str(log), "-o", options, "-w", "-t", "60", "start"],
                              capture_output=True, text=True, timeout=90, check=False)
        started = True
        assert done.returncode == 0, f"pg_ctl start failed:\n{done.stdout}{done.stderr}\n{_read(log)}"
        pg = Postgres(port, database="postgres")
        conn = pg.connect()
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("CREATE DATABASE airflow")
        conn.close()
        yield Postgres(port)
    finally:
        if started:
            subprocess.run([*pg_ctl, "-m", "immediate", "-w", "-t", "30", "stop"], capture_output=True,
                           timeout=60, check=False)
        shutil.rmtree(base, ignore_errors=True)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


# --- Redis ---------------------------------------------------------------------------------------


def _redis_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``redis://127.0.0.1:<free port>/0``: a redis-server without persistence, stopped afterwards."""
    binary = _require("redis-server", shutil.which("redis-server"), "Debian package redis-server")
    logs = tmp_path_factory.mktemp("redis")
    port = free_port()
    service = _start("redis", [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--daemonize", "no", "--dir", str(logs)], os.environ, logs)
    try:
        _wait("redis-server answering PING", lambda: _redis_ping(port), 30, interval=0.1, services=(service,))
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        service.stop(grace=5)


# --- the embedded AWS: an organization of member accounts ----------------------------------------


@dataclass
class Organization:
    aws: LocalAws
    members: list[str]
    external_id: str
    # account -> (check id, resource id) the seeding makes FAIL there and nowhere else
    seeded: dict[str, set[tuple[str, str]]] = field(default_factory=dict)

    @property
    def accounts(self) -> set[str]:
        return {MANAGEMENT_ACCOUNT, *self.members}

    management_account: str = MANAGEMENT_ACCOUNT

    def assumed_external_ids(self, account: str) -> list[str | None]:
        """ExternalIds of every sweep session moto saw assumed into ``account``."""
        from moto.sts.models import sts_backends

        return [r.external_id for r in sts_backends[account]["aws"].assumed_roles
                if r.session_name == SESSION_NAME]


def _client(endpoint: str, service: str, **creds: str) -> Any:
    import boto3

    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=creds.get("AccessKeyId", "testing"),
                        aws_secret_access_key=creds.get("SecretAccessKey", "testing"),
                        aws_session_token=creds.get("SessionToken"))


@pytest.fixture(scope="module")
def organization() -> Iterator[Organization]:
    """The embedded AWS with an Organization of MEMBER_ACCOUNTS accounts, each with the audit role.

    Seeded so that findings differ per account: a console user without MFA in three members,
    an access key last rotated 200 days ago in two others.
    """
    from moto.iam.models import iam_backends

    with LocalAws(port=0, load_managed_policies=False) as aws:
        aws.reset()  # moto's backends are process-global
        endpoint = aws.endpoint_url
        org = _client(endpoint, "organizations")
        org.create_organization(FeatureSet="ALL")
        members = []
        for i in range(MEMBER_ACCOUNTS):
            status = org.create_account(Email=f"member{i:02d}@example.com", AccountName=f"member-{i:02d}")
            members.append(status["CreateAccountStatus"]["AccountId"])
        assert len(set(members)) == MEMBER_ACCOUNTS
        external_id = secrets.token_hex(16)
        trust = json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{MANAGEMENT_ACCOUNT}:root"},
            "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"sts:ExternalId": external_id}}}]})
        result = Organization(aws, members, external_id)
        sts = _client(endpoint, "sts")
        for index, account in enumerate(members):
            creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
                                    RoleSessionName="iamflow-test-setup")["Credentials"]
            iam = _client(endpoint, "iam", **creds)
            iam.create_role(RoleName=AUDIT_ROLE, AssumeRolePolicyDocument=trust)
            if index in (0, 1, 2):
                iam.create_user(UserName="console-no-mfa")
                iam.create_login_profile(UserName="console-no-mfa", Password="Correct-Horse-Battery-9")
                result.seeded.setdefault(account, set()).add(("iam_user_mfa_enabled_console_access", "console-no-mfa"))
            if index in (3, 4):
                iam.create_user(UserName="stale-key")
                iam.create_access_key(UserName="stale-key")
                # the API cannot backdate a key: edit moto's backend (it runs in this process)
                user = iam_backends[account]["aws"].users["stale-key"]
                user.create_date = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=300)  # moto: naive UTC
                for key in user.access_keys:
                    key.create_date = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=200)
                result.seeded.setdefault(account, set()).add(("iam_rotate_access_key_90_days", "stale-key"))
        yield result


# --- Airflow -------------------------------------------------------------------------------------


@dataclass
class AirflowCluster:
    env: dict[str, str]
    db: Postgres
    logs: Path
    report_dir: Path
    services: dict[str, Service] = field(default_factory=dict)
    killed: set[str] = field(default_factory=set)
    workers: tuple[str, ...] = WORKERS
    dag_id: str = DAG_ID

    def wait(self, what: str, condition: Callable[[], bool], timeout: float, *, interval: float = 0.5) -> None:
        """Poll ``condition`` (bounded); fail early with the logs if a component (not a killed one) exits."""
        _wait(what, condition, timeout, interval=interval,
              services=tuple(s for s in self.services.values() if s.name not in self.killed))

    def processes_of(self, worker: str) -> list[int]:
        """Pids whose environment names ``worker``: the worker, its pool processes and their tasks."""
        needle = f"{_HOSTNAME_ENV}={worker}".encode()
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/environ", "rb") as fh:
                    if needle in fh.read().split(b"\0"):
                        pids.append(int(entry))
            except OSError:
                continue
        return pids

    def cli(self, *args: str, timeout: float = 120) -> str:
        done = subprocess.run(airflow_command(*args), env=self.env, capture_output=True, text=True,
                              timeout=timeout, check=False)
        assert done.returncode == 0, f"airflow {' '.join(args)} failed ({done.returncode}):\n" \
                                     f"{(done.stdout + done.stderr)[-4000:]}"
        return done.stdout

    def diagnostics(self) -> str:
        return "\n".join(f"--- {s.name} ({'running' if s.alive() else f'exited {s.process.returncode}'}) ---\n"
                         f"{s.tail(30)}" for s in self.services.values())

    def run_state(self, run_id: str) -> str | None:
        rows = self.db.query("SELECT state FROM dag_run WHERE dag_id = %s AND run_id = %s", (DAG_ID, run_id))
        return rows[0][0] if rows else None

    def task_instances(self, run_id: str) -> list[dict[str, Any]]:
        rows = self.db.query(
            "SELECT task_id, map_index, state, hostname, try_number FROM task_instance "
            "WHERE dag_id = %s AND run_id = %s ORDER BY task_id, map_index", (DAG_ID, run_id))
        return [dict(zip(("task_id", "map_index", "state", "hostname", "try_number"), r, strict=True)) for r in rows]

    def attempts(self, run_id: str) -> list[dict[str, Any]]:
        """Every finished attempt (task_instance_history) and the current one, with its hostname."""
        rows = self.db.query(
            "SELECT task_id, map_index, state, hostname, try_number FROM task_instance_history "
            "WHERE dag_id = %s AND run_id = %s", (DAG_ID, run_id))
        history = [dict(zip(("task_id", "map_index", "state", "hostname", "try_number"), r, strict=True))
                   for r in rows]
        return history + self.task_instances(run_id)

    def merge_summary(self, run_id: str) -> dict[str, Any]:
        rows = self.db.query("SELECT value FROM xcom WHERE dag_id = %s AND run_id = %s AND task_id = %s "
                             "AND key = 'return_value'", (DAG_ID, run_id, "merge_reports"))
        assert rows, f"no return value of merge_reports in run {run_id}"
        value = rows[0][0]
        return json.loads(value) if isinstance(value, (str, bytes)) else value

    def trigger(self, run_id: str) -> None:
        self.cli("dags", "trigger", DAG_ID, "--run-id", run_id)

    def wait_for_run(self, run_id: str, timeout: float) -> str:
        self.wait(f"run {run_id} to finish", lambda: self.run_state(run_id) in ("success", "failed"), timeout,
                  interval=2)
        return str(self.run_state(run_id))


def _hostname_module(directory: Path) -> Path:
    """A module whose ``hostname()`` names the worker (``[core] hostname_callable``)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{_HOSTNAME_MODULE}.py").write_text(
        '"""The task-instance hostname of a test worker: several share this machine."""\n'
        "import os\n\n\n"
        "def hostname():\n"
        f"    return os.environ[{_HOSTNAME_ENV!r}]\n", encoding="utf-8")
    return directory


def _targets_env_honoured(path: Path) -> bool:
    """Whether ``TargetsConfig.load()`` reads the file named by $IAMFLOW_TARGETS."""
    from iamflow.compliance.targets import TargetsConfig

    saved = os.environ.get(TARGETS_ENV)
    os.environ[TARGETS_ENV] = str(path)
    try:
        return TargetsConfig.load().source == str(path)
    except Exception:
        return False
    finally:
        if saved is None:
            os.environ.pop(TARGETS_ENV, None)
        else:
            os.environ[TARGETS_ENV] = saved


# Used only when the sweep does not read $IAMFLOW_TARGETS: an Airflow cluster policy (applied by
# the dag-processor while it parses) points the sweep's operators at the test's targets file.
_TARGETS_POLICY = '''"""Test cluster policy: the compliance sweep reads the targets file named by $IAMFLOW_TARGETS."""
import os


def task_policy(task):
    path = os.environ.get("IAMFLOW_TARGETS")
    if not path or task.dag_id != "compliance_sweep" or task.task_id == "merge_reports":
        return
    partial_kwargs = getattr(task, "partial_kwargs", None)
    if isinstance(partial_kwargs, dict):
        partial_kwargs["targets_path"] = path
    elif hasattr(task, "targets_path"):
        task.targets_path = path
'''


@pytest.fixture(scope="module")
def airflow_cluster(postgres: Postgres, redis_url: str, organization: Organization,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowCluster]:
    """Airflow on CeleryExecutor: scheduler, dag-processor, api-server and two Celery workers."""
    base = tmp_path_factory.mktemp("distributed")
    home, logs, reports = base / "airflow-home", base / "logs", base / "reports"
    for d in (home, logs, reports):
        d.mkdir()
    targets = base / "targets.yaml"
    targets.write_text(
        "# the distributed test's targets: every account of the organization, through the audit role\n"
        f"role_name: {AUDIT_ROLE}\n"
        f"session_name: {SESSION_NAME}\n"
        "external_id:\n"
        f"  env: {EXTERNAL_ID_ENV}\n"
        "organization: true\n", encoding="utf-8")
    if not _targets_env_honoured(targets):
        (home / "config").mkdir()
        (home / "config" / "airflow_local_settings.py").write_text(_TARGETS_POLICY, encoding="utf-8")
    api_port = free_port()
    env = airflow_env(organization.aws.endpoint_url, home, extra={
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": postgres.sqlalchemy_url,
        "AIRFLOW__CELERY__BROKER_URL": redis_url,
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql+psycopg2://{postgres.user}@127.0.0.1:{postgres.port}/"
                                           f"{postgres.database}",
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(WORKER_CONCURRENCY),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
        "AIRFLOW__API__WORKERS": "1",
        # one secret for every component that signs or checks the task execution API's tokens
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",  # only the sweep gets unpaused
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
        **SCHEDULER_TUNING,
        "IAMFLOW_REPORT_DIR": str(reports),
        TARGETS_ENV: str(targets),
        EXTERNAL_ID_ENV: organization.external_id,
    })
    cluster = AirflowCluster(env, postgres, logs, reports)
    try:
        cluster.cli("db", "migrate", timeout=300)
        cluster.cli(*pool_set_command(slots=len(WORKERS) * WORKER_CONCURRENCY)[1:])
        started = [
            ("api-server", ["api-server", "--host", "127.0.0.1", "--port", str(api_port), "--workers", "1"], {}),
            ("scheduler", ["scheduler", "--skip-serve-logs"], {}),
            ("dag-processor", ["dag-processor"], {}),
        ]
        pylib = _hostname_module(base / "pylib")
        for name in WORKERS:
            started.append((name, ["celery", "worker", "--celery-hostname", f"{name}@%h", "--concurrency",
                                   str(WORKER_CONCURRENCY), "--skip-serve-logs", "--without-gossip",
                                   "--without-mingle"], {
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": f"{_HOSTNAME_MODULE}.hostname",
                _HOSTNAME_ENV: name,
                "PYTHONPATH": os.pathsep.join(p for p in (str(pylib), env.get("PYTHONPATH")) if p),
            }))
        for name, args, extra in started:
            cluster.services[name] = _start(name, airflow_command(*args), {**env, **extra}, logs)
        everything = tuple(cluster.services.values())
        _wait("the api-server's health endpoint", lambda: _healthy(api_port), 180, interval=1, services=everything)
        _wait(f"{DAG_ID} parsed into the metadata DB", lambda: bool(postgres.query(
            "SELECT 1 FROM serialized_dag WHERE dag_id = %s", (DAG_ID,))), 180, interval=1, services=everything)
        _wait("both Celery workers ready", lambda: all(
            "ready." in s.tail(200) for s in everything if s.name in WORKERS), 120, interval=1, services=everything)
        cluster.cli("dags", "unpause", DAG_ID)
        yield cluster
    finally:
        for service in reversed(list(cluster.services.values())):
            service.stop()
        sys.stdout.flush()


def _healthy(port: int) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=3) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False
