"""One owner per object: two playbooks run together may not both declare it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from iamflow.cli import main
from iamflow.spec.loader import lint_paths
from iamflow.spec.ownership import find_conflicts

TRUST = "{Version: '2012-10-17', Statement: [{Effect: Allow, Principal: {Service: ec2.amazonaws.com}, Action: sts:AssumeRole}]}"


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def _role_playbook(folder: Path, file: str, playbook: str, role: str, *, path: str = "/",
                   accounts: str = "") -> Path:
    return _write(folder, file, f"""
        name: {playbook}
        {accounts}
        resources:
          - kind: iam_role
            name: {role}
            path: {path}
            trust_policy: {TRUST}
          - kind: iam_role
            name: {playbook}-own
            trust_policy: {TRUST}
        """)


def test_a_role_in_two_playbooks_is_an_error_in_both_naming_the_other(tmp_path: Path) -> None:
    a = _role_playbook(tmp_path, "a.yaml", "team-a", "deploy")
    # IAM names are unique whatever the path, and not distinguished by case
    b = _role_playbook(tmp_path, "b.yaml", "team-b", "Deploy", path="/ci/")
    results = lint_paths([a, b])
    by_file = {str(r.path): [str(p) for p in r.errors] for r in results}
    assert len(by_file[str(a)]) == 1 and len(by_file[str(b)]) == 1
    assert f"{a}: resource 'deploy'" in by_file[str(a)][0]
    assert f"is also declared by {b} (as iam_role.Deploy)" in by_file[str(a)][0]
    assert f"is also declared by {a} (as iam_role.deploy)" in by_file[str(b)][0]
    assert "[one-owner]" in by_file[str(a)][0]
    # each file alone is fine
    assert not lint_paths([a])[0].errors


def test_playbooks_for_disjoint_accounts_do_not_conflict(tmp_path: Path) -> None:
    a = _role_playbook(tmp_path, "a.yaml", "prod", "deploy", accounts="accounts: ['111111111111']")
    b = _role_playbook(tmp_path, "b.yaml", "dev", "deploy", accounts="accounts: ['222222222222']")
    c = _role_playbook(tmp_path, "c.yaml", "all", "deploy")  # every account: overlaps both
    assert not any(r.errors for r in lint_paths([a, b]))
    errors = {str(r.path): r.errors for r in lint_paths([a, b, c])}
    assert errors[str(a)] and errors[str(b)] and errors[str(c)]


def test_kms_aliases_secrets_and_pool_children_have_one_owner(tmp_path: Path) -> None:
    one = _write(tmp_path, "one.yaml", """
        name: one
        resources:
          - {kind: kms_key, name: data, aliases: [alias/data, alias/shared]}
          - {kind: secret, name: app/db, generate: {length: 20}}
          - {kind: cognito_user_pool, name: users}
          - {kind: cognito_group, name: admins, user_pool: users}
        """)
    two = _write(tmp_path, "two.yaml", """
        name: two
        resources:
          - {kind: kms_key, name: other, aliases: [alias/shared]}
          - {kind: secret, name: app/db, generate: {length: 20}}
          - {kind: cognito_user_pool, name: users}
          - {kind: cognito_group, name: admins, user_pool: one/users}
          - {kind: cognito_group, name: staff, user_pool: users}
        """)
    results = lint_paths([one, two])
    books = [r.playbook for r in results]
    assert all(b is not None for b in books), [str(p) for r in results for p in r.problems]
    what = sorted(c.what for c in find_conflicts([b for b in books if b is not None]))
    # the same pool name in two playbooks is two pools (their iamflow:id tags differ), not a conflict;
    # a group in another playbook's pool is
    assert what == ["cognito_group one/users admins", "kms_alias alias/shared", "secret app/db"]


def test_a_second_file_with_the_same_playbook_name_owns_nothing(tmp_path: Path) -> None:
    a = _role_playbook(tmp_path, "a.yaml", "team", "deploy")
    b = _role_playbook(tmp_path, "b.yaml", "team", "deploy")
    results = {str(r.path): [str(p) for p in r.errors] for r in lint_paths([a, b])}
    assert results[str(a)] == []
    assert len(results[str(b)]) == 1 and "is also used by" in results[str(b)][0]


@pytest.mark.parametrize("command", ["lint", "plan", "apply"])
def test_the_cli_refuses_two_owners_before_any_aws_call(tmp_path: Path, api_calls: list[str],
                                                       capsys: pytest.CaptureFixture[str], command: str) -> None:
    a = _role_playbook(tmp_path, "a.yaml", "team-a", "deploy")
    b = _role_playbook(tmp_path, "b.yaml", "team-b", "deploy")
    code = main([command, str(a), str(b)])
    err = capsys.readouterr().err
    assert code == 1
    assert api_calls == [], f"{command} made AWS calls: {api_calls}"
    assert f"{a}: resource 'deploy'" in err and f"{b}: resource 'deploy'" in err
    assert "nothing was sent to AWS" in err
