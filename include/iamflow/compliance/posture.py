"""The posture gate and the printed summary of a sweep, both read from the run's ``summary.json`` and findings.

The gate (``posture:`` in ``include/compliance.yaml``, see :class:`~iamflow.compliance.config.PostureSettings`)
looks at the FAIL findings that are *new* since the previous run (:mod:`iamflow.compliance.results`)
with a severity at or above ``min_severity``. When there are any, ``on_new_fail`` decides:

- ``fail``: the verdict is ``fail`` (the DAG's ``posture`` task fails the run, without a retry);
- ``notify``: the verdict is ``notify`` (the task sends the message through the notifier and succeeds);
- ``ignore``: the verdict is ``pass`` (the counts are still logged and returned).

A first run has nothing to compare with: every FAIL of it counts as new, so a first sweep with
critical findings is not silently green. MUTED findings never count (they are not FAIL).

:func:`format_summary` is the one text form of a run's results: ``iamflow sweep``, ``make run``
and the ``posture`` task print it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iamflow.compliance.config import POSTURE_ACTIONS, PostureSettings
from iamflow.compliance.findings import FAIL, SEVERITIES
from iamflow.compliance.results import STATUS_ORDER, finding_uid, order_key

FAIL_RUN, NOTIFY, IGNORE = POSTURE_ACTIONS
PASSED = "pass"
TOP = 10


@dataclass(frozen=True)
class Verdict:
    """What the gate concluded: ``pass``, ``notify`` or ``fail``, the findings that tripped it, the message."""

    action: str
    min_severity: str
    breaching: tuple[Mapping[str, Any], ...]
    subject: str
    text: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form (the task's return value): no message text, the breaching uids and counts."""
        counts = {s: 0 for s in SEVERITIES}
        for r in self.breaching:
            counts[str(r.get("severity"))] = counts.get(str(r.get("severity")), 0) + 1
        return {"action": self.action, "min_severity": self.min_severity, "breaching": len(self.breaching),
                "breaching_by_severity": counts, "breaching_uids": [finding_uid(r) for r in self.breaching]}


def at_or_above(severity: str, min_severity: str) -> bool:
    """Whether ``severity`` is ``min_severity`` or worse (critical is the worst)."""
    if min_severity not in SEVERITIES:
        raise ValueError(f"min_severity must be one of {', '.join(SEVERITIES)}, not {min_severity!r}")
    return severity in SEVERITIES and SEVERITIES.index(severity) <= SEVERITIES.index(min_severity)


