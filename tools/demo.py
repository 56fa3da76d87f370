"""``make run`` and ``make up``: the embedded AWS plus Airflow, on this machine, with no setup.

Run from the repository root (``tools`` is not installed).

``python -m tools.demo run``
    Start the embedded AWS (moto on 127.0.0.1, port ``$IAMFLOW_LOCAL_AWS_PORT`` or a free one),
    seed the demo account (:func:`tools.demo_seed.seed`),
    prepare an Airflow home in ``<repo>/.airflow`` (the repo's dags/ and plugins/, no examples,
    ``airflow db migrate``), then run ``airflow dags test`` once for every playbook DAG, one after
    the other, followed by every other DAG tagged ``demo`` (a DAG that is safe to run unattended
    opts in with that tag). Each run's full output goes to ``.airflow/demo-logs/<dag_id>.log``;
    the terminal gets each DAG's PLAY RECAP, the errors of a failed DAG, a summary line and the
    report folder (``$IAMFLOW_REPORT_DIR/latest``). Exit status 1 when any DAG run failed.

``python -m tools.demo up``
    The same embedded AWS and Airflow home behind ``airflow standalone`` (api-server, scheduler,
    dag-processor, triggerer) with the UI on port 8080 (``$AIRFLOW_PORT``); prints the URL and the
    login from the simple auth manager's generated password file, and stops both on Ctrl+C.

``python -m tools.demo local-aws [--port 5000]``
    Only the embedded AWS, seeded, in the foreground (``iamflow local-aws`` with the demo account).

The helpers (:func:`airflow_env`, :func:`airflow_command`, :func:`migrate`, :func:`run_dags`,
:class:`DagTestRun`, :func:`parse_log`) are shared with the end-to-end tests.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iamflow.settings import REPORT_DIR_ENV, local_aws_port, project_root

DEMO_TAG = "demo"
PLAYBOOK_TAG = "playbook"
DEFAULT_UI_PORT = 8080
DAG_TEST_TIMEOUT = 900.0
# variables through which the caller's shell could send the demo's calls to a real account
_UNSAFE_ENV = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
               "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE")
# one log event of Airflow's console renderer: "2026-01-01T00:00:00.000000Z [info     ] message [logger] k=v"
_EVENT_START = re.compile(r"^(\d{4}-\d\d-\d\dT[\d:.]+Z?) \[\s*(\w+)\s*\] ?(.*)$")
_EVENT_LOGGER = re.compile(r" \[([A-Za-z_][\w.]*)\](?=(?: [\w.]+=.*)?$)")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


# --- environment ---------------------------------------------------------------------------------


def airflow_home() -> Path:
    """The demo's Airflow home, ``<repo>/.airflow`` (git-ignored)."""
    return project_root() / ".airflow"


