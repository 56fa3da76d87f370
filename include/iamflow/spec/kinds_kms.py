"""Playbook schema of the kms resource kinds (registered into RESOURCE_MODELS on import)."""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from iamflow.spec.models import (
    Document,
    ResourceBase,
    _check_tags,
    is_arn,
    is_iam_name,
    register_model,
)
from iamflow.spec.names import KMS_ALIAS_NAME, check_chars, check_length

# The key usages AWS allows for each key spec (SM2 exists only in the China regions: left out).
KEY_USAGES: dict[str, tuple[KeyUsage, ...]] = {
    "SYMMETRIC_DEFAULT": ("ENCRYPT_DECRYPT",),
    "RSA_2048": ("ENCRYPT_DECRYPT", "SIGN_VERIFY"),
    "RSA_3072": ("ENCRYPT_DECRYPT", "SIGN_VERIFY"),
    "RSA_4096": ("ENCRYPT_DECRYPT", "SIGN_VERIFY"),
    "ECC_NIST_P256": ("SIGN_VERIFY",),
    "ECC_NIST_P384": ("SIGN_VERIFY",),
    "ECC_NIST_P521": ("SIGN_VERIFY",),
    "ECC_SECG_P256K1": ("SIGN_VERIFY",),
    "HMAC_224": ("GENERATE_VERIFY_MAC",),
    "HMAC_256": ("GENERATE_VERIFY_MAC",),
    "HMAC_384": ("GENERATE_VERIFY_MAC",),
    "HMAC_512": ("GENERATE_VERIFY_MAC",),
}
KeySpec = Literal[
    "SYMMETRIC_DEFAULT", "RSA_2048", "RSA_3072", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P384",
    "ECC_NIST_P521", "ECC_SECG_P256K1", "HMAC_224", "HMAC_256", "HMAC_384", "HMAC_512",
]
KeyUsage = Literal["ENCRYPT_DECRYPT", "SIGN_VERIFY", "GENERATE_VERIFY_MAC"]

# An alias name is at most 256 characters, "alias/" included, so a key name (its default alias) is at most 250.
ALIAS_MAX = 256
KMS_NAME_MAX = ALIAS_MAX - len("alias/")
_PRINCIPAL_ARN_RE = re.compile(r"arn:(\$\{[a-z_]+\}|aws|aws-cn|aws-us-gov):(iam|sts)::(\$\{[a-z_]+\}|\d{12}):[^\s]+")


def check_alias(value: str) -> str:
    """A customer alias: ``alias/`` then letters, digits and /_-, 256 characters in all, not ``alias/aws/``."""
    if not value.startswith("alias/") or value == "alias/":
        raise ValueError(f"{value!r} is not an alias name (alias/ followed by letters, digits, /_-)")
    check_length(value, "an alias name", ALIAS_MAX)
    check_chars(value, KMS_ALIAS_NAME, "an alias name")
    if value.startswith("alias/aws/"):
        raise ValueError(f"{value!r}: aliases beginning with 'alias/aws/' are reserved for AWS")
    return value


def _check_principal(value: str) -> str:
    """A key policy principal is an IAM/STS ARN, or the bare name of an iam_role in the playbook."""
    if is_arn(value):
        if not _PRINCIPAL_ARN_RE.fullmatch(value):
            raise ValueError(f"{value!r} is not an IAM principal ARN (arn:aws:iam::<account>:role/...)")
        return value
    if not is_iam_name(value, 64):
        raise ValueError(f"{value!r} is neither an iam_role name nor a principal ARN")
    return value


@register_model
class KmsKey(ResourceBase):
    """A customer-managed KMS key: spec, usage, aliases, tags, state, rotation and key policy.

    The first alias is the key's address: the handler finds the key by it (``alias/<name>`` unless
    ``aliases`` says otherwise), and other resources refer to the key through its ARN.
    """

    reference_fields: ClassVar[dict[str, tuple[str, ...]]] = {"admins": ("iam_role",), "users": ("iam_role",)}
    document_fields: ClassVar[dict[str, str]] = {"policy": "kms-key"}

    kind: Literal["kms_key"]
    description: str | None = Field(default=None, max_length=8192)
    key_spec: KeySpec = "SYMMETRIC_DEFAULT"
    # None means "the usual one for the spec" (filled in by validation, so it is never None after)
    key_usage: KeyUsage | None = None
    aliases: list[str] | None = Field(default=None, min_length=1)
    tags: dict[str, str] | None = None
    purge_tags: bool = True
    enabled: bool = True
    rotation: bool | None = None
    rotation_period_days: int | None = Field(default=None, ge=90, le=2560)
    policy: Document | None = None
    admins: list[str] | None = None
    users: list[str] | None = None
    pending_days: int = Field(default=30, ge=7, le=30)
    prove: bool = True
    allow_replace: bool = False

    @property
    def alias_names(self) -> list[str]:
        """The declared aliases, or ``alias/<name>`` when none are declared."""
        return list(self.aliases) if self.aliases else [f"alias/{self.name}"]

    def identities(self, playbook: str) -> list[tuple[str, ...]]:
        """A key is found through its aliases: each names one key of the account and region."""
        return [("kms_alias", alias) for alias in self.alias_names]

    def arn(self, ctx: Any) -> str:
        return f"arn:{ctx.partition}:kms:{ctx.region}:{ctx.account_id}:{self.alias_names[0]}"

    @property
    def policy_generated(self) -> bool:
        """True when the key policy is generated from ``admins`` and ``users``."""
        return self.admins is not None or self.users is not None

    _tags = field_validator("tags")(lambda cls, v: _check_tags(v))

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        # the name doubles as the default alias, so it must be a valid alias name
        check_length(v, "a key name (it is also the default alias)", KMS_NAME_MAX)
        check_chars(v, KMS_ALIAS_NAME, "a key name (it is also the default alias)")
        if v.startswith("aws/"):
            raise ValueError("names beginning with 'aws/' are reserved for AWS managed keys")
        return v

    @field_validator("aliases")
    @classmethod
    def _aliases(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        if len(set(v)) != len(v):
            raise ValueError("lists the same alias twice")
        for alias in v:
            check_alias(alias)
        return v

    @field_validator("admins", "users")
    @classmethod
    def _principals(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        if len(set(v)) != len(v):
            raise ValueError("lists the same principal twice")
        for item in v:
            _check_principal(item)
        return v

    @model_validator(mode="after")
    def _combinations(self) -> KmsKey:
        allowed = KEY_USAGES[self.key_spec]
        if self.key_usage is None:
            self.key_usage = allowed[0]
        elif self.key_usage not in allowed:
            raise ValueError(
                f"key_usage: {self.key_usage} is not allowed with key_spec {self.key_spec} "
                f"(allowed: {', '.join(allowed)})"
            )
        rotatable = self.key_spec == "SYMMETRIC_DEFAULT" and self.key_usage == "ENCRYPT_DECRYPT"
        if self.rotation and not rotatable:
            raise ValueError(
                f"rotation: only symmetric ENCRYPT_DECRYPT keys can rotate automatically, not {self.key_spec} "
                f"{self.key_usage} keys"
            )
        if self.rotation_period_days is not None and self.rotation is not True:
            raise ValueError("rotation_period_days: needs 'rotation: true'")
        if self.policy is not None and self.policy_generated:
            raise ValueError("policy: give either a policy document or admins/users to generate one, not both")
        return self
