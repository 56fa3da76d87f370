"""Generate docs/playbook-reference.md: every kind's fields, types, defaults and an example; every variable.

The reference is built from what the loader itself validates against, so it cannot drift from it:

- the kinds are ``RESOURCE_MODELS`` (``spec/models.py`` and every ``spec/kinds_*.py`` that
  registers a model), each model's fields in declaration order, with the YAML key (an alias when
  the model has one), the type read from the annotation, the default (a field left out whose
  default is null is unmanaged), the bounds pydantic enforces, and what the field means: its
  ``Field(description=...)``, else the comment written above it or beside it in the model;
- nested settings (``password_policy``, ``rotation``, ``generate``, ``expect``...) are the pydantic
  models the fields name, documented once each;
- the example of a kind is its first resource in the shipped playbooks (``include/playbooks``), or,
  for a kind no shipped playbook uses, its required fields;
- the environment variables are every ``IAMFLOW_*`` name the product's code and configuration use,
  described by ``iamflow.settings`` (its table) or, for the ones no setting function reads, by
  :data:`OTHER_VARIABLES` below.

A new kind needs nothing here: register its model and run this again. ``tests/unit/spec/
test_playbook_reference.py`` fails while the committed file differs from what this prints.

Usage: ``PYTHONPATH=include .venv/bin/python -m tools.gen_reference`` (writes the file; ``--check``
only compares, exit 1 when stale).
"""

from __future__ import annotations

import argparse
import ast
import inspect
import json
import re
import sys
import textwrap
import types
import typing
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from iamflow import settings
from iamflow.spec.models import RESOURCE_MODELS, Playbook, ResourceBase

ROOT = settings.project_root()
DOC = ROOT / "docs" / "playbook-reference.md"
REGENERATE = "PYTHONPATH=include .venv/bin/python -m tools.gen_reference"

# IAMFLOW_* variables that no function of iamflow.settings reads: who reads them, and what they are.
OTHER_VARIABLES: dict[str, str] = {
    "IAMFLOW_BOOTSTRAP_EXTERNAL_ID": "the ExternalId of the `iamflow-bootstrap` roles' trust, read by the playbook "
                                     "as `${env:IAMFLOW_BOOTSTRAP_EXTERNAL_ID}` (never committed, never shown); "
                                     "required to load that playbook; `make run` sets a random one",
    "IAMFLOW_SWEEP_EXTERNAL_ID": "the ExternalId of the audit role, when `targets.yaml` says "
                                 "`external_id: {env: IAMFLOW_SWEEP_EXTERNAL_ID}`; none by default",
    "IAMFLOW_IMAGE": "the Airflow image `docker-compose.yaml` runs; default `iamflow-airflow:3.3.2`",
    "IAMFLOW_LOCAL_AWS_CONN": "the `aws_default` connection of the `local` profile of `docker-compose.yaml`, "
                              "pointing at the moto service; set in that file",
}
# where the product's code and configuration live (tests and docs only mention variables)
_SCANNED = ("include", "dags", "plugins", "tools", "docker-compose.yaml", "Makefile", "Dockerfile")
_SCANNED_SUFFIXES = {".py", ".yaml", ".yml", ".j2", ".json", ""}
_VARIABLE_RE = re.compile(r"\bIAMFLOW_[A-Z][A-Z0-9_]*\b")
_COMMON = ("kind", "name", "state", "waive")
# what a field of this name means wherever it appears, when its model says nothing more
COMMON_MEANINGS: dict[str, str] = {
    "kind": "the resource kind (picks the schema)",
    "name": "the object's name in AWS; unique within its kind in the playbook",
    "state": "`present`, or `absent` to remove the object",
    "waive": "policy-validation findings accepted knowingly, each with a reason; shown in every plan",
    "description": "the description AWS stores",
    "path": "the IAM path (fixed at creation)",
    "tags": "tags, merged over the playbook's default tags; `iamflow:id` and `aws:` tags are never removed",
    "purge_tags": "remove tags the playbook does not declare",
    "purge_policies": "detach attached policies the playbook does not declare",
    "allow_replace": "allow deleting and re-creating the object when a setting fixed at creation differs",
    "expect": "requests the offline evaluator must allow or deny, proven in every plan and sweep",
}
PLAYBOOK_MEANINGS: dict[str, str] = {
    "name": "the playbook's name; its DAG is `playbook_<name>` (dashes become underscores)",
    "description": "shown in the DAG's docs (its first line is the DAG's description)",
    "vars": "variables for `${name}` placeholders (see Variables)",
    "schedule": "an Airflow schedule (cron or preset) for the playbook's DAG; left out: triggered only",
    "resources": "the resources, each with `kind` and `name` (see Resource kinds)",
}


