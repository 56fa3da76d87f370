"""What IAM users and groups share: attached and inline policies, their plans, and their ``expect:`` proofs.

The calls differ only by entity (``attach_user_policy`` / ``attach_group_policy``, ``UserName`` /
``GroupName``); the rules are the role's: detach before attach (10 attached policies at most),
delete inline documents before putting (one size quota for all of them), and compare documents
semantically so that an equivalent one makes no write.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from iamflow.aws.errors import not_found, paginate
from iamflow.policy.document import policies_equal
from iamflow.resources._common import (
    current_document,
    desired_document,
    last_segment,
    render_for_api,
    view_document,
)
from iamflow.resources.base import Change, Plan, PlanEnv

if TYPE_CHECKING:
    from iamflow.aws.clients import AwsClients
    from iamflow.resources.expectations import PrincipalPolicies
    from iamflow.spec.expect import Expectations

POLICY_KINDS = ("iam_managed_policy",)


class Entity:
    """``user`` or ``group``: the names of its calls and its id parameter."""

    def __init__(self, kind: str, name: str) -> None:
        self.kind = kind
        self.name = name
        self.param = {"user": "UserName", "group": "GroupName"}[kind]
        self.label = f"{kind} {name}"

    @property
    def ids(self) -> dict[str, str]:
        return {self.param: self.name}

    def op(self, template: str) -> str:
        """``attach_{}_policy`` → ``attach_user_policy``."""
        return template.format(self.kind)


def read_policies(clients: AwsClients, who: Entity, *, documents: bool) -> tuple[list[str], list[str],
                                                                               dict[str, Any] | None]:
    """(attached ARNs, inline names, inline documents when ``documents``), read calls only."""
    iam = clients.client("iam")
    attached = [p["PolicyArn"] for p in paginate(iam, who.op("list_attached_{}_policies"), "AttachedPolicies",
                                                 **who.ids)]
    names = list(paginate(iam, who.op("list_{}_policies"), "PolicyNames", **who.ids))
    inline: dict[str, Any] | None = None
    if documents:
        inline = {}
        for policy_name in names:
            got = not_found(iam, who.op("get_{}_policy"), **who.ids, PolicyName=policy_name)
            if got is not None:  # deleted between the list and the get: not there any more
                inline[policy_name] = current_document(got["PolicyDocument"])
    return attached, names, inline


def desired_inline(inline: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    return {n: desired_document(d) for n, d in (inline or {}).items()}


def plan_policies(plan: Plan, who: Entity, after: dict[str, Any], *, managed: list[str] | None, purge: bool,
                  inline: dict[str, dict[str, Any]] | None, have_managed: list[str], have_names: list[str],
                  have_docs: dict[str, Any] | None) -> None:
    """Attach/detach and put/delete calls from what is there to what is declared (None: unmanaged)."""
    if managed is not None:
        detach = [a for a in have_managed if a not in managed] if purge else []
        attach = [a for a in managed if a not in have_managed]
        plan.changes += [_policy_change(who, "detach", a) for a in detach]
        plan.changes += [_policy_change(who, "attach", a) for a in attach]
        after["managed_policies"] = sorted({*(a for a in have_managed if a not in detach), *attach})
    if inline is not None:
        docs = have_docs or {}
        plan.changes += [delete_inline(who, n) for n in have_names if n not in inline]
        kept: dict[str, Any] = {}
        for policy_name, doc in inline.items():
            if policy_name in docs and policies_equal(docs[policy_name], doc):
                kept[policy_name] = view_document(docs[policy_name])  # the stored form: no diff
            else:
                plan.changes.append(Change("iam", who.op("put_{}_policy"),
                                           {**who.ids, "PolicyName": policy_name, "PolicyDocument": render_for_api(doc)},
                                           f"put inline policy {policy_name} on {who.label}"))
                kept[policy_name] = view_document(doc)
        after["inline_policies"] = dict(sorted(kept.items()))


def _policy_change(who: Entity, verb: str, arn: str) -> Change:
    word = "to" if verb == "attach" else "from"
    return Change("iam", who.op(verb + "_{}_policy"), {**who.ids, "PolicyArn": arn},
                  f"{verb} policy {last_segment(arn)} {word} {who.label}")


def detach(who: Entity, arn: str) -> Change:
    return _policy_change(who, "detach", arn)


def delete_inline(who: Entity, policy_name: str) -> Change:
    return Change("iam", who.op("delete_{}_policy"), {**who.ids, "PolicyName": policy_name},
                  f"delete inline policy {policy_name} from {who.label}")


def inline_view(names: list[str], docs: dict[str, Any] | None) -> dict[str, Any]:
    """Inline policies for the diff (documents that were not read show as null)."""
    return {n: view_document((docs or {}).get(n)) for n in sorted(names)}


# --- expect: ------------------------------------------------------------------------------------


def declared_documents(env: PlanEnv) -> dict[str, dict[str, Any]]:
    """ARN -> document of every managed policy the playbook declares present."""
    out: dict[str, dict[str, Any]] = {}
    for r in env.playbook.resources:
        doc = getattr(r, "document", None)
        if r.kind == "iam_managed_policy" and r.state == "present" and isinstance(doc, dict):
            out[r.arn(env.ctx)] = desired_document(doc)
    return out


def build_principal(arn: str, account: str, label: str, *, inline: dict[str, Any], managed: list[str],
                    boundary: str | None, tags: dict[str, str], documents: dict[str, dict[str, Any] | None],
                    extra: tuple[Any, ...] = ()) -> PrincipalPolicies:
    """The evaluator's view of a user or group: its identity policies (plus ``extra``: its groups'), boundary."""
    from iamflow.policy.evaluate import Policy
    from iamflow.resources.expectations import PrincipalPolicies

    identity: list[Policy] = [Policy(f"inline policy {n} of {label}", d) for n, d in sorted(inline.items())]
    unknown: list[str] = []
    for policy_arn in managed:
        doc = documents.get(policy_arn)
        if doc is None:
            unknown.append(policy_arn)
        else:
            identity.append(Policy(policy_arn, doc))
    limit = None
    if boundary:
        doc = documents.get(boundary)
        if doc is None:
            unknown.append(boundary)
        limit = Policy(f"permissions boundary {boundary}", doc or {"Statement": []})
    return PrincipalPolicies(arn=arn, account=account, identity=(*identity, *extra), boundary=limit, trust=None,
                             tags=tags, unknown=tuple(unknown))


def prove(plan: Plan, expect: Expectations, who: PrincipalPolicies, label: str) -> None:
    """Answer every ``expect:`` entry for ``who``; note each and block the plan when one fails."""
    from iamflow.resources.expectations import check_expectations, record

    if who.unknown:
        plan.notes.append("expect: these policies could not be read, so they count as granting nothing: "
                          + ", ".join(who.unknown))
    record(plan, check_expectations(expect, who), label)


def read_documents(clients: AwsClients, arns: list[str]) -> dict[str, dict[str, Any] | None]:
    """The default-version documents of managed policies (cached for the run)."""
    from iamflow.resources.iam_role import read_managed_document

    return {arn: read_managed_document(clients, arn) for arn in arns}
