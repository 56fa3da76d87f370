"""``iamflow lint --json``: the contract other tools read (keys, codes, positions, exit codes)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from iamflow.cli import main
from iamflow.policy.findings import CODES, SEVERITIES

KEYS = {"file", "resource", "path", "line", "column", "severity", "code", "message"}


def lint_json(capsys: pytest.CaptureFixture[str], *paths: Path) -> tuple[int, list[dict[str, object]]]:
    rc = main(["lint", "--json", *map(str, paths)])
    out = capsys.readouterr().out
    return rc, json.loads(out)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


CLEAN = """\
    name: clean
    resources:
      - kind: iam_managed_policy
        name: reader
        document:
          Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Action: s3:GetObject
              Resource: arn:aws:s3:::data/*
    """


def test_a_clean_playbook_prints_an_empty_list_and_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    rc, problems = lint_json(capsys, write(tmp_path, "clean.yaml", CLEAN))
    assert (rc, problems) == (0, [])


def test_every_problem_has_the_contract_keys_and_a_registered_code(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]):
    path = write(tmp_path, "bad.yaml", """\
        name: bad
        resources:
          - kind: iam_role
            name: app
            colour: blue
            trust_policy:
              Version: "2012-10-17"
              Statement:
                - Effect: Allow
                  Principal: {Service: lambda.amazonaws.com}
                  Action: sts:AssumeRole
            inline_policies:
              admin:
                Version: "2012-10-17"
                Statement:
                  - Effect: Allow
                    Action: "*"
                    Resource: "*"
          - kind: iam_gizmo
            name: g
        """)
    rc, problems = lint_json(capsys, path)
    assert rc == 1
    assert problems and all(set(p) == KEYS for p in problems)
    assert all(p["code"] in CODES and p["severity"] in SEVERITIES for p in problems)
    by_code = {p["code"]: p for p in problems}
    # a misspelt field and the document's own finding, both in one run
    assert by_code["unknown-field"]["path"] == "colour"
    assert (by_code["unknown-field"]["line"], by_code["unknown-field"]["column"]) == (5, 5)
    star = by_code["allow-star-star"]
    assert star["resource"] == "app" and star["path"] == "inline_policies.admin.Statement[0].Action"
    assert (star["line"], star["column"], star["file"]) == (17, 13, str(path))  # the key that names the field
    assert by_code["unknown-kind"]["resource"] == "g"


def test_a_document_from_a_policy_file_points_into_that_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "admin.json").write_text(
        '{\n  "Version": "2012-10-17",\n  "Statement": [\n    {"Effect": "Allow", "Action": "*", "Resource": "*"}\n  ]\n}\n'
    )
    path = write(policies, "pb.yaml", """\
        name: files
        resources:
          - kind: iam_managed_policy
            name: admin
            document: admin.json
        """)
    rc, problems = lint_json(capsys, path)
    assert rc == 1
    [star] = [p for p in problems if p["code"] == "allow-star-star"]
    assert star["file"] == str((policies / "admin.json").resolve())
    assert (star["line"], star["column"]) == (4, 25)
    assert star["path"] == "document.Statement[0].Action"


def test_unreadable_and_missing_inputs_are_problems_with_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00name: x")
    rc, problems = lint_json(capsys, binary)
    assert rc == 1 and [p["code"] for p in problems] == ["playbook-unreadable"]
    rc, problems = lint_json(capsys, tmp_path / "empty-folder-does-not-exist")
    assert rc == 1 and problems and problems[0]["code"] in CODES


def test_warnings_alone_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = write(tmp_path, "w.yaml", CLEAN.replace("      - kind: iam_managed_policy\n        name: reader\n",
                                                   "      - kind: iam_managed_policy\n        name: reader\n"
                                                   "        waive: [{rule: passrole-star, reason: not needed}]\n"))
    rc, problems = lint_json(capsys, path)
    assert rc == 0
    assert [(p["code"], p["severity"]) for p in problems] == [("unused-waiver", "warning")]


def test_security_warnings_are_shown_never_refuse_and_count_as_warnings(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]):
    from iamflow.spec.loader import check_playbook

    path = write(tmp_path, "sw.yaml", """\
        name: sw
        resources:
          - kind: iam_managed_policy
            name: hop
            document:
              Version: "2012-10-17"
              Statement:
                - Effect: Allow
                  Action: sts:AssumeRole
                  Resource: "*"
        """)
    result = check_playbook(path)
    assert result.playbook is not None and result.errors == []
    assert [(p.code, p.severity) for p in result.warnings] == [("assume-role-any", "security_warning")]
    assert main(["lint", str(path)]) == 0
    err = capsys.readouterr().err
    assert "security warning: " in err and "[assume-role-any]" in err
    # a waiver accepts it, and says so in every plan
    waived = write(tmp_path, "waived.yaml", path.read_text().replace(
        "    name: hop\n", "    name: hop\n    waive: [{rule: assume-role-any, reason: the CI deployer hops into every account}]\n"))
    result = check_playbook(waived)
    assert result.problems == []
    from iamflow.spec.loader import waiver_notes

    assert result.playbook is not None
    [note] = waiver_notes(result.playbook.resources[0])
    assert "waived assume-role-any at Statement[0]" in note and "CI deployer" in note
