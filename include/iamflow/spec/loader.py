"""Load and validate playbooks: every problem of every file at once, before any AWS call.

Validation runs in this order, collecting problems instead of stopping at the first: YAML syntax,
the top-level schema, each resource against its kind's schema, duplicate names, policy files and
``${var}`` placeholders, references (dangling, wrong kind, present → absent, cycles), anything that
looks like a hard-coded credential anywhere in the file, and the policy linter (with waivers).

Files are read by :mod:`iamflow.spec.source` under its limits (size, values, depth; no anchors or
aliases; no duplicate keys) before anything walks them, and every problem that has a place in the
playbook carries its line and column. A policy file is read only from inside the policies folder,
the playbook's own folder or the shipped ``include/policies`` (after resolving symlinks); nothing
from a policy file is quoted in a message but its name, a key, a line and a column.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from iamflow.errors import Problem, ValidationError
from iamflow.settings import include_dir, playbooks_dir, policies_dir
from iamflow.spec import codes
from iamflow.spec.models import RESOURCE_MODELS, Playbook, ResourceBase
from iamflow.spec.source import Limits, Positions, SourceError, load_file, load_yaml, locate, read_text
from iamflow.spec.variables import RUNTIME_VARS, VAR_RE, Expander, command_line_vars

__all__ = ["RUNTIME_VARS", "LoadResult", "check_playbook", "dependencies", "dependency_levels",
           "discover_playbooks", "lint_paths", "load_playbook", "waiver_notes"]

_FIELD_PART = re.compile(r"\[(\d+)\]|([^.\[\]]+)")
_OWN_ACCOUNT = "${account_id}"


def discover_playbooks(directory: Path | None = None) -> list[Path]:
    """Every playbook file below ``directory`` (``*.yaml`` / ``*.yml``), sorted."""
    root = directory or playbooks_dir()
    return sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


@dataclass
class LoadResult:
    """A playbook, or the problems that kept it from loading; warnings and waivers either way."""

    path: Path
    playbook: Playbook | None
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def warnings(self) -> list[Problem]:
        """Everything that does not refuse the playbook: security warnings, warnings and suggestions."""
        return [p for p in self.problems if not p.is_error]


class _Collector:
    def __init__(self, file: str):
        self.file = file
        self.problems: list[Problem] = []
        self.positions: Positions = {}
        self.indexes: dict[str, int] = {}  # resource label -> its index under 'resources'
        self.expander = Expander({}, budget=0, limit=0)
        # where each loaded document sits: (resource, field) -> (file, its positions, path of the document)
        self.documents: dict[tuple[str, str], tuple[str, Positions, tuple[object, ...]]] = {}
        # managed policies the playbook's roles use as their permissions boundary
        self.boundaries: set[str] = set()

    def add(self, resource: str | None, field: str | None, message: str, *, code: str,
            rule: str | None = None, severity: str = "error", line: int | None = None,
            column: int | None = None, file: str | None = None) -> None:
        if line is None:
            line, column = self.place(resource, field) or (None, None)
        self.problems.append(Problem(file or self.file, resource, field, message, rule, severity, line, column,
                                     code))

    def place(self, resource: str | None, field: str | None) -> tuple[int, int] | None:
        """Where a problem sits in the playbook: its field, else the nearest enclosing value."""
        path: tuple[object, ...] = ()
        if resource is not None:
            if resource not in self.indexes:
                return None
            path = ("resources", self.indexes[resource])
        for index, key in _FIELD_PART.findall(field or ""):
            path = (*path, int(index) if index else key)
        return locate(self.positions, path)

    def in_order(self) -> list[Problem]:
        """The problems in the order of the files: the playbook's first, each by line and column."""
        def key(p: Problem) -> tuple[bool, str, int, int]:
            return (p.file != self.file, p.file, p.line if p.line is not None else 1 << 30, p.column or 0)

        return sorted(self.problems, key=key)

    @property
    def failed(self) -> bool:
        return any(p.severity == "error" for p in self.problems)


