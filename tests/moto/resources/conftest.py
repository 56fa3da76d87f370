"""Fixtures for the resource handler tests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from iamflow.aws.clients import AwsClients


@pytest.fixture
def iam(clients: AwsClients) -> Any:
    """A plain boto3 IAM client on the same moto, for making drift by hand and checking results.

    It is not one of ``clients``' instrumented clients, so its calls stay out of ``call_log``.
    """
    import boto3

    return boto3.client("iam", region_name="us-east-1")
