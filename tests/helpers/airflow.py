"""Run one DAG with ``airflow dags test`` in its own process, and read a recap's totals."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tools.demo import DAG_TEST_TIMEOUT, DagTestRun, airflow_command, parse_log, strip_ansi


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
    output = strip_ansi(output)
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text(output, encoding="utf-8")
    return DagTestRun(dag_id, returncode, output, round(time.monotonic() - started, 1), parse_log(output))


def recap_totals(recap: str) -> dict[str, int]:
    """The TOTAL line of a recap as numbers, e.g. ``{"ok": 3, "changed": 0, ...}``."""
    for line in recap.splitlines():
        if line.startswith("TOTAL"):
            return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)}
    return {}


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
