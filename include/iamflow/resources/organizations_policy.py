"""AWS Organizations service and resource control policies: document, description, tags, attachments.

Runs from the management account, or a member account that the organization delegates policy
management to. AWS facts this handler follows:

* A policy is found by name within its type (names are unique per type; ``DuplicatePolicyException``
  otherwise), so ``CreatePolicy`` is idempotent by name: its retries stay on, and an ambiguous
  failure is resolved by finding the policy by name (adopted).
* Attachments are converged exactly: attach to each declared target, then detach from targets
  no longer declared (attaching first, so that a target never passes through having no SCP,
  which AWS refuses: every root, OU and account keeps at least one). ``absent`` detaches the
  policy from every target, then deletes it.
* ``FullAWSAccess`` and ``RCPFullAWSAccess`` (AWS-managed, attached everywhere when the type is
  enabled) are never detached unless a playbook declares them, by name; ``RCPFullAWSAccess``
  cannot be detached at all (AWS refuses), so a plan that would is blocked.
* A policy type must be enabled on the root before a policy of that type can be attached; a plan
  that attaches one first enables it (``EnablePolicyType``, which attaches the AWS-managed policy
  everywhere, so nothing is denied by the enabling itself).
* Targets given by OU name are resolved by walking the OU tree from the root; a name that
  matches no OU, or more than one, blocks the plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypedDict

from iamflow.aws.errors import error_code, paginate
from iamflow.errors import IamflowError
from iamflow.policy.document import parse_document, policies_equal
from iamflow.policy.tags import tags_from_list, tags_to_list
from iamflow.resources._common import (
    creation_tags,
    desired_document,
    desired_tags,
    tag_changes,
    view_document,
)
from iamflow.resources.base import Change, Grant, Output, Plan, PlanEnv, ResourceHandler, dumps
from iamflow.spec.kinds_orgs import AWS_MANAGED, RCP, SCP, OrganizationsPolicy, target_kind

if TYPE_CHECKING:
    from iamflow.aws.clients import AwsClients

NOT_IN_ORGANIZATION = "AWSOrganizationsNotInUseException"


class OrgPolicyState(TypedDict):
    """A policy as read: id, ARN, document, description, tags and the ids it is attached to."""

    id: str
    arn: str
    name: str
    description: str
    document: dict[str, Any] | None
    aws_managed: bool
    tags: dict[str, str]
    targets: list[str]


@dataclass(frozen=True)
class OrgFacts:
    """The organization around the policy: root, policy-type status, targets resolved to ids."""

    root_id: str
    type_enabled: bool
    resolved: dict[str, str] = field(default_factory=dict)  # declared target -> id
    unresolved: dict[str, str] = field(default_factory=dict)  # declared target -> why


def _find_policy(org: Any, name: str, policy_type: str) -> dict[str, Any] | None:
    for summary in paginate(org, "list_policies", "Policies", Filter=policy_type):
        if summary.get("Name") == name:
            return dict(summary)
    return None


def _organization_error(exc: Exception) -> IamflowError:
    return IamflowError("the account is not a member of an AWS Organization (AWSOrganizationsNotInUseException); "
                        "organizations_policy runs from the management account or a delegated administrator")


class OrganizationsPolicyHandler(ResourceHandler[OrganizationsPolicy, OrgPolicyState, OrgFacts]):
    """Converge one SCP or RCP and exactly the targets it is attached to."""

    kind: ClassVar[str] = "organizations_policy"
    read_actions: ClassVar[tuple[str, ...]] = (
        "organizations:ListPolicies",
        "organizations:DescribePolicy",
        "organizations:ListTargetsForPolicy",
        "organizations:ListTagsForResource",
        "organizations:ListRoots",
        "organizations:ListOrganizationalUnitsForParent",
    )
    write_actions: ClassVar[tuple[str, ...]] = (
        "organizations:CreatePolicy",
        "organizations:UpdatePolicy",
        "organizations:DeletePolicy",
        "organizations:AttachPolicy",
        "organizations:DetachPolicy",
        "organizations:TagResource",
        "organizations:UntagResource",
        "organizations:EnablePolicyType",
    )

    def read(self, clients: AwsClients, resource: OrganizationsPolicy, env: PlanEnv) -> OrgPolicyState | None:
        """Find the policy by name in its type; its document, tags and targets."""
        org = clients.client("organizations")
        try:
            summary = _find_policy(org, resource.name, resource.type)
        except Exception as exc:
            if error_code(exc) == NOT_IN_ORGANIZATION:
                raise _organization_error(exc) from exc
            raise
        if summary is None:
            return None
        policy_id = summary["Id"]
        described = org.describe_policy(PolicyId=policy_id)["Policy"]
        managed = bool(summary.get("AwsManaged"))
        content = described.get("Content")
        tags = [] if managed else org.list_tags_for_resource(ResourceId=policy_id).get("Tags") or []
        targets = paginate(org, "list_targets_for_policy", "Targets", PolicyId=policy_id)
        return {
            "id": policy_id,
            "arn": summary.get("Arn", ""),
            "name": summary["Name"],
            "description": summary.get("Description") or "",
            "document": parse_document(content) if content else None,
            "aws_managed": managed,
            "tags": tags_from_list(tags, "Key", "Value"),
            "targets": sorted(t["TargetId"] for t in targets),
        }

    def lookup(self, clients: AwsClients, resource: OrganizationsPolicy, env: PlanEnv,
               current: OrgPolicyState | None) -> OrgFacts | None:
        """The root, whether the type is enabled on it, and the declared targets as ids."""
        org = clients.client("organizations")
        try:
            roots = paginate(org, "list_roots", "Roots")
        except Exception as exc:
            if error_code(exc) == NOT_IN_ORGANIZATION:
                raise _organization_error(exc) from exc
            raise
        root = roots[0]
        enabled = any(t.get("Type") == resource.type and t.get("Status") == "ENABLED"
                      for t in root.get("PolicyTypes") or [])
        resolved: dict[str, str] = {}
        unresolved: dict[str, str] = {}
        wanted_names = {t for t in resource.targets or [] if target_kind(t) == "ou-name"}
        by_name = _ous_by_name(org, root["Id"]) if wanted_names else {}
        for target in resource.targets or []:
            kind = target_kind(target)
            if kind == "root":
                resolved[target] = root["Id"]
            elif kind in ("ou", "account"):
                resolved[target] = target
            elif len(by_name.get(target, [])) == 1:
                resolved[target] = by_name[target][0]
            else:
                unresolved[target] = ("no OU has this name" if not by_name.get(target)
                                      else f"{len(by_name[target])} OUs have this name: use the OU id")
        return OrgFacts(root["Id"], enabled, resolved, unresolved)

    def plan(self, resource: OrganizationsPolicy, current: OrgPolicyState | None, env: PlanEnv,
             facts: OrgFacts | None = None) -> Plan:
        """Plan the calls from ``current`` to the declared policy and attachments. Pure."""
        res = resource
        plan = Plan(resource=res.key, before=_view(current))
        if res.state == "absent":
            if current is not None:
                for target in current["targets"]:
                    plan.changes.append(_detach(res, current["id"], target))
                plan.changes.append(Change("organizations", "delete_policy", {"PolicyId": current["id"]},
                                           f"delete {_label(res)}"))
            return plan
        if facts is not None and facts.unresolved:
            plan.blocked = "; ".join(f"target {t!r} of {_label(res)}: {why}" for t, why in facts.unresolved.items())
            return plan
        if res.aws_managed and current is None:
            plan.blocked = f"{res.name} does not exist: the {res.type} policy type is not enabled on the root"
            return plan
        policy_id: str | Output
        if current is None:
            policy_id = _plan_create(plan, res, env)
            have_targets: list[str] = []
        else:
            policy_id = current["id"]
            have_targets = current["targets"]
            plan.after = dict(plan.before or {})
            if not res.aws_managed:
                _plan_update(plan, res, env, current)
        if res.targets is not None and facts is not None:
            _plan_targets(plan, res, policy_id, have_targets, facts)
        if res.expect is not None and not plan.blocked and isinstance(res.document, dict):
            from iamflow.resources.expectations import record

            record(plan, org_policy_expectations(res, desired_document(res.document), env), _label(res))
        return plan

    def arn(self, resource: OrganizationsPolicy, env: PlanEnv, current: OrgPolicyState | None) -> str:
        if current is not None:
            return current["arn"]
        return f"arn:{env.ctx.partition}:organizations::{env.ctx.account_id}:policy/{resource.type.lower()}/{resource.name}"

    def grants(self, resource: OrganizationsPolicy, env: PlanEnv) -> list[Grant]:
        """Organizations actions on the organization's policies, roots, OUs and accounts; lists on ``*``."""
        p, account = env.ctx.partition, env.ctx.account_id
        scoped = (f"arn:{p}:organizations::{account}:policy/o-*/{resource.type.lower()}/p-*",
                  f"arn:{p}:organizations::{account}:root/o-*/r-*",
                  f"arn:{p}:organizations::{account}:ou/o-*/ou-*",
                  f"arn:{p}:organizations::{account}:account/o-*/*")
        lists = ("organizations:ListPolicies", "organizations:ListRoots",
                 "organizations:ListOrganizationalUnitsForParent", "organizations:CreatePolicy")
        return [Grant(lists, ("*",)), Grant(tuple(a for a in self.actions if a not in lists), scoped)]


