"""Small helpers shared by the check modules: dates, ages and key labels in messages."""

from __future__ import annotations

from datetime import datetime

from iamflow.compliance.snapshot import Snapshot

# the permission a per-key finding uses to name the key id (see sweep.resolve_access_key_ids)
KEY_ID_PERMISSIONS = ("iam:ListAccessKeys",)


def age_days(since: datetime, now: datetime) -> int:
    """Whole days from ``since`` to ``now`` (negative when ``since`` is in the future)."""
    return (now - since).days


def day(value: datetime | None) -> str:
    """A date for a message (``2024-05-01``), or ``never``."""
    return value.strftime("%Y-%m-%d") if value else "never"


def iso(value: datetime | None) -> str | None:
    """An ISO 8601 timestamp for an extra field, or None."""
    return value.isoformat() if value else None


def key_label(slot: int) -> str:
    """How messages name an access key before its id is known: ``access key 1``."""
    return f"access key {slot}"


def key_fields(slot: int, created: datetime | None) -> dict[str, object]:
    """Extra fields of a per-key finding; ``access_key_id`` is filled in by the sweep when it can."""
    return {"access_key": f"access_key_{slot}", "access_key_id": None, "key_created": iso(created)}


def principal_tags(snapshot: Snapshot) -> dict[str, dict[str, str]]:
    """Tags of users, groups and roles by ARN, when the authorization details were collected."""
    if snapshot.authorization is None:
        return {}
    return {p.arn: p.tags for p in snapshot.authorization.principals()}
