"""The one way iamflow gets boto3 clients: cached per service, counted, and read-only on request.

Every client made here carries two botocore event handlers:

* ``before-call.<service-id>`` records ``(service, OperationName)`` into a :class:`CallLog` once
  per API call (retries are not counted again; paginators count one call per page);
* in check mode, ``before-parameter-build.<service-id>`` raises :class:`CheckModeViolation` for
  any operation :func:`is_read_operation` does not accept, before parameters are even validated,
  so nothing is serialised, signed or sent.

Retries (the throttling rules of IAM and the other services):

* every client retries with botocore's **adaptive** mode (standard retries with exponential
  backoff and jitter, plus a client-side token bucket that slows the client's sends down when the
  service throttles, and speeds them up again), up to :data:`MAX_ATTEMPTS` attempts. A client whose
  retries were configured (an Airflow connection's ``config_kwargs``, ``AWS_RETRY_MODE``) keeps
  them; only botocore's default policy is replaced. All threads of a run share one client
  per service, so they share its token bucket: the whole run backs off together.
* IAM answers some rate limits with ``LimitExceeded`` ("Rate exceeded") instead of ``Throttling``;
  the same code also means a quota ("Cannot exceed quota for PoliciesPerRole"), which no retry
  fixes. A ``LimitExceeded`` whose message names a rate and no quota is read as ``Throttling``
  (:func:`is_rate_limited`), by the retries and by :func:`iamflow.aws.errors.is_transient`.
* ``client(service, retries=False)`` is a second client of the same service for the one call a
  non-idempotent create makes: a retry of a create whose answer was lost would make a second
  object (a KMS key, a user pool), so a timeout, a dropped connection or a 5xx is never retried
  (the caller looks the object up and adopts it instead). Only a *throttling answer* is retried:
  AWS refuses a throttled request before doing anything, so sending it again cannot duplicate it.
  It is made by the same factory and carries the same handlers.

What counts as a read: operations named ``Get*``, ``List*`` or ``Describe*``, plus the explicit
:data:`READ_ALLOW_LIST`. Deliberately *not* reads, although they change no resource:

* ``iam:GenerateCredentialReport``, ``iam:GenerateServiceLastAccessedDetails``,
  ``iam:GenerateOrganizationsAccessReport`` start report jobs in the account. A sweep that needs
  a fresh credential report must ask a non-check-mode client for it.
* KMS cryptographic operations (``Decrypt``, ``Encrypt``, ``ReEncrypt``, ``GenerateDataKey*``,
  ``Sign``, ``Verify``, ``GenerateMac``...) use key material and are audited as key usage; a
  dry run has no business touching them.
* ``secretsmanager:BatchGetSecretValue`` reveals secret values in bulk.

``secretsmanager:GetSecretValue`` is a ``Get`` and therefore allowed; iamflow never logs its
result (see the masking helper).
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from iamflow.context import RunContext
from iamflow.errors import CheckModeViolation, IamflowError

if TYPE_CHECKING:
    import boto3
    from botocore.client import BaseClient

READ_PREFIXES: tuple[str, ...] = ("Get", "List", "Describe")

# Reads whose names do not start with a read prefix. Each entry needs a reason; keep it short.
READ_ALLOW_LIST: frozenset[str] = frozenset(
    {
        # Cognito names its administrator reads "Admin<Verb>"; both only return a user's state.
        "cognito-idp:AdminGetUser",
        "cognito-idp:AdminListGroupsForUser",
        # Policy simulation evaluates documents and changes nothing (moto 5.2.5 lacks both).
        "iam:SimulateCustomPolicy",
        "iam:SimulatePrincipalPolicy",
    }
)

ClientHook = Callable[[str, "BaseClient"], None]

MAX_ATTEMPTS = 10  # attempts per call, the first included (botocore's standard mode: 3)
# answers that say "slow down": the request was refused before it was done (botocore's list, and IAM's)
THROTTLING_CODES: frozenset[str] = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "SlowDown",
    }
)


def is_read_operation(service: str, operation: str) -> bool:
    """Return True when ``service:operation`` only reads, so check mode may call it."""
    return operation.startswith(READ_PREFIXES) or f"{service}:{operation}" in READ_ALLOW_LIST


class CallLog:
    """Record every API call made through iamflow's clients, in order; safe to share across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[tuple[str, str]] = []
        self._refused: list[tuple[str, str]] = []

    def record(self, service: str, operation: str) -> None:
        """Append one call."""
        with self._lock:
            self._calls.append((service, operation))

    def record_refused(self, service: str, operation: str) -> None:
        """Append one write that check mode refused (it was never sent, so it is not a call)."""
        with self._lock:
            self._refused.append((service, operation))

    @property
    def calls(self) -> list[tuple[str, str]]:
        """A snapshot of ``(service, OperationName)`` pairs in call order."""
        with self._lock:
            return list(self._calls)

    @property
    def refused(self) -> list[tuple[str, str]]:
        """A snapshot of the writes check mode refused, in order."""
        with self._lock:
            return list(self._refused)

    def count(self, *, writes: bool | None = None, service: str | None = None) -> int:
        """Count calls, optionally only writes (True), only reads (False) or one service."""
        return sum(
            1
            for svc, op in self.calls
            if (service is None or svc == service)
            and (writes is None or writes != is_read_operation(svc, op))
        )

    def by_operation(self) -> dict[str, int]:
        """Count calls per ``service:Operation``."""
        return dict(Counter(f"{svc}:{op}" for svc, op in self.calls))

    def writes(self) -> list[tuple[str, str]]:
        """Return the write calls in order."""
        return [(svc, op) for svc, op in self.calls if not is_read_operation(svc, op)]

    def reset(self) -> None:
        """Forget every recorded call."""
        with self._lock:
            self._calls.clear()
            self._refused.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._calls)

    def __repr__(self) -> str:
        return f"CallLog({len(self)} calls, {len(self.writes())} writes)"


