"""The ``iamflow`` command: the same engine the DAGs use, for a terminal or a user's own CI.

Exit codes follow ``terraform plan -detailed-exitcode``: 0 nothing to do (or success), 1 error,
2 changes pending (``plan``; ``sweep --detailed-exitcode``: a FAIL or ERROR finding).

One module per command group: ``lint|plan|apply`` (:mod:`.converge`), ``sweep`` (:mod:`.sweep`),
``verify-rotation`` (:mod:`.rotation`), ``policy`` (:mod:`.policy`), ``explain``
(:mod:`.explain`), ``local-aws`` (:mod:`.local_aws`), ``remediate`` (:mod:`.remediate`); the options, client building, time parsing and playbook loading they share
are in :mod:`.common`.

Every command fails the same way: an error iamflow raised on purpose, or anything unexpected (a
dead AWS endpoint, a full disk), is one ``error: ...`` line on stderr and exit 1; the traceback
goes to the log, shown with ``--verbose``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from iamflow.cli.common import EXIT_CHANGES, EXIT_ERROR, EXIT_OK, apply_var_option
from iamflow.cli.converge import add_converge_parsers
from iamflow.cli.explain import add_explain_parser
from iamflow.cli.local_aws import add_local_aws_parser
from iamflow.cli.policy import add_policy_parser
from iamflow.cli.remediate import add_remediate_parser
from iamflow.cli.rotation import add_verify_parser
from iamflow.cli.sweep import add_sweep_parser
from iamflow.errors import IamflowError


def build_parser() -> argparse.ArgumentParser:
    """The ``iamflow`` parser with every sub-command."""
    parser = argparse.ArgumentParser(prog="iamflow", description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    add_converge_parsers(sub)
    add_local_aws_parser(sub)
    add_sweep_parser(sub)
    add_verify_parser(sub)
    add_policy_parser(sub)
    add_explain_parser(sub)
    add_remediate_parser(sub)
    verbose_help = "log iamflow's debug messages, and the traceback of an unexpected error, on stderr"
    parser.add_argument("-v", "--verbose", action="store_true", help=verbose_help)
    for command in sub.choices.values():
        # accepted after the command too; SUPPRESS keeps a --verbose given before it
        command.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=verbose_help)
    return parser


EXIT_INTERRUPTED = 130
log = logging.getLogger("iamflow.cli")


def one_line(exc: BaseException) -> str:
    """An exception as one line: its type and its message, newlines folded."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _OneLineFormatter(logging.Formatter):
    """``warning: message: ExcType: what``: a log record without its traceback."""

    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += f": {one_line(record.exc_info[1])}"
        return f"{record.levelname.lower()}: {text}"


def _log_to_stderr(verbose: bool) -> tuple[logging.Logger, logging.Handler, int]:
    """Send iamflow's own log records to stderr: warnings as one line, or everything with tracebacks.

    Only the ``iamflow`` logger: botocore's debug log would print request bodies (secret values).
    """
    logger = logging.getLogger("iamflow")
    handler = logging.StreamHandler(sys.stderr)
    if verbose:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    else:
        handler.setLevel(logging.WARNING)
        handler.setFormatter(_OneLineFormatter())
    level = logger.level
    if verbose:
        logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    return logger, handler, level


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``iamflow`` with ``argv`` (the command line when None); return the exit code."""
    args = build_parser().parse_args(argv)
    verbose = bool(getattr(args, "verbose", False))
    logger, handler, level = _log_to_stderr(verbose)
    try:
        apply_var_option(args)
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except IamflowError as exc:
        log.debug("iamflow %s failed", args.command, exc_info=True)
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # the edge: whatever went wrong, one line and an exit code, never a traceback
        log.debug("iamflow %s failed unexpectedly", args.command, exc_info=True)
        hint = "" if verbose else " (run with --verbose for the traceback)"
        print(f"error: {one_line(exc)}{hint}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        from iamflow.spec.variables import set_command_line_vars

        set_command_line_vars({})
        logger.removeHandler(handler)
        logger.setLevel(level)


__all__ = ["EXIT_CHANGES", "EXIT_ERROR", "EXIT_INTERRUPTED", "EXIT_OK", "build_parser", "main", "one_line"]
