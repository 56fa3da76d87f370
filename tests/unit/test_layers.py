"""The import arrows hold: import-linter's contracts for the package, and DAG files that use only the Airflow layer.

import-linter reads its contracts from ``pyproject.toml``; it cannot see ``dags/`` (not a package),
so the DAG files are checked here by reading their imports.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAG_FILES = sorted((REPO / "dags").glob("*.py"))
AIRFLOW_LAYER = "iamflow.airflow"


def test_import_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    env = {**os.environ, "PYTHONPATH": str(REPO / "include")}
    done = subprocess.run(
        [str(lint_imports), "--no-logo", "--no-cache"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, f"lint-imports exited {done.returncode}:\n{done.stdout}\n{done.stderr}"


def _iamflow_imports(path: Path) -> list[tuple[int, str]]:
    """Every ``iamflow`` module the file imports, with its line."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module == "iamflow" and node.level == 0:
            # ``from iamflow import airflow`` names the submodule
            found.extend((node.lineno, f"iamflow.{alias.name}") for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return [(line, name) for line, name in found if name == "iamflow" or name.startswith("iamflow.")]


def test_there_are_dag_files() -> None:
    assert DAG_FILES, f"no DAG files found in {REPO / 'dags'}"


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_dag_file_imports_only_the_airflow_layer(path: Path) -> None:
    wrong = [
        f"dags/{path.name}:{line}: imports {name}"
        for line, name in _iamflow_imports(path)
        if name != AIRFLOW_LAYER and not name.startswith(f"{AIRFLOW_LAYER}.")
    ]
    assert not wrong, f"DAG files import iamflow only through {AIRFLOW_LAYER}:\n" + "\n".join(wrong)


def test_the_sweep_collects_and_judges_without_the_resource_layer() -> None:
    """The collection steps and the checks need neither the engine nor the playbook schema (pydantic).

    The sweep's collection threads used to import the resource layer (half a second) to recognise
    iamflow's own secrets by name, while the other steps' answers waited for the GIL.
    """
    code = """
import sys
from moto import mock_aws
import boto3
from iamflow.aws.clients import AwsClients
from iamflow.compliance.collect import collect_account
from iamflow.compliance import registry
with mock_aws():
    boto3.client("secretsmanager", region_name="us-east-1").create_secret(Name="s", SecretString="x")
    boto3.client("iam", region_name="us-east-1").create_user(UserName="alice")
    snapshot = collect_account(AwsClients.from_boto3(region="us-east-1"), steps=["secrets", "authorization_details"])
    assert not snapshot.errors and len(snapshot.secrets) == 1, snapshot.errors
    registry.evaluate(registry.all_checks(), snapshot, registry_config(), snapshot.collected_at)
print(sorted({m.split(".")[0] + "." + m.split(".")[1] if m.startswith("iamflow.") else m.split(".")[0]
              for m in sys.modules if m.startswith(("iamflow.resources", "iamflow.engine", "pydantic"))}))
""".replace("registry_config()", "__import__('iamflow.compliance.config', fromlist=['x']).ComplianceConfig.load()")
    env = {**os.environ, "PYTHONPATH": str(REPO / "include"), "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "MOTO_IAM_LOAD_MANAGED_POLICIES": "false"}
    env.pop("AWS_ENDPOINT_URL", None)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
