"""``${var}`` expansion from a playbook's ``vars``: recursive, cycle-checked and bounded.

- A var's value may name other vars (``base: acme``, ``bucket: ${base}-logs``); they are expanded
  first, to any depth.
- A cycle (``a: ${b}``, ``b: ${a}``) is an error naming it: ``${a} -> ${b} -> ${a}``; the vars of
  the cycle stay unexpanded and nothing that uses them is reported again.
- A name that is neither a var nor a run-time placeholder is an error. The run-time placeholders
  (``${account_id}``, ``${partition}``, ``${region}``) are left for the engine, inside vars too.
- Expansion cannot grow the playbook past its size limit: every byte a substitution adds is
  taken from a budget (the limit minus the file's size); once spent, expansion stops with one
  error, so a var that expands to a huge string (or a chain of vars that doubles at each step)
  costs at most the limit.

Resolution is iterative (no Python recursion), so a long chain of vars cannot exhaust the stack.

Variables from outside the file:

- ``--var name=value`` on the command line (and a playbook DAG's ``vars`` Param) override the
  playbook's ``vars:`` (or add to them). They are text, expanded like the file's own vars.
- ``${env:NAME}`` is replaced by the environment variable ``NAME`` of the process that loads the
  playbook, in a var's value or anywhere a var may appear. An unset one is an error that names it.
  The value is taken literally (a ``${...}`` inside it is not expanded again), counts against the
  same budget, and is recorded in :attr:`Expander.env_values`, so that the engine, the plan, the
  diff and a DAG's docs can mask it: a value from the environment is never shown.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from iamflow.settings import MAX_PLAYBOOK_BYTES_ENV

RUNTIME_VARS = ("account_id", "partition", "region")
ENV_PREFIX = "env:"
VAR_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# ${name} (a var) or ${env:NAME} (the loading process's environment)
VAR_RE = re.compile(r"\$\{((?:env:)?[A-Za-z_][A-Za-z0-9_]*)\}")

# --var name=value given to the command that runs in this process (the CLI sets it once per command)
_COMMAND_LINE_VARS: dict[str, str] = {}


def set_command_line_vars(values: Mapping[str, str]) -> None:
    """Make ``values`` override every playbook's ``vars:`` that this process loads (``--var``)."""
    _COMMAND_LINE_VARS.clear()
    _COMMAND_LINE_VARS.update(values)


def command_line_vars() -> dict[str, str]:
    """The ``--var`` values of the running command (empty outside the CLI)."""
    return dict(_COMMAND_LINE_VARS)


def parse_var(text: str) -> tuple[str, str]:
    """``name=value`` as given to ``--var``; ValueError naming what is wrong."""
    name, sep, value = text.partition("=")
    if not sep:
        raise ValueError(f"--var {text!r}: expected name=value")
    if not VAR_NAME_RE.fullmatch(name):
        raise ValueError(f"--var {text!r}: {name!r} is not a variable name (letters, digits and _; not a digit first)")
    if name in RUNTIME_VARS:
        raise ValueError(f"--var {text!r}: ${{{name}}} is filled at run time from the AWS account and cannot be set")
    return name, value


