"""AwsClients on in-process moto: check mode, call accounting, caller context."""

from __future__ import annotations

import json
import threading
from typing import Any

import boto3
import pytest

from iamflow.aws.clients import READ_ALLOW_LIST, AwsClients, CallLog, is_read_operation
from iamflow.errors import CheckModeViolation, IamflowError
from iamflow.resources.base import RunContext
from tests.helpers.faults import throttle_first

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


@pytest.mark.parametrize(
    ("service", "operation", "expected"),
    [
        ("iam", "GetRole", True),
        ("iam", "ListRoles", True),
        ("kms", "DescribeKey", True),
        ("sts", "GetCallerIdentity", True),
        ("cognito-idp", "AdminGetUser", True),
        ("iam", "SimulatePrincipalPolicy", True),
        ("iam", "CreateRole", False),
        ("iam", "GenerateCredentialReport", False),
        ("kms", "Decrypt", False),
        ("kms", "GenerateDataKey", False),
        ("secretsmanager", "BatchGetSecretValue", False),
        ("cognito-idp", "AdminCreateUser", False),
        ("organizations", "CreateAccount", False),
    ],
)
def test_read_classification(service: str, operation: str, expected: bool) -> None:
    assert is_read_operation(service, operation) is expected


def test_allow_list_names_real_operations() -> None:
    session = boto3.Session(region_name="us-east-1")
    for entry in READ_ALLOW_LIST:
        service, operation = entry.split(":")
        assert operation in session.client(service).meta.service_model.operation_names, entry


def test_check_mode_refuses_write_before_sending(
    clients: AwsClients, check_clients: AwsClients, call_log: CallLog
) -> None:
    with pytest.raises(CheckModeViolation, match=r"^check mode: refused write call iam:CreateRole$"):
        check_clients.client("iam").create_role(RoleName="app", AssumeRolePolicyDocument=TRUST)

    assert clients.client("iam").list_roles()["Roles"] == [], "the refused call must not create anything"
    assert call_log.refused == [("iam", "CreateRole")]
    assert call_log.writes() == [], "a refused call is not a call"


def test_check_mode_refuses_even_malformed_writes(check_clients: AwsClients) -> None:
    # refused before parameter validation: the refusal, not a ParamValidationError, is the answer
    with pytest.raises(CheckModeViolation, match="iam:CreateRole"):
        check_clients.client("iam").create_role()


def test_check_mode_allows_reads(clients: AwsClients, check_clients: AwsClients) -> None:
    clients.client("iam").create_role(RoleName="app", AssumeRolePolicyDocument=TRUST)
    role = check_clients.client("iam").get_role(RoleName="app")["Role"]
    assert role["RoleName"] == "app"
    paginator = check_clients.client("iam").get_paginator("list_roles")
    assert [r["RoleName"] for page in paginator.paginate() for r in page["Roles"]] == ["app"]
    assert check_clients.client("kms").list_keys()["Keys"] == []


def test_check_mode_guards_every_service(check_clients: AwsClients) -> None:
    attempts = {
        "kms": lambda c: c.create_key(),
        "secretsmanager": lambda c: c.create_secret(Name="s", SecretString="x"),
        "cognito-idp": lambda c: c.create_user_pool(PoolName="p"),
        "organizations": lambda c: c.create_organization(FeatureSet="ALL"),
    }
    for service, attempt in attempts.items():
        with pytest.raises(CheckModeViolation, match=f"{service}:"):
            attempt(check_clients.client(service))


def test_read_only_shares_the_log_and_leaves_the_original_writable(
    clients: AwsClients, call_log: CallLog
) -> None:
    dry = clients.read_only()
    assert dry.check_mode and not clients.check_mode
    assert dry.call_log is call_log
    with pytest.raises(CheckModeViolation):
        dry.client("iam").create_role(RoleName="app", AssumeRolePolicyDocument=TRUST)
    clients.client("iam").create_role(RoleName="app", AssumeRolePolicyDocument=TRUST)
    dry.client("iam").get_role(RoleName="app")
    assert call_log.calls == [("iam", "CreateRole"), ("iam", "GetRole")]
    assert clients.read_only() is dry, "made once: its clients are reused"
    assert dry.read_only() is dry


def test_call_log_counts_reads_and_writes(clients: AwsClients, call_log: CallLog) -> None:
    iam = clients.client("iam")
    iam.create_role(RoleName="a", AssumeRolePolicyDocument=TRUST)
    iam.get_role(RoleName="a")
    iam.get_role(RoleName="a")
    iam.tag_role(RoleName="a", Tags=[{"Key": "team", "Value": "x"}])
    clients.client("kms").list_keys()

    assert call_log.calls == [
        ("iam", "CreateRole"),
        ("iam", "GetRole"),
        ("iam", "GetRole"),
        ("iam", "TagRole"),
        ("kms", "ListKeys"),
    ]
    assert call_log.count() == 5
    assert call_log.count(writes=True) == 2
    assert call_log.count(writes=False) == 3
    assert call_log.count(service="kms") == 1
    assert call_log.count(writes=False, service="iam") == 2
    assert call_log.by_operation() == {
        "iam:CreateRole": 1,
        "iam:GetRole": 2,
        "iam:TagRole": 1,
        "kms:ListKeys": 1,
    }
    assert call_log.writes() == [("iam", "CreateRole"), ("iam", "TagRole")]
    call_log.reset()
    assert call_log.count() == 0 and call_log.calls == []


