"""The contract every resource kind keeps: read, look up, plan (pure), apply through one mechanism.

A plan is an ordered list of API calls (:class:`Change`). Apply executes them in order
(:func:`iamflow.resources.execute.execute_plan`), so check mode is "plan, then stop", and a
failure half-way leaves a state that the next read → plan converges. ``before`` and ``after`` are
views of the resource in one shape, for the diff.

The handler contract (:class:`ResourceHandler`, generic over the resource's model ``M``, its read
state ``S`` and the facts ``F`` its plan needs about other things):

* the engine fills the run-time placeholders (``${account_id}``, ``${partition}``, ``${region}``)
  on the validated model before anything below runs; handlers never substitute;
* :meth:`~ResourceHandler.read` returns the current state, or ``None`` when the resource does not
  exist, with read calls only;
* :meth:`~ResourceHandler.lookup` reads what the plan needs to know about *other* objects (the
  user pool an app client lives in, whether a rotation Lambda exists); ``None`` when nothing;
* :meth:`~ResourceHandler.plan` is pure: desired vs current (and facts) → ordered changes;
* each handler declares its ARN, its read and write permissions and how they are scoped
  (:meth:`~ResourceHandler.grants`), and its drift view (:meth:`~ResourceHandler.exists`).

Values known only at apply time go through one mechanism: a change may *publish* parts of its
response as named outputs, later changes hold :class:`Output` placeholders for them, a
:class:`Generated` value is produced once, when the first change that needs it runs, and a change
may say what to do when its object already exists (``on_exists``). :class:`Check` steps run after
the changes and verify the result (a KMS key's envelope round trip).

Creates never duplicate. A create that is idempotent by itself (IAM's by name: a retry fails with
``EntityAlreadyExists``; ``CreateSecret``, whose ``ClientRequestToken`` botocore fills once per call,
so its retries carry the same token) keeps botocore's retries. One that is not (``CreateKey``,
``CreateUserPool``, ``CreateUserPoolClient``: each retry makes another object) says ``retry=False``
and is sent once. Either way a create may say how to find the object it makes (``adopt``): when
the call fails ambiguously (throttled, a 5xx, a dropped connection or a timeout: the object may
exist although no answer came back), or says its object already exists, the executor looks it up
(by its ``iamflow:id`` tag, or by name) and, when it is there, publishes what it found as if the
create had answered. Nothing found: the original error is raised, and a retry re-reads and re-plans.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from iamflow.context import RunContext
from iamflow.spec.models import Playbook, ResourceBase

if TYPE_CHECKING:
    from iamflow.aws.clients import AwsClients

M = TypeVar("M", bound=ResourceBase)
S = TypeVar("S")
F = TypeVar("F")

# The error codes with which services say "that object already exists".
EXISTS_CODES: frozenset[str] = frozenset(
    {"ResourceExistsException", "EntityAlreadyExists", "EntityAlreadyExistsException", "AlreadyExistsException",
     "AliasExistsException", "GroupExistsException", "UsernameExistsException"}
)


@dataclass
class PlanEnv:
    """What a pure plan may consult besides desired and current state.

    ``playbook`` is the playbook with its run-time placeholders already filled for ``ctx``.
    """

    ctx: RunContext
    playbook: Playbook

    def ref_arn(self, value: str, kinds: tuple[str, ...]) -> str:
        """ARN of a reference: an ARN as given, or the ARN of the playbook resource it names."""
        if value.startswith("arn:"):
            return value
        target = self.playbook.find(value, kinds)
        if target is None:  # the loader rejects dangling references; this is a programming error
            raise KeyError(f"no {'/'.join(kinds)} named {value!r} in playbook {self.playbook.name}")
        return target.arn(self.ctx)

    def ref_name(self, value: str, kinds: tuple[str, ...]) -> str:
        """Bare name of a reference (the last path segment of an ARN)."""
        if value.startswith("arn:"):
            return value.rsplit("/", 1)[-1]
        return value

    def tags_for(self, resource: ResourceBase) -> dict[str, str] | None:
        """The resource's desired tags: the playbook's default tags merged under its own, or None."""
        own: dict[str, str] | None = getattr(resource, "tags", None)
        if own is None and not self.playbook.tags:
            return None
        return {**self.playbook.tags, **(own or {})}


# --- values known only at apply time -------------------------------------------------------------


@dataclass(frozen=True)
class Output:
    """A param value that an earlier change of the same plan publishes (a new key's id).

    :param name: the output's name, as the publishing change's ``publish`` names it.
    :param description: what a plan shows instead of the value.
    :param missing: the error when no earlier change published it.
    """

    name: str
    description: str = ""
    missing: str = ""

    def __repr__(self) -> str:
        # shown in plans and diffs, where the value is still unknown
        return f"<{self.description or self.name}>"


@dataclass(frozen=True)
class Generated:
    """A secret value produced when the first change that uses it executes; never in a plan.

    Every change of the plan that holds a ``Generated`` of the same ``name`` gets the same value
    (a temporary password stored in Secrets Manager, then given to Cognito). Mark the param in
    :attr:`Change.sensitive` as well: error messages are redacted of the produced value.
    """

    name: str
    produce: Callable[[], str] = field(compare=False)
    description: str = "a value produced at apply time"

    def __repr__(self) -> str:
        return f"<{self.description}>"


Adopt = Callable[["AwsClients", dict[str, Any]], "dict[str, Any] | None"]
"""Find the object a create makes: ``(clients, the params as sent) -> a response-like dict | None``."""


@dataclass
class Change:
    """One API call of a plan: ``clients.client(service).<operation>(**params)``.

    :param sensitive: params keys whose values must never be shown (a generated secret, a password).
    :param publish: output name → path into the response, for later :class:`Output` params.
    :param secret_outputs: the published values are secrets: they are masked before use.
    :param on_exists: the change to make instead when this one fails because its object already
        exists (create a secret, or write a new value to the one a failed run left behind).
    :param retry: False for a create that is not idempotent: it is sent once, botocore's retries off.
    :param adopt: ``(clients, params) -> response | None``: find the object this create makes, with
        read calls only (``params`` as sent); its result is published as the create's response.
        Used when the call fails ambiguously or says the object already exists (and ``on_exists``
        does not apply).
    """

    service: str
    operation: str
    params: dict[str, Any]
    summary: str
    sensitive: tuple[str, ...] = ()
    publish: dict[str, tuple[str, ...]] = field(default_factory=dict)
    secret_outputs: bool = False
    on_exists: Change | None = None
    retry: bool = True
    adopt: Adopt | None = field(default=None, compare=False, repr=False)

    def public_params(self) -> dict[str, Any]:
        return {k: ("<redacted>" if k in self.sensitive else v) for k, v in self.params.items()}


Outputs = Mapping[str, Any]


@dataclass
class Check:
    """A verification made after a plan's changes; it returns a note, or raises ``IamflowError``."""

    summary: str
    run: Callable[[AwsClients, Outputs], str] = field(compare=False)


@dataclass
class Plan:
    """The ordered changes that take a resource from its current state to the desired one."""

    resource: str  # kind.name
    changes: list[Change] = field(default_factory=list)
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)  # waivers, warnings, "replacement required"
    blocked: str | None = None  # a reason the plan must not be applied (e.g. replacement required)
    checks: list[Check] = field(default_factory=list)  # run after the changes, when there are any
    # filled by apply: the summaries of the changes (and checks) that succeeded, and the step that
    # failed, so that a failure half-way reports what it did change (a partial result)
    applied: list[str] = field(default_factory=list)
    failed_step: str | None = None
    # model fields the playbook leaves out: not rendered in the diff (the engine fills it)
    unmanaged: frozenset[str] = frozenset()

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    @property
    def partial(self) -> bool:
        """True when apply failed after some of the changes were made."""
        return self.failed_step is not None and bool(self.applied)

    def diff(self, hidden: Mapping[str, str] | None = None) -> str:
        """The diff of the managed attributes: an unmanaged one is not rendered, unless the plan changes it.

        :param hidden: values never to show (``NAME -> value`` read from the environment): see
            :func:`hide_values`.

        A key of the views that names a model field the playbook left out is dropped from both
        sides, whatever its value (a create that attaches nothing shows no ``managed_policies``).
        One the plan does change anyway (the ``iamflow:id`` tag every created object carries) stays.
        """
        from iamflow.policy.diff import state_diff

        before, after = self.before, self.after
        if self.unmanaged:
            before, after = _managed_view(before, after, self.unmanaged)
        if hidden:
            before, after = hide_values(before, after, hidden)
        return state_diff(before, after, self.resource)

    def summary(self) -> dict[str, Any]:
        """A small JSON-able view for XCom and logs: never a secret."""
        return {
            "resource": self.resource,
            "changes": [c.summary for c in self.changes],
            "notes": list(self.notes),
            "blocked": self.blocked,
        }


