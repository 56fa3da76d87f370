"""Secrets Manager rotation, use and resource policies, from ``ListSecrets`` and ``GetResourcePolicy``.

No secret value is ever read.

iamflow's own bootstrap secrets. When the converge engine creates a Cognito user pool's bootstrap
admin, it stores a generated *temporary* password in ``iamflow/cognito/<pool>/<user>``, tagged
``iamflow:id=cognito_user_pool.<pool>/<user>``. Such a password is not meant to rotate: Cognito
forces the admin to replace it at first sign-in, and rotating the secret would only make it
disagree with the password Cognito holds. What matters is that it is retired once used. So the
three rotation checks judge a secret that carries both marks (the tag and the matching name, see
``bootstrap_admin_of``) by its purpose instead of its rotation:

- PASS while the admin is still ``FORCE_CHANGE_PASSWORD`` (the message says it is a pending
  temporary password, to be deleted after the first sign-in);
- FAIL once the admin has left that state, or when the admin or the pool is gone: the secret
  then holds a dead password and should be deleted (``DeleteSecret``);
- ERROR when the admin's status could not be read.

iamflow's copies of app client secrets. A Cognito app client with ``generate_secret`` has its
secret copied to ``iamflow/cognito/<pool>/clients/<client>`` (tagged with that name). That secret
is a long-lived credential like any other, so the checks judge it as they judge any secret: it
has no rotation until it is rotated. But a rotation Lambda on the copy would only make it disagree
with the secret Cognito checks, so the FAIL says how it rotates instead: in Cognito, which keeps
two secrets per client for that (``AddUserPoolClientSecret``, then the new value into the copy,
then ``DeleteUserPoolClientSecret`` of the old one).

The collector reads that status (``AdminGetUser``) only for such secrets, so the cost is one call
per bootstrap admin. Marking the secret, rather than rotating it or making the engine delete it,
keeps the check honest without adding a write path: a secret somebody else names and tags this
way is judged the same, and is FAILed as soon as it stops matching a pending admin.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from iamflow.compliance.checks._common import age_days, day, iso
from iamflow.compliance.config import ComplianceConfig
from iamflow.compliance.findings import Result, errored, failed, passed
from iamflow.compliance.registry import ResourceScope, check
from iamflow.compliance.snapshot import SECRETS, Secret, Snapshot
from iamflow.policy.lint import statement_list

_SECRET: ResourceScope = {"needs": (SECRETS,), "service": "secretsmanager", "resource_type": "AwsSecretsManagerSecret"}


def _secrets(snapshot: Snapshot) -> Iterator[Secret]:
    assert snapshot.secrets is not None
    yield from snapshot.secrets


def _fields(secret: Secret) -> dict[str, object]:
    return {"resource_id": secret.name, "tags": secret.tags, "last_rotated": iso(secret.last_rotated),
            "next_rotation": iso(secret.next_rotation)}


def _how_it_rotates(s: Secret) -> str:
    """For iamflow's copy of an app client's secret, how that secret is rotated (see the module docstring)."""
    if s.app_client is None:
        return ""
    pool, client = s.app_client
    return (f" It is iamflow's copy of the secret of app client {client} of user pool {pool}, which rotates in "
            "Cognito, not by a Secrets Manager rotation Lambda: AddUserPoolClientSecret, store the new value "
            "in this secret, then DeleteUserPoolClientSecret the old one.")


def _client_fields(s: Secret) -> dict[str, object]:
    if s.app_client is None:
        return {}
    return {"iamflow_app_client_secret": True, "user_pool": s.app_client[0], "app_client": s.app_client[1]}


def _bootstrap_verdict(s: Secret) -> Result | None:
    """The verdict on an iamflow bootstrap temporary password (see the module docstring), or None for any other secret."""
    b = s.bootstrap
    if b is None:
        return None
    fields = {**_fields(s), "iamflow_bootstrap": True, "admin_user": b.username, "user_pool": b.pool,
              "admin_status": b.user_status}
    what = f"Secret {s.name} holds the temporary password iamflow generated for Cognito admin user {b.username} " \
           f"of user pool {b.pool}"
    if b.error is not None:
        return errored(s.arn, f"{what}; whether {b.username} has signed in could not be read: {b.error}.", **fields)
    if b.pending:
        return passed(s.arn, f"{what}, who has not signed in yet: a temporary password is retired, not rotated; "
                      f"delete the secret once {b.username} has set their own password.", **fields)
    if b.user_status is None:
        return failed(s.arn, f"{what}, but that user or pool no longer exists: delete the secret (DeleteSecret).",
                      **fields)
    return failed(s.arn, f"{what}, who has signed in since (status {b.user_status}): the password is no longer "
                  "valid; delete the secret (DeleteSecret).", **fields)


@check(
    title="Secrets rotate automatically",
    severity="medium",
    fsbp=("SecretsManager.1",),
    description="Every secret has automatic rotation enabled. A temporary password iamflow stored for a Cognito "
    "bootstrap admin passes while the admin has not signed in, and fails once it should have been deleted.",
    remediation="Configure rotation (RotateSecret with a rotation Lambda and RotationRules), or use a managed "
    "rotation for supported databases.",
    **_SECRET,
)
def secretsmanager_automatic_rotation_enabled(snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> Iterator[Result]:
    """FAIL per secret without automatic rotation; iamflow's bootstrap passwords are judged by their purpose."""
    for s in _secrets(snapshot):
        bootstrap = _bootstrap_verdict(s)
        if bootstrap is not None:
            yield bootstrap
        elif s.rotation_enabled:
            every = f" every {s.rotation_days} days" if s.rotation_days else ""
            yield passed(s.arn, f"Secret {s.name} rotates automatically{every}.", **_fields(s))
        else:
            yield failed(s.arn, f"Secret {s.name} has no automatic rotation.{_how_it_rotates(s)}",
                         **_fields(s), **_client_fields(s))


