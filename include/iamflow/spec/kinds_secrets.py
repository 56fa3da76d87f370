"""Playbook schema of the secrets resource kinds (registered into RESOURCE_MODELS on import).

A ``secret``'s value is never written in a playbook: it is **generated** at apply time, either as
one string (``generate``) or as a JSON ``template`` whose secret fields are ``{generate: {...}}``
markers. A value is written only when the secret is created (or when ``rotate_now`` asks for a
new one); a re-run never overwrites it, so a value rotated by the rotation Lambda survives.
"""

from __future__ import annotations

import re
import string
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from iamflow.policy.lint import is_secret_key
from iamflow.spec.models import Document, ResourceBase, _check_tags, is_arn, register_model
from iamflow.spec.names import KMS_ALIAS_NAME, SECRET_NAME, check_name, is_name

# Secrets Manager names: 1-512 of ASCII letters, digits and /_+=.@-
SECRET_NAME_MAX = 512
# AWS appends "-" and six characters to a name to build the ARN; a name already ending that way
# makes partial-ARN lookups ambiguous, so AWS advises against it.
_ARN_SUFFIX_LIKE = re.compile(r".*-[A-Za-z0-9]{6}", re.DOTALL)
_PARTITION = r"(\$\{partition\}|aws|aws-cn|aws-us-gov)"
_REGION = r"(\$\{region\}|[a-z]{2}(-[a-z]+)+-\d)"
_ACCOUNT = r"(\$\{account_id\}|\d{12})"
LAMBDA_ARN_RE = re.compile(rf"arn:{_PARTITION}:lambda:{_REGION}:{_ACCOUNT}:function:[A-Za-z0-9_-]{{1,64}}(:[A-Za-z0-9_$-]+)?")
KMS_ARN_RE = re.compile(rf"arn:{_PARTITION}:kms:{_REGION}:{_ACCOUNT}:(key/[A-Za-z0-9-]+|alias/[A-Za-z0-9/_-]+)")
SCHEDULE_RE = re.compile(r"(rate\(\s*[0-9]+\s+(hour|hours|day|days)\s*\)|cron\([^\n]+\))")
DURATION_RE = re.compile(r"([1-9]|1[0-9]|2[0-4])h")
CALLABLE_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*")
# Keys that no literal may fill: a literal value would put the secret in the playbook.
LITERAL_VALUE_FIELDS = ("value", "secret_string", "secret_binary", "secret", "password", "SecretString",
                        "SecretBinary")
# Template keys that must be generated, never literal (as well as every key ``is_secret_key`` names:
# pwd, dsn, signing_key, connection_string ...).
_SECRETISH_KEY = re.compile(r"(pass(word|wd|phrase)?|secret|token|private_?key|api_?key|credential)", re.I)


PUNCTUATION = string.punctuation  # the same 32 characters GetRandomPassword calls punctuation


def character_classes(spec: GenerateSpec) -> list[str]:
    """The character classes ``spec`` draws from, each without the excluded characters."""
    classes = []
    if not spec.exclude_lowercase:
        classes.append(string.ascii_lowercase)
    if not spec.exclude_uppercase:
        classes.append(string.ascii_uppercase)
    if not spec.exclude_numbers:
        classes.append(string.digits)
    if not spec.exclude_punctuation:
        classes.append(PUNCTUATION)
    if spec.include_space:
        classes.append(" ")
    excluded = set(spec.exclude_characters)
    return [kept for kept in ("".join(c for c in cls if c not in excluded) for cls in classes) if kept]


class GenerateSpec(BaseModel):
    """How to generate one random string (Secrets Manager ``GetRandomPassword``'s options)."""

    model_config = ConfigDict(extra="forbid")

    length: int = Field(default=32, ge=8, le=4096)
    exclude_characters: str = Field(default="", max_length=4096)
    exclude_punctuation: bool = False
    exclude_uppercase: bool = False
    exclude_lowercase: bool = False
    exclude_numbers: bool = False
    include_space: bool = False
    require_each_included_type: bool = True

    @model_validator(mode="after")
    def _some_characters_left(self) -> GenerateSpec:
        classes = character_classes(self)
        if not classes:
            raise ValueError("every character class is excluded; nothing is left to generate from")
        if self.require_each_included_type and len(classes) > self.length:
            raise ValueError(f"length {self.length} is shorter than the {len(classes)} required character types")
        return self


