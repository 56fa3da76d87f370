"""Every AWS-managed policy moto bundles (over 1 500 real documents) through the validator.

AWS wrote and accepted each of these documents, so none may produce an ``error`` from the grammar or
the catalog: such an error would be the validator's mistake, and the same mistake would refuse a
user's correct policy. The exceptions are iamflow's own legacy rules, which are errors by iamflow's
stance and waivable, not AWS's grammar: ``AdministratorAccess`` and its like really do grant
``*:*`` (``allow-star-star``), service-role policies really do pass any role (``passrole-star``),
and a few use ``NotAction`` with Allow on purpose (``allow-not-action``). The counts of every code
are printed (``pytest -s``), as ``bench/lint.py`` prints them.

One limit does not apply: the 6 144 characters of a managed policy is the quota of *customer*
managed policies. AWS's own are not held to it (``ReadOnlyAccess`` is over 90 000), so they are
validated as managed policies without a size limit.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from functools import lru_cache
from typing import Any

import pytest

from iamflow.policy.doctypes import document_type
from iamflow.policy.findings import CODES, ERROR
from iamflow.policy.validate import validate_document

# iamflow's own stance, waivable, and true of these documents (see the module docstring)
STANCE_RULES = {"allow-star-star", "passrole-star", "allow-not-action"}
AWS_MANAGED = dataclasses.replace(document_type("managed"), max_chars=None)


@lru_cache(maxsize=1)
def managed_policies() -> dict[str, Any]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    out: dict[str, Any] = {}
    for name, policy in json.loads(aws_managed_policies_data).items():
        doc = policy["Document"]
        out[name] = json.loads(doc) if isinstance(doc, str) else doc
    return out


def test_moto_bundles_over_a_thousand_real_policies() -> None:
    assert len(managed_policies()) > 1000


def test_the_size_limit_is_that_of_customer_managed_policies() -> None:
    doc = managed_policies()["ReadOnlyAccess"]
    assert "policy-too-large" in {f.code for f in validate_document(doc, "managed")}
    assert "policy-too-large" not in {f.code for f in validate_document(doc, AWS_MANAGED)}


def test_no_aws_managed_policy_has_an_error_of_the_grammar_or_the_catalog() -> None:
    counts: Counter[str] = Counter()
    errors: list[str] = []
    for name, doc in managed_policies().items():
        for f in validate_document(doc, AWS_MANAGED, own_account=None):
            counts[f.code] += 1
            if f.severity == ERROR and f.code not in STANCE_RULES:
                errors.append(f"{name}: {f.where}: [{f.code}] {f.message}")
    print("\nfindings on the AWS-managed policies, by code:")
    for code, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {n:5d}  {code} ({CODES[code].severity})")
    assert errors == [], f"{len(errors)} errors, the first ones:\n" + "\n".join(errors[:40])


@pytest.mark.parametrize("name", ["AdministratorAccess", "ReadOnlyAccess", "AmazonS3ReadOnlyAccess",
                                  "AWSLambdaBasicExecutionRole", "AmazonDynamoDBReadOnlyAccess"])
def test_well_known_policies_are_known_to_moto(name: str) -> None:
    """The policies the onboarding config offers (and the admin one) are among the bundled documents."""
    assert "Statement" in managed_policies()[name]


def test_administrator_access_is_flagged_by_iamflow_stance_only() -> None:
    codes = {f.code for f in validate_document(managed_policies()["AdministratorAccess"], AWS_MANAGED)}
    assert "allow-star-star" in codes
    assert {c for c in codes if CODES[c].severity == ERROR} <= STANCE_RULES
