"""The one model of a sweep's results: identity, comparison with the previous run, order, grouping, counts.

``report.html``, ``summary.json`` (both written by :mod:`iamflow.compliance.report`), the Compliance
view (:mod:`iamflow.airflow.ui.data`), the posture gate and the printed summary all read a run
through these functions, so they cannot disagree. Everything here works on ``findings.json`` rows
(mappings), which is what every reader has; :func:`sort_findings` orders :class:`Finding` objects
by the same key.

Rules:

- **Identity**: a finding's ``uid`` (:attr:`Finding.uid`: check, account, region, resource ARN,
  resource id and credential-report key slot). The access key *id* is not part of it: it is looked
  up within a budget and may be missing from one run and present in the next.
- **Comparison** with the previous run (the run the report names in ``previous_run``):

  - ``new``: FAIL now, not FAIL in the previous run (absent, PASS, ERROR or MUTED then);
  - ``still_failing``: FAIL in both runs;
  - ``fixed``: FAIL then, evaluated now and PASS;
  - ``muted``: FAIL then, MUTED now (still failing, but suppressed);
  - ``not_evaluated``: FAIL then, and no verdict now. The reason is the first that applies:
    ``account_not_swept`` (no finding of the account now), ``check_not_run`` (the check produced
    nothing in the account: disabled in ``compliance.yaml`` or removed), ``playbook_removed`` (a
    drift finding whose playbook no longer yields any finding in the account), ``check_error``
    (the finding, or its check in that account, is ERROR now: the sweep could not tell) and
    ``resource_gone`` (the resource was deleted, or its playbook no longer declares it).

  A first run (nothing to compare with) has no new or fixed findings; the posture gate treats
  every FAIL of a first run as new.
- **Order**: status (FAIL, ERROR, MUTED, PASS), severity (critical first), account, check,
  resource ARN, resource id, key slot.
- **Controls**: grouped per framework named in the findings' ``compliance`` mapping (``CIS-3.0``,
  ``CIS-5.0``, ``FSBP``, in that order, then any other framework by name); ids sort numerically
  part by part (``1.2`` < ``1.10``, ``IAM.2`` < ``IAM.10``). A control's verdict is FAIL if any of
  its findings fails, else ERROR if any errs, else PASS if any passes, else MUTED.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from iamflow.compliance.findings import ERROR, FAIL, MUTED, PASS, SEVERITIES, Finding

Row = Mapping[str, Any]

# the order of reading, and of every status column
STATUS_ORDER = (FAIL, ERROR, MUTED, PASS)
# frameworks in the order the reports show them (the keys of a finding's ``compliance``); see registry.FRAMEWORKS
FRAMEWORK_ORDER = ("CIS-3.0", "CIS-5.0", "FSBP")
FRAMEWORK_TITLES = {
    "CIS-3.0": "CIS AWS Foundations Benchmark v3.0",
    "CIS-5.0": "CIS AWS Foundations Benchmark v5.0",
    "FSBP": "AWS Security Hub Foundational Security Best Practices",
}

ACCOUNT_NOT_SWEPT = "account_not_swept"
CHECK_NOT_RUN = "check_not_run"
PLAYBOOK_REMOVED = "playbook_removed"
CHECK_ERROR = "check_error"
RESOURCE_GONE = "resource_gone"
NOT_EVALUATED_REASONS = {
    ACCOUNT_NOT_SWEPT: "the account was not swept this time",
    CHECK_NOT_RUN: "the check did not run in the account (disabled in compliance.yaml, or removed)",
    PLAYBOOK_REMOVED: "the playbook that declared the resource is gone",
    CHECK_ERROR: "the check reported ERROR: the sweep could not tell",
    RESOURCE_GONE: "the resource is gone (deleted, or no longer declared by its playbook)",
}
REASON_KEY = "not_evaluated_reason"
DRIFT_CHECKS = frozenset({"iamflow_playbook_drift", "iamflow_playbook_expectation"})

_STATUS_RANK = {s: i for i, s in enumerate(STATUS_ORDER)}
_SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}


# --- identity and order ---------------------------------------------------------------------------


def finding_uid(row: Row) -> str:
    """The stable identity of a findings.json row (its ``uid``; recomputed for a row written without one)."""
    uid = row.get("uid")
    if isinstance(uid, str) and uid:
        return uid
    extra = {"access_key": row["access_key"]} if row.get("access_key") else {}
    return Finding(str(row.get("check_id", "")), PASS, "informational", str(row.get("account_id", "")),
                   str(row.get("region", "")), str(row.get("resource_arn", "")), "", "", {},
                   resource_id=str(row.get("resource_id", "") or ""), extra=extra).uid


def _order(status: Any, severity: Any, account: Any, check: Any, arn: Any, resource_id: Any, key: Any
           ) -> tuple[Any, ...]:
    return (_STATUS_RANK.get(str(status), 9), _SEVERITY_RANK.get(str(severity), 9), str(account or ""),
            str(check or ""), str(arn or ""), str(resource_id or ""), str(key or ""))


def order_key(row: Row) -> tuple[Any, ...]:
    """The sort key of a row: status, severity, account, check, resource ARN, resource id, key slot."""
    return _order(row.get("status"), row.get("severity"), row.get("account_id"), row.get("check_id"),
                  row.get("resource_arn"), row.get("resource_id"), row.get("access_key"))


def sort_rows(rows: Iterable[Row]) -> list[Any]:
    """Rows in reading order (most urgent first)."""
    return sorted(rows, key=order_key)


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Findings in the same reading order as :func:`sort_rows`."""
    return sorted(findings, key=lambda f: _order(f.status, f.severity, f.account_id, f.check_id, f.resource_arn,
                                                 f.resource_id, f.extra.get("access_key", "")))


