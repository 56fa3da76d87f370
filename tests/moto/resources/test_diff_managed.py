"""Every kind's diff renders only the attributes its playbook declares (and the ``iamflow:id`` tag).

For one resource of every kind, created and then updated, no key of the diff names a model
field the resource leaves out; declaring the field (even empty) makes it appear.
"""

from __future__ import annotations

import json
import re

import pytest
from _handler_helpers import allow, trust

from iamflow.engine import CHANGED, run_playbook, unmanaged_fields
from iamflow.spec.kinds_cognito import CognitoAppClient, CognitoGroup, CognitoUserPool
from iamflow.spec.kinds_kms import KmsKey
from iamflow.spec.kinds_secrets import Secret
from iamflow.spec.models import IamInstanceProfile, IamManagedPolicy, IamRole, Playbook

POOL = CognitoUserPool(kind="cognito_user_pool", name="users", mfa="OPTIONAL")
ROLE = IamRole(kind="iam_role", name="app", trust_policy=trust())
RESOURCES = [
    IamManagedPolicy(kind="iam_managed_policy", name="app", document=allow("s3:GetObject")),
    ROLE,
    IamInstanceProfile(kind="iam_instance_profile", name="app", role="app"),
    KmsKey(kind="kms_key", name="data", description="data key"),
    Secret(kind="secret", name="app/db", generate={"length": 32}),
    POOL,
    CognitoAppClient(kind="cognito_app_client", name="web", user_pool="users"),
    CognitoGroup(kind="cognito_group", name="admins", user_pool="users"),
]


def keys_of(diff: str) -> set[str]:
    """The top-level keys a diff renders (two spaces of indent in the JSON views)."""
    return set(re.findall(r'^[ +-]  "([a-z_]+)":', diff, re.M))


@pytest.mark.parametrize("resource", RESOURCES, ids=lambda r: r.kind)
def test_a_create_diff_renders_no_unmanaged_field(clients, resource):
    others = [r for r in (ROLE, POOL) if r.key != resource.key and resource.references()]
    play = run_playbook(clients, Playbook(name="t", resources=[*others, resource]), check_mode=True)
    result = next(r for r in play.results if r.resource == resource.key)
    assert result.status == CHANGED and result.diff
    hidden = unmanaged_fields(resource) - {"tags"}
    shown = keys_of(result.diff)
    assert not (shown & hidden), sorted(shown & hidden)
    assert f"+++ {resource.key} (desired)" in result.diff  # the header names what is created


def test_an_update_diff_renders_no_unmanaged_field(clients, iam):
    iam.create_role(RoleName="app", AssumeRolePolicyDocument=json.dumps(trust()), Description="by hand",
                    MaxSessionDuration=7200)
    iam.tag_role(RoleName="app", Tags=[{"Key": "team", "Value": "a"}])
    declared = IamRole(kind="iam_role", name="app", trust_policy=trust("lambda.amazonaws.com"))
    [result] = run_playbook(clients, Playbook(name="t", resources=[declared]), check_mode=True).results
    assert result.changes == ["update the trust policy of role app"]
    assert not keys_of(result.diff) & unmanaged_fields(declared)
    assert "by hand" not in result.diff and "7200" not in result.diff and '"team"' not in result.diff