class AwsClients:
    """Hand out one boto3 client per service, each counted and, in check mode, unable to write.

    :param client_factory: builds a new client for a boto3 service name (``"iam"``, ``"kms"``) on
        every call; a client must not be shared between AwsClients.
    :param check_mode: refuse every non-read call before it is sent.
    :param call_log: where calls are recorded; a new one when omitted.
    :param region: the region the factory's clients use, if known (for :meth:`caller_context`).
    """

    def __init__(
        self,
        client_factory: Callable[[str], BaseClient],
        *,
        check_mode: bool = False,
        call_log: CallLog | None = None,
        region: str | None = None,
    ) -> None:
        self._factory = client_factory
        self._check_mode = check_mode
        self.call_log = call_log if call_log is not None else CallLog()
        self._region = region
        self._clients: dict[str, BaseClient] = {}
        self._once_clients: dict[str, BaseClient] = {}
        self._hooks: list[ClientHook] = []
        # boto3 sessions are not thread-safe, so client creation is serialised; a read_only()
        # sibling shares the factory and therefore shares this lock.
        self._factory_lock = threading.RLock()
        self._lock = threading.Lock()
        self._context: RunContext | None = None
        self._read_only: AwsClients | None = None
        # what a run reads once and reuses (AWS-managed policy documents): shared with read_only()
        self._run_caches: dict[str, dict[str, Any]] = {}

    @classmethod
    def from_boto3(
        cls,
        session: boto3.Session | None = None,
        *,
        region: str | None = None,
        check_mode: bool = False,
        call_log: CallLog | None = None,
    ) -> AwsClients:
        """Build clients from a boto3 session (the standard credential chain when omitted).

        boto3 itself honours ``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_<SERVICE>``.
        """
        import boto3

        session = session or boto3.Session()
        region = region or session.region_name

        def factory(service: str) -> BaseClient:
            return session.client(service, region_name=region)

        return cls(factory, check_mode=check_mode, call_log=call_log, region=region)

    @property
    def check_mode(self) -> bool:
        """Whether non-read calls are refused."""
        return self._check_mode

    @property
    def region(self) -> str | None:
        """The region given at construction, if any."""
        return self._region

    def client(self, service: str, *, retries: bool = True) -> BaseClient:
        """Return the cached client for ``service``, creating and instrumenting it on first use.

        :param retries: False for a client whose calls are sent once, whatever the retry policy
            of the factory's clients (for creates that a retry could duplicate).
        """
        cache = self._clients if retries else self._once_clients
        existing = cache.get(service)
        if existing is not None:
            return existing
        with self._factory_lock:
            existing = cache.get(service)
            if existing is not None:
                return existing
            client = self._factory(service)
            if retries:
                use_adaptive_retries(client)
            else:
                _retry_only_throttling(client)
            _read_rate_limits_as_throttling(client)
            use_fast_timestamps(client)
            self._instrument(service, client)
            for hook in list(self._hooks):
                hook(service, client)
            cache[service] = client
            return client

    def add_client_hook(self, hook: ClientHook) -> None:
        """Call ``hook(service, client)`` for every client, those already made and those made later."""
        with self._factory_lock:
            self._hooks.append(hook)
            for service, client in [*self._clients.items(), *self._once_clients.items()]:
                hook(service, client)

    def caller_context(self) -> RunContext:
        """Return the account, partition and region the credentials act in (one STS call, cached)."""
        with self._lock:
            if self._context is not None:
                return self._context
        sts = self.client("sts")
        identity = sts.get_caller_identity()
        # arn:<partition>:sts::<account>:assumed-role/... or arn:<partition>:iam::<account>:user/...
        partition = identity["Arn"].split(":", 2)[1]
        region = self._region or sts.meta.region_name
        if not region or region.startswith("aws-"):
            # global endpoints report a pseudo-region such as "aws-global"; fall back to the
            # partition's home region rather than inventing a regional resource location
            region = _HOME_REGION.get(partition, "us-east-1")
        context = RunContext(account_id=identity["Account"], partition=partition, region=region)
        with self._lock:
            if self._context is None:
                self._context = context
            return self._context

    def run_cache(self, name: str) -> dict[str, Any]:
        """A dict that lives as long as these clients (one run): for reads that do not change within it."""
        with self._lock:
            return self._run_caches.setdefault(name, {})

    def read_only(self) -> AwsClients:
        """Return clients sharing this factory and call log, but in check mode (made once, then reused)."""
        if self._check_mode:
            return self
        with self._lock:
            if self._read_only is None:
                sibling = AwsClients(
                    self._factory, check_mode=True, call_log=self.call_log, region=self._region
                )
                sibling._factory_lock = self._factory_lock
                sibling._context = self._context
                sibling._run_caches = self._run_caches
                self._read_only = sibling
            return self._read_only

    def _instrument(self, service: str, client: BaseClient) -> None:
        if getattr(client, _INSTRUMENTED, False):
            # its handlers would record into another log, or a check-mode guard would leak into a
            # read-write AwsClients (or the reverse)
            raise IamflowError(
                f"the client factory returned a {service} client already used by another AwsClients; "
                "it must build a new client on every call"
            )
        setattr(client, _INSTRUMENTED, True)
        service_id = client.meta.service_model.service_id.hyphenize()
        call_log = self.call_log

        def record_call(model: Any, **_: Any) -> None:
            call_log.record(service, model.name)

        client.meta.events.register(f"before-call.{service_id}", record_call, unique_id="iamflow-call-log")
        if not self._check_mode:
            return

        def refuse_writes(model: Any, **_: Any) -> None:
            if not is_read_operation(service, model.name):
                call_log.record_refused(service, model.name)
                raise CheckModeViolation(f"check mode: refused write call {service}:{model.name}")

        # register_first: run before any handler that could answer the call itself (botocore's
        # Stubber, a fault injector), and before-parameter-build: before validation and signing
        client.meta.events.register_first(
            f"before-parameter-build.{service_id}", refuse_writes, unique_id="iamflow-check-mode"
        )

    def __repr__(self) -> str:
        mode = "check mode" if self._check_mode else "read-write"
        return f"AwsClients({mode}, services={sorted(self._clients)}, region={self._region!r})"


