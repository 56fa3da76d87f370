"""IAM users: path, groups, permissions boundary, tags, policies, console access, key rotation, ``expect:``.

Only what the playbook declares is compared and changed. AWS facts this handler follows:

* ``CreateUser`` takes the boundary and tags in the one call; ``PutUserPermissionsBoundary`` /
  ``DeleteUserPermissionsBoundary`` change the boundary later. (moto 5.2.5 drops a boundary given
  to ``CreateUser`` and lacks the two calls: the tests that need them skip, saying so.)
* A console login profile is created only when ``console_access: true`` is declared. Its first
  password is generated at apply time, stored in Secrets Manager (``iamflow/iam/users/<user>/
  console-password``) before the profile is created with it, and must be changed at the first
  sign-in (``PasswordResetRequired``); it never appears in a plan, a log or a result.
  ``console_access: false`` deletes the profile (the user can no longer sign in to the console).
* Access keys are never declared; a service user's key is made and rotated by ``rotation:``
  (:mod:`iamflow.resources.key_rotation`).
* Deleting a user first removes what IAM refuses ``DeleteUser`` over (``DeleteConflict``): the
  login profile, access keys, MFA devices, group memberships, attached and inline policies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, TypedDict

from iamflow.aws.errors import not_found, paginate
from iamflow.policy.tags import tags_to_list
from iamflow.resources import key_rotation
from iamflow.resources._common import (
    adopt_by_name,
    creation_tags,
    desired_tags,
    last_segment,
    read_tags,
    tag_changes,
)
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
from iamflow.resources.base import (
    Change,
    Generated,
    Grant,
    Plan,
    PlanEnv,
    ResourceHandler,
    secret_arn_pattern,
)
from iamflow.secrets.hygiene import generate_password
from iamflow.spec.kinds_identities import IamGroup, IamUser
from iamflow.spec.names import secret_segment

if TYPE_CHECKING:
    from iamflow.aws.clients import AwsClients
    from iamflow.resources.expectations import PrincipalPolicies

CONSOLE_PASSWORD_LENGTH = 32
_GROUP_KINDS = ("iam_group",)


def console_secret_name(user: str) -> str:
    """Where the generated first console password of ``user`` is stored."""
    return f"iamflow/iam/users/{secret_segment(user)}/console-password"


class UserState(TypedDict):
    name: str
    arn: str
    path: str
    boundary: str | None
    tags: dict[str, str]
    managed_policies: list[str]
    inline_policy_names: list[str]
    inline_policies: dict[str, Any] | None
    groups: list[str] | None
    console_access: bool | None
    access_keys: list[str] | None  # read only for absent
    mfa_devices: list[str] | None  # read only for absent


class UserFacts(TypedDict, total=False):
    documents: dict[str, dict[str, Any] | None]
    # policies of the groups the user is in that the playbook does not declare: name -> (inline, managed)
    group_policies: dict[str, tuple[dict[str, Any], list[str]]]
    rotation: key_rotation.RotationFacts
    now: datetime  # when the rotation's facts were read (its ages and grace period count from it)


@dataclass
class UserPlan(Plan):
    """A user's plan: its changes end with this run's rotation steps, which the rotation runner executes."""

    rotation: key_rotation.RotationStep | None = None
    rotation_facts: key_rotation.RotationFacts | None = field(default=None, repr=False)


class IamUserHandler(ResourceHandler[IamUser, UserState, UserFacts]):
    """Converge an IAM user."""

    kind: ClassVar[str] = "iam_user"
    read_actions: ClassVar[tuple[str, ...]] = (
        "iam:GetUser",
        "iam:ListAttachedUserPolicies",
        "iam:ListUserPolicies",
        "iam:GetUserPolicy",
        "iam:ListGroupsForUser",
        "iam:GetLoginProfile",
        "iam:ListAccessKeys",
        "iam:GetAccessKeyLastUsed",
        "iam:ListMFADevices",
        "iam:GetPolicy",
        "iam:GetPolicyVersion",
        "iam:ListAttachedGroupPolicies",
        "iam:ListGroupPolicies",
        "iam:GetGroupPolicy",
        "secretsmanager:DescribeSecret",
    )
    write_actions: ClassVar[tuple[str, ...]] = (
        "iam:CreateUser",
        "iam:PutUserPermissionsBoundary",
        "iam:DeleteUserPermissionsBoundary",
        "iam:AttachUserPolicy",
        "iam:DetachUserPolicy",
        "iam:PutUserPolicy",
        "iam:DeleteUserPolicy",
        "iam:TagUser",
        "iam:UntagUser",
        "iam:AddUserToGroup",
        "iam:RemoveUserFromGroup",
        "iam:CreateLoginProfile",
        "iam:DeleteLoginProfile",
        "iam:CreateAccessKey",
        "iam:UpdateAccessKey",
        "iam:DeleteAccessKey",
        "iam:DeactivateMFADevice",
        "iam:DeleteUser",
        "secretsmanager:CreateSecret",
        "secretsmanager:PutSecretValue",
        "secretsmanager:UpdateSecretVersionStage",
        "secretsmanager:GetSecretValue",
    )

    def read(self, clients: AwsClients, resource: IamUser, env: PlanEnv) -> UserState | None:
        res = resource
        iam = clients.client("iam")
        got = not_found(iam, "get_user", UserName=res.name)
        if got is None:
            return None
        user = got["User"]
        absent = res.state == "absent"
        documents = absent or res.is_managed("inline_policies") or res.expect is not None
        attached, names, inline = read_policies(clients, Entity("user", res.name), documents=documents)
        groups = None
        if absent or res.is_managed("groups") or res.expect is not None:
            groups = sorted(g["GroupName"] for g in paginate(iam, "list_groups_for_user", "Groups", UserName=res.name))
        console = None
        if absent or res.is_managed("console_access"):
            console = not_found(iam, "get_login_profile", UserName=res.name) is not None
        keys = mfa = None
        if absent:
            keys = [k["AccessKeyId"] for k in paginate(iam, "list_access_keys", "AccessKeyMetadata", UserName=res.name)]
            mfa = [d["SerialNumber"] for d in paginate(iam, "list_mfa_devices", "MFADevices", UserName=res.name)]
        return {"name": user["UserName"], "arn": user["Arn"], "path": user.get("Path", "/"),
                "boundary": (user.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn"),
                "tags": read_tags(user), "managed_policies": attached, "inline_policy_names": names,
                "inline_policies": inline, "groups": groups, "console_access": console, "access_keys": keys,
                "mfa_devices": mfa}

    def lookup(self, clients: AwsClients, resource: IamUser, env: PlanEnv,
               current: UserState | None) -> UserFacts | None:
        """Rotation state; and for ``expect:``, the documents and group policies the playbook does not declare."""
        res = resource
        if res.state == "absent":
            return None
        facts: UserFacts = {}
        if res.rotation is not None and current is not None:
            facts["rotation"] = key_rotation.read_rotation(clients, res.name, res.rotation, current["tags"])
            facts["now"] = key_rotation.now_utc()
        if res.expect is not None:
            groups = _after_groups(res, env, current)
            external: dict[str, tuple[dict[str, Any], list[str]]] = {}
            for group in groups:
                if env.playbook.find(group, _GROUP_KINDS) is None and not_found(
                        clients.client("iam"), "get_group", GroupName=group) is not None:
                    attached, _names, inline = read_policies(clients, Entity("group", group), documents=True)
                    external[group] = (inline or {}, attached)
            declared = declared_documents(env)
            arns = [*_after_managed(res, env, current), *_declared_group_managed(env, groups)]
            arns += [a for _inline, managed in external.values() for a in managed]
            boundary = _after_boundary(res, env, current)
            if boundary:
                arns.append(boundary)
            facts["documents"] = read_documents(clients, sorted({a for a in arns if a not in declared}))
            facts["group_policies"] = external
        return facts or None

    def plan(self, resource: IamUser, current: UserState | None, env: PlanEnv,
             facts: UserFacts | None = None) -> Plan:
        res = resource
        who = Entity("user", res.name)
        plan = UserPlan(resource=res.key, before=_view(current))
        if res.state == "absent":
            if current is not None:
                plan.changes = _delete_changes(who, current)
                if res.console_access or current["console_access"]:
                    plan.notes.append(f"the console password secret {console_secret_name(res.name)} is kept")
            return plan
        have = current or _empty(res)
        after: dict[str, Any] = dict(plan.before or {})
        tags = desired_tags(env, res)
        if current is None:
            _plan_create(plan, res, env, tags)
            after = {"name": res.name, "path": res.path, "boundary": _after_boundary(res, env, None),
                     "tags": dict(sorted(creation_tags(env, res, tags).items())), "managed_policies": [],
                     "inline_policies": {}}
        else:
            _plan_update_user(plan, res, env, current, after, tags)
        managed = ([env.ref_arn(p, POLICY_KINDS) for p in res.managed_policies or []]
                   if res.is_managed("managed_policies") else None)
        inline = desired_inline(res.inline_policies) if res.is_managed("inline_policies") else None
        plan_policies(plan, who, after, managed=managed, purge=res.purge_policies, inline=inline,
                      have_managed=have["managed_policies"], have_names=have["inline_policy_names"],
                      have_docs=have["inline_policies"])
        if res.is_managed("groups"):
            want = sorted(env.ref_name(g, _GROUP_KINDS) for g in res.groups or [])
            present = have["groups"] or []
            plan.changes += [_membership("remove_user_from_group", g, res.name) for g in present if g not in want]
            plan.changes += [_membership("add_user_to_group", g, res.name) for g in want if g not in present]
            after["groups"] = want
        if res.console_access is not None:
            _plan_console(plan, res, bool(have["console_access"]))
            after["console_access"] = res.console_access
        plan.after = after
        if res.rotation is not None:
            _plan_rotation(plan, res, env, facts)
        if res.expect is not None:
            prove(plan, res.expect, principal(res, env, current, facts or {}), f"user {res.name}")
        return plan

    def apply(self, clients: AwsClients, plan: Plan) -> Any:
        """The user's own changes through the executor, then this run's rotation steps."""
        from iamflow.resources.execute import execute_plan

        step = plan.rotation if isinstance(plan, UserPlan) else None
        if step is None or not step.changes:
            return execute_plan(clients, plan)
        own = Plan(plan.resource, plan.changes[:len(plan.changes) - len(step.changes)], plan.before, plan.after,
                   plan.notes, plan.blocked, plan.checks)
        outputs = execute_plan(clients, own)
        assert isinstance(plan, UserPlan)
        plan.notes += key_rotation.run_rotation(clients, step, plan.rotation_facts)
        return outputs

    def grants(self, resource: IamUser, env: PlanEnv) -> list[Grant]:
        """Actions on the user; memberships on the groups; secrets on their names; policy reads for ``expect:``.

        Making keys and their secret is granted only for a user with ``rotation:``, and creating a
        login profile (and its password's secret) only for one with ``console_access: true``;
        deleting them is always granted, since removing any user needs it.
        """
        ctx = env.ctx
        on_group = ("iam:AddUserToGroup", "iam:RemoveUserFromGroup", "iam:ListAttachedGroupPolicies",
                    "iam:ListGroupPolicies", "iam:GetGroupPolicy")
        on_policies = ("iam:GetPolicy", "iam:GetPolicyVersion")
        rotation_only = {"iam:CreateAccessKey", "iam:UpdateAccessKey"}
        console_only = {"iam:CreateLoginProfile"}
        skip = set(on_group) | set(on_policies)
        skip |= set() if resource.rotation is not None else rotation_only
        skip |= set() if resource.console_access else console_only
        on_user = tuple(a for a in self.actions if a not in skip and not a.startswith("secretsmanager:"))
        grants = [Grant(on_user, (resource.arn(ctx),))]
        if resource.state == "absent" or resource.expect is not None or resource.is_managed("groups"):
            # removal and proofs reach groups no playbook lists
            grants.append(Grant(on_group, (ctx.iam_arn("group", "*"),)))
        if resource.console_access:
            grants.append(Grant(("secretsmanager:CreateSecret", "secretsmanager:PutSecretValue"),
                                (secret_arn_pattern(ctx, console_secret_name(resource.name)),)))
        if resource.rotation is not None:
            grants.append(Grant(tuple(a for a in self.actions if a.startswith("secretsmanager:")),
                                (secret_arn_pattern(ctx, resource.rotation.into_secret),)))
        if resource.expect is not None:
            grants.append(Grant(on_policies, (ctx.iam_arn("policy", "*"), f"arn:{ctx.partition}:iam::aws:policy/*")))
        return grants


def _empty(res: IamUser) -> UserState:
    return {"name": res.name, "arn": "", "path": res.path, "boundary": None, "tags": {}, "managed_policies": [],
            "inline_policy_names": [], "inline_policies": {}, "groups": [], "console_access": False,
            "access_keys": [], "mfa_devices": []}


def _plan_create(plan: Plan, res: IamUser, env: PlanEnv, tags: dict[str, str] | None) -> None:
    params: dict[str, Any] = {"UserName": res.name, "Path": res.path,
                              "Tags": tags_to_list(creation_tags(env, res, tags), "Key", "Value")}
    boundary = _after_boundary(res, env, None)
    if boundary:
        params["PermissionsBoundary"] = boundary
    plan.changes.append(Change("iam", "create_user", params, f"create user {res.name}",
                               adopt=adopt_by_name("iam", "get_user", UserName=res.name)))


def _plan_update_user(plan: Plan, res: IamUser, env: PlanEnv, current: UserState, after: dict[str, Any],
                      tags: dict[str, str] | None) -> None:
    label = f"user {res.name}"
    if res.is_managed("path") and res.path != current["path"]:
        plan.notes.append(f"{label}: path {current['path']!r} differs from the declared {res.path!r}; left as is "
                          "(UpdateUser would move the user, and its ARN with it)")
    if res.is_managed("boundary"):
        want, have = _after_boundary(res, env, current), current["boundary"]
        if want and want != have:
            plan.changes.append(Change("iam", "put_user_permissions_boundary",
                                       {"UserName": res.name, "PermissionsBoundary": want},
                                       f"set permissions boundary {last_segment(want)} on {label}"))
        elif not want and have:
            plan.changes.append(Change("iam", "delete_user_permissions_boundary", {"UserName": res.name},
                                       f"remove the permissions boundary from {label}"))
        after["boundary"] = want
    calls, after["tags"] = tag_changes(current["tags"], tags, purge=res.purge_tags, service="iam",
                                       tag_op="tag_user", untag_op="untag_user", id_params={"UserName": res.name},
                                       label=label)
    # the marks a rotation or remediation keeps on the user are never purged
    for call in calls:
        if call.operation == "untag_user":
            call.params["TagKeys"] = [k for k in call.params["TagKeys"] if not k.startswith("iamflow:")]
    plan.changes += [c for c in calls if c.operation != "untag_user" or c.params["TagKeys"]]
    marks = {k: v for k, v in current["tags"].items() if k.startswith("iamflow:")}
    after["tags"] = dict(sorted({**marks, **after["tags"]}.items()))


def _plan_console(plan: Plan, res: IamUser, has_profile: bool) -> None:
    secret = console_secret_name(res.name)
    if res.console_access and not has_profile:
        password = Generated(f"console-password:{res.name}", lambda: generate_password(CONSOLE_PASSWORD_LENGTH),
                             "generated at apply time")
        plan.changes.append(Change(
            "secretsmanager", "create_secret",
            {"Name": secret, "SecretString": password,
             "Description": f"First console password of IAM user {res.name} (must be changed at sign-in), set by "
                            "iamflow"},
            f"store a generated console password for user {res.name} in Secrets Manager secret {secret}",
            sensitive=("SecretString",),
            on_exists=Change("secretsmanager", "put_secret_value", {"SecretId": secret, "SecretString": password},
                             f"write a new generated console password to Secrets Manager secret {secret}",
                             sensitive=("SecretString",))))
        plan.changes.append(Change("iam", "create_login_profile",
                                   {"UserName": res.name, "Password": password, "PasswordResetRequired": True},
                                   f"create a console login profile for user {res.name} (the password is in Secrets "
                                   f"Manager secret {secret} and must be changed at the first sign-in)",
                                   sensitive=("Password",)))
    elif not res.console_access and has_profile:
        plan.changes.append(Change("iam", "delete_login_profile", {"UserName": res.name},
                                   f"delete the console login profile of user {res.name}"))


def _plan_rotation(plan: UserPlan, res: IamUser, env: PlanEnv, facts: UserFacts | None) -> None:
    assert res.rotation is not None
    rotation = (facts or {}).get("rotation") or key_rotation.RotationFacts((), False, None, None, None, None)
    now = (facts or {}).get("now") or key_rotation.now_utc()
    step = key_rotation.plan_rotation(res.name, res.arn(env.ctx), res.rotation, rotation, now)
    plan.notes += step.notes
    if step.blocked:
        plan.blocked = step.blocked
        return
    plan.rotation, plan.rotation_facts = step, rotation
    plan.changes += step.changes


def _membership(operation: str, group: str, user: str) -> Change:
    verb = "add user {u} to" if operation == "add_user_to_group" else "remove user {u} from"
    return Change("iam", operation, {"GroupName": group, "UserName": user}, f"{verb.format(u=user)} group {group}")


def _after_boundary(res: IamUser, env: PlanEnv, current: UserState | None) -> str | None:
    if res.is_managed("boundary"):
        return env.ref_arn(res.boundary, POLICY_KINDS) if res.boundary else None
    return current["boundary"] if current else None


def _after_managed(res: IamUser, env: PlanEnv, current: UserState | None) -> list[str]:
    have = list(current["managed_policies"]) if current else []
    if not res.is_managed("managed_policies"):
        return have
    declared = [env.ref_arn(p, POLICY_KINDS) for p in res.managed_policies or []]
    return declared if res.purge_policies else sorted({*declared, *have})


def _after_groups(res: IamUser, env: PlanEnv, current: UserState | None) -> list[str]:
    if res.is_managed("groups"):
        return sorted(env.ref_name(g, _GROUP_KINDS) for g in res.groups or [])
    groups = set((current or {}).get("groups") or [])  # type: ignore[call-overload]
    # groups of the playbook that list this user among their members
    for r in env.playbook.resources:
        if isinstance(r, IamGroup) and r.state == "present" and r.members is not None:
            if res.name in {env.ref_name(m, ("iam_user",)) for m in r.members}:
                groups.add(r.name)
            else:
                groups.discard(r.name)
    return sorted(groups)


def _declared_group_managed(env: PlanEnv, groups: list[str]) -> list[str]:
    out: list[str] = []
    for g in groups:
        group = env.playbook.find(g, _GROUP_KINDS)
        if isinstance(group, IamGroup):
            out += [env.ref_arn(p, POLICY_KINDS) for p in group.managed_policies or []]
    return out


def principal(res: IamUser, env: PlanEnv, current: UserState | None, facts: UserFacts, *,
              live: bool = False) -> PrincipalPolicies:
    """The user as the evaluator sees it: its own policies, its groups' policies, its boundary and tags.

    :param live: everything as it is now (the sweep): the user's and its groups' live policies.
    """
    from iamflow.policy.evaluate import Policy

    documents = dict(facts.get("documents") or {})
    if not live:
        documents.update(declared_documents(env))
    extra: list[Policy] = []
    groups = sorted((current or {}).get("groups") or []) if live else _after_groups(res, env, current)  # type: ignore[call-overload]
    external = facts.get("group_policies") or {}
    for g in groups:
        group = None if live else env.playbook.find(g, _GROUP_KINDS)
        if isinstance(group, IamGroup):
            inline = desired_inline(group.inline_policies)
            managed = [env.ref_arn(p, POLICY_KINDS) for p in group.managed_policies or []]
        elif g in external:
            inline, managed = external[g]
        else:
            continue
        extra += [Policy(f"inline policy {n} of group {g}", d) for n, d in sorted(inline.items())]
        extra += [Policy(f"{a} (through group {g})", doc) for a in managed if (doc := documents.get(a))]
    if live:
        assert current is not None
        inline = dict(current["inline_policies"] or {})
        managed, boundary, tags = list(current["managed_policies"]), current["boundary"], dict(current["tags"])
    else:
        inline = desired_inline(res.inline_policies) if res.is_managed("inline_policies") else dict(
            (current or {}).get("inline_policies") or {})  # type: ignore[call-overload]
        managed, boundary = _after_managed(res, env, current), _after_boundary(res, env, current)
        tags = dict(desired_tags(env, res) or ((current or {}).get("tags") or {}))  # type: ignore[call-overload]
    return build_principal(res.arn(env.ctx), env.ctx.account_id, f"user {res.name}", inline=inline, managed=managed,
                           boundary=boundary, tags=tags, documents=documents, extra=tuple(extra))


def live_expectations(clients: AwsClients, res: IamUser, env: PlanEnv, current: UserState) -> list[Any]:
    """The user's ``expect:`` answered against the live account (the sweep), read calls only."""
    from iamflow.resources.expectations import check_expectations

    assert res.expect is not None
    external: dict[str, tuple[dict[str, Any], list[str]]] = {}
    for group in current["groups"] or []:
        attached, _names, inline = read_policies(clients, Entity("group", group), documents=True)
        external[group] = (inline or {}, attached)
    arns = [*current["managed_policies"], *(a for _i, m in external.values() for a in m)]
    if current["boundary"]:
        arns.append(current["boundary"])
    facts: UserFacts = {"documents": read_documents(clients, sorted(set(arns))), "group_policies": external}
    return check_expectations(res.expect, principal(res, env, current, facts, live=True))


def _delete_changes(who: Entity, current: UserState) -> list[Change]:
    name = who.name
    changes: list[Change] = []
    if current["console_access"]:
        changes.append(Change("iam", "delete_login_profile", {"UserName": name},
                              f"delete the console login profile of user {name}"))
    changes += [Change("iam", "delete_access_key", {"UserName": name, "AccessKeyId": k},
                       f"delete access key {k} of user {name}") for k in current["access_keys"] or []]
    changes += [Change("iam", "deactivate_mfa_device", {"UserName": name, "SerialNumber": s},
                       f"deactivate MFA device {s} of user {name}") for s in current["mfa_devices"] or []]
    changes += [_membership("remove_user_from_group", g, name) for g in current["groups"] or []]
    changes += [detach(who, a) for a in current["managed_policies"]]
    changes += [delete_inline(who, n) for n in current["inline_policy_names"]]
    changes.append(Change("iam", "delete_user", {"UserName": name}, f"delete user {name}"))
    return changes


def _view(current: UserState | None) -> dict[str, Any] | None:
    if current is None:
        return None
    view: dict[str, Any] = {"name": current["name"], "path": current["path"], "boundary": current["boundary"],
                            "tags": dict(sorted(current["tags"].items())),
                            "managed_policies": sorted(current["managed_policies"]),
                            "inline_policies": inline_view(current["inline_policy_names"], current["inline_policies"])}
    if current["groups"] is not None:
        view["groups"] = list(current["groups"])
    if current["console_access"] is not None:
        view["console_access"] = current["console_access"]
    return view
