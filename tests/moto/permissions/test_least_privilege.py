"""iamflow's own least privilege, proven with moto's IAM authorization.

A principal (an IAM user) holds exactly the generated policy; with ``enable_iam_authentication``
on, the sweep of one account and the apply of the shipped playbooks must succeed, and removing any
one action must make the run fail with an AccessDenied that names the action.

What moto enforces, and how this file deals with the rest:

- moto evaluates the caller's identity policies: Action, NotAction, Effect. The Resource element is
  compared with the ARN of the request only for IAM calls that carry an existing role's
  ``RoleName`` and for ``sts:AssumeRole``; for every other call moto uses ``"*"``, which no
  scoped ARN matches (a correctly scoped policy would be refused). ``moto_resource_wildcard``
  therefore lets a request whose resource moto left as ``"*"`` match any Resource pattern: action
  enforcement stays exact, and role-ARN scoping, which moto does evaluate, is tested on its own
  (``test_provisioner_cannot_touch_roles_outside_the_playbooks``).
- A ``Condition`` in an identity policy is evaluated against no request context in moto, so the
  generated documents carry none (AWS would support ``iam:PolicyARN`` and ``kms:ResourceAliases``).
- Actions AWS requires beyond the API called (``permissions.AWS_ONLY``) and declared actions that
  no scenario here reaches (update and delete paths of some kinds) are skipped by name, with the
  reason, so the report shows what the proof does not cover.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from iamflow.cli.policy import BOOTSTRAP_PLAYBOOK, default_playbook_paths
from iamflow.context import RunContext
from iamflow.permissions import (
    AWS_ONLY,
    NEVER_AUTHORIZED,
    is_read_action,
    policy_actions,
    policy_for,
    render,
    wildcard_resources,
    without_action,
)
from tests.moto.compliance.compliance_moto_helpers import add_root_row

REPO = Path(__file__).resolve().parents[3]
POLICIES = REPO / "include" / "policies"
ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"
CTX = RunContext(account_id=ACCOUNT, partition="aws", region=REGION)
PRINCIPAL = "iamflow-under-test"
# playbooks that another playbook's resources must exist for (applied first, by an administrator)
PREREQUISITES = {"myapp-secrets": ("myapp-kms",)}
# boto3 client names whose IAM action prefix differs (accessanalyzer is "access-analyzer" in IAM)
_SERVICE_PREFIX = {"cognito-idp": "cognito-idp", "secretsmanager": "secretsmanager", "accessanalyzer": "access-analyzer"}


# -- helpers ----------------------------------------------------------------------------------------------


def _load(paths: list[Path]) -> list[Any]:
    from iamflow.spec.loader import load_playbook

    return [load_playbook(p) for p in paths]


@functools.cache
def shipped() -> dict[str, Any]:
    """The shipped playbooks (without the bootstrap playbook), by name, in file order."""
    return {pb.name: pb for pb in _load(default_playbook_paths())}


@functools.cache
def bootstrap() -> Any:
    from iamflow.spec.loader import load_playbook

    return load_playbook(REPO / "include" / "playbooks" / f"{BOOTSTRAP_PLAYBOOK}.yaml")


def generated(role: str) -> dict[str, Any]:
    """The policy of ``role`` for the shipped playbooks, with this test account's ARNs."""
    return policy_for(role, list(shipped().values()) if role == "provisioner" else None, CTX)


@functools.cache
def referenced_aws_policies() -> frozenset[str]:
    """Names of the AWS-managed policies the shipped playbooks attach."""
    text = "\n".join(p.read_text() for p in default_playbook_paths())
    return frozenset(re.findall(r"iam::aws:policy/(?:[\w-]+/)*([\w-]+)", text))


@functools.cache
def _aws_policy_data() -> dict[str, Any]:
    from moto.iam import models

    return dict(json.loads(models.aws_managed_policies_data))


