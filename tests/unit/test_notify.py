"""Notifications: the log always; SMTP and Slack through Airflow connections, against local servers."""

from __future__ import annotations

import json
import logging
import socketserver
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import SimpleNamespace
from typing import Any

import pytest

from iamflow.airflow import notify

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # shaped like a secret access key


class SmtpSink(socketserver.ThreadingTCPServer):
    """Just enough SMTP for smtplib: records each message's envelope and DATA."""

    allow_reuse_address = True
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), SmtpHandler)
        self.messages: list[dict[str, Any]] = []


class SmtpHandler(socketserver.StreamRequestHandler):
    def reply(self, line: str) -> None:
        self.wfile.write(f"{line}\r\n".encode())

    def handle(self) -> None:
        sink: SmtpSink = self.server  # type: ignore[assignment]
        self.reply("220 sink ready")
        envelope: dict[str, Any] = {"to": []}
        while line := self.rfile.readline():
            command = line.decode().strip()
            verb = command.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 sink")
            elif verb == "MAIL":
                envelope = {"from": command.split(":", 1)[1].strip(), "to": []}
                self.reply("250 ok")
            elif verb == "RCPT":
                envelope["to"].append(command.split(":", 1)[1].strip())
                self.reply("250 ok")
            elif verb == "DATA":
                self.reply("354 end with .")
                body = []
                while (chunk := self.rfile.readline().decode()).rstrip("\r\n") != ".":
                    body.append(chunk)
                sink.messages.append({**envelope, "data": "".join(body)})
                self.reply("250 queued")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("250 ok")


@pytest.fixture
def smtp_sink(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpSink]:
    sink = SmtpSink()
    thread = threading.Thread(target=sink.serve_forever, daemon=True)
    thread.start()
    port = sink.server_address[1]
    monkeypatch.setenv("AIRFLOW_CONN_IAMFLOW_SMTP", json.dumps({
        "conn_type": "smtp", "host": "127.0.0.1", "port": port,
        "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "iamflow@example.com",
                  "to": "sec@example.com, ops@example.com", "retry_limit": 0, "timeout": 5},
    }))
    yield sink
    sink.shutdown()
    sink.server_close()


class WebhookHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers["Content-Length"])
        self.server.posts.append({"path": self.path, "body": json.loads(self.rfile.read(length))})  # type: ignore[attr-defined]
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch) -> Iterator[HTTPServer]:
    server = HTTPServer(("127.0.0.1", 0), WebhookHandler)
    server.posts = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/services/T000/B000/XXXX"
    monkeypatch.setenv("AIRFLOW_CONN_IAMFLOW_SLACK", json.dumps({"conn_type": "http", "password": url}))
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def no_channels(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_IAMFLOW_SMTP", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_IAMFLOW_SLACK", raising=False)


def failing_context() -> dict[str, Any]:
    ti = SimpleNamespace(dag_id="compliance_sweep", task_id="sweep_account", map_index=1, run_id="manual__1",
                         try_number=3)
    return {"ti": ti, "exception": RuntimeError(f"AccessDenied for key {SECRET}\nstack...")}


def findings() -> list[dict[str, Any]]:
    def f(check: str, status: str, severity: str, user: str) -> dict[str, Any]:
        return {"check_id": check, "status": status, "severity": severity, "account_id": "111111111111",
                "region": "global", "resource_arn": f"arn:aws:iam::111111111111:user/{user}",
                "message": f"{check} fails for {user}"}

    return [
        f("iam_root_mfa_enabled", "FAIL", "critical", "root"),
        f("iam_user_mfa_enabled_console_access", "FAIL", "high", "alice"),
        f("iam_user_mfa_enabled_console_access", "FAIL", "high", "bob"),
        f("iam_rotate_access_key_90_days", "FAIL", "medium", "carol"),
        f("iam_user_mfa_enabled_console_access", "MUTED", "high", "break-glass"),
        f("iam_user_mfa_enabled_console_access", "PASS", "high", "dave"),
    ]


def test_failure_is_logged_without_secrets(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="iamflow.airflow.notify"):
        notify.on_failure_callback(failing_context())
    text = caplog.text
    assert "Task failed: compliance_sweep.sweep_account[1]" in text
    assert "Run: manual__1" in text and "RuntimeError: AccessDenied" in text
    assert SECRET not in text and "<redacted>" in text


def test_log_only_without_connections() -> None:
    assert notify.send(notify.Message("s", "t")) == {"log": True}