def new_failures(summary: Mapping[str, Any], rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The run's FAIL rows that are new (all FAILs when the run had nothing to compare with), in reading order."""
    fails = [r for r in rows if r.get("status") == FAIL]
    if summary.get("compared_with_previous"):
        wanted = set(summary.get("new_failures") or ())
        fails = [r for r in fails if finding_uid(r) in wanted]
    return sorted(fails, key=order_key)


def evaluate_gate(settings: PostureSettings, summary: Mapping[str, Any], rows: Iterable[Mapping[str, Any]]) -> Verdict:
    """Apply the gate to a written run (its ``summary.json`` and ``findings.json`` rows)."""
    on_new_fail, min_severity = settings.on_new_fail, settings.min_severity
    if on_new_fail not in POSTURE_ACTIONS:
        raise ValueError(f"on_new_fail must be one of {', '.join(POSTURE_ACTIONS)}, not {on_new_fail!r}")
    breaching = tuple(r for r in new_failures(summary, rows) if at_or_above(str(r.get("severity")), min_severity))
    run_id = summary.get("run_id", "?")
    first = not summary.get("compared_with_previous")
    what = "failing finding(s) in a first sweep" if first else "new failing finding(s)"
    if not breaching:
        return Verdict(PASSED, min_severity, (), f"[iamflow] sweep {run_id}: no {what} of severity {min_severity}+",
                       "")
    action = PASSED if on_new_fail == IGNORE else on_new_fail
    counts = _severities(breaching)
    subject = f"[iamflow] sweep {run_id}: {len(breaching)} {what} of severity {min_severity}+ ({counts})"
    lines = [subject.removeprefix("[iamflow] "), ""]
    if summary.get("previous_run"):
        lines.append(f"Compared with run {summary['previous_run']}.")
    lines += [f"  [{r.get('severity')}] {r.get('check_id')} {r.get('account_id')} {r.get('resource_arn')}: "
              f"{r.get('message')}" for r in breaching[:TOP]]
    if len(breaching) > TOP:
        lines.append(f"  ... and {len(breaching) - TOP} more (summary.json new_failures)")
    return Verdict(action, min_severity, breaching, subject, "\n".join(lines))


def _severities(rows: Sequence[Mapping[str, Any]] | Mapping[str, int]) -> str:
    counts = rows if isinstance(rows, Mapping) else {
        s: sum(1 for r in rows if r.get("severity") == s) for s in SEVERITIES}
    return ", ".join(f"{counts[s]} {s}" for s in SEVERITIES if counts.get(s)) or "none"


def format_summary(summary: Mapping[str, Any]) -> str:
    """The text summary of a run from its ``summary.json``: totals, FAILs per severity, new / fixed / still failing."""
    totals = summary.get("totals") or {}
    failing = {s: int((summary.get("by_severity") or {}).get(s, {}).get(FAIL, 0)) for s in SEVERITIES}
    lines = [
        f"Compliance sweep {summary.get('run_id')}: "
        + ", ".join(f"{totals.get(s, 0)} {s}" for s in STATUS_ORDER)
        + f" in {len(summary.get('accounts') or {})} account(s)",
        f"  FAIL by severity: {_severities(failing)}",
    ]
    changes = summary.get("changes_by_severity") or {}
    if summary.get("compared_with_previous"):
        not_evaluated = summary.get("not_evaluated") or {}
        reasons = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in (not_evaluated.get("by_reason") or {}).items() if n)
        lines += [
            f"  since run {summary.get('previous_run')}:",
            f"    new: {len(summary.get('new_failures') or ())} ({_severities(changes.get('new') or {})})",
            f"    fixed: {(summary.get('fixed') or {}).get('count', 0)} ({_severities(changes.get('fixed') or {})})",
            f"    still failing: {(summary.get('still_failing') or {}).get('count', 0)}",
            f"    no longer evaluated: {not_evaluated.get('count', 0)}" + (f" ({reasons})" if reasons else ""),
        ]
    else:
        lines.append("  no previous run to compare with: every FAIL is new")
    return "\n".join(lines)


def _read(path: Path) -> Any:
    import orjson

    try:
        return orjson.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: the sweep's report cannot be read: {exc}") from exc


def load_summary(run_dir: str | Path) -> dict[str, Any]:
    """A written run's ``summary.json`` (all :func:`format_summary` needs; errors name the file)."""
    summary = _read(Path(run_dir) / "summary.json")
    if not isinstance(summary, dict):
        raise ValueError(f"{Path(run_dir) / 'summary.json'}: summary.json must be an object")
    return summary


def load_run(run_dir: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A written run's ``summary.json`` and ``findings.json`` rows (errors name the file).

    ``findings.json`` is the large one (about 150 MB and 2 s to parse at 10 000 users): read it
    only to judge findings, as the posture gate does, never to print counts.
    """
    summary = load_summary(run_dir)
    rows = _read(Path(run_dir) / "findings.json")
    if not isinstance(rows, list):
        raise ValueError(f"{Path(run_dir)}: findings.json must be a list")
    return summary, [r for r in rows if isinstance(r, dict)]


def posture_counts(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The counts an operator looks at first, from ``summary.json``: totals, FAILs, new and fixed per severity."""
    changes = summary.get("changes_by_severity") or {}
    zero = {s: 0 for s in SEVERITIES}
    return {
        "run_id": summary.get("run_id"),
        "previous_run": summary.get("previous_run"),
        "compared_with_previous": bool(summary.get("compared_with_previous")),
        "totals": dict(summary.get("totals") or {}),
        "fail_by_severity": {s: int((summary.get("by_severity") or {}).get(s, {}).get(FAIL, 0)) for s in SEVERITIES},
        "new": len(summary.get("new_failures") or ()),
        "new_by_severity": dict(changes.get("new") or zero),
        "fixed": int((summary.get("fixed") or {}).get("count", 0)),
        "fixed_by_severity": dict(changes.get("fixed") or zero),
        "still_failing": int((summary.get("still_failing") or {}).get("count", 0)),
        "not_evaluated": int((summary.get("not_evaluated") or {}).get("count", 0)),
    }
