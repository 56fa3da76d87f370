"""Execute a plan's changes in order, turning permanent AWS errors into ``ApplyError``.

Transient errors (throttling, a service hiccup) are re-raised exactly as botocore raised them, so
that Airflow's task retries apply; a retry re-reads the resource and converges from wherever the
failed attempt stopped. Everything else is permanent: a retry would fail the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from iamflow.errors import ApplyError

if TYPE_CHECKING:
    from iamflow.aws.clients import AwsClients
    from iamflow.resources.base import Change, Plan

# Error codes that mean "try again later", not "this request is wrong". botocore's standard retry
# mode already retries most of them a few times; when they still reach us, a task-level retry is
# the right answer. IAM answers throttling with ``Throttling`` and internal errors with
# ``ServiceFailure``; ``ConcurrentModification`` and ``EntityTemporarilyUnmodifiable`` are IAM's
# "another change to this entity is in flight" (e.g. a role deleted and re-created by name).
TRANSIENT_CODES: frozenset[str] = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "SlowDown",
        "PriorRequestNotComplete",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalFailure",
        "InternalError",
        "InternalServerError",
        "InternalServiceError",
        "ServiceFailure",
        "RequestTimeout",
        "RequestTimeoutException",
        "ConcurrentModification",
        "ConcurrentModificationException",
        "EntityTemporarilyUnmodifiable",
    }
)

# Network-level failures never reach AWS's error handling; they are as transient as throttling.
_TRANSIENT_EXCEPTIONS = (
    EndpointConnectionError,
    ConnectTimeoutError,
    ReadTimeoutError,
    ConnectionClosedError,
)


def error_code(error: BaseException) -> str:
    """Return the AWS error code of a botocore ``ClientError`` ("" for anything else)."""
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", ""))
    return ""


def is_transient(error: BaseException) -> bool:
    """Tell whether ``error`` is worth a retry (throttling, a 5xx, a dropped connection)."""
    if isinstance(error, _TRANSIENT_EXCEPTIONS):
        return True
    if not isinstance(error, ClientError):
        return False
    if error_code(error) in TRANSIENT_CODES:
        return True
    # An unmodelled 5xx is the service's fault, not the request's.
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return isinstance(status, int) and status >= 500


def _redact(text: str, change: Change) -> str:
    """Remove the values of sensitive params from ``text`` (AWS messages may echo input)."""
    for key in change.sensitive:
        value: Any = change.params.get(key)
        if isinstance(value, str) and value:
            text = text.replace(value, "<redacted>")
    return text


def execute_change(clients: AwsClients, change: Change) -> Any:
    """Make one change's API call; raise ``ApplyError`` for a permanent AWS error."""
    client = clients.client(change.service)
    try:
        return getattr(client, change.operation)(**change.params)
    except ClientError as error:
        if is_transient(error):
            raise
        err = error.response.get("Error", {})
        code = err.get("Code", "Unknown")
        message = _redact(str(err.get("Message", "")), change)
        raise ApplyError(f"Failed to {change.summary}: {code}: {message}") from error


def execute_changes(clients: AwsClients, plan: Plan) -> None:
    """Execute ``plan.changes`` in order, stopping at the first failure.

    .. seealso:: each change names its boto3 call, e.g. ``iam.create_role``.
    """
    if plan.blocked:
        raise ApplyError(f"Refusing to apply {plan.resource}: {plan.blocked}")
    for change in plan.changes:
        execute_change(clients, change)
