"""docker-compose.yaml and the Dockerfile, validated without a Docker engine.

Three layers, each independent of the others:

1. ``docker-compose config`` (Debian's Python docker-compose v1 resolves anchors, interpolates
   variables and validates against its bundled compose-spec schema without an engine) — when the
   command is installed (``apt-get install docker-compose``); skipped otherwise.
2. JSON Schema: the compose-spec schema that Debian's docker-compose ships, when present, and
   always :data:`COMPOSE_SUBSET_SCHEMA`, a subset of the compose specification written here
   (the service keys this file uses, with their types), which rejects unknown keys.
3. Structure, in Python: commands name real ``airflow`` subcommands, mounts point at the
   repository's folders, ``depends_on`` targets exist, healthchecks, a scalable worker, the image
   tag matching the lock, the CeleryExecutor wiring, and the ``local`` profile.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yaml"
DOCKERFILE = REPO / "Dockerfile"
DEBIAN_SCHEMA = Path("/usr/lib/python3/dist-packages/compose/config/compose_spec.json")
# what a user must provide; the values here are placeholders for validation only
REQUIRED_ENV = {
    "POSTGRES_PASSWORD": "pg-placeholder",
    "AIRFLOW__CORE__FERNET_KEY": "fernet-placeholder",
    "AIRFLOW__API_AUTH__JWT_SECRET": "jwt-placeholder",
    "AIRFLOW_ADMIN_PASSWORD": "admin-placeholder",
}
AIRFLOW_SERVICES = {"airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
                    "airflow-worker"}
ONE_SHOT = {"airflow-init", "airflow-local-aws"}
# subcommands that executors and providers add to `airflow` (the venv has no Celery provider)
PROVIDER_COMMANDS = {"celery": {"worker", "flower", "stop"}, "fab-db": {"migrate"},
                     "roles": {"import", "list"}, "users": {"create", "list"}}
# bind mounts whose source is output, created on first start (and ignored by git)
OUTPUT_DIRS = {"reports"}

_STR_LIST = {"type": "array", "items": {"type": "string"}}
_STRINGS = {"oneOf": [{"type": "string"}, _STR_LIST]}
_ENV = {"oneOf": [
    {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean", "null"]}},
    _STR_LIST,
]}
_DEPENDS = {"oneOf": [_STR_LIST, {"type": "object", "additionalProperties": {
    "type": "object", "required": ["condition"], "additionalProperties": False,
    "properties": {"condition": {"enum": ["service_started", "service_healthy",
                                          "service_completed_successfully"]}},
}}]}
_HEALTHCHECK = {"type": "object", "additionalProperties": False, "properties": {
    "test": _STRINGS, "interval": {"type": "string"}, "timeout": {"type": "string"},
    "retries": {"type": "integer"}, "start_period": {"type": "string"}, "disable": {"type": "boolean"},
}}
# A subset of the compose specification: the keys this project's file uses, typed; anything else fails.
COMPOSE_SUBSET_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["services"],
    "patternProperties": {"^x-": {}},
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string"},
        "services": {"type": "object", "additionalProperties": {
            "type": "object",
            "additionalProperties": False,
            "anyOf": [{"required": ["image"]}, {"required": ["build"]}],
            "properties": {
                "image": {"type": "string"},
                "build": {"oneOf": [{"type": "string"}, {"type": "object", "additionalProperties": False,
                                                          "properties": {"context": {"type": "string"},
                                                                         "dockerfile": {"type": "string"}}}]},
                "command": _STRINGS,
                "entrypoint": _STRINGS,
                "environment": _ENV,
                "volumes": _STR_LIST,
                "ports": {"type": "array", "items": {"type": ["string", "integer"]}},
                "expose": {"type": "array", "items": {"type": ["string", "integer"]}},
                "user": {"type": "string"},
                "depends_on": _DEPENDS,
                "healthcheck": _HEALTHCHECK,
                "restart": {"enum": ["no", "always", "on-failure", "unless-stopped"]},
                "profiles": _STR_LIST,
                "container_name": {"type": "string"},
            },
        }},
        "volumes": {"type": "object", "additionalProperties": {"type": ["object", "null"]}},
    },
}


# -- loading ----------------------------------------------------------------------------------------------

_VAR = re.compile(r"\$(\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\})")


class MissingVariable(ValueError):
    """A ``${VAR:?message}`` whose variable is unset or empty."""


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's variable substitution: ``${VAR}``, ``${VAR:-default}``, ``${VAR:?error}``, ``$$``."""
    if isinstance(value, str):
        def repl(m: re.Match[str]) -> str:
            if m.group(1) == "$":
                return "$"
            name, op, arg = m.group(2), m.group(3), m.group(4)
            got = env.get(name)
            if op in (":-", "-"):
                return got if (got if op == ":-" else got is not None) else arg
            if op in (":?", "?") and not (got if op == ":?" else got is not None):
                raise MissingVariable(f"{name}: {arg}")
            return got or ""

        return _VAR.sub(repl, value)
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    return value


