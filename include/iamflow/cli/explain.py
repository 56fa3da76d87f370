"""``iamflow explain``: would this principal be allowed this action on this resource, and which statement decides?

Two sources of policies:

- with playbooks, their declared state, offline (no AWS call): the role's inline and managed
  policies, its boundary and trust, as the playbooks declare them; the account, partition and
  region are taken from ``--resource`` when it is an ARN (``--account`` etc. override);
- without playbooks, the live account: one ``GetAccountAuthorizationDetails`` snapshot (users,
  groups, roles, managed policies), plus the resource policy the request needs (a KMS key policy,
  a secret's resource policy, a role's trust policy).

``--cloudtrail-event FILE`` reads the principal, action, resource and context from a CloudTrail
record (an AccessDenied one, typically). Exit codes: 0 allowed, 3 denied, 1 error.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iamflow.cli.common import (
    EXIT_ERROR,
    EXIT_OK,
    add_aws_options,
    add_var_option,
    build_clients,
    validate_playbooks,
)
from iamflow.errors import IamflowError

if TYPE_CHECKING:
    from iamflow.policy.evaluate import Evaluation, PolicySet, Request

EXIT_DENIED = 3


@dataclass
class Question:
    """What to evaluate: who, what, on what, with which request context."""

    principal: str
    action: str
    resource: str
    context: dict[str, tuple[str, ...]] = field(default_factory=dict)


# --- the command ---------------------------------------------------------------------------------


def cmd_explain(args: argparse.Namespace) -> int:
    try:
        question = _question(args)
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    try:
        if args.playbooks:
            playbooks = validate_playbooks(args.playbooks, quiet=True)
            if playbooks is None:
                return EXIT_ERROR
            request, policies, notes = offline_request(playbooks, question, args)
        else:
            request, policies, notes = live_request(build_clients(args, check_mode=True), question)
    except IamflowError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    from iamflow.policy.evaluate import evaluate

    evaluation = evaluate(request, policies)
    if args.json:
        print(json.dumps({**evaluation.to_json(), "notes": notes}, indent=2, default=str))
    else:
        print(format_evaluation(question, evaluation, notes))
    return EXIT_OK if evaluation.allowed else EXIT_DENIED


def format_evaluation(question: Question, evaluation: Evaluation, notes: list[str]) -> str:
    """The answer for a human: the decision, what decided it, what the request lacked, every layer."""
    lines = [f"{evaluation.decision.upper().replace('_', ' ')}: {question.principal} {question.action} on "
             f"{question.resource}", f"  {evaluation.summary}"]
    for st in evaluation.deciding:
        lines.append(f"  deciding: {st.layer}: {st.policy} {st.statement} ({st.effect}): {st.reason}")
    if evaluation.missing_context:
        lines.append("  the request lacks: " + ", ".join(evaluation.missing_context)
                     + " (pass them with --context KEY=VALUE)")
    lines.append("  layers:")
    lines += [f"    {layer.layer}: {layer.verdict}: {layer.reason}" for layer in evaluation.layers]
    others = [st for st in evaluation.statements if st not in evaluation.deciding]
    if others:
        lines.append("  other statements:")
        lines += [f"    {st.layer}: {st.policy} {st.statement} ({st.effect}): "
                  f"{'matched' if st.matched else 'no match'}: {st.reason}" for st in others]
    lines += [f"  note: {n}" for n in notes]
    return "\n".join(lines)


# --- the question --------------------------------------------------------------------------------


def _question(args: argparse.Namespace) -> Question:
    if args.cloudtrail_event:
        question = question_from_cloudtrail(json.loads(Path(args.cloudtrail_event).read_text()))
    else:
        missing = [flag for flag, value in (("--principal", args.principal), ("--action", args.action),
                                            ("--resource", args.resource)) if not value]
        if missing:
            raise ValueError(f"{', '.join(missing)} required (or --cloudtrail-event FILE)")
        question = Question(args.principal, args.action, args.resource)
    for item in args.context or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--context {item!r}: write KEY=VALUE (repeat a key for several values)")
        question.context[key] = (*question.context.get(key, ()), value)
    return question


def question_from_cloudtrail(record: dict[str, Any]) -> Question:
    """The principal, action, resource and context of one CloudTrail record.

    A file holding ``{"Records": [...]}`` is read too (the first AccessDenied record, else the
    first). An assumed-role session is answered for its role.
    """
    if "Records" in record:
        records = record["Records"] or []
        if not records:
            raise ValueError("the CloudTrail file holds no record")
        record = next((r for r in records if "AccessDenied" in str(r.get("errorCode", ""))), records[0])
    identity = record.get("userIdentity") or {}
    issuer = ((identity.get("sessionContext") or {}).get("sessionIssuer") or {})
    principal = issuer.get("arn") if identity.get("type") == "AssumedRole" and issuer.get("arn") else identity.get("arn")
    source, name = record.get("eventSource", ""), record.get("eventName", "")
    if not principal or not source or not name:
        raise ValueError("the CloudTrail record has no userIdentity.arn, eventSource or eventName")
    action = f"{source.split('.', 1)[0]}:{name}"
    resource = _cloudtrail_resource(record)
    context: dict[str, tuple[str, ...]] = {}
    for key, value in (("aws:SourceIp", record.get("sourceIPAddress")), ("aws:UserAgent", record.get("userAgent")),
                       ("aws:RequestedRegion", record.get("awsRegion")), ("aws:PrincipalArn", principal)):
        if isinstance(value, str) and value and not value.endswith(".amazonaws.com"):
            context[key] = (value,)
    mfa = ((identity.get("sessionContext") or {}).get("attributes") or {}).get("mfaAuthenticated")
    if mfa is not None:
        context["aws:MultiFactorAuthPresent"] = (str(mfa).lower(),)
    tls = (record.get("tlsDetails") or {}).get("tlsVersion")
    if tls:
        context["aws:SecureTransport"] = ("true",)
    return Question(principal, action, resource, context)


def _cloudtrail_resource(record: dict[str, Any]) -> str:
    message = str(record.get("errorMessage") or "")
    marker = "on resource: "
    if marker in message:
        return message.split(marker, 1)[1].split()[0].rstrip(".,;")
    for r in record.get("resources") or []:
        if isinstance(r, dict) and str(r.get("ARN", "")).startswith("arn:"):
            return str(r["ARN"])
    return "*"


# --- offline: the playbooks' declared state -------------------------------------------------------


def offline_request(playbooks: list[Any], question: Question,
                    args: argparse.Namespace) -> tuple[Request, PolicySet, list[str]]:
    """The request and the policies the playbooks declare for its principal, with no AWS call."""
    from iamflow.context import RunContext
    from iamflow.engine import plan_env
    from iamflow.policy.evaluate import PolicySet, Principal, Request
    from iamflow.resources.iam_role import declared_principal
    from iamflow.spec.models import IamRole

    partition, region, account = _arn_parts(question.resource)
    ctx = RunContext(account_id=args.account or account or "123456789012",
                     partition=args.partition or partition or "aws", region=args.region or region or "us-east-1")
    found = _find_role(playbooks, question.principal, ctx)
    if found is None:
        raise IamflowError(f"no iam_role {question.principal!r} in the playbooks given (name it, or give its ARN)")
    playbook, role = found
    env = plan_env(ctx, playbook)
    filled = env.playbook.by_key()[role.key]
    assert isinstance(filled, IamRole)
    who = declared_principal(filled, env)
    notes = [f"read offline from {playbook.source}; account {ctx.account_id}, partition {ctx.partition}, "
             f"region {ctx.region}"]
    if who.unknown:
        notes.append("not in the playbooks, so counted as granting nothing (run without playbooks to read them "
                     "from AWS): " + ", ".join(who.unknown))
    policies = PolicySet(identity=who.identity, boundary=who.boundary)
    if question.action.lower().startswith("sts:assumerole") and question.resource == who.arn:
        policies = PolicySet(identity=who.identity, boundary=who.boundary, resource=who.trust,
                             resource_account=ctx.account_id, resource_kind="role-trust")
    return Request(Principal(who.arn, dict(who.tags)), question.action, question.resource,
                   dict(question.context)), policies, notes


def _find_role(playbooks: list[Any], principal: str, ctx: Any) -> tuple[Any, Any] | None:
    for playbook in playbooks:
        for r in playbook.resources:
            if r.kind == "iam_role" and r.state == "present" and principal in (r.name, r.arn(ctx)):
                return playbook, r
    return None


def _arn_parts(value: str) -> tuple[str | None, str | None, str | None]:
    parts = value.split(":")
    if len(parts) < 6 or parts[0] != "arn":
        return None, None, None
    return parts[1] or None, parts[3] or None, parts[4] if parts[4].isdigit() else None


# --- live: the account -----------------------------------------------------------------------------


def live_request(clients: Any, question: Question) -> tuple[Request, PolicySet, list[str]]:
    """The request and the principal's live policies: one authorization-details snapshot, one resource policy."""
    from iamflow.compliance.access import live_policy_set

    return live_policy_set(clients, question.principal, question.action, question.resource, question.context)


