"""The base of iamflow's AWS operators, in the style of the Amazon provider's ``AwsBaseOperator``.

A templated ``aws_conn_id`` and ``region_name``, a keyword-only constructor that does no I/O, and
the AWS clients built on first use from the connection and cached, one set per mode (read-write,
or check mode where every write is refused before it is sent). Cheap to import: the clients, the
hooks and boto3 load inside :meth:`IamflowBaseOperator.clients`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

if TYPE_CHECKING:
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
