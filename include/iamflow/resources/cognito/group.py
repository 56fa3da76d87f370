"""Groups of a Cognito user pool: description, precedence, IAM role, and admin members."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, NotRequired, TypedDict

from iamflow.aws.errors import not_found, paginate_token
from iamflow.resources.base import Change, Grant, Plan, PlanEnv, ResourceHandler, split_actions
from iamflow.resources.cognito._common import (
    POOL_KINDS,
    PoolFacts,
    find_pool,
    lookup_pool,
    pool_arn,
    pool_id_for,
)
from iamflow.resources.cognito.user_pool import cognito_grants
from iamflow.spec.kinds_cognito import CognitoGroup, pool_owner

if TYPE_CHECKING:
    from iamflow.aws.clients import AwsClients


class GroupState(TypedDict):
    """A group as read, with the pool it lives in; members only when admin users name the group."""

    pool_id: str
    group: dict[str, Any]
    members: NotRequired[list[str]]


def _group_members(res: CognitoGroup, env: PlanEnv) -> list[str] | None:
    """Admin users of the group's pool (in the playbook) that list this group; None when none do."""
    pool = env.playbook.find(res.user_pool, POOL_KINDS)
    users = [u.username for u in getattr(pool, "admin_users", None) or [] if res.name in u.groups]
    return users or None


class CognitoGroupHandler(ResourceHandler[CognitoGroup, GroupState, PoolFacts]):
    """Converge a group of a user pool (description, precedence, IAM role) and its admin members."""

    kind: ClassVar[str] = "cognito_group"
    read_actions: ClassVar[tuple[str, ...]] = (
        "cognito-idp:ListUserPools",
        "cognito-idp:DescribeUserPool",
        "cognito-idp:GetGroup",
        "cognito-idp:ListUsersInGroup",
    )
    write_actions: ClassVar[tuple[str, ...]] = (
        "cognito-idp:CreateGroup",
        "cognito-idp:UpdateGroup",
        "cognito-idp:DeleteGroup",
        "cognito-idp:AdminAddUserToGroup",
        "iam:PassRole",
    )

    def read(self, clients: AwsClients, resource: CognitoGroup, env: PlanEnv) -> GroupState | None:
        """Find the pool, then the group; its members only when the playbook's admin users name it."""
        res = resource
        idp = clients.client("cognito-idp")
        pool = find_pool(idp, *pool_owner(env.playbook.name, res.user_pool))
        if pool is None:
            return None
        got = not_found(idp, "get_group", GroupName=res.name, UserPoolId=pool["Id"])
        if got is None:
            return None
        current: GroupState = {"pool_id": pool["Id"], "group": got["Group"]}
        if res.state == "present" and _group_members(res, env):
            users = paginate_token(idp, "list_users_in_group", "Users", UserPoolId=pool["Id"], GroupName=res.name)
            current["members"] = [u["Username"] for u in users]
        return current

    def lookup(self, clients: AwsClients, resource: CognitoGroup, env: PlanEnv,
               current: GroupState | None) -> PoolFacts:
        """The pool the group lives in (already known when the group exists)."""
        if current is not None:
            return PoolFacts(current["pool_id"])
        return lookup_pool(clients.client("cognito-idp"), env.playbook.name, resource.user_pool)

    def plan(self, resource: CognitoGroup, current: GroupState | None, env: PlanEnv,
             facts: PoolFacts | None = None) -> Plan:
        """Plan create / update / delete of the group and the admin members it lacks. Pure."""
        res = resource
        group = current["group"] if current is not None else None
        label = f"group {res.name} of user pool {res.user_pool}"
        pool_id = pool_id_for(facts, res.user_pool)
        before = None
        if group is not None:
            before = {"description": group.get("Description"), "precedence": group.get("Precedence"),
                      "role": group.get("RoleArn")}
            if current is not None and "members" in current:
                before["members"] = sorted(current["members"])
        plan = Plan(resource=res.key, before=before)
        if res.state == "absent":
            if group is not None:
                plan.changes.append(Change("cognito-idp", "delete_group",
                                           {"GroupName": res.name, "UserPoolId": pool_id}, f"delete {label}"))
            return plan
        desired: dict[str, Any] = {}
        if res.is_managed("description"):
            desired["description"] = res.description
        if res.is_managed("precedence"):
            desired["precedence"] = res.precedence
        if res.is_managed("role"):
            desired["role"] = env.ref_arn(res.role, ("iam_role",)) if res.role else None
        wanted_members = _group_members(res, env)
        after = {**(before or {"description": None, "precedence": None, "role": None}), **desired}
        if group is None:
            params: dict[str, Any] = {"GroupName": res.name, "UserPoolId": pool_id}
            for key, api in (("description", "Description"), ("precedence", "Precedence"), ("role", "RoleArn")):
                if desired.get(key) is not None:
                    params[api] = desired[key]
            # a group is unique by name in its pool: a retry answers GroupExistsException
            plan.changes.append(Change("cognito-idp", "create_group", params, f"create {label}",
                                       adopt=_adopt_group))
            have_members: list[str] = []
        else:
            have: dict[str, Any] = before or {}
            differs = [k for k in desired if desired[k] != have.get(k)]
            if "role" in differs and desired["role"] is None:
                plan.notes.append(f"{label}: Cognito cannot remove a group's role by update; left as is")
                differs.remove("role")
                after["role"] = have.get("role")
            if differs:
                params = {"GroupName": res.name, "UserPoolId": pool_id}
                for key, api in (("description", "Description"), ("precedence", "Precedence"), ("role", "RoleArn")):
                    if after.get(key) is not None:
                        params[api] = after[key]
                plan.changes.append(Change("cognito-idp", "update_group", params,
                                           f"update {', '.join(differs)} of {label}"))
            have_members = current.get("members", []) if current is not None else []
        if wanted_members:
            for username in wanted_members:
                if username not in have_members:
                    plan.changes.append(Change(
                        "cognito-idp", "admin_add_user_to_group",
                        {"UserPoolId": pool_id, "Username": username, "GroupName": res.name},
                        f"add admin user {username} to {label}"))
            after["members"] = sorted({*have_members, *wanted_members})
        plan.after = after
        return plan

    def arn(self, resource: CognitoGroup, env: PlanEnv, current: GroupState | None) -> str:
        """Groups have no ARN of their own in findings: they name the pool."""
        return pool_arn(env, current["pool_id"] if current else None)

    def grants(self, resource: CognitoGroup, env: PlanEnv) -> list[Grant]:
        """Cognito on the account's pools; passing the group's role is authorised on the role."""
        idp, other = split_actions(self.actions, "cognito-idp")
        out = cognito_grants(idp, env)
        if resource.role:
            out.append(Grant(other, (env.ref_arn(resource.role, ("iam_role",)),)))
        return out


def _adopt_group(clients: AwsClients, params: dict[str, Any]) -> dict[str, Any] | None:
    """The group a create may have made, by name in its pool."""
    got = not_found(clients.client("cognito-idp"), "get_group", GroupName=params["GroupName"],
                    UserPoolId=params["UserPoolId"])
    return None if got is None else dict(got)
