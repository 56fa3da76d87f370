"""The test fault injector: exact, protocol-correct, and invisible to moto when it answers."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from iamflow.aws.clients import MAX_ATTEMPTS, AwsClients, CallLog
from iamflow.aws.local import LocalAws
from tests.helpers.faults import fail_nth_write, throttle_first

TRUST = json.dumps({"Version": "2012-10-17", "Statement": []})


def _role_names(clients: AwsClients) -> list[str]:
    return sorted(r["RoleName"] for r in clients.client("iam").list_roles()["Roles"])


def test_exactly_the_nth_write_fails_and_is_not_executed(clients: AwsClients) -> None:
    fault = fail_nth_write(clients, 2)
    iam = clients.client("iam")
    iam.list_roles()  # reads are not counted
    iam.create_role(RoleName="first", AssumeRolePolicyDocument=TRUST)
    with pytest.raises(ClientError) as raised:
        iam.create_role(RoleName="second", AssumeRolePolicyDocument=TRUST)
    iam.create_role(RoleName="third", AssumeRolePolicyDocument=TRUST)

    assert raised.value.response["Error"]["Code"] == "ServiceFailure"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert fault.failed == [("iam", "CreateRole")]
    assert fault.writes_seen == 3
    # moto never saw the failed call: nothing half-done hides a missing converge step
    assert _role_names(clients) == ["first", "third"]


def test_writes_are_counted_across_services(clients: AwsClients, call_log: CallLog) -> None:
    fault = fail_nth_write(clients, 3, code="KMSInternalException")
    iam = clients.client("iam")
    iam.create_role(RoleName="a", AssumeRolePolicyDocument=TRUST)  # write 1 (client made before)
    kms = clients.client("kms")  # client made after the injector was installed
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]  # write 2
    with pytest.raises(kms.exceptions.KMSInternalException):  # JSON protocol, modelled exception
        kms.enable_key_rotation(KeyId=key_id)  # write 3
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is False
    assert fault.failed == [("kms", "EnableKeyRotation")]
    assert call_log.count(writes=True) == 3


def test_modelled_query_protocol_exception(clients: AwsClients) -> None:
    fail_nth_write(clients, 1, code="EntityAlreadyExists", message="Role with name a already exists.")
    iam = clients.client("iam")
    with pytest.raises(iam.exceptions.EntityAlreadyExistsException, match="already exists"):
        iam.create_role(RoleName="a", AssumeRolePolicyDocument=TRUST)


def test_retried_server_error_fails_every_attempt(clients: AwsClients, no_retry_delay: None) -> None:
    fault = fail_nth_write(clients, 1, status=500)
    with pytest.raises(ClientError) as raised:
        clients.client("iam").create_role(RoleName="a", AssumeRolePolicyDocument=TRUST)
    # iamflow's clients make MAX_ATTEMPTS attempts (adaptive retries; iamflow.aws.clients)
    assert raised.value.response["ResponseMetadata"]["RetryAttempts"] == MAX_ATTEMPTS - 1
    assert fault.failed_sends == MAX_ATTEMPTS
    assert _role_names(clients) == []


def test_remove_stops_injection(clients: AwsClients) -> None:
    fault = fail_nth_write(clients, 1)
    fault.remove()
    clients.client("iam").create_role(RoleName="a", AssumeRolePolicyDocument=TRUST)
    assert _role_names(clients) == ["a"]


def test_throttled_write_is_retried_once_executed(clients: AwsClients, no_retry_delay: None) -> None:
    iam = clients.client("iam")
    throttle = throttle_first(iam, 2)
    response = iam.create_role(RoleName="a", AssumeRolePolicyDocument=TRUST)
    # were the throttled attempts executed by moto, the retry would hit EntityAlreadyExists
    assert response["ResponseMetadata"]["RetryAttempts"] == 2
    assert throttle.throttled == 2
    assert _role_names(clients) == ["a"]


def test_throttling_beyond_the_retry_budget_surfaces(clients: AwsClients, no_retry_delay: None) -> None:
    secrets = clients.client("secretsmanager")
    throttle_first(secrets, 10, operation="ListSecrets")
    with pytest.raises(ClientError) as raised:
        secrets.list_secrets()
    assert raised.value.response["Error"]["Code"] == "ThrottlingException"
    # other operations are untouched
    assert secrets.create_secret(Name="s", SecretString="v")["Name"] == "s"


def test_injection_works_against_a_server(local_aws: LocalAws, no_retry_delay: None) -> None:
    import boto3

    session = boto3.Session(region_name="us-east-1")
    clients = AwsClients(lambda service: session.client(service, endpoint_url=local_aws.endpoint_url))
    fail_nth_write(clients, 1)
    iam = clients.client("iam")
    with pytest.raises(ClientError, match="ServiceFailure"):
        iam.create_role(RoleName="a", AssumeRolePolicyDocument=TRUST)
    throttle_first(iam, 1)
    iam.create_role(RoleName="b", AssumeRolePolicyDocument=TRUST)
    assert _role_names(clients) == ["b"]