# --- counts ---------------------------------------------------------------------------------------


def status_counts(rows: Iterable[Row]) -> dict[str, int]:
    """Rows per status, every status present (FAIL, ERROR, MUTED, PASS)."""
    counts = Counter(str(r.get("status")) for r in rows)
    return {s: counts.get(s, 0) for s in STATUS_ORDER}


def severity_counts(rows: Iterable[Row]) -> dict[str, int]:
    """Rows per severity, every severity present (critical first)."""
    counts = Counter(str(r.get("severity")) for r in rows)
    return {s: counts.get(s, 0) for s in SEVERITIES}


def by_severity(rows: Iterable[Row]) -> dict[str, dict[str, int]]:
    """Per severity, rows per status."""
    pairs = Counter((r.get("severity"), r.get("status")) for r in rows)
    severities = [*SEVERITIES, *sorted({str(sev) for sev, _ in pairs} - set(SEVERITIES))]
    return {s: {st: pairs.get((s, st), 0) for st in STATUS_ORDER} for s in severities}


def by_account(rows: Iterable[Row], accounts: Iterable[str] = ()) -> list[dict[str, Any]]:
    """One entry per account (those given plus those in the rows), sorted: counts per status, FAILs per severity."""
    seen = Counter((str(r.get("account_id", "")), r.get("status"), r.get("severity")) for r in rows)
    status: dict[str, Counter[Any]] = {str(a): Counter() for a in accounts}
    failing: dict[str, Counter[Any]] = {}
    for (account, st, severity), n in seen.items():
        status.setdefault(account, Counter())[st] += n
        if st == FAIL:
            failing.setdefault(account, Counter())[severity] += n
    return [{"account_id": a, **{s: status[a].get(s, 0) for s in STATUS_ORDER},
             "fail_by_severity": {s: failing.get(a, Counter()).get(s, 0) for s in SEVERITIES}}
            for a in sorted(status)]


# --- controls -------------------------------------------------------------------------------------


def framework_key(framework: str) -> tuple[int, str]:
    """Frameworks in :data:`FRAMEWORK_ORDER`, then the others by name."""
    return (FRAMEWORK_ORDER.index(framework), "") if framework in FRAMEWORK_ORDER else (len(FRAMEWORK_ORDER), framework)


