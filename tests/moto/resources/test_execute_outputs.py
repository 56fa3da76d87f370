"""Values known only at apply time: outputs a change publishes, generated values, already-existing objects."""

from __future__ import annotations

import pytest

from iamflow.errors import ApplyError
from iamflow.resources.base import Change, Check, Generated, Output, Plan
from iamflow.resources.execute import execute_plan

KEY_ID = Output("key_id", "id of the new key")


def _create_key(description: str = "d", name: str = "key_id") -> Change:
    return Change("kms", "create_key", {"Description": description}, "create key",
                  publish={name: ("KeyMetadata", "KeyId")})


def test_outputs_fill_nested_params_and_the_plan_keeps_the_placeholder(clients):
    plan = Plan(resource="kms_key.k", changes=[
        _create_key(),
        Change("kms", "create_alias", {"AliasName": "alias/k", "TargetKeyId": KEY_ID}, "create alias"),
        Change("kms", "tag_resource", {"KeyId": KEY_ID, "Tags": [{"TagKey": "t", "TagValue": "v"}]}, "tag"),
        Change("kms", "enable_key_rotation", {"KeyId": KEY_ID}, "enable rotation"),
    ])
    outputs = execute_plan(clients, plan)
    kms = clients.client("kms")
    key_id = outputs["key_id"]
    assert kms.describe_key(KeyId="alias/k")["KeyMetadata"]["KeyId"] == key_id
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True
    assert kms.list_resource_tags(KeyId=key_id)["Tags"] == [{"TagKey": "t", "TagValue": "v"}]
    # the plan itself keeps the placeholder: it describes what to do, not what was done
    assert plan.changes[1].params["TargetKeyId"] is KEY_ID
    assert repr(KEY_ID) == "<id of the new key>"


def test_two_calls_of_one_operation_publish_under_their_own_names(clients):
    """Outputs are named, so the second create_key cannot shadow the first."""
    first, second = Output("first"), Output("second")
    plan = Plan(resource="kms_key.k", changes=[
        _create_key("one", "first"),
        _create_key("two", "second"),
        Change("kms", "create_alias", {"AliasName": "alias/one", "TargetKeyId": first}, "alias one"),
        Change("kms", "create_alias", {"AliasName": "alias/two", "TargetKeyId": second}, "alias two"),
    ])
    execute_plan(clients, plan)
    kms = clients.client("kms")
    assert kms.describe_key(KeyId="alias/one")["KeyMetadata"]["Description"] == "one"
    assert kms.describe_key(KeyId="alias/two")["KeyMetadata"]["Description"] == "two"


def test_an_output_nothing_published_is_an_apply_error_with_its_message(clients):
    missing = Output("missing-pool:p", missing="user pool 'p' was not found; converge it first")
    plan = Plan(resource="cognito_group.g", changes=[
        Change("cognito-idp", "create_group", {"GroupName": "g", "UserPoolId": missing}, "create group"),
    ])
    with pytest.raises(ApplyError, match="user pool 'p' was not found"):
        execute_plan(clients, plan)
    with pytest.raises(ApplyError, match="no earlier change of this plan published 'key_id'"):
        execute_plan(clients, Plan(resource="kms_key.k", changes=[
            Change("kms", "enable_key_rotation", {"KeyId": KEY_ID}, "enable rotation")]))


def test_a_generated_value_is_produced_once_and_shared_by_every_change(clients):
    produced: list[str] = []

    def produce() -> str:
        produced.append(f"Value-{len(produced)}-Xy9!")
        return produced[-1]

    value = Generated("password:u", produce, "generated at apply time")
    plan = Plan(resource="secret.s", changes=[
        Change("secretsmanager", "create_secret", {"Name": "a", "SecretString": value}, "create a",
               sensitive=("SecretString",)),
        Change("secretsmanager", "create_secret", {"Name": "b", "SecretString": value}, "create b",
               sensitive=("SecretString",)),
    ])
    execute_plan(clients, plan)
    sm = clients.client("secretsmanager")
    assert len(produced) == 1
    assert sm.get_secret_value(SecretId="a")["SecretString"] == produced[0]
    assert sm.get_secret_value(SecretId="b")["SecretString"] == produced[0]
    assert produced[0] not in repr(plan.changes)


def test_on_exists_runs_the_fallback_when_the_object_is_already_there(clients):
    sm = clients.client("secretsmanager")
    sm.create_secret(Name="left-behind", SecretString="old")
    value = Generated("v", lambda: "New-Value-1!", "generated at apply time")
    create = Change("secretsmanager", "create_secret", {"Name": "left-behind", "SecretString": value}, "create",
                    sensitive=("SecretString",),
                    on_exists=Change("secretsmanager", "put_secret_value",
                                     {"SecretId": "left-behind", "SecretString": value}, "write a new value",
                                     sensitive=("SecretString",)))
    execute_plan(clients, Plan(resource="secret.left-behind", changes=[create]))
    assert sm.get_secret_value(SecretId="left-behind")["SecretString"] == "New-Value-1!"
    # without a fallback, the same conflict is an error naming the step
    bare = Change("secretsmanager", "create_secret", {"Name": "left-behind", "SecretString": "x"}, "create it again")
    with pytest.raises(ApplyError, match="Failed to create it again: ResourceExistsException"):
        execute_plan(clients, Plan(resource="secret.left-behind", changes=[bare]))


def test_checks_run_after_the_changes_and_see_the_outputs(clients):
    seen: list[str] = []

    def verify(c, outputs) -> str:
        seen.append(c.client("kms").describe_key(KeyId=outputs["key_id"])["KeyMetadata"]["KeyState"])
        return "key verified"

    plan = Plan(resource="kms_key.k", changes=[_create_key()], checks=[Check("verify the key", verify)])
    execute_plan(clients, plan)
    assert seen == ["Enabled"]
    assert plan.notes == ["key verified"]
    # a plan without changes runs no check
    idle = Plan(resource="kms_key.k", checks=[Check("verify the key", verify)])
    execute_plan(clients, idle)
    assert seen == ["Enabled"]
