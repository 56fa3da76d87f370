"""Operators of the compliance sweep DAG: resolve the target accounts, sweep one account, merge the reports.

Cheap to import (``dags/compliance_sweep.py`` imports it at parse time): boto3, the collector and
the checks are imported inside ``execute`` only, and nothing here calls AWS before a task runs.

- :class:`ResolveSweepTargetsOperator` reads ``include/targets.yaml`` (the current account when it
  lists none), lists the organization when asked, and returns the targets as a JSON-able list to
  map over. An ``organization`` filter that matches no account, or a denied
  ``organizations:ListAccounts`` or ``sts:GetCallerIdentity``, fails the task without a retry. It also fixes the sweep's clock (XCom ``sweep_time``) so every account is judged at
  the same instant and a retried merge writes the same run folder.
- :class:`SweepAccountOperator` (mapped, one task per account) assumes the target's role with the
  ExternalId named by ``targets.yaml`` (read at run time from an environment variable or an
  Airflow connection), collects, evaluates and mutes. While retries remain, an account it cannot
  reach raises so that Airflow retries; the last attempt records ``ERROR`` findings instead, so
  one lost account never fails the run or hides the others.
- :class:`MergeSweepReportsOperator` merges every account's findings (an account whose task
  failed outright gets ``ERROR`` findings), writes ``$IAMFLOW_REPORT_DIR/<run id>/`` and
  ``latest/``, logs a summary and updates the report Asset (:data:`REPORT_ASSET_URI`).
  ``on_report`` is the notification slot: a callable given the summary after the files are
  written. When the resolve task failed, the merge writes a report whose one ERROR finding says
  so, and fails.
- :class:`SweepPostureOperator` (``posture``, after the merge) applies the posture gate of
  ``compliance.yaml`` (:mod:`iamflow.compliance.posture`: pure, no Airflow) to the written run:
  new FAIL findings at or above ``min_severity`` fail the DAG run (no retry) or are notified
  through :mod:`iamflow.airflow.notify`. It logs the run's summary and returns the counts (per
  severity, new and fixed) and the verdict. Airflow 3.3 has no supported call for a task to set
  its own note (the Task SDK reads a DAG run's note and can set one only on a run it triggers),
  so the counts go to the log, the return value and the Compliance view's run page.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import Asset, BaseOperator

from iamflow.airflow.compat import AirflowFailException
from iamflow.airflow.operators.base import IamflowBaseOperator, aws_template_fields
from iamflow.settings import mutelist_path, sweep_pool

if TYPE_CHECKING:
    from airflow.sdk import Context

    from iamflow.compliance.mutelist import Mutelist
    from iamflow.compliance.sweep import SweepResult

# Downstream DAGs schedule on this Asset (``schedule=[COMPLIANCE_REPORT_ASSET]``, or
# ``Asset.ref(name="iamflow_compliance_report")``); each event's extra carries the run id, the report
# folder and the counts. The ``x-`` scheme is Airflow's mark of a custom scheme: Airflow leaves it
# as it is instead of loading every provider to look for a normaliser (which would import boto3
# while the DAG file is parsed).
REPORT_ASSET_URI = "x-iamflow://reports/compliance/latest"
COMPLIANCE_REPORT_ASSET = Asset(name="iamflow_compliance_report", uri=REPORT_ASSET_URI, group="compliance")

# The pool that caps how many accounts are swept at once. A task in a pool that does not exist is
# never scheduled (and nothing says so in the UI), so the pool must be created with the metadata
# database: ``airflow pools set iamflow_sweep 4 "..."`` (see :func:`pool_set_command`), or point
# the DAG at an existing pool with IAMFLOW_SWEEP_POOL=default_pool.
DEFAULT_SWEEP_POOL_SLOTS = 4
SWEEP_POOL_DESCRIPTION = "iamflow compliance sweep: accounts swept at the same time"

RESOLVE_TASK_ID = "resolve_targets"
SWEEP_TASK_ID = "sweep_account"
MERGE_TASK_ID = "merge_reports"
POSTURE_TASK_ID = "posture"
SWEEP_TIME_KEY = "sweep_time"
# set in the mapped task's context so that the UI names each mapped task by its account
ACCOUNT_LABEL_KEY = "iamflow_account"

ReportCallback = Callable[[dict[str, Any]], None]


def pool_set_command(slots: int = DEFAULT_SWEEP_POOL_SLOTS, pool: str | None = None) -> list[str]:
    """The ``airflow pools set`` command that creates (or resizes) the sweep's pool."""
    return ["airflow", "pools", "set", pool or sweep_pool(), str(slots), SWEEP_POOL_DESCRIPTION]


