"""What the Cognito handlers share: finding this playbook's user pool, and its parts.

Pool names are not unique in AWS, so a pool is this playbook's when its name matches *and* its
``iamflow:id`` tag is ``<playbook>/<pool>``. Two such pools are an error (no write, a message
naming both ids); a same-named pool without the tag is an error too ("exists but is not managed by
iamflow"): iamflow never adopts a pool silently. Tag it by hand to adopt it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from iamflow.aws.errors import not_found, paginate_token
from iamflow.errors import PermanentAwsError
from iamflow.resources.base import Output, PlanEnv, regional_arn
from iamflow.spec.kinds_cognito import pool_owner, pool_tag_value
from iamflow.spec.names import ID_TAG

TAG_KEY = ID_TAG
PAGE = 60  # the largest page ListUserPools / ListUserPoolClients accept
POOL_KINDS = ("cognito_user_pool",)


class PoolLookupError(PermanentAwsError):
    """The pool a resource names cannot be told apart (two tagged pools) or is not iamflow's."""


@dataclass(frozen=True)
class PoolFacts:
    """The user pool a client or group lives in: its id, or None when the pool does not exist yet."""

    pool_id: str | None


def find_pool(idp: Any, playbook: str, pool: str, *, strict: bool = True) -> dict[str, Any] | None:
    """The ``DescribeUserPool`` result of this playbook's pool ``pool``, or None.

    Lists every pool (pages of 60), describes those with the name, and keeps the one whose
    ``iamflow:id`` tag is ``<playbook>/<pool>``. With ``strict``, an untagged pool of that name
    is an error rather than "not there": creating a second one would make the name ambiguous.
    """
    pools = paginate_token(idp, "list_user_pools", "UserPools", page_size=PAGE)
    ids = [p["Id"] for p in pools if p.get("Name") == pool]
    want = pool_tag_value(playbook, pool)
    mine: list[dict[str, Any]] = []
    untagged: list[str] = []
    for pool_id in ids:
        got = not_found(idp, "describe_user_pool", UserPoolId=pool_id)
        if got is None:  # deleted between the list and the describe
            continue
        tag = (got["UserPool"].get("UserPoolTags") or {}).get(TAG_KEY)
        if tag == want:
            mine.append(got["UserPool"])
        elif tag is None:
            untagged.append(pool_id)
    if len(mine) > 1:
        found = ", ".join(sorted(p["Id"] for p in mine))
        raise PoolLookupError(
            f"user pool {pool!r}: {len(mine)} pools carry the tag {TAG_KEY}={want} ({found}); "
            "iamflow cannot tell which one is meant. Delete or re-tag all but one"
        )
    if mine:
        return mine[0]
    if untagged and strict:
        raise PoolLookupError(
            f"user pool {pool!r} exists ({', '.join(sorted(untagged))}) but is not managed by iamflow "
            f"(no {TAG_KEY} tag). To adopt it, tag it {TAG_KEY}={want}; otherwise rename one of them"
        )
    return None


def pool_id_for(facts: PoolFacts | None, pool: str) -> str | Output:
    """The pool's id; an :class:`Output` that fails at apply time when the pool does not exist yet."""
    if facts is not None and facts.pool_id:
        return facts.pool_id
    return Output(
        f"missing-pool:{pool}",
        f"id of user pool {pool}, created by this run",
        missing=f"user pool {pool!r} was not found; converge the cognito_user_pool {pool!r} first",
    )


def lookup_pool(idp: Any, playbook: str, pool: str) -> PoolFacts:
    """Find the pool a child lives in (``pool`` may be ``other-playbook/pool``)."""
    found = find_pool(idp, *pool_owner(playbook, pool))
    return PoolFacts(found["Id"] if found else None)


def input_members(client: Any, operation: str) -> set[str]:
    """The parameter names an operation accepts (to carry a read configuration into an update)."""
    return set(client.meta.service_model.operation_model(operation).input_shape.members)


def pool_arn(env: PlanEnv, pool_id: str | None) -> str:
    """The ARN of a user pool, or of the account root while the pool does not exist."""
    if pool_id:
        return regional_arn(env.ctx, "cognito-idp", f"userpool/{pool_id}")
    return f"arn:{env.ctx.partition}:iam::{env.ctx.account_id}:root"
