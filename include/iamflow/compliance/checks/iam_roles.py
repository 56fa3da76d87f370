"""IAM roles beyond the usual scanners: cross-account trust without ExternalId, and required permission boundaries."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from iamflow.compliance.config import ComplianceConfig
from iamflow.compliance.findings import Result, errored, failed, passed
from iamflow.compliance.registry import check
from iamflow.compliance.snapshot import AUTHORIZATION_DETAILS, Snapshot
from iamflow.policy.lint import lint_policy

CROSS_ACCOUNT_RULE = "cross-account-trust-without-external-id"


@check(
    title="Roles trusted by another account require an ExternalId",
    severity="high",
    description="A role whose trust policy lets another AWS account (or '*') call sts:AssumeRole has a "
    "StringEquals-style condition on sts:ExternalId (the confused-deputy guard). Same rule as the "
    "playbook lint's cross-account-trust-without-external-id.",
    remediation="Add a Condition {\"StringEquals\": {\"sts:ExternalId\": \"<shared id>\"}} to the trust statement, "
    "agreed with the trusted party, or remove the other account from the trust policy.",
    needs=(AUTHORIZATION_DETAILS,),
    service="iam",
    resource_type="AwsIamRole",
)
def iam_role_cross_account_trust_requires_external_id(
    snapshot: Snapshot, config: ComplianceConfig, now: datetime
) -> Iterator[Result]:
    """FAIL per role another account may assume without an ExternalId."""
    assert snapshot.authorization is not None
    for role in snapshot.authorization.roles:
        if role.is_service_linked:
            continue
        if role.trust_policy is None:
            yield errored(role.arn, f"Role {role.name}: the trust policy was not returned.", resource_id=role.name,
                          tags=role.tags)
            continue
        problems = [f for f in lint_policy(role.trust_policy, profile="trust", own_account=snapshot.account_id)
                    if f.rule == CROSS_ACCOUNT_RULE]
        if problems:
            yield failed(role.arn, f"Role {role.name}: {problems[0].message}.", resource_id=role.name, tags=role.tags)
        else:
            yield passed(role.arn, f"Role {role.name} cannot be assumed from another account without an ExternalId.",
                         resource_id=role.name, tags=role.tags)


@check(
    title="Selected roles have a permissions boundary",
    severity="medium",
    description="Every role matched by roles.permissions_boundary_required in compliance.yaml (path prefixes, "
    "name regexes or tags, e.g. path /developers/) has a permissions boundary. No selector, no findings.",
    remediation="Set the role's permissions boundary (PutRolePermissionsBoundary) to the boundary policy the "
    "playbook for that team declares.",
    needs=(AUTHORIZATION_DETAILS,),
    service="iam",
    resource_type="AwsIamRole",
)
def iam_role_permissions_boundary_required(snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> Iterator[Result]:
    """FAIL per selected role without a boundary."""
    assert snapshot.authorization is not None
    selector = config.boundary_required
    if selector.empty:
        return
    for role in snapshot.authorization.roles:
        if role.is_service_linked or not selector.matches(role.path, role.name, role.tags):
            continue
        if role.permissions_boundary_arn:
            yield passed(role.arn, f"Role {role.name} has permissions boundary {role.permissions_boundary_arn}.",
                         resource_id=role.name, tags=role.tags, permissions_boundary=role.permissions_boundary_arn)
        else:
            yield failed(role.arn, f"Role {role.name} (path {role.path}) is selected for a permissions boundary but has none.",
                         resource_id=role.name, tags=role.tags, permissions_boundary=None)
