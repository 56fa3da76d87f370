"""A principal's live policies, for the offline evaluator: from one authorization-details snapshot.

A role's policies are its inline and attached ones; a user's add those of its groups. The
boundary comes with them. The resource policy a request needs is read on its own: a role's trust
(in the snapshot), a KMS key policy (``GetKeyPolicy``), a secret's (``GetResourcePolicy``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from iamflow.aws.errors import not_found
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
                    context: Mapping[str, tuple[str, ...]]) -> tuple[Request, PolicySet, list[str]]:
    """The request and the live policies that decide it; read calls only."""
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
    policies = PolicySet(identity=who.identity, boundary=who.boundary, resource=resource_policy,
                         resource_account=resource_account, resource_kind=kind)
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
