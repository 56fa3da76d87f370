"""The built wheel in a clean virtualenv, under each lock: what a user of their own Airflow gets.

``make test-wheel`` (part of ``make test``), or ``python -m tools.wheel_check [--lock FILE ...]``:

1. ``python -m build`` writes the sdist and the wheel to a temporary folder;
2. for each lock (``requirements.txt``: Airflow 3.3; ``requirements-airflow-3.1.txt``: the oldest
   supported Airflow), a virtualenv ``.venv-wheel-<lock>-<hash of the lock>/`` (in the checkout,
   or in ``$IAMFLOW_WHEEL_VENVS``, e.g. a folder a CI caches between runs) holding only the
   wheel with its ``local`` extra and their dependencies, the lock as constraints (made once per
   lock, then reused: only the wheel is reinstalled). pip installs the wheel; its dependencies are
   installed by uv when the lock provides it (seconds instead of minutes), else by pip, and
   ``pip check`` then judges the whole;
3. from a temporary folder, with no checkout on ``PYTHONPATH``: ``iamflow init``, a DagBag of its
   DAGs (no import errors) and one of the repository's ``dags/`` (the onboarding approval built by
   that Airflow's standard provider), ``airflow providers list`` showing iamflow, ``airflow dags test`` of
   the example playbook against the embedded AWS (``iamflow local-aws``; the managed policy it
   declares must then exist there), and the Compliance view served by ``airflow api-server``
   (anonymous visitors sent to the login page, a signed-in user given the page, the plugin listed
   by ``/api/v2/plugins``).

Every step prints its time; the whole check exits 1 at the first failure with the step's output.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LOCKS = ("requirements.txt", "requirements-airflow-3.1.txt")
EXAMPLE_DAG = "playbook_s3_readonly"
EXAMPLE_POLICY = "myapp-data-readonly"  # what the example playbook (bucket var myapp-data) creates
STEP_TIMEOUT = 900.0
# where the reusable venvs live: the checkout (git-ignored) unless set, e.g. to a CI cache folder
VENVS_ENV = "IAMFLOW_WHEEL_VENVS"


class CheckFailed(RuntimeError):
    """A step of the check failed; the message carries its output's tail."""


def say(text: str) -> None:
    print(f"wheel-check: {text}", flush=True)


