"""Validators for ``rotation.verify.validator.callable``: ``f(secret_string, clients[, secret_id]) -> (ok, reason)``.

A validator gets the AWSCURRENT value as its first argument and must never put it (or any part of
it) in its reason; the verifier scrubs reasons anyway. It may use ``clients`` (iamflow's
``AwsClients``) for reads, and receives ``secret_id`` when its signature asks for it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from iamflow.aws.clients import AwsClients

_KEY_ID_FIELDS = ("AccessKeyId", "aws_access_key_id", "access_key_id")
_SECRET_FIELDS = ("SecretAccessKey", "aws_secret_access_key", "secret_access_key")


def _key_pair(secret_string: str) -> tuple[str, str] | None:
    try:
        data = json.loads(secret_string)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    key_id = next((data[f] for f in _KEY_ID_FIELDS if data.get(f)), None)
    secret = next((data[f] for f in _SECRET_FIELDS if data.get(f)), None)
    return (str(key_id), str(secret)) if key_id and secret else None


def _identity(clients: AwsClients, pair: tuple[str, str]) -> str | None:
    """The ARN STS GetCallerIdentity answers for an access key, or None when the key is refused."""
    import boto3
    from botocore.exceptions import ClientError

    template = clients.client("sts")
    sts: Any = boto3.client(
        "sts",
        region_name=template.meta.region_name,
        endpoint_url=template.meta.endpoint_url,
        aws_access_key_id=pair[0],
        aws_secret_access_key=pair[1],
    )
    try:
        return str(sts.get_caller_identity()["Arn"])
    except ClientError:
        return None


def iam_access_key(secret_string: str, clients: AwsClients, secret_id: str | None = None) -> tuple[bool, str]:
    """Check an IAM access-key secret: the current key authenticates, the previous one no longer does.

    The secret is JSON with ``AccessKeyId`` and ``SecretAccessKey`` (or the lower-case
    ``aws_access_key_id`` / ``aws_secret_access_key``). "No longer works" means STS refuses the
    AWSPREVIOUS key, or answers with another identity than the current key's (moto, which does
    not authenticate, answers a deleted key with its default identity).

    .. seealso:: ``sts.get_caller_identity``
    """
    pair = _key_pair(secret_string)
    if pair is None:
        return False, "AWSCURRENT is not JSON with AccessKeyId and SecretAccessKey"
    current = _identity(clients, pair)
    if current is None:
        return False, "STS refuses the AWSCURRENT access key"
    if secret_id is None:
        return True, f"the AWSCURRENT access key authenticates as {current}"
    sm = clients.client("secretsmanager")
    try:
        previous_string = sm.get_secret_value(SecretId=secret_id, VersionStage="AWSPREVIOUS").get("SecretString")
    except sm.exceptions.ResourceNotFoundException:
        return True, f"the AWSCURRENT access key authenticates as {current}; there is no AWSPREVIOUS version"
    previous = _key_pair(previous_string or "")
    if previous is None or previous[0] == pair[0]:
        return True, f"the AWSCURRENT access key authenticates as {current}; AWSPREVIOUS holds no other key"
    if _identity(clients, previous) == current:
        return False, f"the AWSPREVIOUS access key still authenticates as {current}; deactivate and delete it"
    return True, f"the AWSCURRENT access key authenticates as {current}; the AWSPREVIOUS key no longer does"
