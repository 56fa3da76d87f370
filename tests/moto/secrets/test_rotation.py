"""Rotation verification on crafted states: never rotated, overdue, stuck, healthy, validator failing."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from iamflow.secrets.rotation import rotation_complete, summarize, trigger_rotation, verify_rotation
from iamflow.spec.kinds_secrets import Secret

NAME = "myapp/database/credentials"
LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:rot"
VALUE = json.dumps({"username": "app", "password": "Sup3rS3cretValue!x9", "host": "db"})


def declared(**verify: Any) -> Secret:
    return Secret(kind="secret", name=NAME, template={"password": {"generate": {}}},
                  rotation={"lambda_arn": LAMBDA, "every_days": 30, "verify": verify})


@pytest.fixture
def sm(aws: Any) -> Any:
    client = boto3.client("secretsmanager", region_name="us-east-1")
    client.create_secret(Name=NAME, SecretString=VALUE)
    return client


def configure(sm: Any) -> None:
    """Rotation as the handler configures it; moto needs no Lambda for RotateImmediately=False."""
    sm.rotate_secret(SecretId=NAME, RotationRules={"AutomaticallyAfterDays": 30}, RotateImmediately=False)
    # moto's rotate_secret without Lambda stores no ARN: set it as AWS would have it
    _backend_secret().rotation_lambda_arn = LAMBDA


def _backend_secret() -> Any:
    from moto.secretsmanager.models import secretsmanager_backends

    return secretsmanager_backends["123456789012"]["us-east-1"].secrets[NAME]


def by_check(checks: list[Any]) -> dict[str, Any]:
    return {c.check: c for c in checks}


def half_rotation(sm: Any, value: str) -> str:
    """Steps 1-2 of the four-step protocol (createSecret, setSecret); never finished."""
    return sm.put_secret_value(SecretId=NAME, SecretString=value, VersionStages=["AWSPENDING"])["VersionId"]


def finish_rotation(sm: Any, new: str) -> None:
    stages = sm.describe_secret(SecretId=NAME)["VersionIdsToStages"]
    old = next(v for v, s in stages.items() if "AWSCURRENT" in s)
    sm.update_secret_version_stage(SecretId=NAME, VersionStage="AWSCURRENT", MoveToVersionId=new,
                                   RemoveFromVersionId=old)
    sm.update_secret_version_stage(SecretId=NAME, VersionStage="AWSPENDING", RemoveFromVersionId=new)


def test_never_rotated_fails(clients, sm):
    checks = by_check(verify_rotation(clients, [declared()]))
    assert checks["rotation_configured"].status == "FAIL"
    assert checks["last_rotated"].status == "FAIL" and checks["last_rotated"].reason == "never rotated"
    assert checks["next_rotation"].status == "FAIL"


def test_healthy_after_a_completed_simulated_rotation(clients, sm, caplog, call_log):
    caplog.set_level(logging.DEBUG)
    configure(sm)
    new_value = json.dumps({"username": "app", "password": "An0therS3cret!zz", "host": "db"})
    finish_rotation(sm, half_rotation(sm, new_value))
    call_log.reset()
    checks = verify_rotation(clients, [declared(validator={"json_keys": ["username", "password", "host"]})])
    assert {c.status for c in checks} == {"PASS"}, checks
    # two reads per secret when no rotation is in progress (plus the cached caller identity)
    assert call_log.by_operation() == {"sts:GetCallerIdentity": 1, "secretsmanager:DescribeSecret": 1,
                                       "secretsmanager:GetSecretValue": 1}
    text = json.dumps(summarize(checks)) + caplog.text
    for value in (VALUE, new_value, "An0therS3cret!zz", "Sup3rS3cretValue!x9"):
        assert value not in text


def test_overdue_fails_with_the_due_date(clients, sm):
    configure(sm)
    secret = _backend_secret()
    secret.last_rotation_date = int((datetime.now(UTC) - timedelta(days=40)).timestamp())
    secret.next_rotation_date = int((datetime.now(UTC) - timedelta(days=10)).timestamp())
    checks = by_check(verify_rotation(clients, [declared(grace_days=2)]))
    assert checks["last_rotated"].status == "FAIL" and "overdue" in checks["last_rotated"].reason
    assert checks["next_rotation"].status == "FAIL" and "in the past" in checks["next_rotation"].reason
    assert checks["rotation_configured"].status == "PASS"


def test_within_grace_passes(clients, sm):
    configure(sm)
    _backend_secret().last_rotation_date = int((datetime.now(UTC) - timedelta(days=31)).timestamp())
    assert by_check(verify_rotation(clients, [declared(grace_days=2)]))["last_rotated"].status == "PASS"


def test_stuck_pending_version_fails_after_the_threshold(clients, sm, call_log):
    configure(sm)
    half_rotation(sm, json.dumps({"username": "app", "password": "half-way-there-1"}))
    now = datetime.now(UTC)
    checks = by_check(verify_rotation(clients, [declared(pending_max_hours=2)], now=now))
    assert checks["pending_version"].status == "PASS" and "in progress" in checks["pending_version"].reason
    later = by_check(verify_rotation(clients, [declared(pending_max_hours=2)], now=now + timedelta(hours=3)))
    assert later["pending_version"].status == "FAIL" and "stuck" in later["pending_version"].reason
    assert "half-way-there-1" not in json.dumps([c.to_dict() for c in later.values()])
    assert call_log.by_operation()["secretsmanager:ListSecretVersionIds"] == 2


@pytest.mark.parametrize(
    ("validator", "fragment"),
    [({"json_keys": ["username", "port"]}, "lacks the keys port"),
     ({"regex": "^[0-9]+$"}, "does not match"),
     ({"callable": "tests.moto.secrets.test_rotation:leaky_validator"}, "<redacted>")],
)
def test_validator_failing(clients, sm, validator, fragment):
    configure(sm)
    check = by_check(verify_rotation(clients, [declared(validator=validator)]))["current_value"]
    assert check.status == "FAIL" and fragment in check.reason
    assert "Sup3rS3cretValue!x9" not in check.reason


def leaky_validator(secret_string: str, clients: Any) -> tuple[bool, str]:
    """A careless validator that echoes the value; the verifier must scrub it."""
    return False, f"rejected {secret_string} / {json.loads(secret_string)['password']}"


def test_a_raising_validator_is_an_error_without_the_value(clients, sm):
    configure(sm)
    check = by_check(verify_rotation(clients, [declared(validator={"callable": "json:loads"})]))["current_value"]
    # json.loads(value, clients) raises TypeError: an ERROR, never a crash
    assert check.status == "ERROR" and "Sup3rS3cretValue" not in check.reason


def test_include_all_covers_undeclared_secrets(clients, sm):
    sm.create_secret(Name="other", SecretString="x" * 20)
    checks = verify_rotation(clients, [], include_all=True)
    assert {c.secret for c in checks} == {NAME, "other"}
    assert by_check([c for c in checks if c.secret == "other"])["rotation_configured"].status == "FAIL"


def test_missing_secret_is_an_error(clients, aws):
    checks = verify_rotation(clients, [declared()])
    assert {c.status for c in checks} == {"ERROR"}


def test_trigger_and_completion(clients, sm):
    since = datetime.now(UTC)
    assert not rotation_complete(clients, NAME, since + timedelta(seconds=5))
    configure(sm)
    version = trigger_rotation(clients, NAME)
    assert version
    new = half_rotation(sm, json.dumps({"username": "app", "password": "fresh-value-123"}))
    assert not rotation_complete(clients, NAME, since)
    finish_rotation(sm, new)
    assert rotation_complete(clients, NAME, since)


def test_iam_access_key_validator(clients, sm):
    iam = boto3.client("iam", region_name="us-east-1")
    iam.create_user(UserName="svc")
    old = iam.create_access_key(UserName="svc")["AccessKey"]
    sm.create_secret(Name="svc/key", SecretString=json.dumps({"AccessKeyId": old["AccessKeyId"],
                                                             "SecretAccessKey": old["SecretAccessKey"]}))
    new = iam.create_access_key(UserName="svc")["AccessKey"]
    sm.put_secret_value(SecretId="svc/key", SecretString=json.dumps(
        {"AccessKeyId": new["AccessKeyId"], "SecretAccessKey": new["SecretAccessKey"]}))
    spec = Secret(kind="secret", name="svc/key", template={"SecretAccessKey": {"generate": {}}},
                  rotation={"lambda_arn": LAMBDA, "every_days": 30,
                            "verify": {"validator": {"callable": "iamflow.secrets.validators:iam_access_key"}}})
    check = by_check(verify_rotation(clients, [spec]))["current_value"]
    assert check.status == "FAIL" and "still authenticates" in check.reason
    iam.delete_access_key(UserName="svc", AccessKeyId=old["AccessKeyId"])
    check = by_check(verify_rotation(clients, [spec]))["current_value"]
    assert check.status == "PASS", check.reason
    assert new["SecretAccessKey"] not in check.reason and old["SecretAccessKey"] not in check.reason
