"""IAM roles: trust policy, description, max session, boundary, attached and inline policies, tags.

Only what the playbook declares is compared; a field left out is never read more than needed and
never changed. Deleting a role first removes what IAM would otherwise refuse the deletion over:
instance profile membership, attached managed policies and inline policies.

``exclusive: true`` makes the attached and inline policies exactly the declared ones: left out,
they mean none (so a hand-attached policy is detached, a hand-put inline policy deleted).

What a playbook leaves unmanaged is still looked at for high-risk state, so that plan can warn
about it (a note starting ``warning:``), never change it: an administrator policy attached or put
outside the playbook (``AdministratorAccess``, or any document allowing ``*`` on ``*``), and a
trust that lets another account assume the role without an ``sts:ExternalId`` condition. The
documents of customer-managed policies attached outside the playbook are read for that (read
calls only, once per run each). Inline documents the playbook does not manage are not read (a
role that omits ``inline_policies`` costs no ``GetRolePolicy``); when an ``expect:`` proof has read
them, they are judged too.
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
    last_segment,
    read_tags,
    render_for_api,
    tag_changes,
    view_document,
)
from iamflow.resources.base import Change, Grant, Plan, PlanEnv, ResourceHandler
from iamflow.spec.models import IamRole

if TYPE_CHECKING:
    from iamflow.aws.clients import AwsClients

# What IAM applies when a role is created without MaxSessionDuration.
DEFAULT_MAX_SESSION = 3600
_POLICY_KINDS = ("iam_managed_policy",)


class RoleState(TypedDict):
    """A role as read: inline documents and instance profiles only when the plan needs them."""

    name: str
    arn: str
    path: str
    description: str | None
    max_session_duration: int
    trust_policy: dict[str, Any]
    boundary: str | None
    tags: dict[str, str]
    managed_policies: list[str]
    inline_policy_names: list[str]
    inline_policies: dict[str, Any] | None
    instance_profiles: list[str] | None


class DesiredRole(TypedDict):
    trust_policy: dict[str, Any]
    description: str | None
    max_session_duration: int
    boundary: str | None
    managed_policies: list[str]
    inline_policies: dict[str, dict[str, Any]]
    tags: dict[str, str] | None


class RoleFacts(TypedDict, total=False):
    """What the plan needs to know beyond the role: documents of policies the playbook does not declare."""

    documents: dict[str, dict[str, Any] | None]  # ARN -> default version's document (None: not readable)
    # policies the playbook leaves in place without managing them, for the high-risk warnings
    outside_attached: dict[str, dict[str, Any] | None]  # ARN -> document (None: AWS-managed or not readable)
    outside_inline: dict[str, dict[str, Any]]  # inline policy name -> document


class IamRoleHandler(ResourceHandler[IamRole, RoleState, RoleFacts]):
    """Converge an IAM role."""

    kind: ClassVar[str] = "iam_role"
    read_actions: ClassVar[tuple[str, ...]] = (
        "iam:GetRole",
        "iam:ListAttachedRolePolicies",
        "iam:ListRolePolicies",
        "iam:GetRolePolicy",
        "iam:ListInstanceProfilesForRole",
        # the documents of attached policies the playbook does not declare, for its expect: proofs
        "iam:GetPolicy",
        "iam:GetPolicyVersion",
    )
    write_actions: ClassVar[tuple[str, ...]] = (
        "iam:CreateRole",
        "iam:UpdateAssumeRolePolicy",
        "iam:UpdateRole",
        "iam:PutRolePermissionsBoundary",
        "iam:DeleteRolePermissionsBoundary",
        "iam:AttachRolePolicy",
        "iam:DetachRolePolicy",
        "iam:PutRolePolicy",
        "iam:DeleteRolePolicy",
        "iam:TagRole",
        "iam:UntagRole",
        "iam:RemoveRoleFromInstanceProfile",
        "iam:DeleteRole",
    )

    def read(self, clients: AwsClients, resource: IamRole, env: PlanEnv) -> RoleState | None:
        """Read the role, its attachments and inline policy names (documents only when managed)."""
        res = resource
        iam = clients.client("iam")
        got = not_found(iam, "get_role", RoleName=res.name)
        if got is None:
            return None
        role = got["Role"]
        absent = res.state == "absent"
        inline_names = paginate(iam, "list_role_policies", "PolicyNames", RoleName=res.name)
        inline: dict[str, Any] | None = None
        if absent or res.is_managed("inline_policies") or res.expect is not None:
            inline = {}
            for name in inline_names:
                # Deleted between the list and the get: it is simply not there any more.
                doc = not_found(iam, "get_role_policy", RoleName=res.name, PolicyName=name)
                if doc is not None:
                    inline[name] = current_document(doc["PolicyDocument"])
        profiles: list[str] | None = None
        if absent:
            profiles = [
                p["InstanceProfileName"]
                for p in paginate(
                    iam, "list_instance_profiles_for_role", "InstanceProfiles", RoleName=res.name
                )
            ]
        boundary = (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
        return {
            "name": role["RoleName"],
            "arn": role["Arn"],
            "path": role.get("Path", "/"),
            "description": role.get("Description"),
            "max_session_duration": int(role.get("MaxSessionDuration") or DEFAULT_MAX_SESSION),
            "trust_policy": current_document(role["AssumeRolePolicyDocument"]),
            "boundary": boundary,
            "tags": read_tags(role),
            "managed_policies": [
                p["PolicyArn"]
                for p in paginate(iam, "list_attached_role_policies", "AttachedPolicies", RoleName=res.name)
            ],
            "inline_policy_names": list(inline_names),
            "inline_policies": inline,
            "instance_profiles": profiles,
        }

    def lookup(self, clients: AwsClients, resource: IamRole, env: PlanEnv,
               current: RoleState | None) -> RoleFacts | None:
        """Read the managed policies an ``expect:`` proof needs that the playbook does not declare, and the
        documents of the policies it leaves in place unmanaged (for the high-risk warnings)."""
        if resource.state == "absent":
            return None
        facts: RoleFacts = {}
        if current is not None:
            facts.update(_outside_policies(clients, resource, env, current))
        if resource.expect is None:
            return facts or None
        after = _effective(resource, _desired(resource, env), current)
        declared = _declared_documents(env)
        wanted = [a for a in (*after["managed_policies"], after["boundary"]) if a and a not in declared]
        facts["documents"] = {arn: read_managed_document(clients, arn) for arn in wanted}
        return facts

    def plan(self, resource: IamRole, current: RoleState | None, env: PlanEnv,
             facts: RoleFacts | None = None) -> Plan:
        """Plan the calls from ``current`` to the declared role, and prove its ``expect:``. Pure."""
        res = resource
        plan = Plan(resource=res.key, before=_view(current))
        if res.state == "absent":
            if current is not None:
                plan.changes = _delete_changes(current)
            return plan
        desired = _desired(res, env)
        if current is None:
            _plan_create(plan, res, desired, env)
        else:
            _plan_update(plan, res, desired, current)
        plan.notes += risk_warnings(res, _effective(res, desired, current), env, facts)
        if res.expect is not None:
            _prove(plan, res, _effective(res, desired, current), env, facts)
        return plan

    def grants(self, resource: IamRole, env: PlanEnv) -> list[Grant]:
        """Everything on the role; removing it from an instance profile is authorised on the profile."""
        on_profile = {"iam:RemoveRoleFromInstanceProfile"}
        # read only for an expect: proof, on the policies the role may have attached
        on_policies = {"iam:GetPolicy", "iam:GetPolicyVersion"}
        on_role = tuple(a for a in self.actions if a not in on_profile | on_policies)
        grants = [
            Grant(on_role, (resource.arn(env.ctx),)),
            Grant(tuple(a for a in self.actions if a in on_profile), (env.ctx.iam_arn("instance-profile", "*"),)),
        ]
        proof_arns = _proof_policy_arns(resource, env) if resource.expect is not None else ()
        if not (resource.is_managed("managed_policies") and resource.purge_policies):
            # the customer-managed policies attached outside the playbook are read for the warnings
            proof_arns = tuple(sorted({*proof_arns, env.ctx.iam_arn("policy", "*")}))
        if proof_arns:
            grants.append(Grant(tuple(sorted(on_policies)), proof_arns))
        return grants


def _outside_attached_arns(res: IamRole, env: PlanEnv, current: RoleState) -> list[str]:
    """The attached policies that stay attached without the playbook declaring them."""
    if res.is_managed("managed_policies") and res.purge_policies:
        return []
    declared = {env.ref_arn(p, _POLICY_KINDS) for p in res.managed_policies or []}
    return [a for a in current["managed_policies"] if a not in declared]


def _is_aws_managed(arn: str) -> bool:
    return ":iam::aws:policy/" in arn


def _outside_policies(clients: AwsClients, res: IamRole, env: PlanEnv, current: RoleState) -> RoleFacts:
    """Read the documents of the policies the playbook leaves attached without managing them (read calls only).

    AWS-managed policies are judged by name (AdministratorAccess), not read.
    """
    facts: RoleFacts = {}
    outside = _outside_attached_arns(res, env, current)
    if outside:
        facts["outside_attached"] = {a: None if _is_aws_managed(a) else read_managed_document(clients, a)
                                     for a in outside}
    # inline documents the playbook does not manage are never read for this; when an expect: proof
    # had them read anyway, they are judged too
    inline = current.get("inline_policies")
    if not res.is_managed("inline_policies") and inline:
        facts["outside_inline"] = dict(inline)
    return facts


ADMIN_POLICY_NAMES = ("AdministratorAccess",)


def risk_warnings(res: IamRole, after: _Effective, env: PlanEnv, facts: RoleFacts | None) -> list[str]:
    """Warnings about high-risk state the plan leaves in place: administrator policies the playbook does
    not manage, and a trust open to another account without an ExternalId. Pure."""
    from iamflow.policy.lint import grants_admin, lint_policy

    label = f"role {res.name}"
    facts = facts or {}
    out: list[str] = []
    for arn, doc in sorted((facts.get("outside_attached") or {}).items()):
        admin = last_segment(arn) in ADMIN_POLICY_NAMES if _is_aws_managed(arn) else bool(doc and grants_admin(doc))
        if admin:
            out.append(f"warning: {label} has the administrator policy {last_segment(arn)} attached outside this "
                       f"playbook ({_why_unmanaged(res, 'managed_policies')}); it is left attached "
                       f"(declare managed_policies, or set exclusive: true, to detach it)")
    for name, doc in sorted((facts.get("outside_inline") or {}).items()):
        if grants_admin(doc):
            out.append(f"warning: {label} has the inline policy {name} allowing * on * outside this playbook "
                       "(inline_policies is not managed here); it is left in place (declare inline_policies, or "
                       "set exclusive: true, to delete it)")
    for finding in lint_policy(after["trust_policy"], profile="trust", own_account=env.ctx.account_id,
                               credentials=False):
        if finding.rule == "cross-account-trust-without-external-id":
            out.append(f"warning: the trust policy of {label} {finding.message.split('; ')[0]}")
    return out


def _why_unmanaged(res: IamRole, field: str) -> str:
    if res.is_managed(field):
        return "purge_policies is false"
    return f"{field} is not managed here"


def _proof_policy_arns(res: IamRole, env: PlanEnv) -> tuple[str, ...]:
    """The policies an ``expect:`` proof reads: the declared external ones; any, when the role leaves them open.

    A role that declares its attached policies (purged of others) and its boundary is proven with
    exactly those, and only the ones the playbook does not declare are read. Otherwise what is
    attached now takes part, whatever it is.
    """
    if not (res.is_managed("managed_policies") and res.purge_policies and res.is_managed("boundary")):
        return (env.ctx.iam_arn("policy", "*"), f"arn:{env.ctx.partition}:iam::aws:policy/*")
    declared = _declared_documents(env)
    refs = [*(res.managed_policies or []), *([res.boundary] if res.boundary else [])]
    return tuple(sorted({a for a in (env.ref_arn(r, _POLICY_KINDS) for r in refs) if a not in declared}))


def read_managed_document(clients: AwsClients, arn: str) -> dict[str, Any] | None:
    """The default version's document of a managed policy, cached for the run (AWS-managed ones repeat)."""
    cache: dict[str, dict[str, Any] | None] = clients.run_cache("iam-policy-documents")
    if arn not in cache:
        iam = clients.client("iam")
        got = not_found(iam, "get_policy", PolicyArn=arn)
        doc: dict[str, Any] | None = None
        if got is not None:
            version = not_found(iam, "get_policy_version", PolicyArn=arn,
                                VersionId=got["Policy"]["DefaultVersionId"])
            if version is not None:
                doc = current_document(version["PolicyVersion"]["Document"])
        cache[arn] = doc
    return cache[arn]


