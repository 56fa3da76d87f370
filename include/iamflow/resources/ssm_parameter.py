"""Systems Manager Parameter Store parameters: value, type, description, key, tier, pattern, tags.

AWS facts this handler follows (``PutParameter``, ``DescribeParameters``):

* A parameter's metadata (description, key, tier, allowed pattern, type) can only be changed by
  ``PutParameter`` with ``Overwrite=True``, which always carries a value and makes a new version.
  ``Tags`` and ``Overwrite`` cannot be sent together: tags are set at creation, then with
  ``AddTagsToResource`` / ``RemoveTagsFromResource``.
* ``DescribeParameters`` returns the metadata without the value; ``GetParameter`` the value. A
  SecureString's value is never read to compare it: iamflow writes it once, at creation, from a
  value generated at apply time, and a re-run never overwrites it (a value changed outside
  iamflow survives). When a SecureString's metadata must change, the apply reads the current value
  (``GetParameter`` with decryption, at apply time only: never in check mode, a plan or a diff) and
  writes it back unchanged with the new metadata.
* An Advanced parameter cannot go back to Standard: that needs a delete and a create
  (``allow_replace``), which for a SecureString means a newly generated value. ``Intelligent-Tiering``
  is a request, not a stored tier (AWS stores Standard or Advanced), so it is never a difference.
* ``PutParameter`` without ``Overwrite`` answers ``ParameterAlreadyExists`` when the name is taken:
  the create is idempotent by name, so its retries stay on, and an ambiguous failure is resolved
  by reading the parameter by name (adopted, never overwritten).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypedDict

from iamflow.aws.errors import not_found
from iamflow.policy.tags import tags_from_list, tags_to_list
from iamflow.resources._common import creation_tags, desired_tags, tag_changes
from iamflow.resources.base import (
    Change,
    Generated,
    Grant,
    Output,
    Plan,
    PlanEnv,
    ResourceHandler,
    regional_arn,
    split_actions,
)
from iamflow.secrets.generate import generate_string
from iamflow.spec.kinds_ssm import SECURE, SsmParameter

if TYPE_CHECKING:
    from iamflow.aws.clients import AwsClients

_KMS_KINDS = ("kms_key",)
# the key Parameter Store uses when a SecureString names none
DEFAULT_KMS_KEY = "alias/aws/ssm"
HIDDEN = "(hidden)"
# what writing and reading a SecureString with a customer-managed key needs of that key (AWS only)
PARAMETER_KEY_ACTIONS: tuple[str, ...] = ("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey")


class ParameterState(TypedDict):
    """A parameter as read: its metadata, and the value only for String and StringList."""

    name: str
    arn: str
    type: str
    description: str | None
    kms_key: str | None
    tier: str
    allowed_pattern: str | None
    tags: dict[str, str]
    value: str | None  # None for a SecureString: never read
    version: int


@dataclass(frozen=True)
class ParameterFacts:
    """Whether the declared key and the parameter's key are one key (None: not looked up)."""

    kms_same_key: bool | None = None


