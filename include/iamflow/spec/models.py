"""The playbook schema (pydantic v2).

A playbook is a named list of resources. Each resource has a ``kind`` (the discriminator), a
``name`` unique within its kind, and ``state: present | absent``. A key left out is unmanaged;
an explicit empty list or map means "make it empty" (``model_fields_set`` tells the two apart).

Documents (trust policies, managed policy documents, inline policies) are given inline as a map or
as the name of a JSON/YAML file under ``include/policies/`` (or next to the playbook; a name that
resolves anywhere else is refused). The loader replaces file names by the loaded document, so
after loading every document field is a dict.
``${var}`` placeholders are replaced by the playbook's ``vars`` at load time; the run-time ones
(``${account_id}``, ``${partition}``, ``${region}``) are replaced when a resource is planned.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from iamflow.spec.expect import Expectations
from iamflow.spec.names import IAM_NAME, check_iam_path, check_name, check_tag, is_name

# An ARN, allowing run-time placeholders such as ${account_id} in any segment (matched in full).
ARN_RE = re.compile(r"arn:(\$\{[a-z_]+\}|aws|aws-cn|aws-us-gov):[a-z0-9-]+:[a-z0-9-]*:(\$\{[a-z_]+\}|\d{12}|aws)?:[^\s]+")

Document = dict[str, Any] | str


def is_arn(value: str) -> bool:
    return value.startswith("arn:")


class Waiver(BaseModel):
    """Accept a document that a lint rule flags, knowingly; shown in every plan."""

    model_config = ConfigDict(extra="forbid")
    rule: str
    reason: str = Field(min_length=3)


class ResourceBase(BaseModel):
    """Fields every resource kind has."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    # field name -> kind(s) that a bare name in that field refers to; ARNs are external references
    reference_fields: ClassVar[dict[str, tuple[str, ...]]] = {}
    # fields that hold policy documents, and the document type of each (iamflow.policy.doctypes)
    document_fields: ClassVar[dict[str, str]] = {}

    kind: str
    name: str = Field(min_length=1)
    state: Literal["present", "absent"] = "present"
    waive: list[Waiver] = Field(default_factory=list)

    @property
    def key(self) -> str:
        """Unique address of the resource in a playbook, ``kind.name`` (also its Airflow task id)."""
        return f"{self.kind}.{self.name}"

    def arn(self, ctx: Any) -> str:
        """The ARN other resources use to refer to this one (``ctx`` is a RunContext)."""
        raise NotImplementedError(f"{self.kind} cannot be referred to by ARN")

    def identities(self, playbook: str) -> list[tuple[str, ...]]:
        """What makes this object one object in an account: two declarations of one identity conflict.

        :param playbook: the name of the playbook declaring it (some kinds are scoped by it).
        """
        return [(self.kind, self.name)]

    @classmethod
    def document_type_of(cls, field: str, item: dict[str, Any]) -> str:
        """The document type of ``field`` for the raw resource ``item`` (a kind whose type varies overrides it)."""
        return cls.document_fields[field]

    def lint_warnings(self) -> list[tuple[str, str]]:
        """(field, message) for settings that are allowed but weaker than they should be."""
        return []

    def playbook_errors(self, playbook: Any) -> list[tuple[str, str]]:
        """(field, message) for rules that involve other resources of the playbook."""
        return []

    def is_managed(self, field: str) -> bool:
        """True when the playbook says something about ``field`` (even an explicit null or empty)."""
        return field in self.model_fields_set

    def references(self) -> list[tuple[str, str, tuple[str, ...]]]:
        """(field, name, kinds) for every bare-name reference to another resource of the playbook."""
        out: list[tuple[str, str, tuple[str, ...]]] = []
        for field, kinds in self.reference_fields.items():
            value = getattr(self, field, None)
            values = value if isinstance(value, list) else [value]
            for v in values:
                if isinstance(v, str) and v and not is_arn(v):
                    out.append((field, v, kinds))
        return out

    def documents(self) -> list[tuple[str, dict[str, Any], str]]:
        """(field path, document, document type) for every policy document the resource carries."""
        out: list[tuple[str, dict[str, Any], str]] = []
        for field, profile in self.document_fields.items():
            value = getattr(self, field, None)
            if isinstance(value, dict) and field.endswith("policies") and all(
                isinstance(v, dict) for v in value.values()
            ) and "Statement" not in value:
                for sub, doc in value.items():
                    out.append((f"{field}.{sub}", doc, profile))
            elif isinstance(value, dict):
                out.append((field, value, profile))
        return out


