"""Build every DAG iamflow ships; the files in ``dags/`` only call these builders.

- :func:`build_playbook_dags`: one DAG per playbook file (``dags/playbooks.py``);
- :func:`build_team_dag`: ``onboard_team`` and ``offboard_team``;
- :func:`build_compliance_sweep_dag`: ``compliance_sweep``;
- :func:`build_secret_rotation_dag`: ``secret_rotation``;
- :func:`build_remediation_dag`: ``remediate_credentials``.

Playbook DAGs
-------------
Each resource of a playbook becomes an ``IamflowResourceOperator`` task (task id = the resource
key ``kind.name``, sanitised), ordered by ``iamflow.spec.loader.dependencies``; independent
resources run in parallel. A ``PlaybookRecapOperator`` runs last, whatever happened upstream, and
fails the run if any resource failed. The DAG params ``check_mode`` and ``diff`` choose between
plan-only and apply, and whether diffs are logged.

A large playbook is batched instead (the playbook's ``task_grouping``; docs/scaling.md): Airflow
spends about a second on every task whatever it does, so past ``batch_threshold`` resources
(``auto``), or always (``batched``), each dependency level becomes ``IamflowBatchOperator`` tasks of
at most ``batch_size`` resources (``level_<n>``, or ``level_<n>_part_<m>`` when a level is split),
converged by the engine's threads inside the task. A batch runs after the batches holding its
resources' dependencies, and skips only the resources whose dependencies did not succeed.

Parsing is cheap and offline: it reads and validates the YAML files and builds operators, but
imports neither boto3 nor the engine and makes no AWS call (the operators do all that in
``execute``). ``tests/dags/test_playbook_dags.py`` checks this. When Airflow parses the file to
run one DAG's task (the parsing context names the DAG), only the playbook files that can give
that ``dag_id`` are validated.

A broken playbook breaks only its own DAG
-----------------------------------------
Airflow 3.3 records import errors per *Python* file (``DagBag.import_errors`` is keyed by the
file that raised), so raising for one bad YAML file would hide every playbook DAG behind one
import error. 3.3 also has a DAG importer registry keyed by file extension
(``airflow.dag_processing.importers``), but it is internal: there is no setting, plugin attribute
or entry point to register an importer with, and ``DagWarning`` only has Airflow's own types.
So the factory validates each file on its own and, for a file with errors, builds a
*placeholder* DAG instead:

- ``dag_id``: the playbook's own ``dag_id`` when its ``name`` is readable and unambiguous (the DAG
  keeps its history and its place in the UI), else
  ``playbook_invalid_<file path below the playbooks folder>``;
- tags ``iamflow``, ``playbook``, ``invalid``; ``doc_md`` lists every problem (file, resource,
  field, message); no schedule;
- a single ``PlaybookInvalidOperator`` task that fails (no retry) with the same problems;
- a ``PlaybookInvalidWarning`` (``warnings.warn``) so the problems also reach the dag-processor
  log and ``DagBag.captured_warnings``.

Every file is read under the loader's limits (size, values, depth, no anchors or aliases; see
``iamflow.spec.source``), so one file's cost is bounded whatever it holds: an alias bomb or an
oversized file becomes its placeholder, naming the limit, and cannot delay the other DAGs.

The other playbooks' DAGs load as usual. The same fallback covers two files that would produce
the same ``dag_id`` (the later file becomes the placeholder) and a DAG that Airflow refuses to
build (an invalid cron ``schedule``).
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import DAG, Param, get_parsing_context

from iamflow.airflow.callbacks import on_failure_callback
from iamflow.airflow.operators.converge import (
    IamflowBatchOperator,
    IamflowResourceOperator,
    PlaybookInvalidOperator,
    resource_doc_md,
)
from iamflow.airflow.operators.onboarding import (
    APPLY,
    APPROVE,
    BODY_KEY,
    PLAN,
    PUBLISH,
    RECAP,
    RENDER,
    SUBJECT_KEY,
    VALIDATE,
    ApplyTeamPlaybookOperator,
    PlanTeamPlaybookOperator,
    PublishTeamPlaybookOperator,
    RenderTeamPlaybookOperator,
    TeamRecapOperator,
    ValidateTeamRequestOperator,
)
from iamflow.airflow.operators.recap import PlaybookRecapOperator
from iamflow.airflow.operators.secrets import TriggerSecretRotationOperator, VerifySecretRotationOperator
from iamflow.airflow.operators.sweep import (
    COMPLIANCE_REPORT_ASSET,
    MERGE_TASK_ID,
    POSTURE_TASK_ID,
    RESOLVE_TASK_ID,
    SWEEP_TASK_ID,
    SWEEP_TIME_KEY,
    MergeSweepReportsOperator,
    ReportCallback,
    ResolveSweepTargetsOperator,
    SweepAccountOperator,
    SweepPostureOperator,
    sweep_pool,
)
from iamflow.airflow.sensors.secrets import SecretRotationSensor
from iamflow.errors import Problem
from iamflow.onboarding import OFFBOARD, ONBOARD, OnboardingConfig, form_schema, load_config
from iamflow.settings import playbooks_dir
from iamflow.spec.loader import (
    LoadResult,
    add_ownership_problems,
    check_playbook,
    dependencies,
    dependency_levels,
    discover_playbooks,
)
from iamflow.spec.source import load_file

if TYPE_CHECKING:
    from iamflow.spec.models import Playbook

__all__ = [
    "OFFBOARD",
    "ONBOARD",
    "PlaybookInvalidWarning",
    "build_compliance_sweep_dag",
    "build_playbook_dags",
    "build_remediation_dag",
    "build_secret_rotation_dag",
    "build_team_dag",
    "playbook_params",
    "task_batches",
    "task_id_for",
    "uses_batches",
]

log = logging.getLogger(__name__)

OWNER = "iamflow"
RECAP_TASK_ID = "recap"
INVALID_TASK_ID = "playbook_invalid"
DEFAULT_ARGS: dict[str, Any] = {
    "owner": OWNER,
    "retries": 2,
    "retry_delay": timedelta(seconds=20),
    "on_failure_callback": on_failure_callback,
}
# Scheduled playbooks need a start; with catchup=False only the latest interval ever runs.
START_DATE = datetime(2025, 1, 1, tzinfo=UTC)
_TASK_ID_BAD = re.compile(r"[^\w.-]")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


class PlaybookInvalidWarning(UserWarning):
    """A playbook file does not validate; its DAG is a placeholder that fails with the problems."""


def playbook_params() -> dict[str, Param]:
    """The params every playbook DAG takes (the trigger form in the UI, ``-c`` in ``dags test``)."""
    return {
        "check_mode": Param(
            False,
            type="boolean",
            title="Check mode",
            description="Plan only: read the current state and show what would change; make no write call.",
        ),
        "diff": Param(
            True,
            type="boolean",
            title="Show diffs",
            description="Log a before/after diff of every resource that changes (or would change).",
        ),
        "vars": Param(
            {},
            type="object",
            title="Variables",
            description="Override the playbook's vars for this run, as {name: value}: values only. A var that "
                        "names a resource, its kind or a reference was resolved when the DAG was built; "
                        "changing it here fails the run.",
        ),
    }


def task_id_for(key: str) -> str:
    """A valid Airflow task id for a resource key (``iam_role.developer-role`` stays as it is)."""
    return _TASK_ID_BAD.sub("_", key)[:250]


def build_playbook_dags(directory: str | Path | None = None) -> dict[str, DAG]:
    """Return ``{dag_id: DAG}`` for every playbook file below ``directory``.

    :param directory: Folder to discover playbooks in; ``$IAMFLOW_PLAYBOOKS_DIR`` or
        ``include/playbooks`` when not given.
    """
    root = Path(directory) if directory is not None else playbooks_dir()
    paths = discover_playbooks(root)
    wanted = get_parsing_context().dag_id
    if wanted:
        paths = _only_for(wanted, paths, root)
    checked = [(path, _check(path)) for path in paths]
    # Two playbooks declaring one object would undo each other on every run: both become placeholders
    # naming the conflict. (A worker parsing for one DAG loads only the files that can give its id; the
    # scheduler's placeholder then has tasks that DAG lacks, so nothing converges there either.)
    add_ownership_problems([result for _, result in checked])
    dags: dict[str, DAG] = {}
    sources: dict[str, Path] = {}
    invalid: list[tuple[Path, list[str], bool]] = []
    # Valid playbooks first, so that a broken file naming the same playbook cannot displace a good one.
    for path, result in checked:
        playbook = result.playbook
        if result.errors or playbook is None:
            invalid.append((path, [str(p) for p in result.errors] or [f"{path}: could not be loaded"], True))
            continue
        if playbook.dag_id in sources:
            invalid.append((path, [f"{path}: field 'name': playbook {playbook.name!r} gives DAG id "
                                   f"{playbook.dag_id!r}, already used by {sources[playbook.dag_id]}"], False))
            continue
        try:
            dag = _playbook_dag(playbook, path, [str(p) for p in result.warnings])
        except Exception as exc:  # Airflow refused the DAG (e.g. a bad cron): only this playbook suffers
            log.debug("could not build the DAG of %s", path, exc_info=True)
            invalid.append((path, [f"{path}: the DAG could not be built: {type(exc).__name__}: {exc}"], True))
            continue
        dags[dag.dag_id] = dag
        sources[dag.dag_id] = path
    for path, problems, own_id in invalid:
        dag = _invalid_dag(path, root, problems, sources, own_id=own_id)
        dags[dag.dag_id] = dag
        sources[dag.dag_id] = path
    return dags


def _only_for(dag_id: str, paths: list[Path], root: Path) -> list[Path]:
    """The files that can matter to ``dag_id``: the one that gives it, and any that compete for its id.

    When a worker runs a task (or ``airflow dags test`` one DAG), Airflow sets the parsing context
    to that DAG; validating every other playbook would only slow the task down.
    """
    ids = {path: _candidate_ids(path, root) for path in paths}
    hits = [path for path in paths if dag_id in ids[path]]
    related: set[str] = set().union(*(ids[path] for path in hits)) if hits else set()
    return [path for path in paths if ids[path] & related]


def _candidate_ids(path: Path, root: Path) -> set[str]:
    name = _readable_name(path)
    ids = {_invalid_id(path, root)}
    if name:
        ids.add(_dag_id_for(name))
    return ids


def _dag_id_for(name: str) -> str:
    return f"playbook_{name}".replace("-", "_")  # as Playbook.dag_id


def _invalid_id(path: Path, root: Path) -> str:
    stem = _relative(path, root).with_suffix("").as_posix().replace("/", "__")
    return "playbook_invalid_" + _TASK_ID_BAD.sub("_", stem)


def _check(path: Path) -> LoadResult:
    try:
        return check_playbook(path)
    except Exception as exc:  # the loader never raises on bad input; a bug in it must not hide every DAG
        log.exception("checking %s failed", path)
        return LoadResult(path, None, [Problem(str(path), None, None,
                                               f"the playbook could not be checked: {type(exc).__name__}: {exc}",
                                               code="loader-failure")])


def uses_batches(playbook: Playbook) -> bool:
    """Whether the playbook's DAG converges its resources in batched tasks (its ``task_grouping``)."""
    if playbook.task_grouping == "auto":
        return len(playbook.resources) > playbook.batch_threshold
    return playbook.task_grouping == "batched"


