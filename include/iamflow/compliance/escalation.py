"""Privilege escalation: which principals hold the permissions of a known escalation method.

**The method table** (:data:`METHODS`) is data: one frozen :class:`Method` per known technique,
with its permissions (all required; a :class:`Permission` may name alternative actions that do the
same job), the resource each permission is probed on, and the research that described it. It holds
the 21 methods of Rhino Security Labs' 2018 research (the DynamoDB-triggered Lambda split in two,
new table or existing table, as Rhino's Pacu scanner does), the SageMaker methods of Rhino's part 2,
the paths Bishop Fox's IAM Vulnerable added (CodeBuild, SageMaker jobs, SSM, EC2 Instance Connect,
CloudFormation UpdateStack), and a few documented since (ECS tasks, Glue jobs, a cross-account
invocation of a new Lambda). ``iam:CreateServiceLinkedRole`` is not one: a service-linked role's
trust and policies belong to its service, and nobody can pass or assume it.

**The analysis** is per principal: a user (its own policies and those of its groups) or a role
(service-linked roles aside: AWS owns them). For each method whose actions some Allow statement of
the principal's policies names at all (a cheap filter, computed once per policy document), every
permission is asked of the offline evaluator (:mod:`iamflow.policy.evaluate`) with the principal's
identity policies and its permissions boundary, on the probe resources below. Everything comes from
the snapshot (``GetAccountAuthorizationDetails``): no AWS call.

**Probe resources**, by :class:`Permission` ``target``:

- ``self``: the principal's own ARN (``AttachUserPolicy``, ``PutUserPolicy``).
- ``own-group``: the user's groups (``AttachGroupPolicy``, ``PutGroupPolicy``); ``other-group``:
  the account's groups the user is not in (``AddUserToGroup``).
- ``attached-policy``: the customer-managed policies attached to the principal or its groups
  (``CreatePolicyVersion``, ``SetDefaultPolicyVersion``): rewriting a policy one does not hold grants
  oneself nothing; AWS-managed policies cannot be versioned.
- ``other-user``: the account's other users (``CreateAccessKey``, login profiles).
- ``role``: the account's other roles (``UpdateAssumeRolePolicy``; the ``sts:AssumeRole`` that
  follows is asked against a trust rewritten to name the principal, so within the account only an
  explicit deny or the boundary can stop it, as AWS decides a direct trust).
- ``assumable-role``: the role itself, or for a user the roles whose *current* trust policy lets it
  assume them (``AttachRolePolicy``, ``PutRolePolicy`` + ``sts:AssumeRole``, decided as AWS does,
  trust policy and identity policies together).
- ``passable-role``: the account's roles whose trust policy lets the method's service assume them
  (``lambda.amazonaws.com`` ...), other than the principal: ``iam:PassRole`` is asked on each with
  ``iam:PassedToService`` set, so a PassRole limited to one role is reported only when that role can
  be passed and its service can use it. The snapshot has no Lambda, Glue, EC2 ... inventory, so a
  method acting on an *existing* resource with a role (``UpdateFunctionCode``, ``ssm:SendCommand``)
  is reported only when some role of the account trusts that service.
- an ARN template (``arn:{partition}:lambda:{region}:{account}:function:{name}``): a resource the
  principal creates (or one the snapshot cannot list), probed with a representative name and with
  every ``Resource`` pattern of the principal's own Allow statements instantiated (``function:dev-*``
  becomes ``function:dev-iamflowprobe``): the principal chooses the name, so any name its policies
  allow will do. Permissions sharing a template must hold for the same name (create a function, then
  invoke *that* function). ``*`` is for actions without resource types.

When a policy's ``Resource`` names specific ARNs, only the snapshot resources those patterns match
are probed; the rest cannot be allowed.

**Conditions.** Keys about *who* asks are decided exactly: the principal's ARN, account, type, user
name, tags (``aws:PrincipalTag/*``), and, on a user or role of the snapshot, its tags
(``aws:ResourceTag/*``, ``iam:ResourceTag/*``); ``iam:PassedToService`` is the method's service and
``iam:PolicyARN`` (for the Attach methods) AdministratorAccess. Keys about *how* a request is made
(``aws:SourceIp``, ``aws:MultiFactorAuthPresent``, request tags, time ...) are the principal's to
choose: when a request without them is not allowed, the evaluation is repeated with every Allow
condition on such keys assumed to hold and every Deny that depends on one assumed avoided. A method
allowed only that way is still reported, with the keys it depends on. SCPs and resource control
policies are not in the snapshot and are not applied.

**Performance.** Per policy document (by identity): which table actions its Allow statements name and
on which resource patterns, and its relaxed variant; per account: the roles each service may assume
and the trust index. A principal that names none of a method's actions costs no evaluation.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from iamflow.compliance.snapshot import AuthorizationDetails, ManagedPolicy, Principal
from iamflow.policy import evaluate as ev
from iamflow.policy.arn import arn_matches, split_parts
from iamflow.policy.catalog import wildcard_regex

# --- sources -------------------------------------------------------------------------------------------

RHINO_2018 = ("Rhino Security Labs, \"AWS IAM Privilege Escalation - Methods and Mitigation\" "
              "(Spencer Gietzen, 2018)")
RHINO_PART_2 = "Rhino Security Labs, \"AWS IAM Privilege Escalation - Methods and Mitigation - Part 2\""
PACU = "Rhino Security Labs, Pacu module iam__privesc_scan"
BISHOP_FOX = "Bishop Fox, IAM Vulnerable (iam-vulnerable, 2021)"
HACKTRICKS = "HackTricks Cloud, AWS privilege escalation pages"

# --- probe targets -------------------------------------------------------------------------------------

SELF = "self"
OWN_GROUP = "own-group"
OTHER_GROUP = "other-group"
ATTACHED_POLICY = "attached-policy"
OTHER_USER = "other-user"
ROLE = "role"
ASSUMABLE_ROLE = "assumable-role"
PASSABLE_ROLE = "passable-role"
ANY = "*"
SNAPSHOT_TARGETS = frozenset({SELF, OWN_GROUP, OTHER_GROUP, ATTACHED_POLICY, OTHER_USER, ROLE, ASSUMABLE_ROLE,
                              PASSABLE_ROLE})

# trust modes of an sts:AssumeRole permission
CURRENT_TRUST = "current"  # the role's trust policy as the snapshot has it
REWRITTEN_TRUST = "rewritten"  # a trust naming the principal, as UpdateAssumeRolePolicy could write it

PROBE_NAME = "iamflow-escalation-probe"
_PROBE_TOKEN = "iamflowprobe"
ADMIN_POLICY = "arn:{partition}:iam::aws:policy/AdministratorAccess"


@dataclass(frozen=True)
class Permission:
    """One permission a method needs: an action (or an alternative), asked on the probe ``target``."""

    action: str
    target: str = ANY
    alternatives: tuple[str, ...] = ()
    context: tuple[tuple[str, str], ...] = ()  # request keys the probe carries; values are templates
    trust: str | None = None  # for sts:AssumeRole: CURRENT_TRUST or REWRITTEN_TRUST
    unless_self: bool = False  # not needed when the target is the principal itself

    @property
    def actions(self) -> tuple[str, ...]:
        return (self.action, *self.alternatives)


@dataclass(frozen=True)
class Method:
    """A known privilege-escalation method."""

    id: str
    name: str
    permissions: tuple[Permission, ...]
    source: str
    description: str
    principals: frozenset[str] = frozenset({"user", "role"})
    service: str | None = None  # the service principal whose roles the method puts to work

    @property
    def actions(self) -> tuple[str, ...]:
        """Every action the method names, alternatives included, in table order."""
        return tuple(dict.fromkeys(a for p in self.permissions for a in p.actions))

    @property
    def passes_role(self) -> bool:
        """Whether the method passes an existing role to its service (else it may use one already there)."""
        return any(p.target == PASSABLE_ROLE for p in self.permissions)


def _arn(service: str, resource: str) -> str:
    return f"arn:{{partition}}:{service}:{{region}}:{{account}}:{resource}"


FUNCTION = _arn("lambda", "function:{name}")
TABLE = _arn("dynamodb", "table/{name}")
DEV_ENDPOINT = _arn("glue", "devEndpoint/{name}")
GLUE_JOB = _arn("glue", "job/{name}")
STACK = _arn("cloudformation", "stack/{name}/00000000-0000-0000-0000-000000000000")  # stack/<name>/<id>
PIPELINE = _arn("datapipeline", "pipeline/{name}")
NOTEBOOK = _arn("sagemaker", "notebook-instance/{name}")
TRAINING_JOB = _arn("sagemaker", "training-job/{name}")
PROCESSING_JOB = _arn("sagemaker", "processing-job/{name}")
BUILD_PROJECT = _arn("codebuild", "project/{name}")
TASK_DEFINITION = _arn("ecs", "task-definition/{name}:1")
INSTANCE = _arn("ec2", "instance/{name}")
NEW_INSTANCE = _arn("ec2", "instance/*")  # RunInstances is authorized on instance/* (the id is not known yet)
SHELL_DOCUMENT = "arn:{partition}:ssm:{region}::document/AWS-RunShellScript"

_ATTACH = (("iam:PolicyARN", ADMIN_POLICY),)
_USERS = frozenset({"user"})
_LAMBDA, _EC2, _GLUE = "lambda.amazonaws.com", "ec2.amazonaws.com", "glue.amazonaws.com"
_SAGEMAKER, _CFN = "sagemaker.amazonaws.com", "cloudformation.amazonaws.com"


def _pass() -> Permission:
    return Permission("iam:PassRole", PASSABLE_ROLE)


def _assume(target: str, trust: str, *, unless_self: bool = False) -> Permission:
    return Permission("sts:AssumeRole", target, trust=trust, unless_self=unless_self)


METHODS: tuple[Method, ...] = (
    # --- Rhino Security Labs, 2018 ---
    Method("create-policy-version", "CreateNewPolicyVersion",
           (Permission("iam:CreatePolicyVersion", ATTACHED_POLICY),), RHINO_2018,
           "Write a new default version of a customer-managed policy the principal holds, granting anything."),
    Method("set-default-policy-version", "SetExistingDefaultPolicyVersion",
           (Permission("iam:SetDefaultPolicyVersion", ATTACHED_POLICY),), RHINO_2018,
           "Make an older, broader version of a policy the principal holds the default one."),
    Method("passrole-ec2", "CreateEC2WithExistingIP",
           (_pass(), Permission("ec2:RunInstances", NEW_INSTANCE)), RHINO_2018,
           "Launch an instance with an existing instance profile's role and read its credentials from the "
           "instance metadata.", service=_EC2),
    Method("create-access-key", "CreateAccessKey",
           (Permission("iam:CreateAccessKey", OTHER_USER),), RHINO_2018,
           "Create an access key for another user and act as that user."),
    Method("create-login-profile", "CreateLoginProfile",
           (Permission("iam:CreateLoginProfile", OTHER_USER),), RHINO_2018,
           "Give another user a console password and sign in as that user."),
    Method("update-login-profile", "UpdateLoginProfile",
           (Permission("iam:UpdateLoginProfile", OTHER_USER),), RHINO_2018,
           "Change another user's console password and sign in as that user."),
    Method("attach-user-policy", "AttachUserPolicy",
           (Permission("iam:AttachUserPolicy", SELF, context=_ATTACH),), RHINO_2018,
           "Attach a managed policy such as AdministratorAccess to oneself.", principals=_USERS),
    Method("attach-group-policy", "AttachGroupPolicy",
           (Permission("iam:AttachGroupPolicy", OWN_GROUP, context=_ATTACH),), RHINO_2018,
           "Attach a managed policy such as AdministratorAccess to a group one belongs to.", principals=_USERS),
    Method("attach-role-policy", "AttachRolePolicy",
           (Permission("iam:AttachRolePolicy", ASSUMABLE_ROLE, context=_ATTACH),
            _assume(ASSUMABLE_ROLE, CURRENT_TRUST, unless_self=True)), RHINO_2018,
           "Attach a managed policy such as AdministratorAccess to one's own role or to a role one can assume."),
    Method("put-user-policy", "PutUserPolicy",
           (Permission("iam:PutUserPolicy", SELF),), RHINO_2018,
           "Write an inline policy granting anything into one's own user.", principals=_USERS),
    Method("put-group-policy", "PutGroupPolicy",
           (Permission("iam:PutGroupPolicy", OWN_GROUP),), RHINO_2018,
           "Write an inline policy granting anything into a group one belongs to.", principals=_USERS),
    Method("put-role-policy", "PutRolePolicy",
           (Permission("iam:PutRolePolicy", ASSUMABLE_ROLE), _assume(ASSUMABLE_ROLE, CURRENT_TRUST, unless_self=True)),
           RHINO_2018, "Write an inline policy granting anything into one's own role or a role one can assume."),
    Method("add-user-to-group", "AddUserToGroup",
           (Permission("iam:AddUserToGroup", OTHER_GROUP),), RHINO_2018,
           "Join a group that holds more permissions.", principals=_USERS),
    Method("update-assume-role-policy", "UpdateRolePolicyToAssumeIt",
           (Permission("iam:UpdateAssumeRolePolicy", ROLE), _assume(ROLE, REWRITTEN_TRUST)), RHINO_2018,
           "Rewrite another role's trust policy to name oneself, then assume the role."),
    Method("passrole-lambda-invoke", "PassExistingRoleToNewLambdaThenInvoke",
           (_pass(), Permission("lambda:CreateFunction", FUNCTION), Permission("lambda:InvokeFunction", FUNCTION)),
           RHINO_2018, "Create a Lambda function running as an existing role, then invoke it.", service=_LAMBDA),
    Method("passrole-lambda-new-dynamodb", "PassExistingRoleToNewLambdaThenTriggerWithNewDynamo",
           (_pass(), Permission("lambda:CreateFunction", FUNCTION), Permission("lambda:CreateEventSourceMapping"),
            Permission("dynamodb:CreateTable", TABLE), Permission("dynamodb:PutItem", TABLE)),
           RHINO_2018, "Create a Lambda function running as an existing role, and trigger it from the stream of a "
           "new DynamoDB table by writing an item.", service=_LAMBDA),
    Method("passrole-lambda-existing-dynamodb", "PassExistingRoleToNewLambdaThenTriggerWithExistingDynamo",
           (_pass(), Permission("lambda:CreateFunction", FUNCTION), Permission("lambda:CreateEventSourceMapping")),
           RHINO_2018, "Create a Lambda function running as an existing role, and map an existing DynamoDB stream "
           "to it so that the table's writes invoke it.", service=_LAMBDA),
    Method("passrole-glue-dev-endpoint", "PassExistingRoleToNewGlueDevEndpoint",
           (_pass(), Permission("glue:CreateDevEndpoint"), Permission("glue:GetDevEndpoint", DEV_ENDPOINT)),
           RHINO_2018, "Create a Glue development endpoint running as an existing role and reach it over SSH.",
           service=_GLUE),
    Method("update-glue-dev-endpoint", "UpdateExistingGlueDevEndpoint",
           (Permission("glue:UpdateDevEndpoint", DEV_ENDPOINT),), RHINO_2018,
           "Add one's SSH key to an existing Glue development endpoint and use the role it runs as.",
           service=_GLUE),
    Method("passrole-cloudformation", "PassExistingRoleToCloudFormation",
           (_pass(), Permission("cloudformation:CreateStack", STACK)), RHINO_2018,
           "Create a stack whose service role is an existing role, so that its resources are made with that "
           "role's permissions.", service=_CFN),
    Method("passrole-datapipeline", "PassExistingRoleToNewDataPipeline",
           (_pass(), Permission("datapipeline:CreatePipeline"),
            Permission("datapipeline:PutPipelineDefinition", PIPELINE)), RHINO_2018,
           "Create a Data Pipeline running commands as an existing role.", service="datapipeline.amazonaws.com"),
    Method("update-lambda-code", "EditExistingLambdaFunctionWithRole",
           (Permission("lambda:UpdateFunctionCode", FUNCTION),), RHINO_2018,
           "Replace the code of an existing Lambda function and act with its execution role.", service=_LAMBDA),
    # --- Rhino Security Labs, part 2 ---
    Method("passrole-sagemaker-notebook", "PassExistingRoleToNewSageMakerNotebook",
           (_pass(), Permission("sagemaker:CreateNotebookInstance", NOTEBOOK),
            Permission("sagemaker:CreatePresignedNotebookInstanceUrl", NOTEBOOK)), RHINO_PART_2,
           "Create a SageMaker notebook instance running as an existing role and open it in the browser.",
           service=_SAGEMAKER),
    Method("sagemaker-notebook-url", "OpenExistingSageMakerNotebook",
           (Permission("sagemaker:CreatePresignedNotebookInstanceUrl", NOTEBOOK),), RHINO_PART_2,
           "Open an existing SageMaker notebook instance and act with its role.", service=_SAGEMAKER),
    # --- Bishop Fox, IAM Vulnerable ---
    Method("passrole-codebuild", "PassExistingRoleToNewCodeBuildProject",
           (_pass(), Permission("codebuild:CreateProject", BUILD_PROJECT),
            Permission("codebuild:StartBuild", BUILD_PROJECT, alternatives=("codebuild:StartBuildBatch",))),
           BISHOP_FOX, "Create a CodeBuild project whose service role is an existing role and run a build.",
           service="codebuild.amazonaws.com"),
    Method("passrole-sagemaker-training-job", "PassExistingRoleToNewSageMakerTrainingJob",
           (_pass(), Permission("sagemaker:CreateTrainingJob", TRAINING_JOB)), BISHOP_FOX,
           "Run a SageMaker training job, with a container of one's choice, as an existing role.",
           service=_SAGEMAKER),
    Method("passrole-sagemaker-processing-job", "PassExistingRoleToNewSageMakerProcessingJob",
           (_pass(), Permission("sagemaker:CreateProcessingJob", PROCESSING_JOB)), BISHOP_FOX,
           "Run a SageMaker processing job, with a container of one's choice, as an existing role.",
           service=_SAGEMAKER),
    Method("ssm-send-command", "SendCommandToInstanceWithRole",
           (Permission("ssm:SendCommand", INSTANCE), Permission("ssm:SendCommand", SHELL_DOCUMENT)), BISHOP_FOX,
           "Run shell commands on an instance through Systems Manager and use its instance profile's role.",
           service=_EC2),
    Method("ssm-start-session", "StartSessionOnInstanceWithRole",
           (Permission("ssm:StartSession", INSTANCE),), BISHOP_FOX,
           "Open a Session Manager shell on an instance and use its instance profile's role.", service=_EC2),
    Method("ec2-instance-connect", "SendSSHPublicKeyToInstanceWithRole",
           (Permission("ec2-instance-connect:SendSSHPublicKey", INSTANCE),), BISHOP_FOX,
           "Push an SSH key to an instance with EC2 Instance Connect, log in and use its role.", service=_EC2),
    Method("cloudformation-update-stack", "UpdateExistingStackWithRole",
           (Permission("cloudformation:UpdateStack", STACK),), BISHOP_FOX,
           "Update an existing stack that has a service role so that it creates resources with that role.",
           service=_CFN),
    # --- documented since ---
    Method("passrole-ecs-task", "PassExistingRoleToNewEcsTask",
           (_pass(), Permission("ecs:RegisterTaskDefinition", TASK_DEFINITION),
            Permission("ecs:RunTask", TASK_DEFINITION, alternatives=("ecs:StartTask",))), HACKTRICKS,
           "Register a task definition whose task role is an existing role and run it.",
           service="ecs-tasks.amazonaws.com"),
    Method("passrole-glue-job", "PassExistingRoleToNewGlueJob",
           (_pass(), Permission("glue:CreateJob", GLUE_JOB), Permission("glue:StartJobRun", GLUE_JOB)), HACKTRICKS,
           "Create a Glue job running a script of one's choice as an existing role and start it.", service=_GLUE),
    Method("passrole-lambda-cross-account", "PassExistingRoleToNewLambdaThenInvokeCrossAccount",
           (_pass(), Permission("lambda:CreateFunction", FUNCTION), Permission("lambda:AddPermission", FUNCTION)),
           PACU, "Create a Lambda function running as an existing role and let another account invoke it.",
           service=_LAMBDA),
)

# --- results -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MethodHit:
    """A method the principal's policies allow, with what makes it work."""

    method: Method
    permissions: tuple[str, ...]  # the actions allowed (alternatives as used), in table order
    targets: tuple[str, ...] = ()  # snapshot resources the method acts on (roles passed, users, policies ...)
    conditions: tuple[str, ...] = ()  # request keys the method depends on; empty when allowed outright
    policies: tuple[str, ...] = ()  # the policies whose statements allow it
    service_roles: tuple[str, ...] = ()  # for a method on an existing resource: roles the service may use

    def to_json(self) -> dict[str, Any]:
        return {"id": self.method.id, "name": self.method.name, "permissions": list(self.permissions),
                "targets": list(self.targets), "conditions": list(self.conditions),
                "policies": list(self.policies), "service_roles": list(self.service_roles),
                "source": self.method.source}


