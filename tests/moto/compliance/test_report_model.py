"""The one report model over real sweeps of in-process moto: report.html, summary.json and the view agree.

Three ``iamflow sweep`` runs of one account, with two playbooks (drift findings come from them):

1. alice has a console password and no MFA; neither playbook's policy exists: three FAILs, all new;
2. the alpha playbook is applied (its drift FAIL is fixed), the beta playbook file is removed (its
   FAIL is no longer evaluated: ``playbook_removed``, not fixed), bob gets a console password (new);
3. the MFA check is disabled in compliance.yaml: alice and bob are no longer evaluated
   (``check_not_run``), nothing is fixed.

After each run the new / fixed / not-evaluated uids of ``report.html``, of ``summary.json`` and of
the Compliance view (its page and its API) are the same sets, and they are the expected findings.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from iamflow.airflow.ui.app import create_app
from iamflow.cli import main
from iamflow.compliance.results import CHECK_NOT_RUN, PLAYBOOK_REMOVED
from iamflow.compliance.sweep import CREDENTIAL_REPORT_TIME_FIELD
from iamflow.engine import run_playbook
from iamflow.spec.loader import load_playbook

MFA = "iam_user_mfa_enabled_console_access"
DRIFT = "iamflow_playbook_drift"
POLICY = ("  - kind: iam_managed_policy\n    name: {name}\n    document:\n      Version: \"2012-10-17\"\n"
          "      Statement:\n        - {{Effect: Allow, Action: [\"s3:GetObject\"], Resource: \"arn:aws:s3:::{name}/*\"}}\n")


def _playbook(folder: Path, name: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(f"name: {name}\nresources:\n" + POLICY.format(name=f"{name}-policy"))
    return path


def _uids(page: str, table_id: str) -> set[str]:
    """The data-uid of each row of the table ``table_id`` (empty when the page has no such table)."""
    match = re.search(rf'<table id="{table_id}">(.*?)</table>', page, re.S)
    return set(re.findall(r'data-uid="([0-9a-f]+)"', match.group(1))) if match else set()


def _sweep(tmp_path: Path, run_id: str, now: Any, config: Path) -> int:
    return main(["sweep", "--out", str(tmp_path / "reports"), "--run-id", run_id, "--now", now.isoformat(),
                 "--config", str(config), "--mutelist", str(tmp_path / "no-mutelist.yaml")])


def _agree(tmp_path: Path, client: TestClient, run_id: str) -> dict[str, set[str]]:
    """The uids of each change in report.html, summary.json, the view's page and API; assert they agree."""
    run = tmp_path / "reports" / run_id
    html = (run / "report.html").read_text()
    summary = json.loads((run / "summary.json").read_text())
    report = {"new": _uids(html, "changes-new"), "fixed": _uids(html, "changes-fixed"),
              "not_evaluated": _uids(html, "changes-not-evaluated")}
    written = {"new": set(summary["new_failures"]), "fixed": set(summary["fixed"]["uids"]),
               "not_evaluated": set(summary["not_evaluated"]["uids"])}
    page = client.get("/compliance/", params={"run": run_id}).text
    view_page = {"new": _uids(page, "new-failures-table"), "fixed": _uids(page, "fixed-failures-table"),
                 "not_evaluated": _uids(page, "not-evaluated-table")}
    api = client.get("/compliance/api/summary", params={"run": run_id}).json()
    view_api = {k: {f["uid"] for f in api[k if k != "new" else "new_failures"]} for k in ("new", "fixed", "not_evaluated")}
    assert report == written == view_page == view_api, (report, written, view_page, view_api)
    assert api["previous_run_id"] == summary["previous_run"]
    for change, label in (("new", "new-count"), ("fixed", "fixed-count"), ("not_evaluated", "not-evaluated-count")):
        assert f'<span id="{label}">{len(written[change])}</span>' in page
    assert summary["fixed"]["count"] == len(written["fixed"])
    assert summary["not_evaluated"]["count"] == len(written["not_evaluated"])
    return written


