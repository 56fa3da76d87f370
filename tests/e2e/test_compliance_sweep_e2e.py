"""The compliance_sweep DAG under ``airflow dags test`` against the embedded AWS seeded with the demo account.

The moto server runs in this process, so the demo seed backdates users and keys, and the test
reads the seeded access keys' secrets from moto's backend to prove that no report contains them.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from iamflow.compliance.findings import CONTRACT_FIELDS
from iamflow.settings import project_root
from tests.helpers.airflow import dags_test
from tools.demo import DagTestRun

if TYPE_CHECKING:
    from iamflow.aws.local import LocalAws

pytestmark = pytest.mark.e2e

DAG_FILE = project_root() / "dags" / "compliance_sweep.py"
DAG_ID = "compliance_sweep"
REPORTS = ("findings.json", "findings.csv", "report.html", "findings.ocsf.json")
# (check, resource id) the seeded demo account must fail
EXPECTED_FAILURES = {
    ("iam_user_mfa_enabled_console_access", "demo-bob"),
    ("iam_rotate_access_key_90_days", "demo-carol"),
    ("iam_user_accesskey_unused", "demo-dave"),
    ("iam_user_two_active_access_key", "demo-erin"),
    ("iam_policy_attached_only_to_group_or_roles", "demo-frank"),
    ("iam_customer_attached_policy_no_administrative_privileges", "demo-everything"),
    ("iam_role_cross_account_trust_requires_external_id", "demo-partner-access"),
    ("iam_password_policy_minimum_length_14", None),
    ("iam_password_policy_reuse_24", None),
    ("kms_cmk_rotation_enabled", None),
    ("secretsmanager_automatic_rotation_enabled", "demo/legacy-api-token"),
}


@pytest.fixture(scope="module")
def seeded(e2e_aws: LocalAws) -> dict[str, Any]:
    """The demo account in the module's embedded AWS, and every secret value it holds."""
    import boto3
    from moto.iam.models import iam_backends

    from tools.demo_seed import DEMO_USERS, SECRET_NAME, seed_compliance_demo

    demo = seed_compliance_demo(e2e_aws.endpoint_url)
    assert demo.backdated, demo.note
    backend = iam_backends[demo.account_id]["aws"]
    secrets = [k.secret_access_key for u in DEMO_USERS for k in backend.users[u.name].access_keys]
    sm = boto3.client("secretsmanager", endpoint_url=e2e_aws.endpoint_url, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    secrets.append(sm.get_secret_value(SecretId=SECRET_NAME, VersionStage="AWSCURRENT")["SecretString"])
    assert len(secrets) == 5 and all(len(s) >= 20 for s in secrets)
    return {"account_id": demo.account_id, "secrets": secrets}


@pytest.fixture(scope="module")
def run(e2e_env: dict[str, str], seeded: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> tuple[DagTestRun, Path]:
    reports = tmp_path_factory.mktemp("e2e-sweep-reports")
    env = {**e2e_env, "IAMFLOW_REPORT_DIR": str(reports)}
    logs = tmp_path_factory.mktemp("e2e-sweep-logs")
    result = dags_test(DAG_ID, env, dagfile=DAG_FILE, log_path=logs / f"{DAG_ID}.log", timeout=300)
    return result, reports


def _explain(result: DagTestRun) -> str:
    return f"airflow dags test {DAG_ID} exited {result.returncode}:\n" + "\n".join(result.output.splitlines()[-60:])


def test_the_dag_run_succeeds_and_logs_a_summary(run: tuple[DagTestRun, Path]) -> None:
    result, reports = run
    assert result.succeeded, _explain(result)
    assert "COMPLIANCE SWEEP " in result.output and f"latest: {reports / 'latest'}" in result.output, _explain(result)


def test_the_posture_task_logs_the_counts_and_notifies_a_first_run(run: tuple[DagTestRun, Path]) -> None:
    result, reports = run
    assert result.succeeded, _explain(result)  # the shipped gate notifies: the run stays green
    summary = json.loads((reports / "latest" / "summary.json").read_text(encoding="utf-8"))
    assert f"Compliance sweep {summary['run_id']}: {summary['totals']['FAIL']} FAIL" in result.output, _explain(result)
    assert "no previous run to compare with: every FAIL is new" in result.output
    assert "Posture gate (on_new_fail=notify, min_severity=high): notify." in result.output, _explain(result)
    assert "failing finding(s) in a first sweep of severity high+" in result.output


def test_the_four_reports_exist_in_the_run_folder_and_latest(run: tuple[DagTestRun, Path]) -> None:
    result, reports = run
    assert result.succeeded, _explain(result)
    runs = [p for p in reports.iterdir() if p.is_dir() and p.name != "latest"]
    assert len(runs) == 1, sorted(reports.iterdir())
    for folder in (runs[0], reports / "latest"):
        for name in REPORTS:
            assert (folder / name).is_file() and (folder / name).stat().st_size > 0, folder / name
    with (reports / "latest" / "findings.csv").open(newline="", encoding="utf-8") as fh:
        assert set(CONTRACT_FIELDS) <= set(next(csv.reader(fh)))


def test_the_seeded_problems_are_failures_with_the_contract_fields(run: tuple[DagTestRun, Path],
                                                                    seeded: dict[str, Any]) -> None:
    result, reports = run
    assert result.succeeded, _explain(result)
    findings = json.loads((reports / "latest" / "findings.json").read_text(encoding="utf-8"))
    account = seeded["account_id"]
    for f in findings:
        missing = [k for k in CONTRACT_FIELDS if k not in f]
        assert not missing, (missing, f)
        assert f["account_id"] == account
    failing = {(f["check_id"], f["resource_id"]) for f in findings if f["status"] == "FAIL"}
    failing_checks = {f["check_id"] for f in findings if f["status"] == "FAIL"}
    for check, resource in EXPECTED_FAILURES:
        assert ((check, resource) in failing) if resource else (check in failing_checks), (check, resource)
    bob = next(f for f in findings if f["check_id"] == "iam_user_mfa_enabled_console_access"
               and f["resource_id"] == "demo-bob")
    assert bob["resource_arn"] == f"arn:aws:iam::{account}:user/iamflow-demo/demo-bob"
    assert bob["severity"] in ("critical", "high", "medium", "low", "informational")
    assert bob["compliance"] == {"CIS-3.0": ["1.10"], "CIS-5.0": ["1.9"], "FSBP": ["IAM.5"]}
    carol = next(f for f in findings if f["check_id"] == "iam_rotate_access_key_90_days" and f["status"] == "FAIL")
    assert carol["access_key_id"] and carol["access_key_id"] in carol["message"]
    alice = {f["status"] for f in findings if f["resource_id"] == "demo-alice"
             and f["check_id"] == "iam_user_mfa_enabled_console_access"}
    assert alice == {"PASS"}
    # moto's credential report has no <root_account> row: root usage is unknown, and says so
    root_usage = [f for f in findings if f["check_id"] == "iam_avoid_root_usage"]
    assert [f["status"] for f in root_usage] == ["ERROR"]
    # the drift check ran against the shipped playbooks (none applied here: they are missing)
    assert any(f["check_id"] == "iamflow_playbook_drift" and f["status"] == "FAIL" for f in findings)


def test_no_report_contains_a_secret_value(run: tuple[DagTestRun, Path], seeded: dict[str, Any]) -> None:
    result, reports = run
    assert result.succeeded, _explain(result)
    files = [p for p in reports.rglob("*") if p.is_file()]
    assert len(files) >= 2 * len(REPORTS)
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        leaked = [s[:4] + "..." for s in seeded["secrets"] if s in text]
        assert not leaked, f"{path} contains secret value(s) {leaked}"
    leaked_in_log = [s[:4] + "..." for s in seeded["secrets"] if s in result.output]
    assert not leaked_in_log, f"the task logs contain secret value(s) {leaked_in_log}"


def test_the_report_asset_event_carries_the_run(run: tuple[DagTestRun, Path], e2e_airflow_home: Path) -> None:
    import sqlite3

    result, reports = run
    assert result.succeeded, _explain(result)
    with sqlite3.connect(e2e_airflow_home / "airflow.db") as db:
        rows = db.execute("SELECT e.extra, e.source_task_id FROM asset_event e JOIN asset a ON a.id = e.asset_id "
                          "WHERE a.uri = ? AND e.source_dag_id = ?",
                          ("x-iamflow://reports/compliance/latest", DAG_ID)).fetchall()
    assert [task for _, task in rows] == ["merge_reports"], rows
    extra = json.loads(rows[0][0])
    assert extra["latest_dir"] == str(reports / "latest") and extra["totals"]["FAIL"] > 0
