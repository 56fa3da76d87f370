"""EC2 instance profiles: the (single) role they hold, and tags."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, TypedDict

from iamflow.aws.errors import not_found
from iamflow.policy.tags import tags_to_list
from iamflow.resources._common import adopt_by_name, creation_tags, desired_tags, read_tags, tag_changes
from iamflow.resources.base import Change, Grant, Plan, PlanEnv, ResourceHandler
from iamflow.spec.models import IamInstanceProfile

if TYPE_CHECKING:
    from iamflow.aws.clients import AwsClients

_ROLE_KINDS = ("iam_role",)


class InstanceProfileState(TypedDict):
    name: str
    arn: str
    path: str
    roles: list[str]
    tags: dict[str, str]


class IamInstanceProfileHandler(ResourceHandler[IamInstanceProfile, InstanceProfileState, None]):
    """Converge an instance profile."""

    kind: ClassVar[str] = "iam_instance_profile"
    read_actions: ClassVar[tuple[str, ...]] = ("iam:GetInstanceProfile",)
    write_actions: ClassVar[tuple[str, ...]] = (
        "iam:CreateInstanceProfile",
        "iam:AddRoleToInstanceProfile",
        "iam:RemoveRoleFromInstanceProfile",
        "iam:TagInstanceProfile",
        "iam:UntagInstanceProfile",
        "iam:DeleteInstanceProfile",
        # Putting a role into a profile is passing it to whoever launches instances with it.
        "iam:PassRole",
    )

    def read(self, clients: AwsClients, resource: IamInstanceProfile, env: PlanEnv) -> InstanceProfileState | None:
        """Read the profile with one call: GetInstanceProfile returns its roles and tags."""
        iam = clients.client("iam")
        got = not_found(iam, "get_instance_profile", InstanceProfileName=resource.name)
        if got is None:
            return None
        profile = got["InstanceProfile"]
        return {
            "name": profile["InstanceProfileName"],
            "arn": profile["Arn"],
            "path": profile.get("Path", "/"),
            "roles": [r["RoleName"] for r in profile.get("Roles", [])],
            "tags": read_tags(profile),
        }

    def plan(self, resource: IamInstanceProfile, current: InstanceProfileState | None, env: PlanEnv,
             facts: None = None) -> Plan:
        """Plan create / role swap / tags, or remove-role-then-delete. Pure."""
        res = resource
        name = res.name
        label = f"instance profile {name}"
        plan = Plan(resource=res.key, before=_view(current))
        if res.state == "absent":
            if current is not None:
                plan.changes = [_remove(name, role) for role in current["roles"]]
                plan.changes.append(
                    Change("iam", "delete_instance_profile", {"InstanceProfileName": name}, f"delete {label}")
                )
            return plan

        want_role = env.ref_name(res.role, _ROLE_KINDS) if res.role else None
        tags = desired_tags(env, res)
        if current is None:
            params: dict[str, Any] = {"InstanceProfileName": name, "Path": res.path}
            made_tags = creation_tags(env, res, tags)
            params["Tags"] = tags_to_list(made_tags, "Key", "Value")
            plan.changes.append(Change("iam", "create_instance_profile", params, f"create {label}",
                                       adopt=adopt_by_name("iam", "get_instance_profile", InstanceProfileName=name)))
            if want_role:
                plan.changes.append(_add(name, want_role))
            plan.after = {
                "name": name,
                "path": res.path,
                "roles": [want_role] if want_role else [],
                "tags": dict(sorted(made_tags.items())),
            }
            return plan

        after = dict(plan.before or {})
        if res.is_managed("path") and res.path != current["path"]:
            plan.notes.append(
                f"{label}: path cannot change without replacement (current {current['path']!r}, "
                f"declared {res.path!r}); left as is"
            )
        if res.is_managed("role"):
            # Remove first: a profile holds at most one role (LimitExceeded otherwise).
            for role in current["roles"]:
                if role != want_role:
                    plan.changes.append(_remove(name, role))
            if want_role and want_role not in current["roles"]:
                plan.changes.append(_add(name, want_role))
            after["roles"] = [want_role] if want_role else []
        tag_calls, after["tags"] = tag_changes(
            current["tags"],
            tags,
            purge=res.purge_tags,
            service="iam",
            tag_op="tag_instance_profile",
            untag_op="untag_instance_profile",
            id_params={"InstanceProfileName": name},
            label=label,
        )
        plan.changes += tag_calls
        plan.after = after
        return plan

    def grants(self, resource: IamInstanceProfile, env: PlanEnv) -> list[Grant]:
        """Everything on the profile; passing its role is authorised on the role."""
        out = [Grant(tuple(a for a in self.actions if a != "iam:PassRole"), (resource.arn(env.ctx),))]
        if resource.role:
            out.append(Grant(("iam:PassRole",), (env.ref_arn(resource.role, _ROLE_KINDS),)))
        return out


def _add(profile: str, role: str) -> Change:
    return Change(
        "iam",
        "add_role_to_instance_profile",
        {"InstanceProfileName": profile, "RoleName": role},
        f"add role {role} to instance profile {profile}",
    )


def _remove(profile: str, role: str) -> Change:
    return Change(
        "iam",
        "remove_role_from_instance_profile",
        {"InstanceProfileName": profile, "RoleName": role},
        f"remove role {role} from instance profile {profile}",
    )


def _view(current: InstanceProfileState | None) -> dict[str, Any] | None:
    """The diffable view of a read instance profile."""
    if current is None:
        return None
    return {
        "name": current["name"],
        "path": current["path"],
        "roles": sorted(current["roles"]),
        "tags": dict(sorted(current["tags"].items())),
    }