def test_failed_calls_are_logged_once_despite_retries(
    clients: AwsClients, call_log: CallLog, no_retry_delay: None
) -> None:
    iam = clients.client("iam")
    throttle = throttle_first(iam, 2)
    iam.list_roles()
    assert throttle.sends == 3, "two throttled attempts and one that passed"
    assert call_log.calls == [("iam", "ListRoles")]


def test_paginated_reads_count_one_call_per_page(clients: AwsClients, call_log: CallLog) -> None:
    iam = clients.client("iam")
    for i in range(3):
        iam.create_role(RoleName=f"r{i}", AssumeRolePolicyDocument=TRUST)
    call_log.reset()
    pages = list(iam.get_paginator("list_roles").paginate(PaginationConfig={"PageSize": 1}))
    assert call_log.count() == len(pages) == 3


def test_clients_are_cached_per_service(clients: AwsClients) -> None:
    assert clients.client("iam") is clients.client("iam")
    assert clients.client("iam") is not clients.client("kms")


def test_concurrent_first_use_creates_one_client(aws: Any) -> None:
    made: list[str] = []
    session = boto3.Session()

    def factory(service: str) -> Any:
        made.append(service)
        return session.client(service)

    shared = AwsClients(factory)
    barrier = threading.Barrier(8)
    seen: list[Any] = []

    def worker() -> None:
        barrier.wait()
        seen.append(shared.client("iam"))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert made == ["iam"]
    assert all(c is seen[0] for c in seen)


def test_caller_context_is_cached(clients: AwsClients, call_log: CallLog) -> None:
    ctx = clients.caller_context()
    assert ctx == RunContext(account_id="123456789012", partition="aws", region="us-east-1")
    assert clients.caller_context() is ctx
    assert clients.read_only().caller_context() is ctx
    assert call_log.by_operation() == {"sts:GetCallerIdentity": 1}


def test_caller_context_in_check_mode(check_clients: AwsClients) -> None:
    assert check_clients.caller_context().account_id == "123456789012"


def test_explicit_region_wins(aws: Any) -> None:
    clients = AwsClients.from_boto3(region="eu-west-1")
    assert clients.client("kms").meta.region_name == "eu-west-1"
    assert clients.caller_context().region == "eu-west-1"


def test_client_hooks_see_existing_and_later_clients(clients: AwsClients) -> None:
    clients.client("iam")
    seen: list[str] = []
    clients.add_client_hook(lambda service, client: seen.append(service))
    clients.client("kms")
    clients.client("iam")
    assert seen == ["iam", "kms"]


def test_a_client_shared_between_aws_clients_is_refused(aws: Any) -> None:
    shared = boto3.client("iam")
    AwsClients(lambda service: shared).client("iam")
    with pytest.raises(IamflowError, match="must build a new client on every call"):
        AwsClients(lambda service: shared, check_mode=True).client("iam")


@pytest.mark.parametrize("value", [
    "2024-05-01T12:00:00Z", "2024-05-01T12:00:00.123Z", "2024-05-01T12:00:00.123456789Z", "2015-06-12T10:00:00.5Z",
    "2024-05-01T12:00:00+00:00", "2024-05-01T07:00:00-05:00", "2024-05-01T07:00:00-0500", "2024-05-01T12:00:00",
    "2024-05-01 12:00:00", "1714564800", 1714564800, 1714564800.25, "Wed, 01 May 2024 12:00:00 GMT",
])
def test_timestamps_are_read_as_botocore_reads_them(value: Any) -> None:
    from botocore.utils import parse_timestamp as botocore_parse

    from iamflow.aws.clients import parse_timestamp

    ours, theirs = parse_timestamp(value), botocore_parse(value)
    assert ours == theirs and (ours.tzinfo is None) == (theirs.tzinfo is None)
    if ours.tzinfo is not None:
        assert ours.utcoffset() == theirs.utcoffset()


def test_a_bad_timestamp_is_refused_as_botocore_refuses_it() -> None:
    from iamflow.aws.clients import parse_timestamp

    with pytest.raises(ValueError):
        parse_timestamp("2024-13-45T99:00:00Z")  # the ISO shape, but no such date: botocore's parser says so


def test_clients_read_answers_with_the_fast_timestamp_parser(clients: AwsClients) -> None:
    from datetime import UTC

    created = clients.client("iam").create_user(UserName="stamped")["User"]["CreateDate"]
    # botocore's own parser gives dateutil's tzutc()/tzlocal(); datetime's reading gives UTC itself
    assert created.tzinfo is UTC
    listed = clients.client("iam").list_users()["Users"][0]["CreateDate"]
    assert listed == created
