"""Honest results: a resource that fails after some of its changes were applied says so.

For every kind, the fault injector fails one write of the resource's apply with a permanent error
(a 400 botocore does not retry). The result stays ``failed``, with ``partial: true``, the changes
that were applied and the step that failed; the log and the recap (``failed=1 partial=1``) show
both. The writes before the fault reached moto (counted through the call log and checked with a
plain client), and the next run converges from there: one more run changes what is left, and a
third makes no write at all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from _handler_helpers import allow, trust

from iamflow.engine import CHANGED, FAILED, OK, format_recap, format_result, run_playbook, run_resource
from iamflow.spec.kinds_cognito import CognitoAppClient, CognitoGroup, CognitoUserPool
from iamflow.spec.kinds_kms import KmsKey
from iamflow.spec.kinds_secrets import Secret
from iamflow.spec.models import IamInstanceProfile, IamManagedPolicy, IamRole, Playbook, ResourceBase
from tests.helpers.faults import fail_nth_write

pytestmark = pytest.mark.usefixtures("no_retry_delay")

DOC = allow("s3:ListAllMyBuckets")
OTHER_DOC = allow("s3:GetObject", resource="arn:aws:s3:::bucket/*")


def pool() -> CognitoUserPool:
    return CognitoUserPool(kind="cognito_user_pool", name="users", mfa="OPTIONAL", tags={"app": "a"})


@dataclass
class Case:
    """One kind's partial failure: what exists first, what the playbook then declares, which write fails."""

    kind: str
    target: Callable[[], ResourceBase]
    fail_at: int  # 1-based, among the target's writes
    before: Callable[[], list[ResourceBase]] = lambda: []  # converged first (prerequisites, an old state)
    others: Callable[[], list[ResourceBase]] = lambda: []  # the rest of the playbook (already converged)


CASES = [
    # the issue's scenario: the role is created, then its inline policy is refused
    Case("iam_role", lambda: IamRole(kind="iam_role", name="app", trust_policy=trust(),
                                     inline_policies={"read": DOC}), fail_at=2),
    Case("iam_role", lambda: IamRole(kind="iam_role", name="app", trust_policy=trust(),
                                     managed_policies=["arn:aws:iam::aws:policy/ReadOnlyAccess"],
                                     inline_policies={"read": DOC}), fail_at=3),
    # an update: a new default version is made, then the tag change is refused
    Case("iam_managed_policy",
         lambda: IamManagedPolicy(kind="iam_managed_policy", name="app", document=OTHER_DOC, tags={"v": "2"}),
         fail_at=2,
         before=lambda: [IamManagedPolicy(kind="iam_managed_policy", name="app", document=DOC, tags={"v": "1"})]),
    Case("iam_instance_profile", lambda: IamInstanceProfile(kind="iam_instance_profile", name="app", role="app"),
         fail_at=2, before=lambda: [IamRole(kind="iam_role", name="app", trust_policy=trust())],
         others=lambda: [IamRole(kind="iam_role", name="app", trust_policy=trust())]),
    Case("kms_key", lambda: KmsKey(kind="kms_key", name="data", description="data key", rotation=True), fail_at=2),
    Case("kms_key", lambda: KmsKey(kind="kms_key", name="data", description="data key", rotation=True), fail_at=3),
    Case("secret", lambda: Secret(kind="secret", name="app/db", description="db", generate={"length": 32},
                                  tags={"v": "2"}, resource_policy=_secret_policy()),
         fail_at=2,
         before=lambda: [Secret(kind="secret", name="app/db", description="db", generate={"length": 32},
                                tags={"v": "1"})]),
    Case("cognito_user_pool", pool, fail_at=2),
    Case("cognito_app_client",
         lambda: CognitoAppClient(kind="cognito_app_client", name="backend", user_pool="users",
                                  generate_secret=True, explicit_auth_flows=["ALLOW_USER_SRP_AUTH"]),
         fail_at=2, before=lambda: [pool()], others=lambda: [pool()]),
    # a group is one call: its failure is not partial, and says so
    Case("cognito_group",
         lambda: CognitoGroup(kind="cognito_group", name="admins", user_pool="users", description="admins"),
         fail_at=1, before=lambda: [pool()], others=lambda: [pool()]),
]


def _secret_policy() -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": "secretsmanager:DeleteSecret", "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:PrincipalAccount": "123456789012"}}}]}


def _code(service: str) -> str:
    # a permanent error each service models (a 400 that botocore does not retry)
    return "MalformedPolicyDocument" if service == "iam" else "InvalidParameterException"


