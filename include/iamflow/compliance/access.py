"""A principal's live policies, for the offline evaluator: from one authorization-details snapshot.

A role's policies are its inline and attached ones; a user's add those of its groups. The
boundary comes with them. The resource policy a request needs is read on its own: a role's trust
(in the snapshot), a KMS key policy (``GetKeyPolicy``), a secret's (``GetResourcePolicy``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from iamflow.aws.errors import error_code, not_found, paginate
from iamflow.compliance.snapshot import AuthorizationDetails
from iamflow.compliance.snapshot import Principal as IamPrincipal
from iamflow.errors import IamflowError
from iamflow.policy.document import parse_document
from iamflow.policy.evaluate import Policy, PolicySet, Principal, Request
from iamflow.resources.expectations import PrincipalPolicies


def find_principal(auth: AuthorizationDetails, who: str) -> IamPrincipal | None:
    """A role or user by ARN or name; an assumed-role session ARN names its role."""
    if ":assumed-role/" in who:
        _, _, rest = who.partition(":assumed-role/")
        who = rest.split("/", 1)[0]
    for p in (*auth.roles, *auth.users):
        if who in (p.arn, p.name):
            return p
    return None


def principal_policies(auth: AuthorizationDetails, p: IamPrincipal) -> PrincipalPolicies:
    """Everything that decides what ``p`` may do, as the snapshot has it."""
    identity: list[Policy] = [Policy(f"inline policy {n} of {p.kind} {p.name}", d)
                              for n, d in sorted(p.inline_policies.items())]
    unknown: list[str] = []
    attached = list(p.attached_policies)
    if p.kind == "user":
        groups = {g.name: g for g in auth.groups}
        for name in p.groups:
            group = groups.get(name)
            if group is None:
                continue
            identity += [Policy(f"inline policy {n} of group {name}", d) for n, d in sorted(group.inline_policies.items())]
            attached += list(group.attached_policies)
    for _name, arn in dict.fromkeys(attached):
        policy = auth.policies.get(arn)
        if policy is None or policy.document is None:
            unknown.append(arn)
        else:
            identity.append(Policy(arn, policy.document))
    boundary = None
    if p.permissions_boundary_arn:
        policy = auth.policies.get(p.permissions_boundary_arn)
        if policy is None or policy.document is None:
            unknown.append(p.permissions_boundary_arn)
        boundary = Policy(f"permissions boundary {p.permissions_boundary_arn}",
                          policy.document if policy and policy.document else {"Statement": []})
    trust = Policy(f"trust policy of role {p.name}", p.trust_policy) if p.trust_policy is not None else None
    return PrincipalPolicies(arn=p.arn, account=p.arn.split(":")[4], identity=tuple(identity), boundary=boundary,
                             trust=trust, tags=dict(p.tags), unknown=tuple(unknown))


def live_policy_set(clients: Any, principal: str, action: str, resource: str,
                    context: Mapping[str, tuple[str, ...]],
                    org_clients: Any | None = None) -> tuple[Request, PolicySet, list[str]]:
    """The request and the live policies that decide it; read calls only.

    :param org_clients: the credentials that read the organization's SCPs and RCPs (default: ``clients``).
    """
    from iamflow.compliance.collect import read_authorization_details

    auth = read_authorization_details(clients.client("iam"))
    found = find_principal(auth, principal)
    if found is None:
        raise IamflowError(f"no role or user {principal!r} in the account")
    who = principal_policies(auth, found)
    notes = [f"read from the account: {len(auth.roles)} roles, {len(auth.users)} users, "
             f"{len(auth.policies)} managed policies"]
    if who.unknown:
        notes.append("could not be read, so counted as granting nothing: " + ", ".join(who.unknown))
    resource_policy, kind = _resource_policy(clients, auth, action, resource)
    if resource_policy is not None:
        notes.append(f"resource policy: {resource_policy.name}")
    parts = resource.split(":")
    resource_account = parts[4] if len(parts) > 5 and parts[4].isdigit() else who.account
    scps, rcps, org_notes = organization_policies(org_clients or clients, who.account, resource_account)
    notes += org_notes
    policies = PolicySet(identity=who.identity, boundary=who.boundary, resource=resource_policy,
                         resource_account=resource_account, resource_kind=kind, scps=scps, rcps=rcps)
    return Request(Principal(who.arn, dict(who.tags)), action, resource, dict(context)), policies, notes


def _resource_policy(clients: Any, auth: AuthorizationDetails, action: str,
                     resource: str) -> tuple[Policy | None, Any]:
    parts = resource.split(":", 5)
    if len(parts) < 6:
        return None, "generic"
    service, rest = parts[2], parts[5]
    if action.lower().startswith("sts:assumerole") and service == "iam" and rest.startswith("role/"):
        role = next((r for r in auth.roles if r.arn == resource), None)
        if role is not None and role.trust_policy is not None:
            return Policy(f"trust policy of role {role.name}", role.trust_policy), "role-trust"
        return None, "role-trust"
    if service == "kms" and rest.startswith("key/"):
        got = not_found(clients.client("kms"), "get_key_policy", KeyId=resource, PolicyName="default")
        if got is not None:
            return Policy(f"key policy of {rest}", parse_document(got["Policy"])), "kms-key"
        return None, "kms-key"
    if service == "secretsmanager" and rest.startswith("secret:"):
        got = not_found(clients.client("secretsmanager"), "get_resource_policy", SecretId=resource)
        if got is not None and got.get("ResourcePolicy"):
            return Policy(f"resource policy of {rest}", parse_document(got["ResourcePolicy"])), "generic"
    return None, "generic"


SCP_TYPE, RCP_TYPE = "SERVICE_CONTROL_POLICY", "RESOURCE_CONTROL_POLICY"
Levels = tuple[tuple[Policy, ...], ...]


def organization_policies(org_clients: Any, account: str, resource_account: str | None) -> tuple[Levels, Levels, list[str]]:
    """The SCP levels of ``account`` and the RCP levels of ``resource_account``, with notes; read calls only."""
    org = org_clients.client("organizations")
    try:
        master = org.describe_organization()["Organization"]["MasterAccountId"]
        root = paginate(org, "list_roots", "Roots")[0]
    except Exception as exc:
        if error_code(exc) == "AWSOrganizationsNotInUseException":
            return (), (), ["the account is in no AWS Organization: no SCP or RCP applies"]
        return (), (), [f"the organization's SCPs and RCPs could not be read ({error_code(exc) or type(exc).__name__}):"
                        " evaluated without them (read them from the management account: --org-role-arn)"]
    enabled = {t.get("Type") for t in root.get("PolicyTypes") or [] if t.get("Status") == "ENABLED"}
    notes: list[str] = []
    found: dict[str, Levels] = {}
    for kind, label, who in ((SCP_TYPE, "SCPs", account), (RCP_TYPE, "RCPs", resource_account)):
        if who is None or kind not in enabled:
            continue
        if who == master:
            notes.append(f"{label} do not apply to the management account {master}")
            continue
        try:
            found[kind] = _levels(org, who, kind)
        except Exception as exc:
            notes.append(f"the {label} of account {who} could not be read ({error_code(exc) or type(exc).__name__}): "
                         "evaluated without them (read them from the management account: --org-role-arn)")
            continue
        names = ["root", *(["an OU"] * (len(found[kind]) - 2)), "the account"]
        path = " → ".join(f"{len(level)} on {name}" for name, level in zip(names, found[kind], strict=True))
        notes.append(f"{label} of account {who}, root to account: {path}")
    return found.get(SCP_TYPE, ()), found.get(RCP_TYPE, ()), notes


def _levels(org: Any, account: str, policy_type: str) -> Levels:
    """One level per node from the root down to ``account``: the policies of ``policy_type`` attached there."""
    path = [account]
    child = account
    for _depth in range(7):  # an organization nests OUs at most five deep under its root
        parent = org.list_parents(ChildId=child)["Parents"][0]
        path.insert(0, parent["Id"])
        if parent["Type"] == "ROOT":
            break
        child = parent["Id"]
    contents: dict[str, Policy] = {}
    levels = []
    for target in path:
        level = []
        for summary in paginate(org, "list_policies_for_target", "Policies", TargetId=target, Filter=policy_type):
            if summary["Id"] not in contents:
                content = org.describe_policy(PolicyId=summary["Id"])["Policy"]["Content"]
                kind = "SCP" if policy_type == SCP_TYPE else "RCP"
                contents[summary["Id"]] = Policy(f"{kind} {summary['Name']} on {target}", parse_document(content))
            level.append(contents[summary["Id"]])
        levels.append(tuple(level))
    return tuple(levels)
