"""Playbook schema of ``ssm_parameter``, a Systems Manager Parameter Store parameter.

AWS facts the schema follows (Systems Manager ``PutParameter``):

* A name is 1-2048 characters of ASCII letters, digits and ``_.-/`` (the full path counts), at
  most 15 levels deep, and may not begin with ``aws`` or ``ssm`` (any case, with or without a
  leading ``/``). A name with a ``/`` anywhere must begin with ``/`` (a hierarchy is absolute).
* ``type`` is ``String``, ``StringList`` (comma-separated) or ``SecureString`` (encrypted with a
  KMS key: ``alias/aws/ssm`` unless ``kms_key`` names another). A ``kms_key`` is only meaningful
  for a SecureString.
* ``tier`` is ``Standard`` (values up to 4 KB), ``Advanced`` (8 KB) or ``Intelligent-Tiering``
  (AWS picks Standard when the value and policies allow it). An Advanced parameter can never go
  back to Standard without being deleted.
* ``allowed_pattern`` is a regular expression the value must match; AWS refuses a value that does
  not, so a declared ``value`` is checked here, before any call.
* ``description`` is at most 1024 characters.

A SecureString's value is never written in a playbook: it is **generated** at apply time (the
``generate`` options of a ``secret``), written once when the parameter is created, and never
overwritten by a re-run (a value changed outside iamflow, a rotation, survives). ``value`` is for
String and StringList parameters only, and goes through the loader's hard-coded credential scan
like every other string of a playbook.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from iamflow.spec.kinds_secrets import KMS_ARN_RE, GenerateSpec
from iamflow.spec.models import ResourceBase, _check_tags, is_arn, register_model
from iamflow.spec.names import KMS_ALIAS_NAME, ascii_set, check_name, is_name

SSM_NAME = ascii_set("_.-/", "ASCII letters, digits and _.-/")
SSM_NAME_MAX = 2048
SSM_MAX_LEVELS = 15
_RESERVED_PREFIX = re.compile(r"/?(aws|ssm)", re.IGNORECASE)
# the value size limits of the two storage tiers, in bytes
VALUE_LIMITS = {"Standard": 4096, "Advanced": 8192, "Intelligent-Tiering": 8192}
SECURE = "SecureString"


@register_model
class SsmParameter(ResourceBase):
    """A Parameter Store parameter: a declared String/StringList value, or a generated SecureString."""

    reference_fields: ClassVar[dict[str, tuple[str, ...]]] = {"kms_key": ("kms_key",)}

    kind: Literal["ssm_parameter"]
    type: Literal["String", "StringList", "SecureString"] = "String"
    description: str | None = Field(default=None, max_length=1024)
    kms_key: str | None = None
    tier: Literal["Standard", "Advanced", "Intelligent-Tiering"] = "Standard"
    allowed_pattern: str | None = Field(default=None, max_length=1024)
    tags: dict[str, str] | None = None
    purge_tags: bool = True
    value: str | None = Field(default=None, min_length=1)
    generate: GenerateSpec | None = None
    # a type change (or Advanced back to Standard) deletes the parameter and creates it again
    allow_replace: bool = False

    _tags = field_validator("tags")(lambda cls, v: _check_tags(v))

    def arn(self, ctx: Any) -> str:
        return f"arn:{ctx.partition}:ssm:{ctx.region}:{ctx.account_id}:parameter/{self.name.lstrip('/')}"

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        check_name(v, SSM_NAME, "a parameter name", SSM_NAME_MAX)
        if _RESERVED_PREFIX.match(v):
            raise ValueError("a parameter name may not begin with 'aws' or 'ssm' (any case): AWS reserves them")
        if "/" in v and not v.startswith("/"):
            raise ValueError("a parameter name with a hierarchy must begin with '/' (for example /myapp/db/host)")
        if v.count("/") > SSM_MAX_LEVELS:
            raise ValueError(f"a parameter hierarchy has at most {SSM_MAX_LEVELS} levels, got {v.count('/')}")
        if "//" in v or (len(v) > 1 and v.endswith("/")):
            raise ValueError("a parameter name has no empty hierarchy level and does not end with '/'")
        return v

    @field_validator("allowed_pattern")
    @classmethod
    def _pattern(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"does not compile as a regular expression: {exc}") from None
        return v

    @model_validator(mode="after")
    def _value_source(self) -> SsmParameter:
        secure = self.type == SECURE
        if secure and self.value is not None:
            raise ValueError("value: a SecureString's value is never written in a playbook; use 'generate' "
                             "(generated at apply time, never shown)")
        if not secure and self.generate is not None:
            raise ValueError(f"generate: only a SecureString is generated; a {self.type} takes 'value'")
        if not secure and self.kms_key is not None:
            raise ValueError(f"kms_key: only a SecureString is encrypted; a {self.type} has no key")
        if self.state == "present":
            if secure and self.generate is None:
                raise ValueError("generate: a present SecureString needs 'generate' (its value is generated)")
            if not secure and self.value is None:
                raise ValueError(f"value: a present {self.type} parameter needs a value")
        if self.value is not None:
            self._check_value(self.value)
        if self.generate is not None and self.generate.length > VALUE_LIMITS[self.tier]:
            raise ValueError(f"generate: length {self.generate.length} exceeds the {self.tier} tier's "
                             f"{VALUE_LIMITS[self.tier]} bytes")
        if self.kms_key is not None:
            if is_arn(self.kms_key) and not KMS_ARN_RE.fullmatch(self.kms_key):
                raise ValueError(f"kms_key: {self.kms_key!r} is not a KMS key or alias ARN")
            if not is_arn(self.kms_key) and not is_name(self.kms_key, KMS_ALIAS_NAME, 250):
                raise ValueError(f"kms_key: {self.kms_key!r} is neither a kms_key of the playbook nor a KMS ARN")
        return self

    def _check_value(self, value: str) -> None:
        limit = VALUE_LIMITS[self.tier]
        if len(value.encode()) > limit:
            raise ValueError(f"value: {len(value.encode())} bytes exceed the {self.tier} tier's {limit}")
        # AWS's examples anchor their patterns (^\\d+$): an unanchored one matches anywhere
        if self.allowed_pattern is not None and "${" not in value and re.search(self.allowed_pattern, value) is None:
            raise ValueError("value: does not match allowed_pattern (AWS would refuse it)")
        if self.type == "StringList" and any(not item for item in value.split(",")):
            raise ValueError("value: a StringList is comma-separated items, none of them empty")
