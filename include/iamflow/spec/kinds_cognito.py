"""Playbook schema of the cognito resource kinds (registered into RESOURCE_MODELS on import).

Three kinds: ``cognito_user_pool`` (with bootstrap ``admin_users``), ``cognito_app_client`` and
``cognito_group``. Clients and groups name their pool by its playbook name (``user_pool``); the
pool's AWS id is only known at run time, so it is looked up (by name and ``iamflow:id`` tag) then.
A group may also name a pool that *another* playbook declares, as ``<playbook>/<pool>`` (the
pool's ``iamflow:id`` tag value): a team playbook adds its group to a shared pool that way.

A section left out (``password_policy``, ``mfa``, ``auto_verified_attributes`` ...) is unmanaged:
iamflow neither compares nor changes it. Because Cognito's update calls replace the whole
configuration, an update still sends the current value of every unmanaged section.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from iamflow.spec.models import ResourceBase, _check_ref, _check_tags, register_model
from iamflow.spec.names import (
    COGNITO_NAME,
    COGNITO_PRINTABLE,
    check_name,
    is_name,
    secret_name_for_admin,
    secret_name_for_client,
)

NAME_MAX = 128  # pool, app client, group and user names
URL_MAX = 1024  # callback and logout URLs
SECRET_NAME_MAX = 512  # Secrets Manager's limit, for the secrets iamflow keeps for admins and clients
ATTRIBUTE_NAME_RE = re.compile(r"[A-Za-z0-9_:-]{1,32}")
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# the hosts for which Cognito accepts http:// (for testing on the developer's machine)
LOCALHOST_NAMES = frozenset({"localhost"})

_POOL_KINDS = ("cognito_user_pool",)
VerifiableAttribute = Literal["email", "phone_number"]
AuthFlow = Literal[
    "ALLOW_USER_SRP_AUTH",
    "ALLOW_REFRESH_TOKEN_AUTH",
    "ALLOW_USER_PASSWORD_AUTH",
    "ALLOW_ADMIN_USER_PASSWORD_AUTH",
    "ALLOW_CUSTOM_AUTH",
    "ALLOW_USER_AUTH",
]
TokenUnit = Literal["seconds", "minutes", "hours", "days"]
_UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}


def check_redirect_url(url: str) -> str:
    """A callback or logout URL as Cognito accepts it: https://, or http:// for localhost only.

    The host is read with ``urllib.parse``, so ``http://localhost.evil.example`` and
    ``http://localhost@evil.example`` are not localhost; ``localhost``, ``127.0.0.1`` and ``[::1]``
    (any port) are.
    """
    check_name(url, COGNITO_PRINTABLE, "a URL", URL_MAX)
    parts = urlsplit(url)
    try:
        host, _port = parts.hostname, parts.port
    except ValueError as exc:
        raise ValueError(f"{url!r} is not a valid URL: {exc}") from None
    if parts.scheme not in ("https", "http") or not host:
        raise ValueError(f"{url!r}: use https://<host>/... (http:// only for localhost)")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{url!r}: a redirect URL must not hold a user name or password ('...@' before the host)")
    if parts.fragment:
        raise ValueError(f"{url!r}: a redirect URL must not have a fragment ('#...')")
    if parts.scheme == "http" and not _is_localhost(host):
        raise ValueError(f"{url!r}: use https:// (http:// only for localhost, 127.0.0.1 or [::1]; "
                         f"the host here is {host!r})")
    return url


def _is_localhost(host: str) -> bool:
    if host.lower() in LOCALHOST_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PasswordPolicy(_Section):
    """A pool's password policy (Cognito's defaults where a field is left out)."""

    minimum_length: int = Field(default=8, ge=6, le=99)
    require_uppercase: bool = True
    require_lowercase: bool = True
    require_numbers: bool = True
    require_symbols: bool = True
    temporary_password_validity_days: int = Field(default=7, ge=1, le=365)


class SchemaAttribute(_Section):
    """One attribute of the pool's schema: fixed when the pool is created (changing it means replacement)."""

    name: str
    type: Literal["String", "Number", "DateTime", "Boolean"] = "String"
    required: bool = False
    mutable: bool = True
    min_length: int | None = Field(default=None, ge=0, le=2048)
    max_length: int | None = Field(default=None, ge=0, le=2048)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not ATTRIBUTE_NAME_RE.fullmatch(v):
            raise ValueError("an attribute name has 1-32 letters, digits, '_', '-' or ':'")
        return v

    @model_validator(mode="after")
    def _lengths(self) -> SchemaAttribute:
        if (self.min_length is not None or self.max_length is not None) and self.type != "String":
            raise ValueError("min_length / max_length apply to String attributes only")
        if self.min_length is not None and self.max_length is not None and self.min_length > self.max_length:
            raise ValueError("min_length is greater than max_length")
        return self


