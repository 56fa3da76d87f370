"""kms_key against in-process moto: create, drift, no-op, check mode, replacement, absent, proof."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from _handler_helpers import converge, converge_all, make_env, operations, plan_of, trust

from iamflow.engine import CHANGED, FAILED, OK, run_playbook, run_resource
from iamflow.errors import ApplyError
from iamflow.policy.document import policies_equal
from iamflow.resources import handler_for
from iamflow.resources.base import PlanEnv
from iamflow.resources.kms_key import ADMIN_ACTIONS, NEW_KEY_ID, build_key_policy
from iamflow.spec.kinds_kms import KmsKey
from iamflow.spec.models import IamRole

HANDLER = handler_for("kms_key")
ACCOUNT = "123456789012"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/app"


def key(**fields: Any) -> KmsKey:
    fields.setdefault("name", "myapp-data-key")
    return KmsKey(kind="kms_key", **fields)


FULL = dict(
    description="Application data encryption key",
    tags={"Application": "myapp", "Purpose": "data-encryption"},
    rotation=True,
    rotation_period_days=365,
    admins=["app"],
    users=["app"],
)


@pytest.fixture
def kms(clients: Any) -> Any:
    """A plain boto3 KMS client on the same moto (its calls stay out of ``call_log``)."""
    import boto3

    return boto3.client("kms", region_name="us-east-1")


@pytest.fixture
def env(clients: Any) -> PlanEnv:
    """A playbook with the role the key policy names, already converged."""
    env = make_env(clients, IamRole(kind="iam_role", name="app", trust_policy=trust()))
    converge_all(clients, env)
    return env


def with_key(env: PlanEnv, res: KmsKey) -> PlanEnv:
    """The same playbook with ``res`` added (so references to the role resolve)."""
    return PlanEnv(env.ctx, env.playbook.model_copy(update={"resources": [*env.playbook.resources, res]}))


def key_id_of(kms: Any, alias: str = "alias/myapp-data-key") -> str:
    return kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"]


def tags_of(kms: Any, key_id: str) -> dict[str, str]:
    return {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=key_id)["Tags"]}


def policy_of(kms: Any, key_id: str) -> dict[str, Any]:
    return json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])


def create(clients: Any, env: PlanEnv, **fields: Any) -> tuple[KmsKey, PlanEnv]:
    res = key(**{**FULL, **fields})
    env = with_key(env, res)
    converge(HANDLER, clients, res, env)
    return res, env


def test_create_makes_the_key_with_everything_and_proves_it(clients, env, kms, call_log):
    res = key(**FULL)
    env = with_key(env, res)
    call_log.reset()
    plan = converge(HANDLER, clients, res, env)

    assert operations(plan) == ["create_key", "create_alias", "enable_key_rotation"]
    assert plan.changes[1].params["TargetKeyId"] == NEW_KEY_ID
    assert "key proven usable (envelope round trip, AES-256-GCM)" in plan.notes
    assert ("kms", "GenerateDataKey") in call_log.calls and ("kms", "Decrypt") in call_log.calls

    meta = kms.describe_key(KeyId="alias/myapp-data-key")["KeyMetadata"]
    assert meta["Description"] == "Application data encryption key"
    assert meta["KeySpec"] == "SYMMETRIC_DEFAULT" and meta["KeyState"] == "Enabled"
    assert tags_of(kms, meta["KeyId"]) == {"Application": "myapp", "Purpose": "data-encryption",
                                           "iamflow:id": "t/kms_key.myapp-data-key"}
    assert kms.get_key_rotation_status(KeyId=meta["KeyId"])["KeyRotationEnabled"] is True
    expected = build_key_policy(ROOT, [ROLE_ARN], [ROLE_ARN], key_spec="SYMMETRIC_DEFAULT", key_usage="ENCRYPT_DECRYPT")
    assert policies_equal(policy_of(kms, meta["KeyId"]), expected)


def test_generated_policy_is_least_privilege():
    doc = build_key_policy(ROOT, ["arn:aws:iam::1:role/b", "arn:aws:iam::1:role/a"], ["arn:aws:iam::1:role/u"],
                           key_spec="SYMMETRIC_DEFAULT", key_usage="ENCRYPT_DECRYPT")
    root, admins, users = doc["Statement"]
    assert root["Principal"] == {"AWS": ROOT} and root["Action"] == "kms:*"
    assert admins["Principal"]["AWS"] == ["arn:aws:iam::1:role/a", "arn:aws:iam::1:role/b"]
    assert not {"kms:Encrypt", "kms:Decrypt", "kms:CreateGrant"} & set(ADMIN_ACTIONS)
    assert not any(a.endswith("*") and a != "kms:ReEncrypt*" and a != "kms:GenerateDataKey*" for a in users["Action"])
    assert set(users["Action"]) == {"kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                                    "kms:DescribeKey"}
    signing = build_key_policy(ROOT, [], ["arn:aws:iam::1:role/u"], key_spec="ECC_NIST_P256", key_usage="SIGN_VERIFY")
    assert [s["Sid"] for s in signing["Statement"]] == ["EnableRootAccountAccess", "AllowKeyUse"]
    assert "kms:Sign" in signing["Statement"][1]["Action"]


def test_second_run_is_a_no_op_with_zero_writes(clients, env, call_log):
    res, env = create(clients, env)
    call_log.reset()
    plan = converge(HANDLER, clients, res, env)
    assert plan.changes == []
    assert call_log.writes() == []
    assert call_log.by_operation() == {
        "kms:DescribeKey": 1,
        "kms:ListAliases": 1,
        "kms:GetKeyRotationStatus": 1,
        "kms:GetKeyPolicy": 1,
        "kms:ListResourceTags": 1,
    }
    # moto never reports the rotation period: unknown, so not a difference, and the plan says so
    assert any("did not report the rotation period" in n for n in plan.notes)


def test_check_mode_plans_a_create_with_zero_writes(check_clients, env, call_log):
    res = key(**FULL)
    env = with_key(env, res)
    call_log.reset()
    result = run_resource(check_clients, env.playbook, res.key, check_mode=True, ctx=env.ctx)
    assert result.status == CHANGED and result.check_mode
    assert "create SYMMETRIC_DEFAULT key alias/myapp-data-key" in result.changes
    assert "<KeyMetadata.KeyId of kms.create_key>" not in result.diff  # the diff shows state, not params
    assert call_log.writes() == [] and call_log.refused == []
    assert not any("proven" in n for n in result.notes)


def test_check_mode_on_drift_shows_the_changes_and_writes_nothing(clients, check_clients, env, kms, call_log):
    res, env = create(clients, env)
    kms.disable_key_rotation(KeyId=key_id_of(kms))
    call_log.reset()
    result = run_resource(check_clients, env.playbook, res.key, check_mode=True, ctx=env.ctx)
    assert result.status == CHANGED
    assert result.changes == ["enable automatic rotation of key alias/myapp-data-key every 365 days"]
    assert '-  "rotation": false,' in result.diff and '+  "rotation": true,' in result.diff
    assert call_log.writes() == [] and call_log.refused == []


def test_drift_is_converged_and_then_stays_put(clients, env, kms, call_log):
    res, env = create(clients, env, aliases=["alias/myapp-data-key", "alias/myapp-second"])
    key_id = key_id_of(kms)
    other = kms.create_key(Description="someone else's")["KeyMetadata"]["KeyId"]
    # drift by hand: rotation off, a broader policy, the second alias moved away, a tag added, disabled
    kms.disable_key_rotation(KeyId=key_id)
    kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*"}],
    }))
    kms.update_alias(AliasName="alias/myapp-second", TargetKeyId=other)
    kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "extra", "TagValue": "1"}])
    kms.disable_key(KeyId=key_id)

    plan = converge(HANDLER, clients, res, env)
    assert operations(plan) == ["enable_key", "put_key_policy", "enable_key_rotation", "update_alias",
                                "untag_resource"]
    assert "move alias alias/myapp-second from key " + other in plan.changes[3].summary
    assert any("proven usable" in n for n in plan.notes)

    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True
    assert key_id_of(kms, "alias/myapp-second") == key_id
    assert "extra" not in tags_of(kms, key_id)
    assert policy_of(kms, key_id)["Statement"][0]["Principal"] == {"AWS": ROOT}

    call_log.reset()
    assert converge(HANDLER, clients, res, env).changes == []
    assert call_log.writes() == []


def test_semantically_equal_policy_is_not_rewritten(clients, env, kms, call_log):
    res, env = create(clients, env)
    key_id = key_id_of(kms)
    stored = policy_of(kms, key_id)
    # the same document with statements reversed, single values as lists, the root as a bare account id
    for st in stored["Statement"]:
        if st["Principal"]["AWS"] == ROOT:
            st["Principal"]["AWS"] = [ACCOUNT]
    stored["Statement"].reverse()
    kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=json.dumps(stored))
    call_log.reset()
    assert converge(HANDLER, clients, res, env).changes == []
    assert call_log.writes() == []


def test_given_policy_document_and_extra_aliases_purged(clients, env, kms):
    doc = {"Version": "2012-10-17", "Statement": [
        {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::${account_id}:root"},
         "Action": "kms:*", "Resource": "*"}]}
    res = key(name="k2", aliases=["alias/k2"], policy=doc)
    env = with_key(env, res)
    converge(HANDLER, clients, res, env)
    key_id = key_id_of(kms, "alias/k2")
    assert policy_of(kms, key_id)["Statement"][0]["Principal"] == {"AWS": ROOT}
    assert not any("account root" in n for n in plan_of(clients, res, env).notes)
    kms.create_alias(AliasName="alias/k2-extra", TargetKeyId=key_id)
    plan = converge(HANDLER, clients, res, env)
    assert operations(plan) == ["delete_alias"]
    assert [a["AliasName"] for a in kms.list_aliases(KeyId=key_id)["Aliases"]] == ["alias/k2"]


def test_default_alias_only_leaves_other_aliases_alone(clients, env, kms):
    res = key(name="k3")
    env = with_key(env, res)
    converge(HANDLER, clients, res, env)
    kms.create_alias(AliasName="alias/k3-by-hand", TargetKeyId=key_id_of(kms, "alias/k3"))
    assert plan_of(clients, res, env).changes == []


def test_a_later_alias_finds_the_key_when_the_first_is_new(clients, env, kms):
    res, env = create(clients, env)
    key_id = key_id_of(kms)
    renamed = key(**{**FULL, "aliases": ["alias/myapp-new", "alias/myapp-data-key"]})
    env = with_key(env, renamed)
    plan = converge(HANDLER, clients, renamed, env)
    assert operations(plan) == ["create_alias"]
    assert key_id_of(kms, "alias/myapp-new") == key_id


def test_disabled_key_and_rotation_off(clients, env, kms, call_log):
    res, env = create(clients, env, enabled=False, rotation=False, rotation_period_days=None)
    key_id = key_id_of(kms)
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["KeyState"] == "Disabled"
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is False
    call_log.reset()
    assert converge(HANDLER, clients, res, env).changes == []
    assert call_log.writes() == []


def test_asymmetric_key_is_not_proven_and_rotation_not_read(clients, env, kms, call_log):
    res = key(name="signer", key_spec="ECC_NIST_P256", users=["app"])
    assert res.key_usage == "SIGN_VERIFY"
    env = with_key(env, res)
    plan = converge(HANDLER, clients, res, env)
    assert any("no envelope proof" in n for n in plan.notes)
    assert kms.describe_key(KeyId="alias/signer")["KeyMetadata"]["KeyUsage"] == "SIGN_VERIFY"
    call_log.reset()
    assert converge(HANDLER, clients, res, env).changes == []
    assert ("kms", "GetKeyRotationStatus") not in call_log.calls


def test_immutable_change_is_blocked_without_allow_replace(clients, env, kms, call_log):
    res, env = create(clients, env)
    changed = key(**{**FULL, "key_spec": "RSA_2048", "rotation": None, "rotation_period_days": None})
    env = with_key(env, changed)
    call_log.reset()
    result = run_resource(clients, env.playbook, changed.key, ctx=env.ctx)
    assert result.status == FAILED
    assert "replacement required" in (result.error or "") and "allow_replace" in (result.error or "")
    assert call_log.writes() == []
    with pytest.raises(ApplyError, match="Refusing to apply"):
        HANDLER.apply(clients, plan_of(clients, changed, env))


def test_allow_replace_moves_aliases_and_schedules_the_old_key(clients, env, kms):
    res, env = create(clients, env)
    old = key_id_of(kms)
    changed = key(**{**FULL, "key_spec": "RSA_2048", "rotation": None, "rotation_period_days": None,
                     "allow_replace": True, "pending_days": 7})
    env = with_key(env, changed)
    plan = converge(HANDLER, clients, changed, env)
    assert operations(plan) == ["create_key", "update_alias", "schedule_key_deletion"]
    new = kms.describe_key(KeyId="alias/myapp-data-key")["KeyMetadata"]
    assert new["KeyId"] != old and new["KeySpec"] == "RSA_2048"
    assert kms.describe_key(KeyId=old)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    assert plan_of(clients, changed, env).changes == []


def test_absent_schedules_deletion_with_the_window_and_removes_aliases(clients, env, kms, call_log):
    res, env = create(clients, env, aliases=["alias/myapp-data-key", "alias/myapp-second"])
    key_id = key_id_of(kms)
    gone = key(**{**FULL, "aliases": ["alias/myapp-data-key", "alias/myapp-second"], "state": "absent",
                  "pending_days": 7})
    env = with_key(env, gone)
    plan = converge(HANDLER, clients, gone, env)
    assert operations(plan) == ["delete_alias", "delete_alias", "schedule_key_deletion"]
    assert plan.changes[-1].params == {"KeyId": key_id, "PendingWindowInDays": 7}
    meta = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert meta["KeyState"] == "PendingDeletion"
    window = meta["DeletionDate"] - dt.datetime.now(meta["DeletionDate"].tzinfo)
    assert dt.timedelta(days=6, hours=23) < window <= dt.timedelta(days=7)
    assert kms.list_aliases(KeyId=key_id)["Aliases"] == []
    call_log.reset()
    assert converge(HANDLER, clients, gone, env).changes == []
    assert call_log.writes() == []


def test_absent_on_a_key_already_pending_deletion_only_removes_aliases(clients, env, kms):
    res, env = create(clients, env)
    key_id = key_id_of(kms)
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=10)
    gone = key(**{**FULL, "state": "absent"})
    env = with_key(env, gone)
    plan = converge(HANDLER, clients, gone, env)
    assert operations(plan) == ["delete_alias"]
    assert any("already pending deletion" in n for n in plan.notes)


def test_present_cancels_a_pending_deletion(clients, env, kms):
    res, env = create(clients, env)
    key_id = key_id_of(kms)
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    plan = converge(HANDLER, clients, res, env)
    assert operations(plan)[:2] == ["cancel_key_deletion", "enable_key"]
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    assert plan_of(clients, res, env).changes == []


def test_a_failed_proof_fails_the_apply(clients, env, monkeypatch):
    import iamflow.kms.envelope as envelope

    def broken(kms_client: Any, key_id: str) -> dict[str, Any]:
        raise envelope.EnvelopeIntegrityError("round trip did not return the probe")

    monkeypatch.setattr(envelope, "prove_key", broken)
    res = key(**FULL)
    env = with_key(env, res)
    with pytest.raises(ApplyError, match="Failed to prove kms_key.myapp-data-key usable"):
        converge(HANDLER, clients, res, env)


def test_playbook_runs_role_then_key_and_second_run_is_ok(clients, call_log):
    from iamflow.spec.models import Playbook

    pb = Playbook(name="kms", resources=[key(**FULL), IamRole(kind="iam_role", name="app", trust_policy=trust())])
    first = run_playbook(clients, pb)
    assert [r.resource for r in first.results] == ["iam_role.app", "kms_key.myapp-data-key"]
    assert [r.status for r in first.results] == [CHANGED, CHANGED]
    call_log.reset()
    second = run_playbook(clients, pb)
    assert [r.status for r in second.results] == [OK, OK]
    assert call_log.writes() == []


def test_shipped_playbook_applies_proves_and_then_stays_put(clients, kms, call_log):
    from iamflow.settings import playbooks_dir
    from iamflow.spec.loader import load_playbook

    pb = load_playbook(playbooks_dir() / "myapp-kms.yaml")
    first = run_playbook(clients, pb)
    assert [r.status for r in first.results] == [CHANGED, CHANGED], [r.error for r in first.results]
    key_result = first.results[-1]
    assert "key proven usable (envelope round trip, AES-256-GCM)" in key_result.notes
    key_id = key_id_of(kms)
    assert tags_of(kms, key_id) == {"Application": "myapp", "Purpose": "data-encryption", "ManagedBy": "iamflow",
                                    "iamflow:id": f"{pb.name}/kms_key.myapp-data-key"}
    users = next(s for s in policy_of(kms, key_id)["Statement"] if s["Sid"] == "AllowKeyUse")
    assert users["Principal"] == {"AWS": [f"arn:aws:iam::{ACCOUNT}:role/myapp-app"]}

    call_log.reset()
    second = run_playbook(clients, pb)
    assert [r.status for r in second.results] == [OK, OK]
    assert call_log.writes() == []
    check = run_playbook(clients, pb, check_mode=True)
    assert [r.status for r in check.results] == [OK, OK] and call_log.writes() == []


def test_a_given_policy_without_the_account_root_gets_a_warning_note(clients, env):
    doc = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": ROLE_ARN}, "Action": "kms:*", "Resource": "*"}]}
    res = key(name="k4", policy=doc)
    plan = plan_of(clients, res, with_key(env, res))
    assert any("does not grant the account root" in n for n in plan.notes)


def test_disabling_comes_after_the_rotation_change(clients, env, kms):
    res, env = create(clients, env, rotation=False, rotation_period_days=None)
    wanted = key(**{**FULL, "enabled": False})
    plan = converge(HANDLER, clients, wanted, with_key(env, wanted))
    assert operations(plan) == ["enable_key_rotation", "disable_key"]
    assert any("no envelope proof: the key is declared disabled" in n for n in plan.notes)
    assert kms.describe_key(KeyId="alias/myapp-data-key")["KeyMetadata"]["KeyState"] == "Disabled"
