"""IAM policies and what they grant (CIS 1.15 to 1.17), from ``GetAccountAuthorizationDetails``.

Who holds AdministratorAccess or SecurityAudit is read from the attachments there too: a group's
members come from each user's GroupList, so no check here makes a per-user or per-group call.

"Administrator" and "full access to a service" use the same helpers as the converge lint
(``iamflow.policy.lint``), so the sweep and the playbook validation agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from iamflow.compliance.config import ComplianceConfig
from iamflow.compliance.findings import Result, errored, failed, passed
from iamflow.compliance.registry import CheckScope, check
from iamflow.compliance.snapshot import (
    AUTHORIZATION_DETAILS,
    CREDENTIAL_REPORT,
    AuthorizationDetails,
    ManagedPolicy,
    Principal,
    Snapshot,
)
from iamflow.policy.lint import grants_admin, grants_full_service

ADMIN_POLICY = ":iam::aws:policy/AdministratorAccess"
SUPPORT_POLICY = ":iam::aws:policy/AWSSupportAccess"
SECURITY_AUDIT_POLICY = ":iam::aws:policy/SecurityAudit"
_NEEDS: CheckScope = {"needs": (AUTHORIZATION_DETAILS,), "service": "iam"}
_NARROW = ("Replace the policy with one that names the actions and resources the principals need "
           "(start from IAM Access Analyzer's generated policy), then detach and delete the broad one.")


def _auth(snapshot: Snapshot) -> AuthorizationDetails:
    assert snapshot.authorization is not None
    return snapshot.authorization


def _managed(snapshot: Snapshot, *, aws: bool, attached: bool | None) -> Iterator[ManagedPolicy]:
    for policy in _auth(snapshot).policies.values():
        if policy.is_aws_managed != aws:
            continue
        if attached is not None and (policy.attachment_count > 0) != attached:
            continue
        yield policy


def _judge_managed(policies: Iterator[ManagedPolicy], test: str, what: str) -> Iterator[Result]:
    for policy in policies:
        fields = {"resource_id": policy.name, "policy_version": policy.default_version_id,
                  "attachment_count": policy.attachment_count}
        if policy.document is None:
            yield errored(policy.arn, f"Policy {policy.name}: the default version's document was not returned.", **fields)
            continue
        grants = grants_admin(policy.document) if test == "admin" else grants_full_service(policy.document, test)
        if grants:
            yield failed(policy.arn, f"Policy {policy.name} ({policy.attachment_count} attachment(s)) allows {what}.",
                         **fields)
        else:
            yield passed(policy.arn, f"Policy {policy.name} does not allow {what}.", **fields)


_ADMIN = "'*' on '*' (full administrator access)"


@check(
    title="Attached AWS-managed policies do not grant administrator access",
    severity="high",
    cis=("1.16",),
    cis5=("1.15",),
    description="No AWS-managed policy that is attached to a user, group or role allows '*' actions on '*' "
    "resources (for example AdministratorAccess).",
    remediation="Detach the administrator policy and attach a job-function or least-privilege policy instead.",
    resource_type="AwsIamPolicy",
    **_NEEDS,
)
def iam_aws_attached_policy_no_administrative_privileges(
    snapshot: Snapshot, config: ComplianceConfig, now: datetime
) -> Iterator[Result]:
    """FAIL per attached AWS-managed policy granting *:*."""
    yield from _judge_managed(_managed(snapshot, aws=True, attached=True), "admin", _ADMIN)


@check(
    title="Attached customer-managed policies do not grant administrator access",
    severity="high",
    cis=("1.16",),
    cis5=("1.15",),
    fsbp=("IAM.1",),
    description="No customer-managed policy that is attached to a principal allows '*' actions on '*' resources.",
    remediation=_NARROW,
    resource_type="AwsIamPolicy",
    **_NEEDS,
)
def iam_customer_attached_policy_no_administrative_privileges(
    snapshot: Snapshot, config: ComplianceConfig, now: datetime
) -> Iterator[Result]:
    """FAIL per attached customer policy granting *:*."""
    yield from _judge_managed(_managed(snapshot, aws=False, attached=True), "admin", _ADMIN)


@check(
    title="Unattached customer-managed policies do not grant administrator access",
    severity="low",
    cis=("1.16",),
    cis5=("1.15",),
    fsbp=("IAM.1",),
    description="No customer-managed policy, even unattached, allows '*' actions on '*' resources (one attach "
    "away from full access).",
    remediation="Delete the unused policy, or narrow it before anyone attaches it.",
    resource_type="AwsIamPolicy",
    **_NEEDS,
)
def iam_customer_unattached_policy_no_administrative_privileges(
    snapshot: Snapshot, config: ComplianceConfig, now: datetime
) -> Iterator[Result]:
    """FAIL per unattached customer policy granting *:*."""
    yield from _judge_managed(_managed(snapshot, aws=False, attached=False), "admin", _ADMIN)


def _inline(snapshot: Snapshot) -> Iterator[tuple[Principal, str, dict[str, Any]]]:
    for principal in _auth(snapshot).principals():
        for name, document in principal.inline_policies.items():
            yield principal, name, document


def _judge_inline(snapshot: Snapshot, test: str, what: str) -> Iterator[Result]:
    for principal, name, document in _inline(snapshot):
        fields = {"resource_id": f"{principal.name}/{name}", "tags": principal.tags, "policy_name": name,
                  "principal_type": principal.kind}
        grants = grants_admin(document) if test == "admin" else grants_full_service(document, test)
        if grants:
            yield failed(principal.arn, f"Inline policy {name} of {principal.kind} {principal.name} allows {what}.", **fields)
        else:
            yield passed(principal.arn, f"Inline policy {name} of {principal.kind} {principal.name} does not allow {what}.",
                         **fields)


@check(
    title="Inline policies do not grant administrator access",
    severity="high",
    cis=("1.16",),
    cis5=("1.15",),
    description="No inline policy of a user, group or role allows '*' actions on '*' resources.",
    remediation=_NARROW,
    resource_type="AwsIamPolicy",
    **_NEEDS,
)
def iam_inline_policy_no_administrative_privileges(
    snapshot: Snapshot, config: ComplianceConfig, now: datetime
) -> Iterator[Result]:
    """FAIL per inline policy granting *:*."""
    yield from _judge_inline(snapshot, "admin", _ADMIN)


_KMS = "'kms:*' on '*' (full access to every KMS key)"


@check(
    title="Customer-managed policies do not allow kms:* on all keys",
    severity="medium",
    description="No customer-managed policy allows 'kms:*' (or '*') on Resource '*'.",
    remediation="Grant only the KMS actions needed (kms:Decrypt, kms:GenerateDataKey, ...) on the ARNs of the keys concerned.",
    resource_type="AwsIamPolicy",
    **_NEEDS,
)
def iam_policy_no_full_access_to_kms(snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> Iterator[Result]:
    """FAIL per customer policy granting kms:* on *."""
    yield from _judge_managed(_managed(snapshot, aws=False, attached=None), "kms", _KMS)


@check(
    title="Inline policies do not allow kms:* on all keys",
    severity="medium",
    description="No inline policy allows 'kms:*' (or '*') on Resource '*'.",
    remediation="Grant only the KMS actions needed on the ARNs of the keys concerned.",
    resource_type="AwsIamPolicy",
    **_NEEDS,
)
def iam_inline_policy_no_full_access_to_kms(snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> Iterator[Result]:
    """FAIL per inline policy granting kms:* on *."""
    yield from _judge_inline(snapshot, "kms", _KMS)


def _admin_attached(principals: tuple[Principal, ...], kind: str) -> Iterator[Result]:
    for p in principals:
        if p.is_service_linked:
            continue
        if p.has_attached(ADMIN_POLICY):
            yield failed(p.arn, f"{kind.capitalize()} {p.name} has the AdministratorAccess policy attached.",
                         resource_id=p.name, tags=p.tags)
        else:
            yield passed(p.arn, f"{kind.capitalize()} {p.name} does not have AdministratorAccess attached.",
                         resource_id=p.name, tags=p.tags)


@check(
    title="No user has AdministratorAccess attached",
    severity="high",
    description="No IAM user has the AWS-managed AdministratorAccess policy attached directly.",
    remediation="Detach AdministratorAccess from the user; grant administration through a role assumed with MFA.",
    resource_type="AwsIamUser",
    **_NEEDS,
)
def iam_user_administrator_access_policy(snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> Iterator[Result]:
    """FAIL per user with AdministratorAccess."""
    yield from _admin_attached(_auth(snapshot).users, "user")


@check(
    title="No group has AdministratorAccess attached",
    severity="high",
    description="No IAM group has the AWS-managed AdministratorAccess policy attached.",
    remediation="Detach AdministratorAccess from the group; grant administration through a role assumed with MFA.",
    resource_type="AwsIamGroup",
    **_NEEDS,
)
def iam_group_administrator_access_policy(snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> Iterator[Result]:
    """FAIL per group with AdministratorAccess."""
    yield from _admin_attached(_auth(snapshot).groups, "group")


@check(
    title="No role has AdministratorAccess attached",
    severity="high",
    description="No IAM role (service-linked roles aside) has the AWS-managed AdministratorAccess policy attached.",
    remediation="Detach AdministratorAccess from the role and attach a policy scoped to the role's job.",
    resource_type="AwsIamRole",
    **_NEEDS,
)
def iam_role_administratoraccess_policy(snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> Iterator[Result]:
    """FAIL per role with AdministratorAccess."""
    yield from _admin_attached(_auth(snapshot).roles, "role")


@check(
    title="A support role exists for AWS Support incidents",
    severity="medium",
    cis=("1.17",),
    cis5=("1.16",),
    description="At least one role has the AWS-managed AWSSupportAccess policy attached.",
    remediation="Create a role that your incident responders can assume and attach AWSSupportAccess to it.",
    resource_type="AwsAccount",
    **_NEEDS,
)
def iam_support_role_created(snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> Iterator[Result]:
    """FAIL when no role has AWSSupportAccess."""
    roles = sorted(r.name for r in _auth(snapshot).roles if r.has_attached(SUPPORT_POLICY))
    if roles:
        yield passed(snapshot.root_arn, f"Role(s) {', '.join(roles)} have AWSSupportAccess attached.",
                     resource_id=snapshot.account_id, support_roles=roles)
    else:
        yield failed(snapshot.root_arn, f"No role in account {snapshot.account_id} has AWSSupportAccess attached.",
                     resource_id=snapshot.account_id, support_roles=[])


@check(
    title="Users receive permissions only through groups or roles",
    severity="low",
    cis=("1.15",),
    cis5=("1.14",),
    fsbp=("IAM.2",),
    description="No IAM user has a managed policy attached directly or an inline policy.",
    remediation="Move the user's permissions to a group (or a role the user assumes) and remove the user's own policies.",
    resource_type="AwsIamUser",
    **_NEEDS,
)
def iam_policy_attached_only_to_group_or_roles(
    snapshot: Snapshot, config: ComplianceConfig, now: datetime
) -> Iterator[Result]:
    """FAIL per user with directly attached or inline policies."""
    for user in _auth(snapshot).users:
        attached = [name for name, _arn in user.attached_policies]
        inline = sorted(user.inline_policies)
        if attached or inline:
            parts = []
            if attached:
                parts.append(f"attached {', '.join(attached)}")
            if inline:
                parts.append(f"inline {', '.join(inline)}")
            yield failed(user.arn, f"User {user.name} has policies of its own ({'; '.join(parts)}).",
                         resource_id=user.name, tags=user.tags, attached_policies=attached, inline_policies=inline)
        else:
            yield passed(user.arn, f"User {user.name} has no policy of its own.", resource_id=user.name, tags=user.tags)


@check(
    title="Users have no inline policies",
    severity="low",
    cis=("1.15",),
    cis5=("1.14",),
    fsbp=("IAM.2",),
    description="No IAM user has an inline policy (CIS 1.15's audit lists each user's inline policies and "
    "expects none). Directly attached managed policies are iam_policy_attached_only_to_group_or_roles' concern.",
    remediation="Move the inline policy's statements to a managed policy attached to a group the user joins "
    "(or a role the user assumes), then DeleteUserPolicy.",
    resource_type="AwsIamUser",
    **_NEEDS,
)
def iam_user_with_inline_policy(snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> Iterator[Result]:
    """FAIL per user with at least one inline policy."""
    for user in _auth(snapshot).users:
        inline = sorted(user.inline_policies)
        if inline:
            yield failed(user.arn, f"User {user.name} has inline polic{'ies' if len(inline) > 1 else 'y'} "
                         f"{', '.join(inline)}.", resource_id=user.name, tags=user.tags, inline_policies=inline)
        else:
            yield passed(user.arn, f"User {user.name} has no inline policy.", resource_id=user.name, tags=user.tags,
                         inline_policies=[])


@check(
    title="Members of administrator groups have MFA",
    severity="high",
    description="Every user in a group with the AWS-managed AdministratorAccess policy attached has an active "
    "MFA device (credential report mfa_active). Membership comes from the authorization details' GroupList, "
    "so no per-group call is made. A group without AdministratorAccess, or without members, passes.",
    remediation="Assign an MFA device to each listed user, or remove them from the group; better, grant "
    "administration through a role whose trust policy requires aws:MultiFactorAuthPresent.",
    needs=(AUTHORIZATION_DETAILS, CREDENTIAL_REPORT),
    service="iam",
    resource_type="AwsIamGroup",
)
def iam_administrator_access_with_mfa(snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> Iterator[Result]:
    """FAIL per AdministratorAccess group with a member lacking MFA; ERROR when a member is not in the report."""
    assert snapshot.credential_report is not None
    auth = _auth(snapshot)
    mfa = {row.user: row.mfa_active for row in snapshot.credential_report.users}
    members: dict[str, list[str]] = {}
    for user in auth.users:
        for group_name in user.groups:
            members.setdefault(group_name, []).append(user.name)
    for group in auth.groups:
        fields = {"resource_id": group.name, "tags": group.tags}
        if not group.has_attached(ADMIN_POLICY):
            yield passed(group.arn, f"Group {group.name} does not grant AdministratorAccess.", **fields)
            continue
        names = sorted(members.get(group.name, []))
        without = [n for n in names if mfa.get(n) is False]
        unknown = [n for n in names if n not in mfa]
        if without:
            yield failed(group.arn, f"Group {group.name} grants AdministratorAccess to user(s) without MFA: "
                         f"{', '.join(without)}.", users_without_mfa=without, **fields)
        elif unknown:
            yield errored(group.arn, f"Group {group.name} grants AdministratorAccess to user(s) missing from the "
                          f"credential report ({', '.join(unknown)}), so their MFA is unknown.", **fields)
        elif names:
            yield passed(group.arn, f"Group {group.name} grants AdministratorAccess only to users with MFA.",
                         users_without_mfa=[], **fields)
        else:
            yield passed(group.arn, f"Group {group.name} grants AdministratorAccess but has no members.",
                         users_without_mfa=[], **fields)


@check(
    title="A role exists for security audits",
    severity="low",
    description="At least one role has the AWS-managed SecurityAudit policy attached, so that auditors and "
    "tools read the account through a role rather than user credentials.",
    remediation="Create a role your auditors (or their tooling account) can assume and attach SecurityAudit to it.",
    resource_type="AwsAccount",
    **_NEEDS,
)
def iam_securityaudit_role_created(snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> Iterator[Result]:
    """FAIL when no role has SecurityAudit attached."""
    roles = sorted(r.name for r in _auth(snapshot).roles if r.has_attached(SECURITY_AUDIT_POLICY))
    if roles:
        yield passed(snapshot.root_arn, f"Role(s) {', '.join(roles)} have SecurityAudit attached.",
                     resource_id=snapshot.account_id, security_audit_roles=roles)
    else:
        yield failed(snapshot.root_arn, f"No role in account {snapshot.account_id} has SecurityAudit attached.",
                     resource_id=snapshot.account_id, security_audit_roles=[])
