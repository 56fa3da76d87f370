"""``iamflow remediate``: the ``remediate_credentials`` DAG's plan, apply and rollback, from a terminal.

- ``--plan`` prints the proposals (one per credential, with the plan's hash); exit 0 when there
  is nothing to do, 2 when proposals are pending, 1 on error. Reads only (check-mode clients).
- ``--apply`` plans and applies at once, without the approval step: running it is the
  operator's explicit act, recorded in the approval audit file like an approval (``via: cli``,
  ``by``: ``--by``, else the login name). Prints ``remediation run <ID>``; exit 0, or 1 when an
  action failed or on error.
- ``--rollback ID`` reactivates the keys run ``ID`` deactivated; exit 0, or 1 on error.

Findings come from ``$IAMFLOW_REPORT_DIR/latest/findings.json`` (``--report-dir``), or are
collected first when no sweep wrote any; thresholds from ``include/compliance.yaml`` (``--config``).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from datetime import UTC, datetime
from typing import Any

from iamflow.cli.common import (
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_OK,
    add_aws_options,
    add_json_option,
    add_now_option,
    build_clients,
    parse_time,
)


def add_remediate_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``iamflow remediate`` on the CLI's subparsers."""
    p = subparsers.add_parser("remediate", help="plan, apply or roll back the remediation of unused credentials",
                              description=(__doc__ or "").splitlines()[0])
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--plan", action="store_true", help="print the proposals (exit 2 when any is pending)")
    mode.add_argument("--apply", action="store_true", help="apply the proposals now, without the approval step")
    mode.add_argument("--rollback", metavar="ID", help="reactivate the keys remediation run ID deactivated")
    p.add_argument("--report-dir", help="report folder (default: $IAMFLOW_REPORT_DIR, else ./reports)")
    p.add_argument("--config", help="compliance settings with the thresholds (default: include/compliance.yaml)")
    p.add_argument("--remediation-config", help="remediation settings (default: include/remediation.yaml)")
    p.add_argument("--by", help="who applies, for the audit file (default: the login name)")
    add_now_option(p, "judge as of this ISO 8601 time (default: the current time)")
    add_json_option(p, "print the plan or the run record as JSON")
    add_aws_options(p)
    p.set_defaults(func=cmd_remediate)
    return p


def _plan(args: argparse.Namespace, now: datetime) -> tuple[Any, Any]:
    from iamflow.compliance.config import ComplianceConfig
    from iamflow.remediation.config import load_rules
    from iamflow.remediation.live import build_plan

    config = ComplianceConfig.load(args.config)
    rules = load_rules(args.remediation_config, config)
    clients = build_clients(args, default_region="us-east-1")  # build_plan reads in check mode
    return build_plan(clients, rules, config, now, args.report_dir), rules


def _print_plan(plan: Any) -> None:
    print(f"remediation plan for account {plan.account_id} (findings: {plan.source})")
    if not plan.actions:
        print("nothing to remediate")
    else:
        print(plan.diff())
        print(f"{len(plan.actions)} proposal(s); plan {plan.hash}")
    for s in plan.skipped:
        print(f"  left alone: user {s.user}, {s.credential}: {s.reason}")


def cmd_remediate(args: argparse.Namespace) -> int:
    """Run ``--plan``, ``--apply`` or ``--rollback``."""
    now = parse_time(args.now) or datetime.now(UTC)
    if args.rollback:
        return _rollback(args, now)
    plan, rules = _plan(args, now)
    if args.plan:
        if args.json:
            print(json.dumps(plan.to_dict(), indent=2, sort_keys=True))
        else:
            _print_plan(plan)
        return EXIT_CHANGES if plan.actions else EXIT_OK
    return _apply(args, plan, rules, now)


def _apply(args: argparse.Namespace, plan: Any, rules: Any, now: datetime) -> int:
    from iamflow.approvals import APPROVE, Decision, record
    from iamflow.remediation import WORKFLOW
    from iamflow.remediation.run import apply_plan, failed_results, format_results, new_run_id

    run_id = new_run_id(now)
    by = args.by or getpass.getuser()
    decision = record(Decision(WORKFLOW, run_id, APPROVE, by, plan.hash, at=datetime.now(UTC).isoformat(),
                               triggered_by=by, reason="iamflow remediate --apply: the operator's explicit act",
                               via="cli"), _audit_path(args))
    clients = build_clients(args, default_region="us-east-1")
    result = apply_plan(clients, plan, run_id=run_id, delete_after_days=rules.delete_after_days, now=now,
                        approval=decision, out_dir=args.report_dir)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, sort_keys=True))
    else:
        print(format_results(result))
    print(f"remediation run {run_id}")
    failed = failed_results(result)
    if failed:
        print(f"error: {len(failed)} action(s) failed", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


def _audit_path(args: argparse.Namespace) -> Any:
    from iamflow.settings import audit_file

    return audit_file(args.report_dir)


def _rollback(args: argparse.Namespace, now: datetime) -> int:
    from iamflow.remediation.run import rollback

    clients = build_clients(args, default_region="us-east-1")
    result = rollback(clients, args.rollback, now=now, out_dir=args.report_dir)
    last = result.rollbacks[-1]["results"]
    if args.json:
        print(json.dumps(result.rollbacks[-1], indent=2, sort_keys=True))
    else:
        for r in last:
            print(f"{r['outcome']:>8}  user {r['user']}: access key {r['access_key_id']}: {r['detail']}")
        print(f"remediation run {args.rollback} rolled back: {sum(r['outcome'] == 'done' for r in last)} key(s) "
              "reactivated")
    return EXIT_OK


__all__ = ["add_remediate_parser", "cmd_remediate"]
