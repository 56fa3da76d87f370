"""The KMS, Secrets Manager and Cognito playbooks end to end: ``airflow dags test`` against the embedded AWS.

One Airflow process (the demo runner, :func:`tools.demo.run_dags`) applies the three shipped
``myapp`` playbooks; a second one re-applies them (all ``ok``) and then runs ``secret_rotation``.
The moto server runs in this process, so the test reads the generated values back with boto3 and
proves that none of them reached a task log, the Airflow process's output or an XCom.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from iamflow.secrets.rotation import CHECKS
from iamflow.settings import project_root
from tests.helpers.airflow import recap_totals
from tools.demo import DagTestRun, run_dags

if TYPE_CHECKING:
    from iamflow.aws.local import LocalAws

pytestmark = pytest.mark.e2e

PLAYBOOK_DAGS = ("playbook_myapp_kms", "playbook_myapp_secrets", "playbook_myapp_auth")
ALIAS = "alias/myapp-data-key"
DB_SECRET = "myapp/database/credentials"
POOL, CLIENT, GROUP, ADMIN = "myapp-users", "myapp-web", "admins", "admin"
ADMIN_SECRET = f"iamflow/cognito/{POOL}/{ADMIN}"
CLIENT_SECRET = f"iamflow/cognito/{POOL}/clients/{CLIENT}"
SECRETS_PLAYBOOK = project_root() / "include" / "playbooks" / "myapp-secrets.yaml"
# resources per playbook: iam_role + kms_key; secret; pool + client + group
RESOURCES = {"playbook_myapp_kms": 2, "playbook_myapp_secrets": 1, "playbook_myapp_auth": 3}


def _client(aws: LocalAws, service: str) -> Any:
    import boto3

    return boto3.client(service, endpoint_url=aws.endpoint_url, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def _explain(run: DagTestRun) -> str:
    return f"airflow dags test {run.dag_id} exited {run.returncode}:\n" + "\n".join(run.output.splitlines()[-80:])


def _by_id(runs: list[DagTestRun]) -> dict[str, DagTestRun]:
    return {r.dag_id: r for r in runs}


@pytest.fixture(scope="module")
def applied(e2e_env: dict[str, str], e2e_aws: LocalAws,
            tmp_path_factory: pytest.TempPathFactory) -> dict[str, DagTestRun]:
    """The demo seed (the rotation Lambda), then the three playbook DAGs applied in one Airflow process."""
    from tools.demo_seed import seed

    seed(e2e_aws)
    logs = tmp_path_factory.mktemp("e2e-services-apply")
    runs = _by_id(run_dags(e2e_env, list(PLAYBOOK_DAGS), logs, dag_timeout=300))
    assert set(runs) == set(PLAYBOOK_DAGS), sorted(runs)
    return runs


def _secret_strings(value: str) -> list[str]:
    """The value itself and, for a JSON value, every string field that holds a secret."""
    found = [value]
    try:
        data = json.loads(value)
    except ValueError:
        return found
    if isinstance(data, dict):
        found += [v for k, v in data.items()
                  if isinstance(v, str) and any(w in k.lower() for w in ("password", "secret"))]
    return found


@pytest.fixture(scope="module")
def secret_values(applied: dict[str, DagTestRun], e2e_aws: LocalAws) -> dict[str, str]:
    """Every secret value the apply generated, read back from moto: {label: value}."""
    sm = _client(e2e_aws, "secretsmanager")
    values: dict[str, str] = {}
    db = sm.get_secret_value(SecretId=DB_SECRET)["SecretString"]
    values["db secret"] = db
    values["db password"] = json.loads(db)["password"]
    # every version (moto leaves an AWSPENDING one after configuring rotation, see test_secret_rotation_dag)
    for version in sm.list_secret_version_ids(SecretId=DB_SECRET)["Versions"]:
        other = sm.get_secret_value(SecretId=DB_SECRET, VersionId=version["VersionId"])["SecretString"]
        if other != db:
            values[f"db secret {version['VersionId']}"] = other
            values[f"db password {version['VersionId']}"] = json.loads(other)["password"]
    admin = sm.get_secret_value(SecretId=ADMIN_SECRET)["SecretString"]
    for i, part in enumerate(_secret_strings(admin)):
        values[f"admin temporary password {i}"] = part
    idp = _client(e2e_aws, "cognito-idp")
    pool_id = _pool_id(idp)
    for c in idp.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]:
        described = idp.describe_user_pool_client(UserPoolId=pool_id, ClientId=c["ClientId"])["UserPoolClient"]
        if described.get("ClientSecret"):
            values[f"client secret {c['ClientName']}"] = described["ClientSecret"]
    assert len(values["db password"]) == 32
    assert all(len(v) >= 12 for v in values.values()), {k: len(v) for k, v in values.items()}
    return values


def _pool_id(idp: Any) -> str:
    pools = [p for p in idp.list_user_pools(MaxResults=60)["UserPools"] if p["Name"] == POOL]
    assert len(pools) == 1, pools
    return str(pools[0]["Id"])


def _leaks(values: dict[str, str], texts: dict[str, str]) -> list[str]:
    return [f"{label} in {where}" for where, text in texts.items() for label, v in values.items() if v in text]


def _task_logs(home: Path) -> dict[str, str]:
    files = [p for p in (home / "logs").rglob("*") if p.is_file()]
    return {str(p): p.read_bytes().decode("utf-8", "replace") for p in files}


def _xcoms(home: Path) -> dict[str, str]:
    with contextlib.closing(sqlite3.connect(home / "airflow.db")) as db:
        rows = db.execute("SELECT dag_id, task_id, key, run_id, map_index, value FROM xcom").fetchall()
    return {f"xcom {dag_id}.{task_id}.{key} {run_id} {map_index}":
            value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
            for dag_id, task_id, key, run_id, map_index, value in rows}


def test_apply_creates_the_key_the_secret_and_the_pool(applied: dict[str, DagTestRun], e2e_aws: LocalAws) -> None:
    for dag_id, run in applied.items():
        assert run.succeeded, _explain(run)
        assert run.recap, _explain(run)
        totals = recap_totals(run.recap)
        assert totals["failed"] == 0 and totals["changed"] == RESOURCES[dag_id], run.recap

    kms = _client(e2e_aws, "kms")
    key = kms.describe_key(KeyId=ALIAS)["KeyMetadata"]
    assert key["Enabled"] and key["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is True

    sm = _client(e2e_aws, "secretsmanager")
    described = sm.describe_secret(SecretId=DB_SECRET)
    assert described["RotationEnabled"] is True
    assert described["RotationRules"]["AutomaticallyAfterDays"] == 30
    assert described["RotationLambdaARN"].endswith(":function:myapp-secret-rotation")
    # the playbook names the key by its alias ARN, and Secrets Manager keeps what it was given
    assert described["KmsKeyId"] == key["Arn"].split(":key/")[0] + f":{ALIAS}", described["KmsKeyId"]
    db = json.loads(sm.get_secret_value(SecretId=DB_SECRET)["SecretString"])
    assert set(db) == {"username", "password", "host", "database", "port"}
    assert db["username"] == "myapp_user" and db["port"] == 5432

    idp = _client(e2e_aws, "cognito-idp")
    pool_id = _pool_id(idp)
    clients = idp.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]
    assert [c["ClientName"] for c in clients] == [CLIENT]
    web = idp.describe_user_pool_client(UserPoolId=pool_id, ClientId=clients[0]["ClientId"])["UserPoolClient"]
    assert not web.get("ClientSecret"), "myapp-web is a public client: no secret"
    with pytest.raises(sm.exceptions.ResourceNotFoundException):
        sm.describe_secret(SecretId=CLIENT_SECRET)
    assert [g["GroupName"] for g in idp.list_groups(UserPoolId=pool_id)["Groups"]] == [GROUP]
    user = idp.admin_get_user(UserPoolId=pool_id, Username=ADMIN)
    assert user["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    in_group = idp.list_users_in_group(UserPoolId=pool_id, GroupName=GROUP)["Users"]
    assert [u["Username"] for u in in_group] == [ADMIN]
    assert sm.describe_secret(SecretId=ADMIN_SECRET)["Name"] == ADMIN_SECRET
    # the stored temporary password is the one the user was created with (moto runs in this process)
    from moto.cognitoidp.models import cognitoidp_backends

    moto_user = cognitoidp_backends["123456789012"]["us-east-1"].user_pools[pool_id].users[ADMIN]
    assert moto_user.password == sm.get_secret_value(SecretId=ADMIN_SECRET)["SecretString"]


def test_no_secret_value_in_task_logs_output_or_xcom(applied: dict[str, DagTestRun], secret_values: dict[str, str],
                                                    e2e_airflow_home: Path) -> None:
    # `airflow dags test` runs the tasks in its own process and their task logs go to its console,
    # i.e. the captured output; every file under $AIRFLOW_HOME/logs is scanned all the same
    texts = _scanned(applied.values(), e2e_airflow_home)
    secrets_log = applied["playbook_myapp_secrets"].output
    assert f"create secret {DB_SECRET} with a value generated at apply time" in secrets_log, secrets_log
    assert f"the temporary password is in Secrets Manager secret {ADMIN_SECRET}" in applied["playbook_myapp_auth"].output
    assert any(k.startswith("xcom playbook_myapp_secrets.") for k in texts), sorted(texts)
    assert not _leaks(secret_values, texts)


def _scanned(runs: Any, home: Path) -> dict[str, str]:
    return {**_task_logs(home), **{f"output of {r.dag_id}": r.output for r in runs}, **_xcoms(home)}


@pytest.fixture(scope="module")
def versions_before(applied: dict[str, DagTestRun], e2e_aws: LocalAws) -> dict[str, dict[str, list[str]]]:
    sm = _client(e2e_aws, "secretsmanager")
    return {name: sm.describe_secret(SecretId=name)["VersionIdsToStages"] for name in (DB_SECRET, ADMIN_SECRET)}


@pytest.fixture(scope="module")
def rerun(applied: dict[str, DagTestRun], secret_values: dict[str, str],
          versions_before: dict[str, dict[str, list[str]]], e2e_env: dict[str, str],
          tmp_path_factory: pytest.TempPathFactory) -> dict[str, DagTestRun]:
    """The three playbook DAGs again, then secret_rotation, in one Airflow process."""
    logs = tmp_path_factory.mktemp("e2e-services-rerun")
    runs = _by_id(run_dags(e2e_env, [*PLAYBOOK_DAGS, "secret_rotation"], logs, dag_timeout=300))
    assert set(runs) == {*PLAYBOOK_DAGS, "secret_rotation"}, sorted(runs)
    return runs


def test_a_rerun_changes_nothing_and_keeps_every_value(rerun: dict[str, DagTestRun], secret_values: dict[str, str],
                                                       versions_before: dict[str, dict[str, list[str]]],
                                                       e2e_aws: LocalAws) -> None:
    for dag_id in PLAYBOOK_DAGS:
        run = rerun[dag_id]
        assert run.succeeded, _explain(run)
        assert run.recap, _explain(run)
        assert recap_totals(run.recap) == {"ok": RESOURCES[dag_id], "changed": 0, "failed": 0, "skipped": 0}, \
            run.recap
    sm = _client(e2e_aws, "secretsmanager")
    assert sm.get_secret_value(SecretId=DB_SECRET)["SecretString"] == secret_values["db secret"]
    assert sm.get_secret_value(SecretId=ADMIN_SECRET)["SecretString"] == secret_values["admin temporary password 0"]
    for name, before in versions_before.items():
        assert sm.describe_secret(SecretId=name)["VersionIdsToStages"] == before, f"{name}: a re-run wrote a version"


def test_secret_rotation_dag(rerun: dict[str, DagTestRun], secret_values: dict[str, str],
                             e2e_airflow_home: Path) -> None:
    """Right after setup every check passes against moto, the pending one thanks to a moto quirk.

    moto's ``RotateSecret`` with ``RotateImmediately=False`` (how iamflow configures rotation) still
    stamps ``LastRotatedDate``/``NextRotationDate`` and labels a copy of the value ``AWSPENDING``, and
    reports that version's creation date as the time of the call. So ``last_rotated`` and
    ``next_rotation`` pass, and ``pending_version`` sees a rotation "in progress" younger than the
    playbook's 24 h threshold: PASS. (Real AWS would say "never rotated" here.)
    """
    run = rerun["secret_rotation"]
    assert run.succeeded, _explain(run)
    statuses = {check: "PASS" for check in CHECKS}
    table = [line.split()[:3] for line in run.output.splitlines() if line.split()[:2][1:] == [DB_SECRET]]
    assert {check: status for status, _, check in table} == statuses, run.output
    assert "pending_version     a rotation is in progress since" in run.output
    assert not _leaks(secret_values, _scanned(rerun.values(), e2e_airflow_home))
    summaries = [json.loads(v) for k, v in _xcoms(e2e_airflow_home).items()
                 if k.startswith("xcom secret_rotation.verify_rotation.return_value ")]
    assert summaries and summaries[-1]["counts"] == {"PASS": 5, "FAIL": 0, "ERROR": 0}, summaries


def test_verify_rotation_cli(applied: dict[str, DagTestRun], secret_values: dict[str, str], e2e_aws: LocalAws,
                             monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from iamflow.aws.local import local_env
    from iamflow.cli import main

    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in local_env(e2e_aws.endpoint_url).items():
        monkeypatch.setenv(name, value)
    code = main(["verify-rotation", str(SECRETS_PLAYBOOK), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    summary = json.loads(out)
    assert summary["secrets"] == 1 and summary["failing"] == [], summary
    assert [(c["secret"], c["check"], c["status"]) for c in summary["checks"]] == \
        [(DB_SECRET, check, "PASS") for check in CHECKS], summary
    assert not _leaks(secret_values, {"stdout": out, "stderr": err})
