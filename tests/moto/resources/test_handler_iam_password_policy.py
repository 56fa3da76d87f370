"""iam_account_password_policy against in-process moto: set, drift, partial management, check mode, absent, faults."""

from __future__ import annotations

from typing import Any

import pytest
from _handler_helpers import converge, make_env, operations, plan_of
from botocore.exceptions import ClientError

from iamflow.errors import ApplyError, CheckModeViolation
from iamflow.resources import handler_for
from iamflow.resources.base import PlanEnv
from iamflow.spec.kinds_identities import IamAccountPasswordPolicy
from tests.helpers.faults import fail_nth_write

HANDLER = handler_for("iam_account_password_policy")

CIS = dict(minimum_length=14, require_symbols=True, require_numbers=True, require_uppercase=True,
           require_lowercase=True, allow_users_to_change=True, max_age_days=90, reuse_prevention=24,
           hard_expiry=False)


def policy(**fields: Any) -> IamAccountPasswordPolicy:
    return IamAccountPasswordPolicy(kind="iam_account_password_policy", name="account", **fields)


@pytest.fixture
def env(clients: Any) -> PlanEnv:
    return make_env(clients)


def live(iam: Any) -> dict[str, Any] | None:
    try:
        return iam.get_account_password_policy()["PasswordPolicy"]
    except iam.exceptions.NoSuchEntityException:
        return None


def test_sets_the_cis_policy_in_one_call(clients, env, iam):
    plan = converge(HANDLER, clients, policy(**CIS), env)

    assert operations(plan) == ["update_account_password_policy"]
    got = live(iam)
    assert got["MinimumPasswordLength"] == 14 and got["PasswordReusePrevention"] == 24
    assert got["MaxPasswordAge"] == 90 and got["RequireSymbols"] and got["AllowUsersToChangePassword"]
    assert got["HardExpiry"] is False


def test_a_no_op_run_is_one_read_and_no_write(clients, env, call_log):
    converge(HANDLER, clients, policy(**CIS), env)
    call_log.reset()

    plan = converge(HANDLER, clients, policy(**CIS), env)

    assert not plan.changed and plan.diff() == ""
    assert call_log.by_operation() == {"iam:GetAccountPasswordPolicy": 1}


def test_converges_drift_and_keeps_the_fields_it_does_not_manage(clients, env, iam):
    converge(HANDLER, clients, policy(**CIS), env)
    # by hand: a weaker length, and symbols off
    iam.update_account_password_policy(MinimumPasswordLength=8, RequireNumbers=True, RequireUppercaseCharacters=True,
                                       RequireLowercaseCharacters=True, AllowUsersToChangePassword=True,
                                       MaxPasswordAge=90, PasswordReusePrevention=24)

    partial = policy(minimum_length=14)
    plan = converge(HANDLER, clients, partial, env)

    assert operations(plan) == ["update_account_password_policy"]
    assert "minimum_length" in plan.changes[0].summary and "require_symbols" not in plan.changes[0].summary
    got = live(iam)
    # UpdateAccountPasswordPolicy resets what it is not sent: the handler sends the current values
    assert got["MinimumPasswordLength"] == 14 and got["RequireSymbols"] is False
    assert got["PasswordReusePrevention"] == 24 and got["MaxPasswordAge"] == 90
    assert not plan_of(clients, partial, env).changed


def test_null_expiry_and_reuse_mean_never_expires_and_no_reuse_rule(clients, env, iam):
    converge(HANDLER, clients, policy(**CIS), env)

    plan = converge(HANDLER, clients, policy(max_age_days=None, reuse_prevention=None), env)

    assert operations(plan) == ["update_account_password_policy"]
    got = live(iam)
    assert not got.get("MaxPasswordAge") and not got.get("PasswordReusePrevention")
    assert got["MinimumPasswordLength"] == 14


def test_check_mode_never_writes(clients, check_clients, env, call_log, iam):
    iam.update_account_password_policy(MinimumPasswordLength=8)
    call_log.reset()

    plan = plan_of(check_clients, policy(**CIS), env)
    assert operations(plan) == ["update_account_password_policy"]
    assert '"minimum_length": 14' in plan.diff() or "minimum_length" in plan.diff()
    with pytest.raises(CheckModeViolation):
        HANDLER.apply(check_clients, plan)

    assert call_log.count(writes=True) == 0
    assert call_log.refused == [("iam", "UpdateAccountPasswordPolicy")]
    assert live(iam)["MinimumPasswordLength"] == 8


def test_check_mode_absent_never_deletes(clients, check_clients, env, call_log, iam):
    converge(HANDLER, clients, policy(**CIS), env)
    call_log.reset()

    plan = plan_of(check_clients, policy(state="absent"), env)
    with pytest.raises(CheckModeViolation):
        HANDLER.apply(check_clients, plan)

    assert call_log.refused == [("iam", "DeleteAccountPasswordPolicy")]
    assert live(iam)["MinimumPasswordLength"] == 14


def test_absent_deletes_only_when_declared(clients, env, iam):
    converge(HANDLER, clients, policy(**CIS), env)
    # a playbook that declares some fields never deletes the policy
    assert "delete_account_password_policy" not in operations(plan_of(clients, policy(minimum_length=20), env))

    plan = converge(HANDLER, clients, policy(state="absent"), env)

    assert operations(plan) == ["delete_account_password_policy"]
    assert live(iam) is None
    assert not converge(HANDLER, clients, policy(state="absent"), env).changed


def test_a_new_account_gets_every_field_it_declares_and_aws_defaults_for_the_rest(clients, env, iam):
    plan = converge(HANDLER, clients, policy(minimum_length=16), env)

    assert plan.before is None and plan.after["minimum_length"] == 16 and plan.after["require_symbols"] is False
    assert live(iam)["MinimumPasswordLength"] == 16


def test_a_failed_write_is_reported_and_converged_by_the_next_run(clients, env, iam):
    from iamflow.aws.clients import AwsClients

    fail_nth_write(clients, 1, code="AccessDenied")
    with pytest.raises(ApplyError, match=r"^Failed to set the account password policy .*: AccessDenied: "):
        converge(HANDLER, clients, policy(**CIS), env)
    assert live(iam) is None

    healthy = AwsClients.from_boto3()
    converge(HANDLER, healthy, policy(**CIS), env)
    assert live(iam)["MinimumPasswordLength"] == 14


def test_throttling_is_re_raised_for_airflow_to_retry(clients, env):
    fail_nth_write(clients, 1, code="Throttling")

    with pytest.raises(ClientError) as raised:
        converge(HANDLER, clients, policy(**CIS), env)
    assert raised.value.response["Error"]["Code"] == "Throttling"


def test_the_policy_is_one_per_account():
    a, b = policy(**CIS), IamAccountPasswordPolicy(kind="iam_account_password_policy", name="other")
    assert a.identities("x") == b.identities("y")
