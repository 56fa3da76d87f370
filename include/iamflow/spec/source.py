"""Read playbooks and policy documents under hard limits, keeping the place of every value.

Every YAML or JSON text iamflow reads from a playbook folder or a policy folder goes through this
module, before anything walks the data:

- **size**: a file larger than :func:`iamflow.settings.max_playbook_bytes` (1 MiB, or
  ``$IAMFLOW_MAX_PLAYBOOK_BYTES``) is refused before it is parsed (at most that many bytes plus
  one are read);
- **encoding**: the text must be UTF-8 (a BOM is allowed); anything else is refused with the
  offset and line of the first bad byte;
- **nodes**: at most :data:`MAX_NODES` values (scalars, lists, mappings; keys count too);
- **depth**: at most :data:`MAX_DEPTH` nested lists and mappings;
- **anchors and aliases** (``&x``, ``*x``, and so ``<<: *x``) are refused, not expanded: a
  playbook never needs them, and refusing them makes the size of the data the size of the text;
- **duplicate keys** are refused in every mapping at any depth, in YAML and in JSON: the first and
  the second place of the key are named;
- one document per file; explicit tags other than YAML's own scalar types are refused.

Each limit is checked while the parser's events stream in, so a refused file is never built, let
alone walked. The YAML events come from libyaml when it is installed (PyYAML's pure-Python parser
otherwise); the values are built here, iteratively, so no nesting can exhaust Python's stack.
JSON files (``*.json``) are parsed by :mod:`json`, with duplicate keys refused, after a linear scan
that enforces the same depth and node limits.

Positions
---------
:func:`load_yaml` and :func:`load_file` return ``(value, positions)``. ``positions`` maps the
path of each value (a tuple of mapping keys and list indexes, from the document's root, e.g.
``("resources", 3, "trust_policy", "Statement", 0, "Effect")``) to its ``(line, column)``, both
1-based. A mapping entry's position is the position of its key (the place that names the field);
a list item's is the item's; the root's is ``()``. :func:`locate` finds the position of a path, or
of its nearest ancestor that has one (a missing field is reported at the mapping that lacks it).
JSON documents get positions when the same text also reads as YAML (no tabs), else none.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

from iamflow.settings import MAX_PLAYBOOK_BYTES_ENV, max_playbook_bytes

# A 2 000-resource playbook holds about 40 000 values; the bound keeps the worst file any size limit
# admits to well under a second of parsing, since every playbook shares one DAG file's import timeout.
MAX_NODES = 100_000
MAX_DEPTH = 64

Path_ = tuple[Any, ...]
Positions = dict[Path_, tuple[int, int]]

_Parser: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SEQ, _MAP = "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"
_SCALAR_TAGS = frozenset(f"tag:yaml.org,2002:{t}" for t in
                         ("null", "bool", "int", "float", "binary", "timestamp", "str"))
# a string (its closing quote optional, so no match is ever retried: linear on any text), or a structural character
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{},:]', re.DOTALL)


@dataclass(frozen=True)
class Limits:
    """The bounds one file is read under."""

    max_bytes: int
    max_nodes: int = MAX_NODES
    max_depth: int = MAX_DEPTH

    @classmethod
    def default(cls) -> Limits:
        """The configured limits (``$IAMFLOW_MAX_PLAYBOOK_BYTES`` is read on every call)."""
        return cls(max_playbook_bytes())


class SourceError(ValueError):
    """A file that cannot be read safely: too big, not UTF-8, over a limit, a duplicate key, bad syntax.

    ``message`` is iamflow's own wording and quotes nothing from the file but key names;
    ``detail`` is the parser's description of a syntax error, which may quote a character of the
    text (callers show it for playbooks, not for the policy files a playbook names).
    """

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None,
                 at: tuple[int, int] | None = None, detail: str | None = None, limit: str | None = None):
        if at is not None:
            line, column = at
        self.message = message
        self.line = line
        self.column = column
        self.detail = detail
        self.limit = limit  # "size", "nodes", "depth", "aliases" when a limit refused the file
        super().__init__(self.describe(with_detail=True))

    def describe(self, *, with_detail: bool, with_place: bool = True) -> str:
        """The message, with the parser's detail when ``with_detail`` and the place when ``with_place``."""
        where = f"line {self.line}, column {self.column}: " if with_place and self.line is not None else ""
        detail = f": {self.detail}" if with_detail and self.detail else ""
        return f"{where}{self.message}{detail}"


def locate(positions: Positions, path: Path_) -> tuple[int, int] | None:
    """The position of ``path``, or of its nearest ancestor that has one."""
    for end in range(len(path), -1, -1):
        found = positions.get(tuple(path[:end]))
        if found is not None:
            return found
    return None


