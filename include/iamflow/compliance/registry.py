"""The check registry: one ID, one function, one set of metadata per check (Prowler's "one check, one identity").

A check is a pure function of ``(snapshot, config, now)``. Decorating it with :func:`check`
registers it and returns a :class:`Check` that, when called the same way, returns
``list[Finding]``: it turns the function's :class:`~iamflow.compliance.findings.Result` objects into
findings with the check's metadata, and turns a missing collection step or an exception into
``ERROR`` findings — never into silence.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, TypedDict

from iamflow.compliance import snapshot as snap
from iamflow.compliance.findings import ERROR, GLOBAL_REGION, SEVERITIES, Finding, Result

if TYPE_CHECKING:
    from iamflow.compliance.config import ComplianceConfig
    from iamflow.compliance.snapshot import Snapshot

CIS = "CIS-3.0"
CIS5 = "CIS-5.0"  # CIS AWS Foundations Benchmark v5.0.0
FSBP = "FSBP"  # AWS Security Hub, Foundational Security Best Practices: control ids (IAM.1, KMS.4, ...)
FRAMEWORKS = (CIS, CIS5, FSBP)

# the IAM permissions each collection step needs (the sweep role's least-privilege policy is their union)
STEP_PERMISSIONS: dict[str, tuple[str, ...]] = {
    snap.CREDENTIAL_REPORT: ("iam:GenerateCredentialReport", "iam:GetCredentialReport"),
    snap.AUTHORIZATION_DETAILS: ("iam:GetAccountAuthorizationDetails",),
    snap.PASSWORD_POLICY: ("iam:GetAccountPasswordPolicy",),
    snap.ACCOUNT_SUMMARY: ("iam:GetAccountSummary",),
    snap.VIRTUAL_MFA_DEVICES: ("iam:ListVirtualMFADevices",),
    snap.KMS_KEYS: (
        "kms:ListKeys",
        "kms:ListAliases",
        "kms:DescribeKey",
        "kms:GetKeyRotationStatus",
        "kms:GetKeyPolicy",
        "kms:ListResourceTags",
    ),
    # the Cognito reads tell whether an iamflow bootstrap admin's temporary password is still pending
    snap.SECRETS: ("secretsmanager:ListSecrets", "secretsmanager:GetResourcePolicy", "cognito-idp:ListUserPools",
                   "cognito-idp:DescribeUserPool", "cognito-idp:AdminGetUser"),
    snap.USER_POOLS: (
        "cognito-idp:ListUserPools",
        "cognito-idp:DescribeUserPool",
        "cognito-idp:GetUserPoolMfaConfig",
        "cognito-idp:ListUserPoolClients",
        "cognito-idp:DescribeUserPoolClient",
    ),
    snap.SERVER_CERTIFICATES: ("iam:ListServerCertificates",),
    snap.ACCESS_ANALYZERS: ("access-analyzer:ListAnalyzers",),
    snap.CLOUDTRAIL_TRAILS: ("cloudtrail:DescribeTrails", "cloudtrail:GetTrailStatus", "cloudtrail:GetEventSelectors"),
    # the values of String and StringList parameters only (never a SecureString's, never decrypted)
    snap.SSM_PARAMETERS: ("ssm:DescribeParameters", "ssm:GetParameters"),
    snap.IDENTITY_POOLS: ("cognito-identity:ListIdentityPools", "cognito-identity:DescribeIdentityPool",
                          "cognito-identity:GetIdentityPoolRoles"),
    snap.DRIFT: (),  # the converge engine's read calls; declared by its resource handlers
}
# every sweep also confirms which account its credentials act in
BASE_PERMISSIONS = ("sts:GetCallerIdentity",)

CheckFunction = Callable[["Snapshot", "ComplianceConfig", datetime], Iterable[Result]]


class CheckScope(TypedDict):
    """``@check`` keywords a group of checks shares: what they collect and which service they judge."""

    needs: tuple[str, ...]
    service: str


class ResourceScope(CheckScope):
    """A :class:`CheckScope` whose checks all report on one resource type."""

    resource_type: str


@dataclass(frozen=True)
class Check:
    """A registered check: metadata plus the function; call it like the function to get findings."""

    id: str
    title: str
    severity: str
    cis: tuple[str, ...]
    cis5: tuple[str, ...]
    fsbp: tuple[str, ...]
    description: str
    remediation: str
    needs: tuple[str, ...]
    service: str
    resource_type: str
    extra_permissions: tuple[str, ...]
    regional: bool
    func: CheckFunction
    # steps the check also reads when they were collected (user tags from the authorization details),
    # without needing them: a sweep evaluates it only once they are settled, whatever their outcome
    reads: tuple[str, ...] = ()

    @property
    def inputs(self) -> frozenset[str]:
        """Every step whose data the check looks at: what it needs and what it reads when present."""
        return frozenset(self.needs) | frozenset(self.reads)

    @property
    def module(self) -> str:
        """The module that defines the check."""
        return self.func.__module__

    @property
    def compliance(self) -> dict[str, list[str]]:
        """The compliance mapping written into each finding: each framework the check maps to, and its ids.

        Built once per check and shared by its findings (a sweep makes one per user and key): findings
        are frozen and never change it; their ``to_json`` copies it.
        """
        return _compliance_of(self.cis, self.cis5, self.fsbp)

    @property
    def permissions(self) -> tuple[str, ...]:
        """The IAM actions the check needs: those of its collection steps plus its own extras."""
        perms = set(BASE_PERMISSIONS) | set(self.extra_permissions)
        for step in self.needs:
            perms.update(STEP_PERMISSIONS[step])
        return tuple(sorted(perms))

    def region_for(self, snapshot: Snapshot) -> str:
        """``global`` for IAM checks, the snapshot's region for regional services."""
        return snapshot.region if self.regional else GLOBAL_REGION

    def finding(self, snapshot: Snapshot, result: Result) -> Finding:
        """Turn one result into a finding carrying this check's metadata."""
        return Finding(
            check_id=self.id,
            status=result.status,
            severity=self.severity,
            account_id=snapshot.account_id,
            region=result.region or self.region_for(snapshot),
            resource_arn=result.resource_arn,
            message=result.message,
            remediation=self.remediation,
            compliance=self.compliance,
            title=self.title,
            resource_id=result.resource_id,
            resource_type=self.resource_type,
            tags=dict(result.tags),
            extra=dict(result.extra),
        )

    def error(self, snapshot: Snapshot, message: str) -> Finding:
        """One account-level ERROR finding for this check."""
        return Finding(
            check_id=self.id,
            status=ERROR,
            severity=self.severity,
            account_id=snapshot.account_id,
            region=self.region_for(snapshot),
            resource_arn=snapshot.root_arn,
            message=f"{self.id} could not be evaluated: {message}",
            remediation=self.remediation,
            compliance=self.compliance,
            title=self.title,
            resource_id=snapshot.account_id,
            resource_type="AwsAccount",
        )

    def __call__(self, snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> list[Finding]:
        """Evaluate the check; a missing step or an exception yields ERROR findings."""
        problems = [p for p in (snapshot.problem(step) for step in self.needs) if p]
        if problems:
            return [self.error(snapshot, "; ".join(problems))]
        try:
            return [self.finding(snapshot, r) for r in self.func(snapshot, config, now)]
        except Exception as exc:  # a bug or an unexpected shape must not hide the check
            return [self.error(snapshot, f"the check raised {type(exc).__name__}: {exc}")]


REGISTRY: dict[str, Check] = {}


@functools.cache
def _compliance_of(cis: tuple[str, ...], cis5: tuple[str, ...], fsbp: tuple[str, ...]) -> dict[str, list[str]]:
    mapping = {CIS: cis, CIS5: cis5, FSBP: fsbp}
    return {framework: list(ids) for framework, ids in mapping.items() if ids}


def check(
    *,
    title: str,
    severity: str,
    description: str,
    remediation: str,
    needs: Iterable[str],
    service: str,
    resource_type: str,
    cis: Iterable[str] = (),
    cis5: Iterable[str] = (),
    fsbp: Iterable[str] = (),
    permissions: Iterable[str] = (),
    reads: Iterable[str] = (),
) -> Callable[[CheckFunction], Check]:
    """Register the decorated function as a check whose ID is the function's name.

    ``cis`` and ``cis5`` are the CIS AWS Foundations Benchmark v3.0 and v5.0 recommendation numbers
    the check covers, ``fsbp`` the Security Hub FSBP control ids. ``needs`` are the collection steps
    without which the check reports ERROR; ``reads`` the steps it also uses when they were
    collected (and does without otherwise). Together they are every part of the snapshot the
    function may look at: the sweep evaluates a check as soon as those steps are settled, while
    the others are still being collected.
    """

    def register(func: CheckFunction) -> Check:
        check_id = func.__name__
        if check_id in REGISTRY and REGISTRY[check_id].func.__module__ != func.__module__:
            raise ValueError(f"check {check_id} is defined twice ({REGISTRY[check_id].module}, {func.__module__})")
        if severity not in SEVERITIES:
            raise ValueError(f"check {check_id}: severity {severity!r} is not one of {SEVERITIES}")
        steps = tuple(needs)
        also = tuple(s for s in reads if s not in steps)
        unknown = [s for s in (*steps, *also) if s not in STEP_PERMISSIONS]
        if unknown:
            raise ValueError(f"check {check_id}: unknown collection step(s) {unknown}")
        registered = Check(
            id=check_id,
            title=title,
            severity=severity,
            cis=tuple(cis),
            cis5=tuple(cis5),
            fsbp=tuple(fsbp),
            description=description,
            remediation=remediation,
            needs=steps,
            service=service,
            resource_type=resource_type,
            extra_permissions=tuple(permissions),
            regional=service not in ("iam", "iamflow"),
            func=func,
            reads=also,
        )
        REGISTRY[check_id] = registered
        return registered

    return register


def load_checks() -> None:
    """Import every module of ``iamflow.compliance.checks`` so that their checks register."""
    import iamflow.compliance.checks as package

    for info in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{info.name}")


def all_checks() -> list[Check]:
    """Every registered check, sorted by ID."""
    load_checks()
    return [REGISTRY[k] for k in sorted(REGISTRY)]


def enabled_checks(config: ComplianceConfig) -> list[Check]:
    """The checks the config enables."""
    return [c for c in all_checks() if config.is_enabled(c.id)]


def steps_for(checks: Iterable[Check]) -> set[str]:
    """The collection steps a set of checks needs."""
    return {step for c in checks for step in c.needs}


def required_permissions(checks: Iterable[Check]) -> list[str]:
    """The IAM actions a sweep running ``checks`` needs (for the sweep role's policy)."""
    perms = set(BASE_PERMISSIONS)
    for c in checks:
        perms.update(c.permissions)
    return sorted(perms)


def evaluate(checks: Iterable[Check], snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> list[Finding]:
    """Run each check against the snapshot and return all findings."""
    return Evaluation(checks, config, now).findings(snapshot)


class Evaluation:
    """Checks evaluated while their snapshot is still being collected, each once its inputs are settled.

    :meth:`advance` is given the snapshot and the steps still running, each time one finishes (see
    ``collect.collect_account``'s ``on_progress``): it evaluates every check none of whose
    :attr:`Check.inputs` is among them, so the checks of the steps that finished first (users and
    their credentials, as a rule) are judged while the slower ones (a key or a secret at a time)
    are still on their way. :meth:`findings` evaluates the rest and returns every finding in the
    order of the checks, as :func:`evaluate` would, whatever order the steps finished in.
    """

    def __init__(self, checks: Iterable[Check], config: ComplianceConfig, now: datetime) -> None:
        self._checks = list(checks)
        self._config = config
        self._now = now
        self._done: dict[str, list[Finding]] = {}

    @property
    def evaluated(self) -> list[str]:
        """The ids of the checks evaluated so far, in the order they were."""
        return list(self._done)

    def advance(self, snapshot: Snapshot, running: Iterable[str]) -> None:
        """Evaluate the checks not yet evaluated whose inputs are none of the ``running`` steps."""
        busy = frozenset(running)
        for c in self._checks:
            if c.id not in self._done and not (c.inputs & busy):
                self._done[c.id] = c(snapshot, self._config, self._now)

    def findings(self, snapshot: Snapshot) -> list[Finding]:
        """Evaluate the remaining checks (collection is over) and return all findings, in check order."""
        self.advance(snapshot, ())
        return [f for c in self._checks for f in self._done[c.id]]
