"""``--var`` on the commands that reach AWS, and values from the environment never shown.

``plan``, ``apply``, ``verify-rotation`` and ``sweep`` (its drift check) run against in-process
moto. A role whose trust takes its ExternalId from ``${env:NAME}`` is planned and applied: the
value reaches AWS (read back with a plain client) but never the plan, the diff, the printed
output or the log.
"""

from __future__ import annotations

import json
import logging
import textwrap
from pathlib import Path

import boto3
import pytest

from iamflow.cli import main
from iamflow.engine import run_resource
from iamflow.settings import PLAYBOOKS_DIR_ENV
from iamflow.spec.loader import load_playbook

EXTERNAL_ID = "x-7f3c2a91-never-shown"  # what the environment holds


def write(tmp_path: Path, text: str, name: str = "pb.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


ROLE = """\
    name: outside
    resources:
      - kind: iam_role
        name: app-${suffix}
        trust_policy:
          Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Principal: {Service: lambda.amazonaws.com}
              Action: sts:AssumeRole
    """

PARTNER = """\
    name: partner
    vars:
      external_id: ${env:IAMFLOW_TEST_EXTERNAL_ID}
    resources:
      - kind: iam_role
        name: partner
        description: assumed by the partner with ${external_id}
        trust_policy:
          Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Principal: {AWS: "arn:aws:iam::210987654321:root"}
              Action: sts:AssumeRole
              Condition: {StringEquals: {"sts:ExternalId": "${external_id}"}}
    """


def test_plan_and_apply_take_var(aws, tmp_path, capsys):
    iam = boto3.client("iam", region_name="us-east-1")
    path = write(tmp_path, ROLE)
    assert main(["plan", str(path)]) == 1  # ${suffix} is defined nowhere: nothing sent
    assert "unknown variable ${suffix}" in capsys.readouterr().err
    assert main(["plan", str(path), "--var", "suffix=zz"]) == 2
    assert "create role app-zz" in capsys.readouterr().out
    assert iam.list_roles()["Roles"] == []
    assert main(["apply", str(path), "--var", "suffix=zz"]) == 0
    assert [r["RoleName"] for r in iam.list_roles()["Roles"]] == ["app-zz"]
    assert main(["plan", str(path), "--var", "suffix=zz"]) == 0  # converged


def test_verify_rotation_takes_var(aws, tmp_path, capsys):
    path = write(tmp_path, """\
        name: secrets
        resources:
          - kind: secret
            name: app/${suffix}
            generate: {length: 32}
            rotation: {lambda_arn: "arn:aws:lambda:us-east-1:123456789012:function:rotate", every_days: 30}
        """)
    assert main(["verify-rotation", str(path)]) == 1
    assert "unknown variable ${suffix}" in capsys.readouterr().err
    main(["verify-rotation", str(path), "--var", "suffix=zz", "--json"])
    verified = json.loads(capsys.readouterr().out)
    assert "app/zz" in json.dumps(verified["checks"])  # the declared secret is missing: a failing check
    main(["verify-rotation", str(path), "--var", "suffix=yy", "--json"])
    assert "app/zz" not in capsys.readouterr().out


def test_the_sweep_s_drift_check_takes_var(aws, tmp_path, monkeypatch, capsys):
    folder = tmp_path / "playbooks"
    folder.mkdir()
    write(folder, ROLE)
    monkeypatch.setenv(PLAYBOOKS_DIR_ENV, str(folder))
    (tmp_path / "mutelist.yaml").write_text("")
    assert main(["apply", str(folder), "--var", "suffix=zz"]) == 0

    def drift(*extra: str) -> dict[str, str]:
        out = tmp_path / "reports"
        main(["sweep", "--out", str(out), "--run-id", f"run{len(extra)}", "--mutelist",
              str(tmp_path / "mutelist.yaml"), *extra])
        findings = json.loads((out / f"run{len(extra)}" / "findings.json").read_text())
        return {f["resource_id"]: f["status"] for f in findings if f["check_id"] == "iamflow_playbook_drift"}

    assert drift("--var", "suffix=zz") == {"iam_role/app-zz": "PASS"}
    assert drift("--var", "suffix=yy", "--var", "other=1") == {"iam_role/app-yy": "FAIL"}
    capsys.readouterr()


def test_a_value_from_the_environment_reaches_aws_but_never_a_plan_a_diff_or_the_log(
        aws, clients, tmp_path, monkeypatch, capsys, caplog):
    monkeypatch.setenv("IAMFLOW_TEST_EXTERNAL_ID", EXTERNAL_ID)
    path = write(tmp_path, PARTNER)
    caplog.set_level(logging.DEBUG)
    assert main(["plan", str(path)]) == 2
    planned = capsys.readouterr()
    assert "create role partner" in planned.out and "${env:IAMFLOW_TEST_EXTERNAL_ID}" in planned.out
    assert main(["apply", str(path), "--diff"]) == 0
    applied = capsys.readouterr()
    for text in (planned.out, planned.err, applied.out, applied.err):
        assert EXTERNAL_ID not in text
    role = boto3.client("iam", region_name="us-east-1").get_role(RoleName="partner")["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"] == EXTERNAL_ID
    # the engine's result, as a task would log and push it
    monkeypatch.setenv("IAMFLOW_TEST_EXTERNAL_ID", EXTERNAL_ID + "-rotated")
    playbook = load_playbook(path)
    result = run_resource(clients, playbook, "iam_role.partner", check_mode=True)
    assert result.status == "changed"
    shown = json.dumps(result.to_dict())
    # the current value came from the environment of an earlier run: not shown either
    assert EXTERNAL_ID not in shown and "${env:IAMFLOW_TEST_EXTERNAL_ID}" in shown
    assert "not shown: this value comes from the environment" in result.diff
    assert EXTERNAL_ID not in caplog.text


@pytest.mark.parametrize("value", ["a-value-from-the-environment"])
def test_a_task_s_result_masks_the_environment_in_notes_and_errors(aws, clients, tmp_path, monkeypatch, value):
    from tests.helpers.faults import fail_nth_write

    monkeypatch.setenv("IAMFLOW_TEST_EXTERNAL_ID", value)
    playbook = load_playbook(write(tmp_path, PARTNER))
    fail_nth_write(clients, 1, "MalformedPolicyDocument", message=f"bad document: {value}")
    result = run_resource(clients, playbook, "iam_role.partner")
    assert result.status == "failed" and "MalformedPolicyDocument" in (result.error or "")
    assert value not in json.dumps(result.to_dict())
