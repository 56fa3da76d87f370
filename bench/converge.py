"""Benchmark the converge engine: 200 roles and 50 managed policies against in-process moto.

Prints figures, asserts nothing about time. Measures:
  1. first apply, no-op second apply (must make 0 writes) and check mode: wall time, API calls
     (with ``--latency-ms N``, every request first waits N ms, as a far-away AWS endpoint would);
  2. against one moto server, side by side: the CLI (``iamflow apply``, its own process) and the
     same playbook as an Airflow DAG under ``airflow dags test`` (batched past the playbook's
     ``batch_threshold``), wall time, tasks, the DAG/CLI ratio, the recap's totals;
  3. with ``--standalone``, the DAG once more under a running scheduler (``airflow standalone``,
     LocalExecutor): from trigger to the run's end;
  4. the parse time of ``dags/`` (DagBag) with 20 playbooks.

Usage: python bench/converge.py [--roles 200] [--policies 50] [--skip-dag] [--latency-ms 50]
       [--workers 4] [--task-grouping auto] [--standalone] [--parse-playbooks 20]
2 000 resources: python bench/converge.py --roles 1600 --policies 400 --skip-services --parse-playbooks 0
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


def generate_playbook(roles: int, policies: int, name: str = "bench", grouping: str | None = None) -> dict:
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
    doc = {"name": name, "description": f"Generated: {roles} roles, {policies} policies.", "resources": resources}
    if grouping:
        doc["task_grouping"] = grouping
    return doc


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
    from tests.helpers.moto import serialize_in_process_moto
    from tools.demo_seed import seed_rotation_lambda

    out: dict = {}
    playbook = load_playbook(path)
    serialize_in_process_moto()  # as AWS, never moto's concurrency errors
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


def add_latency(clients: object, seconds: float) -> None:
    """Make every request of ``clients`` wait ``seconds`` before it is sent (each retry attempt too)."""

    def hook(_service: str, client: object) -> None:
        def wait(**_: object) -> None:
            time.sleep(seconds)

        client.meta.events.register_first("before-send", wait, unique_id="bench-latency")  # type: ignore[attr-defined]

    clients.add_client_hook(hook)  # type: ignore[attr-defined]


def bench_engine(path: Path, *, latency_ms: float = 0.0, workers: int = 4) -> dict:
    from moto import mock_aws

    from iamflow.aws.clients import AwsClients, CallLog
    from iamflow.engine import run_playbook
    from iamflow.spec.loader import load_playbook
    from tests.helpers.moto import serialize_in_process_moto

    out: dict = {}
    playbook = load_playbook(path)
    serialize_in_process_moto()  # as AWS, never moto's concurrency errors
    with mock_aws():
        for label, check in (("first apply", False), ("no-op apply", False), ("check mode", True)):
            log = CallLog()
            clients = AwsClients.from_boto3(call_log=log, region="us-east-1")
            if latency_ms:
                add_latency(clients, latency_ms / 1000)
            start = time.perf_counter()
            play = run_playbook(clients, playbook, check_mode=check, workers=workers)
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


def _recap_totals(output: str) -> str:
    lines = [line.split(" [", 1)[0].strip() for line in output.splitlines() if line.lstrip().startswith("TOTAL ")]
    return lines[-1] if lines else "no recap in the output"


def _count_tasks(path: Path) -> int:
    from iamflow.airflow.dag_factory import build_playbook_dags

    return sum(len(dag.tasks) for dag in build_playbook_dags(path.parent).values())


PHASES = ("first apply", "no-op apply", "check mode")


def bench_server(roles: int, policies: int, *, grouping: str | None, workers: int, skip_dag: bool,
                 standalone: bool, log_dir: Path | None = None, phases: tuple[str, ...] = PHASES) -> dict:
    """The CLI and the DAG against one moto server (each its own resources, so both create everything)."""
    from iamflow.aws.local import LocalAws

    out: dict = {}
    airflow = [sys.executable, "-m", "airflow"]
    with tempfile.TemporaryDirectory() as tmp, LocalAws(port=0) as aws:
        home, pbdir, clidir = Path(tmp) / "home", Path(tmp) / "playbooks", Path(tmp) / "cli"
        pbdir.mkdir()
        clidir.mkdir()
        cli_path = clidir / "cli.yaml"
        cli_path.write_text(yaml.safe_dump(generate_playbook(roles, policies, name="cli")))
        env = _airflow_env(home, pbdir, aws.endpoint_url)
        env.pop("AWS_PROFILE", None)
        for label, extra in (("first apply", []), ("no-op apply", []), ("check mode", ["--check"])):
            if label not in phases:
                continue
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "iamflow.cli", "apply", str(cli_path), "--workers",
                                   str(workers), *extra], env=env, capture_output=True, text=True)
            out[f"cli {label}"] = {"seconds": round(time.perf_counter() - start, 2), "returncode": proc.returncode,
                                   "recap": _recap_totals(proc.stdout)}
            print(f"  (cli {label}: {out[f'cli {label}']['seconds']} s)", flush=True)
        if skip_dag:
            return out
        dag_path = pbdir / "dag.yaml"
        dag_path.write_text(yaml.safe_dump(generate_playbook(roles, policies, name="dag", grouping=grouping)))
        tasks = _count_tasks(dag_path)
        env["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "INFO"  # the recap's TOTAL line is an INFO event
        subprocess.run([*airflow, "db", "migrate"], env=env, check=True, capture_output=True)
        for label, conf in (("first apply", {}), ("no-op apply", {}), ("check mode", {"check_mode": True})):
            if label not in phases:
                continue
            start = time.perf_counter()
            # --dagfile-path: parse only the playbooks' DAG file, as tools/demo.py does
            proc = subprocess.run([*airflow, "dags", "test", "playbook_dag", "--conf", json.dumps(conf),
                                   "--dagfile-path", str(ROOT / "dags" / "playbooks.py")],
                                  env=env, capture_output=True, text=True)
            seconds = time.perf_counter() - start
            if log_dir:
                log_dir.mkdir(parents=True, exist_ok=True)
                (log_dir / f"dag-{label.replace(' ', '-')}.log").write_text(proc.stdout + proc.stderr)
            out[f"dag {label}"] = {"seconds": round(seconds, 1), "tasks": tasks, "returncode": proc.returncode,
                                   "seconds_per_task": round(seconds / tasks, 3),
                                   "recap": _recap_totals(proc.stdout + proc.stderr)}
            print(f"  (dag {label}: {out[f'dag {label}']['seconds']} s)", flush=True)
        if standalone:
            standalone_path = pbdir / "sched.yaml"
            standalone_path.write_text(yaml.safe_dump(generate_playbook(roles, policies, name="sched",
                                                                        grouping=grouping)))
            out["standalone"] = bench_standalone(env, home, "playbook_sched")
    return out


def bench_standalone(env: dict[str, str], home: Path, dag_id: str, timeout: float = 900.0) -> dict:
    """Trigger ``dag_id`` under ``airflow standalone`` (LocalExecutor) and time it from trigger to end."""
    import socket
    import sqlite3
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**env, "AIRFLOW__CORE__EXECUTOR": "LocalExecutor", "AIRFLOW__API__PORT": str(port),
           # the task runners report to the api-server's execution API: on this port, not 8080's
           "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
           # only the benchmarked DAG runs (it is unpaused below); the shipped DAGs' schedules stay off
           "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True", "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
           "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
           # standalone starts its components as `airflow ...` from PATH: this interpreter's
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])}
    airflow = [sys.executable, "-m", "airflow"]
    log = open(home / "standalone.log", "w")  # noqa: SIM115 - closed below
    started = time.perf_counter()
    proc = subprocess.Popen([*airflow, "standalone"], env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    db = home / "airflow.db"

    def query(sql: str, *args: object) -> list[tuple]:
        with sqlite3.connect(db, timeout=30) as conn:
            return conn.execute(sql, args).fetchall()

    try:
        while time.perf_counter() - started < timeout:  # the api-server answers and the DAG is parsed
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=5)
                if query("select 1 from dag where dag_id = ?", dag_id):
                    break
            except Exception:
                pass
            time.sleep(2)
        else:
            return {"error": f"standalone not ready after {timeout:.0f} s (see {home / 'standalone.log'})"}
        ready = time.perf_counter() - started
        subprocess.run([*airflow, "dags", "unpause", dag_id], env=env, check=True, capture_output=True)
        subprocess.run([*airflow, "dags", "trigger", dag_id], env=env, check=True, capture_output=True)
        triggered = time.perf_counter()
        while time.perf_counter() - triggered < timeout:
            rows = query("select state, start_date, end_date from dag_run where dag_id = ?", dag_id)
            if rows and rows[-1][0] in ("success", "failed"):
                break
            time.sleep(1)
        wall = time.perf_counter() - triggered
        state, run_start, run_end = rows[-1] if rows else ("none", None, None)
        span = None
        if run_start and run_end:
            from datetime import datetime

            span = round((datetime.fromisoformat(str(run_end)) - datetime.fromisoformat(str(run_start)))
                         .total_seconds(), 1)
        counts: object = None
        try:  # the recap's return value: what the run did, as its TOTAL line counts it
            found = query("select value from xcom where dag_id = ? and task_id = 'recap' and key = 'return_value'",
                          dag_id)
            counts = json.loads(found[-1][0]).get("counts") if found else None
        except Exception as exc:  # the timing stands without it
            counts = f"unreadable: {exc}"
        return {"startup_seconds": round(ready, 1), "trigger_to_end_seconds": round(wall, 1),
                "run_seconds": span, "state": state, "recap_counts": counts}
    finally:
        from tools.demo import stop_process_group

        stop_process_group(proc, grace=60.0)  # standalone's components are its children
        log.close()


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


def print_server(args: argparse.Namespace) -> None:
    """Run and print the moto-server part: the CLI and the DAG side by side."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"## moto server: CLI and DAG side by side ({args.workers} workers; {os.cpu_count()} CPUs, "
          f"load average {load})")
    server = bench_server(args.roles, args.policies, grouping=args.task_grouping, workers=args.workers,
                          skip_dag=args.skip_dag, standalone=args.standalone, log_dir=args.log_dir,
                          phases=tuple(p for p in PHASES if p.split()[0] in args.phases.split(",")))
    for label in PHASES:
        cli = server.get(f"cli {label}")
        if not cli:
            continue
        print(f"cli {label:12s}: {cli['seconds']:7.2f} s, exit {cli['returncode']}, {cli['recap']}")
    for label in PHASES:
        dag = server.get(f"dag {label}")
        if dag:
            ratio = dag["seconds"] / max(server[f"cli {label}"]["seconds"], 0.01)
            print(f"dag {label:12s}: {dag['seconds']:7.1f} s for {dag['tasks']} tasks ({dag['seconds_per_task']} s "
                  f"per task), {ratio:.1f}x the CLI, exit {dag['returncode']}, {dag['recap']}")
    if "standalone" in server:
        print(f"airflow standalone (LocalExecutor): {json.dumps(server['standalone'])}")


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
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay before every request (in-process part)")
    parser.add_argument("--workers", type=int, default=4, help="resources converged at once (the engine's threads)")
    parser.add_argument("--task-grouping", choices=("auto", "per_resource", "batched"), default=None,
                        help="the DAG's task_grouping (the playbook's default, auto, when not given)")
    parser.add_argument("--standalone", action="store_true", help="also time the DAG under airflow standalone")
    parser.add_argument("--skip-engine", action="store_true", help="skip the in-process engine part")
    parser.add_argument("--skip-server", action="store_true", help="skip the moto server part (CLI and DAG)")
    parser.add_argument("--log-dir", type=Path, default=None, help="keep each airflow dags test output here")
    parser.add_argument("--phases", default="first,no-op,check",
                        help="which runs the moto-server part makes (comma-separated: first, no-op, check)")
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
        if not args.skip_engine:
            where = f"in-process moto, {args.latency_ms:g} ms before every request" if args.latency_ms \
                else "in-process moto"
            print(f"## engine ({where}, {args.workers} workers)")
            results = bench_engine(path, latency_ms=args.latency_ms, workers=args.workers)
            for label, r in results.items():
                print(f"{label:12s}: {r['seconds']:7.2f} s  {r['calls']:5d} API calls ({r['calls_per_resource']} "
                      f"per resource), {r['writes']} writes, {r['counts']}")
            print("no-op by operation:", json.dumps(results["no-op apply"]["by_operation"], sort_keys=True))
        if not args.skip_server:
            print_server(args)
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
