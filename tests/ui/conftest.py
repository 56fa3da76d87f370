"""Fixtures of the real-browser UI test (``tests/ui/test_browser.py``, marker ``browser``).

:func:`ui_stack` brings up what a user of ``make up`` gets, on free ports of 127.0.0.1: the
embedded AWS in this process (seeded with the demo account), one compliance sweep written to a
temporary report folder, and Airflow's ``api-server``, ``scheduler`` and ``dag-processor`` on a
temporary, migrated home. Every Airflow process runs in its own session and is stopped with its
whole process group afterwards, whatever the test did. Their logs, and the browser's screenshots,
are kept in ``test-artifacts/ui/``.

:func:`chromium_path` finds Debian's Chromium (``.ci/setup-browser.sh`` installs it); without
it the test is skipped locally and fails under CI (``CI`` set).
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from iamflow.settings import project_root
from tools.demo import stop_process_group

ARTIFACTS = project_root() / "test-artifacts" / "ui"
BROWSER_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)
USERNAME = "admin"
# DAGs that must be registered before the browser starts (and that the test looks for in the list)
EXPECTED_DAGS = ("playbook_developer_access", "compliance_sweep")
BROWSER_TIMEOUT_MS = 30_000  # any one browser action or page load
HEALTH_TIMEOUT = 120.0
DAGS_TIMEOUT = 120.0


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "browser: drives Debian's Chromium against an Airflow UI started by the test (.ci/setup-browser.sh)")


# --- the browser ---------------------------------------------------------------------------------


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def chromium_path() -> str:
    """Debian's Chromium; skip without it, except under CI, where its absence is a failure."""
    found = shutil.which("chromium") or next((p for p in ("/usr/bin/chromium",) if os.access(p, os.X_OK)), None)
    if found:
        return found
    message = "Debian's chromium is not installed: run .ci/setup-browser.sh (apt-get install chromium chromium-driver)"
    if _ci():
        pytest.fail(f"CI is set and {message}")
    pytest.skip(message)


@pytest.fixture
def browser_page(tmp_path: Path) -> Iterator[Any]:
    """A Playwright page in Debian's headless Chromium, with a fresh profile (``--user-data-dir``)."""
    executable = chromium_path()
    if importlib.util.find_spec("playwright") is None:
        message = "the playwright package is not installed in this venv: run .ci/setup-browser.sh"
        if _ci():
            pytest.fail(f"CI is set and {message}")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # a persistent context is the one way to choose the profile folder (--user-data-dir)
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=executable, headless=True,
            args=list(BROWSER_FLAGS), viewport={"width": 1400, "height": 900}, timeout=BROWSER_TIMEOUT_MS)
        try:
            context.set_default_timeout(BROWSER_TIMEOUT_MS)
            context.set_default_navigation_timeout(BROWSER_TIMEOUT_MS)
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


# --- the stack -----------------------------------------------------------------------------------


@dataclass
class UiStack:
    """What the test talks to: the UI's URL and login, the report the Compliance view shows."""

    url: str
    username: str
    password: str
    report_dir: Path
    run_dir: Path
    findings: list[dict[str, Any]]
    dag_ids: list[str]
    logs: Path
    home: Path
    artifacts: Path = ARTIFACTS
    expected_dags: tuple[str, ...] = EXPECTED_DAGS
    timings: dict[str, float] = field(default_factory=dict)

    _token: str | None = field(default=None, repr=False)

    def api(self, path: str, *, method: str = "GET", body: Any = None, timeout: float = 30.0) -> Any:
        """Call Airflow's REST API (``/api/v2/...``) as the admin user (one token, asked for once)."""
        if self._token is None:
            self._token = _token(self.url, self.username, self.password)
        return _json_request(f"{self.url}{path}", method=method, body=body, timeout=timeout,
                             headers={"Authorization": f"Bearer {self._token}"})


def _json_request(url: str, *, method: str = "GET", body: Any = None,
                  headers: Mapping[str, str] | None = None, timeout: float = 30.0) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, method=method, data=data,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=timeout) as response:
        return json.loads(response.read() or b"null")


def _token(url: str, username: str, password: str) -> str:
    answer = _json_request(f"{url}/auth/token", method="POST", body={"username": username, "password": password})
    return str(answer["access_token"])


def _wait(what: str, probe: Any, timeout: float, processes: Mapping[str, subprocess.Popen[bytes]],
          logs: Path, interval: float = 1.0) -> Any:
    """Call ``probe`` until it returns something truthy; fail (with the logs' tails) on timeout or a crash."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while time.monotonic() < deadline:
        for name, process in processes.items():
            if process.poll() is not None:
                pytest.fail(f"airflow {name} exited ({process.returncode}) while waiting for {what}:\n"
                            + _tail(logs / f"{name}.log"))
        try:
            value = probe()
            if value:
                return value
        except (urllib.error.URLError, OSError, ValueError, KeyError) as exc:
            last_error = exc
        time.sleep(interval)
    tails = "\n".join(f"--- {name}.log\n{_tail(logs / f'{name}.log')}" for name in processes)
    pytest.fail(f"timed out after {timeout:g}s waiting for {what} (last error: {last_error!r})\n{tails}")


def _tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop_group(process: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    """SIGTERM the process's group (it leads its own session), then SIGKILL whatever is left of it."""
    stop_process_group(process, grace=grace)