class ValidatorSpec(BaseModel):
    """How to tell that AWSCURRENT holds a usable value: exactly one of the three."""

    model_config = ConfigDict(extra="forbid")

    json_keys: list[str] | None = Field(default=None, min_length=1)
    regex: str | None = None
    callable: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ValidatorSpec:
        given = [k for k in ("json_keys", "regex", "callable") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of json_keys, regex or callable")
        if self.regex is not None:
            try:
                re.compile(self.regex)
            except re.error as exc:
                raise ValueError(f"regex does not compile: {exc}") from None
        if self.callable is not None and not CALLABLE_RE.fullmatch(self.callable):
            raise ValueError(f"callable {self.callable!r} must look like 'package.module:function'")
        return self


class VerifySpec(BaseModel):
    """Thresholds and validator of the rotation verification of one secret."""

    model_config = ConfigDict(extra="forbid")

    grace_days: int = Field(default=1, ge=0, le=365)
    pending_max_hours: float = Field(default=24, gt=0, le=24 * 30)
    validator: ValidatorSpec | None = None


class RotationSpec(BaseModel):
    """Rotation by a Lambda: ``every_days`` or a ``schedule`` expression, optionally a window ``duration``."""

    model_config = ConfigDict(extra="forbid")

    lambda_arn: str
    every_days: int | None = Field(default=None, ge=1, le=1000)
    schedule: str | None = None
    duration: str | None = None
    verify: VerifySpec = Field(default_factory=VerifySpec)

    @field_validator("lambda_arn")
    @classmethod
    def _lambda(cls, v: str) -> str:
        if not LAMBDA_ARN_RE.fullmatch(v):
            raise ValueError(f"{v!r} is not a Lambda function ARN (arn:aws:lambda:<region>:<account>:function:<name>)")
        return v

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, v: str | None) -> str | None:
        if v is not None and not SCHEDULE_RE.fullmatch(v.strip()):
            raise ValueError(f"{v!r} is neither rate(N days|hours) nor cron(...)")
        return v.strip() if v else v

    @field_validator("duration")
    @classmethod
    def _duration(cls, v: str | None) -> str | None:
        if v is not None and not DURATION_RE.fullmatch(v):
            raise ValueError(f"{v!r} must be a number of hours from 1h to 24h, e.g. '4h'")
        return v

    @model_validator(mode="after")
    def _one_schedule(self) -> RotationSpec:
        if (self.every_days is None) == (self.schedule is None):
            raise ValueError("give exactly one of every_days (1-1000) or schedule (rate(...) or cron(...))")
        return self


def _check_template(value: Any, path: str) -> int:
    """Validate a template; return how many generated fields it holds."""
    if isinstance(value, dict):
        if "generate" in value and path:
            if set(value) != {"generate"}:
                raise ValueError(f"template{path}: a generated field holds only 'generate'")
            GenerateSpec.model_validate(value["generate"] or {})
            return 1
        count = 0
        for k, v in value.items():
            if not isinstance(k, str) or not k:
                raise ValueError(f"template{path}: keys must be non-empty strings")
            sub = f"{path}.{k}"
            is_marker = isinstance(v, dict) and "generate" in v
            if (_SECRETISH_KEY.search(k) or is_secret_key(k)) and not is_marker and not isinstance(v, dict):
                raise ValueError(
                    f"template{sub}: looks like a secret field, so it must be generated "
                    "({generate: {...}}); literal secret values never go in a playbook"
                )
            count += _check_template(v, sub)
        return count
    if isinstance(value, list):
        raise ValueError(f"template{path}: lists are not supported in a template")
    if value is None or isinstance(value, str | int | float | bool):
        return 0
    raise ValueError(f"template{path}: unsupported value of type {type(value).__name__}")


@register_model
class Secret(ResourceBase):
    """A Secrets Manager secret whose value iamflow generates, never reads from YAML."""

    reference_fields: ClassVar[dict[str, tuple[str, ...]]] = {"kms_key": ("kms_key",)}
    document_fields: ClassVar[dict[str, str]] = {"resource_policy": "secret"}

    kind: Literal["secret"]
    description: str | None = Field(default=None, max_length=2048)
    kms_key: str | None = None
    tags: dict[str, str] | None = None
    purge_tags: bool = True
    resource_policy: Document | None = None
    generate: GenerateSpec | None = None
    template: dict[str, Any] | None = None
    rotate_now: bool = False
    rotation: RotationSpec | None = None
    recovery_window_days: int = Field(default=30, ge=7, le=30)
    force_delete: bool = False

    _tags = field_validator("tags")(lambda cls, v: _check_tags(v))

    @model_validator(mode="before")
    @classmethod
    def _no_literal_value(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in LITERAL_VALUE_FIELDS:
                if key in data:
                    raise ValueError(
                        f"{key}: a secret's value is never written in a playbook; use 'generate' (one "
                        "generated string) or 'template' (JSON whose secret fields are generated)"
                    )
        return data

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        check_name(v, SECRET_NAME, "a secret name", SECRET_NAME_MAX)
        if _ARN_SUFFIX_LIKE.fullmatch(v):
            raise ValueError("must not end with a hyphen and six characters (AWS adds that suffix to the ARN)")
        return v

    @field_validator("template")
    @classmethod
    def _template(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        if v is None:
            return v
        if not v:
            raise ValueError("must hold at least one field")
        if _check_template(v, "") == 0:
            raise ValueError("needs at least one generated field ({generate: {...}}); a secret with no "
                             "generated part would be written in the playbook")
        return v

    @model_validator(mode="after")
    def _value_source(self) -> Secret:
        if self.generate is not None and self.template is not None:
            raise ValueError("generate: give either generate or template, not both")
        if self.state == "present" and self.generate is None and self.template is None:
            raise ValueError("generate: a present secret needs 'generate' or 'template' (its value is generated)")
        # checked here, not in a field validator: the loader drops a location part that equals a
        # kind name, and this field is named like the kms_key kind
        if self.kms_key is not None:
            if is_arn(self.kms_key) and not KMS_ARN_RE.fullmatch(self.kms_key):
                raise ValueError(f"kms_key: {self.kms_key!r} is not a KMS key or alias ARN")
            if not is_arn(self.kms_key) and not is_name(self.kms_key, KMS_ALIAS_NAME, 250):
                raise ValueError(f"kms_key: {self.kms_key!r} is neither a kms_key of the playbook nor a KMS ARN")
        if self.force_delete and self.state != "absent":
            raise ValueError("force_delete: only meaningful with state: absent")
        return self
