"""Seed the embedded AWS with what the shipped playbooks need and do not create themselves.

``seed(endpoint_url)`` calls small, idempotent step functions; add a step for each new need. Steps
use plain boto3 clients against the given endpoint with the embedded AWS's dummy credentials.

:func:`seed_compliance_demo` gives the nightly sweep a realistic account to find problems in:
console users with and without MFA, an access key past 90 days, a key never used, a user with two
active keys, a policy attached to a user, a customer ``*:*`` policy on a role, a role trusting
another account without ``sts:ExternalId``, a weak password policy, a KMS key without rotation and
a secret without rotation. Ages cannot be set through any AWS API, so the users' and keys'
creation and last-use dates are backdated by editing moto's backend objects; that only works when
the moto server runs in this very process (``LocalAws``, as ``make run`` / ``make up`` and the
end-to-end tests start it). Against a server in another process the step says so and leaves the
dates as they are (the key-age and unused-credential checks then pass).

moto's credential report has no ``<root_account>`` row, so the root checks (root keys, root MFA,
root usage) report ``ERROR`` against the embedded AWS: that is the honest answer (the sweep could
not see the root user), and the demo leaves it so.
"""

from __future__ import annotations

import io
import json
import secrets
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from iamflow.aws.errors import not_found

ROTATION_FUNCTION = "myapp-secret-rotation"
ROTATION_ROLE = "myapp-secret-rotation-role"
_LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
# The embedded AWS runs no Lambda code (no Docker); the function only has to exist.
_ROTATION_CODE = (
    "def handler(event, context):\n"
    "    # demo stand-in: a real rotation function implements createSecret/setSecret/testSecret/finishSecret\n"
    "    return None\n"
)


def _client(endpoint_url: str, service: str) -> Any:
    import boto3

    from iamflow.aws.local import DEFAULT_REGION, DUMMY_ACCESS_KEY_ID, DUMMY_SECRET_ACCESS_KEY

    return boto3.client(service, endpoint_url=endpoint_url, region_name=DEFAULT_REGION,
                        aws_access_key_id=DUMMY_ACCESS_KEY_ID, aws_secret_access_key=DUMMY_SECRET_ACCESS_KEY)


def seed_rotation_lambda(endpoint_url: str) -> str:
    """Create the rotation Lambda of ``myapp/database/credentials`` and its role; return the function ARN."""
    iam = _client(endpoint_url, "iam")
    found = not_found(iam, "get_role", RoleName=ROTATION_ROLE)
    if found is not None:
        role_arn = found["Role"]["Arn"]
    else:
        role_arn = iam.create_role(RoleName=ROTATION_ROLE, AssumeRolePolicyDocument=json.dumps(_LAMBDA_TRUST),
                                   Description="Demo: execution role of the secret rotation Lambda")["Role"]["Arn"]
    lam = _client(endpoint_url, "lambda")
    function = not_found(lam, "get_function", FunctionName=ROTATION_FUNCTION)
    if function is not None:
        return str(function["Configuration"]["FunctionArn"])
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("index.py", _ROTATION_CODE)
    return str(lam.create_function(
        FunctionName=ROTATION_FUNCTION, Runtime="python3.11", Role=role_arn, Handler="index.handler",
        Code={"ZipFile": buf.getvalue()}, Description="Demo stand-in for a Secrets Manager rotation function",
    )["FunctionArn"])


# --- the compliance sweep's demo account -----------------------------------------------------------

DEMO_PATH = "/iamflow-demo/"
PARTNER_ACCOUNT = "999988887777"  # a made-up account the partner role trusts
KMS_ALIAS = "alias/demo-unrotated"
SECRET_NAME = "demo/legacy-api-token"
ADMIN_POLICY = "demo-everything"
ADMIN_ROLE = "demo-ops-admin"
PARTNER_ROLE = "demo-partner-access"
DIRECT_POLICY = "demo-direct-s3-read"