def add_explain_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``iamflow explain`` on the CLI's subparsers."""
    p = subparsers.add_parser(
        "explain",
        help="would a principal be allowed an action on a resource, and which statement decides (offline evaluator)",
        description="Evaluate one request with iamflow's offline IAM evaluator: explicit deny first, then "
        "identity policies, boundary and resource policy, with AWS's cross-account rule. With playbooks, "
        "their declared state (no AWS call); without, the live account. Exit 0 allowed, 3 denied, 1 error.",
    )
    p.add_argument("playbooks", nargs="*", help="playbook files or folders (default: read the live account)")
    p.add_argument("--principal", help="a role's name in the playbooks, or a role or user ARN")
    p.add_argument("--action", help="one action, e.g. s3:GetObject")
    p.add_argument("--resource", help="the resource's ARN (or * for an action without resources)")
    p.add_argument("--context", action="append", metavar="KEY=VALUE",
                   help="a condition key of the request (repeat a key for a multi-valued one)")
    p.add_argument("--cloudtrail-event", metavar="FILE",
                   help="take principal, action, resource and context from a CloudTrail record")
    p.add_argument("--json", action="store_true",
                   help='print {"decision", "deciding", "missing_context", "trace"} as JSON')
    p.add_argument("--account", help="offline: the account id of the declared ARNs (default: from --resource)")
    p.add_argument("--partition", help="offline: the partition (default: from --resource, else aws)")
    add_aws_options(p, region_help="AWS region (offline: the region of the declared ARNs; default from --resource)")
    add_var_option(p)
    p.set_defaults(func=cmd_explain)
    return p