class _Effective(TypedDict):
    trust_policy: dict[str, Any]
    boundary: str | None
    managed_policies: list[str]
    inline_policies: dict[str, Any]
    tags: dict[str, str]


def _effective(res: IamRole, desired: DesiredRole, current: RoleState | None) -> _Effective:
    """The role as it will be after the apply: declared where the playbook manages, else as it is."""
    have: RoleState | None = current
    managed = desired["managed_policies"] if res.is_managed("managed_policies") else (
        list(have["managed_policies"]) if have else [])
    if res.is_managed("managed_policies") and have and not res.purge_policies:
        managed = sorted({*managed, *have["managed_policies"]})
    inline = desired["inline_policies"] if res.is_managed("inline_policies") else (
        dict(have.get("inline_policies") or {}) if have else {})
    return {
        "trust_policy": desired["trust_policy"],
        "boundary": desired["boundary"] if res.is_managed("boundary") else (have["boundary"] if have else None),
        "managed_policies": managed,
        "inline_policies": inline,
        "tags": dict(desired["tags"] if desired["tags"] is not None else (have["tags"] if have else {})),
    }


def _declared_documents(env: PlanEnv) -> dict[str, dict[str, Any]]:
    """ARN -> document of every managed policy the playbook declares present."""
    out: dict[str, dict[str, Any]] = {}
    for r in env.playbook.resources:
        if r.kind == "iam_managed_policy" and r.state == "present":
            doc = getattr(r, "document", None)
            if isinstance(doc, dict):
                out[r.arn(env.ctx)] = desired_document(doc)
    return out


