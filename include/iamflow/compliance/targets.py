"""Which accounts a sweep covers, and how to reach each one (STS AssumeRole with an ExternalId).

``include/targets.yaml``::

    role_name: iamflow-auditor           # the role to assume in listed or organization accounts
    session_name: iamflow-sweep
    external_id:                         # where the ExternalId comes from at run time, never its value
      env: IAMFLOW_SWEEP_EXTERNAL_ID     # ...or: airflow_connection: iamflow_sweep (field: password)
    accounts:
      - account_id: "111111111111"
        role_arn: arn:aws:iam::111111111111:role/IamflowAudit
      - account_id: "222222222222"       # no role_arn: role_name applies (none needed for the current account)
    organization:                        # or simply: organization: true
      ou_ids: [ou-ab12-cdef3456]         # accounts under these OUs (and their child OUs)
      tags: {sweep: "yes"}               # accounts carrying all these tags
      exclude: ["333333333333"]

With no file, or no accounts and no organization, the sweep covers the current account only. An
``organization`` that matches no account, or credentials that may not list the organization (or
not even call ``sts:GetCallerIdentity``), is a :class:`TargetResolutionError`: the sweep never
falls back to the current account when it was asked for others.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iamflow.compliance.config import ComplianceConfigError, read_yaml_file
from iamflow.connections import ConnectionLookupError, connection_field
from iamflow.errors import IamflowError
from iamflow.settings import targets_path

if TYPE_CHECKING:
    from iamflow.aws.clients import AwsClients, CallLog

DEFAULT_SESSION_NAME = "iamflow-sweep"


class TargetResolutionError(IamflowError):
    """The accounts to sweep could not be determined; the message names what failed.

    :param account_id: the account the base credentials act in, when known (the report's ERROR
        finding is filed under it).
    :param partition: that account's partition, when known.
    :param retryable: whether a later attempt may succeed (throttling, a dropped connection),
        as opposed to a denied call or a filter that matches nothing.
    """

    def __init__(self, message: str, *, account_id: str | None = None, partition: str = "aws",
                 retryable: bool = False) -> None:
        super().__init__(message)
        self.account_id = account_id
        self.partition = partition
        self.retryable = retryable


@dataclass(frozen=True)
class Target:
    """One account to sweep; ``account_id`` None means the account the base credentials act in."""

    account_id: str | None = None
    role_arn: str | None = None
    name: str = ""

    @property
    def label(self) -> str:
        """How logs and task ids name the target."""
        return self.account_id or "current"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form (for Airflow task mapping)."""
        return {"account_id": self.account_id, "role_arn": self.role_arn, "name": self.name}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Target:
        """Inverse of :meth:`to_dict`."""
        return cls(data.get("account_id"), data.get("role_arn"), data.get("name", ""))


@dataclass(frozen=True)
class ExternalIdSource:
    """Where to read the ExternalId at run time: an environment variable or an Airflow connection field."""

    env: str | None = None
    airflow_connection: str | None = None
    field: str = "password"

    def resolve(self) -> str | None:
        """Return the ExternalId; raise when the named source is missing or empty."""
        if self.env:
            value = os.environ.get(self.env)
            if not value:
                raise ComplianceConfigError(f"the ExternalId environment variable {self.env} is not set")
            return value
        if self.airflow_connection:
            try:
                return connection_field(self.airflow_connection, self.field)
            except ConnectionLookupError as exc:
                raise ComplianceConfigError(f"{exc} (to use as ExternalId)") from exc
        return None


@dataclass(frozen=True)
class OrganizationSelector:
    """Which accounts of the organization to sweep."""

    ou_ids: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class TargetsConfig:
    """The parsed ``targets.yaml``."""

    accounts: tuple[Target, ...] = ()
    organization: OrganizationSelector | None = None
    role_name: str | None = None
    external_id: ExternalIdSource | None = None
    session_name: str = DEFAULT_SESSION_NAME
    source: str = "<defaults>"

    @classmethod
    def load(cls, path: str | Path | None = None) -> TargetsConfig:
        """Load a targets file: ``path``, else ``$IAMFLOW_TARGETS``, else the shipped ``include/targets.yaml``.

        Without any file the sweep covers the current account.
        """
        file = targets_path(path)
        if path is None and not file.exists():
            return cls()
        return cls.from_dict(read_yaml_file(file, "targets file"), source=str(file))

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "<dict>") -> TargetsConfig:
        """Parse the mapping of a targets file."""
        if not isinstance(data, dict):
            raise ComplianceConfigError(f"{source}: expected a mapping")
        allowed = {"accounts", "organization", "role_name", "external_id", "session_name"}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ComplianceConfigError(f"{source}: unknown key(s) {', '.join(unknown)}; expected {', '.join(sorted(allowed))}")
        return cls(
            accounts=tuple(_account(a, f"{source}: accounts[{i}]") for i, a in enumerate(data.get("accounts") or [])),
            organization=_organization(data.get("organization"), source),
            role_name=data.get("role_name"),
            external_id=_external_id(data.get("external_id"), source),
            session_name=str(data.get("session_name") or DEFAULT_SESSION_NAME),
            source=source,
        )


