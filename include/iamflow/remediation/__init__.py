"""Credential remediation: from the sweep's findings to an approved, recorded, reversible plan.

- :mod:`.plan`: the pure rules (deactivate unused keys, delete keys iamflow deactivated long
  enough ago, remove unused console passwords when enabled) and the plan, its diff and its hash;
- :mod:`.live`: the findings (the latest sweep, or collected now) and the live reads behind a plan;
- :mod:`.run`: apply (idempotent, resumable, recorded per run) and rollback;
- :mod:`.config`: ``include/remediation.yaml``.

No Airflow here: the ``remediate_credentials`` DAG and ``iamflow remediate`` both call these.
"""

from __future__ import annotations

from iamflow.remediation.plan import ACTIONS, DEACTIVATE, DELETE, REMOVE_PASSWORD, TAG_PREFIX, Plan

WORKFLOW = "remediate_credentials"

__all__ = ["ACTIONS", "DEACTIVATE", "DELETE", "REMOVE_PASSWORD", "TAG_PREFIX", "WORKFLOW", "Plan"]