def control_id_key(control: str) -> tuple[tuple[int, int, str], ...]:
    """A control id's sort key: numeric parts as numbers (``1.2`` < ``1.10``, ``IAM.2`` < ``IAM.10``)."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in control.split("."))


def verdict(counts: Mapping[str, int]) -> str:
    """A control's verdict from its status counts."""
    return next((s for s in (FAIL, ERROR) if counts.get(s)), PASS if counts.get(PASS) else MUTED)


def controls(rows: Iterable[Row]) -> list[dict[str, Any]]:
    """One entry per (framework, control): ``control`` ("CIS-3.0 1.14"), ``framework``, ``id``, counts, verdict, checks."""
    # A check's mapping is its metadata, the same in each of its findings: count per (check, status), then
    # spread the counts over the check's controls (far fewer steps than findings times controls).
    per_check = Counter((r.get("check_id", ""), r.get("status")) for r in rows)
    mappings: dict[Any, tuple[tuple[str, tuple[str, ...]], ...]] = {}
    for r in rows:
        if r.get("check_id", "") not in mappings:
            mappings[r.get("check_id", "")] = _mapping_key(r.get("compliance"))
    counts: dict[tuple[str, str], Counter[str]] = {}
    checks: dict[tuple[str, str], set[str]] = {}
    for (check, status), n in per_check.items():
        for framework, ids in mappings[check]:
            for control in ids:
                key = (framework, control)
                counts.setdefault(key, Counter())[str(status)] += n
                checks.setdefault(key, set()).add(str(check))
    out = []
    for framework, control in sorted(counts, key=lambda k: (framework_key(k[0]), control_id_key(k[1]))):
        c = {s: counts[framework, control].get(s, 0) for s in STATUS_ORDER}
        out.append({"control": f"{framework} {control}", "framework": framework, "id": control, **c,
                    "verdict": verdict(c), "checks": sorted(checks[framework, control])})
    return out


