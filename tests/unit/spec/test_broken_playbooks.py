"""Broken playbooks: every one is refused with file, resource and field named, before any AWS call."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from iamflow.cli import main
from iamflow.spec.loader import check_playbook

TRUST = """
    trust_policy:
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Principal: {Service: lambda.amazonaws.com}
          Action: sts:AssumeRole
"""

# (case id, playbook text, expected resource (None = playbook level), expected field fragment, message fragment)
CASES = [
    ("bad-yaml", "name: x\nresources: [\n  - kind: iam_role\n", None, None, "invalid YAML"),
    ("not-a-mapping", "- just\n- a list\n", None, None, "must be a mapping"),
    ("missing-name", "resources: []\n", None, "name", "required field is missing"),
    ("bad-playbook-name", "name: Bad Name!\nresources: []\n", None, "name", "pattern"),
    ("unknown-top-field", "name: x\nresourcez: []\n", None, "resourcez", "unknown field"),
    ("resources-not-list", "name: x\nresources: {a: 1}\n", None, "resources", "must be a list"),
    ("unknown-kind", "name: x\nresources:\n  - kind: iam_rolez\n    name: r\n", "r", "kind", "unknown resource kind"),
    ("unknown-field", "name: x\nresources:\n  - kind: iam_role\n    name: r\n    colour: blue\n" + TRUST,
     "r", "colour", "unknown field"),
    ("wrong-type", "name: x\nresources:\n  - kind: iam_role\n    name: r\n    max_session_duration: lots\n" + TRUST,
     "r", "max_session_duration", "integer"),
    ("max-session-too-low", "name: x\nresources:\n  - kind: iam_role\n    name: r\n    max_session_duration: 60\n"
     + TRUST, "r", "max_session_duration", "3600"),
    ("max-session-too-high", "name: x\nresources:\n  - kind: iam_role\n    name: r\n"
     "    max_session_duration: 86400\n" + TRUST, "r", "max_session_duration", "43200"),
    ("bad-state", "name: x\nresources:\n  - kind: iam_role\n    name: r\n    state: gone\n" + TRUST,
     "r", "state", "present"),
    ("bad-role-name", "name: x\nresources:\n  - kind: iam_role\n    name: 'my role'\n" + TRUST,
     "my role", "name", "letters, digits"),
    ("role-name-too-long", f"name: x\nresources:\n  - kind: iam_role\n    name: {'r' * 65}\n" + TRUST,
     "r" * 65, "name", "at most 64"),
    ("bad-path", "name: x\nresources:\n  - kind: iam_role\n    name: r\n    path: developers\n" + TRUST,
     "r", "path", "begin and end with '/'"),
    ("missing-trust", "name: x\nresources:\n  - kind: iam_role\n    name: r\n", "r", "trust_policy", "required"),
    ("missing-document", "name: x\nresources:\n  - kind: iam_managed_policy\n    name: p\n", "p", "document",
     "required"),
    ("dangling-reference", "name: x\nresources:\n  - kind: iam_role\n    name: r\n    boundary: nope\n" + TRUST,
     "r", "boundary", "does not declare"),
    ("reference-wrong-kind", "name: x\nresources:\n  - kind: iam_instance_profile\n    name: p\n    role: q\n"
     "  - kind: iam_managed_policy\n    name: q\n    document: {Statement: [{Effect: Allow, Action: 's3:GetObject',"
     " Resource: '*'}]}\n", "p", "role", "there is a iam_managed_policy"),
    ("invalid-arn", "name: x\nresources:\n  - kind: iam_role\n    name: r\n    managed_policies: ['arn:aws:iam:x']\n"
     + TRUST, "r", "managed_policies", "not a valid IAM policy ARN"),
    ("duplicate-policy-in-list", "name: x\nresources:\n  - kind: iam_role\n    name: r\n    managed_policies:"
     " [arn:aws:iam::aws:policy/ReadOnlyAccess, arn:aws:iam::aws:policy/ReadOnlyAccess]\n" + TRUST,
     "r", "managed_policies", "twice"),
    ("duplicate-resource", "name: x\nresources:\n  - kind: iam_role\n    name: r\n" + TRUST
     + "  - kind: iam_role\n    name: r\n" + TRUST, "r", "name", "two iam_role resources"),
    ("unknown-variable", "name: x\nresources:\n  - kind: iam_managed_policy\n    name: p-${nope}\n"
     "    document: {Statement: [{Effect: Allow, Action: 's3:GetObject', Resource: '*'}]}\n",
     "p-${nope}", "name", "unknown variable"),
    ("missing-policy-file", "name: x\nresources:\n  - kind: iam_managed_policy\n    name: p\n"
     "    document: no-such-file.json\n", "p", "document", "not found"),
    ("bad-effect", "name: x\nresources:\n  - kind: iam_managed_policy\n    name: p\n"
     "    document: {Statement: [{Effect: Permit, Action: 's3:GetObject', Resource: '*'}]}\n",
     "p", "document.Statement[0].Effect", 'neither "Allow" nor "Deny"'),
    ("lint-star-star", "name: x\nresources:\n  - kind: iam_managed_policy\n    name: p\n"
     "    document: {Statement: [{Effect: Allow, Action: '*', Resource: '*'}]}\n", "p", "document", "allow-star-star"),
    ("lint-not-action", "name: x\nresources:\n  - kind: iam_managed_policy\n    name: p\n"
     "    document: {Statement: [{Effect: Allow, NotAction: 'iam:*', Resource: '*'}]}\n", "p", "document",
     "allow-not-action"),
    ("lint-passrole", "name: x\nresources:\n  - kind: iam_managed_policy\n    name: p\n"
     "    document: {Statement: [{Effect: Allow, Action: 'iam:PassRole', Resource: '*'}]}\n", "p", "document",
     "passrole-star"),
    ("lint-cross-account-no-external-id", "name: x\nresources:\n  - kind: iam_role\n    name: r\n"
     "    trust_policy: {Statement: [{Effect: Allow, Principal: {AWS: 'arn:aws:iam::111122223333:root'},"
     " Action: 'sts:AssumeRole'}]}\n", "r", "trust_policy", "cross-account-trust-without-external-id"),
    ("hardcoded-access-key", "name: x\nresources:\n  - kind: iam_role\n    name: r\n"
     "    tags: {key: AKIAIOSFODNN7EXAMPLE}\n" + TRUST, "r", "tags", "hardcoded-credential"),
    ("hardcoded-secret-key", "name: x\nvars: {k: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY}\nresources: []\n",
     None, "vars", "hardcoded-credential"),
    ("reference-cycle-via-absent", "name: x\nresources:\n  - kind: iam_role\n    name: r\n    boundary: p\n"
     + TRUST + "  - kind: iam_managed_policy\n    name: p\n    state: absent\n", "r", "boundary", "declared absent"),
    ("reserved-tag", "name: x\nresources:\n  - kind: iam_role\n    name: r\n    tags: {'aws:owner': me}\n" + TRUST,
     "r", "tags", "reserved"),
    ("empty-waiver-reason", "name: x\nresources:\n  - kind: iam_managed_policy\n    name: p\n"
     "    waive: [{rule: allow-star-star, reason: ''}]\n"
     "    document: {Statement: [{Effect: Allow, Action: '*', Resource: '*'}]}\n", "p", "waive", "at least 3"),
]


@pytest.mark.parametrize(("text", "resource", "field", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_broken_playbook_is_refused_with_location(tmp_path: Path, text: str, resource: str | None,
                                                  field: str | None, fragment: str) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(textwrap.dedent(text))
    result = check_playbook(path)
    assert result.playbook is None, "a broken playbook must not load"
    assert result.errors, "a broken playbook must report an error"
    matching = [p for p in result.errors if p.resource == resource and (field is None or (p.field or "").startswith(field))]
    assert matching, f"no error for resource={resource!r} field={field!r}; got: {[str(p) for p in result.errors]}"
    text_all = "\n".join(str(p) for p in matching)
    assert fragment in text_all, f"{fragment!r} not in {text_all!r}"
    assert all(str(path) in str(p) for p in result.errors), "every message names the file"


def test_at_least_twenty_cases() -> None:
    assert len(CASES) >= 20


@pytest.mark.parametrize("command", ["lint", "plan", "apply"])
def test_cli_refuses_broken_playbook_without_aws_call(tmp_path: Path, api_calls: list[str],
                                                      capsys: pytest.CaptureFixture[str], command: str) -> None:
    for case_id, text, *_ in CASES:
        (tmp_path / f"{case_id}.yaml").write_text(textwrap.dedent(text))
    code = main([command, str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1
    assert api_calls == [], f"{command} made AWS calls on broken input: {api_calls}"
    # every file's problems are reported at once, not only the first file's
    for case_id, *_ in CASES:
        assert f"{case_id}.yaml" in err, f"{case_id}.yaml missing from the report"
    assert "nothing was sent to AWS" in err


def test_all_problems_of_one_file_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "many.yaml"
    path.write_text(textwrap.dedent("""
        name: many
        resources:
          - kind: iam_role
            name: a
            max_session_duration: 10
          - kind: iam_role
            name: b
            colour: red
          - kind: iam_managed_policy
            name: c
            document: {Statement: [{Effect: Allow, Action: '*', Resource: '*'}]}
    """))
    errors = check_playbook(path).errors
    assert {p.resource for p in errors} >= {"a", "b", "c"}
