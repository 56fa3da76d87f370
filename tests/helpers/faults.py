"""Inject AWS errors into botocore clients, the same way in-process (``mock_aws``) and against a server.

moto has no fault injection of its own, so a ``before-send`` handler answers the request with a
protocol-correct error instead of sending it: botocore parses it, raises the modelled exception
and applies its retry policy exactly as for a real AWS error. IAM and STS speak the query (XML)
protocol; KMS, Secrets Manager, Cognito and Organizations speak JSON.

botocore calls *every* ``before-send`` handler even after one has answered, and in-process moto
is one of them: left alone, it would still execute the write we claim failed. So an answered
request is also pointed at an address moto does not recognise. botocore builds a fresh request
for each retry attempt, so the next attempt is unaffected.

:func:`lose_nth_write` is the other failure: the request is sent and done (moto executes it, in
process or on a server), then its answer is lost: botocore sees a read timeout, a dropped
connection or a 5xx in place of the answer, and applies its retry policy to that, as it would
against AWS. A retry of a non-idempotent create then makes a second object.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.exceptions import ConnectionClosedError, ReadTimeoutError
from botocore.httpsession import URLLib3Session

from iamflow.aws.clients import is_read_operation

if TYPE_CHECKING:
    from botocore.client import BaseClient

    from iamflow.aws.clients import AwsClients

# .invalid never resolves (RFC 2606) and matches none of moto's URL patterns
_UNROUTABLE_URL = "http://iamflow-injected-fault.invalid/"
_ANSWERED = "_iamflow_fault_answered"


class _RawBody(io.BytesIO):
    """The raw body AWSResponse expects: a file-like object with ``stream()``."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        while chunk := self.read(8192):
            yield chunk


def error_response(
    request: AWSPreparedRequest, client: BaseClient, code: str, message: str, status: int
) -> AWSResponse:
    """Build the HTTP error ``client``'s service would answer, in that service's wire protocol."""
    model = client.meta.service_model
    protocol = model.protocol
    headers = {"x-amzn-RequestId": "iamflow-injected-fault"}
    if protocol in ("query", "ec2"):
        fault = "Receiver" if status >= 500 else "Sender"
        body = (
            f"<ErrorResponse><Error><Type>{fault}</Type><Code>{escape(code)}</Code>"
            f"<Message>{escape(message)}</Message></Error>"
            "<RequestId>iamflow-injected-fault</RequestId></ErrorResponse>"
        ).encode()
        headers["Content-Type"] = "text/xml"
    elif protocol == "rest-xml":
        body = f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>".encode()
        headers["Content-Type"] = "application/xml"
    elif protocol in ("json", "rest-json"):
        body = json.dumps({"__type": code, "message": message}).encode()
        headers["Content-Type"] = f"application/x-amz-json-{model.metadata.get('jsonVersion', '1.1')}"
        headers["x-amzn-ErrorType"] = code
    else:
        raise NotImplementedError(f"no error template for the {protocol!r} protocol of {model.service_name}")
    return AWSResponse(request.url, status, headers, _RawBody(body))


def _answer(request: AWSPreparedRequest, response: AWSResponse) -> AWSResponse:
    setattr(request, _ANSWERED, True)
    request.url = _UNROUTABLE_URL  # keep in-process moto from executing the call anyway
    return response


def _already_answered(request: AWSPreparedRequest) -> bool:
    return bool(getattr(request, _ANSWERED, False))


def _invocation_id(request: AWSPreparedRequest) -> str | None:
    # the same for every attempt of one API call (botocore sets it from the retry context)
    value = request.headers.get("amz-sdk-invocation-id")
    return value.decode() if isinstance(value, bytes) else value


WriteSendHandler = Any  # (service, Operation, request, event_name, invocation, client) -> AWSResponse | None


