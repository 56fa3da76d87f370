"""Secret rotation verification, daily.

For every secret the playbooks declare with a `rotation`, check that rotation is enabled and
configured as declared, that the last rotation is within the schedule plus grace, that the next
one is not overdue, that no `AWSPENDING` version is stuck, and that `AWSCURRENT` is readable and
passes the secret's validator. The task fails when any check is FAIL or ERROR; the checks are in
its log and its XCom (statuses and reasons, never a value).

Trigger with `{"rotate_now_secret": "<name>"}` to rotate that secret through its Lambda first and
wait (bounded, one hour; deferred to the triggerer) for the rotation to finish before verifying.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import DAG, Param

from iamflow.callbacks import on_failure_callback
from iamflow.operators.secrets import (
    SecretRotationSensor,
    TriggerSecretRotationOperator,
    VerifySecretRotationOperator,
)

with DAG(
    dag_id="secret_rotation",
    schedule="@daily",
    start_date=datetime(2025, 1, 1, tzinfo=UTC),
    catchup=False,
    tags=["iamflow", "secrets", "verification"],
    doc_md=__doc__,
    default_args={"owner": "iamflow", "retries": 2, "retry_delay": timedelta(seconds=30),
                  "on_failure_callback": on_failure_callback},
    params={
        "rotate_now_secret": Param("", type="string",
                                   description="A secret to rotate now (through its Lambda) before verifying"),
        "include_all": Param(False, type="boolean", description="Also verify every other secret in the account"),
    },
) as dag:
    trigger = TriggerSecretRotationOperator(task_id="trigger_rotation",
                                            secret_id="{{ params.rotate_now_secret }}")
    wait = SecretRotationSensor(
        task_id="wait_for_rotation",
        secret_id="{{ params.rotate_now_secret }}",
        since="{{ ti.xcom_pull(task_ids='trigger_rotation')['since'] }}",
        timeout=60 * 60,
        poke_interval=30,
        deferrable=True,  # waits in the triggerer, holding no worker slot
    )
    verify = VerifySecretRotationOperator(task_id="verify_rotation", trigger_rule="none_failed")
    trigger >> wait >> verify
