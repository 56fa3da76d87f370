"""Unified diffs of JSON-able state, as shown by check mode and in every task's result."""

from __future__ import annotations

import difflib
import json
from typing import Any


def unified_json_diff(before: Any, after: Any, label: str) -> str:
    """Return a unified diff of two values rendered as pretty JSON, or "" when they render the same.

    ``None`` renders as no lines at all, so a creation shows every line as added and a deletion
    every line as removed.
    """
    old = _render(before)
    new = _render(after)
    if old == new:
        return ""
    lines = difflib.unified_diff(old, new, fromfile=f"{label} (current)", tofile=f"{label} (desired)", lineterm="")
    return "\n".join(lines) + "\n"


def state_diff(before: dict[str, Any] | None, after: dict[str, Any] | None, label: str) -> str:
    """Return the diff between a resource's current and desired state (documents already normalised)."""
    return unified_json_diff(before, after, label)


def _render(value: Any) -> list[str]:
    if value is None:
        return []
    # default=str: state may carry dates or other non-JSON scalars read from AWS
    return json.dumps(value, indent=2, sort_keys=True, default=str).splitlines()