def load_playbook(path: str | Path, *, policies: Path | None = None, overrides: Mapping[str, str] | None = None,
                  param_vars: Mapping[str, Any] | None = None) -> Playbook:
    """Load one playbook or raise ``ValidationError`` carrying every problem found in it.

    :param overrides: vars that override the playbook's ``vars:`` (default: the command's ``--var``).
    :param param_vars: vars from a DAG run's ``vars`` Param: values only (:func:`check_playbook`).
    """
    result = check_playbook(path, policies=policies, overrides=overrides, param_vars=param_vars)
    if result.errors or result.playbook is None:
        raise ValidationError(result.errors or [Problem(str(path), None, None, "could not be loaded",
                                                        code=codes.PLAYBOOK_UNREADABLE)])
    return result.playbook


def lint_paths(paths: Iterable[str | Path], *, policies: Path | None = None,
               overrides: Mapping[str, str] | None = None) -> list[LoadResult]:
    """Validate many playbook files that run together.

    Also reports playbook names used by two files, and objects that two playbooks both declare.
    """
    results = [check_playbook(p, policies=policies, overrides=overrides) for p in paths]
    add_ownership_problems(results)
    seen: dict[str, str] = {}
    for r in results:
        if r.playbook is None:
            continue
        other = seen.setdefault(r.playbook.name, str(r.path))
        if other != str(r.path):
            r.problems.append(Problem(str(r.path), None, "name",
                                      f"playbook name {r.playbook.name!r} is also used by {other}",
                                      code=codes.DUPLICATE_PLAYBOOK))
    return results


def add_ownership_problems(results: Sequence[LoadResult]) -> None:
    """Add a problem to each playbook that declares an object another of ``results`` declares too."""
    from iamflow.spec.ownership import conflict_problems

    # a second file naming an already-seen playbook is refused for that; it owns nothing
    first: dict[str, Playbook] = {}
    for r in results:
        if r.playbook is not None:
            first.setdefault(r.playbook.name, r.playbook)
    problems = conflict_problems(list(first.values()))
    for r in results:
        if r.playbook is not None:
            r.problems.extend(problems.get(r.playbook.source, []))


