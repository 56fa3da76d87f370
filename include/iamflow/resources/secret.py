"""Secrets Manager secrets: metadata, KMS key, tags, resource policy, rotation; a value only at birth.

The value is generated when the change executes (a :class:`~iamflow.resources.base.Generated`
param), so plans, diffs and summaries only ever say *that* a value is written, never *what*. A
re-run never overwrites a value (a rotated value survives every later apply); ``rotate_now`` writes
a fresh one, and the plan says so.

``CreateSecret`` is idempotent by itself: botocore fills its ``ClientRequestToken`` once per call,
so its retries carry the same token, which Secrets Manager treats as the same request; and the
name is unique in the account. Its retries stay on. When it still fails ambiguously (the retries
ran out: the secret may exist) or answers that the secret exists, the secret is looked up by name
(``DescribeSecret``) and adopted, as the read would find it.

Rotation is configured with ``RotateImmediately=False``: configuring is not rotating. Before
that, the rotation Lambda must exist (``lambda:GetFunction``, a read); iamflow does not deploy it,
and a plan that would point a secret at a missing function is refused as a whole.

moto quirks handled here (see ``moto-5.2.5-coverage.md`` §3): a ``ScheduleExpression`` alone is
not honoured (RotationEnabled=false, AutomaticallyAfterDays=0) and ``Duration`` is dropped; a
schedule or duration AWS does not return is treated as unknown, not as a difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypedDict

from iamflow.aws.errors import not_found
from iamflow.policy.document import parse_document, policies_equal
from iamflow.policy.tags import tags_to_list
from iamflow.resources._common import (
    creation_tags,
    desired_document,
    desired_tags,
    read_tags,
    tag_changes,
    view_document,
)
from iamflow.resources.base import (
    Change,
    Generated,
    Grant,
    Plan,
    PlanEnv,
    ResourceHandler,
    dumps,
    regional_arn,
    secret_arn_pattern,
    split_actions,
)
from iamflow.secrets.generate import describe_value, render_value
from iamflow.spec.kinds_secrets import Secret

if TYPE_CHECKING:
    from iamflow.aws.clients import AwsClients

_KMS_KINDS = ("kms_key",)
# What Secrets Manager uses when a secret names no key.
DEFAULT_KMS_KEY = "alias/aws/secretsmanager"
HIDDEN = "(hidden)"
# What a secret encrypted with a customer-managed key needs of that key: Secrets Manager encrypts
# and stores each new value with the caller's own kms:GenerateDataKey and kms:Decrypt.
SECRET_KEY_ACTIONS: tuple[str, ...] = ("kms:GenerateDataKey", "kms:Decrypt")


class RotationState(TypedDict):
    enabled: bool
    lambda_arn: str | None
    rules: dict[str, Any]
    requested: bool


class SecretState(TypedDict):
    """A secret's metadata as read; its value is never read."""

    name: str
    arn: str
    description: str | None
    kms_key: str | None
    tags: dict[str, str]
    deleted: bool
    has_value: bool
    rotation: RotationState
    resource_policy: dict[str, Any] | None


class DesiredRotation(TypedDict):
    lambda_arn: str
    rules: dict[str, Any]


@dataclass(frozen=True)
class SecretFacts:
    """What the plan needs to know besides the secret: the rotation Lambda, the declared KMS key."""

    lambda_exists: bool | None = None  # None: not looked up (no rotation change is pending)
    kms_same_key: bool | None = None  # whether the declared key and the secret's key are one key


def desired_rotation(res: Secret) -> DesiredRotation | None:
    """The declared rotation as AWS states it: Lambda ARN and RotationRules."""
    if res.rotation is None:
        return None
    rules: dict[str, Any] = {}
    if res.rotation.every_days is not None:
        rules["AutomaticallyAfterDays"] = res.rotation.every_days
    if res.rotation.schedule is not None:
        rules["ScheduleExpression"] = res.rotation.schedule
    if res.rotation.duration is not None:
        rules["Duration"] = res.rotation.duration
    return {"lambda_arn": res.rotation.lambda_arn, "rules": rules}


