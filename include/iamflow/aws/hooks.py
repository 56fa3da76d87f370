"""Airflow hooks for the AWS services iamflow manages, in the Amazon provider's style.

``AwsBaseHook`` owns credentials, assume-role, region, ``endpoint_url`` and botocore retries; each
hook here only fixes ``client_type``. The provider already ships ``SecretsManagerHook`` and
``StsHook``, which are re-exported. Importing this module imports the provider (over a second),
so DAG files import it inside tasks, never at parse time.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from airflow.providers.amazon.aws.hooks.secrets_manager import SecretsManagerHook
from airflow.providers.amazon.aws.hooks.sts import StsHook

__all__ = [
    "AwsBaseHook",
    "CognitoIdpHook",
    "IamHook",
    "KmsHook",
    "OrganizationsHook",
    "SecretsManagerHook",
    "StsHook",
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