@contextmanager
def moto_account() -> Iterator[None]:
    """A fresh in-process moto (no Docker: Lambda functions are stored, not run).

    Only the AWS-managed policies the playbooks attach are loaded: moto builds all 1,582 of them per
    account (about 0.5 s), and GetAccountAuthorizationDetails would page through them in every sweep.
    """
    import moto
    from moto.iam import models

    original = models.IAMBackend._init_aws_policies
    wanted = referenced_aws_policies()

    def init_aws_policies(self: Any) -> list[Any]:
        if self.region_name != "aws":
            return []
        return [models.AWSManagedPolicy.from_data(name, self.account_id, self.region_name, data)
                for name, data in _aws_policy_data().items() if name in wanted]

    models.IAMBackend._init_aws_policies = init_aws_policies  # type: ignore[method-assign]
    try:
        with moto.mock_aws(config={"lambda": {"use_docker": False}}):
            yield
    finally:
        models.IAMBackend._init_aws_policies = original  # type: ignore[method-assign]


@contextmanager
def moto_resource_wildcard() -> Iterator[None]:
    """Close three gaps of moto's authorizer so that a correctly scoped policy can be evaluated.

    - A request whose resource moto could not determine (``"*"``) matches any Resource pattern.
    - IAM calls naming an instance profile are authorised on the profile's ARN (moto uses the
      role's ARN whenever ``RoleName`` is present, but AWS authorises AddRoleToInstanceProfile and
      RemoveRoleFromInstanceProfile on the profile); calls naming only a ``PolicyArn`` on that ARN.
    - moto's SigV4 check never matches botocore's signature on Lambda's REST calls (with a
      function name or an ARN in the path alike): for Lambda only the signature comparison is
      skipped; the access key must still exist and the action is still authorised.
    """
    from moto.iam.access_control import IAMPolicyStatement, IAMRequestBase
    from moto.iam.responses import IamResponse

    original_match = IAMPolicyStatement._check_element_matches
    original_resource = IamResponse._determine_resource
    original_signature = IAMRequestBase.check_signature

    def match(self: Any, element: str, value: str) -> bool:
        if element == "Resource" and value == "*":
            return True
        return original_match(self, element, value)

    def resource(self: Any) -> str:
        data = self.data
        if "InstanceProfileName" in data:
            try:
                return str(self.backend.get_instance_profile(data["InstanceProfileName"][0]).arn)
            except Exception:  # not created yet: moto knows no ARN
                return "*"
        if "PolicyArn" in data and not any(k in data for k in ("RoleName", "UserName", "GroupName")):
            return str(data["PolicyArn"][0])
        return str(original_resource(self))

    def signature(self: Any) -> None:
        if self._service != "lambda":
            original_signature(self)

    IAMPolicyStatement._check_element_matches = match  # type: ignore[method-assign]
    IamResponse._determine_resource = resource  # type: ignore[method-assign]
    IAMRequestBase.check_signature = signature  # type: ignore[method-assign]
    try:
        yield
    finally:
        IAMPolicyStatement._check_element_matches = original_match  # type: ignore[method-assign]
        IamResponse._determine_resource = original_resource  # type: ignore[method-assign]
        IAMRequestBase.check_signature = original_signature  # type: ignore[method-assign]


def admin_clients() -> Any:
    """Clients of the (unauthenticated) default moto credentials, for seeding."""
    import boto3

    from iamflow.aws.clients import AwsClients

    return AwsClients.from_boto3(boto3.Session(region_name=REGION), region=REGION)


def principal_with(doc: dict[str, Any], name: str = PRINCIPAL) -> Any:
    """Create an IAM user holding exactly ``doc`` (split into managed policies at AWS's size limit)."""
    import boto3

    iam = boto3.client("iam", region_name=REGION)
    iam.create_user(UserName=name)
    chunks: list[list[dict[str, Any]]] = [[]]
    for st in doc["Statement"]:
        candidate = chunks[-1] + [st]
        if chunks[-1] and len(json.dumps({"Version": doc["Version"], "Statement": candidate},
                                          separators=(",", ":"))) > 6000:
            chunks.append([st])
        else:
            chunks[-1] = candidate
    for i, statements in enumerate(c for c in chunks if c):
        arn = iam.create_policy(PolicyName=f"{name}-{i}", PolicyDocument=json.dumps(
            {"Version": doc["Version"], "Statement": statements}))["Policy"]["Arn"]
        iam.attach_user_policy(UserName=name, PolicyArn=arn)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return boto3.Session(aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                         region_name=REGION)


def _action(service: str, operation: str) -> str:
    return f"{_SERVICE_PREFIX.get(service, service)}:{operation}"


