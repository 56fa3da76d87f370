"""Nightly compliance sweep: every target account, every CIS identity control, and drift from the playbooks.

`resolve_targets` reads `include/targets.yaml` (the current account unless it lists accounts or
`organization: true`); `sweep_account` runs once per account (dynamic task mapping, in the
`iamflow_sweep` pool), assuming each account's role with the ExternalId named in that file;
`merge_reports` writes `findings.json`, `findings.csv`, `report.html` and `findings.ocsf.json`
to `$IAMFLOW_REPORT_DIR/<run id>/` and `latest/`, and updates the Asset
`x-iamflow://reports/compliance/latest` that downstream DAGs can be scheduled on.

An account that cannot be reached is retried; its last attempt records `ERROR` findings for that
account and the others carry on. Trigger with `{"accounts": "111111111111,222222222222"}` to
sweep only some of the targets.

The pool must exist (`airflow pools set iamflow_sweep 4 "iamflow compliance sweep: accounts swept
at the same time"`), or set `IAMFLOW_SWEEP_POOL=default_pool`: Airflow never schedules a task
whose pool is missing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import DAG, Param

from iamflow.callbacks import notify_report, on_failure_callback
from iamflow.operators.sweep import (
    COMPLIANCE_REPORT_ASSET,
    MERGE_TASK_ID,
    RESOLVE_TASK_ID,
    SWEEP_TASK_ID,
    SWEEP_TIME_KEY,
    MergeSweepReportsOperator,
    ResolveSweepTargetsOperator,
    SweepAccountOperator,
    sweep_pool,
)

SWEEP_TIME = f"{{{{ ti.xcom_pull(task_ids='{RESOLVE_TASK_ID}', key='{SWEEP_TIME_KEY}') }}}}"

# Notification slot: a callable taking the merge task's summary (run id, paths, counts). The default
# logs the high and critical failures, and mails or posts them when `iamflow_smtp` / `iamflow_slack`
# connections exist.
ON_REPORT = notify_report

with DAG(
    dag_id="compliance_sweep",
    schedule="0 2 * * *",
    start_date=datetime(2025, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    tags=["iamflow", "compliance", "demo"],
    doc_md=__doc__,
    default_args={"owner": "iamflow", "retries": 2, "retry_delay": timedelta(minutes=1),
                  "on_failure_callback": on_failure_callback},
    params={
        "accounts": Param("", type="string", title="Accounts",
                          description="Comma-separated account ids to sweep (default: every target of targets.yaml)"),
    },
) as dag:
    resolve = ResolveSweepTargetsOperator(
        task_id=RESOLVE_TASK_ID,
        accounts="{{ params.accounts }}",
        doc_md="List the accounts to sweep from `include/targets.yaml` (Organizations when it says so) "
               "and fix the sweep's clock.",
    )
    sweep = SweepAccountOperator.partial(
        task_id=SWEEP_TASK_ID,
        sweep_time=SWEEP_TIME,
        pool=sweep_pool(),
        retry_delay=timedelta(seconds=30),
        map_index_template="{{ iamflow_account }}",
        execution_timeout=timedelta(hours=1),
        doc_md="Sweep one account: assume its role, collect once, run every enabled check and the drift "
               "check, apply the mutelist. The last attempt turns an unreachable account into ERROR findings.",
    ).expand(target=resolve.output)
    MergeSweepReportsOperator(
        task_id=MERGE_TASK_ID,
        results=sweep.output,
        targets=resolve.output,
        sweep_time=SWEEP_TIME,
        outlets=[COMPLIANCE_REPORT_ASSET],
        on_report=ON_REPORT,
        doc_md="Merge every account's findings, write the reports and `latest/`, log the summary and "
               "update the report Asset.",
    )
