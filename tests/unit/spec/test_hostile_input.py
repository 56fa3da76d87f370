"""Hostile or careless input: every file is refused cleanly, under counted limits, with its place named.

No test here is timed: the limits are sizes and counts, and they are asserted as such.
"""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

from iamflow.cli import main
from iamflow.settings import MAX_PLAYBOOK_BYTES_ENV, POLICIES_DIR_ENV, max_playbook_bytes
from iamflow.spec.loader import check_playbook
from iamflow.spec.source import MAX_DEPTH, MAX_NODES, Limits, SourceError, load_json, load_yaml, locate

TRUST = {"Version": "2012-10-17",
         "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole"}]}
SECRET = "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

# Nine aliases of nine, seven levels deep: 399 bytes of text, 9**7 (4 782 969) strings once expanded.
ALIAS_BOMB = "name: bomb\nvars:\n  a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n" + "".join(
    f"  {b}: &{b} [{','.join(['*' + a] * 9)}]\n" for a, b in zip("abcdef", "bcdefg", strict=True)
) + "resources: []\n"


def _role(name: str = "r", trust: str = "trust_policy: trust.json", extra: str = "") -> str:
    return f"  - kind: iam_role\n    name: {name}\n    {trust}\n{extra}"


def _playbook(tmp_path: Path, text: str, name: str = "pb.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _errors(path: Path) -> list[str]:
    result = check_playbook(path)
    assert result.playbook is None, "the playbook must be refused"
    assert result.errors
    return [str(p) for p in result.errors]


@pytest.fixture
def policies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "trust.json").write_text(json.dumps(TRUST), encoding="utf-8")
    monkeypatch.setenv(POLICIES_DIR_ENV, str(folder))
    return folder


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A file with a secret in it, outside every folder a playbook may read from."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    path = folder / "credentials.ini"
    path.write_text(f"[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n{SECRET}\n", encoding="utf-8")
    (folder / "valid.json").write_text(json.dumps(TRUST), encoding="utf-8")
    return folder


# --- the reader's limits --------------------------------------------------------------------------


def test_the_alias_bomb_is_refused_at_its_first_anchor_before_anything_is_built(tmp_path: Path) -> None:
    assert len(ALIAS_BOMB.encode()) <= 399
    with pytest.raises(SourceError) as caught:
        load_yaml(ALIAS_BOMB)
    assert caught.value.limit == "aliases"
    assert (caught.value.line, caught.value.column) == (3, 6)
    errors = _errors(_playbook(tmp_path, ALIAS_BOMB))
    assert len(errors) == 1
    assert errors[0].startswith(f"{tmp_path / 'pb.yaml'}:3:6: anchor &a refused: anchors and aliases are not allowed")


def test_an_alias_alone_and_a_merge_key_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"alias \*x refused") as caught:
        load_yaml("a: 1\nb: *x\n")
    assert caught.value.limit == "aliases"
    with pytest.raises(SourceError, match=r"merge keys \('<<'\) are not allowed") as merged:
        load_yaml("a:\n  <<: {b: 1}\n")
    assert (merged.value.line, merged.value.column) == (2, 3)


def test_a_file_over_the_size_limit_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    assert max_playbook_bytes() == 1024 * 1024
    path = tmp_path / "huge.yaml"
    path.write_text("name: huge\nresources: []\n" + "# padding\n" * 110_000, encoding="utf-8")
    assert path.stat().st_size > 1024 * 1024
    errors = _errors(path)
    assert errors == [f"{path}: the file is larger than the limit of 1048576 bytes "
                      f"(set {MAX_PLAYBOOK_BYTES_ENV} to change it)"]


def test_the_size_limit_is_configurable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _playbook(tmp_path, "name: small\nresources: []\n")
    assert check_playbook(path).playbook is not None
    monkeypatch.setenv(MAX_PLAYBOOK_BYTES_ENV, "10")
    assert _errors(path) == [f"{path}: the file is larger than the limit of 10 bytes "
                             f"(set {MAX_PLAYBOOK_BYTES_ENV} to change it)"]
    monkeypatch.setenv(MAX_PLAYBOOK_BYTES_ENV, "lots")
    assert _errors(path) == [f"{path}: {MAX_PLAYBOOK_BYTES_ENV} must be a positive number of bytes, got 'lots'"]