def airflow_env(endpoint_url: str, home: Path, *, base: Mapping[str, str] | None = None,
                extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for an Airflow process that uses the embedded AWS and the repo's DAGs.

    :param endpoint_url: the embedded AWS, e.g. ``http://127.0.0.1:5000``.
    :param home: the ``AIRFLOW_HOME`` to use.
    :param base: the environment to start from (``os.environ`` when omitted).
    :param extra: variables set last (they win).
    """
    from iamflow.aws.local import local_env

    root = project_root()
    env = dict(os.environ if base is None else base)
    for name in _UNSAFE_ENV:
        env.pop(name, None)
    for name in [n for n in env if n.startswith("_AIRFLOW_PARSING_CONTEXT")]:
        env.pop(name)
    env.update(local_env(endpoint_url))
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(root / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(root / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            # a demo: a DAG triggered from the UI runs at once, and scheduled ones keep their schedule
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            REPORT_DIR_ENV: env.get(REPORT_DIR_ENV) or str(root / "reports"),
            "PYTHONUNBUFFERED": "1",
            # `airflow standalone` starts its components as `airflow ...` from PATH: use this venv's
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", os.defpath)]),
        }
    )
    # the bootstrap playbook reads its ExternalId from the environment (never committed)
    env.setdefault(BOOTSTRAP_EXTERNAL_ID_ENV, demo_external_id())
    env.update(extra or {})
    return env


BOOTSTRAP_EXTERNAL_ID_ENV = "IAMFLOW_BOOTSTRAP_EXTERNAL_ID"


@functools.cache
def demo_external_id() -> str:
    """The demo's ExternalId for ``iamflow-bootstrap``: random, one per demo process."""
    import secrets

    return f"iamflow-demo-{secrets.token_hex(8)}"


def airflow_command(*args: str) -> list[str]:
    """The Airflow CLI of this interpreter (the venv's), with ``args``."""
    return [sys.executable, "-m", "airflow", *args]


def migrate(env: Mapping[str, str], log_path: Path | None = None, *, timeout: float = 300.0) -> None:
    """Run ``airflow db migrate``; raise RuntimeError with the output's tail when it fails."""
    done = subprocess.run(airflow_command("db", "migrate"), env=dict(env), capture_output=True, text=True,
                          timeout=timeout, check=False)
    output = done.stdout + done.stderr
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text(output, encoding="utf-8")
    if done.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed (exit {done.returncode}):\n{_tail(output, 40)}")


# --- airflow dags test and its output ------------------------------------------------------------


@dataclass
class LogEvent:
    """One event of Airflow's console log: level, logger and the (possibly multi-line) message."""

    level: str
    logger: str
    message: str


@dataclass
class DagTestRun:
    """The outcome of one ``airflow dags test``."""

    dag_id: str
    returncode: int
    output: str
    seconds: float
    events: list[LogEvent] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return self.returncode == 0

    @property
    def recap(self) -> str | None:
        return find_recap(self.events)

    def errors(self) -> list[str]:
        """What our operators logged at error level, else the run's last exception line."""
        found = [e.message.strip() for e in self.events
                 if e.level in ("error", "critical") and e.logger.startswith("airflow.task.operators")]
        if found:
            return found
        if self.succeeded:
            return []
        lines = [line for line in self.output.splitlines()
                 if re.match(r"^\w[\w.]*(Error|Exception)\b.*?: ", line) or "could not be found" in line]
        return lines[-3:] or [_tail(self.output, 15)]


def strip_ansi(text: str) -> str:
    """``text`` without terminal colour codes."""
    return _ANSI.sub("", text)


def parse_log(output: str) -> list[LogEvent]:
    """Split Airflow's console output into events (a message may span lines, e.g. a recap or a diff)."""
    events: list[LogEvent] = []
    current: tuple[str, list[str]] | None = None

    def close() -> None:
        if current is None:
            return
        level, lines = current
        last = lines[-1]
        matches = list(_EVENT_LOGGER.finditer(last))
        logger = ""
        if matches:
            logger = matches[-1].group(1)
            lines[-1] = last[: matches[-1].start()]
        events.append(LogEvent(level, logger, "\n".join(lines)))

    for line in _ANSI.sub("", output).splitlines():
        m = _EVENT_START.match(line)
        if m:
            close()
            current = (m.group(2).lower(), [m.group(3)])
        elif current is not None:
            current[1].append(line)
    close()
    return events


def find_recap(events: Sequence[LogEvent]) -> str | None:
    """The last PLAY RECAP logged by a recap task, without the log decoration."""
    recaps = [e for e in events if "PLAY RECAP [" in e.message]
    own = [e for e in recaps if e.logger.endswith("PlaybookRecapOperator")] or recaps
    return own[-1].message.strip() if own else None


# --- one Airflow process runs every DAG ----------------------------------------------------------
#
# ``airflow dags test`` spends ~10 s per call starting the interpreter and Airflow's in-process
# execution API, and ~1 s running a playbook. The demo therefore runs the very same CLI command
# (Airflow's own parser and ``dags test`` handler) for each DAG in turn inside one child process,
# which prints a marker line around each DAG's output; the parent splits the stream per DAG.

_MARK = "@@iamflow-demo@@"


@dataclass
class DagInfo:
    """A DAG the demo runs: its id and the file that defines it."""

    dag_id: str
    tags: list[str]
    fileloc: str


def demo_order(dags: Sequence[DagInfo]) -> list[DagInfo]:
    """The playbook DAGs (they are independent of one another), then the other DAGs tagged ``demo``."""
    playbooks = sorted((d for d in dags if PLAYBOOK_TAG in d.tags), key=lambda d: d.dag_id)
    others = sorted((d for d in dags if DEMO_TAG in d.tags and PLAYBOOK_TAG not in d.tags), key=lambda d: d.dag_id)
    return playbooks + others


def _runner(dag_ids: Sequence[str]) -> int:
    """Child side of :func:`run_dags` (in the Airflow environment): discover, then test each DAG."""
    import traceback

    from airflow.cli import cli_parser
    from airflow.configuration import conf
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=conf.get("core", "dags_folder"))
    found = [DagInfo(d.dag_id, sorted(d.tags), str(d.fileloc or "")) for d in bag.dags.values()]
    by_id = {d.dag_id: d for d in found}
    wanted = [by_id[d] for d in dict.fromkeys(dag_ids) if d in by_id] if dag_ids else demo_order(found)
    missing = sorted(set(dag_ids) - {d.dag_id for d in found})
    plan = {"dags": [d.__dict__ for d in wanted], "missing": missing,
            "import_errors": {str(k): str(v) for k, v in bag.import_errors.items()}}
    _marker("plan", json.dumps(plan))
    parser = cli_parser.get_parser()
    for info in wanted:
        _marker("start", info.dag_id)
        started = time.monotonic()
        outcome = "success"
        try:
            args = parser.parse_args(["dags", "test", info.dag_id, *(["--dagfile-path", info.fileloc]
                                                                     if info.fileloc else [])])
            args.func(args)
        except SystemExit as exc:  # `dags test` exits with "DagRun failed"
            if exc.code not in (None, 0):
                print(f"airflow dags test {info.dag_id}: {exc.code}", flush=True)
                outcome = "failed"
        except Exception:
            traceback.print_exc(file=sys.stdout)
            outcome = "failed"
        _marker("end", f"{info.dag_id} {outcome} {time.monotonic() - started:.1f}")
    return 0


