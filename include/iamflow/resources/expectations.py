"""Prove a principal's ``expect:`` entries with the offline evaluator; pure, no AWS call.

The caller gathers the principal's policies (declared ones in a plan, live ones in a sweep) as a
:class:`PrincipalPolicies`; :func:`check_expectations` answers every entry and says, for each,
whether it holds and why (the deciding statement, or the statement that should have decided).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from iamflow.policy.evaluate import Evaluation, Policy, PolicySet, Principal, Request
from iamflow.spec.expect import ASSUME_ROLE, Expectation, Expectations

# A principal of another account (or one this playbook does not describe) needs its own account's
# permission to assume a role; iamflow cannot see that policy, so it is taken to allow, and the
# trust policy decides. The trace names it so.
_OWN_POLICIES_UNKNOWN = Policy(
    "the principal's own policies (not visible here: taken to allow)",
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
)


# how a plan note reports one entry: "expect: expect.denied[0] (...) holds: ..." (the recap counts them)
NOTE_PREFIX = "expect: "
HOLDS = "holds"


@dataclass(frozen=True)
class PrincipalPolicies:
    """Everything that decides what a role may do: its policies, boundary, trust and tags."""

    arn: str
    account: str
    identity: tuple[Policy, ...]
    boundary: Policy | None
    trust: Policy | None
    tags: Mapping[str, str] = field(default_factory=dict)
    # what could not be known (a managed policy AWS did not return): the results say so
    unknown: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExpectationResult:
    """One entry's answer: did the expectation hold, and the evaluation behind it."""

    bucket: str  # "allowed" | "denied"
    index: int
    entry: Expectation
    evaluation: Evaluation
    request: str

    @property
    def holds(self) -> bool:
        return self.evaluation.allowed == (self.bucket == "allowed")

    @property
    def where(self) -> str:
        return f"expect.{self.bucket}[{self.index}]"

    def line(self) -> str:
        """One line for the plan, the task log and the sweep finding."""
        verdict = HOLDS if self.holds else "DOES NOT HOLD"
        # the summary starts with the decision ("allowed: ...", "denied: ...")
        why = self.evaluation.summary.rstrip(".")
        missing = (f"; the request lacks {', '.join(self.evaluation.missing_context)}"
                   if self.evaluation.missing_context else "")
        return f"{self.where} ({self.bucket}: {self.request}) {verdict}: {why}{missing}"

    def to_dict(self) -> dict[str, Any]:
        return {"expectation": self.where, "request": self.request, "expected": self.bucket, "holds": self.holds,
                **self.evaluation.to_json()}


def check_expectations(expect: Expectations, who: PrincipalPolicies) -> list[ExpectationResult]:
    """Answer every entry of ``expect`` for the principal ``who``."""
    results: list[ExpectationResult] = []
    for bucket, index, entry in expect.entries():
        request, policies = _request(entry, who)
        results.append(ExpectationResult(bucket, index, entry, evaluate_request(request, policies),
                                         entry.describe(who.arn)))
    return results


def evaluate_request(request: Request, policies: PolicySet) -> Evaluation:
    from iamflow.policy.evaluate import evaluate

    return evaluate(request, policies)


def _request(entry: Expectation, who: PrincipalPolicies) -> tuple[Request, PolicySet]:
    context = entry.context_values()
    if entry.asks_assume:
        assert entry.principal is not None
        request = Request(Principal(entry.principal), entry.action or ASSUME_ROLE, entry.resource or who.arn, context)
        return request, PolicySet(identity=(_OWN_POLICIES_UNKNOWN,), resource=who.trust,
                                  resource_account=who.account, resource_kind="role-trust")
    assert entry.action is not None and entry.resource is not None
    request = Request(Principal(who.arn, dict(who.tags)), entry.action, entry.resource, context)
    return request, PolicySet(identity=who.identity, boundary=who.boundary)


def failures(results: Sequence[ExpectationResult]) -> list[ExpectationResult]:
    return [r for r in results if not r.holds]


def record(plan: Any, results: Sequence[ExpectationResult], what: str) -> None:
    """Note every result on ``plan``; block it when one does not hold (``what``: "role app")."""
    plan.notes.extend(f"{NOTE_PREFIX}{r.line()}" for r in results)
    failed = failures(results)
    if failed:
        plan.blocked = (f"{len(failed)} of {len(results)} expectations of {what} do not hold as declared; "
                        "nothing was changed: " + "; ".join(r.line() for r in failed))


def is_held(note: str) -> bool | None:
    """Whether a plan note written by :func:`record` reports an entry that held (None: not such a note)."""
    if not note.startswith(NOTE_PREFIX + "expect."):
        return None
    return f") {HOLDS}: " in note


def policy_expectations(expect: Expectations, name: str, document: Mapping[str, Any], env: Any) -> list[ExpectationResult]:
    """A managed policy's entries answered for ``document`` (declared in a plan, live in a sweep)."""
    as_boundary = any(getattr(r, "boundary", None) == name for r in env.playbook.resources)
    subject = policy_subject(f"managed policy {name}", document, account=env.ctx.account_id,
                             subject_arn=env.ctx.iam_arn("role", "expectation-subject"), as_boundary=as_boundary)
    return check_expectations(expect, subject)


# What a managed policy's own expect: entries are evaluated against: a principal that is granted
# everything else, so that what the entries prove is what this policy takes away (a deny-only
# policy) or, used as a boundary, what it still lets through.
_EVERYTHING_ELSE = Policy(
    "a grant of everything else (the policies a principal would hold beside this one)",
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
)


def policy_subject(name: str, document: Mapping[str, Any], *, account: str, subject_arn: str,
                   as_boundary: bool) -> PrincipalPolicies:
    """The principal a managed policy's expectations are asked about: granted everything else, plus this policy.

    As a boundary (a role of the playbook uses it so), the policy is that principal's boundary instead.
    """
    own = Policy(name, dict(document))
    if as_boundary:
        return PrincipalPolicies(arn=subject_arn, account=account, identity=(_EVERYTHING_ELSE,),
                                 boundary=Policy(f"permissions boundary {name}", dict(document)), trust=None)
    return PrincipalPolicies(arn=subject_arn, account=account, identity=(own, _EVERYTHING_ELSE), boundary=None,
                             trust=None)
