"""``expect:``: what a principal must, and must not, be able to do, proven before every apply.

A role (and later a user or group) may declare its intent as requests the offline evaluator
(:mod:`iamflow.policy.evaluate`) answers against the declared state in every plan, and against the
live account in every sweep::

    expect:
      allowed:
        - {action: dynamodb:GetItem, resource: "arn:${partition}:dynamodb:${region}:${account_id}:table/Users"}
      denied:
        - {action: iam:CreateUser, resource: "*"}
        - {action: ec2:TerminateInstances, resource: "*", context: {aws:MultiFactorAuthPresent: "false"}}
        - {principal: "arn:aws:iam::111122223333:root"}   # may that principal assume this role?

An entry asks whether the resource's principal may run ``action`` on ``resource`` with the request
context ``context`` (a key maps to a value, or a list of values for a multi-valued key). An entry
that names a ``principal`` (an ARN) asks instead whether that principal may assume this role: the
action defaults to ``sts:AssumeRole`` and the resource to the role itself, and the role's trust
policy decides, with AWS's cross-account rule (a principal of another account also needs its own
account's permission, which iamflow cannot see and takes as given).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ASSUME_ROLE = "sts:AssumeRole"


class Expectation(BaseModel):
    """One request and the answer the playbook expects for it."""

    model_config = ConfigDict(extra="forbid")

    action: str | None = None
    resource: str | None = None
    principal: str | None = None
    context: dict[str, str | list[str]] = Field(default_factory=dict)

    @field_validator("action")
    @classmethod
    def _action(cls, v: str | None) -> str | None:
        if v is not None and (v.count(":") != 1 or not all(v.split(":")) or "*" in v or "?" in v):
            raise ValueError(f"{v!r} is not one action: write service:Action, without wildcards")
        return v

    @field_validator("principal")
    @classmethod
    def _principal(cls, v: str | None) -> str | None:
        if v is not None and not (v.startswith("arn:") or v.endswith(".amazonaws.com")):
            raise ValueError(f"{v!r} is not a principal: give its ARN (or a service principal)")
        return v

    @field_validator("context")
    @classmethod
    def _context(cls, v: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
        for key, value in v.items():
            if ":" not in key:
                raise ValueError(f"context key {key!r} is not a condition key (service:Key, e.g. aws:SourceIp)")
            if isinstance(value, list) and not value:
                raise ValueError(f"context key {key!r} has an empty list of values")
        return v

    @model_validator(mode="after")
    def _complete(self) -> Expectation:
        if self.principal is None and (self.action is None or self.resource is None):
            raise ValueError("an expectation needs an action and a resource (or a principal that would assume "
                             "this role)")
        return self

    @property
    def asks_assume(self) -> bool:
        """True when the entry asks whether another principal may assume this role."""
        return self.principal is not None

    def context_values(self) -> dict[str, tuple[str, ...]]:
        """The context as the evaluator takes it: every key to a tuple of strings."""
        return {k: tuple(str(x) for x in v) if isinstance(v, list) else (str(v),) for k, v in self.context.items()}

    def describe(self, role_arn: str | None = None) -> str:
        """The request in words: ``dynamodb:GetItem on arn:...:table/Users`` (with its context)."""
        if self.asks_assume:
            text = f"{self.principal} {self.action or ASSUME_ROLE} {self.resource or role_arn or 'this role'}"
        else:
            text = f"{self.action} on {self.resource}"
        if self.context:
            text += " with " + ", ".join(f"{k}={v}" for k, v in self.context.items())
        return text


class Expectations(BaseModel):
    """The requests that must be allowed and those that must be denied."""

    model_config = ConfigDict(extra="forbid")

    allowed: list[Expectation] = Field(default_factory=list)
    denied: list[Expectation] = Field(default_factory=list)

    def entries(self) -> list[tuple[str, int, Expectation]]:
        """``("allowed" | "denied", index, entry)`` for every entry, in order."""
        return [*(("allowed", i, e) for i, e in enumerate(self.allowed)),
                *(("denied", i, e) for i, e in enumerate(self.denied))]
