"""Team onboarding and offboarding: the request, its validation, the rendered playbook, the per-team lock.

Pure apart from reading and writing files: no Airflow, no boto3. ``dags/onboard_team.py`` and
``dags/offboard_team.py`` build their form from :func:`form_schema`; the operators in
``iamflow.airflow.operators.onboarding`` call the rest: :mod:`~iamflow.onboarding.request` (the form, the
validation, the configuration), :mod:`~iamflow.onboarding.render` (the team playbook and the
approval text) and :mod:`~iamflow.onboarding.lock` (the per-team lock).

A request names a team (a slug), an environment (from ``include/onboarding.yaml``), owner e-mail
addresses and optional extra managed policies (from the allowed list there). It becomes the
playbook ``team-<team>-<env>``: the role ``team-<team>-<env>`` bounded by ``developer-boundary``
(by ARN: the boundary lives in the developer-access playbook) and trusting the account root, the
KMS key ``alias/team-<team>-<env>`` with the role as its user, the secret
``teams/<team>/<env>/service-credentials`` (generated value) encrypted with that key, and the
Cognito group ``team-<team>`` in the shared pool (``myapp-auth/myapp-users``) mapped to the role.
Offboarding renders the same playbook with ``state: absent``.

Files, all below the teams folder (``include/playbooks/teams`` or ``$IAMFLOW_TEAMS_DIR``):

- ``<team>-<env>.yaml``: the published playbook (the DAG factory and the drift check read it);
- ``.pending/<team>-<env>.yaml.staged``: the playbook a run rendered, until it is published;
- ``.pending/<team>-<env>.lock``: which DAG run holds the team; created with ``O_EXCL``, so two
  runs (onboarding or offboarding) of the same team and environment cannot both hold it.

Neither ``.staged`` nor ``.lock`` ends in ``.yaml``, so playbook discovery never picks them up.
"""

from __future__ import annotations

from iamflow.onboarding.lock import LockHolder, acquire_lock, holds_lock, lock_path, read_lock, release_lock
from iamflow.onboarding.render import (
    GENERATED_MARKER,
    TEMPLATE,
    approval_body,
    approval_subject,
    find_conflicts,
    is_generated,
    plan_signature,
    published_path,
    render_playbook,
    staged_path,
)
from iamflow.onboarding.request import (
    EMAIL_RE,
    MAX_OWNERS,
    OFFBOARD,
    ONBOARD,
    PENDING_DIR,
    TAG_VALUE_LIMIT,
    TEAM_RE,
    OnboardingConfig,
    RequestError,
    TeamRequest,
    form_schema,
    load_config,
    validate_request,
)

__all__ = [
    "EMAIL_RE", "GENERATED_MARKER", "MAX_OWNERS", "OFFBOARD", "ONBOARD", "PENDING_DIR", "TAG_VALUE_LIMIT",
    "TEAM_RE", "TEMPLATE", "LockHolder", "OnboardingConfig", "RequestError", "TeamRequest", "acquire_lock",
    "approval_body", "approval_subject", "find_conflicts", "form_schema", "holds_lock", "is_generated",
    "load_config", "lock_path", "plan_signature", "published_path", "read_lock", "release_lock",
    "render_playbook", "staged_path", "validate_request",
]
