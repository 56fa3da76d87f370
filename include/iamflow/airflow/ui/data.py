"""Read the compliance reports for the Compliance view: runs, counts, trend, changes, suppressions.

Counts, control groups, order and the comparison with the previous run come from
:mod:`iamflow.compliance.results`, the model the HTML report and ``summary.json`` are written
with; the previous run is the one the run's ``summary.json`` names (``previous_run``), so the view
shows the same comparison as the report (the run before it in time only for a summary without
that field).

Pure functions of the report folder (``$IAMFLOW_REPORT_DIR``, else ``./reports``), the mutelist
file and an injected ``now``: no Airflow import, no network. Each run is a ``<run id>/`` folder
holding ``findings.json`` (the contract of DESIGN.md) and usually ``summary.json``; ``latest/`` is
a copy of the newest run and is only used when no run folder exists.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from iamflow.compliance import results
from iamflow.compliance.results import by_account, by_severity, sort_rows, status_counts
from iamflow.settings import mutelist_path, report_dir

STATUSES = results.STATUS_ORDER
SEVERITIES = results.SEVERITIES
FINDINGS_JSON = "findings.json"
SUMMARY_JSON = "summary.json"
# the files a run folder may hold and the view serves (nothing else is ever read from disk by name)
REPORT_FILES = ("findings.json", "findings.csv", "report.html", "findings.ocsf.json", "summary.json")
LATEST = "latest"
SWEEP_DAG_ID = "compliance_sweep"
EXPIRY_WARNING_DAYS = 14
TREND_RUNS = 14

_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+-]{0,127}$")
_RUN_ID_TIME = "%Y%m%dT%H%M%SZ"


def valid_run_id(run_id: str) -> bool:
    """Whether ``run_id`` is a plain folder name (no separator, no dot-dot, not hidden)."""
    return bool(_RUN_ID.match(run_id)) and ".." not in run_id


@dataclass(frozen=True)
class Run:
    """One sweep's report folder."""

    run_id: str
    path: Path
    generated_at: datetime
    summary: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def dag_run_id(self) -> str | None:
        """The Airflow DAG run that wrote the report, when its summary names it."""
        value = self.summary.get("dag_run_id")
        return str(value) if value else None

    @property
    def files(self) -> list[str]:
        """The report files present in the folder, in :data:`REPORT_FILES` order."""
        return [name for name in REPORT_FILES if (self.path / name).is_file()]

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "generated_at": self.generated_at.isoformat(),
                "dag_run_id": self.dag_run_id, "files": self.files}


def _read_json(path: Path) -> Any:
    stat = path.stat()
    return _read_json_cached(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=32)
def _read_json_cached(path: str, _mtime_ns: int, _size: int) -> Any:
    # keyed on mtime and size as well: a rewritten file is read again
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def _when(folder: Path, summary: Mapping[str, Any]) -> datetime:
    text = summary.get("generated_at")
    if isinstance(text, str):
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        except ValueError:
            pass
    try:
        return datetime.strptime(folder.name, _RUN_ID_TIME).replace(tzinfo=UTC)
    except ValueError:
        return datetime.fromtimestamp((folder / FINDINGS_JSON).stat().st_mtime, UTC)


def _load_run(folder: Path) -> Run | None:
    if not (folder / FINDINGS_JSON).is_file():
        return None
    summary: dict[str, Any] = {}
    if (folder / SUMMARY_JSON).is_file():
        try:
            loaded = _read_json(folder / SUMMARY_JSON)
            summary = loaded if isinstance(loaded, dict) else {}
        except (OSError, ValueError):
            summary = {}
    run_id = folder.name
    if run_id == LATEST:
        named = str(summary.get("run_id") or "")
        run_id = named if named and valid_run_id(named) else LATEST
    return Run(run_id, folder, _when(folder, summary), summary)


def list_runs(reports: str | Path | None = None) -> list[Run]:
    """The runs in the report folder, oldest first (``latest/`` only when there is no run folder)."""
    root = report_dir(reports)
    if not root.is_dir():
        return []
    runs = []
    for child in root.iterdir():
        if child.name == LATEST or not child.is_dir() or not valid_run_id(child.name):
            continue
        run = _load_run(child)
        if run is not None:
            runs.append(run)
    if not runs and (root / LATEST).is_dir():
        latest = _load_run(root / LATEST)
        runs = [latest] if latest else []
    return sorted(runs, key=lambda r: (r.generated_at, r.run_id))