@dataclass
class Outcome:
    """What a run under the principal did: the actions it called, the denials it met, its failures."""

    actions: set[str] = field(default_factory=set)
    denied: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def record_denials(self, session: Any) -> None:
        """Note every AccessDenied answer the session's clients receive (register before making clients)."""

        def after_call(parsed: dict[str, Any], model: Any, **_: Any) -> None:
            # moto answers JSON-protocol services with an XML error body, which botocore leaves raw
            error = json.dumps(parsed.get("Error") or {})
            if "AccessDenied" in error or "not authorized" in error:
                self.denied.append(f"{model.name}: {error}")

        session.events.register("after-call", after_call)


def traced(session: Any, out: Outcome) -> Any:
    """AwsClients over ``session`` whose calls and denials land in ``out`` (after the run: ``finish``)."""
    from iamflow.aws.clients import AwsClients, CallLog

    out.record_denials(session)
    return AwsClients.from_boto3(session, region=REGION, call_log=CallLog())


def finish(clients: Any, out: Outcome) -> Outcome:
    out.actions = {_action(s, o) for s, o in clients.call_log.calls}
    return out


_DENY = {"Version": "2012-10-17",
         "Statement": [{"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"}]}
# what an administrator changes by hand, per field, so that the next apply has to repair it
_DRIFT: dict[str, Any] = {
    "description": "changed by hand",
    "tags": {"ChangedByHand": "yes"},
    "document": _DENY,
    "trust_policy": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
    "inline_policies": {"added-by-hand": _DENY},
    "managed_policies": [],
    "boundary": None,
    "max_session_duration": 7200,
    "role": None,
    "enabled": False,
    "rotation": False,
    "users": [],
    "rotation_period_days": None,
    "deletion_protection": False,
    "precedence": 7,
    "prevent_user_existence_errors": "LEGACY",
}


_KEEP = {"secret": {"rotation"}}  # fields whose drift value does not fit the kind


def drifted(pb: Any) -> Any:
    """The playbook as an administrator's manual changes left it."""
    resources = [r.model_copy(update={k: v for k, v in _DRIFT.items()
                                      if k in type(r).model_fields and k not in _KEEP.get(r.kind, ())})
                 for r in pb.resources]
    return pb.model_copy(update={"resources": resources, "tags": {}})


def removed(pb: Any) -> Any:
    """The playbook with every resource ``state: absent``."""
    def gone(r: Any) -> Any:
        force = {"force": True} if "force" in type(r).model_fields else {}  # a deletion-protected pool
        return r.model_copy(update={"state": "absent", **force})

    return pb.model_copy(update={"resources": [gone(r) for r in pb.resources]})


def with_removal_only_grants(doc: dict[str, Any], playbooks: list[Any]) -> dict[str, Any]:
    """``doc`` plus the actions that only an ``absent`` declaration is granted (deleting the account password policy).

    A kind whose deletion is a "permissions management" action on ``*`` grants it only to playbooks
    that declare the resource absent; the shipped playbooks declare everything present.
    """
    present = set(policy_actions(policy_for("provisioner", list(shipped().values()), CTX)))
    extra = [st for st in policy_for("provisioner", playbooks, CTX)["Statement"]
             if not set([st["Action"]] if isinstance(st["Action"], str) else st["Action"]) <= present]
    only = [{**st, "Sid": f"RemovalOnly{i}",
             "Action": sorted(set([st["Action"]] if isinstance(st["Action"], str) else st["Action"]) - present)}
            for i, st in enumerate(extra)]
    return {**doc, "Statement": [*doc["Statement"], *only]}


def apply_as(docs: list[dict[str, Any]], names: tuple[str, ...], mode: str = "create") -> list[Outcome]:
    """:func:`apply_once` for each document, each in a fresh account."""
    return [apply_once(doc, names, mode) for doc in docs]