@pytest.fixture
def world(aws: Any, clients: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    folder = tmp_path / "playbooks"
    folder.mkdir()
    monkeypatch.setenv("IAMFLOW_PLAYBOOKS_DIR", str(folder))
    (tmp_path / "no-mutelist.yaml").write_text("")
    config = tmp_path / "compliance.yaml"
    config.write_text(f"checks:\n  enabled: [{MFA}, {DRIFT}, iam_user_accesskey_unused]\n")
    return {"folder": folder, "config": config, "alpha": _playbook(folder, "alpha"), "beta": _playbook(folder, "beta")}


def _by(run: Path) -> dict[tuple[str, str], dict[str, Any]]:
    rows = json.loads((run / "findings.json").read_text())
    return {(r["check_id"], r["resource_id"]): r for r in rows}


def test_report_summary_and_view_agree_over_three_runs(world: dict[str, Any], clients: Any, now: Any, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    iam = clients.client("iam")
    root = FastAPI()
    root.mount("/compliance", create_app(tmp_path / "reports", mutelist=tmp_path / "none.yaml", require_auth=False,
                                         dag_run_lookup=None, clock=lambda: now))
    client = TestClient(root)

    iam.create_user(UserName="alice")
    iam.create_login_profile(UserName="alice", Password="Correct-Horse-9")
    assert _sweep(tmp_path, "r1", now, world["config"]) == 0
    one = _by(tmp_path / "reports" / "r1")
    first = _agree(tmp_path, client, "r1")
    assert first == {"new": set(), "fixed": set(), "not_evaluated": set()}  # nothing to compare with
    assert one[(MFA, "alice")]["status"] == "FAIL"
    assert one[(DRIFT, "iam_managed_policy/alpha-policy")]["status"] == "FAIL"
    assert one[(DRIFT, "iam_managed_policy/beta-policy")]["status"] == "FAIL"
    printed = capsys.readouterr().out
    assert "Compliance sweep r1: 3 FAIL" in printed and "no previous run to compare with" in printed

    result = run_playbook(clients, load_playbook(world["alpha"]))
    assert not result.failed, result.results
    world["beta"].unlink()
    iam.create_user(UserName="bob")
    iam.create_login_profile(UserName="bob", Password="Correct-Horse-9")
    assert _sweep(tmp_path, "r2", now + timedelta(minutes=1), world["config"]) == 0
    two = _by(tmp_path / "reports" / "r2")
    second = _agree(tmp_path, client, "r2")
    assert second == {"new": {two[(MFA, "bob")]["uid"]},
                      "fixed": {two[(DRIFT, "iam_managed_policy/alpha-policy")]["uid"]},
                      "not_evaluated": {one[(DRIFT, "iam_managed_policy/beta-policy")]["uid"]}}
    api = client.get("/compliance/api/summary", params={"run": "r2"}).json()
    assert [f["not_evaluated_reason"] for f in api["not_evaluated"]] == [PLAYBOOK_REMOVED]
    summary = json.loads((tmp_path / "reports" / "r2" / "summary.json").read_text())
    assert summary["not_evaluated"]["by_reason"][PLAYBOOK_REMOVED] == 1
    assert [r["resource_id"] for r in summary["resolved_failures"]] == ["iam_managed_policy/alpha-policy"]
    assert summary["still_failing"] == {"count": 1}  # alice
    printed = capsys.readouterr().out
    assert "since run r1:" in printed and "new: 1 (1 high)" in printed and "1 playbook removed" in printed
    # make run prints the same text, from latest/
    from tools.demo import sweep_summary_text

    assert (text := sweep_summary_text(tmp_path / "reports" / "latest")) and text in printed

    world["config"].write_text(f"checks:\n  enabled: [{DRIFT}, iam_user_accesskey_unused]\n")
    assert _sweep(tmp_path, "r3", now + timedelta(minutes=2), world["config"]) == 0
    third = _agree(tmp_path, client, "r3")
    assert third == {"new": set(), "fixed": set(),
                     "not_evaluated": {two[(MFA, "alice")]["uid"], two[(MFA, "bob")]["uid"]}}
    api = client.get("/compliance/api/summary").json()
    assert {f["not_evaluated_reason"] for f in api["not_evaluated"]} == {CHECK_NOT_RUN}
    html = (tmp_path / "reports" / "r3" / "report.html").read_text()
    assert "did not run in the account" in html


def test_findings_from_the_credential_report_carry_its_generation_time(world: dict[str, Any], clients: Any,
                                                                       now: Any, tmp_path: Path) -> None:
    iam = clients.client("iam")
    iam.create_user(UserName="carol")
    iam.create_access_key(UserName="carol")
    assert _sweep(tmp_path, "r1", now, world["config"]) == 0
    generated = iam.get_credential_report()["GeneratedTime"]  # the report the sweep read (and reused)
    run = tmp_path / "reports" / "r1"
    rows = json.loads((run / "findings.json").read_text())
    from_report = [r for r in rows if r["check_id"] in (MFA, "iam_user_accesskey_unused")]
    assert from_report and all(r[CREDENTIAL_REPORT_TIME_FIELD] for r in from_report)
    stamped = {r[CREDENTIAL_REPORT_TIME_FIELD] for r in from_report}
    assert len(stamped) == 1
    assert abs(datetime.fromisoformat(stamped.pop()) - generated) < timedelta(seconds=1)
    assert all(CREDENTIAL_REPORT_TIME_FIELD not in r for r in rows if r["check_id"] == DRIFT)
    # the same field in the CSV's extra column and in the OCSF resource details
    with (run / "findings.csv").open(encoding="utf-8") as fh:
        cells = [json.loads(r["extra"]) for r in csv.DictReader(fh) if r["check_id"] == "iam_user_accesskey_unused"]
    assert cells and all(CREDENTIAL_REPORT_TIME_FIELD in c for c in cells)
    ocsf = json.loads((run / "findings.ocsf.json").read_text())
    details = [o["resources"][0]["data"]["details"] for o in ocsf if o["unmapped"]["check_id"] == MFA]
    assert details and all(CREDENTIAL_REPORT_TIME_FIELD in d for d in details)
