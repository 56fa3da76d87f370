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

from airflow.sdk import DAG

from iamflow.airflow.dag_factory import build_secret_rotation_dag

dag: DAG = build_secret_rotation_dag(doc_md=__doc__)
