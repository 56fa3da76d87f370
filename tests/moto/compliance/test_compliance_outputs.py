"""A swept account whose names start like spreadsheet formulas: the CSV cells are defused, the JSON keeps them."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from compliance_moto_helpers import Sleeps

from iamflow.compliance.config import ComplianceConfig
from iamflow.compliance.sweep import run_sweep
from iamflow.compliance.targets import Target

USER = "=HYPERLINK(1)"  # moto's credential report does not quote, so no comma here
SECRET = "+cmd"


def test_formula_names_are_prefixed_in_the_csv_only(aws: Any, clients: Any, seed: Any, now: Any, tmp_path: Path,
                                                     monkeypatch: Any) -> None:
    monkeypatch.setenv("IAMFLOW_PLAYBOOKS_DIR", str(tmp_path / "no-playbooks"))
    (tmp_path / "no-playbooks").mkdir()
    seed.iam.create_user(UserName=USER)
    seed.iam.create_login_profile(UserName=USER, Password="Correct-Horse-9")
    seed.secrets.create_secret(Name=SECRET, SecretString="x" * 16)

    run_sweep([Target("123456789012")], tmp_path, base=clients, config=ComplianceConfig.load(), now=now,
              run_id="r", sleep=Sleeps())

    with (tmp_path / "r" / "findings.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    mfa = next(r for r in rows if r["check_id"] == "iam_user_mfa_enabled_console_access" and USER in r["resource_id"])
    assert mfa["resource_id"] == "'" + USER
    secret = next(r for r in rows if r["check_id"] == "secretsmanager_automatic_rotation_enabled")
    assert secret["resource_id"] == "'" + SECRET
    assert not any(v.startswith(("=", "+", "-", "@", "\t", "\r")) for r in rows for v in r.values())
    findings = json.loads((tmp_path / "r" / "findings.json").read_text())
    assert {f["resource_id"] for f in findings} >= {USER, SECRET}
