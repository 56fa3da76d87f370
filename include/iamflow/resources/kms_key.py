"""KMS keys: description, aliases, tags, enabled state, rotation and key policy; proven after apply.

A key has no name in KMS, so its first alias that exists is its address: the handler calls
``DescribeKey`` on each declared alias in order (``alias/<name>`` by default) and converges the key
the first one that exists points at. The remaining declared aliases are created, or moved
(``UpdateAlias``) when they point at another key.

A key is tagged ``iamflow:id`` = ``<playbook>/kms_key.<name>`` when it is created, so that a key
iamflow made but could not alias (``CreateKey`` answered, ``CreateAlias`` failed) is never
orphaned: when no declared alias exists, the read looks for a key with that tag among the keys
that have no alias at all (``ListKeys`` and ``ListAliases``, one call per page each, then
``ListResourceTags`` on each unaliased key only: O(unaliased keys), and only on a run that would
otherwise create a key, or that declares the key absent), and adopts it; the plan then creates
the missing aliases on it, or schedules its deletion when the key is declared absent. Two such
keys are an error naming both. The tag is never purged, and never added to existing keys.

``CreateKey`` is not idempotent (no name, no client token): every attempt makes a key. It is sent
once, botocore's retries off, and when it fails ambiguously (a timeout, a dropped connection, a
5xx: the key may exist) the same tag lookup finds the key and the plan goes on with it.

A new key's id is known only once ``CreateKey`` has run, so the calls that follow it in the same
plan (aliases, rotation, disable) carry an :class:`~iamflow.resources.base.Output` that ``CreateKey``
publishes.

Rotation period: real KMS returns ``RotationPeriodInDays`` from ``GetKeyRotationStatus``; moto
5.2.5 accepts the period but never returns it. A missing period is treated as *unknown*, not as a
difference, so a no-op run stays a no-op; the plan says so in a note. When KMS does report it, a
different period is converged with ``EnableKeyRotation``.

``key_spec`` and ``key_usage`` are immutable. A difference blocks the plan ("replacement
required") unless ``allow_replace: true``: then a new key is created, the declared aliases are moved
to it, and the old key is scheduled for deletion with ``pending_days`` (never deleted at once).

``state: absent`` deletes every alias of the key and schedules its deletion with ``pending_days``;
a key already pending deletion is left as it is. ``state: present`` on a key pending deletion
cancels the deletion (KMS leaves it disabled) and re-enables it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, TypedDict

from botocore.exceptions import ClientError

from iamflow.aws.errors import error_code, not_found, paginate
from iamflow.errors import PermanentAwsError
from iamflow.policy.document import normalize_policy, policies_equal
from iamflow.policy.tags import compare_tags, tags_from_list, tags_to_list
from iamflow.resources._common import (
    ID_TAG,
    current_document,
    desired_document,
    desired_tags,
    id_tag_value,
    render_for_api,
    view_document,
)
from iamflow.resources.base import (
    Change,
    Check,
    Grant,
    Output,
    Outputs,
    Plan,
    PlanEnv,
    ResourceHandler,
    regional_arn,
)
from iamflow.spec.kinds_kms import KmsKey

if TYPE_CHECKING:
    from iamflow.aws.clients import AwsClients

NEW_KEY_ID = Output("key_id", "id of the new key")
PENDING_DELETION = "PendingDeletion"
_ROLE_KINDS = ("iam_role",)
_UNKNOWN = "(known after apply)"

# What key administrators may do: manage the key, never use it (no Encrypt/Decrypt/GenerateDataKey,
# and no CreateGrant, which would let them hand usage to someone else).
ADMIN_ACTIONS: tuple[str, ...] = (
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:DeleteAlias",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListAliases",
    "kms:ListGrants",
    "kms:ListKeyPolicies",
    "kms:ListKeyRotations",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:RevokeGrant",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
)
# What key users may do, by key usage (symmetric encryption keys also make data keys).
USER_ACTIONS: dict[str, tuple[str, ...]] = {
    "SYMMETRIC": (
        "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*",
    ),
    "ENCRYPT_DECRYPT": ("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GetPublicKey", "kms:ReEncrypt*"),
    "SIGN_VERIFY": ("kms:DescribeKey", "kms:GetPublicKey", "kms:Sign", "kms:Verify"),
    "GENERATE_VERIFY_MAC": ("kms:DescribeKey", "kms:GenerateMac", "kms:VerifyMac"),
}


def build_key_policy(
    root_arn: str, admins: list[str], users: list[str], *, key_spec: str, key_usage: str
) -> dict[str, Any]:
    """Return a least-privilege key policy: the account root, then admins (manage) and users (use).

    The root statement stays so that IAM policies keep working for the key and it cannot be
    orphaned by a policy that names only principals which are later deleted.
    """
    statements: list[dict[str, Any]] = [
        {
            "Sid": "EnableRootAccountAccess",
            "Effect": "Allow",
            "Principal": {"AWS": root_arn},
            "Action": "kms:*",
            "Resource": "*",
        }
    ]
    if admins:
        statements.append({
            "Sid": "AllowKeyAdministration",
            "Effect": "Allow",
            "Principal": {"AWS": sorted(admins)},
            "Action": list(ADMIN_ACTIONS),
            "Resource": "*",
        })
    if users:
        usage = "SYMMETRIC" if key_spec == "SYMMETRIC_DEFAULT" else key_usage
        statements.append({
            "Sid": "AllowKeyUse",
            "Effect": "Allow",
            "Principal": {"AWS": sorted(users)},
            "Action": list(USER_ACTIONS[usage]),
            "Resource": "*",
        })
    return {"Version": "2012-10-17", "Statement": statements}


class KmsKeyState(TypedDict):
    """A key as read through its first existing alias; what the playbook does not manage is None."""

    key_id: str
    arn: str
    key_manager: str
    state: str | None
    deletion_date: str | None
    enabled: bool
    description: str | None
    key_spec: str | None
    key_usage: str
    aliases: list[str]
    alias_targets: dict[str, str | None]
    rotation: bool | None
    rotation_period_days: int | None
    policy: dict[str, Any] | None
    tags: dict[str, str] | None


class KeyLookupError(PermanentAwsError):
    """More than one key carries a key's ``iamflow:id`` tag: iamflow cannot tell which one is meant."""


