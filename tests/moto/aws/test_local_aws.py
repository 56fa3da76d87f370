"""The embedded AWS (a moto server in this process) and the Airflow connection that reaches it."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator

import boto3
import pytest

from iamflow.aws import local
from iamflow.aws.clients import AwsClients
from iamflow.aws.hooks import clients_from_connection
from iamflow.aws.local import LocalAws, airflow_connection_json, free_port, local_env, serve
from iamflow.errors import CheckModeViolation, IamflowError

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port on 127.0.0.1 that something else is listening on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def _plain_client(local_aws: LocalAws, service: str) -> object:
    return boto3.client(
        service,
        endpoint_url=local_aws.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_clients_from_connection_reach_the_embedded_aws(local_aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", airflow_connection_json(local_aws.endpoint_url))
    clients = clients_from_connection("aws_default")

    created = clients.client("iam").create_role(RoleName="from-airflow", AssumeRolePolicyDocument=TRUST)
    assert created["Role"]["Arn"] == "arn:aws:iam::123456789012:role/from-airflow"
    # STS goes through the connection's service_config, not the real regional endpoint
    assert clients.caller_context().account_id == "123456789012"
    assert clients.client("iam").meta.endpoint_url == local_aws.endpoint_url

    role = _plain_client(local_aws, "iam").get_role(RoleName="from-airflow")["Role"]  # type: ignore[attr-defined]
    assert role["RoleName"] == "from-airflow"
    assert clients.call_log.calls == [("iam", "CreateRole"), ("sts", "GetCallerIdentity")]


def test_from_boto3_honours_aws_endpoint_url(local_aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", local_aws.endpoint_url)
    clients = AwsClients.from_boto3()
    clients.client("iam").create_role(RoleName="via-env", AssumeRolePolicyDocument=TRUST)
    assert clients.caller_context().account_id == "123456789012"
    role = _plain_client(local_aws, "iam").get_role(RoleName="via-env")["Role"]  # type: ignore[attr-defined]
    assert role["RoleName"] == "via-env"


def test_clients_from_connection_in_check_mode_refuse_writes(
    local_aws: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", airflow_connection_json(local_aws.endpoint_url))
    clients = clients_from_connection(check_mode=True)
    with pytest.raises(CheckModeViolation, match="iam:CreateRole"):
        clients.client("iam").create_role(RoleName="nope", AssumeRolePolicyDocument=TRUST)
    assert clients.client("iam").list_roles()["Roles"] == []


def test_hooks_fix_the_client_type() -> None:
    from iamflow.aws.hooks import (
        CognitoIdpHook,
        IamHook,
        KmsHook,
        OrganizationsHook,
        SecretsManagerHook,
        StsHook,
        hook_for_service,
    )

    expected = {
        "iam": IamHook,
        "kms": KmsHook,
        "cognito-idp": CognitoIdpHook,
        "organizations": OrganizationsHook,
        "secretsmanager": SecretsManagerHook,
        "sts": StsHook,
    }
    for service, hook_class in expected.items():
        hook = hook_for_service(service, "aws_default", "eu-west-1")
        assert type(hook) is hook_class
        assert hook.client_type == service
        assert hook.aws_conn_id == "aws_default"
    assert hook_for_service("ssm", None, None).client_type == "ssm"


def test_aws_managed_policies_exist(local_aws: LocalAws) -> None:
    iam = _plain_client(local_aws, "iam")
    policy = iam.get_policy(PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")["Policy"]  # type: ignore[attr-defined]
    assert policy["PolicyName"] == "ReadOnlyAccess"


def test_taken_port_fails_fast_with_a_clear_message(busy_port: int) -> None:
    started = time.monotonic()
    with pytest.raises(
        IamflowError, match=rf"^port {busy_port} on 127\.0\.0\.1 is already in use; pass --port$"
    ):
        LocalAws(port=busy_port).start()
    assert time.monotonic() - started < 2


def test_bind_failure_in_the_server_thread_does_not_hang(
    busy_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the port was free when checked but taken before the server bound it
    monkeypatch.setattr(local, "_ensure_port_free", lambda host, port: None)
    server = LocalAws(port=busy_port, start_timeout=5)
    started = time.monotonic()
    with pytest.raises(IamflowError, match="already in use"):
        server.start()
    assert time.monotonic() - started < 2
    assert not server.running


def test_port_zero_picks_a_free_port_and_stop_releases_it() -> None:
    with LocalAws(port=0) as server:
        port = server.port
        assert port > 0 and server.endpoint_url == f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(f"{server.endpoint_url}/moto-api/config", timeout=5) as response:
            assert response.status < 300
    assert not server.running
    with socket.socket() as sock:  # released at once, not left to the garbage collector
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))


def test_managed_policy_setting_is_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "sentinel")
    with LocalAws(port=0, load_managed_policies=False):
        assert os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] == "false"
    assert os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] == "sentinel"


def test_free_port_is_bindable() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_connection_json_points_every_service_and_sts_at_the_endpoint() -> None:
    conn = json.loads(airflow_connection_json("http://127.0.0.1:5055", region="eu-west-1"))
    assert conn["conn_type"] == "aws"
    assert conn["extra"] == {
        "endpoint_url": "http://127.0.0.1:5055",
        "region_name": "eu-west-1",
        "service_config": {"sts": {"endpoint_url": "http://127.0.0.1:5055"}},
    }


def test_local_env_for_child_processes() -> None:
    env = local_env("http://127.0.0.1:5055")
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:5055"
    assert env["AWS_ACCESS_KEY_ID"] == env["AWS_SECRET_ACCESS_KEY"] == "testing"
    assert env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert json.loads(env["AIRFLOW_CONN_AWS_DEFAULT"])["extra"]["endpoint_url"] == "http://127.0.0.1:5055"
    assert "127.0.0.1" in env["NO_PROXY"]


def test_serve_runs_until_sigterm(capsys: pytest.CaptureFixture[str]) -> None:
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers can only be installed from the main thread")
    port = free_port()
    seeded: list[str] = []

    def seed(endpoint_url: str) -> None:
        iam = boto3.client("iam", endpoint_url=endpoint_url, region_name="us-east-1")
        iam.create_role(RoleName="seeded", AssumeRolePolicyDocument=TRUST)
        seeded.append(endpoint_url)
        # ask to stop once serve() is waiting; the handler only sets an event
        threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM)).start()

    previous = signal.getsignal(signal.SIGTERM)
    assert serve(port=port, host="127.0.0.1", seed=seed) == 0
    assert signal.getsignal(signal.SIGTERM) is previous
    out = capsys.readouterr().out
    assert seeded == [f"http://127.0.0.1:{port}"]
    assert f"export AWS_ENDPOINT_URL=http://127.0.0.1:{port}" in out
    assert "export AIRFLOW_CONN_AWS_DEFAULT='" in out
    with socket.socket() as sock:  # the server is gone
        assert sock.connect_ex(("127.0.0.1", port)) != 0


def test_the_embedded_aws_answers_one_request_at_a_time(local_aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> None:
    """AWS serves concurrent calls safely; moto's backends do not, so the embedded AWS serves them in turn.

    Without it, ``CreateRole`` beside ``AttachRolePolicy`` from the engine's workers fails now and
    then with an HTTP 500 (moto iterates the roles while another thread adds one).
    """
    from moto.iam.models import IAMBackend

    inside, most = 0, 0
    guard = threading.Lock()
    get_role = IAMBackend.get_role

    def watched(self: IAMBackend, role_name: str) -> object:
        nonlocal inside, most
        with guard:
            inside += 1
            most = max(most, inside)
        time.sleep(0.05)  # long enough for every other thread's request to arrive meanwhile
        try:
            return get_role(self, role_name)
        finally:
            with guard:
                inside -= 1

    iam = _plain_client(local_aws, "iam")
    iam.create_role(RoleName="in-turn", AssumeRolePolicyDocument=TRUST)  # type: ignore[attr-defined]
    monkeypatch.setattr(IAMBackend, "get_role", watched)
    answers: list[str] = []

    def read() -> None:
        answers.append(_plain_client(local_aws, "iam").get_role(RoleName="in-turn")["Role"]["RoleName"])  # type: ignore[attr-defined]

    threads = [threading.Thread(target=read) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert answers == ["in-turn"] * 6
    assert most == 1, f"{most} requests were inside moto at once"


def test_a_service_moto_lacks_is_answered_not_implemented_at_once(local_aws: LocalAws,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """moto 5.2.5 has no Access Analyzer: its own answer is an HTML 500, which clients retry for seconds.

    The embedded AWS answers as AWS answers what it does not implement, HTTP 501 ``NotImplemented``:
    botocore does not retry it, and iamflow does not count it as transient.
    """
    from botocore.exceptions import ClientError

    from iamflow.aws.errors import is_transient

    monkeypatch.setenv("AWS_ENDPOINT_URL", local_aws.endpoint_url)
    # iamflow's own client: botocore's adaptive mode with 10 attempts
    client = AwsClients.from_boto3(boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                                 region_name="us-east-1")).client("accessanalyzer")
    with pytest.raises(ClientError) as raised:
        client.list_analyzers()
    meta = raised.value.response["ResponseMetadata"]
    assert raised.value.response["Error"]["Code"] == "NotImplemented"
    assert (meta["HTTPStatusCode"], meta["RetryAttempts"]) == (501, 0)
    assert not is_transient(raised.value)