class SsmParameterHandler(ResourceHandler[SsmParameter, ParameterState, ParameterFacts]):
    """Converge a parameter; a SecureString's value is generated once and never shown or compared."""

    kind: ClassVar[str] = "ssm_parameter"
    read_actions: ClassVar[tuple[str, ...]] = (
        "ssm:DescribeParameters",
        "ssm:GetParameter",
        "ssm:ListTagsForResource",
        "kms:DescribeKey",
    )
    write_actions: ClassVar[tuple[str, ...]] = (
        "ssm:PutParameter",
        "ssm:AddTagsToResource",
        "ssm:RemoveTagsFromResource",
        "ssm:DeleteParameter",
    )

    def read(self, clients: AwsClients, resource: SsmParameter, env: PlanEnv) -> ParameterState | None:
        """Describe the parameter; read its value only when it is not a SecureString."""
        ssm = clients.client("ssm")
        name = resource.name
        found = ssm.describe_parameters(
            ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": [name]}]
        ).get("Parameters") or []
        meta = next((p for p in found if p.get("Name") == name), None)
        if meta is None:
            return None
        value: str | None = None
        arn = resource.arn(env.ctx)
        if meta.get("Type") != SECURE:
            got = not_found(ssm, "get_parameter", Name=name)
            if got is None:  # deleted between the two reads
                return None
            value = got["Parameter"].get("Value")
            arn = got["Parameter"].get("ARN") or arn
        tags = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name).get("TagList") or []
        return {
            "name": name,
            "arn": arn,
            "type": meta.get("Type", "String"),
            "description": meta.get("Description") or None,
            "kms_key": meta.get("KeyId") if meta.get("Type") == SECURE else None,
            "tier": meta.get("Tier") or "Standard",
            "allowed_pattern": meta.get("AllowedPattern") or None,
            "tags": tags_from_list(tags, "Key", "Value"),
            "value": value,
            "version": int(meta.get("Version") or 0),
        }

    def lookup(self, clients: AwsClients, resource: SsmParameter, env: PlanEnv,
               current: ParameterState | None) -> ParameterFacts | None:
        """Whether the declared KMS key is the parameter's key, when the two are written differently."""
        if resource.state == "absent" or current is None or not current.get("kms_key"):
            return None
        want = env.ref_arn(resource.kms_key, _KMS_KINDS) if resource.kms_key else DEFAULT_KMS_KEY
        have = current["kms_key"] or DEFAULT_KMS_KEY
        if want == have:
            return ParameterFacts(True)
        kms = clients.client("kms")
        arns = []
        for ref in (want, have):
            try:
                arns.append(kms.describe_key(KeyId=ref)["KeyMetadata"]["Arn"])
            except kms.exceptions.NotFoundException:
                return ParameterFacts(False)
        return ParameterFacts(arns[0] == arns[1])

    def plan(self, resource: SsmParameter, current: ParameterState | None, env: PlanEnv,
             facts: ParameterFacts | None = None) -> Plan:
        """Plan the calls from ``current`` to the declared parameter. Pure: no I/O, no secret value."""
        res = resource
        plan = Plan(resource=res.key, before=_view(current))
        if res.state == "absent":
            if current is not None:
                plan.changes.append(_delete(res.name))
            return plan
        if current is None:
            _plan_create(plan, res, env)
            return plan
        if current["tier"] == "Advanced" and res.tier == "Standard":
            if not res.allow_replace:
                plan.blocked = (f"parameter {res.name} is Advanced and AWS cannot move it back to Standard: "
                                "replacement required (set allow_replace: true to delete and re-create it"
                                + (", with a newly generated value)" if res.type == SECURE else ")"))
                return plan
            plan.changes.append(_delete(res.name))
            _plan_create(plan, res, env)
            plan.before = _view(current)
            plan.notes.append(f"parameter {res.name}: replaced (Advanced → Standard)")
            return plan
        _plan_update(plan, res, env, current, facts or ParameterFacts())
        return plan

    def exists(self, current: ParameterState | None) -> bool:
        return current is not None

    def arn(self, resource: SsmParameter, env: PlanEnv, current: ParameterState | None) -> str:
        return current["arn"] if current is not None else resource.arn(env.ctx)

    def grants(self, resource: SsmParameter, env: PlanEnv) -> list[Grant]:
        """SSM on the parameter (DescribeParameters has no resource type); KMS on keys when one is named."""
        ssm, other = split_actions(self.actions, "ssm")
        scoped = tuple(a for a in ssm if a != "ssm:DescribeParameters")
        out = [Grant(scoped, (resource.arn(env.ctx),)), Grant(("ssm:DescribeParameters",), ("*",))]
        if resource.kms_key:
            out.append(Grant(other + PARAMETER_KEY_ACTIONS, (regional_arn(env.ctx, "kms", "key/*"),)))
        return out


def _generated(res: SsmParameter) -> Generated:
    spec = res.generate
    assert spec is not None  # the schema requires it for a present SecureString
    return Generated(f"ssm:{res.name}", lambda: generate_string(spec),
                     f"generated at apply time: a string of {spec.length} characters")


def _key(res: SsmParameter, env: PlanEnv) -> str | None:
    return env.ref_arn(res.kms_key, _KMS_KINDS) if res.kms_key else None


def _put_params(res: SsmParameter, env: PlanEnv) -> dict[str, Any]:
    """The metadata a put declares (value and Overwrite are added by the caller)."""
    params: dict[str, Any] = {"Name": res.name, "Type": res.type, "Tier": res.tier}
    if res.description:
        params["Description"] = res.description
    if res.allowed_pattern:
        params["AllowedPattern"] = res.allowed_pattern
    key = _key(res, env)
    if res.type == SECURE and key:
        params["KeyId"] = key
    return params


def _plan_create(plan: Plan, res: SsmParameter, env: PlanEnv) -> None:
    params = _put_params(res, env)
    secure = res.type == SECURE
    params["Value"] = _generated(res) if secure else res.value
    tags = creation_tags(env, res, desired_tags(env, res))
    params["Tags"] = tags_to_list(tags, "Key", "Value")
    what = "a value generated at apply time" if secure else "its declared value"
    plan.changes.append(Change("ssm", "put_parameter", params, f"create {res.type} parameter {res.name} with {what}",
                               sensitive=("Value",) if secure else (), adopt=_adopt_parameter))
    plan.after = {
        "name": res.name,
        "type": res.type,
        "description": res.description or None,
        "kms_key": (_key(res, env) or DEFAULT_KMS_KEY) if secure else None,
        "tier": res.tier,
        "allowed_pattern": res.allowed_pattern,
        "tags": dict(sorted(tags.items())),
        "value": "(generated at apply time, never shown)" if secure else res.value,
    }