class AdminUser(_Section):
    """A bootstrap administrator: created once with a generated temporary password, never reset."""

    username: str
    email: str
    name: str | None = None
    groups: list[str] = Field(default_factory=list)

    @field_validator("username")
    @classmethod
    def _username(cls, v: str) -> str:
        return check_name(v, COGNITO_PRINTABLE, "a username", NAME_MAX)

    @field_validator("email")
    @classmethod
    def _email(cls, v: str) -> str:
        if not EMAIL_RE.fullmatch(v):
            raise ValueError(f"{v!r} is not an email address")
        return v


@register_model
class CognitoUserPool(ResourceBase):
    """A Cognito user pool, found by name plus the ``iamflow:id`` tag (pool names are not unique)."""

    kind: Literal["cognito_user_pool"]
    password_policy: PasswordPolicy | None = None
    # Read back from GetUserPoolMfaConfig (what sign-in follows); see resources/cognito.py.
    mfa: Literal["OFF", "ON", "OPTIONAL"] | None = None
    software_token: bool = True
    auto_verified_attributes: list[VerifiableAttribute] | None = None
    username_attributes: list[VerifiableAttribute] | None = None
    attributes: list[SchemaAttribute] | None = Field(default=None, alias="schema")
    attributes_require_verification_before_update: list[VerifiableAttribute] | None = None
    deletion_protection: bool = True
    email_sending_account: Literal["COGNITO_DEFAULT", "DEVELOPER"] | None = None
    email_source_arn: str | None = None
    account_recovery: list[Literal["verified_email", "verified_phone_number", "admin_only"]] | None = None
    tags: dict[str, str] | None = None
    purge_tags: bool = True
    # schema and username attributes are fixed at creation: a difference needs delete + create
    allow_replace: bool = False
    # state absent on a pool with deletion protection: only with force, which turns protection off first
    force: bool = False
    admin_users: list[AdminUser] | None = None

    def identities(self, playbook: str) -> list[tuple[str, ...]]:
        """Pool names repeat in AWS; a pool is the one tagged ``iamflow:id = <playbook>/<pool>``."""
        return [(self.kind, pool_tag_value(playbook, self.name))]

    _tags = field_validator("tags")(lambda cls, v: _check_tags(v))

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_name(v, COGNITO_NAME, "a user pool name", NAME_MAX)

    @field_validator("attributes")
    @classmethod
    def _schema(cls, v: list[SchemaAttribute] | None) -> list[SchemaAttribute] | None:
        names = [a.name for a in v or []]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"attribute {', '.join(dupes)} declared twice")
        return v

    @field_validator("admin_users")
    @classmethod
    def _admins(cls, v: list[AdminUser] | None) -> list[AdminUser] | None:
        names = [u.username for u in v or []]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"admin user {', '.join(dupes)} declared twice")
        return v

    @field_validator("account_recovery")
    @classmethod
    def _recovery(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and (not 1 <= len(v) <= 2 or len(set(v)) != len(v)):
            raise ValueError("one or two distinct recovery mechanisms, in priority order")
        if v and "admin_only" in v and len(v) > 1:
            raise ValueError("admin_only cannot be combined with another mechanism")
        return v

    @model_validator(mode="after")
    def _admin_secret_names(self) -> CognitoUserPool:
        # each admin's temporary password goes to its own secret, whose name must be valid and distinct
        seen: dict[str, str] = {}
        for i, user in enumerate(self.admin_users or []):
            secret_name = secret_name_for_admin(self.name, user.username)
            if len(secret_name) > SECRET_NAME_MAX:
                raise ValueError(
                    f"admin_users: the temporary password of admin_users[{i}] ({user.username!r}) is kept in a "
                    f"secret whose name would be {len(secret_name)} characters, over Secrets Manager's "
                    f"{SECRET_NAME_MAX}; use a shorter pool name or username"
                )
            if secret_name in seen:
                raise ValueError(f"admin_users: {seen[secret_name]!r} and {user.username!r} would share the "
                                 f"secret {secret_name}; rename one of them")
            seen[secret_name] = user.username
        return self

    @model_validator(mode="after")
    def _consistency(self) -> CognitoUserPool:
        if self.mfa in ("ON", "OPTIONAL") and not self.software_token:
            raise ValueError("software_token: MFA ON/OPTIONAL needs software_token (iamflow does not set up SMS MFA)")
        if self.email_sending_account == "DEVELOPER" and not self.email_source_arn:
            raise ValueError("email_source_arn: required when email_sending_account is DEVELOPER (an SES identity)")
        if self.attributes_require_verification_before_update and self.auto_verified_attributes is not None:
            missing = set(self.attributes_require_verification_before_update) - set(self.auto_verified_attributes)
            if missing:
                raise ValueError(
                    "attributes_require_verification_before_update: "
                    f"{', '.join(sorted(missing))} must also be in auto_verified_attributes"
                )
        return self

    def lint_warnings(self) -> list[tuple[str, str]]:
        """(field, message) for settings that are allowed but weaker than they should be."""
        out: list[tuple[str, str]] = []
        if self.state == "absent":
            return out
        if self.password_policy is not None and self.password_policy.minimum_length < 14:
            out.append(("password_policy.minimum_length",
                        f"{self.password_policy.minimum_length} is below the compliance sweep's minimum of 14"))
        if self.mfa in ("OFF", "OPTIONAL"):
            out.append(("mfa", f"MFA {self.mfa} lets users sign in with a password alone; prefer ON"))
        if not self.deletion_protection:
            out.append(("deletion_protection", "off: one API call can delete the pool and every user in it"))
        return out

    def playbook_errors(self, playbook: Any) -> list[tuple[str, str]]:
        """(field, message) for admin user groups that the playbook does not declare on this pool."""
        out: list[tuple[str, str]] = []
        for i, user in enumerate(self.admin_users or []):
            for group in user.groups:
                found = any(
                    r.kind == "cognito_group" and r.name == group and getattr(r, "user_pool", None) == self.name
                    for r in playbook.resources
                )
                if not found:
                    out.append((f"admin_users[{i}].groups",
                                f"group {group!r} is not a cognito_group of pool {self.name!r} in this playbook"))
        return out


def pool_tag_value(playbook_name: str, pool_name: str) -> str:
    """The ``iamflow:id`` tag value that marks a pool as this playbook's ``pool_name``."""
    return f"{playbook_name}/{pool_name}"


_PLAYBOOK_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]*")


