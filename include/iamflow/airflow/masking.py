"""The bridge from iamflow's secret hygiene to Airflow's secrets masker.

:func:`iamflow.secrets.hygiene.protect_secret` hands every generated or read secret to the
registered maskers; registering :func:`mask_secret` there makes Airflow redact the value in task
logs, rendered fields and XCom, in the task process and its supervisor.
"""

from __future__ import annotations

from iamflow.secrets.hygiene import register_masker


def mask_secret(value: str) -> None:
    """Register ``value`` with Airflow's secrets masker (``airflow.sdk.log.mask_secret``)."""
    # imported on first use: the Task SDK's log module is slow to import and DAG files import this package
    from airflow.sdk.log import mask_secret as airflow_mask_secret

    airflow_mask_secret(value)


def register_masking() -> None:
    """Make every :func:`~iamflow.secrets.hygiene.protect_secret` call reach Airflow's masker (idempotent)."""
    register_masker(mask_secret)
