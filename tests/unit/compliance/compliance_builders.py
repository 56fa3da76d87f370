"""Hand-built snapshots for the pure check tests: a fixed clock, one account, terse constructors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from iamflow.compliance.config import ComplianceConfig
from iamflow.compliance.findings import Finding
from iamflow.compliance.registry import Check
from iamflow.compliance.snapshot import (
    ROOT_ROW,
    AccessKeyColumns,
    AuthorizationDetails,
    CredentialReport,
    CredentialRow,
    ManagedPolicy,
    Principal,
    Snapshot,
)

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
ACCOUNT = "111122223333"
ROOT_ARN = f"arn:aws:iam::{ACCOUNT}:root"
REGION = "eu-west-1"


def days_ago(n: float) -> datetime:
    """A time ``n`` days before NOW."""
    return NOW - timedelta(days=n)


def user_arn(name: str) -> str:
    """The ARN of a user of the test account."""
    return f"arn:aws:iam::{ACCOUNT}:user/{name}"


def key(slot: int = 1, *, active: bool = True, created: datetime | None = None, used: datetime | None = None) -> AccessKeyColumns:
    """An access-key slot of a credential report row."""
    return AccessKeyColumns(slot, active, created or days_ago(10), used)


def row(
    name: str,
    *,
    password: bool = False,
    password_used: datetime | None = None,
    password_changed: datetime | None = None,
    mfa: bool = False,
    keys: tuple[AccessKeyColumns, ...] = (),
    created: datetime | None = None,
) -> CredentialRow:
    """A credential report row (slots the caller leaves out are empty)."""
    slots = {k.slot: k for k in keys}
    all_keys = tuple(slots.get(s, AccessKeyColumns(s, False, None, None)) for s in (1, 2))
    created = created or days_ago(400)
    arn = ROOT_ARN if name == ROOT_ROW else user_arn(name)
    return CredentialRow(name, arn, created, password, password_used, "N/A" if not password_used else "",
                         password_changed or (created if password else None), mfa, all_keys)


def report(*rows: CredentialRow, root: CredentialRow | None = None) -> CredentialReport:
    """A credential report of these rows."""
    return CredentialReport(NOW, False, tuple(rows), root)


def principal(kind: str, name: str, **kwargs: Any) -> Principal:
    """A user, group or role of the test account."""
    path = kwargs.pop("path", "/")
    return Principal(kind, name, f"arn:aws:iam::{ACCOUNT}:{kind}{path}{name}", path, **kwargs)


def policy(name: str, document: dict[str, Any] | None, *, attachments: int = 0, aws: bool = False) -> ManagedPolicy:
    """A managed policy (customer-managed unless ``aws``)."""
    owner = "aws" if aws else ACCOUNT
    return ManagedPolicy(f"arn:aws:iam::{owner}:policy/{name}", name, "/", attachments, "v1", document)


def auth(*, users=(), groups=(), roles=(), policies=()) -> AuthorizationDetails:  # noqa: ANN001
    """Authorization details from lists."""
    return AuthorizationDetails(tuple(users), tuple(groups), tuple(roles), {p.arn: p for p in policies})


def doc(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    """A one-statement Allow policy document."""
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource, **extra}]}


ADMIN_DOC = doc("*")


def snapshot(**fields: Any) -> Snapshot:
    """A snapshot of the test account with the given fields filled."""
    return Snapshot(account_id=ACCOUNT, partition="aws", region=REGION, collected_at=NOW, **fields)


def config(**sections: Any) -> ComplianceConfig:
    """A config from compliance.yaml-shaped keyword sections (defaults otherwise)."""
    return ComplianceConfig.from_dict(sections)


def run(check: Check, snap: Snapshot, cfg: ComplianceConfig | None = None, now: datetime = NOW) -> list[Finding]:
    """Evaluate one check."""
    return check(snap, cfg or ComplianceConfig(), now)


def statuses(findings: list[Finding]) -> dict[str, str]:
    """``{resource_id[/access_key]: status}`` for compact assertions."""
    out = {}
    for f in findings:
        suffix = f"/{f.extra['access_key']}" if f.extra.get("access_key") else ""
        out[f"{f.resource_id}{suffix}"] = f.status
    return out
