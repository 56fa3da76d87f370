"""Run-time placeholders are filled by the engine, once, in every string field of every kind."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from iamflow.engine import fill_placeholders, plan_env, run_playbook
from iamflow.resources.cognito import find_pool
from iamflow.spec.loader import load_playbook
from iamflow.spec.models import RESOURCE_MODELS

ACCOUNT_ARN = "arn:${partition}:iam::${account_id}"
PLAYBOOK = f"""
name: placeholders
tags: {{Owner: "team-${{account_id}}", Region: "${{region}}"}}
resources:
  - kind: iam_managed_policy
    name: pp-policy
    description: "read buckets of ${{account_id}} in ${{region}}"
    document:
      Version: "2012-10-17"
      Statement:
        - {{Effect: Allow, Action: "s3:GetObject", Resource: "arn:${{partition}}:s3:::data-${{account_id}}/*"}}
  - kind: iam_role
    name: pp-role
    description: "role of ${{account_id}}"
    trust_policy:
      Version: "2012-10-17"
      Statement:
        - {{Effect: Allow, Principal: {{AWS: "{ACCOUNT_ARN}:root"}}, Action: "sts:AssumeRole"}}
    managed_policies: ["arn:${{partition}}:iam::aws:policy/ReadOnlyAccess", pp-policy]
    inline_policies:
      logs:
        Version: "2012-10-17"
        Statement:
          - {{Effect: Allow, Action: "logs:PutLogEvents",
             Resource: "arn:${{partition}}:logs:${{region}}:${{account_id}}:log-group:app:*"}}
    tags: {{Account: "${{account_id}}"}}
  - kind: iam_instance_profile
    name: pp-profile
    role: pp-role
    tags: {{Partition: "${{partition}}"}}
  - kind: kms_key
    name: pp-key
    description: "key of ${{account_id}}"
    admins: ["{ACCOUNT_ARN}:role/pp-role"]
    tags: {{Account: "${{account_id}}"}}
  - kind: secret
    name: pp/secret
    description: "secret of ${{account_id}} in ${{region}}"
    generate: {{length: 24}}
    kms_key: pp-key
    tags: {{Account: "${{account_id}}"}}
  - kind: cognito_user_pool
    name: pp-users
    email_sending_account: DEVELOPER
    email_source_arn: "arn:${{partition}}:ses:${{region}}:${{account_id}}:identity/example.com"
    tags: {{Account: "${{account_id}}"}}
  - kind: cognito_app_client
    name: pp-web
    user_pool: pp-users
    callback_urls: ["https://${{region}}.example.com/${{account_id}}/callback"]
    logout_urls: ["https://${{region}}.example.com/logout"]
  - kind: cognito_group
    name: pp-admins
    user_pool: pp-users
    description: "admins of ${{account_id}} (${{partition}}, ${{region}})"
    role: "{ACCOUNT_ARN}:role/pp-role"
  - kind: iam_account_password_policy
    name: pp-passwords
    minimum_length: 14
  - kind: iam_user
    name: pp-user
    managed_policies: [pp-policy]
    inline_policies:
      own:
        Version: "2012-10-17"
        Statement:
          - {{Effect: Allow, Action: "iam:ChangePassword", Resource: "{ACCOUNT_ARN}:user/pp-user"}}
    tags: {{Account: "${{account_id}}"}}
  - kind: iam_group
    name: pp-group
    managed_policies: ["arn:${{partition}}:iam::aws:policy/ReadOnlyAccess"]
    inline_policies:
      logs:
        Version: "2012-10-17"
        Statement:
          - {{Effect: Allow, Action: "logs:PutLogEvents",
             Resource: "arn:${{partition}}:logs:${{region}}:${{account_id}}:log-group:team:*"}}
    members: [pp-user]
