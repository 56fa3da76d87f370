"""Drift: each playbook resource that targets the account, compared with its live state.

The comparison itself belongs to the converge engine (read current → pure plan): a *drift
provider* passed to ``collect_account`` returns one :class:`~iamflow.compliance.snapshot.DriftItem`
per declared resource (``iamflow.compliance.drift.PlaybookDriftProvider``, which ``sweep_target``
uses by default). Without a provider the ``drift`` step is recorded as not run and this check
reports ERROR rather than a pass; an item with status ``error`` (a playbook file that does not
validate, a resource that could not be read) is an ERROR finding too.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from iamflow.compliance.config import ComplianceConfig
from iamflow.compliance.findings import Result, errored, failed, passed
from iamflow.compliance.registry import check
from iamflow.compliance.snapshot import DRIFT, Snapshot


@check(
    title="Live resources match the playbooks that declare them",
    severity="high",
    description="Every resource declared by a playbook targeting the account exists and has no pending change "
    "in the converge engine's plan (check mode).",
    remediation="Run the playbook (iamflow apply, or its DAG) to converge the resource, or update the playbook "
    "if the live change was intended.",
    needs=(DRIFT,),
    service="iamflow",
    resource_type="IamflowPlaybookResource",
)
def iamflow_playbook_drift(snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> Iterator[Result]:
    """FAIL per declared resource that is missing or differs from its playbook; ERROR when it could not be compared."""
    assert snapshot.drift is not None
    for item in snapshot.drift:
        fields = {"resource_id": f"{item.kind}/{item.name}", "playbook": item.playbook, "drift": item.status}
        if item.status == "in_sync":
            yield passed(item.arn, f"{item.kind} {item.name} matches playbook {item.playbook}.", **fields)
        elif item.status == "error":
            yield errored(item.arn, f"{item.kind} {item.name} ({item.playbook}): {item.summary}.", **fields)
        elif item.status == "missing":
            yield failed(item.arn, f"{item.kind} {item.name} declared in playbook {item.playbook} does not exist.", **fields)
        else:
            detail = f": {item.summary}" if item.summary else ""
            yield failed(item.arn, f"{item.kind} {item.name} differs from playbook {item.playbook}{detail}.", **fields)


@check(
    title="Playbook expectations hold against the live account",
    severity="high",
    description="Every expect: entry of a playbook's roles and managed policies (what must be allowed, what must "
    "be denied) is evaluated by iamflow's offline evaluator against the live policies, trust and boundary.",
    remediation="Run the playbook to restore the declared policies (someone attached a policy or removed a "
    "boundary by hand), or change the playbook and its expectations if the new access is intended.",
    needs=(DRIFT,),
    service="iamflow",
    resource_type="IamflowPlaybookExpectation",
)
def iamflow_playbook_expectation(snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> Iterator[Result]:
    """PASS per expectation that holds on the live account, FAIL per one that no longer does."""
    assert snapshot.drift is not None
    for item in snapshot.drift:
        for where, holds, line in item.expectations:
            fields = {"resource_id": f"{item.kind}/{item.name}/{where}", "playbook": item.playbook}
            if holds:
                yield passed(item.arn, f"{item.kind} {item.name}: {line}.", **fields)
            else:
                yield failed(item.arn, f"{item.kind} {item.name} ({item.playbook}): {line}.", **fields)
