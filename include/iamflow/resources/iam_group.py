"""IAM groups: path, attached and inline policies, and the exact membership when declared.

CIS 1.15 wants permissions granted through groups: a group carries the policies, users are its
members. IAM groups take no tags (AWS has no TagGroup), so a group is found by its name only.
A path cannot change without replacing the group's identity for its members' policies, so a
different path is a note, as for roles. Deleting a group first removes what IAM refuses the
deletion over (``DeleteConflict``): its members, attached and inline policies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, TypedDict

from iamflow.aws.errors import not_found, paginate
from iamflow.resources._common import adopt_by_name
from iamflow.resources._identity import (
    POLICY_KINDS,
    Entity,
    build_principal,
    declared_documents,
    delete_inline,
    desired_inline,
    detach,
    inline_view,
    plan_policies,
    prove,
    read_documents,
    read_policies,
)
from iamflow.resources.base import Change, Grant, Plan, PlanEnv, ResourceHandler
from iamflow.spec.kinds_identities import IamGroup

if TYPE_CHECKING:
    from iamflow.aws.clients import AwsClients
    from iamflow.resources.expectations import PrincipalPolicies


class GroupState(TypedDict):
    name: str
    arn: str
    path: str
    managed_policies: list[str]
    inline_policy_names: list[str]
    inline_policies: dict[str, Any] | None  # read only when managed (or for expect:, absent)
    members: list[str] | None  # read only when managed (or absent)


class GroupFacts(TypedDict):
    documents: dict[str, dict[str, Any] | None]


class IamGroupHandler(ResourceHandler[IamGroup, GroupState, GroupFacts]):
    """Converge an IAM group."""

    kind: ClassVar[str] = "iam_group"
    read_actions: ClassVar[tuple[str, ...]] = (
        "iam:GetGroup",
        "iam:ListAttachedGroupPolicies",
        "iam:ListGroupPolicies",
        "iam:GetGroupPolicy",
        "iam:GetPolicy",
        "iam:GetPolicyVersion",
    )
    write_actions: ClassVar[tuple[str, ...]] = (
        "iam:CreateGroup",
        "iam:AttachGroupPolicy",
        "iam:DetachGroupPolicy",
        "iam:PutGroupPolicy",
        "iam:DeleteGroupPolicy",
        "iam:AddUserToGroup",
        "iam:RemoveUserFromGroup",
        "iam:DeleteGroup",
    )

    def read(self, clients: AwsClients, resource: IamGroup, env: PlanEnv) -> GroupState | None:
        iam = clients.client("iam")
        absent = resource.state == "absent"
        got = not_found(iam, "get_group", GroupName=resource.name)
        if got is None:
            return None
        group = got["Group"]
        members: list[str] | None = None
        if absent or resource.is_managed("members"):
            users = got.get("Users", [])
            if got.get("IsTruncated"):
                users = paginate(iam, "get_group", "Users", GroupName=resource.name)
            members = sorted(u["UserName"] for u in users)
        who = Entity("group", resource.name)
        documents = absent or resource.is_managed("inline_policies") or resource.expect is not None
        attached, names, inline = read_policies(clients, who, documents=documents)
        return {"name": group["GroupName"], "arn": group["Arn"], "path": group.get("Path", "/"),
                "managed_policies": attached, "inline_policy_names": names, "inline_policies": inline,
                "members": members}

    def lookup(self, clients: AwsClients, resource: IamGroup, env: PlanEnv,
               current: GroupState | None) -> GroupFacts | None:
        """The documents of attached policies the playbook does not declare, for ``expect:``."""
        if resource.expect is None or resource.state == "absent":
            return None
        declared = declared_documents(env)
        wanted = [a for a in _after_managed(resource, env, current) if a not in declared]
        return {"documents": read_documents(clients, wanted)}

    def plan(self, resource: IamGroup, current: GroupState | None, env: PlanEnv,
             facts: GroupFacts | None = None) -> Plan:
        res = resource
        who = Entity("group", res.name)
        plan = Plan(resource=res.key, before=_view(current))
        if res.state == "absent":
            if current is not None:
                plan.changes = _delete_changes(who, current)
            return plan
        managed = ([env.ref_arn(p, POLICY_KINDS) for p in res.managed_policies or []]
                   if res.is_managed("managed_policies") else None)
        inline = desired_inline(res.inline_policies) if res.is_managed("inline_policies") else None
        members = sorted(env.ref_name(m, ("iam_user",)) for m in res.members or []) if res.is_managed(
            "members") else None
        after: dict[str, Any] = dict(plan.before or {})
        if current is None:
            plan.changes.append(Change("iam", "create_group", {"GroupName": res.name, "Path": res.path},
                                       f"create group {res.name}",
                                       adopt=adopt_by_name("iam", "get_group", GroupName=res.name)))
            after = {"name": res.name, "path": res.path, "managed_policies": [], "inline_policies": {},
                     "members": []}
            have: GroupState = {"name": res.name, "arn": "", "path": res.path, "managed_policies": [],
                                "inline_policy_names": [], "inline_policies": {}, "members": []}
        else:
            have = current
            if res.path != current["path"] and res.is_managed("path"):
                plan.notes.append(f"group {res.name}: path cannot change without replacement (current "
                                  f"{current['path']!r}, declared {res.path!r}); left as is")
        plan_policies(plan, who, after, managed=managed, purge=res.purge_policies, inline=inline,
                      have_managed=have["managed_policies"], have_names=have["inline_policy_names"],
                      have_docs=have["inline_policies"])
        if members is not None:
            present = have["members"] or []
            plan.changes += [_membership("remove_user_from_group", res.name, u) for u in present if u not in members]
            plan.changes += [_membership("add_user_to_group", res.name, u) for u in members if u not in present]
            after["members"] = members
        plan.after = after
        if res.expect is not None:
            prove(plan, res.expect, principal(res, env, current, facts["documents"] if facts else {}),
                  f"group {res.name}")
        return plan

    def grants(self, resource: IamGroup, env: PlanEnv) -> list[Grant]:
        """Group actions on the group; AddUserToGroup / RemoveUserFromGroup are authorised on the group too."""
        on_policies = {"iam:GetPolicy", "iam:GetPolicyVersion"}
        grants = [Grant(tuple(a for a in self.actions if a not in on_policies), (resource.arn(env.ctx),))]
        if resource.expect is not None:
            grants.append(Grant(tuple(sorted(on_policies)), (env.ctx.iam_arn("policy", "*"),
                                                             f"arn:{env.ctx.partition}:iam::aws:policy/*")))
        return grants


def _after_managed(res: IamGroup, env: PlanEnv, current: GroupState | None) -> list[str]:
    declared = [env.ref_arn(p, POLICY_KINDS) for p in res.managed_policies or []]
    have = list(current["managed_policies"]) if current else []
    if not res.is_managed("managed_policies"):
        return have
    return sorted({*declared, *have}) if not res.purge_policies else declared


def principal(res: IamGroup, env: PlanEnv, current: GroupState | None,
              documents: dict[str, dict[str, Any] | None], *, live: bool = False) -> PrincipalPolicies:
    """A member of the group as the evaluator sees it, through the group's policies only.

    :param live: take every policy as it is now (the sweep), not as the playbook declares it.
    """
    if live:
        assert current is not None
        inline = dict(current["inline_policies"] or {})
        managed = list(current["managed_policies"])
        known = dict(documents)
    else:
        have_inline = current["inline_policies"] if current else None
        inline = desired_inline(res.inline_policies) if res.is_managed("inline_policies") else dict(have_inline or {})
        managed = _after_managed(res, env, current)
        known = {**documents, **declared_documents(env)}
    return build_principal(res.arn(env.ctx), env.ctx.account_id, f"group {res.name}", inline=inline,
                           managed=managed, boundary=None, tags={}, documents=known)


def live_expectations(clients: AwsClients, res: IamGroup, env: PlanEnv, current: GroupState) -> list[Any]:
    """The group's ``expect:`` answered against the live group (the sweep), read calls only."""
    from iamflow.resources.expectations import check_expectations

    assert res.expect is not None
    documents = read_documents(clients, list(current["managed_policies"]))
    return check_expectations(res.expect, principal(res, env, current, documents, live=True))


def _membership(operation: str, group: str, user: str) -> Change:
    verb = "add user {u} to" if operation == "add_user_to_group" else "remove user {u} from"
    return Change("iam", operation, {"GroupName": group, "UserName": user}, f"{verb.format(u=user)} group {group}")


def _delete_changes(who: Entity, current: GroupState) -> list[Change]:
    changes = [_membership("remove_user_from_group", who.name, u) for u in current["members"] or []]
    changes += [detach(who, a) for a in current["managed_policies"]]
    changes += [delete_inline(who, n) for n in current["inline_policy_names"]]
    changes.append(Change("iam", "delete_group", {"GroupName": who.name}, f"delete group {who.name}"))
    return changes


def _view(current: GroupState | None) -> dict[str, Any] | None:
    if current is None:
        return None
    view: dict[str, Any] = {"name": current["name"], "path": current["path"],
                            "managed_policies": sorted(current["managed_policies"]),
                            "inline_policies": inline_view(current["inline_policy_names"], current["inline_policies"])}
    if current["members"] is not None:
        view["members"] = list(current["members"])
    return view