def declared_principal(res: IamRole, env: PlanEnv, current: RoleState | None = None,
                       documents: dict[str, dict[str, Any] | None] | None = None) -> Any:
    """The role as the playbook declares it (over ``current`` for what it leaves unmanaged), for the evaluator."""
    return principal_policies(res, _effective(res, _desired(res, env), current), env, documents or {})


def live_expectations(clients: AwsClients, res: IamRole, env: PlanEnv, current: RoleState) -> list[Any]:
    """The role's ``expect:`` entries answered against the live role (the sweep), read calls only."""
    from iamflow.resources.expectations import check_expectations

    assert res.expect is not None
    live: _Effective = {
        "trust_policy": current["trust_policy"],
        "boundary": current["boundary"],
        "managed_policies": list(current["managed_policies"]),
        "inline_policies": dict(current.get("inline_policies") or {}),
        "tags": dict(current["tags"]),
    }
    wanted = [a for a in (*live["managed_policies"], live["boundary"]) if a]
    documents = {arn: read_managed_document(clients, arn) for arn in wanted}
    # the live documents, never the playbook's: what is attached now is what decides
    who = principal_policies(res, live, env, documents, declared=False)
    return check_expectations(res.expect, who)


def principal_policies(res: IamRole, after: _Effective, env: PlanEnv,
                       documents: dict[str, dict[str, Any] | None], *, declared: bool = True) -> Any:
    """What the evaluator needs of the role: its identity policies, boundary, trust and tags.

    :param declared: take the documents of the playbook's own managed policies as declared (a plan);
        False takes every document from ``documents`` (the live ones, for a sweep).
    """
    from iamflow.policy.evaluate import Policy
    from iamflow.resources.expectations import PrincipalPolicies

    known = {**documents, **_declared_documents(env)} if declared else dict(documents)
    identity: list[Policy] = [Policy(f"inline policy {name} of role {res.name}", doc)
                              for name, doc in sorted(after["inline_policies"].items())]
    unknown: list[str] = []
    for arn in after["managed_policies"]:
        doc = known.get(arn)
        if doc is None:
            unknown.append(arn)
        else:
            identity.append(Policy(arn, doc))
    boundary = None
    if after["boundary"]:
        doc = known.get(after["boundary"])
        if doc is None:
            unknown.append(after["boundary"])
        boundary = Policy(f"permissions boundary {after['boundary']}", doc or {"Statement": []})
    return PrincipalPolicies(
        arn=res.arn(env.ctx), account=env.ctx.account_id, identity=tuple(identity), boundary=boundary,
        trust=Policy(f"trust policy of role {res.name}", after["trust_policy"]), tags=after["tags"],
        unknown=tuple(unknown),
    )


