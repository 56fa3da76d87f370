"""The shipped playbooks lint clean; the guide's anti-patterns do not."""

from __future__ import annotations

import textwrap
from pathlib import Path

from iamflow.spec.loader import check_playbook, discover_playbooks, lint_paths, waiver_notes

GUIDE_MFA_POLICY = """
name: guide-mfa
resources:
  - kind: iam_managed_policy
    name: require-mfa-for-sensitive-ops
    {waive}
    document:
      Version: "2012-10-17"
      Statement:
        - Sid: AllowAllActionsWithMFA
          Effect: Allow
          Action: "*"
          Resource: "*"
          Condition: {{BoolIfExists: {{"aws:MultiFactorAuthPresent": "true"}}}}
        - Sid: DenyAllActionsWithoutMFA
          Effect: Deny
          Action: [ec2:TerminateInstances, rds:DeleteDBInstance, s3:DeleteBucket]
          Resource: "*"
          Condition: {{BoolIfExists: {{"aws:MultiFactorAuthPresent": "false"}}}}
"""


def test_every_shipped_playbook_is_valid() -> None:
    files = discover_playbooks()
    names = {p.stem for p in files}
    assert {"lambda-execution-role", "s3-readonly", "ec2-s3-access", "require-mfa", "developer-access",
            "cross-account-audit"} <= names
    for result in lint_paths(files):
        assert result.errors == [], [str(p) for p in result.errors]
        assert result.playbook is not None


def test_shipped_playbooks_have_no_finding_of_any_severity() -> None:
    """Our users' first examples: not a warning or a suggestion on them, and no waiver needed."""
    results = lint_paths(discover_playbooks())
    assert [str(p) for r in results for p in r.problems] == []
    assert all(not res.waive for r in results if r.playbook for res in r.playbook.resources)


def test_every_shipped_policy_file_is_validated(tmp_path: Path) -> None:
    """The validator reaches documents in policy files too: a typo in a copy of one is found at its line."""
    import json

    from iamflow.settings import policies_dir

    original = json.loads((policies_dir() / "s3-bucket-readonly.json").read_text())
    original["Statement"][0]["Action"] = ["s3:GetObjects"]
    (tmp_path / "copy.json").write_text(json.dumps(original, indent=2))
    (tmp_path / "pb.yaml").write_text("name: c\nvars: {bucket: data}\nresources:\n  - kind: iam_managed_policy\n    name: c\n"
                                      "    document: copy.json\n")
    [problem] = check_playbook(tmp_path / "pb.yaml").errors
    assert problem.code == "unknown-action" and problem.file == str((tmp_path / "copy.json").resolve())
    assert problem.line is not None


def test_developer_role_is_bounded_by_developer_boundary() -> None:
    pb = check_playbook(next(p for p in discover_playbooks() if p.stem == "developer-access")).playbook
    assert pb is not None
    role = pb.find("developer-role", ("iam_role",))
    assert role is not None and role.boundary == "developer-boundary"


def test_guide_mfa_policy_is_flagged_as_admin_grant(tmp_path: Path) -> None:
    path = tmp_path / "mfa.yaml"
    path.write_text(textwrap.dedent(GUIDE_MFA_POLICY.format(waive="")))
    errors = check_playbook(path).errors
    assert [p.rule for p in errors] == ["allow-star-star"]
    assert errors[0].resource == "require-mfa-for-sensitive-ops"
    assert errors[0].field and errors[0].field.startswith("document")


def test_waiver_accepts_the_document_and_is_shown(tmp_path: Path) -> None:
    path = tmp_path / "mfa.yaml"
    waive = "waive: [{rule: allow-star-star, reason: break-glass admins always sign in with MFA}]"
    path.write_text(textwrap.dedent(GUIDE_MFA_POLICY.format(waive=waive)))
    result = check_playbook(path)
    assert result.errors == []
    resource = result.playbook.resources[0]
    notes = waiver_notes(resource)
    assert len(notes) == 1 and "allow-star-star" in notes[0] and "break-glass" in notes[0]


def test_unused_waiver_is_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text(textwrap.dedent("""
        name: w
        resources:
          - kind: iam_managed_policy
            name: p
            waive: [{rule: passrole-star, reason: not needed at all}]
            document: {Statement: [{Effect: Allow, Action: s3:GetObject, Resource: "*"}]}
    """))
    result = check_playbook(path)
    assert result.errors == []
    assert any(w.rule is None and "matches nothing" in w.message for w in result.warnings)
