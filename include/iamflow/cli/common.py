"""What every ``iamflow`` command shares: exit codes, options, AWS clients, times and playbook loading."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from iamflow.aws.clients import AwsClients

# 0 done / nothing pending, 1 error, 2 changes pending (``plan``) or a FAIL/ERROR finding (``sweep``)
EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2
EXIT_FINDINGS = EXIT_CHANGES

DEFAULT_REGION_HELP = "AWS region (default: from the environment or profile)"


# --- options -------------------------------------------------------------------------------------


def add_aws_options(parser: argparse.ArgumentParser, *, region_help: str = DEFAULT_REGION_HELP,
                    workers: int | None = None, workers_help: str = "") -> None:
    """Add ``--profile``, ``--region``, ``--aws-conn-id`` (and ``--workers`` when given a default).

    :param region_help: what ``--region`` means for this command.
    :param workers: the default of ``--workers``; no such option when None.
    :param workers_help: what ``--workers`` runs in parallel.
    """
    parser.add_argument("--profile", help="AWS profile (default: the standard credential chain)")
    parser.add_argument("--region", help=region_help)
    parser.add_argument("--aws-conn-id", help="use this Airflow connection instead of the boto3 chain")
    if workers is not None:
        parser.add_argument("--workers", type=int, default=workers, help=workers_help)


def _var(text: str) -> tuple[str, str]:
    from iamflow.spec.variables import parse_var

    try:
        return parse_var(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def add_var_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--var name=value`` (repeatable): it overrides the playbooks' ``vars:``."""
    parser.add_argument("--var", dest="vars", action="append", type=_var, default=[], metavar="NAME=VALUE",
                        help="set a playbook variable, overriding the playbooks' vars: (repeatable)")


def apply_var_option(args: argparse.Namespace) -> None:
    """Make the command's ``--var`` values override every playbook it loads (the last one of a name wins)."""
    from iamflow.spec.variables import set_command_line_vars

    set_command_line_vars(dict(getattr(args, "vars", None) or []))


def add_now_option(parser: argparse.ArgumentParser, help: str) -> None:
    """Add ``--now``, an ISO 8601 time read by :func:`parse_time`."""
    parser.add_argument("--now", help=help)


def add_json_option(parser: argparse.ArgumentParser, help: str) -> None:
    """Add ``--json``: machine-readable output instead of text."""
    parser.add_argument("--json", action="store_true", help=help)


# --- AWS clients ---------------------------------------------------------------------------------


def read_airflow_connection(conn_id: str, field: str) -> str | None:
    """The CLI's connection lookup: Airflow's, loaded only when a connection is actually read."""
    from iamflow.aws.hooks import airflow_connection_field

    return airflow_connection_field(conn_id, field)


def use_airflow_connections() -> None:
    """Let the CLI read Airflow connections (an ExternalId in ``targets.yaml``'s ``airflow_connection``)."""
    from iamflow.connections import connection_lookup, set_connection_lookup

    if connection_lookup() is None:
        set_connection_lookup(read_airflow_connection)


def clients_from_connection(aws_conn_id: str, region: str | None, check_mode: bool) -> AwsClients:
    """Build clients from an Airflow connection (its endpoints, assume-role and retries apply).

    Importing the hooks loads the Amazon provider (over a second), so only ``--aws-conn-id`` pays it.
    """
    from iamflow.aws.hooks import clients_from_connection as from_connection

    use_airflow_connections()
    return from_connection(aws_conn_id, region=region, check_mode=check_mode)


def build_clients(args: argparse.Namespace, *, check_mode: bool = False,
                  default_region: str | None = None) -> AwsClients:
    """Build the AWS clients of a command: ``--aws-conn-id``, else the boto3 chain (``--profile``).

    :param check_mode: refuse every non-read call.
    :param default_region: the region when neither ``--region`` nor the session names one.
    """
    if getattr(args, "aws_conn_id", None):
        return clients_from_connection(args.aws_conn_id, args.region, check_mode)
    import boto3

    from iamflow.aws.clients import AwsClients

    session = boto3.Session(profile_name=args.profile, region_name=args.region)
    region = args.region
    if not region and default_region:
        region = session.region_name or default_region
    return AwsClients.from_boto3(session, region=region, check_mode=check_mode)


# --- times ---------------------------------------------------------------------------------------


def parse_time(value: str | None) -> datetime | None:
    """Parse an ISO 8601 time (``Z`` allowed; a naive time is UTC); None when not given."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# --- playbooks -----------------------------------------------------------------------------------


def expand_paths(paths: Sequence[str]) -> list[Path]:
    """Files as given, folders as the playbooks found below them."""
    from iamflow.spec.loader import discover_playbooks

    out: list[Path] = []
    for p in paths:
        path = Path(p)
        out.extend(discover_playbooks(path) if path.is_dir() else [path])
    return out


def validate_playbooks(paths: Sequence[str], *, quiet: bool = False) -> list[Any] | None:
    """Lint every file; print every problem; return the loaded playbooks or None on any error."""
    from iamflow.spec.loader import lint_paths

    files = expand_paths(paths or [])
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
