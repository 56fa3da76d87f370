"""Resource kinds: one handler per kind (read current → plan, pure → apply), in a registry."""

from __future__ import annotations

from iamflow.resources.base import ResourceHandler
from iamflow.resources.iam_instance_profile import IamInstanceProfileHandler
from iamflow.resources.iam_managed_policy import IamManagedPolicyHandler
from iamflow.resources.iam_role import IamRoleHandler

HANDLERS: dict[str, ResourceHandler] = {}


def register(handler: ResourceHandler) -> ResourceHandler:
    """Add a handler to the registry under its kind (later kinds register the same way)."""
    if handler.kind in HANDLERS and type(HANDLERS[handler.kind]) is not type(handler):
        raise ValueError(f"a handler for kind {handler.kind!r} is already registered")
    HANDLERS[handler.kind] = handler
    return handler


def handler_for(kind: str) -> ResourceHandler:
    """Return the handler of a resource kind."""
    try:
        return HANDLERS[kind]
    except KeyError:
        raise KeyError(
            f"no handler for resource kind {kind!r} (known: {', '.join(sorted(HANDLERS))})"
        ) from None


for _handler in (IamManagedPolicyHandler(), IamRoleHandler(), IamInstanceProfileHandler()):
    register(_handler)

from iamflow.resources import cognito as _cognito  # noqa: E402

for _handler in _cognito.HANDLERS:
    register(_handler)

__all__ = ["HANDLERS", "ResourceHandler", "handler_for", "register"]
from iamflow.resources import kms_key as _kms_key  # noqa: E402,F401  (registers the kms_key handler)
from iamflow.resources import secret as _secret  # noqa: E402,F401  (registers the secret handler)