@dataclass(frozen=True)
class DemoUser:
    """One demo IAM user: console password, MFA, access keys (age and last use in days, None = never)."""

    name: str
    purpose: str
    created_days: int = 30
    console: bool = False
    mfa: bool = False
    password_used_days: int | None = None
    keys: tuple[tuple[int, int | None], ...] = ()
    direct_policy: bool = False


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("demo-alice", "console with MFA: passes", 400, console=True, mfa=True, password_used_days=1),
    DemoUser("demo-bob", "console without MFA", 200, console=True, password_used_days=3),
    DemoUser("demo-carol", "access key 200 days old, in use", 400, keys=((200, 1),)),
    DemoUser("demo-dave", "access key never used in 120 days", 150, keys=((120, None),)),
    DemoUser("demo-erin", "two active access keys", 300, keys=((60, 2), (20, 1))),
    DemoUser("demo-frank", "policy attached to the user, not a group", 90, direct_policy=True),
)


@dataclass
class ComplianceDemo:
    """What :func:`seed_compliance_demo` set up (names only, never a secret)."""

    account_id: str
    users: list[str] = field(default_factory=list)
    backdated: bool = False
    note: str = ""

    def __str__(self) -> str:
        dates = "dates backdated" if self.backdated else f"dates NOT backdated ({self.note})"
        return f"compliance demo: {len(self.users)} users, {dates}"


_ADMIN_DOCUMENT = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
_S3_READ_DOCUMENT = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
     "Resource": ["arn:aws:s3:::demo-reports", "arn:aws:s3:::demo-reports/*"]}]}


def _trust(principal: dict[str, str]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}]})


def _exists(client: Any, operation: str, **params: Any) -> bool:
    return not_found(client, operation, **params) is not None


def seed_compliance_demo(endpoint_url: str, *, now: datetime | None = None) -> ComplianceDemo:
    """Create the sweep's demo problems (idempotent) and backdate them when moto runs in this process."""
    now = now or datetime.now(UTC)
    iam = _client(endpoint_url, "iam")
    account_id = str(_client(endpoint_url, "sts").get_caller_identity()["Account"])
    demo = ComplianceDemo(account_id)

    def policy_arn(name: str) -> str:
        arn = f"arn:aws:iam::{account_id}:policy{DEMO_PATH}{name}"
        if not _exists(iam, "get_policy", PolicyArn=arn):
            iam.create_policy(PolicyName=name, Path=DEMO_PATH, PolicyDocument=json.dumps(
                _ADMIN_DOCUMENT if name == ADMIN_POLICY else _S3_READ_DOCUMENT),
                Description="iamflow demo: a problem for the compliance sweep to find")
        return arn

    for user in DEMO_USERS:
        if not _exists(iam, "get_user", UserName=user.name):
            iam.create_user(UserName=user.name, Path=DEMO_PATH, Tags=[{"Key": "Purpose", "Value": user.purpose}])
        if user.console and not _exists(iam, "get_login_profile", UserName=user.name):
            # a throwaway: nobody signs in to the embedded AWS
            iam.create_login_profile(UserName=user.name, Password=secrets.token_urlsafe(18) + "-Aa9")
        if user.mfa and not iam.list_mfa_devices(UserName=user.name)["MFADevices"]:
            serial = iam.create_virtual_mfa_device(VirtualMFADeviceName=user.name)["VirtualMFADevice"]["SerialNumber"]
            iam.enable_mfa_device(UserName=user.name, SerialNumber=serial,
                                  AuthenticationCode1="123456", AuthenticationCode2="654321")
        have = len(iam.list_access_keys(UserName=user.name)["AccessKeyMetadata"])
        for _ in range(have, len(user.keys)):
            iam.create_access_key(UserName=user.name)  # the secret is dropped at once
        if user.direct_policy:
            iam.attach_user_policy(UserName=user.name, PolicyArn=policy_arn(DIRECT_POLICY))
        demo.users.append(user.name)

    if not _exists(iam, "get_role", RoleName=ADMIN_ROLE):
        iam.create_role(RoleName=ADMIN_ROLE, Path=DEMO_PATH, AssumeRolePolicyDocument=_trust(
            {"AWS": f"arn:aws:iam::{account_id}:root"}), Description="iamflow demo: a role with a *:* policy")
    iam.attach_role_policy(RoleName=ADMIN_ROLE, PolicyArn=policy_arn(ADMIN_POLICY))
    if not _exists(iam, "get_role", RoleName=PARTNER_ROLE):
        iam.create_role(RoleName=PARTNER_ROLE, Path=DEMO_PATH, AssumeRolePolicyDocument=_trust(
            {"AWS": f"arn:aws:iam::{PARTNER_ACCOUNT}:root"}),
            Description="iamflow demo: another account may assume this role without an ExternalId")
    iam.update_account_password_policy(MinimumPasswordLength=8, RequireSymbols=False, RequireNumbers=True,
                                       RequireUppercaseCharacters=False, RequireLowercaseCharacters=True,
                                       AllowUsersToChangePassword=True)
    _seed_kms_and_secret(endpoint_url)
    demo.backdated, demo.note = _backdate(account_id, now)
    if not demo.backdated:
        print(f"iamflow demo seed: {demo.note}", flush=True)
    return demo


