"""Playbook schema of ``organizations_policy``: a service or resource control policy and where it is attached.

AWS facts the schema follows (AWS Organizations ``CreatePolicy``, ``AttachPolicy``):

* ``type`` is ``SERVICE_CONTROL_POLICY`` (an SCP: the ceiling of what the principals of the
  accounts below may do; it never applies to the management account) or
  ``RESOURCE_CONTROL_POLICY`` (an RCP: the ceiling of what anyone may do to the resources of the
  accounts below). Documents are validated as that type (``scp`` / ``rcp`` in
  :mod:`iamflow.policy.doctypes`, the rules in :mod:`iamflow.policy.orgs`): at most 5 120
  characters, no ``Principal`` in an SCP, deny-only with ``Principal: "*"`` in an RCP.
* A name is 1-128 characters; a description at most 512. Policy names are unique per type in an
  organization.
* ``targets`` is where the policy is attached: ``root``, an OU id (``ou-xxxx-xxxxxxxx``), an
  account id (12 digits), or an OU's name (resolved at plan time; a name that matches no OU or
  more than one is an error). The list is converged exactly: the policy is detached from targets
  it does not name. Left out, attachments are unmanaged.
* ``expect:`` entries are answered by the offline evaluator in every plan (against the declared
  document) and every sweep (against the live one): the caller is ``principal`` (default: a role of
  a member account), granted everything by its own policies, under this policy and the AWS-managed
  one of its type at the same level, so an entry proves what this policy takes away.
* The AWS-managed ``FullAWSAccess`` (SCP) and ``RCPFullAWSAccess`` (RCP) are never touched
  unless a playbook declares them by name, without a document (AWS manages their content);
  ``RCPFullAWSAccess`` cannot be detached at all, so a declaration may only add targets.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from iamflow.spec.expect import Expectations
from iamflow.spec.models import Document, ResourceBase, _check_tags, register_model

SCP = "SERVICE_CONTROL_POLICY"
RCP = "RESOURCE_CONTROL_POLICY"
DOC_TYPES = {SCP: "scp", RCP: "rcp"}
AWS_MANAGED = {SCP: "FullAWSAccess", RCP: "RCPFullAWSAccess"}
ROOT = "root"
OU_ID_RE = re.compile(r"ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}")
ACCOUNT_RE = re.compile(r"\d{12}")
ROOT_ID_RE = re.compile(r"r-[0-9a-z]{4,32}")


def target_kind(target: str) -> str:
    """``root``, ``ou`` (an id), ``account`` or ``ou-name``."""
    if target == ROOT or ROOT_ID_RE.fullmatch(target):
        return "root"
    if OU_ID_RE.fullmatch(target):
        return "ou"
    if ACCOUNT_RE.fullmatch(target):
        return "account"
    return "ou-name"


@register_model
class OrganizationsPolicy(ResourceBase):
    """An SCP or RCP of the organization, with its document, description, tags and attachments."""

    kind: Literal["organizations_policy"]
    type: Literal["SERVICE_CONTROL_POLICY", "RESOURCE_CONTROL_POLICY"] = "SERVICE_CONTROL_POLICY"
    description: str | None = Field(default=None, max_length=512)
    document: Document | None = None
    targets: list[str] | None = None
    tags: dict[str, str] | None = None
    purge_tags: bool = True
    # requests a principal of a member account (``principal``: the caller, by default a role there,
    # granted everything by its own policies) must or must not be able to make under this policy
    expect: Expectations | None = None

    _tags = field_validator("tags")(lambda cls, v: _check_tags(v))

    @property
    def aws_managed(self) -> bool:
        """Whether this declares the AWS-managed policy of its type (attachments only)."""
        return self.name == AWS_MANAGED[self.type]

    document_fields: ClassVar[dict[str, str]] = {"document": "scp"}

    @classmethod
    def document_type_of(cls, field: str, item: dict[str, Any]) -> str:
        return DOC_TYPES.get(str(item.get("type", SCP)), "scp")

    def documents(self) -> list[tuple[str, dict[str, Any], str]]:
        # the document's type depends on the policy's type, not on the field
        return [("document", self.document, DOC_TYPES[self.type])] if isinstance(self.document, dict) else []

    def identities(self, playbook: str) -> list[tuple[str, ...]]:
        return [(self.kind, self.type, self.name)]

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if len(v) > 128:
            raise ValueError(f"a policy name is at most 128 characters, got {len(v)}")
        if any(ord(ch) < 0x20 for ch in v):
            raise ValueError("a policy name holds no control characters")
        return v

    @field_validator("targets")
    @classmethod
    def _targets(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        if len(set(v)) != len(v):
            raise ValueError("lists the same target twice")
        for target in v:
            if not target or len(target) > 128 or any(ord(ch) < 0x20 for ch in target):
                raise ValueError(f"{target!r} is neither root, an OU id, an account id nor an OU name")
        return v

    @model_validator(mode="after")
    def _document(self) -> OrganizationsPolicy:
        if self.aws_managed:
            if self.document is not None or self.is_managed("description") or self.tags is not None:
                raise ValueError(f"document: {self.name} is AWS-managed; declare only its targets")
            if self.state == "absent":
                raise ValueError(f"state: {self.name} is AWS-managed and cannot be deleted")
        elif self.state == "present" and self.document is None:
            raise ValueError("document: required when state is present")
        for bucket, index, entry in (self.expect.entries() if self.expect else []):
            if entry.action is None or entry.resource is None:
                raise ValueError(f"expect: {bucket}[{index}] needs an action and a resource (a principal, when "
                                 "given, is the caller in a member account)")
        return self