# what the AWS-managed policy of each type allows (its document, as AWS publishes it)
FULL_ACCESS = {
    "SERVICE_CONTROL_POLICY": {"Version": "2012-10-17",
                               "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
    "RESOURCE_CONTROL_POLICY": {"Version": "2012-10-17",
                                "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]},
}
# the account an expectation's default caller lives in: any member account (not the management
# account, to which SCPs never apply)
EXAMPLE_MEMBER = "111111111111"


def org_policy_expectations(res: OrganizationsPolicy, document: dict[str, Any], env: PlanEnv) -> list[Any]:
    """The ``expect:`` entries answered under ``document`` and the AWS-managed policy of its type, at one level.

    The caller holds an identity grant of everything: what an entry proves is what this policy
    takes away. An RCP is evaluated on the resource's side (its account is the caller's unless the
    resource's ARN names another).
    """
    from iamflow.policy.evaluate import Policy, PolicySet, Principal, Request
    from iamflow.resources.expectations import ExpectationResult, evaluate_request

    assert res.expect is not None
    own = Policy(_label(res), dict(document))
    level = (own, Policy(AWS_MANAGED[res.type], FULL_ACCESS[res.type]))
    everything = Policy("the caller's own policies (a grant of everything)", FULL_ACCESS[SCP])
    default = f"arn:{env.ctx.partition}:iam::{EXAMPLE_MEMBER}:role/expectation-subject"
    results = []
    for bucket, index, entry in res.expect.entries():
        assert entry.action is not None and entry.resource is not None
        who = entry.principal or default
        request = Request(Principal(who), entry.action, entry.resource, entry.context_values())
        policies = (PolicySet(identity=(everything,), scps=(level,)) if res.type == SCP
                    else PolicySet(identity=(everything,), rcps=(level,)))
        text = f"{who} {entry.describe()}" if entry.principal else entry.describe()
        results.append(ExpectationResult(bucket, index, entry, evaluate_request(request, policies), text))
    return results


def _label(res: OrganizationsPolicy) -> str:
    return f"{'RCP' if res.type == RCP else 'SCP'} {res.name}"


def _ous_by_name(org: Any, root_id: str) -> dict[str, list[str]]:
    """Every OU of the organization by name (a breadth-first walk from the root; at most 5 levels deep)."""
    out: dict[str, list[str]] = {}
    parents = [root_id]
    while parents:
        children: list[str] = []
        for parent in parents:
            for ou in paginate(org, "list_organizational_units_for_parent", "OrganizationalUnits", ParentId=parent):
                out.setdefault(ou["Name"], []).append(ou["Id"])
                children.append(ou["Id"])
        parents = children
    return out


def _plan_create(plan: Plan, res: OrganizationsPolicy, env: PlanEnv) -> Output:
    doc = desired_document(res.document)
    tags = creation_tags(env, res, desired_tags(env, res))
    params: dict[str, Any] = {"Name": res.name, "Type": res.type, "Content": dumps(doc),
                              "Description": res.description or "", "Tags": tags_to_list(tags, "Key", "Value")}
    plan.changes.append(Change("organizations", "create_policy", params, f"create {_label(res)}",
                               publish={"policy_id": ("Policy", "PolicySummary", "Id")}, adopt=_adopt_policy))
    plan.after = {"name": res.name, "description": res.description or "",
                  "document": view_document(doc), "tags": dict(sorted(tags.items())), "targets": []}
    return Output("policy_id", "the new policy's id", f"creating {_label(res)} published no id")


def _plan_update(plan: Plan, res: OrganizationsPolicy, env: PlanEnv, current: OrgPolicyState) -> None:
    after = plan.after if plan.after is not None else {}
    update: dict[str, Any] = {}
    doc = desired_document(res.document)
    if not policies_equal(doc, current["document"]):
        update["Content"] = dumps(doc)
        after["document"] = view_document(doc)
    if res.is_managed("description") and (res.description or "") != current["description"]:
        update["Description"] = res.description or ""
        after["description"] = res.description or ""
    if update:
        what = " and ".join(w for w, k in (("document", "Content"), ("description", "Description")) if k in update)
        plan.changes.append(Change("organizations", "update_policy", {"PolicyId": current["id"], **update},
                                   f"update the {what} of {_label(res)}"))
    tag_calls, after["tags"] = tag_changes(
        current["tags"], desired_tags(env, res), purge=res.purge_tags, service="organizations",
        tag_op="tag_resource", untag_op="untag_resource", id_params={"ResourceId": current["id"]}, label=_label(res),
    )
    plan.changes += tag_calls


def _plan_targets(plan: Plan, res: OrganizationsPolicy, policy_id: str | Output, have: list[str],
                  facts: OrgFacts) -> None:
    want = sorted(set(facts.resolved.values()))
    to_attach = [t for t in want if t not in have]
    to_detach = [t for t in have if t not in want]
    if to_attach and not facts.type_enabled:
        plan.changes.append(Change("organizations", "enable_policy_type",
                                   {"RootId": facts.root_id, "PolicyType": res.type},
                                   f"enable {res.type} on the root {facts.root_id} (AWS attaches "
                                   f"{AWS_MANAGED[res.type]} everywhere)"))
    if to_detach and res.aws_managed and res.type == RCP:
        plan.blocked = (f"{res.name} cannot be detached (AWS refuses); it stays on "
                        f"{', '.join(to_detach)}: add them to targets")
        return
    for target in to_attach:
        plan.changes.append(Change("organizations", "attach_policy", {"PolicyId": policy_id, "TargetId": target},
                                   f"attach {_label(res)} to {target}"))
    for target in to_detach:
        plan.changes.append(_detach(res, policy_id, target))
    if plan.after is not None:
        plan.after["targets"] = want


def _detach(res: OrganizationsPolicy, policy_id: str | Output, target: str) -> Change:
    return Change("organizations", "detach_policy", {"PolicyId": policy_id, "TargetId": target},
                  f"detach {_label(res)} from {target}")


def _adopt_policy(clients: AwsClients, params: dict[str, Any]) -> dict[str, Any] | None:
    """The policy a create may have made, by name and type."""
    found = _find_policy(clients.client("organizations"), params["Name"], params["Type"])
    return None if found is None else {"Policy": {"PolicySummary": found}}


def _view(current: OrgPolicyState | None) -> dict[str, Any] | None:
    if current is None:
        return None
    return {"name": current["name"], "description": current["description"],
            "document": view_document(current["document"]), "tags": dict(sorted(current["tags"].items())),
            "targets": list(current["targets"])}
