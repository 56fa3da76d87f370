"""Session-wide safety and shared fixtures: no test can reach real AWS or a real Airflow home.

The environment is fixed at import time, before any test module imports boto3 or Airflow
(Airflow reads ``AIRFLOW_HOME`` when it is first imported).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from iamflow.aws.clients import AwsClients, CallLog
    from iamflow.aws.local import LocalAws

_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="iamflow-test-airflow-"))
_NO_AWS_FILES = _AIRFLOW_HOME / "no-aws-config"  # never created: hides ~/.aws/config and credentials

# variables through which a developer's shell could point boto3 or Airflow at a real account
_REMOVED_PREFIXES = ("AWS_ENDPOINT_URL", "AWS_CONTAINER_", "AIRFLOW_CONN_")
_REMOVED = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_REGION",
)
for _name in list(os.environ):
    if _name in _REMOVED or _name.startswith(_REMOVED_PREFIXES):
        del os.environ[_name]
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(_NO_AWS_FILES),
        "AWS_SHARED_CREDENTIALS_FILE": str(_NO_AWS_FILES),
        # no instance-metadata probing: it would only add seconds of timeouts
        "AWS_EC2_METADATA_DISABLED": "true",
        "AIRFLOW_HOME": str(_AIRFLOW_HOME),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",
        # the shipped iamflow-bootstrap playbook reads its ExternalId from the environment
        "IAMFLOW_BOOTSTRAP_EXTERNAL_ID": "iamflow-test-external-id",
    }
)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_AIRFLOW_HOME, ignore_errors=True)


@functools.cache
def fast_aws_managed_policies() -> None:
    """Load moto's AWS-managed policies for the ``aws`` partition only, parsing their JSON once.

    moto 5.2.5 builds an IAM backend per partition (six) for every account and parses all 1,582
    managed policies for each: about 2 s per test that touches IAM. Tests only use the ``aws``
    partition, where behaviour is unchanged; the others get no managed policies. Skipped (slow
    but correct) if moto's internals change shape.
    """
    from moto.iam import models

    original = getattr(models.IAMBackend, "_init_aws_policies", None)
    if original is None or not hasattr(models, "aws_managed_policies_data"):
        return

    @functools.cache
    def parsed() -> dict[str, Any]:
        return json.loads(models.aws_managed_policies_data)

    def init_aws_policies(self: Any) -> list[Any]:
        if self.region_name != "aws" or not models.load_iam_aws_managed_policies():
            return []
        return [
            models.AWSManagedPolicy.from_data(name, self.account_id, self.region_name, d)
            for name, d in parsed().items()
        ]

    models.IAMBackend._init_aws_policies = init_aws_policies


@pytest.fixture
def aws() -> Iterator[Any]:
    """An in-process moto for one test: every boto3 call is answered by moto, state starts empty."""
    import moto

    from tests.helpers.moto import serialize_in_process_moto

    fast_aws_managed_policies()
    serialize_in_process_moto()
    # no Docker engine: moto's simple Lambda backend stores functions without running them
    with moto.mock_aws(config={"lambda": {"use_docker": False}}) as mock:
        yield mock


@pytest.fixture
def call_log() -> CallLog:
    """A fresh call log; the ``clients`` and ``check_clients`` fixtures record into it."""
    from iamflow.aws.clients import CallLog

    return CallLog()


@pytest.fixture
def clients(aws: Any, call_log: CallLog) -> AwsClients:
    """Read-write clients on in-process moto, recording into ``call_log``."""
    from iamflow.aws.clients import AwsClients

    return AwsClients.from_boto3(call_log=call_log)


@pytest.fixture
def check_clients(aws: Any, call_log: CallLog) -> AwsClients:
    """Check-mode clients on the same moto and call log: every write is refused before it is sent.

    Seeding with ``clients`` records into the same log; call ``call_log.reset()`` before the part
    under test.
    """
    from iamflow.aws.clients import AwsClients

    return AwsClients.from_boto3(check_mode=True, call_log=call_log)


@pytest.fixture(autouse=True)
def no_retry_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make botocore retry at once: its backoff sleeps are real and would take seconds.

    For every test: iamflow's clients make up to 10 attempts (adaptive mode), so one throttled
    call would otherwise sleep for a minute, and the rate limiter's token bucket, once throttled,
    slows each later call of that client. Tests that check the retry policy count attempts, never
    time them (test_adaptive_retries replaces the bucket's ``acquire`` itself).
    """
    import botocore.retries.standard
    import botocore.retryhandler

    monkeypatch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda self, context: 0)
    # legacy retry mode (an Airflow connection may ask for it) binds this function when a client is made
    monkeypatch.setattr(botocore.retryhandler, "delay_exponential", lambda base, growth_factor, attempts: 0)
    # adaptive mode's rate limiter (iamflow's clients) waits for its token bucket once throttled
    import botocore.retries.bucket

    monkeypatch.setattr(botocore.retries.bucket.TokenBucket, "acquire", lambda self, amount=1, block=True: True)


@pytest.fixture
def local_aws() -> Iterator[LocalAws]:
    """A moto server on 127.0.0.1 (a free port) in this process, empty, for one test.

    It shares moto's process-global backends: do not combine it with the ``aws`` fixture.
    """
    from iamflow.aws.local import LocalAws

    fast_aws_managed_policies()
    with LocalAws(port=0) as server:
        server.reset()  # the backends outlive any earlier server in this process
        yield server
