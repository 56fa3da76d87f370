"""Callbacks for DAG files, importable at parse time: the notifier itself loads only when called."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def on_failure_callback(context: Mapping[str, Any]) -> None:
    """Notify that a task failed (log, plus SMTP or Slack when their connections exist)."""
    from iamflow.airflow.notify import on_failure_callback as notify

    notify(context)


def notify_report(summary: Mapping[str, Any]) -> None:
    """Notify the high and critical failures of a finished compliance sweep."""
    from iamflow.airflow.notify import notify_report as notify

    notify(summary)
