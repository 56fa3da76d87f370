"""Collect one account's snapshot: every read the checks need, once, with a fixed number of IAM calls.

The IAM part never makes a per-user call: users and their credentials come from the credential
report, and users, groups, roles and policies (attachments, inline and default-version
documents, boundaries) from ``GetAccountAuthorizationDetails``. KMS, Secrets Manager and Cognito
calls grow with the number of keys, secrets and pools, never with users.

Each step runs in its own ``try``: a failure is recorded in ``Snapshot.errors`` and the checks
that need the step report ``ERROR``; the other steps still run. The steps are independent (each
writes its own part of the snapshot), so they run side by side in a bounded thread pool, and the
per-key KMS reads in another: boto3 clients are thread-safe once made, and ``AwsClients`` makes
them one at a time. Errors are stored in step order, whatever order the steps finish in. A
caller can follow the steps as they finish (``on_progress``) and evaluate the checks whose steps
are done while the others still run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import ClientError

from iamflow.compliance.config import MAX_REPORT_AGE
from iamflow.compliance.snapshot import (
    ACCESS_ANALYZERS,
    ACCOUNT_SUMMARY,
    ALL_STEPS,
    AUTHORIZATION_DETAILS,
    CLOUDTRAIL_TRAILS,
    CREDENTIAL_REPORT,
    DRIFT,
    IDENTITY_POOLS,
    KMS_KEYS,
    MFA_EMAIL,
    MFA_SMS,
    MFA_TOTP,
    PASSWORD_POLICY,
    SECRETS,
    SERVER_CERTIFICATES,
    SSM_PARAMETERS,
    USER_POOLS,
    VIRTUAL_MFA_DEVICES,
    AccessAnalyzer,
    AuthorizationDetails,
    BootstrapPassword,
    CredentialReport,
    DriftItem,
    IdentityPool,
    KmsKey,
    ManagedPolicy,
    PasswordPolicy,
    Principal,
    Secret,
    ServerCertificate,
    Snapshot,
    SsmParameter,
    Trail,
    UserPool,
    UserPoolClient,
    VirtualMfaDevice,
    as_utc,
)
from iamflow.errors import IamflowError
from iamflow.policy.document import parse_document
from iamflow.spec.names import bootstrap_admin_of, client_secret_of

if TYPE_CHECKING:
    from iamflow.aws.clients import AwsClients

DriftProvider = Callable[["AwsClients", Snapshot], Iterable[DriftItem]]
Sleep = Callable[[float], None]
# told the snapshot and the steps still running (see collect_account)
Progress = Callable[[Snapshot, frozenset[str]], None]
_T = TypeVar("_T")
_R = TypeVar("_R")

# GenerateCredentialReport answers these while another generation runs or too many were asked for
REPORT_BUSY = frozenset({"ReportInProgress", "LimitExceeded", "LimitExceededException", "Throttling", "ThrottlingException"})
# GetCredentialReport: no usable report yet
REPORT_ABSENT = frozenset({"ReportNotPresent", "ReportExpired", "ReportInProgress"})
# a report "generated" further in the future than this is not trusted (moto's is fixed in 2015: too old)
CLOCK_SKEW = timedelta(minutes=5)
_TOKEN_UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}


class CollectionError(IamflowError):
    """A collection step could not produce its data (the message says which call and why)."""


def describe_error(exc: BaseException) -> str:
    """One line naming the failed call and AWS's error code and message (never a request body)."""
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{exc.operation_name}: {err.get('Code', 'Unknown')}: {err.get('Message', '')}".rstrip(": ")
    return f"{type(exc).__name__}: {exc}"


@dataclass(frozen=True)
class CollectOptions:
    """How patient the collector is with the credential report."""

    report_max_age: timedelta = MAX_REPORT_AGE
    report_timeout_seconds: float = 300.0
    report_poll_seconds: float = 1.0
    report_poll_max_seconds: float = 16.0
    # collection steps run side by side, and the per-key reads of KMS, at most this many at a time
    workers: int = 8