def is_iam_name(value: str, limit: int = 128) -> bool:
    """True when ``value`` is an IAM name of at most ``limit`` characters."""
    return is_name(value, IAM_NAME, limit)


def _check_name(value: str, limit: int, what: str = "an IAM name") -> str:
    return check_name(value, IAM_NAME, what, limit)


def _check_path(value: str) -> str:
    return check_iam_path(value)


def _check_tags(value: dict[str, str] | None) -> dict[str, str] | None:
    if value is None:
        return value
    if len(value) > 50:
        raise ValueError(f"at most 50 tags, got {len(value)}")
    for k, v in value.items():
        check_tag(k, str(v))
    return value


class IamManagedPolicy(ResourceBase):
    """A customer-managed IAM policy."""

    document_fields: ClassVar[dict[str, str]] = {"document": "managed"}

    kind: Literal["iam_managed_policy"]
    path: str = "/"
    description: str | None = Field(default=None, max_length=1000)
    document: Document | None = None
    tags: dict[str, str] | None = None
    purge_tags: bool = True
    # what a principal holding this policy (beside a grant of everything else) may and may not do;
    # for a policy the playbook's roles use as their boundary, what the boundary still lets through
    expect: Expectations | None = None

    def arn(self, ctx: Any) -> str:
        return str(ctx.iam_arn("policy", self.name, self.path))

    def identities(self, playbook: str) -> list[tuple[str, ...]]:
        # IAM names are unique in an account whatever their path, and not distinguished by case
        return [(self.kind, self.name.lower())]

    _name = field_validator("name")(lambda cls, v: _check_name(v, 128, "a managed policy name"))
    _path = field_validator("path")(lambda cls, v: check_iam_path(v, policy=True))
    _tags = field_validator("tags")(lambda cls, v: _check_tags(v))

    @model_validator(mode="after")
    def _document_required(self) -> IamManagedPolicy:
        if self.state == "present" and self.document is None:
            raise ValueError("document: required when state is present")
        return self

    @model_validator(mode="after")
    def _expect_has_no_principal(self) -> IamManagedPolicy:
        for bucket, index, entry in (self.expect.entries() if self.expect else []):
            if entry.asks_assume:
                raise ValueError(f"expect: {bucket}[{index}] names a principal, but a managed policy has no "
                                 "trust policy to assume it by; ask that on the role")
        return self


