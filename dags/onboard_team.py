"""Onboard a team: its IAM role, KMS key, service-credentials secret and Cognito group, after approval.

Trigger with the form: **team** (a slug such as `payments-api`), **environment** (from
`include/onboarding.yaml`), **owners** (e-mail addresses) and optional **extra policies** (from the
allowed list there). The DAG renders the playbook `team-<team>-<env>` from
`include/templates/team-playbook.yaml.j2`:

- role `team-<team>-<env>`, trusting this account, bounded by `developer-boundary`;
- KMS key `alias/team-<team>-<env>` with the role as its user;
- secret `teams/<team>/<env>/service-credentials` (generated value) encrypted with that key;
- Cognito group `team-<team>` in the `myapp-users` pool, mapped to the role.

It plans in check mode and waits at **approve** (Required Actions in the UI) showing the diff.
Approve applies exactly that plan and publishes the playbook to `include/playbooks/teams/`
(or `$IAMFLOW_TEAMS_DIR`), where the playbook DAGs and the nightly drift check cover it. Reject,
or no answer within the approval timeout, changes nothing. One run per team and environment at a
time (with `offboard_team` too): a per-team lock, and `max_active_runs=1`.
"""

from __future__ import annotations

from airflow.sdk import DAG

from iamflow.airflow.dag_factory import ONBOARD, build_team_dag

dag: DAG = build_team_dag(ONBOARD, doc_md=__doc__)