def _prove(plan: Plan, res: IamRole, after: _Effective, env: PlanEnv, facts: RoleFacts | None) -> None:
    """Evaluate every ``expect:`` entry against the role as declared; block the plan when one fails."""
    from iamflow.resources.expectations import check_expectations, record

    assert res.expect is not None
    who = principal_policies(res, after, env, (facts or {}).get("documents") or {})
    if who.unknown:
        plan.notes.append("expect: these policies could not be read, so they count as granting nothing: "
                          + ", ".join(who.unknown))
    record(plan, check_expectations(res.expect, who), f"role {res.name}")


def _desired(res: IamRole, env: PlanEnv) -> DesiredRole:
    """The declared role with references resolved to ARNs."""
    return {
        "trust_policy": desired_document(res.trust_policy),
        "description": res.description,
        "max_session_duration": res.max_session_duration or DEFAULT_MAX_SESSION,
        "boundary": env.ref_arn(res.boundary, _POLICY_KINDS) if res.boundary else None,
        "managed_policies": [env.ref_arn(p, _POLICY_KINDS) for p in res.managed_policies or []],
        "inline_policies": {n: desired_document(d) for n, d in (res.inline_policies or {}).items()},
        "tags": desired_tags(env, res),
    }


def _plan_create(plan: Plan, res: IamRole, desired: DesiredRole, env: PlanEnv) -> None:
    """Create the role with everything CreateRole accepts in one call, then attach and put."""
    name = res.name
    params: dict[str, Any] = {
        "RoleName": name,
        "Path": res.path,
        "AssumeRolePolicyDocument": render_for_api(desired["trust_policy"]),
    }
    if desired["description"]:
        params["Description"] = desired["description"]
    if res.max_session_duration:
        params["MaxSessionDuration"] = res.max_session_duration
    if desired["boundary"]:
        params["PermissionsBoundary"] = desired["boundary"]
    tags = creation_tags(env, res, desired["tags"])
    params["Tags"] = tags_to_list(tags, "Key", "Value")
    plan.changes.append(Change("iam", "create_role", params, f"create role {name}",
                               adopt=adopt_by_name("iam", "get_role", RoleName=name)))
    for arn in desired["managed_policies"]:
        plan.changes.append(_attach(name, arn))
    if res.is_managed("inline_policies"):
        for policy_name, doc in desired["inline_policies"].items():
            plan.changes.append(_put_inline(name, policy_name, doc))
    plan.after = {
        "name": name,
        "path": res.path,
        "description": desired["description"] or None,
        "max_session_duration": desired["max_session_duration"],
        "trust_policy": view_document(desired["trust_policy"]),
        "boundary": desired["boundary"],
        "managed_policies": sorted(desired["managed_policies"]),
        "inline_policies": {n: view_document(d) for n, d in sorted(desired["inline_policies"].items())},
        "tags": dict(sorted(tags.items())),
    }


