"""Operators over rotation verification: verify, trigger a rotation, and wait for it to finish.

Cheap to import (DAG files import it at parse time): boto3, the engine and the loader are imported
inside ``execute`` / ``poke``. No operator returns, logs or templates a secret value: the summary
holds statuses and reasons only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator, BaseSensorOperator
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

if TYPE_CHECKING:
    from airflow.sdk import Context

    from iamflow.aws.clients import AwsClients
    from iamflow.spec.kinds_secrets import Secret

SUMMARY_KEY = "rotation_summary"


class _AwsMixin:
    aws_conn_id: str | None
    region_name: str | None

    def get_clients(self, *, read_only: bool = False) -> AwsClients:
        """Build the AWS clients from the Airflow connection (ones that refuse writes when ``read_only``)."""
        from iamflow.aws.clients import AwsClients

        return AwsClients.from_airflow(aws_conn_id=self.aws_conn_id, region=self.region_name, check_mode=read_only)


def declared_secrets(paths: Sequence[str] | None) -> list[Secret]:
    """The ``secret`` resources of the given playbooks (every playbook when ``paths`` is empty)."""
    from iamflow.spec.loader import discover_playbooks, load_playbook

    files = [str(p) for p in paths] if paths else [str(p) for p in discover_playbooks()]
    out: list[Secret] = []
    for path in files:
        out.extend(r for r in load_playbook(path).resources if r.kind == "secret")  # type: ignore[misc]
    return out


class VerifySecretRotationOperator(_AwsMixin, BaseOperator):
    """Verify the rotation of the playbooks' secrets (and optionally every secret of the account).

    Returns a JSON-able summary (counts, failing secrets, every check with its reason) and fails
    the task, without retry, when any check is FAIL or ERROR (the summary is pushed first, under
    ``rotation_summary``).

    :param playbook_paths: Playbook files whose secrets to verify; every shipped playbook when empty.
    :param include_all: Also verify every other secret in the account; ``None`` takes the DAG
        run's ``include_all`` param.
    :param pending_max_hours: AWSPENDING age threshold for secrets whose playbook sets none.
    :param grace_days: Days past the schedule tolerated for secrets whose playbook sets none.
    :param aws_conn_id: Airflow connection for AWS. (templated)
    :param region_name: AWS region; the connection's when not given.
    """

    template_fields: Sequence[str] = ("playbook_paths", "aws_conn_id")
    ui_color = "#e3f1d4"

    def __init__(
        self,
        *,
        playbook_paths: Sequence[str] | None = None,
        include_all: bool | None = None,
        pending_max_hours: float = 24,
        grace_days: int = 1,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.playbook_paths = list(playbook_paths or [])
        self.include_all = include_all
        self.pending_max_hours = pending_max_hours
        self.grace_days = grace_days
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name

    def execute(self, context: Context) -> dict[str, Any]:
        from iamflow.errors import IamflowError
        from iamflow.secrets.rotation import FAIL, format_checks, summarize, verify_rotation

        try:
            secrets = declared_secrets(self.playbook_paths)
        except IamflowError as exc:
            raise AirflowFailException(f"the playbooks do not validate:\n{exc}") from exc
        include_all = self.include_all
        if include_all is None:
            include_all = bool((context.get("params") or {}).get("include_all", False))
        checks = verify_rotation(
            self.get_clients(read_only=True), secrets, include_all=include_all,
            pending_max_age=timedelta(hours=self.pending_max_hours), grace=timedelta(days=self.grace_days),
        )
        summary = summarize(checks)
        self.log.info("Rotation verification:\n%s", format_checks(checks))
        if summary["counts"][FAIL] or summary["counts"]["ERROR"]:
            ti = context.get("ti")
            if ti is not None:
                ti.xcom_push(key=SUMMARY_KEY, value=summary)
            raise AirflowFailException(
                f"rotation verification: {summary['counts'][FAIL]} FAIL, {summary['counts']['ERROR']} ERROR "
                f"({', '.join(summary['failing'])})"
            )
        return summary


class TriggerSecretRotationOperator(_AwsMixin, BaseOperator):
    """Start a rotation of one secret through its Lambda (RotateSecret); skip when no secret is named.

    Returns ``{"secret_id", "version_id", "since"}`` for :class:`SecretRotationSensor`.

    :param secret_id: Name or ARN of the secret; empty skips the task. (templated)
    """

    template_fields: Sequence[str] = ("secret_id", "aws_conn_id")

    def __init__(self, *, secret_id: str = "", aws_conn_id: str | None = "aws_default",
                 region_name: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.secret_id = secret_id
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name

    def execute(self, context: Context) -> dict[str, str]:
        from iamflow.secrets.rotation import trigger_rotation

        if not (self.secret_id or "").strip():
            raise AirflowSkipException("no secret named in rotate_now_secret; nothing to rotate")
        since = datetime.now(UTC).isoformat()
        version = trigger_rotation(self.get_clients(), self.secret_id.strip())
        self.log.info("Rotation of %s started (version %s)", self.secret_id, version)
        return {"secret_id": self.secret_id.strip(), "version_id": version, "since": since}


class SecretRotationSensor(_AwsMixin, BaseSensorOperator):
    """Wait until a triggered rotation has finished (AWSCURRENT on a new version, no AWSPENDING left).

    Deferrable by default: ``execute`` checks once and, unless the rotation has already finished,
    defers to :class:`~iamflow.triggers.secrets.SecretRotationCompleteTrigger`, so the wait holds
    no worker slot and runs in the triggerer (``airflow standalone`` runs one; ``airflow dags test``
    runs the trigger in-process). With ``deferrable=False`` it pokes in ``reschedule`` mode instead.
    ``timeout`` is required and bounds the wait either way: past it the task fails without retry.

    :param secret_id: Name or ARN of the secret. (templated)
    :param since: ISO time the rotation was started at. (templated)
    :param timeout: Seconds to wait for the rotation to finish.
    :param deferrable: Wait in the triggerer (default) rather than by rescheduled pokes.
    """

    template_fields: Sequence[str] = ("secret_id", "since", "aws_conn_id")

    # slack between the trigger's own deadline and the task's deferral timeout, so the trigger's
    # clean ``timeout`` event normally wins over the triggerer's cancellation
    DEFERRAL_SLACK = timedelta(seconds=60)

    def __init__(self, *, secret_id: str, since: str, timeout: float, aws_conn_id: str | None = "aws_default",
                 region_name: str | None = None, deferrable: bool = True, **kwargs: Any) -> None:
        if not deferrable:
            kwargs.setdefault("mode", "reschedule")
        kwargs.setdefault("poke_interval", 30)
        super().__init__(timeout=timeout, **kwargs)
        self.secret_id = secret_id
        self.since = since
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.deferrable = deferrable

    def _summary(self) -> dict[str, str]:
        return {"secret_id": self.secret_id, "since": str(self.since), "status": "complete"}

    def poke(self, context: Context) -> bool:
        from iamflow.secrets.rotation import rotation_complete

        since = datetime.fromisoformat(str(self.since))
        done = rotation_complete(self.get_clients(read_only=True), self.secret_id, since)
        self.log.info("Rotation of %s %s", self.secret_id, "finished" if done else "still in progress")
        return done

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        if self.poke(context):
            return self._summary()
        from iamflow.triggers.secrets import SecretRotationCompleteTrigger

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
