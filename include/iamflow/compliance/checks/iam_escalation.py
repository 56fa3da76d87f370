"""Privilege escalation (Prowler's names), decided by the offline evaluator from ``GetAccountAuthorizationDetails``.

- ``iam_policy_allows_privilege_escalation``: per user (with its groups' policies) and per role (not
  service-linked), the known escalation methods of :mod:`iamflow.compliance.escalation` its
  policies allow, respecting resources, conditions, explicit denies and the permissions boundary.
- ``iam_no_custom_policy_permissive_role_assumption``: per customer-managed policy, whether it lets
  its holders call ``sts:AssumeRole`` on any role at all (``Resource: "*"``, a ``NotResource``, or a
  pattern covering every role of every account).

Both read only the snapshot: the sweep's IAM calls stay the same whatever the number of users.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from iamflow.compliance.config import ComplianceConfig
from iamflow.compliance.escalation import METHODS, EscalationAnalyzer, MethodHit, PrincipalAnalysis, relax
from iamflow.compliance.findings import Result, errored, failed, passed
from iamflow.compliance.registry import CheckScope, check
from iamflow.compliance.snapshot import AUTHORIZATION_DETAILS, AuthorizationDetails, ManagedPolicy, Snapshot
from iamflow.policy import evaluate as ev

_NEEDS: CheckScope = {"needs": (AUTHORIZATION_DETAILS,), "service": "iam"}
MESSAGE_METHODS = 3  # methods named in a message; the extra field lists them all


def _auth(snapshot: Snapshot) -> AuthorizationDetails:
    assert snapshot.authorization is not None
    return snapshot.authorization


def _describe(hit: MethodHit) -> str:
    text = f"{hit.method.name} ({', '.join(hit.permissions)}"
    if hit.targets:
        text += f"{' passing' if hit.method.passes_role else ' on'} {hit.targets[0].rsplit(':', 1)[-1]}"
    elif hit.service_roles:
        text += f"; {hit.service_roles[0].rsplit(':', 1)[-1]} trusts {hit.method.service}"
    if hit.conditions:
        text += f", when its conditions on {', '.join(hit.conditions)} hold"
    return text + ")"


def _judge(analysis: PrincipalAnalysis) -> Result:
    principal = analysis.principal
    fields: dict[str, Any] = {"resource_id": principal.name, "tags": principal.tags,
                              "principal_type": principal.kind,
                              "escalation_methods": [h.to_json() for h in analysis.methods]}
    if analysis.notes:
        fields["analysis_notes"] = list(analysis.notes)
    label = f"{principal.kind.capitalize()} {principal.name}"
    if not analysis.methods:
        return passed(principal.arn, f"{label} is allowed none of the {len(METHODS)} known privilege-escalation "
                      "methods.", **fields)
    named = "; ".join(_describe(h) for h in analysis.methods[:MESSAGE_METHODS])
    more = len(analysis.methods) - MESSAGE_METHODS
    if more > 0:
        named += f"; and {more} more"
    count = len(analysis.methods)
    how = "a known method" if count == 1 else f"{count} known methods"
    return failed(principal.arn, f"{label} can escalate its privileges by {how}: {named}.", **fields)


@check(
    title="No user or role is allowed a known privilege-escalation method",
    severity="high",
    description="Per IAM user (with its groups' policies) and role (service-linked roles aside), none of the "
    f"{len(METHODS)} known privilege-escalation methods (Rhino Security Labs' 21 and those documented since: "
    "PassRole to a new Lambda, EC2, Glue, CloudFormation, CodeBuild, SageMaker or ECS workload, policy "
    "versions, access keys, login profiles, policy attachment, trust rewriting, SSM ...) is allowed by its "
    "policies, as the offline evaluator decides with resources, conditions, denies and the permissions "
    "boundary. iam:PassRole counts only on roles its service can assume.",
    remediation="Remove the permissions the finding names from the principal's policies, or scope them to "
    "resources that grant nothing more (iam:PassRole to the one role the workload needs, with an "
    "iam:PassedToService condition; policy and user management to a path the principal is not on), or set a "
    "permissions boundary that excludes them.",
    resource_type="AwsIamPrincipal",
    **_NEEDS,
)
def iam_policy_allows_privilege_escalation(
    snapshot: Snapshot, config: ComplianceConfig, now: datetime
) -> Iterator[Result]:
    """FAIL per user or role whose policies allow a known privilege-escalation method."""
    analyzer = EscalationAnalyzer(_auth(snapshot), account=snapshot.account_id, partition=snapshot.partition,
                                  region=snapshot.region)
    for principal in analyzer.principals():
        yield _judge(analyzer.analyze(principal))


# --- permissive role assumption ----------------------------------------------------------------------

# a role no specific pattern names: only "*"-like patterns cover it (every role of every account)
PROBE_ACCOUNT = "000000000000"
PROBE_ROLE = "iamflow-probe/any-role-probe"
# condition keys that narrow which roles may be assumed; any other key is about how the request is made
_ROLE_SCOPING_KEYS = frozenset({"aws:resourceaccount", "aws:resourceorgid", "aws:resourceorgpaths"})


def _allows_any_role(policy: ManagedPolicy, account: str, partition: str) -> tuple[bool, tuple[str, ...]]:
    """(allowed, the request keys the allow depends on): sts:AssumeRole on a role that only a wildcard names."""
    assert policy.document is not None
    role = f"arn:{partition}:iam::{PROBE_ACCOUNT}:role/{PROBE_ROLE}"
    holder = ev.Principal(f"arn:{partition}:iam::{account}:role/iamflow-policy-holder")
    request = ev.Request(holder, "sts:AssumeRole", role, {"aws:ResourceAccount": (PROBE_ACCOUNT,)})
    # the identity side of the request only (the other account's trust policy is not the policy's to grant):
    # evaluated as if the role were in the holder's account, with aws:ResourceAccount still the other one
    first = ev.evaluate(request, ev.PolicySet(identity=(ev.Policy(policy.arn, policy.document),),
                                              resource_account=account))
    if first.allowed:
        return True, ()
    relaxed = relax(policy.document, _ROLE_SCOPING_KEYS, resource_tags=True, principal=False)
    if not relaxed.changed:
        return False, ()
    second = ev.evaluate(request, ev.PolicySet(identity=(ev.Policy(policy.arn, relaxed.document),),
                                               resource_account=account))
    if not second.allowed:
        return False, ()
    keys = [k for t in second.deciding for k in relaxed.removed.get(t.statement, ())]
    return True, tuple(dict.fromkeys(keys))


@check(
    title="Customer-managed policies do not allow sts:AssumeRole on every role",
    severity="high",
    description="No customer-managed policy allows sts:AssumeRole (named, or through a wildcard such as "
    "'sts:*' or '*') on Resource '*', on a NotResource, or on a pattern that covers every role of every "
    "account. Conditions on how the request is made do not narrow it; conditions on the role's account do.",
    remediation="List the ARNs of the roles the policy's holders must assume (arn:aws:iam::<account>:role/<name>) "
    "instead of '*', and let each role's trust policy name who may assume it.",
    resource_type="AwsIamPolicy",
    **_NEEDS,
)
def iam_no_custom_policy_permissive_role_assumption(
    snapshot: Snapshot, config: ComplianceConfig, now: datetime
) -> Iterator[Result]:
    """FAIL per customer-managed policy allowing sts:AssumeRole on any role."""
    for policy in _auth(snapshot).policies.values():
        if policy.is_aws_managed:
            continue
        fields = {"resource_id": policy.name, "policy_version": policy.default_version_id,
                  "attachment_count": policy.attachment_count}
        if policy.document is None:
            yield errored(policy.arn, f"Policy {policy.name}: the default version's document was not returned.",
                          **fields)
            continue
        allowed, keys = _allows_any_role(policy, snapshot.account_id, snapshot.partition)
        if not allowed:
            yield passed(policy.arn, f"Policy {policy.name} does not allow sts:AssumeRole on every role.", **fields)
            continue
        when = f", when the request meets its conditions on {', '.join(keys)}" if keys else ""
        yield failed(policy.arn, f"Policy {policy.name} ({policy.attachment_count} attachment(s)) allows "
                     f"sts:AssumeRole on every role{when}; list the roles its holders need instead.",
                     conditions=list(keys), **fields)