def test_more_values_than_the_node_limit_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="more than 5 values in one file") as caught:
        load_yaml("[1, 2, 3, 4, 5]\n", Limits(max_bytes=1000, max_nodes=5))
    assert caught.value.limit == "nodes"
    path = _playbook(tmp_path, "name: wide\nresources: [" + "0," * MAX_NODES + "0]\n")
    assert path.stat().st_size < 1024 * 1024
    errors = _errors(path)
    assert len(errors) == 1 and f"more than {MAX_NODES} values in one file" in errors[0]


@pytest.mark.parametrize("text", [
    "[" * 20_000 + "]" * 20_000,
    "".join(" " * i + "a:\n" for i in range(1_000)),  # block mappings indent: 20 000 would be 200 MB
    "- " * 20_000 + "x\n",
], ids=["flow", "block-mappings", "block-sequences"])
def test_twenty_thousand_deep_nesting_is_a_clean_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SourceError) as caught:
        load_yaml(text, Limits(max_bytes=10**9))
    assert caught.value.limit == "depth"
    assert caught.value.line is not None
    errors = _errors(path)
    assert len(errors) == 1 and "nest" in errors[0]


def test_a_json_policy_file_twenty_thousand_deep_is_a_clean_error(tmp_path: Path, policies: Path) -> None:
    (policies / "deep.json").write_text('{"Statement": ' + "[" * 20_000 + "]" * 20_000 + "}", encoding="utf-8")
    with pytest.raises(SourceError, match=f"nested more than {MAX_DEPTH} levels deep"):
        load_json((policies / "deep.json").read_text())
    errors = _errors(_playbook(tmp_path, "name: x\nresources:\n" + _role(trust="trust_policy: deep.json")))
    assert errors == [f"{tmp_path / 'pb.yaml'}:5:5: resource 'r', field 'trust_policy': policy file 'deep.json' "
                      f"(line 1, column {MAX_DEPTH + 14}): nested more than {MAX_DEPTH} levels deep"]


def test_a_binary_playbook_is_a_clean_error(tmp_path: Path) -> None:
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"name: x\n\xff\xfe\x00\x01binary")
    assert _errors(path) == [f"{path}:2:1: not UTF-8 text (byte 0xff at offset 8); "
                             "playbooks and policy files must be UTF-8"]


