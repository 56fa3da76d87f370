"""Customer-managed IAM policies: document versions, tags, and deletion with its dependants.

IAM keeps at most five versions of a managed policy, and a description can never change after
creation. A document update therefore creates a new default version, first pruning the oldest
non-default one when the limit is reached; a description difference is reported, not applied.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, TypedDict

from iamflow.aws.errors import not_found, paginate
from iamflow.policy.document import policies_equal
from iamflow.policy.tags import tags_to_list
from iamflow.resources._common import (
    adopt_by_name,
    creation_tags,
    current_document,
    desired_document,
    desired_tags,
    read_tags,
    render_for_api,
    tag_changes,
    view_document,
)
from iamflow.resources.base import Change, Grant, Plan, PlanEnv, ResourceHandler
from iamflow.spec.models import IamManagedPolicy

if TYPE_CHECKING:
    from iamflow.aws.clients import AwsClients

# IAM's hard limit of stored versions per managed policy.
MAX_POLICY_VERSIONS = 5


class PolicyVersion(TypedDict):
    VersionId: str
    IsDefaultVersion: bool
    CreateDate: Any


class PolicyEntities(TypedDict):
    groups: list[str]
    users: list[str]
    roles: list[str]


class ManagedPolicyState(TypedDict):
    """A managed policy as read: its default document, tags, and (when needed) versions and users."""

    arn: str
    name: str
    path: str
    description: str | None
    default_version_id: str
    document: dict[str, Any]
    tags: dict[str, str]
    versions: list[PolicyVersion] | None
    entities: PolicyEntities | None


def _version_order(version: PolicyVersion) -> tuple[Any, int]:
    """Sort key: creation time, then the version number (v2 < v10) for equal timestamps."""
    vid = str(version.get("VersionId", "v0"))
    number = int(vid[1:]) if vid[1:].isdigit() else 0
    return (version.get("CreateDate") or "", number)


class IamManagedPolicyHandler(ResourceHandler[IamManagedPolicy, ManagedPolicyState, None]):
    """Converge a customer-managed policy."""

    kind: ClassVar[str] = "iam_managed_policy"
    read_actions: ClassVar[tuple[str, ...]] = (
        "iam:GetPolicy",
        "iam:GetPolicyVersion",
        "iam:ListPolicyVersions",
        "iam:ListEntitiesForPolicy",
    )
    write_actions: ClassVar[tuple[str, ...]] = (
        "iam:CreatePolicy",
        "iam:CreatePolicyVersion",
        "iam:DeletePolicyVersion",
        "iam:TagPolicy",
        "iam:UntagPolicy",
        "iam:DetachGroupPolicy",
        "iam:DetachUserPolicy",
        "iam:DetachRolePolicy",
        "iam:DeletePolicy",
    )

    def read(self, clients: AwsClients, resource: IamManagedPolicy, env: PlanEnv) -> ManagedPolicyState | None:
        """Read the policy by its computed ARN (never by listing every policy of the account)."""
        res = resource
        iam = clients.client("iam")
        arn = env.ctx.iam_arn("policy", res.name, res.path)
        got = not_found(iam, "get_policy", PolicyArn=arn)
        if got is None:
            return None
        policy = got["Policy"]
        default_id = policy["DefaultVersionId"]
        version = iam.get_policy_version(PolicyArn=arn, VersionId=default_id)["PolicyVersion"]
        document = current_document(version["Document"])
        current: ManagedPolicyState = {
            "arn": policy["Arn"],
            "name": policy["PolicyName"],
            "path": policy.get("Path", "/"),
            "description": policy.get("Description"),
            "default_version_id": default_id,
            "document": document,
            # GetPolicy returns the tags, so ListPolicyTags would be a wasted call.
            "tags": read_tags(policy),
            "versions": None,
            "entities": None,
        }
        absent = res.state == "absent"
        if absent or (
            res.document is not None and not policies_equal(document, desired_document(res.document))
        ):
            # Only needed to make room for a new version, or to delete the policy.
            current["versions"] = [
                {
                    "VersionId": v["VersionId"],
                    "IsDefaultVersion": bool(v.get("IsDefaultVersion")),
                    "CreateDate": v.get("CreateDate"),
                }
                for v in paginate(iam, "list_policy_versions", "Versions", PolicyArn=arn)
            ]
        if absent:
            entities: PolicyEntities = {"groups": [], "users": [], "roles": []}
            for page in iam.get_paginator("list_entities_for_policy").paginate(PolicyArn=arn):
                entities["groups"] += [g["GroupName"] for g in page.get("PolicyGroups", [])]
                entities["users"] += [u["UserName"] for u in page.get("PolicyUsers", [])]
                entities["roles"] += [r["RoleName"] for r in page.get("PolicyRoles", [])]
            current["entities"] = entities
        return current

    def plan(self, resource: IamManagedPolicy, current: ManagedPolicyState | None, env: PlanEnv,
             facts: None = None) -> Plan:
        """Plan create / new version / tags, or detach-everything-then-delete; prove ``expect:``. Pure."""
        plan = _plan(resource, current, env)
        if resource.expect is not None and resource.state == "present" and not plan.blocked:
            _prove(plan, resource, env)
        return plan

    def grants(self, resource: IamManagedPolicy, env: PlanEnv) -> list[Grant]:
        """Everything on the policy itself; detaching it is authorised on each user, group and role."""
        detach = {"iam:DetachUserPolicy": "user", "iam:DetachGroupPolicy": "group", "iam:DetachRolePolicy": "role"}
        out = [Grant(tuple(a for a in self.actions if a not in detach), (resource.arn(env.ctx),))]
        out += [Grant((a,), (env.ctx.iam_arn(detach[a], "*"),)) for a in self.actions if a in detach]
        return out


def _view(current: ManagedPolicyState | None) -> dict[str, Any] | None:
    """The diffable view of a read policy."""
    if current is None:
        return None
    return {
        "name": current["name"],
        "path": current["path"],
        "description": current.get("description") or None,
        "document": view_document(current["document"]),
        "tags": dict(sorted(current["tags"].items())),
    }


def _delete_changes(current: ManagedPolicyState) -> list[Change]:
    """Detach from every entity and delete non-default versions: IAM refuses to delete otherwise."""
    arn = current["arn"]
    name = current["name"]
    changes: list[Change] = []
    entities = current.get("entities") or {"groups": [], "users": [], "roles": []}
    for op, names, param, what in (
        ("detach_group_policy", entities["groups"], "GroupName", "group"),
        ("detach_user_policy", entities["users"], "UserName", "user"),
        ("detach_role_policy", entities["roles"], "RoleName", "role"),
    ):
        for entity in names:
            changes.append(
                Change(
                    "iam", op, {param: entity, "PolicyArn": arn}, f"detach policy {name} from {what} {entity}"
                )
            )
    for version in sorted(current.get("versions") or [], key=_version_order):
        if not version["IsDefaultVersion"]:
            vid = version["VersionId"]
            changes.append(
                Change(
                    "iam",
                    "delete_policy_version",
                    {"PolicyArn": arn, "VersionId": vid},
                    f"delete version {vid} of managed policy {name}",
                )
            )
    changes.append(Change("iam", "delete_policy", {"PolicyArn": arn}, f"delete managed policy {name}"))
    return changes


def _plan(res: IamManagedPolicy, current: ManagedPolicyState | None, env: PlanEnv) -> Plan:
    """The calls from ``current`` to the declared policy."""
    plan = Plan(resource=res.key, before=_view(current))
    if res.state == "absent":
        if current is not None:
            plan.changes = _delete_changes(current)
        return plan

    arn = env.ctx.iam_arn("policy", res.name, res.path)
    label = f"managed policy {res.name}"
    description = res.description
    document = desired_document(res.document)
    tags = desired_tags(env, res)

    if current is None:
        params: dict[str, Any] = {
            "PolicyName": res.name,
            "Path": res.path,
            "PolicyDocument": render_for_api(document),
        }
        if description:
            params["Description"] = description
        made_tags = creation_tags(env, res, tags)
        params["Tags"] = tags_to_list(made_tags, "Key", "Value")
        arn = env.ctx.iam_arn("policy", res.name, res.path)
        plan.changes.append(Change("iam", "create_policy", params, f"create {label}",
                                   adopt=adopt_by_name("iam", "get_policy", PolicyArn=arn)))
        plan.after = {
            "name": res.name,
            "path": res.path,
            "description": description or None,
            "document": view_document(document),
            "tags": dict(sorted(made_tags.items())),
        }
        return plan

    after = dict(plan.before or {})
    if res.is_managed("description") and (description or None) != (current.get("description") or None):
        plan.notes.append(
            f"{label}: description cannot change in IAM without replacing the policy "
            f"(current {current.get('description')!r}, declared {description!r}); left as is"
        )

    if not policies_equal(current["document"], document):
        versions = current.get("versions")
        if versions is None:
            plan.notes.append(
                f"{label}: policy versions were not read; the new version may hit the limit"
            )
        elif len(versions) >= MAX_POLICY_VERSIONS:
            candidates = sorted((v for v in versions if not v["IsDefaultVersion"]), key=_version_order)
            if candidates:
                oldest = candidates[0]["VersionId"]
                plan.changes.append(
                    Change(
                        "iam",
                        "delete_policy_version",
                        {"PolicyArn": arn, "VersionId": oldest},
                        f"delete the oldest version {oldest} of {label} (IAM keeps at most 5)",
                    )
                )
        plan.changes.append(
            Change(
                "iam",
                "create_policy_version",
                {"PolicyArn": arn, "PolicyDocument": render_for_api(document), "SetAsDefault": True},
                f"set a new default document version on {label}",
            )
        )
        after["document"] = view_document(document)

    changes, after["tags"] = tag_changes(
        current["tags"],
        tags,
        purge=res.purge_tags,
        service="iam",
        tag_op="tag_policy",
        untag_op="untag_policy",
        id_params={"PolicyArn": arn},
        label=label,
    )
    plan.changes += changes
    plan.after = after
    return plan


def _prove(plan: Plan, res: IamManagedPolicy, env: PlanEnv) -> None:
    """Evaluate the policy's ``expect:`` entries (see :func:`~iamflow.resources.expectations.policy_subject`)."""
    from iamflow.resources.expectations import policy_expectations, record

    assert res.expect is not None and isinstance(res.document, dict)
    results = policy_expectations(res.expect, res.name, desired_document(res.document), env)
    record(plan, results, f"managed policy {res.name}")