class IamRole(ResourceBase):
    """An IAM role: trust policy, attached and inline policies, boundary, tags, max session."""

    reference_fields: ClassVar[dict[str, tuple[str, ...]]] = {
        "managed_policies": ("iam_managed_policy",),
        "boundary": ("iam_managed_policy",),
    }
    document_fields: ClassVar[dict[str, str]] = {"trust_policy": "trust", "inline_policies": "inline-role"}

    kind: Literal["iam_role"]
    path: str = "/"
    description: str | None = Field(default=None, max_length=1000)
    # who may assume the role; required when state is present
    trust_policy: Document | None = None
    managed_policies: list[str] | None = None
    purge_policies: bool = True
    inline_policies: dict[str, Document] | None = None
    # the attached and inline policies are exactly the declared ones: left out means none
    exclusive: bool = False
    boundary: str | None = None
    max_session_duration: int | None = Field(default=None, ge=3600, le=43200)
    tags: dict[str, str] | None = None
    purge_tags: bool = True
    # what the role must and must not be able to do, proven in every plan and sweep
    expect: Expectations | None = None

    def arn(self, ctx: Any) -> str:
        return str(ctx.iam_arn("role", self.name, self.path))

    def is_managed(self, field: str) -> bool:
        """An exclusive role manages its attached and inline policies even when it leaves them out (none)."""
        if self.exclusive and field in ("managed_policies", "inline_policies"):
            return True
        return super().is_managed(field)

    def identities(self, playbook: str) -> list[tuple[str, ...]]:
        # IAM names are unique in an account whatever their path, and not distinguished by case
        return [(self.kind, self.name.lower())]

    _name = field_validator("name")(lambda cls, v: _check_name(v, 64, "a role name"))
    _path = field_validator("path")(lambda cls, v: _check_path(v))
    _tags = field_validator("tags")(lambda cls, v: _check_tags(v))

    @field_validator("managed_policies")
    @classmethod
    def _policies(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        if len(set(v)) != len(v):
            raise ValueError("lists the same policy twice")
        for item in v:
            _check_ref(item, "policy")
        return v

    @field_validator("boundary")
    @classmethod
    def _boundary(cls, v: str | None) -> str | None:
        return _check_ref(v, "policy") if v else v

    @field_validator("inline_policies")
    @classmethod
    def _inline_names(cls, v: dict[str, Document] | None) -> dict[str, Document] | None:
        for key in v or {}:
            _check_name(key, 128, "an inline policy name")
        return v

    @model_validator(mode="after")
    def _trust_required(self) -> IamRole:
        if self.state == "present" and self.trust_policy is None:
            raise ValueError("trust_policy: required when state is present")
        return self

    @model_validator(mode="after")
    def _exclusive_purges(self) -> IamRole:
        if self.exclusive and not self.purge_policies:
            raise ValueError("purge_policies: cannot be false on an exclusive role (exclusive: true means the "
                             "attached and inline policies are exactly the declared ones, so others are removed)")
        return self


class IamInstanceProfile(ResourceBase):
    """An EC2 instance profile holding (at most) one role."""

    reference_fields: ClassVar[dict[str, tuple[str, ...]]] = {"role": ("iam_role",)}

    kind: Literal["iam_instance_profile"]
    path: str = "/"
    role: str | None = None
    tags: dict[str, str] | None = None
    purge_tags: bool = True

    def arn(self, ctx: Any) -> str:
        return str(ctx.iam_arn("instance-profile", self.name, self.path))

    def identities(self, playbook: str) -> list[tuple[str, ...]]:
        # IAM names are unique in an account whatever their path, and not distinguished by case
        return [(self.kind, self.name.lower())]

    _name = field_validator("name")(lambda cls, v: _check_name(v, 128, "an instance profile name"))
    _path = field_validator("path")(lambda cls, v: _check_path(v))
    _tags = field_validator("tags")(lambda cls, v: _check_tags(v))

    @field_validator("role")
    @classmethod
    def _role(cls, v: str | None) -> str | None:
        return _check_ref(v, "role") if v else v


def _check_ref(value: str, resource_type: str) -> str:
    """A reference is either a bare name (of a resource in the playbook) or a well-formed ARN."""
    if is_arn(value):
        if not ARN_RE.fullmatch(value) or f":{resource_type}/" not in value:
            raise ValueError(f"{value!r} is not a valid IAM {resource_type} ARN")
        return value
    if not is_iam_name(value):
        raise ValueError(f"{value!r} is neither a resource name nor an ARN")
    return value


# Every resource kind, by its ``kind``; the loader validates each resource against its model.
# Other modules add their kinds with ``register_model`` (imported at the end of this module).
RESOURCE_MODELS: dict[str, type[ResourceBase]] = {}


def register_model(model: type[ResourceBase]) -> type[ResourceBase]:
    """Register a resource model under its ``kind`` literal (usable as a class decorator)."""
    annotation = model.model_fields["kind"].annotation
    kind = str(get_args(annotation)[0])  # Literal["x"] -> "x"
    RESOURCE_MODELS[kind] = model
    return model


for _model in (IamManagedPolicy, IamRole, IamInstanceProfile):
    register_model(_model)


class Playbook(BaseModel):
    """A playbook file: metadata plus resources, validated and with documents loaded."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=200)
    description: str = ""
    vars: dict[str, str | int | bool] = Field(default_factory=dict)
    # accounts this playbook targets (ids); empty means every target account (used by the drift check)
    accounts: list[Annotated[str, Field(pattern=r"^\d{12}$")]] = Field(default_factory=list)
    tags: dict[str, str] = Field(default_factory=dict)  # default tags merged into every resource's tags
    schedule: str | None = None

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: dict[str, str]) -> dict[str, str]:
        _check_tags(v)
        return v
    resources: list[Any] = Field(default_factory=list)  # validated one by one by the loader
    # How the playbook's DAG maps resources to Airflow tasks (docs/scaling.md): ``per_resource`` (one
    # task each), ``batched`` (per dependency level, at most ``batch_size`` resources per task), or
    # ``auto``: per resource up to ``batch_threshold`` resources, batched past it.
    task_grouping: Literal["auto", "per_resource", "batched"] = "auto"
    batch_threshold: int = Field(40, ge=1, le=10000)  # auto only: the largest playbook kept per resource
    batch_size: int = Field(100, ge=1, le=1000)  # not with per_resource: the most resources in one batched task
    # How often Airflow retries a task of this playbook's DAG that failed on a transient AWS error
    # (throttling that outlasted the client's own retries, a 5xx); a retry converges only what did not succeed.
    retries: int = Field(2, ge=0, le=10)
    retry_delay_seconds: int = Field(20, ge=0, le=3600)  # the wait before each of those retries

    @field_validator("batch_threshold", "batch_size")
    @classmethod
    def _grouping(cls, v: int, info: ValidationInfo) -> int:
        # runs only for a value the file gives: it must be one the chosen grouping reads
        grouping = info.data.get("task_grouping", "auto")
        if info.field_name == "batch_threshold" and grouping != "auto":
            raise ValueError(f"batch_threshold only applies to task_grouping 'auto', not {grouping!r}")
        if info.field_name == "batch_size" and grouping == "per_resource":
            raise ValueError("batch_size does not apply to task_grouping 'per_resource'")
        return v

    # set by the loader
    source: str = ""
    # NAME -> value of every ${env:NAME} the playbook used: never shown (plans, diffs, DAG docs)
    _env_values: dict[str, str] = PrivateAttr(default_factory=dict)

    def set_env_values(self, values: dict[str, str]) -> None:
        self._env_values = dict(values)

    @property
    def env_values(self) -> dict[str, str]:
        """The values read from the environment (``${env:NAME}``), to be masked wherever the playbook is shown."""
        return dict(self._env_values)

    def hide_env_values(self, text: str) -> str:
        """``text`` with every value read from the environment replaced by ``${env:NAME}``."""
        for env_name, value in sorted(self._env_values.items(), key=lambda kv: len(kv[1]), reverse=True):
            text = text.replace(value, f"${{env:{env_name}}}")
        return text

    @property
    def dag_id(self) -> str:
        return f"playbook_{self.name}".replace("-", "_")

    def by_key(self) -> dict[str, ResourceBase]:
        return {r.key: r for r in self.resources}

    def find(self, name: str, kinds: tuple[str, ...]) -> ResourceBase | None:
        for r in self.resources:
            if isinstance(r, ResourceBase) and r.name == name and r.kind in kinds:
                return r
        return None


# kinds defined in their own modules register themselves on import
from iamflow.spec import (  # noqa: E402,F401
    kinds_cognito,
    kinds_cognito_identity,
    kinds_identities,
    kinds_kms,
    kinds_orgs,
    kinds_secrets,
    kinds_ssm,
)
