"""secret against in-process moto: a generated value that never shows, idempotence, rotation, deletion."""

from __future__ import annotations

import io
import json
import logging
import re
import zipfile
from typing import Any

import boto3
import pytest
from _handler_helpers import converge, make_env, operations, plan_of

from iamflow.engine import format_result, run_resource
from iamflow.errors import ApplyError
from iamflow.resources import handler_for
from iamflow.spec.kinds_secrets import Secret

HANDLER = handler_for("secret")
FN = "myapp-secret-rotation"
LAMBDA_ARN = "arn:${partition}:lambda:${region}:${account_id}:function:" + FN
TEMPLATE = {"username": "app", "password": {"generate": {"length": 32, "exclude_punctuation": True}},
            "host": "db.internal", "port": 5432}


def secret(**fields: Any) -> Secret:
    fields.setdefault("template", TEMPLATE)
    return Secret(kind="secret", name="myapp/database/credentials", **fields)


def rotation(**extra: Any) -> dict[str, Any]:
    return {"lambda_arn": LAMBDA_ARN, "every_days": 30, **extra}


@pytest.fixture
def sm(clients: Any) -> Any:
    """A plain client (outside the call log) for reading values and making drift."""
    return boto3.client("secretsmanager", region_name="us-east-1")


@pytest.fixture
def rotation_lambda(clients: Any) -> str:
    iam = boto3.client("iam", region_name="us-east-1")
    role = iam.create_role(RoleName="rot", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.py", "def handler(event, context):\n    return None\n")
    return boto3.client("lambda", region_name="us-east-1").create_function(
        FunctionName=FN, Runtime="python3.11", Role=role, Handler="index.handler", Code={"ZipFile": buf.getvalue()}
    )["FunctionArn"]


def current_value(sm: Any) -> str:
    return sm.get_secret_value(SecretId="myapp/database/credentials", VersionStage="AWSCURRENT")["SecretString"]


def assert_hidden(value: str, *texts: str) -> None:
    password = json.loads(value)["password"] if value.startswith("{") else value
    for text in texts:
        assert value not in text and password not in text


def test_create_writes_a_generated_value_that_no_plan_log_or_summary_shows(clients, sm, caplog):
    caplog.set_level(logging.DEBUG)
    env = make_env(clients, secret(description="db", tags={"Environment": "production"}))
    res = env.playbook.resources[0]
    plan = plan_of(clients, res, env)
    assert operations(plan) == ["create_secret"]
    assert plan.changes[0].sensitive == ("SecretString",)
    shown = [plan.diff(), json.dumps(plan.summary()), repr(plan.changes), json.dumps(plan.changes[0].public_params(),
                                                                                       default=repr)]
    HANDLER.apply(clients, plan)

    value = current_value(sm)
    data = json.loads(value)
    assert set(data) == {"username", "password", "host", "port"}
    assert data["username"] == "app" and data["port"] == 5432
    assert re.fullmatch(r"[A-Za-z0-9]{32}", data["password"])
    assert any(c.isdigit() for c in data["password"]) and any(c.isupper() for c in data["password"])
    described = sm.describe_secret(SecretId="myapp/database/credentials")
    assert described["Description"] == "db"
    assert "generated at apply time" in plan.changes[0].summary
    assert_hidden(value, caplog.text, *shown)


def test_generate_spec_is_honoured_and_plain_strings_work(clients, sm):
    res = Secret(kind="secret", name="plain", generate={"length": 64, "exclude_characters": "abc",
                                                        "exclude_punctuation": True})
    converge(HANDLER, clients, res, make_env(clients, res))
    value = sm.get_secret_value(SecretId="plain", VersionStage="AWSCURRENT")["SecretString"]
    assert len(value) == 64 and not set(value) & set("abc") and value.isalnum()


def test_a_re_run_makes_no_write_and_a_rotated_value_survives(clients, sm, call_log, rotation_lambda):
    res = secret(rotation=rotation(), tags={"a": "b"}, resource_policy={
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "secretsmanager:DeleteSecret", "Resource": "*"}],
    })
    env = make_env(clients, res)
    converge(HANDLER, clients, res, env)
    # a rotation outside iamflow (the four steps, done by hand)
    old = sm.describe_secret(SecretId=res.name)["VersionIdsToStages"]
    old_id = next(v for v, s in old.items() if "AWSCURRENT" in s)
    new = sm.put_secret_value(SecretId=res.name, SecretString='{"rotated": "elsewhere"}',
                              VersionStages=["AWSPENDING"])["VersionId"]
    sm.update_secret_version_stage(SecretId=res.name, VersionStage="AWSCURRENT", MoveToVersionId=new,
                                   RemoveFromVersionId=old_id)
    call_log.reset()

    plan = converge(HANDLER, clients, res, env)

    assert not plan.changed, plan.summary()
    assert plan.diff() == ""
    assert call_log.count(writes=True) == 0
    assert call_log.by_operation() == {"secretsmanager:DescribeSecret": 1, "secretsmanager:GetResourcePolicy": 1}
    assert current_value(sm) == '{"rotated": "elsewhere"}'


