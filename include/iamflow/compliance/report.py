"""Write a sweep's reports: ``findings.json`` (the contract), CSV, HTML, OCSF, plus ``summary.json``.

Files go to ``<out>/<run id>/`` and the set is then copied to ``<out>/latest/``. The HTML report
and ``summary.json`` compare with the previous run found in ``<out>`` (new, fixed, still failing,
no longer evaluated) through :mod:`iamflow.compliance.results`, the one model the Compliance view
uses too, and list expired suppressions. Findings are redacted once, when they are made (see :mod:`iamflow.compliance.findings`);
the expired suppressions, which are not findings, are redacted here. The HTML escapes every
string, and a CSV cell that a spreadsheet would run as a formula gets a leading ``'``. JSON is
written compactly, one dump per file, with ``orjson``.

Large runs (``PARALLEL_MIN_FINDINGS``) write ``findings.ocsf.json`` and ``findings.csv`` in two
forked processes while this one writes the rest; a writer process's failure fails the report.
Both files are built from parts: OCSF events spliced from dumped fragments, CSV lines quoted as
``csv.writer`` quotes them. Each gives the same bytes as its plain form (``to_ocsf`` dumped;
``csv.writer`` over ``_csv_row``), which the tests hold it to. ``latest/`` hard-links the run's files.
"""

from __future__ import annotations

import contextlib
import gc
import html
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson

from iamflow import __version__
from iamflow.compliance import results
from iamflow.compliance.findings import CONTRACT_FIELDS, SEVERITIES, STATUSES, Finding
from iamflow.compliance.mutelist import ExpiredSuppression
from iamflow.secrets.hygiene import redact

FINDINGS_JSON = "findings.json"
FINDINGS_CSV = "findings.csv"
REPORT_HTML = "report.html"
FINDINGS_OCSF = "findings.ocsf.json"
SUMMARY_JSON = "summary.json"
REPORT_FILES = (FINDINGS_JSON, FINDINGS_CSV, REPORT_HTML, FINDINGS_OCSF, SUMMARY_JSON)
LATEST = "latest"
OCSF_VERSION = "1.3.0"
# the HTML table keeps every non-PASS finding but only this many PASS rows (findings.json has all)
HTML_PASS_ROWS = 2000

_OCSF_SEVERITY = {"informational": (1, "Informational"), "low": (2, "Low"), "medium": (3, "Medium"),
                  "high": (4, "High"), "critical": (5, "Critical")}
_CSV_COLUMNS = (*CONTRACT_FIELDS, "resource_id", "resource_type", "access_key_id", "muted_owner", "muted_reason",
                "muted_expires", "uid", "title", "extra")