def test_the_cli_reports_a_binary_playbook_without_a_traceback(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "binary.yaml"
    path.write_bytes(os.urandom(64) + b"\xff")
    assert main(["lint", str(path)]) != 0
    err = capsys.readouterr().err
    assert "Traceback" not in err and "not UTF-8 text" in err


def test_a_binary_policy_file_is_a_clean_error(tmp_path: Path, policies: Path) -> None:
    (policies / "bin.json").write_bytes(b'{"Version": "\xc3\x28"}')
    errors = _errors(_playbook(tmp_path, "name: x\nresources:\n" + _role(trust="trust_policy: bin.json")))
    assert errors == [f"{tmp_path / 'pb.yaml'}:5:5: resource 'r', field 'trust_policy': policy file 'bin.json' "
                      "(line 1, column 14): not UTF-8 text (byte 0xc3 at offset 13); playbooks and policy files "
                      "must be UTF-8"]


def test_a_two_thousand_resource_playbook_loads(tmp_path: Path, policies: Path) -> None:
    lines = ["name: big", "resources:"]
    for i in range(2000):
        lines += [
            "  - kind: iam_role",
            f"    name: role-{i}",
            "    trust_policy: trust.json",
            "    max_session_duration: 3600",
            "    tags: {Team: platform, CostCentre: '1234', Owner: someone}",
            "    inline_policies:",
            "      read:",
            "        Version: '2012-10-17'",
            "        Statement:",
            "          - Effect: Allow",
            "            Action: [s3:GetObject, s3:ListBucket]",
            f"            Resource: ['arn:aws:s3:::bucket-{i}', 'arn:aws:s3:::bucket-{i}/*']",
        ]
    path = tmp_path / "big.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert path.stat().st_size < max_playbook_bytes()
    result = check_playbook(path)
    assert result.errors == [], [str(p) for p in result.errors[:5]]
    assert result.playbook is not None and len(result.playbook.resources) == 2000


# --- duplicate keys ---------------------------------------------------------------------------


def test_a_duplicate_key_deep_in_a_playbook_names_the_key_and_both_lines(tmp_path: Path) -> None:
    text = """\
        name: x
        resources:
          - kind: iam_role
            name: r
            trust_policy:
              Version: "2012-10-17"
              Statement:
                - Effect: Deny
                  Principal: {Service: lambda.amazonaws.com}
                  Action: sts:AssumeRole
                  Effect: Allow
        """
    errors = _errors(_playbook(tmp_path, text))
    assert errors == [f"{tmp_path / 'pb.yaml'}:11:11: duplicate key 'Effect' (first at line 8, column 11): "
                      "a second value would silently replace the first"]


def test_two_resources_keys_are_refused(tmp_path: Path) -> None:
    errors = _errors(_playbook(tmp_path, "name: x\nresources: []\nresources: []\n"))
    assert errors == [f"{tmp_path / 'pb.yaml'}:3:1: duplicate key 'resources' (first at line 2, column 1): "
                      "a second value would silently replace the first"]


def test_a_duplicate_key_in_a_json_policy_file_names_the_key_and_its_line(tmp_path: Path, policies: Path) -> None:
    (policies / "dup.json").write_text(textwrap.dedent("""\
        {
          "Version": "2012-10-17",
          "Statement": [{
            "Effect": "Deny",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Effect": "Allow"
          }]
        }
        """), encoding="utf-8")
    errors = _errors(_playbook(tmp_path, "name: x\nresources:\n" + _role(trust="trust_policy: dup.json")))
    assert errors == [f"{tmp_path / 'pb.yaml'}:5:5: resource 'r', field 'trust_policy': policy file 'dup.json' "
                      "(line 7, column 5): duplicate key 'Effect' (first at line 4, column 5): a second value "
                      "would silently replace the first"]


def test_json_duplicates_are_found_when_the_text_is_not_yaml() -> None:
    # tabs make the text unreadable as YAML; the duplicate is still refused, by the JSON reader
    with pytest.raises(SourceError, match=r"duplicate key 'a'") as caught:
        load_json('{\t"a": 1, "b": {"a": 2}, "a":\t3}')
    assert caught.value.message.startswith("duplicate key 'a'")
    value, _positions = load_json('{\n\t"a": 1e5\n}')
    assert value == {"a": 100000.0}  # JSON's own semantics, not YAML 1.1's


# --- positions --------------------------------------------------------------------------------


def test_every_value_keeps_its_line_and_column() -> None:
    text = textwrap.dedent("""\
        name: x
        resources:
          - kind: iam_role
            trust_policy:
              Statement:
                - Effect: Allow
                  Action: [a, b]
        """)
    value, positions = load_yaml(text)
    assert value["resources"][0]["trust_policy"]["Statement"][0]["Action"] == ["a", "b"]
    assert positions[()] == (1, 1)
    assert positions[("resources",)] == (2, 1)
    assert positions[("resources", 0)] == (3, 5)
    assert positions[("resources", 0, "trust_policy", "Statement", 0, "Effect")] == (6, 11)
    assert positions[("resources", 0, "trust_policy", "Statement", 0, "Action", 1)] == (7, 23)
    # a path that is not there is placed at its nearest ancestor
    assert locate(positions, ("resources", 0, "trust_policy", "Statement", 0, "Condition")) == (6, 11)
    assert locate(positions, ("resources", 7)) == (2, 1)


def test_validation_errors_carry_the_line_of_their_field(tmp_path: Path) -> None:
    text = "name: x\nresources:\n  - kind: iam_role\n    name: r\n    colour: blue\n    max_session_duration: 60\n"
    result = check_playbook(_playbook(tmp_path, text))
    places = {p.field: (p.line, p.column) for p in result.errors}
    assert places["colour"] == (5, 5)
    assert places["max_session_duration"] == (6, 5)
    assert str(next(p for p in result.errors if p.field == "colour")).startswith(f"{tmp_path / 'pb.yaml'}:5:5: ")
    missing = check_playbook(_playbook(tmp_path, "name: x\nresources:\n  - kind: iam_role\n    name: r\n"))
    assert [(p.field, p.line, p.column) for p in missing.errors] == [("trust_policy", 3, 5)]  # at its resource


# --- confined document paths ------------------------------------------------------------------


@pytest.mark.parametrize("reference", ["../elsewhere/credentials.ini", "../../elsewhere/credentials.ini",
                                       "../elsewhere/valid.json", "sub/../../../elsewhere/valid.json",
                                       "../elsewhere/does-not-exist.json"])
def test_a_reference_that_leaves_the_allowed_folders_is_refused(tmp_path: Path, policies: Path, outside: Path,
                                                                 reference: str) -> None:
    folder = tmp_path / "playbooks"
    folder.mkdir()
    path = _playbook(folder, "name: x\nresources:\n" + _role(trust=f"trust_policy: {reference}"))
    errors = _errors(path)
    assert errors == [f"{path}:5:5: resource 'r', field 'trust_policy': policy file {reference!r} resolves outside "
                      "the policies folder and the playbook's folder; only files inside them are read"]


def test_an_absolute_reference_is_refused_even_to_a_valid_policy(tmp_path: Path, policies: Path,
                                                                 outside: Path) -> None:
    for target in (outside / "valid.json", policies / "trust.json"):
        path = _playbook(tmp_path, "name: x\nresources:\n" + _role(trust=f"trust_policy: {target}"))
        errors = _errors(path)
        assert errors == [f"{path}:5:5: resource 'r', field 'trust_policy': policy file {str(target)!r} is an "
                          "absolute path; name a file inside the policies folder or the playbook's folder"]


@pytest.mark.parametrize("field", ["inline_policies", "managed_document", "kms_policy", "secret_policy"])
def test_a_symlink_out_of_the_policies_folder_is_refused_in_every_document_field(
        tmp_path: Path, policies: Path, outside: Path, field: str) -> None:
    (policies / "link.json").symlink_to(outside / "valid.json")
    (policies / "leak.json").symlink_to(outside / "credentials.ini")
    body = {
        "inline_policies": _role(trust="trust_policy: trust.json", extra="    inline_policies: {read: link.json}\n"),
        "managed_document": "  - kind: iam_managed_policy\n    name: r\n    document: link.json\n",
        "kms_policy": "  - kind: kms_key\n    name: r\n    policy: link.json\n",
        "secret_policy": "  - kind: secret\n    name: r\n    generate: {length: 20}\n    resource_policy: link.json\n",
    }[field]
    folder = tmp_path / "playbooks"
    folder.mkdir()
    path = _playbook(folder, "name: x\nresources:\n" + body)
    errors = [e for e in _errors(path) if "link.json" in e]
    assert len(errors) == 1 and "resolves outside the policies folder" in errors[0]
    assert "resource 'r'" in errors[0]


def test_a_symlink_inside_the_allowed_folders_is_followed(tmp_path: Path, policies: Path) -> None:
    (policies / "alias.json").symlink_to(policies / "trust.json")
    path = _playbook(tmp_path, "name: x\nresources:\n" + _role(trust="trust_policy: alias.json"))
    result = check_playbook(path)
    assert result.errors == [], [str(p) for p in result.errors]
    assert result.playbook is not None and result.playbook.resources[0].trust_policy == TRUST


def test_no_content_of_a_refused_or_unparsable_file_reaches_the_messages(
        tmp_path: Path, policies: Path, outside: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (policies / "leak.json").symlink_to(outside / "credentials.ini")
    (policies / "notes.yaml").write_text(f"[default\n{SECRET}\n", encoding="utf-8")  # inside, not YAML
    (policies / "notes.json").write_text(f'{{"k": "{SECRET}" oops}}', encoding="utf-8")  # inside, not JSON
    folder = tmp_path / "playbooks"
    folder.mkdir()
    path = _playbook(folder, "name: x\nresources:\n"
                     + _role("a", trust="trust_policy: leak.json")
                     + _role("b", trust="trust_policy: ../elsewhere/credentials.ini")
                     + _role("c", trust="trust_policy: notes.yaml")
                     + _role("d", trust="trust_policy: notes.json"))
    errors = _errors(path)
    assert len(errors) == 4
    assert "policy file 'notes.yaml' (line 3, column 1): invalid YAML" in errors[2]
    assert "policy file 'notes.json' (line 1, column 74): invalid JSON (Expecting ',' delimiter)" in errors[3]
    assert main(["lint", str(path)]) != 0
    printed = capsys.readouterr()
    for text in ["\n".join(errors), printed.out + printed.err]:
        for fragment in ("wJalrXUtnFEMI", "AKIAIOSFODNN7EXAMPLE", "aws_secret_access_key", "aws_access_key_id",
                         "oops", "[default"):
            assert fragment not in text, fragment


# --- vars -------------------------------------------------------------------------------------


def _with_vars(tmp_path: Path, vars_text: str, description: str) -> Path:
    return _playbook(tmp_path, f"name: x\nvars:\n{vars_text}resources:\n"
                     + _role(extra=f"    description: \"{description}\"\n"))


def test_vars_expand_recursively_and_leave_the_run_time_placeholders(tmp_path: Path, policies: Path) -> None:
    path = _with_vars(tmp_path, "  env: prod\n  team: web\n  prefix: ${team}-${env}\n  name: ${prefix}-${account_id}\n"
                      "  debug: true\n", "${name} in ${region} (${partition}) debug=${debug}")
    result = check_playbook(path)
    assert result.errors == [], [str(p) for p in result.errors]
    assert result.playbook is not None
    assert result.playbook.resources[0].description == "web-prod-${account_id} in ${region} (${partition}) debug=true"


def test_a_var_cycle_is_reported_naming_the_cycle(tmp_path: Path, policies: Path) -> None:
    path = _with_vars(tmp_path, "  a: x-${b}\n  b: ${c}\n  c: ${a}\n  d: ${a}\n", "${d}")
    errors = _errors(path)
    assert errors == [f"{path}:3:3, field 'vars.a': variable cycle: ${{a}} -> ${{b}} -> ${{c}} -> ${{a}}"]


def test_a_var_that_names_itself_is_a_cycle(tmp_path: Path, policies: Path) -> None:
    errors = _errors(_with_vars(tmp_path, "  a: ${a}\n", "${a}"))
    assert errors == [f"{tmp_path / 'pb.yaml'}:3:3, field 'vars.a': variable cycle: ${{a}} -> ${{a}}"]


def test_unknown_vars_are_errors_in_vars_and_in_resources(tmp_path: Path, policies: Path) -> None:
    path = _with_vars(tmp_path, "  a: ${nope}\n", "${a} ${missing}")
    errors = _errors(path)
    assert errors == [
        f"{path}:3:3, field 'vars.a': unknown variable ${{nope}} in the value of var 'a' (define it under 'vars')",
        f"{path}:8:5: resource 'r', field 'description': unknown variable ${{missing}} (define it under 'vars')",
    ]


def test_a_var_chain_cannot_expand_past_the_size_limit(tmp_path: Path, policies: Path) -> None:
    # each var doubles the previous one: 2**40 bytes if it were expanded
    vars_text = "  v0: xxxxxxxxxxxxxxxx\n" + "".join(f"  v{i}: ${{v{i - 1}}}${{v{i - 1}}}\n" for i in range(1, 41))
    path = _with_vars(tmp_path, vars_text, "${v40}")
    errors = _errors(path)
    assert len(errors) == 1
    assert errors[0].endswith("makes the playbook larger than the limit of 1048576 bytes "
                              f"(set {MAX_PLAYBOOK_BYTES_ENV} to change it)")


def test_many_uses_of_a_big_var_count_against_the_size_limit(tmp_path: Path, policies: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MAX_PLAYBOOK_BYTES_ENV, "4000")
    big = "y" * 500
    ok = _with_vars(tmp_path, f"  big: {big}\n", "${big}")
    assert check_playbook(ok).errors == []
    refs = ",".join(["${big}"] * 8)
    errors = _errors(_with_vars(tmp_path, f"  big: {big}\n", refs))
    assert len(errors) == 1 and "larger than the limit of 4000 bytes" in errors[0]
