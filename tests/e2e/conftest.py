"""End-to-end fixtures: a migrated Airflow home for the session, the embedded AWS, the CLI's environment.

Airflow runs as a child process (``airflow dags test``), exactly as ``make run`` runs it; the moto
server runs in this process, so a test can inspect AWS with boto3 afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tools.demo import airflow_env, migrate

if TYPE_CHECKING:
    from iamflow.aws.local import LocalAws

# nothing listens here: migrating needs no AWS, but the environment must not point at a real one
_NO_AWS = "http://127.0.0.1:9"


@pytest.fixture(scope="session")
def e2e_airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An Airflow home with a migrated SQLite metadata DB, shared by every end-to-end test."""
    home = tmp_path_factory.mktemp("e2e-airflow-home")
    migrate(airflow_env(_NO_AWS, home), home / "db-migrate.log")
    return home


@pytest.fixture(scope="module")
def e2e_aws() -> Iterator[LocalAws]:
    """The embedded AWS on a free port of 127.0.0.1, empty, for one test module.

    AWS-managed policies are not loaded (they cost seconds per account); a test that attaches
    one starts its own ``LocalAws()``.
    """
    from iamflow.aws.local import LocalAws

    with LocalAws(port=0, load_managed_policies=False) as server:
        server.reset()  # moto's backends are process-global: start each module from an empty account
        yield server


@pytest.fixture(scope="module")
def e2e_env(e2e_airflow_home: Path, e2e_aws: LocalAws) -> dict[str, str]:
    """Environment for Airflow CLI calls: the session's home, the repo's dags/, ``aws_default`` on moto."""
    return airflow_env(e2e_aws.endpoint_url, e2e_airflow_home)


@pytest.fixture(scope="module")
def e2e_iam(e2e_aws: LocalAws) -> Any:
    """A boto3 IAM client on the embedded AWS, to check what a DAG run did."""
    import boto3

    return boto3.client("iam", endpoint_url=e2e_aws.endpoint_url, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")