def rotation_matches(desired: DesiredRotation, current: RotationState) -> tuple[bool, list[str]]:
    """Whether the current rotation (as read) is the declared one; notes on what AWS did not return.

    A schedule expression or duration that AWS does not return is unknown, not a difference
    (moto drops both); a rotation AWS reports as disabled with a returned rule differs.
    """
    notes: list[str] = []
    rules, have = desired["rules"], current.get("rules") or {}
    if current.get("lambda_arn") != desired["lambda_arn"]:
        return False, notes
    days = rules.get("AutomaticallyAfterDays")
    if days is not None and (not current.get("enabled") or have.get("AutomaticallyAfterDays") != days):
        return False, notes
    if "ScheduleExpression" in rules:
        got = have.get("ScheduleExpression")
        if got is None and not have.get("AutomaticallyAfterDays") and current.get("requested"):
            notes.append("AWS did not return the rotation schedule expression; treated as unknown, not as a difference")
        elif got != rules["ScheduleExpression"] or not current.get("enabled"):
            return False, notes
    if "Duration" in rules:
        got = have.get("Duration")
        if got is None:
            notes.append("AWS did not return the rotation window duration; treated as unknown, not as a difference")
        elif got != rules["Duration"]:
            return False, notes
    return True, notes


class SecretHandler(ResourceHandler[Secret, SecretState, SecretFacts]):
    """Converge a Secrets Manager secret without ever reading or showing its value."""

    kind: ClassVar[str] = "secret"
    read_actions: ClassVar[tuple[str, ...]] = (
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetResourcePolicy",
        "lambda:GetFunction",
        "kms:DescribeKey",
    )
    write_actions: ClassVar[tuple[str, ...]] = (
        "secretsmanager:CreateSecret",
        "secretsmanager:UpdateSecret",
        "secretsmanager:PutSecretValue",
        "secretsmanager:TagResource",
        "secretsmanager:UntagResource",
        "secretsmanager:PutResourcePolicy",
        "secretsmanager:DeleteResourcePolicy",
        "secretsmanager:RotateSecret",
        "secretsmanager:CancelRotateSecret",
        "secretsmanager:RestoreSecret",
        "secretsmanager:DeleteSecret",
    )

    def read(self, clients: AwsClients, resource: Secret, env: PlanEnv) -> SecretState | None:
        """Describe the secret (no value is read); its resource policy only when the playbook manages it."""
        res = resource
        sm = clients.client("secretsmanager")
        got = not_found(sm, "describe_secret", SecretId=res.name)
        if got is None:
            return None
        stages = got.get("VersionIdsToStages") or {}
        rules = got.get("RotationRules") or {}
        current: SecretState = {
            "name": got["Name"],
            "arn": got["ARN"],
            "description": got.get("Description"),
            "kms_key": got.get("KmsKeyId"),
            "tags": read_tags(got),
            "deleted": got.get("DeletedDate") is not None,
            "has_value": any("AWSCURRENT" in s for s in stages.values()),
            "rotation": {
                "enabled": bool(got.get("RotationEnabled")),
                "lambda_arn": got.get("RotationLambdaARN") or None,
                "rules": {k: v for k, v in rules.items() if v not in (None, "", 0)},
                "requested": got.get("LastRotatedDate") is not None or bool(got.get("RotationLambdaARN")),
            },
            "resource_policy": None,
        }
        if res.state == "present" and res.is_managed("resource_policy") and not current["deleted"]:
            policy = sm.get_resource_policy(SecretId=res.name).get("ResourcePolicy")
            current["resource_policy"] = parse_document(policy) if policy else None
        return current

    def lookup(self, clients: AwsClients, resource: Secret, env: PlanEnv,
               current: SecretState | None) -> SecretFacts | None:
        """Whether the rotation Lambda exists (when rotation is about to be configured), and the KMS key."""
        if resource.state == "absent":
            return None
        lambda_exists: bool | None = None
        wanted = desired_rotation(resource)
        if wanted is not None and (current is None or not rotation_matches(wanted, current["rotation"])[0]):
            # rotation is about to be configured: the function must exist (iamflow does not deploy it)
            fn = not_found(clients.client("lambda"), "get_function", FunctionName=wanted["lambda_arn"])
            lambda_exists = fn is not None
        same_key: bool | None = None
        if current is not None and resource.kms_key and current.get("kms_key"):
            want_key = env.ref_arn(resource.kms_key, _KMS_KINDS)
            if want_key != current["kms_key"]:
                same_key = _same_kms_key(clients, want_key, current["kms_key"] or "")
        return SecretFacts(lambda_exists, same_key)

    def plan(self, resource: Secret, current: SecretState | None, env: PlanEnv,
             facts: SecretFacts | None = None) -> Plan:
        """Plan the calls from ``current`` to the declared secret. Pure: no I/O, no value."""
        res = resource
        facts = facts or SecretFacts()
        plan = Plan(resource=res.key, before=_view(current))
        if res.state == "absent":
            if current is not None and not current["deleted"]:
                plan.changes.append(_delete(res))
            elif current is not None:
                plan.notes.append(f"secret {res.name} is already scheduled for deletion")
            return plan
        wanted = desired_rotation(res)
        if wanted is not None and facts.lambda_exists is False:
            plan.blocked = (
                f"the rotation Lambda {wanted['lambda_arn']} does not exist; iamflow does not deploy it. "
                f"Deploy the function (or fix rotation.lambda_arn) before applying secret {res.name}"
            )
        if current is None:
            _plan_create(plan, res, env, wanted)
        else:
            _plan_update(plan, res, env, wanted, current, facts)
        return plan

    def exists(self, current: SecretState | None) -> bool:
        """A secret scheduled for deletion is as good as gone."""
        return current is not None and not current["deleted"]

    def arn(self, resource: Secret, env: PlanEnv, current: SecretState | None) -> str:
        """The secret's ARN once it exists (it ends in a random suffix); before that, by name."""
        if current is not None:
            return current["arn"]
        return regional_arn(env.ctx, "secretsmanager", f"secret:{resource.name}")

    def grants(self, resource: Secret, env: PlanEnv) -> list[Grant]:
        """Secrets Manager on the secret; Lambda on the rotation function; KMS on keys, when one is named."""
        sm, other = split_actions(self.actions, "secretsmanager")
        out = [Grant(sm, (secret_arn_pattern(env.ctx, resource.name),))]
        lambda_arn = resource.rotation.lambda_arn if resource.rotation is not None else None
        if lambda_arn:
            out.append(Grant(tuple(a for a in other if a.startswith("lambda:")), (lambda_arn,)))
        if resource.kms_key:
            key = regional_arn(env.ctx, "kms", "key/*")
            out.append(Grant(tuple(a for a in other if a.startswith("kms:")) + SECRET_KEY_ACTIONS, (key,)))
        return out