def check_playbook(path: str | Path, *, policies: Path | None = None, overrides: Mapping[str, str] | None = None,
                   param_vars: Mapping[str, Any] | None = None,
                   environ: Mapping[str, str] | None = None) -> LoadResult:
    """Validate one playbook file and return it with every problem found (never raises for bad input).

    :param overrides: vars that override (or add to) the playbook's ``vars:``, such as ``--var``
        (default: the running command's :func:`~iamflow.spec.variables.command_line_vars`).
    :param param_vars: vars from a playbook DAG run's ``vars`` Param, for values only: one that
        decides a resource's name, kind or a reference (directly or through another var) was
        resolved when the DAG was built, and changing it is an error.
    :param environ: where ``${env:NAME}`` is read (default: this process's environment).
    """
    import os

    path = Path(path)
    c = _Collector(str(path))
    # parse under the limits first: nothing below walks a file that is too big, too deep or aliased
    try:
        limits = Limits.default()
        text = read_text(path, limits)
        raw, c.positions = load_yaml(text, limits)
    except (SourceError, ValueError) as exc:
        if isinstance(exc, SourceError):
            c.add(None, None, exc.describe(with_detail=True, with_place=False), line=exc.line, column=exc.column,
                  code=codes.PLAYBOOK_UNREADABLE)
        else:  # an invalid IAMFLOW_MAX_PLAYBOOK_BYTES
            c.add(None, None, str(exc), code=codes.PLAYBOOK_UNREADABLE)
        return LoadResult(path, None, c.in_order())
    if not isinstance(raw, dict):
        c.add(None, None, "a playbook must be a mapping with 'name' and 'resources'", code=codes.PLAYBOOK_SHAPE)
        return LoadResult(path, None, c.in_order())

    _scan_credentials(c, raw)
    raw_resources = raw.get("resources")
    if raw_resources is None:
        raw_resources = []
    if not isinstance(raw_resources, list):
        c.add(None, "resources", "must be a list of resources", code=codes.PLAYBOOK_SHAPE)
        raw_resources = []
    top = {k: v for k, v in raw.items() if k != "resources"}
    try:
        playbook = Playbook.model_validate(top)
    except PydanticValidationError as exc:
        for err in exc.errors():
            c.add(None, _loc(err["loc"]), _msg(err), code=_schema_code(err))
        playbook = None

    variables = {str(k): str(v).lower() if isinstance(v, bool) else str(v)
                 for k, v in (playbook.vars if playbook else {}).items()}
    variables.update(command_line_vars() if overrides is None else {str(k): str(v) for k, v in overrides.items()})
    if param_vars:
        _apply_param_vars(c, variables, param_vars, raw_resources, raw.get("name"))
    for var, place in structural_vars(raw_resources, variables, raw.get("name")).items():
        if var.startswith("env:"):  # it would show in task ids, ARNs and the recap
            c.add(None, None, f"${{{var}}} is used in {place}: a value from the environment is never shown, so "
                  "it cannot name a resource, its kind or a reference", code=codes.VAR_ERROR)
    c.expander = Expander(variables, budget=limits.max_bytes - len(text.encode()), limit=limits.max_bytes,
                          environ=os.environ if environ is None else environ)
    for var_name, message in c.expander.var_errors:
        c.add(None, f"vars.{var_name}", message, code=codes.VAR_ERROR)
    base_dir = policies or policies_dir()
    c.boundaries = {str(item["boundary"]) for item in raw_resources
                    if isinstance(item, dict) and isinstance(item.get("boundary"), str)}
    resources: list[ResourceBase] = []
    for index, item in enumerate(raw_resources):
        c.indexes.setdefault(_resource_label(index, item), index)
        res = _load_resource(c, index, item, variables, base_dir, path.parent)
        if res is not None:
            resources.append(res)

    _check_duplicates(c, resources)
    if playbook is None:
        return LoadResult(path, None, c.in_order())
    playbook.resources = resources
    playbook.source = str(path)
    playbook.set_env_values(c.expander.env_values)
    _check_references(c, playbook)
    for r in resources:
        for field_name, message in r.playbook_errors(playbook):
            c.add(r.name, field_name, message, code=codes.INVALID_VALUE)
        for field_name, message in r.lint_warnings():
            c.add(r.name, field_name, message, severity="warning", code=codes.RESOURCE_WARNING)
    if c.failed:
        return LoadResult(path, None, c.in_order())
    return LoadResult(path, playbook, c.in_order())


def structural_vars(raw_resources: Sequence[Any], variables: Mapping[str, str], name: Any = None) -> dict[str, str]:
    """The vars that decide what the resources are: var -> where (the playbook's or a resource's name, a
    resource's kind, or a reference field), directly or through the value of another var."""
    where: dict[str, str] = {}

    def note(value: Any, place: str) -> None:
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, str):
                for m in VAR_RE.finditer(v):
                    where.setdefault(m.group(1), place)

    note(name, "the playbook's name")
    for index, item in enumerate(raw_resources):
        if not isinstance(item, dict):
            continue
        label = _resource_label(index, item)
        kind = item.get("kind")
        model = RESOURCE_MODELS.get(kind) if isinstance(kind, str) else None
        for field_name in ("name", "kind", *(model.reference_fields if model else ())):
            note(item.get(field_name), f"field {field_name!r} of resource {label!r}")
    pending = list(where)
    while pending:  # a var used by a structural var is structural too
        var = pending.pop()
        for m in VAR_RE.finditer(variables.get(var, "")):
            if m.group(1) not in where:
                where[m.group(1)] = where[var]
                pending.append(m.group(1))
    return where


