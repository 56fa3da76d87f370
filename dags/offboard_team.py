"""Offboard a team: remove what `onboard_team` created for it, after approval.

Trigger with the form: **team** and **environment**. The DAG renders the same playbook as
onboarding with `state: absent`, plans, and waits at **approve** showing what would be removed.
On approval: the Cognito group and the role are deleted, the secret is scheduled for deletion
with its recovery window and the KMS key with its pending window (both from
`include/onboarding.yaml`), and the team's published playbook is removed from the teams folder.
Reject, or no answer within the approval timeout, changes nothing.
"""

from __future__ import annotations

from airflow.sdk import DAG

from iamflow.airflow.dag_factory import OFFBOARD, build_team_dag

dag: DAG = build_team_dag(OFFBOARD, doc_md=__doc__)
