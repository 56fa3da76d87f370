"""Two-phase key rotation of a service user against in-process moto, resumed after a crash between any two steps.

moto accepts any signature, but answers ``GetCallerIdentity`` with the ARN of the IAM user whose key
id signs the request (and a default identity for an unknown key): an answer naming the service user
proves the call was made with its new key, and the rotation also checks the request's Credential.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from _handler_helpers import converge, make_env, operations, plan_of, tag_map
from botocore.exceptions import ClientError

from iamflow.errors import ApplyError, CheckModeViolation
from iamflow.resources import handler_for, key_rotation
from iamflow.resources.base import PlanEnv
from iamflow.spec.kinds_identities import IamUser
from tests.helpers.faults import fail_nth_write

HANDLER = handler_for("iam_user")
ACCOUNT = "123456789012"
SECRET = "services/reporter/access-key"
USER_ARN = f"arn:aws:iam::{ACCOUNT}:user/reporter"


def service_user() -> IamUser:
    return IamUser.model_validate({"kind": "iam_user", "name": "reporter",
                                   "rotation": {"into_secret": SECRET, "every_days": 90, "grace_days": 7}})


@pytest.fixture
def env(clients: Any) -> PlanEnv:
    return make_env(clients, service_user())


@pytest.fixture
def sm() -> Any:
    return boto3.client("secretsmanager", region_name="us-east-1")


def backend() -> Any:
    from moto.iam.models import iam_backends

    return iam_backends[ACCOUNT]["aws"]


def keys(iam: Any) -> list[tuple[str, str]]:
    got = iam.list_access_keys(UserName="reporter")["AccessKeyMetadata"]
    return [(k["AccessKeyId"], k["Status"]) for k in sorted(got, key=lambda k: k["CreateDate"])]


def stored(sm: Any, stage: str = "AWSCURRENT") -> dict[str, str]:
    return json.loads(sm.get_secret_value(SecretId=SECRET, VersionStage=stage)["SecretString"])


def stages(sm: Any) -> dict[str, list[str]]:
    return sm.describe_secret(SecretId=SECRET)["VersionIdsToStages"]


def age_key(key_id: str, days: int) -> None:
    backend().access_keys[key_id].create_date = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=days)


def set_mark(iam: Any, days_ago: int) -> None:
    """Move the recorded promotion back in time (the grace period is days; the test cannot wait)."""
    old, phase, _when = tag_map(iam.get_user(UserName="reporter")["User"]["Tags"])[key_rotation.MARK_TAG].split("|")
    when = (datetime.fromisoformat(_when) - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    iam.tag_user(UserName="reporter", Tags=[{"Key": key_rotation.MARK_TAG, "Value": f"{old}|{phase}|{when}"}])
    # and every use made so far (the proof of each key) with it
    from moto.iam.models import AccessKeyLastUsed

    for key in backend().access_keys.values():
        if key.last_used is not None:
            moved = key.last_used.timestamp - timedelta(days=days_ago)
            key.last_used = AccessKeyLastUsed(moved, key.last_used.service, key.last_used.region)


def mark(iam: Any) -> str | None:
    return tag_map(iam.get_user(UserName="reporter")["User"].get("Tags")).get(key_rotation.MARK_TAG)


def assert_no_secret_shown(plan: Any, *values: str) -> None:
    shown = json.dumps(plan.summary()) + plan.diff() + repr([c.public_params() for c in plan.changes])
    for value in values:
        assert value not in shown


def rotated(clients: Any, env: PlanEnv, iam: Any) -> tuple[str, Any]:
    """Create the user with its first key, age that key past every_days, and run the rotation."""
    converge(HANDLER, clients, service_user(), env)  # the user and its first key
    (first, _), = keys(iam)
    age_key(first, 100)
    return first, converge(HANDLER, clients, service_user(), env)


def test_a_service_user_gets_its_first_key_stored_proven_and_current(clients, env, iam, sm):
    plan = converge(HANDLER, clients, service_user(), env)

    assert operations(plan)[0] == "create_user"
    plan.changes = plan.changes[1:]

    # Secrets Manager makes a secret's first version AWSCURRENT itself: only AWSPENDING is removed
    assert operations(plan) == ["tag_user", "create_secret", "create_access_key", "put_secret_value",
                                "get_caller_identity", "update_secret_version_stage", "untag_user"]
    (key_id, status), = keys(iam)
    value = stored(sm)
    assert value["AccessKeyId"] == key_id and status == "Active"
    assert any(f"{key_id} answered sts:GetCallerIdentity as {USER_ARN}" in n for n in plan.notes)
    assert mark(iam) is None
    assert_no_secret_shown(plan, value["SecretAccessKey"])
    # not due again for 90 days: nothing to do
    assert not plan_of(clients, service_user(), env).changed


def test_a_due_key_is_rotated_in_two_phases(clients, env, iam, sm, call_log, caplog):
    import logging

    caplog.set_level(logging.INFO)
    old, plan = rotated(clients, env, iam)
    assert stored(sm)["SecretAccessKey"] not in caplog.text

    assert operations(plan) == ["tag_user", "create_access_key", "put_secret_value", "get_caller_identity",
                                "update_secret_version_stage", "update_secret_version_stage", "tag_user"]
    (k1, s1), (new, s2) = keys(iam)
    assert (k1, s1, s2) == (old, "Active", "Active")
    assert stored(sm)["AccessKeyId"] == new
    assert all("AWSPENDING" not in s for s in stages(sm).values())
    assert_no_secret_shown(plan, stored(sm)["SecretAccessKey"])

    # within the grace period: the old key stays active
    waiting = converge(HANDLER, clients, service_user(), env)
    assert not waiting.changed and any("deactivated once unused for 7 days" in n for n in waiting.notes)

    set_mark(iam, 8)
    deactivate = converge(HANDLER, clients, service_user(), env)
    assert operations(deactivate) == ["update_access_key", "tag_user"]
    assert keys(iam) == [(old, "Inactive"), (new, "Active")]
    assert tag_map(iam.get_user(UserName="reporter")["User"]["Tags"])[f"iamflow:deactivated:{old}"]

    delete = converge(HANDLER, clients, service_user(), env)  # a later run
    assert operations(delete) == ["delete_access_key", "untag_user"]
    assert keys(iam) == [(new, "Active")] and mark(iam) is None
    call_log.reset()
    assert not converge(HANDLER, clients, service_user(), env).changed
    assert call_log.count(writes=True) == 0


def test_an_old_key_used_after_the_promotion_is_not_deactivated(clients, env, iam):
    old, _plan = rotated(clients, env, iam)
    set_mark(iam, 8)
    from moto.iam.models import AccessKeyLastUsed

    backend().access_keys[old].last_used = AccessKeyLastUsed(datetime.now(UTC).replace(tzinfo=None), "s3", "us-east-1")

    plan = converge(HANDLER, clients, service_user(), env)

    assert not plan.changed and any("was used at" in n for n in plan.notes)
    assert dict(keys(iam))[old] == "Active"


def test_refuses_to_start_when_the_user_has_two_keys(clients, env, iam):
    iam.create_user(UserName="reporter")
    iam.create_access_key(UserName="reporter")
    iam.create_access_key(UserName="reporter")

    plan = plan_of(clients, service_user(), env)

    assert plan.blocked and "refuses to start" in plan.blocked and "two access keys" in plan.blocked
    with pytest.raises(ApplyError, match="Refusing to apply"):
        HANDLER.apply(clients, plan)
    assert len(keys(iam)) == 2


def test_check_mode_shows_the_rotation_and_writes_nothing(clients, check_clients, env, iam, call_log):
    converge(HANDLER, clients, service_user(), env)
    (old, _), = keys(iam)
    age_key(old, 100)
    call_log.reset()

    plan = plan_of(check_clients, service_user(), env)
    assert "create_access_key" in operations(plan)
    with pytest.raises(CheckModeViolation):
        HANDLER.apply(check_clients, plan)

    assert call_log.count(writes=True) == 0
    assert keys(iam) == [(old, "Active")] and mark(iam) is None


def test_the_proof_fails_for_a_key_of_someone_else(clients, env, iam, sm):
    """A pending version whose key answers as another identity is never promoted."""
    _old, _plan = rotated(clients, env, iam)
    iam.create_user(UserName="intruder")
    other = iam.create_access_key(UserName="intruder")["AccessKey"]
    current = stored(sm)["AccessKeyId"]

    with pytest.raises(ApplyError, match=r"answered as arn:aws:iam::123456789012:user/intruder"):
        key_rotation.prove_key(clients, json.dumps({"AccessKeyId": other["AccessKeyId"],
                                                    "SecretAccessKey": other["SecretAccessKey"]}), USER_ARN)
    assert stored(sm)["AccessKeyId"] == current


def final_rotation_state(iam: Any, sm: Any, old: str) -> str:
    """After a rotation completed its first phase: old + one new key, the new one current, nothing pending."""
    listed = keys(iam)
    assert len(listed) == 2 and listed[0] == (old, "Active")
    new = listed[1][0]
    assert stored(sm)["AccessKeyId"] == new
    assert all("AWSPENDING" not in s for s in stages(sm).values())
    assert mark(iam).startswith(f"{old}|promoted|")
    return new


# the first phase's writes: tag_user, create_access_key, put_secret_value, (the proof), 2 x
# update_secret_version_stage, tag_user
PHASE_ONE_WRITES = 6


@pytest.mark.parametrize("n", range(1, PHASE_ONE_WRITES + 1))
def test_the_first_phase_resumes_after_a_crash_before_any_of_its_writes(clients, env, iam, sm, n):
    from iamflow.aws.clients import AwsClients

    converge(HANDLER, clients, service_user(), env)
    (old, _), = keys(iam)
    age_key(old, 100)

    fail_nth_write(clients, n, code="ServiceUnavailable")
    with pytest.raises((ApplyError, ClientError)):
        converge(HANDLER, clients, service_user(), env)

    healthy = AwsClients.from_boto3()
    resumed = converge(HANDLER, healthy, service_user(), env)
    assert resumed.changed
    final_rotation_state(iam, sm, old)
    assert not plan_of(healthy, service_user(), env).changed


def test_the_first_phase_resumes_after_a_crash_between_storing_and_proving(clients, env, iam, sm, monkeypatch):
    converge(HANDLER, clients, service_user(), env)
    (old, _), = keys(iam)
    age_key(old, 100)
    real = key_rotation.prove_key

    def crash(*args: Any, **kwargs: Any) -> str:
        raise RuntimeError("the worker died")

    monkeypatch.setattr(key_rotation, "prove_key", crash)
    with pytest.raises(RuntimeError):
        converge(HANDLER, clients, service_user(), env)
    pending = stored(sm, "AWSPENDING")["AccessKeyId"]
    monkeypatch.setattr(key_rotation, "prove_key", real)

    resumed = converge(HANDLER, clients, service_user(), env)

    # the stored pending key is proven from the secret and promoted: no third key
    assert operations(resumed) == ["get_caller_identity", "update_secret_version_stage", "update_secret_version_stage",
                                   "tag_user"]
    assert final_rotation_state(iam, sm, old) == pending


def test_a_key_whose_secret_was_never_stored_is_replaced(clients, env, iam, sm):
    from iamflow.aws.clients import AwsClients

    converge(HANDLER, clients, service_user(), env)
    (old, _), = keys(iam)
    age_key(old, 100)
    fail_nth_write(clients, 3, code="ServiceUnavailable")  # put_secret_value: the new key's secret is lost
    with pytest.raises((ApplyError, ClientError)):
        converge(HANDLER, clients, service_user(), env)
    (_, _), (orphan, _) = keys(iam)

    resumed = converge(HANDLER, AwsClients.from_boto3(), service_user(), env)

    assert operations(resumed)[0] == "delete_access_key" and orphan in resumed.changes[0].summary
    assert final_rotation_state(iam, sm, old) != orphan


@pytest.mark.parametrize("n", [1, 2])
def test_deactivation_resumes_after_a_crash(clients, env, iam, sm, n):
    from iamflow.aws.clients import AwsClients

    old, _plan = rotated(clients, env, iam)
    set_mark(iam, 8)
    fail_nth_write(clients, n, code="ServiceUnavailable")
    with pytest.raises((ApplyError, ClientError)):
        converge(HANDLER, clients, service_user(), env)

    healthy = AwsClients.from_boto3()
    converge(HANDLER, healthy, service_user(), env)
    assert dict(keys(iam))[old] == "Inactive"
    assert f"iamflow:deactivated:{old}" in tag_map(iam.get_user(UserName="reporter")["User"]["Tags"])
    converge(HANDLER, healthy, service_user(), env)
    assert old not in dict(keys(iam)) and mark(iam) is None


@pytest.mark.parametrize("n", [1, 2])
def test_deletion_resumes_after_a_crash(clients, env, iam, sm, n):
    from iamflow.aws.clients import AwsClients

    old, _plan = rotated(clients, env, iam)
    set_mark(iam, 8)
    converge(HANDLER, clients, service_user(), env)  # deactivates
    fault = fail_nth_write(clients, n, code="ServiceUnavailable")
    with pytest.raises((ApplyError, ClientError)):
        converge(HANDLER, clients, service_user(), env)
    fault.remove()

    healthy = AwsClients.from_boto3()
    converge(HANDLER, healthy, service_user(), env)
    (only, status), = keys(iam)
    assert only != old and status == "Active" and mark(iam) is None
    assert f"iamflow:deactivated:{old}" not in tag_map(iam.get_user(UserName="reporter")["User"].get("Tags"))
    assert not plan_of(healthy, service_user(), env).changed


# a first key: create_secret, create_access_key, put_secret_value (AWSCURRENT at once), (the proof),
# update_secret_version_stage (AWSPENDING off), untag_user; tag_user first
FIRST_KEY_WRITES = 6


@pytest.mark.parametrize("n", range(2, FIRST_KEY_WRITES + 2))
def test_a_first_key_resumes_after_a_crash_and_is_proven_before_it_counts(clients, env, iam, sm, n):
    from iamflow.aws.clients import AwsClients

    fail_nth_write(clients, n, code="AccessDenied")  # write 1 is create_user
    with pytest.raises((ApplyError, ClientError)):
        converge(HANDLER, clients, service_user(), env)

    healthy = AwsClients.from_boto3()
    resumed = converge(HANDLER, healthy, service_user(), env)

    (key_id, _), = keys(iam)
    assert stored(sm)["AccessKeyId"] == key_id
    assert all("AWSPENDING" not in s for s in stages(sm).values()) and mark(iam) is None
    if n <= FIRST_KEY_WRITES:  # it stopped before AWSPENDING came off: the resumed run proves the key
        assert any(f"{key_id} answered sts:GetCallerIdentity" in note for note in resumed.notes), resumed.notes
    else:
        assert operations(resumed) == ["untag_user"]
    assert not plan_of(healthy, service_user(), env).changed


def test_a_key_made_by_hand_is_replaced_by_one_the_secret_holds(clients, env, iam, sm):
    """iamflow cannot read the secret of a key it did not make: the rotation starts at once, whatever its age."""
    iam.create_user(UserName="reporter")
    manual = iam.create_access_key(UserName="reporter")["AccessKey"]["AccessKeyId"]

    plan = converge(HANDLER, clients, service_user(), env)

    assert "create_access_key" in operations(plan)
    (old, _), (new, _) = keys(iam)
    assert old == manual and stored(sm)["AccessKeyId"] == new
    assert mark(iam).startswith(f"{manual}|promoted|")