class DesiredKey(TypedDict):
    marker: str
    description: str | None
    policy: dict[str, Any] | None
    tags: dict[str, str] | None
    aliases: list[str]


class KmsKeyHandler(ResourceHandler[KmsKey, KmsKeyState, None]):
    """Converge a customer-managed KMS key."""

    kind: ClassVar[str] = "kms_key"
    read_actions: ClassVar[tuple[str, ...]] = (
        "kms:DescribeKey",
        "kms:ListAliases",
        "kms:GetKeyRotationStatus",
        "kms:GetKeyPolicy",
        "kms:ListResourceTags",
        # finding a key created but never aliased, by its iamflow:id tag
        "kms:ListKeys",
    )
    write_actions: ClassVar[tuple[str, ...]] = (
        "kms:CreateKey",
        "kms:CreateAlias",
        "kms:UpdateAlias",
        "kms:DeleteAlias",
        "kms:UpdateKeyDescription",
        "kms:PutKeyPolicy",
        "kms:EnableKey",
        "kms:DisableKey",
        "kms:EnableKeyRotation",
        "kms:DisableKeyRotation",
        "kms:TagResource",
        "kms:UntagResource",
        "kms:ScheduleKeyDeletion",
        "kms:CancelKeyDeletion",
        # the proof after apply
        "kms:GenerateDataKey",
        "kms:Decrypt",
    )

    def read(self, clients: AwsClients, resource: KmsKey, env: PlanEnv) -> KmsKeyState | None:
        """Find the key by its aliases, then read what the playbook manages of it."""
        res = resource
        kms = clients.client("kms")
        alias_targets: dict[str, str | None] = {}
        meta: dict[str, Any] | None = None
        for alias in res.alias_names:
            meta = _describe(kms, alias)
            if meta is not None:
                break
            alias_targets[alias] = None
        if meta is None:
            # a key this playbook created but could not alias: adopt it rather than make another,
            # and when the key is declared absent, retire it as well (it would stay enabled otherwise)
            meta = find_tagged_key(kms, key_marker(env, res))
        if meta is None:
            return None
        key_id = meta["KeyId"]
        aliases = [a["AliasName"] for a in paginate(kms, "list_aliases", "Aliases", KeyId=key_id)]
        current: KmsKeyState = {
            "key_id": key_id,
            "arn": meta["Arn"],
            "key_manager": meta.get("KeyManager", "CUSTOMER"),
            "state": meta.get("KeyState"),
            "deletion_date": str(meta["DeletionDate"]) if meta.get("DeletionDate") else None,
            "enabled": bool(meta.get("Enabled")),
            "description": meta.get("Description") or None,
            "key_spec": meta.get("KeySpec") or meta.get("CustomerMasterKeySpec"),
            "key_usage": meta.get("KeyUsage", "ENCRYPT_DECRYPT"),
            "aliases": sorted(aliases),
            "alias_targets": alias_targets,
            "rotation": None,
            "rotation_period_days": None,
            "policy": None,
            "tags": None,
        }
        if res.state == "absent":
            return current
        for alias in res.alias_names:
            if alias not in aliases and alias not in alias_targets:
                other = _describe(kms, alias)
                alias_targets[alias] = other["KeyId"] if other else None
        pending = current["state"] == PENDING_DELETION
        if res.rotation is not None and _rotatable(current["key_spec"], current["key_usage"]) and not pending:
            status = kms.get_key_rotation_status(KeyId=key_id)
            current["rotation"] = bool(status.get("KeyRotationEnabled"))
            current["rotation_period_days"] = status.get("RotationPeriodInDays")
        if res.policy is not None or res.policy_generated:
            # moto (unlike AWS) needs the policy name spelt out; AWS accepts it too
            got = kms.get_key_policy(KeyId=key_id, PolicyName="default")
            current["policy"] = current_document(got["Policy"])
        if desired_tags(env, res) is not None:
            tags = paginate(kms, "list_resource_tags", "Tags", KeyId=key_id)
            current["tags"] = tags_from_list(tags, "TagKey", "TagValue")
        return current

    def plan(self, resource: KmsKey, current: KmsKeyState | None, env: PlanEnv, facts: None = None) -> Plan:
        """Plan the calls from ``current`` to the declared key. Pure."""
        res = resource
        plan = Plan(resource=res.key, before=_view(current))
        if current is not None and current["key_manager"] != "CUSTOMER":
            plan.blocked = f"{res.alias_names[0]} points at an AWS managed key, which iamflow does not manage"
            return plan
        if res.state == "absent":
            if current is not None:
                _plan_delete(plan, res, current)
            return plan
        desired = _desired(res, env)
        if current is None:
            _plan_create(plan, res, desired, {})
        elif (current["key_spec"], current["key_usage"]) != (res.key_spec, res.key_usage):
            _plan_replace(plan, res, desired, current)
        else:
            _plan_update(plan, res, desired, current)
        if res.policy is not None and desired["policy"] is not None and not _grants_root(desired["policy"], env):
            plan.notes.append(
                "the key policy does not grant the account root: if the principals it names are deleted, "
                "nobody can manage the key any more"
            )
        if plan.changes and not plan.blocked:
            _plan_proof(plan, res)
        return plan

    def grants(self, resource: KmsKey, env: PlanEnv) -> list[Grant]:
        """Keys have no name before they exist, so key actions are on ``key/*``; aliases on themselves too."""
        unscoped = {"kms:CreateKey", "kms:ListAliases", "kms:ListKeys"}
        alias_actions = {"kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias"}
        key = regional_arn(env.ctx, "kms", "key/*")
        aliases = tuple(regional_arn(env.ctx, "kms", a) for a in resource.alias_names)
        return [
            Grant(tuple(a for a in self.actions if a in unscoped), ("*",)),
            # alias operations are authorised on the alias and on the key it points to
            Grant(tuple(a for a in self.actions if a in alias_actions), (key, *aliases)),
            Grant(tuple(a for a in self.actions if a not in unscoped | alias_actions), (key,)),
        ]


