"""Operators of team onboarding and offboarding (the DAG is built by :func:`iamflow.airflow.dag_factory.build_team_dag`).

validate_request → render_playbook → plan → approve → apply → publish → recap

- ``validate_request`` re-checks the form in Python (a clear message per field, before any AWS
  call), refuses a team another playbook already claims, and takes the team's lock.
- ``render_playbook`` writes the team playbook to the teams folder's ``.pending/`` and validates
  it with the loader.
- ``plan`` runs every resource in check mode (clients that refuse writes); XCom gets the results
  (changes, diffs: never a secret) and the approval's subject and body.
- ``approve`` is Airflow's human-in-the-loop ``ApprovalOperator``. Reject skips ``apply`` (and so
  ``publish``); its default on timeout is Reject, so an unanswered request changes nothing.
- ``apply`` re-plans, refuses if the plan differs from the approved one, then converges every
  resource in dependency order with the engine.
- ``publish`` moves the playbook to ``<teams>/<team>-<env>.yaml`` (onboarding) or removes it
  (offboarding), so the playbook DAG factory and the nightly drift check follow.
- ``recap`` always runs: the PLAY RECAP, the outcome, clean-up of the staged file and the lock;
  it fails the run when any step failed.

Two runs for the same team and environment cannot both apply: the DAGs have ``max_active_runs=1``
and, across the two DAGs (an onboarding and an offboarding at once) and any executor, the lock
file taken by ``validate_request`` (``O_EXCL``) is held until the recap; ``apply`` checks that
its run still holds it. A lock left by a run that ended without a recap is taken over once
Airflow reports that run finished.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import TriggerRule

from iamflow.airflow.compat import AirflowFailException
from iamflow.airflow.operators.base import IamflowBaseOperator
from iamflow.onboarding import OFFBOARD, ONBOARD, OnboardingConfig, TeamRequest, load_config

if TYPE_CHECKING:
    from airflow.sdk import Context

    from iamflow.onboarding import LockHolder

VALIDATE, RENDER, PLAN, APPROVE, APPLY, PUBLISH, RECAP = (
    "validate_request", "render_playbook", "plan", "approve", "apply", "publish", "recap")
STEPS = (VALIDATE, RENDER, PLAN, APPROVE, APPLY, PUBLISH)
SUBJECT_KEY, BODY_KEY = "approval_subject", "approval_body"
_LIVE_RUN_STATES = frozenset({"queued", "running"})


def _request(context: Context) -> TeamRequest:
    data = context["ti"].xcom_pull(task_ids=VALIDATE)
    if not isinstance(data, dict):
        raise AirflowFailException(f"no validated request from {VALIDATE}")
    return TeamRequest.from_dict(data)


def _staged(context: Context) -> Path:
    data = context["ti"].xcom_pull(task_ids=RENDER)
    if not isinstance(data, dict) or not data.get("path"):
        raise AirflowFailException(f"no rendered playbook from {RENDER}")
    return Path(data["path"])


class _TeamOperator(IamflowBaseOperator):
    """Shared bits: the configuration, the AWS clients, the lock of this run's team."""

    ui_color = "#e3f1e0"

    def __init__(self, *, action: str = ONBOARD, aws_conn_id: str | None = "aws_default",
                 region_name: str | None = None, **kwargs: Any) -> None:
        super().__init__(aws_conn_id=aws_conn_id, region_name=region_name, **kwargs)
        if action not in (ONBOARD, OFFBOARD):
            raise ValueError(f"action must be {ONBOARD!r} or {OFFBOARD!r}, got {action!r}")
        self.action = action

    def config(self) -> OnboardingConfig:
        from iamflow.errors import IamflowError

        try:
            return load_config()
        except IamflowError as exc:
            raise AirflowFailException(str(exc)) from exc

    def load(self, path: Path) -> Any:
        from iamflow.errors import IamflowError
        from iamflow.spec.loader import load_playbook

        try:
            return load_playbook(path)
        except IamflowError as exc:
            raise AirflowFailException(f"the rendered playbook {path} does not validate:\n{exc}") from exc

    def run_play(self, playbook: Any, *, check_mode: bool) -> Any:
        """Run the whole playbook with the engine; transient AWS errors propagate (so retries apply)."""
        from iamflow.engine import run_playbook

        return run_playbook(self.clients(check_mode=check_mode), playbook, check_mode=check_mode)


