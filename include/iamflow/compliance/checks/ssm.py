"""Parameter Store: SecureStrings under a customer-managed key, and no secret in a plain String parameter.

AWS facts: a SecureString is encrypted with a KMS key, ``alias/aws/ssm`` (AWS-managed) unless
``KeyId`` names another. An AWS-managed key's policy cannot be changed: whoever holds
``ssm:GetParameter`` with decryption in the account reads the value, and the key cannot be shared
or restricted; a customer-managed key's policy decides who may decrypt. A ``String`` or
``StringList`` parameter is stored in plain text, readable by anyone with ``ssm:GetParameter``
and shown in the console: a secret does not belong there.

Which SecureStrings must use a customer-managed key is a setting
(``parameters.customer_managed_key_required`` in ``include/compliance.yaml``: name prefixes and
name regexes); a parameter it does not select is not judged. A String's value is judged by the
collector and dropped: findings say what the value looks like, never what it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from iamflow.compliance.config import ComplianceConfig
from iamflow.compliance.findings import Result, errored, failed, passed
from iamflow.compliance.registry import check
from iamflow.compliance.snapshot import KMS_KEYS, SSM_PARAMETERS, KmsKey, Snapshot, SsmParameter
from iamflow.policy.lint import is_secret_key

AWS_MANAGED_ALIAS = "alias/aws/"


def _fields(p: SsmParameter) -> dict[str, object]:
    return {"resource_id": p.name, "parameter_type": p.type, "tier": p.tier}


def _key_is_customer_managed(key_id: str | None, keys: list[KmsKey]) -> bool | None:
    """True for a customer-managed key, False for an AWS-managed one, None when it cannot be told."""
    if not key_id or AWS_MANAGED_ALIAS in key_id:
        return False
    for key in keys:
        names = {key.key_id, key.arn, *key.aliases,
                 *(f"{key.arn.rsplit(':', 1)[0]}:{a}" for a in key.aliases)}
        if key_id in names:
            return key.is_customer_managed
    # a key of another account (AWS-managed keys never are) or an alias not listed here
    return True if key_id.startswith("arn:") and ":key/" in key_id else None


@check(
    title="SecureString parameters use a customer-managed KMS key",
    severity="medium",
    description="Every SecureString parameter that parameters.customer_managed_key_required selects is encrypted "
    "with a customer-managed KMS key, whose key policy (not only IAM) decides who may decrypt it.",
    remediation="Re-create the value with PutParameter --overwrite --key-id <customer-managed key> (iamflow: "
    "ssm_parameter kms_key), and grant decryption in that key's policy.",
    needs=(SSM_PARAMETERS, KMS_KEYS),
    service="ssm",
    resource_type="AwsSsmParameter",
)
def ssm_securestring_parameter_customer_managed_key(snapshot: Snapshot, config: ComplianceConfig,
                                                    now: datetime) -> Iterator[Result]:
    """PASS or FAIL per selected SecureString; ERROR when its key cannot be told apart."""
    assert snapshot.ssm_parameters is not None and snapshot.kms_keys is not None
    selector = config.cmk_required_parameters
    for p in snapshot.ssm_parameters:
        if p.type != "SecureString" or not selector.matches(p.name, p.name, {}):
            continue
        verdict = _key_is_customer_managed(p.key_id, snapshot.kms_keys)
        if verdict is None:
            yield errored(p.arn, f"SecureString {p.name}: whether key {p.key_id} is customer-managed is unknown "
                          "(it is not among the region's keys).", **_fields(p))
        elif verdict:
            yield passed(p.arn, f"SecureString {p.name} is encrypted with the customer-managed key {p.key_id}.",
                         **_fields(p))
        else:
            yield failed(p.arn, f"SecureString {p.name} is encrypted with the AWS-managed key "
                         f"{p.key_id or 'alias/aws/ssm'}, whose policy cannot restrict who decrypts it.", **_fields(p))


def _secret_name(name: str) -> str | None:
    """The part of a parameter's name that says it holds a secret (``password`` in ``/app/db/password``)."""
    return next((part for part in reversed(name.split("/")) if part and is_secret_key(part)), None)


@check(
    title="Plain String parameters hold no secret",
    severity="high",
    description="No String or StringList parameter has a name that says it holds a secret (password, token, "
    "api_key ...) or a value that looks like a credential (an AWS access key, a secret access key, a password "
    "in a URL or connection string). Plain parameters are readable by anyone with ssm:GetParameter.",
    remediation="Store the value as a SecureString (iamflow: ssm_parameter type SecureString with generate), or in "
    "Secrets Manager, then delete the String parameter and rotate the exposed secret.",
    needs=(SSM_PARAMETERS,),
    service="ssm",
    resource_type="AwsSsmParameter",
)
def ssm_string_parameter_no_secrets(snapshot: Snapshot, config: ComplianceConfig,
                                    now: datetime) -> Iterator[Result]:
    """FAIL per plain parameter whose name or value looks like a secret; the value is never shown."""
    assert snapshot.ssm_parameters is not None
    for p in snapshot.ssm_parameters:
        if p.type == "SecureString":
            continue
        reasons = []
        word = _secret_name(p.name)
        if word:
            reasons.append(f"its name ({word!r}) says it holds a secret")
        reasons += [f"its value {finding}" for finding in p.value_findings]
        if reasons:
            yield failed(p.arn, f"{p.type} parameter {p.name} is stored in plain text, yet {'; '.join(reasons)}.",
                         **_fields(p))
        elif "GetParameters" in p.errors:
            yield errored(p.arn, f"{p.type} parameter {p.name}: its value could not be read "
                          f"({p.errors['GetParameters']}).", **_fields(p))
        else:
            yield passed(p.arn, f"{p.type} parameter {p.name} looks like configuration, not a secret.", **_fields(p))
