"""The installable package: paths from the settings module, the shipped defaults, the provider
information, the core install without moto, and ``iamflow init``.

The wheel itself (built, installed in a clean virtualenv, run under Airflow) is tested by
``tools/wheel_check.py`` (``make test-wheel``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from iamflow import settings
from iamflow.cli import main
from iamflow.cli.init import DAG_FILES, SHIPPED_CONFIG, scaffold
from iamflow.errors import IamflowError

REPO = Path(__file__).resolve().parents[2]


def test_checkout_is_the_project_and_the_shipped_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(settings.HOME_ENV, raising=False)
    assert settings.project_root() == REPO
    # in a checkout the shipped defaults are the repository's own include/ files (no second copy)
    assert settings.shipped_dir() == REPO / "include"
    assert settings.compliance_config_path() == REPO / "include" / "compliance.yaml"


def test_home_prefers_the_projects_files_and_falls_back_to_the_shipped_ones(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(settings.HOME_ENV, str(tmp_path))
    shipped = settings.shipped_dir()
    assert settings.include_dir() == tmp_path / "include"
    assert settings.compliance_config_path() == shipped / "compliance.yaml"
    assert settings.targets_path() == shipped / "targets.yaml"
    assert settings.onboarding_config_path() == shipped / "onboarding.yaml"
    assert settings.templates_dir() == shipped / "templates"
    assert settings.policies_dir() == shipped / "policies"
    assert settings.playbooks_dir() == tmp_path / "include" / "playbooks"
    assert settings.teams_dir() == tmp_path / "include" / "playbooks" / "teams"

    (tmp_path / "include" / "policies").mkdir(parents=True)
    (tmp_path / "include" / "compliance.yaml").write_text("{}\n")
    assert settings.compliance_config_path() == tmp_path / "include" / "compliance.yaml"
    assert settings.policies_dir() == tmp_path / "include" / "policies"
    # an explicit variable still wins over both
    monkeypatch.setenv(settings.TARGETS_ENV, str(tmp_path / "t.yaml"))
    assert settings.targets_path() == tmp_path / "t.yaml"


def test_provider_info_validates_against_airflows_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    import airflow

    from iamflow.airflow.provider import get_provider_info

    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    info = get_provider_info()
    jsonschema.validate(info, schema)
    assert info["package-name"] == "iamflow"
    [plugin] = info["plugins"]
    module, _, name = plugin["plugin-class"].rpartition(".")
    __import__(module)
    cls = getattr(sys.modules[module], name)
    assert cls.name == plugin["name"] == "iamflow"
    assert [app["url_prefix"] for app in cls.fastapi_apps] == ["/compliance"]
    for group in ("operators", "sensors", "triggers"):
        for module_name in info[group][0]["python-modules"]:
            __import__(module_name)


def test_pyproject_declares_the_provider_and_plugin_entry_points() -> None:
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    points = project["entry-points"]
    assert points["apache_airflow_provider"]["provider_info"] == "iamflow.airflow.provider:get_provider_info"
    assert points["airflow.plugins"]["iamflow"] == "iamflow.airflow.plugin:entry_point_plugin"
    assert not any(dep.lower().startswith("moto") for dep in project["dependencies"])
    assert any(dep.startswith("moto[server]") for dep in project["optional-dependencies"]["local"])
    assert not [dep for dep in project["dependencies"] if "==" in dep], "ranges, not pins"


@pytest.mark.parametrize(("lazy", "through_entry_point"), [("True", True), ("False", False)])
def test_the_plugin_registers_once_entry_point_or_provider(
        lazy: str, through_entry_point: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    from iamflow.airflow import plugin

    monkeypatch.setenv("AIRFLOW__CORE__LAZY_DISCOVER_PROVIDERS", lazy)
    assert (plugin._entry_point_plugin() is plugin.IamflowPlugin) is through_entry_point
    if not through_entry_point:
        assert plugin._entry_point_plugin() is None


def test_embedded_aws_without_moto_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from iamflow.aws import local

    monkeypatch.setitem(sys.modules, "moto.server", None)  # what `import moto.server` sees without moto
    local._reporting_server_class.cache_clear()
    try:
        with pytest.raises(IamflowError, match=r"pip install 'iamflow\[local\]'"):
            local.LocalAws(port=0).start()
    finally:
        local._reporting_server_class.cache_clear()


def test_core_modules_do_not_import_moto() -> None:
    import subprocess

    code = ("import sys; import iamflow.cli, iamflow.engine, iamflow.compliance.sweep, iamflow.aws.local; "
            "sys.exit(1 if any(m == 'moto' or m.startswith('moto.') for m in sys.modules) else 0)")
    done = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": str(REPO / "include")},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_init_scaffolds_a_project_and_never_overwrites(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "proj"
    (root / "include").mkdir(parents=True)
    (root / "include" / "targets.yaml").write_text("# mine\n")

    assert main(["init", str(root)]) == 0
    out = capsys.readouterr().out
    assert f"skipped  {root / 'include' / 'targets.yaml'}" in out
    assert (root / "include" / "targets.yaml").read_text() == "# mine\n"
    for name in DAG_FILES:
        assert (root / "dags" / name).is_file()
    for name in SHIPPED_CONFIG:
        if name != "targets.yaml":
            text = (root / "include" / name).read_text()
            assert text == (settings.shipped_dir() / name).read_text() and text.lstrip().startswith("#")
    assert (root / "include" / "playbooks" / "s3-readonly.yaml").is_file()
    assert (root / "include" / "policies" / "s3-bucket-readonly.json").is_file()
    assert (root / "README.md").read_text().startswith("# proj")

    (root / "README.md").write_text("changed\n")
    again = scaffold(root)
    assert again.written == [] and len(again.skipped) == 9
    assert (root / "README.md").read_text() == "changed\n"


def test_init_refuses_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "afile"
    target.write_text("x")
    assert main(["init", str(target)]) == 1
    assert "is not a folder" in capsys.readouterr().err


def test_init_project_dags_load_and_read_the_projects_playbooks(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.dag_processing.dagbag import DagBag

    from iamflow.spec.loader import check_playbook

    scaffold(tmp_path)
    monkeypatch.setenv(settings.HOME_ENV, str(tmp_path))
    for name in ("IAMFLOW_PLAYBOOKS_DIR", "IAMFLOW_POLICIES_DIR", "IAMFLOW_TARGETS"):
        monkeypatch.delenv(name, raising=False)
    assert not check_playbook(tmp_path / "include" / "playbooks" / "s3-readonly.yaml").errors
    bag = DagBag(dag_folder=str(tmp_path / "dags"), safe_mode=False)
    assert not bag.import_errors, bag.import_errors
    assert {"playbook_s3_readonly", "compliance_sweep", "secret_rotation"} <= set(bag.dags)
    assert "invalid" not in bag.dags["playbook_s3_readonly"].tags
