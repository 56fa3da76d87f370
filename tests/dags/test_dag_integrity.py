"""Every DAG in dags/ imports cleanly and carries the metadata operations rely on (Astro style).

``DagBag`` in Airflow 3.3 has no ``include_examples`` argument any more (the examples are a
bundle of their own, never part of a folder we point at), so the bag below holds our DAGs only.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest

from iamflow.settings import project_root

DAGS_DIR = project_root() / "dags"


@functools.cache
def _dag_bag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    # safe_mode=False: import every module in dags/, not only those that mention "airflow" and "dag"
    return DagBag(dag_folder=str(DAGS_DIR), safe_mode=False)


def _dags() -> list[tuple[str, Any]]:
    return sorted(_dag_bag().dags.items())


def test_no_import_errors() -> None:
    errors = _dag_bag().import_errors
    assert not errors, "DAG import errors:\n" + "\n\n".join(f"{path}:\n{err}" for path, err in errors.items())


def test_dags_found() -> None:
    assert _dag_bag().dags, f"no DAG found in {DAGS_DIR}"


@pytest.mark.parametrize(("dag_id", "dag"), _dags(), ids=[d for d, _ in _dags()])
def test_dag_has_tags(dag_id: str, dag: Any) -> None:
    assert dag.tags, f"DAG {dag_id} has no tags; give it at least one (e.g. 'iamflow')"


@pytest.mark.parametrize(("dag_id", "dag"), _dags(), ids=[d for d, _ in _dags()])
def test_dag_has_owner(dag_id: str, dag: Any) -> None:
    owners = {task.owner for task in dag.tasks}
    assert owners, f"DAG {dag_id} has no tasks, so no owner"
    assert "airflow" not in owners, (
        f"DAG {dag_id}: tasks {sorted(t.task_id for t in dag.tasks if t.owner == 'airflow')} keep the default "
        "owner 'airflow'; set default_args={'owner': ...}"
    )


@pytest.mark.parametrize(("dag_id", "dag"), _dags(), ids=[d for d, _ in _dags()])
def test_dag_retries(dag_id: str, dag: Any) -> None:
    retries = dag.default_args.get("retries", 0)
    assert retries >= 1, f"DAG {dag_id} must set default_args['retries'] >= 1 (has {retries})"


@pytest.mark.parametrize(("dag_id", "dag"), _dags(), ids=[d for d, _ in _dags()])
def test_no_invalid_playbook(dag_id: str, dag: Any) -> None:
    # a shipped playbook that does not validate loads as a placeholder DAG tagged "invalid"
    assert "invalid" not in set(dag.tags), f"DAG {dag_id} is a placeholder for an invalid playbook:\n{dag.doc_md}"