"""
# kinds with no string field a placeholder could go in (the password policy's name is a label)
NO_STRING_FIELDS = {"iam_account_password_policy"}


def _strings(value: Any) -> list[str]:
    if isinstance(value, BaseModel):
        return _strings(value.model_dump())
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    return []


@pytest.fixture
def playbook(tmp_path: Path):
    path = tmp_path / "placeholders.yaml"
    path.write_text(PLAYBOOK)
    return load_playbook(path)


def test_the_fixture_covers_every_kind(playbook):
    assert {r.kind for r in playbook.resources} == set(RESOURCE_MODELS)


def test_fill_leaves_no_placeholder_in_any_field_and_keeps_unmanaged_fields_unmanaged(playbook, clients):
    ctx = clients.caller_context()
    env = plan_env(ctx, playbook)
    for before, after in zip(playbook.resources, env.playbook.resources, strict=True):
        assert any("${" in s for s in _strings(before)) or before.kind in NO_STRING_FIELDS, before.key
        left = [s for s in _strings(after) if "${" in s]
        assert not left, f"{after.key}: {left}"
        assert after.model_fields_set == before.model_fields_set, after.key
    assert env.playbook.tags == {"Owner": f"team-{ctx.account_id}", "Region": ctx.region}
    # the validated model itself is not changed: filling makes copies
    assert playbook.resources[0].description == "read buckets of ${account_id} in ${region}"
    # nothing to fill: the very same object comes back
    plain = playbook.resources[0].model_copy(update={"description": "plain", "document": {"Statement": []}})
    assert fill_placeholders(plain, ctx) is plain


def test_filled_values_reach_aws_for_every_kind(playbook, clients):
    result = run_playbook(clients, playbook)
    assert not result.failed, [r.error for r in result.results if r.error]
    ctx = clients.caller_context()
    account, region, partition = ctx.account_id, ctx.region, ctx.partition
    iam, kms, sm, idp = (clients.client(s) for s in ("iam", "kms", "secretsmanager", "cognito-idp"))

    policy_arn = f"arn:{partition}:iam::{account}:policy/pp-policy"
    policy = iam.get_policy(PolicyArn=policy_arn)["Policy"]
    assert policy["Description"] == f"read buckets of {account} in {region}"
    doc = iam.get_policy_version(PolicyArn=policy_arn, VersionId=policy["DefaultVersionId"])["PolicyVersion"]
    document = doc["Document"] if isinstance(doc["Document"], dict) else json.loads(doc["Document"])
    assert document["Statement"][0]["Resource"] == f"arn:{partition}:s3:::data-{account}/*"

    role = iam.get_role(RoleName="pp-role")["Role"]
    assert role["Description"] == f"role of {account}"
    assert {t["Key"]: t["Value"] for t in role["Tags"]}["Account"] == account
    attached = {p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName="pp-role")["AttachedPolicies"]}
    assert attached == {f"arn:{partition}:iam::aws:policy/ReadOnlyAccess", policy_arn}
    inline = iam.get_role_policy(RoleName="pp-role", PolicyName="logs")["PolicyDocument"]
    inline = inline if isinstance(inline, dict) else json.loads(inline)
    assert inline["Statement"][0]["Resource"] == f"arn:{partition}:logs:{region}:{account}:log-group:app:*"

    profile = iam.get_instance_profile(InstanceProfileName="pp-profile")["InstanceProfile"]
    assert [r["RoleName"] for r in profile["Roles"]] == ["pp-role"]

    key = kms.describe_key(KeyId="alias/pp-key")["KeyMetadata"]
    assert key["Description"] == f"key of {account}"
    key_policy = json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])
    principals = json.dumps([s["Principal"] for s in key_policy["Statement"]])
    assert f"arn:{partition}:iam::{account}:role/pp-role" in principals and "${" not in principals

    secret = sm.describe_secret(SecretId="pp/secret")
    assert secret["Description"] == f"secret of {account} in {region}"

    pool = find_pool(idp, "placeholders", "pp-users")
    assert pool is not None
    assert pool["EmailConfiguration"]["SourceArn"] == f"arn:{partition}:ses:{region}:{account}:identity/example.com"
    assert pool["UserPoolTags"]["Owner"] == f"team-{account}"
    client_id = next(c["ClientId"] for c in idp.list_user_pool_clients(UserPoolId=pool["Id"], MaxResults=60)
                     ["UserPoolClients"] if c["ClientName"] == "pp-web")
    app = idp.describe_user_pool_client(UserPoolId=pool["Id"], ClientId=client_id)["UserPoolClient"]
    assert app["CallbackURLs"] == [f"https://{region}.example.com/{account}/callback"]
    group = idp.get_group(GroupName="pp-admins", UserPoolId=pool["Id"])["Group"]
    assert group["Description"] == f"admins of {account} ({partition}, {region})"
    assert group["RoleArn"] == f"arn:{partition}:iam::{account}:role/pp-role"

    user = iam.get_user(UserName="pp-user")["User"]
    assert {t["Key"]: t["Value"] for t in user["Tags"]}["Account"] == account
    own = iam.get_user_policy(UserName="pp-user", PolicyName="own")["PolicyDocument"]
    own = own if isinstance(own, dict) else json.loads(own)
    assert own["Statement"][0]["Resource"] == f"arn:{partition}:iam::{account}:user/pp-user"
    logs = iam.get_group_policy(GroupName="pp-group", PolicyName="logs")["PolicyDocument"]
    logs = logs if isinstance(logs, dict) else json.loads(logs)
    assert logs["Statement"][0]["Resource"] == f"arn:{partition}:logs:{region}:{account}:log-group:team:*"
    assert [u["UserName"] for u in iam.get_group(GroupName="pp-group")["Users"]] == ["pp-user"]

    # and a second run is a no-op: what was written is what the filled playbook declares
    again = run_playbook(clients, playbook)
    assert [r.resource for r in again.results if r.status != "ok"] == []
