"""Resource kinds: one handler per kind (read → look up → plan, pure → apply), in a registry."""

from __future__ import annotations

from iamflow.resources.base import AnyHandler, ResourceHandler
from iamflow.resources.cognito import CognitoAppClientHandler, CognitoGroupHandler, CognitoUserPoolHandler
from iamflow.resources.iam_group import IamGroupHandler
from iamflow.resources.iam_instance_profile import IamInstanceProfileHandler
from iamflow.resources.iam_managed_policy import IamManagedPolicyHandler
from iamflow.resources.iam_password_policy import IamPasswordPolicyHandler
from iamflow.resources.iam_role import IamRoleHandler
from iamflow.resources.iam_user import IamUserHandler
from iamflow.resources.kms_key import KmsKeyHandler
from iamflow.resources.secret import SecretHandler

HANDLERS: dict[str, AnyHandler] = {}


def register(handler: AnyHandler) -> AnyHandler:
    """Add a handler to the registry under its kind (later kinds register the same way)."""
    if handler.kind in HANDLERS and type(HANDLERS[handler.kind]) is not type(handler):
        raise ValueError(f"a handler for kind {handler.kind!r} is already registered")
    HANDLERS[handler.kind] = handler
    return handler


def handler_for(kind: str) -> AnyHandler:
    """Return the handler of a resource kind."""
    try:
        return HANDLERS[kind]
    except KeyError:
        raise KeyError(
            f"no handler for resource kind {kind!r} (known: {', '.join(sorted(HANDLERS))})"
        ) from None


for _handler in (
    IamManagedPolicyHandler(),
    IamRoleHandler(),
    IamInstanceProfileHandler(),
    CognitoUserPoolHandler(),
    CognitoAppClientHandler(),
    CognitoGroupHandler(),
    KmsKeyHandler(),
    SecretHandler(),
    IamPasswordPolicyHandler(),
    IamGroupHandler(),
    IamUserHandler(),
):
    register(_handler)

__all__ = ["HANDLERS", "ResourceHandler", "handler_for", "register"]
