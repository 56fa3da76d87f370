"""Variables from outside the file: ``--var``, ``${env:NAME}`` and a DAG run's ``vars`` Param.

- ``--var`` (here: ``overrides``, or the running command's vars) overrides the playbook's ``vars:``;
- ``${env:NAME}`` reads the environment of the loading process; an unset one names itself; it
  cannot name a resource, and it keeps the expansion budget;
- a Param changes values only: a var in a name, a kind or a reference (directly or through
  another var) is refused.

Every command that loads playbooks takes ``--var``; the ones that need no AWS are run here.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from iamflow.cli import main
from iamflow.settings import MAX_PLAYBOOK_BYTES_ENV
from iamflow.spec.loader import check_playbook, lint_paths, load_playbook
from iamflow.spec.variables import command_line_vars, parse_var, set_command_line_vars

TRUST = {"Version": "2012-10-17",
         "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole"}]}


def write(tmp_path: Path, text: str, name: str = "pb.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def role_playbook(tmp_path: Path, *, name: str = "app-${suffix}", description: str = "${purpose}",
                  vars_: str = "  suffix: a\n  purpose: tests\n", extra: str = "") -> Path:
    text = (f"name: outside\nvars:\n{vars_}resources:\n"
            f"  - kind: iam_role\n    name: \"{name}\"\n    description: \"{description}\"\n"
            f"    trust_policy: {json.dumps(TRUST)}\n{extra}")
    return write(tmp_path, text)


@pytest.fixture(autouse=True)
def _no_command_line_vars():
    yield
    set_command_line_vars({})


# --- --var ----------------------------------------------------------------------------------------


def test_an_override_wins_over_the_playbook_s_vars_and_may_add_one(tmp_path):
    path = role_playbook(tmp_path, vars_="  suffix: a\n")
    assert check_playbook(path).playbook is None  # ${purpose} is defined nowhere
    pb = load_playbook(path, overrides={"suffix": "b", "purpose": "from the command line"})
    [role] = pb.resources
    assert (role.name, role.description) == ("app-b", "from the command line")


def test_the_command_s_vars_are_every_load_s_default_overrides(tmp_path):
    path = role_playbook(tmp_path)
    set_command_line_vars({"suffix": "cli"})
    assert command_line_vars() == {"suffix": "cli"}
    assert load_playbook(path).resources[0].name == "app-cli"
    assert [r.playbook.resources[0].name for r in lint_paths([path])] == ["app-cli"]
    assert load_playbook(path, overrides={}).resources[0].name == "app-a"  # explicit overrides win
    set_command_line_vars({})
    assert load_playbook(path).resources[0].name == "app-a"


def test_an_override_is_expanded_like_the_file_s_own_vars_and_keeps_cycle_detection(tmp_path):
    path = role_playbook(tmp_path)
    assert load_playbook(path, overrides={"suffix": "${purpose}-x"}).resources[0].name == "app-tests-x"
    errors = [str(e) for e in check_playbook(path, overrides={"suffix": "${purpose}", "purpose": "${suffix}"}).errors]
    assert any("variable cycle" in e for e in errors)


@pytest.mark.parametrize(("text", "message"), [
    ("suffix", "expected name=value"),
    ("9x=1", "is not a variable name"),
    ("account_id=123456789012", "filled at run time"),
])
def test_a_malformed_var_is_refused(text, message):
    with pytest.raises(ValueError, match=message):
        parse_var(text)


def test_parse_var_keeps_everything_after_the_first_equals_sign():
    assert parse_var("filter=a=b") == ("filter", "a=b")
    assert parse_var("empty=") == ("empty", "")


# --- ${env:NAME} ------------------------------------------------------------------------------------


def test_an_environment_variable_fills_a_var_and_a_field(tmp_path, monkeypatch):
    monkeypatch.setenv("IAMFLOW_TEST_PURPOSE", "from the environment")
    path = role_playbook(tmp_path, vars_="  suffix: a\n  purpose: ${env:IAMFLOW_TEST_PURPOSE}\n")
    pb = load_playbook(path)
    assert pb.resources[0].description == "from the environment"
    assert pb.env_values == {"IAMFLOW_TEST_PURPOSE": "from the environment"}
    assert pb.hide_env_values("x from the environment y") == "x ${env:IAMFLOW_TEST_PURPOSE} y"
    direct = role_playbook(tmp_path, description="${env:IAMFLOW_TEST_PURPOSE}")
    assert load_playbook(direct).resources[0].description == "from the environment"


def test_an_unset_environment_variable_is_an_error_that_names_it(tmp_path, monkeypatch, api_calls):
    monkeypatch.delenv("IAMFLOW_TEST_UNSET", raising=False)
    path = role_playbook(tmp_path, description="${env:IAMFLOW_TEST_UNSET}")
    [error] = [str(e) for e in check_playbook(path).errors]
    assert "environment variable IAMFLOW_TEST_UNSET is not set" in error
    assert f"{path}:" in error and "resource 'app-${suffix}'" in error and "field 'description'" in error
    in_var = role_playbook(tmp_path, vars_="  suffix: a\n  purpose: ${env:IAMFLOW_TEST_UNSET}\n")
    [error] = [str(e) for e in check_playbook(in_var).errors]
    assert "field 'vars.purpose'" in error and "IAMFLOW_TEST_UNSET is not set" in error
    assert api_calls == []


def test_an_empty_environment_variable_counts_as_unset(tmp_path):
    path = role_playbook(tmp_path, description="${env:EMPTY}")
    assert "EMPTY is not set" in str(check_playbook(path, environ={"EMPTY": ""}).errors[0])


def test_the_environment_is_read_from_the_loading_process_or_the_mapping_given(tmp_path, monkeypatch):
    path = role_playbook(tmp_path, description="${env:WHERE}")
    monkeypatch.setenv("WHERE", "this process")
    assert load_playbook(path).resources[0].description == "this process"
    assert check_playbook(path, environ={"WHERE": "given"}).playbook.resources[0].description == "given"


def test_an_environment_value_is_taken_literally(tmp_path):
    path = role_playbook(tmp_path, description="${env:LITERAL}")
    pb = check_playbook(path, environ={"LITERAL": "${purpose}"}).playbook
    assert pb is not None and pb.resources[0].description == "${purpose}"


def test_an_environment_value_cannot_name_a_resource(tmp_path):
    path = role_playbook(tmp_path, vars_="  suffix: ${env:SUFFIX}\n  purpose: p\n")
    errors = [str(e) for e in check_playbook(path, environ={"SUFFIX": "s3cr3t-suffix"}).errors]
    assert any("${env:SUFFIX} is used in field 'name' of resource" in e for e in errors)
    assert not any("s3cr3t-suffix" in e for e in errors)


def test_an_environment_value_counts_against_the_expansion_budget(tmp_path, monkeypatch):
    monkeypatch.setenv(MAX_PLAYBOOK_BYTES_ENV, "4096")
    path = role_playbook(tmp_path, description="${env:HUGE}")
    errors = [str(e) for e in check_playbook(path, environ={"HUGE": "x" * 5000}).errors]
    assert any("larger than the limit of 4096 bytes" in e for e in errors)


# --- a DAG run's vars Param: values only -----------------------------------------------------------


def test_a_param_changes_a_value(tmp_path):
    path = role_playbook(tmp_path)
    assert load_playbook(path, param_vars={"purpose": "a run"}).resources[0].description == "a run"
    # the same value as the DAG was built with is no change
    assert load_playbook(path, param_vars={"suffix": "a"}).resources[0].name == "app-a"


def test_a_param_cannot_change_a_var_that_names_a_resource(tmp_path):
    path = role_playbook(tmp_path)
    [error] = [str(e) for e in check_playbook(path, param_vars={"suffix": "b"}).errors]
    assert "field 'vars.suffix'" in error
    assert "decides field 'name' of resource 'app-${suffix}'" in error and "a Param cannot change it" in error


def test_a_param_cannot_change_a_var_that_a_reference_uses_through_another_var(tmp_path):
    extra = "    boundary: \"${boundary}\"\n"
    path = role_playbook(tmp_path, name="app", vars_="  team: a\n  boundary: ${team}-boundary\n  purpose: p\n",
                         extra=extra)
    text = path.read_text() + ("  - kind: iam_managed_policy\n    name: a-boundary\n"
                               "    document: {Version: '2012-10-17', Statement: [{Effect: Allow, "
                               "Action: 's3:ListAllMyBuckets', Resource: '*'}]}\n")
    path.write_text(text)
    assert load_playbook(path).resources[0].boundary == "a-boundary"
    [error] = [str(e) for e in check_playbook(path, param_vars={"team": "b"}).errors]
    assert "var 'team' decides field 'boundary' of resource 'app'" in error
    assert load_playbook(path, param_vars={"purpose": "ok"}).resources[0].description == "ok"


def test_a_param_cannot_change_a_kind_or_the_playbook_s_name(tmp_path):
    path = write(tmp_path, """\
        name: pb-${env_name}
        vars: {env_name: dev, k: iam_role}
        resources:
          - kind: ${k}
            name: app
            trust_policy: {Version: '2012-10-17', Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: 'sts:AssumeRole'}]}
        """)
    errors = [str(e) for e in check_playbook(path, param_vars={"k": "iam_user", "env_name": "prod"}).errors]
    assert any("var 'k' decides field 'kind'" in e for e in errors)
    assert any("var 'env_name' decides the playbook's name" in e for e in errors)


# --- --var on every command that loads playbooks (the offline ones) --------------------------------


def test_lint_takes_var(tmp_path, capsys, api_calls):
    path = role_playbook(tmp_path, vars_="  suffix: a\n")
    assert main(["lint", str(path)]) == 1
    assert "unknown variable ${purpose}" in capsys.readouterr().err
    assert main(["lint", str(path), "--var", "purpose=p"]) == 0
    assert command_line_vars() == {}  # reset after the command
    assert api_calls == []


def test_lint_json_with_var_prints_no_problem(tmp_path, capsys):
    path = role_playbook(tmp_path, vars_="  suffix: a\n")
    assert main(["lint", "--json", str(path), "--var", "purpose=p"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_a_malformed_var_is_a_usage_error(tmp_path, capsys):
    path = role_playbook(tmp_path)
    with pytest.raises(SystemExit) as exited:
        main(["lint", str(path), "--var", "no-equals"])
    assert exited.value.code == 2
    assert "expected name=value" in capsys.readouterr().err


def test_policy_takes_var(tmp_path, capsys):
    path = role_playbook(tmp_path, vars_="  suffix: a\n  purpose: p\n")
    assert main(["policy", "--for", "provisioner", str(path), "--var", "suffix=zz"]) == 0
    out = capsys.readouterr().out
    assert "role/app-zz" in out and "role/app-a" not in out


def test_explain_takes_var(tmp_path, capsys):
    inline = "    inline_policies:\n      s3: {Version: '2012-10-17', Statement: [{Effect: Allow, Action: 's3:GetObject', " \
             "Resource: 'arn:aws:s3:::${bucket}/*'}]}\n"
    path = role_playbook(tmp_path, vars_="  suffix: a\n  purpose: p\n  bucket: one\n", extra=inline)
    args = ["explain", str(path), "--principal", "app-a", "--action", "s3:GetObject",
            "--resource", "arn:aws:s3:::two/key", "--account", "123456789012"]
    assert main(args) == 3  # denied: the role reads bucket one
    assert main([*args, "--var", "bucket=two"]) == 0
    capsys.readouterr()


@pytest.mark.parametrize("command", ["lint", "plan", "apply", "sweep", "policy", "verify-rotation", "explain"])
def test_every_command_that_loads_playbooks_accepts_var(command):
    from iamflow.cli import build_parser

    args = build_parser().parse_args([command, *(["--for", "auditor"] if command == "policy" else []),
                                      *(["x.yaml"] if command not in ("sweep",) else []),
                                      "--var", "a=1", "--var", "b=x=y", "--var", "a=2"])
    assert args.vars == [("a", "1"), ("b", "x=y"), ("a", "2")]
