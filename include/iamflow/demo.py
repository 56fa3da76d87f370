"""``make run`` and ``make up``: the embedded AWS plus Airflow, on this machine, with no setup.

``python -m iamflow.demo run``
    Start the embedded AWS (moto on 127.0.0.1, port ``$IAMFLOW_LOCAL_AWS_PORT`` or a free one),
    seed the demo account (``iamflow.demo_seed.seed(endpoint_url)``, when that module exists),
    prepare an Airflow home in ``<repo>/.airflow`` (the repo's dags/ and plugins/, no examples,
    ``airflow db migrate``), then run ``airflow dags test`` once for every playbook DAG, one after
    the other, followed by every other DAG tagged ``demo`` (a DAG that is safe to run unattended
    opts in with that tag). Each run's full output goes to ``.airflow/demo-logs/<dag_id>.log``;
    the terminal gets each DAG's PLAY RECAP, the errors of a failed DAG, a summary line and the
    report folder (``$IAMFLOW_REPORT_DIR/latest``). Exit status 1 when any DAG run failed.

``python -m iamflow.demo up``
    The same embedded AWS and Airflow home behind ``airflow standalone`` (api-server, scheduler,
    dag-processor, triggerer) with the UI on port 8080 (``$AIRFLOW_PORT``); prints the URL and the
    login from the simple auth manager's generated password file, and stops both on Ctrl+C.

The helpers (:func:`airflow_env`, :func:`dags_test`, :func:`parse_log`, :func:`find_recap`) are
shared with the end-to-end tests.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
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

from iamflow.spec.loader import project_root

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
            "IAMFLOW_REPORT_DIR": env.get("IAMFLOW_REPORT_DIR") or str(root / "reports"),
            "PYTHONUNBUFFERED": "1",
            # `airflow standalone` starts its components as `airflow ...` from PATH: use this venv's
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", os.defpath)]),
        }
    )
    env.update(extra or {})
    return env


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


def dags_test(dag_id: str, env: Mapping[str, str], *, conf: Mapping[str, Any] | None = None,
              dagfile: str | Path | None = None, log_path: Path | None = None,
              timeout: float = DAG_TEST_TIMEOUT) -> DagTestRun:
    """Run ``airflow dags test DAG_ID [-c CONF] [-f DAGFILE]`` and return its outcome.

    :param conf: the run's conf (it overrides the DAG's params, e.g. ``{"check_mode": True}``).
    :param dagfile: parse only this file (faster, and another file's import error cannot interfere).
    :param log_path: where to keep the full output.
    """
    args = ["dags", "test", dag_id]
    if conf is not None:
        args += ["--conf", json.dumps(dict(conf))]
    if dagfile is not None:
        args += ["--dagfile-path", str(dagfile)]
    started = time.monotonic()
    try:
        done = subprocess.run(airflow_command(*args), env=dict(env), capture_output=True, text=True,
                              timeout=timeout, check=False)
        returncode, output = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as exc:
        returncode = -1
        output = _text(exc.stdout) + _text(exc.stderr) + f"\n[iamflow] airflow dags test timed out after {timeout:g}s\n"
    output = _ANSI.sub("", output)
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text(output, encoding="utf-8")
    return DagTestRun(dag_id, returncode, output, round(time.monotonic() - started, 1), parse_log(output))


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
    recaps = [e.message.strip("\n") for e in events if "PLAY RECAP [" in e.message]
    return recaps[-1].strip() if recaps else None


def recap_totals(recap: str) -> dict[str, int]:
    """The TOTAL line of a recap as numbers, e.g. ``{"ok": 3, "changed": 0, ...}``."""
    for line in recap.splitlines():
        if line.startswith("TOTAL"):
            return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)}
    return {}


# --- DAG discovery ---------------------------------------------------------------------------------


@dataclass
class DagInfo:
    dag_id: str
    tags: set[str]
    fileloc: str


def list_dags(env: Mapping[str, str], *, timeout: float = 300.0) -> tuple[list[DagInfo], str]:
    """Parse dags/ locally (``airflow dags list -l``); return the DAGs and any import-error text."""
    done = subprocess.run(airflow_command("dags", "list", "--local", "--columns", "dag_id,tags,fileloc",
                                          "--output", "json"),
                          env=dict(env), capture_output=True, text=True, timeout=timeout, check=False)
    payload = next((line for line in reversed(done.stdout.splitlines()) if line.startswith("[")), None)
    if done.returncode != 0 or payload is None:
        raise RuntimeError(f"airflow dags list failed (exit {done.returncode}):\n{_tail(done.stdout + done.stderr, 40)}")
    dags = [DagInfo(item["dag_id"], _tags(item.get("tags")), str(item.get("fileloc") or ""))
            for item in json.loads(payload)]
    errors = done.stderr if "import error" in done.stderr.lower() or "Traceback" in done.stderr else ""
    return dags, errors


def demo_order(dags: Sequence[DagInfo]) -> list[DagInfo]:
    """The playbook DAGs (they are independent of one another), then the other DAGs tagged ``demo``."""
    playbooks = sorted((d for d in dags if PLAYBOOK_TAG in d.tags), key=lambda d: d.dag_id)
    others = sorted((d for d in dags if DEMO_TAG in d.tags and PLAYBOOK_TAG not in d.tags), key=lambda d: d.dag_id)
    return playbooks + others


def _tags(value: Any) -> set[str]:
    """Tags as ``dags list`` prints them: a Python set's repr, or a list of names or of ``{"name": ...}``."""
    if isinstance(value, (list, set, tuple)):
        return {str(v.get("name")) if isinstance(v, dict) else str(v) for v in value}
    if isinstance(value, str) and value:
        try:
            parsed = ast.literal_eval(value)  # the CLI prints a Python set
        except (ValueError, SyntaxError):
            return {t.strip() for t in value.strip("{}[]").split(",") if t.strip()}
        return {str(v) for v in parsed} if isinstance(parsed, (list, set, tuple)) else {str(parsed)}
    return set()


# --- the embedded AWS ------------------------------------------------------------------------------


def _local_aws_port() -> int:
    from iamflow.aws.local import free_port

    value = os.environ.get("IAMFLOW_LOCAL_AWS_PORT")
    return int(value) if value else free_port()


def _seed(endpoint_url: str) -> str:
    """Seed the demo account when ``iamflow.demo_seed`` exists; say what happened."""
    if importlib.util.find_spec("iamflow.demo_seed") is None:
        return "no demo seed available (iamflow.demo_seed); the account starts empty"
    from iamflow import demo_seed  # type: ignore[attr-defined]

    seed = getattr(demo_seed, "seed", None)
    if seed is None:
        return "iamflow.demo_seed has no seed(); the account starts empty"
    outcome = seed(endpoint_url)
    return f"demo account seeded{f': {outcome}' if isinstance(outcome, str) and outcome else ''}"


# --- run -------------------------------------------------------------------------------------------


def run(dag_ids: Sequence[str] = (), *, out: Any = None) -> int:
    """``make run``: every playbook DAG (and every ``demo`` DAG) once, against the embedded AWS."""
    from iamflow.aws.local import LocalAws

    out = out or sys.stdout
    started = time.monotonic()
    home = airflow_home()
    logs = home / "demo-logs"
    home.mkdir(parents=True, exist_ok=True)

    def say(text: str = "") -> None:
        print(text, file=out, flush=True)

    with LocalAws(port=_local_aws_port()) as aws:
        say(f"Embedded AWS (moto) on {aws.endpoint_url}")
        say(f"  {_seed(aws.endpoint_url)}")
        env = airflow_env(aws.endpoint_url, home)
        say(f"Airflow home {home}: migrating the metadata database ...")
        try:
            migrate(env, logs / "db-migrate.log")
            dags, import_errors = list_dags(env)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            say(f"ERROR: {exc}")
            return 1
        if import_errors:
            say("WARNING: some DAG files did not import:\n" + _indent(_tail(import_errors, 30)))
        selected = [d for d in demo_order(dags) if not dag_ids or d.dag_id in dag_ids]
        unknown = sorted(set(dag_ids) - {d.dag_id for d in dags})
        if unknown:
            say(f"ERROR: no such DAG: {', '.join(unknown)}")
            return 1
        if not selected:
            say("ERROR: no playbook DAG found in dags/")
            return 1
        say(f"Running {len(selected)} DAG(s) with `airflow dags test`, one after the other "
            f"(full logs in {logs}/)")

        runs: list[DagTestRun] = []
        for info in selected:
            say()
            say(f"=== {info.dag_id}")
            result = dags_test(info.dag_id, env, dagfile=info.fileloc or None, log_path=logs / f"{info.dag_id}.log")
            runs.append(result)
            if result.recap:
                say(result.recap)
            for error in result.errors():
                say("  ERROR " + _indent(error, "  ").lstrip())
            say(f"--- {info.dag_id}: {'success' if result.succeeded else 'FAILED'} in {result.seconds:g}s")

    failed = [r.dag_id for r in runs if not r.succeeded]
    say()
    say(f"iamflow demo: {len(runs)} DAG run(s), {len(runs) - len(failed)} succeeded, {len(failed)} failed "
        f"in {time.monotonic() - started:.0f}s" + (f" (failed: {', '.join(failed)})" if failed else ""))
    report_dir = Path(env["IAMFLOW_REPORT_DIR"]) / "latest"
    if report_dir.is_dir():
        say(f"Compliance reports: {report_dir}")
        for name in ("report.html", "findings.json", "findings.csv", "findings.ocsf.json"):
            if (report_dir / name).exists():
                say(f"  {report_dir / name}")
    say(f"Logs: {logs}")
    return 1 if failed else 0


# --- up --------------------------------------------------------------------------------------------


def up(*, out: Any = None) -> int:
    """``make up``: the embedded AWS and ``airflow standalone`` until Ctrl+C."""
    from iamflow.aws.local import LocalAws, free_port

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
        port = int(os.environ.get("IAMFLOW_LOCAL_AWS_PORT") or free_port())
        with LocalAws(port=port) as aws:
            say(f"Embedded AWS (moto) on {aws.endpoint_url}")
            say(f"  {_seed(aws.endpoint_url)}")
            env = airflow_env(aws.endpoint_url, home, extra={
                "AIRFLOW__API__PORT": str(ui_port),
                "AIRFLOW__API__BASE_URL": f"http://localhost:{ui_port}",
            })
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
                _stop_process_group(process)
                process = None
            say("Stopped.")
    finally:
        if process is not None:
            _stop_process_group(process)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


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


def _stop_process_group(process: subprocess.Popen[bytes], *, grace: float = 20.0) -> None:
    """Stop the process we started and its children (its own session): SIGTERM, then SIGKILL.

    ``airflow standalone`` returns before its components have finished shutting down, so this
    waits for the whole group, not only for the process itself.
    """
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and _group_alive(process):
            time.sleep(0.2)
        if not _group_alive(process):
            break
    if process.poll() is None:
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


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m iamflow.demo", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run", help="run every playbook DAG once against the embedded AWS")
    run_parser.add_argument("dag_ids", nargs="*", help="only these DAGs (default: every playbook and demo DAG)")
    sub.add_parser("up", help="airflow standalone + the embedded AWS, until Ctrl+C")
    args = parser.parse_args(argv)
    if args.command == "run":
        return run(args.dag_ids)
    return up()


if __name__ == "__main__":
    sys.exit(main())
