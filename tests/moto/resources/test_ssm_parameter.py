"""ssm_parameter against in-process moto: generated SecureStrings that never show, drift, faults, no-op."""

from __future__ import annotations

import json
import logging
from typing import Any

import boto3
import pytest
from _handler_helpers import converge, make_env, operations, plan_of, tag_map
from botocore.exceptions import ClientError

from iamflow.errors import ApplyError
from iamflow.resources import handler_for
from iamflow.spec.kinds_ssm import SsmParameter
from tests.helpers.faults import fail_nth_write, lose_nth_write

HANDLER = handler_for("ssm_parameter")
NAME = "/myapp/database/password"


def secure(**fields: Any) -> SsmParameter:
    fields.setdefault("generate", {"length": 40, "exclude_punctuation": True})
    return SsmParameter(kind="ssm_parameter", name=NAME, type="SecureString", **fields)


def plain(**fields: Any) -> SsmParameter:
    fields.setdefault("value", "db.internal")
    return SsmParameter(kind="ssm_parameter", name="/myapp/database/host", **fields)


@pytest.fixture
def ssm(clients: Any) -> Any:
    """A plain client (outside the call log) for reading values and making drift."""
    return boto3.client("ssm", region_name="us-east-1")


def value_of(ssm: Any, name: str = NAME) -> str:
    return str(ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])


