"""Helpers for the resource handler tests: converge one resource, build documents and plans."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from iamflow.engine import fill_placeholders, plan_env
from iamflow.resources import handler_for
from iamflow.resources.base import Plan, PlanEnv
from iamflow.spec.models import Playbook

if TYPE_CHECKING:
    from iamflow.aws.clients import AwsClients
    from iamflow.resources.base import ResourceHandler
    from iamflow.spec.models import ResourceBase


def converge(handler: ResourceHandler, clients: AwsClients, resource: ResourceBase, env: PlanEnv) -> Plan:
    """Read, plan and apply one resource (placeholders filled, as the engine does); return the plan."""
    resource = fill_placeholders(resource, env.ctx)
    current = handler.read(clients, resource, env)
    plan = handler.plan(resource, current, env, handler.lookup(clients, resource, env, current))
    handler.apply(clients, plan)
    return plan


def converge_all(clients: AwsClients, env: PlanEnv) -> list[Plan]:
    """Converge every resource of ``env.playbook`` in order (the playbooks here list them in order)."""
    return [converge(handler_for(r.kind), clients, r, env) for r in env.playbook.resources]


def plan_of(clients: AwsClients, resource: ResourceBase, env: PlanEnv) -> Plan:
    """Read and plan without applying."""
    handler = handler_for(resource.kind)
    resource = fill_placeholders(resource, env.ctx)
    current = handler.read(clients, resource, env)
    return handler.plan(resource, current, env, handler.lookup(clients, resource, env, current))


def make_env(clients: AwsClients, *resources: ResourceBase, tags: dict[str, str] | None = None) -> PlanEnv:
    """A plan environment for a playbook holding ``resources``."""
    return plan_env(clients.caller_context(), Playbook(name="t", resources=list(resources), tags=tags or {}))


def operations(plan: Plan) -> list[str]:
    """The operation names of a plan, in order."""
    return [c.operation for c in plan.changes]


def allow(*actions: str, resource: str = "*", sid: str | None = None) -> dict[str, Any]:
    """An identity policy allowing ``actions`` on ``resource``."""
    statement: dict[str, Any] = {"Effect": "Allow", "Action": list(actions), "Resource": resource}
    if sid:
        statement["Sid"] = sid
    return {"Version": "2012-10-17", "Statement": [statement]}


def trust(service: str = "ec2.amazonaws.com") -> dict[str, Any]:
    """A trust policy letting ``service`` assume the role."""
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }


def tag_map(tags: list[dict[str, str]] | None) -> dict[str, str]:
    """``[{"Key": k, "Value": v}]`` as a dict."""
    return {t["Key"]: t["Value"] for t in tags or []}