# --- types, defaults and bounds ------------------------------------------------------------------


def type_name(annotation: Any) -> str:
    """A short, readable name of a field's type (``list[string]``, ``"ON" | "OFF"``, ``PasswordPolicy``)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is type(None):
        return "null"
    if origin is typing.Annotated:
        return type_name(args[0])
    if origin is typing.Literal:
        return " | ".join(json.dumps(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        names = [type_name(a) for a in args if a is not type(None)]
        return " | ".join(dict.fromkeys(names))
    if origin in (list, tuple, set, frozenset):
        return f"list[{', '.join(dict.fromkeys(type_name(a) for a in args if a is not Ellipsis)) or 'any'}]"
    if origin is dict:
        return f"map[{type_name(args[0])}, {type_name(args[1])}]" if args else "map"
    if annotation is Any:
        return "any"
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return f"[{annotation.__name__}](#{anchor(annotation.__name__)})"
        return {"str": "string", "int": "integer", "bool": "boolean", "float": "number",
                "dict": "map", "list": "list"}.get(annotation.__name__, annotation.__name__)
    return str(annotation).replace("typing.", "")


def nested_models(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models a field's type names (at any depth)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for a in typing.get_args(annotation) for m in nested_models(a)]


def default_text(info: FieldInfo) -> str:
    if info.is_required():
        return "**required**"
    factory = info.default_factory
    value = factory() if factory is not None else info.default  # type: ignore[call-arg]
    if value is None or value is PydanticUndefined:
        return "left out: unmanaged"
    if isinstance(value, BaseModel):
        value = value.model_dump()
    return f"`{json.dumps(value)}`"


def bounds_text(info: FieldInfo) -> str:
    parts: list[str] = []
    for item in info.metadata:
        for attr, label in (("ge", "≥ {}"), ("gt", "> {}"), ("le", "≤ {}"), ("lt", "< {}"),
                            ("min_length", "at least {} long"), ("max_length", "at most {} long"),
                            ("pattern", "matches `{}`")):
            value = getattr(item, attr, None)
            if value is not None:
                parts.append(label.format(value))
    return ", ".join(parts)


# --- what a field means: its description, else the comment beside it in the model ----------------


def field_comments(model: type[BaseModel]) -> dict[str, str]:
    """Field name -> the comment above (or beside) its declaration in the model's source."""
    try:
        source_lines, _ = inspect.getsourcelines(model)
    except (OSError, TypeError):
        return {}
    source = textwrap.dedent("".join(source_lines))
    lines = source.splitlines()
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    out: dict[str, str] = {}
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    for node in body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        line = lines[node.lineno - 1]
        comment: list[str] = []
        if "#" in line and not _in_string(line, line.index("#")):
            comment.append(line[line.index("#") + 1:].strip())
        above = node.lineno - 2
        while above >= 0 and lines[above].strip().startswith("#"):
            comment.insert(0, lines[above].strip()[1:].strip())
            above -= 1
        if comment:
            out[node.target.id] = " ".join(c for c in comment if c)
    return out


def _in_string(line: str, index: int) -> bool:
    return line[:index].count('"') % 2 == 1 or line[:index].count("'") % 2 == 1


def meaning(model: type[BaseModel], name: str, info: FieldInfo, comments: dict[str, str]) -> str:
    common = (PLAYBOOK_MEANINGS if model is Playbook else COMMON_MEANINGS if issubclass(model, ResourceBase)
              else {}).get(name, "")
    text = (info.description or comments.get(name, "") or common).replace("``", "`")
    extra: list[str] = []
    refs = getattr(model, "reference_fields", {}).get(name)
    if refs:
        extra.append("a reference: the name of a resource of kind " + " or ".join(f"`{k}`" for k in refs)
                     + " in the playbook (it runs after that one), or an ARN")
    if name in getattr(model, "document_fields", {}):
        what = "policy name → policy document" if _is_document_map(info.annotation) else "a policy document"
        extra.append(f"{what}: an inline map, or the name of a JSON/YAML file in the policies folder")
    return "; ".join(t for t in [text, *extra] if t)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def anchor(title: str) -> str:
    return re.sub(r"[^a-z0-9 _-]", "", title.lower()).replace(" ", "-")


# --- sections --------------------------------------------------------------------------------------


