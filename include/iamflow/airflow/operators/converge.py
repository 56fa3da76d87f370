"""Operators that converge one playbook resource, and the one that stands in for a broken playbook.

Importing this module is cheap on purpose (DAG files import it at parse time): the engine,
boto3 and the Amazon provider's hooks are imported inside ``execute`` only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from iamflow.airflow.operators.base import IamflowBaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from iamflow.engine import ResourceResult
    from iamflow.spec.models import ResourceBase

# A failed resource task pushes its result under this key before failing, so the recap can show
# why it failed (a task that raises pushes no return value).
FAILED_RESULT_KEY = "iamflow_failed_result"


class IamflowResourceOperator(IamflowBaseOperator):
    """Converge one resource of a playbook to its declared state (or, in check mode, only plan it).

    The playbook is loaded and validated again at run time, so a task always applies what the
    file says now. The outcome is logged like an Ansible task (status, changes, diff) and returned
    as a small JSON-able dict (XCom) that the recap task reads.

    A ``failed`` result, a validation error and a permanent AWS error (access denied, malformed
    input) fail the task without retry. Throttling and other transient errors are re-raised as
    botocore raised them, so the task's ``retries`` apply; a retry re-reads and converges from
    wherever the failed attempt stopped.

    :param playbook_path: Path of the playbook file. (templated)
    :param resource_key: ``kind.name`` of the resource to converge. (templated)
    :param aws_conn_id: Airflow connection for AWS (extra ``endpoint_url`` for the embedded
        AWS); ``None`` uses the default boto3 credential chain. (templated)
    :param region_name: AWS region; the connection's region when not given.
    :param check_mode: Plan only, with clients that refuse every write call. ``None`` (the
        default) takes the DAG run's ``check_mode`` param.
    """

    template_fields: Sequence[str] = ("playbook_path", "resource_key", "aws_conn_id")
    ui_color = "#f9e6c8"

    def __init__(
        self,
        *,
        playbook_path: str,
        resource_key: str,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        check_mode: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(aws_conn_id=aws_conn_id, region_name=region_name, **kwargs)
        self.playbook_path = playbook_path
        self.resource_key = resource_key
        self.check_mode = check_mode

    def execute(self, context: Context) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        from iamflow.aws.errors import is_transient
        from iamflow.engine import FAILED, ResourceResult, format_result, result_of, run_resource
        from iamflow.errors import IamflowError
        from iamflow.spec.loader import load_playbook

        params = context.get("params") or {}
        check_mode = self.check_mode if self.check_mode is not None else bool(params.get("check_mode", False))
        diff = bool(params.get("diff", True))

        def fail(error: str) -> AirflowFailException:
            result = ResourceResult(self.resource_key, FAILED, check_mode=check_mode, error=error)
            self._push_failure(context, result)
            self.log.error("%s", format_result(result, diff=False))
            return AirflowFailException(f"{self.resource_key}: {error}")

        try:
            # the run's vars Param overrides values only (a var that shapes the DAG is refused)
            playbook = load_playbook(self.playbook_path, param_vars=params.get("vars") or None)
        except IamflowError as exc:
            raise fail(f"the playbook does not validate:\n{exc}") from exc
        if self.resource_key not in playbook.by_key():
            raise fail(f"the playbook {self.playbook_path} no longer declares this resource "
                       "(the DAG is refreshed at the next parse)")

        try:
            clients = self.clients(check_mode=check_mode)
            result = run_resource(clients, playbook, self.resource_key, check_mode=check_mode)
        except IamflowError as exc:
            raise fail(str(exc)) from exc
        except (ClientError, BotoCoreError) as exc:
            if is_transient(exc):
                carried = result_of(exc)  # what was applied before it: the recap shows it if no retry succeeds
                if carried is not None:
                    self.log.error("%s", format_result(carried, diff=False))
                    self._push_failure(context, carried)
                raise
            raise fail(f"{type(exc).__name__}: {exc}") from exc

        if result.status == FAILED:  # e.g. a plan that must not be applied (replacement required)
            self.log.error("%s", format_result(result, diff=diff))
            self._push_failure(context, result)
            raise AirflowFailException(f"{self.resource_key}: {result.error or 'failed'}")
        self.log.info("%s", format_result(result, diff=diff))
        return result.to_dict()

    def _push_failure(self, context: Context, result: ResourceResult) -> None:
        ti = context.get("ti")
        if ti is None:
            return
        try:
            ti.xcom_push(key=FAILED_RESULT_KEY, value=result.to_dict())
        except Exception:  # the failure itself matters more than its record
            self.log.warning("could not record the failed result of %s", self.resource_key, exc_info=True)


class PlaybookInvalidOperator(BaseOperator):
    """Fail with the problems of a playbook that does not validate (the placeholder DAG's task).

    :param playbook_path: The playbook file.
    :param problems: Every problem found, one line each (file, resource, field and message).
    """

    template_fields: Sequence[str] = ()
    ui_color = "#f4c7c3"

    def __init__(self, *, playbook_path: str, problems: Sequence[str], **kwargs: Any) -> None:
        kwargs.setdefault("retries", 0)
        super().__init__(**kwargs)
        self.playbook_path = playbook_path
        self.problems = list(problems)

    def execute(self, context: Context) -> None:
        lines = "\n".join(f"  - {p}" for p in self.problems)
        self.log.error("Playbook %s does not validate; nothing was converged:\n%s", self.playbook_path, lines)
        raise AirflowFailException(
            f"Playbook {self.playbook_path} does not validate ({len(self.problems)} problem(s)):\n{lines}"
        )


def resource_doc_md(resource: ResourceBase, runs_after: Sequence[str], playbook_path: str) -> str:
    """Markdown describing a resource task: kind, name, state, references and ordering."""
    lines = [
        f"### `{resource.key}`",
        "",
        "| | |",
        "|---|---|",
        f"| kind | `{resource.kind}` |",
        f"| name | `{resource.name}` |",
        f"| state | `{resource.state}` |",
    ]
    path = getattr(resource, "path", None)
    if path and path != "/":
        lines.append(f"| path | `{path}` |")
    description = getattr(resource, "description", None)
    if description:
        lines.append(f"| description | {_cell(description)} |")
    refs = resource.references()
    if refs:
        lines.append("| references | " + "<br>".join(f"`{f}` → {'/'.join(k)} `{n}`" for f, n, k in refs) + " |")
    external = _external_refs(resource)
    if external:
        lines.append("| external | " + "<br>".join(f"`{f}` → `{arn}`" for f, arn in external) + " |")
    if runs_after:
        lines.append("| runs after | " + ", ".join(f"`{k}`" for k in sorted(runs_after)) + " |")
    if resource.waive:
        lines.append("| waivers | " + "<br>".join(f"`{w.rule}`: {_cell(w.reason)}" for w in resource.waive) + " |")
    lines += ["", f"Declared in `{playbook_path}`."]
    return "\n".join(lines)


def _external_refs(resource: ResourceBase) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for field_name in resource.reference_fields:
        value = getattr(resource, field_name, None)
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, str) and v.startswith("arn:"):
                out.append((field_name, v))
    return out


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