def run(cmd: Sequence[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
        timeout: float = STEP_TIMEOUT) -> str:
    """Run ``cmd``; return its output, or raise CheckFailed with the output's tail."""
    done = subprocess.run(list(cmd), env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise CheckFailed(f"{' '.join(cmd)} exited {done.returncode}:\n{output[-4000:]}")
    return output


def timed(label: str, step: Callable[[], object]) -> object:
    started = time.monotonic()
    result = step()
    say(f"{label}: {time.monotonic() - started:.1f}s")
    return result


def source_copy(target: Path) -> Path:
    """Copy the files git knows (tracked, or new and not ignored) to ``target``: a fresh clone's tree.

    Building there leaves no ``iamflow.egg-info`` in the checkout (its entry points would be seen
    by every process run with ``PYTHONPATH=include``) and ignores whatever else lies around.
    """
    listed = run(["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"])
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def build(out: Path) -> Path:
    """Build the sdist and the wheel; check the sdist carries the shipped defaults; return the wheel."""
    run([sys.executable, "-m", "build", "--outdir", str(out), str(source_copy(out / "src"))])
    [wheel] = out.glob("iamflow-*.whl")
    [sdist] = out.glob("iamflow-*.tar.gz")
    import tarfile

    with tarfile.open(sdist) as archive:
        names = archive.getnames()
    if not any(n.endswith("/include/compliance.yaml") for n in names):
        raise CheckFailed(f"{sdist.name} lacks include/compliance.yaml")
    return wheel


def venv_for(lock: Path) -> Path:
    """The reusable virtualenv of ``lock`` (created and filled when its lock changed)."""
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()[:12]
    stem = lock.name.removesuffix(".txt")
    home = Path(os.environ.get(VENVS_ENV) or REPO)
    venv = home / f".venv-wheel-{stem}-{digest}"
    for stale in home.glob(f".venv-wheel-{stem}-*"):
        # only this lock's older venvs: `requirements-*` must not match `requirements-airflow-3.1-*`
        if stale != venv and re.fullmatch(rf"\.venv-wheel-{re.escape(stem)}-[0-9a-f]{{12}}", stale.name):
            shutil.rmtree(stale, ignore_errors=True)
    return venv


def _declared(wheel: Path) -> str:
    """The wheel's declared dependencies (its METADATA ``Requires-Dist`` lines), as one text."""
    import zipfile

    with zipfile.ZipFile(wheel) as archive:
        [metadata] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        lines = archive.read(metadata).decode().splitlines()
    return "\n".join(sorted(line for line in lines if line.startswith("Requires-Dist:")))


def install(venv: Path, wheel: Path, lock: Path) -> Path:
    """Install the wheel with its ``local`` extra into ``venv`` under ``lock``; return its bin folder.

    The dependencies are resolved (the lock as constraints) only when the venv is new or the
    wheel declares other ones than last time (``.iamflow-declared`` in the venv); otherwise only
    the wheel's own files are reinstalled, and ``pip check`` proves its dependencies still hold.
    """
    bin_dir = venv / "bin"
    uv = _uv()
    if not (bin_dir / "python").exists():
        # --seed: the venv has pip, which installs the wheel itself below, as a user's pip would
        run([uv, "venv", "-q", "--seed", "--python", _base_python(), str(venv)] if uv
            else [_base_python(), "-m", "venv", str(venv)])
    # no byte-compiling at install time: Python compiles what the checks import, a fraction of Airflow
    pip = [str(bin_dir / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-compile"]
    run([*pip, "--no-deps", "--force-reinstall", str(wheel)])
    stamp = venv / ".iamflow-declared"
    declared = _declared(wheel)
    if not stamp.exists() or stamp.read_text() != declared:
        # the wheel's declared dependencies only (a dependency it forgets to declare stays missing), pinned
        # by the lock; uv installs them in seconds where pip takes minutes, with the same constraints
        run([uv, "pip", "install", "-q", "--python", str(bin_dir / "python"), "-c", str(lock), f"{wheel}[local]"]
            if uv else [*pip, "-c", str(lock), f"{wheel}[local]"])
        stamp.write_text(declared)
    run([str(bin_dir / "python"), "-m", "pip", "check"])  # pip's own judgement of what is installed
    return bin_dir


def _uv() -> str | None:
    """uv, installed beside this interpreter by the lock (or on PATH); None without it: pip does all then."""
    beside = Path(sys.executable).parent / "uv"
    return str(beside) if beside.exists() else shutil.which("uv")


def _base_python() -> str:
    return getattr(sys, "_base_executable", None) or sys.executable


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(bin_dir: Path, work: Path, endpoint_url: str) -> dict[str, str]:
    """An environment with no checkout on the path: the venv's bin, a fresh Airflow home, the embedded AWS."""
    keep = ("HOME", "LANG", "LC_ALL", "TMPDIR", "NO_PROXY", "no_proxy", "TZ")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    no_proxy = ",".join(p for p in (env.get("NO_PROXY"), "127.0.0.1,localhost") if p)
    env.update({
        "PATH": os.pathsep.join([str(bin_dir), "/usr/bin", "/bin"]),
        "AIRFLOW_HOME": str(work / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(work / "project" / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(work / "no-plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(work / "passwords.json"),
        "AIRFLOW__API_AUTH__JWT_SECRET": hashlib.sha256(str(work).encode()).hexdigest(),
        "IAMFLOW_REPORT_DIR": str(work / "reports"),
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(work / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(work / "no-aws-config"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps({
            "conn_type": "aws", "login": "testing", "password": "testing",
            "extra": {"endpoint_url": endpoint_url, "region_name": "us-east-1",
                      "service_config": {"sts": {"endpoint_url": endpoint_url}}}}),
        "NO_PROXY": no_proxy,
        "no_proxy": no_proxy,
        "PYTHONUNBUFFERED": "1",
    })
    (work / "no-plugins").mkdir(parents=True, exist_ok=True)
    (work / "passwords.json").write_text(json.dumps({"admin": "wheel-check"}))
    return env


def _wait(what: str, ready: Callable[[], bool], process: subprocess.Popen[bytes], log: Path,
          timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise CheckFailed(f"{what} exited {process.returncode}:\n{log.read_text(errors='replace')[-4000:]}")
        try:
            if ready():
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.5)
    raise CheckFailed(f"{what} not ready within {timeout:.0f}s:\n{log.read_text(errors='replace')[-4000:]}")


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str, str]:
    """GET without following redirects: (status, Location header, body)."""
    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(_NoRedirect)
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with opener.open(request, timeout=10) as answer:
            return answer.status, answer.headers.get("Location", ""), answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Location", ""), exc.read().decode(errors="replace")


def check_project(bin_dir: Path, work: Path, env: dict[str, str]) -> None:
    """``iamflow init``, then the DagBag, the provider list and ``airflow dags test`` of the example."""
    project = work / "project"
    where = json.loads(run([str(bin_dir / "python"), "-c",
                            "import iamflow, json, sys; print(json.dumps([iamflow.__file__, sys.path]))"],
                           env=env, cwd=work).strip().splitlines()[-1])
    venv = bin_dir.parent.resolve()
    checkout = [p for p in where[1] if p and Path(p).resolve().is_relative_to(REPO)
                and not Path(p).resolve().is_relative_to(venv)]
    if checkout or not Path(where[0]).resolve().is_relative_to(venv):
        raise CheckFailed(f"iamflow is imported from {where[0]}, the path has the checkout: {checkout}")
    out = run([str(bin_dir / "iamflow"), "init", str(project)], env=env, cwd=work)
    if "9 created, 0 skipped" not in out:
        raise CheckFailed(f"iamflow init:\n{out}")
    dagbag = ("import sys, os\ntry:\n    from airflow.dag_processing.dagbag import DagBag\n"
              "except ImportError:  # Airflow 3.1\n    from airflow.models.dagbag import DagBag\n"
              "b = DagBag(dag_folder=os.environ['AIRFLOW__CORE__DAGS_FOLDER'], safe_mode=False); "
              "print('import errors:', b.import_errors); print('dags:', sorted(b.dags)); "
              f"sys.exit(1 if b.import_errors or {EXAMPLE_DAG!r} not in b.dags else 0)")
    timed("DagBag of the scaffolded project", lambda: run([str(bin_dir / "python"), "-c", dagbag], env=env, cwd=work))
    # the repository's own DAGs too, from the installed package (onboarding's approval step included)
    own = {**env, "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"), "IAMFLOW_HOME": str(REPO)}
    own_bag = dagbag.replace(repr(EXAMPLE_DAG), repr("onboard_team"))
    timed("DagBag of the repository's dags/", lambda: run([str(bin_dir / "python"), "-c", own_bag], env=own, cwd=work))
    providers = run([str(bin_dir / "airflow"), "providers", "list", "-o", "json"], env=env, cwd=work)
    if '"package_name": "iamflow"' not in providers:
        raise CheckFailed(f"airflow providers list does not show iamflow:\n{providers[-2000:]}")
    timed("airflow db migrate", lambda: run([str(bin_dir / "airflow"), "db", "migrate"], env=env, cwd=work))
    timed(f"airflow dags test {EXAMPLE_DAG}",
          lambda: run([str(bin_dir / "airflow"), "dags", "test", EXAMPLE_DAG], env=env, cwd=work))
    policies = run([str(bin_dir / "python"), "-c",
                    "import boto3; print([p['PolicyName'] for p in "
                    "boto3.client('iam').list_policies(Scope='Local')['Policies']])"], env=env, cwd=work)
    if EXAMPLE_POLICY not in policies:
        raise CheckFailed(f"{EXAMPLE_DAG} ran, but the embedded AWS has no {EXAMPLE_POLICY}: {policies}")


def check_view(bin_dir: Path, work: Path, env: dict[str, str]) -> None:
    """Start ``airflow api-server``; the Compliance view must be served with no plugins/ folder."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = work / "api-server.log"
    with log.open("wb") as out:
        server = subprocess.Popen([str(bin_dir / "airflow"), "api-server", "--port", str(port)], env=env, cwd=work,
                                  stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def healthy() -> bool:
            status, _, body = _get(f"{url}/api/v2/monitor/health")
            return status == 200 and json.loads(body)["metadatabase"]["status"] == "healthy"

        _wait("airflow api-server", healthy, server, log, 240.0)
        status, location, _ = _get(f"{url}/compliance/")
        if status not in (302, 303, 307) or "login" not in location:
            raise CheckFailed(f"anonymous /compliance/: {status} {location!r}, expected a redirect to the login")
        request = urllib.request.Request(f"{url}/auth/token", method="POST", headers={"Content-Type": "application/json"},
                                         data=json.dumps({"username": "admin", "password": "wheel-check"}).encode())
        with urllib.request.urlopen(request, timeout=10) as answer:
            token = json.loads(answer.read())["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        status, _, body = _get(f"{url}/compliance/", auth)
        if status != 200 or "Compliance" not in body:
            raise CheckFailed(f"/compliance/ as admin: {status}\n{body[:1000]}")
        status, _, body = _get(f"{url}/api/v2/plugins", auth)
        names = [p["name"] for p in json.loads(body).get("plugins", [])] if status == 200 else []
        if "iamflow" not in names:
            raise CheckFailed(f"/api/v2/plugins: {status}, plugins {names}\n{body[:1000]}")
    finally:
        os.killpg(server.pid, 15)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, 9)
            server.wait()


def check_lock(lock: Path, wheel: Path) -> None:
    say(f"--- {lock.name}")
    venv = venv_for(lock)
    reused = (venv / "bin" / "python").exists()
    bin_dir = timed(f"install the wheel [local] into {venv.name} ({'reused' if reused else 'new'})",
                    lambda: install(venv, wheel, lock))
    assert isinstance(bin_dir, Path)
    version = run([str(bin_dir / "python"), "-c", "import airflow; print(airflow.__version__)"]).strip()
    say(f"Airflow {version}")
    with tempfile.TemporaryDirectory(prefix="iamflow-wheel-") as tmp:
        work = Path(tmp)
        port = _free_port()
        endpoint = f"http://127.0.0.1:{port}"
        env = clean_env(bin_dir, work, endpoint)
        aws_log = work / "local-aws.log"
        with aws_log.open("wb") as out:
            aws = subprocess.Popen([str(bin_dir / "iamflow"), "local-aws", "--port", str(port)], env=env, cwd=work,
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            _wait("iamflow local-aws", lambda: _get(f"{endpoint}/moto-api/")[0] == 200, aws, aws_log, 60.0)
            check_project(bin_dir, work, env)
            timed("the Compliance view from airflow api-server", lambda: check_view(bin_dir, work, env))
        finally:
            os.killpg(aws.pid, 15)
            aws.wait(timeout=30)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--lock", action="append", help="a lock file (repeatable; default: both locks)")
    parser.add_argument("--prepare", action="store_true",
                        help="only build the wheel and make or refresh each lock's virtualenv (e.g. ahead of "
                             "time, beside other work)")
    args = parser.parse_args(argv)
    locks = [REPO / name for name in (args.lock or LOCKS)]
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="iamflow-dist-") as dist:
            wheel = timed("python -m build (sdist and wheel)", lambda: build(Path(dist)))
            assert isinstance(wheel, Path)
            for lock in locks:
                if args.prepare:
                    venv = venv_for(lock)
                    timed(f"prepare {venv.name}", lambda: install(venv, wheel, lock))  # noqa: B023
                else:
                    check_lock(lock, wheel)
    except (CheckFailed, subprocess.TimeoutExpired) as exc:
        say(f"FAILED: {exc}")
        return 1
    say(f"passed for {', '.join(lock.name for lock in locks)} in {time.monotonic() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