def fields_table(model: type[BaseModel], *, skip: Iterable[str] = ()) -> list[str]:
    comments = {**_inherited_comments(model), **field_comments(model)}
    rows = ["| field | type | default | bounds | meaning |", "|---|---|---|---|---|"]
    for name, info in model.model_fields.items():
        if name in skip:
            continue
        key = info.alias or name
        kind_literal = typing.get_origin(info.annotation) is typing.Literal and name == "kind"
        shown_type = type_name(info.annotation) if not kind_literal else json.dumps(typing.get_args(info.annotation)[0])
        if name in getattr(model, "document_fields", {}):
            shown_type = "map[string, document]" if _is_document_map(info.annotation) else "document"
        rows.append(f"| `{key}` | {_cell(shown_type)} | {_cell(default_text(info))} | {_cell(bounds_text(info))} "
                    f"| {_cell(meaning(model, name, info, comments))} |")
    return rows


def _is_document_map(annotation: Any) -> bool:
    """``dict[str, Document] | None``: a map of names to documents (inline policies)."""
    for arg in (annotation, *typing.get_args(annotation)):
        if typing.get_origin(arg) is dict:
            value = typing.get_args(arg)[1] if typing.get_args(arg) else None
            return value is not None and str in typing.get_args(value)
    return False


def _inherited_comments(model: type[BaseModel]) -> dict[str, str]:
    out: dict[str, str] = {}
    for base in reversed(model.__mro__[1:]):
        if isinstance(base, type) and issubclass(base, BaseModel) and base is not BaseModel:
            out.update(field_comments(base))
    return out


def first_line(doc: str | None) -> str:
    return next((line.strip() for line in (doc or "").splitlines() if line.strip()), "").replace("``", "`")


