"""Operators over rotation verification: verify, and trigger a rotation (the wait is a sensor).

Cheap to import (DAG files import it at parse time): boto3, the engine and the loader are imported
inside ``execute``. No operator returns, logs or templates a secret value: the summary holds
statuses and reasons only. :class:`~iamflow.airflow.sensors.secrets.SecretRotationSensor` waits
for a triggered rotation to finish.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from iamflow.airflow.compat import AirflowFailException, AirflowSkipException
from iamflow.airflow.operators.base import IamflowBaseOperator, aws_template_fields

if TYPE_CHECKING:
    from airflow.sdk import Context

    from iamflow.secrets.rotation import RotationSummary
    from iamflow.spec.kinds_secrets import Secret

SUMMARY_KEY = "rotation_summary"


def declared_secrets(paths: Sequence[str] | None) -> list[Secret]:
    """The ``secret`` resources of the given playbooks (every playbook when ``paths`` is empty)."""
    from iamflow.spec.kinds_secrets import Secret
    from iamflow.spec.loader import discover_playbooks, load_playbook

    files = [str(p) for p in paths] if paths else [str(p) for p in discover_playbooks()]
    out: list[Secret] = []
    for path in files:
        out.extend(r for r in load_playbook(path).resources if isinstance(r, Secret))
    return out


class VerifySecretRotationOperator(IamflowBaseOperator):
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
    :param region_name: AWS region; the connection's when not given. (templated)
    """

    template_fields: Sequence[str] = aws_template_fields("playbook_paths")
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
        super().__init__(aws_conn_id=aws_conn_id, region_name=region_name, **kwargs)
        self.playbook_paths = list(playbook_paths or [])
        self.include_all = include_all
        self.pending_max_hours = pending_max_hours
        self.grace_days = grace_days

    def execute(self, context: Context) -> RotationSummary:
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
            self.clients(check_mode=True), secrets, include_all=include_all,
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


class TriggerSecretRotationOperator(IamflowBaseOperator):
    """Start a rotation of one secret through its Lambda (RotateSecret); skip when no secret is named.

    Returns ``{"secret_id", "version_id", "since"}`` for
    :class:`~iamflow.airflow.sensors.secrets.SecretRotationSensor`.

    :param secret_id: Name or ARN of the secret; empty skips the task. (templated)
    :param aws_conn_id: Airflow connection for AWS. (templated)
    :param region_name: AWS region; the connection's when not given. (templated)
    """

    template_fields: Sequence[str] = aws_template_fields("secret_id")

    def __init__(self, *, secret_id: str = "", aws_conn_id: str | None = "aws_default",
                 region_name: str | None = None, **kwargs: Any) -> None:
        super().__init__(aws_conn_id=aws_conn_id, region_name=region_name, **kwargs)
        self.secret_id = secret_id

    def execute(self, context: Context) -> dict[str, str]:
        from iamflow.secrets.rotation import trigger_rotation

        if not (self.secret_id or "").strip():
            raise AirflowSkipException("no secret named in rotate_now_secret; nothing to rotate")
        since = datetime.now(UTC).isoformat()
        version = trigger_rotation(self.clients(), self.secret_id.strip())
        self.log.info("Rotation of %s started (version %s)", self.secret_id, version)
        return {"secret_id": self.secret_id.strip(), "version_id": version, "since": since}
