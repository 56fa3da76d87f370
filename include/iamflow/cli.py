"""The ``iamflow`` command: the same engine the DAGs use, for a terminal or a user's own CI.

Exit codes follow ``terraform plan -detailed-exitcode``: 0 nothing to do (or success), 1 error,
2 changes pending (``plan`` only).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2


def _expand(paths: Sequence[str]) -> list[Path]:
    from iamflow.spec.loader import discover_playbooks

    out: list[Path] = []
    for p in paths:
        path = Path(p)
        out.extend(discover_playbooks(path) if path.is_dir() else [path])
    return out


def _validate(paths: Sequence[str], *, quiet: bool = False):
    """Lint every file; print every problem; return the loaded playbooks or None on any error."""
    from iamflow.spec.loader import lint_paths

    files = _expand(paths or [])
    if not files:
        print("error: no playbook files given (or none found in the given folders)", file=sys.stderr)
        return None
    results = lint_paths(files)
    failed = False
    for r in results:
        for problem in r.problems:
            print(str(problem), file=sys.stderr)
        if r.errors or r.playbook is None:
            failed = True
        elif not quiet:
            print(f"ok: {r.path} ({len(r.playbook.resources)} resources)")
    if failed:
        count = sum(len(r.errors) for r in results)
        print(f"{count} error(s); nothing was sent to AWS", file=sys.stderr)
        return None
    return [r.playbook for r in results]


def _clients(args: argparse.Namespace, *, check_mode: bool):
    from iamflow.aws.clients import AwsClients

    if getattr(args, "aws_conn_id", None):
        from iamflow.aws.hooks import clients_from_connection

        return clients_from_connection(args.aws_conn_id, region=args.region, check_mode=check_mode)
    import boto3

    session = boto3.Session(profile_name=args.profile, region_name=args.region)
    return AwsClients.from_boto3(session, region=args.region, check_mode=check_mode)


def cmd_lint(args: argparse.Namespace) -> int:
    return EXIT_OK if _validate(args.playbooks) is not None else EXIT_ERROR


def _converge(args: argparse.Namespace, *, check_mode: bool) -> int:
    playbooks = _validate(args.playbooks, quiet=True)
    if playbooks is None:
        return EXIT_ERROR
    from iamflow.engine import format_recap, format_result, run_playbook

    clients = _clients(args, check_mode=check_mode)
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


def cmd_local_aws(args: argparse.Namespace) -> int:
    from iamflow.aws.local import serve
    from iamflow.errors import IamflowError

    seed = None
    if args.seed_demo:
        from iamflow.demo_seed import seed as seed_fn

        seed = seed_fn
    try:
        return serve(port=args.port, host=args.host, seed=seed)
    except IamflowError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="iamflow", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def aws_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--profile", help="AWS profile (default: the standard credential chain)")
        p.add_argument("--region", help="AWS region (default: from the environment or profile)")
        p.add_argument("--aws-conn-id", help="use this Airflow connection instead of the boto3 chain")
        p.add_argument("--workers", type=int, default=4, help="resources converged in parallel per level")

    p = sub.add_parser("lint", help="validate playbooks: schema, references, policy lint (no AWS call)")
    p.add_argument("playbooks", nargs="+", help="playbook files or folders")
    p.set_defaults(func=cmd_lint)

    p = sub.add_parser("plan", help="show what apply would change (check mode: no write call)")
    p.add_argument("playbooks", nargs="+")
    p.add_argument("--no-diff", dest="diff", action="store_false", help="do not print diffs")
    p.add_argument("--no-detailed-exitcode", dest="detailed_exitcode", action="store_false",
                   help="exit 0 even when changes are pending")
    aws_options(p)
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("apply", help="converge AWS to the playbooks")
    p.add_argument("playbooks", nargs="+")
    p.add_argument("--check", action="store_true", help="check mode: plan only, every write call refused")
    p.add_argument("--diff", action="store_true", help="print diffs")
    p.set_defaults(detailed_exitcode=False)
    aws_options(p)
    p.set_defaults(func=cmd_apply)

    p = sub.add_parser("local-aws", help="run the embedded AWS (moto server) on 127.0.0.1")
    p.add_argument("--port", type=int, default=5000)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--seed-demo", action="store_true", help="seed the demo account state")
    p.set_defaults(func=cmd_local_aws)
    from iamflow.compliance.cli import add_sweep_parser

    add_sweep_parser(sub)
    from iamflow.secrets.cli import add_verify_parser

    add_verify_parser(sub)
    from iamflow.policy_cli import add_policy_parser

    add_policy_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