@dataclass(frozen=True)
class PrincipalAnalysis:
    """The methods one principal can use, and what the analysis could not see."""

    principal: Principal
    methods: tuple[MethodHit, ...]
    notes: tuple[str, ...] = ()
    evaluations: int = 0


# --- per-document facts --------------------------------------------------------------------------------

# condition keys the evaluator derives from the principal (decided exactly, never assumed to hold)
_PRINCIPAL_KEYS = frozenset({"aws:principalarn", "aws:principalaccount", "aws:principaltype", "aws:username",
                             "aws:userid", "aws:principalisawsservice", "aws:principalservicename",
                             "aws:resourceaccount"})
_PRINCIPAL_PREFIXES = ("aws:principaltag/",)
_RESOURCE_TAG_PREFIXES = ("aws:resourcetag/", "iam:resourcetag/")
_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_WILDCARD = re.compile(r"[*?]|\$\{")


def _items(value: object) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [i.strip() for i in items if isinstance(i, str)]


def _statements(document: object) -> list[tuple[str, object]]:
    """``(label, statement)`` pairs, labelled as the evaluator's trace labels them."""
    if not isinstance(document, dict):
        return []
    raw = document.get("Statement")
    pairs = [("Statement", raw)] if isinstance(raw, dict) else \
        [(f"Statement[{i}]", s) for i, s in enumerate(raw)] if isinstance(raw, list) else []
    out = []
    for label, statement in pairs:
        sid = statement.get("Sid") if isinstance(statement, dict) else None
        out.append((sid.strip() if isinstance(sid, str) and sid.strip() else label, statement))
    return out