def key_marker(env: PlanEnv, res: KmsKey) -> str:
    """The value of the ``iamflow:id`` tag of the key ``res`` declares: ``<playbook>/kms_key.<name>``."""
    return id_tag_value(env, res)


def find_tagged_key(kms: Any, marker: str) -> dict[str, Any] | None:
    """The metadata of the one customer key without aliases whose ``iamflow:id`` tag is ``marker``.

    Keys pending deletion are not candidates (a replaced key keeps its tag). Keys whose tags the
    caller may not read (another team's key policy) are skipped: iamflow's keys grant the account.
    """
    aliased = {a.get("TargetKeyId") for a in paginate(kms, "list_aliases", "Aliases")}
    found: list[dict[str, Any]] = []
    for key in paginate(kms, "list_keys", "Keys"):
        key_id = key["KeyId"]
        if key_id in aliased:
            continue
        try:
            tags = paginate(kms, "list_resource_tags", "Tags", KeyId=key_id)
        except ClientError as error:
            if error_code(error) in ("AccessDeniedException", "NotFoundException"):  # not ours, or gone
                continue
            raise
        if tags_from_list(tags, "TagKey", "TagValue").get(ID_TAG) != marker:
            continue
        meta = _describe(kms, key_id)
        if meta is not None and meta.get("KeyState") != PENDING_DELETION and meta.get("KeyManager") != "AWS":
            found.append(meta)
    if len(found) > 1:
        ids = ", ".join(sorted(m["KeyId"] for m in found))
        raise KeyLookupError(
            f"{len(found)} KMS keys without an alias carry the tag {ID_TAG}={marker} ({ids}); iamflow cannot tell "
            "which one is meant. Schedule the deletion of all but one (or give one of them the declared alias)"
        )
    return found[0] if found else None