def _seed_kms_and_secret(endpoint_url: str) -> None:
    kms = _client(endpoint_url, "kms")
    if not _exists(kms, "describe_key", KeyId=KMS_ALIAS):
        key_id = kms.create_key(Description="iamflow demo: a customer key without automatic rotation",
                                Tags=[{"TagKey": "Purpose", "TagValue": "demo"}])["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName=KMS_ALIAS, TargetKeyId=key_id)
    sm = _client(endpoint_url, "secretsmanager")
    if not _exists(sm, "describe_secret", SecretId=SECRET_NAME):
        sm.create_secret(Name=SECRET_NAME, SecretString=secrets.token_urlsafe(24),
                         Description="iamflow demo: a secret nobody rotates")


def _backdate(account_id: str, now: datetime) -> tuple[bool, str]:
    """Edit moto's backend objects; (False, why) when the server runs in another process."""
    try:
        from moto.iam.models import AccessKeyLastUsed, iam_backends
    except ImportError:
        return False, "moto is not installed in this process"
    backend = iam_backends[account_id]["aws"]
    missing = [u.name for u in DEMO_USERS if u.name not in backend.users]
    if missing:
        return False, ("the embedded AWS runs in another process, so users' and keys' ages cannot be set "
                       "(start it with LocalAws in this process, as make run does)")

    def ago(days: int) -> datetime:
        return (now - timedelta(days=days)).astimezone(UTC).replace(tzinfo=None)  # moto: naive UTC

    for user in DEMO_USERS:
        obj = backend.users[user.name]
        obj.create_date = ago(user.created_days)
        if user.password_used_days is not None:
            obj.password_last_used = ago(user.password_used_days)
        for key, (age, used) in zip(obj.access_keys, user.keys, strict=False):
            key.create_date = ago(age)
            key.last_used = None if used is None else AccessKeyLastUsed(ago(used), "s3", "us-east-1")
    return True, ""


def seed_organization(endpoint_url: str) -> str:
    """Make the demo account the management account of an organization (org-guardrails applies its SCP there)."""
    org = _client(endpoint_url, "organizations")
    try:
        org.describe_organization()
    except org.exceptions.AWSOrganizationsNotInUseException:
        org.create_organization(FeatureSet="ALL")
    return "organization (the demo account as its management account)"


def seed(endpoint_url: Any) -> str:
    """Seed the demo account (idempotent); ``endpoint_url`` may also be a running ``LocalAws``."""
    url = str(getattr(endpoint_url, "endpoint_url", endpoint_url))
    steps = [f"rotation Lambda {seed_rotation_lambda(url).rsplit(':', 1)[-1]}"]
    steps.append(seed_organization(url))
    steps.append(str(seed_compliance_demo(url)))
    return ", ".join(steps)
