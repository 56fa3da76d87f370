"""The Compliance view: a FastAPI app that the iamflow plugin mounts at ``/compliance`` in Airflow's api-server.

Pages (relative to the mount point):

- ``/``: the newest sweep (or ``?run=<run id>``): severity cards, accounts, CIS controls, the
  trend of failing findings, new, fixed and no longer evaluated failures with their counts per severity,
  the controls of each framework, expiring suppressions, the DAG run link;
  an empty state explains how to run the first sweep.
- ``/findings``: the findings table, filtered by ``account``, ``check``, ``severity``,
  ``status`` (``open`` = FAIL and ERROR) and ``q`` query parameters, then client-side by text.
- ``/api/summary``, ``/api/findings``, ``/api/runs``: the same as JSON.
- ``/reports/<run id>/<file>``: the run's report files (only the five report file names).
- ``/approvals``, ``/api/approvals``: the approval audit file and the remediation runs (:mod:`.audit`).
- ``/recap?dag_id=&run_id=``, ``/api/recap``: a playbook DAG run's recap (``iamflow.airflow.ui.recap``).

Inside Airflow every route requires a user who may read the ``compliance_sweep`` DAG's runs
(the session cookie of the Airflow UI, or a bearer token); an HTML page redirects an anonymous
visitor to the login page.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException

from iamflow.airflow.ui import data
from iamflow.airflow.ui.audit import add_audit_routes
from iamflow.airflow.ui.recap import RunLoader, add_recap_routes

log = logging.getLogger(__name__)

URL_PREFIX = "/compliance"
TEMPLATES = Path(__file__).resolve().parent / "templates"
MAX_TABLE_ROWS = 5000
FIRST_SWEEP_COMMANDS = ("airflow dags trigger compliance_sweep", "make run")

_MEDIA_TYPES = {".json": "application/json", ".csv": "text/csv; charset=utf-8", ".html": "text/html; charset=utf-8"}
# inline styles and scripts only: the pages load nothing from anywhere else
_PAGE_CSP = ("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src 'self' data:; "
             "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'self'")
_REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; sandbox allow-scripts"

DagRunLookup = Callable[[data.Run], str | None]
Clock = Callable[[], datetime]


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["urlq"] = lambda value: quote(str(value), safe="")
    return env


def lookup_dag_run_id(run: data.Run) -> str | None:
    """The ``compliance_sweep`` DAG run that was running when the report was generated (Airflow's DB).

    Best effort, for reports whose summary does not name their DAG run; None outside Airflow.
    """
    return _lookup_dag_run_id(run.run_id, run.generated_at)


@lru_cache(maxsize=256)
def _lookup_cached(run_id: str, generated_at: datetime) -> str:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import or_, select

    # the report's time is the sweep clock fixed by the run's first task: inside the run's span
    with create_session() as session:
        stmt = (
            select(DagRun.run_id)
            .where(DagRun.dag_id == data.SWEEP_DAG_ID, DagRun.start_date <= generated_at + timedelta(seconds=5),
                   or_(DagRun.end_date.is_(None), DagRun.end_date >= generated_at))
            .order_by(DagRun.start_date.desc())
            .limit(1)
        )
        found = session.scalar(stmt)
    if not found:
        raise LookupError(run_id)  # not cached: the run may appear later
    return str(found)


def _lookup_dag_run_id(run_id: str, generated_at: datetime) -> str | None:
    try:
        return _lookup_cached(run_id, generated_at)
    except LookupError:
        return None
    except Exception:  # no metadata database here (tests, the CLI): just no link
        log.debug("could not look up the DAG run of report %s", run_id, exc_info=True)
        return None


def _auth_dependency() -> Callable[..., Any]:
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
    from airflow.api_fastapi.core_api.security import requires_access_dag

    return requires_access_dag("GET", DagAccessEntity.RUN, param_dag_id=data.SWEEP_DAG_ID)


def _login_url(next_url: str) -> str:
    try:
        from airflow.api_fastapi.app import get_auth_manager

        return get_auth_manager().get_url_login(next_url=next_url)
    except Exception:
        return "/auth/login?" + urlencode({"next": next_url})


def create_app(
    report_dir: str | Path | None = None,
    *,
    mutelist: str | Path | None = None,
    require_auth: bool = True,
    dag_run_lookup: DagRunLookup | None = lookup_dag_run_id,
    clock: Clock | None = None,
    url_prefix: str = URL_PREFIX,
    recap_loader: RunLoader | None = None,
) -> FastAPI:
    """Build the Compliance view.

    :param report_dir: Report folder; ``$IAMFLOW_REPORT_DIR`` or ``./reports`` when None (read per request).
    :param mutelist: Mutelist file; ``$IAMFLOW_MUTELIST`` or ``include/mutelist.yaml`` when None.
    :param require_auth: Require an Airflow user allowed to read the sweep DAG's runs (off only in tests).
    :param dag_run_lookup: Finds a report's DAG run when its summary does not name it.
    :param clock: The current time (for suppression expiry); UTC now by default.
    :param url_prefix: Where Airflow mounts the app (to link back to the Airflow UI).
    :param recap_loader: Reads a playbook DAG run for the recap page (Airflow's database by default).
    """
    env = _environment()
    now = clock or (lambda: datetime.now(UTC))
    dependencies = [Depends(_auth_dependency())] if require_auth else []
    app = FastAPI(title="iamflow compliance", docs_url=None, redoc_url=None, openapi_url=None,
                  dependencies=dependencies)

    def reports() -> Path:
        return data.report_dir(report_dir)

    def bases(request: Request) -> tuple[str, str]:
        base = str(request.scope.get("root_path", "")).rstrip("/")
        airflow = base[: -len(url_prefix)] if url_prefix and base.endswith(url_prefix) else ""
        return base, airflow

    def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        base, airflow = bases(request)
        html = env.get_template(template).render(base=base, airflow=airflow, severities=data.SEVERITIES,
                                                 statuses=data.STATUSES, **context)
        return HTMLResponse(html, status_code=status_code, headers={"Content-Security-Policy": _PAGE_CSP})

    def pick(run_id: str | None) -> tuple[list[data.Run], data.Run | None]:
        runs = data.list_runs(reports())
        run = data.find_run(runs, run_id)
        if runs and run is None:
            raise HTTPException(status_code=404, detail=f"no report for run {run_id!r}")
        return runs, run

    def summary_of(runs: list[data.Run], run: data.Run) -> dict[str, Any]:
        dag_run_id = run.dag_run_id or (dag_run_lookup(run) if dag_run_lookup else None)
        return data.overview(runs, run, now=now(), mutelist=mutelist, dag_run_id=dag_run_id)

    def empty(request: Request) -> HTMLResponse:
        return render(request, "empty.html", report_dir=str(reports()), commands=FIRST_SWEEP_COMMANDS)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        wants_page = "/api/" not in request.url.path and "/reports/" not in request.url.path
        if exc.status_code == 401 and wants_page and request.method == "GET":
            return RedirectResponse(_login_url(str(request.url.path)), status_code=303)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.get("/", response_class=HTMLResponse)
    def overview_page(request: Request, run: str | None = None) -> HTMLResponse:
        runs, chosen = pick(run)
        if chosen is None:
            return empty(request)
        view = summary_of(runs, chosen)
        return render(request, "overview.html", view=view, chart=trend_chart(view["trend"]),
                      latest=chosen is runs[-1])

    @app.get("/findings", response_class=HTMLResponse)
    def findings_page(request: Request, run: str | None = None, account: str = "", check: str = "",
                      severity: str = "", status: str = "", q: str = "") -> HTMLResponse:
        runs, chosen = pick(run)
        if chosen is None:
            return empty(request)
        filters = data.Filters(account, check, severity, status, q)
        everything = data.load_findings(chosen)
        rows = data.filter_findings(everything, filters)
        return render(request, "findings.html", run=chosen.to_dict(), latest=chosen is runs[-1],
                      filters=filters.as_dict(), facets=data.facets(everything), rows=rows[:MAX_TABLE_ROWS],
                      total=len(rows), all_count=len(everything), max_rows=MAX_TABLE_ROWS,
                      request_query=request.url.query)

    @app.get("/api/summary")
    def api_summary(run: str | None = None) -> dict[str, Any]:
        runs, chosen = pick(run)
        if chosen is None:
            return {"run": None, "report_dir": str(reports()),
                    "message": "No compliance report yet. Run the first sweep: " + " or ".join(FIRST_SWEEP_COMMANDS)}
        return summary_of(runs, chosen)

    @app.get("/api/findings")
    def api_findings(run: str | None = None, account: str = "", check: str = "", severity: str = "",
                     status: str = "", q: str = "", limit: int | None = Query(None, ge=1)) -> dict[str, Any]:
        _runs, chosen = pick(run)
        if chosen is None:
            return {"run_id": None, "filters": {}, "total": 0, "count": 0, "findings": []}
        filters = data.Filters(account, check, severity, status, q)
        rows = data.filter_findings(data.load_findings(chosen), filters)
        shown = rows[:limit] if limit else rows
        return {"run_id": chosen.run_id, "filters": filters.as_dict(), "total": len(rows), "count": len(shown),
                "findings": shown}

    @app.get("/api/runs")
    def api_runs() -> dict[str, Any]:
        return {"runs": [r.to_dict() for r in reversed(data.list_runs(reports()))]}

    @app.get("/reports/{run_id}/{file}")
    def report_file(run_id: str, file: str) -> FileResponse:
        # only known names: nothing the request says becomes part of a path unchecked
        if file not in data.REPORT_FILES or not data.valid_run_id(run_id):
            raise HTTPException(status_code=404, detail="Not Found")
        run = data.find_run(data.list_runs(reports()), run_id)
        if run is None:
            raise HTTPException(status_code=404, detail="Not Found")
        root = reports().resolve()
        path = (run.path / file).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            raise HTTPException(status_code=404, detail="Not Found")
        headers = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": _REPORT_CSP}
        return FileResponse(path, media_type=_MEDIA_TYPES.get(path.suffix, "application/octet-stream"),
                            headers=headers)

    add_audit_routes(app, reports, render)
    add_recap_routes(app, render, loader=recap_loader, require_auth=require_auth)
    return app


def trend_chart(points: list[dict[str, Any]], width: int = 640, height: int = 200) -> dict[str, Any]:
    """Coordinates of the trend chart (FAIL per run as a line, ERROR as bars) for the inline SVG."""
    left, right, top, bottom = 40, 12, 12, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([p["FAIL"] for p in points] + [p["ERROR"] for p in points] + [1])
    step = plot_w / max(len(points) - 1, 1)
    bar = max(min(step * 0.4, 18), 3)

    def y(value: int) -> float:
        return round(top + plot_h - plot_h * value / peak, 1)

    dots = []
    for i, p in enumerate(points):
        x = round(left + (step * i if len(points) > 1 else plot_w / 2), 1)
        dots.append({**p, "x": x, "y": y(p["FAIL"]), "ey": y(p["ERROR"]), "bar_x": round(x - bar / 2, 1),
                     "bar_w": round(bar, 1), "bar_h": round(top + plot_h - y(p["ERROR"]), 1),
                     "label": p["generated_at"][5:10]})
    ticks = sorted({0, peak // 2, peak})
    return {
        "width": width, "height": height, "left": left, "top": top, "bottom": top + plot_h, "right": width - right,
        "points": dots, "line": " ".join(f"{d['x']},{d['y']}" for d in dots),
        "ticks": [{"value": t, "y": y(t)} for t in ticks],
    }