def apply_once(doc: dict[str, Any], names: tuple[str, ...], mode: str = "create") -> Outcome:
    """Apply the named shipped playbooks as a principal holding ``doc``, in a fresh account.

    :param mode: ``create`` (an empty account), ``repair`` (an administrator applied a drifted
        copy first) or ``remove`` (the playbooks exist; the principal applies them ``state: absent``).
    """
    from moto.core.authorization import enable_iam_authentication

    from iamflow.engine import FAILED, SKIPPED, run_playbook
    from tools.demo_seed import seed_rotation_lambda

    out = Outcome()
    with moto_account():
        admin = admin_clients()
        for name in names:
            for before in PREREQUISITES.get(name, ()):
                if before not in names:
                    run_playbook(admin, shipped()[before])
        if "myapp-secrets" in names:
            seed_rotation_lambda(None)  # type: ignore[arg-type]  # in-process moto needs no endpoint
        for name in names:
            if mode == "repair":
                run_playbook(admin, shipped()[name])
                run_playbook(admin, drifted(shipped()[name]))
            elif mode == "remove":
                run_playbook(admin, shipped()[name])
        if mode == "remove":
            doc = with_removal_only_grants(doc, [removed(shipped()[name]) for name in names])
        clients = traced(principal_with(doc), out)
        with enable_iam_authentication(), moto_resource_wildcard():
            for name in names:
                pb = removed(shipped()[name]) if mode == "remove" else shipped()[name]
                play = run_playbook(clients, pb, workers=1)
                out.failures += [f"{name}/{r.resource}: {r.error}" for r in play.results
                                 if r.status in (FAILED, SKIPPED)]
    return finish(clients, out)


# ERROR findings that come from what the embedded AWS does not implement, not from a missing permission
MOTO_GAPS = {"accessanalyzer_enabled": "ListAnalyzers: 404: Not yet implemented"}
# actions the embedded AWS answers "not implemented" before any authorization: removing them denies nothing
MOTO_UNIMPLEMENTED = {"access-analyzer:ListAnalyzers": "ListAnalyzers answers 404 Not yet implemented"}


def _moto_gap(check_id: str, message: str) -> bool:
    return check_id in MOTO_GAPS and MOTO_GAPS[check_id] in message


def sweep_as(docs: list[dict[str, Any]]) -> list[Outcome]:
    """Sweep one account once per document, each as its own principal; the account holds the playbooks' resources.

    A sweep only reads, so every run shares one seeded account.
    """
    import boto3
    from moto.core.authorization import enable_iam_authentication
    from moto.iam.models import iam_backends

    from iamflow.compliance.config import ComplianceConfig
    from iamflow.compliance.sweep import default_drift_provider, sweep_account
    from iamflow.engine import run_playbook
    from tools.demo_seed import seed_rotation_lambda

    now = datetime.now(UTC)
    outcomes = []
    with moto_account():
        admin = admin_clients()
        seed_rotation_lambda(None)  # type: ignore[arg-type]
        for pb in [*shipped().values(), bootstrap()]:
            run_playbook(admin, pb)
        # a user whose access key is old: the sweep then looks its id up (iam:ListAccessKeys)
        iam = boto3.client("iam", region_name=REGION)
        iam.create_user(UserName="old-key-user")
        iam.create_access_key(UserName="old-key-user")
        old = (now - timedelta(days=200)).replace(tzinfo=None)
        iam_backends[ACCOUNT]["aws"].users["old-key-user"].access_keys[0].create_date = old
        config, drift = ComplianceConfig.load(), default_drift_provider()
        for i, doc in enumerate(docs):
            out = Outcome()
            clients = traced(principal_with(doc, f"{PRINCIPAL}-{i}"), out)
            # moto's credential report has no root row; without one the root checks report ERROR
            add_root_row(clients, ACCOUNT, created=now - timedelta(days=400))
            with enable_iam_authentication(), moto_resource_wildcard():
                findings = sweep_account(clients, None, config, None, now, drift_provider=drift,
                                         sleep=lambda _s: None)
            out.failures = [f"{f.check_id}: {f.message}" for f in findings
                            if f.status == "ERROR" and not _moto_gap(f.check_id, f.message)]
            outcomes.append(finish(clients, out))
    return outcomes


Scenario = Callable[[list[dict[str, Any]]], list[Outcome]]


def scenarios() -> dict[str, tuple[str, Scenario]]:
    """name -> (role, run): the sweep, and the apply of each shipped playbook."""
    out: dict[str, tuple[str, Scenario]] = {"sweep": ("auditor", sweep_as)}
    for mode in ("create", "repair", "remove"):
        for name in shipped():
            out[f"{mode} {name}"] = ("provisioner", functools.partial(apply_as, names=(name,), mode=mode))
    return out


@functools.cache
def recorded() -> dict[str, Outcome]:
    """Each scenario once with the full generated policy."""
    return {name: run([generated(role)])[0] for name, (role, run) in scenarios().items()}


