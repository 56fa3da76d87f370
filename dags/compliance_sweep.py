"""Nightly compliance sweep: every target account, every CIS identity control, and drift from the playbooks.

`resolve_targets` reads `include/targets.yaml` (the current account unless it lists accounts or
`organization: true`); `sweep_account` runs once per account (dynamic task mapping, in the
`iamflow_sweep` pool), assuming each account's role with the ExternalId named in that file;
`merge_reports` writes `findings.json`, `findings.csv`, `report.html` and `findings.ocsf.json`
to `$IAMFLOW_REPORT_DIR/<run id>/` and `latest/`, and updates the Asset
`x-iamflow://reports/compliance/latest` that downstream DAGs can be scheduled on. `posture` then
applies the gate of `include/compliance.yaml` (`posture:`): FAIL findings new since the previous run,
at or above `min_severity`, fail the run (`on_new_fail: fail`) or are notified (`notify`); its log
and return value give the counts per severity, new and fixed.

An account that cannot be reached is retried; its last attempt records `ERROR` findings for that
account and the others carry on. Trigger with `{"accounts": "111111111111,222222222222"}` to
sweep only some of the targets.

The pool must exist (`airflow pools set iamflow_sweep 4 "iamflow compliance sweep: accounts swept
at the same time"`), or set `IAMFLOW_SWEEP_POOL=default_pool`: Airflow never schedules a task
whose pool is missing.
"""

from __future__ import annotations

from airflow.sdk import DAG

from iamflow.airflow.dag_factory import build_compliance_sweep_dag

# The sweep sends one message per run, from its `posture` task: new failures at or above the gate's
# severity (`posture:` in compliance.yaml), the run's totals and the report's path; logged, and mailed
# or posted when `iamflow_smtp` / `iamflow_slack` connections exist. This slot takes an extra callable
# of your own, given the merge task's summary (run id, paths, counts); e.g.
# `iamflow.airflow.callbacks.notify_report`, a digest of every high and critical failure.
ON_REPORT = None

dag: DAG = build_compliance_sweep_dag(doc_md=__doc__, on_report=ON_REPORT)