def _plan_update(plan: Plan, res: IamRole, desired: DesiredRole, current: RoleState) -> None:
    """Plan one call per attribute that differs, for the attributes the playbook manages."""
    name = res.name
    label = f"role {name}"
    after = dict(plan.before or {})
    changes = plan.changes

    if res.is_managed("path") and res.path != current["path"]:
        plan.notes.append(
            f"{label}: path cannot change without replacement (current {current['path']!r}, "
            f"declared {res.path!r}); left as is"
        )

    if not policies_equal(current["trust_policy"], desired["trust_policy"]):
        changes.append(
            Change(
                "iam",
                "update_assume_role_policy",
                {"RoleName": name, "PolicyDocument": render_for_api(desired["trust_policy"])},
                f"update the trust policy of {label}",
            )
        )
        after["trust_policy"] = view_document(desired["trust_policy"])

    _plan_update_role(changes, after, res, desired, current)

    if res.is_managed("boundary"):
        want, have = desired["boundary"], current["boundary"]
        if want and want != have:
            changes.append(
                Change(
                    "iam",
                    "put_role_permissions_boundary",
                    {"RoleName": name, "PermissionsBoundary": want},
                    f"set permissions boundary {last_segment(want)} on {label}",
                )
            )
        elif not want and have:
            changes.append(
                Change(
                    "iam",
                    "delete_role_permissions_boundary",
                    {"RoleName": name},
                    f"remove the permissions boundary from {label}",
                )
            )
        after["boundary"] = want

    if res.is_managed("managed_policies"):
        have_arns = list(current["managed_policies"])
        want_arns = desired["managed_policies"]
        # Detach before attaching: a role holds at most 10 managed policies by default.
        detach = [a for a in have_arns if a not in want_arns] if res.purge_policies else []
        attach = [a for a in want_arns if a not in have_arns]
        for arn in detach:
            changes.append(_detach(name, arn))
        for arn in attach:
            changes.append(_attach(name, arn))
        after["managed_policies"] = sorted({*(a for a in have_arns if a not in detach), *attach})

    if res.is_managed("inline_policies"):
        have_docs: dict[str, Any] = current.get("inline_policies") or {}
        want_docs: dict[str, Any] = desired["inline_policies"]
        # Delete before putting: the inline documents of a role share one size quota.
        for policy_name in current["inline_policy_names"]:
            if policy_name not in want_docs:
                changes.append(_delete_inline(name, policy_name))
        inline_after: dict[str, Any] = {}
        for policy_name, doc in want_docs.items():
            if policy_name in have_docs and policies_equal(have_docs[policy_name], doc):
                # Keep the stored form so that an equivalent document shows no diff.
                inline_after[policy_name] = view_document(have_docs[policy_name])
            else:
                changes.append(_put_inline(name, policy_name, doc))
                inline_after[policy_name] = view_document(doc)
        after["inline_policies"] = dict(sorted(inline_after.items()))

    tag_calls, after["tags"] = tag_changes(
        current["tags"],
        desired["tags"],
        purge=res.purge_tags,
        service="iam",
        tag_op="tag_role",
        untag_op="untag_role",
        id_params={"RoleName": name},
        label=label,
    )
    changes += tag_calls
    plan.after = after


