"""Trigger that waits, in the triggerer, for a Secrets Manager rotation to finish.

The check itself (``DescribeSecret`` and ``ListSecretVersionIds``) is blocking boto3: it runs in a
worker thread (:func:`asyncio.to_thread`), never on the triggerer's event loop. The trigger is
serialized with identifiers and times only (no credentials; the thread builds its clients from the
Airflow connection), and its events hold statuses, never a secret value.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

CLASSPATH = "iamflow.airflow.triggers.secrets.SecretRotationCompleteTrigger"


def _parse(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class SecretRotationCompleteTrigger(BaseTrigger):
    """Poll until the rotation of ``secret_id`` started at ``since`` has finished, or ``deadline`` passes.

    Fires one event: ``{"status": "success", ...}`` when finished, ``{"status": "timeout", ...}``
    once past the deadline, ``{"status": "error", "message": ...}`` on a permanent AWS error.
    Transient errors (throttling, 5xx, dropped connections) are logged and polled again.

    :param secret_id: Name or ARN of the secret.
    :param since: ISO time the rotation was started at.
    :param deadline: ISO time after which the wait is given up.
    :param poke_interval: Seconds between checks.
    :param aws_conn_id: Airflow connection for AWS.
    :param region_name: AWS region; the connection's when None.
    """

    def __init__(
        self,
        *,
        secret_id: str,
        since: str,
        deadline: str,
        poke_interval: float = 30,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
    ) -> None:
        super().__init__()
        self.secret_id = secret_id
        self.since = _parse(since).isoformat()
        self.deadline = _parse(deadline).isoformat()
        self.poke_interval = float(poke_interval)
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return CLASSPATH, {
            "secret_id": self.secret_id,
            "since": self.since,
            "deadline": self.deadline,
            "poke_interval": self.poke_interval,
            "aws_conn_id": self.aws_conn_id,
            "region_name": self.region_name,
        }

    def _check(self) -> bool:
        """One blocking check, run in a worker thread; read-only clients built here."""
        from iamflow.aws.hooks import clients_from_connection
        from iamflow.secrets.rotation import rotation_complete

        clients = clients_from_connection(self.aws_conn_id, region=self.region_name, check_mode=True)
        return rotation_complete(clients, self.secret_id, _parse(self.since))

    def _event(self, status: str, **extra: Any) -> TriggerEvent:
        return TriggerEvent({"status": status, "secret_id": self.secret_id, "since": self.since, **extra})

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from iamflow.aws.errors import error_code, is_transient

        deadline = _parse(self.deadline)
        while True:
            try:
                done = await asyncio.to_thread(self._check)
            except Exception as exc:
                if not is_transient(exc):
                    code = error_code(exc)
                    reason = f"{code}: cannot check the rotation" if code else type(exc).__name__
                    yield self._event("error", message=f"{reason} of {self.secret_id}")
                    return
                self.log.warning("Transient error checking the rotation of %s (%s); will retry",
                                 self.secret_id, type(exc).__name__)
                done = False
            if done:
                self.log.info("Rotation of %s finished", self.secret_id)
                yield self._event("success")
                return
            if datetime.now(UTC) >= deadline:
                yield self._event("timeout", deadline=self.deadline)
                return
            self.log.info("Rotation of %s still in progress", self.secret_id)
            remaining = (deadline - datetime.now(UTC)).total_seconds()
            await asyncio.sleep(max(0.0, min(self.poke_interval, remaining)))