def raw() -> dict[str, Any]:
    """The file as YAML (anchors and ``<<`` merges resolved), before interpolation."""
    return yaml.safe_load(COMPOSE.read_text())


@cache
def model() -> dict[str, Any]:
    """The file after interpolation with the required variables set."""
    return interpolate(raw(), REQUIRED_ENV)


def services(profile: str | None = None) -> dict[str, Any]:
    """The services active without a profile, or with ``profile`` enabled."""
    return {n: s for n, s in model()["services"].items()
            if not s.get("profiles") or (profile is not None and profile in s["profiles"])}


def argv(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return shlex.split(value) if isinstance(value, str) else list(value)


def env_of(service: dict[str, Any]) -> dict[str, Any]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return dict(env)


@cache
def airflow_subcommands() -> dict[str, set[str]]:
    """``airflow`` subcommand -> its sub-subcommands (empty for an action), from Airflow's own CLI table."""
    from airflow.cli.cli_config import GroupCommand, core_commands

    out: dict[str, set[str]] = {}
    for c in core_commands:
        out[c.name] = {s.name for s in c.subcommands} if isinstance(c, GroupCommand) else set()
    for name, subs in PROVIDER_COMMANDS.items():
        out.setdefault(name, set()).update(subs)
    return out


def airflow_invocations(service: dict[str, Any]) -> list[list[str]]:
    """Every ``airflow ...`` command line a service runs (its command, or lines of its bash script)."""
    entry, cmd = argv(service.get("entrypoint")), argv(service.get("command"))
    if entry[:1] == ["/bin/bash"] or cmd[:1] in (["bash"], ["/bin/bash"]):
        script = cmd[cmd.index("-c") + 1] if "-c" in cmd else ""
        calls = []
        for line in script.replace("\\\n", " ").splitlines():
            if line.strip().startswith("airflow "):
                calls.append(shlex.split(line.replace("|| true", ""), comments=True)[1:])
        return calls
    return [cmd] if not entry else []


# -- 1. docker-compose config -----------------------------------------------------------------------------


def _compose_config(*extra: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.skip("docker-compose (Debian's v1) is not installed: apt-get install -y docker-compose")
    clean = {k: v for k, v in os.environ.items() if k not in REQUIRED_ENV and not k.startswith("AIRFLOW")}
    return subprocess.run([exe, "-f", str(COMPOSE), *extra, "config"], cwd=REPO, env={**clean, **env},
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("profile", [None, "local"])
def test_docker_compose_config_accepts_the_file(profile: str | None) -> None:
    extra = ("--profile", profile) if profile else ()
    done = _compose_config(*extra, env=REQUIRED_ENV)
    assert done.returncode == 0, done.stderr
    resolved = yaml.safe_load(done.stdout)
    # v1's `config` prints every service, whichever profiles are enabled
    assert set(resolved["services"]) == set(model()["services"])
    if profile:
        assert resolved["services"]["moto"]["profiles"] == [profile]
    worker = resolved["services"]["airflow-worker"]["environment"]
    assert worker["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"


def test_docker_compose_config_refuses_missing_secrets() -> None:
    for name in REQUIRED_ENV:
        done = _compose_config(env={k: v for k, v in REQUIRED_ENV.items() if k != name})
        assert done.returncode != 0 and name in done.stderr, f"compose started without {name}"


# -- 2. JSON Schema ---------------------------------------------------------------------------------------


def test_matches_the_compose_spec_subset_schema() -> None:
    import jsonschema

    jsonschema.validate(model(), COMPOSE_SUBSET_SCHEMA)


def test_matches_the_compose_spec_schema_shipped_by_debian() -> None:
    import jsonschema

    if not DEBIAN_SCHEMA.exists():
        pytest.skip(f"{DEBIAN_SCHEMA} not present (it comes with Debian's docker-compose package)")
    schema = json.loads(DEBIAN_SCHEMA.read_text())
    jsonschema.validators.validator_for(schema)(schema).validate(model())


def test_the_subset_schema_rejects_what_it_should() -> None:
    import jsonschema

    bad = json.loads(json.dumps(model()))
    bad["services"]["airflow-worker"]["helthcheck"] = {}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, COMPOSE_SUBSET_SCHEMA)


def test_required_secrets_are_required() -> None:
    for name in REQUIRED_ENV:
        with pytest.raises(MissingVariable, match=name):
            interpolate(raw(), {k: v for k, v in REQUIRED_ENV.items() if k != name})
    text = COMPOSE.read_text()
    for name in REQUIRED_ENV:
        assert f"${{{name}:?" in text
    assert "placeholder" not in text


# -- 3. structure ----------------------------------------------------------------------------------------


def test_every_service_has_an_image_or_build() -> None:
    for name, svc in model()["services"].items():
        assert svc.get("image") or svc.get("build"), name
        if "build" in svc:
            assert (REPO / svc["build"]["context"] / svc["build"]["dockerfile"]).is_file(), name


def test_expected_services() -> None:
    assert set(services()) == {"postgres", "redis", "airflow-init", *AIRFLOW_SERVICES}
    assert set(services("local")) - set(services()) == {"moto", "airflow-local-aws"}
    assert model()["services"]["postgres"]["image"] == "postgres:16"
    assert model()["services"]["redis"]["image"].split(":")[1].startswith("7")


@pytest.mark.parametrize("name", sorted(AIRFLOW_SERVICES | ONE_SHOT))
def test_commands_are_real_airflow_subcommands(name: str) -> None:
    calls = airflow_invocations(model()["services"][name])
    assert calls, f"{name} runs no airflow command"
    known = airflow_subcommands()
    for words in calls:
        assert words and words[0] in known, f"{name}: 'airflow {' '.join(words)}' is not an airflow subcommand"
        if known[words[0]]:
            assert len(words) > 1 and words[1] in known[words[0]], f"{name}: 'airflow {' '.join(words)}'"


def test_component_commands() -> None:
    svc = model()["services"]
    assert argv(svc["airflow-apiserver"]["command"]) == ["api-server"]
    assert argv(svc["airflow-scheduler"]["command"]) == ["scheduler"]
    assert argv(svc["airflow-dag-processor"]["command"]) == ["dag-processor"]
    assert argv(svc["airflow-triggerer"]["command"]) == ["triggerer"]
    assert argv(svc["airflow-worker"]["command"]) == ["celery", "worker"]
    init = [" ".join(c[:2]) for c in airflow_invocations(svc["airflow-init"])]
    assert "db migrate" in init and "pools set" in init


def test_init_creates_the_sweep_pool() -> None:
    from iamflow.settings import DEFAULT_SWEEP_POOL

    init = airflow_invocations(model()["services"]["airflow-init"])
    pools = [c[2] for c in init if c[:2] == ["pools", "set"]]
    assert DEFAULT_SWEEP_POOL in pools
    assert env_of(model()["services"]["airflow-worker"])["IAMFLOW_SWEEP_POOL"] == DEFAULT_SWEEP_POOL


def test_bind_mounts_point_at_repository_folders() -> None:
    named = set(model().get("volumes") or {})
    mounted: set[str] = set()
    for name, svc in model()["services"].items():
        for vol in svc.get("volumes") or []:
            source, target = vol.split(":")[:2]
            if source.startswith((".", "/")):
                rel = os.path.normpath(source)
                mounted.add(rel)
                if rel in OUTPUT_DIRS:
                    assert f"/{rel}/" in (REPO / ".gitignore").read_text(), f"{name}: {rel} should be ignored"
                else:
                    assert (REPO / rel).is_dir(), f"{name}: bind mount source {source} does not exist"
                assert target.startswith("/opt/airflow/") or name == "postgres", f"{name}: {vol}"
            else:
                assert source in named, f"{name}: volume {source} is not declared"
    assert {"dags", "plugins", "include", "reports"} <= mounted


def test_depends_on_targets_exist_with_sensible_conditions() -> None:
    svc = model()["services"]
    for name, s in svc.items():
        for target, spec in (s.get("depends_on") or {}).items():
            assert target in svc, f"{name} depends on unknown service {target}"
            cond = spec["condition"]
            if target in ONE_SHOT:
                assert cond == "service_completed_successfully", f"{name} -> {target}"
            else:
                assert cond == "service_healthy", f"{name} -> {target}"
                assert "healthcheck" in svc[target], f"{name} waits for {target}, which has no healthcheck"
            # a service without a profile must not wait for one that only a profile starts
            if not s.get("profiles"):
                assert not svc[target].get("profiles"), f"{name} -> {target}"
    for name in AIRFLOW_SERVICES:
        assert svc[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
        assert {"postgres", "redis"} <= set(svc[name]["depends_on"])


def test_long_running_services_have_healthchecks() -> None:
    for name, s in model()["services"].items():
        if name in ONE_SHOT:
            assert s.get("restart") == "no", name
            continue
        check = s.get("healthcheck")
        assert check and argv(check["test"])[0] in ("CMD", "CMD-SHELL"), f"{name} has no healthcheck"


def test_worker_is_scalable() -> None:
    worker = model()["services"]["airflow-worker"]
    assert "container_name" not in worker
    assert not worker.get("ports"), "a fixed host port would make a second replica fail to start"
    for name, s in model()["services"].items():
        assert "container_name" not in s, f"{name}: container_name prevents --scale"


def test_celery_executor_wiring() -> None:
    for name in AIRFLOW_SERVICES | ONE_SHOT:
        env = env_of(model()["services"][name])
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://"), name
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql://"), name
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://"), name
        assert "@postgres/" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], name
        assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false", name
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].startswith("http://airflow-apiserver:8080/"), name
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == REQUIRED_ENV["AIRFLOW__API_AUTH__JWT_SECRET"], name
        # passed through from the host only when set there
        assert env["AIRFLOW_CONN_AWS_DEFAULT"] is None, name
    assert "8080:8080" in model()["services"]["airflow-apiserver"]["ports"]


def test_local_profile_adds_moto_and_the_aws_connection() -> None:
    svc = model()["services"]
    moto = svc["moto"]
    assert moto["profiles"] == ["local"]
    assert argv(moto["entrypoint"]) == ["moto_server"] and "5000" in argv(moto["command"])
    assert env_of(moto)["MOTO_IAM_LOAD_MANAGED_POLICIES"] == "true"
    assert "5000:5000" in moto["ports"]
    wire = svc["airflow-local-aws"]
    assert wire["profiles"] == ["local"]
    assert wire["depends_on"]["moto"]["condition"] == "service_healthy"
    calls = airflow_invocations(wire)
    assert ["connections", "add", "aws_default", "--conn-json", "${IAMFLOW_LOCAL_AWS_CONN}"] in calls
    conn = json.loads(env_of(wire)["IAMFLOW_LOCAL_AWS_CONN"])
    assert conn["conn_type"] == "aws"
    assert conn["extra"]["endpoint_url"] == "http://moto:5000"
    assert conn["extra"]["service_config"]["sts"]["endpoint_url"] == "http://moto:5000"
    # nothing outside the profile talks to moto
    for name, s in services().items():
        assert "moto:5000" not in json.dumps(s), name


def _dockerfile() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line.strip() else "")
            for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_dockerfile_base_image_matches_the_lock() -> None:
    locked = re.search(r"^apache-airflow==(\S+)$", (REPO / "requirements.txt").read_text(), re.M)
    assert locked
    froms = [arg for ins, arg in _dockerfile() if ins == "FROM"]
    assert froms == [f"apache/airflow:{locked.group(1)}-python3.11"]
    args = dict(arg.split("=", 1) for ins, arg in _dockerfile() if ins == "ARG" and "=" in arg)
    assert args.get("AIRFLOW_VERSION") == locked.group(1)


def test_dockerfile_installs_the_lock_and_the_package() -> None:
    instructions = _dockerfile()
    runs = " ".join(arg for ins, arg in instructions if ins == "RUN")
    assert "pip install --no-cache-dir" in runs and "-r /opt/airflow/requirements.txt" in runs
    assert '"apache-airflow==${AIRFLOW_VERSION}"' in runs
    assert "--no-deps -e /opt/airflow" in runs
    for ins, arg in instructions:
        if ins == "COPY":
            sources = [w for w in arg.split() if not w.startswith("--")][:-1]
            for src in sources:
                assert (REPO / src).exists(), f"COPY source {src} does not exist"
    ignored = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    assert ".venv" in ignored and ".git" in ignored
    copied = {w.rstrip("/") for ins, arg in instructions if ins == "COPY"
              for w in [w for w in arg.split() if not w.startswith("--")][:-1]}
    assert not copied & set(ignored), "the Dockerfile copies an ignored path"


def test_deployment_doc_names_the_secrets_manager_config() -> None:
    doc = (REPO / "docs" / "deployment.md").read_text()
    assert "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend" in doc
    assert "[secrets]" in doc and "backend_kwargs" in doc
    kwargs = re.search(r"^backend_kwargs\s*=\s*(\{.*\})\s*$", doc, re.M)
    assert kwargs, "docs/deployment.md shows no backend_kwargs line"
    parsed = json.loads(kwargs.group(1))
    assert {"connections_prefix", "variables_prefix"} <= set(parsed)
    for needle in ("docker compose up -d", "--profile local", "--scale airflow-worker=",
                   "KubernetesExecutor", "iamflow policy --for", "iamflow-bootstrap"):
        assert needle in doc, needle
