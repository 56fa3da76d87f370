"""Notifications: failed tasks and failing high/critical findings, to the log and optionally SMTP or Slack.

Channels, each a small function that returns whether it delivered:

- the task log, always;
- e-mail through the Airflow connection ``iamflow_smtp`` (the SMTP provider's ``SmtpHook``;
  recipients in the extra ``to``, a comma-separated string or a list; sender in ``from_email``);
- Slack through the connection ``iamflow_slack``: an incoming webhook, whose URL is the
  connection's password (or host), or a host such as ``https://hooks.slack.com/services`` plus
  the webhook's token path as password.

A channel whose connection does not exist is skipped. A failure to notify is logged and never
raised: a notification must not fail (or retry) the task it reports on. Messages name DAGs,
tasks, checks and resources only; every text passes :func:`iamflow.compliance.findings.redact_text`
and the webhook URL is never logged.

Use ``default_args={"on_failure_callback": on_failure_callback}`` in a DAG, and
``notify_report`` as the compliance sweep's ``on_report`` slot (or call :func:`notify_findings`).
"""

from __future__ import annotations

import html
import json
import logging
import urllib.request
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from iamflow.secrets.hygiene import redact_text

log = logging.getLogger(__name__)

SMTP_CONN_ID = "iamflow_smtp"
SLACK_CONN_ID = "iamflow_slack"
SLACK_DEFAULT_HOST = "https://hooks.slack.com/services"
SEVERITIES = ("critical", "high", "medium", "low", "informational")
TOP_FINDINGS = 10
HTTP_TIMEOUT = 10


@dataclass(frozen=True)
class Message:
    """A notification: a one-line subject and a plain-text body."""

    subject: str
    text: str

    def redacted(self) -> Message:
        return Message(redact_text(self.subject), redact_text(self.text))


# --- channels -----------------------------------------------------------------------------------


def get_connection(conn_id: str) -> Any | None:
    """The Airflow connection ``conn_id``, or None when it is not defined (or cannot be read)."""
    try:
        from airflow.sdk import BaseHook

        return BaseHook.get_connection(conn_id)
    except Exception as exc:  # not defined is the usual case: that channel is simply off
        log.debug("notification connection %s not available: %s", conn_id, exc)
        return None


def send_log(message: Message) -> bool:
    """Write the message to the log (the task log inside a task)."""
    log.warning("%s\n%s", message.subject, message.text)
    return True


def _recipients(extra: Mapping[str, Any]) -> list[str]:
    value = extra.get("to") or extra.get("recipients") or []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [str(v).strip() for v in items if str(v).strip()]


def send_smtp(message: Message, conn_id: str = SMTP_CONN_ID) -> bool:
    """Send the message by e-mail through the SMTP connection ``conn_id`` (its extra names ``to``)."""
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    with SmtpHook(smtp_conn_id=conn_id) as hook:
        to = _recipients(hook.conn.extra_dejson)
        if not to:
            log.warning("connection %s has no recipients: set its extra \"to\"", conn_id)
            return False
        body = f"<pre style=\"font-family:monospace\">{html.escape(message.text)}</pre>"
        hook.send_email_smtp(to=to, subject=message.subject, html_content=body,
                             from_email=hook.from_email or "iamflow@localhost")
    return True


def slack_webhook_url(conn: Any) -> str:
    """The incoming-webhook URL held by a Slack/HTTP connection (password, host, or host + token path)."""
    password = (getattr(conn, "password", None) or "").strip()
    host = (getattr(conn, "host", None) or "").strip()
    if password.startswith(("https://", "http://")):
        return password
    if host.startswith(("https://", "http://")):
        base = host
    elif host:
        scheme = (getattr(conn, "schema", None) or "https").strip() or "https"
        port = getattr(conn, "port", None)
        base = f"{scheme}://{host}{f':{port}' if port else ''}"
    else:
        base = SLACK_DEFAULT_HOST
    if not password:
        return base
    return f"{base.rstrip('/')}/{password.lstrip('/')}"


