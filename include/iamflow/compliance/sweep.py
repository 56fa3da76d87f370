"""The sweep: per account collect → evaluate → mute → name keys; across accounts merge and write reports.

The Airflow DAG maps :func:`sweep_target` over the targets (one task per account, JSON-able
results) and calls :func:`finish_sweep` to merge; ``iamflow sweep`` calls :func:`run_sweep`,
which does both in one process. An account that cannot be reached yields ``ERROR`` findings for
every enabled check of that account and never stops the others. Both compare the playbooks with
each account (the drift check) through :func:`default_drift_provider` unless given another.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iamflow.compliance.collect import (
    CollectOptions,
    DriftProvider,
    Sleep,
    collect_account,
    describe_error,
    lookup_access_key_ids,
)
from iamflow.compliance.config import ComplianceConfig
from iamflow.compliance.findings import ERROR, FAIL, GLOBAL_REGION, Finding
from iamflow.compliance.mutelist import ExpiredSuppression, Mutelist
from iamflow.compliance.registry import Check, Evaluation, enabled_checks, evaluate, steps_for
from iamflow.compliance.report import ReportPaths, gc_paused, write_reports
from iamflow.compliance.snapshot import ALL_STEPS, CREDENTIAL_REPORT, Snapshot
from iamflow.compliance.targets import DEFAULT_SESSION_NAME, Target, TargetResolutionError, clients_for_target
from iamflow.settings import report_dir

if TYPE_CHECKING:
    from iamflow.aws.clients import AwsClients

def sweep_account(
    clients: AwsClients,
    account_id: str | None,
    config: ComplianceConfig,
    mutelist: Mutelist | None,
    now: datetime,
    *,
    drift_provider: DriftProvider | None = None,
    sleep: Sleep | None = None,
) -> list[Finding]:
    """Sweep one account (regional services in the clients' region): findings muted per the mutelist, keys named."""
    with gc_paused():  # the snapshot and the findings are many small acyclic objects
        return _sweep_account(clients, account_id, config, mutelist, now, drift_provider=drift_provider, sleep=sleep)


def _sweep_account(clients: AwsClients, account_id: str | None, config: ComplianceConfig, mutelist: Mutelist | None,
                   now: datetime, *, drift_provider: DriftProvider | None, sleep: Sleep | None) -> list[Finding]:
    checks = enabled_checks(config)
    # each check is judged as soon as its steps are in, while the slower steps are still collected
    evaluation = Evaluation(checks, config, now)
    snapshot = collect_account(
        clients,
        now=now,
        steps=steps_for(checks),
        account_id=account_id,
        options=CollectOptions(
            report_max_age=config.collection.credential_report_max_age,
            report_timeout_seconds=config.collection.credential_report_timeout_seconds,
        ),
        sleep=sleep,
        drift_provider=drift_provider,
        on_progress=evaluation.advance,
    )
    findings = stamp_credential_report_time(evaluation.findings(snapshot), checks, snapshot)
    if mutelist is not None:
        findings = mutelist.apply(findings, now)
    return resolve_access_key_ids(clients, findings, config.collection.access_key_id_lookups)


# the extra field of a finding judged from the credential report: when AWS generated that report
CREDENTIAL_REPORT_TIME_FIELD = "credential_report_generated_at"


def stamp_credential_report_time(findings: list[Finding], checks: Sequence[Check], snapshot: Snapshot) -> list[Finding]:
    """Give each finding of a check that reads the credential report the report's generation time (ISO 8601).

    The report can be up to ``credential_report_max_age_hours`` old (a younger one is reused), so
    a reader must know what moment a verdict such as "key unused for 50 days" describes. The field
    is an extra field: a top-level key in findings.json, in the CSV's ``extra`` column and in the
    OCSF resource details. A finding of such a check without a report (its ERROR) carries none.
    """
    report = snapshot.credential_report
    if report is None or report.generated_time is None:
        return findings
    readers = {c.id for c in checks if CREDENTIAL_REPORT in c.needs}
    when = report.generated_time.isoformat()
    for f in findings:
        if f.check_id in readers:
            # each finding owns its extra dict, and a timestamp needs no redaction: set it in place rather
            # than rebuild the finding (which would redact every field again, thousands of times)
            f.extra[CREDENTIAL_REPORT_TIME_FIELD] = when
    return findings


def default_drift_provider() -> DriftProvider:
    """The converge engine's comparison of the playbooks (``$IAMFLOW_PLAYBOOKS_DIR``) with live state, read-only."""
    from iamflow.compliance.drift import PlaybookDriftProvider

    return PlaybookDriftProvider()


def unreachable_findings(account_id: str, reason: str, config: ComplianceConfig, now: datetime, *,
                         region: str = "us-east-1", checks: Sequence[Check] | None = None) -> list[Finding]:
    """ERROR findings, one per enabled check, for an account the sweep could not reach."""
    snapshot = Snapshot(account_id=account_id, region=region)
    for step in ALL_STEPS:
        snapshot.errors[step] = f"account not reachable: {reason}"
    return evaluate(checks if checks is not None else enabled_checks(config), snapshot, config, now)


# the pseudo-checks of a sweep that could not start: their ERROR finding is the report of that run
TARGETS_CHECK_ID = "iamflow_sweep_targets_resolved"
CONFIGURATION_CHECK_ID = "iamflow_sweep_configuration_valid"
_SETUP_CHECKS = {
    TARGETS_CHECK_ID: (
        "The accounts to sweep could be resolved",
        "Give the sweep's credentials sts:GetCallerIdentity, and organizations:ListAccounts (with "
        "ListAccountsForParent, ListOrganizationalUnitsForParent and ListTagsForResource for ou_ids and tags) "
        "when targets.yaml says organization; or fix the organization filter so that it selects accounts.",
    ),
    CONFIGURATION_CHECK_ID: (
        "The sweep's settings are valid",
        "Fix the file named in the message (compliance.yaml, the mutelist or targets.yaml) or the option.",
    ),
}


def setup_error_finding(check_id: str, reason: str, *, account_id: str | None = None,
                        partition: str = "aws") -> Finding:
    """The ERROR finding of a sweep that could not start, filed on the account root when the account is known."""
    title, remediation = _SETUP_CHECKS[check_id]
    account = account_id or "unknown"
    arn = f"arn:{partition}:iam::{account_id}:root" if account_id else ""
    return Finding(check_id, ERROR, "high", account, GLOBAL_REGION, arn, f"no account was swept: {reason}",
                   remediation, {}, title=title, resource_id=account_id or "", resource_type="AwsAccount")


def write_setup_failure(check_id: str, reason: str, out_dir: str | Path | None, *, now: datetime,
                        account_id: str | None = None, partition: str = "aws", run_id: str | None = None,
                        dag_run_id: str | None = None) -> SweepResult:
    """Write the report of a sweep that could not start: one ERROR finding naming what failed."""
    finding = setup_error_finding(check_id, reason, account_id=account_id, partition=partition)
    result = TargetResult(Target(account_id), [finding], {}, reason)
    return finish_sweep([result], out_dir, mutelist=None, now=now, run_id=run_id, dag_run_id=dag_run_id)


def write_resolution_failure(error: TargetResolutionError, out_dir: str | Path | None, *, now: datetime,
                             run_id: str | None = None, dag_run_id: str | None = None) -> SweepResult:
    """Write the report of a sweep whose targets could not be resolved (see :class:`TargetResolutionError`)."""
    return write_setup_failure(TARGETS_CHECK_ID, str(error), out_dir, now=now, account_id=error.account_id,
                               partition=error.partition, run_id=run_id, dag_run_id=dag_run_id)


def resolve_access_key_ids(clients: AwsClients, findings: list[Finding], budget: int) -> list[Finding]:
    """Fill ``access_key_id`` (and the message) of failing per-key findings, one ListAccessKeys per user, ``budget`` users at most.

    The credential report identifies keys only by slot (1 or 2); looking the id up costs a call
    per user, so only users with a FAIL key finding are looked up, and the budget caps the calls.
    The root user's keys are not looked up: ListAccessKeys names root's keys only when root calls it.
    """
    # (index, finding, slot) of the per-key findings of IAM users: the only ones a lookup can name
    keyed: list[tuple[int, Finding, int]] = []
    for i, f in enumerate(findings):
        slot = _slot(f)
        if slot and not f.resource_arn.endswith(":root"):
            keyed.append((i, f, slot))
    wanted: dict[str, dict[int, datetime | None]] = {}
    for _i, f, slot in keyed:
        if f.status == FAIL and not f.extra.get("access_key_id") and f.resource_id:
            created = f.extra.get("key_created")
            wanted.setdefault(f.resource_id, {})[slot] = datetime.fromisoformat(created) if created else None
    if not wanted or budget <= 0:
        return findings
    try:
        found, _errors = lookup_access_key_ids(clients, wanted, budget)
    except Exception:  # naming the key is a courtesy: the findings stand without it
        return findings
    out = list(findings)
    for i, f, slot in keyed:
        key_id = found.get((f.resource_id, slot))
        if key_id is None:
            continue

        def named(m: re.Match[str], k: str = key_id) -> str:
            return f"{m.group(0)} ({k})"

        message = re.sub(rf"(?i)\baccess key {slot}\b", named, f.message, count=1)
        out[i] = f.with_status(f.status, message=message, extra={**f.extra, "access_key_id": key_id})
    return out


def _slot(f: Finding) -> int | None:
    value = f.extra.get("access_key")
    if isinstance(value, str) and value.startswith("access_key_"):
        return int(value.rsplit("_", 1)[1])
    return None


@dataclass
class TargetResult:
    """What one account's sweep produced: findings and the API calls it made, by operation."""

    target: Target
    findings: list[Finding]
    calls: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form (an Airflow XCom)."""
        return {"target": self.target.to_dict(), "findings": [f.to_dict() for f in self.findings],
                "calls": self.calls, "error": self.error}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TargetResult:
        """Inverse of :meth:`to_dict`."""
        return cls(Target.from_dict(data["target"]), [Finding.from_dict(f) for f in data["findings"]],
                   dict(data.get("calls") or {}), data.get("error"))


def sweep_target(
    target: Target,
    *,
    base: AwsClients,
    config: ComplianceConfig,
    mutelist: Mutelist | None,
    now: datetime,
    external_id: str | None = None,
    session_name: str = DEFAULT_SESSION_NAME,
    region: str | None = None,
    drift_provider: DriftProvider | None = None,
    sleep: Sleep | None = None,
    raise_unreachable: bool = False,
) -> TargetResult:
    """Reach one target (assuming its role) and sweep it; failing to reach it gives ERROR findings.

    :param drift_provider: compares the playbooks with the account; :func:`default_drift_provider`
        when None (it only runs when the drift check is enabled).
    :param raise_unreachable: re-raise instead, so that an Airflow task can retry; its last
        attempt should pass False to record the ERROR findings.
    """
    from iamflow.aws.clients import CallLog

    log = CallLog()
    account = target.account_id or "unknown"
    try:
        account = target.account_id or base.caller_context().account_id
        clients = clients_for_target(base, target, external_id=external_id, session_name=session_name,
                                     region=region, call_log=log)
    except Exception as exc:
        if raise_unreachable:
            raise
        reason = describe_error(exc)
        findings = unreachable_findings(account, reason, config, now, region=region or base.region or "us-east-1")
        return TargetResult(target, findings, {}, reason)
    before = Counter(clients.call_log.by_operation())
    findings = sweep_account(clients, account, config, mutelist, now, sleep=sleep,
                             drift_provider=drift_provider or default_drift_provider())
    calls = Counter(clients.call_log.by_operation())
    calls.subtract(before)
    return TargetResult(target, findings, {k: v for k, v in sorted(calls.items()) if v})  # by name: the same each run


@dataclass
class SweepResult:
    """The outcome of :func:`run_sweep`."""

    paths: ReportPaths
    findings: list[Finding]
    results: list[TargetResult]
    expired_suppressions: list[ExpiredSuppression]


def finish_sweep(
    results: Iterable[TargetResult],
    out_dir: str | Path | None,
    *,
    mutelist: Mutelist | None,
    now: datetime,
    run_id: str | None = None,
    dag_run_id: str | None = None,
) -> SweepResult:
    """Merge per-account results and write the reports (the DAG's final task)."""
    results = list(results)
    findings = [f for r in results for f in r.findings]
    accounts = sorted({f.account_id for f in findings} | {r.target.account_id for r in results if r.target.account_id})
    expired = mutelist.expired_entries(now, findings, accounts) if mutelist is not None else []
    calls = {r.target.account_id or "current": r.calls for r in results}
    paths = write_reports(findings, report_dir(out_dir), run_id=run_id, generated_at=now, expired_suppressions=expired,
                          accounts=accounts, call_counts=calls, dag_run_id=dag_run_id)
    return SweepResult(paths, findings, results, expired)


def run_sweep(
    targets: Sequence[Target],
    out_dir: str | Path | None = None,
    *,
    base: AwsClients,
    config: ComplianceConfig | None = None,
    mutelist: Mutelist | None = None,
    now: datetime | None = None,
    run_id: str | None = None,
    external_id: str | None = None,
    session_name: str = DEFAULT_SESSION_NAME,
    region: str | None = None,
    drift_provider: DriftProvider | None = None,
    sleep: Sleep | None = None,
    workers: int = 1,
) -> SweepResult:
    """Sweep every target (``workers`` at a time) and write one report set; return paths and findings."""
    config = config or ComplianceConfig.load()
    now = now or datetime.now(UTC)
    drift_provider = drift_provider or default_drift_provider()  # one provider: playbooks validated once

    def one(target: Target) -> TargetResult:
        return sweep_target(target, base=base, config=config, mutelist=mutelist, now=now, external_id=external_id,
                            session_name=session_name, region=region, drift_provider=drift_provider, sleep=sleep)

    if workers > 1 and len(targets) > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(one, targets))
    else:
        results = [one(t) for t in targets]
    return finish_sweep(results, out_dir, mutelist=mutelist, now=now, run_id=run_id)
