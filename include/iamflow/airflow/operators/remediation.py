"""Operators of credential remediation (the DAG is built by :func:`iamflow.airflow.dag_factory.build_remediation_dag`).

plan → approve → apply

- ``plan`` builds the plan from the latest sweep's findings (or collects first) with check-mode
  reads; XCom gets the plan (key ids, user names, dates: never a secret), its hash, the
  remediation run id and the approval's subject and body (the diff). Nothing to do skips the rest.
- ``approve`` is the governed approval (:mod:`.approval`): an approver from ``approvals.yaml``
  who did not trigger the run; every answer is audited with the plan's hash.
- ``apply`` applies exactly the approved plan (its hash checked), each action re-checked live;
  the remediation run id is derived from the DAG run, so a retry resumes the same run record.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from iamflow.airflow.operators.base import IamflowBaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

PLAN, APPROVE, APPLY = "plan", "approve", "apply"
SUBJECT_KEY, BODY_KEY = "approval_subject", "approval_body"
_RUN_ID_BAD = re.compile(r"[^0-9A-Za-z_.-]")


def remediation_run_id(dag_run_id: str) -> str:
    """The remediation run id of a DAG run: its run id with unsafe characters replaced."""
    return _RUN_ID_BAD.sub("_", dag_run_id)[:200]


def approval_body(plan: Any) -> str:
    """The approval's text: the diff, what is left alone, the hash."""
    lines = [f"**Account {plan.account_id}**, findings: {plan.source}", "", "```diff", plan.diff(), "```", ""]
    if plan.skipped:
        lines += ["Left alone:", *[f"- user `{s.user}`, {s.credential}: {s.reason}" for s in plan.skipped], ""]
    lines += [f"Plan hash `{plan.hash}`. Approve applies exactly these actions, each checked again first; "
              "deactivations can be rolled back with `iamflow remediate --rollback <run id>`."]
    return "\n".join(lines)


class _RemediationOperator(IamflowBaseOperator):
    ui_color = "#f6e7d8"

    def rules(self) -> tuple[Any, Any]:
        from iamflow.compliance.config import ComplianceConfig
        from iamflow.errors import IamflowError
        from iamflow.remediation.config import load_rules

        try:
            config = ComplianceConfig.load()
            return load_rules(None, config), config
        except IamflowError as exc:
            raise AirflowFailException(str(exc)) from exc


class PlanRemediationOperator(_RemediationOperator):
    """Propose one action per unused credential; push the plan, its hash and the approval text."""

    def execute(self, context: Context) -> dict[str, Any]:
        from iamflow.errors import IamflowError
        from iamflow.remediation.live import build_plan

        rules, config = self.rules()
        try:
            plan = build_plan(self.clients(), rules, config, datetime.now(UTC))
        except IamflowError as exc:
            raise AirflowFailException(str(exc)) from exc
        ti = context["ti"]
        summary = {"plan": plan.to_dict(), "plan_hash": plan.hash, "run_id": remediation_run_id(ti.run_id),
                   "proposals": len(plan.actions)}
        self.log.info("Remediation plan %s (%d proposals):\n%s", plan.hash[:12], len(plan.actions),
                      plan.diff() or "nothing to remediate")
        for s in plan.skipped:
            self.log.info("left alone: user %s, %s: %s", s.user, s.credential, s.reason)
        ti.xcom_push(key=SUBJECT_KEY, value=f"Remediate {len(plan.actions)} unused credential(s) in {plan.account_id}")
        ti.xcom_push(key=BODY_KEY, value=approval_body(plan))
        if not plan.actions:
            ti.xcom_push(key="return_value", value=summary)
            raise AirflowSkipException("Nothing to remediate: no approval is asked for")
        return summary


class ApplyRemediationOperator(_RemediationOperator):
    """Apply the approved plan as this DAG run's remediation run; fail when an action failed."""

    def execute(self, context: Context) -> dict[str, Any]:
        from iamflow.remediation.plan import Plan
        from iamflow.remediation.run import apply_plan, failed_results, format_results

        ti = context["ti"]
        proposed = ti.xcom_pull(task_ids=PLAN)
        answer = ti.xcom_pull(task_ids=APPROVE) or {}
        if not isinstance(proposed, dict) or "plan" not in proposed:
            raise AirflowFailException(f"no plan from {PLAN}")
        if (answer.get("chosen_options") or [None])[0] != "Approve":
            raise AirflowFailException("the plan was not approved: nothing is applied")
        try:
            plan = Plan.from_dict(proposed["plan"])
        except ValueError as exc:
            raise AirflowFailException(str(exc)) from exc
        if plan.hash != proposed.get("plan_hash"):
            raise AirflowFailException("the plan differs from the approved one: nothing is applied")
        rules, _config = self.rules()
        approval = {"by": (answer.get("responded_by_user") or {}).get("name"), "at": str(answer.get("responded_at")),
                    "plan_hash": plan.hash, "dag_run_id": ti.run_id}
        record = apply_plan(self.clients(), plan, run_id=proposed["run_id"], delete_after_days=rules.delete_after_days,
                            approval=approval)
        self.log.info("remediation run %s:\n%s", record.run_id, format_results(record))
        summary = {"run_id": record.run_id, "outcomes": record.outcomes()}
        failed = failed_results(record)
        if failed:
            ti.xcom_push(key="return_value", value=summary)
            raise AirflowFailException(f"remediation run {record.run_id}: {len(failed)} action(s) failed: "
                                       + "; ".join(f"{r['id']}: {r['detail']}" for r in failed))
        return summary


__all__: Sequence[str] = ("ApplyRemediationOperator", "PlanRemediationOperator", "approval_body", "remediation_run_id")
