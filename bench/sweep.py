"""Benchmark the compliance sweep: one account with N users on in-process moto.

Per size N: N users (half with a console password, a quarter with MFA, half with an access key of
which half are stale), N/10 roles, 50 KMS keys, 200 secrets and one Cognito pool. Prints the wall
time of seeding, collect, evaluate (+ mute) and the key-id lookups, the findings, and the API
calls by operation; then checks that no IAM call of collect depends on N except the pages of
the two paged lists (1,000 items a page: ListVirtualMFADevices in moto, also GAAD in AWS).
Prints figures, asserts nothing about time.

The credential report's polling wait is not slept (moto completes a report on the second
GenerateCredentialReport; AWS takes seconds): the number of polls is printed instead.

Usage: python bench/sweep.py [--sizes 100,1000,10000] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

# never reach a real account, whatever the shell has configured
for _name in list(os.environ):
    if _name.startswith(("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_")):
        del os.environ[_name]
os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                   "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
                   "MOTO_IAM_LOAD_MANAGED_POLICIES": "false"})

KMS_KEYS = 50
SECRETS = 200
TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
VENDOR_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, "Action": "sts:AssumeRole"}]}


def seed(n: int, now: datetime) -> None:
    """Build the account: users with mixed credentials, roles, keys, secrets, a user pool."""
    import boto3
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.iam.models import AccessKeyLastUsed, iam_backends

    iam = boto3.client("iam")
    backend = iam_backends[DEFAULT_ACCOUNT_ID]["aws"]
    naive = now.replace(tzinfo=None)
    iam.create_policy(PolicyName="dev-boundary", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
    iam.create_group(GroupName="developers")
    for i in range(n):
        name = f"user-{i:05d}"
        iam.create_user(UserName=name, Tags=[{"Key": "team", "Value": f"t{i % 7}"}])
        if i % 10 == 0:
            iam.add_user_to_group(GroupName="developers", UserName=name)
        if i % 2 == 0:
            iam.create_login_profile(UserName=name, Password="Correct-Horse-9")
            backend.users[name].password_last_used = naive - timedelta(days=(i % 90))
        if i % 4 == 0:
            serial = iam.create_virtual_mfa_device(VirtualMFADeviceName=name)["VirtualMFADevice"]["SerialNumber"]
            iam.enable_mfa_device(UserName=name, SerialNumber=serial, AuthenticationCode1="123456",
                                  AuthenticationCode2="654321")
        if i % 2 == 1:
            iam.create_access_key(UserName=name)
            key = backend.users[name].access_keys[0]
            stale = i % 4 == 1
            key.create_date = naive - timedelta(days=200 if stale else 20)
            key.last_used = AccessKeyLastUsed(naive - timedelta(days=60 if stale else 1), "s3", "us-east-1")
    boundary = f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:policy/dev-boundary"
    for i in range(max(n // 10, 1)):
        kwargs: dict[str, Any] = {"RoleName": f"role-{i:05d}", "AssumeRolePolicyDocument": json.dumps(
            VENDOR_TRUST if i % 20 == 0 else TRUST)}
        if i % 5 == 0:
            kwargs["Path"] = "/developers/"
            if i % 10 == 0:
                kwargs["PermissionsBoundary"] = boundary
        iam.create_role(**kwargs)
        iam.put_role_policy(RoleName=kwargs["RoleName"], PolicyName="logs", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]}))
    kms = boto3.client("kms")
    for i in range(KMS_KEYS):
        key_id = kms.create_key(Description=f"bench {i}")["KeyMetadata"]["KeyId"]
        if i % 2 == 0:
            kms.enable_key_rotation(KeyId=key_id)
        if i % 25 == 24:
            kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    sm = boto3.client("secretsmanager")
    for i in range(SECRETS):
        sm.create_secret(Name=f"app/secret-{i:03d}", SecretString=f"value-{i}")
        if i % 2 == 0:
            sm.rotate_secret(SecretId=f"app/secret-{i:03d}", RotationRules={"AutomaticallyAfterDays": 30},
                             RotateImmediately=False)
    idp = boto3.client("cognito-idp")
    pool = idp.create_user_pool(PoolName="customers", MfaConfiguration="OFF")["UserPool"]["Id"]
    for name in ("web", "mobile", "admin"):
        idp.create_user_pool_client(UserPoolId=pool, ClientName=name, ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH"])


def bench(n: int) -> dict[str, Any]:
    """Seed an account of size n and time the sweep's phases."""
    from moto import mock_aws

    from iamflow.aws.clients import AwsClients, CallLog
    from iamflow.compliance.collect import CollectOptions, collect_account
    from iamflow.compliance.config import ComplianceConfig
    from iamflow.compliance.mutelist import Mutelist
    from iamflow.compliance.registry import enabled_checks, evaluate, steps_for
    from iamflow.compliance.sweep import resolve_access_key_ids

    now = datetime.now(UTC)
    config = ComplianceConfig.load()
    checks = enabled_checks(config)
    out: dict[str, Any] = {"users": n, "roles": max(n // 10, 1), "kms_keys": KMS_KEYS, "secrets": SECRETS}
    with mock_aws():
        t = time.perf_counter()
        seed(n, now)
        out["seed_s"] = round(time.perf_counter() - t, 2)

        log = CallLog()
        clients = AwsClients.from_boto3(call_log=log, region="us-east-1")
        polls: list[float] = []
        t = time.perf_counter()
        snapshot = collect_account(clients, now=now, steps=steps_for(checks), sleep=polls.append,
                                   options=CollectOptions(report_max_age=config.collection.credential_report_max_age))
        out["collect_s"] = round(time.perf_counter() - t, 3)
        out["collect_errors"] = dict(snapshot.errors)
        out["report_polls"] = len(polls)
        out["collect_calls"] = dict(sorted(log.by_operation().items()))

        t = time.perf_counter()
        findings = Mutelist().apply(evaluate(checks, snapshot, config, now), now)
        out["evaluate_s"] = round(time.perf_counter() - t, 3)

        log.reset()
        t = time.perf_counter()
        findings = resolve_access_key_ids(clients, findings, config.collection.access_key_id_lookups)
        out["key_ids_s"] = round(time.perf_counter() - t, 3)
        out["key_id_calls"] = dict(log.by_operation())
        out["findings"] = dict(Counter(f.status for f in findings))
        out["findings_total"] = len(findings)
    return out


# one call per page of 1,000 items: the only IAM calls that may grow, by one per 1,000 devices or entities
PAGED = {"iam:ListVirtualMFADevices", "iam:GetAccountAuthorizationDetails"}


def iam_calls(calls: dict[str, int]) -> dict[str, int]:
    """The IAM part of a call count."""
    return {k: v for k, v in calls.items() if k.startswith("iam:")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000", help="comma-separated user counts")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    results = []
    for n in sizes:
        print(f"\n== {n} users ==", flush=True)
        r = bench(n)
        results.append(r)
        print(f"seed {r['seed_s']} s | collect {r['collect_s']} s ({r['report_polls']} report poll(s)) | "
              f"evaluate {r['evaluate_s']} s | key ids {r['key_ids_s']} s")
        print(f"findings {r['findings_total']}: {r['findings']}")
        if r["collect_errors"]:
            print(f"collection errors: {r['collect_errors']}")
        print(f"collect calls ({sum(r['collect_calls'].values())}):")
        for op, count in r["collect_calls"].items():
            print(f"  {op:45s} {count}")
        print(f"key-id lookups (capped by collection.access_key_id_lookups): {r['key_id_calls']}")

    print("\n| users | collect s | evaluate s | findings | IAM calls (collect) | all calls (collect) | key-id lookups |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['users']} | {r['collect_s']} | {r['evaluate_s']} | {r['findings_total']} | "
              f"{sum(iam_calls(r['collect_calls']).values())} | {sum(r['collect_calls'].values())} | "
              f"{sum(r['key_id_calls'].values())} |")
    fixed = [{k: v for k, v in iam_calls(r["collect_calls"]).items() if k not in PAGED} for r in results]
    flat = len({json.dumps(f, sort_keys=True) for f in fixed}) == 1
    print(f"\nIAM calls of collect, unpaged operations: {'the same for every N' if flat else 'NOT the same'}: {fixed[0]}")
    for op in sorted(PAGED):
        pages = [iam_calls(r["collect_calls"]).get(op, 0) for r in results]
        print(f"  {op}: {' / '.join(map(str, pages))} page(s) of up to 1,000 items for N = "
              f"{' / '.join(str(r['users']) for r in results)}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)
    return 0 if flat else 1


if __name__ == "__main__":
    sys.exit(main())