# an ISO 8601 date-time as AWS writes it in XML and JSON answers: 2024-05-01T12:00:00Z, with or without
# fractional seconds (group 2) or an offset
_ISO_TIMESTAMP = re.compile(r"(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})?")


def parse_timestamp(value: Any) -> datetime:
    """botocore's timestamp parsing, with the ISO 8601 strings of AWS's answers read by ``datetime`` itself.

    botocore reads every timestamp of an answer through ``dateutil`` (about 56 µs each here): a
    ``GetAccountAuthorizationDetails`` page of 1,000 users, or a list of 10,000 MFA devices, spends
    more time there than in the rest of its parsing. ``datetime.fromisoformat`` reads the same strings
    in about 1.3 µs, to the same instant (a ``Z`` becomes UTC, fractional digits beyond microseconds
    are cut, as dateutil cuts them; a string without offset stays naive, as there). Anything else
    (epoch numbers, RFC 822 dates in headers) goes to botocore's own parser.
    """
    match = _ISO_TIMESTAMP.fullmatch(value) if isinstance(value, str) else None
    if match is not None:
        seconds, fraction, offset = match.groups()
        try:  # datetime takes at most six fractional digits
            return datetime.fromisoformat(seconds + (fraction or "")[:7] + (offset or ""))
        except ValueError:
            pass
    from botocore.utils import parse_timestamp as botocore_parse

    parsed: datetime = botocore_parse(value)
    return parsed


def use_fast_timestamps(client: BaseClient) -> bool:
    """Make ``client`` (and the clients of its botocore session) read timestamps with :func:`parse_timestamp`.

    botocore creates a response parser for each answer from the session's parser factory, with
    that factory's defaults; this sets its ``timestamp_parser``. Returns False, changing nothing,
    when the client has no such factory (another botocore layout).
    """
    factory = getattr(getattr(client, "_endpoint", None), "_response_parser_factory", None)
    if factory is None or not hasattr(factory, "set_parser_defaults"):
        return False
    factory.set_parser_defaults(timestamp_parser=parse_timestamp)
    return True


