"""Benchmark the converge engine: 200 roles and 50 managed policies against in-process moto.

Prints figures, asserts nothing about time. Measures:
  1. first apply, no-op second apply (must make 0 writes) and check mode: wall time, API calls;
  2. the same playbook as an Airflow DAG under ``airflow dags test`` (wall time, cost per task);
  3. the parse time of ``dags/`` (DagBag) with 20 playbooks.

Usage: python bench/converge.py [--roles 200] [--policies 50] [--skip-dag] [--parse-playbooks 20]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# the demo seeder is in the checkout's tools/ (never installed)
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def generate_playbook(roles: int, policies: int, name: str = "bench") -> dict:
    """A playbook of `policies` managed policies and `roles` roles, each attaching two of them."""
    resources: list[dict] = []
    for i in range(policies):
        resources.append({
            "kind": "iam_managed_policy", "name": f"{name}-policy-{i:03d}",
            "document": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
                "Resource": [f"arn:aws:s3:::{name}-bucket-{i}", f"arn:aws:s3:::{name}-bucket-{i}/*"]}]},
            "tags": {"Bench": "yes"},
        })
    for i in range(roles):
        resources.append({
            "kind": "iam_role", "name": f"{name}-role-{i:03d}", "path": "/bench/",
            "trust_policy": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
            "managed_policies": [f"{name}-policy-{i % policies:03d}", f"{name}-policy-{(i + 1) % policies:03d}"],
            "inline_policies": {"logs": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "arn:aws:logs:*:*:*"}]}},
            "max_session_duration": 3600,
            "tags": {"Team": f"t{i % 7}"},
        })
    return {"name": name, "description": f"Generated: {roles} roles, {policies} policies.", "resources": resources}


def generate_services_playbook(keys: int, secrets: int, pools: int, name: str = "svc") -> dict:
    """KMS keys, secrets with generated values and 30-day rotation, user pools each with a client."""
    lambda_arn = "arn:${partition}:lambda:${region}:${account_id}:function:myapp-secret-rotation"
    resources: list[dict] = []
    for i in range(keys):
        resources.append({"kind": "kms_key", "name": f"{name}-key-{i:03d}", "description": f"bench key {i}",
                          "rotation": True, "rotation_period_days": 365, "tags": {"Bench": "yes"}})
    for i in range(secrets):
        resources.append({
            "kind": "secret", "name": f"{name}/app-{i:03d}/credentials", "kms_key": f"{name}-key-{i % keys:03d}",
            "template": {"username": f"app{i}", "password": {"generate": {"length": 32}}, "port": 5432},
            "tags": {"Bench": "yes"},
            "rotation": {"lambda_arn": lambda_arn, "every_days": 30,
                         "verify": {"validator": {"json_keys": ["username", "password"]}}},
        })
    for i in range(pools):
        pool = f"{name}-pool-{i:02d}"
        resources.append({"kind": "cognito_user_pool", "name": pool, "mfa": "OPTIONAL", "software_token": True,
                          "password_policy": {"minimum_length": 14}, "deletion_protection": True})
        resources.append({"kind": "cognito_app_client", "name": f"{pool}-web", "user_pool": pool,
                          "explicit_auth_flows": ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
                          "access_token_validity": {"value": 60, "unit": "minutes"}})
    return {"name": name, "description": "Generated KMS/Secrets/Cognito benchmark.", "resources": resources}


def bench_services(path: Path) -> dict:
    from moto import mock_aws

    from iamflow.aws.clients import AwsClients, CallLog
    from iamflow.engine import run_playbook
    from iamflow.secrets.rotation import verify_rotation
    from iamflow.spec.loader import load_playbook
    from tools.demo_seed import seed_rotation_lambda

    out: dict = {}
    playbook = load_playbook(path)
    # moto would try to run the rotation Lambda in Docker; its "simple" Lambda backend runs nothing
    with mock_aws(config={"lambda": {"use_docker": False}}):
        seed_rotation_lambda(None)
        for label, check in (("first apply", False), ("no-op apply", False), ("check mode", True)):
            log = CallLog()
            clients = AwsClients.from_boto3(call_log=log, region="us-east-1")
            start = time.perf_counter()
            play = run_playbook(clients, playbook, check_mode=check)
            out[label] = {"seconds": round(time.perf_counter() - start, 2), "calls": log.count(),
                          "writes": log.count(writes=True), "counts": play.counts(),
                          "by_operation": log.by_operation()}
        secrets = [r for r in playbook.resources if r.kind == "secret"]
        log = CallLog()
        clients = AwsClients.from_boto3(call_log=log, region="us-east-1", check_mode=True)
        start = time.perf_counter()
        checks = verify_rotation(clients, secrets)
        out["verify rotation"] = {
            "seconds": round(time.perf_counter() - start, 2), "calls": log.count(), "secrets": len(secrets),
            "calls_per_secret": round(log.count() / max(1, len(secrets)), 2), "checks": len(checks),
            "by_operation": log.by_operation(),
            "statuses": {s: sum(1 for c in checks if c.status == s) for s in ("PASS", "FAIL", "ERROR")},
        }
    return out


def bench_engine(path: Path) -> dict:
    from moto import mock_aws

    from iamflow.aws.clients import AwsClients, CallLog
    from iamflow.engine import run_playbook
    from iamflow.spec.loader import load_playbook

    out: dict = {}
    playbook = load_playbook(path)
    with mock_aws():
        for label, check in (("first apply", False), ("no-op apply", False), ("check mode", True)):
            log = CallLog()
            clients = AwsClients.from_boto3(call_log=log, region="us-east-1")
            start = time.perf_counter()
            play = run_playbook(clients, playbook, check_mode=check)
            seconds = time.perf_counter() - start
            out[label] = {
                "seconds": round(seconds, 2), "calls": log.count(), "writes": log.count(writes=True),
                "calls_per_resource": round(log.count() / len(playbook.resources), 2),
                "counts": play.counts(), "by_operation": log.by_operation(),
            }
    return out


def _airflow_env(home: Path, playbooks: Path, endpoint: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "IAMFLOW_PLAYBOOKS_DIR": str(playbooks),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
    })
    if endpoint:
        from iamflow.aws.local import local_env

        env.update(local_env(endpoint))
    return env


def bench_dag(path: Path, name: str, resources: int) -> dict:
    from iamflow.aws.local import LocalAws

    airflow = str(Path(sys.executable).parent / "airflow")
    with tempfile.TemporaryDirectory() as tmp, LocalAws(port=0) as aws:
        home, pbdir = Path(tmp) / "home", Path(tmp) / "playbooks"
        pbdir.mkdir()
        (pbdir / path.name).write_text(path.read_text())
        env = _airflow_env(home, pbdir, aws.endpoint_url)
        subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True)
        dag_id = f"playbook_{name}".replace("-", "_")
        start = time.perf_counter()
        proc = subprocess.run([airflow, "dags", "test", dag_id], env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
    return {"seconds": round(seconds, 1), "tasks": resources + 1, "returncode": proc.returncode,
            "seconds_per_task": round(seconds / (resources + 1), 3)}


def bench_parse(count: int, roles_each: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        pbdir = Path(tmp)
        for i in range(count):
            doc = generate_playbook(roles_each, max(1, roles_each // 4), name=f"parse{i:02d}")
            (pbdir / f"parse{i:02d}.yaml").write_text(yaml.safe_dump(doc))
        code = (
            "import time,sys;t=time.perf_counter();from airflow.dag_processing.dagbag import DagBag;"
            "t1=time.perf_counter();b=DagBag(dag_folder=sys.argv[1],safe_mode=False);"
            "t2=time.perf_counter();import json;print(json.dumps({'import_airflow_s':round(t1-t,2),"
            "'dagbag_s':round(t2-t1,2),'dags':len(b.dags),'errors':len(b.import_errors),"
            "'boto3_imported':'boto3' in sys.modules}))"
        )
        env = _airflow_env(Path(tmp) / "home", pbdir, None)
        proc = subprocess.run([sys.executable, "-c", code, str(ROOT / "dags")], env=env, capture_output=True,
                              text=True)
        if proc.returncode:
            return {"error": proc.stderr[-2000:]}
        return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roles", type=int, default=200)
    parser.add_argument("--policies", type=int, default=50)
    parser.add_argument("--skip-dag", action="store_true")
    parser.add_argument("--parse-playbooks", type=int, default=20)
    parser.add_argument("--keys", type=int, default=50)
    parser.add_argument("--secrets", type=int, default=200)
    parser.add_argument("--pools", type=int, default=10)
    parser.add_argument("--skip-services", action="store_true", help="skip the KMS/Secrets/Cognito part")
    parser.add_argument("--parse-only", action="store_true", help="only measure the parse time of dags/")
    args = parser.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.pop("AWS_ENDPOINT_URL", None)

    if args.parse_only:
        print(f"dags/ parse with {args.parse_playbooks} playbooks: {json.dumps(bench_parse(args.parse_playbooks, 10))}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.yaml"
        path.write_text(yaml.safe_dump(generate_playbook(args.roles, args.policies)))
        n = args.roles + args.policies
        print(f"# converge benchmark: {args.roles} roles + {args.policies} policies = {n} resources")
        results = bench_engine(path)
        for label, r in results.items():
            print(f"{label:12s}: {r['seconds']:7.2f} s  {r['calls']:5d} API calls ({r['calls_per_resource']} per "
                  f"resource), {r['writes']} writes, {r['counts']}")
        print("no-op by operation:", json.dumps(results["no-op apply"]["by_operation"], sort_keys=True))
        if not args.skip_dag:
            dag = bench_dag(path, "bench", n)
            print(f"airflow dags test: {dag['seconds']} s for {dag['tasks']} tasks "
                  f"({dag['seconds_per_task']} s per task), exit {dag['returncode']}")
    if not args.skip_services:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "svc.yaml"
            path.write_text(yaml.safe_dump(generate_services_playbook(args.keys, args.secrets, args.pools)))
            print(f"# services: {args.keys} KMS keys, {args.secrets} secrets, {args.pools} user pools + clients")
            svc = bench_services(path)
            for label in ("first apply", "no-op apply", "check mode"):
                r = svc[label]
                print(f"{label:12s}: {r['seconds']:7.2f} s  {r['calls']:5d} API calls, {r['writes']} writes, "
                      f"{r['counts']}")
            v = svc["verify rotation"]
            print(f"verify rotation: {v['seconds']} s, {v['calls']} API calls for {v['secrets']} secrets "
                  f"({v['calls_per_secret']} per secret), {v['statuses']}")
            print("verify by operation:", json.dumps(v["by_operation"], sort_keys=True))
    if args.parse_playbooks:
        parse = bench_parse(args.parse_playbooks, 10)
        print(f"dags/ parse with {args.parse_playbooks} playbooks: {json.dumps(parse)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
