"""Hostile files beside the shipped playbooks: each becomes its own placeholder DAG, the others all load.

The loader's limits are counts and sizes, so these tests assert which DAGs exist and which limit
refused each file, never how long parsing took.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path
from typing import Any

import pytest

from iamflow.settings import MAX_PLAYBOOK_BYTES_ENV, include_dir, project_root
from iamflow.spec.loader import check_playbook, discover_playbooks

PLAYBOOKS_DAG_FILE = project_root() / "dags" / "playbooks.py"
SHIPPED = discover_playbooks(include_dir() / "playbooks")

# Nine aliases of nine, seven levels deep: 399 bytes that would expand to 9**7 strings.
ALIAS_BOMB = "name: alias-bomb\nvars:\n  a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n" + "".join(
    f"  {b}: &{b} [{','.join(['*' + a] * 9)}]\n" for a, b in zip("abcdef", "bcdefg", strict=True)
) + "resources: []\n"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    playbooks = tmp_path / "playbooks"
    playbooks.mkdir()
    for path in SHIPPED:
        shutil.copy(path, playbooks / path.name)
    assert len(ALIAS_BOMB.encode()) <= 399
    (playbooks / "bomb.yaml").write_text(ALIAS_BOMB, encoding="utf-8")
    with (playbooks / "huge.yaml").open("w", encoding="utf-8") as fh:
        fh.write("name: huge\nresources: []\n" + "# padding\n" * 120_000)
    (playbooks / "binary.yaml").write_bytes(b"name: binary\n\x89PNG\r\n\x1a\n\xff\x00")
    (playbooks / "deep.yaml").write_text("name: deep\nresources: " + "[" * 20_000 + "]" * 20_000 + "\n",
                                         encoding="utf-8")
    secret = tmp_path / "credentials.ini"
    secret.write_text(f"[default]\naws_secret_access_key = {SECRET}\n", encoding="utf-8")
    (playbooks / "escape.yaml").write_text(
        "name: escape\nresources:\n  - kind: iam_role\n    name: escaper\n    trust_policy: ../credentials.ini\n",
        encoding="utf-8")
    monkeypatch.setenv("IAMFLOW_PLAYBOOKS_DIR", str(playbooks))
    monkeypatch.delenv(MAX_PLAYBOOK_BYTES_ENV, raising=False)
    monkeypatch.delenv("IAMFLOW_POLICIES_DIR", raising=False)
    monkeypatch.delenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", raising=False)
    return playbooks


def _bag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        return DagBag(dag_folder=str(PLAYBOOKS_DAG_FILE), safe_mode=False)


def test_every_shipped_playbook_still_loads_beside_hostile_files(folder: Path) -> None:
    bag = _bag()
    assert not bag.import_errors, bag.import_errors
    shipped = [check_playbook(path).playbook for path in SHIPPED]
    shipped_ids = {playbook.dag_id for playbook in shipped if playbook is not None}
    assert len(shipped_ids) == len(SHIPPED) > 0
    for dag_id in shipped_ids:
        assert "invalid" not in bag.dags[dag_id].tags, dag_id
    placeholders = {dag_id: dag for dag_id, dag in bag.dags.items() if "invalid" in dag.tags}
    assert set(bag.dags) == shipped_ids | set(placeholders)
    # a file the limits refused cannot give its name: its DAG id comes from the file's path
    assert set(placeholders) == {"playbook_invalid_bomb", "playbook_invalid_huge", "playbook_invalid_binary",
                                 "playbook_invalid_deep", "playbook_escape"}


@pytest.mark.parametrize(("dag_id", "expected"), [
    ("playbook_invalid_bomb", "bomb.yaml:3:6: anchor &a refused: anchors and aliases are not allowed"),
    ("playbook_invalid_huge", "huge.yaml: the file is larger than the limit of 1048576 bytes "
                              f"(set {MAX_PLAYBOOK_BYTES_ENV} to change it)"),
    ("playbook_invalid_binary", "binary.yaml:2:1: not UTF-8 text (byte 0x89 at offset 13)"),
    ("playbook_invalid_deep", "deep.yaml:2:"),
    ("playbook_escape", "escape.yaml:5:5: resource 'escaper', field 'trust_policy': policy file "
                        "'../credentials.ini' resolves outside the policies folder"),
])
def test_each_hostile_file_becomes_a_placeholder_naming_its_limit(folder: Path, dag_id: str,
                                                                  expected: str) -> None:
    dag = _bag().dags[dag_id]
    assert expected in dag.doc_md
    [task] = dag.tasks
    assert any(expected in p for p in task.problems)


def test_no_content_of_an_escaping_reference_reaches_the_placeholder(folder: Path) -> None:
    bag = _bag()
    dag = bag.dags["playbook_escape"]
    texts = [dag.doc_md, dag.description or "", *dag.tasks[0].problems,
             *(w for ws in bag.captured_warnings.values() for w in ws)]
    for text in texts:
        assert SECRET not in text and "aws_secret_access_key" not in text