def _same_kms_key(clients: AwsClients, a: str, b: str) -> bool:
    """Whether two key references (ids, ARNs, aliases) name the same KMS key (a read per name)."""
    kms = clients.client("kms")
    arns = []
    for ref in (a, b):
        try:
            arns.append(kms.describe_key(KeyId=ref)["KeyMetadata"]["Arn"])
        except kms.exceptions.NotFoundException:
            return False
    return bool(arns[0] == arns[1])


def _value_param(res: Secret) -> Generated:
    return Generated(f"value:{res.name}", lambda: render_value(res), f"generated at apply time: {describe_value(res)}")


def _plan_create(plan: Plan, res: Secret, env: PlanEnv, wanted: DesiredRotation | None) -> None:
    name = res.name
    params: dict[str, Any] = {"Name": name, "SecretString": _value_param(res)}
    description = res.description
    if description:
        params["Description"] = description
    kms = env.ref_arn(res.kms_key, _KMS_KINDS) if res.kms_key else None
    if kms:
        params["KmsKeyId"] = kms
    tags = creation_tags(env, res, desired_tags(env, res))
    params["Tags"] = tags_to_list(tags, "Key", "Value")
    plan.changes.append(
        Change("secretsmanager", "create_secret", params,
               f"create secret {name} with a value generated at apply time ({describe_value(res)})",
               sensitive=("SecretString",), adopt=_adopt_secret)
    )
    policy = desired_document(res.resource_policy) if res.resource_policy is not None else None
    if policy is not None:
        plan.changes.append(_put_policy(name, policy))
    if wanted is not None:
        plan.changes.append(_rotate(name, wanted))
    plan.after = {
        "name": name,
        "description": description or None,
        "kms_key": kms,
        "tags": dict(sorted((tags or {}).items())),
        "resource_policy": view_document(policy),
        "rotation": _rotation_view(wanted),
        "value": "(generated at apply time, never shown)",
    }


