"""Tag comparison (purge, no purge, aws: tags, unmanaged) and list conversions."""

from __future__ import annotations

from typing import Any

import pytest

from iamflow.policy import compare_tags, tags_from_list, tags_to_list

CURRENT = {"team": "core", "env": "dev", "aws:cloudformation:stack-name": "base", "AWS:Other": "x"}


@pytest.mark.parametrize(
    ("current", "desired", "purge", "to_set", "to_remove"),
    [
        (CURRENT, None, True, {}, []),
        (CURRENT, None, False, {}, []),
        (CURRENT, {"team": "core", "env": "dev"}, True, {}, []),
        (CURRENT, {"team": "core", "env": "prod"}, True, {"env": "prod"}, []),
        (CURRENT, {"team": "core"}, True, {}, ["env"]),
        (CURRENT, {"team": "core"}, False, {}, []),
        (CURRENT, {}, True, {}, ["env", "team"]),
        (CURRENT, {}, False, {}, []),
        (CURRENT, {"owner": "alice"}, True, {"owner": "alice"}, ["env", "team"]),
        (CURRENT, {"owner": "alice"}, False, {"owner": "alice"}, []),
        ({}, {"team": "core"}, True, {"team": "core"}, []),
        (None, {"team": "core"}, True, {"team": "core"}, []),
        ({"cost": "2024", "on": "true"}, {"cost": 2024, "on": True}, True, {}, []),
        ({"Team": "core"}, {"team": "core"}, True, {"team": "core"}, ["Team"]),
    ],
    ids=[
        "none-is-unmanaged",
        "none-is-unmanaged-without-purge",
        "equal",
        "changed-value",
        "purge-removes-extra",
        "no-purge-keeps-extra",
        "empty-map-purges-all-but-aws",
        "empty-map-without-purge",
        "add-and-purge",
        "add-without-purge",
        "from-empty",
        "current-none",
        "scalars-compare-as-strings",
        "keys-are-case-sensitive",
    ],
)
def test_compare_tags(
    current: dict[str, str] | None,
    desired: dict[str, Any] | None,
    purge: bool,
    to_set: dict[str, str],
    to_remove: list[str],
) -> None:
    assert compare_tags(current, desired, purge=purge) == (to_set, to_remove)


def test_aws_tags_are_never_removed() -> None:
    _to_set, to_remove = compare_tags(CURRENT, {}, purge=True)
    assert not any(k.lower().startswith("aws:") for k in to_remove)


@pytest.mark.parametrize(
    ("key_name", "value_name"),
    [("Key", "Value"), ("TagKey", "TagValue")],
    ids=["iam", "kms"],
)
def test_list_round_trip(key_name: str, value_name: str) -> None:
    tags = {"team": "core", "env": "dev"}
    as_list = tags_to_list(tags, key_name, value_name)
    assert as_list == [{key_name: "env", value_name: "dev"}, {key_name: "team", value_name: "core"}]
    assert tags_from_list(as_list, key_name, value_name) == tags


def test_empty_and_none_lists() -> None:
    assert tags_to_list({}) == []
    assert tags_to_list(None) == []
    assert tags_from_list([]) == {}
    assert tags_from_list(None) == {}
