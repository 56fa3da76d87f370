"""The ``iamflow`` command: the same engine the DAGs use, for a terminal or a user's own CI.

Exit codes follow ``terraform plan -detailed-exitcode``: 0 nothing to do (or success), 1 error,
2 changes pending (``plan``; ``sweep --detailed-exitcode``: a FAIL or ERROR finding).

One module per command group: ``lint|plan|apply`` (:mod:`.converge`), ``sweep`` (:mod:`.sweep`),
``verify-rotation`` (:mod:`.rotation`), ``policy`` (:mod:`.policy`), ``local-aws``
(:mod:`.local_aws`); the options, client building, time parsing and playbook loading they share
are in :mod:`.common`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from iamflow.cli.common import EXIT_CHANGES, EXIT_ERROR, EXIT_OK
from iamflow.cli.converge import add_converge_parsers
from iamflow.cli.local_aws import add_local_aws_parser
from iamflow.cli.policy import add_policy_parser
from iamflow.cli.rotation import add_verify_parser
from iamflow.cli.sweep import add_sweep_parser


def build_parser() -> argparse.ArgumentParser:
    """The ``iamflow`` parser with every sub-command."""
    parser = argparse.ArgumentParser(prog="iamflow", description=(__doc__ or "").splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    add_converge_parsers(sub)
    add_local_aws_parser(sub)
    add_sweep_parser(sub)
    add_verify_parser(sub)
    add_policy_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``iamflow`` with ``argv`` (the command line when None); return the exit code."""
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


__all__ = ["EXIT_CHANGES", "EXIT_ERROR", "EXIT_OK", "build_parser", "main"]
