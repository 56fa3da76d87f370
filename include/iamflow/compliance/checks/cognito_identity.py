"""Cognito identity pools: no guest access (Security Hub Cognito.2), and role trusts that pin their pool.

AWS facts: an identity pool that allows unauthenticated identities hands AWS credentials (its
unauthenticated role's) to anyone who asks, without signing in. A role that an identity pool
hands out trusts ``cognito-identity.amazonaws.com`` for ``sts:AssumeRoleWithWebIdentity``; IAM
requires such a trust to carry a condition, and the one that matters is
``cognito-identity.amazonaws.com:aud`` = the pool's id: without it, an identity of *any* identity
pool, of any account, may assume the role. The trust check reads every role's trust policy from
the authorization details, so it judges roles whatever pool (if any) uses them, and it needs no
``GetIdentityPoolRoles`` (which the embedded AWS does not implement).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from iamflow.compliance.config import ComplianceConfig
from iamflow.compliance.findings import Result, failed, passed
from iamflow.compliance.registry import check
from iamflow.compliance.snapshot import AUTHORIZATION_DETAILS, IDENTITY_POOLS, Snapshot
from iamflow.policy.catalog import catalog
from iamflow.policy.doctypes import document_type
from iamflow.policy.security import COGNITO_IDENTITY, IDENTITY_POOL_NO_AUD, check_security


@check(
    title="Cognito identity pools do not allow guest access",
    severity="medium",
    fsbp=("Cognito.2",),
    description="No identity pool allows unauthenticated identities: guests would get AWS credentials without "
    "signing in.",
    remediation="Turn guest access off (UpdateIdentityPool with AllowUnauthenticatedIdentities false; iamflow: "
    "cognito_identity_pool allow_unauthenticated: false).",
    needs=(IDENTITY_POOLS,),
    service="cognito-identity",
    resource_type="AwsCognitoIdentityPool",
)
def cognito_identity_pool_guest_access_disabled(snapshot: Snapshot, config: ComplianceConfig,
                                                now: datetime) -> Iterator[Result]:
    """PASS or FAIL per identity pool."""
    assert snapshot.identity_pools is not None
    for pool in snapshot.identity_pools:
        fields = {"resource_id": pool.pool_id, "tags": pool.tags, "pool_name": pool.name}
        if pool.allow_unauthenticated:
            role = (pool.roles or {}).get("unauthenticated")
            hands = f": guests get the credentials of {role}" if role else ""
            yield failed(pool.arn, f"Identity pool {pool.name} allows unauthenticated identities{hands}.", **fields)
        else:
            yield passed(pool.arn, f"Identity pool {pool.name} allows signed-in identities only.", **fields)


def _trusts_identity_pools(trust: dict[str, object]) -> bool:
    return COGNITO_IDENTITY in str(trust.get("Statement", ""))


@check(
    title="Roles trusting Cognito identity pools pin the pool with the aud condition",
    severity="high",
    description="Every role whose trust policy lets cognito-identity.amazonaws.com assume it by web identity "
    "requires cognito-identity.amazonaws.com:aud to be an identity pool id; without it, an identity of any "
    "identity pool in any account may assume the role.",
    remediation="Add a StringEquals condition on cognito-identity.amazonaws.com:aud naming the pool id, and "
    "ForAnyValue:StringLike on cognito-identity.amazonaws.com:amr (iamflow: cognito_identity_pool writes both).",
    needs=(AUTHORIZATION_DETAILS,),
    service="iam",
    resource_type="AwsIamRole",
)
def iam_role_identity_pool_trust_requires_aud(snapshot: Snapshot, config: ComplianceConfig,
                                              now: datetime) -> Iterator[Result]:
    """PASS or FAIL per role trusting Cognito identity pools."""
    assert snapshot.authorization is not None
    trust_type, cat = document_type("trust"), catalog()
    for role in snapshot.authorization.roles:
        trust = role.trust_policy
        if not trust or not _trusts_identity_pools(trust):
            continue
        findings = [f for f in check_security(trust, trust_type, cat, own_account=snapshot.account_id)
                    if f.code == IDENTITY_POOL_NO_AUD]
        fields = {"resource_id": role.name, "tags": role.tags}
        if findings:
            yield failed(role.arn, f"Role {role.name} may be assumed by an identity of any Cognito identity pool: "
                         "its trust has no cognito-identity.amazonaws.com:aud condition.", **fields)
        else:
            yield passed(role.arn, f"Role {role.name}'s identity-pool trust pins its pool (aud).", **fields)
