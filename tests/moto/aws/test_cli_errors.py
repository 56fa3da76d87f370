"""Every ``iamflow`` command fails with one ``error:`` line and exit 1, never a traceback (``--verbose`` shows it)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError

from iamflow.cli import main
from iamflow.settings import project_root

PLAYBOOK = """\
name: edge
resources:
""" + "".join(f"""\
  - kind: iam_role
    name: edge-role-{i}
    trust_policy: lambda-trust.json
""" for i in range(6))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _iamflow(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "PYTHONPATH": str(project_root() / "include"), **env}
    return subprocess.run([sys.executable, "-m", "iamflow.cli", *args], capture_output=True, text=True, env=full,
                          timeout=120, check=False)


@pytest.fixture
def playbook(tmp_path: Path) -> Path:
    path = tmp_path / "edge.yaml"
    path.write_text(PLAYBOOK)
    return path


def test_apply_against_a_dead_endpoint_prints_one_error_line(playbook: Path) -> None:
    env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{_closed_port()}", "AWS_MAX_ATTEMPTS": "1"}

    done = _iamflow("apply", str(playbook), env=env)

    assert done.returncode == 1, done
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: EndpointConnectionError: Could not connect"), lines
    assert "--verbose" in lines[0]

    verbose = _iamflow("apply", str(playbook), "--verbose", env=env)
    assert verbose.returncode == 1
    assert "Traceback" in verbose.stderr and verbose.stderr.strip().splitlines()[-1].startswith("error: ")


def test_an_endpoint_dying_mid_apply_gives_error_lines_without_tracebacks(
        clients: Any, playbook: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    iam = clients.client("iam")
    sent: list[str] = []

    def die_after_two(request: Any, event_name: str, **_: Any) -> None:
        sent.append(event_name)
        if len(sent) > 2:
            raise EndpointConnectionError(endpoint_url=request.url)

    iam.meta.events.register_first("before-send.iam", die_after_two)
    monkeypatch.setattr("iamflow.cli.converge.build_clients", lambda *a, **k: clients)

    code = main(["apply", str(playbook), "--workers", "1"])

    captured = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in captured.err and "Traceback" not in captured.out
    assert "EndpointConnectionError" in captured.out  # each failed resource says why, in the play's output
    assert all(line.startswith(("error: ", "warning: ")) for line in captured.err.strip().splitlines()), captured.err
    assert len(sent) > 2


def test_an_unexpected_error_in_any_command_is_one_line(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    def boom(*_: Any, **__: Any) -> Any:
        raise OSError(28, "No space left on device\nwhile writing")

    monkeypatch.setattr("iamflow.cli.common.validate_playbooks", boom)
    monkeypatch.setattr("iamflow.cli.converge.validate_playbooks", boom)
    assert main(["lint", "x.yaml"]) == 1
    err = capsys.readouterr().err
    assert err == "error: OSError: [Errno 28] No space left on device while writing (run with --verbose for the traceback)\n"


def test_a_bad_time_option_is_an_error_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify-rotation", "--all", "--now", "yesterday"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ValueError: ") and "Traceback" not in err
