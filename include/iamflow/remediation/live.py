"""Build a remediation plan from the latest sweep and the account's live credentials (reads only).

1. **Findings**: ``<report folder>/latest/findings.json``, the sweep's contract file. When there is
   none, the credential checks are collected and evaluated here first (the sweep's own collection
   and checks, in memory: no partial report is written over ``latest/``).
2. **Candidates**: the users of this account with a ``FAIL`` finding of
   ``iam_user_accesskey_unused`` or ``iam_user_console_access_unused``, plus the users whose keys
   earlier remediation runs deactivated (the sweep does not judge inactive keys, and those are
   the ones a later run deletes). ``MUTED`` findings mark credentials remediation leaves alone.
   The root user is never a candidate (IAM cannot change root's credentials).
3. **Live state**, per candidate: ``ListAccessKeys``, ``GetAccessKeyLastUsed`` per key,
   ``ListUserTags``, ``GetLoginProfile`` and ``GetUser`` (``PasswordLastUsed``). The findings only
   say where to look; every rule is judged again on what IAM says now, so a stale report never
   deactivates a key used since.
4. **Rules**: :func:`iamflow.remediation.plan.propose`.

Users that a playbook declares (``kind: iam_user``) are found by reading every playbook's
``resources`` under the loader's limits, without validating them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iamflow.compliance.findings import ERROR, FAIL, MUTED, Finding
from iamflow.compliance.report import FINDINGS_JSON, LATEST
from iamflow.errors import IamflowError
from iamflow.remediation.plan import KeyState, Plan, Rules, Scope, UserCredentials, propose
from iamflow.settings import playbooks_dir, remediation_dir, report_dir

if TYPE_CHECKING:
    from iamflow.aws.clients import AwsClients
    from iamflow.compliance.config import ComplianceConfig

log = logging.getLogger(__name__)

KEY_CHECK = "iam_user_accesskey_unused"
PASSWORD_CHECK = "iam_user_console_access_unused"
CHECKS = (KEY_CHECK, PASSWORD_CHECK)
READ_ACTIONS = ("iam:ListAccessKeys", "iam:GetAccessKeyLastUsed", "iam:ListUserTags", "iam:GetLoginProfile",
                "iam:GetUser")


class PlanError(IamflowError):
    """The remediation cannot be planned (the findings could not judge the credentials)."""


@dataclass(frozen=True)
class Sources:
    """Where the plan looked: the findings used and the users to read."""

    findings: list[Finding]
    origin: str


def latest_findings(out_dir: str | Path | None = None) -> list[Finding] | None:
    """The latest sweep's findings, or None when no sweep has written ``latest/findings.json``."""
    file = report_dir(out_dir) / LATEST / FINDINGS_JSON
    if not file.exists():
        return None
    data = json.loads(file.read_bytes())
    if not isinstance(data, list):
        raise ValueError(f"{file}: expected a JSON list of findings")
    return [Finding.from_dict(item) for item in data]


def collect_findings(clients: AwsClients, config: ComplianceConfig, now: datetime) -> list[Finding]:
    """Collect and evaluate only the credential checks for the clients' account (nothing written)."""
    from iamflow.compliance.sweep import sweep_account

    only = replace(config, enabled=CHECKS, disabled=frozenset())
    return sweep_account(clients, None, only, None, now)


def find_sources(clients: AwsClients, config: ComplianceConfig, now: datetime,
                 out_dir: str | Path | None = None) -> Sources:
    """The latest sweep's findings, or the credential checks collected now when there are none."""
    findings = latest_findings(out_dir)
    if findings is not None:
        return Sources(findings, str(report_dir(out_dir) / LATEST / FINDINGS_JSON))
    log.info("No sweep report in %s: collecting the credential checks first", report_dir(out_dir))
    return Sources(collect_findings(clients, config, now), "collected now (no sweep report)")


def _is_user(f: Finding) -> bool:
    return ":user/" in f.resource_arn and bool(f.resource_id)


def scope_and_candidates(findings: Iterable[Finding], account_id: str,
                         earlier: Iterable[str] = ()) -> tuple[Scope, set[str]]:
    """The muted credentials and the users to read, from this account's findings."""
    users: set[str] = set(earlier)
    muted_keys: set[tuple[str, str]] = set()
    muted_key_users: set[str] = set()
    muted_passwords: set[str] = set()
    for f in findings:
        if f.account_id != account_id or f.check_id not in CHECKS or not _is_user(f):
            continue
        key_id = f.extra.get("access_key_id")
        if f.status == FAIL:
            users.add(f.resource_id)
        elif f.status == MUTED and f.check_id == KEY_CHECK:
            if key_id:
                muted_keys.add((f.resource_id, str(key_id)))
            else:
                muted_key_users.add(f.resource_id)
        elif f.status == MUTED:
            muted_passwords.add(f.resource_id)
    scope = Scope(frozenset(muted_keys), frozenset(muted_key_users), frozenset(muted_passwords),
                  declared_users(playbooks_dir()))
    return scope, users


