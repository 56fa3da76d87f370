"""Benchmark the offline evaluator and the privilege-escalation check. Prints figures, asserts nothing about time.

Builds an account snapshot in memory (no AWS, no moto): N users in 10 groups, each user with 2-3
policies (its group's managed and inline policies, one managed policy of its own, an inline
self-service policy for every seventh user), 12 customer-managed policies (read-only, developer,
deployer with a PassRole scoped by iam:PassedToService, self-service with ${aws:username},
operators with a tag condition, a permissions boundary ...), and N/10 roles trusting Lambda, EC2,
the account or a user. Then prints:

  1. evaluations per second of ``iamflow.policy.evaluate.evaluate`` on the 1 000-user snapshot
     (five requests per user, against the user's identity policies and boundary: cold, then warm);
  2. the cost of ``iam_policy_allows_privilege_escalation`` at 1 000 and 10 000 users (principals,
     evaluations, FAIL count, wall time), and of ``iam_no_custom_policy_permissive_role_assumption``;
  3. ``iamflow explain`` on the shipped ``developer-access`` playbook: offline (the declared state,
     no AWS call), and against the live embedded account (in-process moto, the playbook applied,
     AWS-managed policies loaded): one ``GetAccountAuthorizationDetails`` snapshot per call.

Usage: python bench/explain.py [--sizes 1000,10000]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "include"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from iamflow.compliance.config import ComplianceConfig  # noqa: E402
from iamflow.compliance.snapshot import AuthorizationDetails, ManagedPolicy, Principal, Snapshot  # noqa: E402

ACCOUNT = "111122223333"
ARN = f"arn:aws:iam::{ACCOUNT}"
GROUPS = 10


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any, resource: Any = "*", condition: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"Effect": "Allow", "Action": action, "Resource": resource}
    if condition:
        out["Condition"] = condition
    return out


def trust(principal: dict[str, Any]) -> dict[str, Any]:
    return doc({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"})


POLICIES: dict[str, dict[str, Any]] = {
    "read-data": doc(allow(["s3:GetObject", "s3:ListBucket"], ["arn:aws:s3:::data-*", "arn:aws:s3:::data-*/*"])),
    "read-logs": doc(allow(["logs:Get*", "logs:Describe*", "logs:FilterLogEvents"])),
    "developer": doc(allow(["lambda:*", "logs:*"], f"arn:aws:lambda:*:{ACCOUNT}:function:app-*"),
                     allow(["dynamodb:*"], f"arn:aws:dynamodb:*:{ACCOUNT}:table/app-*")),
    "deployer": doc(allow("iam:PassRole", f"{ARN}:role/app-*",
                          {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}),
                    allow(["lambda:CreateFunction", "lambda:UpdateFunctionCode", "lambda:InvokeFunction"],
                          f"arn:aws:lambda:*:{ACCOUNT}:function:app-*")),
    "self-service": doc(allow(["iam:CreateAccessKey", "iam:DeleteAccessKey", "iam:ChangePassword",
                               "iam:CreateVirtualMFADevice", "iam:EnableMFADevice"], f"{ARN}:user/${{aws:username}}")),
    "operators": doc(allow(["ssm:SendCommand", "ssm:StartSession"], "*",
                           {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}),
                     allow("ec2:Describe*")),
    "queue-worker": doc(allow(["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:SendMessage"],
                              f"arn:aws:sqs:*:{ACCOUNT}:jobs-*")),
    "secrets-reader": doc(allow("secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:*:{ACCOUNT}:secret:app/*"),
                          {"Effect": "Deny", "Action": "secretsmanager:*", "Resource": "*",
                           "Condition": {"Bool": {"aws:SecureTransport": "false"}}}),
    "iam-reviewer": doc(allow(["iam:Get*", "iam:List*", "iam:GenerateCredentialReport"])),
    "key-admin": doc(allow(["iam:CreateAccessKey", "iam:UpdateAccessKey"], f"{ARN}:user/service-*")),
    "boundary": doc(allow(["s3:*", "logs:*", "lambda:*", "dynamodb:*", "sqs:*", "iam:PassRole"]),
                    {"Effect": "Deny", "Action": ["iam:*User*", "iam:*Policy*"], "Resource": "*"}),
    "assume-any": doc(allow("sts:AssumeRole")),
}
GROUP_POLICIES = [("read-data",), ("read-logs", "developer"), ("developer", "deployer"), ("operators",),
                  ("queue-worker",), ("secrets-reader",), ("iam-reviewer",), ("read-data", "read-logs"),
                  ("queue-worker", "read-logs"), ("developer",)]
OWN_POLICIES = ["read-logs", "queue-worker", "read-data", "secrets-reader", "iam-reviewer", "key-admin",
                "assume-any"]


def managed(name: str) -> ManagedPolicy:
    return ManagedPolicy(f"{ARN}:policy/{name}", name, "/", 1, "v1", POLICIES[name])


def account(users: int) -> Snapshot:
    """The in-memory snapshot of an account with ``users`` users and users/10 roles."""
    policies = {m.arn: m for m in (managed(n) for n in POLICIES)}
    groups = tuple(
        Principal("group", f"group-{g}", f"{ARN}:group/group-{g}",
                  attached_policies=tuple((n, f"{ARN}:policy/{n}") for n in GROUP_POLICIES[g]),
                  inline_policies={"extra": doc(allow("cloudwatch:GetMetricData"))} if g % 3 == 0 else {})
        for g in range(GROUPS))
    people = []
    for i in range(users):
        name = f"user-{i:05d}" if i % 50 else f"service-{i:05d}"
        own = OWN_POLICIES[i % len(OWN_POLICIES)]
        inline = {"self": POLICIES["self-service"]} if i % 7 == 0 else {}
        people.append(Principal("user", name, f"{ARN}:user/{name}", attached_policies=((own, f"{ARN}:policy/{own}"),),
                                inline_policies=inline, tags={"team": f"t{i % 5}"}, groups=(f"group-{i % GROUPS}",)))
    roles = []
    for r in range(max(users // 10, 4)):
        kind = r % 5
        principal = [{"Service": "lambda.amazonaws.com"}, {"Service": "ec2.amazonaws.com"}, {"AWS": f"{ARN}:root"},
                     {"AWS": f"{ARN}:user/user-{r:05d}"}, {"Service": "ecs-tasks.amazonaws.com"}][kind]
        name = f"app-{r:04d}" if kind in (0, 4) else f"role-{r:04d}"
        own = [("developer",), ("operators",), ("read-data",), ("iam-reviewer",), ("queue-worker",)][kind]
        roles.append(Principal("role", name, f"{ARN}:role/{name}",
                               attached_policies=tuple((n, f"{ARN}:policy/{n}") for n in own),
                               tags={"team": f"t{r % 5}"}, trust_policy=trust(principal),
                               permissions_boundary_arn=f"{ARN}:policy/boundary" if r % 4 == 0 else None))
    auth = AuthorizationDetails(tuple(people), groups, tuple(roles), policies)
    return Snapshot(account_id=ACCOUNT, region="eu-west-1", authorization=auth)


def evaluation_rate(snapshot: Snapshot) -> None:
    from iamflow.policy import evaluate as ev

    assert snapshot.authorization is not None
    auth = snapshot.authorization
    groups = {g.name: g for g in auth.groups}
    role = auth.roles[0].arn
    requests = []
    for user in auth.users:
        identity = []
        for holder in (user, *(groups[g] for g in user.groups)):
            identity += [ev.Policy(f"inline {n}", d) for n, d in holder.inline_policies.items()]
            identity += [ev.Policy(a, auth.policies[a].document or {}) for _n, a in holder.attached_policies]
        policies = ev.PolicySet(identity=tuple(identity))
        who = ev.Principal(user.arn, tags=user.tags)
        for action, resource, context in (
            ("s3:GetObject", "arn:aws:s3:::data-lake/2025/01/part-0.parquet", {}),
            ("iam:PassRole", role, {"iam:PassedToService": ("lambda.amazonaws.com",)}),
            ("lambda:CreateFunction", f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:app-report", {}),
            ("iam:CreateAccessKey", user.arn, {}),
            ("secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:app/db-Ab12Cd",
             {"aws:SecureTransport": ("true",)}),
        ):
            requests.append((ev.Request(who, action, resource, context), policies))
    for label in ("cold", "warm"):
        if label == "cold":
            ev.clear_cache()
        decisions: Counter[str] = Counter()
        start = time.perf_counter()
        for request, policies in requests:
            decisions[ev.evaluate(request, policies).decision] += 1
        elapsed = time.perf_counter() - start
        print(f"  {label}: {len(requests)} evaluations in {elapsed:.2f} s = {len(requests) / elapsed:,.0f} per second "
              f"({dict(sorted(decisions.items()))})")


def check_cost(users: int) -> None:
    from iamflow.compliance.checks.iam_escalation import (
        iam_no_custom_policy_permissive_role_assumption,
        iam_policy_allows_privilege_escalation,
    )
    from iamflow.compliance.escalation import EscalationAnalyzer
    from iamflow.policy.evaluate import clear_cache

    snapshot = account(users)
    assert snapshot.authorization is not None
    now = datetime.now(UTC)
    clear_cache()
    start = time.perf_counter()
    findings = iam_policy_allows_privilege_escalation(snapshot, ComplianceConfig(), now)
    elapsed = time.perf_counter() - start
    statuses = Counter(f.status for f in findings)
    methods = Counter(m["id"] for f in findings for m in f.extra["escalation_methods"])
    analyzer = EscalationAnalyzer(snapshot.authorization, account=ACCOUNT, region=snapshot.region)
    clear_cache()
    start = time.perf_counter()
    analyzer.analyze_all()
    analysis = time.perf_counter() - start
    print(f"  {users:>6} users, {len(snapshot.authorization.roles)} roles: {len(findings)} findings "
          f"{dict(sorted(statuses.items()))} in {elapsed:.2f} s; {analyzer.evaluations:,} evaluations "
          f"({analyzer.evaluations / max(analysis, 1e-9):,.0f} per second, {analysis:.2f} s without the findings)")
    print(f"         methods found: {dict(methods.most_common())}")
    start = time.perf_counter()
    policy_findings = iam_no_custom_policy_permissive_role_assumption(snapshot, ComplianceConfig(), now)
    print(f"         iam_no_custom_policy_permissive_role_assumption: {len(policy_findings)} policies "
          f"{dict(Counter(f.status for f in policy_findings))} in {(time.perf_counter() - start) * 1000:.1f} ms")


def explain_cost(runs: int = 5) -> None:
    import contextlib
    import io
    import os

    import moto

    from iamflow.aws.clients import AwsClients
    from iamflow.cli import main as cli
    from iamflow.engine import run_playbook
    from iamflow.settings import playbooks_dir
    from iamflow.spec.loader import load_playbook

    path = playbooks_dir() / "developer-access.yaml"
    question = ["--principal", "developer-role", "--action", "ec2:DescribeInstances", "--resource", "*", "--json"]

    def timed(args: list[str]) -> tuple[float, int]:
        best, rc = float("inf"), 0
        for _ in range(runs):
            start = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):
                rc = cli(["explain", *args])
            best = min(best, time.perf_counter() - start)
        return best, rc

    offline, rc = timed([str(path), *question])
    print(f"  offline, from the playbook: {offline * 1000:.0f} ms (best of {runs}), exit {rc}")
    os.environ.update({"MOTO_IAM_LOAD_MANAGED_POLICIES": "true", "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"})
    with moto.mock_aws():
        import boto3

        clients = AwsClients.from_boto3(boto3.Session(region_name="us-east-1"), region="us-east-1")
        assert not run_playbook(clients, load_playbook(path)).failed
        live, rc = timed([*question, "--region", "us-east-1"])
    print(f"  live, the embedded account (its 1 582 AWS-managed policies in the snapshot): "
          f"{live * 1000:.0f} ms (best of {runs}), exit {rc}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000", help="account sizes (users) for the check's cost")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]

    print("1. evaluator throughput on a 1 000-user snapshot (5 requests per user)")
    evaluation_rate(account(1000))
    print("2. privilege-escalation checks on an in-memory snapshot")
    for size in sizes:
        check_cost(size)
    print("3. iamflow explain (developer-role, ec2:DescribeInstances on *)")
    explain_cost()


if __name__ == "__main__":
    main()
