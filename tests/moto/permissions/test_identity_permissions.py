"""The provisioner's actions for users, groups and key rotation, proven with moto's IAM authorization.

The shipped playbooks declare no user, so this file applies its own playbook (a group with members,
a console user, a service user whose key is rotated) as a principal holding exactly
``iamflow policy --for provisioner`` of it: the apply must succeed, and without any one action the
apply must fail with an AccessDenied naming it. moto's authorizer and its gaps are described in
``test_least_privilege.py``, whose helpers this file uses.
"""

from __future__ import annotations

import functools
import textwrap
from pathlib import Path
from typing import Any

import pytest

from iamflow.permissions import NEVER_AUTHORIZED, policy_actions, policy_for, without_action
from tests.moto.permissions.test_least_privilege import (
    CTX,
    Outcome,
    finish,
    moto_account,
    moto_resource_wildcard,
    principal_with,
    traced,
)

PLAYBOOK = """
name: people
resources:
  - kind: iam_managed_policy
    name: people-self-service
    document:
      Version: "2012-10-17"
      Statement: [{Effect: Allow, Action: iam:ChangePassword, Resource: "arn:${partition}:iam::${account_id}:user/*"}]
  - kind: iam_user
    name: dana
    path: /people/
    managed_policies: [people-self-service]
    inline_policies:
      own-mfa:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Action: iam:EnableMFADevice, Resource: "arn:${partition}:iam::${account_id}:user/people/dana"}]
    tags: {team: people}
    console_access: true
  - kind: iam_user
    name: reporter
    rotation: {into_secret: services/reporter/access-key, every_days: 90}
  - kind: iam_group
    name: readers
    managed_policies: [people-self-service]
    inline_policies:
      logs:
        Version: "2012-10-17"
        Statement: [{Effect: Allow, Action: logs:GetLogEvents, Resource: "*"}]
    members: [dana, reporter]
"""


@functools.cache
def playbook_path() -> Path:
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="iamflow-people-")) / "people.yaml"
    path.write_text(textwrap.dedent(PLAYBOOK).lstrip(), encoding="utf-8")
    return path


def playbook(state: str = "present") -> Any:
    from iamflow.spec.loader import load_playbook

    pb = load_playbook(playbook_path())
    if state == "absent":
        pb = pb.model_copy(update={"resources": [r.model_copy(update={"state": "absent"}) for r in pb.resources]})
    return pb


def generated() -> dict[str, Any]:
    return policy_for("provisioner", [playbook()], CTX)


def apply_once(doc: dict[str, Any], *, remove: bool = False) -> Outcome:
    """Apply the playbook (then, with ``remove``, remove it) as a principal holding ``doc``."""
    from moto.core.authorization import enable_iam_authentication

    from iamflow.engine import FAILED, SKIPPED, run_playbook

    out = Outcome()
    with moto_account():
        clients = traced(principal_with(doc), out)
        with enable_iam_authentication(), moto_resource_wildcard():
            for pb in ([playbook(), playbook("absent")] if remove else [playbook()]):
                play = run_playbook(clients, pb, workers=1)
                out.failures += [f"{r.resource}: {r.error}" for r in play.results if r.status in (FAILED, SKIPPED)]
    return finish(clients, out)


@functools.cache
def recorded(remove: bool) -> Outcome:
    return apply_once(generated(), remove=remove)


@pytest.mark.slow
@pytest.mark.parametrize("remove", [False, True], ids=["apply", "apply-then-remove"])
def test_the_playbook_applies_with_exactly_the_generated_policy(remove: bool) -> None:
    outcome = recorded(remove)
    assert outcome.failures == [], outcome.failures
    assert outcome.actions - NEVER_AUTHORIZED <= set(policy_actions(generated()))
    for action in ("iam:CreateUser", "iam:CreateLoginProfile", "iam:CreateAccessKey", "iam:AddUserToGroup",
                   "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage", "iam:CreateGroup"):
        assert action in outcome.actions


def test_users_and_groups_are_scoped_to_their_arns() -> None:
    doc = policy_for("provisioner", [playbook()], CTX)
    on = {a: (st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]])
          for st in doc["Statement"] for a in st["Action"]}
    assert set(on["iam:CreateUser"]) == {"arn:aws:iam::123456789012:user/people/dana",
                                         "arn:aws:iam::123456789012:user/reporter"}
    assert on["iam:CreateGroup"] == ["arn:aws:iam::123456789012:group/readers"]
    assert all(r.startswith("arn:aws:secretsmanager:us-east-1:123456789012:secret:") for r in on["secretsmanager:PutSecretValue"])


def _removal_cases() -> list[Any]:
    return [pytest.param(a, id=a) for a in policy_actions(generated())]


@pytest.mark.slow
@pytest.mark.parametrize("action", _removal_cases())
def test_removing_an_action_fails_with_access_denied(action: str) -> None:
    remove = action not in recorded(False).actions
    if action not in recorded(remove).actions:
        pytest.skip(f"{action} is declared but this playbook's runs do not reach it (a path only some states take)")
    outcome = apply_once(without_action(generated(), action), remove=remove)
    assert any(action in d for d in outcome.denied), f"without {action}: no AccessDenied naming it"
    assert any(action in f or "AccessDenied" in f for f in outcome.failures), outcome.failures
