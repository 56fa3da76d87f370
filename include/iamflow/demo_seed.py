"""Seed the embedded AWS with what the shipped playbooks need and do not create themselves.

``seed(endpoint_url)`` calls small, idempotent step functions; add a step for each new need (the
demo IAM users of the compliance sweep go here too). Steps use plain boto3 clients against the
given endpoint with the embedded AWS's dummy credentials.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

ROTATION_FUNCTION = "myapp-secret-rotation"
ROTATION_ROLE = "myapp-secret-rotation-role"
_LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
# The embedded AWS runs no Lambda code (no Docker); the function only has to exist.
_ROTATION_CODE = (
    "def handler(event, context):\n"
    "    # demo stand-in: a real rotation function implements createSecret/setSecret/testSecret/finishSecret\n"
    "    return None\n"
)


def _client(endpoint_url: str, service: str) -> Any:
    import boto3

    from iamflow.aws.local import DEFAULT_REGION, DUMMY_ACCESS_KEY_ID, DUMMY_SECRET_ACCESS_KEY

    return boto3.client(service, endpoint_url=endpoint_url, region_name=DEFAULT_REGION,
                        aws_access_key_id=DUMMY_ACCESS_KEY_ID, aws_secret_access_key=DUMMY_SECRET_ACCESS_KEY)


def seed_rotation_lambda(endpoint_url: str) -> str:
    """Create the rotation Lambda of ``myapp/database/credentials`` and its role; return the function ARN."""
    iam = _client(endpoint_url, "iam")
    try:
        role_arn = iam.get_role(RoleName=ROTATION_ROLE)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        role_arn = iam.create_role(RoleName=ROTATION_ROLE, AssumeRolePolicyDocument=json.dumps(_LAMBDA_TRUST),
                                   Description="Demo: execution role of the secret rotation Lambda")["Role"]["Arn"]
    lam = _client(endpoint_url, "lambda")
    try:
        return str(lam.get_function(FunctionName=ROTATION_FUNCTION)["Configuration"]["FunctionArn"])
    except lam.exceptions.ResourceNotFoundException:
        pass
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("index.py", _ROTATION_CODE)
    return str(lam.create_function(
        FunctionName=ROTATION_FUNCTION, Runtime="python3.11", Role=role_arn, Handler="index.handler",
        Code={"ZipFile": buf.getvalue()}, Description="Demo stand-in for a Secrets Manager rotation function",
    )["FunctionArn"])


def seed(endpoint_url: Any) -> str:
    """Seed the demo account (idempotent); ``endpoint_url`` may also be a running ``LocalAws``."""
    url = str(getattr(endpoint_url, "endpoint_url", endpoint_url))
    steps = [f"rotation Lambda {seed_rotation_lambda(url).rsplit(':', 1)[-1]}"]
    return ", ".join(steps)