class ValidateTeamRequestOperator(_TeamOperator):
    """Re-validate the form, refuse conflicting playbooks, take the team's lock; return the request.

    Makes no AWS call. A bad request fails at once (no retry) with one line per problem, each
    naming its form field.
    """

    def execute(self, context: Context) -> dict[str, Any]:
        from iamflow.onboarding.lock import LockHolder, acquire_lock, lock_path
        from iamflow.onboarding.render import find_conflicts, published_path
        from iamflow.onboarding.request import RequestError, validate_request

        config = self.config()
        params = dict(context.get("params") or {})
        try:
            request = validate_request(params, config, self.action)
        except RequestError as exc:
            self.log.error("Request refused, nothing was changed:\n%s", exc)
            raise AirflowFailException(f"Request refused, nothing was changed:\n{exc}") from exc
        conflicts = find_conflicts(request, config)
        if conflicts:
            text = "\n".join(f"  - {c}" for c in conflicts)
            self.log.error("Team %s conflicts with other playbooks:\n%s", request.slug, text)
            raise AirflowFailException(f"field 'team': {request.team!r} in {request.environment!r} conflicts "
                                       f"with other playbooks, nothing was changed:\n{text}")
        published = published_path(request, config)
        if self.action == OFFBOARD and not published.exists():
            self.log.warning("No published playbook %s: offboarding removes whatever of the team still exists",
                             published)
        ti = context["ti"]
        holder = LockHolder(ti.dag_id, ti.run_id, self.action)
        try:
            acquire_lock(lock_path(request, config), holder, is_stale=lambda h: self._stale(h, context, config))
        except RequestError as exc:
            self.log.error("%s", exc)
            raise AirflowFailException(f"Request refused, nothing was changed:\n{exc}") from exc
        self.log.info("Request accepted: %s %s in %s (owners: %s; extra policies: %s)", self.action, request.team,
                      request.environment, ", ".join(request.owners) or "-", ", ".join(request.extra_policies) or "-")
        return request.to_dict()

    def _stale(self, holder: LockHolder, context: Context, config: OnboardingConfig) -> bool:
        """A lock is stale when Airflow says its run is over (or it is far older than any approval wait)."""
        try:
            state = str(context["ti"].get_dagrun_state(holder.dag_id, holder.run_id))
        except Exception:  # the run is unknown (deleted) or the API cannot tell: fall back on the age
            self.log.debug("could not read the state of %s", holder.run_id, exc_info=True)
            try:
                since = datetime.fromisoformat(holder.since)
            except ValueError:
                return False
            return datetime.now(UTC) - since > timedelta(hours=config.approval_timeout_hours + 24)
        state = state.split(".")[-1].lower()
        self.log.info("The team's lock is held by %s, whose state is %s", holder.describe(), state)
        return state not in _LIVE_RUN_STATES


class RenderTeamPlaybookOperator(_TeamOperator):
    """Render the team playbook from the template to the staging folder and validate it with the loader."""

    def execute(self, context: Context) -> dict[str, Any]:
        from iamflow.onboarding.render import render_playbook, staged_path
        from iamflow.spec.loader import check_playbook

        config = self.config()
        request = _request(context)
        run_id = context["ti"].run_id
        path = staged_path(request, config, run_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = render_playbook(request, config, request_id=f"{context['ti'].dag_id} / {run_id}")
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
        result = check_playbook(path)
        for warning in result.warnings:
            self.log.warning("%s", warning)
        if result.errors or result.playbook is None:
            lines = "\n".join(f"  - {p}" for p in result.errors)
            raise AirflowFailException(f"The rendered playbook {path} does not validate:\n{lines}")
        self.log.info("Rendered %s (%d resources):\n%s", path, len(result.playbook.resources), text)
        return {"path": str(path), "playbook": result.playbook.name,
                "resources": [r.key for r in result.playbook.resources]}


class PlanTeamPlaybookOperator(_TeamOperator):
    """Plan every resource in check mode; push the results and the approval's subject and body."""

    def execute(self, context: Context) -> dict[str, Any]:
        from iamflow.engine import format_result
        from iamflow.onboarding.render import approval_body, approval_subject, plan_signature

        request = _request(context)
        path = _staged(context)
        play = self.run_play(self.load(path), check_mode=True)
        for result in play.results:
            self.log.info("%s", format_result(result, diff=True))
        results = [r.to_dict() for r in play.results]
        counts = play.counts()
        ti = context["ti"]
        ti.xcom_push(key=SUBJECT_KEY, value=approval_subject(request, counts))
        ti.xcom_push(key=BODY_KEY, value=approval_body(request, results, playbook_path=str(path)))
        if play.failed:
            failed = ", ".join(r.resource for r in play.results if r.status == "failed")
            raise AirflowFailException(f"The plan failed for {failed}: nothing to approve, nothing was changed")
        return {"counts": counts, "results": results, "signature": plan_signature(results)}


class ApplyTeamPlaybookOperator(_TeamOperator):
    """Apply the approved plan: check the lock, re-plan and compare, then converge in dependency order."""

    def execute(self, context: Context) -> dict[str, Any]:
        from iamflow.engine import FAILED, format_result
        from iamflow.onboarding.lock import holds_lock, lock_path
        from iamflow.onboarding.render import plan_signature

        config = self.config()
        request = _request(context)
        ti = context["ti"]
        if not holds_lock(lock_path(request, config), ti.dag_id, ti.run_id):
            raise AirflowFailException(f"This run no longer holds the lock of {request.slug} "
                                       f"({lock_path(request, config)}): not applying")
        playbook = self.load(_staged(context))
        approved = (ti.xcom_pull(task_ids=PLAN) or {}).get("signature")
        again = self.run_play(playbook, check_mode=True)
        now = plan_signature(r.to_dict() for r in again.results)
        if approved is not None and now != approved:
            raise AirflowFailException("The plan changed since it was approved (someone changed AWS in between); "
                                       "nothing was applied. Run the request again and approve the new plan")
        play = self.run_play(playbook, check_mode=False)
        for result in play.results:
            self.log.info("%s", format_result(result, diff=True))
        summary = {"counts": play.counts(), "results": [r.to_dict() for r in play.results]}
        if play.failed:
            ti.xcom_push(key="return_value", value=summary)
            failed = ", ".join(r.resource for r in play.results if r.status == FAILED)
            raise AirflowFailException(f"Applying {request.playbook_name} failed for {failed}")
        return summary


class PublishTeamPlaybookOperator(_TeamOperator):
    """Onboarding: move the playbook into the teams folder. Offboarding: remove the published playbook."""

    def execute(self, context: Context) -> dict[str, Any]:
        from iamflow.onboarding.render import published_path

        config = self.config()
        request = _request(context)
        staged = _staged(context)
        target = published_path(request, config)
        if self.action == ONBOARD:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, target)  # same filesystem (the staging folder is inside): atomic
            self.log.info("Published %s; the playbook DAG factory and the drift check now cover it", target)
            return {"published": str(target)}
        existed = target.exists()
        target.unlink(missing_ok=True)
        staged.unlink(missing_ok=True)
        self.log.info("%s %s", "Removed" if existed else "There was no published playbook", target)
        return {"removed": str(target) if existed else None}