@contextmanager
def _patched_environ(values: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _sweep(endpoint_url: str, report_dir: Path, log: Path) -> Path:
    """Run ``iamflow sweep --out REPORT_DIR`` in this process against the embedded AWS; the run folder."""
    import contextlib
    import io

    from iamflow.aws.local import local_env
    from iamflow.cli import main

    out = io.StringIO()
    env = {k: v for k, v in local_env(endpoint_url).items() if k.startswith("AWS_")}
    with _patched_environ(env), contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main(["sweep", "--out", str(report_dir)])
    log.write_text(out.getvalue(), encoding="utf-8")
    assert code == 0, f"iamflow sweep failed ({code}):\n{out.getvalue()}"
    runs = sorted(p for p in report_dir.iterdir() if p.is_dir() and p.name != "latest" and (p / "findings.json").exists())
    assert len(runs) == 1, f"expected one run folder in {report_dir}, found {[p.name for p in runs]}"
    return runs[0]


@pytest.fixture(scope="module")
def ui_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiStack]:
    """The embedded AWS (seeded, swept once) and Airflow's api-server, scheduler and dag-processor."""
    chromium_path()  # skip (or fail under CI) before spending a minute on the stack
    with start_stack(tmp_path_factory.mktemp("ui-browser")) as stack:
        yield stack


@contextmanager
def start_stack(base: Path) -> Iterator[UiStack]:
    """:func:`ui_stack`'s work, in the empty folder ``base`` (usable outside pytest, to explore the UI)."""
    from iamflow.aws.local import LocalAws, free_port
    from tools.demo import airflow_command, airflow_env, ensure_pools, migrate
    from tools.demo_seed import seed

    timings: dict[str, float] = {}
    started = time.monotonic()
    home, report_dir, teams_dir = base / "airflow-home", base / "reports", base / "teams"
    for folder in (home, report_dir, teams_dir):
        folder.mkdir()
    logs = ARTIFACTS / "logs"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True)

    processes: dict[str, subprocess.Popen[bytes]] = {}
    with LocalAws(port=0) as aws:
        try:
            aws.reset()  # moto's backends are process-global: start from an empty account
            seeded = seed(aws.endpoint_url)
            run_dir = _sweep(aws.endpoint_url, report_dir, logs / "sweep.log")
            findings = json.loads((run_dir / "findings.json").read_text(encoding="utf-8"))
            timings["seed_and_sweep"] = time.monotonic() - started

            port = free_port()
            url = f"http://127.0.0.1:{port}"
            password = secrets.token_urlsafe(12)
            passwords_file = home / "passwords.json"
            passwords_file.write_text(json.dumps({USERNAME: password}), encoding="utf-8")
            env = airflow_env(aws.endpoint_url, home, extra={
                "IAMFLOW_REPORT_DIR": str(report_dir),
                "IAMFLOW_TEAMS_DIR": str(teams_dir),  # an approval, were one given, must not touch the repo
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USERNAME}:admin",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file),
                # nothing runs by itself (the sweep's schedule would replace the report under test);
                # the run the test triggers is unpaused by the trigger form
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(port),
                "AIRFLOW__API__BASE_URL": url,
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(64),
                "AIRFLOW__CORE__PARALLELISM": "4",
                # the scheduler's log server: not the default 8793, which a `make up` may hold
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            })
            migrate(env, logs / "db-migrate.log")
            ensure_pools(env)
            timings["migrate"] = time.monotonic() - started - timings["seed_and_sweep"]

            for name in ("api-server", "dag-processor", "scheduler"):
                with (logs / f"{name}.log").open("wb") as log:
                    processes[name] = subprocess.Popen(airflow_command(name), env=env, stdout=log,
                                                       stderr=subprocess.STDOUT, start_new_session=True,
                                                       cwd=str(home))

            def healthy() -> bool:
                health = _json_request(f"{url}/api/v2/monitor/health", timeout=3)
                return health.get("metadatabase", {}).get("status") == "healthy"

            _wait("the api-server's /api/v2/monitor/health", healthy, HEALTH_TIMEOUT, processes, logs)
            timings["api_server_healthy"] = time.monotonic() - started

            def dags_parsed() -> list[str]:
                token = _token(url, USERNAME, password)
                answer = _json_request(f"{url}/api/v2/dags?limit=200", headers={"Authorization": f"Bearer {token}"})
                ids = sorted(d["dag_id"] for d in answer["dags"])
                return ids if set(EXPECTED_DAGS) <= set(ids) else []

            dag_ids = _wait(f"the dag-processor to register {', '.join(EXPECTED_DAGS)}", dags_parsed,
                            DAGS_TIMEOUT, processes, logs, interval=2.0)
            timings["dags_registered"] = time.monotonic() - started
            (logs / "seed.txt").write_text(seeded + "\n", encoding="utf-8")
            yield UiStack(url=url, username=USERNAME, password=password, report_dir=report_dir, run_dir=run_dir,
                          findings=findings, dag_ids=dag_ids, logs=logs, home=home, timings=timings)
        finally:
            for process in processes.values():
                stop_group(process)
