"""How iamflow reads AWS errors: the code, transient or permanent, "not found", and paging.

Transient errors (throttling, a service hiccup, a dropped connection) are left as botocore raised
them, so that Airflow's task retries apply; a retry re-reads and converges from wherever the
failed attempt stopped. Everything else is permanent: a retry would fail the same way.

"Not found" is an answer, not an error (the Amazon provider's habit): :func:`not_found` turns
the modelled not-found errors of every service iamflow calls into ``None``.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from iamflow.aws.clients import THROTTLING_CODES

# Error codes that mean "try again later", not "this request is wrong": every throttling answer the
# clients' retries know (``THROTTLING_CODES``), and the services' "busy" ones. botocore's standard retry
# mode already retries most of them a few times; when they still reach us, a task-level retry is
# the right answer. IAM answers throttling with ``Throttling`` and internal errors with
# ``ServiceFailure``; ``ConcurrentModification`` and ``EntityTemporarilyUnmodifiable`` are IAM's
# "another change to this entity is in flight" (e.g. a role deleted and re-created by name).
TRANSIENT_CODES: frozenset[str] = THROTTLING_CODES | frozenset(
    {
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

# The modelled "no such thing" answers of the services iamflow reads: IAM, KMS, Secrets Manager,
# Lambda, Cognito (pools, clients, groups, users) and Organizations.
NOT_FOUND_CODES: frozenset[str] = frozenset(
    {
        "NoSuchEntity",
        "NoSuchEntityException",
        "NotFoundException",
        "ResourceNotFoundException",
        "UserNotFoundException",
        "GroupNotFoundException",
        "AccountNotFoundException",
        "PolicyNotFoundException",
        "OrganizationalUnitNotFoundException",
    }
)

# Network-level failures never reach AWS's error handling; they are as transient as throttling.
_TRANSIENT_EXCEPTIONS = (
    EndpointConnectionError,
    ConnectTimeoutError,
    ReadTimeoutError,
    ConnectionClosedError,
)


def error_code(error: BaseException | None) -> str:
    """Return the AWS error code of a botocore ``ClientError`` ("" for anything else)."""
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", ""))
    return ""


def error_message(error: BaseException) -> str:
    """Return the AWS error message of a ``ClientError`` (the exception text otherwise)."""
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Message", ""))
    return str(error)


def is_transient(error: BaseException) -> bool:
    """Tell whether ``error`` is worth a retry (throttling, a 5xx, a dropped connection)."""
    if isinstance(error, _TRANSIENT_EXCEPTIONS):
        return True
    if not isinstance(error, ClientError):
        return False
    if error_code(error) in TRANSIENT_CODES:
        return True
    # An unmodelled 5xx is the service's fault, not the request's; but 501 Not Implemented stays so
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return isinstance(status, int) and status >= 500 and status != 501


def is_not_found(error: BaseException) -> bool:
    """Tell whether ``error`` is a service's modelled "does not exist" answer."""
    return error_code(error) in NOT_FOUND_CODES


def not_found(client: Any, operation: str, **params: Any) -> Any:
    """Call a read operation; "not found" is an answer (``None``), not an error.

    .. seealso:: ``hooks/ssm.py::get_parameter_value`` in the Amazon provider does the same.
    """
    try:
        return getattr(client, operation)(**params)
    except ClientError as error:
        if is_not_found(error):
            return None
        raise


def paginate(client: Any, operation: str, result_key: str, **params: Any) -> list[Any]:
    """Collect every item of a paginated list call (one call per page, usually one)."""
    items: list[Any] = []
    for page in client.get_paginator(operation).paginate(**params):
        items.extend(page.get(result_key, []))
    return items


def paginate_token(client: Any, operation: str, result_key: str, *, page_size: int | None = None,
                   size_param: str = "MaxResults", **params: Any) -> list[Any]:
    """Collect every item of a list call that botocore has no paginator for (``NextToken`` paging)."""
    items: list[Any] = []
    request = dict(params)
    if page_size is not None:
        request[size_param] = page_size
    while True:
        page = getattr(client, operation)(**request)
        items.extend(page.get(result_key, []))
        token = page.get("NextToken")
        if not token:
            return items
        request["NextToken"] = token