def _adopt_key(marker: str) -> Any:
    def adopt(clients: AwsClients, params: dict[str, Any]) -> dict[str, Any] | None:
        meta = find_tagged_key(clients.client("kms"), marker)
        return None if meta is None else {"KeyMetadata": meta}

    return adopt


def _adopt_alias(clients: AwsClients, params: dict[str, Any]) -> dict[str, Any] | None:
    """An alias is unique by name (a retry answers AlreadyExists): adopt it when it names the key."""
    meta = _describe(clients.client("kms"), params["AliasName"])
    if meta is None or params["TargetKeyId"] not in (meta["KeyId"], meta["Arn"]):
        return None
    return {"AliasName": params["AliasName"]}


def _describe(kms: Any, key_id: str) -> dict[str, Any] | None:
    """DescribeKey; "not found" is an answer (None), not an error."""
    got = not_found(kms, "describe_key", KeyId=key_id)
    return None if got is None else dict(got["KeyMetadata"])


def _rotatable(key_spec: str | None, key_usage: str | None) -> bool:
    return key_spec == "SYMMETRIC_DEFAULT" and key_usage == "ENCRYPT_DECRYPT"


def _grants_root(policy: dict[str, Any], env: PlanEnv) -> bool:
    """True when an Allow statement names the account root (as its ARN or bare account id)."""
    root = {f"arn:{env.ctx.partition}:iam::{env.ctx.account_id}:root", env.ctx.account_id}
    for st in normalize_policy(policy)["Statement"]:
        principal = st.get("Principal") or {}
        if st.get("Effect") == "Allow" and isinstance(principal, dict) and root & set(principal.get("AWS", [])):
            return True
    return False