def _marker(kind: str, payload: str) -> None:
    sys.stderr.flush()
    print(f"\n{_MARK} {kind} {payload}", flush=True)


@dataclass
class DemoPlan:
    """What the runner found: the DAGs it will run, unknown DAG ids asked for, import errors."""

    dags: list[DagInfo]
    missing: list[str]
    import_errors: dict[str, str]


def run_dags(env: Mapping[str, str], dag_ids: Sequence[str], logs: Path, *,
             on_plan: Any = None, on_result: Any = None, dag_timeout: float = DAG_TEST_TIMEOUT) -> list[DagTestRun]:
    """Run ``airflow dags test`` for each DAG (all playbook and ``demo`` DAGs when none is named).

    :param on_plan: called with the :class:`DemoPlan` once the DAGs are discovered.
    :param on_result: called with each :class:`DagTestRun` as soon as that DAG is done.
    :param dag_timeout: seconds one DAG may take before the runner is stopped.
    """
    import threading

    logs.mkdir(parents=True, exist_ok=True)
    # ``tools`` is not installed: the child finds it from the repository root
    child_env = dict(env)
    child_env["PYTHONPATH"] = os.pathsep.join(p for p in (str(project_root()), env.get("PYTHONPATH")) if p)
    process = subprocess.Popen([sys.executable, "-m", "tools.demo", "_runner", *dag_ids], env=child_env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
    assert process.stdout is not None
    timed_out: dict[str, bool] = {}
    watchdog: threading.Timer | None = None

    def arm(dag_id: str | None) -> None:
        nonlocal watchdog
        if watchdog is not None:
            watchdog.cancel()
        watchdog = None
        if dag_id is not None:
            def expire() -> None:
                timed_out[dag_id] = True
                process.kill()

            watchdog = threading.Timer(dag_timeout, expire)
            watchdog.daemon = True
            watchdog.start()

    plan: DemoPlan | None = None
    results: list[DagTestRun] = []
    chunk: list[str] = []
    preamble: list[str] = []
    current: str | None = None
    started = time.monotonic()

    def finish(dag_id: str, returncode: int, seconds: float, extra: str = "") -> None:
        output = _ANSI.sub("", "".join(chunk)) + extra
        (logs / f"{dag_id}.log").write_text(output, encoding="utf-8")
        result = DagTestRun(dag_id, returncode, output, round(seconds, 1), parse_log(output))
        results.append(result)
        if on_result:
            on_result(result)

    try:
        for line in process.stdout:
            at = line.find(_MARK)
            if at < 0:
                (chunk if current else preamble).append(line)
                continue
            if at:
                (chunk if current else preamble).append(line[:at] + "\n")
            _, kind, payload = (line[at:].rstrip("\n").split(" ", 2) + [""])[:3]
            if kind == "plan":
                data = json.loads(payload)
                plan = DemoPlan([DagInfo(**d) for d in data["dags"]], data["missing"], data["import_errors"])
                if on_plan:
                    on_plan(plan)
            elif kind == "start":
                current, chunk, started = payload, [], time.monotonic()
                arm(current)
            elif kind == "end":
                arm(None)
                dag_id, outcome, _seconds = payload.split(" ")
                finish(dag_id, 0 if outcome == "success" else 1, time.monotonic() - started)
                current = None
    finally:
        arm(None)
        returncode = process.wait()
        (logs / "runner.log").write_text("".join(preamble), encoding="utf-8")
    if current is not None:
        why = (f"timed out after {dag_timeout:g}s" if timed_out.get(current)
               else f"the runner exited ({returncode}) during this DAG")
        finish(current, returncode or -1, time.monotonic() - started, f"\n[iamflow demo] {why}\n")
    if plan is None:
        raise RuntimeError(f"could not list the DAGs (exit {returncode}):\n{_tail(''.join(preamble), 40)}")
    done = {r.dag_id for r in results}
    for info in plan.dags:
        if info.dag_id not in done:
            output = "[iamflow demo] not run: an earlier DAG stopped the runner\n"
            results.append(DagTestRun(info.dag_id, -1, output, 0.0, []))
            if on_result:
                on_result(results[-1])
    return results


# --- the embedded AWS ------------------------------------------------------------------------------


def _local_aws_port() -> int:
    from iamflow.aws.local import free_port

    return local_aws_port() or free_port()


def _seed(endpoint_url: str) -> str:
    """Seed the demo account; say what happened."""
    from tools.demo_seed import seed

    outcome = seed(endpoint_url)
    return f"demo account seeded{f': {outcome}' if outcome else ''}"


def local_aws(port: int, host: str) -> int:
    """The embedded AWS with the demo account seeded, in the foreground until Ctrl+C."""
    from iamflow.aws.local import serve
    from iamflow.errors import IamflowError
    from tools.demo_seed import seed

    try:
        return serve(port=port, host=host, seed=seed)
    except IamflowError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


# --- run -------------------------------------------------------------------------------------------


def run(dag_ids: Sequence[str] = (), *, out: Any = None) -> int:
    """``make run``: every playbook DAG (and every ``demo`` DAG) once, against the embedded AWS."""
    from iamflow.aws.local import LocalAws

    out = out or sys.stdout
    started = time.monotonic()
    home = airflow_home()
    logs = home / "demo-logs"
    logs.mkdir(parents=True, exist_ok=True)

    def say(text: str = "") -> None:
        print(text, file=out, flush=True)

    def on_plan(plan: DemoPlan) -> None:
        for path, error in plan.import_errors.items():
            say(f"WARNING: {path} did not import:\n{_indent(_tail(error, 12))}")
        if plan.missing:
            say(f"ERROR: no such DAG: {', '.join(plan.missing)}")
        say(f"Running {len(plan.dags)} DAG(s) with `airflow dags test`, one after the other "
            f"(full logs in {logs}/)")

    def on_result(result: DagTestRun) -> None:
        say()
        say(f"=== {result.dag_id}")
        if result.recap:
            say(result.recap)
        for error in result.errors():
            say("  ERROR " + _indent(error, "  ").lstrip())
        say(f"--- {result.dag_id}: {'success' if result.succeeded else 'FAILED'} in {result.seconds:g}s")

    # The embedded AWS runs in this process and moto prints its own warnings (e.g. that there is no
    # Docker for Lambda); they go to a log file, not between the recaps.
    with (logs / "local-aws.log").open("w", encoding="utf-8") as aws_log, \
            contextlib.redirect_stdout(aws_log), contextlib.redirect_stderr(aws_log), \
            LocalAws(port=_local_aws_port()) as aws:
        say(f"Embedded AWS (moto) on {aws.endpoint_url}")
        say(f"  {_seed(aws.endpoint_url)}")
        env = airflow_env(aws.endpoint_url, home)
        say(f"Airflow home {home}: migrating the metadata database ...")
        try:
            migrate(env, logs / "db-migrate.log")
            ensure_pools(env)
            runs = run_dags(env, dag_ids, logs, on_plan=on_plan, on_result=on_result)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            say(f"ERROR: {exc}")
            return 1

    failed = [r.dag_id for r in runs if not r.succeeded]
    say()
    if not runs:
        say("ERROR: no DAG to run (no playbook in include/playbooks/?)")
        return 1
    say(f"iamflow demo: {len(runs)} DAG run(s), {len(runs) - len(failed)} succeeded, {len(failed)} failed "
        f"in {time.monotonic() - started:.0f}s" + (f" (failed: {', '.join(failed)})" if failed else ""))
    report_dir = Path(env[REPORT_DIR_ENV]) / "latest"
    if report_dir.is_dir():
        summary = sweep_summary_text(report_dir)
        if summary:
            say(summary)
        say(f"Compliance reports: {report_dir}")
        for name in ("report.html", "findings.json", "findings.csv", "findings.ocsf.json"):
            if (report_dir / name).exists():
                say(f"  {report_dir / name}")
    say(f"Logs: {logs}")
    return 1 if failed or (dag_ids and len(runs) < len(set(dag_ids))) else 0


def sweep_summary_text(run_dir: Path) -> str | None:
    """The sweep's summary as ``iamflow sweep`` prints it (:func:`iamflow.compliance.posture.format_summary`)."""
    from iamflow.compliance.posture import format_summary, load_summary

    try:
        return format_summary(load_summary(run_dir))
    except ValueError:
        return None


# --- up --------------------------------------------------------------------------------------------


def up(*, out: Any = None) -> int:
    """``make up``: the embedded AWS and ``airflow standalone`` until Ctrl+C."""
    from iamflow.aws.local import LocalAws

    out = out or sys.stdout

    def say(text: str = "") -> None:
        print(text, file=out, flush=True)

    ui_port = int(os.environ.get("AIRFLOW_PORT") or DEFAULT_UI_PORT)
    if not _port_free(ui_port):
        say(f"ERROR: port {ui_port} is in use; set AIRFLOW_PORT to another port")
        return 1
    home = airflow_home()
    home.mkdir(parents=True, exist_ok=True)
    log_path = home / "logs" / "standalone.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    stop = {"requested": False}

    def request_stop(signum: int, frame: Any) -> None:
        stop["requested"] = True

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    process: subprocess.Popen[bytes] | None = None
    try:
        port = _local_aws_port()
        with (home / "logs" / "local-aws.log").open("a", encoding="utf-8") as aws_log, \
                contextlib.redirect_stdout(aws_log), contextlib.redirect_stderr(aws_log), \
                LocalAws(port=port) as aws:  # moto's own prints go to the log, not between our lines
            say(f"Embedded AWS (moto) on {aws.endpoint_url}")
            say(f"  {_seed(aws.endpoint_url)}")
            env = airflow_env(aws.endpoint_url, home, extra={
                "AIRFLOW__API__PORT": str(ui_port),
                "AIRFLOW__API__BASE_URL": f"http://localhost:{ui_port}",
                # a second user: who triggers a run cannot approve it (include/approvals.yaml)
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin,approver:admin",
            })
            logs = home / "demo-logs"
            logs.mkdir(parents=True, exist_ok=True)
            say(f"Airflow home {home}: migrating the metadata database ...")
            try:
                migrate(env, logs / "db-migrate.log")
                ensure_pools(env)
                # a first run of every demo DAG, so the UI opens on recaps and a populated Compliance view
                say("Running every demo DAG once (playbooks, then the compliance sweep) ...")
                runs = run_dags(env, (), logs, on_plan=lambda plan: None, on_result=lambda result: None)
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                say(f"ERROR: {exc}")
                return 1
            failed = [r.dag_id for r in runs if not r.succeeded]
            say(f"  {len(runs)} DAG run(s), {len(runs) - len(failed)} succeeded"
                + (f"; failed: {', '.join(failed)} (logs in {logs})" if failed else ""))
            say(f"Starting `airflow standalone` (AIRFLOW_HOME={home}); its log: {log_path}")
            with log_path.open("ab") as log_file:
                process = subprocess.Popen(airflow_command("standalone"), env=env, stdout=log_file,
                                           stderr=subprocess.STDOUT, start_new_session=True)
                url = f"http://localhost:{ui_port}"
                say(f"Waiting for the api-server on {url} (the first start takes a minute) ...")
                ready = _wait_healthy(f"{url}/api/v2/monitor/health", process, stop, timeout=300.0)
                if not ready:
                    if process.poll() is not None:
                        say(f"ERROR: airflow standalone exited ({process.returncode}); last lines of its log:")
                        say(_indent(_tail(log_path.read_text(encoding="utf-8", errors="replace"), 30)))
                        return 1
                    if not stop["requested"]:
                        say(f"ERROR: Airflow did not become healthy; see {log_path}")
                        return 1
                else:
                    say()
                    say(f"Airflow UI:   {url}")
                    say(f"Login:        {_login(home, stop)}")
                    say(f"AWS endpoint: {aws.endpoint_url}  (connection aws_default points at it)")
                    say("Press Ctrl+C to stop Airflow and the embedded AWS.")
                    while not stop["requested"] and process.poll() is None:
                        time.sleep(0.5)
                    if process.poll() is not None and not stop["requested"]:
                        say(f"airflow standalone exited ({process.returncode}); see {log_path}")
                say("Stopping Airflow ...")
                stop_process_group(process)
                process = None
            say("Stopped.")
    finally:
        if process is not None:
            stop_process_group(process)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def ensure_pools(env: Mapping[str, str]) -> None:
    """Create the pools the DAGs use (Airflow never schedules a task whose pool does not exist)."""
    from iamflow.airflow.operators.sweep import pool_set_command

    command = pool_set_command()
    done = subprocess.run(airflow_command(*command[1:]), env=dict(env), capture_output=True, text=True,
                          timeout=120)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command[:4])} failed:\n{_tail(done.stdout + done.stderr, 20)}")