def _apply_param_vars(c: _Collector, variables: dict[str, str], param_vars: Mapping[str, Any],
                      raw_resources: Sequence[Any], name: Any) -> None:
    """Let a DAG run's ``vars`` Param override values; refuse a change to a var that shapes the DAG."""
    fixed = structural_vars(raw_resources, variables, name)
    for var, value in param_vars.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        if var in fixed and variables.get(var) != text:
            c.add(None, f"vars.{var}", f"var {var!r} decides {fixed[var]}: it is resolved when the DAG is built, "
                  "and a Param cannot change it (give it with --var, or in the playbook, and let the DAG reload)",
                  code=codes.VAR_ERROR)
            continue
        variables[str(var)] = text


def _resource_label(index: int, item: Any) -> str:
    if isinstance(item, dict) and isinstance(name := item.get("name"), str):
        return name
    return f"#{index + 1}"


def _load_resource(c: _Collector, index: int, item: Any, variables: dict[str, str], base_dir: Path,
                   playbook_dir: Path) -> ResourceBase | None:
    label = _resource_label(index, item)
    if not isinstance(item, dict):
        c.add(label, None, "a resource must be a mapping with 'kind' and 'name'", code=codes.PLAYBOOK_SHAPE)
        return None
    kind = item.get("kind")
    if kind not in RESOURCE_MODELS:
        known = ", ".join(sorted(RESOURCE_MODELS))
        c.add(label, "kind", f"unknown resource kind {kind!r} (known: {known})", code=codes.UNKNOWN_KIND)
        return None
    before = len(c.problems)
    item = _substitute_vars(c, label, item, variables, "")
    model = RESOURCE_MODELS[kind]
    for doc_field in model.document_fields:
        if doc_field in item:
            item[doc_field] = _load_document_field(c, index, label, doc_field, item[doc_field], base_dir,
                                                   playbook_dir, variables)
    # every document is validated even when the resource's other fields are wrong: one run, every problem
    _validate_documents(c, label, model, item)
    _scan_credentials(c, item, resource=label)  # again after substitution: AKIA${a}${b} is a key only now
    try:
        loaded: ResourceBase = TypeAdapter(model).validate_python(item)
    except PydanticValidationError as exc:
        for err in exc.errors():
            field_name, message = _loc(err["loc"]), _msg(err)
            m = re.match(r"^([a-z_]+): (.*)$", message)
            if field_name is None and m:  # a model-level rule names its field in the message
                field_name, message = m.group(1), m.group(2)
            c.add(label, field_name, message, code=_schema_code(err))
        return None
    return None if any(p.is_error for p in c.problems[before:]) else loaded


def _load_document_field(c: _Collector, index: int, label: str, field_name: str, value: Any, base_dir: Path,
                         playbook_dir: Path, variables: dict[str, str]) -> Any:
    # inline_policies is a map of name -> document; the others hold one document
    if field_name.endswith("policies") and isinstance(value, dict) and "Statement" not in value:
        return {k: _load_document(c, index, label, f"{field_name}.{k}", (field_name, k), v, base_dir, playbook_dir,
                                  variables)
                for k, v in value.items()}
    return _load_document(c, index, label, field_name, (field_name,), value, base_dir, playbook_dir, variables)


