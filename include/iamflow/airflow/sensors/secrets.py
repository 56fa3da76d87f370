"""The sensor that waits for a Secrets Manager rotation to finish, in the triggerer by default.

Cheap to import (DAG files import it at parse time): boto3 and the rotation checks are imported
inside ``poke``. The sensor's summary and its trigger's events hold statuses, never a secret value.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator

from iamflow.airflow.compat import AirflowFailException
from iamflow.airflow.operators.base import IamflowBaseOperator, aws_template_fields

if TYPE_CHECKING:
    from airflow.sdk import Context


class SecretRotationSensor(IamflowBaseOperator, BaseSensorOperator):
    """Wait until a triggered rotation has finished (AWSCURRENT on a new version, no AWSPENDING left).

    Deferrable by default: ``execute`` checks once and, unless the rotation has already finished,
    defers to :class:`~iamflow.airflow.triggers.secrets.SecretRotationCompleteTrigger`, so the wait holds
    no worker slot and runs in the triggerer (``airflow standalone`` runs one; ``airflow dags test``
    runs the trigger in-process). With ``deferrable=False`` it pokes in ``reschedule`` mode instead.
    ``timeout`` is required and bounds the wait either way: past it the task fails without retry.

    :param secret_id: Name or ARN of the secret. (templated)
    :param since: ISO time the rotation was started at. (templated)
    :param timeout: Seconds to wait for the rotation to finish.
    :param deferrable: Wait in the triggerer (default) rather than by rescheduled pokes.
    :param aws_conn_id: Airflow connection for AWS. (templated)
    :param region_name: AWS region; the connection's when not given. (templated)
    """

    template_fields: Sequence[str] = aws_template_fields("secret_id", "since")

    # slack between the trigger's own deadline and the task's deferral timeout, so the trigger's
    # clean ``timeout`` event normally wins over the triggerer's cancellation
    DEFERRAL_SLACK = timedelta(seconds=60)

    def __init__(self, *, secret_id: str, since: str, timeout: float, aws_conn_id: str | None = "aws_default",
                 region_name: str | None = None, deferrable: bool = True, **kwargs: Any) -> None:
        if not deferrable:
            kwargs.setdefault("mode", "reschedule")
        kwargs.setdefault("poke_interval", 30)
        super().__init__(timeout=timeout, aws_conn_id=aws_conn_id, region_name=region_name, **kwargs)
        self.secret_id = secret_id
        self.since = since
        self.deferrable = deferrable

    def _summary(self) -> dict[str, str]:
        return {"secret_id": self.secret_id, "since": str(self.since), "status": "complete"}

    def poke(self, context: Context) -> bool:
        from iamflow.secrets.rotation import rotation_complete

        since = datetime.fromisoformat(str(self.since))
        done = rotation_complete(self.clients(check_mode=True), self.secret_id, since)
        self.log.info("Rotation of %s %s", self.secret_id, "finished" if done else "still in progress")
        return done

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        if self.poke(context):
            return self._summary()
        from iamflow.airflow.triggers.secrets import SecretRotationCompleteTrigger

        wait = timedelta(seconds=self.timeout)
        deadline = datetime.now(UTC) + wait
        self.defer(
            trigger=SecretRotationCompleteTrigger(
                secret_id=self.secret_id, since=str(self.since), deadline=deadline.isoformat(),
                poke_interval=float(self.poke_interval), aws_conn_id=self.aws_conn_id,
                region_name=self.region_name,
            ),
            method_name="execute_complete",
            timeout=wait + self.DEFERRAL_SLACK,
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, str]:
        """Resume after the trigger fired: the summary on success, a failure without retry otherwise."""
        status = (event or {}).get("status")
        if status == "success":
            self.log.info("Rotation of %s finished", self.secret_id)
            return self._summary()
        if status == "timeout":
            raise AirflowFailException(
                f"rotation of {self.secret_id} did not finish within {self.timeout:g}s "
                f"(deadline {(event or {}).get('deadline')})"
            )
        message = (event or {}).get("message") or "no event"
        raise AirflowFailException(f"waiting for the rotation of {self.secret_id} failed: {message}")
