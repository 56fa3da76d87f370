"""``iamflow sweep``: the nightly compliance sweep outside Airflow (same code as the DAG's tasks).

Exit codes:

- 0: the reports were written and every target was resolved (whatever the findings say);
- 1: the targets could not be resolved (an ``organization`` filter that matches no account, a
  denied ``organizations:ListAccounts`` or ``sts:GetCallerIdentity``) or the configuration is
  invalid; a report holding one ERROR finding that names the cause is written whenever the report
  folder allows;
- 2: only with ``--detailed-exitcode``, when any finding is FAIL or ERROR.

No targets file, or one without ``accounts`` and ``organization``, sweeps the current account.
After the reports are written it prints the run's summary (:func:`iamflow.compliance.posture.format_summary`,
the same text as ``make run`` and the DAG's ``posture`` task): totals, FAILs per severity, and the
new, fixed, still failing and no longer evaluated findings since the previous run.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from iamflow.cli.common import (
    EXIT_ERROR,
    EXIT_FINDINGS,
    EXIT_OK,
    add_aws_options,
    add_now_option,
    add_var_option,
    build_clients,
    parse_time,
    use_airflow_connections,
)
from iamflow.errors import IamflowError


def add_sweep_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``sweep`` sub-command to the ``iamflow`` parser."""
    p = subparsers.add_parser("sweep", help="run the compliance sweep over one or more accounts and write reports")
    p.add_argument("--accounts", help="comma-separated account ids (default: every target of --targets)")
    p.add_argument("--targets", help="targets file (default: include/targets.yaml when present, else this account)")
    p.add_argument("--out", help="report folder (default: $IAMFLOW_REPORT_DIR, else ./reports)")
    add_now_option(p, "evaluate as of this ISO 8601 time (default: the current time)")
    p.add_argument("--config", help="compliance settings (default: include/compliance.yaml)")
    p.add_argument("--mutelist", help="Prowler-format mutelist (default: include/mutelist.yaml when present)")
    p.add_argument("--run-id", help="name of the run folder (default: the time, e.g. 20250102T030405Z)")
    p.add_argument("--role-name", help="role to assume in --accounts that the targets file does not list")
    p.add_argument("--external-id-env", help="environment variable holding the ExternalId (overrides the targets file)")
    add_aws_options(p, region_help="region of KMS, Secrets Manager and Cognito (default: the session's)",
                    workers=1, workers_help="accounts swept in parallel")
    p.add_argument("--detailed-exitcode", action="store_true", help="exit 2 when any finding is FAIL or ERROR")
    add_var_option(p)  # for the drift check, which loads the playbooks
    p.set_defaults(func=cmd_sweep)
    return p


def _write_failure_report(args: argparse.Namespace, now: datetime, check_id: str, reason: str, *,
                          account_id: str | None = None, partition: str = "aws") -> None:
    """Write the run's report with the one ERROR finding that says why nothing was swept, if it can be."""
    from iamflow.compliance.sweep import write_setup_failure

    try:
        paths = write_setup_failure(check_id, reason, args.out, now=now, account_id=account_id,
                                    partition=partition, run_id=args.run_id).paths
    except (OSError, ValueError) as exc:
        print(f"error: no report could be written either: {exc}", file=sys.stderr)
        return
    print(f"reports: {paths.run_dir} (one ERROR finding: {check_id})")


def cmd_sweep(args: argparse.Namespace) -> int:
    """Run the sweep and print where the reports are.

    Settings that do not load, or targets that cannot be resolved, exit 1 after writing a report
    whose one ERROR finding names the cause (when the report folder and run id allow one).
    """
    from iamflow.compliance.config import ComplianceConfig
    from iamflow.compliance.mutelist import Mutelist
    from iamflow.compliance.posture import format_summary, load_summary
    from iamflow.compliance.sweep import CONFIGURATION_CHECK_ID, TARGETS_CHECK_ID, run_sweep
    from iamflow.compliance.targets import (
        ExternalIdSource,
        TargetResolutionError,
        TargetsConfig,
        resolve_targets,
    )
    from iamflow.settings import mutelist_path

    use_airflow_connections()
    now = datetime.now(UTC)
    try:
        now = parse_time(args.now) or now
        config = ComplianceConfig.load(args.config)
        mutelist = Mutelist.load(mutelist_path(args.mutelist))
        targets_config = TargetsConfig.load(args.targets)
        if args.role_name:
            targets_config = TargetsConfig(targets_config.accounts, targets_config.organization, args.role_name,
                                           targets_config.external_id, targets_config.session_name, targets_config.source)
        source = ExternalIdSource(env=args.external_id_env) if args.external_id_env else targets_config.external_id
        external_id = source.resolve() if source else None
    except (IamflowError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        _write_failure_report(args, now, CONFIGURATION_CHECK_ID, str(exc))
        return EXIT_ERROR
    base = build_clients(args, default_region="us-east-1")
    only = [a.strip() for a in (args.accounts or "").split(",") if a.strip()]
    try:
        targets = resolve_targets(targets_config, base, only=only)
    except TargetResolutionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        _write_failure_report(args, now, TARGETS_CHECK_ID, str(exc), account_id=exc.account_id,
                              partition=exc.partition)
        return EXIT_ERROR
    print(f"sweeping {len(targets)} account(s): {', '.join(t.label for t in targets)}", flush=True)
    result = run_sweep(targets, args.out, base=base, config=config, mutelist=mutelist, now=now, run_id=args.run_id,
                       external_id=external_id, session_name=targets_config.session_name, region=args.region,
                       workers=args.workers)
    for r in result.results:
        counts: dict[str, int] = {}
        for f in r.findings:
            counts[f.status] = counts.get(f.status, 0) + 1
        calls = sum(r.calls.values())
        note = f" (unreachable: {r.error})" if r.error else ""
        print(f"  {r.target.label}: " + ", ".join(f"{counts.get(s, 0)} {s}" for s in ("FAIL", "ERROR", "MUTED", "PASS"))
              + f"; {calls} API calls{note}")
    for x in result.expired_suppressions:
        print(f"  expired suppression: {x['check']} in {x['account']} (owner {x.get('owner') or '?'}, "
              f"expired {x.get('expires')}), would mute {x.get('would_mute', 0)}")
    print(f"reports: {result.paths.run_dir}")
    for name, path in result.paths.files.items():
        print(f"  {name}: {path}")
    print(f"latest: {result.paths.latest_dir}")
    print(format_summary(load_summary(result.paths.run_dir)))
    bad = any(f.status in ("FAIL", "ERROR") for f in result.findings)
    return EXIT_FINDINGS if args.detailed_exitcode and bad else EXIT_OK