def _load_document(c: _Collector, index: int, label: str, field_name: str, field_path: tuple[str, ...], value: Any,
                   base_dir: Path, playbook_dir: Path, variables: dict[str, str]) -> Any:
    """The document a field holds (read from its policy file when it names one), its place remembered."""
    c.documents[(label, field_name)] = (c.file, c.positions, ("resources", index, *field_path))
    if isinstance(value, str):
        found, problem = _document_path(value, base_dir, playbook_dir)
        if found is None:
            c.add(label, field_name, problem, code=codes.POLICY_FILE)
            return value
        try:
            loaded, positions = load_file(found)
        except SourceError as exc:
            # the parser's own words may quote the file: give only iamflow's message and the place
            where = f" (line {exc.line}, column {exc.column})" if exc.line is not None else ""
            c.add(label, field_name, f"policy file {value!r}{where}: {exc.describe(with_detail=False, with_place=False)}",
                  code=codes.POLICY_FILE)
            return value
        c.documents[(label, field_name)] = (str(found), positions, ())
        _scan_credentials(c, loaded, resource=label, prefix=field_name)
        value = _substitute_vars(c, label, loaded, variables, field_name)
    if not isinstance(value, dict):
        c.add(label, field_name, "a policy document must be a mapping (or the name of a policy file)",
              code=codes.DOCUMENT_SHAPE)
    return value


def _validate_documents(c: _Collector, label: str, model: type[ResourceBase], item: dict[str, Any]) -> None:
    """Run the policy validator on every document of a resource; apply its waivers; check the quotas."""
    from iamflow.policy.doctypes import MAX_ATTACHED_POLICIES, document_type
    from iamflow.policy.findings import CODES
    from iamflow.policy.grammar import document_size
    from iamflow.policy.validate import validate_document

    if item.get("state", "present") == "absent":
        return
    waivers = _raw_waivers(item.get("waive"))
    used: set[str] = set()
    for doc_field, type_name in model.document_fields.items():
        value = item.get(doc_field)
        if type_name == "managed" and item.get("name") in c.boundaries:
            type_name = "boundary"  # it only limits: the rules about what a policy grants do not apply
        doc_type = document_type(type_name)
        docs = ([(f"{doc_field}.{k}", v) for k, v in value.items()] if doc_type.aggregate and isinstance(value, dict)
                else [(doc_field, value)] if value is not None else [])
        total = 0
        for field_name, doc in docs:
            if not isinstance(doc, dict):
                continue  # a file that was not found, or not a mapping: reported where it was loaded
            total += document_size(doc)
            file, positions, prefix = c.documents.get((label, field_name), (c.file, c.positions, ()))
            # the scan of the whole file reports credentials, once
            for f in validate_document(doc, doc_type, credentials=False):
                if f.waivable and f.code in waivers:
                    used.add(f.code)
                    continue
                where = locate(positions, (*prefix, *f.path)) if positions else None
                line, column = where if where else (None, None)
                c.add(label, f"{field_name}.{f.where}" if f.where else field_name, f.message, code=f.code,
                      rule=f.code, severity=f.severity, line=line, column=column, file=file)
        if doc_type.aggregate and doc_type.max_chars is not None and total > doc_type.max_chars:
            c.add(label, doc_field, f"{doc_type.label} add up to {total} characters (whitespace not counted); "
                  f"AWS allows {doc_type.max_chars}: move statements into managed policies",
                  code="inline-policies-too-large", rule="inline-policies-too-large")
    attached = item.get("managed_policies")
    if isinstance(attached, list) and len(attached) > MAX_ATTACHED_POLICIES:
        if codes.ATTACHED_POLICIES_QUOTA in waivers:
            used.add(codes.ATTACHED_POLICIES_QUOTA)
        else:
            c.add(label, "managed_policies", f"attaches {len(attached)} managed policies; AWS's default quota is "
                  f"{MAX_ATTACHED_POLICIES} per role (after a Service Quotas increase, waive "
                  f"{codes.ATTACHED_POLICIES_QUOTA!r})", code=codes.ATTACHED_POLICIES_QUOTA,
                  rule=codes.ATTACHED_POLICIES_QUOTA)
    for rule in waivers:
        if rule in CODES and not CODES[rule].waivable:
            c.add(label, "waive", f"{rule!r} cannot be waived: fix the document instead", severity="warning",
                  code=codes.UNWAIVABLE)
        elif rule not in used:
            c.add(label, "waive", f"waiver for {rule!r} matches nothing; remove it", severity="warning",
                  code=codes.UNUSED_WAIVER)