def load_mutelist(path: str | None) -> Mutelist:
    """The mutelist at ``path``; the shipped ``include/mutelist.yaml`` when None and present; else none."""
    from iamflow.compliance.mutelist import Mutelist

    return Mutelist.load(mutelist_path(path))


def _settings_error(exc: Exception) -> AirflowFailException:
    # a bad settings file is not fixed by a retry
    return AirflowFailException(f"compliance sweep settings: {exc}")


def parse_sweep_time(value: Any) -> datetime:
    """The sweep clock pushed by the resolve task (ISO 8601); the current time when missing."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value.strip() and value.strip() != "None":
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return datetime.now(UTC)


class ResolveSweepTargetsOperator(IamflowBaseOperator):
    """Return the accounts to sweep, as a list of JSON-able targets for dynamic task mapping.

    Also pushes the sweep's clock under the XCom key ``sweep_time``.

    .. seealso:: ``sts:GetCallerIdentity``; ``organizations:ListAccounts`` (and
        ``ListAccountsForParent`` / ``ListTagsForResource``) when ``targets.yaml`` says
        ``organization``.

    :param targets_path: ``targets.yaml`` (the shipped ``include/targets.yaml`` when None). (templated)
    :param accounts: Comma-separated account ids to keep (all targets when empty). (templated)
    :param aws_conn_id: Airflow connection for AWS; ``None`` uses the boto3 credential chain. (templated)
    :param region_name: AWS region; the connection's region when not given. (templated)
    """

    template_fields: Sequence[str] = aws_template_fields("targets_path", "accounts")
    ui_color = "#dbe8f7"

    def __init__(self, *, targets_path: str | None = None, accounts: str | Sequence[str] = "",
                 aws_conn_id: str | None = "aws_default", region_name: str | None = None, **kwargs: Any) -> None:
        super().__init__(aws_conn_id=aws_conn_id, region_name=region_name, **kwargs)
        self.targets_path = targets_path
        self.accounts = accounts

    def execute(self, context: Context) -> list[dict[str, Any]]:
        from iamflow.compliance.targets import TargetResolutionError, TargetsConfig, resolve_targets
        from iamflow.errors import IamflowError

        sweep_time = datetime.now(UTC)
        try:
            config = TargetsConfig.load(self.targets_path or None)
        except IamflowError as exc:
            raise _settings_error(exc) from exc
        wanted = self.accounts.split(",") if isinstance(self.accounts, str) else list(self.accounts or ())
        only = [a.strip() for a in wanted if a and a.strip()]
        # the connection's credentials act in the current account; the targets' roles are assumed from it
        try:
            targets = resolve_targets(config, self.clients(), only=only)
        except TargetResolutionError as exc:
            if exc.retryable:
                raise
            # a filter that matches nothing or a denied call: never fall back to the current account
            raise AirflowFailException(f"the accounts to sweep could not be resolved: {exc}") from exc
        context["ti"].xcom_push(key=SWEEP_TIME_KEY, value=sweep_time.isoformat())
        self.log.info("Sweeping %d account(s) from %s as of %s: %s", len(targets), config.source,
                      sweep_time.isoformat(), ", ".join(
                          f"{t.label}{f' ({t.name})' if t.name else ''}{' via ' + t.role_arn if t.role_arn else ''}"
                          for t in targets))
        return [t.to_dict() for t in targets]


class SweepAccountOperator(IamflowBaseOperator):
    """Sweep one account (collect once, run every enabled check, mute) and return its findings.

    Meant to be mapped: ``SweepAccountOperator.partial(...).expand(target=resolve.output)``.
    The result is ``TargetResult.to_dict()``: findings (no secret values) and API calls by operation.

    .. seealso:: ``sts:AssumeRole`` with ``ExternalId``; the checks' read permissions
        (``iamflow.compliance.registry.required_permissions``).

    :param target: One target from :class:`ResolveSweepTargetsOperator` (``account_id``, ``role_arn``, ``name``).
    :param sweep_time: The sweep's clock (ISO 8601). (templated)
    :param targets_path: ``targets.yaml``, for the ExternalId source and session name. (templated)
    :param config_path: ``compliance.yaml`` (the shipped one when None). (templated)
    :param mutelist_path: Prowler-format mutelist (``include/mutelist.yaml`` when None and present). (templated)
    :param aws_conn_id: Airflow connection for AWS. (templated)
    :param region_name: Region of KMS, Secrets Manager and Cognito; the connection's when not given. (templated)
    """

    template_fields: Sequence[str] = aws_template_fields("target", "sweep_time", "targets_path", "config_path",
                                                         "mutelist_path")
    ui_color = "#c9e4d6"

    def __init__(self, *, target: dict[str, Any], sweep_time: str | None = None, targets_path: str | None = None,
                 config_path: str | None = None, mutelist_path: str | None = None,
                 aws_conn_id: str | None = "aws_default", region_name: str | None = None, **kwargs: Any) -> None:
        super().__init__(aws_conn_id=aws_conn_id, region_name=region_name, **kwargs)
        self.target = target
        self.sweep_time = sweep_time
        self.targets_path = targets_path
        self.config_path = config_path
        self.mutelist_path = mutelist_path

    def is_last_attempt(self, context: Context) -> bool:
        """Whether Airflow will not retry this task if it fails now."""
        ti = context["ti"]
        max_tries = getattr(ti, "max_tries", None)
        limit = max_tries if isinstance(max_tries, int) and max_tries > 0 else self.retries or 0
        return int(ti.try_number or 1) > int(limit)

    def execute(self, context: Context) -> dict[str, Any]:
        from iamflow.compliance.config import ComplianceConfig
        from iamflow.compliance.sweep import TargetResult, sweep_target, unreachable_findings
        from iamflow.compliance.targets import Target, TargetsConfig
        from iamflow.errors import IamflowError

        target = Target.from_dict(dict(self.target))
        context[ACCOUNT_LABEL_KEY] = target.label  # type: ignore[literal-required]  # our own key in the task context, read back by the UI label
        now = parse_sweep_time(self.sweep_time)
        try:
            config = ComplianceConfig.load(self.config_path or None)
            mutelist = load_mutelist(self.mutelist_path)
            targets_config = TargetsConfig.load(self.targets_path or None)
        except IamflowError as exc:
            raise _settings_error(exc) from exc
        last = self.is_last_attempt(context)
        base = self.clients()
        external_id = None
        if target.role_arn and targets_config.external_id is not None:
            try:
                external_id = targets_config.external_id.resolve()
            except Exception as exc:  # no ExternalId, no way in: this account's findings say so
                reason = f"the ExternalId could not be read: {exc}"
                self.log.error("Account %s: %s", target.label, reason)
                account = target.account_id or "unknown"
                findings = unreachable_findings(account, reason, config, now, region=self.region_name or "us-east-1")
                return TargetResult(target, findings, {}, reason).to_dict()
        self.log.info("Sweeping account %s%s (attempt %s%s), as of %s", target.label,
                      f" through {target.role_arn}" if target.role_arn else "", context["ti"].try_number,
                      ", the last" if last else "", now.isoformat())
        result = sweep_target(target, base=base, config=config, mutelist=mutelist, now=now, external_id=external_id,
                              session_name=targets_config.session_name, region=self.region_name,
                              raise_unreachable=not last)
        counts = Counter(f.status for f in result.findings)
        self.log.info("Account %s: %s; %d API calls%s", target.label,
                      ", ".join(f"{counts.get(s, 0)} {s}" for s in ("FAIL", "ERROR", "MUTED", "PASS")),
                      sum(result.calls.values()), f"; unreachable: {result.error}" if result.error else "")
        return result.to_dict()


class MergeSweepReportsOperator(BaseOperator):
    """Merge every account's findings and write the reports (``$IAMFLOW_REPORT_DIR/<run id>/`` and ``latest/``).

    Runs whatever happened upstream (``trigger_rule="all_done"``): an account whose task left no
    result gets ``ERROR`` findings saying so. Returns the summary (run id, paths, counts), which
    also becomes the extra of the report Asset's event.

    :param results: The mapped sweep tasks' results (``sweep.output``).
    :param targets: The resolved targets (``resolve.output``), to spot accounts without a result.
    :param sweep_time: The sweep's clock (ISO 8601); it also names the run folder. (templated)
    :param report_dir: Report folder; ``$IAMFLOW_REPORT_DIR`` or ``./reports`` when None. (templated)
    :param config_path: ``compliance.yaml``, for the ERROR findings of a lost account. (templated)
    :param mutelist_path: The mutelist, to list expired suppressions. (templated)
    :param on_report: Notification slot: called with the summary once the files are written; its
        failure is logged and does not fail the task.
    """

    template_fields: Sequence[str] = ("results", "targets", "sweep_time", "report_dir", "config_path",
                                      "mutelist_path")
    ui_color = "#e8dcf2"

    def __init__(self, *, results: Any, targets: Any = None, sweep_time: str | None = None,
                 report_dir: str | None = None, config_path: str | None = None, mutelist_path: str | None = None,
                 on_report: ReportCallback | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("trigger_rule", "all_done")
        super().__init__(**kwargs)
        self.results = results
        self.targets = targets
        self.sweep_time = sweep_time
        self.report_dir = report_dir
        self.config_path = config_path
        self.mutelist_path = mutelist_path
        self.on_report = on_report

    def execute(self, context: Context) -> dict[str, Any]:
        from iamflow.compliance.config import ComplianceConfig
        from iamflow.compliance.report import new_run_id
        from iamflow.compliance.sweep import (
            TARGETS_CHECK_ID,
            TargetResult,
            finish_sweep,
            unreachable_findings,
            write_setup_failure,
        )
        from iamflow.compliance.targets import Target
        from iamflow.errors import IamflowError

        now = parse_sweep_time(self.sweep_time)
        try:
            config = ComplianceConfig.load(self.config_path or None)
            mutelist = load_mutelist(self.mutelist_path)
        except IamflowError as exc:
            raise _settings_error(exc) from exc
        results = [TargetResult.from_dict(r) for r in (self.results or []) if r]
        swept = {r.target.account_id for r in results}
        for raw in self.targets or []:
            target = Target.from_dict(raw)
            if target.account_id in swept:
                continue
            reason = "the sweep task of this account failed without a result; see its task log"
            self.log.error("Account %s: %s", target.label, reason)
            findings = unreachable_findings(target.account_id or "unknown", reason, config, now)
            results.append(TargetResult(target, findings, {}, reason))
        dag_run_id = getattr(context.get("dag_run"), "run_id", None)
        if not results:
            # the resolve task failed: the run's report is one ERROR finding saying so
            reason = f"the {RESOLVE_TASK_ID} task failed; its log names the cause"
            failed = write_setup_failure(TARGETS_CHECK_ID, reason, self.report_dir or None, now=now,
                                         run_id=new_run_id(now), dag_run_id=dag_run_id)
            raise AirflowFailException(f"no account was swept: {reason}; report: {failed.paths.run_dir}")
        result = finish_sweep(results, self.report_dir or None, mutelist=mutelist, now=now, run_id=new_run_id(now),
                              dag_run_id=dag_run_id)
        summary = sweep_summary(result, dag_run_id=dag_run_id)
        self.log.info("%s", format_summary(summary))
        self._publish(context, summary)
        if self.on_report is not None:
            try:
                self.on_report(summary)
            except Exception:  # a failed notification must not lose the reports' record
                self.log.exception("the on_report callback failed")
        return summary

    def _publish(self, context: Context, summary: dict[str, Any]) -> None:
        """Attach the run's summary to the report Asset's event (for downstream DAGs)."""
        events = context.get("outlet_events")
        if events is None or not any(getattr(o, "uri", None) == REPORT_ASSET_URI for o in self.outlets or []):
            return
        extra = {k: summary[k] for k in ("run_id", "run_dir", "latest_dir", "totals", "accounts")}
        try:
            events[COMPLIANCE_REPORT_ASSET].extra = extra
        except Exception:  # the event is still emitted, only without the extra
            self.log.warning("could not attach the summary to the report Asset event", exc_info=True)


def sweep_summary(result: SweepResult, *, dag_run_id: str | None = None) -> dict[str, Any]:
    """A small JSON-able view of a sweep: run id, paths, counts by status, severity (non-PASS) and account."""
    totals = Counter(f.status for f in result.findings)
    failing = Counter(f.severity for f in result.findings if f.status in ("FAIL", "ERROR"))
    accounts: dict[str, dict[str, int]] = {}
    for f in result.findings:
        accounts.setdefault(f.account_id, {s: 0 for s in ("FAIL", "ERROR", "MUTED", "PASS")})[f.status] += 1
    return {
        "run_id": result.paths.run_id,
        "dag_run_id": dag_run_id,
        "run_dir": str(result.paths.run_dir),
        "latest_dir": str(result.paths.latest_dir),
        "files": {name: str(path) for name, path in result.paths.files.items()},
        "totals": {s: totals.get(s, 0) for s in ("FAIL", "ERROR", "MUTED", "PASS")},
        "failing_by_severity": {s: failing[s] for s in ("critical", "high", "medium", "low", "informational")
                                if failing.get(s)},
        "accounts": accounts,
        "unreachable": {r.target.label: r.error for r in result.results if r.error},
        "expired_suppressions": len(result.expired_suppressions),
    }


def format_summary(summary: dict[str, Any]) -> str:
    """The merge task's log: totals, failing findings by severity, one line per account, the paths."""
    totals = summary["totals"]
    lines = [
        f"COMPLIANCE SWEEP {summary['run_id']}: " + ", ".join(f"{totals[s]} {s}" for s in totals),
        "failing (FAIL/ERROR) by severity: " + (", ".join(f"{n} {s}" for s, n in summary["failing_by_severity"].items())
                                               or "none"),
    ]
    for account, counts in sorted(summary["accounts"].items()):
        note = f"  (unreachable: {summary['unreachable'][account]})" if account in summary["unreachable"] else ""
        lines.append(f"  {account}: " + ", ".join(f"{counts[s]} {s}" for s in counts) + note)
    if summary["expired_suppressions"]:
        lines.append(f"expired suppressions: {summary['expired_suppressions']} (listed in the report)")
    lines.append(f"reports: {summary['run_dir']}")
    lines += [f"  {name}: {path}" for name, path in summary["files"].items()]
    lines.append(f"latest: {summary['latest_dir']}")
    return "\n".join(lines)


