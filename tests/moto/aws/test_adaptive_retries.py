"""Throttling: adaptive retries for reads and idempotent writes, creates retried only on a refusal.

The fault injector throttles 30% of every send (each retry attempt is a send, as against AWS).
A whole playbook still converges without a failure, makes exactly one object per create (KMS keys
and user pools have no idempotent name), and the next run is a no-op.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from iamflow.aws.clients import MAX_ATTEMPTS, AwsClients, CallLog, is_rate_limited, use_adaptive_retries
from iamflow.aws.errors import is_transient
from iamflow.engine import CHANGED, OK, run_playbook
from iamflow.spec.loader import load_playbook
from tests.helpers.faults import lose_nth_write, throttle_fraction

pytestmark = pytest.mark.usefixtures("aws", "no_retry_delay")

TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                 "Action": "sts:AssumeRole"}]}


@pytest.fixture(autouse=True)
def bucket_waits(monkeypatch: pytest.MonkeyPatch, no_retry_delay: None) -> list[float]:
    """Count the adaptive rate limiter's token requests instead of waiting for them (as no_retry_delay).

    botocore only asks its token bucket once a client has been throttled: a count above zero means
    the client slowed itself down.
    """
    import botocore.retries.bucket

    waits: list[float] = []

    def acquire(self: Any, amount: float = 1, block: bool = True) -> bool:
        waits.append(amount)
        return True

    monkeypatch.setattr(botocore.retries.bucket.TokenBucket, "acquire", acquire)
    return waits


def _playbook(tmp_path: Path, roles: int = 6) -> Path:
    resources: list[dict[str, Any]] = [
        {"kind": "iam_managed_policy", "name": f"thr-policy-{i}", "document": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::thr-{i}/*"}]}}
        for i in range(2)
    ]
    resources += [{"kind": "iam_role", "name": f"thr-role-{i}", "trust_policy": TRUST,
                   "managed_policies": [f"thr-policy-{i % 2}"], "tags": {"Team": "t"}} for i in range(roles)]
    resources += [{"kind": "kms_key", "name": "thr-key", "description": "throttled", "rotation": True},
                  {"kind": "cognito_user_pool", "name": "thr-pool", "mfa": "OFF"}]
    path = tmp_path / "thr.yaml"
    path.write_text(json.dumps({"name": "thr", "resources": resources}))  # JSON is YAML, without anchors
    return path


def _clients(log: CallLog | None = None) -> AwsClients:
    return AwsClients.from_boto3(boto3.Session(region_name="us-east-1"), call_log=log)


def test_configured_retries_are_kept() -> None:
    from botocore.config import Config

    session = boto3.Session(region_name="us-east-1")
    chosen = AwsClients(lambda s: session.client(s, config=Config(retries={"mode": "standard", "max_attempts": 1})))
    assert not use_adaptive_retries(session.client("sts", config=Config(retries={"mode": "standard", "max_attempts": 1})))
    throttle = throttle_fraction(chosen, 1.0)
    with pytest.raises(ClientError, match="Throttling"):
        chosen.client("sts").get_caller_identity()
    assert throttle.sends == 2, "the factory's own retry policy (1 retry) is kept"


def test_reads_are_retried_up_to_max_attempts(bucket_waits: list[float]) -> None:
    clients = _clients()
    clients.client("iam").list_roles()
    assert bucket_waits == [], "no throttling yet: the rate limiter stays out of the way"
    throttle = throttle_fraction(clients, 1.0)
    with pytest.raises(ClientError) as caught:
        clients.client("iam").list_roles()
    assert throttle.sends == MAX_ATTEMPTS
    assert is_transient(caught.value)


def test_iam_rate_based_limit_exceeded_is_throttling_but_a_quota_is_not() -> None:
    assert is_rate_limited("LimitExceeded", "Rate exceeded")
    assert not is_rate_limited("LimitExceeded", "Cannot exceed quota for PoliciesPerRole: 10")
    rate = _clients()
    throttle = throttle_fraction(rate, 1.0, code="LimitExceeded", message="Rate exceeded")
    with pytest.raises(ClientError) as caught:
        rate.client("iam").list_roles()
    assert throttle.sends == MAX_ATTEMPTS and caught.value.response["Error"]["Code"] == "Throttling"
    assert caught.value.response["Error"]["IamflowOriginalCode"] == "LimitExceeded"
    quota = _clients()
    refused = throttle_fraction(quota, 1.0, code="LimitExceeded", message="Cannot exceed quota for RolesPerAccount")
    with pytest.raises(ClientError) as caught:
        quota.client("iam").create_role(RoleName="q", AssumeRolePolicyDocument="{}")
    assert refused.sends == 1, "a quota is not lifted by asking again"
    assert caught.value.response["Error"]["Code"] == "LimitExceeded" and not is_transient(caught.value)


def test_a_create_is_retried_on_throttling_only() -> None:
    clients = _clients()
    kms = clients.client("kms", retries=False)
    throttle = throttle_fraction(clients, 1.0)
    with pytest.raises(ClientError, match="ThrottlingException"):
        kms.create_key(Description="x")
    assert throttle.sends == MAX_ATTEMPTS, "a throttled request was refused, not done: sending it again is safe"
    throttle.active = False
    assert boto3.client("kms", region_name="us-east-1").list_keys()["Keys"] == []
    lost = lose_nth_write(clients, 1, "read-timeout")
    with pytest.raises(Exception, match="timeout"):
        kms.create_key(Description="y")
    assert lost.attempts == 1, "no answer: the create may have been done, so it is never sent again"


def test_a_playbook_converges_under_30_percent_throttling(tmp_path: Path, bucket_waits: list[float]) -> None:
    playbook = load_playbook(_playbook(tmp_path))
    log = CallLog()
    clients = _clients(log)
    throttle = throttle_fraction(clients, 0.3)
    play = run_playbook(clients, playbook, workers=4)
    assert [r.resource for r in play.results if r.status != CHANGED] == []
    assert throttle.throttled >= 0.2 * throttle.sends and throttle.throttled > 10
    assert bucket_waits, "the adaptive rate limiter engaged"
    keys = boto3.client("kms", region_name="us-east-1").list_keys()["Keys"]
    pools = boto3.client("cognito-idp", region_name="us-east-1").list_user_pools(MaxResults=10)["UserPools"]
    assert len(keys) == 1 and len(pools) == 1, "throttled creates were retried without making a second object"
    again_log = CallLog()
    again = _clients(again_log)
    throttle_fraction(again, 0.3, seed=15)
    second = run_playbook(again, playbook, workers=4)
    assert {r.status for r in second.results} == {OK}
    assert again_log.writes() == []