def _mapping_key(compliance: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not isinstance(compliance, Mapping):
        return ()
    return tuple((str(fw), tuple(str(c) for c in ids or ())) for fw, ids in compliance.items())


def controls_by_framework(rows: Iterable[Row]) -> dict[str, list[dict[str, Any]]]:
    """:func:`controls` grouped by framework, frameworks in :func:`framework_key` order."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for entry in controls(rows):
        grouped.setdefault(entry["framework"], []).append(entry)
    return grouped


# --- comparison with the previous run -------------------------------------------------------------


@dataclass
class Comparison:
    """How a run's findings compare with the previous run's (see the module docstring for the rules).

    ``new``, ``still_failing``, ``fixed`` and ``muted`` hold current rows; ``not_evaluated`` holds
    the previous rows, each with its reason under :data:`REASON_KEY`. Each list keeps the order of
    the rows it comes from (reading order for rows read from findings.json).
    """

    compared: bool
    previous_run: str | None = None
    failing: list[Row] = field(default_factory=list)
    new: list[Row] = field(default_factory=list)
    still_failing: list[Row] = field(default_factory=list)
    fixed: list[Row] = field(default_factory=list)
    muted: list[Row] = field(default_factory=list)
    not_evaluated: list[dict[str, Any]] = field(default_factory=list)

    def counts_by_severity(self) -> dict[str, dict[str, int]]:
        """Per change (failing, new, still_failing, fixed, muted, not_evaluated), findings per severity."""
        return {name: severity_counts(getattr(self, name))
                for name in ("failing", "new", "still_failing", "fixed", "muted", "not_evaluated")}

    def reasons(self) -> dict[str, int]:
        """Not-evaluated findings per reason (every reason present)."""
        counts = Counter(str(r[REASON_KEY]) for r in self.not_evaluated)
        return {reason: counts.get(reason, 0) for reason in NOT_EVALUATED_REASONS}


def compare(current: Sequence[Row], previous: Sequence[Row] | None, *, previous_run: str | None = None) -> Comparison:
    """Compare a run's rows with the previous run's (None: nothing to compare with).

    Each list keeps the order of the rows it comes from: reading order, as findings.json is written.
    """
    if previous is None:
        return Comparison(False, None, [r for r in current if r.get("status") == FAIL])
    before_fail = {finding_uid(r) for r in previous if r.get("status") == FAIL}
    result = Comparison(True, previous_run)
    now: dict[str, Any] = {}
    for row in current:
        uid, status = finding_uid(row), row.get("status")
        now[uid] = status
        if status == FAIL:
            result.failing.append(row)
            (result.still_failing if uid in before_fail else result.new).append(row)
        elif uid in before_fail and status == PASS:
            result.fixed.append(row)
        elif uid in before_fail and status == MUTED:
            result.muted.append(row)
    context = _Context(current)
    for before in previous:
        if before.get("status") != FAIL:
            continue
        status = now.get(finding_uid(before))
        if status not in (FAIL, PASS, MUTED):
            result.not_evaluated.append({**before, REASON_KEY: context.reason(before, errored=status == ERROR)})
    return result


class _Context:
    """What the current run holds per account: checks that ran, checks that erred, playbooks seen."""

    def __init__(self, current: Iterable[Row]) -> None:
        self.accounts: set[str] = set()
        self.checks: set[tuple[str, str]] = set()
        self.errors: set[tuple[str, str]] = set()
        self.playbooks: set[tuple[str, str]] = set()
        for r in current:
            account, check = str(r.get("account_id", "")), str(r.get("check_id", ""))
            self.accounts.add(account)
            self.checks.add((account, check))
            if r.get("status") == ERROR:
                self.errors.add((account, check))
            if r.get("playbook"):
                self.playbooks.add((account, str(r["playbook"])))

    def reason(self, before: Row, *, errored: bool) -> str:
        account, check = str(before.get("account_id", "")), str(before.get("check_id", ""))
        if account not in self.accounts:
            return ACCOUNT_NOT_SWEPT
        if (account, check) not in self.checks:
            return CHECK_NOT_RUN
        playbook = before.get("playbook")
        if check in DRIFT_CHECKS and playbook and (account, str(playbook)) not in self.playbooks:
            return PLAYBOOK_REMOVED
        if errored or (account, check) in self.errors:
            return CHECK_ERROR
        return RESOURCE_GONE


# --- the summary.json fields of the comparison ----------------------------------------------------


_BRIEF_FIELDS = ("uid", "check_id", "account_id", "region", "resource_arn", "resource_id", "message")


def brief(row: Row) -> dict[str, Any]:
    """The few fields of a finding that identify it to a reader."""
    return {k: row.get(k) for k in _BRIEF_FIELDS}


def comparison_fields(comparison: Comparison) -> dict[str, Any]:
    """The ``summary.json`` fields of a comparison.

    ``new_failures`` (uids) and ``resolved_failures`` (briefs; since the split, the *fixed* ones
    only) keep their meaning for existing readers; ``fixed`` and ``not_evaluated`` give uids and
    counts (``not_evaluated`` also per reason); ``still_failing`` and ``muted_since_previous`` their
    counts; ``changes_by_severity`` the counts per severity of each change.
    """
    return {
        "previous_run": comparison.previous_run,
        "compared_with_previous": comparison.compared,
        "new_failures": [finding_uid(r) for r in comparison.new],
        "resolved_failures": [brief(r) for r in comparison.fixed],
        "fixed": {"count": len(comparison.fixed), "uids": [finding_uid(r) for r in comparison.fixed]},
        "not_evaluated": {"count": len(comparison.not_evaluated),
                          "uids": [finding_uid(r) for r in comparison.not_evaluated],
                          "by_reason": comparison.reasons()},
        "still_failing": {"count": len(comparison.still_failing)},
        "muted_since_previous": {"count": len(comparison.muted)},
        "changes_by_severity": comparison.counts_by_severity(),
    }
