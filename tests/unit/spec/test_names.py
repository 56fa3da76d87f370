"""Names, paths and tags as AWS accepts them, through the loader: the limit passes, limit + 1, a
trailing newline and (where AWS's set is ASCII) a look-alike letter are refused, naming the file,
the resource, the field and the offending character with its position."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from iamflow.errors import Problem
from iamflow.spec.loader import check_playbook
from iamflow.spec.names import secret_name_for_admin, secret_name_for_client, secret_segment

TRUST = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole"}]}
DOC = {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
POOL = {"kind": "cognito_user_pool", "name": "users"}
CYRILLIC_A = "\u0430"  # looks like the Latin 'a'


@dataclass(frozen=True)
class Case:
    """Where a name goes: the resources holding ``value``, the resource label and field of its errors."""

    id: str
    build: Callable[[str], list[dict[str, Any]]]
    label: Callable[[str], str]
    field: str
    limit: int
    # a valid value of exactly ``n`` characters
    fill: Callable[[int], str]
    ascii_only: bool


def _named(kind: str, **extra: Any) -> Callable[[str], list[dict[str, Any]]]:
    return lambda v: [{"kind": kind, "name": v, **extra}]


def _own(v: str) -> str:
    return v


def _fixed(label: str) -> Callable[[str], str]:
    return lambda _v: label


def _letters(n: int) -> str:
    return ("role-name_" * (n // 10 + 1))[:n]


def _path(n: int) -> str:
    return "/" + "p" * (n - 2) + "/"


CASES = [
    Case("iam-role-name", _named("iam_role", trust_policy=TRUST), _own, "name", 64, _letters, True),
    Case("iam-role-path", lambda v: [{"kind": "iam_role", "name": "r", "path": v, "trust_policy": TRUST}],
         _fixed("r"), "path", 512, _path, True),
    Case("iam-inline-policy-name",
         lambda v: [{"kind": "iam_role", "name": "r", "trust_policy": TRUST, "inline_policies": {v: DOC}}],
         _fixed("r"), "inline_policies", 128, _letters, True),
    Case("iam-managed-policy-name", _named("iam_managed_policy", document=DOC), _own, "name", 128, _letters, True),
    Case("iam-managed-policy-path",
         lambda v: [{"kind": "iam_managed_policy", "name": "p", "path": v, "document": DOC}],
         _fixed("p"), "path", 512, _path, True),
    Case("iam-instance-profile-name", _named("iam_instance_profile"), _own, "name", 128, _letters, True),
    Case("iam-instance-profile-path", lambda v: [{"kind": "iam_instance_profile", "name": "ip", "path": v}],
         _fixed("ip"), "path", 512, _path, True),
    Case("kms-key-name", _named("kms_key"), _own, "name", 250, lambda n: ("key/a_b-" * 40)[:n], True),
    Case("kms-alias", lambda v: [{"kind": "kms_key", "name": "k", "aliases": [v]}], _fixed("k"), "aliases", 256,
         lambda n: "alias/" + "a" * (n - 6), True),
    Case("secret-name", _named("secret", generate={}), _own, "name", 512,
         lambda n: ("app/db_+=.@" * 60)[:n - 1] + "x", True),
    Case("cognito-pool-name", _named("cognito_user_pool"), _own, "name", 128,
         lambda n: ("My pool+=,.@_-" * 10)[:n], True),
    Case("cognito-app-client-name", lambda v: [POOL, {"kind": "cognito_app_client", "name": v, "user_pool": "users"}],
         _own, "name", 128, lambda n: ("Web client " * 12)[:n - 1] + "x", True),
    Case("cognito-group-name", lambda v: [POOL, {"kind": "cognito_group", "name": v, "user_pool": "users"}],
         _own, "name", 128, lambda n: ("Grüppe-ß!" * 15)[:n], False),
    Case("cognito-username",
         lambda v: [{**POOL, "admin_users": [{"username": v, "email": "a@example.com"}]}],
         _fixed("users"), "admin_users", 128, lambda n: ("jürgen.o'brien@" * 9)[:n], False),
    Case("tag-key", lambda v: [{"kind": "iam_role", "name": "r", "trust_policy": TRUST, "tags": {v: "x"}}],
         _fixed("r"), "tags", 128, lambda n: ("Équipe de l'été: " * 8)[:n].replace("'", "_"), False),
    Case("tag-value", lambda v: [{"kind": "kms_key", "name": "k", "tags": {"Owner": v}}],
         _fixed("k"), "tags", 256, lambda n: ("Ünïcode Тег 値 +=@-/ " * 13)[:n], False),
]
IDS = [c.id for c in CASES]


def _load(tmp_path: Path, resources: list[dict[str, Any]]) -> tuple[Path, list[Problem]]:
    path = tmp_path / "names.yaml"
    # JSON is YAML: json.dumps writes any name, control characters included, unambiguously
    path.write_text(json.dumps({"name": "names", "resources": resources}, ensure_ascii=False), encoding="utf-8")
    return path, check_playbook(path).errors


def _refused(tmp_path: Path, case: Case, value: str, fragment: str) -> None:
    path, errors = _load(tmp_path, case.build(value))
    mine = [p for p in errors if p.resource == case.label(value) and (p.field or "").startswith(case.field)]
    assert mine, f"no error on {case.label(value)!r} {case.field}; got {[str(p) for p in errors]}"
    assert any(fragment in p.message for p in mine), [p.message for p in mine]
    assert all(p.file == str(path) for p in errors)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_value_at_the_limit_passes(tmp_path: Path, case: Case) -> None:
    value = case.fill(case.limit)
    assert len(value) == case.limit
    _path_, errors = _load(tmp_path, case.build(value))
    assert errors == []


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_one_over_the_limit_is_refused(tmp_path: Path, case: Case) -> None:
    value = case.fill(case.limit + 1)
    assert len(value) == case.limit + 1
    _refused(tmp_path, case, value, f"at most {case.limit} characters, got {case.limit + 1}")


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_trailing_newline_is_refused(tmp_path: Path, case: Case) -> None:
    value = case.fill(10) + "\n"
    if case.field == "path":
        value = "/team/\n"
    _refused(tmp_path, case, value, f"'\\n' at position {len(value)}")


@pytest.mark.parametrize("case", [c for c in CASES if c.ascii_only], ids=[c.id for c in CASES if c.ascii_only])
def test_look_alike_letter_is_refused_where_aws_wants_ascii(tmp_path: Path, case: Case) -> None:
    good = case.fill(12)
    value = good[:1] + CYRILLIC_A + good[2:] if case.field != "aliases" else "alias/" + CYRILLIC_A + "pp"
    if case.field == "path":
        value = "/" + CYRILLIC_A + "pp/"
    position = value.index(CYRILLIC_A) + 1
    _refused(tmp_path, case, value, f"U+0430 CYRILLIC SMALL LETTER A at position {position}")


@pytest.mark.parametrize("case", [c for c in CASES if not c.ascii_only], ids=[c.id for c in CASES if not c.ascii_only])
def test_unicode_passes_where_aws_allows_it(tmp_path: Path, case: Case) -> None:
    value = CYRILLIC_A + "dmin-Ünïcode"
    _path_, errors = _load(tmp_path, case.build(value))
    assert errors == []


@pytest.mark.parametrize(("value", "fragment"), [
    ("two words", "a space at position 4"),
    ("tab\there", "'\\t' at position 4"),
    ("zero\u200bwidth", "U+200B ZERO WIDTH SPACE at position 5"),
])
def test_cognito_group_and_username_refuse_spaces_and_invisible_characters(tmp_path: Path, value: str,
                                                                          fragment: str) -> None:
    group = next(c for c in CASES if c.id == "cognito-group-name")
    _refused(tmp_path, group, value, fragment)
    user = next(c for c in CASES if c.id == "cognito-username")
    _refused(tmp_path, user, value, fragment)


@pytest.mark.parametrize(("value", "fragment"), [
    ("//", "begin and end with '/'"),
    ("/a//b/", "no empty segment"),
    ("/a b/", "a space at position 3"),
])
def test_managed_policy_path_uses_createpolicys_stricter_pattern(tmp_path: Path, value: str, fragment: str) -> None:
    case = next(c for c in CASES if c.id == "iam-managed-policy-path")
    _refused(tmp_path, case, value, fragment)


def test_role_path_allows_printable_ascii_between_slashes(tmp_path: Path) -> None:
    case = next(c for c in CASES if c.id == "iam-role-path")
    _path_, errors = _load(tmp_path, case.build("/team#1/{x}/"))
    assert errors == []


def test_reserved_alias_prefix_and_playbook_default_tags(tmp_path: Path) -> None:
    alias = next(c for c in CASES if c.id == "kms-alias")
    _refused(tmp_path, alias, "alias/aws/mine", "reserved for AWS")
    path = tmp_path / "tags.yaml"
    path.write_text(json.dumps({"name": "t", "tags": {"Team": "ops\n"}, "resources": []}), encoding="utf-8")
    [problem] = check_playbook(path).errors
    assert (problem.resource, problem.field) == (None, "tags")
    assert "'\\n' at position 4" in problem.message


def test_secret_names_of_cognito_admins_and_clients_stay_valid_and_distinct() -> None:
    assert secret_name_for_admin("users", "alice") == "iamflow/cognito/users/alice"
    assert secret_name_for_client("users", "backend") == "iamflow/cognito/users/clients/backend"
    assert secret_name_for_admin("My pool", "jürgen") == "iamflow/cognito/My=20pool/j=C3=BCrgen"
    # '/' never splits a segment, so a username cannot reach another pool's or a client's secret
    assert secret_name_for_admin("users", "clients/backend") != secret_name_for_client("users", "backend")
    assert secret_segment("a/b") == "a=2Fb"


def test_admin_secret_name_over_the_secrets_manager_limit_is_refused(tmp_path: Path) -> None:
    username = "ü" * 86  # 86 * 6 characters once encoded, over 512 with the prefix
    _path_, errors = _load(tmp_path, [{**POOL, "admin_users": [{"username": username, "email": "a@example.com"}]}])
    [problem] = errors
    assert (problem.resource, problem.field) == ("users", "admin_users")
    assert "over Secrets Manager's 512" in problem.message


def test_run_time_placeholders_may_appear_in_tags_and_paths(tmp_path: Path) -> None:
    role = {"kind": "iam_role", "name": "r", "trust_policy": TRUST, "path": "/${partition}/${region}/",
            "tags": {"Account-${account_id}": "${account_id}:${region}"}}
    policy = {"kind": "iam_managed_policy", "name": "p", "path": "/${region}/", "document": DOC}
    _path_, errors = _load(tmp_path, [role, policy])
    assert errors == []


def test_a_placeholder_counts_as_long_as_its_longest_value(tmp_path: Path) -> None:
    # ${account_id} is 12 digits once filled in: 245 + 12 = 257 characters
    case = next(c for c in CASES if c.id == "tag-value")
    _refused(tmp_path, case, "v" * 245 + "${account_id}", "at most 256 characters, got 257")
    _refused(tmp_path, case, "${account_id}{x}", "'{' at position 14")
