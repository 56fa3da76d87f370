"""The Airflow layer: the import arrows around it, its masking bridge and its connection lookup.

The arrows are read from the source with ``ast`` (every ``import``, lazy ones inside functions
included): only ``iamflow.airflow`` and the AWS hooks import Airflow; the hooks know nothing of
the engine; nothing else of the package imports the Airflow layer; DAG files import only the
Airflow layer (and ``airflow.sdk`` for the ``DAG`` annotation).
"""

from __future__ import annotations

import ast
import re
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from iamflow.settings import project_root

ROOT = project_root()
PACKAGE = ROOT / "include" / "iamflow"
DAGS_DIR = ROOT / "dags"

AIRFLOW_LAYER = "iamflow.airflow"
HOOKS = "iamflow.aws.hooks"
# Modules that still import Airflow, or the Airflow layer, and must stop: each entry fails the
# tests below as soon as it no longer does (or no longer exists), so the list can only shrink.
NOT_YET: dict[str, str] = {}
# what the hooks may not know of: they serve the engine, never the reverse
HOOKS_MUST_NOT_IMPORT = ("iamflow.engine", "iamflow.resources", "iamflow.compliance", AIRFLOW_LAYER)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, module: str) -> Iterator[tuple[int, str]]:
    """Every module ``path`` imports, with its line (relative imports resolved against ``module``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            yield node.lineno, name


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _package_modules() -> list[tuple[Path, str]]:
    return [(path, _module_name(path)) for path in sorted(PACKAGE.rglob("*.py"))]


def test_the_walk_sees_the_package() -> None:
    modules = {name for _, name in _package_modules()}
    assert {"iamflow.engine", HOOKS, AIRFLOW_LAYER, "iamflow.airflow.dag_factory"} <= modules


def test_only_the_airflow_layer_and_the_hooks_import_airflow() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: imports {name}"
        for path, module in _package_modules()
        if not _within(module, AIRFLOW_LAYER) and module != HOOKS and module not in NOT_YET
        for line, name in _imports(path, module)
        if _within(name, "airflow")
    ]
    assert not offenders, ("only iamflow.airflow (and iamflow.aws.hooks) may import Airflow; register what the "
                           "engine needs from Airflow instead (hygiene.register_masker, "
                           "connections.set_connection_lookup):\n" + "\n".join(offenders))


def test_the_exceptions_are_still_needed() -> None:
    modules = {name: path for path, name in _package_modules()}
    stale = [
        f"{name} ({why})" for name, why in NOT_YET.items()
        if name not in modules or not any(_within(imported, "airflow") or _within(imported, AIRFLOW_LAYER)
                                          for _, imported in _imports(modules[name], name))
    ]
    assert not stale, "remove from NOT_YET, they follow the rule now: " + ", ".join(stale)


def test_nothing_else_of_the_package_imports_the_airflow_layer() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: imports {name}"
        for path, module in _package_modules()
        if not _within(module, AIRFLOW_LAYER) and module not in NOT_YET
        for line, name in _imports(path, module)
        if _within(name, AIRFLOW_LAYER)
    ]
    assert not offenders, "imports go dags/ -> iamflow.airflow -> the engine, never back:\n" + "\n".join(offenders)


def test_the_hooks_know_nothing_of_the_engine() -> None:
    path = PACKAGE / "aws" / "hooks.py"
    offenders = [f"{path.relative_to(ROOT)}:{line}: imports {name}" for line, name in _imports(path, HOOKS)
                 if any(_within(name, forbidden) for forbidden in HOOKS_MUST_NOT_IMPORT)]
    assert not offenders, "\n".join(offenders)


@pytest.mark.parametrize("path", sorted(DAGS_DIR.glob("*.py")), ids=lambda p: p.name)
def test_dag_files_import_only_the_airflow_layer(path: Path) -> None:
    imported = [(line, name) for line, name in _imports(path, path.stem)]
    assert any(_within(name, AIRFLOW_LAYER) for _, name in imported), f"{path.name} builds no iamflow DAG"
    offenders = [
        f"{path.name}:{line}: imports {name}"
        for line, name in imported
        if not (_within(name, AIRFLOW_LAYER) or _within(name, "airflow.sdk") or name == "__future__"
                or name.split(".")[0] in sys.stdlib_module_names)
    ]
    assert not offenders, ("DAG files stay thin: they import iamflow.airflow (and airflow.sdk), the DAGs are "
                           "built in iamflow.airflow.dag_factory:\n" + "\n".join(offenders))


# --- the masking bridge and the connection lookup -------------------------------------------------


def test_importing_the_airflow_layer_makes_protect_secret_reach_airflows_masker() -> None:
    from airflow.sdk._shared.secrets_masker.secrets_masker import _secrets_masker, redact

    import iamflow.airflow  # noqa: F401  (registers the bridge)
    from iamflow.secrets.hygiene import protect_secret

    value = "iamflow-probe-" + secrets.token_hex(12)
    protect_secret(value)
    masker = _secrets_masker()
    assert re.escape(value) in masker.patterns, "Airflow's masker does not know the value"
    assert masker.replacer is not None and masker.replacer.search(f"before {value} after")
    assert value not in str(redact(f"the value is {value}"))


def test_connection_field_names_the_connection_when_nothing_can_read_it() -> None:
    from iamflow.connections import (
        ConnectionLookupError,
        connection_field,
        connection_lookup,
        set_connection_lookup,
    )

    saved = connection_lookup()
    try:
        set_connection_lookup(None)
        with pytest.raises(ConnectionLookupError, match="'iamflow_sweep'.*no connection lookup is registered"):
            connection_field("iamflow_sweep", "password")
        set_connection_lookup(lambda conn_id, field: {"password": "ext-1"}.get(field))
        assert connection_field("iamflow_sweep", "password") == "ext-1"
        with pytest.raises(ConnectionLookupError, match="'iamflow_sweep' has no 'login'"):
            connection_field("iamflow_sweep", "login")

        def broken(conn_id: str, field: str) -> str:
            raise RuntimeError(f"The conn_id `{conn_id}` isn't defined")

        set_connection_lookup(broken)
        with pytest.raises(ConnectionLookupError, match="'nope' cannot be read: The conn_id `nope` isn't defined"):
            connection_field("nope", "password")
    finally:
        set_connection_lookup(saved)


def test_the_airflow_layer_reads_the_external_id_from_an_airflow_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    import iamflow.airflow  # noqa: F401  (registers the Airflow-backed lookup)
    from iamflow.compliance.config import ComplianceConfigError
    from iamflow.compliance.targets import ExternalIdSource

    monkeypatch.setenv("AIRFLOW_CONN_IAMFLOW_SWEEP_TEST",
                       '{"conn_type": "generic", "password": "ext-7f3a", "extra": {"external_id": "ext-extra"}}')
    assert ExternalIdSource(airflow_connection="iamflow_sweep_test").resolve() == "ext-7f3a"
    assert ExternalIdSource(airflow_connection="iamflow_sweep_test", field="external_id").resolve() == "ext-extra"
    with pytest.raises(ComplianceConfigError, match="'iamflow_sweep_test' has no 'login'.*ExternalId"):
        ExternalIdSource(airflow_connection="iamflow_sweep_test", field="login").resolve()


# --- the base operator ----------------------------------------------------------------------------


def test_the_base_operator_builds_its_clients_once_per_mode_from_the_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from iamflow.airflow.operators.base import IamflowBaseOperator

    built: list[tuple[str | None, str | None, bool]] = []

    def from_connection(aws_conn_id: str | None = "aws_default", *, region: str | None = None,
                        check_mode: bool = False, call_log: object = None) -> object:
        built.append((aws_conn_id, region, check_mode))
        return object()

    monkeypatch.setattr("iamflow.aws.hooks.clients_from_connection", from_connection)
    op = IamflowBaseOperator(task_id="t", aws_conn_id="aws_prod", region_name="eu-west-1")
    assert built == [], "the constructor does no I/O"
    assert {"aws_conn_id", "region_name"} <= set(IamflowBaseOperator.template_fields)
    read_write, read_only = op.clients(), op.clients(check_mode=True)
    assert op.clients() is read_write and op.clients(check_mode=True) is read_only and read_write is not read_only
    assert built == [("aws_prod", "eu-west-1", False), ("aws_prod", "eu-west-1", True)]


def test_every_aws_operator_uses_the_base_operator() -> None:
    from iamflow.airflow.operators.base import IamflowBaseOperator
    from iamflow.airflow.operators.converge import IamflowResourceOperator
    from iamflow.airflow.operators.onboarding import ApplyTeamPlaybookOperator, PlanTeamPlaybookOperator
    from iamflow.airflow.operators.secrets import TriggerSecretRotationOperator, VerifySecretRotationOperator
    from iamflow.airflow.operators.sweep import ResolveSweepTargetsOperator, SweepAccountOperator
    from iamflow.airflow.sensors.secrets import SecretRotationSensor

    for cls in (IamflowResourceOperator, ApplyTeamPlaybookOperator, PlanTeamPlaybookOperator,
                TriggerSecretRotationOperator, VerifySecretRotationOperator, ResolveSweepTargetsOperator,
                SweepAccountOperator, SecretRotationSensor):
        assert issubclass(cls, IamflowBaseOperator), cls.__name__
        assert "aws_conn_id" in cls.template_fields, cls.__name__