def _desired(res: KmsKey, env: PlanEnv) -> DesiredKey:
    """The declared key with role references resolved to ARNs."""
    policy: dict[str, Any] | None = None
    if res.policy is not None:
        policy = desired_document(res.policy)
    elif res.policy_generated:
        ctx = env.ctx
        policy = build_key_policy(
            f"arn:{ctx.partition}:iam::{ctx.account_id}:root",
            [env.ref_arn(p, _ROLE_KINDS) for p in res.admins or []],
            [env.ref_arn(p, _ROLE_KINDS) for p in res.users or []],
            key_spec=res.key_spec,
            key_usage=str(res.key_usage),
        )
    return {
        "marker": key_marker(env, res),
        "description": res.description,
        "policy": policy,
        "tags": desired_tags(env, res),
        "aliases": res.alias_names,
    }


def _plan_create(plan: Plan, res: KmsKey, desired: DesiredKey, alias_targets: dict[str, str | None]) -> None:
    """CreateKey with what it accepts in one call, then aliases, rotation and the enabled state.

    ``alias_targets`` maps aliases that already exist (on another key) to that key: they are moved.
    """
    params: dict[str, Any] = {"KeySpec": res.key_spec, "KeyUsage": res.key_usage}
    if desired["description"]:
        params["Description"] = desired["description"]
    if desired["policy"] is not None:
        params["Policy"] = render_for_api(desired["policy"])
    tags = {**(desired["tags"] or {}), ID_TAG: desired["marker"]}
    params["Tags"] = tags_to_list(tags, "TagKey", "TagValue")
    first = desired["aliases"][0]
    plan.changes.append(Change("kms", "create_key", params, f"create {res.key_spec} key {first}",
                               publish={NEW_KEY_ID.name: ("KeyMetadata", "KeyId")},
                               retry=False, adopt=_adopt_key(desired["marker"])))
    for alias in desired["aliases"]:
        if alias_targets.get(alias):
            plan.changes.append(_move_alias(alias, NEW_KEY_ID, alias_targets[alias], "the new key"))
        else:
            plan.changes.append(Change(
                "kms", "create_alias", {"AliasName": alias, "TargetKeyId": NEW_KEY_ID},
                f"create alias {alias} for the new key", adopt=_adopt_alias,
            ))
    if res.rotation:
        plan.changes.append(_enable_rotation(NEW_KEY_ID, res.rotation_period_days, first))
    if not res.enabled:
        plan.changes.append(Change("kms", "disable_key", {"KeyId": NEW_KEY_ID}, f"disable key {first}"))
    plan.after = {
        "key_id": _UNKNOWN,
        "state": "Enabled" if res.enabled else "Disabled",
        "description": desired["description"] or None,
        "key_spec": res.key_spec,
        "key_usage": res.key_usage,
        "aliases": sorted(desired["aliases"]),
        "rotation": bool(res.rotation) if res.rotation is not None else None,
        "rotation_period_days": res.rotation_period_days,
        "policy": view_document(desired["policy"]),
        "tags": dict(sorted(tags.items())),
    }


def _plan_replace(plan: Plan, res: KmsKey, desired: DesiredKey, current: KmsKeyState) -> None:
    """key_spec/key_usage differ: block, or (allow_replace) make a new key and retire the old one."""
    what = (
        f"key_spec/key_usage cannot change in place (current {current['key_spec']}/{current['key_usage']}, "
        f"declared {res.key_spec}/{res.key_usage}): replacement required"
    )
    plan.notes.append(what)
    if not res.allow_replace:
        plan.blocked = f"{what}; set allow_replace: true to create a new key and schedule the old one's deletion"
        return
    targets: dict[str, str | None] = {a: current["key_id"] for a in current["aliases"]}
    targets.update({a: t for a, t in current["alias_targets"].items() if t})
    _plan_create(plan, res, desired, targets)
    old = current["key_id"]
    if current["state"] != PENDING_DELETION:
        plan.changes.append(_schedule_deletion(old, res.pending_days))
    plan.notes.append(
        f"replacing key {old}: the declared aliases move to the new key and the old key is scheduled for "
        f"deletion in {res.pending_days} days (data it encrypted must be re-encrypted before then)"
    )


