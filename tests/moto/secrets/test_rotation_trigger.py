"""The deferrable rotation wait: the trigger (serialize, run) and the sensor's defer / resume paths."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from airflow.sdk.exceptions import AirflowFailException, TaskDeferred
from airflow.sdk.module_loading import import_string

from iamflow.airflow.sensors.secrets import SecretRotationSensor
from iamflow.airflow.triggers.secrets import SecretRotationCompleteTrigger
from iamflow.aws.clients import AwsClients

NAME = "myapp/database/credentials"
VALUE = json.dumps({"username": "app", "password": "Sup3rS3cretValue!x9"})
NEW_VALUE = json.dumps({"username": "app", "password": "fresh-value-123"})


@pytest.fixture
def sm(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A secret on in-process moto; clients "from Airflow" are wired to the same moto."""

    def from_connection(aws_conn_id: str | None = "aws_default", *, region: str | None = None,
                        check_mode: bool = False, call_log: Any = None) -> AwsClients:
        return AwsClients.from_boto3(region=region or "us-east-1", check_mode=check_mode, call_log=call_log)

    monkeypatch.setattr("iamflow.aws.hooks.clients_from_connection", from_connection)
    client = boto3.client("secretsmanager", region_name="us-east-1")
    client.create_secret(Name=NAME, SecretString=VALUE)
    return client


def half_rotation(sm: Any) -> str:
    """Steps 1-2 of the four-step protocol: the new value staged as AWSPENDING."""
    return sm.put_secret_value(SecretId=NAME, SecretString=NEW_VALUE, VersionStages=["AWSPENDING"])["VersionId"]


def finish_rotation(sm: Any, new: str) -> None:
    """Step 4: AWSCURRENT moved to the new version, AWSPENDING removed."""
    stages = sm.describe_secret(SecretId=NAME)["VersionIdsToStages"]
    old = next(v for v, s in stages.items() if "AWSCURRENT" in s)
    sm.update_secret_version_stage(SecretId=NAME, VersionStage="AWSCURRENT", MoveToVersionId=new,
                                   RemoveFromVersionId=old)
    sm.update_secret_version_stage(SecretId=NAME, VersionStage="AWSPENDING", RemoveFromVersionId=new)


def trigger(since: datetime, *, deadline: timedelta = timedelta(seconds=30), **kwargs: Any) -> Any:
    return SecretRotationCompleteTrigger(secret_id=NAME, since=since.isoformat(),
                                         deadline=(datetime.now(UTC) + deadline).isoformat(),
                                         poke_interval=0.01, **kwargs)


def first_event(t: SecretRotationCompleteTrigger, timeout: float = 10) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        gen = t.run()
        try:
            event = await asyncio.wait_for(anext(gen), timeout)
        finally:
            await gen.aclose()
        return event.payload

    return asyncio.run(go())


def sensor(since: datetime, **kwargs: Any) -> SecretRotationSensor:
    return SecretRotationSensor(task_id="wait", secret_id=NAME, since=since.isoformat(), timeout=600,
                                poke_interval=5, **kwargs)


def test_serialize_round_trip() -> None:
    t = SecretRotationCompleteTrigger(secret_id=NAME, since="2025-01-02T03:04:05+00:00",
                                      deadline="2025-01-02T04:04:05+00:00", poke_interval=7,
                                      aws_conn_id="aws_prod", region_name="eu-west-1")
    classpath, kwargs = t.serialize()
    assert import_string(classpath) is SecretRotationCompleteTrigger
    assert kwargs == {"secret_id": NAME, "since": "2025-01-02T03:04:05+00:00",
                      "deadline": "2025-01-02T04:04:05+00:00", "poke_interval": 7.0,
                      "aws_conn_id": "aws_prod", "region_name": "eu-west-1"}
    json.dumps(kwargs)  # plain JSON: identifiers and times, no credentials or clients
    assert import_string(classpath)(**kwargs).serialize() == (classpath, kwargs)