@dataclass
class _WriteInjector:
    """What the per-write injectors share: on or off, a lock, and the handlers to unregister."""

    active: bool = field(default=True, kw_only=True)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, kw_only=True)
    _registrations: list[tuple[BaseClient, str, Any]] = field(default_factory=list, repr=False, kw_only=True)

    def remove(self) -> None:
        """Stop injecting, also on clients made later."""
        self.active = False
        for client, event, handler in self._registrations:
            client.meta.events.unregister(event, handler)
        self._registrations.clear()

    def attach_to_writes(self, clients: AwsClients, handle: WriteSendHandler) -> None:
        """Call ``handle`` for every send of a write, on every client of ``clients`` (made now or later)."""

        def attach(service: str, client: BaseClient) -> None:
            service_id = client.meta.service_model.service_id.hyphenize()
            prefix = f"before-send.{service_id}."

            def on_send(request: AWSPreparedRequest, event_name: str, **_: Any) -> AWSResponse | None:
                operation = event_name[len(prefix):]
                if not self.active or _already_answered(request) or is_read_operation(service, operation):
                    return None
                invocation = _invocation_id(request) or str(id(request))
                return handle(service, operation, request, event_name, invocation, client)

            event = f"before-send.{service_id}"
            # first: ahead of moto's in-process stubber, which answers every request it recognises
            client.meta.events.register_first(event, on_send)
            self._registrations.append((client, event, on_send))

        clients.add_client_hook(attach)


@dataclass
class WriteFault(_WriteInjector):
    """The state of :func:`fail_nth_write`: how many writes it saw and which one it failed."""

    n: int
    code: str
    status: int
    message: str
    writes_seen: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (service, Operation)
    failed_sends: int = 0  # > 1 when botocore retried the failed call
    _doomed: dict[str, bool] = field(default_factory=dict, repr=False)


def fail_nth_write(
    clients: AwsClients,
    n: int,
    code: str = "ServiceFailure",
    *,
    status: int = 400,
    message: str | None = None,
) -> WriteFault:
    """Make the ``n``-th write call (1-based, across all services of ``clients``) fail with ``code``.

    Every attempt of that call fails, so it fails whatever the retry policy; other calls pass.
    The default status 400 keeps botocore from retrying; pass ``status=500`` (with the
    ``no_retry_delay`` fixture) to exercise retries of a server-side failure.
    """
    if n < 1:
        raise ValueError("n is 1-based")
    fault = WriteFault(n=n, code=code, status=status, message=message or f"injected {code} (write #{n})")

    def handle(service: str, operation: str, request: AWSPreparedRequest, event_name: str, invocation: str,
               client: BaseClient) -> AWSResponse | None:
        with fault._lock:
            doomed = fault._doomed.get(invocation)
            if doomed is None:
                fault.writes_seen += 1
                doomed = fault._doomed[invocation] = fault.writes_seen == fault.n
                if doomed:
                    fault.failed.append((service, operation))
            if not doomed:
                return None
            fault.failed_sends += 1
        return _answer(request, error_response(request, client, fault.code, fault.message, fault.status))

    fault.attach_to_writes(clients, handle)
    return fault


@dataclass
class Throttle:
    """The state of :func:`throttle_first`."""

    n: int
    code: str
    sends: int = 0
    throttled: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _registration: tuple[BaseClient, str, Any] | None = field(default=None, repr=False)

    def remove(self) -> None:
        """Stop throttling."""
        if self._registration is not None:
            client, event, handler = self._registration
            client.meta.events.unregister(event, handler)
            self._registration = None