def _plan_update(plan: Plan, res: Secret, env: PlanEnv, wanted: DesiredRotation | None,
                 current: SecretState, facts: SecretFacts) -> None:
    name = res.name
    label = f"secret {name}"
    after = dict(plan.before or {})
    changes = plan.changes
    if current["deleted"]:
        changes.append(Change("secretsmanager", "restore_secret", {"SecretId": name},
                              f"cancel the scheduled deletion of {label}"))
        after["scheduled_for_deletion"] = False

    update: dict[str, Any] = {}
    what: list[str] = []
    if res.is_managed("description"):
        want = res.description or ""
        if want != (current.get("description") or ""):
            update["Description"] = want
            what.append("description")
            after["description"] = want or None
    if res.is_managed("kms_key"):
        want_key = env.ref_arn(res.kms_key, _KMS_KINDS) if res.kms_key else None
        have_key = current.get("kms_key")
        same = (want_key or DEFAULT_KMS_KEY) == (have_key or DEFAULT_KMS_KEY) or facts.kms_same_key
        if not same:
            update["KmsKeyId"] = want_key or DEFAULT_KMS_KEY
            what.append("KMS key")
            after["kms_key"] = want_key
    if update:
        # no SecretString: an update of the metadata never touches the value
        changes.append(Change("secretsmanager", "update_secret", {"SecretId": name, **update},
                              f"update the {' and '.join(what)} of {label}"))

    tag_calls, after["tags"] = tag_changes(
        current["tags"], desired_tags(env, res), purge=res.purge_tags, service="secretsmanager",
        tag_op="tag_resource", untag_op="untag_resource", id_params={"SecretId": name}, label=label,
    )
    changes += tag_calls

    if res.is_managed("resource_policy"):
        want_doc = desired_document(res.resource_policy) if res.resource_policy is not None else None
        have_doc = current.get("resource_policy")
        if want_doc is not None and not policies_equal(want_doc, have_doc):
            changes.append(_put_policy(name, want_doc))
            after["resource_policy"] = view_document(want_doc)
        elif want_doc is None and have_doc is not None:
            changes.append(Change("secretsmanager", "delete_resource_policy", {"SecretId": name},
                                  f"delete the resource policy of {label}"))
            after["resource_policy"] = None

    rotation = current["rotation"]
    if wanted is not None:
        matches, notes = rotation_matches(wanted, rotation)
        plan.notes += [f"{label}: {n}" for n in notes]
        if not matches:
            changes.append(_rotate(name, wanted))
            after["rotation"] = _rotation_view(wanted)
    elif res.is_managed("rotation") and rotation["enabled"]:
        changes.append(Change("secretsmanager", "cancel_rotate_secret", {"SecretId": name},
                              f"turn off automatic rotation of {label}"))
        after["rotation"] = None

    if not current["has_value"]:
        changes.append(_put_value(res, f"write a generated value to {label}, which has none"))
        after["value"] = "(a new generated value, never shown)"
    elif res.rotate_now:
        changes.append(_put_value(res, f"write a new generated value to {label} (rotate_now; the old value "
                                       "becomes AWSPREVIOUS)"))
        after["value"] = "(a new generated value, never shown)"
        plan.notes.append(f"{label}: rotate_now is set, so every apply writes a new value; remove it after this run")
        if rotation["lambda_arn"] or wanted is not None:
            plan.notes.append(
                f"{label}: the new value is written directly, not through the rotation Lambda, so whatever the "
                "Lambda keeps in step (a database user) is not updated; to rotate through the Lambda, trigger a "
                "rotation (the secret_rotation DAG's rotate_now_secret)"
            )
    plan.after = after