@dataclass(frozen=True)
class _DocInfo:
    """What the method filter needs of one document: the table actions its Allow statements name, and where."""

    patterns: Mapping[str, tuple[str, ...]]  # lower-case action -> Resource patterns ("*" for NotResource)
    conditional: bool  # some statement has a Condition


def _doc_info(document: object, universe: frozenset[str]) -> _DocInfo:
    patterns: dict[str, list[str]] = {}
    conditional = False
    for _label, statement in _statements(document):
        if not isinstance(statement, dict):
            continue
        conditional = conditional or bool(statement.get("Condition"))
        if statement.get("Effect") != "Allow":
            continue
        not_action = "NotAction" in statement
        written = _items(statement.get("NotAction") if not_action else statement.get("Action"))
        if "NotResource" in statement:
            resources = ["*"]
        elif "Resource" in statement:
            resources = _items(statement["Resource"])
        else:
            continue
        regexes = [wildcard_regex(a) for a in written]
        for action in universe:
            if any(rx.fullmatch(action) for rx in regexes) != not_action:
                patterns.setdefault(action, []).extend(resources)
    return _DocInfo({k: tuple(dict.fromkeys(v)) for k, v in patterns.items()}, conditional)


@dataclass(frozen=True)
class Relaxed:
    """A document with the conditions the principal controls assumed met (Allow) or avoided (Deny)."""

    document: dict[str, Any]
    removed: Mapping[str, tuple[str, ...]]  # statement label -> the request keys relaxed away

    @property
    def changed(self) -> bool:
        return bool(self.removed)