def _account(entry: Any, where: str) -> Target:
    if isinstance(entry, (str, int)):
        entry = {"account_id": str(entry)}
    if not isinstance(entry, dict) or "account_id" not in entry:
        raise ComplianceConfigError(f"{where}: expected a mapping with account_id (and optionally role_arn, name)")
    unknown = sorted(set(entry) - {"account_id", "role_arn", "name"})
    if unknown:
        hint = " (the ExternalId never goes in this file)" if any("external" in k.lower() for k in unknown) else ""
        raise ComplianceConfigError(f"{where}: unknown key(s) {', '.join(unknown)}{hint}")
    account = str(entry["account_id"])
    if not (account.isdigit() and len(account) == 12):
        raise ComplianceConfigError(f"{where}: account_id {account!r} is not a 12-digit account id (quote it in YAML)")
    return Target(account, entry.get("role_arn"), str(entry.get("name") or ""))


def _organization(value: Any, source: str) -> OrganizationSelector | None:
    if value in (None, False):
        return None
    if value is True:
        return OrganizationSelector()
    if not isinstance(value, dict) or set(value) - {"ou_ids", "tags", "exclude"}:
        raise ComplianceConfigError(f"{source}: organization: expected true or a mapping with ou_ids, tags, exclude")
    return OrganizationSelector(
        ou_ids=tuple(str(x) for x in value.get("ou_ids") or ()),
        tags={str(k): str(v) for k, v in (value.get("tags") or {}).items()},
        exclude=tuple(str(x) for x in value.get("exclude") or ()),
    )


def _external_id(value: Any, source: str) -> ExternalIdSource | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ComplianceConfigError(
            f"{source}: external_id: name where the ExternalId comes from ({{env: VAR}} or {{airflow_connection: ID}}); "
            "the value itself must never be written in this file"
        )
    if set(value) - {"env", "airflow_connection", "field"} or not (value.get("env") or value.get("airflow_connection")):
        raise ComplianceConfigError(f"{source}: external_id: expected env or airflow_connection (and optionally field)")
    return ExternalIdSource(value.get("env"), value.get("airflow_connection"), str(value.get("field") or "password"))


def resolve_targets(config: TargetsConfig, base: AwsClients, *, only: Iterable[str] = ()) -> list[Target]:
    """Expand the config into concrete targets (Organizations is listed when asked); ``only`` keeps those ids.

    :raises TargetResolutionError: the caller's identity or the organization's accounts could not
        be read, or the ``organization`` filter matches no account.
    """
    try:
        current = base.caller_context()
    except Exception as exc:
        raise _aws_failure("could not identify the sweep's own account (sts:GetCallerIdentity)", exc) from exc
    targets: dict[str, Target] = {}
    for t in config.accounts:
        targets[t.account_id or current.account_id] = t
    if config.organization is not None:
        try:
            found = _organization_accounts(base, config.organization)
        except Exception as exc:
            raise _aws_failure("could not list the organization's accounts", exc, account_id=current.account_id,
                               partition=current.partition) from exc
        if not found:
            raise TargetResolutionError(
                f"{config.source}: organization: {_describe_selector(config.organization)}; nothing was swept",
                account_id=current.account_id, partition=current.partition)
        for account_id, name in found:
            targets.setdefault(account_id, Target(account_id, None, name))
    wanted = set(only)
    if wanted:
        for account_id in wanted - set(targets):
            targets[account_id] = Target(account_id)
        targets = {k: v for k, v in targets.items() if k in wanted}
    if not targets:
        targets[current.account_id] = Target(current.account_id)
    out = []
    for account_id, t in sorted(targets.items()):
        role = t.role_arn
        if role is None and account_id != current.account_id and config.role_name:
            role = f"arn:{current.partition}:iam::{account_id}:role/{config.role_name}"
        out.append(Target(account_id, role, t.name))
    return out