class Expander:
    """Expand ``${var}`` in strings with a playbook's vars, under a byte budget.

    :param raw: The playbook's ``vars`` (name -> text, not yet expanded), overrides applied.
    :param budget: How many bytes expansion may add, in total, to the playbook.
    :param limit: The size limit the budget comes from (named in the error).
    :param environ: Where ``${env:NAME}`` is read (the loading process's environment).
    """

    def __init__(self, raw: Mapping[str, str], *, budget: int, limit: int,
                 environ: Mapping[str, str] | None = None):
        self.raw = dict(raw)
        self.budget = budget
        self.limit = limit
        self.environ: Mapping[str, str] = environ if environ is not None else {}
        self.exhausted = False
        self.values: dict[str, str] = {}
        self.failed: set[str] = set()
        # NAME -> value of every ${env:NAME} used: masked wherever the playbook is shown
        self.env_values: dict[str, str] = {}
        # (var name, message) for every var whose value could not be expanded
        self.var_errors: list[tuple[str, str]] = []
        for name in self.raw:
            self._resolve(name)

    def _known(self, name: str) -> str | None:
        """The value of a var, or of ``env:NAME`` when that variable is set; None otherwise."""
        if name.startswith(ENV_PREFIX):
            env_name = name[len(ENV_PREFIX):]
            value = self.environ.get(env_name)
            if value is not None and value != "":
                self.env_values[env_name] = value
                return value
            return None
        return self.values.get(name)

    def expand(self, text: str) -> tuple[str, list[str]]:
        """``text`` with every known var replaced, and the messages for what could not be."""
        messages: list[str] = []
        out, unknown = self._substitute(text)
        for name in unknown:
            messages.append(unknown_message(name))
        if out is None:
            messages.extend(self._spent())
            return text, messages
        return out, messages

    def _spent(self) -> list[str]:
        if self.exhausted:
            return []  # reported once
        self.exhausted = True
        return [f"expanding ${{...}} variables makes the playbook larger than the limit of {self.limit} bytes "
                f"(set {MAX_PLAYBOOK_BYTES_ENV} to change it)"]

    def _substitute(self, text: str) -> tuple[str | None, list[str]]:
        """Replace the known vars (and set ``${env:NAME}``) in ``text``; None when the budget does not allow it."""
        unknown: list[str] = []
        parts: list[str] = []
        last = 0
        grown = 0
        for m in VAR_RE.finditer(text):
            name = m.group(1)
            value = self._known(name)
            if value is not None:
                parts += [text[last:m.start()], value]
                grown += len(value.encode()) - len(m.group(0))
                last = m.end()
            elif name not in RUNTIME_VARS and name not in self.failed and name not in unknown:
                unknown.append(name)
        if last == 0:
            return text, unknown
        if self.exhausted or grown > self.budget:
            return None, unknown
        self.budget -= max(grown, 0)
        parts.append(text[last:])
        return "".join(parts), unknown

    def _resolve(self, start: str) -> None:
        if start in self.values or start in self.failed:
            return
        stack = [start]
        on_stack = {start}
        while stack:
            name = stack[-1]
            refs = [m.group(1) for m in VAR_RE.finditer(self.raw[name])]
            pending = next((r for r in refs if r in self.raw and r not in self.values and r not in self.failed),
                           None)
            if pending is not None:
                if pending in on_stack:
                    cycle = [*stack[stack.index(pending):], pending]
                    self.var_errors.append((pending, "variable cycle: " + " -> ".join(f"${{{v}}}" for v in cycle)))
                    self.failed.update(stack)  # the cycle, and the vars that use it
                    return
                stack.append(pending)
                on_stack.add(pending)
                continue
            stack.pop()
            on_stack.discard(name)
            if any(r in self.failed for r in refs):
                self.failed.add(name)
                continue
            value, unknown = self._substitute(self.raw[name])
            for missing in unknown:
                self.var_errors.append((name, unknown_message(missing, var=name)))
            if value is None:
                self.failed.add(name)
                for message in self._spent():
                    self.var_errors.append((name, message))
                continue
            if unknown:
                self.failed.add(name)
                continue
            self.values[name] = value


def unknown_message(name: str, *, var: str | None = None) -> str:
    """The error for ``${name}`` that nothing defines (or ``${env:NAME}`` that the environment does not set)."""
    where = f" in the value of var {var!r}" if var else ""
    if name.startswith(ENV_PREFIX):
        env_name = name[len(ENV_PREFIX):]
        return (f"environment variable {env_name} is not set (${{{name}}}{where}); set it in the environment "
                "of the process that loads the playbook")
    return f"unknown variable ${{{name}}}{where} (define it under 'vars')"
