"""Backdating moto's IAM objects and completing its credential report, for the sweep's moto tests.

moto stamps everything with the real clock and has no API to change that, so the tests edit the
backend objects (see reference/moto-5.2.5-coverage.md §1). moto's report also lacks AWS's
``<root_account>`` row; :func:`add_root_row` appends one to what the collector receives.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from moto.iam.models import AccessKeyLastUsed

from iamflow.aws.clients import AwsClients


def naive(when: datetime) -> datetime:
    """moto's convention: naive UTC."""
    return when.astimezone(UTC).replace(tzinfo=None)


def backdate_key(backend: Any, user: str, *, index: int = 0, created: datetime | None = None,
                 used: datetime | None = None, service: str = "s3") -> None:
    """Set an access key's creation and last-used times in moto's backend."""
    key = backend.users[user].access_keys[index]
    if created is not None:
        key.create_date = naive(created)
    if used is not None:
        key.last_used = AccessKeyLastUsed(timestamp=naive(used), service=service, region="us-east-1")


def backdate_user(backend: Any, user: str, *, created: datetime | None = None,
                  password_used: datetime | None = None) -> None:
    """Set a user's creation time and console last-use in moto's backend."""
    u = backend.users[user]
    if created is not None:
        u.create_date = naive(created)
    if password_used is not None:
        u.password_last_used = naive(password_used)


def add_root_row(clients: AwsClients, account_id: str, *, created: datetime, password_used: datetime | None = None,
                 mfa: bool = True, key_active: bool = False, key_created: datetime | None = None,
                 key_used: datetime | None = None) -> None:
    """Append a ``<root_account>`` row (as AWS writes it) to every credential report ``clients`` receive."""

    def stamp(when: datetime | None) -> str:
        return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00") if when else "N/A"

    row = ",".join([
        "<root_account>", f"arn:aws:iam::{account_id}:root", stamp(created), "not_supported",
        stamp(password_used) if password_used else "no_information", "not_supported", "not_supported",
        "true" if mfa else "false", "true" if key_active else "false", stamp(key_created), stamp(key_used), "N/A", "N/A",
        "false", "N/A", "N/A", "N/A", "N/A", "false", "N/A", "false", "N/A",
    ])

    def on_report(parsed: dict[str, Any], **_: Any) -> None:
        content = parsed.get("Content")
        if isinstance(content, bytes | bytearray):
            header, _, rest = bytes(content).partition(b"\n")
            parsed["Content"] = header + b"\n" + row.encode() + b"\n" + rest

    clients.client("iam").meta.events.register("after-call.iam.GetCredentialReport", on_report)


def set_report_time(clients: AwsClients, generated: datetime) -> None:
    """Make moto's GetCredentialReport say the report was generated at ``generated`` (moto fixes it in 2015)."""

    def on_report(parsed: dict[str, Any], **_: Any) -> None:
        if "GeneratedTime" in parsed:
            parsed["GeneratedTime"] = generated

    clients.client("iam").meta.events.register("after-call.iam.GetCredentialReport", on_report)


class Sleeps(list):
    """A ``sleep`` that records the delays instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def days_ago(now: datetime, days: float) -> datetime:
    """A time ``days`` before ``now``."""
    return now - timedelta(days=days)