def _managed_view(before: dict[str, Any] | None, after: dict[str, Any] | None,
                  unmanaged: frozenset[str]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Both views without the unmanaged keys the plan leaves as they are.

    A deletion keeps its whole ``before`` (what is removed is shown); a creation keeps the tags it
    sets (every created object carries ``iamflow:id``); an update keeps a key whose value changes.
    """
    if after is None:
        return before, after
    if before is None:
        hidden = {k for k in unmanaged if not (k == "tags" and after.get(k))}
    else:
        hidden = {k for k in unmanaged if before.get(k) == after.get(k)}

    def strip(view: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if view is None else {k: v for k, v in view.items() if k not in hidden}

    return strip(before), strip(after)


HIDDEN_CURRENT = "<not shown: this value comes from the environment>"


def hide_values(before: Any, after: Any, hidden: Mapping[str, str]) -> tuple[Any, Any]:
    """Both views with the ``hidden`` values replaced by ``${env:NAME}``, and their current counterparts too.

    A desired value that holds a value from the environment is shown as ``${env:NAME}``; the
    current value at the same place is one the environment gave in an earlier run (an ExternalId
    since rotated), so it is not shown either: it reads :data:`HIDDEN_CURRENT` when it differs.
    """
    ordered = sorted(hidden.items(), key=lambda kv: len(kv[1]), reverse=True)

    def hide(text: str) -> str:
        for name, value in ordered:
            text = text.replace(value, f"${{env:{name}}}")
        return text

    def walk(old: Any, new: Any) -> tuple[Any, Any]:
        if isinstance(new, str):
            shown = hide(new)
            if shown == new:
                return (hide(old) if isinstance(old, str) else old), new
            return (shown if old == new else HIDDEN_CURRENT if old is not None else None), shown
        if isinstance(new, dict):
            old_map = old if isinstance(old, dict) else {}
            pairs = {k: walk(old_map.get(k), v) for k, v in new.items()}
            old_out = None if old is None else {**{k: (hide(v) if isinstance(v, str) else v)
                                                   for k, v in old_map.items()},
                                                **{k: p[0] for k, p in pairs.items() if k in old_map}}
            return old_out, {k: p[1] for k, p in pairs.items()}
        if isinstance(new, list):
            old_list = old if isinstance(old, list) else []
            pairs_list = [walk(old_list[i] if i < len(old_list) else None, v) for i, v in enumerate(new)]
            old_items = [pairs_list[i][0] if i < len(pairs_list) else (hide(v) if isinstance(v, str) else v)
                         for i, v in enumerate(old_list)]
            return (None if old is None else old_items), [p[1] for p in pairs_list]
        return old, new

    if after is None:
        return walk(None, before)[1], None
    return walk(before, after)


def dumps(doc: Any) -> str:
    """Serialise a document for an API call (compact, stable)."""
    return json.dumps(doc, separators=(",", ":"), sort_keys=False)


# --- permissions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Grant:
    """Actions a handler needs, on the resources they are authorised on (for iamflow's own policy)."""

    actions: tuple[str, ...]
    resources: tuple[str, ...]


def regional_arn(ctx: RunContext, service: str, resource: str) -> str:
    return f"arn:{ctx.partition}:{service}:{ctx.region}:{ctx.account_id}:{resource}"


def secret_arn_pattern(ctx: RunContext, name: str) -> str:
    """The ARN pattern of a secret by name (AWS appends "-" and six random characters)."""
    return regional_arn(ctx, "secretsmanager", f"secret:{name}-*")


def split_actions(actions: tuple[str, ...], service: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the actions of ``service``, the others)."""
    mine = tuple(a for a in actions if a.startswith(service + ":"))
    return mine, tuple(a for a in actions if not a.startswith(service + ":"))


# --- the handler contract ------------------------------------------------------------------------


class ResourceHandler(ABC, Generic[M, S, F]):
    """One resource kind: read → look up → plan (pure) → apply."""

    kind: ClassVar[str]
    # IAM actions the handler needs, for iamflow's own least-privilege policy
    read_actions: ClassVar[tuple[str, ...]] = ()
    write_actions: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def read(self, clients: AwsClients, resource: M, env: PlanEnv) -> S | None:
        """Return the current state (None when the resource does not exist), with read calls only."""

    def lookup(self, clients: AwsClients, resource: M, env: PlanEnv, current: S | None) -> F | None:
        """Read what the plan needs to know about other objects (None: nothing), with read calls only."""
        return None

    @abstractmethod
    def plan(self, resource: M, current: S | None, env: PlanEnv, facts: F | None = None) -> Plan:
        """Compute the changes from ``current`` to what ``resource`` declares. Pure: no I/O."""

    def apply(self, clients: AwsClients, plan: Plan) -> Outputs:
        """Execute the plan's changes in order, then its checks; return the published outputs."""
        from iamflow.resources.execute import execute_plan

        return execute_plan(clients, plan)

    # -- what the sweep and iamflow's own policy need to know of the kind --

    def exists(self, current: S | None) -> bool:
        """The drift view: whether what ``read`` found counts as the resource being there."""
        return current is not None

    def arn(self, resource: M, env: PlanEnv, current: S | None) -> str:
        """The resource's ARN, for findings: the model's, else the closest stable one."""
        try:
            return resource.arn(env.ctx)
        except NotImplementedError:
            return f"arn:{env.ctx.partition}:iam::{env.ctx.account_id}:root"

    @property
    def actions(self) -> tuple[str, ...]:
        return tuple(self.read_actions) + tuple(self.write_actions)

    def grants(self, resource: M, env: PlanEnv) -> list[Grant]:
        """The actions this kind needs for ``resource``, each on the resources it is authorised on."""
        raise NotImplementedError(f"no permission scoping for resource kind {self.kind!r}")


AnyHandler = ResourceHandler[Any, Any, Any]
