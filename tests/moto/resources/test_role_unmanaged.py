"""Diffs show only what is managed; plan warns about high-risk state it leaves alone; ``exclusive: true``.

- A create or update diff renders no attribute the playbook leaves out (no ``"managed_policies": []``
  for a role that attaches nothing); the ``iamflow:id`` tag every created object gets is shown.
- A role whose playbook does not manage its attached (or inline) policies still gets a warning
  in plan when one of them is an administrator policy (AdministratorAccess, or a document allowing
  ``*`` on ``*``), and when its trust lets another account assume it without an ExternalId. The
  warning changes nothing: check mode makes no write, apply detaches nothing.
- ``exclusive: true`` makes the attached and inline policies exactly the declared ones (left out:
  none); with ``purge_policies: false`` it is a validation error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from _handler_helpers import allow, trust

from iamflow.engine import CHANGED, OK, run_playbook, run_resource
from iamflow.spec.loader import check_playbook
from iamflow.spec.models import IamRole, Playbook, Waiver

ADMIN_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"
READ_ONLY_ARN = "arn:aws:iam::aws:policy/ReadOnlyAccess"
STAR = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def raw_iam() -> Any:
    return boto3.client("iam", region_name="us-east-1")


def role(**fields: Any) -> IamRole:
    fields.setdefault("trust_policy", trust())
    return IamRole(kind="iam_role", name="app", **fields)


def book(*resources: Any) -> Playbook:
    return Playbook(name="t", resources=list(resources))


def plan(clients: Any, res: IamRole) -> Any:
    return run_resource(clients, book(res), res.key, check_mode=True)


def warnings_of(result: Any) -> list[str]:
    return [n for n in result.notes if n.startswith("warning:")]


def hand_made_role(**extra: Any) -> None:
    raw_iam().create_role(RoleName="app", AssumeRolePolicyDocument=json.dumps(trust()), **extra)


# --- diffs --------------------------------------------------------------------------------------------


def test_a_create_diff_renders_only_what_the_playbook_declares(clients):
    result = plan(clients, role(description="app"))
    assert result.status == CHANGED
    assert '"managed_policies"' not in result.diff and '"inline_policies"' not in result.diff
    assert '"boundary"' not in result.diff and '"max_session_duration"' not in result.diff
    assert '"trust_policy"' in result.diff and '"description": "app"' in result.diff
    assert '"iamflow:id": "t/iam_role.app"' in result.diff  # set by every create, so shown
    declared = plan(clients, role(managed_policies=[], inline_policies={}))
    assert '"managed_policies": []' in declared.diff and '"inline_policies": {}' in declared.diff


def test_an_update_diff_renders_only_what_the_playbook_declares(clients):
    hand_made_role(Description="old", MaxSessionDuration=7200)
    raw_iam().attach_role_policy(RoleName="app", PolicyArn=READ_ONLY_ARN)
    result = plan(clients, role(description="new"))
    assert result.status == CHANGED
    assert '-  "description": "old"' in result.diff and '+  "description": "new"' in result.diff
    for unmanaged in ("managed_policies", "ReadOnlyAccess", "max_session_duration", "inline_policies"):
        assert unmanaged not in result.diff


# --- warnings about what is not managed ---------------------------------------------------------------


def test_plan_warns_about_an_administrator_policy_attached_outside_the_playbook(clients, call_log):
    hand_made_role()
    raw_iam().attach_role_policy(RoleName="app", PolicyArn=ADMIN_ARN)
    raw_iam().attach_role_policy(RoleName="app", PolicyArn=READ_ONLY_ARN)
    call_log.reset()
    result = plan(clients, role())
    assert result.status == OK and call_log.writes() == []
    [warning] = warnings_of(result)
    assert "administrator policy AdministratorAccess attached outside this playbook" in warning
    assert "managed_policies is not managed here" in warning
    assert "iam:GetPolicy" not in call_log.by_operation()  # AWS-managed: judged by name, not read
    # applied, the warning stays a warning: nothing is detached
    call_log.reset()
    applied = run_resource(clients, book(role()), "iam_role.app")
    assert applied.status == OK and call_log.writes() == []
    attached = raw_iam().list_attached_role_policies(RoleName="app")["AttachedPolicies"]
    assert ADMIN_ARN in [p["PolicyArn"] for p in attached]


def test_plan_warns_about_a_customer_policy_allowing_everything(clients, call_log):
    iam = raw_iam()
    hand_made_role()
    star = iam.create_policy(PolicyName="everything", PolicyDocument=json.dumps(STAR))["Policy"]["Arn"]
    narrow = iam.create_policy(PolicyName="narrow", PolicyDocument=json.dumps(allow("s3:GetObject")))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="app", PolicyArn=star)
    iam.attach_role_policy(RoleName="app", PolicyArn=narrow)
    call_log.reset()
    [warning] = warnings_of(plan(clients, role()))
    assert "administrator policy everything attached outside this playbook" in warning
    # each outside document read once: GetPolicy + GetPolicyVersion per customer-managed policy
    calls = call_log.by_operation()
    assert calls["iam:GetPolicy"] == 2 and calls["iam:GetPolicyVersion"] == 2


def test_plan_warns_about_an_extra_administrator_policy_kept_by_purge_policies_false(clients):
    hand_made_role()
    raw_iam().attach_role_policy(RoleName="app", PolicyArn=ADMIN_ARN)
    [warning] = warnings_of(plan(clients, role(managed_policies=[READ_ONLY_ARN], purge_policies=False)))
    assert "AdministratorAccess" in warning and "purge_policies is false" in warning
    # managed and purged: the plan detaches it, which the diff shows; nothing to warn about
    purged = plan(clients, role(managed_policies=[READ_ONLY_ARN]))
    assert warnings_of(purged) == [] and "detach policy AdministratorAccess from role app" in purged.changes


def test_an_unmanaged_inline_policy_allowing_everything_is_judged_only_when_read(clients, call_log):
    """Inline documents a playbook leaves out are not read for the warnings; an expect: proof reads them."""
    hand_made_role()
    raw_iam().put_role_policy(RoleName="app", PolicyName="god", PolicyDocument=json.dumps(STAR))
    raw_iam().put_role_policy(RoleName="app", PolicyName="fine", PolicyDocument=json.dumps(allow("s3:GetObject")))
    call_log.reset()
    assert warnings_of(plan(clients, role())) == []
    assert "iam:GetRolePolicy" not in call_log.by_operation()
    proven = role(expect={"allowed": [{"action": "s3:GetObject", "resource": "arn:aws:s3:::b/k"}]})
    call_log.reset()
    [warning] = warnings_of(plan(clients, proven))
    assert "inline policy god allowing * on * outside this playbook" in warning
    assert call_log.by_operation()["iam:GetRolePolicy"] == 2 and call_log.writes() == []


def test_no_warning_and_no_extra_read_for_a_role_without_outside_policies(clients, call_log):
    run_resource(clients, book(role()), "iam_role.app")
    call_log.reset()
    result = plan(clients, role())
    assert result.status == OK and warnings_of(result) == []
    assert set(call_log.by_operation()) == {"iam:GetRole", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies"}


def test_plan_warns_about_a_trust_open_to_another_account_without_an_external_id(clients):
    open_trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::210987654321:root"}, "Action": "sts:AssumeRole"}]}
    waived = role(trust_policy=open_trust,
                  waive=[Waiver(rule="cross-account-trust-without-external-id", reason="partner cannot send one")])
    [warning] = warnings_of(plan(clients, waived))
    assert "the trust policy of role app lets" in warning and "210987654321" in warning
    assert "without an sts:ExternalId condition" in warning
    guarded = json.loads(json.dumps(open_trust))
    guarded["Statement"][0]["Condition"] = {"StringEquals": {"sts:ExternalId": "x-1"}}
    assert warnings_of(plan(clients, role(trust_policy=guarded))) == []


# --- exclusive ----------------------------------------------------------------------------------------


def test_an_exclusive_role_has_exactly_the_declared_policies(clients, call_log):
    hand_made_role()
    raw_iam().attach_role_policy(RoleName="app", PolicyArn=ADMIN_ARN)
    raw_iam().put_role_policy(RoleName="app", PolicyName="god", PolicyDocument=json.dumps(STAR))
    exclusive = role(exclusive=True)  # managed_policies and inline_policies left out: none
    planned = plan(clients, exclusive)
    assert planned.changes == ["detach policy AdministratorAccess from role app",
                               "delete inline policy god from role app"]
    assert warnings_of(planned) == []  # managed now: the plan removes them
    assert '-    "arn:aws:iam::aws:policy/AdministratorAccess"' in planned.diff
    call_log.reset()
    assert run_resource(clients, book(exclusive), exclusive.key).status == CHANGED
    assert call_log.writes() == [("iam", "DetachRolePolicy"), ("iam", "DeleteRolePolicy")]
    assert raw_iam().list_attached_role_policies(RoleName="app")["AttachedPolicies"] == []
    assert raw_iam().list_role_policies(RoleName="app")["PolicyNames"] == []
    call_log.reset()
    assert run_resource(clients, book(exclusive), exclusive.key).status == OK and call_log.writes() == []


def test_an_exclusive_role_keeps_what_it_declares(clients, call_log):
    res = role(exclusive=True, managed_policies=[READ_ONLY_ARN], inline_policies={"read": allow("s3:GetObject")})
    play = run_playbook(clients, book(res))
    assert not play.failed
    raw_iam().attach_role_policy(RoleName="app", PolicyArn=ADMIN_ARN)
    call_log.reset()
    again = run_resource(clients, book(res), res.key)
    assert again.changes == ["detach policy AdministratorAccess from role app"]
    assert [p["PolicyArn"] for p in raw_iam().list_attached_role_policies(RoleName="app")["AttachedPolicies"]] \
        == [READ_ONLY_ARN]


def test_exclusive_with_purge_policies_false_is_a_validation_error(tmp_path: Path):
    path = tmp_path / "pb.yaml"
    path.write_text(
        "name: t\nresources:\n  - kind: iam_role\n    name: app\n    exclusive: true\n    purge_policies: false\n"
        f"    trust_policy: {json.dumps(trust())}\n", encoding="utf-8")
    [error] = [str(e) for e in check_playbook(path).errors]
    assert "resource 'app', field 'purge_policies'" in error and "exclusive role" in error
    with pytest.raises(ValueError, match="purge_policies"):
        role(exclusive=True, purge_policies=False)
