"""The plugin: the Compliance app at /compliance, the "Compliance" nav link, and Airflow lists both.

The plugin lives in the package (``iamflow.airflow.plugin``, registered by its entry point);
``plugins/iamflow_compliance.py`` exposes it only to a checkout run without installing iamflow.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from fastapi import FastAPI

from iamflow.airflow.plugin import IamflowPlugin

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "plugins" / "iamflow_compliance.py"


def load_plugin_module() -> object:
    spec = importlib.util.spec_from_file_location("iamflow_compliance_under_test", PLUGIN)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_plugins_folder_module_exposes_the_plugin_only_without_the_entry_point() -> None:
    module = load_plugin_module()
    installed = any(ep.value.startswith("iamflow.") for ep in entry_points(group="airflow.plugins"))
    assert (getattr(module, "IamflowPlugin", None) is IamflowPlugin) is not installed


def test_plugin_exposes_app_and_nav_link() -> None:
    plugin = IamflowPlugin
    assert plugin.name == "iamflow"
    [app] = plugin.fastapi_apps
    assert app["url_prefix"] == "/compliance" and isinstance(app["app"], FastAPI)
    paths = {route.path for route in app["app"].routes}
    assert {"/", "/findings", "/api/summary", "/api/findings", "/reports/{run_id}/{file}"} <= paths
    [view] = plugin.external_views
    assert view["name"] == "Compliance" and view["href"] == "/compliance/" and view["destination"] == "nav"


@pytest.mark.slow
def test_airflow_lists_the_plugin(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update({"AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__CORE__DAGS_FOLDER": str(tmp_path / "dags")})
    airflow = Path(sys.executable).with_name("airflow")
    done = subprocess.run([str(airflow), "plugins", "-o", "json"], env=env, capture_output=True, text=True,
                          timeout=180, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    plugins = json.loads(done.stdout[done.stdout.index("["):])
    [ours] = [p for p in plugins if p["name"] == "iamflow"]
    assert [a["url_prefix"] for a in ours["fastapi_apps"]] == ["/compliance"], ours
    assert [(v["name"], v["href"], v["destination"]) for v in ours["external_views"]] == [
        ("Compliance", "/compliance/", "nav")], ours
