"""Fixtures for the sweep tests on in-process moto: plain seeding clients, moto's IAM backend, a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def lean_iam(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skip moto's 1,582 AWS-managed policies (GAAD would return them all, ~1 s); ``with_aws_policies`` restores them."""
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "false")


@pytest.fixture
def with_aws_policies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Load AWS-managed policies for tests that attach AdministratorAccess or AWSSupportAccess."""
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")


@pytest.fixture
def now() -> datetime:
    """The sweep's clock: real time, since moto stamps creations with the real clock."""
    return datetime.now(UTC)


@pytest.fixture
def seed(aws: Any) -> Any:
    """Plain boto3 clients for building state; their calls stay out of ``call_log``."""
    import boto3

    class Seed:
        iam = boto3.client("iam", region_name="us-east-1")
        kms = boto3.client("kms", region_name="us-east-1")
        secrets = boto3.client("secretsmanager", region_name="us-east-1")
        cognito = boto3.client("cognito-idp", region_name="us-east-1")
        sts = boto3.client("sts", region_name="us-east-1")

    return Seed


@pytest.fixture
def iam_backend(aws: Any) -> Any:
    """moto's IAM backend of the default account, for backdating what the API cannot."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.iam.models import iam_backends

    return iam_backends[DEFAULT_ACCOUNT_ID]["aws"]