def collect_account(
    clients: AwsClients,
    *,
    now: datetime | None = None,
    report_max_age: timedelta | None = None,
    steps: Iterable[str] | None = None,
    account_id: str | None = None,
    options: CollectOptions | None = None,
    sleep: Sleep | None = None,
    drift_provider: DriftProvider | None = None,
    on_progress: Progress | None = None,
) -> Snapshot:
    """Collect the snapshot of the account ``clients`` act in.

    :param now: the sweep's clock (reports older than ``report_max_age`` at ``now`` are regenerated).
    :param steps: the collection steps to run (default: all); see ``snapshot.ALL_STEPS``.
    :param account_id: the account the caller expects; a mismatch fails every step.
    :param sleep: how to wait between credential report polls (tests pass a no-op).
    :param drift_provider: the converge engine's comparison of playbooks with live state.
    :param on_progress: called in this thread with the snapshot and the steps still running, once
        the steps are started and again each time one finishes (its data or its error stored), so
        that the caller can evaluate what is settled while the rest is collected.
    """
    now = now or datetime.now(UTC)
    opts = options or CollectOptions()
    if report_max_age is not None:
        opts = replace(opts, report_max_age=report_max_age)
    chosen = None if steps is None else set(steps)
    wanted = [s for s in ALL_STEPS if chosen is None or s in chosen]
    try:
        ctx = clients.caller_context()
    except Exception as exc:
        snapshot = Snapshot(account_id=account_id or "unknown", region=clients.region or "us-east-1", collected_at=now)
        for step in wanted:
            snapshot.errors[step] = f"could not identify the account: {describe_error(exc)}"
        return snapshot
    # KMS, Secrets Manager and Cognito are read in the clients' region
    snapshot = Snapshot(account_id=ctx.account_id, partition=ctx.partition, region=clients.region or ctx.region,
                        collected_at=now)
    if account_id and ctx.account_id != account_id:
        snapshot.account_id = account_id
        for step in wanted:
            snapshot.errors[step] = f"the credentials act in account {ctx.account_id}, not {account_id}"
        return snapshot
    collector = _Collector(clients, snapshot, now, opts, sleep)
    if DRIFT in wanted and drift_provider is None:
        snapshot.skipped[DRIFT] = "no drift provider is configured (the converge engine supplies it)"
        wanted.remove(DRIFT)

    def run(step: str) -> str | None:
        """Run one step; return its error, if any."""
        try:
            if step == DRIFT:
                assert drift_provider is not None
                snapshot.drift = list(drift_provider(clients, snapshot))
            else:
                collector.run(step)
        except Exception as exc:
            return describe_error(exc)
        return None

    running = set(wanted)
    if on_progress is not None:
        on_progress(snapshot, frozenset(running))
    for step, error in _as_done(run, wanted, opts.workers):
        if error is not None:
            snapshot.errors[step] = error
        running.discard(step)
        if on_progress is not None:
            on_progress(snapshot, frozenset(running))
    # in step order, whatever order the steps finished in
    snapshot.errors = {s: snapshot.errors[s] for s in ALL_STEPS if s in snapshot.errors}
    return snapshot


def _as_done(func: Callable[[_T], _R], items: list[_T], workers: int) -> Iterator[tuple[_T, _R]]:
    """``(item, func(item))`` for each item, as each finishes, at most ``workers`` at a time (in this thread when 1)."""
    if workers <= 1 or len(items) <= 1:
        for i in items:
            yield i, func(i)
        return
    with ThreadPoolExecutor(max_workers=min(workers, len(items)), thread_name_prefix="iamflow-collect") as pool:
        futures = {pool.submit(func, i): i for i in items}
        for future in as_completed(futures):
            yield futures[future], future.result()


def _map(func: Callable[[_T], _R], items: list[_T], workers: int) -> list[_R]:
    """``[func(i) for i in items]``, at most ``workers`` at a time, results in the order of ``items``."""
    if workers <= 1 or len(items) <= 1:
        return [func(i) for i in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items)), thread_name_prefix="iamflow-collect") as pool:
        return list(pool.map(func, items))