def _is_exact(key: str, exact: frozenset[str], resource_tags: bool, principal: bool) -> bool:
    lowered = key.lower()
    if lowered in exact or (resource_tags and lowered.startswith(_RESOURCE_TAG_PREFIXES)):
        return True
    return principal and (lowered in _PRINCIPAL_KEYS or lowered.startswith(_PRINCIPAL_PREFIXES))


def relax(document: object, exact: frozenset[str], *, resource_tags: bool, principal: bool = True) -> Relaxed:
    """``document`` with every condition on a key not decided exactly assumed met (Allow) or avoided (Deny).

    Exact keys: ``exact`` (lower-case), the resource's tags when ``resource_tags``, and the keys the
    evaluator derives from the principal when ``principal``. A Deny statement with a condition on any
    other key is dropped (the principal can make its request so that it does not apply); such
    conditions are removed from an Allow statement. ``removed`` names the keys, per statement label.
    """
    if not isinstance(document, dict):
        return Relaxed({}, {})
    statements: list[object] = []
    removed: dict[str, tuple[str, ...]] = {}
    for label, statement in _statements(document):
        if not isinstance(statement, dict) or not isinstance(statement.get("Condition"), dict):
            statements.append(statement if not isinstance(statement, dict) else {**statement, "Sid": label})
            continue
        kept: dict[str, Any] = {}
        keys: list[str] = []
        for operator, block in statement["Condition"].items():
            if not isinstance(block, dict):
                kept[operator] = block
                continue
            exact_part = {k: v for k, v in block.items() if _is_exact(str(k), exact, resource_tags, principal)}
            keys.extend(str(k) for k in block if str(k) not in exact_part)
            if exact_part:
                kept[operator] = exact_part
        if not keys:
            statements.append({**statement, "Sid": label})
            continue
        removed[label] = tuple(dict.fromkeys(keys))
        if statement.get("Effect") == "Deny":
            continue  # the principal makes its request so that this Deny does not apply
        relaxed = {k: v for k, v in statement.items() if k != "Condition"}
        if kept:
            relaxed["Condition"] = kept
        statements.append({**relaxed, "Sid": label})
    if not removed:
        return Relaxed(document, {})
    return Relaxed({**document, "Statement": statements}, removed)


