"""Parameter Store checks: PASS, FAIL and ERROR on hand-built snapshots; the setting selects what is judged."""

from __future__ import annotations

from typing import Any

import pytest
from compliance_builders import ACCOUNT, REGION, config, run, snapshot, statuses

from iamflow.compliance.checks import ssm
from iamflow.compliance.config import ComplianceConfig, ComplianceConfigError
from iamflow.compliance.findings import ERROR, FAIL, PASS
from iamflow.compliance.snapshot import KMS_KEYS, SSM_PARAMETERS, KmsKey, SsmParameter

CMK = KmsKey("1234abcd-0000-0000-0000-000000000001", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-0000-0000-0000-"
             "000000000001", state="Enabled", manager="CUSTOMER", spec="SYMMETRIC_DEFAULT", usage="ENCRYPT_DECRYPT",
             origin="AWS_KMS", aliases=("alias/myapp-data-key",))
AWS_KEY = KmsKey("aaaa0000-0000-0000-0000-000000000002", f"arn:aws:kms:{REGION}:{ACCOUNT}:key/aaaa0000-0000-0000-0000-"
                 "000000000002", state="Enabled", manager="AWS", spec="SYMMETRIC_DEFAULT", usage="ENCRYPT_DECRYPT",
                 origin="AWS_KMS", aliases=("alias/aws/ssm",))
EVERY = config(parameters={"customer_managed_key_required": {"paths": ["/"]}})


def param(name: str, type_: str = "SecureString", **kwargs: Any) -> SsmParameter:
    return SsmParameter(name, f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{name}", type_, **kwargs)


def test_securestrings_with_a_customer_key_pass_and_with_the_aws_key_fail() -> None:
    snap = snapshot(kms_keys=[CMK, AWS_KEY], ssm_parameters=[
        param("/a/by-alias-arn", key_id=f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/myapp-data-key"),
        param("/a/by-key-id", key_id=CMK.key_id),
        param("/a/default", key_id="alias/aws/ssm"),
        param("/a/aws-key-by-id", key_id=AWS_KEY.arn),
        param("/a/other-account", key_id="arn:aws:kms:eu-west-1:999999999999:key/abc"),
        param("/a/unknown-alias", key_id="alias/nowhere"),
        param("/a/plain", "String"),
    ])
    assert statuses(run(ssm.ssm_securestring_parameter_customer_managed_key, snap, EVERY)) == {
        "/a/by-alias-arn": PASS, "/a/by-key-id": PASS, "/a/default": FAIL, "/a/aws-key-by-id": FAIL,
        "/a/other-account": PASS, "/a/unknown-alias": ERROR}


def test_only_what_the_setting_selects_is_judged() -> None:
    snap = snapshot(kms_keys=[AWS_KEY], ssm_parameters=[param("/myapp/x", key_id="alias/aws/ssm"),
                                                        param("/other/y", key_id="alias/aws/ssm")])
    only_myapp = config(parameters={"customer_managed_key_required": {"name_patterns": ["/myapp/.*"]}})
    assert statuses(run(ssm.ssm_securestring_parameter_customer_managed_key, snap, only_myapp)) == {"/myapp/x": FAIL}
    assert run(ssm.ssm_securestring_parameter_customer_managed_key, snap, ComplianceConfig()) == []


def test_the_setting_refuses_tags_and_bad_regexes() -> None:
    with pytest.raises(ComplianceConfigError, match="unknown key"):
        config(parameters={"customer_managed_key_required": {"tags": {"a": "b"}}})
    with pytest.raises(ComplianceConfigError, match="bad regex"):
        config(parameters={"customer_managed_key_required": {"name_patterns": ["("]}})


def test_plain_parameters_named_or_valued_like_secrets_fail_without_the_value() -> None:
    snap = snapshot(ssm_parameters=[
        param("/app/db/password", "String"),
        param("/app/aws", "StringList", value_findings=("looks like a hard-coded AWS access key id",)),
        param("/app/db/host", "String"),
        param("/app/broken", "String", errors={"GetParameters": "AccessDeniedException: no"}),
        param("/app/secret", "SecureString"),
    ])
    findings = run(ssm.ssm_string_parameter_no_secrets, snap)
    assert statuses(findings) == {"/app/db/password": FAIL, "/app/aws": FAIL, "/app/db/host": PASS,
                                  "/app/broken": ERROR}
    by_id = {f.resource_id: f for f in findings}
    assert "'password'" in by_id["/app/db/password"].message
    assert "AWS access key id" in by_id["/app/aws"].message


@pytest.mark.parametrize(("check", "step"), [
    (ssm.ssm_securestring_parameter_customer_managed_key, SSM_PARAMETERS),
    (ssm.ssm_securestring_parameter_customer_managed_key, KMS_KEYS),
    (ssm.ssm_string_parameter_no_secrets, SSM_PARAMETERS),
])
def test_a_failed_collection_is_an_error(check: Any, step: str) -> None:
    snap = snapshot(kms_keys=[], ssm_parameters=[], errors={step: "AccessDeniedException: denied"})
    findings = run(check, snap, EVERY)
    assert [f.status for f in findings] == [ERROR] and step in findings[0].message


def test_the_shipped_setting_asks_every_hierarchical_parameter() -> None:
    shipped = ComplianceConfig.load()
    assert shipped.cmk_required_parameters.matches("/myapp/database/password", "/myapp/database/password", {})