@check(
    title="Secrets were rotated within 90 days",
    severity="medium",
    fsbp=("SecretsManager.4",),
    description="Each secret was last rotated no more than thresholds.secret_max_rotation_age_days (90) days ago; "
    "a secret never rotated is judged by its creation date. iamflow's Cognito bootstrap passwords are judged "
    "by whether the admin has signed in (see secretsmanager_automatic_rotation_enabled).",
    remediation="Rotate the secret now (RotateSecret) and make sure its rotation schedule actually runs.",
    **_SECRET,
)
def secretsmanager_secret_rotated_periodically(snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> Iterator[Result]:
    """FAIL per secret whose last rotation (or creation, if never) is older than the threshold."""
    limit = config.thresholds.secret_max_rotation_age_days
    for s in _secrets(snapshot):
        bootstrap = _bootstrap_verdict(s)
        if bootstrap is not None:
            yield bootstrap
            continue
        since = s.last_rotated or s.created
        what = "last rotated" if s.last_rotated else "never rotated; created"
        if since is None:
            yield failed(s.arn, f"Secret {s.name} has no rotation or creation date.", **_fields(s))
            continue
        age = age_days(since, now)
        if age > limit:
            yield failed(s.arn, f"Secret {s.name} was {what} {day(since)} ({age} days ago; limit {limit})."
                         f"{_how_it_rotates(s)}", age_days=age, **_fields(s), **_client_fields(s))
        else:
            yield passed(s.arn, f"Secret {s.name} was {what} {day(since)} ({age} days ago; limit {limit}).",
                         age_days=age, **_fields(s))


@check(
    title="Secrets have been rotated at least once",
    severity="low",
    description="Every secret older than thresholds.secret_never_rotated_grace_days (7) has a LastRotatedDate. "
    "iamflow's Cognito bootstrap passwords are judged by whether the admin has signed in.",
    remediation="Rotate the secret (RotateSecret) and enable a rotation schedule.",
    **_SECRET,
)
def secretsmanager_secret_never_rotated(snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> Iterator[Result]:
    """FAIL per secret past the grace period that was never rotated."""
    grace = config.thresholds.secret_never_rotated_grace_days
    for s in _secrets(snapshot):
        bootstrap = _bootstrap_verdict(s)
        if bootstrap is not None:
            yield bootstrap
            continue
        if s.last_rotated is not None:
            yield passed(s.arn, f"Secret {s.name} was last rotated {day(s.last_rotated)}.", **_fields(s))
            continue
        age = age_days(s.created, now) if s.created else None
        if age is not None and age <= grace:
            yield passed(s.arn, f"Secret {s.name} was never rotated but is only {age} days old.", **_fields(s))
        else:
            yield failed(s.arn, f"Secret {s.name} has never been rotated (created {day(s.created)})."
                         f"{_how_it_rotates(s)}", **_fields(s), **_client_fields(s))


@check(
    title="Scheduled secret rotations are not overdue",
    severity="high",
    fsbp=("SecretsManager.2",),
    description="For secrets with rotation enabled, NextRotationDate is not in the past (a past date means the "
    "rotation function is failing or stuck). Secrets without rotation are left to "
    "secretsmanager_automatic_rotation_enabled.",
    remediation="Check the rotation Lambda's logs and the secret's AWSPENDING version, fix the function, then "
    "RotateSecret.",
    **_SECRET,
)
def secretsmanager_secret_rotation_overdue(snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> Iterator[Result]:
    """FAIL per rotating secret whose next rotation date has passed."""
    for s in _secrets(snapshot):
        if not s.rotation_enabled:
            continue
        if s.next_rotation is None:
            yield passed(s.arn, f"Secret {s.name} rotates; no next rotation date is reported.", **_fields(s))
        elif s.next_rotation < now:
            late = age_days(s.next_rotation, now)
            yield failed(s.arn, f"Secret {s.name} was due to rotate {day(s.next_rotation)} ({late} days overdue).",
                         overdue_days=late, **_fields(s))
        else:
            yield passed(s.arn, f"Secret {s.name} is next due to rotate {day(s.next_rotation)}.", **_fields(s))


@check(
    title="Secrets not accessed for 90 days are reviewed",
    severity="medium",
    fsbp=("SecretsManager.3",),
    description="Each secret was last accessed (LastAccessedDate, kept by AWS to the day) within "
    "thresholds.secret_unused_days (90) days. AWS omits LastAccessedDate for a secret that was never "
    "accessed, so such a secret is judged by its creation date: unused once it is older than the threshold.",
    remediation="Find out whether anything still needs the secret; if not, DeleteSecret (with a recovery window). "
    "Every stored secret that nobody reads is a credential nobody watches.",
    **_SECRET,
)
def secretsmanager_secret_unused(snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> Iterator[Result]:
    """FAIL per secret not accessed (or never accessed and created) within the threshold."""
    limit = config.thresholds.secret_unused_days
    for s in _secrets(snapshot):
        fields = {**_fields(s), "last_accessed": iso(s.last_accessed)}
        if s.last_accessed is not None:
            idle = age_days(s.last_accessed, now)
            verdict = failed if idle > limit else passed
            yield verdict(s.arn, f"Secret {s.name} was last accessed {day(s.last_accessed)} ({idle} days ago; limit "
                          f"{limit}).", idle_days=idle, **fields)
            continue
        if s.created is None:
            yield errored(s.arn, f"Secret {s.name} was never accessed and has no creation date to age it by.", **fields)
            continue
        age = age_days(s.created, now)
        verdict = failed if age > limit else passed
        yield verdict(s.arn, f"Secret {s.name} has never been accessed; it was created {day(s.created)} ({age} days "
                      f"ago; limit {limit}).", idle_days=age, **fields)


# condition keys that confine a statement to known principals, accounts, organizations or networks
_CONFINING_KEYS = frozenset({
    "aws:principalaccount", "aws:principalarn", "aws:principalorgid", "aws:principalorgpaths", "aws:userid",
    "aws:sourceaccount", "aws:sourcearn", "aws:sourceorgid", "aws:sourceorgpaths", "aws:sourcevpc",
    "aws:sourcevpce", "aws:resourceaccount",
})
_CONFINING_OPERATORS = frozenset({"stringequals", "stringlike", "arnequals", "arnlike", "stringequalsignorecase"})


def _values(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _everyone(statement: dict[str, Any]) -> bool:
    principal = statement.get("Principal")
    if principal == "*":
        return True
    return isinstance(principal, dict) and "*" in _values(principal.get("AWS"))


def _confined(condition: Any) -> bool:
    if not isinstance(condition, dict):
        return False
    for operator, block in condition.items():
        if str(operator).lower() not in _CONFINING_OPERATORS or not isinstance(block, dict):
            continue
        for key, values in block.items():
            named = [v for v in _values(values) if isinstance(v, str) and v.strip("*")]
            if str(key).lower() in _CONFINING_KEYS and named and len(named) == len(_values(values)):
                return True
    return False


def public_statements(policy: dict[str, Any]) -> list[str]:
    """Sids (or positions) of Allow statements open to any principal without a confining condition."""
    found = []
    for i, s in enumerate(statement_list(policy)):
        if str(s.get("Effect", "")) == "Allow" and _everyone(s) and not _confined(s.get("Condition")):
            found.append(str(s.get("Sid") or f"Statement[{i}]"))
    return found


@check(
    title="Secret resource policies do not allow everyone",
    severity="high",
    description="No Allow statement of a secret's resource policy names Principal '*' (or AWS '*') without a "
    "condition confining it to given accounts, principals, organizations or VPC endpoints (aws:PrincipalAccount, "
    "aws:PrincipalOrgID, aws:SourceVpce, ...). Secrets without a resource policy pass.",
    remediation="Replace the '*' principal with the roles or accounts that need the secret, or add an "
    "aws:PrincipalOrgID / aws:PrincipalAccount condition; keep BlockPublicPolicy on PutResourcePolicy.",
    **_SECRET,
)
def secretsmanager_not_publicly_accessible(snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> Iterator[Result]:
    """FAIL per secret whose resource policy lets anyone in."""
    for s in _secrets(snapshot):
        if s.policy_error:
            yield errored(s.arn, f"Secret {s.name}: resource policy unknown ({s.policy_error}).", **_fields(s))
        elif s.policy is None:
            yield passed(s.arn, f"Secret {s.name} has no resource policy.", **_fields(s))
        elif public := public_statements(s.policy):
            yield failed(s.arn, f"Secret {s.name}'s resource policy allows any principal in {', '.join(public)}.",
                         public_statements=public, **_fields(s))
        else:
            yield passed(s.arn, f"Secret {s.name}'s resource policy names its principals.", public_statements=[],
                         **_fields(s))