def _plan_update_role(
    changes: list[Change],
    after: dict[str, Any],
    res: IamRole,
    desired: DesiredRole,
    current: RoleState,
) -> None:
    """Plan UpdateRole for the description and the max session duration, when managed and different."""
    what: list[str] = []
    description = current.get("description")
    if res.is_managed("description") and (desired["description"] or "") != (description or ""):
        description = desired["description"] or ""
        what.append("description")
    max_session = current["max_session_duration"]
    if res.is_managed("max_session_duration") and desired["max_session_duration"] != max_session:
        max_session = desired["max_session_duration"]
        what.append("max session duration")
    if not what:
        return
    # Send both fields every time: moto resets an omitted Description to none and an omitted
    # MaxSessionDuration to 3600, so sending only the changed one would clobber the other.
    params: dict[str, Any] = {"RoleName": res.name, "MaxSessionDuration": max_session}
    if description is not None:
        params["Description"] = description
    changes.append(
        Change("iam", "update_role", params, f"update the {' and '.join(what)} of role {res.name}")
    )
    after["description"] = description or None
    after["max_session_duration"] = max_session


def _attach(role: str, arn: str) -> Change:
    return Change(
        "iam",
        "attach_role_policy",
        {"RoleName": role, "PolicyArn": arn},
        f"attach policy {last_segment(arn)} to role {role}",
    )


def _detach(role: str, arn: str) -> Change:
    return Change(
        "iam",
        "detach_role_policy",
        {"RoleName": role, "PolicyArn": arn},
        f"detach policy {last_segment(arn)} from role {role}",
    )


def _put_inline(role: str, policy_name: str, doc: dict[str, Any]) -> Change:
    return Change(
        "iam",
        "put_role_policy",
        {"RoleName": role, "PolicyName": policy_name, "PolicyDocument": render_for_api(doc)},
        f"put inline policy {policy_name} on role {role}",
    )


def _delete_inline(role: str, policy_name: str) -> Change:
    return Change(
        "iam",
        "delete_role_policy",
        {"RoleName": role, "PolicyName": policy_name},
        f"delete inline policy {policy_name} from role {role}",
    )


def _view(current: RoleState | None) -> dict[str, Any] | None:
    """The diffable view of a read role (inline documents that were not read show as null)."""
    if current is None:
        return None
    docs = current.get("inline_policies") or {}
    return {
        "name": current["name"],
        "path": current["path"],
        "description": current.get("description") or None,
        "max_session_duration": current["max_session_duration"],
        "trust_policy": view_document(current["trust_policy"]),
        "boundary": current.get("boundary"),
        "managed_policies": sorted(current["managed_policies"]),
        "inline_policies": {n: view_document(docs.get(n)) for n in sorted(current["inline_policy_names"])},
        "tags": dict(sorted(current["tags"].items())),
    }


def _delete_changes(current: RoleState) -> list[Change]:
    """Remove what IAM refuses a role deletion over (DeleteConflict), then delete the role."""
    name = current["name"]
    changes = [
        Change(
            "iam",
            "remove_role_from_instance_profile",
            {"InstanceProfileName": profile, "RoleName": name},
            f"remove role {name} from instance profile {profile}",
        )
        for profile in current.get("instance_profiles") or []
    ]
    changes += [_detach(name, arn) for arn in current["managed_policies"]]
    changes += [_delete_inline(name, policy_name) for policy_name in current["inline_policy_names"]]
    changes.append(Change("iam", "delete_role", {"RoleName": name}, f"delete role {name}"))
    return changes