def pool_owner(playbook_name: str, user_pool: str) -> tuple[str, str]:
    """(playbook, pool) that a ``user_pool`` field names: ``<playbook>/<pool>``, or a pool of ``playbook_name``."""
    if "/" in user_pool:
        owner, pool = user_pool.split("/", 1)
        return owner, pool
    return playbook_name, user_pool


class TokenValidity(_Section):
    """A token lifetime with its unit (AWS stores both; moto stores but does not enforce them)."""

    value: int = Field(gt=0)
    unit: TokenUnit

    @property
    def seconds(self) -> int:
        return self.value * _UNIT_SECONDS[self.unit]

    def __str__(self) -> str:
        return f"{self.value} {self.unit}"


# AWS's bounds for each token's lifetime
_TOKEN_BOUNDS = {
    "access_token_validity": (300, 86400, "5 minutes", "1 day"),
    "id_token_validity": (300, 86400, "5 minutes", "1 day"),
    "refresh_token_validity": (3600, 3650 * 86400, "60 minutes", "3650 days"),
}


@register_model
class CognitoAppClient(ResourceBase):
    """An app client of a user pool, found by name within the pool."""

    reference_fields: ClassVar[dict[str, tuple[str, ...]]] = {"user_pool": _POOL_KINDS}

    kind: Literal["cognito_app_client"]
    user_pool: str
    # a client secret is fixed at creation; a generated one goes to Secrets Manager, never to output
    generate_secret: bool = False
    access_token_validity: TokenValidity | None = None
    id_token_validity: TokenValidity | None = None
    refresh_token_validity: TokenValidity | None = None
    explicit_auth_flows: list[AuthFlow] | None = None
    prevent_user_existence_errors: Literal["ENABLED", "LEGACY"] = "ENABLED"
    enable_token_revocation: bool = True
    callback_urls: list[str] | None = None
    logout_urls: list[str] | None = None
    allowed_oauth_flows: list[Literal["code", "implicit", "client_credentials"]] | None = None
    allowed_oauth_scopes: list[str] | None = None
    allow_replace: bool = False

    def identities(self, playbook: str) -> list[tuple[str, ...]]:
        """An app client is found by name within its pool."""
        return [(self.kind, pool_tag_value(*pool_owner(playbook, self.user_pool)), self.name)]

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_name(v, COGNITO_NAME, "an app client name", NAME_MAX)

    @field_validator("user_pool")
    @classmethod
    def _pool(cls, v: str) -> str:
        if v.startswith("arn:") or not is_name(v, COGNITO_NAME, NAME_MAX):
            raise ValueError("name a cognito_user_pool of this playbook")
        return v

    @field_validator("callback_urls", "logout_urls")
    @classmethod
    def _urls(cls, v: list[str] | None) -> list[str] | None:
        for url in v or []:
            check_redirect_url(url)
        return v

    @model_validator(mode="after")
    def _bounds(self) -> CognitoAppClient:
        for field_name, (low, high, low_text, high_text) in _TOKEN_BOUNDS.items():
            tv: TokenValidity | None = getattr(self, field_name)
            if tv is not None and not low <= tv.seconds <= high:
                raise ValueError(f"{field_name}: {tv} is outside {low_text} to {high_text}")
        if self.allowed_oauth_flows and not self.allowed_oauth_scopes:
            raise ValueError("allowed_oauth_scopes: required with allowed_oauth_flows")
        if self.allowed_oauth_flows and "client_credentials" in self.allowed_oauth_flows and not self.generate_secret:
            raise ValueError("allowed_oauth_flows: client_credentials needs generate_secret: true")
        secret_name = secret_name_for_client(self.user_pool, self.name)
        if self.generate_secret and len(secret_name) > SECRET_NAME_MAX:
            raise ValueError(
                f"generate_secret: the client secret is kept in a secret whose name would be {len(secret_name)} "
                f"characters, over Secrets Manager's {SECRET_NAME_MAX}; use a shorter pool or client name"
            )
        return self

    def lint_warnings(self) -> list[tuple[str, str]]:
        """(field, message) for allowed but discouraged settings; the loader shows them as warnings."""
        out: list[tuple[str, str]] = []
        if self.state == "absent":
            return out
        flows = self.explicit_auth_flows or []
        if "ALLOW_USER_PASSWORD_AUTH" in flows:
            out.append(("explicit_auth_flows",
                        "ALLOW_USER_PASSWORD_AUTH sends the password itself to Cognito; prefer ALLOW_USER_SRP_AUTH"))
        if self.prevent_user_existence_errors == "LEGACY":
            out.append(("prevent_user_existence_errors", "LEGACY tells an attacker which usernames exist"))
        if not self.enable_token_revocation:
            out.append(("enable_token_revocation", "off: a leaked refresh token cannot be revoked"))
        if self.allowed_oauth_flows and "implicit" in self.allowed_oauth_flows:
            out.append(("allowed_oauth_flows", "the implicit flow exposes tokens in URLs; prefer code (with PKCE)"))
        return out


