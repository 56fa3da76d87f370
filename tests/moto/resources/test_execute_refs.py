"""Ref: a change's param taken from an earlier change's response, resolved at execution time."""

from __future__ import annotations

import pytest

from iamflow.errors import ApplyError
from iamflow.resources.base import Change, Plan
from iamflow.resources.execute import Ref, execute_changes, resolve_refs

KEY_ID = Ref("kms.create_key", ("KeyMetadata", "KeyId"))


def test_resolve_refs_in_nested_params():
    responses = {"kms.create_key": {"KeyMetadata": {"KeyId": "k-1"}}}
    params = {"KeyId": KEY_ID, "List": [KEY_ID, "x"], "Nested": {"Id": KEY_ID}, "Plain": 3}
    assert resolve_refs(params, responses) == {"KeyId": "k-1", "List": ["k-1", "x"], "Nested": {"Id": "k-1"},
                                               "Plain": 3}
    assert repr(KEY_ID) == "<KeyMetadata.KeyId of kms.create_key>"


def test_an_unresolvable_ref_is_an_apply_error():
    with pytest.raises(ApplyError, match="kms.create_key has not run earlier"):
        resolve_refs({"KeyId": KEY_ID}, {})


def test_execute_changes_feeds_a_new_key_id_to_later_changes(clients, call_log):
    plan = Plan(resource="kms_key.k", changes=[
        Change("kms", "create_key", {"Description": "d"}, "create key"),
        Change("kms", "create_alias", {"AliasName": "alias/k", "TargetKeyId": KEY_ID}, "create alias"),
        Change("kms", "enable_key_rotation", {"KeyId": KEY_ID}, "enable rotation"),
    ])
    responses = execute_changes(clients, plan)
    key_id = responses["kms.create_key"]["KeyMetadata"]["KeyId"]
    kms = clients.client("kms")
    assert kms.describe_key(KeyId="alias/k")["KeyMetadata"]["KeyId"] == key_id
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True
    # the plan itself keeps the Ref: it is a description of what to do, not of what was done
    assert plan.changes[1].params["TargetKeyId"] is KEY_ID
