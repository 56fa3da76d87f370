"""The Compliance view's approvals page: every approval decision, and the remediation runs they led to.

- ``/approvals``: the audit file (``<report folder>/audit/approvals.jsonl``), newest first, with
  the workflow, the run, who answered, who triggered, the plan's hash and the decision (a refused
  answer shows why); below it, the remediation runs recorded in ``<report folder>/remediation/``
  with their outcomes and rollbacks.
- ``/api/approvals``: the same as JSON.

Read-only: the page never writes either file. Same access rule as the rest of the view.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

from iamflow.approvals import read_audit
from iamflow.settings import audit_file, remediation_dir

MAX_DECISIONS = 1000
MAX_RUNS = 200


def decisions(reports: Path) -> list[dict[str, Any]]:
    """The recorded decisions, newest first (at most :data:`MAX_DECISIONS`)."""
    return list(reversed(list(read_audit(audit_file(reports)))))[:MAX_DECISIONS]


def remediation_runs(reports: Path) -> list[dict[str, Any]]:
    """The remediation runs, newest first: id, account, approval, outcome counts, rollbacks."""
    root = remediation_dir(reports)
    runs = []
    for file in sorted(root.glob("*/run.json"), reverse=True)[:MAX_RUNS] if root.exists() else []:
        try:
            record = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        counts: dict[str, int] = {}
        for r in record.get("results") or []:
            counts[str(r.get("outcome"))] = counts.get(str(r.get("outcome")), 0) + 1
        runs.append({"run_id": record.get("run_id"), "account_id": record.get("account_id"),
                     "created_at": record.get("created_at"), "plan_hash": record.get("plan_hash", ""),
                     "approved_by": (record.get("approval") or {}).get("by"), "outcomes": counts,
                     "results": record.get("results") or [], "rollbacks": len(record.get("rollbacks") or [])})
    return runs


def add_audit_routes(app: FastAPI, reports: Callable[[], Path],
                     render: Callable[..., HTMLResponse]) -> None:
    """Register ``/approvals`` and ``/api/approvals`` on the Compliance view."""

    @app.get("/approvals", response_class=HTMLResponse)
    def approvals_page(request: Request) -> HTMLResponse:
        return render(request, "approvals.html", decisions=decisions(reports()), runs=remediation_runs(reports()),
                      audit_path=str(audit_file(reports())))

    @app.get("/api/approvals")
    def api_approvals() -> dict[str, Any]:
        return {"decisions": decisions(reports()), "remediation_runs": remediation_runs(reports())}


__all__ = ["add_audit_routes", "decisions", "remediation_runs"]