def shipped_examples() -> dict[str, tuple[str, dict[str, Any]]]:
    """Kind -> (playbook file, its first resource of that kind) from the shipped playbooks."""
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    folder = settings.include_dir() / "playbooks"
    for path in sorted(folder.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for item in data.get("resources") or []:
            if isinstance(item, dict) and isinstance(item.get("kind"), str):
                out.setdefault(item["kind"], (path.relative_to(ROOT).as_posix(), item))
    return out


def required_example(kind: str, model: type[ResourceBase]) -> dict[str, Any]:
    item: dict[str, Any] = {"kind": kind, "name": f"my-{kind.replace('_', '-')}"}
    for name, info in model.model_fields.items():
        if name not in item and info.is_required():
            item[info.alias or name] = f"<{type_name(info.annotation)}>"
    return item


def example_block(kind: str, model: type[ResourceBase], examples: dict[str, tuple[str, dict[str, Any]]]) -> list[str]:
    if kind in examples:
        source, item = examples[kind]
        intro = f"From `{source}`:"
    else:
        item, intro = required_example(kind, model), "Its required fields (no shipped playbook uses this kind yet):"
    text = yaml.safe_dump([item], sort_keys=False, allow_unicode=True, width=100).rstrip()
    return [intro, "", "```yaml", "resources:", textwrap.indent(text, "  "), "```"]


def kind_sections() -> tuple[list[str], list[type[BaseModel]]]:
    examples = shipped_examples()
    lines: list[str] = []
    nested: list[type[BaseModel]] = []
    for kind in sorted(RESOURCE_MODELS):
        model = RESOURCE_MODELS[kind]
        lines += [f"### `{kind}`", "", first_line(model.__doc__), ""]
        refs = model.reference_fields
        if refs:
            lines += ["References: " + ", ".join(f"`{f}` → " + " / ".join(f"`{k}`" for k in kinds)
                                                  for f, kinds in refs.items()) + ".", ""]
        lines += fields_table(model, skip=_COMMON)
        lines += ["", *example_block(kind, model, examples), ""]
        for info in model.model_fields.values():
            for m in nested_models(info.annotation):
                if m not in nested:
                    nested.append(m)
    # nested models may name further ones
    index = 0
    while index < len(nested):
        for info in nested[index].model_fields.values():
            for m in nested_models(info.annotation):
                if m not in nested:
                    nested.append(m)
        index += 1
    return lines, nested


def nested_sections(models: list[type[BaseModel]]) -> list[str]:
    lines: list[str] = []
    for model in sorted(models, key=lambda m: m.__name__):
        lines += [f"### {model.__name__}", "", first_line(model.__doc__), "", *fields_table(model), ""]
    return lines


# --- environment variables -------------------------------------------------------------------------


def settings_variables() -> dict[str, tuple[str, str]]:
    """``IAMFLOW_*`` name -> (what, default), from the table of ``iamflow.settings``'s docstring."""
    out: dict[str, tuple[str, str]] = {}
    for line in (settings.__doc__ or "").splitlines():
        m = re.match(r"^``(IAMFLOW_[A-Z0-9_]+)``\s{2,}(.+?)\s{2,}(.+?)\s*$", line)
        if m:
            out[m.group(1)] = (m.group(2).strip().replace("``", "`"), m.group(3).strip().replace("``", "`"))
    declared = {v for k, v in vars(settings).items() if k.endswith("_ENV") and isinstance(v, str)}
    return {k: v for k, v in out.items() if k in declared} | {k: ("", "") for k in declared - set(out)}


def used_variables() -> dict[str, list[str]]:
    """Every ``IAMFLOW_*`` name in the product's code and configuration -> the files that use it."""
    found: dict[str, set[str]] = {}
    for entry in _SCANNED:
        path = ROOT / entry
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else []
        for file in files:
            if file.suffix not in _SCANNED_SUFFIXES or "__pycache__" in file.parts or file == Path(__file__):
                continue
            try:
                text = file.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            for name in set(_VARIABLE_RE.findall(text)):
                found.setdefault(name, set()).add(file.relative_to(ROOT).as_posix())
    return {k: sorted(v) for k, v in sorted(found.items())}


def variables() -> list[tuple[str, str, list[str]]]:
    """(name, description, files that use it) for every variable, documented or not (empty description)."""
    from_settings = settings_variables()
    used = used_variables()
    names = sorted(set(used) | set(from_settings))
    out = []
    for name in names:
        what, default = from_settings.get(name, ("", ""))
        described = f"{what}; default {default}" if default else what
        text = described if what else OTHER_VARIABLES.get(name, "")
        out.append((name, text, used.get(name, [])))
    return out


def variable_rows() -> list[str]:
    rows = ["| variable | what | used in |", "|---|---|---|"]
    for name, text, files in variables():
        rows.append(f"| `{name}` | {_cell(text or '(undocumented)')} | {', '.join(f'`{f}`' for f in files)} |")
    return rows


# --- the document ----------------------------------------------------------------------------------

INTRO = """\
# Playbook reference

Generated from the playbook schema (the pydantic models the loader validates against) by
`tools/gen_reference.py`; do not edit by hand. Regenerate with
`{regenerate}`.

A playbook is a YAML file with a name and a list of resources. In every resource, `kind` picks the
schema, `name` is unique within its kind, and `state` is `present` (the default) or `absent`. A
field left out is unmanaged (iamflow never reads more of it than it needs and never changes it);
an explicit empty list or map means "make it empty". `waive` accepts a policy-validation finding
knowingly ([docs/policy-validation.md](policy-validation.md)).
"""

VARIABLES = """\
## Variables

- `${{name}}` is replaced by the playbook's `vars` (a var may use other vars; a cycle is an error
  that names it; expansion cannot grow the playbook past `IAMFLOW_MAX_PLAYBOOK_BYTES`).
- `${{account_id}}`, `${{partition}}` and `${{region}}` are filled at run time from the AWS account.
- `--var name=value` on `iamflow lint`, `plan`, `apply`, `sweep` (its drift check), `policy`,
  `verify-rotation` and `explain` overrides the playbook's `vars` (or adds one); repeat it for more.
- `${{env:NAME}}` is replaced by the environment variable `NAME` of the process that loads the
  playbook (the CLI, or Airflow's DAG processor and workers). An unset (or empty) one is a
  validation error that names it. Its value is taken literally, is never shown in a plan, a diff, a
  task's result or a DAG's docs (it reads `${{env:NAME}}` there), and cannot name a resource, its kind
  or a reference.
- A playbook DAG's `vars` Param overrides values for one run. A var that a resource's name, its kind
  or a reference uses (directly or through another var) was resolved when the DAG was built: a
  Param that changes it fails the run.
"""


def render() -> str:
    """The whole reference, as committed in docs/playbook-reference.md."""
    kinds, nested = kind_sections()
    common = fields_table(ResourceBase, skip=())
    lines = [INTRO.format(regenerate=REGENERATE), "## The playbook", "", *fields_table(Playbook, skip=("source",)),
             "", "## Fields every resource has", "", *common, "", VARIABLES.format(), "## Resource kinds", "",
             "Kinds: " + ", ".join(f"[`{k}`](#{anchor(k)})" for k in sorted(RESOURCE_MODELS)) + ".", "", *kinds,
             "## Nested settings", "", *nested_sections(nested),
             "## Environment variables", "",
             "Every `IAMFLOW_*` variable the product reads, from `iamflow/settings.py` and the code and "
             "configuration that use it.", "", *variable_rows(), ""]
    return "\n".join(lines).replace("\n\n\n", "\n\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=first_line(__doc__))
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 when the file is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
        if current != text:
            print(f"{DOC.relative_to(ROOT)} is stale: run {REGENERATE}", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
