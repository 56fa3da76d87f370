"""execute_plan: ordered calls, permanent errors as ApplyError, transient ones re-raised; the registry."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from iamflow.aws.errors import is_transient
from iamflow.errors import ApplyError
from iamflow.resources import HANDLERS, handler_for
from iamflow.resources.base import Change, Plan
from iamflow.resources.execute import execute_plan
from tests.helpers.faults import fail_nth_write


def client_error(code: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op"
    )


@pytest.mark.parametrize(
    "code",
    ["Throttling", "ThrottlingException", "RequestLimitExceeded", "ServiceUnavailable", "ServiceFailure"],
)
def test_throttling_and_service_faults_are_transient(code):
    assert is_transient(client_error(code))


@pytest.mark.parametrize(
    "code", ["AccessDenied", "MalformedPolicyDocument", "LimitExceeded", "DeleteConflict"]
)
def test_request_faults_are_permanent(code):
    assert not is_transient(client_error(code))


def test_an_unmodelled_5xx_and_a_dropped_connection_are_transient():
    assert is_transient(client_error("SomethingNew", status=503))
    assert is_transient(EndpointConnectionError(endpoint_url="https://iam.amazonaws.com"))
    assert not is_transient(ValueError("x"))


def _plan(*changes: Change) -> Plan:
    return Plan(resource="iam_role.r", changes=list(changes))


def test_changes_run_in_order(clients, call_log):
    call_log.reset()
    execute_plan(
        clients,
        _plan(
            Change("iam", "create_user", {"UserName": "u"}, "create user u"),
            Change("iam", "tag_user", {"UserName": "u", "Tags": [{"Key": "a", "Value": "1"}]}, "tag user u"),
        ),
    )
    assert call_log.writes() == [("iam", "CreateUser"), ("iam", "TagUser")]


def test_a_permanent_error_names_the_step_and_stops(clients, call_log):
    call_log.reset()
    plan = _plan(
        Change(
            "iam",
            "attach_role_policy",
            {"RoleName": "nope", "PolicyArn": "arn:aws:iam::aws:policy/X"},
            "attach policy X to role nope",
        ),
        Change("iam", "create_user", {"UserName": "u"}, "create user u"),
    )
    with pytest.raises(
        ApplyError, match=r"^Failed to attach policy X to role nope: NoSuchEntity: "
    ) as raised:
        execute_plan(clients, plan)
    assert isinstance(raised.value.__cause__, ClientError)
    assert call_log.writes() == [("iam", "AttachRolePolicy")]


def test_sensitive_values_never_reach_the_message(clients):
    secret = "s3cr3t-Passw0rd!"
    fail_nth_write(clients, 1, code="PasswordPolicyViolation", message=f"password {secret} is too weak")
    plan = _plan(
        Change(
            "iam",
            "create_login_profile",
            {"UserName": "u", "Password": secret},
            "set the console password of user u",
            sensitive=("Password",),
        )
    )
    with pytest.raises(ApplyError) as raised:
        execute_plan(clients, plan)
    assert secret not in str(raised.value)
    assert "<redacted>" in str(raised.value)


def test_a_transient_error_propagates_unchanged(clients):
    fail_nth_write(clients, 1, code="Throttling")
    with pytest.raises(ClientError) as raised:
        execute_plan(clients, _plan(Change("iam", "create_user", {"UserName": "u"}, "create user u")))
    assert raised.value.response["Error"]["Code"] == "Throttling"


def test_a_blocked_plan_is_refused_before_any_call(clients, call_log):
    call_log.reset()
    plan = _plan(Change("iam", "create_user", {"UserName": "u"}, "create user u"))
    plan.blocked = "replacement required"
    with pytest.raises(ApplyError, match="replacement required"):
        execute_plan(clients, plan)
    assert len(call_log) == 0


def test_the_registry_has_one_handler_per_kind_with_its_iam_actions():
    from iamflow.spec.models import RESOURCE_MODELS

    # every kind a playbook may declare has exactly one handler, and the other way round
    assert set(HANDLERS) == set(RESOURCE_MODELS)
    assert {"iam_managed_policy", "iam_role", "iam_instance_profile"} <= set(HANDLERS)
    for kind, handler in HANDLERS.items():
        assert handler_for(kind) is handler and handler.kind == kind
        assert handler.read_actions and handler.write_actions, f"{kind} declares no IAM actions"
        assert all(":" in a for a in handler.read_actions + handler.write_actions), kind
    for kind in ("iam_managed_policy", "iam_role", "iam_instance_profile"):
        handler = HANDLERS[kind]
        assert all(a.startswith("iam:") for a in handler.read_actions + handler.write_actions)
    with pytest.raises(KeyError, match="no handler for resource kind 'nope'"):
        handler_for("nope")
