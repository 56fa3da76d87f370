"""``iamflow init DIR``: scaffold an iamflow project for an existing Airflow (Astronomer-style layout).

What it writes, below ``DIR``:

- ``dags/playbooks.py``, ``dags/compliance_sweep.py``, ``dags/secret_rotation.py``: thin DAG
  files that import the DAG builders from the installed package and point ``IAMFLOW_HOME`` at
  ``DIR`` (the folder above ``dags/``), unless the environment already sets it;
- ``include/playbooks/s3-readonly.yaml``, one example playbook, and the policy document it names
  in ``include/policies/``;
- ``include/compliance.yaml``, ``include/targets.yaml`` and ``include/mutelist.yaml``: the shipped
  defaults with their comments;
- ``README.md``, a stub.

An existing file is never overwritten: it is listed as skipped and left as it is, so ``init`` can
be run again to add what a project lacks. Exit 0, also when everything was skipped; 1 when
``DIR`` is a file or a file cannot be written.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iamflow.cli.common import EXIT_ERROR, EXIT_OK
from iamflow.settings import HOME_ENV, shipped_dir

EXAMPLE_PLAYBOOK = "s3-readonly.yaml"
EXAMPLE_POLICY = "s3-bucket-readonly.json"
# the project's configuration files, copied from the shipped defaults (comments included)
SHIPPED_CONFIG = ("compliance.yaml", "targets.yaml", "mutelist.yaml")

_DAG_HEADER = f'''from __future__ import annotations

import os
from pathlib import Path

# this project's include/ folder (playbooks, compliance.yaml, targets.yaml, mutelist.yaml)
os.environ.setdefault("{HOME_ENV}", str(Path(__file__).resolve().parents[1]))
'''

DAG_FILES = {
    "playbooks.py": (
        "One DAG per playbook of include/playbooks/; trigger with {\"check_mode\": true} to plan only.",
        "from iamflow.airflow.dag_factory import build_playbook_dags  # noqa: E402\n\n"
        "globals().update(build_playbook_dags())\n",
    ),
    "compliance_sweep.py": (
        "The nightly compliance sweep of the accounts in include/targets.yaml (pool `iamflow_sweep`).",
        "from iamflow.airflow.dag_factory import build_compliance_sweep_dag  # noqa: E402\n\n"
        "dag = build_compliance_sweep_dag(doc_md=__doc__)\n",
    ),
    "secret_rotation.py": (
        "Daily check of the rotation of every secret the playbooks declare with a `rotation`.",
        "from iamflow.airflow.dag_factory import build_secret_rotation_dag  # noqa: E402\n\n"
        "dag = build_secret_rotation_dag(doc_md=__doc__)\n",
    ),
}

README = """# {name}

An iamflow project: AWS identity security as Airflow DAGs.

- `dags/`: thin DAG files; the DAGs are built by the installed `iamflow` package.
- `include/playbooks/`: one playbook per DAG (`{example}` is an example: a read-only S3 policy).
- `include/policies/`: policy documents the playbooks name by file.
- `include/compliance.yaml`, `include/targets.yaml`, `include/mutelist.yaml`: the compliance
  sweep's thresholds, the accounts it covers (and the ExternalId's source), its suppressions.

Install `iamflow` in the Airflow image (`pip install iamflow`), copy `dags/` to the DAGs folder and
this folder's `include/` beside it (or set `IAMFLOW_HOME` to the folder that holds `include/`).
Check a playbook offline with `iamflow lint include/playbooks/{example}`, plan it against an
account with `iamflow plan include/playbooks/{example}`.
"""


@dataclass
class Scaffold:
    """The outcome of ``init``: files written and files skipped because they existed."""

    root: Path
    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)

    def put(self, relative: str, text: str) -> None:
        """Write ``text`` to ``root/relative`` unless that file exists (never overwritten)."""
        target = self.root / relative
        if target.exists() or target.is_symlink():
            self.skipped.append(target)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("x", encoding="utf-8") as out:  # "x": a file that appeared meanwhile is not clobbered
            out.write(text)
        self.written.append(target)


def dag_file_text(doc: str, body: str) -> str:
    """The text of one thin DAG file."""
    return f'"""{doc}"""\n\n{_DAG_HEADER}\n{body}'


def scaffold(root: Path) -> Scaffold:
    """Create the project files below ``root`` (see the module docstring); return what was done."""
    if root.exists() and not root.is_dir():
        raise NotADirectoryError(f"{root} exists and is not a folder")
    shipped = shipped_dir()
    result = Scaffold(root)
    for name, (doc, body) in DAG_FILES.items():
        result.put(f"dags/{name}", dag_file_text(doc, body))
    result.put(f"include/playbooks/{EXAMPLE_PLAYBOOK}",
               (shipped / "playbooks" / EXAMPLE_PLAYBOOK).read_text(encoding="utf-8"))
    result.put(f"include/policies/{EXAMPLE_POLICY}", (shipped / "policies" / EXAMPLE_POLICY).read_text(encoding="utf-8"))
    for name in SHIPPED_CONFIG:
        result.put(f"include/{name}", (shipped / name).read_text(encoding="utf-8"))
    result.put("README.md", README.format(name=root.resolve().name, example=EXAMPLE_PLAYBOOK))
    return result


def cmd_init(args: argparse.Namespace) -> int:
    root = Path(args.dir)
    try:
        result = scaffold(root)
    except OSError as exc:
        print(f"error: cannot scaffold {root}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    for path in result.written:
        print(f"created  {path}")
    for path in result.skipped:
        print(f"skipped  {path} (exists; left as it is)")
    print(f"{len(result.written)} created, {len(result.skipped)} skipped in {root}")
    return EXIT_OK


def add_init_parser(subparsers: Any) -> None:
    """Add ``init`` to the ``iamflow`` parser."""
    p = subparsers.add_parser("init", help="scaffold an iamflow project (DAG files, playbooks, sweep config)")
    p.add_argument("dir", metavar="DIR", help="the project folder (created when missing)")
    p.set_defaults(func=cmd_init)