def _raw_waivers(value: Any) -> set[str]:
    """The codes a resource's ``waive:`` entries name (the schema checks their shape)."""
    if not isinstance(value, list):
        return set()
    return {w["rule"] for w in value if isinstance(w, dict) and isinstance(w.get("rule"), str)}


def _document_path(reference: str, base_dir: Path, playbook_dir: Path) -> tuple[Path | None, str]:
    """The policy file a reference names, confined to the allowed folders; else None and the reason.

    The reference is looked up in the policies folder, then in the playbook's folder; wherever it
    is found, the file it resolves to (symlinks followed) must lie inside one of those two folders
    or the shipped ``include/policies``. A reference that leaves them is refused whether or not
    its target exists, so the message reveals nothing about the outside.
    """
    if Path(reference).is_absolute() or reference.startswith("~"):
        return None, (f"policy file {reference!r} is an absolute path; name a file inside the policies folder "
                      "or the playbook's folder")
    roots = [base_dir, playbook_dir, include_dir() / "policies"]
    allowed = [r.resolve() for r in roots]
    escaped = False
    for root in (base_dir, playbook_dir):
        try:
            target = (root / reference).resolve()
        except (OSError, RuntimeError):  # a symlink loop
            escaped = True
            continue
        if not any(target.is_relative_to(a) for a in allowed):
            escaped = True
            continue
        if target.is_file():
            return target, ""
    if escaped:
        return None, (f"policy file {reference!r} resolves outside the policies folder and the playbook's "
                      "folder; only files inside them are read")
    return None, f"policy file {reference!r} not found in {base_dir} or {playbook_dir}"


