"""Playbook schema of ``cognito_identity_pool``: a Cognito identity pool, its providers and its two roles.

AWS facts the schema follows (Cognito identity ``CreateIdentityPool``, ``SetIdentityPoolRoles``):

* A pool name is 1-128 characters of letters, digits, spaces and ``_``; names are not unique, so
  iamflow finds its pool by name plus its ``iamflow:id`` tag (``IdentityPoolTags``).
* ``allow_unauthenticated`` (guest access) is off unless declared: guests get AWS credentials
  without signing in.
* ``providers`` are user pool app clients whose tokens the pool accepts: ``user_pool`` names a
  ``cognito_user_pool`` of the playbook (or ``<playbook>/<pool>``), ``client`` an app client of it.
  The list is converged exactly (``UpdateIdentityPool`` replaces it).
* ``authenticated_role`` and ``unauthenticated_role`` name an ``iam_role`` of the playbook or give
  a role ARN. iamflow writes each role's trust policy: ``cognito-identity.amazonaws.com`` may
  assume it by web identity, with ``cognito-identity.amazonaws.com:aud`` = the pool's id and
  ``cognito-identity.amazonaws.com:amr`` = ``authenticated`` or ``unauthenticated``. A role of the
  playbook so named keeps its declared trust only until the pool exists (declare a deny-all
  placeholder such as ``identity-pool-role-placeholder-trust.json``); from then on the pool owns it.
"""

from __future__ import annotations

import re
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from iamflow.spec.models import ResourceBase, _check_ref, _check_tags, register_model
from iamflow.spec.names import COGNITO_NAME, ascii_set, check_name, is_name

IDENTITY_POOL_NAME = ascii_set(" _", "ASCII letters, digits, spaces and _")
_PLAYBOOK_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]*")
ROLE_FIELDS = ("authenticated_role", "unauthenticated_role")


class IdentityProvider(BaseModel):
    """One user pool app client whose tokens the identity pool accepts."""

    model_config = ConfigDict(extra="forbid")

    user_pool: str
    client: str
    server_side_token_check: bool = False

    @field_validator("user_pool")
    @classmethod
    def _pool(cls, v: str) -> str:
        owner, _, pool = v.rpartition("/")
        if (v.startswith("arn:") or not is_name(pool, COGNITO_NAME, 128)
                or (owner and not _PLAYBOOK_NAME_RE.fullmatch(owner))):
            raise ValueError("name a cognito_user_pool of this playbook, or <playbook>/<pool> for another playbook's")
        return v

    @field_validator("client")
    @classmethod
    def _client(cls, v: str) -> str:
        return check_name(v, COGNITO_NAME, "an app client name", 128)


@register_model
class CognitoIdentityPool(ResourceBase):
    """A Cognito identity pool: guest access, user pool providers, and the roles it hands out."""

    reference_fields: ClassVar[dict[str, tuple[str, ...]]] = {
        "authenticated_role": ("iam_role",),
        "unauthenticated_role": ("iam_role",),
    }

    kind: Literal["cognito_identity_pool"]
    allow_unauthenticated: bool = False
    providers: list[IdentityProvider] | None = None
    authenticated_role: str | None = None
    unauthenticated_role: str | None = None
    tags: dict[str, str] | None = Field(default=None)

    _tags = field_validator("tags")(lambda cls, v: _check_tags(v))

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_name(v, IDENTITY_POOL_NAME, "an identity pool name", 128)

    @field_validator("authenticated_role", "unauthenticated_role")
    @classmethod
    def _role(cls, v: str | None) -> str | None:
        return _check_ref(v, "role") if v else v

    @model_validator(mode="after")
    def _providers(self) -> CognitoIdentityPool:
        seen = set()
        for p in self.providers or []:
            key = (p.user_pool, p.client)
            if key in seen:
                raise ValueError(f"providers: {p.user_pool}/{p.client} is listed twice")
            seen.add(key)
        return self

    def identities(self, playbook: str) -> list[tuple[str, ...]]:
        return [(self.kind, self.name)]

    def references(self) -> list[tuple[str, str, tuple[str, ...]]]:
        """The roles, and each provider's pool and client (a pool of another playbook is external)."""
        out = super().references()
        for p in self.providers or []:
            if "/" not in p.user_pool:
                out.append(("providers", p.user_pool, ("cognito_user_pool",)))
                out.append(("providers", p.client, ("cognito_app_client",)))
        return out

    def provider_pools(self, playbook: str) -> list[tuple[str, str]]:
        """(playbook, pool) of every provider's user pool."""
        from iamflow.spec.kinds_cognito import pool_owner  # kinds_cognito imports models, which imports this

        return [pool_owner(playbook, p.user_pool) for p in self.providers or []]

    def lint_warnings(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if self.state == "absent":
            return out
        if self.allow_unauthenticated:
            out.append(("allow_unauthenticated", "guests get AWS credentials (the unauthenticated role's) "
                        "without signing in (Security Hub Cognito.2)"))
        if self.unauthenticated_role and not self.allow_unauthenticated:
            out.append(("unauthenticated_role", "guest access is off, so no one receives this role"))
        return out
