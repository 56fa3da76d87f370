"""``iamflow policy``: print the least-privilege IAM policy of iamflow's own auditor or provisioner role."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from iamflow.cli.common import EXIT_ERROR, EXIT_OK, add_var_option, expand_paths

# the bootstrap playbook creates iamflow's own roles with an administrator's credentials; granting
# the provisioner what it needs to apply that playbook would let it rewrite its own permissions
BOOTSTRAP_PLAYBOOK = "iamflow-bootstrap"


def default_playbook_paths() -> list[Path]:
    """The shipped playbooks, without the bootstrap playbook."""
    from iamflow.spec.loader import discover_playbooks

    return [p for p in discover_playbooks() if p.stem != BOOTSTRAP_PLAYBOOK]


def load_playbooks(paths: list[str] | None) -> list[Any] | None:
    """Load and validate playbooks (files or folders); print problems and return None on any error."""
    from iamflow.spec.loader import lint_paths

    files = expand_paths(paths) if paths else default_playbook_paths()
    results = lint_paths(files)
    errors = [str(e) for r in results for e in r.errors]
    if errors or any(r.playbook is None for r in results):
        for e in errors:
            print(e, file=sys.stderr)
        print("error: the playbooks do not validate; no policy was generated", file=sys.stderr)
        return None
    return [r.playbook for r in results]


def cmd_policy(args: argparse.Namespace) -> int:
    from iamflow.context import RunContext
    from iamflow.permissions import PLACEHOLDERS, policy_for, render

    playbooks = load_playbooks(args.playbooks)
    if playbooks is None:
        return EXIT_ERROR
    ctx = RunContext(
        account_id=args.account or PLACEHOLDERS.account_id,
        partition=args.partition or PLACEHOLDERS.partition,
        region=args.region or PLACEHOLDERS.region,
    )
    # the auditor reads everything the drift check compares; without playbooks named, every kind
    scoped = playbooks if args.playbooks else None
    doc = policy_for(args.role, scoped if args.role == "auditor" else playbooks, ctx)
    sys.stdout.write(render(doc))
    return EXIT_OK


def add_policy_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``iamflow policy`` on the CLI's subparsers."""
    p = subparsers.add_parser(
        "policy",
        help="print the least-privilege IAM policy (JSON) of iamflow's auditor, provisioner or remediator role",
        description="Generate the minimal IAM policy iamflow's own role needs, from the permissions each "
        "resource kind and each compliance check declares. ARNs keep ${partition}, ${account_id} "
        "and ${region} unless given.",
    )
    p.add_argument("--for", dest="role", required=True, choices=("auditor", "provisioner", "remediator"),
                   help="auditor: the sweep (read-only); provisioner: apply of the playbooks; remediator: "
                   "credential remediation (iamflow remediate, the remediate_credentials DAG)")
    p.add_argument("playbooks", nargs="*",
                   help="playbook files or folders (default: the shipped playbooks, without iamflow-bootstrap)")
    p.add_argument("--account", help="account id to write into ARNs (default: ${account_id})")
    p.add_argument("--partition", help="partition to write into ARNs (default: ${partition})")
    p.add_argument("--region", help="region to write into ARNs (default: ${region})")
    add_var_option(p)
    p.set_defaults(func=cmd_policy)
    return p
