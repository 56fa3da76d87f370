"""IAM roles: cross-account trust without ExternalId, service trust without a source guard, required boundaries.

The cross-service confused-deputy guard follows AWS's IAM guide ("The cross-service confused
deputy problem"): a role that an AWS service assumes on the account's behalf should condition
its trust on the calling resource with ``aws:SourceArn``, ``aws:SourceAccount``,
``aws:SourceOrgID`` or ``aws:SourceOrgPaths``. Service-linked roles are exempt (AWS owns their
trust policy), as are Secrets Manager and EKS, which AWS documents as acting only within the
calling account.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from iamflow.compliance.config import ComplianceConfig
from iamflow.compliance.findings import Result, errored, failed, passed
from iamflow.compliance.registry import check
from iamflow.compliance.snapshot import AUTHORIZATION_DETAILS, Principal, Snapshot
from iamflow.policy.lint import lint_policy, statement_list

CROSS_ACCOUNT_RULE = "cross-account-trust-without-external-id"


def _trusts(snapshot: Snapshot) -> Iterator[tuple[Principal, dict[str, Any] | Result]]:
    """Each role a trust check judges, with its trust policy, or the ERROR saying it was not returned.

    Service-linked roles are left out: AWS writes their trust, and no one can change it.
    """
    assert snapshot.authorization is not None
    for role in snapshot.authorization.roles:
        if role.is_service_linked:
            continue
        if role.trust_policy is None:
            yield role, errored(role.arn, f"Role {role.name}: the trust policy was not returned.",
                                resource_id=role.name, tags=role.tags)
        else:
            yield role, role.trust_policy


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
    for role, trust in _trusts(snapshot):
        if isinstance(trust, Result):
            yield trust
            continue
        problems = [f for f in lint_policy(trust, profile="trust", own_account=snapshot.account_id)
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


# condition keys that tie a service's call to the resource (or account/organization) it acts for
SOURCE_KEYS = frozenset({"aws:sourcearn", "aws:sourceaccount", "aws:sourceorgid", "aws:sourceorgpaths"})
# operators that pin those keys to given values (IfExists variants let a call without the key through)
_PINNING = frozenset({"stringequals", "stringlike", "arnequals", "arnlike"})
_SAME_ACCOUNT_SERVICES = frozenset({"secretsmanager.amazonaws.com", "eks.amazonaws.com"})
_ASSUME = ("sts:assumerole", "sts:*", "*")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _services(statement: dict[str, Any]) -> list[str] | None:
    """The Service principals of a statement whose only principal kind is Service, else None."""
    principal = statement.get("Principal")
    if not isinstance(principal, dict) or set(principal) != {"Service"}:
        return None
    return [s for s in _as_list(principal["Service"]) if isinstance(s, str)]


def _assumes(statement: dict[str, Any]) -> bool:
    return any(isinstance(a, str) and a.lower() in _ASSUME for a in _as_list(statement.get("Action", [])))


def _service_trust(trust: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The statements of a service role's trust (every statement an Allow of sts:AssumeRole to services), else None."""
    statements = [s for s in statement_list(trust) if isinstance(s, dict)]
    if not statements:
        return None
    for s in statements:
        if str(s.get("Effect", "")) != "Allow" or not _assumes(s) or _services(s) is None:
            return None
    return statements


def _pins_source(condition: Any) -> bool:
    if not isinstance(condition, dict):
        return False
    for operator, block in condition.items():
        if str(operator).lower() not in _PINNING or not isinstance(block, dict):
            continue
        for key, values in block.items():
            if str(key).lower() in SOURCE_KEYS:
                named = [v for v in _as_list(values) if isinstance(v, str) and v.strip("*")]
                if named and len(named) == len(_as_list(values)):
                    return True
    return False


def _unguarded(statements: list[dict[str, Any]]) -> list[str]:
    """The services trusted by a statement without a source condition."""
    found: list[str] = []
    for s in statements:
        services = [x for x in _services(s) or [] if x not in _SAME_ACCOUNT_SERVICES]
        if services and not _pins_source(s.get("Condition")):
            found.extend(services)
    return sorted(set(found))


@check(
    title="Service roles guard against the cross-service confused deputy",
    severity="high",
    description="A role that only AWS services may assume (every trust statement allows sts:AssumeRole to "
    "Service principals) conditions each trust statement on aws:SourceArn, aws:SourceAccount, aws:SourceOrgID "
    "or aws:SourceOrgPaths with a StringEquals/StringLike/ArnEquals/ArnLike value that is not just '*'. "
    "Service-linked roles, and trust in secretsmanager.amazonaws.com or eks.amazonaws.com (which AWS runs "
    "only within the calling account), are not judged.",
    remediation="Add a Condition to the trust statement, e.g. {\"StringEquals\": {\"aws:SourceAccount\": "
    "\"<account id>\"}} or {\"ArnLike\": {\"aws:SourceArn\": \"<ARN of the resource that calls the role>\"}}.",
    needs=(AUTHORIZATION_DETAILS,),
    service="iam",
    resource_type="AwsIamRole",
)
def iam_role_cross_service_confused_deputy_prevention(
    snapshot: Snapshot, config: ComplianceConfig, now: datetime
) -> Iterator[Result]:
    """FAIL per service role trusting a service without a source condition."""
    for role, trust in _trusts(snapshot):
        if isinstance(trust, Result):
            yield trust
            continue
        statements = _service_trust(trust)
        if statements is None:
            continue  # not a service role: other principals are the ExternalId check's concern
        unguarded = _unguarded(statements)
        if unguarded:
            yield failed(role.arn, f"Role {role.name} trusts {', '.join(unguarded)} without an aws:SourceArn or "
                         "aws:SourceAccount condition.", resource_id=role.name, tags=role.tags, services=unguarded)
        else:
            yield passed(role.arn, f"Role {role.name} ties its service trust to a source account or resource.",
                         resource_id=role.name, tags=role.tags, services=[])