def declared_users(root: Path) -> frozenset[str]:
    """Names of the ``iam_user`` resources the playbooks below ``root`` declare."""
    from iamflow.spec.source import SourceError, load_file

    names: set[str] = set()
    if not root.exists():
        return frozenset()
    for path in sorted(root.rglob("*.y*ml")):
        try:
            raw, _positions = load_file(path)
        except (SourceError, ValueError, OSError):
            continue  # a broken playbook is the lint's business; it declares nothing here
        resources = raw.get("resources") if isinstance(raw, dict) else None
        for res in resources if isinstance(resources, list) else []:
            if isinstance(res, dict) and res.get("kind") == "iam_user" and isinstance(res.get("name"), str):
                names.add(res["name"])
    return frozenset(names)


def earlier_deactivations(account_id: str, out_dir: str | Path | None = None) -> set[str]:
    """Users whose keys an earlier remediation run of this account deactivated (from the run records)."""
    root = remediation_dir(out_dir)
    users: set[str] = set()
    for file in sorted(root.glob("*/run.json")) if root.exists() else []:
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if data.get("account_id") != account_id:
            continue
        for r in data.get("results") or []:
            if r.get("action") == "deactivate_key" and r.get("outcome") in ("done", "already"):
                users.add(str(r.get("user")))
    return users


def _no_such_entity(exc: Exception) -> bool:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code")
    return code == "NoSuchEntity"


def read_user(iam: Any, user: str) -> UserCredentials | None:
    """One user's keys, tags and console password, or None when the user no longer exists.

    .. seealso:: ``ListAccessKeys``, ``GetAccessKeyLastUsed``, ``ListUserTags``, ``GetLoginProfile``, ``GetUser``
    """
    try:
        info = iam.get_user(UserName=user)["User"]
    except Exception as exc:
        if _no_such_entity(exc):
            return None
        raise
    keys = []
    for page in iam.get_paginator("list_access_keys").paginate(UserName=user):
        for meta in page["AccessKeyMetadata"]:
            used = iam.get_access_key_last_used(AccessKeyId=meta["AccessKeyId"]).get("AccessKeyLastUsed", {})
            keys.append(KeyState(meta["AccessKeyId"], meta["Status"], meta.get("CreateDate"), used.get("LastUsedDate")))
    tags: dict[str, str] = {}
    for page in iam.get_paginator("list_user_tags").paginate(UserName=user):
        tags.update({t["Key"]: t["Value"] for t in page["Tags"]})
    created = None
    try:
        created = iam.get_login_profile(UserName=user)["LoginProfile"].get("CreateDate")
        has_password = True
    except Exception as exc:
        if not _no_such_entity(exc):
            raise
        has_password = False
    return UserCredentials(user, info["Arn"], tuple(keys), tags, has_password, created, info.get("PasswordLastUsed"))


def unevaluated(findings: Iterable[Finding], account_id: str) -> list[Finding]:
    """This account's ERROR findings of the credential checks: what the plan cannot be sure of."""
    return [f for f in findings if f.account_id == account_id and f.check_id in CHECKS and f.status == ERROR]


def build_plan(clients: AwsClients, rules: Rules, config: ComplianceConfig, now: datetime,
               out_dir: str | Path | None = None) -> Plan:
    """The remediation plan for the clients' account.

    Every live read goes through check-mode clients (``clients.read_only()``). Collecting, when no
    sweep report exists, uses ``clients`` as the sweep does: ``GenerateCredentialReport`` is the
    one call it may make that is not a read, and it changes no resource. An ERROR finding of a
    credential check (a collection that failed) fails the plan: it never passes for "nothing to do".
    """
    account_id = clients.caller_context().account_id
    sources = find_sources(clients, config, now, out_dir)
    errors = unevaluated(sources.findings, account_id)
    if errors:
        raise PlanError(f"the findings ({sources.origin}) could not judge the credentials of {account_id}: "
                        f"{errors[0].message}")
    scope, users = scope_and_candidates(sources.findings, account_id, earlier_deactivations(account_id, out_dir))
    iam = clients.read_only().client("iam")
    states = [s for s in (read_user(iam, u) for u in sorted(users)) if s is not None]
    return propose(states, rules, now, account_id=account_id, scope=scope, source=sources.origin)


__all__ = ["CHECKS", "READ_ACTIONS", "PlanError", "unevaluated", "build_plan", "declared_users", "find_sources", "latest_findings", "read_user",
           "scope_and_candidates"]
