"""Unified diffs of current vs desired state."""

from __future__ import annotations

from typing import Any

import pytest

from iamflow.policy import state_diff, unified_json_diff

ROLE = {"name": "app", "max_session_duration": 3600, "tags": {"team": "core"}}


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (None, None),
        (ROLE, dict(ROLE)),
        ({"b": 1, "a": 2}, {"a": 2, "b": 1}),
        ({}, {}),
    ],
    ids=["both-none", "same-dict", "key-order-ignored", "both-empty"],
)
def test_equal_renders_empty(before: Any, after: Any) -> None:
    assert unified_json_diff(before, after, "iam_role.app") == ""
    assert state_diff(before, after, "iam_role.app") == ""


def _body(diff: str) -> list[str]:
    return [line for line in diff.splitlines() if not line.startswith(("---", "+++", "@@"))]


@pytest.mark.parametrize(
    ("before", "after", "removed", "added"),
    [
        (ROLE, {**ROLE, "max_session_duration": 7200}, ['-  "max_session_duration": 3600,'],
         ['+  "max_session_duration": 7200,']),
        (ROLE, {**ROLE, "tags": {"team": "core", "env": "prod"}}, [], ['+    "env": "prod",']),
        (None, ROLE, [], ['+{', '+  "name": "app",', '+}']),
        (ROLE, None, ['-{', '-  "name": "app",', '-}'], []),
    ],
    ids=["value-change", "added-key", "creation", "deletion"],
)
def test_change_shows_minus_and_plus_lines(before: Any, after: Any, removed: list[str], added: list[str]) -> None:
    diff = unified_json_diff(before, after, "iam_role.app")
    lines = diff.splitlines()
    assert lines[0] == "--- iam_role.app (current)"
    assert lines[1] == "+++ iam_role.app (desired)"
    assert lines[2].startswith("@@")
    body = _body(diff)
    for line in removed + added:
        assert line in body
    if before is None:
        assert all(line.startswith("+") for line in body)
    if after is None:
        assert all(line.startswith("-") for line in body)
    assert diff.endswith("\n")


def test_state_diff_matches_unified_json_diff() -> None:
    after = {**ROLE, "max_session_duration": 7200}
    assert state_diff(ROLE, after, "iam_role.app") == unified_json_diff(ROLE, after, "iam_role.app")


def test_non_json_values_are_rendered_as_text() -> None:
    import datetime

    when = datetime.datetime(2024, 1, 2, tzinfo=datetime.UTC)
    diff = unified_json_diff({"created": when}, {"created": None}, "x")
    assert '-  "created": "2024-01-02 00:00:00+00:00"' in diff
