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
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from iamflow.settings import MAX_PLAYBOOK_BYTES_ENV

RUNTIME_VARS = ("account_id", "partition", "region")
VAR_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class Expander:
    """Expand ``${var}`` in strings with a playbook's vars, under a byte budget.

    :param raw: The playbook's ``vars`` (name -> text, not yet expanded).
    :param budget: How many bytes expansion may add, in total, to the playbook.
    :param limit: The size limit the budget comes from (named in the error).
    """

    def __init__(self, raw: Mapping[str, str], *, budget: int, limit: int):
        self.raw = dict(raw)
        self.budget = budget
        self.limit = limit
        self.exhausted = False
        self.values: dict[str, str] = {}
        self.failed: set[str] = set()
        # (var name, message) for every var whose value could not be expanded
        self.var_errors: list[tuple[str, str]] = []
        for name in self.raw:
            self._resolve(name)

    def expand(self, text: str) -> tuple[str, list[str]]:
        """``text`` with every known var replaced, and the messages for what could not be."""
        messages: list[str] = []
        out, unknown = self._substitute(text, self.values)
        for name in unknown:
            messages.append(f"unknown variable ${{{name}}} (define it under 'vars')")
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

    def _substitute(self, text: str, values: Mapping[str, str]) -> tuple[str | None, list[str]]:
        """Replace the vars of ``values`` in ``text``; None when the budget does not allow it."""
        unknown: list[str] = []
        parts: list[str] = []
        last = 0
        grown = 0
        for m in VAR_RE.finditer(text):
            name = m.group(1)
            if name in values:
                parts += [text[last:m.start()], values[name]]
                grown += len(values[name].encode()) - len(m.group(0))
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
            value, unknown = self._substitute(self.raw[name], self.values)
            for missing in unknown:
                self.var_errors.append((name, f"unknown variable ${{{missing}}} in the value of var {name!r} "
                                              "(define it under 'vars')"))
            if value is None:
                self.failed.add(name)
                for message in self._spent():
                    self.var_errors.append((name, message))
                continue
            if unknown:
                self.failed.add(name)
                continue
            self.values[name] = value