def is_rate_limited(code: str, message: str) -> bool:
    """Whether an error answer means "too many requests" (IAM's rate-based ``LimitExceeded`` included)."""
    if code in THROTTLING_CODES:
        return True
    text = message.lower()
    return code == "LimitExceeded" and "rate" in text and "quota" not in text


def use_adaptive_retries(client: BaseClient, max_attempts: int = MAX_ATTEMPTS) -> bool:
    """Give ``client`` botocore's adaptive retries, unless its retries were configured; True when done.

    Configured means a mode other than botocore's defaults (``standard``; ``legacy`` before 1.36),
    a number of attempts (a connection's ``config_kwargs``, a ``Config``), or ``AWS_RETRY_MODE`` /
    ``AWS_MAX_ATTEMPTS`` in the environment. botocore picks the retry handlers when it builds a
    client; a factory that takes only a service name cannot be asked for another config, so the
    handlers are swapped here: the built-in ones off, then the standard handler and the adaptive
    rate limiter on, as botocore registers them for ``Config(retries={"mode": "adaptive"})``.
    """
    import os

    from botocore.retries import adaptive, standard

    retries = client.meta.config.retries or {}
    if retries.get("mode", "standard") not in ("standard", "legacy") or "total_max_attempts" in retries \
            or os.environ.get("AWS_RETRY_MODE") or os.environ.get("AWS_MAX_ATTEMPTS"):
        return False
    _disable_retries(client)
    service_id = client.meta.service_model.service_id.hyphenize()
    client.meta.events.unregister(f"request-created.{service_id}", unique_id=f"seed-max-attempts-{service_id}")
    standard.register_retry_handler(client, max_attempts=max_attempts)
    adaptive.register_retry_handler(client)
    return True


def _retry_only_throttling(client: BaseClient, max_attempts: int = MAX_ATTEMPTS) -> None:
    """Retry a create only when AWS answered that it throttled it (refused, so not done); nothing else."""
    from botocore.retries import standard

    _disable_retries(client)
    service_id = client.meta.service_model.service_id.hyphenize()
    backoff = standard.ExponentialBackoff(max_backoff=20)

    def needs_retry(response: Any = None, attempts: int = 1, caught_exception: Any = None,
                    **_: Any) -> float | None:
        if caught_exception is not None or response is None or attempts >= max_attempts:
            return None  # no answer: the request may have been done
        http, parsed = response
        error = parsed.get("Error", {}) if isinstance(parsed, dict) else {}
        if http.status_code >= 500 or not is_rate_limited(str(error.get("Code", "")),
                                                          str(error.get("Message", ""))):
            return None
        return float(backoff.delay_amount(_Attempt(attempts)))

    client.meta.events.register(f"needs-retry.{service_id}", needs_retry, unique_id=f"retry-config-{service_id}")


class _Attempt:
    """What ``ExponentialBackoff.delay_amount`` reads of a retry context."""

    def __init__(self, attempt_number: int) -> None:
        self.attempt_number = attempt_number


def _read_rate_limits_as_throttling(client: BaseClient) -> None:
    """Make IAM's rate-based ``LimitExceeded`` a ``Throttling`` answer, before any retry handler reads it.

    The original code is kept in the error as ``IamflowOriginalCode``.
    """
    service_id = client.meta.service_model.service_id.hyphenize()

    def rewrite(response: Any = None, **_: Any) -> None:
        if response is None:
            return
        parsed = response[1]
        error = parsed.get("Error") if isinstance(parsed, dict) else None
        if not isinstance(error, dict) or error.get("Code") != "LimitExceeded":
            return
        if is_rate_limited("LimitExceeded", str(error.get("Message", ""))):
            error["IamflowOriginalCode"], error["Code"] = "LimitExceeded", "Throttling"

    client.meta.events.register_first(f"needs-retry.{service_id}", rewrite, unique_id="iamflow-rate-limit")


def _disable_retries(client: BaseClient) -> None:
    """Remove botocore's retry handler from ``client``: every call is sent exactly once.

    botocore registers its retry decision (legacy, standard and adaptive modes alike) on
    ``needs-retry.<service-id>`` under the id ``retry-config-<service-id>``; without it a failed
    attempt is final, as with ``Config(retries={"total_max_attempts": 1})``. Removing the handler
    rather than rebuilding the client keeps whatever the factory configured (the connection's
    endpoint, credentials, timeouts), which a factory taking only a service name cannot rebuild.
    """
    service_id = client.meta.service_model.service_id.hyphenize()
    client.meta.events.unregister(f"needs-retry.{service_id}", unique_id=f"retry-config-{service_id}")


_INSTRUMENTED = "_iamflow_instrumented"
_HOME_REGION = {"aws": "us-east-1", "aws-cn": "cn-north-1", "aws-us-gov": "us-gov-west-1"}