def test_findings_message_counts_and_top() -> None:
    message = notify.findings_message(findings(), run_id="20250101T000000Z")
    assert message is not None
    assert message.subject == "[iamflow] 3 failing high+ finding(s) in sweep 20250101T000000Z"
    assert "1 critical, 2 high" in message.text
    assert "carol" not in message.text and "break-glass" not in message.text and "dave" not in message.text
    assert message.text.index("root") < message.text.index("alice")  # worst first
    assert notify.findings_message(findings(), min_severity="critical").subject.startswith("[iamflow] 1 failing")
    assert notify.findings_message([f for f in findings() if f["severity"] == "medium"]) is None
    with pytest.raises(ValueError):
        notify.notify_findings(findings(), min_severity="severe")


def test_no_qualifying_findings_sends_nothing(smtp_sink: SmtpSink) -> None:
    assert notify.notify_findings([f for f in findings() if f["status"] != "FAIL"]) == {}
    assert smtp_sink.messages == []


def test_smtp_channel(smtp_sink: SmtpSink) -> None:
    assert notify.notify_findings(findings(), run_id="r1") == {"log": True, "smtp": True}
    [mail] = smtp_sink.messages
    assert mail["from"] == "<iamflow@example.com>"
    assert mail["to"] == ["<sec@example.com>", "<ops@example.com>"]
    assert "3 failing high+ finding(s)" in mail["data"]


def test_smtp_failure_is_logged_not_raised(smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch,
                                           caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_IAMFLOW_SMTP", json.dumps({
        "conn_type": "smtp", "host": "127.0.0.1", "port": 1,
        "extra": {"disable_ssl": True, "disable_tls": True, "to": "a@example.com", "retry_limit": 0, "timeout": 2}}))
    with caplog.at_level(logging.WARNING, logger="iamflow.airflow.notify"):
        notify.on_failure_callback(failing_context())
        result = notify.send(notify.Message("s", "t"))
    assert result == {"log": True, "smtp": False}
    assert "Failed to notify through smtp" in caplog.text


def test_slack_channel(webhook: HTTPServer, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="iamflow.airflow.notify"):
        assert notify.send(notify.failure_message(failing_context())) == {"log": True, "slack": True}
    [post] = webhook.posts  # type: ignore[attr-defined]
    assert post["path"] == "/services/T000/B000/XXXX"
    assert "Task failed: compliance_sweep.sweep_account[1]" in post["body"]["text"]
    assert SECRET not in post["body"]["text"]
    assert "XXXX" not in caplog.text  # the webhook URL is a credential: never logged


def test_slack_and_smtp_together(webhook: HTTPServer, smtp_sink: SmtpSink) -> None:
    assert notify.notify_findings(findings()) == {"log": True, "smtp": True, "slack": True}


def test_slack_failure_is_logged_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_IAMFLOW_SLACK", json.dumps({"conn_type": "http",
                                                                  "password": "http://127.0.0.1:1/hook"}))
    assert notify.send(notify.Message("s", "t")) == {"log": True, "slack": False}


@pytest.mark.parametrize(
    ("conn", "url"),
    [
        ({"password": "https://hooks.slack.com/services/T/B/X"}, "https://hooks.slack.com/services/T/B/X"),
        ({"host": "https://hooks.slack.com/services/T/B/X"}, "https://hooks.slack.com/services/T/B/X"),
        ({"password": "T/B/X"}, "https://hooks.slack.com/services/T/B/X"),
        ({"host": "hooks.example.com", "password": "/services/T/B/X"}, "https://hooks.example.com/services/T/B/X"),
        ({"host": "https://hooks.slack.com/services/", "password": "T/B/X"}, "https://hooks.slack.com/services/T/B/X"),
    ],
)
def test_slack_webhook_url(conn: dict[str, str], url: str) -> None:
    assert notify.slack_webhook_url(SimpleNamespace(**{"host": None, "password": None, "schema": None,
                                                       "port": None, **conn})) == url


def test_notify_report_reads_findings_json(tmp_path: Any, webhook: HTTPServer) -> None:
    path = tmp_path / "findings.json"
    path.write_text(json.dumps(findings()))
    summary = {"run_id": "r9", "run_dir": str(tmp_path), "files": {"findings.json": str(path)}}
    assert notify.notify_report(summary) == {"log": True, "slack": True}
    assert "sweep r9" in webhook.posts[0]["body"]["text"]  # type: ignore[attr-defined]
    assert notify.notify_report({"run_id": "x", "run_dir": str(tmp_path / "missing")}) == {}