class SweepPostureOperator(BaseOperator):
    """Apply the posture gate to the run the merge wrote: fail the DAG run or notify on new failures.

    :param report: The merge task's summary (``merge.output``): its ``run_dir`` names the run. (templated)
    :param config_path: ``compliance.yaml`` (its ``posture`` section; the shipped file when None). (templated)
    :param notifier: Sends the notification (``iamflow.airflow.notify.send`` when None).
    """

    template_fields: Sequence[str] = ("report", "config_path")
    ui_color = "#f7e3c9"

    def __init__(self, *, report: Any, config_path: str | None = None,
                 notifier: Callable[[Any], Any] | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("retries", 0)  # the verdict of a written report does not change on a retry
        super().__init__(**kwargs)
        self.report = report
        self.config_path = config_path
        self.notifier = notifier

    def execute(self, context: Context) -> dict[str, Any]:
        from iamflow.compliance.config import ComplianceConfig
        from iamflow.compliance.posture import (
            FAIL_RUN,
            NOTIFY,
            evaluate_gate,
            format_summary,
            load_run,
            posture_counts,
        )
        from iamflow.errors import IamflowError

        try:
            settings = ComplianceConfig.load(self.config_path or None).posture
        except IamflowError as exc:
            raise _settings_error(exc) from exc
        run_dir = (self.report or {}).get("run_dir") if isinstance(self.report, dict) else None
        if not run_dir:
            raise AirflowFailException("the merge task returned no report folder: nothing to judge")
        try:
            summary, rows = load_run(run_dir)
        except ValueError as exc:
            raise AirflowFailException(str(exc)) from exc
        verdict = evaluate_gate(settings, summary, rows)
        totals = format_summary(summary)
        self.log.info("%s", totals)
        self.log.info("Posture gate (on_new_fail=%s, min_severity=%s): %s. %s", settings.on_new_fail,
                      settings.min_severity, verdict.action, verdict.subject)
        result = {**posture_counts(summary), "posture": verdict.to_dict()}
        # the sweep's one message: what is new, the run's totals, and where the report is
        text = f"{verdict.text}\n\n{totals}\n\nReport: {Path(run_dir) / 'report.html'}"
        if verdict.action == NOTIFY:
            self._notify(verdict.subject, text)
        if verdict.action == FAIL_RUN:  # the failure callback sends this message, once
            raise AirflowFailException(f"{verdict.subject}\n{text}")
        return result

    def _notify(self, subject: str, text: str) -> None:
        from iamflow.airflow.notify import Message, send

        try:
            (self.notifier or send)(Message(subject, text))
        except Exception:  # a failed notification must not turn a notify verdict into a failed run
            self.log.exception("the posture notification could not be sent")
