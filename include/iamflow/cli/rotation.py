"""``iamflow verify-rotation [PLAYBOOK...] [--all] [--now ISO]``: rotation verification from a terminal.

Exit 0 when every check passes, 1 when any is FAIL or ERROR (or the playbooks do not validate).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta
from typing import Any

from iamflow.cli.common import (
    EXIT_ERROR,
    EXIT_OK,
    add_aws_options,
    add_json_option,
    add_now_option,
    add_var_option,
    build_clients,
    parse_time,
    validate_playbooks,
)


def cmd_verify_rotation(args: argparse.Namespace) -> int:
    from iamflow.secrets.rotation import FAIL, format_checks, summarize, verify_rotation

    secrets = []
    if args.playbooks:
        playbooks = validate_playbooks(args.playbooks, quiet=True)
        if playbooks is None:
            return EXIT_ERROR
        secrets = [r for pb in playbooks for r in pb.resources if r.kind == "secret"]
    elif not args.all:
        print("error: give playbooks, --all, or both", file=sys.stderr)
        return EXIT_ERROR
    checks = verify_rotation(build_clients(args, check_mode=True), secrets, now=parse_time(args.now),
                             include_all=args.all, pending_max_age=timedelta(hours=args.pending_max_hours),
                             grace=timedelta(days=args.grace_days))
    summary = summarize(checks)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(format_checks(checks))
        counts = summary["counts"]
        print(f"\n{summary['secrets']} secret(s): {counts['PASS']} PASS, {counts[FAIL]} FAIL, {counts['ERROR']} ERROR")
    return EXIT_ERROR if summary["counts"][FAIL] or summary["counts"]["ERROR"] else EXIT_OK


def add_verify_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``verify-rotation`` command to the ``iamflow`` parser."""
    p = subparsers.add_parser("verify-rotation",
                              help="verify secret rotation: configured, on time, not stuck, value valid")
    p.add_argument("playbooks", nargs="*", help="playbook files or folders whose secrets to verify")
    p.add_argument("--all", action="store_true", help="also verify every other secret in the account")
    add_now_option(p, "judge dates as of this ISO time (default: now)")
    p.add_argument("--pending-max-hours", type=float, default=24,
                   help="AWSPENDING age threshold for secrets whose playbook sets none")
    p.add_argument("--grace-days", type=int, default=1, help="grace for secrets whose playbook sets none")
    add_json_option(p, "print the summary as JSON")
    add_aws_options(p, region_help="AWS region")
    add_var_option(p)
    p.set_defaults(func=cmd_verify_rotation)
    return p