# --- the analysis --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    arn: str
    principal: Principal | None = None  # the user, group or role the ARN is, when the snapshot has it
    is_self: bool = False


@dataclass(frozen=True)
class _Grant:
    action: str
    keys: tuple[str, ...]  # empty: allowed outright
    policies: tuple[str, ...]


@dataclass
class _Subject:
    """One principal, prepared: its policies for the evaluator, its documents' facts, its memo."""

    principal: Principal
    who: ev.Principal
    identity: tuple[ev.Policy, ...]
    boundary: ev.Policy | None
    infos: tuple[_DocInfo, ...]
    groups: tuple[Principal, ...]
    covered: frozenset[str]
    conditional: bool  # some identity policy or the boundary has a Condition
    notes: list[str] = field(default_factory=list)
    memo: dict[tuple[Any, ...], _Grant | None] = field(default_factory=dict)
    relaxed: dict[tuple[Any, ...], tuple[tuple[ev.Policy, ...], ev.Policy | None, dict[tuple[str, str], tuple[str, ...]]]] \
        = field(default_factory=dict)
    patterns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    evaluations: int = 0

    def action_patterns(self, actions: Iterable[str]) -> tuple[str, ...]:
        """The Resource patterns of the principal's Allow statements naming any of ``actions``."""
        out: list[str] = []
        for action in actions:
            lowered = action.lower()
            if lowered not in self.patterns:
                raw = [p for info in self.infos for p in info.patterns.get(lowered, ())]
                self.patterns[lowered] = tuple(dict.fromkeys(self.substitute(p) for p in raw))
            out.extend(self.patterns[lowered])
        return tuple(dict.fromkeys(out))

    def substitute(self, pattern: str) -> str:
        """Fill in the policy variables the principal determines (its name, its tags); leave the others."""
        if "${" not in pattern:
            return pattern
        tags = {k.lower(): v for k, v in self.principal.tags.items()}

        def value(match: re.Match[str]) -> str:
            name = match.group(1).split(",")[0].strip().lower()
            if name == "aws:username" and self.principal.kind == "user":
                return self.principal.name
            if name.startswith("aws:principaltag/") and name.split("/", 1)[1] in tags:
                return tags[name.split("/", 1)[1]]
            return match.group(0)

        return _VARIABLE.sub(value, pattern)


TARGETS_SHOWN = 5  # satisfying targets kept per method
PROBE_LIMIT = 2000  # candidates probed per target at most, for one principal and method


