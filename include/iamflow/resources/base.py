"""What every resource kind provides: read current state, plan (pure), apply.

A plan is an ordered list of API calls (``Change``). Apply executes them in order, so check mode
is "plan, then stop", and a failure half-way leaves a state that the next read → plan converges.
``before`` and ``after`` are views of the resource in one shape, for the diff.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from iamflow.context import RunContext

if TYPE_CHECKING:
    from iamflow.aws.clients import AwsClients
    from iamflow.spec.models import Playbook, ResourceBase

@dataclass
class PlanEnv:
    """What a pure plan may consult besides desired and current state."""

    ctx: RunContext
    playbook: Playbook

    def ref_arn(self, value: str, kinds: tuple[str, ...]) -> str:
        """ARN of a reference: an ARN as given (placeholders filled), or the ARN of a playbook resource."""
        if value.startswith("arn:"):
            return self.ctx.substitute(value)
        target = self.playbook.find(value, kinds)
        if target is None:  # the loader rejects dangling references; this is a programming error
            raise KeyError(f"no {'/'.join(kinds)} named {value!r} in playbook {self.playbook.name}")
        return target.arn(self.ctx)

    def ref_name(self, value: str, kinds: tuple[str, ...]) -> str:
        """Bare name of a reference (the last path segment of an ARN)."""
        if value.startswith("arn:"):
            return self.ctx.substitute(value).rsplit("/", 1)[-1]
        return value

    def tags_for(self, resource: ResourceBase) -> dict[str, str] | None:
        """The resource's desired tags: the playbook's default tags merged under its own, or None."""
        own = getattr(resource, "tags", None)
        if own is None and not self.playbook.tags:
            return None
        return {**self.playbook.tags, **(own or {})}


@dataclass
class Change:
    """One API call of a plan: ``clients.client(service).<operation>(**params)``."""

    service: str
    operation: str
    params: dict[str, Any]
    summary: str
    # params keys whose values must never be shown (a generated secret, a password)
    sensitive: tuple[str, ...] = ()

    def public_params(self) -> dict[str, Any]:
        return {k: ("<redacted>" if k in self.sensitive else v) for k, v in self.params.items()}


@dataclass
class Plan:
    """The ordered changes that take a resource from its current state to the desired one."""

    resource: str  # kind.name
    changes: list[Change] = field(default_factory=list)
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)  # waivers, warnings, "replacement required"
    blocked: str | None = None  # a reason the plan must not be applied (e.g. replacement required)

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    def diff(self) -> str:
        from iamflow.policy.diff import state_diff

        return state_diff(self.before, self.after, self.resource)

    def summary(self) -> dict[str, Any]:
        """A small JSON-able view for XCom and logs: never a secret."""
        return {
            "resource": self.resource,
            "changes": [c.summary for c in self.changes],
            "notes": list(self.notes),
            "blocked": self.blocked,
        }


def dumps(doc: Any) -> str:
    """Serialise a document for an API call (compact, stable)."""
    return json.dumps(doc, separators=(",", ":"), sort_keys=False)


class ResourceHandler(ABC):
    """One resource kind: read → plan (pure) → apply."""

    kind: ClassVar[str]
    # IAM actions the handler needs, for iamflow's own least-privilege policy
    read_actions: ClassVar[tuple[str, ...]] = ()
    write_actions: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def read(self, clients: AwsClients, resource: ResourceBase, env: PlanEnv) -> dict[str, Any] | None:
        """Return the current state (None when the resource does not exist), with read calls only."""

    @abstractmethod
    def plan(self, resource: ResourceBase, current: dict[str, Any] | None, env: PlanEnv) -> Plan:
        """Compute the changes from ``current`` to what ``resource`` declares. Pure: no I/O."""

    def apply(self, clients: AwsClients, plan: Plan) -> None:
        """Execute the plan's changes in order."""
        from iamflow.resources.execute import execute_changes

        execute_changes(clients, plan)
