"""Remediate unused credentials after each compliance sweep: plan, approve, apply.

Runs when the sweep updates the Asset `x-iamflow://reports/compliance/latest`, or by hand. `plan`
reads the latest sweep's findings from `$IAMFLOW_REPORT_DIR` (collecting the credential checks
first when there is no report) and proposes one action per credential:

- deactivate an access key unused past `thresholds.credential_unused_days` of
  `include/compliance.yaml` (the user is tagged `iamflow:deactivated:<key id>` with the date);
- delete a key iamflow deactivated at least `delete_after_days` (30) days ago and unused since;
- remove a console password unused past the threshold, only when `include/remediation.yaml`
  enables it (it cannot be undone).

A key is never deleted in the run that deactivates it, and users a playbook declares are left to
its converge (rotation included). `approve` (Required Actions) shows the diff; only an approver of
`include/approvals.yaml` who did not trigger the run counts, and every answer is appended to the
approval audit file. `apply` applies exactly that plan, checking each action again first. Roll a
run back with `iamflow remediate --rollback <run id>`.
"""

from __future__ import annotations

from airflow.sdk import DAG

from iamflow.airflow.dag_factory import build_remediation_dag

dag: DAG = build_remediation_dag(doc_md=__doc__)
