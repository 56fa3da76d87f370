"""The production roles under Airflow's FAB auth manager: a real ``airflow api-server``, no Docker.

The compose stack runs the FAB auth manager with the roles of ``include/fab-roles.json`` on top of
FAB's built-in ``Viewer`` (docs/approvals.md): every user is a ``Viewer``; an operator adds
``Operator`` (trigger and clear runs, but not answer approvals), an approver adds ``Approver``
(answer approvals, but not trigger). This test migrates a fresh Airflow home with FAB, imports the
roles file, creates one user per role, starts ``airflow api-server`` on a free port, and checks
with each user's JWT:

- a viewer can neither trigger a DAG run nor answer an approval (403 for both), but can read;
- an operator can trigger (the request passes authorization: 404 for a DAG this home does not
  have) but cannot answer an approval;
- an approver can answer an approval (authorization passes: 404 for a run that does not exist)
  but cannot trigger.

Needs ``apache-airflow-providers-fab`` (3.10.2 with apache-airflow 3.3.2); skipped without it.
About a minute: one migration, one setup process and one server.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("airflow.providers.fab", reason="apache-airflow-providers-fab is not installed")

from iamflow.settings import include_dir  # noqa: E402
from tests.e2e.test_onboarding_e2e import _healthy, _stop  # noqa: E402

pytestmark = pytest.mark.e2e

FAB = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
ROLES_FILE = include_dir() / "fab-roles.json"
USERS = {"viewer": ["Viewer"], "operator": ["Viewer", "Operator"], "approver": ["Viewer", "Approver"]}
DAG_ID = "remediate_credentials"
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

# one process for the roles and users (each Airflow CLI call would start the FAB app again)
SETUP = textwrap.dedent("""
    import json, sys
    from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder
    roles_file, users = sys.argv[1], json.loads(sys.argv[2])
    with get_application_builder() as appbuilder:
        sm = appbuilder.sm
        for entry in json.load(open(roles_file)):
            role = sm.add_role(entry["name"])
            for action in entry["action"].split(","):
                perm = sm.get_permission(action, entry["resource"])
                assert perm is not None, (action, entry["resource"])
                sm.add_permission_to_role(role, perm)
        for name, roles in users.items():
            sm.add_user(name, name, "x", f"{name}@example.com", [sm.find_role(r) for r in roles], f"pw-{name}")
""")


def _env(home: Path, port: int) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__AUTH_MANAGER": FAB,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__API_AUTH__JWT_SECRET": "fab-roles-test-secret",
    })
    return env


def _airflow(env: dict[str, str], *args: str, log: Path) -> None:
    with log.open("ab") as out:
        done = subprocess.run([sys.executable, "-m", "airflow", *args], env=env, stdout=out,
                              stderr=subprocess.STDOUT, timeout=600, check=False)
    assert done.returncode == 0, log.read_text(errors="replace")[-3000:]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from iamflow.aws.local import free_port

    home = tmp_path_factory.mktemp("fab-home")
    (home / "dags").mkdir()
    port = free_port()
    env = _env(home, port)
    log = home / "setup.log"
    _airflow(env, "db", "migrate", log=log)
    _airflow(env, "fab-db", "migrate", log=log)
    done = subprocess.run([sys.executable, "-c", SETUP, str(ROLES_FILE), json.dumps(USERS)], env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    url = f"http://127.0.0.1:{port}"
    with (home / "api-server.log").open("wb") as out:
        server = subprocess.Popen([sys.executable, "-m", "airflow", "api-server", "--port", str(port), "--workers", "1"],
                                  env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        assert _healthy(url, server, 180.0), (home / "api-server.log").read_text(errors="replace")[-3000:]
        yield url
    finally:
        _stop(server)


def _token(api: str, user: str) -> str:
    request = urllib.request.Request(f"{api}/auth/token", method="POST", headers={"Content-Type": "application/json"},
                                     data=json.dumps({"username": user, "password": f"pw-{user}"}).encode())
    with _opener.open(request, timeout=30) as response:
        return str(json.loads(response.read())["access_token"])


def _status(api: str, user: str, method: str, path: str, body: object = None) -> int:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{api}{path}", data=data, method=method, headers={
        "Authorization": f"Bearer {_token(api, user)}", "Content-Type": "application/json"})
    try:
        with _opener.open(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def trigger(api: str, user: str) -> int:
    return _status(api, user, "POST", f"/api/v2/dags/{DAG_ID}/dagRuns", {"logical_date": None})


def answer(api: str, user: str) -> int:
    return _status(api, user, "PATCH", f"/api/v2/dags/{DAG_ID}/dagRuns/some-run/taskInstances/approve/-1/hitlDetails",
                   {"chosen_options": ["Approve"], "params_input": {}})


def test_the_roles_file_names_the_documented_roles() -> None:
    roles = {entry["name"] for entry in json.loads(ROLES_FILE.read_text())}
    assert roles == {"Operator", "Approver"}
    approver = [e for e in json.loads(ROLES_FILE.read_text()) if e["name"] == "Approver"]
    assert not any(e["resource"] == "DAG Runs" for e in approver), "an approver cannot trigger"


def test_a_viewer_can_read_but_neither_trigger_nor_approve(api: str) -> None:
    assert _status(api, "viewer", "GET", "/api/v2/dags") == 200
    assert trigger(api, "viewer") == 403
    assert answer(api, "viewer") == 403


def test_an_operator_triggers_but_cannot_approve(api: str) -> None:
    assert trigger(api, "operator") == 404  # authorized; this home has no such DAG
    assert answer(api, "operator") == 403


def test_an_approver_approves_but_cannot_trigger(api: str) -> None:
    assert answer(api, "approver") == 404  # authorized; no such run
    assert trigger(api, "approver") == 403
