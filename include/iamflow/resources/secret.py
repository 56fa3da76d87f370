"""Secrets Manager secrets: metadata, KMS key, tags, resource policy, rotation; a value only at birth.

The value is generated when the change executes (a :class:`~iamflow.resources.execute.Deferred`
param), so plans, diffs and summaries only ever say *that* a value is written, never *what*. A
re-run never overwrites a value (a rotated value survives every later apply); ``rotate_now`` writes
a fresh one, and the plan says so.

Rotation is configured with ``RotateImmediately=False``: configuring is not rotating. Before
that, the rotation Lambda must exist (``lambda:GetFunction``, a read); iamflow does not deploy it,
and a plan that would point a secret at a missing function is refused as a whole.

moto quirks handled here (see ``moto-5.2.5-coverage.md`` §3): a ``ScheduleExpression`` alone is
not honoured (RotationEnabled=false, AutomaticallyAfterDays=0) and ``Duration`` is dropped; a
schedule or duration AWS does not return is treated as unknown, not as a difference.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from iamflow.policy.document import parse_document, policies_equal
from iamflow.policy.tags import tags_to_list
from iamflow.resources._common import desired_document, desired_tags, read_tags, tag_changes, view_document
from iamflow.resources.base import Change, Plan, PlanEnv, ResourceHandler, dumps
from iamflow.resources.execute import Deferred

if TYPE_CHECKING:
    from iamflow.aws.clients import AwsClients
    from iamflow.spec.kinds_secrets import Secret
    from iamflow.spec.models import ResourceBase

_KMS_KINDS = ("kms_key",)
# What Secrets Manager uses when a secret names no key.
DEFAULT_KMS_KEY = "alias/aws/secretsmanager"
HIDDEN = "(hidden)"


def _not_found(client: Any, operation: str, **params: Any) -> dict[str, Any] | None:
    """Call a read; Secrets Manager and Lambda answer "not found" with ResourceNotFoundException."""
    try:
        return getattr(client, operation)(**params)
    except client.exceptions.ResourceNotFoundException:
        return None


def desired_rotation(res: Secret, env: PlanEnv) -> dict[str, Any] | None:
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
    return {"lambda_arn": env.ctx.substitute(res.rotation.lambda_arn), "rules": rules}


def rotation_matches(desired: dict[str, Any], current: dict[str, Any]) -> tuple[bool, list[str]]:
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


class SecretHandler(ResourceHandler):
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

    def read(self, clients: AwsClients, resource: ResourceBase, env: PlanEnv) -> dict[str, Any] | None:
        """Describe the secret (no value is read); the policy and the Lambda only when they matter."""
        res: Secret = resource  # type: ignore[assignment]
        sm = clients.client("secretsmanager")
        got = _not_found(sm, "describe_secret", SecretId=res.name)
        if got is None:
            current = None
        else:
            stages = got.get("VersionIdsToStages") or {}
            rules = got.get("RotationRules") or {}
            current = {
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
                "lambda_exists": None,
                "kms_same_key": None,
            }
        if res.state == "absent":
            return current
        if current is not None and res.is_managed("resource_policy") and not current["deleted"]:
            policy = sm.get_resource_policy(SecretId=res.name).get("ResourcePolicy")
            current["resource_policy"] = parse_document(policy) if policy else None
        wanted = desired_rotation(res, env)
        if wanted is not None and (current is None or not rotation_matches(wanted, current["rotation"])[0]):
            # rotation is about to be configured: the function must exist (iamflow does not deploy it)
            fn = _not_found(clients.client("lambda"), "get_function", FunctionName=wanted["lambda_arn"])
            lambda_exists = fn is not None
            if current is None:
                current = {"name": None, "lambda_exists": lambda_exists}
            else:
                current["lambda_exists"] = lambda_exists
        if current is not None and current.get("arn") and res.kms_key and current.get("kms_key"):
            want_key = env.ref_arn(res.kms_key, _KMS_KINDS) if res.kms_key else None
            if want_key and want_key != current["kms_key"]:
                current["kms_same_key"] = _same_kms_key(clients, want_key, current["kms_key"])
        return current

    def plan(self, resource: ResourceBase, current: dict[str, Any] | None, env: PlanEnv) -> Plan:
        """Plan the calls from ``current`` to the declared secret. Pure: no I/O, no value."""
        res: Secret = resource  # type: ignore[assignment]
        exists = current is not None and current.get("arn") is not None
        plan = Plan(resource=res.key, before=_view(current) if exists else None)
        if res.state == "absent":
            if exists and not current["deleted"]:  # type: ignore[index]
                plan.changes.append(_delete(res))
            elif exists:
                plan.notes.append(f"secret {res.name} is already scheduled for deletion")
            return plan
        wanted = desired_rotation(res, env)
        if wanted is not None and (current or {}).get("lambda_exists") is False:
            plan.blocked = (
                f"the rotation Lambda {wanted['lambda_arn']} does not exist; iamflow does not deploy it. "
                f"Deploy the function (or fix rotation.lambda_arn) before applying secret {res.name}"
            )
        if not exists:
            _plan_create(plan, res, env, wanted)
        else:
            _plan_update(plan, res, env, wanted, current)  # type: ignore[arg-type]
        return plan


def _same_kms_key(clients: AwsClients, a: str, b: str) -> bool:
    """Whether two key references (ids, ARNs, aliases) name the same KMS key (a read per name)."""
    kms = clients.client("kms")
    arns = []
    for ref in (a, b):
        try:
            arns.append(kms.describe_key(KeyId=ref)["KeyMetadata"]["Arn"])
        except kms.exceptions.NotFoundException:
            return False
    return arns[0] == arns[1]


def _value_param(res: Secret) -> Deferred:
    from iamflow.secrets.generate import describe_value, render_value

    return Deferred(lambda: render_value(res), f"generated at apply time: {describe_value(res)}")


def _plan_create(plan: Plan, res: Secret, env: PlanEnv, wanted: dict[str, Any] | None) -> None:
    from iamflow.secrets.generate import describe_value

    name = res.name
    params: dict[str, Any] = {"Name": name, "SecretString": _value_param(res)}
    description = env.ctx.substitute(res.description)
    if description:
        params["Description"] = description
    kms = env.ref_arn(res.kms_key, _KMS_KINDS) if res.kms_key else None
    if kms:
        params["KmsKeyId"] = kms
    tags = desired_tags(env, res)
    if tags:
        params["Tags"] = tags_to_list(tags, "Key", "Value")
    plan.changes.append(
        Change("secretsmanager", "create_secret", params,
               f"create secret {name} with a value generated at apply time ({describe_value(res)})",
               sensitive=("SecretString",))
    )
    policy = desired_document(env, res.resource_policy) if res.resource_policy is not None else None
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


def _plan_update(plan: Plan, res: Secret, env: PlanEnv, wanted: dict[str, Any] | None,
                 current: dict[str, Any]) -> None:
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
        want = env.ctx.substitute(res.description) or ""
        if want != (current.get("description") or ""):
            update["Description"] = want
            what.append("description")
            after["description"] = want or None
    if res.is_managed("kms_key"):
        want_key = env.ref_arn(res.kms_key, _KMS_KINDS) if res.kms_key else None
        have_key = current.get("kms_key")
        same = (want_key or DEFAULT_KMS_KEY) == (have_key or DEFAULT_KMS_KEY) or current.get("kms_same_key")
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
        want_doc = desired_document(env, res.resource_policy) if res.resource_policy is not None else None
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


def _rotate(name: str, wanted: dict[str, Any]) -> Change:
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


def _rotation_view(rotation: dict[str, Any] | None) -> dict[str, Any] | None:
    if rotation is None:
        return None
    return {"enabled": rotation.get("enabled", True), "lambda_arn": rotation["lambda_arn"],
            "rules": dict(sorted(rotation["rules"].items()))}


def _view(current: dict[str, Any] | None) -> dict[str, Any] | None:
    """The diffable view of a read secret: metadata only, the value as a placeholder."""
    if current is None or current.get("arn") is None:
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


def _register() -> None:
    from iamflow.resources import register
    from iamflow.secrets.hygiene import guard_botocore_logs

    # before any call that carries a value can be made through this handler
    guard_botocore_logs()
    register(SecretHandler())


_register()