def test_run_yields_success_once_the_rotation_completes(sm: Any) -> None:
    since = datetime.now(UTC)
    new = half_rotation(sm)
    t = trigger(since)

    async def go() -> dict[str, Any]:
        gen = t.run()
        task = asyncio.ensure_future(anext(gen))
        await asyncio.sleep(0.2)  # several polls while AWSPENDING is still in place
        assert not task.done()
        await asyncio.to_thread(finish_rotation, sm, new)
        event = await asyncio.wait_for(task, 10)
        await gen.aclose()
        return event.payload

    payload = asyncio.run(go())
    assert payload == {"status": "success", "secret_id": NAME, "since": since.isoformat()}
    assert "fresh-value" not in json.dumps(payload) and "Sup3r" not in json.dumps(payload)


def test_run_yields_timeout_when_the_rotation_never_completes(sm: Any) -> None:
    half_rotation(sm)
    assert first_event(trigger(datetime.now(UTC), deadline=timedelta(seconds=-1)))["status"] == "timeout"
    assert first_event(trigger(datetime.now(UTC), deadline=timedelta(seconds=0.1)))["status"] == "timeout"


def test_run_yields_error_for_a_missing_secret(sm: Any) -> None:
    t = SecretRotationCompleteTrigger(secret_id="no/such/secret", since=datetime.now(UTC).isoformat(),
                                      deadline=(datetime.now(UTC) + timedelta(seconds=30)).isoformat(),
                                      poke_interval=0.01)
    payload = first_event(t)
    assert payload["status"] == "error"
    assert "ResourceNotFoundException" in payload["message"]


def test_sensor_defers_while_the_rotation_is_in_progress(sm: Any) -> None:
    since = datetime.now(UTC)
    half_rotation(sm)
    with pytest.raises(TaskDeferred) as info:
        sensor(since, aws_conn_id="aws_x").execute({})  # type: ignore[arg-type]
    deferred = info.value
    assert deferred.method_name == "execute_complete"
    assert deferred.timeout >= timedelta(seconds=600)
    classpath, kwargs = deferred.trigger.serialize()
    assert classpath == "iamflow.airflow.triggers.secrets.SecretRotationCompleteTrigger"
    assert kwargs["secret_id"] == NAME and kwargs["aws_conn_id"] == "aws_x" and kwargs["poke_interval"] == 5
    remaining = datetime.fromisoformat(kwargs["deadline"]) - datetime.now(UTC)
    assert timedelta(seconds=590) < remaining <= timedelta(seconds=600)


def test_sensor_returns_without_deferring_when_already_complete(sm: Any) -> None:
    since = datetime.now(UTC)
    finish_rotation(sm, half_rotation(sm))
    result = sensor(since).execute({})  # type: ignore[arg-type]
    assert result == {"secret_id": NAME, "since": since.isoformat(), "status": "complete"}


def test_execute_complete() -> None:
    s = sensor(datetime.now(UTC))
    assert s.execute_complete({}, {"status": "success", "secret_id": NAME})["status"] == "complete"  # type: ignore[arg-type]
    with pytest.raises(AirflowFailException, match="did not finish"):
        s.execute_complete({}, {"status": "timeout", "deadline": "x"})  # type: ignore[arg-type]
    with pytest.raises(AirflowFailException, match="AccessDenied"):
        s.execute_complete({}, {"status": "error", "message": "AccessDenied"})  # type: ignore[arg-type]


def test_non_deferrable_sensor_still_pokes_in_reschedule_mode(sm: Any) -> None:
    since = datetime.now(UTC)
    s = sensor(since, deferrable=False)
    assert s.mode == "reschedule"
    new = half_rotation(sm)
    assert not s.poke({})  # type: ignore[arg-type]
    finish_rotation(sm, new)
    assert s.poke({})  # type: ignore[arg-type]
