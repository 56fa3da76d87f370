"""Tags: compare a desired set with the current one, and convert between AWS's two shapes."""

from __future__ import annotations

from typing import Any


def compare_tags(
    current: dict[str, str] | None, desired: dict[str, str] | None, *, purge: bool
) -> tuple[dict[str, str], list[str]]:
    """Return the tags to set (new or changed values) and the keys to remove.

    ``desired`` None means the tags are unmanaged: nothing to do. Keys beginning with ``aws:`` are
    AWS's own and never removed; with ``purge=False`` nothing is removed at all.
    """
    if desired is None:
        return {}, []
    current = current or {}
    # tag values are strings in AWS; YAML may hand over 2024 or true
    wanted = {str(k): _tag_value(v) for k, v in desired.items()}
    to_set = {k: v for k, v in wanted.items() if current.get(k) != v}
    to_remove: list[str] = []
    if purge:
        to_remove = sorted(k for k in current if k not in wanted and not k.lower().startswith("aws:"))
    return to_set, to_remove


def tags_to_list(d: dict[str, str] | None, key_name: str = "Key", value_name: str = "Value") -> list[dict[str, str]]:
    """Return ``[{"Key": k, "Value": v}, ...]`` sorted by key (KMS names them TagKey/TagValue)."""
    return [{key_name: k, value_name: v} for k, v in sorted((d or {}).items())]


def tags_from_list(
    lst: list[dict[str, Any]] | None, key_name: str = "Key", value_name: str = "Value"
) -> dict[str, str]:
    """Return a ``{key: value}`` dict from AWS's list of key/value pairs."""
    return {item[key_name]: item.get(value_name, "") for item in (lst or [])}


def _tag_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