def task_batches(playbook: Playbook) -> dict[str, list[str]]:
    """``{task id: resource keys}`` of a batched playbook DAG: each level cut into even parts."""
    out: dict[str, list[str]] = {}
    for n, level in enumerate(dependency_levels(playbook)):
        parts = -(-len(level) // playbook.batch_size)
        size = -(-len(level) // parts)
        for m in range(parts):
            task_id = f"level_{n}" if parts == 1 else f"level_{n}_part_{m + 1}"
            out[task_id] = level[m * size:(m + 1) * size]
    return out


def _playbook_dag(playbook: Playbook, path: Path, warning_lines: list[str]) -> DAG:
    deps = dependencies(playbook)
    order = [key for level in dependency_levels(playbook) for key in level]
    resources = playbook.by_key()
    batches = task_batches(playbook) if uses_batches(playbook) else {}
    task_ids = {k: t for t, keys in batches.items() for k in keys} if batches else _unique_task_ids(order)

    dag = DAG(
        dag_id=playbook.dag_id,
        description=playbook.hide_env_values(_first_line(playbook.description) or f"Converge playbook {playbook.name}"),
        schedule=playbook.schedule or None,
        start_date=START_DATE if playbook.schedule else None,
        catchup=False,
        max_active_runs=1,
        tags=["iamflow", "playbook", playbook.name],
        default_args={**DEFAULT_ARGS, "retries": playbook.retries,
                      "retry_delay": timedelta(seconds=playbook.retry_delay_seconds)},
        # values read from the environment (${env:NAME}) are never shown
        doc_md=playbook.hide_env_values(_playbook_doc_md(playbook, path, order, deps, task_ids, warning_lines)),
        params=playbook_params(),
    )
    with dag:
        tasks: dict[str, Any] = _batch_tasks(batches, deps, task_ids, path) if batches else {
            key: IamflowResourceOperator(
                task_id=task_ids[key],
                playbook_path=str(path),
                resource_key=key,
                doc_md=playbook.hide_env_values(resource_doc_md(resources[key], sorted(deps[key]), str(path))),
            )
            for key in order
        }
        if not batches:
            for key, after in deps.items():
                for upstream in sorted(after):
                    tasks[upstream] >> tasks[key]
        recap = PlaybookRecapOperator(
            task_id=RECAP_TASK_ID,
            playbook_name=playbook.name,
            resource_task_ids={key: task_ids[key] for key in order},
            batched_task_ids=list(batches),
            doc_md="PLAY RECAP: one line per resource (ok / changed / failed / skipped); "
                   "fails the run when a resource failed.",
        )
        if tasks:
            list(tasks.values()) >> recap
    dag.validate()
    dag.check_cycle()
    return dag


def _batch_tasks(batches: dict[str, list[str]], deps: dict[str, set[str]], task_ids: dict[str, str],
                 path: Path) -> dict[str, IamflowBatchOperator]:
    tasks: dict[str, IamflowBatchOperator] = {}
    for task_id, keys in batches.items():
        upstream = sorted({task_ids[d] for k in keys for d in deps[k]} - {task_id})
        tasks[task_id] = IamflowBatchOperator(
            task_id=task_id,
            playbook_path=str(path),
            resource_keys=keys,
            after_task_ids=upstream,
            doc_md=_batch_doc_md(task_id, keys, upstream, str(path)),
        )
        for up in upstream:
            tasks[up] >> tasks[task_id]
    return tasks


def _batch_doc_md(task_id: str, keys: list[str], upstream: list[str], playbook_path: str) -> str:
    shown = keys[:200]
    lines = [f"### `{task_id}`: {len(keys)} resource(s)", "",
             "Converged together by the engine's threads; the log has a table of every resource's result, "
             "and a retry converges only those that did not succeed.", ""]
    if upstream:
        lines += ["Runs after " + ", ".join(f"`{u}`" for u in upstream) + ".", ""]
    lines += [f"- `{k}`" for k in shown]
    if len(keys) > len(shown):
        lines.append(f"- … and {len(keys) - len(shown)} more")
    lines += ["", f"Declared in `{playbook_path}`."]
    return "\n".join(lines)


def _invalid_dag(path: Path, root: Path, problems: list[str], taken: dict[str, Path], *,
                 own_id: bool = True) -> DAG:
    name = _readable_name(path) if own_id else None
    dag_id = _dag_id_for(name) if name else None
    if dag_id is None or dag_id in taken:
        dag_id = _invalid_id(path, root)
    warnings.warn(
        f"iamflow: playbook {path} does not validate; DAG {dag_id} is a placeholder that fails:\n"
        + "\n".join(f"  - {p}" for p in problems),
        PlaybookInvalidWarning,
        stacklevel=2,
    )
    doc = [
        f"## Invalid playbook `{_relative(path, root)}`",
        "",
        "This playbook does not validate, so nothing is converged: its DAG is a placeholder whose "
        "only task fails with the problems below. Fix the file (`iamflow lint` shows the same list); "
        "the DAG comes back at the next parse.",
        "",
        *[f"- {_md_escape(p)}" for p in problems],
    ]
    dag = DAG(
        dag_id=dag_id,
        description=f"INVALID playbook {path.name}: {len(problems)} problem(s)",
        schedule=None,
        catchup=False,
        max_active_runs=1,
        tags=["iamflow", "playbook", "invalid"],
        default_args=dict(DEFAULT_ARGS),  # the task itself never retries: a retry cannot fix the file
        doc_md="\n".join(doc),
        params=playbook_params(),
    )
    with dag:
        PlaybookInvalidOperator(task_id=INVALID_TASK_ID, playbook_path=str(path), problems=problems,
                                retries=0)
    return dag


def _readable_name(path: Path) -> str | None:
    """The ``name`` of a playbook that does not validate, when it can still be read under the limits."""
    try:
        raw, _positions = load_file(path)
    except ValueError:  # a SourceError, or an invalid IAMFLOW_MAX_PLAYBOOK_BYTES
        return None
    name = raw.get("name") if isinstance(raw, dict) else None
    return name if isinstance(name, str) and len(name) <= 200 and _NAME_RE.match(name) else None


def _unique_task_ids(keys: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    used: set[str] = {RECAP_TASK_ID}
    for key in keys:
        candidate, n = task_id_for(key), 1
        while candidate in used:
            n += 1
            candidate = f"{task_id_for(key)[:245]}_{n}"
        used.add(candidate)
        out[key] = candidate
    return out


def _playbook_doc_md(playbook: Playbook, path: Path, order: list[str], deps: dict[str, set[str]],
                     task_ids: dict[str, str], warning_lines: list[str]) -> str:
    resources = playbook.by_key()
    lines = [f"## Playbook `{playbook.name}`", ""]
    if playbook.description:
        lines += [playbook.description.strip(), ""]
    lines += [
        f"Source: `{path}`" + (f" · schedule: `{playbook.schedule}`" if playbook.schedule else ""),
        "",
        "Trigger with `check_mode: true` to plan without changing anything; each task logs its changes "
        "(and a diff with `diff: true`), and the last task prints the PLAY RECAP.",
        "",
        "| task | kind | name | state | runs after |",
        "|---|---|---|---|---|",
    ]
    for key in order:
        r = resources[key]
        after = ", ".join(f"`{task_ids[k]}`" for k in sorted(deps[key])) or "—"
        lines.append(f"| `{task_ids[key]}` | `{r.kind}` | `{r.name}` | {r.state} | {after} |")
    if warning_lines:
        lines += ["", "### Warnings", "", *[f"- {_md_escape(w)}" for w in warning_lines]]
    return "\n".join(lines)


def _relative(path: Path, root: Path) -> Path:
    try:
        return path.resolve().relative_to(root.resolve())
    except ValueError:
        return Path(path.name)


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")[:200]


def _md_escape(text: str) -> str:
    return text.replace("\n", " ").replace("<", "&lt;")


# --- team onboarding and offboarding -----------------------------------------------------------

APPROVAL_BODY = f"{{{{ ti.xcom_pull(task_ids='{PLAN}', key='{BODY_KEY}') }}}}"
APPROVAL_SUBJECT = f"{{{{ ti.xcom_pull(task_ids='{PLAN}', key='{SUBJECT_KEY}') }}}}"


def build_team_dag(action: str, *, doc_md: str | None = None, config: OnboardingConfig | None = None) -> DAG:
    """The ``onboard_team`` or ``offboard_team`` DAG (no AWS call, one small YAML read at parse time)."""
    from iamflow.airflow.operators.approval import GovernedApprovalOperator as ApprovalOperator

    config = config or load_config()
    verb = "Onboard" if action == ONBOARD else "Offboard"
    params = {name: Param(**schema) for name, schema in form_schema(config, action).items()}
    with DAG(
        dag_id=f"{action}_team",
        description=f"{verb} a team: render its playbook, plan, approve, apply",
        schedule=None,
        catchup=False,
        max_active_runs=1,
        tags=["iamflow", "onboarding"],
        doc_md=doc_md,
        params=params,
        default_args={"owner": OWNER, "retries": 1, "retry_delay": timedelta(seconds=30)},
    ) as dag:
        validate = ValidateTeamRequestOperator(
            task_id=VALIDATE, action=action, retries=0,
            doc_md="Re-validate the form (team slug, environment, owners, policies) before any AWS call, refuse "
                   "a team that another playbook claims, and take the team's lock.")
        render = RenderTeamPlaybookOperator(
            task_id=RENDER, action=action, retries=0,
            doc_md="Render `include/templates/team-playbook.yaml.j2` to the teams folder's `.pending/` and "
                   "validate it with the playbook loader.")
        plan = PlanTeamPlaybookOperator(
            task_id=PLAN, action=action,
            doc_md="Plan every resource in check mode (writes refused by botocore); the diff goes to the approval.")
        approve = ApprovalOperator(
            task_id=APPROVE,
            workflow=f"{action}_team",
            plan_task_id=PLAN,
            plan_hash_key="signature",
            subject=APPROVAL_SUBJECT,
            body=APPROVAL_BODY,
            defaults=ApprovalOperator.REJECT,
            response_timeout=timedelta(hours=config.approval_timeout_hours),
            retries=0,
            doc_md="Approve to apply exactly the plan shown; Reject, or no answer before the timeout, changes "
                   "nothing. Only an approver of `include/approvals.yaml` who did not trigger the run counts; "
                   "every answer is recorded in the approval audit file.")
        apply = ApplyTeamPlaybookOperator(
            task_id=APPLY, action=action,
            doc_md="Re-plan, refuse if the plan differs from the approved one, then converge every resource in "
                   "dependency order.")
        publish = PublishTeamPlaybookOperator(
            task_id=PUBLISH, action=action, retries=0,
            doc_md="Onboarding: move the playbook to the teams folder (the DAG factory and the drift check pick "
                   "it up). Offboarding: remove the team's published playbook.")
        recap = TeamRecapOperator(
            task_id=RECAP, action=action,
            doc_md="PLAY RECAP and outcome; removes the staged file, releases the team's lock, fails the run if "
                   "a step failed.")
        validate >> render >> plan >> approve >> apply >> publish >> recap
    return dag


# --- the compliance sweep ---------------------------------------------------------------------------

SWEEP_TIME = f"{{{{ ti.xcom_pull(task_ids='{RESOLVE_TASK_ID}', key='{SWEEP_TIME_KEY}') }}}}"


def build_compliance_sweep_dag(*, doc_md: str | None = None, on_report: ReportCallback | None = None) -> DAG:
    """The ``compliance_sweep`` DAG: resolve the targets, sweep each account (mapped, in a pool), merge, posture.

    :param doc_md: The DAG's documentation (the DAG file's docstring).
    :param on_report: Notification slot: called with the merge task's summary (run id, paths,
        counts). The default logs the high and critical failures, and mails or posts them when
        ``iamflow_smtp`` / ``iamflow_slack`` connections exist.
    """
    with DAG(
        dag_id="compliance_sweep",
        schedule="0 2 * * *",
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["iamflow", "compliance", "demo"],
        doc_md=doc_md,
        default_args={"owner": OWNER, "retries": 2, "retry_delay": timedelta(minutes=1),
                      "on_failure_callback": on_failure_callback},
        params={
            "accounts": Param("", type="string", title="Accounts",
                              description="Comma-separated account ids to sweep (default: every target of targets.yaml)"),
        },
    ) as dag:
        resolve = ResolveSweepTargetsOperator(
            task_id=RESOLVE_TASK_ID,
            accounts="{{ params.accounts }}",
            doc_md="List the accounts to sweep from `include/targets.yaml` (Organizations when it says so) "
                   "and fix the sweep's clock.",
        )
        sweep = SweepAccountOperator.partial(
            task_id=SWEEP_TASK_ID,
            sweep_time=SWEEP_TIME,
            pool=sweep_pool(),
            retry_delay=timedelta(seconds=30),
            map_index_template="{{ iamflow_account }}",
            execution_timeout=timedelta(hours=1),
            doc_md="Sweep one account: assume its role, collect once, run every enabled check and the drift "
                   "check, apply the mutelist. The last attempt turns an unreachable account into ERROR findings.",
        ).expand(target=resolve.output)
        merge = MergeSweepReportsOperator(
            task_id=MERGE_TASK_ID,
            results=sweep.output,
            targets=resolve.output,
            sweep_time=SWEEP_TIME,
            outlets=[COMPLIANCE_REPORT_ASSET],
            on_report=on_report,
            doc_md="Merge every account's findings, write the reports and `latest/`, log the summary and "
                   "update the report Asset.",
        )
        SweepPostureOperator(
            task_id=POSTURE_TASK_ID,
            report=merge.output,
            doc_md="Apply the posture gate of `compliance.yaml` (`posture:`): new FAIL findings at or above "
                   "`min_severity` fail the run or are notified. Logs and returns the counts (per severity, new "
                   "and fixed).",
        )
    return dag


# --- secret rotation verification -------------------------------------------------------------------


def build_secret_rotation_dag(*, doc_md: str | None = None) -> DAG:
    """The ``secret_rotation`` DAG: optionally rotate one secret and wait for it, then verify every rotation."""
    with DAG(
        dag_id="secret_rotation",
        schedule="@daily",
        start_date=START_DATE,
        catchup=False,
        tags=["iamflow", "secrets", "verification"],
        doc_md=doc_md,
        default_args={"owner": OWNER, "retries": 2, "retry_delay": timedelta(seconds=30),
                      "on_failure_callback": on_failure_callback},
        params={
            "rotate_now_secret": Param("", type="string",
                                       description="A secret to rotate now (through its Lambda) before verifying"),
            "include_all": Param(False, type="boolean", description="Also verify every other secret in the account"),
        },
    ) as dag:
        trigger = TriggerSecretRotationOperator(task_id="trigger_rotation",
                                                secret_id="{{ params.rotate_now_secret }}")
        wait = SecretRotationSensor(
            task_id="wait_for_rotation",
            secret_id="{{ params.rotate_now_secret }}",
            since="{{ ti.xcom_pull(task_ids='trigger_rotation')['since'] }}",
            timeout=60 * 60,
            poke_interval=30,
            deferrable=True,  # waits in the triggerer, holding no worker slot
        )
        verify = VerifySecretRotationOperator(task_id="verify_rotation", trigger_rule="none_failed")
        trigger >> wait >> verify
    return dag


# --- credential remediation -------------------------------------------------------------------------

REMEDIATION_TIMEOUT_HOURS = 72


def build_remediation_dag(*, doc_md: str | None = None) -> DAG:
    """The ``remediate_credentials`` DAG: plan, governed approval, apply; on the sweep's Asset or by hand."""
    from iamflow.airflow.operators import remediation as rem
    from iamflow.airflow.operators.approval import GovernedApprovalOperator
    from iamflow.remediation import WORKFLOW

    with DAG(
        dag_id=WORKFLOW,
        description="Deactivate and delete unused access keys (and unused console passwords, when enabled), "
                    "after approval",
        schedule=[COMPLIANCE_REPORT_ASSET],
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["iamflow", "compliance", "remediation"],
        doc_md=doc_md,
        default_args={"owner": OWNER, "retries": 2, "retry_delay": timedelta(seconds=30),
                      "on_failure_callback": on_failure_callback},
    ) as dag:
        plan = rem.PlanRemediationOperator(
            task_id=rem.PLAN,
            doc_md="Plan one action per unused credential from the latest sweep (collecting first when there is "
                   "none), with check-mode reads; nothing to do skips the approval.")
        approve = GovernedApprovalOperator(
            task_id=rem.APPROVE,
            workflow=WORKFLOW,
            plan_task_id=rem.PLAN,
            subject=f"{{{{ ti.xcom_pull(task_ids='{rem.PLAN}', key='{rem.SUBJECT_KEY}') }}}}",
            body=f"{{{{ ti.xcom_pull(task_ids='{rem.PLAN}', key='{rem.BODY_KEY}') }}}}",
            defaults=GovernedApprovalOperator.REJECT,
            response_timeout=timedelta(hours=REMEDIATION_TIMEOUT_HOURS),
            retries=0,
            doc_md="Approve to apply exactly the plan shown; Reject, or no answer in 72 hours, changes nothing. "
                   "Only an approver of `include/approvals.yaml` who did not trigger the run counts; every answer "
                   "is recorded in the approval audit file.")
        apply = rem.ApplyRemediationOperator(
            task_id=rem.APPLY,
            doc_md="Apply the approved plan, each action checked again on the live state first; a retry resumes "
                   "the same remediation run.")
        plan >> approve >> apply
    return dag
