"""The snapshot of one account: everything the checks read, collected once (see ``collect.py``).

Every field that a collection step fills is ``None`` until the step succeeds; a step that failed
has its message in ``errors`` and a step that was deliberately not run has its reason in
``skipped``. Nothing here holds a secret value: no secret string, no MFA seed, no client secret.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# collection steps; a check names the ones it needs
CREDENTIAL_REPORT = "credential_report"
AUTHORIZATION_DETAILS = "authorization_details"
PASSWORD_POLICY = "password_policy"
ACCOUNT_SUMMARY = "account_summary"
VIRTUAL_MFA_DEVICES = "virtual_mfa_devices"
KMS_KEYS = "kms_keys"
SECRETS = "secrets"
USER_POOLS = "user_pools"
SERVER_CERTIFICATES = "server_certificates"
ACCESS_ANALYZERS = "access_analyzers"
DRIFT = "drift"

IAM_STEPS = (CREDENTIAL_REPORT, AUTHORIZATION_DETAILS, PASSWORD_POLICY, ACCOUNT_SUMMARY, VIRTUAL_MFA_DEVICES,
             SERVER_CERTIFICATES)
REGIONAL_STEPS = (KMS_KEYS, SECRETS, USER_POOLS, ACCESS_ANALYZERS)
ALL_STEPS = IAM_STEPS + REGIONAL_STEPS + (DRIFT,)

ROOT_ROW = "<root_account>"
# credential report cells that mean "no date"
_NO_DATE = {"", "N/A", "n/a", "no_information", "not_supported"}


def parse_report_time(value: str | None) -> datetime | None:
    """Parse a credential report timestamp (ISO 8601); ``N/A``, ``no_information``, ``not_supported`` → None."""
    if value is None or value.strip() in _NO_DATE:
        return None
    text = value.strip().replace("Z", "+00:00")
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def as_utc(value: Any) -> datetime | None:
    """Return an aware UTC datetime from a boto3 datetime, an ISO string or None."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if not isinstance(value, datetime):
        raise TypeError(f"not a timestamp: {value!r}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _bool(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


@dataclass(frozen=True)
class AccessKeyColumns:
    """One access-key slot (1 or 2) of a credential report row; the report carries no key id."""

    slot: int
    active: bool
    last_rotated: datetime | None  # the key's creation time
    last_used: datetime | None
    last_used_service: str | None = None

    @property
    def present(self) -> bool:
        """Whether a key exists in this slot (active or not)."""
        return self.active or self.last_rotated is not None


@dataclass(frozen=True)
class CredentialRow:
    """One row of the IAM credential report, parsed."""

    user: str
    arn: str
    user_creation_time: datetime | None
    password_enabled: bool
    password_last_used: datetime | None
    password_last_used_raw: str
    password_last_changed: datetime | None
    mfa_active: bool
    access_keys: tuple[AccessKeyColumns, ...]

    @property
    def is_root(self) -> bool:
        """Whether this is the ``<root_account>`` row."""
        return self.user == ROOT_ROW

    @property
    def active_keys(self) -> list[AccessKeyColumns]:
        """The active access keys, in slot order."""
        return [k for k in self.access_keys if k.active]


@dataclass(frozen=True)
class CredentialReport:
    """The parsed credential report: user rows, the root row if AWS included it, and when it was made."""

    generated_time: datetime | None
    reused: bool
    users: tuple[CredentialRow, ...]
    root: CredentialRow | None

    @classmethod
    def parse(cls, content: str | bytes, generated_time: datetime | None, *, reused: bool = False) -> CredentialReport:
        """Parse the CSV content of ``GetCredentialReport``."""
        text = content.decode("utf-8") if isinstance(content, bytes) else content
        users: list[CredentialRow] = []
        root: CredentialRow | None = None
        for rec in csv.DictReader(io.StringIO(text)):
            row = _parse_row(rec)
            if row.is_root:
                root = row
            else:
                users.append(row)
        return cls(generated_time=generated_time, reused=reused, users=tuple(users), root=root)


def _parse_row(rec: dict[str, str]) -> CredentialRow:
    keys = []
    for slot in (1, 2):
        p = f"access_key_{slot}_"
        service = (rec.get(p + "last_used_service") or "").strip()
        keys.append(
            AccessKeyColumns(
                slot=slot,
                active=_bool(rec.get(p + "active")),
                last_rotated=parse_report_time(rec.get(p + "last_rotated")),
                last_used=parse_report_time(rec.get(p + "last_used_date")),
                last_used_service=None if service in _NO_DATE else service,
            )
        )
    password_raw = (rec.get("password_last_used") or "").strip()
    return CredentialRow(
        user=rec.get("user", ""),
        arn=rec.get("arn", ""),
        user_creation_time=parse_report_time(rec.get("user_creation_time")),
        # the root row says "not_supported": root always has a password
        password_enabled=_bool(rec.get("password_enabled")),
        password_last_used=parse_report_time(password_raw),
        password_last_used_raw=password_raw,
        password_last_changed=parse_report_time(rec.get("password_last_changed")),
        mfa_active=_bool(rec.get("mfa_active")),
        access_keys=tuple(keys),
    )


@dataclass(frozen=True)
class ManagedPolicy:
    """A managed policy with its default version's document and attachment count."""

    arn: str
    name: str
    path: str
    attachment_count: int
    default_version_id: str | None
    document: dict[str, Any] | None

    @property
    def is_aws_managed(self) -> bool:
        """Whether AWS owns the policy (``arn:<partition>:iam::aws:policy/...``)."""
        return self.arn.split(":")[4:5] == ["aws"]


@dataclass(frozen=True)
class Principal:
    """An IAM user, group or role from ``GetAccountAuthorizationDetails``."""

    kind: str  # "user", "group" or "role"
    name: str
    arn: str
    path: str = "/"
    create_date: datetime | None = None
    attached_policies: tuple[tuple[str, str], ...] = ()  # (name, arn)
    inline_policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    groups: tuple[str, ...] = ()  # users only
    permissions_boundary_arn: str | None = None
    trust_policy: dict[str, Any] | None = None  # roles only
    role_last_used: datetime | None = None

    @property
    def is_service_linked(self) -> bool:
        """Whether this is a service-linked role (AWS manages its policies and trust)."""
        return self.kind == "role" and self.path.startswith("/aws-service-role/")

    def has_attached(self, policy_arn_suffix: str) -> bool:
        """Whether a managed policy whose ARN ends with ``policy_arn_suffix`` is attached."""
        return any(arn.endswith(policy_arn_suffix) for _name, arn in self.attached_policies)


@dataclass(frozen=True)
class AuthorizationDetails:
    """Users, groups, roles and managed policies of the account."""

    users: tuple[Principal, ...]
    groups: tuple[Principal, ...]
    roles: tuple[Principal, ...]
    policies: dict[str, ManagedPolicy]

    def principals(self) -> list[Principal]:
        """Users, then groups, then roles."""
        return [*self.users, *self.groups, *self.roles]


@dataclass(frozen=True)
class PasswordPolicy:
    """The account password policy; ``present`` is False when none is set (a finding, not an error)."""

    present: bool
    settings: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        """Return one setting of ``GetAccountPasswordPolicy``."""
        return self.settings.get(key, default)


@dataclass(frozen=True)
class VirtualMfaDevice:
    """A virtual MFA device: serial and the user it is assigned to (never its seed or QR code)."""

    serial_number: str
    user_arn: str | None
    enable_date: datetime | None


@dataclass
class KmsKey:
    """A KMS key with its rotation status, policy and tags; ``errors`` holds per-key read failures."""

    key_id: str
    arn: str
    state: str
    manager: str  # "CUSTOMER" or "AWS"
    spec: str
    usage: str
    origin: str
    creation_date: datetime | None = None
    deletion_date: datetime | None = None
    rotation_enabled: bool | None = None
    rotation_period_days: int | None = None
    next_rotation_date: datetime | None = None
    policy: dict[str, Any] | None = None
    aliases: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def is_customer_managed(self) -> bool:
        """Whether the customer manages the key (AWS-managed keys rotate on AWS's own schedule)."""
        return self.manager == "CUSTOMER"

    @property
    def supports_automatic_rotation(self) -> bool:
        """Symmetric encryption keys with AWS-generated material are the ones automatic rotation applies to."""
        return self.spec == "SYMMETRIC_DEFAULT" and self.origin == "AWS_KMS" and self.usage == "ENCRYPT_DECRYPT"


FORCE_CHANGE_PASSWORD = "FORCE_CHANGE_PASSWORD"


@dataclass(frozen=True)
class BootstrapPassword:
    """What a secret holding a bootstrap admin's temporary password (stored by iamflow) is for, and its state.

    ``user_status`` is the admin's Cognito ``UserStatus`` (``FORCE_CHANGE_PASSWORD`` until the first
    sign-in), or None when the pool or the user no longer exists; ``error`` says why it could not be read.
    """

    pool: str
    username: str
    pool_id: str | None = None
    user_status: str | None = None
    error: str | None = None

    @property
    def pending(self) -> bool:
        """Whether the admin has still to sign in and replace the temporary password."""
        return self.user_status == FORCE_CHANGE_PASSWORD


@dataclass(frozen=True)
class Secret:
    """A Secrets Manager secret's metadata from ``ListSecrets`` (never its value)."""

    arn: str
    name: str
    rotation_enabled: bool
    rotation_days: int | None
    last_rotated: datetime | None
    next_rotation: datetime | None
    last_changed: datetime | None
    created: datetime | None
    tags: dict[str, str] = field(default_factory=dict)
    kms_key_id: str | None = None
    bootstrap: BootstrapPassword | None = None  # set for iamflow's Cognito admin temporary passwords
    # (pool, client) for iamflow's copy of a Cognito app client's secret (see resources.cognito.app_client)
    app_client: tuple[str, str] | None = None
    # LastAccessedDate (AWS keeps only the day); None means never accessed, as AWS documents
    last_accessed: datetime | None = None
    # the resource policy from GetResourcePolicy (None: the secret has none), or why it could not be read
    policy: dict[str, Any] | None = None
    policy_error: str | None = None


@dataclass(frozen=True)
class UserPoolClient:
    """A Cognito app client's token lifetimes (in seconds) and auth flows; never its secret."""

    client_id: str
    name: str
    access_token_seconds: int
    id_token_seconds: int
    refresh_token_seconds: int
    explicit_auth_flows: tuple[str, ...]
    has_secret: bool
    token_revocation: bool | None
    # ENABLED hides whether a user exists; LEGACY (AWS's answer when the client never set it) reveals it
    prevent_user_existence_errors: str = "LEGACY"


MFA_TOTP, MFA_SMS, MFA_EMAIL = "TOTP", "SMS", "EMAIL"


@dataclass
class UserPool:
    """A Cognito user pool's security settings and its app clients.

    ``mfa_configuration`` and ``mfa_factors`` come from ``GetUserPoolMfaConfig``, the pool's source
    of truth for sign-in (``DescribeUserPool``'s ``MfaConfiguration`` can lag behind it); when that
    call fails, ``mfa_configuration`` is ``UNKNOWN`` and ``errors`` says why.
    """

    pool_id: str
    name: str
    arn: str
    mfa_configuration: str
    password_policy: dict[str, Any]
    deletion_protection: str
    tags: dict[str, str] = field(default_factory=dict)
    clients: list[UserPoolClient] = field(default_factory=list)
    # AdminCreateUserConfig.AllowAdminCreateUserOnly: False (AWS's default) lets anyone sign up
    admin_create_user_only: bool = False
    # UserPoolAddOns.AdvancedSecurityMode (threat protection): OFF, AUDIT or ENFORCED; absent means OFF
    advanced_security_mode: str = "OFF"
    errors: dict[str, str] = field(default_factory=dict)
    mfa_factors: tuple[str, ...] = ()  # MFA_TOTP, MFA_SMS, MFA_EMAIL: the factors the pool has enabled


@dataclass(frozen=True)
class ServerCertificate:
    """An IAM server certificate's metadata from ``ListServerCertificates`` (never its body or key)."""

    name: str
    arn: str
    path: str
    expiration: datetime | None
    uploaded: datetime | None = None


@dataclass(frozen=True)
class AccessAnalyzer:
    """An IAM Access Analyzer analyzer of the region: type ACCOUNT/ORGANIZATION (external access) or *_UNUSED_ACCESS."""

    name: str
    arn: str
    type: str
    status: str  # ACTIVE, CREATING, DISABLED or FAILED

    @property
    def external_access(self) -> bool:
        """Whether the analyzer reports external access (the CIS control); unused-access analyzers do not."""
        return self.type in ("ACCOUNT", "ORGANIZATION")


@dataclass(frozen=True)
class DriftItem:
    """One playbook resource compared with its live state (filled by the converge engine's provider)."""

    kind: str
    name: str
    arn: str
    status: str  # "in_sync", "missing", "differs" or "error" (could not be compared; summary says why)
    summary: str = ""
    playbook: str = ""
    # the resource's expect: entries answered against the live account: (where, holds, one line)
    expectations: tuple[tuple[str, bool, str], ...] = ()


@dataclass
class Snapshot:
    """Everything collected from one account (and one region for the regional services)."""

    account_id: str
    partition: str = "aws"
    region: str = "us-east-1"
    collected_at: datetime | None = None
    credential_report: CredentialReport | None = None
    authorization: AuthorizationDetails | None = None
    password_policy: PasswordPolicy | None = None
    account_summary: dict[str, int] | None = None
    virtual_mfa_devices: list[VirtualMfaDevice] | None = None
    kms_keys: list[KmsKey] | None = None
    secrets: list[Secret] | None = None
    user_pools: list[UserPool] | None = None
    server_certificates: list[ServerCertificate] | None = None
    access_analyzers: list[AccessAnalyzer] | None = None
    drift: list[DriftItem] | None = None
    errors: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def root_arn(self) -> str:
        """The account's root ARN, the resource of account-level findings."""
        return f"arn:{self.partition}:iam::{self.account_id}:root"

    def value(self, step: str) -> Any:
        """Return the data a step filled (None when it did not run or failed)."""
        return getattr(self, _STEP_FIELDS[step])

    def problem(self, step: str) -> str | None:
        """Say why a step's data is missing, or None when it is there."""
        if step in self.errors:
            return f"collection step {step!r} failed: {self.errors[step]}"
        if step in self.skipped:
            return f"collection step {step!r} was not run: {self.skipped[step]}"
        if self.value(step) is None:
            return f"collection step {step!r} was not run"
        return None


_STEP_FIELDS = {
    CREDENTIAL_REPORT: "credential_report",
    AUTHORIZATION_DETAILS: "authorization",
    PASSWORD_POLICY: "password_policy",
    ACCOUNT_SUMMARY: "account_summary",
    VIRTUAL_MFA_DEVICES: "virtual_mfa_devices",
    KMS_KEYS: "kms_keys",
    SECRETS: "secrets",
    USER_POOLS: "user_pools",
    SERVER_CERTIFICATES: "server_certificates",
    ACCESS_ANALYZERS: "access_analyzers",
    DRIFT: "drift",
}