def read_text(path: str | Path, limits: Limits | None = None) -> str:
    """The text of ``path``, refused (``SourceError``) when larger than the limit or not UTF-8."""
    limits = limits or Limits.default()
    try:
        with open(path, "rb") as fh:
            data = fh.read(limits.max_bytes + 1)
    except OSError as exc:
        raise SourceError(f"cannot read file: {exc.strerror or type(exc).__name__}") from None
    if len(data) > limits.max_bytes:
        raise SourceError(f"the file is larger than the limit of {limits.max_bytes} bytes "
                          f"(set {MAX_PLAYBOOK_BYTES_ENV} to change it)", limit="size")
    return decode(data)


def decode(data: bytes) -> str:
    """UTF-8 text of ``data`` (a leading BOM dropped), or ``SourceError`` naming the first bad byte."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise SourceError(f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                          "playbooks and policy files must be UTF-8", line=line, column=column) from None
    return text[1:] if text.startswith("\ufeff") else text


def load_file(path: str | Path, limits: Limits | None = None) -> tuple[Any, Positions]:
    """Read and parse one file under ``limits``: JSON for ``*.json``, YAML otherwise."""
    limits = limits or Limits.default()
    text = read_text(path, limits)
    if str(path).endswith(".json"):
        return load_json(text, limits)
    return load_yaml(text, limits)


def load_yaml(text: str, limits: Limits | None = None) -> tuple[Any, Positions]:
    """Parse one YAML document under ``limits``; returns ``(value, positions)`` or raises ``SourceError``."""
    limits = limits or Limits.default()
    if len(text.encode("utf-8", "surrogatepass")) > limits.max_bytes:
        raise SourceError(f"the text is larger than the limit of {limits.max_bytes} bytes "
                          f"(set {MAX_PLAYBOOK_BYTES_ENV} to change it)", limit="size")
    try:
        return _Builder(limits).build(_events(text))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(x for x in (exc.context, exc.problem) if x) or "syntax error"
        limit = "depth" if "nesting depth" in problem else None  # libyaml's own bound on flow nesting
        raise SourceError("invalid YAML", line=mark.line + 1 if mark else None,
                          column=mark.column + 1 if mark else None, detail=problem, limit=limit) from None
    except yaml.YAMLError as exc:  # a ReaderError (a control character) has a position, not a mark
        position = getattr(exc, "position", None)
        line, column = _line_column(text, position) if isinstance(position, int) else (None, None)
        raise SourceError("invalid YAML", line=line, column=column,
                          detail=getattr(exc, "reason", None) or "unreadable text") from None


def load_json(text: str, limits: Limits | None = None) -> tuple[Any, Positions]:
    """Parse one JSON document under ``limits``, refusing duplicate keys; returns ``(value, positions)``."""
    limits = limits or Limits.default()
    if len(text.encode("utf-8", "surrogatepass")) > limits.max_bytes:
        raise SourceError(f"the text is larger than the limit of {limits.max_bytes} bytes "
                          f"(set {MAX_PLAYBOOK_BYTES_ENV} to change it)", limit="size")
    _check_json_shape(text, limits)
    try:
        value = json.loads(text, object_pairs_hook=_refuse_duplicates)
    except _DuplicateKey as dup:
        # find where: the YAML reading of the same text names both places of the key
        try:
            load_yaml(text, limits)
        except SourceError as exc:
            if exc.message.startswith("duplicate key"):
                raise exc from None
        raise SourceError(f"duplicate key {dup.key!r} (a second value would silently replace the first)") from None
    except json.JSONDecodeError as exc:
        # json's messages never quote the text ("Expecting ',' delimiter"), so they are part of ours
        raise SourceError(f"invalid JSON ({exc.msg})", line=exc.lineno, column=exc.colno) from None
    except RecursionError:  # not reached under MAX_DEPTH; kept so no nesting can raise past here
        raise SourceError(f"nested more than {limits.max_depth} levels deep", limit="depth") from None
    try:
        _same, positions = load_yaml(text, limits)
    except SourceError:
        positions = {}
    return value, positions


# --- YAML -----------------------------------------------------------------------------------


def _events(text: str) -> Iterator[Any]:
    parser = _Parser(text)
    try:
        while parser.check_event():
            yield parser.get_event()
    finally:
        parser.dispose()


_NO_KEY = object()


@dataclass
class _Frame:
    container: list[Any] | dict[Any, Any]
    path: Path_
    key: Any = _NO_KEY
    key_marks: dict[Any, tuple[int, int]] = field(default_factory=dict)


class _Builder:
    """Turn a stream of parser events into plain values, checking every limit as events arrive."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.nodes = 0
        self.positions: Positions = {}
        self.stack: list[_Frame] = []
        self.root: Any = None
        self.documents = 0
        self.constructor = SafeConstructor()
        self.resolver = Resolver()
        self.scalars: dict[tuple[Any, ...], Any] = {}

    def build(self, events: Iterator[Any]) -> tuple[Any, Positions]:
        for event in events:
            if isinstance(event, yaml.DocumentStartEvent):
                self.documents += 1
                if self.documents > 1:
                    raise SourceError("more than one YAML document ('---') in one file",
                                      at=_at(event.start_mark))
            elif isinstance(event, yaml.AliasEvent):
                raise SourceError(f"alias *{event.anchor} refused: anchors and aliases are not allowed "
                                  "in playbooks and policy files (write the value out)",
                                  limit="aliases", at=_at(event.start_mark))
            elif isinstance(event, yaml.NodeEvent):
                self._node(event)
            elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                self.stack.pop()
        return self.root, self.positions

    def _node(self, event: Any) -> None:
        mark = _at(event.start_mark)
        if event.anchor is not None:
            raise SourceError(f"anchor &{event.anchor} refused: anchors and aliases are not allowed "
                              "in playbooks and policy files (write the value out)", limit="aliases", at=mark)
        self.nodes += 1
        if self.nodes > self.limits.max_nodes:
            raise SourceError(f"more than {self.limits.max_nodes} values in one file", limit="nodes", at=mark)
        if isinstance(event, yaml.ScalarEvent):
            self._attach(self._scalar(event), mark, collection=False)
            return
        tag = event.tag
        container: list[Any] | dict[Any, Any]
        if isinstance(event, yaml.SequenceStartEvent):
            expected, container = _SEQ, []
        else:
            expected, container = _MAP, {}
        if tag not in (None, "!", expected):
            raise SourceError(f"the tag {tag} is not supported here", at=mark)
        if len(self.stack) >= self.limits.max_depth:
            raise SourceError(f"nested more than {self.limits.max_depth} levels deep", limit="depth", at=mark)
        path = self._attach(container, mark, collection=True)
        self.stack.append(_Frame(container, path))

    def _scalar(self, event: Any) -> Any:
        # scalars repeat (kinds, effects, actions) and their values are immutable: build each once
        key = (event.tag, event.value, event.implicit)
        if key in self.scalars:
            return self.scalars[key]
        value = self.scalars[key] = self._construct(event)
        return value

    def _construct(self, event: Any) -> Any:
        tag = event.tag
        if tag is None:
            tag = self.resolver.resolve(ScalarNode, event.value, event.implicit)  # type: ignore[no-untyped-call]  # PyYAML is untyped
        if tag in ("!", "tag:yaml.org,2002:value"):  # '!' is the non-specific tag; '=' alone is text
            tag = "tag:yaml.org,2002:str"
        if tag == "tag:yaml.org,2002:merge":
            raise SourceError("merge keys ('<<') are not allowed (write the keys out)", at=_at(event.start_mark))
        if tag not in _SCALAR_TAGS:
            raise SourceError(f"the tag {tag} is not supported", at=_at(event.start_mark))
        node = ScalarNode(tag, event.value, event.start_mark, event.end_mark, style=event.style)
        try:
            return self.constructor.yaml_constructors[tag](self.constructor, node)
        except (yaml.YAMLError, ValueError) as exc:
            raise SourceError(f"the value is not a valid {tag.rsplit(':', 1)[-1]}", at=_at(event.start_mark),
                              detail=getattr(exc, "problem", None)) from None

    def _attach(self, value: Any, mark: tuple[int, int], *, collection: bool) -> Path_:
        where = mark
        if not self.stack:
            self.root = value
            self.positions[()] = where
            return ()
        top = self.stack[-1]
        if isinstance(top.container, list):
            path = (*top.path, len(top.container))
            top.container.append(value)
            self.positions[path] = where
            return path
        if top.key is _NO_KEY:  # this value is a key
            if collection:
                raise SourceError("a mapping key must be a plain value, not a list or a mapping", at=mark)
            first = top.key_marks.get(value)
            if first is not None:
                raise SourceError(f"duplicate key {value!r} (first at line {first[0]}, column {first[1]}): "
                                  "a second value would silently replace the first", at=mark)
            top.key_marks[value] = where
            top.key = value
            self.positions[(*top.path, value)] = where
            return (*top.path, value)
        key, top.key = top.key, _NO_KEY
        top.container[key] = value
        return (*top.path, key)


def _at(mark: Any) -> tuple[int, int]:
    return mark.line + 1, mark.column + 1


def _line_column(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


# --- JSON -----------------------------------------------------------------------------------


class _DuplicateKey(Exception):
    def __init__(self, key: str):
        self.key = key


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _check_json_shape(text: str, limits: Limits) -> None:
    """Depth and value count of a JSON text, in one linear pass that builds nothing."""
    depth = 0
    nodes = 1
    for m in _JSON_TOKEN.finditer(text):
        ch = m.group()
        if ch[0] == '"':
            continue  # a string, skipped whole (an unterminated one runs to the end)
        if ch in "[{":
            depth += 1
            if depth > limits.max_depth:
                raise SourceError(f"nested more than {limits.max_depth} levels deep", limit="depth",
                                  at=_line_column(text, m.start()))
        elif ch in "]}":
            depth -= 1
        else:
            nodes += 1  # each ',' starts one more value, each ':' follows one more key
            if nodes > limits.max_nodes:
                raise SourceError(f"more than {limits.max_nodes} values in one file", limit="nodes",
                                  at=_line_column(text, m.start()))
