"""Callbacks for DAG files, importable at parse time: the notifier itself loads only when called."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def on_failure_callback(context: Mapping[str, Any]) -> None:
    """Notify that a task failed (log, plus SMTP or Slack when their connections exist)."""
    from iamflow.airflow.notify import on_failure_callback as notify

    notify(context)


def notify_report(summary: Mapping[str, Any]) -> None:
    """Notify every high and critical failure of a finished sweep (a digest; ``on_report`` of the sweep DAG).

    The sweep DAG sends its own message from the posture task (new failures only); pass this as
    ``on_report`` for a nightly digest of all of them as well.
    """
    from iamflow.airflow.notify import notify_report as notify

    notify(summary)