class _Collector:
    """The steps of :func:`collect_account`, sharing clients, snapshot, clock and options."""

    def __init__(self, clients: AwsClients, snapshot: Snapshot, now: datetime, opts: CollectOptions, sleep: Sleep | None):
        self.clients = clients
        self.snapshot = snapshot
        self.now = now
        self.opts = opts
        self.sleep = time.sleep if sleep is None else sleep  # looked up per call: a test can patch time.sleep

    def run(self, step: str) -> None:
        """Run one step and store its data in the snapshot."""
        steps: dict[str, Callable[[], None]] = {
            CREDENTIAL_REPORT: self.credential_report,
            AUTHORIZATION_DETAILS: self.authorization_details,
            PASSWORD_POLICY: self.password_policy,
            ACCOUNT_SUMMARY: self.account_summary,
            VIRTUAL_MFA_DEVICES: self.virtual_mfa_devices,
            KMS_KEYS: self.kms_keys,
            SECRETS: self.secrets,
            USER_POOLS: self.user_pools,
            SERVER_CERTIFICATES: self.server_certificates,
            ACCESS_ANALYZERS: self.access_analyzers,
            CLOUDTRAIL_TRAILS: self.cloudtrail_trails,
            SSM_PARAMETERS: self.ssm_parameters,
            IDENTITY_POOLS: self.identity_pools,
        }
        steps[step]()

    # --- credential report ----------------------------------------------------------------------

    def credential_report(self) -> None:
        """Reuse a report younger than the maximum age, else generate one (with backoff) and read it."""
        iam = self.clients.client("iam")
        existing = self._get_report(iam, wait=False)
        if existing is not None and self._fresh(existing.get("GeneratedTime")):
            self.snapshot.credential_report = CredentialReport.parse(
                existing["Content"], as_utc(existing.get("GeneratedTime")), reused=True
            )
            return
        self._generate_report(iam)
        report = self._get_report(iam, wait=True)
        assert report is not None
        self.snapshot.credential_report = CredentialReport.parse(report["Content"], as_utc(report.get("GeneratedTime")))

    def _fresh(self, generated: Any) -> bool:
        when = as_utc(generated)
        if when is None or when > self.now + CLOCK_SKEW:
            return False  # implausible: regenerate rather than trust it
        return self.now - when <= self.opts.report_max_age

    def _backoff(self) -> Iterable[float]:
        waited, delay = 0.0, self.opts.report_poll_seconds
        while waited < self.opts.report_timeout_seconds:
            yield delay
            waited += delay
            delay = min(delay * 2, self.opts.report_poll_max_seconds)

    def _generate_report(self, iam: Any) -> None:
        delays = iter(self._backoff())
        last = "no answer"
        while True:
            try:
                state = iam.generate_credential_report().get("State")
                if state == "COMPLETE":
                    return
                last = f"state {state}"
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in REPORT_BUSY:
                    raise
                last = describe_error(exc)
            delay = next(delays, None)
            if delay is None:
                raise CollectionError(
                    f"GenerateCredentialReport: not complete after {self.opts.report_timeout_seconds:.0f} s ({last})"
                )
            self.sleep(delay)

    def _get_report(self, iam: Any, *, wait: bool) -> dict[str, Any] | None:
        delays = iter(self._backoff())
        while True:
            try:
                report: dict[str, Any] = iam.get_credential_report()
                return report
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code")
                if code not in REPORT_ABSENT | REPORT_BUSY:
                    raise
                if not wait and code in REPORT_ABSENT:
                    return None
                delay = next(delays, None)
                if delay is None:
                    raise CollectionError(f"{describe_error(exc)} (still, after generating the report)") from exc
                self.sleep(delay)

    # --- IAM ------------------------------------------------------------------------------------

    def authorization_details(self) -> None:
        """Users, groups, roles and managed policies in as few pages as IAM allows (1,000 items each)."""
        self.snapshot.authorization = read_authorization_details(self.clients.client("iam"))

    def password_policy(self) -> None:
        """The password policy, or ``present=False`` when the account has none."""
        iam = self.clients.client("iam")
        try:
            settings = iam.get_account_password_policy()["PasswordPolicy"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NoSuchEntity":
                raise
            self.snapshot.password_policy = PasswordPolicy(present=False)
            return
        self.snapshot.password_policy = PasswordPolicy(present=True, settings=dict(settings))

    def account_summary(self) -> None:
        """The account summary map (root MFA and root access keys among others)."""
        summary = self.clients.client("iam").get_account_summary()["SummaryMap"]
        self.snapshot.account_summary = {str(k): int(v) for k, v in summary.items()}

    def virtual_mfa_devices(self) -> None:
        """Assigned virtual MFA devices: serial and owner only (the seed and QR code are dropped here)."""
        iam = self.clients.client("iam")
        devices: list[VirtualMfaDevice] = []
        pages = iam.get_paginator("list_virtual_mfa_devices").paginate(
            AssignmentStatus="Assigned", PaginationConfig={"PageSize": 1000}
        )
        for page in pages:
            for d in page.get("VirtualMFADevices", []):
                devices.append(VirtualMfaDevice(d["SerialNumber"], (d.get("User") or {}).get("Arn"), as_utc(d.get("EnableDate"))))
        self.snapshot.virtual_mfa_devices = devices

    def server_certificates(self) -> None:
        """Server certificate metadata (names and expiry; bodies and keys are never read)."""
        iam = self.clients.client("iam")
        certs: list[ServerCertificate] = []
        for page in iam.get_paginator("list_server_certificates").paginate(PaginationConfig={"PageSize": 1000}):
            for c in page.get("ServerCertificateMetadataList", []):
                certs.append(ServerCertificate(c["ServerCertificateName"], c["Arn"], c.get("Path", "/"),
                                               as_utc(c.get("Expiration")), as_utc(c.get("UploadDate"))))
        self.snapshot.server_certificates = certs

    # --- IAM Access Analyzer --------------------------------------------------------------------

    def access_analyzers(self) -> None:
        """The region's analyzers (every type). The embedded AWS answers "not implemented": an ERROR there."""
        aa = self.clients.client("accessanalyzer")
        analyzers: list[AccessAnalyzer] = []
        for page in aa.get_paginator("list_analyzers").paginate():
            for a in page.get("analyzers", []):
                analyzers.append(AccessAnalyzer(a.get("name", ""), a.get("arn", ""), a.get("type", ""),
                                                a.get("status", "")))
        self.snapshot.access_analyzers = analyzers

    # --- CloudTrail -----------------------------------------------------------------------------

    def cloudtrail_trails(self) -> None:
        """The trails the region sees (shadow trails included: a multi-region trail homed elsewhere covers
        this region too), each with its logging status and management-event selection."""
        ct = self.clients.client("cloudtrail")
        trails = [_trail(t) for t in ct.describe_trails(includeShadowTrails=True).get("trailList", [])]
        for trail in trails:
            _trail_details(ct, trail)
        self.snapshot.cloudtrail_trails = trails

    # --- Parameter Store ------------------------------------------------------------------------

    def ssm_parameters(self) -> None:
        """Every parameter's metadata; the values of String and StringList ones, judged then dropped."""
        ssm = self.clients.client("ssm")
        params: list[SsmParameter] = []
        for page in ssm.get_paginator("describe_parameters").paginate(PaginationConfig={"PageSize": 50}):
            for p in page.get("Parameters", []):
                arn = p.get("ARN") or (f"arn:{self.snapshot.partition}:ssm:{self.snapshot.region}:"
                                       f"{self.snapshot.account_id}:parameter/{p['Name'].lstrip('/')}")
                params.append(SsmParameter(p["Name"], arn, p.get("Type", "String"), p.get("KeyId"),
                                           p.get("Tier") or "Standard"))
        plain = [p for p in params if p.type != "SecureString"]
        for start in range(0, len(plain), 10):  # GetParameters takes at most 10 names
            _judge_values(ssm, plain[start:start + 10])
        self.snapshot.ssm_parameters = params

    # --- Cognito identity pools -----------------------------------------------------------------

    def identity_pools(self) -> None:
        """Every identity pool of the region, described; its roles when ``GetIdentityPoolRoles`` answers.

        A failed roles read is kept on the pool (the embedded AWS does not implement the call), so
        that the guest-access check still judges it.
        """
        ci = self.clients.client("cognito-identity")
        pools: list[IdentityPool] = []
        for page in ci.get_paginator("list_identity_pools").paginate(MaxResults=60):
            for item in page.get("IdentityPools", []):
                pools.append(_identity_pool(ci, item["IdentityPoolId"], self.snapshot))
        self.snapshot.identity_pools = pools

    # --- KMS ------------------------------------------------------------------------------------

    def kms_keys(self) -> None:
        """Every key of the region; for customer keys also rotation status, key policy and tags."""
        kms = self.clients.client("kms")
        aliases: dict[str, list[str]] = {}
        for page in kms.get_paginator("list_aliases").paginate():
            for a in page.get("Aliases", []):
                if a.get("TargetKeyId"):
                    aliases.setdefault(a["TargetKeyId"], []).append(a["AliasName"])
        listed = [k for page in kms.get_paginator("list_keys").paginate() for k in page.get("Keys", [])]

        def one(k: dict[str, Any]) -> KmsKey:
            return self._kms_key(kms, k["KeyId"], k.get("KeyArn", ""), aliases.get(k["KeyId"], []))

        self.snapshot.kms_keys = _map(one, listed, self.opts.workers)  # up to four reads a key: side by side

    def _kms_key(self, kms: Any, key_id: str, arn: str, aliases: list[str]) -> KmsKey:
        try:
            meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
        except ClientError as exc:
            return KmsKey(key_id, arn, "Unknown", "UNKNOWN", "", "", "", errors={"DescribeKey": describe_error(exc)})
        key = KmsKey(
            key_id=key_id,
            arn=meta.get("Arn", arn),
            state=meta.get("KeyState", "Unknown"),
            manager=meta.get("KeyManager", "CUSTOMER"),
            spec=meta.get("KeySpec") or meta.get("CustomerMasterKeySpec", ""),
            usage=meta.get("KeyUsage") or "ENCRYPT_DECRYPT",  # the API's default; moto leaves it out
            origin=meta.get("Origin", ""),
            creation_date=as_utc(meta.get("CreationDate")),
            deletion_date=as_utc(meta.get("DeletionDate")),
            aliases=tuple(sorted(aliases)),
        )
        if not key.is_customer_managed:
            return key
        if key.state in ("Enabled", "Disabled") and key.supports_automatic_rotation:
            try:
                status = kms.get_key_rotation_status(KeyId=key_id)
                key.rotation_enabled = bool(status.get("KeyRotationEnabled"))
                period = status.get("RotationPeriodInDays")
                key.rotation_period_days = int(period) if period is not None else None
                key.next_rotation_date = as_utc(status.get("NextRotationDate"))
            except ClientError as exc:
                key.errors["GetKeyRotationStatus"] = describe_error(exc)
        try:
            # PolicyName must be given: "default" is the only name KMS supports (and moto requires it)
            key.policy = parse_document(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
        except ClientError as exc:
            key.errors["GetKeyPolicy"] = describe_error(exc)
        try:
            tags = kms.list_resource_tags(KeyId=key_id).get("Tags", [])
            key.tags = {t["TagKey"]: t["TagValue"] for t in tags}
        except ClientError as exc:
            key.errors["ListResourceTags"] = describe_error(exc)
        return key

    # --- Secrets Manager ------------------------------------------------------------------------

    def secrets(self) -> None:
        """Secret metadata from ListSecrets and each secret's resource policy (values are never read).

        A secret that holds the temporary password iamflow stored for a Cognito bootstrap admin
        (see ``spec.names.bootstrap_admin_of``) also gets that admin's status:
        one ``AdminGetUser`` per such secret, after one ``ListUserPools`` and a ``DescribeUserPool``
        per pool of the name, and only when there is such a secret. Only ``UserStatus`` is kept.
        """
        sm = self.clients.client("secretsmanager")
        listed = [s for page in sm.get_paginator("list_secrets").paginate(PaginationConfig={"PageSize": 100})
                  for s in page.get("SecretList", [])]

        def one(s: dict[str, Any]) -> Secret:
            rules = s.get("RotationRules") or {}
            tags = _tags(s.get("Tags"))
            return Secret(
                arn=s["ARN"],
                name=s.get("Name", ""),
                rotation_enabled=bool(s.get("RotationEnabled")),
                rotation_days=rules.get("AutomaticallyAfterDays") or None,
                last_rotated=as_utc(s.get("LastRotatedDate")),
                next_rotation=as_utc(s.get("NextRotationDate")),
                last_changed=as_utc(s.get("LastChangedDate")),
                created=as_utc(s.get("CreatedDate")),
                tags=tags,
                kms_key_id=s.get("KmsKeyId"),
                last_accessed=as_utc(s.get("LastAccessedDate")),
                app_client=client_secret_of(s.get("Name", ""), tags),
                **_secret_policy(sm, s["ARN"]),
            )

        # one GetResourcePolicy a secret: side by side, as the per-key KMS reads (results in listing order)
        self.snapshot.secrets = self._bootstrap_passwords(_map(one, listed, self.opts.workers))

    def _bootstrap_passwords(self, secrets: list[Secret]) -> list[Secret]:
        owners = {s.arn: bootstrap_admin_of(s.name, s.tags) for s in secrets}
        if not any(owners.values()):
            return secrets
        idp = self.clients.client("cognito-idp")
        try:
            pools = _iamflow_pools(idp, {o[0] for o in owners.values() if o})
        except ClientError as exc:
            pools_error: str | None = describe_error(exc)
            pools = {}
        else:
            pools_error = None
        out = []
        for s in secrets:
            owner = owners[s.arn]
            if owner is None:
                out.append(s)
                continue
            pool, username = owner
            if pools_error is not None:
                status = BootstrapPassword(pool, username, error=pools_error)
            else:
                status = _admin_status(idp, pool, username, pools.get(pool, []))
            out.append(replace(s, bootstrap=status))
        return out

    # --- Cognito --------------------------------------------------------------------------------

    def user_pools(self) -> None:
        """User pools with their security settings, MFA config and app clients (client secrets are dropped here)."""
        idp = self.clients.client("cognito-idp")
        pools: list[UserPool] = []
        for page in idp.get_paginator("list_user_pools").paginate(MaxResults=60):
            for summary in page.get("UserPools", []):
                pools.append(self._user_pool(idp, summary["Id"], summary.get("Name", "")))
        self.snapshot.user_pools = pools

    def _user_pool(self, idp: Any, pool_id: str, name: str) -> UserPool:
        s = self.snapshot
        fallback_arn = f"arn:{s.partition}:cognito-idp:{s.region}:{s.account_id}:userpool/{pool_id}"
        try:
            desc = idp.describe_user_pool(UserPoolId=pool_id)["UserPool"]
        except ClientError as exc:
            return UserPool(pool_id, name, fallback_arn, "UNKNOWN", {}, "UNKNOWN",
                            errors={"DescribeUserPool": describe_error(exc)})
        pool = UserPool(
            pool_id=pool_id,
            name=desc.get("Name", name),
            arn=desc.get("Arn") or fallback_arn,
            mfa_configuration="UNKNOWN",  # from GetUserPoolMfaConfig below: DescribeUserPool's can lag
            password_policy=dict((desc.get("Policies") or {}).get("PasswordPolicy") or {}),
            deletion_protection=desc.get("DeletionProtection", "INACTIVE"),
            tags=dict(desc.get("UserPoolTags") or {}),
            admin_create_user_only=bool((desc.get("AdminCreateUserConfig") or {}).get("AllowAdminCreateUserOnly")),
            advanced_security_mode=(desc.get("UserPoolAddOns") or {}).get("AdvancedSecurityMode") or "OFF",
        )
        try:
            mfa = idp.get_user_pool_mfa_config(UserPoolId=pool_id)
            pool.mfa_configuration = mfa.get("MfaConfiguration") or "OFF"
            pool.mfa_factors = mfa_factors(mfa)
        except ClientError as exc:
            pool.errors["GetUserPoolMfaConfig"] = describe_error(exc)
        try:
            for page in idp.get_paginator("list_user_pool_clients").paginate(UserPoolId=pool_id, MaxResults=60):
                for c in page.get("UserPoolClients", []):
                    try:
                        detail = idp.describe_user_pool_client(UserPoolId=pool_id, ClientId=c["ClientId"])["UserPoolClient"]
                    except ClientError as exc:
                        pool.errors["DescribeUserPoolClient"] = describe_error(exc)
                        continue
                    pool.clients.append(_pool_client(detail))
        except ClientError as exc:
            pool.errors["ListUserPoolClients"] = describe_error(exc)
        return pool


def _judge_values(ssm: Any, batch: list[SsmParameter]) -> None:
    """Read a batch of plain parameters' values and keep only what they look like (never the value)."""
    from iamflow.policy.lint import credential_message, scan_credentials

    try:
        got = ssm.get_parameters(Names=[p.name for p in batch])
    except ClientError as exc:
        for p in batch:
            p.errors["GetParameters"] = describe_error(exc)
        return
    values = {v["Name"]: v.get("Value", "") for v in got.get("Parameters", [])}
    for p in batch:
        if p.name not in values:
            p.errors["GetParameters"] = "not returned"
            continue
        hits = scan_credentials(values[p.name])
        p.value_findings = tuple(dict.fromkeys(credential_message(kind) for _path, kind in hits))


def _identity_pool(ci: Any, pool_id: str, snapshot: Snapshot) -> IdentityPool:
    d = ci.describe_identity_pool(IdentityPoolId=pool_id)
    pool = IdentityPool(
        pool_id=pool_id, name=d.get("IdentityPoolName", ""),
        arn=f"arn:{snapshot.partition}:cognito-identity:{snapshot.region}:{snapshot.account_id}:identitypool/{pool_id}",
        allow_unauthenticated=bool(d.get("AllowUnauthenticatedIdentities")),
        allow_classic_flow=bool(d.get("AllowClassicFlow")),
        providers=tuple(p.get("ProviderName", "") for p in d.get("CognitoIdentityProviders") or []),
        tags=dict(d.get("IdentityPoolTags") or {}),
    )
    try:
        pool.roles = dict(ci.get_identity_pool_roles(IdentityPoolId=pool_id).get("Roles") or {})
    except Exception as exc:  # the embedded AWS raises NotImplementedError in process, a 500 over HTTP
        pool.errors["GetIdentityPoolRoles"] = describe_error(exc)
    return pool


def _trail(t: dict[str, Any]) -> Trail:
    return Trail(name=t.get("Name", ""), arn=t.get("TrailARN", ""), home_region=t.get("HomeRegion", ""),
                 multi_region=bool(t.get("IsMultiRegionTrail")),
                 log_file_validation=bool(t.get("LogFileValidationEnabled")),
                 organization=bool(t.get("IsOrganizationTrail")))


def management_events(selectors: dict[str, Any]) -> str:
    """Which management events a trail's selectors log: ``All``, ``ReadOnly``, ``WriteOnly`` or ``None``.

    No selector at all is AWS's default (every management event); advanced selectors log management
    events, reads and writes, when one selects ``eventCategory = Management`` without a ``readOnly``
    field (a ``readOnly`` field narrows it to reads or writes).
    """
    basic = selectors.get("EventSelectors") or []
    advanced = selectors.get("AdvancedEventSelectors") or []
    if not basic and not advanced:
        return "All"
    kinds: set[str] = set()
    for sel in basic:
        if sel.get("IncludeManagementEvents", True):
            kinds.add(sel.get("ReadWriteType", "All"))
    for sel in advanced:
        fields = {f.get("Field"): f for f in sel.get("FieldSelectors") or []}
        if "Management" not in ((fields.get("eventCategory") or {}).get("Equals") or []):
            continue
        read_only = (fields.get("readOnly") or {}).get("Equals") or []
        kinds.add("All" if not read_only else ("ReadOnly" if read_only == ["true"] else "WriteOnly"))
    if "All" in kinds or {"ReadOnly", "WriteOnly"} <= kinds:
        return "All"
    return next(iter(kinds)) if kinds else "None"


def _trail_details(ct: Any, trail: Trail) -> None:
    """Logging status and management events of one trail; a failed read is noted on the trail."""
    try:
        trail.is_logging = bool(ct.get_trail_status(Name=trail.arn).get("IsLogging"))
    except ClientError as exc:
        trail.errors["GetTrailStatus"] = describe_error(exc)
    try:
        trail.management_events = management_events(ct.get_event_selectors(TrailName=trail.arn))
    except ClientError as exc:
        trail.errors["GetEventSelectors"] = describe_error(exc)


def _secret_policy(sm: Any, arn: str) -> dict[str, Any]:
    """``policy`` / ``policy_error`` fields of a secret: one GetResourcePolicy call (no ResourcePolicy: none set)."""
    try:
        text = sm.get_resource_policy(SecretId=arn).get("ResourcePolicy")
    except ClientError as exc:
        return {"policy_error": describe_error(exc)}
    if not text:
        return {"policy": None}
    try:
        return {"policy": parse_document(text)}
    except ValueError as exc:
        return {"policy_error": f"GetResourcePolicy: the policy is not valid JSON ({exc})"}


# --- bootstrap admins of iamflow's Cognito pools ---------------------------------------------


def _iamflow_pools(idp: Any, names: set[str]) -> dict[str, list[str]]:
    """Pool name → ids of the pools of that name that carry iamflow's ``iamflow:id`` tag (any playbook)."""
    from iamflow.resources.cognito._common import TAG_KEY as pool_tag_key

    found: dict[str, list[str]] = {}
    for page in idp.get_paginator("list_user_pools").paginate(MaxResults=60):
        for summary in page.get("UserPools", []):
            name = summary.get("Name", "")
            if name not in names:
                continue
            try:
                tags = idp.describe_user_pool(UserPoolId=summary["Id"])["UserPool"].get("UserPoolTags") or {}
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                    continue  # deleted between the list and the describe
                raise
            if str(tags.get(pool_tag_key, "")).endswith(f"/{name}"):
                found.setdefault(name, []).append(summary["Id"])
    return found


def _admin_status(idp: Any, pool: str, username: str, pool_ids: list[str]) -> BootstrapPassword:
    """The admin's UserStatus in the one iamflow pool of that name (None when the pool or user is gone)."""
    if not pool_ids:
        return BootstrapPassword(pool, username)
    if len(pool_ids) > 1:
        return BootstrapPassword(pool, username, error=f"{len(pool_ids)} iamflow user pools are named {pool} "
                                 f"({', '.join(sorted(pool_ids))}); which one the secret belongs to is unknown")
    try:
        user = idp.admin_get_user(UserPoolId=pool_ids[0], Username=username)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("UserNotFoundException", "ResourceNotFoundException"):
            return BootstrapPassword(pool, username, pool_ids[0])
        return BootstrapPassword(pool, username, pool_ids[0], error=describe_error(exc))
    return BootstrapPassword(pool, username, pool_ids[0], user_status=str(user.get("UserStatus") or "UNKNOWN"))


# --- parsing GetAccountAuthorizationDetails ---------------------------------------------------


def read_authorization_details(iam: Any) -> AuthorizationDetails:
    """Users, groups, roles and managed policies of the account, 1 000 per page: O(pages) IAM calls."""
    users: list[Principal] = []
    groups: list[Principal] = []
    roles: list[Principal] = []
    policies: dict[str, ManagedPolicy] = {}
    pages = iam.get_paginator("get_account_authorization_details").paginate(PaginationConfig={"PageSize": 1000})
    for page in pages:
        users.extend(_user(u) for u in page.get("UserDetailList", []))
        groups.extend(_group(g) for g in page.get("GroupDetailList", []))
        roles.extend(_role(r) for r in page.get("RoleDetailList", []))
        for p in page.get("Policies", []):
            policy = _policy(p)
            policies[policy.arn] = policy
    return AuthorizationDetails(tuple(users), tuple(groups), tuple(roles), policies)


def _tags(tags: Any) -> dict[str, str]:
    if isinstance(tags, dict):
        return {str(k): str(v) for k, v in tags.items()}
    return {t["Key"]: t["Value"] for t in tags or []}


def _attached(entry: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple((p["PolicyName"], p["PolicyArn"]) for p in entry.get("AttachedManagedPolicies", []))


def _inline(entries: list[dict[str, Any]] | None) -> dict[str, dict[str, Any]]:
    return {p["PolicyName"]: parse_document(p["PolicyDocument"]) for p in entries or []}


def _boundary(entry: dict[str, Any]) -> str | None:
    return (entry.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")


def _user(u: dict[str, Any]) -> Principal:
    return Principal("user", u["UserName"], u["Arn"], u.get("Path", "/"), as_utc(u.get("CreateDate")), _attached(u),
                     _inline(u.get("UserPolicyList")), _tags(u.get("Tags")), tuple(u.get("GroupList", [])), _boundary(u))


def _group(g: dict[str, Any]) -> Principal:
    return Principal("group", g["GroupName"], g["Arn"], g.get("Path", "/"), as_utc(g.get("CreateDate")), _attached(g),
                     _inline(g.get("GroupPolicyList")))


def _role(r: dict[str, Any]) -> Principal:
    trust = r.get("AssumeRolePolicyDocument")
    return Principal(
        "role", r["RoleName"], r["Arn"], r.get("Path", "/"), as_utc(r.get("CreateDate")), _attached(r),
        _inline(r.get("RolePolicyList")), _tags(r.get("Tags")), (), _boundary(r),
        parse_document(trust) if trust else None, as_utc((r.get("RoleLastUsed") or {}).get("LastUsedDate")),
    )


def _policy(p: dict[str, Any]) -> ManagedPolicy:
    default = next((v for v in p.get("PolicyVersionList", []) if v.get("IsDefaultVersion")), None)
    document = parse_document(default["Document"]) if default and default.get("Document") else None
    return ManagedPolicy(p["Arn"], p.get("PolicyName") or p["Arn"].rsplit("/", 1)[-1], p.get("Path", "/"),
                         int(p.get("AttachmentCount", 0)), p.get("DefaultVersionId"), document)


def mfa_factors(config: dict[str, Any]) -> tuple[str, ...]:
    """The MFA factors a ``GetUserPoolMfaConfig`` answer enables: TOTP, SMS, email (in that order).

    TOTP is on when ``SoftwareTokenMfaConfiguration.Enabled`` is true; SMS and email when their
    configuration block is present and not empty (AWS returns them only once they are set).
    """
    factors = []
    if (config.get("SoftwareTokenMfaConfiguration") or {}).get("Enabled"):
        factors.append(MFA_TOTP)
    if config.get("SmsMfaConfiguration"):
        factors.append(MFA_SMS)
    if config.get("EmailMfaConfiguration"):
        factors.append(MFA_EMAIL)
    return tuple(factors)


def _pool_client(d: dict[str, Any]) -> UserPoolClient:
    units = d.get("TokenValidityUnits") or {}

    def seconds(value_key: str, unit_key: str, default_unit: str, default_seconds: int) -> int:
        value = d.get(value_key)
        if not value:
            return default_seconds
        return int(value) * _TOKEN_UNITS.get(units.get(unit_key, default_unit), 1)

    return UserPoolClient(
        client_id=d["ClientId"],
        name=d.get("ClientName", ""),
        access_token_seconds=seconds("AccessTokenValidity", "AccessToken", "hours", 3600),
        id_token_seconds=seconds("IdTokenValidity", "IdToken", "hours", 3600),
        refresh_token_seconds=seconds("RefreshTokenValidity", "RefreshToken", "days", 30 * 86400),
        explicit_auth_flows=tuple(d.get("ExplicitAuthFlows") or ()),
        has_secret=bool(d.get("ClientSecret")),  # only whether there is one: the value is not kept
        token_revocation=d.get("EnableTokenRevocation"),
        prevent_user_existence_errors=d.get("PreventUserExistenceErrors") or "LEGACY",
    )


# --- access key ids ---------------------------------------------------------------------------


def lookup_access_key_ids(
    clients: AwsClients, wanted: dict[str, dict[int, datetime | None]], budget: int, *, workers: int = 8
) -> tuple[dict[tuple[str, int], str], dict[str, str]]:
    """Find the ids of credential-report key slots with one ListAccessKeys call per user, at most ``budget`` users.

    The calls are made ``workers`` at a time (each is one round trip, and they are independent).

    :param wanted: user name → {slot: the slot's creation time from the report}.
    :returns: ``{(user, slot): key id}`` and ``{user: error}`` for lookups that failed.
    """
    iam = clients.client("iam")

    def keys_of(user: str) -> list[dict[str, Any]] | str:
        try:
            keys: list[dict[str, Any]] = iam.list_access_keys(UserName=user).get("AccessKeyMetadata", [])
        except ClientError as exc:
            return describe_error(exc)
        return sorted(keys, key=lambda k: as_utc(k.get("CreateDate")) or datetime.min.replace(tzinfo=UTC))

    users = sorted(wanted)[: max(budget, 0)]
    found: dict[tuple[str, int], str] = {}
    errors: dict[str, str] = {}
    for user, keys in zip(users, _map(keys_of, users, workers), strict=True):
        if isinstance(keys, str):
            errors[user] = keys
            continue
        for slot, created in wanted[user].items():
            match = None
            if created is not None:
                match = next((k for k in keys if _same_second(as_utc(k.get("CreateDate")), created)), None)
            if match is None and len(keys) >= slot:
                match = keys[slot - 1]  # the report numbers keys in creation order
            if match is not None:
                found[(user, slot)] = match["AccessKeyId"]
    return found, errors


def _same_second(a: datetime | None, b: datetime) -> bool:
    return a is not None and abs((a - b).total_seconds()) < 1
