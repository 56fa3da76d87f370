"""Benchmark the policy validator. Prints figures, asserts nothing about time.

Measures, in one process:
  1. the cold start of the IAM service reference (the first policy that names a service reads its
     data; a fresh interpreter measures it);
  2. every AWS-managed policy that moto bundles (over 1 500 real documents) through the
     validator, in documents per second, with the count of each finding code;
  3. ``iamflow lint`` of a 250-resource playbook (the generated playbook of bench/converge.py:
     200 roles, 50 managed policies), load and validation together.

Usage: python bench/lint.py [--roles 200] [--policies 50]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

COLD_START = """
import time
t0 = time.perf_counter()
from iamflow.policy.validate import validate_document
t1 = time.perf_counter()
validate_document({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                   "Resource": "arn:aws:s3:::b/*"}]}, "managed")
t2 = time.perf_counter()
print(f"{(t1 - t0) * 1000:.0f} {(t2 - t1) * 1000:.0f}")
"""


def managed_policies() -> dict[str, dict]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    out: dict[str, dict] = {}
    for name, policy in json.loads(aws_managed_policies_data).items():
        doc = policy["Document"]
        out[name] = json.loads(doc) if isinstance(doc, str) else doc
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--roles", type=int, default=200)
    parser.add_argument("--policies", type=int, default=50)
    args = parser.parse_args()

    out = subprocess.run([sys.executable, "-c", COLD_START], capture_output=True, text=True, check=True)
    import_ms, first_ms = out.stdout.split()
    print(f"catalog cold start: import {import_ms} ms, first document (reads the s3 service) {first_ms} ms")

    import dataclasses

    from iamflow.policy.doctypes import document_type
    from iamflow.policy.validate import validate_document

    # the 6 144-character limit is the quota of customer managed policies; AWS's own are not held to it
    aws_managed = dataclasses.replace(document_type("managed"), max_chars=None)
    docs = managed_policies()
    counts: Counter[str] = Counter()
    t0 = time.perf_counter()
    for doc in docs.values():
        counts.update(f.code for f in validate_document(doc, aws_managed))
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    for doc in docs.values():
        validate_document(doc, aws_managed)
    warm = time.perf_counter() - t0
    print(f"AWS-managed policies: {len(docs)} documents; first pass {first:.2f} s ({len(docs) / first:.0f} docs/s, "
          f"reads every service it names), warm pass {warm:.2f} s ({len(docs) / warm:.0f} docs/s)")
    from iamflow.policy.findings import CODES

    for code, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {n:5d}  {code} ({CODES[code].severity})")

    from bench.converge import generate_playbook

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.yaml"
        path.write_text(yaml.safe_dump(generate_playbook(args.roles, args.policies)))
        resources = args.roles + args.policies
        t0 = time.perf_counter()
        run = subprocess.run([sys.executable, "-m", "iamflow.cli", "lint", str(path)], capture_output=True, text=True)
        cli = time.perf_counter() - t0
        from iamflow.spec.loader import check_playbook

        t0 = time.perf_counter()
        result = check_playbook(path)
        in_process = time.perf_counter() - t0
    status = "ok" if run.returncode == 0 else f"exit {run.returncode}: {run.stderr.strip()[-300:]}"
    print(f"lint of a {resources}-resource playbook: {in_process:.2f} s in process "
          f"({len(result.problems)} problems), {cli:.2f} s as `iamflow lint` (a new process, {status})")


if __name__ == "__main__":
    main()
