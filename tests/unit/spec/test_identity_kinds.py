"""Schema and playbook rules of iam_user, iam_group and iam_account_password_policy (no AWS call)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from iamflow.spec.loader import check_playbook, lint_paths


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def _errors(path: Path) -> list[str]:
    return [str(p) for p in check_playbook(path).errors]


def test_an_access_key_field_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "keys.yaml", """
        name: keys
        resources:
          - kind: iam_user
            name: ci
            access_keys: [{status: Active}]
        """)

    errors = _errors(path)

    assert len(errors) == 1
    assert "resource 'ci'" in errors[0] and "field 'access_keys'" in errors[0]
    assert "access keys are never declared in a playbook" in errors[0] and "rotation:" in errors[0]


def test_a_membership_declared_from_both_sides_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "both.yaml", """
        name: both
        resources:
          - kind: iam_group
            name: developers
            members: [alice]
          - kind: iam_user
            name: alice
            groups: [developers]
        """)

    errors = _errors(path)

    assert any("resource 'alice', field 'groups'" in e and "declared from both sides" in e for e in errors), errors


def test_a_contradicted_exact_membership_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "contra.yaml", """
        name: contra
        resources:
          - kind: iam_group
            name: developers
            members: []
          - kind: iam_user
            name: alice
            groups: [developers]
        """)

    assert any("declares its exact members and does not list user 'alice'" in e for e in _errors(path))


def test_one_membership_per_side_is_fine(tmp_path: Path) -> None:
    path = _write(tmp_path, "fine.yaml", """
        name: fine
        resources:
          - kind: iam_group
            name: developers
            members: [bob]
          - kind: iam_group
            name: ops
          - kind: iam_user
            name: alice
            groups: [ops]
          - kind: iam_user
            name: bob
        """)

    assert _errors(path) == []


def test_a_membership_declared_in_two_playbooks_has_one_owner(tmp_path: Path) -> None:
    a = _write(tmp_path, "a.yaml", """
        name: groups
        resources:
          - kind: iam_group
            name: developers
            members: [arn:aws:iam::123456789012:user/alice]
        """)
    b = _write(tmp_path, "b.yaml", """
        name: people
        resources:
          - kind: iam_user
            name: alice
            groups: [arn:aws:iam::123456789012:group/developers]
        """)

    results = lint_paths([a, b])

    for r in results:
        assert any("iam_group_membership developers alice is also declared" in str(p) for p in r.errors), r.errors


def test_the_password_policy_is_one_per_account(tmp_path: Path) -> None:
    twice = _write(tmp_path, "twice.yaml", """
        name: twice
        resources:
          - {kind: iam_account_password_policy, name: account, minimum_length: 14}
          - {kind: iam_account_password_policy, name: other, minimum_length: 16}
        """)
    assert any("an account has one password policy" in e for e in _errors(twice))

    a = _write(tmp_path, "a.yaml", "name: a\nresources: [{kind: iam_account_password_policy, name: x}]\n")
    b = _write(tmp_path, "b.yaml", "name: b\nresources: [{kind: iam_account_password_policy, name: y}]\n")
    assert all(any(p.code == "one-owner" for p in r.errors) for r in lint_paths([a, b]))


def test_password_policy_limits_and_cis_advice(tmp_path: Path) -> None:
    bad = _write(tmp_path, "bad.yaml", """
        name: bad
        resources:
          - {kind: iam_account_password_policy, name: account, minimum_length: 5, reuse_prevention: 25}
        """)
    errors = _errors(bad)
    assert any("field 'minimum_length'" in e for e in errors) and any("field 'reuse_prevention'" in e for e in errors)

    weak = _write(tmp_path, "weak.yaml", """
        name: weak
        resources:
          - {kind: iam_account_password_policy, name: account, minimum_length: 8, reuse_prevention: 5}
        """)
    result = check_playbook(weak)
    assert not result.errors
    assert {p.field for p in result.warnings} == {"minimum_length", "reuse_prevention"}


def test_user_inline_policies_share_aws_2048_character_quota(tmp_path: Path) -> None:
    actions = ", ".join(f"s3:GetObjectVersion{suffix}" for suffix in ("", "Acl", "Tagging", "Attributes", "ForReplication"))
    statements = "\n".join(
        f"          - {{Sid: S{i}, Effect: Allow, Action: [{actions}], Resource: 'arn:aws:s3:::bucket-{i}/*'}}"
        for i in range(12))
    path = tmp_path / "big.yaml"
    path.write_text("name: big\nresources:\n  - kind: iam_user\n    name: alice\n    inline_policies:\n"
                    "      big:\n        Version: '2012-10-17'\n        Statement:\n" + statements + "\n", encoding="utf-8")

    errors = _errors(path)

    assert any("the inline policies of a user add up to" in e and "AWS allows 2048" in e for e in errors), errors


def test_group_inline_policies_are_validated_as_identity_policies(tmp_path: Path) -> None:
    path = _write(tmp_path, "grp.yaml", """
        name: grp
        resources:
          - kind: iam_group
            name: developers
            inline_policies:
              bad: {Version: '2012-10-17', Statement: [{Effect: Allow, Action: 's3:GetObjekt', Resource: '*'}]}
        """)

    errors = _errors(path)

    assert any("field 'inline_policies.bad" in e and "GetObjekt" in e for e in errors), errors


def test_a_rotation_secret_is_owned_by_the_user(tmp_path: Path) -> None:
    path = _write(tmp_path, "rot.yaml", """
        name: rot
        resources:
          - kind: iam_user
            name: reporter
            rotation: {into_secret: services/reporter/key, every_days: 90}
        """)
    other = _write(tmp_path, "sec.yaml", """
        name: sec
        resources:
          - kind: secret
            name: services/reporter/key
            generate: {length: 32}
        """)

    assert _errors(path) == []
    assert all(any(p.code == "one-owner" for p in r.errors) for r in lint_paths([path, other]))