def send_slack(message: Message, conn_id: str = SLACK_CONN_ID) -> bool:
    """Post the message to the Slack incoming webhook of connection ``conn_id``."""
    conn = get_connection(conn_id)
    if conn is None:
        return False
    url = slack_webhook_url(conn)
    if urlsplit(url).scheme not in ("https", "http"):
        log.warning("connection %s does not hold an http(s) webhook URL", conn_id)
        return False
    payload = json.dumps({"text": f"*{message.subject}*\n{message.text}"}).encode()
    request = urllib.request.Request(url, data=payload, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:  # noqa: S310 (scheme checked)
        ok = 200 <= response.status < 300
    if not ok:
        log.warning("Slack webhook of connection %s answered HTTP %s", conn_id, response.status)
    return ok


def send(message: Message, *, smtp_conn_id: str = SMTP_CONN_ID, slack_conn_id: str = SLACK_CONN_ID
         ) -> dict[str, bool]:
    """Deliver to the log and to every configured channel; return which channels delivered."""
    message = message.redacted()
    results = {"log": send_log(message)}
    channels = (("smtp", smtp_conn_id, send_smtp), ("slack", slack_conn_id, send_slack))
    for name, conn_id, deliver in channels:
        if get_connection(conn_id) is None:
            continue
        try:
            results[name] = bool(deliver(message, conn_id))
        except Exception as exc:  # a notification must never fail the task
            log.warning("Failed to notify through %s (connection %s): %s", name, conn_id,
                        redact_text(f"{type(exc).__name__}: {exc}"))
            results[name] = False
    return results


# --- task failures ------------------------------------------------------------------------------


def failure_message(context: Mapping[str, Any]) -> Message:
    """The message for a failed task, from its Airflow context (no parameter, XCom or secret value)."""
    ti = context.get("ti") or context.get("task_instance")
    dag_id = getattr(ti, "dag_id", None) or getattr(context.get("dag"), "dag_id", "?")
    task_id = getattr(ti, "task_id", None) or getattr(context.get("task"), "task_id", "?")
    map_index = getattr(ti, "map_index", -1)
    run_id = getattr(ti, "run_id", None) or getattr(context.get("dag_run"), "run_id", "?")
    try_number = getattr(ti, "try_number", None)
    exc = context.get("exception")
    label = f"{task_id}[{map_index}]" if isinstance(map_index, int) and map_index >= 0 else task_id
    lines = [f"DAG: {dag_id}", f"Task: {label}", f"Run: {run_id}"]
    if try_number is not None:
        lines.append(f"Try: {try_number}")
    if exc is not None:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        lines.append(f"Error: {type(exc).__name__}{': ' + first[:500] if first else ''}")
    log_url = getattr(ti, "log_url", None)
    if isinstance(log_url, str) and log_url:
        lines.append(f"Log: {log_url}")
    return Message(f"[iamflow] Task failed: {dag_id}.{label}", "\n".join(lines))


def on_failure_callback(context: Mapping[str, Any]) -> None:
    """Task failure callback: log the failure and send it through the configured channels."""
    try:
        send(failure_message(context))
    except Exception:  # never let the callback itself raise
        log.exception("could not build or send the failure notification")


# --- findings -----------------------------------------------------------------------------------


def _get(f: Any, name: str) -> Any:
    return f.get(name) if isinstance(f, Mapping) else getattr(f, name, None)


def findings_message(findings: Iterable[Any], *, min_severity: str = "high", run_id: str | None = None,
                     report: str | None = None, top: int = TOP_FINDINGS) -> Message | None:
    """The message for FAIL findings at ``min_severity`` or worse; None when there are none."""
    if min_severity not in SEVERITIES:
        raise ValueError(f"min_severity must be one of {SEVERITIES}, not {min_severity!r}")
    wanted = set(SEVERITIES[: SEVERITIES.index(min_severity) + 1])
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    failing = [f for f in findings if _get(f, "status") == "FAIL" and _get(f, "severity") in wanted]
    if not failing:
        return None
    failing.sort(key=lambda f: (rank[_get(f, "severity")], str(_get(f, "account_id")), str(_get(f, "check_id")),
                                str(_get(f, "resource_arn"))))
    by_severity = Counter(_get(f, "severity") for f in failing)
    by_check = Counter(str(_get(f, "check_id")) for f in failing)
    accounts = sorted({str(_get(f, "account_id")) for f in failing})
    counts = ", ".join(f"{by_severity[s]} {s}" for s in SEVERITIES if by_severity.get(s))
    lines = [f"{len(failing)} failing finding(s) of severity {min_severity} or higher: {counts}",
             f"Accounts: {', '.join(accounts)}"]
    if run_id:
        lines.append(f"Sweep run: {run_id}")
    if report:
        lines.append(f"Report: {report}")
    lines += ["", "By check:"] + [f"  {n:>4}  {check}" for check, n in by_check.most_common()]
    lines += ["", f"Top {min(top, len(failing))}:"]
    for f in failing[:top]:
        lines.append(f"  [{_get(f, 'severity')}] {_get(f, 'check_id')} {_get(f, 'account_id')} "
                     f"{_get(f, 'resource_arn')}: {_get(f, 'message')}")
    if len(failing) > top:
        lines.append(f"  … and {len(failing) - top} more")
    subject = f"[iamflow] {len(failing)} failing {min_severity}+ finding(s)" + (f" in sweep {run_id}" if run_id else "")
    return Message(subject, "\n".join(lines))


def notify_findings(findings: Iterable[Any], *, min_severity: str = "high", run_id: str | None = None,
                    report: str | None = None, **channels: str) -> dict[str, bool]:
    """Notify about FAIL findings of ``min_severity`` or worse (dicts of findings.json or ``Finding`` objects).

    Returns which channels delivered (empty when nothing qualified).
    """
    if min_severity not in SEVERITIES:
        raise ValueError(f"min_severity must be one of {SEVERITIES}, not {min_severity!r}")
    try:
        message = findings_message(findings, min_severity=min_severity, run_id=run_id, report=report)
    except Exception:
        log.exception("could not build the findings notification")
        return {}
    if message is None:
        log.info("no FAIL finding of severity %s or higher: nothing to notify", min_severity)
        return {}
    return send(message, **channels)


def notify_report(summary: Mapping[str, Any], *, min_severity: str = "high") -> dict[str, bool]:
    """The sweep's ``on_report`` slot: read the run's ``findings.json`` and call :func:`notify_findings`."""
    try:
        files = summary.get("files") or {}
        path = files.get("findings.json") or str(Path(summary["run_dir"]) / "findings.json")
        findings = json.loads(Path(path).read_text(encoding="utf-8"))
    except Exception as exc:
        log.warning("could not read the sweep's findings for notification: %s", exc)
        return {}
    return notify_findings(findings, min_severity=min_severity, run_id=summary.get("run_id"),
                           report=files.get("report.html"))
