"""The base of iamflow's AWS operators, in the style of the Amazon provider's ``AwsBaseOperator``.

A templated ``aws_conn_id`` and ``region_name``, a keyword-only constructor that does no I/O, and
the AWS clients built on first use from the connection and cached, one set per mode (read-write,
or check mode where every write is refused before it is sent). Cheap to import: the clients, the
hooks and boto3 load inside :meth:`IamflowBaseOperator.clients`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator, BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk.types import TaskInstanceKey

    from iamflow.aws.clients import AwsClients

AWS_TEMPLATE_FIELDS: tuple[str, ...] = ("aws_conn_id", "region_name")


def aws_template_fields(*fields: str) -> tuple[str, ...]:
    """``fields`` followed by the connection fields every iamflow AWS operator templates."""
    return (*fields, *(f for f in AWS_TEMPLATE_FIELDS if f not in fields))


class IamflowBaseOperator(BaseOperator):
    """Base of the operators that reach AWS: a connection, a region and cached clients.

    :param aws_conn_id: Airflow connection for AWS (extra ``endpoint_url`` for the embedded AWS);
        ``None`` uses the default boto3 credential chain. (templated)
    :param region_name: AWS region; the connection's region when not given. (templated)
    """

    template_fields: Sequence[str] = AWS_TEMPLATE_FIELDS

    def __init__(self, *, aws_conn_id: str | None = "aws_default", region_name: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self._aws_clients: dict[bool, AwsClients] = {}

    def clients(self, *, check_mode: bool = False) -> AwsClients:
        """The clients of the connection, built once per mode (read-only ones in check mode)."""
        cached = self._aws_clients.get(check_mode)
        if cached is None:
            from iamflow.aws.hooks import clients_from_connection

            cached = clients_from_connection(self.aws_conn_id, region=self.region_name, check_mode=check_mode)
            self._aws_clients[check_mode] = cached
        return cached


# The iamflow UI plugin's app is mounted here (``iamflow.airflow.ui.app.URL_PREFIX``); importing
# the app would import FastAPI into every task, so the path is repeated and a test keeps them equal.
RECAP_PAGE_PATH = "/compliance/recap"


class PlaybookRecapLink(BaseOperatorLink):
    """The "iamflow recap" button of a playbook task: the run's recap page in the iamflow UI plugin.

    The page shows every task's outcome (ok / changed / failed, partial, count of changes) and every
    resource's result, read from the run's XComs, so it needs no task log. Airflow 3 computes the
    link on the worker when the task ends and keeps it in XCom, so no plugin has to register it.
    """

    name = "iamflow recap"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        from urllib.parse import urlencode

        query = urlencode({"dag_id": ti_key.dag_id, "run_id": ti_key.run_id})
        return f"{_base_path()}{RECAP_PAGE_PATH}?{query}#task-{ti_key.task_id}"


def _base_path() -> str:
    """The path part of ``[api] base_url`` (Airflow served below a prefix), or ""."""
    try:
        from urllib.parse import urlparse

        from airflow.sdk.configuration import conf

        return urlparse(conf.get("api", "base_url", fallback="") or "").path.rstrip("/")
    except Exception:
        return ""
