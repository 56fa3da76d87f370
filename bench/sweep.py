"""Benchmark the compliance sweep: one account with N users on in-process moto.

Per size N: N users (half with a console password, a quarter with MFA, half with an access key of
which half are stale), N/10 roles, 50 KMS keys, 200 secrets and one Cognito pool. Prints the wall
time of seeding, collect, evaluate (+ mute) and the key-id lookups, the findings, and the API
calls by operation; then checks that no IAM call of collect depends on N except the pages of
the two paged lists (1,000 items a page: ListVirtualMFADevices in moto, also GAAD in AWS).
Prints figures, asserts nothing about time.

The credential report's polling wait is not slept (moto completes a report on the second
GenerateCredentialReport; AWS takes seconds): the number of polls is printed instead.

With ``--against-prowler`` the account is served over HTTP by a moto server in this process
instead, and two whole processes run against it one after the other, timed by wall clock with
their report writing: ``iamflow sweep`` and Prowler 5.46 (``prowler aws``, restricted with
``--checks`` to the checks iamflow also has, JSON-OCSF output). Prowler lives in its own
virtualenv, ``.bench/prowler-venv``, made on first use (it is never a dependency of iamflow).
The CPU time of the ``iamflow sweep`` process (its report writer processes included) is printed
beside its wall time: on a shared machine it varies less with the load than the wall time does.
``iamflow sweep`` runs once to warm the server up (moto loads each service's backend on its first
request; Prowler, which runs after it, finds the server warm), then three times (a few seconds
each, so the machine's noise weighs on one run): its figure is the median, and every run is
printed. Its bytecode is compiled before the first, as installing a package compiles it
(Prowler's virtualenv was compiled when it was installed).

Usage: python bench/sweep.py [--sizes 100,1000,10000] [--json FILE] [--over-http | --against-prowler]
(``BENCH_PROFILE=FILE`` runs the ``iamflow sweep`` process under cProfile, writing FILE;
``BENCH_IAMFLOW_INCLUDE=DIR`` sweeps with the iamflow package found in DIR, e.g. another commit's.)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
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
RUNS = 3  # timed runs of `iamflow sweep` per size, side by side: the median is the figure (Prowler runs once)
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
            backend.users[name].password_last_used = naive - timedelta(days=(i % 90))  # type: ignore[assignment]  # moto types it None
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


# --- side by side with Prowler, over HTTP -------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
PROWLER_VERSION = "5.46.*"
PROWLER_VENV = ROOT / ".bench" / "prowler-venv"


def prowler_bin() -> Path:
    """The prowler executable of the benchmark's own virtualenv, made (once) when missing."""
    exe = PROWLER_VENV / "bin" / "prowler"
    if not exe.exists():
        print(f"creating {PROWLER_VENV} with prowler=={PROWLER_VERSION} (once)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(PROWLER_VENV)], check=True)
        subprocess.run([str(PROWLER_VENV / "bin" / "pip"), "install", "-q", f"prowler=={PROWLER_VERSION}"], check=True)
    return exe


def prowler_checks(exe: Path) -> tuple[list[str], list[str]]:
    """iamflow's IAM, KMS, Secrets Manager and Cognito check ids that Prowler also has (and those it has not)."""
    from iamflow.compliance.registry import all_checks

    services = ("iam_", "kms_", "secretsmanager_", "cognito_", "accessanalyzer_")
    ours = sorted(c.id for c in all_checks() if c.id.startswith(services))
    listed = subprocess.run([str(exe), "aws", "--list-checks-json"], capture_output=True, text=True, check=True)
    theirs = set(json.loads(listed.stdout[listed.stdout.index("{"):])["aws"])
    return [c for c in ours if c in theirs], [c for c in ours if c not in theirs]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(cmd: list[str], env: dict[str, str], log: Path, cpu: dict[str, float] | None = None) -> tuple[float, int]:
    """Wall time and exit code of a whole process; ``cpu["s"]`` gets its CPU time (its own child processes included)."""
    t, c = time.perf_counter(), _children_cpu()
    with log.open("w") as fh:
        rc = subprocess.run(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT).returncode
    if cpu is not None:
        cpu["s"] = round(_children_cpu() - c, 2)
    return round(time.perf_counter() - t, 2), rc


def _tail(path: Path, lines: int = 8) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


# the floor: the two IAM reads whose size grows with the users, made with plain boto3 in a process of their own
FLOOR = """
import boto3, time
iam = boto3.client("iam")
t = time.perf_counter()
for _ in iam.get_paginator("get_account_authorization_details").paginate(PaginationConfig={"PageSize": 1000}):
    pass
iam.generate_credential_report(); iam.generate_credential_report(); iam.get_credential_report()
print(round(time.perf_counter() - t, 2))
"""


def side_by_side(n: int, *, prowler: bool, work: Path) -> dict[str, Any]:
    """Seed a moto server with an account of n users; time ``iamflow sweep`` and ``prowler aws`` against it."""
    import logging

    from iamflow.aws.local import LocalAws

    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)  # a line per request, a traceback per unimplemented call
    # the embedded AWS of `make run`: moto's server, one request at a time, and a service moto lacks (Access
    # Analyzer) answered as AWS answers what it does not implement (501, not retried)
    server = LocalAws(port=_free_port(), load_managed_policies=False).start()
    endpoint = server.endpoint_url
    # moto keeps its accounts per process, not per server: each size starts from an empty account
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=60).close()
    out: dict[str, Any] = {"users": n}
    try:
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        t = time.perf_counter()
        seed(n, datetime.now(UTC))
        out["seed_s"] = round(time.perf_counter() - t, 2)
        env = {**os.environ, "PYTHONPATH": os.environ.get("BENCH_IAMFLOW_INCLUDE", str(ROOT / "include")), "IAMFLOW_PLAYBOOKS_DIR": str(work / "no-playbooks")}
        (work / "no-playbooks").mkdir(exist_ok=True)
        reports = work / f"iamflow-{n}"
        # bytecode compiled first, as installing a package compiles it (Prowler's virtualenv has its own): the timed
        # runs measure the sweep, not the compilation of iamflow's modules (PYTHONDONTWRITEBYTECODE would redo it)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
        subprocess.run([sys.executable, "-m", "compileall", "-q", env["PYTHONPATH"]], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        profile = ["-m", "cProfile", "-o", os.environ["BENCH_PROFILE"]] if os.environ.get("BENCH_PROFILE") else []
        runs: list[dict[str, Any]] = []
        # run 0 warms the server up, untimed in the figures: moto imports each service's backend on its first
        # request (seconds of the server's CPU), and Prowler, which runs after iamflow, finds the server warm
        for i in range(0, RUNS + 1):  # then a short process on a shared machine: the median of a few runs
            iamflow = [sys.executable, *profile, "-m", "iamflow.cli", "sweep", "--out", str(reports), "--run-id",
                       f"bench-{i}", "--region", "us-east-1"]
            cpu: dict[str, float] = {}
            served = _own_cpu()  # this process is the moto server (its threads) while it waits for the sweep
            log = work / f"iamflow-{n}-{i}.log"
            wall, rc = _timed(iamflow, env, log, cpu)
            runs.append({"s": wall, "rc": rc, "cpu_s": cpu.get("s"), "server_cpu_s": round(_own_cpu() - served, 2),
                         "run_id": f"bench-{i}", "log": log})
        warmup, runs = runs[0], runs[1:]
        out["warmup_s"], out["warmup_server_cpu_s"] = warmup["s"], warmup["server_cpu_s"]
        median = sorted(runs, key=lambda r: r["s"])[len(runs) // 2]
        out["iamflow_runs_s"] = [r["s"] for r in runs]
        out["iamflow_s"], out["iamflow_rc"], out["iamflow_cpu_s"] = median["s"], max(r["rc"] for r in runs), median["cpu_s"]
        out["server_cpu_s"] = median["server_cpu_s"]
        floor = subprocess.run([sys.executable, "-c", FLOOR], env=env, capture_output=True, text=True)
        out["boto3_floor_s"] = float(floor.stdout.strip() or "nan")
        summary_file = reports / median["run_id"] / "summary.json"
        if summary_file.exists():
            summary = json.loads(summary_file.read_text())
            calls: dict[str, int] = next(iter(summary["api_calls"].values()), {})
            out["iamflow_calls"] = sum(calls.values())
            out["iamflow_iam_calls"] = sum(iam_calls(calls).values())
            out["iamflow_findings"] = sum(summary["totals"].values())
        else:
            out["iamflow_error"] = _tail(median["log"])
        if prowler:
            exe = prowler_bin()
            checks, out["iamflow_only_checks"] = prowler_checks(exe)
            out["prowler_checks"] = len(checks)
            cmd = [str(exe), "aws", "--checks", *checks, "--output-formats", "json-ocsf",
                   "--output-directory", str(work / f"prowler-{n}"), "--region", "us-east-1", "--no-banner",
                   "--ignore-exit-code-3"]
            penv = {k: v for k, v in env.items() if k != "PYTHONPATH"}
            out["prowler_s"], out["prowler_rc"] = _timed(cmd, penv, work / f"prowler-{n}.log")
            ocsf = sorted((work / f"prowler-{n}").glob("*.ocsf.json"))
            if out["prowler_rc"] == 0 and ocsf:
                out["prowler_findings"] = len(json.loads(ocsf[-1].read_text() or "[]"))
                out["ratio"] = round(out["prowler_s"] / out["iamflow_s"], 1)
            else:
                out["prowler_error"] = _tail(work / f"prowler-{n}.log")
    finally:
        os.environ.pop("AWS_ENDPOINT_URL", None)
        server.stop()
    return out


def main_side_by_side(sizes: list[int], prowler: bool, json_file: str | None) -> int:
    """Print the side-by-side figures per size; exit 1 when a process failed."""
    results = []
    with tempfile.TemporaryDirectory(prefix="iamflow-bench-") as tmp:
        for n in sizes:
            print(f"\n== {n} users, over HTTP ==", flush=True)
            r = side_by_side(n, prowler=prowler, work=Path(tmp))
            results.append(r)
            print(f"seed {r['seed_s']} s | iamflow sweep {r['iamflow_s']} s, the median of "
                  f"{' / '.join(map(str, r['iamflow_runs_s']))} s (exit {r['iamflow_rc']}; "
                  f"{r.get('iamflow_cpu_s')} s CPU, its writer processes included), "
                  f"{r.get('iamflow_findings')} findings, {r.get('iamflow_calls')} API calls of which "
                  f"{r.get('iamflow_iam_calls')} IAM")
            print(f"warm-up sweep (not counted: the server's first answer to each service loads its backend): "
                  f"{r['warmup_s']} s, the server's CPU {r['warmup_server_cpu_s']} s")
            print(f"plain boto3, GetAccountAuthorizationDetails and the credential report alone: {r['boto3_floor_s']} s")
            # moto answers in one process, under one GIL: its CPU time bounds the sweep's wall time from below
            print(f"the moto server's own CPU time while it served the sweep: {r['server_cpu_s']} s "
                  f"(a lower bound of the sweep's wall time against it)")
            if "iamflow_error" in r:
                print(f"iamflow failed:\n{r['iamflow_error']}")
            if prowler and r.get("iamflow_only_checks"):
                print(f"checks Prowler has not, left out of its run: {', '.join(r['iamflow_only_checks'])}")
            if prowler and "ratio" in r:
                print(f"prowler aws ({r['prowler_checks']} checks) {r['prowler_s']} s, {r['prowler_findings']} "
                      f"findings: iamflow is {r['ratio']}x faster")
            elif prowler:
                print(f"prowler aws did not complete against the moto server (exit {r['prowler_rc']}), "
                      f"so no ratio is given; its output ends:\n{r['prowler_error']}")
    if prowler:
        print("\n| users | iamflow s | IAM calls | boto3 floor s | prowler s | ratio |\n|---:|---:|---:|---:|---:|---:|")
    else:
        print("\n| users | iamflow s | IAM calls | boto3 floor s |\n|---:|---:|---:|---:|")
    for r in results:
        row = f"| {r['users']} | {r['iamflow_s']} | {r.get('iamflow_iam_calls')} | {r['boto3_floor_s']} |"
        if prowler:
            row += f" {r.get('prowler_s', '-')} | {r.get('ratio', '-')} |"
        print(row)
    if json_file:
        Path(json_file).write_text(json.dumps(results, indent=1))
    failed = any(r["iamflow_rc"] not in (0, 2) or (prowler and "ratio" not in r) for r in results)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000", help="comma-separated user counts")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--over-http", action="store_true",
                        help="serve the account with a moto server and time `iamflow sweep` as a whole process")
    parser.add_argument("--against-prowler", action="store_true",
                        help="like --over-http, and time Prowler 5.46 against the same server (implies --over-http)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if args.over_http or args.against_prowler:
        return main_side_by_side(sizes, args.against_prowler, args.json)
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