def find_run(runs: list[Run], run_id: str | None) -> Run | None:
    """The run named ``run_id`` (the newest when None or ``latest``)."""
    if not runs:
        return None
    if run_id in (None, "", LATEST):
        return runs[-1]
    return next((r for r in runs if r.run_id == run_id), None)


def load_findings(run: Run) -> list[dict[str, Any]]:
    """The run's findings (an empty list when ``findings.json`` is not a JSON list)."""
    data = _read_json(run.path / FINDINGS_JSON)
    return [f for f in data if isinstance(f, dict)] if isinstance(data, list) else []


# --- counts (the shared model) ------------------------------------------------------------------

def sort_findings(findings: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Most urgent first (:func:`iamflow.compliance.results.sort_rows`)."""
    return sort_rows(findings)


# --- filters ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """Findings filters (each a comma-separated list of accepted values; empty accepts everything)."""

    account: str = ""
    check: str = ""
    severity: str = ""
    status: str = ""
    q: str = ""

    @staticmethod
    def _values(text: str, lower: bool = False) -> set[str]:
        values = {v.strip() for v in text.split(",") if v.strip()}
        return {v.lower() for v in values} if lower else values

    def matches(self, f: Mapping[str, Any]) -> bool:
        """Whether the finding passes every filter."""
        accounts = self._values(self.account)
        checks = self._values(self.check)
        severities = self._values(self.severity, lower=True)
        statuses = {s.upper() for s in self._values(self.status)}
        if "OPEN" in statuses:
            statuses |= {"FAIL", "ERROR"}
        if accounts and str(f.get("account_id")) not in accounts:
            return False
        if checks and str(f.get("check_id")) not in checks:
            return False
        if severities and str(f.get("severity")).lower() not in severities:
            return False
        if statuses and str(f.get("status")).upper() not in statuses:
            return False
        if self.q.strip():
            needle = self.q.strip().lower()
            text = " ".join(str(f.get(k, "")) for k in ("check_id", "account_id", "region", "resource_arn",
                                                         "resource_id", "message", "title"))
            if needle not in text.lower():
                return False
        return True

    def as_dict(self) -> dict[str, str]:
        return {"account": self.account, "check": self.check, "severity": self.severity, "status": self.status,
                "q": self.q}


def filter_findings(findings: Iterable[dict[str, Any]], filters: Filters) -> list[dict[str, Any]]:
    """The findings that pass ``filters``, most urgent first."""
    return sort_findings(f for f in findings if filters.matches(f))


def facets(findings: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """The values each filter can take in these findings (for the filter drop-downs)."""
    items = list(findings)
    return {
        "account": sorted({str(f.get("account_id", "")) for f in items}),
        "check": sorted({str(f.get("check_id", "")) for f in items}),
        "severity": [s for s in SEVERITIES if any(f.get("severity") == s for f in items)],
        "status": [s for s in STATUSES if any(f.get("status") == s for f in items)],
    }


# --- across runs --------------------------------------------------------------------------------


def trend(runs: list[Run], last: int = TREND_RUNS) -> list[dict[str, Any]]:
    """FAIL and ERROR counts of the last ``last`` runs, oldest first (from summary.json when it has totals)."""
    points = []
    for run in runs[-last:] if last > 0 else []:
        totals = run.summary.get("totals")
        if not (isinstance(totals, dict) and all(isinstance(totals.get(s), int) for s in STATUSES)):
            try:
                totals = status_counts(load_findings(run))
            except (OSError, ValueError):
                continue
        points.append({"run_id": run.run_id, "generated_at": run.generated_at.isoformat(),
                       "FAIL": totals["FAIL"], "ERROR": totals["ERROR"]})
    return points


# --- suppressions -------------------------------------------------------------------------------


def expiring_suppressions(path: str | Path | None, now: datetime, *, within_days: int = EXPIRY_WARNING_DAYS,
                          findings: Iterable[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """Mutelist entries already expired or expiring within ``within_days`` days, soonest first.

    Returns ``{"source", "entries", "error"}``; a missing or invalid file is reported in ``error``,
    never raised. ``muting`` counts the MUTED findings of ``findings`` the entry accounts for.
    """
    from iamflow.compliance.mutelist import Mutelist
    from iamflow.errors import IamflowError

    source = mutelist_path(path)
    if source is None:
        return {"source": None, "entries": [], "error": None}
    try:
        mutelist = Mutelist.load(source)
    except (IamflowError, OSError, ValueError) as exc:
        return {"source": str(source), "entries": [], "error": str(exc)}
    muted = Counter((str((f.get("muted_by") or {}).get("account")), str((f.get("muted_by") or {}).get("check")))
                    for f in findings if f.get("status") == "MUTED" and isinstance(f.get("muted_by"), dict))
    horizon = now + timedelta(days=within_days)
    entries = []
    for entry in mutelist.entries:
        if entry.expires is None or entry.expires > horizon:
            continue
        expired = entry.expired(now)
        left = entry.expires - now
        entries.append({
            **entry.describe(),
            "state": "expired" if expired else "expiring",
            "days_left": 0 if expired else max(0, left.days),
            "expires_at": entry.expires.isoformat(),
            "muting": 0 if expired else muted.get((entry.account, entry.check), 0),
        })
    entries.sort(key=lambda e: (e["expires_at"], e["account"], e["check"]))
    return {"source": str(source), "entries": entries, "error": None}


# --- links --------------------------------------------------------------------------------------


def dag_run_path(dag_run_id: str | None, dag_id: str = SWEEP_DAG_ID) -> str:
    """The Airflow 3 UI path of a DAG run (``/dags/<dag>/runs/<run>``), or of the DAG's runs list."""
    if not dag_run_id:
        return f"/dags/{quote(dag_id, safe='')}/runs"
    return f"/dags/{quote(dag_id, safe='')}/runs/{quote(dag_run_id, safe=':+')}"


# --- the overview -------------------------------------------------------------------------------


def previous_run(runs: list[Run], run: Run) -> Run | None:
    """The run ``run`` was compared with when its report was written (its summary's ``previous_run``).

    None when the summary says there was none, or names a run no longer in the folder (the view
    then compares with nothing rather than with another run than the report did). For a summary
    without the field (an older report), the run before it in time.
    """
    if "previous_run" in run.summary:
        named = run.summary.get("previous_run")
        return next((r for r in runs if r.run_id == named), None) if named else None
    index = runs.index(run) if run in runs else len(runs)
    return runs[index - 1] if index > 0 else None


def overview(runs: list[Run], run: Run, *, now: datetime, mutelist: str | Path | None = None,
             trend_runs: int = TREND_RUNS, dag_run_id: str | None = None) -> dict[str, Any]:
    """Everything the overview page and ``/api/summary`` show for ``run``.

    ``dag_run_id`` names the DAG run that wrote the report when its summary does not.
    """
    findings = load_findings(run)
    index = runs.index(run) if run in runs else len(runs) - 1
    previous = previous_run(runs, run)
    comparison = results.compare(findings, load_findings(previous) if previous else None,
                                 previous_run=previous.run_id if previous else None)
    return {
        "run": run.to_dict(),
        "previous_run_id": previous.run_id if previous else None,
        "compared_with_previous": comparison.compared,
        "dag_run_id": run.dag_run_id or dag_run_id,
        "dag_run_path": dag_run_path(run.dag_run_id or dag_run_id),
        "totals": status_counts(findings),
        "by_severity": by_severity(findings),
        "accounts": by_account(findings),
        "controls": results.controls(findings),
        "controls_by_framework": results.controls_by_framework(findings),
        "frameworks": results.FRAMEWORK_TITLES,
        "trend": trend(runs[: index + 1], trend_runs),
        "new_failures": comparison.new,
        "fixed": comparison.fixed,
        "resolved_failures": comparison.fixed,
        "not_evaluated": comparison.not_evaluated,
        "not_evaluated_reasons": results.NOT_EVALUATED_REASONS,
        "still_failing_count": len(comparison.still_failing),
        "muted_since_previous_count": len(comparison.muted),
        "changes_by_severity": comparison.counts_by_severity(),
        "suppressions": expiring_suppressions(mutelist, now, findings=findings),
        "runs": [r.to_dict() for r in reversed(runs)],
    }