def test_rotation_is_configured_without_rotating_and_the_lambda_is_checked_once(clients, sm, rotation_lambda):
    res = secret(rotation=rotation())
    plan = converge(HANDLER, clients, res, make_env(clients, res))
    assert operations(plan) == ["create_secret", "rotate_secret"]
    rotate = plan.changes[1].params
    assert rotate["RotateImmediately"] is False
    assert rotate["RotationLambdaARN"] == rotation_lambda
    assert rotate["RotationRules"] == {"AutomaticallyAfterDays": 30}
    d = sm.describe_secret(SecretId=res.name)
    assert d["RotationEnabled"] and d["RotationRules"]["AutomaticallyAfterDays"] == 30


def test_changed_rotation_period_and_cancel(clients, sm, rotation_lambda):
    env = make_env(clients, secret(rotation=rotation()))
    converge(HANDLER, clients, env.playbook.resources[0], env)
    plan = converge(HANDLER, clients, secret(rotation=rotation(every_days=7)), env)
    assert operations(plan) == ["rotate_secret"]
    assert sm.describe_secret(SecretId="myapp/database/credentials")["RotationRules"]["AutomaticallyAfterDays"] == 7
    plan = converge(HANDLER, clients, secret(rotation=None), env)
    assert operations(plan) == ["cancel_rotate_secret"]
    assert not sm.describe_secret(SecretId="myapp/database/credentials")["RotationEnabled"]
    # rotation left out is unmanaged: nothing happens
    assert not plan_of(clients, secret(), env).changed


def test_rotate_now_writes_a_new_value_and_says_so_without_showing_it(clients, sm, caplog):
    caplog.set_level(logging.DEBUG)
    env = make_env(clients, secret())
    converge(HANDLER, clients, env.playbook.resources[0], env)
    first = current_value(sm)

    res = secret(rotate_now=True)
    result = run_resource(clients, make_env(clients, res).playbook, res.key)
    second = current_value(sm)

    assert result.status == "changed"
    assert any("new generated value" in c for c in result.changes)
    assert any("rotate_now is set" in n for n in result.notes)
    assert second != first
    text = format_result(result, diff=True) + json.dumps(result.to_dict())
    assert_hidden(first, text, caplog.text)
    assert_hidden(second, text, caplog.text)
    versions = sm.describe_secret(SecretId=res.name)["VersionIdsToStages"]
    assert sorted(s for labels in versions.values() for s in labels) == ["AWSCURRENT", "AWSPREVIOUS"]


def test_check_mode_makes_no_write(clients, check_clients, call_log, rotation_lambda):
    res = secret(rotation=rotation(), tags={"x": "y"})
    env = make_env(clients, res)
    call_log.reset()
    result = run_resource(check_clients, env.playbook, res.key, check_mode=True)
    assert result.status == "changed"
    assert call_log.count(writes=True) == 0 and call_log.refused == []
    assert "(generated at apply time, never shown)" in result.diff
    # and on an existing secret with drift
    converge(HANDLER, clients, res, env)
    call_log.reset()
    result = run_resource(check_clients, make_env(clients, secret(rotation=rotation(), tags={"x": "z"},
                                                                  rotate_now=True)).playbook, res.key,
                          check_mode=True)
    assert result.status == "changed" and call_log.count(writes=True) == 0