def _plan_update(plan: Plan, res: KmsKey, desired: DesiredKey, current: KmsKeyState) -> None:
    """Plan one call per managed attribute that differs."""
    key_id = current["key_id"]
    label = f"key {res.alias_names[0]}"
    after = dict(plan.before or {})
    changes = plan.changes

    enabled = current["enabled"]
    if current["state"] == PENDING_DELETION:
        changes.append(Change("kms", "cancel_key_deletion", {"KeyId": key_id}, f"cancel the deletion of {label}"))
        plan.notes.append(f"{label} was pending deletion; cancelling it (KMS leaves the key disabled)")
        enabled = False
    # enable first and disable last: KMS refuses rotation changes on a disabled key
    if res.enabled and not enabled:
        changes.append(Change("kms", "enable_key", {"KeyId": key_id}, f"enable {label}"))
    after["state"] = "Enabled" if res.enabled else "Disabled"

    if res.is_managed("description") and (desired["description"] or "") != (current["description"] or ""):
        changes.append(Change(
            "kms", "update_key_description", {"KeyId": key_id, "Description": desired["description"] or ""},
            f"update the description of {label}",
        ))
        after["description"] = desired["description"] or None

    if desired["policy"] is not None and not policies_equal(current["policy"], desired["policy"]):
        changes.append(Change(
            "kms", "put_key_policy",
            {"KeyId": key_id, "PolicyName": "default", "Policy": render_for_api(desired["policy"])},
            f"update the key policy of {label}",
        ))
        after["policy"] = view_document(desired["policy"])

    if res.rotation is not None:
        _plan_rotation(plan, res, current, after, label)

    _plan_aliases(plan, res, current, after)

    to_set, to_remove = compare_tags(current["tags"], desired["tags"], purge=res.purge_tags)
    to_remove = [k for k in to_remove if k != ID_TAG]  # iamflow's own mark stays
    if to_remove:
        changes.append(Change(
            "kms", "untag_resource", {"KeyId": key_id, "TagKeys": sorted(to_remove)},
            f"remove tags {', '.join(sorted(to_remove))} from {label}",
        ))
    if to_set:
        changes.append(Change(
            "kms", "tag_resource", {"KeyId": key_id, "Tags": tags_to_list(to_set, "TagKey", "TagValue")},
            f"set tags {', '.join(sorted(to_set))} on {label}",
        ))
    if desired["tags"] is not None:
        tags = {k: v for k, v in (current["tags"] or {}).items() if k not in set(to_remove)}
        tags.update(to_set)
        after["tags"] = dict(sorted(tags.items()))
    if not res.enabled and enabled:
        changes.append(Change("kms", "disable_key", {"KeyId": key_id}, f"disable {label}"))
    plan.after = after


def _plan_rotation(plan: Plan, res: KmsKey, current: KmsKeyState, after: dict[str, Any], label: str) -> None:
    """Rotation on/off and its period; a period KMS does not report is unknown, not a difference."""
    key_id = current["key_id"]
    have, have_period = current["rotation"], current["rotation_period_days"]
    want_period = res.rotation_period_days
    if res.rotation:
        period_differs = want_period is not None and have_period is not None and have_period != want_period
        if have is not True or period_differs:
            plan.changes.append(_enable_rotation(key_id, want_period, res.alias_names[0]))
            after["rotation_period_days"] = want_period
        elif want_period is not None and have_period is None:
            plan.notes.append(
                f"{label}: KMS did not report the rotation period, so {want_period} days is not compared "
                "(unknown is not a difference)"
            )
        after["rotation"] = True
    else:
        if have is not False:  # None: pending deletion, state unknown until the cancel
            plan.changes.append(Change("kms", "disable_key_rotation", {"KeyId": key_id},
                                       f"disable automatic rotation of {label}"))
        after["rotation"] = False
        after["rotation_period_days"] = None


