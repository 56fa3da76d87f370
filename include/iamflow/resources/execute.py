"""Execute a plan: its changes in order, then its checks; permanent AWS errors become ``ApplyError``.

Transient errors (throttling, a service hiccup) are re-raised exactly as botocore raised them, so
that Airflow's task retries apply; a retry re-reads the resource and converges from wherever the
failed attempt stopped. Everything else is permanent: a retry would fail the same way.

Values known only at apply time live in this module's call frame, never in the plan: outputs that
changes publish (a new key's id, a new pool's id, a client secret), and :class:`Generated` values
(a secret value, a temporary password), produced once and shared by every change that names them.
Secret ones are registered with the maskers before any call carries them.

A create that can say how to find its object (``Change.adopt``) is never repeated blindly: when
it fails ambiguously (:func:`~iamflow.aws.errors.is_transient`: the request may have been done
although its answer was lost) or answers that the object already exists, the object is looked up
and, when found, adopted: what the lookup returns is published as the create's response, and the
plan goes on. A create marked ``retry=False`` is sent through a client with botocore's retries
off, so that the SDK does not repeat it either.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from iamflow.aws.errors import error_code, error_message, is_transient
from iamflow.errors import ApplyError, IamflowError
from iamflow.resources.base import EXISTS_CODES, Change, Generated, Output, Plan
from iamflow.secrets.hygiene import protect_secret, redact_values

if TYPE_CHECKING:
    from iamflow.aws.clients import AwsClients

log = logging.getLogger(__name__)


class _Values:
    """Outputs and generated values of one plan's execution."""

    def __init__(self) -> None:
        self.outputs: dict[str, Any] = {}
        self.generated: dict[str, str] = {}
        self.notes: list[str] = []

    def resolve(self, value: Any) -> Any:
        """Replace every :class:`Output` and :class:`Generated` in params (nested in dicts and lists)."""
        if isinstance(value, Output):
            if value.name not in self.outputs:
                raise ApplyError(value.missing or f"cannot resolve {value!r}: no earlier change of this plan "
                                 f"published {value.name!r}")
            return self.outputs[value.name]
        if isinstance(value, Generated):
            if value.name not in self.generated:
                produced = value.produce()
                protect_secret(produced)
                self.generated[value.name] = produced
            return self.generated[value.name]
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def publish(self, change: Change, response: Any) -> None:
        for name, path in change.publish.items():
            got: Any = response
            for part in path:
                got = got.get(part) if isinstance(got, dict) else None
            if got is None:
                continue
            if change.secret_outputs:
                protect_secret(str(got))
            self.outputs[name] = got


def _sensitive_values(change: Change, params: dict[str, Any]) -> list[str]:
    return [v for k in change.sensitive if isinstance(v := params.get(k), str) and v]


def _call(clients: AwsClients, change: Change, params: dict[str, Any]) -> Any:
    client = clients.client(change.service, retries=change.retry)
    try:
        return getattr(client, change.operation)(**params)
    except ClientError as error:
        if is_transient(error):
            raise
        message = redact_values(error_message(error), _sensitive_values(change, params))
        raise ApplyError(f"Failed to {change.summary}: {error_code(error) or 'Unknown'}: {message}") from error


def execute_change(clients: AwsClients, change: Change, values: _Values | None = None) -> Any:
    """Make one change's API call (or its ``on_exists`` fallback); raise ``ApplyError`` when it fails."""
    values = values if values is not None else _Values()
    params = values.resolve(change.params)
    try:
        response = _call(clients, change, params)
    except ApplyError as exc:
        if error_code(exc.__cause__) not in EXISTS_CODES:
            raise
        if change.on_exists is not None:
            return execute_change(clients, change.on_exists, values)
        response = _adopt(clients, change, params, exc, "it already exists")
    except Exception as exc:
        if not is_transient(exc):
            raise
        response = _adopt(clients, change, params, exc, f"the call failed ambiguously ({_describe(exc)})")
    values.publish(change, response)
    if getattr(response, "adopted", False):
        values.notes.append(f"{change.summary}: {response.adopted}")
    return response


class _Adopted(dict[str, Any]):
    """A lookup's result standing in for a create's response, with a note of why."""

    adopted: str = ""


def _describe(error: BaseException) -> str:
    return error_code(error) or type(error).__name__


def _adopt(clients: AwsClients, change: Change, params: dict[str, Any], error: Exception, why: str) -> Any:
    """Look up the object ``change`` creates; re-raise ``error`` when there is no lookup or nothing found."""
    if change.adopt is None:
        raise error
    try:
        found = change.adopt(clients, params)
    except IamflowError:
        raise  # the lookup's own verdict (two objects with the same tag) says more than the error
    except Exception as lookup_error:
        log.warning("could not look up the object of %r after %s: %s", change.summary, why, lookup_error)
        raise error from lookup_error
    if found is None:
        raise error
    log.warning("%s: %s; the object was found and is adopted", change.summary, why)
    response = _Adopted(found)
    response.adopted = f"{why}; found the object and adopted it instead of creating another"
    return response


def execute_plan(clients: AwsClients, plan: Plan) -> dict[str, Any]:
    """Execute ``plan.changes`` in order, stopping at the first failure, then ``plan.checks``.

    A check's note is added to ``plan.notes``. Every change that succeeds is recorded in
    ``plan.applied``, and the change or check that fails in ``plan.failed_step``, before the error
    goes on: a failure after some changes were made is a partial result, and the caller reports both.
    Returns the outputs the changes published (secret ones included: the caller keeps them in
    memory, never in a result).

    .. seealso:: each change names its boto3 call, e.g. ``iam.create_role``.
    """
    if plan.blocked:
        raise ApplyError(f"Refusing to apply {plan.resource}: {plan.blocked}")
    values = _Values()
    plan.applied, plan.failed_step = [], None
    try:
        for change in plan.changes:
            plan.failed_step = change.summary
            execute_change(clients, change, values)
            plan.applied.append(change.summary)
    finally:
        plan.notes += values.notes
    plan.failed_step = None
    if plan.changes:
        for check in plan.checks:
            plan.failed_step = check.summary
            try:
                plan.notes.append(check.run(clients, values.outputs))
            except ApplyError:
                raise
            except IamflowError as exc:
                raise ApplyError(f"Failed to {check.summary} after apply: {exc}") from exc
        plan.failed_step = None
    return values.outputs