def committed(role: str) -> dict[str, Any]:
    return json.loads((POLICIES / f"iamflow-{role}.json").read_text())


def _committed_actions(role: str) -> list[str]:
    path = POLICIES / f"iamflow-{role}.json"
    return policy_actions(json.loads(path.read_text())) if path.exists() else []


# -- the documents ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["auditor", "provisioner"])
def test_committed_policy_is_current(role: str) -> None:
    """include/policies/iamflow-<role>.json is what `iamflow policy --for <role>` prints."""
    from iamflow.permissions import PLACEHOLDERS

    path = POLICIES / f"iamflow-{role}.json"
    playbooks = list(shipped().values()) if role == "provisioner" else None
    expected = render(policy_for(role, playbooks, PLACEHOLDERS))
    assert path.exists(), f"{path} is missing: run `iamflow policy --for {role} > {path.relative_to(REPO)}`"
    assert path.read_text() == expected, (
        f"{path.relative_to(REPO)} is stale: run `iamflow policy --for {role} > {path.relative_to(REPO)}`"
    )


def test_cli_prints_the_policy(capsys: pytest.CaptureFixture[str]) -> None:
    from iamflow.cli import main

    assert main(["policy", "--for", "provisioner", "--account", ACCOUNT, "--partition", "aws",
                 "--region", REGION, str(REPO / "include" / "playbooks" / "ec2-s3-access.yaml")]) == 0
    doc = json.loads(capsys.readouterr().out)
    resources = {r for st in doc["Statement"] for r in ([st["Resource"]] if isinstance(st["Resource"], str)
                                                         else st["Resource"])}
    assert f"arn:aws:iam::{ACCOUNT}:role/ec2-s3-access-role" in resources
    assert f"arn:aws:iam::{ACCOUNT}:instance-profile/ec2-s3-profile" in resources
    assert not any(a.startswith(("kms:", "cognito-idp:", "secretsmanager:")) for a in policy_actions(doc))


def test_auditor_is_read_only() -> None:
    actions = policy_actions(committed("auditor"))
    assert actions
    assert [a for a in actions if not is_read_action(a)] == []


def test_auditor_covers_every_check() -> None:
    from iamflow.compliance.registry import all_checks

    actions = set(policy_actions(committed("auditor")))
    for check in all_checks():
        assert set(check.permissions) - NEVER_AUTHORIZED <= actions, check.id


def test_provisioner_scopes_to_declared_names() -> None:
    """Every wildcard resource is one that AWS cannot scope further (see permissions.SCOPE_NOTES)."""
    allowed = {
        ("*", "kms:CreateKey"), ("*", "kms:ListAliases"), ("*", "kms:ListKeys"),
        ("*", "cognito-idp:CreateUserPool"), ("*", "cognito-idp:ListUserPools"),
        # the account password policy has no resource type
        ("*", "iam:GetAccountPasswordPolicy"), ("*", "iam:UpdateAccountPasswordPolicy"),
    }
    for action, resource in wildcard_resources(committed("provisioner")):
        if resource == "*":
            assert (resource, action) in allowed, f"{action} on '*'"
        else:
            tail = resource.rsplit(":", 1)[-1]
            if tail == "policy/*":
                # the expect: proof of a role that leaves its boundary or attachments open reads whatever
                # is attached now: policy documents only, never a write
                assert action in ("iam:GetPolicy", "iam:GetPolicyVersion"), f"{action} on {resource}"
                continue
            assert tail in {"key/*", "userpool/*", "instance-profile/*", "user/*", "group/*", "role/*"}, (
                f"{action} on {resource}")
            if tail == "role/*":
                assert action == "iam:DetachRolePolicy", f"{action} on {resource}"
    passrole = [st for st in committed("provisioner")["Statement"] if "iam:PassRole" in st["Action"]]
    assert passrole and all("*" not in json.dumps(st["Resource"]) for st in passrole)


def test_bootstrap_playbook_lints_clean_and_uses_the_committed_policies() -> None:
    from iamflow.cli import main
    from iamflow.spec.loader import load_playbook

    path = REPO / "include" / "playbooks" / f"{BOOTSTRAP_PLAYBOOK}.yaml"
    assert main(["lint", str(path)]) == 0
    pb = load_playbook(path)
    roles = {r.name: r for r in pb.resources if r.kind == "iam_role"}
    assert set(roles) == {"iamflow-auditor", "iamflow-provisioner"}
    for role in ("auditor", "provisioner"):
        res = roles[f"iamflow-{role}"]
        assert list((res.inline_policies or {}).values()) == [committed(role)]
        trust = json.dumps(res.trust_policy)
        assert "sts:ExternalId" in trust and pb.vars["airflow_account"] in trust


