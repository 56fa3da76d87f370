"""Airflow hooks for the AWS services iamflow manages, in the Amazon provider's style.

``AwsBaseHook`` owns credentials, assume-role, region, ``endpoint_url`` and botocore retries; each
hook here only fixes ``client_type``. The provider already ships ``SecretsManagerHook`` and
``StsHook``, which are re-exported. :func:`clients_from_connection` builds iamflow's
:class:`~iamflow.aws.clients.AwsClients` through these hooks, and :func:`airflow_connection_field`
is the Airflow-backed lookup for :mod:`iamflow.connections`. Importing this module imports the
provider (over a second), so DAG files import it inside tasks, never at parse time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from airflow.providers.amazon.aws.hooks.secrets_manager import SecretsManagerHook
from airflow.providers.amazon.aws.hooks.sts import StsHook

from iamflow.aws.clients import AwsClients, CallLog

if TYPE_CHECKING:
    from botocore.client import BaseClient

__all__ = [
    "AwsBaseHook",
    "CognitoIdpHook",
    "IamHook",
    "KmsHook",
    "OrganizationsHook",
    "SecretsManagerHook",
    "StsHook",
    "airflow_connection_field",
    "clients_from_connection",
    "hook_for_service",
]


class IamHook(AwsBaseHook):
    """Interact with AWS IAM through ``boto3.client("iam")``.

    .. seealso:: :class:`airflow.providers.amazon.aws.hooks.base_aws.AwsBaseHook`
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "iam"
        super().__init__(*args, **kwargs)


class KmsHook(AwsBaseHook):
    """Interact with AWS KMS through ``boto3.client("kms")``.

    .. seealso:: :class:`airflow.providers.amazon.aws.hooks.base_aws.AwsBaseHook`
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "kms"
        super().__init__(*args, **kwargs)


class CognitoIdpHook(AwsBaseHook):
    """Interact with Amazon Cognito user pools through ``boto3.client("cognito-idp")``.

    .. seealso:: :class:`airflow.providers.amazon.aws.hooks.base_aws.AwsBaseHook`
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "cognito-idp"
        super().__init__(*args, **kwargs)


class OrganizationsHook(AwsBaseHook):
    """Interact with AWS Organizations through ``boto3.client("organizations")``.

    .. seealso:: :class:`airflow.providers.amazon.aws.hooks.base_aws.AwsBaseHook`
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "organizations"
        super().__init__(*args, **kwargs)


_HOOKS: dict[str, type[AwsBaseHook]] = {
    "iam": IamHook,
    "kms": KmsHook,
    "cognito-idp": CognitoIdpHook,
    "organizations": OrganizationsHook,
    "secretsmanager": SecretsManagerHook,
    "sts": StsHook,
}


def hook_for_service(
    service: str, aws_conn_id: str | None = "aws_default", region_name: str | None = None
) -> AwsBaseHook:
    """Return a new hook whose ``conn`` is a client for the boto3 service name ``service``."""
    hook_class = _HOOKS.get(service)
    if hook_class is None:
        # any other service still gets the connection's credentials, endpoints and retries
        return AwsBaseHook(aws_conn_id=aws_conn_id, region_name=region_name, client_type=service)
    return hook_class(aws_conn_id=aws_conn_id, region_name=region_name)


def clients_from_connection(
    aws_conn_id: str | None = "aws_default",
    *,
    region: str | None = None,
    check_mode: bool = False,
    call_log: CallLog | None = None,
) -> AwsClients:
    """Build clients through these hooks, so the connection's endpoints, assume-role and retries apply.

    :param aws_conn_id: Airflow connection for AWS; ``None`` uses the boto3 credential chain.
    :param region: AWS region; the connection's when not given.
    :param check_mode: Refuse every non-read call before it is sent.
    :param call_log: Where calls are recorded; a new one when omitted.
    """

    def factory(service: str) -> BaseClient:
        # hook.conn, not hook.get_session().client(): only conn applies the connection's endpoint_url
        return hook_for_service(service, aws_conn_id, region).conn

    return AwsClients(factory, check_mode=check_mode, call_log=call_log, region=region)


def airflow_connection_field(conn_id: str, field: str) -> str | None:
    """Return ``password``, ``login`` or a key of the extra of the Airflow connection ``conn_id``.

    Any secrets backend configured for Airflow applies. None when the connection has no such field.
    """
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    if field == "password":
        return conn.password
    if field == "login":
        return conn.login
    value = (conn.extra_dejson or {}).get(field)
    return None if value is None else str(value)