class EscalationAnalyzer:
    """The escalation analysis of one account's authorization details; reuse it across principals."""

    def __init__(self, auth: AuthorizationDetails, *, account: str, partition: str = "aws",
                 region: str = "us-east-1", methods: tuple[Method, ...] = METHODS) -> None:
        self.auth = auth
        self.account, self.partition, self.region = account, partition, region
        self.methods = methods
        self._actions = frozenset(a.lower() for m in methods for a in m.actions)  # what the filter looks for
        self.evaluations = 0
        self.users = auth.users
        self.groups = auth.groups
        self.roles = tuple(r for r in auth.roles if not r.is_service_linked)
        self._group_by_name = {g.name: g for g in auth.groups}
        self._universe: dict[str, tuple[Principal, ...]] = {"user": self.users, "group": self.groups,
                                                            "role": self.roles}
        self._universe_arns = {k: frozenset(p.arn for p in v) for k, v in self._universe.items()}
        self._doc_infos: dict[int, tuple[object, _DocInfo]] = {}
        self._relaxed: dict[tuple[Any, ...], tuple[object, Relaxed]] = {}
        self._matches: dict[tuple[str, str], frozenset[str] | None] = {}
        self._service_roles: dict[str, tuple[Principal, ...]] = {}
        self._service_arns: dict[str, frozenset[str]] = {}
        self._named: dict[tuple[str, frozenset[str]], tuple[Method, ...]] = {}
        self._instances: dict[tuple[str, tuple[str, ...]], tuple[str, ...]] = {}
        self._index = {k: {p.arn: i for i, p in enumerate(v)} for k, v in self._universe.items()}
        self._trust_index: tuple[tuple[Principal, ...], dict[str, tuple[Principal, ...]]] | None = None

    def fill(self, template: str, name: str = PROBE_NAME) -> str:
        return template.format(partition=self.partition, account=self.account, region=self.region, name=name)

    # --- principals

    def principals(self) -> list[Principal]:
        """The principals analysed: every user, then every role that is not service-linked."""
        return [*self.users, *self.roles]

    def analyze_all(self) -> list[PrincipalAnalysis]:
        return [self.analyze(p) for p in self.principals()]

    def analyze(self, principal: Principal) -> PrincipalAnalysis:
        """The methods ``principal`` can use."""
        subject = self._subject(principal)
        hits: list[MethodHit] = []
        for method in self._named_methods(principal.kind, subject.covered):
            if self._may_allow(subject, method):
                hit = self._method(subject, method)
                if hit is not None:
                    hits.append(hit)
        self.evaluations += subject.evaluations
        return PrincipalAnalysis(principal, tuple(hits), tuple(dict.fromkeys(subject.notes)), subject.evaluations)

    def _subject(self, principal: Principal) -> _Subject:
        groups = tuple(self._group_by_name[g] for g in principal.groups if g in self._group_by_name)
        notes = [f"group {g} is not in the snapshot" for g in principal.groups if g not in self._group_by_name]
        identity: list[ev.Policy] = []
        seen: set[str] = set()
        for holder in (principal, *groups):
            for name, document in holder.inline_policies.items():
                identity.append(ev.Policy(f"inline {holder.kind}/{holder.name}/{name}", document))
            for _name, arn in holder.attached_policies:
                if arn in seen:
                    continue
                seen.add(arn)
                managed = self._managed_document(arn, notes, "attached policy")
                if managed is not None:
                    identity.append(ev.Policy(arn, managed))
        boundary = None
        if principal.permissions_boundary_arn:
            limit = self._managed_document(principal.permissions_boundary_arn, notes, "permissions boundary")
            if limit is not None:
                boundary = ev.Policy(principal.permissions_boundary_arn, limit)
        infos = tuple(self._info(p.document) for p in identity)
        covered = frozenset(a for info in infos for a in info.patterns)
        conditional = any(i.conditional for i in infos) \
            or (boundary is not None and self._info(boundary.document).conditional)
        who = ev.Principal(principal.arn, tags=dict(principal.tags))
        return _Subject(principal, who, tuple(identity), boundary, infos, groups, covered, conditional, notes)

    def _managed_document(self, arn: str, notes: list[str], what: str) -> dict[str, Any] | None:
        policy: ManagedPolicy | None = self.auth.policies.get(arn)
        if policy is None or policy.document is None:
            notes.append(f"{what} {arn} has no document in the snapshot; it was left out")
            return None
        return policy.document

    def _info(self, document: dict[str, Any]) -> _DocInfo:
        hit = self._doc_infos.get(id(document))
        if hit is not None and hit[0] is document:
            return hit[1]
        info = _doc_info(document, self._actions)
        self._doc_infos[id(document)] = (document, info)
        return info

    def _named_methods(self, kind: str, covered: frozenset[str]) -> tuple[Method, ...]:
        """The methods for ``kind`` whose every permission some Allow statement names (trusts aside)."""
        key = (kind, covered)
        if key not in self._named:
            self._named[key] = tuple(
                m for m in self.methods if kind in m.principals and all(
                    perm.trust is not None or any(a.lower() in covered for a in perm.actions)
                    for perm in m.permissions))
        return self._named[key]

    def _may_allow(self, subject: _Subject, method: Method) -> bool:
        """False for a method on an existing resource when no role (but the principal) trusts its service."""
        if method.service and not method.passes_role:
            return any(r.arn != subject.principal.arn for r in self._service_pool(method.service)[:2])
        return True

    # --- one method

    def _method(self, subject: _Subject, method: Method) -> MethodHit | None:
        groups: dict[str, list[Permission]] = {}
        for perm in method.permissions:
            groups.setdefault(perm.target, []).append(perm)
        actions: dict[str, str] = {}
        targets: list[str] = []
        keys: list[str] = []
        policies: list[str] = []
        for target, perms in groups.items():
            found = self._group(subject, method, target, perms)
            if found is None:
                return None
            chosen, grants, shown = found
            for grant in grants:
                actions.setdefault(grant.action.lower(), grant.action)
                keys.extend(grant.keys)
                policies.extend(grant.policies)
            if target in SNAPSHOT_TARGETS:
                targets.extend(shown)
        service_roles: tuple[str, ...] = ()
        if method.service and not method.passes_role:
            others = (r.arn for r in self._service_pool(method.service) if r.arn != subject.principal.arn)
            service_roles = tuple(itertools.islice(others, TARGETS_SHOWN))
        ordered = tuple(actions[a.lower()] for a in method.actions if a.lower() in actions)
        return MethodHit(method, ordered, tuple(dict.fromkeys(targets)), tuple(sorted(set(keys), key=str.lower)),
                         tuple(dict.fromkeys(policies)), service_roles)

    def _group(self, subject: _Subject, method: Method, target: str,
               perms: list[Permission]) -> tuple[_Target, list[_Grant], list[str]] | None:
        """The first probe resource every permission of the group holds for (outright if any), and others."""
        found: list[tuple[_Target, list[_Grant]]] = []
        for probed, candidate in enumerate(self._candidates(subject, method, target, perms)):
            if probed >= PROBE_LIMIT:
                subject.notes.append(f"{method.name}: only the first {PROBE_LIMIT} {target} resources were probed")
                break
            grants = self._grants(subject, method, perms, candidate)
            if grants is None:
                continue
            found.append((candidate, grants))
            if all(not g.keys for g in grants) or len(found) >= TARGETS_SHOWN:
                break
        if not found:
            return None
        best = next((f for f in found if all(not g.keys for g in f[1])), found[0])
        shown = [best[0].arn] + [f[0].arn for f in found if f is not best]
        return best[0], best[1], shown

    def _grants(self, subject: _Subject, method: Method, perms: list[Permission],
                candidate: _Target) -> list[_Grant] | None:
        grants: list[_Grant] = []
        for perm in perms:
            if perm.unless_self and candidate.is_self:
                continue
            best: _Grant | None = None
            for action in perm.actions:
                grant = self._decide(subject, method, perm, action, candidate)
                if grant is not None and (best is None or (best.keys and not grant.keys)):
                    best = grant
                if best is not None and not best.keys:
                    break
            if best is None:
                return None
            grants.append(best)
        return grants

    # --- one request

    def _decide(self, subject: _Subject, method: Method, perm: Permission, action: str,
                candidate: _Target) -> _Grant | None:
        context: dict[str, tuple[str, ...]] = {k: (self.fill(v),) for k, v in perm.context}
        if action.lower() == "iam:passrole" and method.service:
            context["iam:PassedToService"] = (method.service,)
        holder = candidate.principal
        resource_tags = holder is not None and holder.kind in ("user", "role")
        if holder is not None and resource_tags:
            for key, value in holder.tags.items():
                context[f"aws:ResourceTag/{key}"] = (value,)
                context[f"iam:ResourceTag/{key}"] = (value,)
        memo_key = (action.lower(), candidate.arn, perm.trust, tuple(sorted(context.items())))
        if memo_key in subject.memo:
            return subject.memo[memo_key]
        trust = self._trust(subject, perm, candidate)
        if perm.trust is not None and trust is None:
            subject.memo[memo_key] = None
            return None
        request = ev.Request(subject.who, action, candidate.arn, context)
        kind: ev.ResourceKind = "role-trust" if trust is not None else "generic"
        policies = ev.PolicySet(identity=subject.identity, boundary=subject.boundary, resource=trust,
                                resource_kind=kind)
        result = self._evaluate(subject, request, policies)
        grant: _Grant | None = None
        if result.allowed:
            grant = _Grant(action, (), _granting(result))
        elif subject.conditional or (trust is not None and self._info(trust.document).conditional):
            exact = frozenset(k.lower() for k in context)
            identity, boundary, removed = self._relaxed_set(subject, exact, resource_tags)
            relaxed_trust = self._relaxed_policy(trust, exact, resource_tags, removed) if trust is not None else None
            relaxed = ev.PolicySet(identity=identity, boundary=boundary, resource=relaxed_trust, resource_kind=kind)
            if removed:
                second = self._evaluate(subject, request, relaxed)
                if second.allowed:
                    keys = [k for t in second.deciding for k in removed.get((t.policy, t.statement), ())]
                    if result.decision == "explicit_deny":
                        keys += [k for t in result.deciding for k in removed.get((t.policy, t.statement), ())]
                    grant = _Grant(action, tuple(dict.fromkeys(keys)), _granting(second))
        subject.memo[memo_key] = grant
        return grant

    def _evaluate(self, subject: _Subject, request: ev.Request, policies: ev.PolicySet) -> ev.Evaluation:
        subject.evaluations += 1
        return ev.evaluate(request, policies)

    def _trust(self, subject: _Subject, perm: Permission, candidate: _Target) -> ev.Policy | None:
        if perm.trust == REWRITTEN_TRUST:
            return ev.Policy("rewritten trust policy", self._rewritten_trust(subject))
        if perm.trust == CURRENT_TRUST:
            role = candidate.principal
            if role is None or role.trust_policy is None:
                return None
            return ev.Policy(f"trust policy of {role.name}", role.trust_policy)
        return None

    def _rewritten_trust(self, subject: _Subject) -> dict[str, Any]:
        key = ("rewritten-trust",)
        cached = subject.relaxed.get(key)
        if cached is None:
            document = {"Version": "2012-10-17", "Statement": [
                {"Sid": "RewrittenTrust", "Effect": "Allow", "Principal": {"AWS": subject.principal.arn},
                 "Action": "sts:AssumeRole"}]}
            cached = ((ev.Policy("rewritten trust policy", document),), None, {})
            subject.relaxed[key] = cached
        return cached[0][0].document

    def _relaxed_set(self, subject: _Subject, exact: frozenset[str], resource_tags: bool
                     ) -> tuple[tuple[ev.Policy, ...], ev.Policy | None, dict[tuple[str, str], tuple[str, ...]]]:
        key = (exact, resource_tags)
        cached = subject.relaxed.get(key)
        if cached is None:
            removed: dict[tuple[str, str], tuple[str, ...]] = {}
            identity = tuple(self._relaxed_policy(p, exact, resource_tags, removed) for p in subject.identity)
            boundary = self._relaxed_policy(subject.boundary, exact, resource_tags, removed) \
                if subject.boundary is not None else None
            cached = (identity, boundary, removed)
            subject.relaxed[key] = cached
        return cached[0], cached[1], dict(cached[2])

    def _relaxed_policy(self, policy: ev.Policy, exact: frozenset[str], resource_tags: bool,
                        removed: dict[tuple[str, str], tuple[str, ...]]) -> ev.Policy:
        key = (id(policy.document), exact, resource_tags)
        hit = self._relaxed.get(key)
        if hit is None or hit[0] is not policy.document:
            hit = (policy.document, relax(policy.document, exact, resource_tags=resource_tags))
            self._relaxed[key] = hit
        relaxed = hit[1]
        if not relaxed.changed:
            return policy
        for label, keys in relaxed.removed.items():
            removed[(policy.name, label)] = keys
        return ev.Policy(policy.name, relaxed.document)

    # --- probe resources

    def _candidates(self, subject: _Subject, method: Method, target: str,
                    perms: list[Permission]) -> Iterator[_Target]:
        principal = subject.principal
        if target == SELF:
            yield _Target(principal.arn, principal, True)
        elif target == OWN_GROUP:
            yield from (_Target(g.arn, g) for g in subject.groups)
        elif target == ATTACHED_POLICY:
            yield from (_Target(arn) for arn in self._attached_customer_policies(subject))
        elif target == OTHER_GROUP:
            mine = {g.arn for g in subject.groups}
            yield from (t for t in self._filtered(subject, "group", self.groups, perms) if t.arn not in mine)
        elif target == OTHER_USER:
            yield from (t for t in self._filtered(subject, "user", self.users, perms) if t.arn != principal.arn)
        elif target == ROLE:
            yield from (t for t in self._filtered(subject, "role", self.roles, perms) if t.arn != principal.arn)
        elif target == ASSUMABLE_ROLE:
            if principal.kind == "role":
                yield _Target(principal.arn, principal, True)
            pool = self._trusting(principal)
            pool_arns = frozenset(r.arn for r in pool)
            yield from (t for t in self._filtered(subject, "role", pool, perms, pool_arns) if t.arn != principal.arn)
        elif target == PASSABLE_ROLE:
            service = method.service or ""
            pool = self._service_pool(service)
            yield from (t for t in self._filtered(subject, "role", pool, perms, self._service_arns[service])
                        if t.arn != principal.arn)
        else:
            yield from (_Target(arn) for arn in self._template_candidates(subject, target, perms))

    def _attached_customer_policies(self, subject: _Subject) -> list[str]:
        arns = [arn for holder in (subject.principal, *subject.groups) for _n, arn in holder.attached_policies]
        return [a for a in dict.fromkeys(arns) if a.split(":")[4:5] != ["aws"]]

    def _filtered(self, subject: _Subject, universe: str, pool: tuple[Principal, ...], perms: list[Permission],
                  pool_arns: frozenset[str] | None = None) -> Iterator[_Target]:
        """``pool`` (``pool_arns``; the whole universe when None) narrowed to the ARNs every (non-trust)
        permission's Resource patterns can name, in the universe's order."""
        allowed: frozenset[str] | None = None
        for perm in perms:
            if perm.trust is not None:
                continue
            names: set[str] = set()
            universal = False
            for pattern in subject.action_patterns(perm.actions):
                matched = self._matching(universe, pattern)
                if matched is None:
                    universal = True
                    break
                names |= matched
            if universal:
                continue
            allowed = frozenset(names) if allowed is None else allowed & names
        if allowed is None:
            yield from (_Target(p.arn, p) for p in pool)
            return
        index = self._index[universe]
        for arn in sorted(allowed, key=index.__getitem__):
            if pool_arns is None or arn in pool_arns:
                yield _Target(arn, self._universe[universe][index[arn]])

    def _matching(self, universe: str, pattern: str) -> frozenset[str] | None:
        """The ARNs of a universe (users, groups, roles) ``pattern`` names; None when it names them all."""
        key = (universe, pattern)
        if key in self._matches:
            return self._matches[key]
        arns = self._universe_arns[universe]
        result: frozenset[str] | None
        if pattern == "*":
            result = None
        elif not any(c in pattern for c in "*?$"):
            result = frozenset({pattern}) & arns
        else:
            literal = _WILDCARD.split(pattern, 1)[0]  # an ARN the pattern names starts with its literal head
            matched = frozenset(a for a in arns if a.startswith(literal) and arn_matches(pattern, a))
            result = None if len(matched) == len(arns) else matched
        self._matches[key] = result
        return result

    def _template_candidates(self, subject: _Subject, template: str, perms: list[Permission]) -> tuple[str, ...]:
        patterns = subject.action_patterns(a for p in perms for a in p.actions)
        key = (template, patterns)
        if key not in self._instances:
            self._instances[key] = self._instantiated(template, patterns)
        return self._instances[key]

    def _instantiated(self, template: str, patterns: tuple[str, ...]) -> tuple[str, ...]:
        out = [self.fill(template)]
        if "{name}" not in template:
            return tuple(out)
        star = self.fill(template, "*")
        suffix = self.fill(template.split("{name}", 1)[1])
        for pattern in patterns:
            candidate = _instantiate(pattern, star)
            if candidate is None:
                continue
            # a wildcard that stood for "<name>/<id>" is given the template's fixed tail
            for variant in (candidate, candidate + suffix):
                if arn_matches(star, variant) and arn_matches(pattern, variant):
                    out.append(variant)
                    break
        return tuple(dict.fromkeys(out))

    # --- roles by trust

    def _service_pool(self, service: str) -> tuple[Principal, ...]:
        """The roles whose trust policy lets ``service`` assume them (computed once per service)."""
        if service not in self._service_roles:
            pool = tuple(r for r in self.roles if self._service_may_assume(service, r))
            self._service_roles[service] = pool
            self._service_arns[service] = frozenset(r.arn for r in pool)
        return self._service_roles[service]

    def _service_may_assume(self, service: str, role: Principal) -> bool:
        if not isinstance(role.trust_policy, dict):
            return False
        request = ev.Request(ev.Principal(service), "sts:AssumeRole", role.arn,
                             {"aws:SourceAccount": (self.account,)})
        trust = ev.Policy(f"trust policy of {role.name}", role.trust_policy)
        self.evaluations += 1
        if ev.evaluate(request, ev.PolicySet(resource=trust, resource_kind="role-trust")).allowed:
            return True
        relaxed = relax(role.trust_policy, frozenset({"aws:sourceaccount"}), resource_tags=True)
        if not relaxed.changed:
            return False
        self.evaluations += 1
        policies = ev.PolicySet(resource=ev.Policy(trust.name, relaxed.document), resource_kind="role-trust")
        return ev.evaluate(request, policies).allowed

    def _trusting(self, principal: Principal) -> tuple[Principal, ...]:
        """Roles whose trust policy names ``principal``, its account, or everyone (the evaluator decides)."""
        if self._trust_index is None:
            self._trust_index = self._build_trust_index()
        broad, named = self._trust_index
        keys = [principal.arn]
        if principal.kind == "role":
            keys.append(f"role-name:{principal.name}")
        extra = [r for k in keys for r in named.get(k, ())]
        if not extra:
            return broad
        chosen = {r.arn for r in (*broad, *extra)}
        return tuple(r for r in self.roles if r.arn in chosen)

    def _build_trust_index(self) -> tuple[tuple[Principal, ...], dict[str, tuple[Principal, ...]]]:
        account_entries = {"*", self.account, f"arn:{self.partition}:iam::{self.account}:root"}
        role_prefix = f"arn:{self.partition}:iam::{self.account}:role/"
        broad: list[Principal] = []
        named: dict[str, list[Principal]] = {}
        for role in self.roles:
            entries: set[str] = set()
            is_broad = False
            for _label, statement in _statements(role.trust_policy):
                if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
                    continue
                if "NotPrincipal" in statement:
                    is_broad = True
                    continue
                value = statement.get("Principal")
                aws = _items(value.get("AWS")) if isinstance(value, dict) else _items(value)
                for entry in aws:
                    if entry in account_entries:
                        is_broad = True
                    else:
                        entries.add(entry)
                        if entry.startswith(role_prefix):
                            entries.add(f"role-name:{entry.rsplit('/', 1)[-1]}")
            if is_broad:
                broad.append(role)
            for entry in entries:
                named.setdefault(entry, []).append(role)
        return tuple(broad), {k: tuple(v) for k, v in named.items()}


def _granting(result: ev.Evaluation) -> tuple[str, ...]:
    return tuple(dict.fromkeys(t.policy for t in result.deciding if t.layer in ("identity", "resource")))


def _instantiate(pattern: str, template: str) -> str | None:
    """A concrete ARN ``pattern`` names, shaped like ``template`` (its fixed parts where the pattern has wildcards)."""
    if not pattern.startswith("arn:"):
        return None
    parts, fixed = split_parts(pattern), split_parts(template)
    if len(parts) < 6 or len(fixed) < 6:
        return None
    head = [fixed[i] if any(c in parts[i] for c in "*?$") else parts[i] for i in range(1, 5)]
    resource = _VARIABLE.sub(_PROBE_TOKEN, ":".join(parts[5:])).replace("*", _PROBE_TOKEN).replace("?", "x")
    return ":".join(["arn", *head, resource])