def _describe_selector(selector: OrganizationSelector) -> str:
    parts = []
    if selector.ou_ids:
        parts.append(f"ou_ids {', '.join(selector.ou_ids)}")
    if selector.tags:
        parts.append("tags " + ", ".join(f"{k}={v}" for k, v in sorted(selector.tags.items())))
    if selector.exclude:
        parts.append(f"exclude {', '.join(selector.exclude)}")
    if not parts:
        return "the organization lists no active account (is this account in an organization?)"
    return "the filter (" + "; ".join(parts) + ") matches no active account"


def _aws_failure(what: str, exc: BaseException, *, account_id: str | None = None,
                 partition: str = "aws") -> TargetResolutionError:
    """A resolution error naming the failed call and AWS's answer (transient errors stay retryable)."""
    from iamflow.aws.errors import is_transient
    from iamflow.compliance.collect import describe_error

    detail = " ".join(describe_error(exc).split())  # one line, whatever the answer's body held
    return TargetResolutionError(f"{what}: {detail}", account_id=account_id, partition=partition,
                                 retryable=is_transient(exc))


def _organization_accounts(base: AwsClients, selector: OrganizationSelector) -> list[tuple[str, str]]:
    org = base.client("organizations")
    if selector.ou_ids:
        accounts = {}
        for ou in selector.ou_ids:
            accounts.update(_accounts_under(org, ou))
        found = list(accounts.values())
    else:
        found = [a for page in org.get_paginator("list_accounts").paginate() for a in page.get("Accounts", [])]
    out = []
    for a in found:
        if a.get("Status", "ACTIVE") != "ACTIVE" or a["Id"] in selector.exclude:
            continue
        if selector.tags:
            tags = {t["Key"]: t["Value"] for page in org.get_paginator("list_tags_for_resource").paginate(ResourceId=a["Id"])
                    for t in page.get("Tags", [])}
            if any(tags.get(k) != v for k, v in selector.tags.items()):
                continue
        out.append((a["Id"], a.get("Name", "")))
    return out


def _accounts_under(org: Any, parent: str) -> dict[str, dict[str, Any]]:
    accounts = {a["Id"]: a for page in org.get_paginator("list_accounts_for_parent").paginate(ParentId=parent)
                for a in page.get("Accounts", [])}
    for page in org.get_paginator("list_organizational_units_for_parent").paginate(ParentId=parent):
        for ou in page.get("OrganizationalUnits", []):
            accounts.update(_accounts_under(org, ou["Id"]))
    return accounts


def _custom_endpoint(base: AwsClients) -> str | None:
    """The single endpoint of a local AWS (moto) the base clients use, so assumed sessions keep it."""
    url = base.client("sts").meta.endpoint_url or ""
    return None if ".amazonaws.com" in url or ".amazonaws.com.cn" in url else url or None


def clients_for_target(
    base: AwsClients,
    target: Target,
    *,
    external_id: str | None = None,
    session_name: str = DEFAULT_SESSION_NAME,
    region: str | None = None,
    call_log: CallLog | None = None,
) -> AwsClients:
    """Clients acting in the target account: ``base`` itself without a role, else assumed-role clients."""
    from iamflow.aws.clients import AwsClients

    if not target.role_arn:
        if target.account_id and target.account_id != base.caller_context().account_id:
            raise ComplianceConfigError(
                f"account {target.account_id} has no role_arn (and targets.yaml no role_name) to reach it"
            )
        return base
    import boto3
    from botocore.config import Config

    kwargs: dict[str, Any] = {"RoleArn": target.role_arn, "RoleSessionName": session_name[:64]}
    if external_id:
        kwargs["ExternalId"] = external_id
    creds = base.client("sts").assume_role(**kwargs)["Credentials"]
    region = region or base.region or "us-east-1"
    endpoint = _custom_endpoint(base)
    session = boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=region,
    )
    config = Config(retries={"mode": "standard", "max_attempts": 5})

    def factory(service: str) -> Any:
        extra = {"endpoint_url": endpoint} if endpoint else {}
        return session.client(service, region_name=region, config=config, **extra)

    return AwsClients(factory, call_log=call_log, region=region)