def throttle_first(
    client: BaseClient, n: int, *, operation: str | None = None, code: str | None = None
) -> Throttle:
    """Throttle the first ``n`` sends of ``client`` (of one ``operation`` if given); later sends pass.

    Sends, not calls: botocore's retries of a throttled call count, as they would against AWS.
    The code defaults to the service's own (``Throttling`` for query services, else
    ``ThrottlingException``). Use the ``no_retry_delay`` fixture to skip the backoff sleeps.
    """
    model = client.meta.service_model
    if code is None:
        code = "Throttling" if model.protocol == "query" else "ThrottlingException"
    throttle = Throttle(n=n, code=code)

    def on_send(request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
        if _already_answered(request):
            return None
        with throttle._lock:
            throttle.sends += 1
            if throttle.sends > throttle.n:
                return None
            throttle.throttled += 1
        return _answer(request, error_response(request, client, throttle.code, "Rate exceeded", 400))

    event = f"before-send.{model.service_id.hyphenize()}" + (f".{operation}" if operation else "")
    client.meta.events.register_first(event, on_send)
    throttle._registration = (client, event, on_send)
    return throttle


@dataclass
class LostResponse(_WriteInjector):
    """The state of :func:`lose_nth_write`: which call was done with its answer lost, and its attempts."""

    n: int
    error: str
    writes_seen: int = 0
    lost: list[tuple[str, str]] = field(default_factory=list)  # (service, Operation)
    attempts: int = 0  # sends of the call whose answer was lost (> 1: botocore retried it)
    _target: str | None = field(default=None, repr=False)
    _seen: set[str] = field(default_factory=set, repr=False)


LOST_ERRORS = ("read-timeout", "connection-closed", "500")


def _execute(request: AWSPreparedRequest, event_name: str) -> AWSResponse:
    """Send ``request`` for real: to in-process moto when it is active, else over HTTP."""
    from moto.core.models import botocore_stubber

    if botocore_stubber.enabled:
        answered = botocore_stubber(event_name=event_name, request=request)
        if answered is not None:
            return answered
    return URLLib3Session().send(request)


def lose_nth_write(clients: AwsClients, n: int, error: str = "read-timeout") -> LostResponse:
    """Let the ``n``-th write call (1-based, across all services) be done, then lose its answer.

    Only the call's first attempt loses its answer; a retry (botocore's) is sent and answered
    normally, as AWS would answer it: with "already exists" for a create idempotent by name, or
    with a second object for one that is not.

    :param error: what botocore sees instead of the answer: ``read-timeout`` (``ReadTimeoutError``),
        ``connection-closed`` (``ConnectionClosedError``), both retried by botocore, or ``500`` (an
        ``InternalFailure`` answer; use the ``no_retry_delay`` fixture to skip the backoff).
    """
    if n < 1:
        raise ValueError("n is 1-based")
    if error not in LOST_ERRORS:
        raise ValueError(f"error must be one of {LOST_ERRORS}")
    fault = LostResponse(n=n, error=error)

    def handle(service: str, operation: str, request: AWSPreparedRequest, event_name: str, invocation: str,
               client: BaseClient) -> AWSResponse | None:
        with fault._lock:
            first = False
            if invocation not in fault._seen:
                fault._seen.add(invocation)
                fault.writes_seen += 1
                if fault.writes_seen == fault.n:
                    fault._target = invocation
                    fault.lost.append((service, operation))
                    first = True
            if invocation != fault._target:
                return None
            fault.attempts += 1
        if not first:
            return None  # a retry of the lost call: AWS answers it
        _execute(request, event_name)  # done; the answer is dropped
        if fault.error == "read-timeout":
            raise ReadTimeoutError(endpoint_url=request.url)
        if fault.error == "connection-closed":
            raise ConnectionClosedError(endpoint_url=request.url)
        lost = error_response(request, client, "InternalFailure", "injected: the answer was lost", 500)
        return _answer(request, lost)

    fault.attach_to_writes(clients, handle)
    return fault


@dataclass
class RandomThrottle:
    """The state of :func:`throttle_fraction`: sends seen and throttled, per ``service:Operation``."""

    fraction: float
    code: str | None
    message: str
    sends: int = 0
    throttled: int = 0
    by_operation: dict[str, int] = field(default_factory=dict)  # throttled sends
    active: bool = True
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


def throttle_fraction(clients: AwsClients, fraction: float, *, seed: int = 14, code: str | None = None,
                      message: str = "Rate exceeded", operations: frozenset[str] | None = None) -> RandomThrottle:
    """Throttle about ``fraction`` of all sends of ``clients`` (every service, made now or later).

    Each send (a retry attempt too) is throttled with probability ``fraction``, drawn from a random
    generator seeded with ``seed``, so a run is reproducible up to thread scheduling. The code
    defaults to the service's own (``Throttling`` for query services, else ``ThrottlingException``);
    ``operations`` limits it to some ``service:Operation`` names. Use the ``no_retry_delay`` fixture.
    """
    import random

    rng = random.Random(seed)
    state = RandomThrottle(fraction=fraction, code=code, message=message)

    def attach(service: str, client: BaseClient) -> None:
        model = client.meta.service_model
        own = code or ("Throttling" if model.protocol == "query" else "ThrottlingException")
        prefix = f"before-send.{model.service_id.hyphenize()}."

        def on_send(request: AWSPreparedRequest, event_name: str, **_: Any) -> AWSResponse | None:
            name = f"{service}:{event_name[len(prefix):]}"
            if not state.active or _already_answered(request) or (operations and name not in operations):
                return None
            with state._lock:
                state.sends += 1
                if rng.random() >= state.fraction:
                    return None
                state.throttled += 1
                state.by_operation[name] = state.by_operation.get(name, 0) + 1
            return _answer(request, error_response(request, client, own, message, 400))

        client.meta.events.register_first(f"before-send.{model.service_id.hyphenize()}", on_send)

    clients.add_client_hook(attach)
    return state