def _metadata_changes(res: SsmParameter, env: PlanEnv, current: ParameterState, facts: ParameterFacts,
                      after: dict[str, Any], notes: list[str]) -> list[str]:
    """What of the metadata differs (the parts a put rewrites); updates ``after``."""
    what: list[str] = []
    label = f"parameter {res.name}"
    if res.is_managed("description") and (res.description or None) != current["description"]:
        if res.description:
            what.append("description")
            after["description"] = res.description
        else:
            notes.append(f"{label}: AWS keeps a description once set; it is left as it is")
    if res.is_managed("allowed_pattern") and res.allowed_pattern != current["allowed_pattern"]:
        if res.allowed_pattern:
            what.append("allowed pattern")
            after["allowed_pattern"] = res.allowed_pattern
        else:
            notes.append(f"{label}: AWS keeps an allowed pattern once set; it is left as it is")
    if res.tier != "Intelligent-Tiering" and res.tier != current["tier"]:
        what.append("tier")
        after["tier"] = res.tier
    if res.type == SECURE and current["type"] == SECURE and res.is_managed("kms_key") and not facts.kms_same_key:
        want = _key(res, env) or DEFAULT_KMS_KEY
        if want != (current["kms_key"] or DEFAULT_KMS_KEY):
            what.append("KMS key")
            after["kms_key"] = want
    return what


def _plan_update(plan: Plan, res: SsmParameter, env: PlanEnv, current: ParameterState,
                 facts: ParameterFacts) -> None:
    label = f"parameter {res.name}"
    after = dict(plan.before or {})
    what = _metadata_changes(res, env, current, facts, after, plan.notes)
    secure = res.type == SECURE
    params = _put_params(res, env)
    if current["type"] != res.type:
        what.insert(0, f"type ({current['type']} → {res.type})")
        after["type"] = res.type
        if secure:
            params["Value"] = _generated(res)
            after["value"] = "(generated at apply time, never shown)"
            after["kms_key"] = _key(res, env) or DEFAULT_KMS_KEY
            plan.notes.append(f"{label}: becomes a SecureString, so its plain value is replaced by a generated one")
        else:
            params["Value"] = res.value
            after["value"] = res.value
            after["kms_key"] = None
    elif not secure and res.value != current["value"]:
        what.insert(0, "value")
        params["Value"] = res.value
        after["value"] = res.value
    if what:
        if "Value" not in params:
            if secure:
                # the metadata of a SecureString changes only with a value: write back the current one,
                # read at apply time (never in check mode or a plan) and masked like a generated one
                plan.changes.append(Change(
                    "ssm", "get_parameter", {"Name": res.name, "WithDecryption": True},
                    f"read the current value of {label} to keep it (never shown)",
                    publish={"current_value": ("Parameter", "Value")}, secret_outputs=True,
                ))
                params["Value"] = Output("current_value", "the current value, kept")
            else:
                params["Value"] = current["value"]
        params["Overwrite"] = True
        kept = " (the value is kept)" if secure and current["type"] == SECURE else ""
        plan.changes.append(Change("ssm", "put_parameter", params, f"update the {', '.join(what)} of {label}{kept}",
                                   sensitive=("Value",) if secure else ()))
    tag_calls, after["tags"] = tag_changes(
        current["tags"], desired_tags(env, res), purge=res.purge_tags, service="ssm",
        tag_op="add_tags_to_resource", untag_op="remove_tags_from_resource",
        id_params={"ResourceType": "Parameter", "ResourceId": res.name}, label=label,
    )
    plan.changes += tag_calls
    plan.after = after


def _adopt_parameter(clients: AwsClients, params: dict[str, Any]) -> dict[str, Any] | None:
    """The parameter a create may have made, by name (its value is neither read nor overwritten)."""
    found = clients.client("ssm").describe_parameters(
        ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": [params["Name"]]}]
    ).get("Parameters") or []
    meta = next((p for p in found if p.get("Name") == params["Name"]), None)
    return None if meta is None else {"Version": meta.get("Version"), "Tier": meta.get("Tier")}


def _delete(name: str) -> Change:
    return Change("ssm", "delete_parameter", {"Name": name}, f"delete parameter {name}")


def _view(current: ParameterState | None) -> dict[str, Any] | None:
    """The diffable view of a read parameter; a SecureString's value as a placeholder."""
    if current is None:
        return None
    secure = current["type"] == SECURE
    return {
        "name": current["name"],
        "type": current["type"],
        "description": current["description"],
        "kms_key": current["kms_key"] if secure else None,
        "tier": current["tier"],
        "allowed_pattern": current["allowed_pattern"],
        "tags": dict(sorted(current["tags"].items())),
        "value": HIDDEN if secure else current["value"],
    }
