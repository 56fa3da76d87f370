"""User-written regexes (mutelist patterns, role name patterns) compiled so that matching takes linear time.

RE2 (the ``google-re2`` package) runs them: its time is linear in the text, so a pattern such as
``(a+)+$`` cannot stall a sweep on a resource named ``aaaa...a-x``. RE2 refuses the constructs only a
backtracking engine has (backreferences like ``\\1``, lookarounds like ``(?=...)``, possessive
quantifiers). Without RE2, Python's engine runs them, and a pattern that could backtrack
catastrophically (a repeat inside a repeat, an alternation under a repeat, backreferences,
lookarounds) is refused instead. Otherwise the syntax is Python's: RE2 differs only in details
such as ``\\w`` and ``\\d`` being ASCII-only.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Protocol


class Pattern(Protocol):
    """A compiled pattern (RE2's or Python's): what the matching uses."""

    @property
    def pattern(self) -> str: ...

    def search(self, text: str) -> object | None: ...

    def fullmatch(self, text: str) -> object | None: ...


# repeats of at most this many copies cannot blow up, whatever they contain
_BOUNDED_REPEAT = 1


def _backtracking_construct(text: str) -> str | None:
    """What in a Python regex could backtrack catastrophically (None when nothing can).

    Refused: backreferences, lookarounds, conditionals, and any repeat of more than one copy whose
    body holds another repeat or an alternation (``(a+)+``, ``(a|aa)*``, ``(.*a){9}``).
    """
    from re import _constants as c  # type: ignore[attr-defined]  # the stdlib's regex opcodes, no public name
    from re import _parser  # type: ignore[attr-defined]  # the stdlib's regex parser, no public name

    repeats = (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT)

    def walk(items: Any, in_repeat: bool) -> str | None:
        for op, arg in items:
            if op in (c.GROUPREF, c.GROUPREF_EXISTS):
                return "a backreference or conditional group"
            if op in (c.ASSERT, c.ASSERT_NOT):
                return "a lookaround"
            if op in repeats:
                low, high, body = arg
                if in_repeat and high > _BOUNDED_REPEAT:
                    return "a repeat inside a repeat"
                found = walk(body, in_repeat or high > _BOUNDED_REPEAT)
            elif op is c.BRANCH:
                if in_repeat:
                    return "an alternation inside a repeat"
                found = next((r for b in arg[1] if (r := walk(b, in_repeat))), None)
            elif op in (c.SUBPATTERN, c.ATOMIC_GROUP):
                found = walk(arg[-1], in_repeat)
            else:
                found = None
            if found:
                return found
        return None

    return walk(_parser.parse(text), False)


def _compile_python(text: str) -> Pattern:
    """Python's engine, for a pattern that cannot backtrack catastrophically (else ValueError)."""
    compiled = re.compile(text)  # a syntax error first, as re.error
    construct = _backtracking_construct(text)
    if construct:
        raise ValueError(f"it uses {construct}, which can take exponential time on some resource names; "
                         "write it without nesting repeats")
    return compiled


def compile_pattern(text: str) -> Pattern:
    """Compile ``text`` with RE2 when installed, else with Python's engine behind :func:`_backtracking_construct`.

    :raises re.error: ``text`` is not a regex.
    :raises ValueError: it is one, but only a backtracking engine could run it (RE2), or it could
        backtrack catastrophically (Python's engine).
    """
    try:
        import re2  # type: ignore[import-untyped]  # google-re2 ships no type information
    except ImportError:
        return _compile_python(text)
    options = re2.Options()
    options.log_errors = False  # RE2 would print its own parse errors on stderr
    try:
        compiled: Pattern = re2.compile(text, options=options)
    except re2.error as exc:
        detail = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        try:
            re.compile(text)
        except re.error as py_exc:  # not a regex at all: say what Python says about it
            raise re.error(str(py_exc)) from exc
        raise ValueError(f"the linear-time regex engine (RE2) does not support it ({detail}); backreferences, "
                         "lookarounds and possessive quantifiers are not allowed") from exc
    return compiled


@lru_cache(maxsize=1024)
def cached_pattern(text: str) -> Pattern:
    """:func:`compile_pattern`, once per text (for patterns already validated when their file was read)."""
    return compile_pattern(text)