@register_model
class CognitoGroup(ResourceBase):
    """A group of a user pool, with an optional IAM role its members receive through identity pools."""

    reference_fields: ClassVar[dict[str, tuple[str, ...]]] = {"user_pool": _POOL_KINDS, "role": ("iam_role",)}

    kind: Literal["cognito_group"]
    user_pool: str
    description: str | None = Field(default=None, max_length=2048)
    precedence: int | None = Field(default=None, ge=0, le=2147483647)
    role: str | None = None

    def identities(self, playbook: str) -> list[tuple[str, ...]]:
        """A group is one name within its pool, which may be another playbook's (``playbook/pool``)."""
        return [(self.kind, pool_tag_value(*pool_owner(playbook, self.user_pool)), self.name)]

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_name(v, COGNITO_PRINTABLE, "a group name", NAME_MAX)

    @field_validator("user_pool")
    @classmethod
    def _pool(cls, v: str) -> str:
        owner, _, pool = v.rpartition("/")
        if (v.startswith("arn:") or not is_name(pool, COGNITO_NAME, NAME_MAX)
                or (owner and not _PLAYBOOK_NAME_RE.fullmatch(owner))):
            raise ValueError("name a cognito_user_pool of this playbook, or <playbook>/<pool> for another playbook's")
        return v

    @field_validator("role")
    @classmethod
    def _role(cls, v: str | None) -> str | None:
        return _check_ref(v, "role") if v else v

    def references(self) -> list[tuple[str, str, tuple[str, ...]]]:
        """Bare-name references; a pool of another playbook (``<playbook>/<pool>``) is external."""
        return [r for r in super().references() if not (r[0] == "user_pool" and "/" in r[1])]

    def lint_warnings(self) -> list[tuple[str, str]]:
        """No warnings for groups (the method exists so every Cognito kind answers the loader alike)."""
        return []
