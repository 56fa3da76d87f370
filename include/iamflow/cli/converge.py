"""``iamflow lint|plan|apply PLAYBOOK...``: validate playbooks, show what would change, converge AWS."""

from __future__ import annotations

import argparse
import json
from typing import Any

from iamflow.cli.common import (
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_OK,
    add_aws_options,
    add_var_option,
    build_clients,
    expand_paths,
    validate_playbooks,
)


def cmd_lint(args: argparse.Namespace) -> int:
    if args.json:
        return _lint_json(args.playbooks)
    return EXIT_OK if validate_playbooks(args.playbooks) is not None else EXIT_ERROR


def _lint_json(paths: list[str]) -> int:
    """Print every problem of every file as a JSON list (a contract: the keys of each item never change)."""
    from iamflow.spec.codes import PLAYBOOK_UNREADABLE
    from iamflow.spec.loader import lint_paths

    files = expand_paths(paths)
    if not files:
        problems = [{"file": p, "resource": None, "path": None, "line": None, "column": None, "severity": "error",
                     "code": PLAYBOOK_UNREADABLE, "message": "no playbook files given (or none found in this folder)"}
                    for p in paths]
        print(json.dumps(problems, indent=2))
        return EXIT_ERROR
    results = lint_paths(files)
    print(json.dumps([p.to_json() for r in results for p in r.problems], indent=2))
    failed = any(r.errors or r.playbook is None for r in results)
    return EXIT_ERROR if failed else EXIT_OK


def _converge(args: argparse.Namespace, *, check_mode: bool) -> int:
    playbooks = validate_playbooks(args.playbooks, quiet=True)
    if playbooks is None:
        return EXIT_ERROR
    from iamflow.engine import format_recap, format_result, run_playbook

    clients = build_clients(args, check_mode=check_mode)
    any_failed = any_changed = False
    for pb in playbooks:
        print(f"\nPLAY [{pb.name}] ({pb.source})" + (" (check mode)" if check_mode else ""))
        play = run_playbook(clients, pb, check_mode=check_mode, workers=args.workers,
                            on_result=lambda r: print(format_result(r, diff=args.diff), flush=True))
        print()
        print(format_recap(pb.name, play.results, check_mode=check_mode))
        any_failed |= play.failed
        any_changed |= play.changed
    if any_failed:
        return EXIT_ERROR
    if check_mode and any_changed and args.detailed_exitcode:
        return EXIT_CHANGES
    return EXIT_OK


def cmd_plan(args: argparse.Namespace) -> int:
    return _converge(args, check_mode=True)


def cmd_apply(args: argparse.Namespace) -> int:
    return _converge(args, check_mode=args.check)


def _aws_options(p: argparse.ArgumentParser) -> None:
    add_aws_options(p, workers=4, workers_help="resources converged in parallel per level")
    add_var_option(p)


def add_converge_parsers(subparsers: Any) -> None:
    """Add ``lint``, ``plan`` and ``apply`` to the ``iamflow`` parser."""
    p = subparsers.add_parser("lint", help="validate playbooks: schema, references, policy validation (no AWS call)")
    p.add_argument("playbooks", nargs="+", help="playbook files or folders")
    p.add_argument("--json", action="store_true",
                   help="print every problem as a JSON list of {file, resource, path, line, column, severity, "
                   "code, message} (an empty list when nothing is found)")
    add_var_option(p)
    p.set_defaults(func=cmd_lint)

    p = subparsers.add_parser("plan", help="show what apply would change (check mode: no write call)")
    p.add_argument("playbooks", nargs="+")
    p.add_argument("--no-diff", dest="diff", action="store_false", help="do not print diffs")
    p.add_argument("--no-detailed-exitcode", dest="detailed_exitcode", action="store_false",
                   help="exit 0 even when changes are pending")
    _aws_options(p)
    p.set_defaults(func=cmd_plan)

    p = subparsers.add_parser("apply", help="converge AWS to the playbooks")
    p.add_argument("playbooks", nargs="+")
    p.add_argument("--check", action="store_true", help="check mode: plan only, every write call refused")
    p.add_argument("--diff", action="store_true", help="print diffs")
    p.set_defaults(detailed_exitcode=False)
    _aws_options(p)
    p.set_defaults(func=cmd_apply)
