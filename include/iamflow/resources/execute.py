"""Execute a plan's changes in order, turning permanent AWS errors into ``ApplyError``.

Transient errors (throttling, a service hiccup) are re-raised exactly as botocore raised them, so
that Airflow's task retries apply; a retry re-reads the resource and converges from wherever the
failed attempt stopped. Everything else is permanent: a retry would fail the same way.

A change may need a value that exists only once an earlier change of the same plan has run (the
id of a KMS key that ``create_key`` is about to make). The plan puts a :class:`Ref` in its params,
and execution fills it from that earlier call's response.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from iamflow.aws.errors import is_transient
from iamflow.errors import ApplyError

if TYPE_CHECKING:
    from iamflow.aws.clients import AwsClients
    from iamflow.resources.base import Change, Plan

@dataclass(frozen=True)
class Ref:
    """A param value taken from the response of an earlier change of the same plan.

    :param operation: ``service.operation`` of the earlier change, e.g. ``kms.create_key``; the
        latest one run before the change holding the reference is used.
    :param path: keys into its response, e.g. ``("KeyMetadata", "KeyId")``.
    """

    operation: str
    path: tuple[str, ...]

    def __repr__(self) -> str:
        # shown in plans and diffs, where the value is still unknown
        return f"<{'.'.join(self.path)} of {self.operation}>"

    def resolve(self, responses: dict[str, Any]) -> Any:
        """Return the referenced value from ``responses`` (``service.operation`` → latest response)."""
        if self.operation not in responses:
            raise ApplyError(f"cannot resolve {self!r}: {self.operation} has not run earlier in this plan")
        value: Any = responses[self.operation]
        for key in self.path:
            value = value[key]
        return value


class Deferred:
    """A param value produced only when the change executes (a generated secret value).

    The plan holds the producer, never the value, so no plan, diff or summary can show it. Mark
    the param in ``Change.sensitive`` as well: error messages are redacted of the produced value.
    """

    def __init__(self, produce: Callable[[], Any], description: str = "a value produced at apply time"):
        self._produce = produce
        self.description = description

    def __repr__(self) -> str:
        return f"<{self.description}>"

    def resolve(self) -> Any:
        return self._produce()


def resolve_refs(value: Any, responses: dict[str, Any]) -> Any:
    """Replace every :class:`Ref` and :class:`Deferred` in params (nested in dicts and lists) by its value."""
    if isinstance(value, Ref):
        return value.resolve(responses)
    if isinstance(value, Deferred):
        return value.resolve()
    if isinstance(value, dict):
        return {k: resolve_refs(v, responses) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_refs(v, responses) for v in value]
    return value


def _redact(text: str, change: Change, params: dict[str, Any] | None = None) -> str:
    """Remove the values of sensitive params from ``text`` (AWS messages may echo input)."""
    for key in change.sensitive:
        value: Any = (params if params is not None else change.params).get(key)
        if isinstance(value, str) and value:
            text = text.replace(value, "<redacted>")
    return text


def execute_change(clients: AwsClients, change: Change, responses: dict[str, Any] | None = None) -> Any:
    """Make one change's API call; raise ``ApplyError`` for a permanent AWS error.

    :param responses: earlier responses of the plan, to resolve :class:`Ref` values in the params.
    """
    client = clients.client(change.service)
    params = resolve_refs(change.params, responses or {})
    try:
        return getattr(client, change.operation)(**params)
    except ClientError as error:
        if is_transient(error):
            raise
        err = error.response.get("Error", {})
        code = err.get("Code", "Unknown")
        message = _redact(str(err.get("Message", "")), change, params)
        raise ApplyError(f"Failed to {change.summary}: {code}: {message}") from error


def execute_changes(clients: AwsClients, plan: Plan) -> dict[str, Any]:
    """Execute ``plan.changes`` in order, stopping at the first failure.

    Returns the latest response of each ``service.operation`` that ran.

    .. seealso:: each change names its boto3 call, e.g. ``iam.create_role``.
    """
    if plan.blocked:
        raise ApplyError(f"Refusing to apply {plan.resource}: {plan.blocked}")
    responses: dict[str, Any] = {}
    for change in plan.changes:
        responses[f"{change.service}.{change.operation}"] = execute_change(clients, change, responses)
    return responses