# -- the proof --------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("scenario", list(scenarios()))
def test_runs_with_exactly_the_generated_policy(scenario: str) -> None:
    role, _run = scenarios()[scenario]
    outcome = recorded()[scenario]
    assert outcome.failures == [], f"{scenario} as {role}: {outcome.failures}"
    assert outcome.actions, f"{scenario} made no call"
    granted = generated(role)
    if scenario.startswith("remove "):
        granted = with_removal_only_grants(granted, [removed(shipped()[scenario.split(" ", 1)[1]])])
    assert outcome.actions - NEVER_AUTHORIZED <= set(policy_actions(granted))


def _first_scenario_using(role: str, action: str) -> str | None:
    for name, (r, _run) in scenarios().items():
        if r == role and action in recorded()[name].actions:
            return name
    return None


def _removal_cases() -> list[Any]:
    return [pytest.param(role, action, id=f"{role}-{action}")
            for role in ("auditor", "provisioner") for action in _committed_actions(role)]


# denials the run tolerates by design: the run still succeeds, with less detail
GRACEFUL = {"iam:ListAccessKeys": "the sweep names a failing key's id as a courtesy; without the permission the "
            "finding stays FAIL and names the key by its slot"}


@functools.cache
def sweep_removals() -> dict[str, Outcome]:
    """The sweep once per auditor action, without that action (one seeded account for all)."""
    actions = [a for a in _committed_actions("auditor") if a in recorded()["sweep"].actions]
    return dict(zip(actions, sweep_as([without_action(generated("auditor"), a) for a in actions]), strict=True))


@pytest.mark.slow
@pytest.mark.parametrize(("role", "action"), _removal_cases())
def test_removing_an_action_fails_with_access_denied(role: str, action: str) -> None:
    scenario = _first_scenario_using(role, action)
    if action in MOTO_UNIMPLEMENTED:
        pytest.skip(f"the embedded AWS does not implement it, so cannot deny it: {MOTO_UNIMPLEMENTED[action]}")
    if scenario is None and action in AWS_ONLY:
        pytest.skip(f"AWS-only requirement moto does not evaluate: {AWS_ONLY[action]}")
    if scenario is None:
        pytest.skip(f"{action} is declared but no scenario here reaches it (a path only some states of a resource take)")
    if scenario == "sweep":
        outcome = sweep_removals()[action]
    else:
        outcome = scenarios()[scenario][1]([without_action(generated(role), action)])[0]
    assert any(action in d for d in outcome.denied), f"{scenario} without {action}: no AccessDenied naming it"
    if action in GRACEFUL:
        assert outcome.failures == [], outcome.failures
        return
    named = [f for f in outcome.failures if action in f and ("AccessDenied" in f or "not authorized" in f)]
    assert named, f"{scenario} without {action} did not fail naming it: {outcome.failures}"


@pytest.mark.slow
def test_provisioner_cannot_touch_roles_outside_the_playbooks() -> None:
    """Role-ARN scoping is enforced by moto itself: a role no playbook declares is out of reach."""
    import boto3
    from botocore.exceptions import ClientError
    from moto.core.authorization import enable_iam_authentication

    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    with moto_account():
        iam = boto3.client("iam", region_name=REGION)
        iam.create_role(RoleName="iamflow-provisioner", AssumeRolePolicyDocument=trust)
        iam.create_role(RoleName="myapp-app", AssumeRolePolicyDocument=trust)
        session = principal_with(generated("provisioner"))
        mine = session.client("iam")
        with enable_iam_authentication():
            assert mine.get_role(RoleName="myapp-app")["Role"]["RoleName"] == "myapp-app"
            for call, kwargs in [
                ("get_role", {}),
                ("put_role_policy", {"PolicyName": "escalate", "PolicyDocument": json.dumps(
                    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})}),
                ("delete_role", {}),
            ]:
                with pytest.raises(ClientError) as err:
                    getattr(mine, call)(RoleName="iamflow-provisioner", **kwargs)
                assert err.value.response["Error"]["Code"] == "AccessDenied"