def _adopt_secret(clients: AwsClients, params: dict[str, Any]) -> dict[str, Any] | None:
    """The secret a create may have made, by name; one scheduled for deletion is not adopted."""
    got = not_found(clients.client("secretsmanager"), "describe_secret", SecretId=params["Name"])
    if got is None or got.get("DeletedDate") is not None:
        return None
    return {"ARN": got["ARN"], "Name": got["Name"]}


def _put_value(res: Secret, summary: str) -> Change:
    return Change("secretsmanager", "put_secret_value", {"SecretId": res.name, "SecretString": _value_param(res)},
                  summary, sensitive=("SecretString",))


def _put_policy(name: str, doc: dict[str, Any]) -> Change:
    return Change(
        "secretsmanager",
        "put_resource_policy",
        {"SecretId": name, "ResourcePolicy": dumps(doc), "BlockPublicPolicy": True},
        f"put the resource policy of secret {name}",
    )


def _rotate(name: str, wanted: DesiredRotation) -> Change:
    rules = wanted["rules"]
    every = (f"every {rules['AutomaticallyAfterDays']} days" if "AutomaticallyAfterDays" in rules
             else f"on {rules['ScheduleExpression']}")
    return Change(
        "secretsmanager",
        "rotate_secret",
        # configuring is not rotating: AWS would otherwise rotate at once
        {"SecretId": name, "RotationLambdaARN": wanted["lambda_arn"], "RotationRules": dict(rules),
         "RotateImmediately": False},
        f"configure rotation of secret {name} {every} by {wanted['lambda_arn'].rsplit(':', 1)[-1]} "
        "(not rotating now)",
    )


def _delete(res: Secret) -> Change:
    if res.force_delete:
        return Change("secretsmanager", "delete_secret", {"SecretId": res.name, "ForceDeleteWithoutRecovery": True},
                      f"delete secret {res.name} immediately, without recovery (force_delete)")
    return Change(
        "secretsmanager",
        "delete_secret",
        {"SecretId": res.name, "RecoveryWindowInDays": res.recovery_window_days},
        f"schedule deletion of secret {res.name} in {res.recovery_window_days} days (recoverable until then)",
    )


def _rotation_view(rotation: RotationState | DesiredRotation | None) -> dict[str, Any] | None:
    if rotation is None:
        return None
    return {"enabled": rotation.get("enabled", True), "lambda_arn": rotation["lambda_arn"],
            "rules": dict(sorted(rotation["rules"].items()))}


def _view(current: SecretState | None) -> dict[str, Any] | None:
    """The diffable view of a read secret: metadata only, the value as a placeholder."""
    if current is None:
        return None
    rotation = current["rotation"]
    view: dict[str, Any] = {
        "name": current["name"],
        "description": current.get("description") or None,
        "kms_key": current.get("kms_key"),
        "tags": dict(sorted(current["tags"].items())),
        "resource_policy": view_document(current.get("resource_policy")),
        "rotation": _rotation_view(rotation) if rotation["enabled"] or rotation["lambda_arn"] else None,
        "value": HIDDEN if current["has_value"] else None,
    }
    if current["deleted"]:
        view["scheduled_for_deletion"] = True
    return view
