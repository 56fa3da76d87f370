"""Playbook schema of IAM identities: users, groups and the account password policy.

* ``iam_account_password_policy`` is one object per account. Its ``name`` is only a label for the
  playbook (the task id, the recap line): every declaration of it, whatever its name, is the same
  object, so two playbooks that both declare it for one account conflict (one owner), and one
  playbook may declare it once. A field left out keeps its current value; AWS's
  ``UpdateAccountPasswordPolicy`` resets every parameter it is not sent to AWS's default, so the
  handler always sends the whole policy. ``absent`` deletes the policy (AWS then applies its
  defaults); nothing else ever deletes it.
* ``iam_group``: path, managed and inline policies, and ``members``: the group's exact membership
  when given (users not listed are removed; ``members: []`` empties the group).
* ``iam_user``: path, ``groups`` (the user's exact memberships when given), permissions boundary,
  tags, managed and inline policies, ``expect:``, a console login profile only when declared
  (``console_access: true``: its first password is generated, stored in Secrets Manager and must
  be changed at first sign-in; ``false`` removes the profile), and ``rotation:`` of a service
  user's access key. Access keys themselves are never declared in a playbook: a playbook would
  hold the secret, or iamflow would have to print one.

One membership has one owner: a user listed in a group's ``members`` may not also list that
group in its ``groups`` (nor may the two sides contradict each other), in one playbook or in two.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from iamflow.spec.expect import Expectations
from iamflow.spec.models import (
    Document,
    ResourceBase,
    _check_name,
    _check_path,
    _check_ref,
    _check_tags,
    is_arn,
    register_model,
)
from iamflow.spec.names import SECRET_NAME, check_name

# Fields through which someone could try to declare an access key; each is refused with one message.
ACCESS_KEY_FIELDS = ("access_key", "access_keys", "access_key_id", "secret_access_key", "keys", "aws_access_key_id",
                     "aws_secret_access_key")
ACCESS_KEYS_REFUSED = ("access keys are never declared in a playbook (the playbook would hold a secret, or iamflow "
                       "would have to show one); give a service user `rotation: {into_secret: NAME, every_days: 90}` "
                       "and iamflow creates, stores and rotates its key in Secrets Manager")

_GROUP_KINDS = ("iam_group",)
_USER_KINDS = ("iam_user",)
_POLICY_KINDS = ("iam_managed_policy",)


class IamAccountPasswordPolicy(ResourceBase):
    """The account's IAM password policy (one per account; ``name`` is a label)."""

    kind: Literal["iam_account_password_policy"]
    minimum_length: int | None = Field(default=None, ge=6, le=128)
    require_symbols: bool | None = None
    require_numbers: bool | None = None
    require_uppercase: bool | None = None
    require_lowercase: bool | None = None
    allow_users_to_change: bool | None = None
    # null: passwords never expire (AWS's MaxPasswordAge 0)
    max_age_days: int | None = Field(default=None, ge=1, le=1095)
    # null: no reuse prevention (AWS's PasswordReusePrevention 0)
    reuse_prevention: int | None = Field(default=None, ge=1, le=24)
    hard_expiry: bool | None = None

    _name = field_validator("name")(lambda cls, v: _check_name(v, 128, "a label"))

    def identities(self, playbook: str) -> list[tuple[str, ...]]:
        # one per account: the name does not make two of them
        return [(self.kind,)]

    def playbook_errors(self, playbook: Any) -> list[tuple[str, str]]:
        others = [r.name for r in playbook.resources if r.kind == self.kind and r is not self]
        if others:
            return [("name", f"an account has one password policy; this playbook declares it again as "
                             f"{', '.join(repr(o) for o in others)}")]
        return []

    def lint_warnings(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if self.state == "present" and self.minimum_length is not None and self.minimum_length < 14:
            out.append(("minimum_length", f"{self.minimum_length} is below the 14 characters CIS 1.8 asks for"))
        if self.state == "present" and self.reuse_prevention is not None and self.reuse_prevention < 24:
            out.append(("reuse_prevention", f"{self.reuse_prevention} is below the 24 passwords CIS 1.9 asks for"))
        return out


def _check_refs(v: list[str] | None, resource_type: str, what: str) -> list[str] | None:
    if v is None:
        return v
    if len({x.lower() for x in v}) != len(v):
        raise ValueError(f"lists the same {what} twice")
    for item in v:
        _check_ref(item, resource_type)
    return v


def _check_inline(v: dict[str, Document] | None) -> dict[str, Document] | None:
    for key in v or {}:
        _check_name(key, 128, "an inline policy name")
    return v


def _bare(ref: str) -> str:
    """The IAM name of a reference (a bare name, or the last segment of an ARN), lower-cased."""
    return (ref.rsplit("/", 1)[-1] if is_arn(ref) else ref).lower()


class IamGroup(ResourceBase):
    """An IAM group: path, attached and inline policies, and (when given) its exact membership."""

    reference_fields: ClassVar[dict[str, tuple[str, ...]]] = {
        "managed_policies": _POLICY_KINDS,
        "members": _USER_KINDS,
    }
    document_fields: ClassVar[dict[str, str]] = {"inline_policies": "inline-group"}

    kind: Literal["iam_group"]
    path: str = "/"
    managed_policies: list[str] | None = None
    purge_policies: bool = True
    inline_policies: dict[str, Document] | None = None
    members: list[str] | None = None
    # what a member may do through the group's policies, proven in every plan and sweep
    expect: Expectations | None = None

    def arn(self, ctx: Any) -> str:
        return str(ctx.iam_arn("group", self.name, self.path))

    def identities(self, playbook: str) -> list[tuple[str, ...]]:
        own = [(self.kind, self.name.lower())]
        return own + [("iam_group_membership", self.name.lower(), _bare(u)) for u in self.members or []]

    _name = field_validator("name")(lambda cls, v: _check_name(v, 128, "a group name"))
    _path = field_validator("path")(lambda cls, v: _check_path(v))
    _policies = field_validator("managed_policies")(lambda cls, v: _check_refs(v, "policy", "policy"))
    _members = field_validator("members")(lambda cls, v: _check_refs(v, "user", "user"))
    _inline = field_validator("inline_policies")(lambda cls, v: _check_inline(v))

    @model_validator(mode="after")
    def _expect_has_no_principal(self) -> IamGroup:
        for bucket, index, entry in (self.expect.entries() if self.expect else []):
            if entry.asks_assume:
                raise ValueError(f"expect: {bucket}[{index}] names a principal, but a group cannot be assumed")
        return self

    def playbook_errors(self, playbook: Any) -> list[tuple[str, str]]:
        return membership_errors(playbook, group=self)


class KeyRotation(BaseModel):
    """Two-phase rotation of a service user's access key into a Secrets Manager secret."""

    model_config = ConfigDict(extra="forbid")

    into_secret: str
    every_days: int = Field(default=90, ge=1, le=365)
    # how long the old key must go unused after the new one is promoted before it is deactivated
    grace_days: int = Field(default=7, ge=0, le=90)

    _secret = field_validator("into_secret")(lambda cls, v: check_name(v, SECRET_NAME, "a secret name", 512))


class IamUser(ResourceBase):
    """An IAM user: path, groups, boundary, tags, policies, console access and key rotation."""

    reference_fields: ClassVar[dict[str, tuple[str, ...]]] = {
        "managed_policies": _POLICY_KINDS,
        "boundary": _POLICY_KINDS,
        "groups": _GROUP_KINDS,
    }
    document_fields: ClassVar[dict[str, str]] = {"inline_policies": "inline-user"}

    kind: Literal["iam_user"]
    path: str = "/"
    groups: list[str] | None = None
    boundary: str | None = None
    managed_policies: list[str] | None = None
    purge_policies: bool = True
    inline_policies: dict[str, Document] | None = None
    tags: dict[str, str] | None = None
    purge_tags: bool = True
    # true: a console login profile (generated first password, in Secrets Manager); false: none
    console_access: bool | None = None
    rotation: KeyRotation | None = None
    expect: Expectations | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_access_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in ACCESS_KEY_FIELDS:
                if key in data:
                    raise ValueError(f"{key}: {ACCESS_KEYS_REFUSED}")
        return data

    def arn(self, ctx: Any) -> str:
        return str(ctx.iam_arn("user", self.name, self.path))

    def identities(self, playbook: str) -> list[tuple[str, ...]]:
        own: list[tuple[str, ...]] = [(self.kind, self.name.lower())]
        own += [("iam_group_membership", _bare(g), self.name.lower()) for g in self.groups or []]
        if self.rotation is not None:
            own.append(("secret", self.rotation.into_secret))
        return own

    _name = field_validator("name")(lambda cls, v: _check_name(v, 64, "a user name"))
    _path = field_validator("path")(lambda cls, v: _check_path(v))
    _tags = field_validator("tags")(lambda cls, v: _check_tags(v))
    _policies = field_validator("managed_policies")(lambda cls, v: _check_refs(v, "policy", "policy"))
    _groups = field_validator("groups")(lambda cls, v: _check_refs(v, "group", "group"))
    _inline = field_validator("inline_policies")(lambda cls, v: _check_inline(v))

    @field_validator("boundary")
    @classmethod
    def _boundary(cls, v: str | None) -> str | None:
        return _check_ref(v, "policy") if v else v

    @model_validator(mode="after")
    def _expect_has_no_principal(self) -> IamUser:
        for bucket, index, entry in (self.expect.entries() if self.expect else []):
            if entry.asks_assume:
                raise ValueError(f"expect: {bucket}[{index}] names a principal, but a user cannot be assumed")
        return self

    def playbook_errors(self, playbook: Any) -> list[tuple[str, str]]:
        return membership_errors(playbook, user=self)


def membership_errors(playbook: Any, *, group: IamGroup | None = None,
                      user: IamUser | None = None) -> list[tuple[str, str]]:
    """A membership declared from both sides, or contradicted by the other side, in one playbook.

    Reported once, on the user's ``groups`` (called for each group and each user; a group only
    reports users the playbook does not declare as ``iam_user``, which cannot conflict).
    """
    if user is None or user.groups is None or user.state == "absent":
        return []
    mine = {_bare(g) for g in user.groups}
    out: list[tuple[str, str]] = []
    for other in playbook.resources:
        if other.kind != "iam_group" or other.members is None or other.state == "absent":
            continue
        listed = user.name.lower() in {_bare(m) for m in other.members}
        wanted = other.name.lower() in mine
        if listed and wanted:
            out.append(("groups", f"membership in group {other.name!r} is declared from both sides (also in the "
                                  f"group's members); declare it in one place only"))
        elif listed != wanted:
            says = "lists" if listed else "does not list"
            out.append(("groups", f"group {other.name!r} declares its exact members and {says} user {user.name!r}, "
                                  "which contradicts this list; declare the membership in one place only"))
    return out


for _model in (IamAccountPasswordPolicy, IamGroup, IamUser):
    register_model(_model)