def book(*resources: ResourceBase) -> Playbook:
    return Playbook(name="t", resources=list(resources))


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.kind}-write{c.fail_at}")
def test_a_failure_after_applied_changes_is_failed_and_partial_and_the_next_run_converges(
        clients, call_log, caplog, case):
    if case.before():
        assert not run_playbook(clients, book(*case.before())).failed
    target = case.target()
    playbook = book(*case.others(), target)
    planned = next(r for r in run_playbook(clients, playbook, check_mode=True).results if r.resource == target.key)
    assert planned.status == CHANGED and len(planned.changes) >= case.fail_at

    call_log.reset()
    service = {"iam": "iam", "kms": "kms", "sec": "secretsmanager", "cog": "cognito-idp"}[case.kind[:3]]
    fault = fail_nth_write(clients, case.fail_at, _code(service))
    with caplog.at_level(logging.ERROR, logger="iamflow.engine"):
        play = run_playbook(clients, playbook, workers=1)
    result = next(r for r in play.results if r.resource == target.key)

    assert len(fault.failed) == 1 and fault.failed_sends == 1  # permanent: sent once
    assert result.status == FAILED
    assert result.applied == planned.changes[:case.fail_at - 1]
    assert result.failed_step == planned.changes[case.fail_at - 1]
    assert result.partial is (case.fail_at > 1)
    assert result.to_dict()["partial"] is result.partial  # what goes to XCom
    assert _code(service) in (result.error or "")
    # the applied writes reached AWS: the call log holds them, the failed one, and nothing after
    assert len(call_log.writes()) == case.fail_at

    printed = format_result(result)
    for step in result.applied:
        assert f"applied: {step}" in printed
    assert f"failed: {result.failed_step}" in printed
    recap = format_recap("t", play.results)
    total = recap.splitlines()[-1]
    if result.partial:
        assert "partial: " in printed.splitlines()[0]
        assert "failed=1 partial=1" in total and play.partial == 1
        assert f"failed after {case.fail_at - 1} of its changes were applied" in caplog.text
        assert all(step in caplog.text for step in [*result.applied, result.failed_step])
    else:
        assert "partial" not in total and play.partial == 0

    fault.remove()
    call_log.reset()
    second = run_playbook(clients, playbook, workers=1)
    again = next(r for r in second.results if r.resource == target.key)
    assert again.status == CHANGED and not second.failed and not again.partial
    # only what the failed run left undone is written now (nothing is created twice); a key's
    # envelope round trip after the apply is a check, not a change
    writes = [w for w in call_log.writes() if w not in (("kms", "GenerateDataKey"), ("kms", "Decrypt"))]
    assert len(writes) == len(planned.changes) - len(result.applied), writes
    call_log.reset()
    third = run_playbook(clients, playbook, workers=1)
    assert {r.status for r in third.results} == {OK} and call_log.writes() == []


def test_the_issue_s_role_left_behind_is_reported_and_converged(clients, call_log):
    """A role trusting another account is created, then its inline policy fails: the result says so."""
    iam = boto3.client("iam", region_name="us-east-1")
    role = IamRole(kind="iam_role", name="partner", trust_policy={
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::210987654321:root"}, "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": "partner-1"}}}]},
        inline_policies={"read": DOC})
    playbook = book(role)
    fault = fail_nth_write(clients, 2, "MalformedPolicyDocument")
    result = run_resource(clients, playbook, role.key)  # a permanent failure is a result, not an exception
    assert (result.status, result.partial) == (FAILED, True)
    assert result.applied == ["create role partner"]
    assert result.failed_step == "put inline policy read on role partner"
    assert iam.get_role(RoleName="partner")["Role"]["RoleName"] == "partner"
    assert iam.list_role_policies(RoleName="partner")["PolicyNames"] == []
    fault.remove()
    call_log.reset()
    again = run_resource(clients, playbook, role.key)
    assert again.status == CHANGED and again.changes == ["put inline policy read on role partner"]
    assert call_log.writes() == [("iam", "PutRolePolicy")]


def test_a_transient_failure_after_applied_changes_is_re_raised_with_its_partial_result(clients, call_log):
    """Throttling or a 5xx goes back to the caller (Airflow's retries apply) carrying what was applied."""
    from iamflow.engine import result_of

    role = IamRole(kind="iam_role", name="app", trust_policy=trust(), inline_policies={"read": DOC})
    fault = fail_nth_write(clients, 2, "ServiceFailure", status=500)
    with pytest.raises(Exception, match="ServiceFailure") as raised:
        run_resource(clients, book(role), role.key)
    assert fault.failed_sends > 1  # botocore retried it before giving up
    carried = result_of(raised.value)
    assert carried is not None and carried.partial and carried.applied == ["create role app"]
    assert carried.failed_step == "put inline policy read on role app"
    # the whole play reports it the same way, and goes on
    fault.remove()
    fault = fail_nth_write(clients, 1, "ServiceFailure", status=500)
    play = run_playbook(clients, book(role))
    [result] = play.results
    assert result.status == FAILED and not result.partial and result.failed_step == "put inline policy read on role app"


def test_a_recap_without_partial_failures_keeps_its_columns():
    from iamflow.engine import ResourceResult

    recap = format_recap("t", [ResourceResult("iam_role.a", CHANGED), ResourceResult("iam_role.b", FAILED)])
    assert recap.splitlines()[-1].endswith("ok=0  changed=1  failed=1  skipped=0")
    partial = ResourceResult("iam_role.c", FAILED, partial=True, applied=["create role c"], failed_step="x")
    lines = format_recap("t", [ResourceResult("iam_role.a", CHANGED), partial]).splitlines()
    assert lines[1].endswith("ok=0  changed=1  failed=0 partial=0  skipped=0")
    assert lines[2].endswith("ok=0  changed=0  failed=1 partial=1  skipped=0")
    assert lines[-1].endswith("ok=0  changed=1  failed=1 partial=1  skipped=0")