def meta_of(ssm: Any, name: str = NAME) -> dict[str, Any]:
    return dict(ssm.describe_parameters(
        ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": [name]}])["Parameters"][0])


def test_a_securestring_is_generated_at_apply_and_never_shown(clients, ssm, caplog):
    caplog.set_level(logging.DEBUG)
    res = secure(description="myapp database password", tags={"Application": "myapp"})
    env = make_env(clients, res)
    plan = plan_of(clients, res, env)
    assert operations(plan) == ["put_parameter"]
    shown = [plan.diff(), json.dumps(plan.summary()), repr(plan.changes),
             json.dumps(plan.changes[0].public_params(), default=repr)]
    HANDLER.apply(clients, plan)

    value = value_of(ssm)
    assert len(value) == 40 and value.isalnum()
    meta = meta_of(ssm)
    assert meta["Type"] == "SecureString" and meta["Description"] == "myapp database password"
    tags = tag_map(ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=NAME)["TagList"])
    assert tags == {"Application": "myapp", "iamflow:id": "t/ssm_parameter./myapp/database/password"}
    assert "never shown" in plan.diff()
    for text in [caplog.text, *shown]:
        assert value not in text


def test_a_re_run_makes_no_write_and_a_changed_value_survives(clients, ssm, call_log):
    res = secure(tags={"a": "b"})
    env = make_env(clients, res)
    converge(HANDLER, clients, res, env)
    ssm.put_parameter(Name=NAME, Value="rotated-elsewhere", Type="SecureString", Overwrite=True)
    call_log.reset()

    plan = converge(HANDLER, clients, res, env)

    assert not plan.changed and plan.diff() == "", plan.summary()
    assert call_log.count(writes=True) == 0
    # a SecureString's value is never read to compare it
    assert call_log.by_operation() == {"ssm:DescribeParameters": 1, "ssm:ListTagsForResource": 1}
    assert value_of(ssm) == "rotated-elsewhere"


def test_a_string_parameter_converges_its_value_and_then_stays_put(clients, ssm, call_log):
    res = plain(description="database host", allowed_pattern=r"^[a-z.]+$", tags={"Application": "myapp"})
    env = make_env(clients, res)
    converge(HANDLER, clients, res, env)
    assert value_of(ssm, res.name) == "db.internal"
    call_log.reset()
    assert not converge(HANDLER, clients, res, env).changed
    assert call_log.count(writes=True) == 0


def test_drift_is_shown_converged_and_then_stays_put(clients, ssm, call_log):
    res = plain(description="database host", tags={"Application": "myapp"})
    env = make_env(clients, res)
    converge(HANDLER, clients, res, env)
    ssm.put_parameter(Name=res.name, Value="evil.example", Type="String", Overwrite=True, Description="changed")
    ssm.add_tags_to_resource(ResourceType="Parameter", ResourceId=res.name, Tags=[{"Key": "extra", "Value": "x"}])

    plan = plan_of(clients, res, env)
    assert operations(plan) == ["put_parameter", "remove_tags_from_resource"]
    assert "evil.example" in plan.diff() and "db.internal" in plan.diff()
    HANDLER.apply(clients, plan)

    assert value_of(ssm, res.name) == "db.internal"
    assert meta_of(ssm, res.name)["Description"] == "database host"
    assert "extra" not in tag_map(ssm.list_tags_for_resource(ResourceType="Parameter",
                                                             ResourceId=res.name)["TagList"])
    call_log.reset()
    assert not converge(HANDLER, clients, res, env).changed
    assert call_log.count(writes=True) == 0


def test_securestring_metadata_drift_keeps_the_value_without_showing_it(clients, ssm, caplog):
    caplog.set_level(logging.DEBUG)
    res = secure(description="wanted")
    env = make_env(clients, res)
    converge(HANDLER, clients, res, env)
    before = value_of(ssm)
    ssm.put_parameter(Name=NAME, Value=before, Type="SecureString", Overwrite=True, Description="drifted")

    plan = plan_of(clients, res, env)
    assert operations(plan) == ["get_parameter", "put_parameter"]
    assert "the value is kept" in plan.changes[-1].summary
    HANDLER.apply(clients, plan)

    assert value_of(ssm) == before
    assert meta_of(ssm)["Description"] == "wanted"
    assert before not in caplog.text and before not in plan.diff() and before not in json.dumps(plan.summary())


def test_check_mode_makes_no_write_on_create_and_on_drift(clients, check_clients, ssm, call_log):
    res = secure(description="wanted")
    env = make_env(clients, res)
    plan = plan_of(check_clients, res, env)
    assert operations(plan) == ["put_parameter"]
    with pytest.raises(Exception, match="check mode"):
        HANDLER.apply(check_clients, plan)
    assert call_log.count(writes=True) == 0
    assert not ssm.describe_parameters()["Parameters"]

    converge(HANDLER, clients, res, env)
    ssm.put_parameter(Name=NAME, Value="x" * 12, Type="SecureString", Overwrite=True, Description="drifted")
    call_log.reset()
    plan = plan_of(check_clients, res, env)
    assert plan.changed
    assert call_log.count(writes=True) == 0
    assert meta_of(ssm)["Description"] == "drifted"


def test_absent_deletes_and_is_then_ok(clients, ssm, call_log):
    res = plain()
    env = make_env(clients, res)
    converge(HANDLER, clients, res, env)
    gone = SsmParameter(kind="ssm_parameter", name=res.name, state="absent")
    assert operations(converge(HANDLER, clients, gone, make_env(clients, gone))) == ["delete_parameter"]
    assert not ssm.describe_parameters()["Parameters"]
    call_log.reset()
    assert not converge(HANDLER, clients, gone, make_env(clients, gone)).changed
    assert call_log.count(writes=True) == 0


def test_type_change_from_string_to_securestring_generates_a_value(clients, ssm):
    res = SsmParameter(kind="ssm_parameter", name=NAME, value="was-plain-text")
    env = make_env(clients, res)
    converge(HANDLER, clients, res, env)
    plan = converge(HANDLER, clients, secure(), make_env(clients, secure()))
    assert "type (String → SecureString)" in plan.changes[0].summary
    assert meta_of(ssm)["Type"] == "SecureString"
    assert value_of(ssm) != "was-plain-text" and len(value_of(ssm)) == 40


def test_advanced_to_standard_is_blocked_without_allow_replace(clients, call_log):
    res = plain(tier="Advanced")
    env = make_env(clients, res)
    converge(HANDLER, clients, res, env)
    down = plain(tier="Standard")
    call_log.reset()
    plan = plan_of(clients, down, make_env(clients, down))
    assert plan.blocked and "replacement required" in plan.blocked
    with pytest.raises(ApplyError, match="replacement required"):
        HANDLER.apply(clients, plan)
    assert call_log.count(writes=True) == 0
    replaced = plain(tier="Standard", allow_replace=True)
    plan = converge(HANDLER, clients, replaced, make_env(clients, replaced))
    assert operations(plan) == ["delete_parameter", "put_parameter"]


def test_a_failed_write_names_the_parameter_and_a_retry_converges(clients, ssm):
    res = plain(tags={"a": "b"})
    env = make_env(clients, res)
    fault = fail_nth_write(clients, 1, code="AccessDeniedException")
    with pytest.raises(ApplyError, match=r"^Failed to create String parameter /myapp/database/host.*AccessDenied"):
        converge(HANDLER, clients, res, env)
    fault.remove()
    assert not ssm.describe_parameters()["Parameters"]
    converge(HANDLER, clients, res, env)
    assert not plan_of(clients, res, env).changed


def test_a_throttled_write_propagates_for_the_task_retry(clients):
    res = plain()
    env = make_env(clients, res)
    fail_nth_write(clients, 1, code="ThrottlingException")
    with pytest.raises(ClientError) as raised:
        converge(HANDLER, clients, res, env)
    assert raised.value.response["Error"]["Code"] == "ThrottlingException"


def test_a_lost_create_answer_adopts_the_parameter_without_overwriting_it(clients, ssm, no_retry_delay):
    res = secure()
    env = make_env(clients, res)
    lose_nth_write(clients, 1)
    plan = converge(HANDLER, clients, res, env)
    assert any("adopted" in n for n in plan.notes)
    meta = meta_of(ssm)
    assert meta["Version"] == 1  # the retry did not write a second value
    assert not plan_of(clients, res, env).changed


def test_a_failing_create_never_echoes_the_value(clients, monkeypatch):
    res = secure()
    env = make_env(clients, res)
    seen: list[str] = []
    real = clients.client

    class Failing:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def __getattr__(self, name: str) -> Any:
            if name != "put_parameter":
                return getattr(self.inner, name)

            def boom(**params: Any) -> Any:
                seen.append(params["Value"])
                raise ClientError({"Error": {"Code": "ValidationException",
                                             "Message": f"bad value {params['Value']}"}}, "PutParameter")
            return boom

    monkeypatch.setattr(clients, "client", lambda service, **kw: Failing(real(service, **kw)))
    with pytest.raises(ApplyError) as raised:
        converge(HANDLER, clients, res, env)
    assert seen and seen[0] not in str(raised.value)