@dataclass
class ReportPaths:
    """Where a run's reports were written."""

    run_id: str
    run_dir: Path
    latest_dir: Path
    files: dict[str, Path] = field(default_factory=dict)

    def __str__(self) -> str:
        return str(self.run_dir)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a sweep builds its (acyclic) findings and report rows.

    Tens of thousands of small dicts would otherwise trigger a full collection again and again,
    each one walking every live object: about half the time of writing a 10 000-user report.
    Reference counting still frees everything; the collector is restored as it was on exit.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def new_run_id(now: datetime) -> str:
    """A run id that sorts by time: ``20250102T030405Z``."""
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Order for reading (:func:`iamflow.compliance.results.sort_findings`): status, severity, account, check, resource."""
    return results.sort_findings(findings)


def write_reports(
    findings: Iterable[Finding],
    out_dir: str | Path,
    *,
    run_id: str | None = None,
    generated_at: datetime | None = None,
    expired_suppressions: Iterable[ExpiredSuppression] = (),
    accounts: Iterable[str] = (),
    call_counts: dict[str, dict[str, int]] | None = None,
    dag_run_id: str | None = None,
) -> ReportPaths:
    """Write the five files for one run and refresh ``latest/``; return their paths.

    :param dag_run_id: the Airflow DAG run that produced the report, for links back to it.
    """
    generated_at = generated_at or datetime.now(UTC)
    run_id = run_id or new_run_id(generated_at)
    if not run_id or "/" in run_id or run_id in (LATEST, ".", ".."):
        raise ValueError(f"invalid run id {run_id!r}")
    pending: list[Callable[[], None]] = []  # the writer processes not waited for yet
    with gc_paused():
        try:
            return _write_reports(findings, Path(out_dir), run_id, generated_at, expired_suppressions, accounts,
                                  call_counts, dag_run_id, pending)
        finally:
            for wait in pending:  # the report failed before they were waited for: reap them, the error stands
                with contextlib.suppress(OSError):
                    wait()


def _write_reports(findings: Iterable[Finding], out: Path, run_id: str, generated_at: datetime,
                   expired_suppressions: Iterable[ExpiredSuppression], accounts: Iterable[str],
                   call_counts: dict[str, dict[str, int]] | None, dag_run_id: str | None,
                   pending: list[Callable[[], None]]) -> ReportPaths:
    run_dir = out / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    for name in REPORT_FILES:  # a run id written again: new files, never through the links of latest/
        (run_dir / name).unlink(missing_ok=True)
    ordered = sort_findings(findings)
    side = len(ordered) >= PARALLEL_MIN_FINDINGS  # large runs write OCSF and CSV in processes of their own
    pending.append(_run(lambda: _write_ocsf(run_dir / FINDINGS_OCSF, ordered, generated_at), side))
    rows = [f.to_dict() for f in ordered]  # already redacted: a Finding redacts its values when made
    expired = [redact(dict(e)) for e in expired_suppressions]
    previous = _previous_run(out, run_id, generated_at)
    comparison = results.compare(rows, previous[1] if previous else None, previous_run=previous[0] if previous else None)
    account_ids = sorted(set(accounts) | {r["account_id"] for r in rows})
    summary = _summary(rows, run_id, generated_at, account_ids, expired, comparison, call_counts or {})
    summary["dag_run_id"] = dag_run_id

    paths = ReportPaths(run_id, run_dir, out / LATEST)
    pending.append(_run(lambda: _write_csv(run_dir / FINDINGS_CSV, rows), side))
    paths.files[FINDINGS_JSON] = _write_json(run_dir / FINDINGS_JSON, rows)
    paths.files[SUMMARY_JSON] = _write_json(run_dir / SUMMARY_JSON, summary)
    (run_dir / REPORT_HTML).write_text(render_html(rows, summary, comparison), encoding="utf-8")
    paths.files[REPORT_HTML] = run_dir / REPORT_HTML
    while pending:
        pending.pop(0)()
    paths.files[FINDINGS_CSV] = run_dir / FINDINGS_CSV
    paths.files[FINDINGS_OCSF] = run_dir / FINDINGS_OCSF
    paths.files = {name: paths.files[name] for name in (FINDINGS_JSON, FINDINGS_CSV, FINDINGS_OCSF, SUMMARY_JSON,
                                                         REPORT_HTML)}  # the order they were always listed in
    _refresh_latest(out, run_dir)
    return paths


# from this many findings on, CSV and OCSF are written by forked processes while this one writes the rest:
# a fork costs a few milliseconds, the two files about 30 µs a finding (a 1,000-user account has some 13,000)
PARALLEL_MIN_FINDINGS = 5_000


def _run(write: Callable[[], object], side: bool) -> Callable[[], None]:
    """Run ``write`` in a forked child when ``side`` (and the platform can fork), else now; return the wait.

    A sweep's findings are built by then and the collection threads have ended: the child only
    serializes what it inherited and writes one file, then leaves with ``os._exit`` (no cleanup of
    the parent's state). Waiting re-raises a child's failure, with its message, as an ``OSError``.
    """
    if not side or not hasattr(os, "fork"):
        write()
        return lambda: None
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        code = 0
        try:
            os.close(read_end)
            write()
        except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises it
            os.write(write_end, f"{type(exc).__name__}: {exc}".encode()[:4000])
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)

    def wait() -> None:
        with os.fdopen(read_end, "rb") as pipe:
            message = pipe.read().decode(errors="replace")
        _pid, status = os.waitpid(pid, 0)
        if status != 0:
            raise OSError(f"a report writer process failed: {message or f'wait status {status}'}")

    return wait


# datetimes and other non-JSON values are written as str() gives them, as json.dumps(default=str) did
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE


def dumps(data: Any, *, sort_keys: bool = False) -> bytes:
    """Compact JSON bytes (UTF-8) of a report value."""
    return orjson.dumps(data, default=str, option=_ORJSON_OPTIONS | (orjson.OPT_SORT_KEYS if sort_keys else 0))


def _write_json(path: Path, data: Any) -> Path:
    path.write_bytes(dumps(data))
    return path


# a spreadsheet reads a cell starting with one of these as a formula (OWASP "CSV injection")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A CSV cell that no spreadsheet runs as a formula: ``'`` before a leading ``=``, ``+``, ``-``, ``@``, tab or CR.

    IAM user and secret names may start so, and they reach the resource and message columns.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


_CSV_FIXED = frozenset(_CSV_COLUMNS) | {"tags", "muted_by"}
_CSV_PLAIN = tuple(k for k in CONTRACT_FIELDS if k != "compliance")


def _csv_row(r: dict[str, Any]) -> list[Any]:
    """One finding's CSV cells, in the order of ``_CSV_COLUMNS``."""
    muted = r.get("muted_by") or {}
    extra = {k: v for k, v in r.items() if k not in _CSV_FIXED}
    if r.get("tags"):
        extra["tags"] = r["tags"]
    cells = [r.get(k, "") for k in _CSV_PLAIN]
    cells += [
        "; ".join(f"{fw} {','.join(ids)}" for fw, ids in (r.get("compliance") or {}).items()),
        r.get("resource_id", ""),
        r.get("resource_type", ""),
        r.get("access_key_id") or "",
        muted.get("owner", ""),
        muted.get("reason", ""),
        muted.get("expires") or "",
        r.get("uid", ""),
        r.get("title", ""),
        dumps(extra, sort_keys=True).decode().rstrip("\n") if extra else "",
    ]
    return [("'" + c) if isinstance(c, str) and c.startswith(_FORMULA_STARTS) else c for c in cells]  # csv_cell, inlined


def _csv_text(value: Any) -> str:
    """One cell as ``csv.writer`` writes it (minimal quoting, ``"`` doubled), after :func:`csv_cell`."""
    if isinstance(value, str):
        if value.startswith(_FORMULA_STARTS):
            value = "'" + value
    elif value is None:
        return ""
    else:
        value = repr(value) if isinstance(value, float) else str(value)  # as csv.writer turns them into text
    if '"' in value:
        return '"' + value.replace('"', '""') + '"'
    if "," in value or "\n" in value or "\r" in value:
        return '"' + value + '"'
    return value


def _csv_line(r: dict[str, Any], memo: dict[Any, str]) -> str:
    """The CSV line of :func:`_csv_row`, as ``csv.writer`` writes it; cells a check repeats are quoted once (``memo``)."""
    muted = r.get("muted_by") or {}
    extra = {k: v for k, v in r.items() if k not in _CSV_FIXED}
    if r.get("tags"):
        extra["tags"] = r["tags"]
    compliance = "; ".join(f"{fw} {','.join(ids)}" for fw, ids in (r.get("compliance") or {}).items())
    repeated = []
    for value in (r.get("check_id", ""), r.get("status", ""), r.get("severity", ""), r.get("account_id", ""),
                  r.get("region", ""), r.get("remediation", ""), compliance, r.get("resource_type", ""),
                  r.get("title", "")):
        try:
            text = memo[value]
        except KeyError:
            text = memo[value] = _csv_text(value)
        except TypeError:  # not hashable: not a value a check repeats
            text = _csv_text(value)
        repeated.append(text)
    check_id, status, severity, account_id, region, remediation, compliance_text, resource_type, title = repeated
    return ",".join((
        check_id, status, severity, account_id, region, _csv_text(r.get("resource_arn", "")),
        _csv_text(r.get("message", "")), remediation, compliance_text, _csv_text(r.get("resource_id", "")),
        resource_type, _csv_text(r.get("access_key_id") or ""), _csv_text(muted.get("owner", "")),
        _csv_text(muted.get("reason", "")), _csv_text(muted.get("expires") or ""), _csv_text(r.get("uid", "")),
        title, _csv_text(dumps(extra, sort_keys=True).decode().rstrip("\n") if extra else ""),
    )) + "\r\n"


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    """``findings.csv``: the bytes ``csv.writer`` writes for :func:`_csv_row` of each row, built a line at a time."""
    memo: dict[Any, str] = {}
    with path.open("w", newline="", encoding="utf-8") as fh:
        fh.write(",".join(_csv_text(c) for c in _CSV_COLUMNS) + "\r\n")
        fh.writelines(_csv_line(r, memo) for r in rows)
    return path


def _link_or_copy(src: str, dst: str) -> None:
    """A hard link (the run's files are never written again), or a copy where the file system has none."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _refresh_latest(out: Path, run_dir: Path) -> None:
    staging = out / f".{LATEST}.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(run_dir, staging, copy_function=_link_or_copy)
    latest = out / LATEST
    old = out / f".{LATEST}.old-{os.getpid()}"
    if latest.exists():
        latest.rename(old)
    staging.rename(latest)
    shutil.rmtree(old, ignore_errors=True)


# --- previous run -------------------------------------------------------------


def _previous_run(out: Path, run_id: str, generated_at: datetime) -> tuple[str, list[dict[str, Any]]] | None:
    """The most recent earlier run in ``out`` (by its summary's generated_at, else the folder's mtime)."""
    if not out.is_dir():
        return None
    candidates: list[tuple[datetime, str, Path]] = []
    for child in out.iterdir():
        if not child.is_dir() or child.name in (LATEST, run_id) or child.name.startswith("."):
            continue
        findings_file = child / FINDINGS_JSON
        if not findings_file.exists():
            continue
        when = datetime.fromtimestamp(findings_file.stat().st_mtime, UTC)
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            when = datetime.fromisoformat(orjson.loads((child / SUMMARY_JSON).read_bytes())["generated_at"])
        if when <= generated_at:
            candidates.append((when, child.name, findings_file))
    if not candidates:
        return None
    _when, name, findings_file = max(candidates)
    try:
        return name, orjson.loads(findings_file.read_bytes())
    except (OSError, ValueError):
        return None


# --- summary ----------------------------------------------------------------------------------


def _summary(rows: list[dict[str, Any]], run_id: str, generated_at: datetime, accounts: list[str],
             expired: list[dict[str, Any]], comparison: results.Comparison,
             call_counts: dict[str, dict[str, int]]) -> dict[str, Any]:
    totals = results.status_counts(rows)
    return {
        "run_id": run_id,
        "generated_at": generated_at.isoformat(),
        "generator": f"iamflow {__version__}",
        "accounts": {a["account_id"]: {s: a[s] for s in STATUSES} for a in results.by_account(rows, accounts)},
        "totals": {s: totals[s] for s in STATUSES},
        "by_severity": {sev: {s: c[s] for s in STATUSES} for sev, c in results.by_severity(rows).items()},
        "by_control": {c["control"]: {**{s: c[s] for s in STATUSES}, "checks": c["checks"]}
                       for c in results.controls(rows)},
        **results.comparison_fields(comparison),
        "expired_suppressions": expired,
        "api_calls": call_counts,
    }


# --- OCSF ---------------------------------------------------------------------------------------


_OCSF_PRODUCT = {"name": "iamflow", "vendor_name": "iamflow", "version": __version__}


def _write_ocsf(path: Path, ordered: list[Finding], generated_at: datetime) -> Path:
    """``findings.ocsf.json``: the bytes ``dumps([to_ocsf(f) ...])`` gives, spliced from the events' parts.

    Compact JSON of an object is its members' JSON between fixed punctuation, so each event is
    joined from a few dumped values (message, uid, resource, extra, ...) and from fragments that
    repeat (the head of all events of one check, severity and status; the cloud block of an
    account; a remediation), each dumped once. ``to_ocsf`` stays the definition; a test holds
    the two to the same bytes.
    """
    cache = _OcsfFragments(generated_at)
    with path.open("wb") as fh:
        fh.write(b"[")
        fh.write(b",".join(cache.event(f) for f in ordered))
        fh.write(b"]\n")
    return path


def _fragment(value: Any) -> bytes:
    """Compact JSON of one value, as :func:`dumps` writes it inside a document (no trailing newline)."""
    return orjson.dumps(value, default=str, option=_ORJSON_OPTIONS & ~orjson.OPT_APPEND_NEWLINE)


# the leading fields of an OCSF event: they depend only on check, severity, status and the run's time
_OCSF_HEAD = ("metadata", "category_uid", "category_name", "class_uid", "class_name", "activity_id", "activity_name",
              "type_uid", "type_name", "time", "time_dt", "severity_id", "severity", "status_id", "status",
              "status_code")


class _OcsfFragments:
    """The repeated parts of one run's OCSF events, each dumped once."""

    def __init__(self, generated_at: datetime) -> None:
        self.generated_at = generated_at
        self.millis, self.when = _ocsf_time(generated_at)
        self.heads: dict[tuple[str, str, str], bytes] = {}
        self.texts: dict[str, bytes] = {}
        self.clouds: dict[tuple[str, str], bytes] = {}
        self.types: dict[bytes, bytes] = {}
        created = f',"created_time":{_fragment(self.millis).decode()},"created_time_dt":{_fragment(self.when).decode()}'
        self.created = created.encode() + b"}"

    def head(self, f: Finding) -> bytes:
        key = (f.check_id, f.severity, f.status)
        head = self.heads.get(key)
        if head is None:
            event = to_ocsf(f, self.generated_at)
            head = self.heads[key] = _fragment({k: event[k] for k in _OCSF_HEAD})[:-1]  # without the closing brace
        return head

    def text(self, value: Any) -> bytes:
        """A repeated text (title, remediation, check id, resource type), dumped once."""
        try:
            out = self.texts.get(value)
            if out is None:
                out = self.texts[value] = _fragment(value)
            return out
        except TypeError:  # not hashable: dumped each time
            return _fragment(value)

    def cloud(self, f: Finding) -> bytes:
        key = (f.region, f.account_id)
        out = self.clouds.get(key)
        if out is None:
            out = self.clouds[key] = _fragment({"provider": "AWS", "region": f.region, "account": {
                "uid": f.account_id, "type": "AWS Account", "type_id": 10}})
        return out

    def event(self, f: Finding) -> bytes:
        """One event's bytes: what ``_fragment(to_ocsf(f, generated_at))`` gives."""
        message = _fragment(f.message)
        compliance = _fragment(f.compliance)
        types = self.types.get(compliance)
        if types is None:
            types = self.types[compliance] = _fragment(
                [f"{fw} {c}" for fw, ids in f.compliance.items() for c in ids] or ["iamflow"])
        partition = f.resource_arn.split(":")[1] if f.resource_arn.startswith("arn:") else "aws"
        region = self.text(f.region)
        return b"".join((
            self.head(f), b',"status_detail":', message, b',"message":', message,
            b',"finding_info":{"uid":', _fragment(f.uid), b',"title":', self.text(f.title or f.check_id),
            b',"desc":', message, b',"types":', types, self.created,
            b',"cloud":', self.cloud(f),
            b',"resources":[{"uid":', _fragment(f.resource_arn), b',"name":', _fragment(f.resource_id or f.resource_arn),
            b',"type":', self.text(f.resource_type), b',"region":', region, b',"cloud_partition":', self.text(partition),
            b',"labels":', _fragment([f"{k}={v}" for k, v in sorted(f.tags.items())]) if f.tags else b"[]",
            b',"data":', _fragment({"details": f.extra}) if f.extra else b"null",
            b'}],"remediation":{"desc":', self.text(f.remediation), b'},"unmapped":{"check_id":', self.text(f.check_id),
            b',"compliance":', compliance, b',"muted_by":', _fragment(f.muted_by), b"}}",
        ))


@lru_cache(maxsize=16)
def _ocsf_time(generated_at: datetime) -> tuple[int, str]:
    """The run's time as OCSF gives it: epoch milliseconds and ISO 8601 (the same for every finding of a run)."""
    return int(generated_at.timestamp() * 1000), generated_at.isoformat()


def to_ocsf(f: Finding, generated_at: datetime, *, _metadata: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """One finding as an OCSF 1.x Detection Finding (class_uid 2004).

    :param _metadata: a cache of the per-check ``metadata`` objects, shared by the findings of one file.
    """
    severity_id, severity = _OCSF_SEVERITY[f.severity]
    millis, when = _ocsf_time(generated_at)
    suppressed = f.status == "MUTED"
    partition = f.resource_arn.split(":")[1] if f.resource_arn.startswith("arn:") else "aws"
    metadata = _metadata.get(f.check_id) if _metadata is not None else None
    if metadata is None:
        metadata = {"version": OCSF_VERSION, "product": _OCSF_PRODUCT, "event_code": f.check_id, "profiles": ["cloud"]}
        if _metadata is not None:
            _metadata[f.check_id] = metadata
    return {
        "metadata": metadata,
        "category_uid": 2,
        "category_name": "Findings",
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "activity_id": 1,
        "activity_name": "Create",
        "type_uid": 200401,
        "type_name": "Detection Finding: Create",
        "time": millis,
        "time_dt": when,
        "severity_id": severity_id,
        "severity": severity,
        "status_id": 3 if suppressed else 1,
        "status": "Suppressed" if suppressed else "New",
        "status_code": f.status,
        "status_detail": f.message,
        "message": f.message,
        "finding_info": {
            "uid": f.uid,
            "title": f.title or f.check_id,
            "desc": f.message,
            "types": [f"{fw} {c}" for fw, ids in f.compliance.items() for c in ids] or ["iamflow"],
            "created_time": millis,
            "created_time_dt": when,
        },
        "cloud": {
            "provider": "AWS",
            "region": f.region,
            "account": {"uid": f.account_id, "type": "AWS Account", "type_id": 10},
        },
        "resources": [{
            "uid": f.resource_arn,
            "name": f.resource_id or f.resource_arn,
            "type": f.resource_type,
            "region": f.region,
            "cloud_partition": partition,
            "labels": [f"{k}={v}" for k, v in sorted(f.tags.items())],
            "data": {"details": f.extra} if f.extra else None,
        }],
        "remediation": {"desc": f.remediation},
        "unmapped": {"check_id": f.check_id, "compliance": f.compliance, "muted_by": f.muted_by},
    }


# --- HTML ---------------------------------------------------------------------------------------

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1d232a}
h1{font-size:22px}h2{font-size:17px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0;width:100%}
th,td{border:1px solid #d5d9de;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f2f4f6}td.n{text-align:right}
.FAIL{color:#b3261e;font-weight:600}.ERROR{color:#8a5300;font-weight:600}.MUTED{color:#666}.PASS{color:#1b7f3b}
.critical,.high{font-weight:600}.filters{display:flex;gap:8px;flex-wrap:wrap;margin:8px 0}
.filters input{min-width:260px}.muted{color:#666}small{color:#555}
"""

_JS = """
(function(){
  var q=document.getElementById('q'),st=document.getElementById('status'),
      sv=document.getElementById('severity'),ac=document.getElementById('account'),
      rows=Array.prototype.slice.call(document.querySelectorAll('#findings tbody tr')),
      shown=document.getElementById('shown');
  function apply(){
    var text=q.value.toLowerCase(),s=st.value,v=sv.value,a=ac.value,n=0;
    rows.forEach(function(r){
      var ok=(!text||r.textContent.toLowerCase().indexOf(text)>=0)
        &&(s==='all'||(s==='open'?r.dataset.status!=='PASS':r.dataset.status===s))
        &&(v==='all'||r.dataset.severity===v)&&(a==='all'||r.dataset.account===a);
      r.style.display=ok?'':'none'; if(ok)n++;
    });
    shown.textContent=n;
  }
  [q,st,sv,ac].forEach(function(e){e.addEventListener('input',apply);e.addEventListener('change',apply);});
  apply();
})();
"""


@lru_cache(maxsize=16384)
def _escape(text: str) -> str:
    return html.escape(text)


def _e(value: Any) -> str:
    """HTML-escaped text; check ids, statuses, regions and remediations repeat, so short texts are cached."""
    text = "" if value is None else str(value)
    return _escape(text) if len(text) < 4096 else html.escape(text)


def _table(headers: list[str], body: list[list[str]], numeric_from: int = 1) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    lines = []
    for row in body:
        cells = "".join(f'<td class="n">{c}</td>' if i >= numeric_from else f"<td>{c}</td>" for i, c in enumerate(row))
        lines.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(lines)}</tbody></table>"


def _change_list(rows: list[Any], section: str, empty: str, *, reasons: bool = False) -> str:
    """One change list of the report (new, fixed, not evaluated): a row per finding, marked with its uid."""
    if not rows:
        return f'<p class="muted" id="{section}-empty">{_e(empty)}</p>'
    head = "".join(f"<th>{h}</th>" for h in ("Severity", "Account", "Check", "Resource", "Message")
                   + (("Why",) if reasons else ()))
    lines = []
    for r in rows[:500]:
        why = f"<td>{_e(results.NOT_EVALUATED_REASONS.get(r.get(results.REASON_KEY), r.get(results.REASON_KEY)))}</td>" \
            if reasons else ""
        lines.append(f'<tr data-uid="{_e(results.finding_uid(r))}"><td class="{_e(r.get("severity"))}">'
                     f'{_e(r.get("severity"))}</td><td>{_e(r.get("account_id"))}</td><td>{_e(r.get("check_id"))}</td>'
                     f'<td>{_e(r.get("resource_arn"))}</td><td>{_e(r.get("message"))}</td>{why}</tr>')
    more = f"<p><small>{len(rows) - 500} more not shown.</small></p>" if len(rows) > 500 else ""
    return f'<table id="{section}"><thead><tr>{head}</tr></thead><tbody>{"".join(lines)}</tbody></table>{more}'


_CHANGES = (("new", "New failures"), ("fixed", "Fixed"), ("still_failing", "Still failing"),
            ("muted", "Failing before, muted now"), ("not_evaluated", "No longer evaluated"))


def _changes_html(comparison: results.Comparison) -> str:
    """The report's comparison with the previous run: counts per severity, then the new, fixed and unevaluated."""
    counts = comparison.counts_by_severity()
    table = _table(["Change", *SEVERITIES, "total"],
                   [[_e(label), *[str(counts[name][s]) for s in SEVERITIES], str(len(getattr(comparison, name)))]
                    for name, label in _CHANGES])
    return (f'<div id="changes-by-severity">{table}</div>'
            f'<h3>New failures ({len(comparison.new)})</h3>' + _change_list(comparison.new, "changes-new", "None.")
            + f'<h3>Fixed ({len(comparison.fixed)})</h3>' + _change_list(comparison.fixed, "changes-fixed", "None.")
            + f'<h3>No longer evaluated ({len(comparison.not_evaluated)})</h3>'
            + _change_list(comparison.not_evaluated, "changes-not-evaluated", "None.", reasons=True))


def _controls_html(by_control: dict[str, dict[str, Any]], status_cols: list[str]) -> str:
    """One control table per framework (the keys of ``by_control`` are "<framework> <control>", in order)."""
    groups: dict[str, list[list[str]]] = {}
    for key, v in by_control.items():
        framework, _, control = key.partition(" ")
        groups.setdefault(framework, []).append([_e(control), _e(", ".join(v["checks"])), *[str(v[c]) for c in status_cols]])
    if not groups:
        return '<h2>By control</h2><p class="muted">No finding maps to a control.</p>'
    return "".join(f'<h2 id="controls-{_e(fw)}">By control ({_e(results.FRAMEWORK_TITLES.get(fw, fw))})</h2>'
                   + _table(["Control", "Checks", *status_cols], body, numeric_from=2) for fw, body in groups.items())


def render_html(rows: list[dict[str, Any]], summary: dict[str, Any], comparison: results.Comparison | None = None) -> str:
    """The self-contained HTML report (inline CSS, a few lines of vanilla JS for filtering).

    :param comparison: the comparison with the previous run (:func:`iamflow.compliance.results.compare`);
        none when omitted.
    """
    totals = summary["totals"]
    status_cols = ["FAIL", "ERROR", "MUTED", "PASS"]
    sev_body = [[f'<span class="{s}">{s}</span>', *[str(summary["by_severity"][s][c]) for c in status_cols]]
                for s in SEVERITIES]
    account_body = [[_e(a), *[str(c[s]) for s in status_cols]] for a, c in summary["accounts"].items()]
    expired = summary["expired_suppressions"]
    expired_html = _table(
        ["Account", "Check", "Resources", "Owner", "Reason", "Expired", "Would mute"],
        [[_e(x.get("account")), _e(x.get("check")), _e(", ".join(x.get("resources") or [])), _e(x.get("owner")),
          _e(x.get("reason")), _e(x.get("expires")), str(x.get("would_mute", 0))] for x in expired],
        numeric_from=6,
    ) if expired else '<p class="muted">No suppression has expired.</p>'
    if comparison is not None and comparison.compared:
        changes = _changes_html(comparison)
        since = f"since run {_e(comparison.previous_run)}"
    else:
        changes, since = '<p class="muted">No previous run in this report folder.</p>', ""

    passes = 0
    table_rows = []
    for r in rows:
        if r["status"] == "PASS":
            passes += 1
            if passes > HTML_PASS_ROWS:
                continue
        controls = ", ".join(f"{fw} {c}" for fw, ids in (r.get("compliance") or {}).items() for c in ids)
        key = f"<br><small>key {_e(r['access_key_id'])}</small>" if r.get("access_key_id") else ""
        muted = r.get("muted_by") or {}
        mute_note = (f"<br><small>muted by {_e(muted.get('owner') or 'mutelist')}: {_e(muted.get('reason'))}"
                     f"{' (until ' + _e(muted.get('expires')) + ')' if muted.get('expires') else ''}</small>") if muted else ""
        table_rows.append(
            f'<tr data-status="{_e(r["status"])}" data-severity="{_e(r["severity"])}" data-account="{_e(r["account_id"])}">'
            f'<td class="{_e(r["status"])}">{_e(r["status"])}</td><td class="{_e(r["severity"])}">{_e(r["severity"])}</td>'
            f'<td>{_e(r["account_id"])}<br><small>{_e(r["region"])}</small></td><td>{_e(r["check_id"])}<br>'
            f'<small>{_e(controls)}</small></td><td>{_e(r["resource_arn"])}{key}</td>'
            f'<td>{_e(r["message"])}{mute_note}</td><td><small>{_e(r["remediation"])}</small></td></tr>'
        )
    hidden = max(passes - HTML_PASS_ROWS, 0)
    hidden_note = f"<p><small>{hidden} further PASS findings are only in findings.json.</small></p>" if hidden else ""

    def options(values: Iterable[str]) -> str:
        return "".join(f'<option value="{_e(v)}">{_e(v)}</option>' for v in values)

    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>iamflow compliance sweep {_e(summary['run_id'])}</title>
<style>{_CSS}</style></head><body>
<h1>iamflow compliance sweep</h1>
<p>Run <b>{_e(summary['run_id'])}</b>, generated {_e(summary['generated_at'])}, {len(summary['accounts'])} account(s).
<span class="FAIL">{totals['FAIL']} FAIL</span> · <span class="ERROR">{totals['ERROR']} ERROR</span> ·
<span class="MUTED">{totals['MUTED']} MUTED</span> · <span class="PASS">{totals['PASS']} PASS</span></p>
<h2>By severity</h2>{_table(["Severity", *status_cols], sev_body)}
{_controls_html(summary["by_control"], status_cols)}
<h2>By account</h2>{_table(["Account", *status_cols], account_body)}
<h2>Changes {since}</h2>{changes}
<h2>Expired suppressions</h2>{expired_html}
<h2>Findings</h2>
<div class="filters"><input id="q" type="search" placeholder="filter: text in any column">
<select id="status"><option value="open">not PASS</option><option value="all">all statuses</option>{options(STATUSES)}</select>
<select id="severity"><option value="all">all severities</option>{options(SEVERITIES)}</select>
<select id="account"><option value="all">all accounts</option>{options(summary['accounts'])}</select>
<span><span id="shown">{len(table_rows)}</span> shown</span></div>
<table id="findings"><thead><tr><th>Status</th><th>Severity</th><th>Account</th><th>Check</th><th>Resource</th>
<th>Message</th><th>Remediation</th></tr></thead><tbody>{''.join(table_rows)}</tbody></table>{hidden_note}
<script>{_JS}</script></body></html>
"""
