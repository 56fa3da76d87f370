"""The governed approval step of every workflow that changes AWS after a human says so.

``GovernedApprovalOperator`` is Airflow's human-in-the-loop ``ApprovalOperator`` (Approve /
Reject in Required Actions, Reject on timeout) with iamflow's rules applied to the answer when
the task resumes (:mod:`iamflow.approvals`):

- the responder must be an approver of the workflow in ``include/approvals.yaml`` (a user name,
  or, under an auth manager with roles such as FAB, one of the listed roles, which the auth
  manager's permissions enforce);
- the user who triggered the run (``dag_run.triggering_user_name``) cannot approve it;
- every answer is appended to the audit file with the plan's hash (read from the plan task's
  XCom): ``approve``, ``reject``, or ``refused`` with the reason.

A refused answer fails the task (no retry): nothing downstream applies, and the run says why. The
HITL REST API accepts an answer once, so a refused answer ends that run; trigger it again for an
approver to answer. Timeouts follow Airflow's (the default, Reject).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk.exceptions import AirflowFailException

if TYPE_CHECKING:
    from airflow.sdk import Context

_ROLE_AUTH_MANAGERS = ("fab",)


def auth_manager_has_roles() -> bool:
    """Whether the configured auth manager has roles (FAB does; the simple auth manager's are fixed)."""
    from airflow.configuration import conf

    name = str(conf.get("core", "auth_manager", fallback="") or "").lower()
    return any(part in name for part in _ROLE_AUTH_MANAGERS)


class GovernedApprovalOperator(ApprovalOperator):
    """Approve or Reject, counted only from an approver who did not trigger the run; every answer audited.

    :param workflow: the workflow's name in ``approvals.yaml`` (``onboard_team``, ``offboard_team``,
        ``remediate_credentials``).
    :param plan_task_id: the task whose return value holds the plan's hash.
    :param plan_hash_key: the key of that hash in the return value.
    """

    def __init__(self, *, workflow: str, plan_task_id: str, plan_hash_key: str = "plan_hash", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.workflow = workflow
        self.plan_task_id = plan_task_id
        self.plan_hash_key = plan_hash_key

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        if "error" not in event:
            self._govern(context, event)
        return super().execute_complete(context=context, event=event)

    def _govern(self, context: Context, event: dict[str, Any]) -> None:
        from iamflow.approvals import APPROVE, REFUSED, REJECT, ApprovalConfig, Decision, judge
        from iamflow.errors import IamflowError

        ti = context["ti"]
        responder = (event.get("responded_by_user") or {}).get("name")
        dag_run = context.get("dag_run")
        triggered_by = getattr(dag_run, "triggering_user_name", None) if dag_run is not None else None
        plan = ti.xcom_pull(task_ids=self.plan_task_id)
        digest = str((plan or {}).get(self.plan_hash_key) or "") if isinstance(plan, dict) else ""
        chosen = (event.get("chosen_options") or [""])[0]
        at = event["responded_at"].isoformat() if hasattr(event.get("responded_at"), "isoformat") else ""
        try:
            config = ApprovalConfig.load()
        except IamflowError as exc:
            self._audit(Decision(self.workflow, ti.run_id, REFUSED, str(responder), digest, at=at,
                                 triggered_by=triggered_by, reason=str(exc)))
            raise AirflowFailException(f"approvals cannot be checked: {exc}") from exc
        verdict = judge(config, self.workflow, responder, triggered_by=triggered_by,
                        roles_by_auth_manager=auth_manager_has_roles())
        if not verdict.allowed:
            self._audit(Decision(self.workflow, ti.run_id, REFUSED, str(responder), digest, at=at,
                                 triggered_by=triggered_by, reason=f"{chosen}: {verdict.reason}"))
            self.log.error("Answer %s from %s refused: %s", chosen, responder, verdict.reason)
            raise AirflowFailException(f"The answer of {responder} was refused: {verdict.reason}. Nothing was applied")
        decision = APPROVE if chosen == self.APPROVE else REJECT
        self._audit(Decision(self.workflow, ti.run_id, decision, str(responder), digest, at=at,
                             triggered_by=triggered_by, reason=verdict.reason))
        self.log.info("%s by %s (plan %s) recorded in the audit file", decision, responder, digest[:12])

    def _audit(self, decision: Any) -> None:
        from iamflow.approvals import record

        record(decision)


__all__ = ["GovernedApprovalOperator", "auth_manager_has_roles"]