def _wait_healthy(url: str, process: subprocess.Popen[bytes], stop: dict[str, bool], *, timeout: float) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stop["requested"] and process.poll() is None:
        try:
            with opener.open(url, timeout=3) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(1.0)
    return False


def _login(home: Path, stop: dict[str, bool], *, timeout: float = 60.0) -> str:
    """``user / password`` from the simple auth manager's generated file, once it exists."""
    path = Path(os.environ.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE")
                or home / "simple_auth_manager_passwords.json.generated")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stop["requested"]:
        try:
            users = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            time.sleep(0.5)
            continue
        if isinstance(users, dict) and users:
            return ", ".join(f"{user} / {password}" for user, password in users.items())
        time.sleep(0.5)
    return f"see {path} (not written yet)"


def stop_process_group(process: subprocess.Popen[bytes], *, grace: float = 20.0) -> None:
    """Stop a process we started and its children (its own session): SIGTERM, then SIGKILL.

    ``airflow standalone`` returns before its components have finished shutting down, so this
    waits for the whole group, not only for the process itself.
    """
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        if not _group_alive(process):
            break
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and _group_alive(process):
            time.sleep(0.2)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


def _group_alive(process: subprocess.Popen[bytes]) -> bool:
    process.poll()  # reap the leader, so that a zombie does not count as alive
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _port_free(port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


# --- helpers ---------------------------------------------------------------------------------------


def _tail(text: str, lines: int) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.demo", description=(__doc__ or "").split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run", help="run every playbook DAG once against the embedded AWS")
    run_parser.add_argument("dag_ids", nargs="*", help="only these DAGs (default: every playbook and demo DAG)")
    sub.add_parser("up", help="airflow standalone + the embedded AWS, until Ctrl+C")
    aws_parser = sub.add_parser("local-aws", help="only the embedded AWS, seeded with the demo account")
    aws_parser.add_argument("--port", type=int, default=5000)
    aws_parser.add_argument("--host", default="127.0.0.1")
    runner = sub.add_parser("_runner", help=argparse.SUPPRESS)  # the child process of `run`
    runner.add_argument("dag_ids", nargs="*")
    args = parser.parse_args(argv)
    if args.command == "_runner":
        return _runner(args.dag_ids)
    if args.command == "run":
        return run(args.dag_ids)
    if args.command == "local-aws":
        return local_aws(args.port, args.host)
    return up()


if __name__ == "__main__":
    sys.exit(main())