class TeamRecapOperator(_TeamOperator):
    """Log the PLAY RECAP and the outcome, clean up the staged file and the lock; fail if a step failed."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trigger_rule", TriggerRule.ALL_DONE)
        kwargs.setdefault("retries", 0)
        super().__init__(**kwargs)

    def execute(self, context: Context) -> dict[str, Any]:
        from iamflow.engine import ResourceResult, format_recap
        from iamflow.onboarding.lock import lock_path, release_lock

        ti = context["ti"]
        states = self._states(context)
        request_data = ti.xcom_pull(task_ids=VALIDATE)
        request = TeamRequest.from_dict(request_data) if isinstance(request_data, dict) else None
        approval = ti.xcom_pull(task_ids=APPROVE)
        chosen = (approval or {}).get("chosen_options") if isinstance(approval, dict) else None
        applied = ti.xcom_pull(task_ids=APPLY)
        failed = [t for t in STEPS if states.get(t) in ("failed", "upstream_failed")]

        name = request.playbook_name if request else "team request"
        if isinstance(applied, dict) and applied.get("results"):
            results = [ResourceResult.from_dict(r) for r in applied["results"]]
            self.log.info("\n%s", format_recap(name, results))
        if failed:
            outcome = f"failed at {failed[0]}"
        elif (chosen and chosen[0] != "Approve") or (states.get(APPROVE) == "success"
                                                      and states.get(APPLY) == "skipped"):
            # a rejecting ApprovalOperator skips apply and may leave no XCom: the states tell
            who = ((approval or {}).get("responded_by_user") or {}).get("name") if approval else None
            outcome = f"rejected by {who or 'the approver (or the timeout)'}: nothing was applied or published"
        elif states.get(PUBLISH) == "success":
            outcome = "applied and published" if self.action == ONBOARD else "applied, team playbook removed"
        else:
            outcome = "not applied"
        self.log.info("Outcome of %s %s: %s", self.action, name, outcome)

        if request is not None:
            config = self.config()
            staged = ti.xcom_pull(task_ids=RENDER)
            if isinstance(staged, dict) and staged.get("path"):
                Path(staged["path"]).unlink(missing_ok=True)
            if release_lock(lock_path(request, config), ti.dag_id, ti.run_id):
                self.log.info("Released the lock of %s", request.slug)
        summary = {"action": self.action, "playbook": name, "outcome": outcome,
                   "counts": (applied or {}).get("counts") if isinstance(applied, dict) else None}
        if failed:
            ti.xcom_push(key="return_value", value=summary)
            raise AirflowFailException(f"{self.action} {name}: {outcome}")
        return summary

    def _states(self, context: Context) -> dict[str, str]:
        ti = context["ti"]
        try:
            found = ti.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id], task_ids=list(STEPS))
        except Exception:
            self.log.warning("could not read the states of the steps", exc_info=True)
            return {}
        per_run = found.get(ti.run_id, found) if isinstance(found, dict) else {}
        return {str(k): str(v).split(".")[-1].lower() for k, v in per_run.items()} if isinstance(per_run, dict) else {}


__all__: Sequence[str] = (
    "ApplyTeamPlaybookOperator",
    "PlanTeamPlaybookOperator",
    "PublishTeamPlaybookOperator",
    "RenderTeamPlaybookOperator",
    "TeamRecapOperator",
    "ValidateTeamRequestOperator",
)
