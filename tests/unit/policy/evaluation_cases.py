"""The evaluator's conformance table: each case a small policy set, one request, the expected outcome.

A case names the expected decision, the deciding statements (``"<policy> <Sid or Statement[i]>"``,
in the evaluator's order: RCPs, SCPs, resource, identity, boundary, session) and the missing
condition keys. Policies are named by their layer: ``identity`` (then ``identity-2`` ...),
``boundary``, ``session``, ``resource``, ``scp-<level>`` / ``rcp-<level>`` (then ``-2`` ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

ACCT = "111122223333"
OTHER = "444455556666"
ALICE = f"arn:aws:iam::{ACCT}:user/alice"
BOB = f"arn:aws:iam::{ACCT}:user/bob"
ROOT = f"arn:aws:iam::{ACCT}:root"
OTHER_ROOT = f"arn:aws:iam::{OTHER}:root"
APP_ROLE = f"arn:aws:iam::{ACCT}:role/app"
APP_SESSION = f"arn:aws:sts::{ACCT}:assumed-role/app/s1"
FED_USER = f"arn:aws:sts::{ACCT}:federated-user/carol"
EXT_USER = f"arn:aws:iam::{OTHER}:user/ext"
EXT_ROLE = f"arn:aws:iam::{OTHER}:role/auditor"
EXT_SESSION = f"arn:aws:sts::{OTHER}:assumed-role/auditor/audit"
BUCKET = "arn:aws:s3:::data"
OBJ = "arn:aws:s3:::data/report.csv"
KEY = f"arn:aws:kms:us-east-1:{ACCT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TARGET_ROLE = f"arn:aws:iam::{ACCT}:role/target"
ADMIN_ROLE = f"arn:aws:iam::{ACCT}:role/admin"
SAML = f"arn:aws:iam::{ACCT}:saml-provider/Okta"

Doc = dict[str, Any]


@dataclass(frozen=True)
class Case:
    id: str
    principal: str
    action: str
    resource: str
    decision: str
    deciding: tuple[str, ...] = ()
    identity: tuple[Doc, ...] = ()
    boundary: Doc | None = None
    session: Doc | None = None
    resource_policy: Doc | None = None
    scps: tuple[tuple[Doc, ...], ...] = ()
    rcps: tuple[tuple[Doc, ...], ...] = ()
    resource_account: str | None = None
    kind: Literal["generic", "kms-key", "role-trust"] = "generic"
    context: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    missing: tuple[str, ...] = ()


def stmt(effect: str, action: str | list[str] | None = None, resource: Any = "*", *, sid: str | None = None,
         not_action: str | list[str] | None = None, not_resource: Any = None, principal: Any = None,
         not_principal: Any = None, condition: Doc | None = None) -> Doc:
    out: Doc = {}
    if sid:
        out["Sid"] = sid
    out["Effect"] = effect
    if principal is not None:
        out["Principal"] = principal
    if not_principal is not None:
        out["NotPrincipal"] = not_principal
    if action is not None:
        out["Action"] = action
    if not_action is not None:
        out["NotAction"] = not_action
    if not_resource is not None:
        out["NotResource"] = not_resource
    elif resource is not None:
        out["Resource"] = resource
    if condition is not None:
        out["Condition"] = condition
    return out


def allow(action: Any = None, resource: Any = "*", **kw: Any) -> Doc:
    return stmt("Allow", action, resource, **kw)


def deny(action: Any = None, resource: Any = "*", **kw: Any) -> Doc:
    return stmt("Deny", action, resource, **kw)


def doc(*statements: Doc, version: str | None = "2012-10-17") -> Doc:
    out: Doc = {"Statement": list(statements)}
    if version is not None:
        out = {"Version": version, **out}
    return out


def aws(*arns: str) -> Doc:
    return {"AWS": list(arns) if len(arns) > 1 else arns[0]}


FULL_ACCESS = doc(allow("*", "*", sid="FullAWSAccess"))
S3_READ = doc(allow(["s3:GetObject", "s3:ListBucket"], [BUCKET, OBJ], sid="S3Read"))


def cond(case_id: str, condition: Any, context: Mapping[str, tuple[str, ...]], allowed: bool,
         missing: tuple[str, ...] = (), principal: str = ALICE, tags: dict[str, str] | None = None) -> Case:
    """A condition case: one identity Allow of s3:GetObject on OBJ under ``condition``."""
    return Case(case_id, principal, "s3:GetObject", OBJ, "allowed" if allowed else "implicit_deny",
                ("identity C",) if allowed else (), identity=(doc(allow("s3:GetObject", OBJ, sid="C",
                                                                         condition=condition)),),
                context=context, tags=tags or {}, missing=missing)


# --- AWS documentation examples ----------------------------------------------------------------------

_CARLOS = "arn:aws:iam::123456789012:user/carlossalazar"
_CARLOS_IDENTITY = doc(
    allow(["s3:GetBucketLocation", "s3:GetAccountPublicAccessBlock", "s3:ListAccessPoints", "s3:ListAllMyBuckets"],
          "arn:aws:s3:::*", sid="AllowS3ListRead"),
    allow("s3:*", ["arn:aws:s3:::carlossalazar/*", "arn:aws:s3:::carlossalazar"], sid="AllowS3Self"),
    deny("s3:*", "arn:aws:s3:::*log*", sid="DenyS3Logs"),
)
_CARLOS_BUCKET = doc(allow("s3:*", ["arn:aws:s3:::carlossalazar/*", "arn:aws:s3:::carlossalazar"],
                           principal=aws(_CARLOS)))
_CARLOS_X = "arn:aws:iam::111111111111:user/carlossalazar"
_CARLOS_X_IDENTITY = doc(
    allow("s3:ListAllMyBuckets", "*", sid="AllowS3ListRead"),
    allow("s3:*Object*", "arn:aws:s3:::Production/*", sid="AllowS3ProductionObjectActions"),
    deny("s3:*", ["arn:aws:s3:::*log*", "arn:aws:s3:::*log*/*"], sid="DenyS3Logs"),
)
_PRODUCTION_BUCKET = doc(allow(["s3:GetObject*", "s3:PutObject*", "s3:ReplicateObject", "s3:RestoreObject"],
                               "arn:aws:s3:::Production/*", principal=aws(_CARLOS_X)))
_GET_LIST_REPORTS = doc(allow(["iam:Get*", "iam:List*"], "*", sid="AllowGetList"),
                        deny("iam:*Report", "*", sid="DenyReports"))
_SHIRLEY = f"arn:aws:iam::{ACCT}:user/ShirleyRodriguez"
_SHIRLEY_BOUNDARY = doc(allow(["s3:*", "cloudwatch:*", "ec2:*"], "*"))
_XCOMPANY = doc(
    allow(["s3:*", "cloudwatch:*", "ec2:*", "dynamodb:*"], "*", sid="ServiceBoundaries"),
    allow(["iam:ListUsers", "iam:GetAccountPasswordPolicy"], "*", sid="AllowIAMConsoleForCredentials"),
    allow(["iam:*AccessKey*", "iam:ChangePassword", "iam:GetUser", "iam:*ServiceSpecificCredential*",
           "iam:*SigningCertificate*"], ["arn:aws:iam::*:user/${aws:username}"],
          sid="AllowManageOwnPasswordAndAccessKeys"),
    deny("s3:*", ["arn:aws:s3:::logs", "arn:aws:s3:::logs/*"], sid="DenyS3Logs"),
    deny("ec2:*", "arn:aws:ec2:*:*:instance/i-1234567890abcdef0", sid="DenyEC2Production"),
)
_NOT_BOB = doc(deny("s3:*", ["arn:aws:s3:::BUCKETNAME", "arn:aws:s3:::BUCKETNAME/*"],
                    not_principal=aws("arn:aws:iam::444455556666:user/Bob", "arn:aws:iam::444455556666:root")),
               allow("s3:GetObject", "arn:aws:s3:::BUCKETNAME/*", principal=aws("arn:aws:iam::444455556666:root")))
_AUDIT_SESSION = "arn:aws:sts::444455556666:assumed-role/cross-account-read-only-role/cross-account-audit-app"
_NOT_AUDIT = doc(deny("s3:*", ["arn:aws:s3:::Bucket_AccountAudit", "arn:aws:s3:::Bucket_AccountAudit/*"],
                      not_principal=aws(_AUDIT_SESSION,
                                        "arn:aws:iam::444455556666:role/cross-account-read-only-role",
                                        "arn:aws:iam::444455556666:root")),
                 allow("s3:GetObject", "arn:aws:s3:::Bucket_AccountAudit/*", principal=aws(OTHER_ROOT)))
_NOT_AUDIT_NO_ROLE = doc(deny("s3:*", ["arn:aws:s3:::Bucket_AccountAudit/*"],
                              not_principal=aws(_AUDIT_SESSION, "arn:aws:iam::444455556666:root")),
                         allow("s3:GetObject", "arn:aws:s3:::Bucket_AccountAudit/*", principal=aws(OTHER_ROOT)))

DOC_EXAMPLES = [
    Case("doc-carlos-logs-bucket-explicit-deny", _CARLOS, "s3:PutObject", "arn:aws:s3:::carlossalazar-logs/a.txt",
         "explicit_deny", ("identity DenyS3Logs",), identity=(_CARLOS_IDENTITY,)),
    Case("doc-carlos-own-bucket-both-allow", _CARLOS, "s3:PutObject", "arn:aws:s3:::carlossalazar/a.txt",
         "allowed", ("resource Statement[0]", "identity AllowS3Self"), identity=(_CARLOS_IDENTITY,),
         resource_policy=_CARLOS_BUCKET, resource_account="123456789012"),
    Case("doc-carlos-bucket-policy-alone-same-account", _CARLOS, "s3:PutObject",
         "arn:aws:s3:::carlossalazar/a.txt", "allowed", ("resource Statement[0]",), resource_policy=_CARLOS_BUCKET),
    Case("doc-carlos-identity-alone-same-account", _CARLOS, "s3:PutObject", "arn:aws:s3:::carlossalazar/a.txt",
         "allowed", ("identity AllowS3Self",), identity=(_CARLOS_IDENTITY,)),
    Case("doc-carlos-list-buckets", _CARLOS, "s3:ListAllMyBuckets", "arn:aws:s3:::carlossalazar", "allowed",
         ("identity AllowS3ListRead", "identity AllowS3Self"), identity=(_CARLOS_IDENTITY,)),
    Case("doc-cross-account-production-logs-denied", _CARLOS_X, "s3:PutObject",
         "arn:aws:s3:::Production-logs/a.txt", "explicit_deny", ("identity DenyS3Logs",),
         identity=(_CARLOS_X_IDENTITY,), resource_account="222222222222"),
    Case("doc-cross-account-production-both-allow", _CARLOS_X, "s3:PutObject", "arn:aws:s3:::Production/a.txt",
         "allowed", ("resource Statement[0]", "identity AllowS3ProductionObjectActions"),
         identity=(_CARLOS_X_IDENTITY,), resource_policy=_PRODUCTION_BUCKET, resource_account="222222222222"),
    Case("doc-cross-account-production-delete-not-in-bucket-policy", _CARLOS_X, "s3:DeleteObject",
         "arn:aws:s3:::Production/a.txt", "implicit_deny", identity=(_CARLOS_X_IDENTITY,),
         resource_policy=_PRODUCTION_BUCKET, resource_account="222222222222"),
    Case("doc-cross-account-bucket-policy-alone", _CARLOS_X, "s3:GetObject", "arn:aws:s3:::Production/a.txt",
         "implicit_deny", resource_policy=_PRODUCTION_BUCKET, resource_account="222222222222"),
    Case("doc-get-list-allows-get", ALICE, "iam:GetUser", ALICE, "allowed", ("identity AllowGetList",),
         identity=(_GET_LIST_REPORTS,)),
    Case("doc-get-list-implicitly-denies-create", ALICE, "iam:CreatePolicy", "*", "implicit_deny",
         identity=(_GET_LIST_REPORTS,)),
    Case("doc-deny-reports-beats-get", ALICE, "iam:GetOrganizationsAccessReport", "*", "explicit_deny",
         ("identity DenyReports",), identity=(_GET_LIST_REPORTS,)),
    Case("doc-deny-reports-beats-another-policy", ALICE, "iam:GenerateCredentialReport", "*", "explicit_deny",
         ("identity DenyReports",), identity=(_GET_LIST_REPORTS, doc(allow("iam:GenerateCredentialReport", "*",
                                                                          sid="Reports"))),),
    Case("doc-shirley-boundary-blocks-iam", _SHIRLEY, "iam:CreateUser", "*", "implicit_deny",
         identity=(doc(allow("iam:CreateUser", "*")),), boundary=_SHIRLEY_BOUNDARY),
    Case("doc-shirley-boundary-allows-s3", _SHIRLEY, "s3:GetObject", OBJ, "allowed", ("identity S3Read",),
         identity=(S3_READ,), boundary=_SHIRLEY_BOUNDARY),
    Case("doc-xcompany-boundary-denies-logs", ALICE, "s3:GetObject", "arn:aws:s3:::logs/x", "explicit_deny",
         ("boundary DenyS3Logs",), identity=(FULL_ACCESS,), boundary=_XCOMPANY),
    Case("doc-xcompany-own-access-key", ALICE, "iam:CreateAccessKey", ALICE, "allowed", ("identity FullAWSAccess",),
         identity=(FULL_ACCESS,), boundary=_XCOMPANY),
    Case("doc-xcompany-other-users-access-key", ALICE, "iam:CreateAccessKey", BOB, "implicit_deny",
         identity=(FULL_ACCESS,), boundary=_XCOMPANY),
    Case("doc-xcompany-production-instance", ALICE, "ec2:StopInstances",
         f"arn:aws:ec2:us-east-1:{ACCT}:instance/i-1234567890abcdef0", "explicit_deny", ("boundary DenyEC2Production",),
         identity=(FULL_ACCESS,), boundary=_XCOMPANY),
    Case("doc-notprincipal-bob-exempt", "arn:aws:iam::444455556666:user/Bob", "s3:GetObject",
         "arn:aws:s3:::BUCKETNAME/a", "allowed", ("resource Statement[1]", "identity FullAWSAccess"),
         identity=(FULL_ACCESS,), resource_policy=_NOT_BOB, resource_account=ACCT),
    Case("doc-notprincipal-alice-denied", "arn:aws:iam::444455556666:user/Alice", "s3:GetObject",
         "arn:aws:s3:::BUCKETNAME/a", "explicit_deny", ("resource Statement[0]",), identity=(FULL_ACCESS,),
         resource_policy=_NOT_BOB, resource_account=ACCT),
    Case("doc-notprincipal-audit-session-exempt", _AUDIT_SESSION, "s3:GetObject",
         "arn:aws:s3:::Bucket_AccountAudit/a", "allowed", ("resource Statement[1]", "identity FullAWSAccess"),
         identity=(FULL_ACCESS,), resource_policy=_NOT_AUDIT, resource_account=ACCT),
    Case("doc-notprincipal-other-session-of-role-denied",
         "arn:aws:sts::444455556666:assumed-role/cross-account-read-only-role/other", "s3:GetObject",
         "arn:aws:s3:::Bucket_AccountAudit/a", "explicit_deny", ("resource Statement[0]",),
         identity=(FULL_ACCESS,), resource_policy=_NOT_AUDIT, resource_account=ACCT),
    Case("doc-notprincipal-without-role-arn-denies-session", _AUDIT_SESSION, "s3:GetObject",
         "arn:aws:s3:::Bucket_AccountAudit/a", "explicit_deny", ("resource Statement[0]",),
         identity=(FULL_ACCESS,), resource_policy=_NOT_AUDIT_NO_ROLE, resource_account=ACCT),
    Case("doc-notprincipal-without-account-denies-user", "arn:aws:iam::444455556666:user/Bob", "s3:GetObject",
         "arn:aws:s3:::BUCKETNAME/a", "explicit_deny", ("resource Statement[0]",), identity=(FULL_ACCESS,),
         resource_policy=doc(deny("s3:*", "*", not_principal=aws("arn:aws:iam::444455556666:user/Bob"))),
         resource_account=ACCT),
]

# --- actions -----------------------------------------------------------------------------------------

ACTIONS = [
    Case("action-exact", ALICE, "s3:GetObject", OBJ, "allowed", ("identity Statement[0]",),
         identity=(doc(allow("s3:GetObject")),)),
    Case("action-policy-case-insensitive", ALICE, "s3:GetObject", OBJ, "allowed", ("identity Statement[0]",),
         identity=(doc(allow("S3:getobject")),)),
    Case("action-request-case-insensitive", ALICE, "S3:GETOBJECT", OBJ, "allowed", ("identity Statement[0]",),
         identity=(doc(allow("s3:GetObject")),)),
    Case("action-wildcard-prefix", ALICE, "s3:GetObjectAcl", OBJ, "allowed", ("identity Statement[0]",),
         identity=(doc(allow("s3:Get*")),)),
    Case("action-wildcard-middle", ALICE, "s3:PutObjectTagging", OBJ, "allowed", ("identity Statement[0]",),
         identity=(doc(allow("s3:*Object*")),)),
    Case("action-question-mark", ALICE, "s3:GetObject", OBJ, "allowed", ("identity Statement[0]",),
         identity=(doc(allow("s3:GetObjec?")),)),
    Case("action-question-mark-one-char-only", ALICE, "s3:GetObjectAcl", OBJ, "implicit_deny",
         identity=(doc(allow("s3:GetObjec?")),)),
    Case("action-star-everything", ALICE, "dynamodb:PutItem", "*", "allowed", ("identity Statement[0]",),
         identity=(doc(allow("*")),)),
    Case("action-other-service", ALICE, "s3-object-lambda:GetObject", OBJ, "implicit_deny",
         identity=(doc(allow("s3:*")),)),
    Case("action-prefix-is-not-enough", ALICE, "iam:ListUsers", "*", "implicit_deny",
         identity=(doc(allow("iam:Get*")),)),
    Case("action-list-second-entry", ALICE, "s3:PutObject", OBJ, "allowed", ("identity Statement[0]",),
         identity=(doc(allow(["s3:GetObject", "s3:PutObject"])),)),
    Case("notaction-allows-the-rest", ALICE, "s3:GetObject", OBJ, "allowed", ("identity Statement[0]",),
         identity=(doc(allow(not_action="iam:*")),)),
    Case("notaction-excludes-listed", ALICE, "iam:CreateUser", "*", "implicit_deny",
         identity=(doc(allow(not_action="iam:*")),)),
    Case("notaction-excludes-case-insensitively", ALICE, "IAM:CreateUser", "*", "implicit_deny",
         identity=(doc(allow(not_action=["IAM:CREATEUSER"])),)),
    Case("deny-notaction-denies-the-rest", ALICE, "ec2:RunInstances", "*", "explicit_deny", ("identity Statement[1]",),
         identity=(doc(allow("*"), deny(not_action=["s3:*", "iam:*"])),)),
    Case("deny-notaction-spares-listed", ALICE, "s3:GetObject", OBJ, "allowed", ("identity Statement[0]",),
         identity=(doc(allow("*"), deny(not_action=["s3:*", "iam:*"])),)),
    Case("no-policy-implicit-deny", ALICE, "s3:GetObject", OBJ, "implicit_deny"),
]

# --- resources ---------------------------------------------------------------------------------------

RESOURCES = [
    Case("resource-exact-arn", ALICE, "s3:GetObject", OBJ, "allowed", ("identity Statement[0]",),
         identity=(doc(allow("s3:GetObject", OBJ)),)),
    Case("resource-case-sensitive", ALICE, "s3:GetObject", "arn:aws:s3:::Data/report.csv", "implicit_deny",
         identity=(doc(allow("s3:GetObject", OBJ)),)),
    Case("resource-object-wildcard", ALICE, "s3:GetObject", "arn:aws:s3:::data/dir/deep/file", "allowed",
         ("identity Statement[0]",), identity=(doc(allow("s3:GetObject", "arn:aws:s3:::data/*")),)),
    Case("resource-bucket-is-not-its-objects", ALICE, "s3:ListBucket", BUCKET, "implicit_deny",
         identity=(doc(allow("s3:ListBucket", "arn:aws:s3:::data/*")),)),
    Case("resource-question-mark", ALICE, "s3:GetObject", "arn:aws:s3:::data/a1", "allowed",
         ("identity Statement[0]",), identity=(doc(allow("s3:GetObject", "arn:aws:s3:::data/a?")),)),
    Case("resource-region-wildcard", ALICE, "dynamodb:GetItem", f"arn:aws:dynamodb:eu-west-1:{ACCT}:table/t",
         "allowed", ("identity Statement[0]",),
         identity=(doc(allow("dynamodb:GetItem", f"arn:aws:dynamodb:*:{ACCT}:table/t")),)),
    Case("resource-region-mismatch", ALICE, "ec2:StartInstances", f"arn:aws:ec2:us-west-2:{ACCT}:instance/i-1",
         "implicit_deny", identity=(doc(allow("ec2:StartInstances", f"arn:aws:ec2:us-east-1:{ACCT}:instance/*")),)),
    Case("resource-account-wildcard", ALICE, "iam:GetUser", ALICE, "allowed", ("identity Statement[0]",),
         identity=(doc(allow("iam:GetUser", "arn:aws:iam::*:user/alice")),)),
    Case("resource-account-mismatch", ALICE, "iam:GetUser", ALICE, "implicit_deny",
         identity=(doc(allow("iam:GetUser", f"arn:aws:iam::{OTHER}:user/alice")),)),
    Case("resource-short-arn-trailing-star", ALICE, "s3:GetObject", OBJ, "allowed", ("identity Statement[0]",),
         identity=(doc(allow("s3:GetObject", "arn:aws:s3:*")),)),
    Case("resource-star-in-region-stays-in-part", ALICE, "sqs:SendMessage",
         f"arn:aws:sqs:us-east-1:{ACCT}:queue", "implicit_deny",
         identity=(doc(allow("sqs:SendMessage", f"arn:aws:sqs:us-*:{OTHER}:queue")),)),
    Case("resource-log-group-with-colons", ALICE, "logs:PutLogEvents",
         f"arn:aws:logs:us-east-1:{ACCT}:log-group:/aws/lambda/f:log-stream:s", "allowed", ("identity Statement[0]",),
         identity=(doc(allow("logs:PutLogEvents", f"arn:aws:logs:us-east-1:{ACCT}:log-group:/aws/lambda/f:*")),)),
    Case("resource-star-request-needs-star", ALICE, "s3:ListAllMyBuckets", "*", "implicit_deny",
         identity=(doc(allow("s3:ListAllMyBuckets", "arn:aws:s3:::*")),)),
    Case("resource-star-covers-star-request", ALICE, "s3:ListAllMyBuckets", "*", "allowed", ("identity Statement[0]",),
         identity=(doc(allow("s3:ListAllMyBuckets", "*")),)),
    Case("resource-list-second-entry", ALICE, "s3:GetObject", OBJ, "allowed", ("identity Statement[0]",),
         identity=(doc(allow("s3:GetObject", ["arn:aws:s3:::other/*", "arn:aws:s3:::data/*"])),)),
    Case("notresource-allows-the-rest", ALICE, "s3:GetObject", OBJ, "allowed", ("identity Statement[0]",),
         identity=(doc(allow("s3:*", not_resource="arn:aws:s3:::secret/*")),)),
    Case("notresource-excludes-listed", ALICE, "s3:GetObject", "arn:aws:s3:::secret/x", "implicit_deny",
         identity=(doc(allow("s3:*", not_resource="arn:aws:s3:::secret/*")),)),
    Case("deny-notresource-denies-the-rest", ALICE, "s3:GetObject", "arn:aws:s3:::public/x", "explicit_deny",
         ("identity Statement[1]",),
         identity=(doc(allow("s3:*"), deny("s3:*", not_resource=["arn:aws:s3:::data", "arn:aws:s3:::data/*"])),)),
    Case("deny-notresource-spares-listed", ALICE, "s3:GetObject", OBJ, "allowed", ("identity Statement[0]",),
         identity=(doc(allow("s3:*"), deny("s3:*", not_resource=["arn:aws:s3:::data", "arn:aws:s3:::data/*"])),)),
    Case("resource-partition-mismatch", ALICE, "s3:GetObject", "arn:aws-cn:s3:::data/x", "implicit_deny",
         identity=(doc(allow("s3:GetObject", "arn:aws:s3:::data/*")),)),
]

# --- policy variables --------------------------------------------------------------------------------

_HOME = doc(allow("s3:*", ["arn:aws:s3:::home/${aws:username}", "arn:aws:s3:::home/${aws:username}/*"], sid="Home"))
_TEAM = doc(allow("s3:GetObject", "arn:aws:s3:::teams/${aws:PrincipalTag/team}/*", sid="Team"))

VARIABLES = [
    Case("var-username-own-home", ALICE, "s3:PutObject", "arn:aws:s3:::home/alice/notes.txt", "allowed",
         ("identity Home",), identity=(_HOME,)),
    Case("var-username-other-home", ALICE, "s3:PutObject", "arn:aws:s3:::home/bob/notes.txt", "implicit_deny",
         identity=(_HOME,)),
    Case("var-username-absent-for-role-session", APP_SESSION, "s3:PutObject", "arn:aws:s3:::home/app/x",
         "implicit_deny", identity=(_HOME,), missing=("aws:username",)),
    Case("var-username-from-context-for-session", APP_SESSION, "s3:PutObject", "arn:aws:s3:::home/app/x",
         "allowed", ("identity Home",), identity=(_HOME,), context={"aws:username": ("app",)}),
    Case("var-default-value-used", APP_SESSION, "s3:GetObject", "arn:aws:s3:::home/shared/x", "allowed",
         ("identity Statement[0]",),
         identity=(doc(allow("s3:GetObject", "arn:aws:s3:::home/${aws:username, 'shared'}/*")),)),
    Case("var-default-value-ignored-when-present", ALICE, "s3:GetObject", "arn:aws:s3:::home/shared/x",
         "implicit_deny", identity=(doc(allow("s3:GetObject", "arn:aws:s3:::home/${aws:username, 'shared'}/*")),)),
    Case("var-default-value-with-quote", APP_SESSION, "s3:GetObject", "arn:aws:s3:::home/o'brien/x", "allowed",
         ("identity Statement[0]",),
         identity=(doc(allow("s3:GetObject", "arn:aws:s3:::home/${aws:username, 'o''brien'}/*")),)),
    Case("var-principal-tag", ALICE, "s3:GetObject", "arn:aws:s3:::teams/red/plan.txt", "allowed", ("identity Team",),
         identity=(_TEAM,), tags={"team": "red"}),
    Case("var-principal-tag-other-team", ALICE, "s3:GetObject", "arn:aws:s3:::teams/blue/plan.txt",
         "implicit_deny", identity=(_TEAM,), tags={"team": "red"}),
    Case("var-principal-tag-absent", ALICE, "s3:GetObject", "arn:aws:s3:::teams/red/plan.txt", "implicit_deny",
         identity=(_TEAM,), missing=("aws:PrincipalTag/team",)),
    Case("var-principal-tag-key-case-insensitive", ALICE, "s3:GetObject", "arn:aws:s3:::teams/red/plan.txt",
         "allowed", ("identity Team",), identity=(_TEAM,), tags={"Team": "red"}),
    Case("var-tag-value-is-literal-not-wildcard", ALICE, "s3:GetObject", "arn:aws:s3:::teams/red/plan.txt",
         "implicit_deny", identity=(_TEAM,), tags={"team": "*"}),
    Case("var-tag-value-star-matches-literal-star", ALICE, "s3:GetObject", "arn:aws:s3:::teams/*/plan.txt",
         "allowed", ("identity Team",), identity=(_TEAM,), tags={"team": "*"}),
    Case("var-principal-account", ALICE, "iam:GetUser", ALICE, "allowed", ("identity Statement[0]",),
         identity=(doc(allow("iam:GetUser", "arn:aws:iam::${aws:PrincipalAccount}:user/${aws:username}")),)),
    Case("var-any-context-key", ALICE, "s3:GetObject", "arn:aws:s3:::data/vpc-1a2b/x", "allowed",
         ("identity Statement[0]",), identity=(doc(allow("s3:GetObject", "arn:aws:s3:::data/${aws:SourceVpc}/*")),),
         context={"aws:SourceVpc": ("vpc-1a2b",)}),
    Case("var-key-name-case-insensitive", ALICE, "s3:GetObject", "arn:aws:s3:::home/alice/x", "allowed",
         ("identity Statement[0]",), identity=(doc(allow("s3:GetObject", "arn:aws:s3:::home/${AWS:UserName}/*")),)),
    Case("var-multivalued-key-has-no-single-value", ALICE, "s3:GetObject", "arn:aws:s3:::data/a/x", "implicit_deny",
         identity=(doc(allow("s3:GetObject", "arn:aws:s3:::data/${aws:TagKeys}/*")),),
         context={"aws:TagKeys": ("a", "b")}, missing=("aws:TagKeys",)),
    Case("var-escape-star-is-literal", ALICE, "s3:GetObject", "arn:aws:s3:::data/*", "allowed",
         ("identity Statement[0]",), identity=(doc(allow("s3:GetObject", "arn:aws:s3:::data/${*}")),)),
    Case("var-escape-star-is-not-a-wildcard", ALICE, "s3:GetObject", OBJ, "implicit_deny",
         identity=(doc(allow("s3:GetObject", "arn:aws:s3:::data/${*}")),)),
    Case("var-escape-dollar", ALICE, "s3:GetObject", "arn:aws:s3:::data/$x", "allowed", ("identity Statement[0]",),
         identity=(doc(allow("s3:GetObject", "arn:aws:s3:::data/${$}x")),)),
    Case("var-old-version-is-literal-text", ALICE, "s3:GetObject", "arn:aws:s3:::home/alice/x", "implicit_deny",
         identity=(doc(allow("s3:GetObject", "arn:aws:s3:::home/${aws:username}/*"), version="2008-10-17"),)),
    Case("var-no-version-is-literal-text", ALICE, "s3:GetObject", "arn:aws:s3:::home/alice/x", "implicit_deny",
         identity=(doc(allow("s3:GetObject", "arn:aws:s3:::home/${aws:username}/*"), version=None),)),
    Case("var-old-version-matches-the-literal", ALICE, "s3:GetObject", "arn:aws:s3:::home/${aws:username}/x",
         "allowed", ("identity Statement[0]",),
         identity=(doc(allow("s3:GetObject", "arn:aws:s3:::home/${aws:username}/*"), version="2008-10-17"),)),
    Case("var-other-pattern-still-matches", APP_SESSION, "s3:GetObject", "arn:aws:s3:::shared/x", "allowed",
         ("identity Statement[0]",),
         identity=(doc(allow("s3:GetObject", ["arn:aws:s3:::home/${aws:username}/*", "arn:aws:s3:::shared/*"])),),
         missing=("aws:username",)),
    Case("var-in-condition-value", ALICE, "s3:ListBucket", BUCKET, "allowed", ("identity Statement[0]",),
         identity=(doc(allow("s3:ListBucket", BUCKET, condition={"StringLike": {"s3:prefix": "home/${aws:username}/*"}})),),
         context={"s3:prefix": ("home/alice/docs",)}),
    Case("var-in-condition-value-other-user", ALICE, "s3:ListBucket", BUCKET, "implicit_deny",
         identity=(doc(allow("s3:ListBucket", BUCKET, condition={"StringLike": {"s3:prefix": "home/${aws:username}/*"}})),),
         context={"s3:prefix": ("home/bob/docs",)}),
    Case("var-in-condition-value-absent", APP_SESSION, "s3:ListBucket", BUCKET, "implicit_deny",
         identity=(doc(allow("s3:ListBucket", BUCKET, condition={"StringLike": {"s3:prefix": "home/${aws:username}/*"}})),),
         context={"s3:prefix": ("home/app/docs",)}, missing=("aws:username",)),
    Case("var-tag-matches-resource-tag", ALICE, "ec2:StopInstances", f"arn:aws:ec2:us-east-1:{ACCT}:instance/i-1",
         "allowed", ("identity Statement[0]",),
         identity=(doc(allow("ec2:StopInstances", condition={
             "StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}})),),
         tags={"team": "red"}, context={"aws:ResourceTag/team": ("red",)}),
    Case("var-tag-differs-from-resource-tag", ALICE, "ec2:StopInstances", f"arn:aws:ec2:us-east-1:{ACCT}:instance/i-1",
         "implicit_deny",
         identity=(doc(allow("ec2:StopInstances", condition={
             "StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}})),),
         tags={"team": "red"}, context={"aws:ResourceTag/team": ("blue",)}),
]

# --- principals in resource-based policies (same account unless said) -------------------------------

_GET = "s3:GetObject"
PRINCIPALS = [
    Case("principal-user-arn-direct", ALICE, _GET, OBJ, "allowed", ("resource Statement[0]",),
         resource_policy=doc(allow(_GET, OBJ, principal=aws(ALICE)))),
    Case("principal-other-user", ALICE, _GET, OBJ, "implicit_deny", resource_policy=doc(allow(_GET, OBJ, principal=aws(BOB)))),
    Case("principal-account-root-delegates", ALICE, _GET, OBJ, "implicit_deny",
         resource_policy=doc(allow(_GET, OBJ, principal=aws(ROOT)))),
    Case("principal-account-root-with-identity", ALICE, _GET, OBJ, "allowed", ("identity S3Read",),
         identity=(S3_READ,), resource_policy=doc(allow(_GET, OBJ, principal=aws(ROOT)))),
    Case("principal-bare-account-id-delegates", ALICE, _GET, OBJ, "implicit_deny",
         resource_policy=doc(allow(_GET, OBJ, principal=aws(ACCT)))),
    Case("principal-bare-account-id-cross-account", EXT_USER, _GET, OBJ, "allowed",
         ("resource Statement[0]", "identity S3Read"), identity=(S3_READ,),
         resource_policy=doc(allow(_GET, OBJ, principal=aws(OTHER))), resource_account=ACCT),
    Case("principal-role-arn-names-session", APP_SESSION, _GET, OBJ, "allowed", ("resource Statement[0]",),
         resource_policy=doc(allow(_GET, OBJ, principal=aws(APP_ROLE)))),
    Case("principal-role-arn-with-path-names-session", APP_SESSION, _GET, OBJ, "allowed", ("resource Statement[0]",),
         resource_policy=doc(allow(_GET, OBJ, principal=aws(f"arn:aws:iam::{ACCT}:role/service/app")))),
    Case("principal-other-role", APP_SESSION, _GET, OBJ, "implicit_deny",
         resource_policy=doc(allow(_GET, OBJ, principal=aws(ADMIN_ROLE)))),
    Case("principal-role-arn-as-principal", APP_ROLE, _GET, OBJ, "allowed", ("resource Statement[0]",),
         resource_policy=doc(allow(_GET, OBJ, principal=aws(APP_ROLE)))),
    Case("principal-session-arn-direct", APP_SESSION, _GET, OBJ, "allowed", ("resource Statement[0]",),
         resource_policy=doc(allow(_GET, OBJ, principal=aws(APP_SESSION)))),
    Case("principal-other-session", APP_SESSION, _GET, OBJ, "implicit_deny",
         resource_policy=doc(allow(_GET, OBJ, principal=aws(f"arn:aws:sts::{ACCT}:assumed-role/app/s2")))),
    Case("principal-star", ALICE, _GET, OBJ, "allowed", ("resource Statement[0]",),
         resource_policy=doc(allow(_GET, OBJ, principal="*"))),
    Case("principal-aws-star-anonymous", "*", _GET, OBJ, "allowed", ("resource Statement[0]",),
         resource_policy=doc(allow(_GET, OBJ, principal={"AWS": "*"}))),
    Case("principal-anonymous-not-named", "*", _GET, OBJ, "implicit_deny",
         resource_policy=doc(allow(_GET, OBJ, principal=aws(ROOT)))),
    Case("principal-anonymous-without-resource-policy", "*", _GET, OBJ, "implicit_deny", identity=(S3_READ,)),
    Case("principal-service", "cloudtrail.amazonaws.com", "s3:PutObject", OBJ, "allowed", ("resource Statement[0]",),
         resource_policy=doc(allow("s3:PutObject", OBJ, principal={"Service": "cloudtrail.amazonaws.com"}))),
    Case("principal-service-list", "config.amazonaws.com", "s3:PutObject", OBJ, "allowed", ("resource Statement[0]",),
         resource_policy=doc(allow("s3:PutObject", OBJ, principal={
             "Service": ["cloudtrail.amazonaws.com", "config.amazonaws.com"]}))),
    Case("principal-other-service", "lambda.amazonaws.com", "s3:PutObject", OBJ, "implicit_deny",
         resource_policy=doc(allow("s3:PutObject", OBJ, principal={"Service": "cloudtrail.amazonaws.com"}))),
    Case("principal-service-ignores-identity-policies", "lambda.amazonaws.com", "s3:PutObject", OBJ, "implicit_deny",
         identity=(FULL_ACCESS,)),
    Case("principal-federated-user-direct", FED_USER, _GET, OBJ, "allowed", ("resource Statement[0]",),
         resource_policy=doc(allow(_GET, OBJ, principal=aws(FED_USER)))),
    Case("principal-other-account-root", ALICE, _GET, OBJ, "implicit_deny",
         resource_policy=doc(allow(_GET, OBJ, principal=aws(OTHER_ROOT)))),
    Case("principal-list-mixed-kinds", APP_SESSION, _GET, OBJ, "allowed", ("resource Statement[0]",),
         resource_policy=doc(allow(_GET, OBJ, principal={"AWS": [BOB, APP_ROLE], "Service": "s3.amazonaws.com"}))),
    Case("principal-notprincipal-allow-others", ALICE, _GET, OBJ, "allowed", ("resource Statement[0]",),
         resource_policy=doc(allow(_GET, OBJ, not_principal=aws(BOB, ROOT)))),
    Case("principal-notprincipal-allow-excludes-listed", BOB, _GET, OBJ, "implicit_deny",
         resource_policy=doc(allow(_GET, OBJ, not_principal=aws(BOB, ROOT)))),
    Case("principal-deny-account-root-denies-members", ALICE, _GET, OBJ, "explicit_deny", ("resource Statement[0]",),
         identity=(S3_READ,), resource_policy=doc(deny(_GET, OBJ, principal=aws(ROOT)))),
    Case("principal-deny-star", APP_SESSION, _GET, OBJ, "explicit_deny", ("resource Statement[0]",),
         identity=(S3_READ,), resource_policy=doc(deny(_GET, OBJ, principal="*"))),
    Case("principal-deny-other-user-spares", ALICE, _GET, OBJ, "allowed", ("identity S3Read",),
         identity=(S3_READ,), resource_policy=doc(deny(_GET, OBJ, principal=aws(BOB)))),
    Case("principal-deny-notprincipal-boundary-always-applies", ALICE, _GET, OBJ, "explicit_deny",
         ("resource Statement[0]",), identity=(S3_READ,), boundary=FULL_ACCESS,
         resource_policy=doc(deny(_GET, OBJ, not_principal=aws(ALICE, ROOT)))),
    Case("principal-deny-notprincipal-exempts-without-boundary", ALICE, _GET, OBJ, "allowed", ("identity S3Read",),
         identity=(S3_READ,), resource_policy=doc(deny(_GET, OBJ, not_principal=aws(ALICE, ROOT)))),
    Case("principal-missing-in-resource-policy-skipped", ALICE, _GET, OBJ, "implicit_deny",
         resource_policy=doc(allow(_GET, OBJ))),
    Case("principal-string-is-an-aws-entry", ALICE, _GET, OBJ, "allowed", ("resource Statement[0]",),
         resource_policy=doc(allow(_GET, OBJ, principal=ALICE))),
    Case("principal-condition-on-principal-arn", APP_SESSION, _GET, OBJ, "allowed", ("resource Statement[0]",),
         resource_policy=doc(allow(_GET, OBJ, principal="*", condition={"ArnEquals": {"aws:PrincipalArn": APP_ROLE}}))),
    Case("principal-condition-on-principal-account", EXT_USER, _GET, OBJ, "implicit_deny", identity=(S3_READ,),
         resource_policy=doc(allow(_GET, OBJ, principal="*", condition={"StringEquals": {"aws:PrincipalAccount": ACCT}})),
         resource_account=ACCT),
]

# --- same account: boundaries and session policies against resource-based grants --------------------

_NOTHING = doc(allow("sqs:SendMessage", "*", sid="OnlySqs"))
LIMITS = [
    Case("limit-user-grant-not-limited-by-boundary", ALICE, _GET, OBJ, "allowed", ("resource Statement[0]",),
         boundary=_NOTHING, resource_policy=doc(allow(_GET, OBJ, principal=aws(ALICE)))),
    Case("limit-role-grant-limited-by-boundary", APP_SESSION, _GET, OBJ, "implicit_deny", boundary=_NOTHING,
         resource_policy=doc(allow(_GET, OBJ, principal=aws(APP_ROLE)))),
    Case("limit-role-grant-within-boundary", APP_SESSION, _GET, OBJ, "allowed", ("resource Statement[0]",),
         boundary=FULL_ACCESS, resource_policy=doc(allow(_GET, OBJ, principal=aws(APP_ROLE)))),
    Case("limit-session-grant-not-limited-by-boundary", APP_SESSION, _GET, OBJ, "allowed", ("resource Statement[0]",),
         boundary=_NOTHING, resource_policy=doc(allow(_GET, OBJ, principal=aws(APP_SESSION)))),
    Case("limit-role-grant-limited-by-session-policy", APP_SESSION, _GET, OBJ, "implicit_deny", session=_NOTHING,
         resource_policy=doc(allow(_GET, OBJ, principal=aws(APP_ROLE)))),
    Case("limit-session-grant-not-limited-by-session-policy", APP_SESSION, _GET, OBJ, "allowed",
         ("resource Statement[0]",), session=_NOTHING, resource_policy=doc(allow(_GET, OBJ, principal=aws(APP_SESSION)))),
    Case("limit-star-grant-not-limited", APP_SESSION, _GET, OBJ, "allowed", ("resource Statement[0]",),
         boundary=_NOTHING, resource_policy=doc(allow(_GET, OBJ, principal="*"))),
    Case("limit-identity-within-boundary", ALICE, _GET, OBJ, "allowed", ("identity S3Read",), identity=(S3_READ,),
         boundary=FULL_ACCESS),
    Case("limit-identity-outside-boundary", ALICE, _GET, OBJ, "implicit_deny", identity=(S3_READ,), boundary=_NOTHING),
    Case("limit-boundary-alone-grants-nothing", ALICE, _GET, OBJ, "implicit_deny", boundary=FULL_ACCESS),
    Case("limit-session-alone-grants-nothing", APP_SESSION, _GET, OBJ, "implicit_deny", session=FULL_ACCESS),
    Case("limit-identity-within-session-policy", APP_SESSION, _GET, OBJ, "allowed", ("identity S3Read",),
         identity=(S3_READ,), session=FULL_ACCESS),
    Case("limit-identity-outside-session-policy", APP_SESSION, _GET, OBJ, "implicit_deny", identity=(S3_READ,),
         session=_NOTHING),
    Case("limit-boundary-deny-beats-direct-grant", ALICE, _GET, OBJ, "explicit_deny", ("boundary Statement[0]",),
         boundary=doc(deny("s3:*")), resource_policy=doc(allow(_GET, OBJ, principal=aws(ALICE)))),
    Case("limit-session-deny-beats-session-grant", APP_SESSION, _GET, OBJ, "explicit_deny", ("session Statement[0]",),
         session=doc(deny("s3:*")), resource_policy=doc(allow(_GET, OBJ, principal=aws(APP_SESSION)))),
    Case("limit-identity-deny-beats-direct-grant", ALICE, _GET, OBJ, "explicit_deny", ("identity Statement[0]",),
         identity=(doc(deny("s3:*")),), resource_policy=doc(allow(_GET, OBJ, principal=aws(ALICE)))),
    Case("limit-federated-user-needs-session-policy", FED_USER, _GET, OBJ, "implicit_deny", identity=(S3_READ,)),
    Case("limit-federated-user-with-session-policy", FED_USER, _GET, OBJ, "allowed", ("identity S3Read",),
         identity=(S3_READ,), session=FULL_ACCESS),
    Case("limit-federated-user-direct-grant-without-session", FED_USER, _GET, OBJ, "allowed",
         ("resource Statement[0]",), resource_policy=doc(allow(_GET, OBJ, principal=aws(FED_USER)))),
    Case("limit-both-identity-and-resource-listed", ALICE, _GET, OBJ, "allowed",
         ("resource Statement[0]", "identity S3Read"), identity=(S3_READ,),
         resource_policy=doc(allow(_GET, OBJ, principal=aws(ALICE)))),
]

# --- cross-account resource-based policies -----------------------------------------------------------

CROSS = [
    Case("cross-both-sides-allow", EXT_USER, _GET, OBJ, "allowed", ("resource Statement[0]", "identity S3Read"),
         identity=(S3_READ,), resource_policy=doc(allow(_GET, OBJ, principal=aws(EXT_USER))), resource_account=ACCT),
    Case("cross-identity-only", EXT_USER, _GET, OBJ, "implicit_deny", identity=(S3_READ,), resource_account=ACCT),
    Case("cross-resource-only", EXT_USER, _GET, OBJ, "implicit_deny",
         resource_policy=doc(allow(_GET, OBJ, principal=aws(EXT_USER))), resource_account=ACCT),
    Case("cross-resource-names-account", EXT_USER, _GET, OBJ, "allowed", ("resource Statement[0]", "identity S3Read"),
         identity=(S3_READ,), resource_policy=doc(allow(_GET, OBJ, principal=aws(OTHER_ROOT))), resource_account=ACCT),
    Case("cross-resource-names-another-account", EXT_USER, _GET, OBJ, "implicit_deny", identity=(S3_READ,),
         resource_policy=doc(allow(_GET, OBJ, principal=aws("arn:aws:iam::999988887777:root"))),
         resource_account=ACCT),
    Case("cross-role-session-by-role-arn", EXT_SESSION, _GET, OBJ, "allowed",
         ("resource Statement[0]", "identity S3Read"), identity=(S3_READ,),
         resource_policy=doc(allow(_GET, OBJ, principal=aws(EXT_ROLE))), resource_account=ACCT),
    Case("cross-boundary-limits", EXT_USER, _GET, OBJ, "implicit_deny", identity=(S3_READ,), boundary=_NOTHING,
         resource_policy=doc(allow(_GET, OBJ, principal=aws(EXT_USER))), resource_account=ACCT),
    Case("cross-session-policy-limits", EXT_SESSION, _GET, OBJ, "implicit_deny", identity=(S3_READ,), session=_NOTHING,
         resource_policy=doc(allow(_GET, OBJ, principal=aws(EXT_SESSION))), resource_account=ACCT),
    Case("cross-resource-deny", EXT_USER, _GET, OBJ, "explicit_deny", ("resource Statement[1]",), identity=(S3_READ,),
         resource_policy=doc(allow(_GET, OBJ, principal=aws(OTHER_ROOT)), deny(_GET, OBJ, principal=aws(EXT_USER))),
         resource_account=ACCT),
    Case("cross-star-principal-still-needs-identity", EXT_USER, _GET, OBJ, "implicit_deny",
         resource_policy=doc(allow(_GET, OBJ, principal="*")), resource_account=ACCT),
    Case("cross-star-principal-with-identity", EXT_USER, _GET, OBJ, "allowed",
         ("resource Statement[0]", "identity S3Read"), identity=(S3_READ,),
         resource_policy=doc(allow(_GET, OBJ, principal="*")), resource_account=ACCT),
    Case("cross-account-read-from-the-resource-arn", EXT_USER, "kms:Decrypt", KEY, "implicit_deny",
         resource_policy=doc(allow("kms:Decrypt", "*", principal=aws(EXT_USER))), kind="kms-key"),
    Case("cross-account-read-from-the-role-arn", EXT_USER, "sts:AssumeRole", TARGET_ROLE, "implicit_deny",
         resource_policy=doc(allow("sts:AssumeRole", principal=aws(EXT_USER))), kind="role-trust"),
    Case("cross-account-given-wins-over-the-arn", EXT_USER, "sqs:SendMessage", f"arn:aws:sqs:us-east-1:{ACCT}:q",
         "allowed", ("resource Statement[0]",), resource_account=OTHER,
         resource_policy=doc(allow("sqs:SendMessage", "*", principal=aws(EXT_USER)))),
    Case("cross-resource-account-same-is-same-account", ALICE, _GET, OBJ, "allowed", ("resource Statement[0]",),
         resource_policy=doc(allow(_GET, OBJ, principal=aws(ALICE))), resource_account=ACCT),
]

# --- KMS key policies ----------------------------------------------------------------------------------

_KMS_DEFAULT = doc(allow("kms:*", "*", sid="Enable IAM User Permissions", principal=aws(ROOT)))
_KMS_USE = doc(allow("kms:Decrypt", KEY, sid="KmsUse"))
KMS = [
    Case("kms-default-policy-delegates-to-identity", ALICE, "kms:Decrypt", KEY, "allowed",
         ("resource Enable IAM User Permissions", "identity KmsUse"), identity=(_KMS_USE,), resource_policy=_KMS_DEFAULT,
         kind="kms-key"),
    Case("kms-default-policy-without-identity", ALICE, "kms:Decrypt", KEY, "implicit_deny", resource_policy=_KMS_DEFAULT,
         kind="kms-key"),
    Case("kms-key-policy-names-user", ALICE, "kms:Decrypt", KEY, "allowed", ("resource KeyUser",),
         resource_policy=doc(allow("kms:Decrypt", "*", sid="KeyUser", principal=aws(ALICE))), kind="kms-key"),
    Case("kms-identity-alone-is-not-enough", ALICE, "kms:Decrypt", KEY, "implicit_deny", identity=(_KMS_USE,),
         resource_policy=doc(allow("kms:Decrypt", "*", principal=aws(BOB))), kind="kms-key"),
    Case("kms-no-key-policy", ALICE, "kms:Decrypt", KEY, "implicit_deny", identity=(_KMS_USE,), kind="kms-key"),
    Case("kms-key-policy-names-role", APP_SESSION, "kms:Decrypt", KEY, "allowed", ("resource Statement[0]",),
         resource_policy=doc(allow("kms:Decrypt", "*", principal=aws(APP_ROLE))), kind="kms-key"),
    Case("kms-role-grant-limited-by-boundary", APP_SESSION, "kms:Decrypt", KEY, "implicit_deny", boundary=_NOTHING,
         resource_policy=doc(allow("kms:Decrypt", "*", principal=aws(APP_ROLE))), kind="kms-key"),
    Case("kms-delegation-limited-by-boundary", ALICE, "kms:Decrypt", KEY, "implicit_deny", identity=(_KMS_USE,),
         boundary=_NOTHING, resource_policy=_KMS_DEFAULT, kind="kms-key"),
    Case("kms-cross-account-root-delegation", EXT_USER, "kms:Decrypt", KEY, "allowed",
         ("resource Statement[0]", "identity KmsUse"), identity=(_KMS_USE,),
         resource_policy=doc(allow("kms:Decrypt", "*", principal=aws(OTHER_ROOT))), resource_account=ACCT,
         kind="kms-key"),
    Case("kms-cross-account-without-identity", EXT_USER, "kms:Decrypt", KEY, "implicit_deny",
         resource_policy=doc(allow("kms:Decrypt", "*", principal=aws(OTHER_ROOT))), resource_account=ACCT,
         kind="kms-key"),
    Case("kms-cross-account-key-policy-silent", EXT_USER, "kms:Decrypt", KEY, "implicit_deny", identity=(_KMS_USE,),
         resource_policy=_KMS_DEFAULT, resource_account=ACCT, kind="kms-key"),
    Case("kms-cross-account-direct-role", EXT_SESSION, "kms:Decrypt", KEY, "allowed",
         ("resource Statement[0]", "identity KmsUse"), identity=(_KMS_USE,),
         resource_policy=doc(allow("kms:Decrypt", "*", principal=aws(EXT_ROLE))), resource_account=ACCT,
         kind="kms-key"),
    Case("kms-cross-account-direct-role-without-identity", EXT_SESSION, "kms:Decrypt", KEY, "implicit_deny",
         resource_policy=doc(allow("kms:Decrypt", "*", principal=aws(EXT_ROLE))), resource_account=ACCT,
         kind="kms-key"),
    Case("kms-via-service-present", ALICE, "kms:Decrypt", KEY, "allowed", ("resource ViaS3",),
         resource_policy=doc(allow("kms:Decrypt", "*", sid="ViaS3", principal=aws(ALICE), condition={
             "StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}})),
         kind="kms-key", context={"kms:ViaService": ("s3.us-east-1.amazonaws.com",)}),
    Case("kms-via-service-missing", ALICE, "kms:Decrypt", KEY, "implicit_deny",
         resource_policy=doc(allow("kms:Decrypt", "*", sid="ViaS3", principal=aws(ALICE), condition={
             "StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}})),
         kind="kms-key", missing=("kms:ViaService",)),
    Case("kms-key-policy-deny", ALICE, "kms:ScheduleKeyDeletion", KEY, "explicit_deny", ("resource NoDelete",),
         identity=(doc(allow("kms:*")),),
         resource_policy=doc(allow("kms:*", "*", principal=aws(ROOT)), deny("kms:ScheduleKeyDeletion", "*",
                                                                          sid="NoDelete", principal="*")),
         kind="kms-key"),
    Case("kms-root-user-by-key-policy", ROOT, "kms:Decrypt", KEY, "allowed", ("resource Enable IAM User Permissions",),
         resource_policy=_KMS_DEFAULT, kind="kms-key"),
    Case("kms-root-user-not-in-key-policy", ROOT, "kms:Decrypt", KEY, "implicit_deny",
         resource_policy=doc(allow("kms:Decrypt", "*", principal=aws(BOB))), kind="kms-key"),
]

# --- role trust policies ---------------------------------------------------------------------------------

_ASSUME = "sts:AssumeRole"
_ASSUME_ANY = doc(allow(_ASSUME, "*", sid="Assume"))
_EXTERNAL_ID_TRUST = doc(allow(_ASSUME, principal=aws(OTHER_ROOT), sid="Vendor",
                               condition={"StringEquals": {"sts:ExternalId": "Unique-ID-1234"}}))
TRUST = [
    Case("trust-names-user-same-account", ALICE, _ASSUME, TARGET_ROLE, "allowed", ("resource Statement[0]",),
         resource_policy=doc(allow(_ASSUME, principal=aws(ALICE))), kind="role-trust"),
    Case("trust-names-account-delegates", ALICE, _ASSUME, TARGET_ROLE, "allowed", ("resource Statement[0]", "identity Assume"),
         identity=(_ASSUME_ANY,), resource_policy=doc(allow(_ASSUME, principal=aws(ROOT))), kind="role-trust"),
    Case("trust-names-account-without-identity", ALICE, _ASSUME, TARGET_ROLE, "implicit_deny",
         resource_policy=doc(allow(_ASSUME, principal=aws(ROOT))), kind="role-trust"),
    Case("trust-identity-alone-is-not-enough", ALICE, _ASSUME, TARGET_ROLE, "implicit_deny", identity=(_ASSUME_ANY,),
         resource_policy=doc(allow(_ASSUME, principal=aws(BOB))), kind="role-trust"),
    Case("trust-no-trust-policy", ALICE, _ASSUME, TARGET_ROLE, "implicit_deny", identity=(_ASSUME_ANY,), kind="role-trust"),
    Case("trust-user-boundary-must-allow", ALICE, _ASSUME, TARGET_ROLE, "implicit_deny", boundary=_NOTHING,
         resource_policy=doc(allow(_ASSUME, principal=aws(ALICE))), kind="role-trust"),
    Case("trust-user-boundary-allows", ALICE, _ASSUME, TARGET_ROLE, "allowed", ("resource Statement[0]",),
         boundary=doc(allow("sts:AssumeRole")), resource_policy=doc(allow(_ASSUME, principal=aws(ALICE))),
         kind="role-trust"),
    Case("trust-role-chaining-by-role-arn", APP_SESSION, _ASSUME, TARGET_ROLE, "allowed", ("resource Statement[0]",),
         resource_policy=doc(allow(_ASSUME, principal=aws(APP_ROLE))), kind="role-trust"),
    Case("trust-role-chaining-limited-by-session-policy", APP_SESSION, _ASSUME, TARGET_ROLE, "implicit_deny",
         session=_NOTHING, resource_policy=doc(allow(_ASSUME, principal=aws(APP_ROLE))), kind="role-trust"),
    Case("trust-cross-account-with-identity", EXT_USER, _ASSUME, TARGET_ROLE, "allowed",
         ("resource Statement[0]", "identity Assume"), identity=(_ASSUME_ANY,),
         resource_policy=doc(allow(_ASSUME, principal=aws(OTHER_ROOT))), resource_account=ACCT, kind="role-trust"),
    Case("trust-cross-account-without-identity", EXT_USER, _ASSUME, TARGET_ROLE, "implicit_deny",
         resource_policy=doc(allow(_ASSUME, principal=aws(OTHER_ROOT))), resource_account=ACCT, kind="role-trust"),
    Case("trust-cross-account-direct-user-needs-identity", EXT_USER, _ASSUME, TARGET_ROLE, "implicit_deny",
         resource_policy=doc(allow(_ASSUME, principal=aws(EXT_USER))), resource_account=ACCT, kind="role-trust"),
    Case("trust-external-id-correct", EXT_USER, _ASSUME, TARGET_ROLE, "allowed", ("resource Vendor", "identity Assume"),
         identity=(_ASSUME_ANY,), resource_policy=_EXTERNAL_ID_TRUST, resource_account=ACCT, kind="role-trust",
         context={"sts:ExternalId": ("Unique-ID-1234",)}),
    Case("trust-external-id-missing", EXT_USER, _ASSUME, TARGET_ROLE, "implicit_deny", identity=(_ASSUME_ANY,),
         resource_policy=_EXTERNAL_ID_TRUST, resource_account=ACCT, kind="role-trust", missing=("sts:ExternalId",)),
    Case("trust-external-id-wrong", EXT_USER, _ASSUME, TARGET_ROLE, "implicit_deny", identity=(_ASSUME_ANY,),
         resource_policy=_EXTERNAL_ID_TRUST, resource_account=ACCT, kind="role-trust",
         context={"sts:ExternalId": ("unique-id-1234",)}),
    Case("trust-service-principal", "lambda.amazonaws.com", _ASSUME, TARGET_ROLE, "allowed", ("resource Statement[0]",),
         resource_policy=doc(allow(_ASSUME, principal={"Service": "lambda.amazonaws.com"})), kind="role-trust"),
    Case("trust-other-service", "ec2.amazonaws.com", _ASSUME, TARGET_ROLE, "implicit_deny",
         resource_policy=doc(allow(_ASSUME, principal={"Service": "lambda.amazonaws.com"})), kind="role-trust"),
    Case("trust-root-cannot-assume", ROOT, _ASSUME, TARGET_ROLE, "implicit_deny",
         resource_policy=doc(allow(_ASSUME, principal=aws(ROOT))), kind="role-trust"),
    Case("trust-saml-federation", SAML, "sts:AssumeRoleWithSAML", TARGET_ROLE, "allowed", ("resource Statement[0]",),
         resource_policy=doc(allow("sts:AssumeRoleWithSAML", principal={"Federated": SAML}, condition={
             "StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}})),
         kind="role-trust", context={"SAML:aud": ("https://signin.aws.amazon.com/saml",)}),
    Case("trust-oidc-federation-wrong-audience", "token.actions.githubusercontent.com", "sts:AssumeRoleWithWebIdentity",
         TARGET_ROLE, "implicit_deny",
         resource_policy=doc(allow("sts:AssumeRoleWithWebIdentity", principal={
             "Federated": "token.actions.githubusercontent.com"}, condition={
             "StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}})),
         kind="role-trust", context={"token.actions.githubusercontent.com:aud": ("other",)}),
    Case("trust-mfa-present", ALICE, _ASSUME, ADMIN_ROLE, "allowed", ("resource Statement[0]", "identity Assume"),
         identity=(_ASSUME_ANY,), kind="role-trust", context={"aws:MultiFactorAuthPresent": ("true",)},
         resource_policy=doc(allow(_ASSUME, principal=aws(ROOT), condition={
             "Bool": {"aws:MultiFactorAuthPresent": "true"}}))),
    Case("trust-mfa-missing", ALICE, _ASSUME, ADMIN_ROLE, "implicit_deny", identity=(_ASSUME_ANY,), kind="role-trust",
         resource_policy=doc(allow(_ASSUME, principal=aws(ROOT), condition={
             "Bool": {"aws:MultiFactorAuthPresent": "true"}})), missing=("aws:MultiFactorAuthPresent",)),
    Case("trust-deny-statement", ALICE, _ASSUME, TARGET_ROLE, "explicit_deny", ("resource Statement[1]",),
         resource_policy=doc(allow(_ASSUME, principal=aws(ALICE)), deny(_ASSUME, principal=aws(ALICE))),
         kind="role-trust"),
    Case("trust-identity-deny", ALICE, _ASSUME, TARGET_ROLE, "explicit_deny", ("identity Statement[0]",),
         identity=(doc(deny("sts:*")),), resource_policy=doc(allow(_ASSUME, principal=aws(ALICE))), kind="role-trust"),
    Case("trust-action-not-in-trust", ALICE, "sts:TagSession", TARGET_ROLE, "implicit_deny",
         resource_policy=doc(allow(_ASSUME, principal=aws(ALICE))), kind="role-trust"),
]

# --- SCPs ----------------------------------------------------------------------------------------------

_S3_ONLY = doc(allow("s3:*", sid="S3Only"))
_DENY_REGIONS = doc(deny(not_action=["iam:*", "sts:*"], sid="DenyOutsideRegions",
                         condition={"StringNotEquals": {"aws:RequestedRegion": ["eu-west-1", "eu-central-1"]}}))
SCPS = [
    Case("scp-full-access-every-level", ALICE, _GET, OBJ, "allowed", ("identity S3Read",), identity=(S3_READ,),
         scps=((FULL_ACCESS,), (FULL_ACCESS,), (FULL_ACCESS,))),
    Case("scp-level-without-allow", ALICE, _GET, OBJ, "implicit_deny", identity=(S3_READ,),
         scps=((FULL_ACCESS,), (doc(allow("ec2:*")),), (FULL_ACCESS,))),
    Case("scp-empty-level", ALICE, _GET, OBJ, "implicit_deny", identity=(S3_READ,), scps=((FULL_ACCESS,), ())),
    Case("scp-deny-at-ou", ALICE, _GET, OBJ, "explicit_deny", ("scp-1-2 Statement[0]",), identity=(S3_READ,),
         scps=((FULL_ACCESS,), (FULL_ACCESS, doc(deny("s3:*"))))),
    Case("scp-allow-list-covers", ALICE, _GET, OBJ, "allowed", ("identity S3Read",), identity=(S3_READ,),
         scps=((FULL_ACCESS,), (_S3_ONLY,))),
    Case("scp-allow-list-excludes", ALICE, "ec2:RunInstances", "*", "implicit_deny", identity=(FULL_ACCESS,),
         scps=((FULL_ACCESS,), (_S3_ONLY,))),
    Case("scp-grants-nothing-alone", ALICE, _GET, OBJ, "implicit_deny", scps=((FULL_ACCESS,),)),
    Case("scp-limits-resource-grant", ALICE, _GET, OBJ, "implicit_deny",
         resource_policy=doc(allow(_GET, OBJ, principal=aws(ALICE))), scps=((doc(allow("ec2:*")),),)),
    Case("scp-region-deny-outside", ALICE, "ec2:RunInstances", "*", "explicit_deny", ("scp-0-2 DenyOutsideRegions",),
         identity=(FULL_ACCESS,), scps=((FULL_ACCESS, _DENY_REGIONS),), context={"aws:RequestedRegion": ("us-east-1",)}),
    Case("scp-region-inside", ALICE, "ec2:RunInstances", "*", "allowed", ("identity FullAWSAccess",),
         identity=(FULL_ACCESS,), scps=((FULL_ACCESS, _DENY_REGIONS),), context={"aws:RequestedRegion": ("eu-west-1",)}),
    Case("scp-region-missing-negated-holds", ALICE, "ec2:RunInstances", "*", "explicit_deny",
         ("scp-0-2 DenyOutsideRegions",), identity=(FULL_ACCESS,), scps=((FULL_ACCESS, _DENY_REGIONS),),
         missing=("aws:RequestedRegion",)),
    Case("scp-region-notaction-spares-iam", ALICE, "iam:ListUsers", "*", "allowed", ("identity FullAWSAccess",),
         identity=(FULL_ACCESS,), scps=((FULL_ACCESS, _DENY_REGIONS),), context={"aws:RequestedRegion": ("us-east-1",)}),
    Case("scp-applies-to-root-user", ROOT, "s3:DeleteBucket", BUCKET, "explicit_deny", ("scp-0-2 Statement[0]",),
         scps=((FULL_ACCESS, doc(deny("s3:DeleteBucket"))),)),
    Case("scp-root-user-allowed-within", ROOT, _GET, OBJ, "allowed", (), scps=((FULL_ACCESS,),)),
    Case("scp-deny-beats-resource-grant", APP_SESSION, _GET, OBJ, "explicit_deny", ("scp-0-2 Statement[0]",),
         resource_policy=doc(allow(_GET, OBJ, principal=aws(APP_SESSION))), scps=((FULL_ACCESS, doc(deny("s3:*"))),)),
]

# --- RCPs ----------------------------------------------------------------------------------------------

_RCP_FULL = doc(allow("*", "*", sid="RCPFullAWSAccess", principal="*"))
_RCP_ORG_ONLY = doc(deny("s3:*", "*", sid="EnforceOrgIdentities", principal="*", condition={
    "StringNotEqualsIfExists": {"aws:PrincipalOrgID": "o-abc123"},
    "BoolIfExists": {"aws:PrincipalIsAWSService": "false"}}))
RCPS = [
    Case("rcp-full-access", ALICE, _GET, OBJ, "allowed", ("identity S3Read",), identity=(S3_READ,),
         rcps=((_RCP_FULL,), (_RCP_FULL,))),
    Case("rcp-level-without-allow", ALICE, _GET, OBJ, "implicit_deny", identity=(S3_READ,),
         rcps=((_RCP_FULL,), (doc(allow("kms:*", principal="*")),))),
    Case("rcp-deny-outside-org", EXT_USER, _GET, OBJ, "explicit_deny", ("rcp-0-2 EnforceOrgIdentities",),
         identity=(S3_READ,), resource_policy=doc(allow(_GET, OBJ, principal=aws(OTHER_ROOT))), resource_account=ACCT,
         rcps=((_RCP_FULL, _RCP_ORG_ONLY),), context={"aws:PrincipalOrgID": ("o-other",)}),
    Case("rcp-inside-org", EXT_USER, _GET, OBJ, "allowed", ("resource Statement[0]", "identity S3Read"),
         identity=(S3_READ,), resource_policy=doc(allow(_GET, OBJ, principal=aws(OTHER_ROOT))), resource_account=ACCT,
         rcps=((_RCP_FULL, _RCP_ORG_ONLY),), context={"aws:PrincipalOrgID": ("o-abc123",)}),
    Case("rcp-service-principal-spared", "cloudtrail.amazonaws.com", "s3:PutObject", OBJ, "allowed",
         ("resource Statement[0]",), rcps=((_RCP_FULL, _RCP_ORG_ONLY),),
         resource_policy=doc(allow("s3:PutObject", OBJ, principal={"Service": "cloudtrail.amazonaws.com"}))),
    Case("rcp-deny-same-account", ALICE, _GET, OBJ, "explicit_deny", ("rcp-0-2 Statement[0]",), identity=(S3_READ,),
         rcps=((_RCP_FULL, doc(deny("s3:GetObject", principal="*"))),)),
    Case("rcp-grants-nothing-alone", ALICE, _GET, OBJ, "implicit_deny", rcps=((_RCP_FULL,),)),
    Case("rcp-statement-without-principal-applies", ALICE, _GET, OBJ, "allowed", ("identity S3Read",),
         identity=(S3_READ,), rcps=((doc(allow("*")),),)),
]

# --- explicit deny and MFA -------------------------------------------------------------------------------

_MFA_DENY = doc(deny("*", "*", sid="DenyWithoutMFA", condition={"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}))
_FORCE_MFA = doc(
    allow(["iam:GetAccountPasswordPolicy", "iam:ListVirtualMFADevices"], "*", sid="AllowViewAccountInfo"),
    allow(["iam:CreateVirtualMFADevice", "iam:EnableMFADevice", "iam:GetUser", "iam:ListMFADevices"],
          ["arn:aws:iam::*:mfa/${aws:username}", "arn:aws:iam::*:user/${aws:username}"], sid="AllowManageOwnMFA"),
    allow("s3:*", "*", sid="AllowS3"),
    deny(not_action=["iam:CreateVirtualMFADevice", "iam:EnableMFADevice", "iam:GetUser", "iam:ListMFADevices",
                     "iam:ListVirtualMFADevices", "iam:ResyncMFADevice", "sts:GetSessionToken"],
         resource="*", sid="DenyAllExceptListedIfNoMFA",
         condition={"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}),
)
_MFA = {"aws:MultiFactorAuthPresent": ("true",)}
_NO_MFA = {"aws:MultiFactorAuthPresent": ("false",)}
DENIES = [
    Case("mfa-deny-key-absent", ALICE, _GET, OBJ, "explicit_deny", ("identity-2 DenyWithoutMFA",),
         identity=(S3_READ, _MFA_DENY)),
    Case("mfa-deny-key-false", ALICE, _GET, OBJ, "explicit_deny", ("identity-2 DenyWithoutMFA",),
         identity=(S3_READ, _MFA_DENY), context=_NO_MFA),
    Case("mfa-deny-key-true", ALICE, _GET, OBJ, "allowed", ("identity S3Read",), identity=(S3_READ, _MFA_DENY),
         context=_MFA),
    Case("mfa-deny-key-true-case-insensitive", ALICE, _GET, OBJ, "allowed", ("identity S3Read",),
         identity=(S3_READ, _MFA_DENY), context={"aws:multifactorauthpresent": ("TRUE",)}),
    Case("mfa-bool-without-ifexists-absent", ALICE, _GET, OBJ, "allowed", ("identity S3Read",),
         identity=(S3_READ, doc(deny("*", condition={"Bool": {"aws:MultiFactorAuthPresent": "false"}}))),
         missing=("aws:MultiFactorAuthPresent",)),
    Case("force-mfa-listed-action-without-mfa", ALICE, "iam:ListMFADevices", ALICE, "allowed",
         ("identity AllowManageOwnMFA",), identity=(_FORCE_MFA,)),
    Case("force-mfa-other-action-without-mfa", ALICE, "s3:ListAllMyBuckets", "*", "explicit_deny",
         ("identity DenyAllExceptListedIfNoMFA",), identity=(_FORCE_MFA,)),
    Case("force-mfa-other-action-with-mfa", ALICE, "s3:ListAllMyBuckets", "*", "allowed", ("identity AllowS3",),
         identity=(_FORCE_MFA,), context=_MFA),
    Case("force-mfa-own-device-only", ALICE, "iam:EnableMFADevice", BOB, "implicit_deny", identity=(_FORCE_MFA,)),
    Case("force-mfa-mfa-false-denies", ALICE, "s3:GetObject", OBJ, "explicit_deny",
         ("identity DenyAllExceptListedIfNoMFA",), identity=(_FORCE_MFA,), context=_NO_MFA),
    Case("deny-beats-allow-same-policy", ALICE, _GET, OBJ, "explicit_deny", ("identity Statement[1]",),
         identity=(doc(allow("s3:*"), deny(_GET)),)),
    Case("deny-beats-allow-other-policy", ALICE, _GET, OBJ, "explicit_deny", ("identity-2 Statement[0]",),
         identity=(doc(allow("s3:*")), doc(deny(_GET)))),
    Case("deny-lists-every-applying-deny", ALICE, _GET, OBJ, "explicit_deny",
         ("resource Statement[0]", "identity Statement[0]", "boundary Statement[0]"),
         identity=(doc(deny("s3:*")),), boundary=doc(deny(_GET)), resource_policy=doc(deny(_GET, OBJ, principal="*"))),
    Case("deny-with-unmet-condition-does-not-apply", ALICE, _GET, OBJ, "allowed", ("identity Statement[0]",),
         identity=(doc(allow("s3:*"), deny(_GET, condition={"StringEquals": {"aws:username": "bob"}})),)),
    Case("deny-for-other-resource-does-not-apply", ALICE, _GET, OBJ, "allowed", ("identity Statement[0]",),
         identity=(doc(allow("s3:*"), deny(_GET, "arn:aws:s3:::secret/*")),)),
]

# --- condition operators ---------------------------------------------------------------------------------

_IP = "aws:SourceIp"
CONDITIONS = [
    cond("cond-string-equals", {"StringEquals": {"aws:username": "alice"}}, {}, True),
    cond("cond-string-equals-mismatch", {"StringEquals": {"aws:username": "bob"}}, {}, False),
    cond("cond-string-equals-case-sensitive", {"StringEquals": {"aws:username": "Alice"}}, {}, False),
    cond("cond-string-equals-any-value", {"StringEquals": {"aws:username": ["bob", "alice"]}}, {}, True),
    cond("cond-string-equals-missing", {"StringEquals": {"s3:prefix": "a/"}}, {}, False, ("s3:prefix",)),
    cond("cond-string-not-equals", {"StringNotEquals": {"aws:username": "bob"}}, {}, True),
    cond("cond-string-not-equals-equal", {"StringNotEquals": {"aws:username": ["bob", "alice"]}}, {}, False),
    cond("cond-string-not-equals-missing-holds", {"StringNotEquals": {"s3:prefix": "a/"}}, {}, True, ("s3:prefix",)),
    cond("cond-string-equals-ignore-case", {"StringEqualsIgnoreCase": {"aws:username": "ALICE"}}, {}, True),
    cond("cond-string-not-equals-ignore-case", {"StringNotEqualsIgnoreCase": {"aws:username": "ALICE"}}, {}, False),
    cond("cond-string-like-star", {"StringLike": {"s3:prefix": "home/*"}}, {"s3:prefix": ("home/alice/x",)}, True),
    cond("cond-string-like-question", {"StringLike": {"s3:prefix": "v?"}}, {"s3:prefix": ("v1",)}, True),
    cond("cond-string-like-question-one-char", {"StringLike": {"s3:prefix": "v?"}}, {"s3:prefix": ("v10",)}, False),
    cond("cond-string-like-case-sensitive", {"StringLike": {"s3:prefix": "Home/*"}}, {"s3:prefix": ("home/x",)}, False),
    cond("cond-string-like-whole-value", {"StringLike": {"s3:prefix": "home"}}, {"s3:prefix": ("home/x",)}, False),
    cond("cond-string-not-like", {"StringNotLike": {"s3:prefix": "secret/*"}}, {"s3:prefix": ("public/x",)}, True),
    cond("cond-string-not-like-matching", {"StringNotLike": {"s3:prefix": "secret/*"}}, {"s3:prefix": ("secret/x",)},
         False),
    cond("cond-string-like-escaped-star", {"StringLike": {"s3:prefix": "a${*}"}}, {"s3:prefix": ("ab",)}, False),
    cond("cond-string-like-escaped-star-literal", {"StringLike": {"s3:prefix": "a${*}"}}, {"s3:prefix": ("a*",)}, True),
    cond("cond-keys-are-anded", {"StringEquals": {"aws:username": "alice", "aws:PrincipalType": "AssumedRole"}}, {},
         False),
    cond("cond-operators-are-anded", {"StringEquals": {"aws:username": "alice"}, "Bool": {"aws:SecureTransport": "true"}},
         {"aws:SecureTransport": ("false",)}, False),
    cond("cond-all-hold", {"StringEquals": {"aws:username": "alice"}, "Bool": {"aws:SecureTransport": "true"}},
         {"aws:SecureTransport": ("true",)}, True),
    cond("cond-key-name-case-insensitive", {"StringEquals": {"AWS:USERNAME": "alice"}}, {}, True),
    cond("cond-context-key-case-insensitive", {"StringEquals": {"s3:prefix": "a/"}}, {"S3:Prefix": ("a/",)}, True),
    cond("cond-missing-keys-sorted", {"StringEquals": {"s3:prefix": "a/", "aws:SourceVpc": "vpc-1"}}, {}, False,
         ("aws:SourceVpc", "s3:prefix")),
    cond("cond-numeric-less-than", {"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": ("5",)}, True),
    cond("cond-numeric-less-than-equal-value", {"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": ("10",)}, False),
    cond("cond-numeric-less-than-equals", {"NumericLessThanEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": ("10",)},
         True),
    cond("cond-numeric-greater-than", {"NumericGreaterThan": {"s3:max-keys": "10"}}, {"s3:max-keys": ("11",)}, True),
    cond("cond-numeric-greater-than-equals", {"NumericGreaterThanEquals": {"s3:max-keys": "10"}},
         {"s3:max-keys": ("9",)}, False),
    cond("cond-numeric-equals-decimal", {"NumericEquals": {"s3:max-keys": "5"}}, {"s3:max-keys": ("5.0",)}, True),
    cond("cond-numeric-equals-json-number", {"NumericEquals": {"s3:max-keys": 5}}, {"s3:max-keys": ("5",)}, True),
    cond("cond-numeric-not-equals", {"NumericNotEquals": {"s3:max-keys": "5"}}, {"s3:max-keys": ("6",)}, True),
    cond("cond-numeric-not-a-number", {"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": ("ten",)}, False),
    cond("cond-numeric-missing", {"NumericLessThan": {"s3:max-keys": "10"}}, {}, False, ("s3:max-keys",)),
    cond("cond-date-less-than", {"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}},
         {"aws:CurrentTime": ("2026-05-01T12:00:00Z",)}, True),
    cond("cond-date-less-than-after", {"DateLessThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}},
         {"aws:CurrentTime": ("2026-05-01T12:00:00Z",)}, False),
    cond("cond-date-greater-than-epoch-request", {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}},
         {"aws:CurrentTime": ("1700000000",)}, True),
    cond("cond-date-epoch-policy", {"DateLessThan": {"aws:EpochTime": "1700000000"}},
         {"aws:EpochTime": ("1600000000",)}, True),
    cond("cond-date-only", {"DateGreaterThanEquals": {"aws:CurrentTime": "2026-05-01"}},
         {"aws:CurrentTime": ("2026-05-01T00:00:00Z",)}, True),
    cond("cond-date-with-offset", {"DateEquals": {"aws:CurrentTime": "2026-05-01T14:00:00+02:00"}},
         {"aws:CurrentTime": ("2026-05-01T12:00:00Z",)}, True),
    cond("cond-date-fractional-seconds", {"DateLessThanEquals": {"aws:CurrentTime": "2026-05-01T12:00:00.500Z"}},
         {"aws:CurrentTime": ("2026-05-01T12:00:00Z",)}, True),
    cond("cond-date-not-equals-missing", {"DateNotEquals": {"aws:CurrentTime": "2026-05-01"}}, {}, True,
         ("aws:CurrentTime",)),
    cond("cond-date-unreadable", {"DateLessThan": {"aws:CurrentTime": "2030-01-01"}}, {"aws:CurrentTime": ("soon",)},
         False),
    cond("cond-token-issue-time", {"DateGreaterThan": {"aws:TokenIssueTime": "2026-01-01T00:00:00Z"}},
         {"aws:TokenIssueTime": ("2025-12-31T23:59:59Z",)}, False),
    cond("cond-bool-true", {"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": ("true",)}, True),
    cond("cond-bool-json-true", {"Bool": {"aws:SecureTransport": True}}, {"aws:SecureTransport": ("true",)}, True),
    cond("cond-bool-case-insensitive", {"Bool": {"aws:SecureTransport": "TRUE"}}, {"aws:SecureTransport": ("True",)},
         True),
    cond("cond-bool-mismatch", {"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": ("false",)}, False),
    cond("cond-bool-missing", {"Bool": {"aws:SecureTransport": "true"}}, {}, False, ("aws:SecureTransport",)),
    cond("cond-bool-if-exists-missing", {"BoolIfExists": {"aws:SecureTransport": "true"}}, {}, True),
    cond("cond-bool-if-exists-present-false", {"BoolIfExists": {"aws:SecureTransport": "true"}},
         {"aws:SecureTransport": ("false",)}, False),
    cond("cond-binary-equals", {"BinaryEquals": {"s3:x-amz-key": "QmluYXJ5VmFsdWU="}},
         {"s3:x-amz-key": ("QmluYXJ5VmFsdWU=",)}, True),
    cond("cond-binary-equals-mismatch", {"BinaryEquals": {"s3:x-amz-key": "QmluYXJ5VmFsdWU="}},
         {"s3:x-amz-key": ("T3RoZXI=",)}, False),
    cond("cond-ip-v4-cidr", {"IpAddress": {_IP: "203.0.113.0/24"}}, {_IP: ("203.0.113.77",)}, True),
    cond("cond-ip-v4-outside", {"IpAddress": {_IP: "203.0.113.0/24"}}, {_IP: ("198.51.100.7",)}, False),
    cond("cond-ip-v4-single-address", {"IpAddress": {_IP: "203.0.113.5"}}, {_IP: ("203.0.113.5",)}, True),
    cond("cond-ip-v4-any-of-list", {"IpAddress": {_IP: ["192.0.2.0/24", "203.0.113.0/24"]}}, {_IP: ("203.0.113.1",)},
         True),
    cond("cond-ip-v6-cidr", {"IpAddress": {_IP: "2001:DB8:1234:5678::/64"}}, {_IP: ("2001:db8:1234:5678::abcd",)},
         True),
    cond("cond-ip-v6-outside", {"IpAddress": {_IP: "2001:DB8:1234:5678::/64"}}, {_IP: ("2001:db8:1234:9999::1",)},
         False),
    cond("cond-ip-v4-request-v6-block", {"IpAddress": {_IP: "2001:DB8::/32"}}, {_IP: ("203.0.113.5",)}, False),
    cond("cond-ip-unreadable-request", {"IpAddress": {_IP: "203.0.113.0/24"}}, {_IP: ("not-an-ip",)}, False),
    cond("cond-not-ip-address-outside", {"NotIpAddress": {_IP: "203.0.113.0/24"}}, {_IP: ("198.51.100.7",)}, True),
    cond("cond-not-ip-address-inside", {"NotIpAddress": {_IP: "203.0.113.0/24"}}, {_IP: ("203.0.113.9",)}, False),
    cond("cond-not-ip-address-missing-holds", {"NotIpAddress": {_IP: "203.0.113.0/24"}}, {}, True, (_IP,)),
    cond("cond-ip-missing", {"IpAddress": {_IP: "203.0.113.0/24"}}, {}, False, (_IP,)),
    cond("cond-arn-like-wildcard", {"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:111122223333:topic-*"}},
         {"aws:SourceArn": ("arn:aws:sns:eu-west-1:111122223333:topic-a",)}, True),
    cond("cond-arn-like-other-account", {"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:111122223333:*"}},
         {"aws:SourceArn": ("arn:aws:sns:eu-west-1:444455556666:topic-a",)}, False),
    cond("cond-arn-like-star-stays-in-segment", {"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:111122223333:t"}},
         {"aws:SourceArn": ("arn:aws:sns:eu-west-1:x:111122223333:t",)}, False),
    cond("cond-arn-equals", {"ArnEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:111122223333:t"}},
         {"aws:SourceArn": ("arn:aws:sns:us-east-1:111122223333:t",)}, True),
    cond("cond-arn-equals-case-sensitive", {"ArnEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:111122223333:T"}},
         {"aws:SourceArn": ("arn:aws:sns:us-east-1:111122223333:t",)}, False),
    cond("cond-arn-equals-with-wildcard", {"ArnEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:111122223333:*"}},
         {"aws:SourceArn": ("arn:aws:sns:us-east-1:111122223333:t",)}, True),
    cond("cond-arn-not-like", {"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/admin*"}}, {}, True),
    cond("cond-arn-not-like-matching", {"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/ali*"}}, {}, False),
    cond("cond-arn-not-equals-missing-holds", {"ArnNotEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:1:t"}}, {},
         True, ("aws:SourceArn",)),
    cond("cond-null-true-absent", {"Null": {"aws:TokenIssueTime": "true"}}, {}, True),
    cond("cond-null-true-present", {"Null": {"aws:TokenIssueTime": "true"}},
         {"aws:TokenIssueTime": ("2026-01-01T00:00:00Z",)}, False),
    cond("cond-null-false-present", {"Null": {"aws:TokenIssueTime": "false"}},
         {"aws:TokenIssueTime": ("2026-01-01T00:00:00Z",)}, True),
    cond("cond-null-false-absent", {"Null": {"aws:TokenIssueTime": "false"}}, {}, False),
    cond("cond-null-json-bool", {"Null": {"aws:TokenIssueTime": True}}, {}, True),
    cond("cond-null-empty-values-are-absent", {"Null": {"aws:TagKeys": "true"}}, {"aws:TagKeys": ()}, True),
    cond("cond-string-equals-if-exists-absent", {"StringEqualsIfExists": {"ec2:InstanceType": "t3.micro"}}, {}, True),
    cond("cond-string-equals-if-exists-mismatch", {"StringEqualsIfExists": {"ec2:InstanceType": "t3.micro"}},
         {"ec2:InstanceType": ("m5.large",)}, False),
    cond("cond-numeric-if-exists-present", {"NumericLessThanIfExists": {"s3:max-keys": "10"}}, {"s3:max-keys": ("3",)},
         True),
    cond("cond-for-all-values-missing-holds", {"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "team"]}}, {}, True,
         ("aws:TagKeys",)),
    cond("cond-for-all-values-subset", {"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "team"]}},
         {"aws:TagKeys": ("env",)}, True),
    cond("cond-for-all-values-extra-value", {"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "team"]}},
         {"aws:TagKeys": ("env", "owner")}, False),
    cond("cond-for-all-values-empty-set", {"ForAllValues:StringEquals": {"aws:TagKeys": ["env"]}}, {"aws:TagKeys": ()},
         True, ("aws:TagKeys",)),
    cond("cond-for-all-values-like", {"ForAllValues:StringLike": {"aws:TagKeys": ["app-*"]}},
         {"aws:TagKeys": ("app-a", "app-b")}, True),
    cond("cond-for-all-values-not-equals", {"ForAllValues:StringNotEquals": {"aws:TagKeys": ["secret"]}},
         {"aws:TagKeys": ("a", "secret")}, False),
    cond("cond-for-any-value-missing-false", {"ForAnyValue:StringEquals": {"aws:TagKeys": ["env"]}}, {}, False,
         ("aws:TagKeys",)),
    cond("cond-for-any-value-one-matches", {"ForAnyValue:StringEquals": {"aws:TagKeys": ["env"]}},
         {"aws:TagKeys": ("owner", "env")}, True),
    cond("cond-for-any-value-none-matches", {"ForAnyValue:StringEquals": {"aws:TagKeys": ["env"]}},
         {"aws:TagKeys": ("owner", "team")}, False),
    cond("cond-for-any-value-not-equals", {"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["env"]}},
         {"aws:TagKeys": ("env", "team")}, True),
    cond("cond-for-any-value-if-exists-absent", {"ForAnyValue:StringEqualsIfExists": {"aws:TagKeys": ["env"]}}, {},
         True),
    cond("cond-multivalued-without-set-operator", {"StringEquals": {"aws:TagKeys": "env"}},
         {"aws:TagKeys": ("owner", "env")}, True),
    cond("cond-principal-tag", {"StringEquals": {"aws:PrincipalTag/dept": "finance"}}, {}, True,
         tags={"dept": "finance"}),
    cond("cond-principal-tag-missing", {"StringEquals": {"aws:PrincipalTag/dept": "finance"}}, {}, False,
         ("aws:PrincipalTag/dept",)),
    cond("cond-principal-type-derived", {"StringEquals": {"aws:PrincipalType": "AssumedRole"}}, {}, True,
         principal=APP_SESSION),
    cond("cond-principal-arn-of-session-is-role", {"ArnEquals": {"aws:PrincipalArn": APP_ROLE}}, {}, True,
         principal=APP_SESSION),
    cond("cond-given-context-wins", {"StringEquals": {"aws:username": "someone"}}, {"aws:username": ("someone",)}, True),
    cond("cond-unknown-operator-fails", {"StringEqualz": {"aws:username": "alice"}}, {}, False),
    cond("cond-object-value-fails", {"StringEquals": {"aws:username": {"nested": "alice"}}}, {}, False),
    cond("cond-block-not-object-fails", ["StringEquals"], {}, False),
    cond("cond-empty-value-list-fails", {"StringEquals": {"aws:username": []}}, {}, False),
]

# --- malformed documents -----------------------------------------------------------------------------------

MALFORMED = [
    Case("malformed-effect", ALICE, _GET, OBJ, "implicit_deny", identity=(doc({"Effect": "Alow", "Action": "*",
                                                                              "Resource": "*"}),)),
    Case("malformed-deny-effect-does-not-deny", ALICE, _GET, OBJ, "allowed", ("identity Statement[0]",),
         identity=(doc(allow("*"), {"Effect": "deny", "Action": "*", "Resource": "*"}),)),
    Case("malformed-statement-not-object", ALICE, _GET, OBJ, "allowed", ("identity Statement[1]",),
         identity=(doc("oops", allow("s3:*")),)),  # type: ignore[arg-type]
    Case("malformed-single-statement-object", ALICE, _GET, OBJ, "allowed", ("identity Statement",),
         identity=({"Version": "2012-10-17", "Statement": allow("s3:*")},)),
    Case("malformed-no-statement", ALICE, _GET, OBJ, "implicit_deny", identity=({"Version": "2012-10-17"},)),
    Case("malformed-document-not-object", ALICE, _GET, OBJ, "implicit_deny", identity=(["x"],)),  # type: ignore[arg-type]
    Case("malformed-json-string-document", ALICE, _GET, OBJ, "allowed", ("identity Statement[0]",),
         identity=('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}',),  # type: ignore[arg-type]
         ),
    Case("malformed-bad-json-string", ALICE, _GET, OBJ, "implicit_deny", identity=("{not json",)),  # type: ignore[arg-type]
    Case("malformed-no-action", ALICE, _GET, OBJ, "implicit_deny", identity=(doc({"Effect": "Allow", "Resource": "*"}),)),
    Case("malformed-action-and-notaction", ALICE, _GET, OBJ, "implicit_deny",
         identity=(doc({"Effect": "Allow", "Action": "*", "NotAction": "iam:*", "Resource": "*"}),)),
    Case("malformed-action-not-a-string", ALICE, _GET, OBJ, "implicit_deny",
         identity=(doc({"Effect": "Allow", "Action": 5, "Resource": "*"}),)),
    Case("malformed-resource-not-a-string", ALICE, _GET, OBJ, "implicit_deny",
         identity=(doc({"Effect": "Allow", "Action": "*", "Resource": 5}),)),
    Case("malformed-identity-without-resource", ALICE, _GET, OBJ, "implicit_deny",
         identity=(doc({"Effect": "Allow", "Action": "*"}),)),
    Case("malformed-principal-not-object", ALICE, _GET, OBJ, "implicit_deny",
         resource_policy=doc({"Effect": "Allow", "Principal": 5, "Action": "*", "Resource": "*"})),
    Case("malformed-non-string-entries-skipped", ALICE, _GET, OBJ, "allowed", ("identity Statement[0]",),
         identity=(doc({"Effect": "Allow", "Action": [5, None, "s3:GetObject"], "Resource": "*"}),)),
    Case("malformed-empty-sid-uses-index", ALICE, _GET, OBJ, "allowed", ("identity Statement[0]",),
         identity=(doc(allow("s3:*", sid="")),)),
]

# --- the account root user ---------------------------------------------------------------------------------

ROOT_USER = [
    Case("root-needs-no-identity-policy", ROOT, "iam:CreateUser", "*", "allowed", ()),
    Case("root-bare-account-id", ACCT, "iam:CreateUser", "*", "allowed", ()),
    Case("root-resource-deny-applies", ROOT, _GET, OBJ, "explicit_deny", ("resource Statement[0]",),
         resource_policy=doc(deny(_GET, OBJ, principal="*"))),
    Case("root-cross-account-needs-resource-policy", OTHER_ROOT, _GET, OBJ, "implicit_deny", resource_account=ACCT),
    Case("root-cross-account-with-resource-policy", OTHER_ROOT, _GET, OBJ, "allowed", ("resource Statement[0]",),
         resource_policy=doc(allow(_GET, OBJ, principal=aws(OTHER_ROOT))), resource_account=ACCT),
]

ALL_CASES: list[Case] = [
    *DOC_EXAMPLES, *ACTIONS, *RESOURCES, *VARIABLES, *PRINCIPALS, *LIMITS, *CROSS, *KMS, *TRUST, *SCPS, *RCPS,
    *DENIES, *CONDITIONS, *MALFORMED, *ROOT_USER,
]
CATEGORIES = {
    "aws-doc-examples": DOC_EXAMPLES, "actions": ACTIONS, "resources": RESOURCES, "policy-variables": VARIABLES,
    "principals": PRINCIPALS, "boundary-session-limits": LIMITS, "cross-account": CROSS, "kms-keys": KMS,
    "role-trust": TRUST, "scps": SCPS, "rcps": RCPS, "explicit-deny-mfa": DENIES, "conditions": CONDITIONS,
    "malformed": MALFORMED, "root-user": ROOT_USER,
}
