"""A service user's key rotation through `iamflow apply` against the embedded AWS (a moto server on 127.0.0.1).

Over HTTP the proof is a real signed request: the server resolves the key id of the Authorization
header to its user. A run that stops between storing the new key and proving it is resumed by the
next `iamflow apply`, and no command prints a key secret.
"""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from iamflow.cli import main
from iamflow.errors import ApplyError
from iamflow.resources import key_rotation

if TYPE_CHECKING:
    from iamflow.aws.local import LocalAws

pytestmark = pytest.mark.e2e

SECRET = "services/exporter/access-key"
PLAYBOOK = f"""
name: e2e-service-users
resources:
  - kind: iam_user
    name: exporter
    path: /services/
    rotation: {{into_secret: {SECRET}, every_days: 90, grace_days: 7}}
"""


@pytest.fixture
def aws_env(e2e_aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> LocalAws:
    monkeypatch.setenv("AWS_ENDPOINT_URL", e2e_aws.endpoint_url)
    return e2e_aws


def _clients(server: LocalAws) -> tuple[Any, Any]:
    import boto3

    kwargs = {"endpoint_url": server.endpoint_url, "region_name": "us-east-1", "aws_access_key_id": "testing",
              "aws_secret_access_key": "testing"}
    return boto3.client("iam", **kwargs), boto3.client("secretsmanager", **kwargs)


def test_rotation_through_the_cli_resumes_and_never_prints_a_key(aws_env: LocalAws, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.iam.models import iam_backends

    iam, sm = _clients(aws_env)
    playbook = tmp_path / "service-users.yaml"
    playbook.write_text(textwrap.dedent(PLAYBOOK).lstrip(), encoding="utf-8")

    assert main(["apply", str(playbook), "--workers", "1"]) == 0
    first = json.loads(sm.get_secret_value(SecretId=SECRET, VersionStage="AWSCURRENT")["SecretString"])
    assert [k["AccessKeyId"] for k in iam.list_access_keys(UserName="exporter")["AccessKeyMetadata"]] == [
        first["AccessKeyId"]]

    account = iam.get_user(UserName="exporter")["User"]["Arn"].split(":")[4]
    key = iam_backends[account]["aws"].access_keys[first["AccessKeyId"]]
    key.create_date = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=100)

    def crash(*args: Any, **kwargs: Any) -> str:
        raise ApplyError("the worker stopped before the proof")

    monkeypatch.setattr(key_rotation, "prove_key", crash)
    assert main(["apply", str(playbook), "--workers", "1"]) == 1
    pending = json.loads(sm.get_secret_value(SecretId=SECRET, VersionStage="AWSPENDING")["SecretString"])
    monkeypatch.undo()
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_env.endpoint_url)

    assert main(["apply", str(playbook), "--workers", "1"]) == 0
    current = json.loads(sm.get_secret_value(SecretId=SECRET, VersionStage="AWSCURRENT")["SecretString"])
    assert current["AccessKeyId"] == pending["AccessKeyId"] != first["AccessKeyId"]
    statuses = {k["AccessKeyId"]: k["Status"] for k in iam.list_access_keys(UserName="exporter")["AccessKeyMetadata"]}
    assert statuses == {first["AccessKeyId"]: "Active", pending["AccessKeyId"]: "Active"}

    assert main(["plan", str(playbook)]) == 0  # within the grace period: nothing pending
    printed = capsys.readouterr()
    for value in (first["SecretAccessKey"], current["SecretAccessKey"]):
        assert value not in printed.out and value not in printed.err