def _substitute_vars(c: _Collector, label: str, value: Any, variables: dict[str, str], path: str) -> Any:
    if isinstance(value, str):
        out, messages = c.expander.expand(value)
        for message in messages:
            c.add(label, path or None, message, code=codes.VAR_ERROR)
        return out
    if isinstance(value, list):
        return [_substitute_vars(c, label, v, variables, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: _substitute_vars(c, label, v, variables, f"{path}.{k}" if path else str(k))
                for k, v in value.items()}
    return value


def _scan_credentials(c: _Collector, raw: Any, *, resource: str | None = None, prefix: str = "") -> None:
    from iamflow.policy.lint import credential_message, scan_credentials

    if resource is None and isinstance(raw, dict):
        # attribute each hit to the resource it sits in, when it sits in one
        for index, item in enumerate(raw.get("resources") or [] if isinstance(raw.get("resources"), list) else []):
            _scan_credentials(c, item, resource=_resource_label(index, item))
        raw = {k: v for k, v in raw.items() if k != "resources"}
    for where, kind in scan_credentials(raw):
        field_name = ".".join(x for x in (prefix, where.lstrip(".")) if x) or None
        message = f"{credential_message(kind)}; keep credentials out of playbooks (use roles, or Secrets Manager)"
        seen = {(p.resource, p.field, p.message) for p in c.problems if p.code == "hardcoded-credential"}
        if (resource, field_name, message) not in seen:
            c.add(resource, field_name, message, rule="hardcoded-credential", code="hardcoded-credential")


def _check_duplicates(c: _Collector, resources: list[ResourceBase]) -> None:
    seen: set[str] = set()
    for r in resources:
        if r.key in seen:
            c.add(r.name, "name", f"two {r.kind} resources are named {r.name!r}", code=codes.DUPLICATE_RESOURCE)
        seen.add(r.key)


def _check_references(c: _Collector, playbook: Playbook) -> None:
    for r in playbook.resources:
        for field_name, name, kinds in r.references():
            target = playbook.find(name, kinds)
            if target is None:
                other = next((x for x in playbook.resources if x.name == name), None)
                hint = f" (there is a {other.kind} of that name)" if other else ""
                c.add(r.name, field_name,
                      f"refers to {'/'.join(kinds)} {name!r}, which the playbook does not declare{hint}; "
                      "declare it, or give an ARN", code=codes.DANGLING_REFERENCE)
            elif r.state == "present" and target.state == "absent":
                c.add(r.name, field_name, f"refers to {target.kind} {name!r}, which is declared absent",
                      code=codes.DANGLING_REFERENCE)
    try:
        dependency_levels(playbook)
    except ValueError as exc:
        c.add(None, "resources", str(exc), code=codes.REFERENCE_CYCLE)


def dependencies(playbook: Playbook) -> dict[str, set[str]]:
    """Resource key → keys it must run after.

    A resource runs after what it refers to; when the referred-to resource is being removed, the
    edge turns around, so a role is deleted before the boundary policy it used.
    """
    deps: dict[str, set[str]] = {r.key: set() for r in playbook.resources}
    for r in playbook.resources:
        for _field, name, kinds in r.references():
            target = playbook.find(name, kinds)
            if target is None or target.key == r.key:
                continue
            if target.state == "absent":
                deps[target.key].add(r.key)
            else:
                deps[r.key].add(target.key)
    return deps


def dependency_levels(playbook: Playbook) -> list[list[str]]:
    """Topological levels of the resources (each level's members may run in parallel).

    Raises ``ValueError`` naming the resources of a cycle.
    """
    deps = dependencies(playbook)
    remaining = {k: set(v) for k, v in deps.items()}
    levels: list[list[str]] = []
    while remaining:
        ready = sorted(k for k, v in remaining.items() if not v)
        if not ready:
            cycle = _find_cycle(remaining)
            raise ValueError("reference cycle: " + " -> ".join(cycle))
        levels.append(ready)
        for k in ready:
            del remaining[k]
        for v in remaining.values():
            v.difference_update(ready)
    return levels


def _find_cycle(graph: dict[str, set[str]]) -> list[str]:
    start = sorted(graph)[0]
    path: list[str] = [start]
    seen = {start: 0}
    node = start
    while True:
        node = sorted(graph[node])[0]
        if node in seen:
            return path[seen[node]:] + [node]
        seen[node] = len(path)
        path.append(node)


def waiver_notes(resource: ResourceBase) -> list[str]:
    """The waivers that apply to a resource's documents, as lines for every plan."""
    from iamflow.policy.doctypes import document_type
    from iamflow.policy.validate import validate_document

    waivers = {w.rule: w.reason for w in resource.waive}
    notes: list[str] = []
    if not waivers:
        return notes
    for field_name, doc, type_name in resource.documents():
        for f in validate_document(doc, document_type(type_name)):
            if f.waivable and f.code in waivers:
                note = f"{field_name}: waived {f.code} at {f.where or 'the document'}: {waivers[f.code]}"
                if note not in notes:
                    notes.append(note)
    return notes


def _schema_code(err: Mapping[str, Any]) -> str:
    kind = err.get("type")
    if kind == "extra_forbidden":
        return codes.UNKNOWN_FIELD
    if kind == "missing":
        return codes.MISSING_FIELD
    return codes.INVALID_VALUE


def _loc(loc: tuple[Any, ...]) -> str | None:
    parts = [str(p) for p in loc if not (isinstance(p, str) and p in RESOURCE_MODELS)]
    out = ""
    for p in parts:
        out += f"[{p}]" if p.isdigit() else (f".{p}" if out else p)
    return out or None


def _msg(err: Mapping[str, Any]) -> str:
    msg = str(err.get("msg", "invalid"))
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if err.get("type") == "extra_forbidden":
        msg = "unknown field (not part of the schema; check the spelling)"
    elif err.get("type") == "missing":
        msg = "required field is missing"
    return msg