def test_metadata_drift_is_converged_without_touching_the_value(clients, sm):
    env = make_env(clients, secret(description="one", tags={"a": "1", "b": "2"}))
    converge(HANDLER, clients, env.playbook.resources[0], env)
    value = current_value(sm)
    plan = converge(HANDLER, clients, secret(description="two", tags={"a": "1"},
                                             kms_key="arn:aws:kms:us-east-1:123456789012:alias/myapp-data-key"), env)
    assert operations(plan) == ["update_secret", "untag_resource"]
    assert "SecretString" not in plan.changes[0].params
    d = sm.describe_secret(SecretId="myapp/database/credentials")
    assert d["Description"] == "two" and d["KmsKeyId"].endswith("alias/myapp-data-key")
    assert current_value(sm) == value


def test_missing_lambda_fails_naming_it_and_writes_nothing(clients, call_log):
    res = secret(rotation=rotation())
    env = make_env(clients, res)
    plan = plan_of(clients, res, env)
    assert plan.blocked and f"function:{FN}" in plan.blocked and "does not exist" in plan.blocked
    call_log.reset()
    with pytest.raises(ApplyError, match=FN):
        HANDLER.apply(clients, plan)
    assert call_log.count(writes=True) == 0
    result = run_resource(clients, env.playbook, res.key)
    assert result.status == "failed" and FN in (result.error or "")
    assert call_log.count(writes=True) == 0


def test_absent_schedules_deletion_with_the_recovery_window_and_is_then_ok(clients, sm):
    env = make_env(clients, secret())
    converge(HANDLER, clients, env.playbook.resources[0], env)
    gone = Secret(kind="secret", name="myapp/database/credentials", state="absent", recovery_window_days=7)
    plan = converge(HANDLER, clients, gone, env)
    assert operations(plan) == ["delete_secret"]
    assert plan.changes[0].params == {"SecretId": gone.name, "RecoveryWindowInDays": 7}
    assert sm.describe_secret(SecretId=gone.name)["DeletedDate"]
    again = plan_of(clients, gone, env)
    assert not again.changed and "already scheduled" in again.notes[0]
    # a present declaration restores it, and does not overwrite the value
    plan = plan_of(clients, secret(), env)
    assert operations(plan) == ["restore_secret"]


def test_force_delete_only_when_asked(clients):
    env = make_env(clients, secret())
    converge(HANDLER, clients, env.playbook.resources[0], env)
    gone = Secret(kind="secret", name="myapp/database/credentials", state="absent", force_delete=True)
    plan = plan_of(clients, gone, env)
    assert plan.changes[0].params == {"SecretId": gone.name, "ForceDeleteWithoutRecovery": True}
    assert "RecoveryWindowInDays" not in plan.changes[0].params


def test_an_absent_secret_that_never_existed_is_ok(clients, call_log):
    gone = Secret(kind="secret", name="nothing/here", state="absent")
    plan = converge(HANDLER, clients, gone, make_env(clients, gone))
    assert not plan.changed and call_log.count(writes=True) == 0


def test_a_failing_create_never_echoes_the_value(clients, sm, monkeypatch):
    from botocore.exceptions import ClientError

    seen: dict[str, str] = {}
    client = clients.client("secretsmanager")

    def boom(**params: Any) -> Any:
        seen["value"] = params["SecretString"]
        raise ClientError({"Error": {"Code": "ValidationException",
                                     "Message": f"bad value {params['SecretString']}"}}, "CreateSecret")

    monkeypatch.setattr(client, "create_secret", boom)
    res = secret()
    plan = plan_of(clients, res, make_env(clients, res))
    with pytest.raises(ApplyError) as err:
        HANDLER.apply(clients, plan)
    assert seen["value"] not in str(err.value) and "<redacted>" in str(err.value)
