"""Cognito user pools (with bootstrap admin users), app clients and groups: one module per kind.

Finding a pool: pool names are not unique in AWS, so a pool is this playbook's when its name
matches *and* its ``iamflow:id`` tag is ``<playbook>/<pool>``. Two such pools are an error (no
write, a message naming both ids); a same-named pool without the tag is an error too ("exists but
is not managed by iamflow"): iamflow never adopts a pool silently. Tag it by hand to adopt it.

Full configs: ``UpdateUserPool`` and ``UpdateUserPoolClient`` replace the whole configuration, and
what a call leaves out returns to its default (AWS documents it, moto does it). Every update sends
the current configuration as read, with the declared sections put over it.

MFA: the source of truth is ``GetUserPoolMfaConfig`` (sign-in follows it, in AWS and in moto),
and MFA is changed with ``SetUserPoolMfaConfig`` only. ``CreateUserPool`` leaves MFA out (AWS
refuses ``ON`` at creation without an SMS setup); ``UpdateUserPool`` repeats the effective value
so that it cannot reset MFA. moto 5.2.5 does not sync the two APIs: its ``DescribeUserPool`` may
lag behind, which is why iamflow never reads MFA from it.

Immutable settings (schema attributes, username attributes, an app client's secret) cannot be
changed in place: the plan says "replacement required" and is blocked, unless the resource says
``allow_replace: true`` — then it deletes and creates (turning deletion protection off first,
shown as its own step). ``state: absent`` on a pool with deletion protection is blocked unless the
pool also says ``force: true``; a protected pool is never deleted silently.

Secrets: an admin user's temporary password is generated at apply time (never in a plan), stored
in Secrets Manager first (``iamflow/cognito/<pool>/<user>``) and only then used to create the
user; an app client's generated secret goes to ``iamflow/cognito/<pool>/clients/<client>``. Both
values live in memory during apply only, are registered with the maskers (secrets.hygiene), and are
redacted from error messages; plans, diffs and summaries name where a secret is, never what it is.
Re-runs never reset a password: an existing user is left alone.
"""

from __future__ import annotations

from iamflow.resources.cognito._common import TAG_KEY, PoolLookupError, find_pool
from iamflow.resources.cognito.app_client import CognitoAppClientHandler
from iamflow.resources.cognito.group import CognitoGroupHandler
from iamflow.resources.cognito.user_pool import CognitoUserPoolHandler

__all__ = [
    "TAG_KEY",
    "CognitoAppClientHandler",
    "CognitoGroupHandler",
    "CognitoUserPoolHandler",
    "PoolLookupError",
    "find_pool",
]