def _plan_aliases(plan: Plan, res: KmsKey, current: KmsKeyState, after: dict[str, Any]) -> None:
    """Create missing aliases, move those pointing elsewhere; with explicit ``aliases``, drop others."""
    key_id = current["key_id"]
    have = set(current["aliases"])
    want = res.alias_names
    for alias in want:
        if alias in have:
            continue
        other = current["alias_targets"].get(alias)
        if other:
            plan.changes.append(_move_alias(alias, key_id, other, f"key {want[0]}"))
        else:
            plan.changes.append(Change("kms", "create_alias", {"AliasName": alias, "TargetKeyId": key_id},
                                       f"create alias {alias} for key {want[0]}", adopt=_adopt_alias))
    extra = sorted(have - set(want)) if res.is_managed("aliases") else []
    for alias in extra:
        plan.changes.append(Change("kms", "delete_alias", {"AliasName": alias}, f"delete alias {alias}"))
    after["aliases"] = sorted((have - set(extra)) | set(want))


def _plan_delete(plan: Plan, res: KmsKey, current: KmsKeyState) -> None:
    """Delete the key's aliases and schedule its deletion; never delete a key at once."""
    for alias in current["aliases"]:
        plan.changes.append(Change("kms", "delete_alias", {"AliasName": alias}, f"delete alias {alias}"))
    if current["state"] == PENDING_DELETION:
        plan.notes.append(f"key {current['key_id']} is already pending deletion (on {current['deletion_date']})")
    else:
        plan.changes.append(_schedule_deletion(current["key_id"], res.pending_days))
    plan.after = None


def _plan_proof(plan: Plan, res: KmsKey) -> None:
    """Ask apply to prove the key, when the playbook wants it and an envelope round trip can work."""
    if not res.prove:
        return
    if not _rotatable(res.key_spec, res.key_usage):
        plan.notes.append(f"no envelope proof: a {res.key_spec} {res.key_usage} key cannot make data keys")
    elif not res.enabled:
        plan.notes.append("no envelope proof: the key is declared disabled")
    else:
        # the alias reaches the key whether it was just created, replaced or updated
        plan.checks.append(_proof(res.alias_names[0], plan.resource))


def _proof(key_ref: str, resource: str) -> Check:
    def prove(clients: AwsClients, outputs: Outputs) -> str:
        from iamflow.kms import envelope

        proof = envelope.prove_key(clients.client("kms"), key_ref)
        return f"key proven usable (envelope round trip, {proof['alg']})"

    return Check(f"prove {resource} usable", prove)


def _enable_rotation(key_id: str | Output, period: int | None, label: str) -> Change:
    params: dict[str, Any] = {"KeyId": key_id}
    if period is not None:
        params["RotationPeriodInDays"] = period
    every = f" every {period} days" if period is not None else ""
    return Change("kms", "enable_key_rotation", params, f"enable automatic rotation of key {label}{every}")


def _move_alias(alias: str, key_id: str | Output, other: str | None, label: str) -> Change:
    return Change("kms", "update_alias", {"AliasName": alias, "TargetKeyId": key_id},
                  f"move alias {alias} from key {other} to {label}")


def _schedule_deletion(key_id: str, days: int) -> Change:
    return Change("kms", "schedule_key_deletion", {"KeyId": key_id, "PendingWindowInDays": days},
                  f"schedule the deletion of key {key_id} in {days} days")


def _view(current: KmsKeyState | None) -> dict[str, Any] | None:
    """The diffable view of a read key (what was not read shows as null)."""
    if current is None:
        return None
    return {
        "key_id": current["key_id"],
        "state": current["state"],
        "description": current["description"],
        "key_spec": current["key_spec"],
        "key_usage": current["key_usage"],
        "aliases": list(current["aliases"]),
        "rotation": current["rotation"],
        "rotation_period_days": current["rotation_period_days"],
        "policy": view_document(current["policy"]),
        "tags": dict(sorted(current["tags"].items())) if current["tags"] is not None else None,
    }
