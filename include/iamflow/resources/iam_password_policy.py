"""The account's IAM password policy: read, compare field by field, write it whole, delete only on ``absent``.

AWS facts this handler is built on:

* ``GetAccountPasswordPolicy`` answers ``NoSuchEntity`` when the account has none (AWS then
  applies its defaults: 8 characters, no other rule); that is "absent", not an error.
* ``UpdateAccountPasswordPolicy`` resets every parameter it is *not* sent to AWS's default (6
  characters, nothing required, no expiry, no reuse prevention). So the handler sends the whole
  policy every time: the declared fields, and the current value of every field the playbook
  leaves out.
* ``MaxPasswordAge`` and ``PasswordReusePrevention`` have no "off" value in the call: they are
  left out to mean "never expires" and "no reuse prevention" (AWS reports them as absent).

Check mode writes nothing: the engine hands check-mode clients to ``apply``, and those refuse the
write before it is sent (unlike Ansible's ``iam_password_policy``, which rewrites, or deletes,
the policy under ``--check``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, TypedDict

from iamflow.aws.errors import not_found
from iamflow.resources.base import Change, Grant, Plan, PlanEnv, ResourceHandler
from iamflow.spec.kinds_identities import IamAccountPasswordPolicy

if TYPE_CHECKING:
    from iamflow.aws.clients import AwsClients


class PasswordPolicyState(TypedDict):
    """The policy in the playbook's field names (None: not set, i.e. no expiry / no reuse rule)."""

    minimum_length: int
    require_symbols: bool
    require_numbers: bool
    require_uppercase: bool
    require_lowercase: bool
    allow_users_to_change: bool
    max_age_days: int | None
    reuse_prevention: int | None
    hard_expiry: bool


# playbook field -> the API's parameter (the same name in GetAccountPasswordPolicy's answer)
API_FIELDS: dict[str, str] = {
    "minimum_length": "MinimumPasswordLength",
    "require_symbols": "RequireSymbols",
    "require_numbers": "RequireNumbers",
    "require_uppercase": "RequireUppercaseCharacters",
    "require_lowercase": "RequireLowercaseCharacters",
    "allow_users_to_change": "AllowUsersToChangePassword",
    "max_age_days": "MaxPasswordAge",
    "reuse_prevention": "PasswordReusePrevention",
    "hard_expiry": "HardExpiry",
}

# What UpdateAccountPasswordPolicy applies to a parameter it is not sent (AWS's documented defaults).
UPDATE_DEFAULTS: PasswordPolicyState = {
    "minimum_length": 6,
    "require_symbols": False,
    "require_numbers": False,
    "require_uppercase": False,
    "require_lowercase": False,
    "allow_users_to_change": False,
    "max_age_days": None,
    "reuse_prevention": None,
    "hard_expiry": False,
}


class IamPasswordPolicyHandler(ResourceHandler[IamAccountPasswordPolicy, PasswordPolicyState, None]):
    """Converge the account password policy."""

    kind: ClassVar[str] = "iam_account_password_policy"
    read_actions: ClassVar[tuple[str, ...]] = ("iam:GetAccountPasswordPolicy",)
    write_actions: ClassVar[tuple[str, ...]] = ("iam:UpdateAccountPasswordPolicy", "iam:DeleteAccountPasswordPolicy")

    def read(self, clients: AwsClients, resource: IamAccountPasswordPolicy, env: PlanEnv) -> PasswordPolicyState | None:
        got = not_found(clients.client("iam"), "get_account_password_policy")
        if got is None:
            return None
        return state_from_api(got["PasswordPolicy"])

    def plan(self, resource: IamAccountPasswordPolicy, current: PasswordPolicyState | None, env: PlanEnv,
             facts: None = None) -> Plan:
        """Desired fields over the current policy (or AWS's update defaults) → at most one call. Pure."""
        plan = Plan(resource=resource.key, before=_view(current))
        if resource.state == "absent":
            if current is not None:
                plan.changes.append(Change("iam", "delete_account_password_policy", {},
                                           "delete the account password policy (AWS's defaults apply)"))
            return plan
        base: dict[str, Any] = dict(current if current is not None else UPDATE_DEFAULTS)
        desired = {**base, **{f: getattr(resource, f) for f in API_FIELDS if resource.is_managed(f)}}
        plan.after = _view(desired)  # type: ignore[arg-type]
        if current is None or desired != dict(current):
            changed = sorted(f for f in API_FIELDS if current is None or desired[f] != current[f])  # type: ignore[literal-required]
            what = "set" if current is None else "update"
            plan.changes.append(Change("iam", "update_account_password_policy", api_params(desired),
                                       f"{what} the account password policy ({', '.join(changed)})"))
        return plan

    def arn(self, resource: IamAccountPasswordPolicy, env: PlanEnv, current: PasswordPolicyState | None) -> str:
        # the policy is the account's: findings name the account root
        return f"arn:{env.ctx.partition}:iam::{env.ctx.account_id}:root"

    def grants(self, resource: IamAccountPasswordPolicy, env: PlanEnv) -> list[Grant]:
        """The password policy actions have no resource type: AWS authorises them on ``*`` only.

        So deletion (a "permissions management" action on ``*``) is granted only to a provisioner
        whose playbooks declare the policy ``absent``, and updating only to one that declares it present.
        """
        write = "iam:DeleteAccountPasswordPolicy" if resource.state == "absent" else "iam:UpdateAccountPasswordPolicy"
        return [Grant((*self.read_actions, write), ("*",))]


def state_from_api(policy: dict[str, Any]) -> PasswordPolicyState:
    """A ``PasswordPolicy`` as GetAccountPasswordPolicy returns it, in the playbook's terms."""
    return {
        "minimum_length": int(policy.get("MinimumPasswordLength") or 6),
        "require_symbols": bool(policy.get("RequireSymbols")),
        "require_numbers": bool(policy.get("RequireNumbers")),
        "require_uppercase": bool(policy.get("RequireUppercaseCharacters")),
        "require_lowercase": bool(policy.get("RequireLowercaseCharacters")),
        "allow_users_to_change": bool(policy.get("AllowUsersToChangePassword")),
        "max_age_days": int(policy["MaxPasswordAge"]) if policy.get("MaxPasswordAge") else None,
        "reuse_prevention": int(policy["PasswordReusePrevention"]) if policy.get("PasswordReusePrevention") else None,
        "hard_expiry": bool(policy.get("HardExpiry")),
    }


def api_params(desired: dict[str, Any]) -> dict[str, Any]:
    """Every parameter of UpdateAccountPasswordPolicy (an omitted one would fall back to AWS's default)."""
    return {API_FIELDS[f]: v for f, v in desired.items() if f in API_FIELDS and v is not None}


def _view(state: PasswordPolicyState | None) -> dict[str, Any] | None:
    return None if state is None else {f: state[f] for f in API_FIELDS}  # type: ignore[literal-required]
