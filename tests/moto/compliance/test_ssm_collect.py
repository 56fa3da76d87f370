"""Parameter Store in the sweep against in-process moto: values judged and dropped, never reported."""

from __future__ import annotations

import json

import boto3
from compliance_moto_helpers import Sleeps

from iamflow.compliance.config import ComplianceConfig
from iamflow.compliance.findings import ERROR, FAIL, PASS
from iamflow.compliance.sweep import sweep_account
from tests.helpers.faults import throttle_first

ACCOUNT = "123456789012"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
CHECKS = ("ssm_securestring_parameter_customer_managed_key", "ssm_string_parameter_no_secrets")


def _seed() -> str:
    ssm = boto3.client("ssm", region_name="us-east-1")
    key = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["Arn"]
    ssm.put_parameter(Name="/app/db/password", Type="SecureString", Value="s3cr3t-value-1", KeyId=key)
    ssm.put_parameter(Name="/app/api/token", Type="SecureString", Value="s3cr3t-value-2")
    ssm.put_parameter(Name="/app/db/host", Type="String", Value="db.internal")
    ssm.put_parameter(Name="/app/aws/credentials", Type="String", Value="placeholder")
    ssm.put_parameter(Name="/app/deploy/env", Type="String", Value=f"AWS_SECRET_ACCESS_KEY={AWS_SECRET}")
    return key


def _sweep(clients, now):
    findings = sweep_account(clients, ACCOUNT, ComplianceConfig.load(), None, now, sleep=Sleeps())
    return [f for f in findings if f.check_id in CHECKS]


def test_parameters_are_judged_and_no_value_reaches_a_finding(clients, now) -> None:
    _seed()
    findings = _sweep(clients, now)
    got = {(f.check_id, f.resource_id): f.status for f in findings}
    assert got == {
        ("ssm_securestring_parameter_customer_managed_key", "/app/db/password"): PASS,
        ("ssm_securestring_parameter_customer_managed_key", "/app/api/token"): FAIL,
        ("ssm_string_parameter_no_secrets", "/app/db/host"): PASS,
        ("ssm_string_parameter_no_secrets", "/app/aws/credentials"): FAIL,
        ("ssm_string_parameter_no_secrets", "/app/deploy/env"): FAIL,
    }
    text = json.dumps([f.to_dict() for f in findings], default=str)
    for value in (AWS_SECRET, "s3cr3t-value-1", "s3cr3t-value-2"):
        assert value not in text
    # a SecureString's value is never read
    assert all(op != "GetParameter" for _s, op in clients.call_log.calls)


def test_a_refused_value_read_is_an_error_and_a_refused_listing_errors_both_checks(clients, now) -> None:
    _seed()
    throttle_first(clients.client("ssm"), 100, operation="GetParameters", code="AccessDeniedException")
    findings = _sweep(clients, now)
    plain = {f.resource_id: f.status for f in findings if f.check_id == "ssm_string_parameter_no_secrets"}
    # a name that says "secret" fails without the value; the others cannot be judged
    assert plain == {"/app/db/host": ERROR, "/app/aws/credentials": FAIL, "/app/deploy/env": ERROR}
    throttle_first(clients.client("ssm"), 100, operation="DescribeParameters", code="AccessDeniedException")
    findings = _sweep(clients, now)
    assert {f.check_id: f.status for f in findings} == dict.fromkeys(CHECKS, ERROR)
