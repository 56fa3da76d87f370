"""Every path and ``IAMFLOW_*`` environment variable iamflow reads, with the shipped defaults.

Functions, not constants: each call reads the environment again, so a test (or a worker whose
environment changes) sees the current value. The shipped configuration lives below
``include/`` of the project: the playbooks, the policy documents they use, ``compliance.yaml``,
``targets.yaml``, ``mutelist.yaml``, ``onboarding.yaml`` and the team playbook template.

==============================  ===========================================  ==============================
variable                        what                                         default
==============================  ===========================================  ==============================
``IAMFLOW_PLAYBOOKS_DIR``       playbooks the DAGs and the drift check read  ``include/playbooks``
``IAMFLOW_POLICIES_DIR``        policy documents playbooks name by file      ``include/policies``
``IAMFLOW_REPORT_DIR``          where the sweep writes its reports           ``./reports``
``IAMFLOW_MUTELIST``            the sweep's mutelist (Prowler format)        ``include/mutelist.yaml``
``IAMFLOW_TARGETS``             accounts the sweep covers                    ``include/targets.yaml``
``IAMFLOW_ONBOARDING_CONFIG``   what a team onboarding request may ask for   ``include/onboarding.yaml``
``IAMFLOW_TEAMS_DIR``           where onboarded teams' playbooks go          ``teams_dir`` of that file
``IAMFLOW_SWEEP_POOL``          the Airflow pool of the per-account sweeps   ``iamflow_sweep``
``IAMFLOW_LOCAL_AWS_PORT``      the embedded AWS's port under ``make run``   a free port
``IAMFLOW_MAX_PLAYBOOK_BYTES``  largest playbook or policy file read         ``1048576`` (1 MiB)
``IAMFLOW_REMEDIATION_CONFIG``  what credential remediation may do           ``include/remediation.yaml``
``IAMFLOW_APPROVALS_CONFIG``    who may approve each workflow's plans        ``include/approvals.yaml``
==============================  ===========================================  ==============================
"""

from __future__ import annotations

import os
from pathlib import Path

PLAYBOOKS_DIR_ENV = "IAMFLOW_PLAYBOOKS_DIR"
POLICIES_DIR_ENV = "IAMFLOW_POLICIES_DIR"
REPORT_DIR_ENV = "IAMFLOW_REPORT_DIR"
MUTELIST_ENV = "IAMFLOW_MUTELIST"
TARGETS_ENV = "IAMFLOW_TARGETS"
ONBOARDING_CONFIG_ENV = "IAMFLOW_ONBOARDING_CONFIG"
TEAMS_DIR_ENV = "IAMFLOW_TEAMS_DIR"
SWEEP_POOL_ENV = "IAMFLOW_SWEEP_POOL"
LOCAL_AWS_PORT_ENV = "IAMFLOW_LOCAL_AWS_PORT"
MAX_PLAYBOOK_BYTES_ENV = "IAMFLOW_MAX_PLAYBOOK_BYTES"
REMEDIATION_CONFIG_ENV = "IAMFLOW_REMEDIATION_CONFIG"
APPROVALS_CONFIG_ENV = "IAMFLOW_APPROVALS_CONFIG"

DEFAULT_REPORT_DIR = "reports"
DEFAULT_SWEEP_POOL = "iamflow_sweep"
DEFAULT_MAX_PLAYBOOK_BYTES = 1024 * 1024
# relative to the project root, as onboarding.yaml's own ``teams_dir`` is
DEFAULT_TEAMS_DIR = "include/playbooks/teams"


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


def project_root() -> Path:
    """Return the folder that holds ``dags/``, ``include/`` and ``plugins/``."""
    return Path(__file__).resolve().parents[2]


def include_dir() -> Path:
    """Return the folder of the shipped configuration (``<project>/include``)."""
    return project_root() / "include"


def playbooks_dir() -> Path:
    """Return the playbooks folder: ``$IAMFLOW_PLAYBOOKS_DIR``, else ``include/playbooks``."""
    return _env_path(PLAYBOOKS_DIR_ENV) or include_dir() / "playbooks"


def policies_dir() -> Path:
    """Return the policy documents folder: ``$IAMFLOW_POLICIES_DIR``, else ``include/policies``."""
    return _env_path(POLICIES_DIR_ENV) or include_dir() / "policies"


def templates_dir() -> Path:
    """Return the folder of the team playbook template (``include/templates``)."""
    return include_dir() / "templates"


def report_dir(path: str | Path | None = None) -> Path:
    """Return the report folder: ``path``, else ``$IAMFLOW_REPORT_DIR``, else ``./reports``."""
    return Path(path or os.environ.get(REPORT_DIR_ENV) or DEFAULT_REPORT_DIR)


def compliance_config_path() -> Path:
    """Return the sweep's thresholds file, the shipped ``include/compliance.yaml``."""
    return include_dir() / "compliance.yaml"


def shipped_targets_path() -> Path:
    """Return the shipped targets file, ``include/targets.yaml``."""
    return include_dir() / "targets.yaml"


def targets_path(path: str | Path | None = None) -> Path:
    """Return the sweep's targets file: ``path``, else ``$IAMFLOW_TARGETS``, else ``include/targets.yaml``."""
    return Path(path) if path is not None else _env_path(TARGETS_ENV) or shipped_targets_path()


def shipped_mutelist_path() -> Path:
    """Return the shipped mutelist, ``include/mutelist.yaml``."""
    return include_dir() / "mutelist.yaml"


def mutelist_path(path: str | Path | None = None) -> Path | None:
    """Return the mutelist: ``path``, else ``$IAMFLOW_MUTELIST``, else ``include/mutelist.yaml`` when present."""
    chosen = path or os.environ.get(MUTELIST_ENV)
    if chosen:
        return Path(chosen)
    shipped = shipped_mutelist_path()
    return shipped if shipped.exists() else None


def onboarding_config_path() -> Path:
    """Return the onboarding configuration: ``$IAMFLOW_ONBOARDING_CONFIG``, else ``include/onboarding.yaml``."""
    return _env_path(ONBOARDING_CONFIG_ENV) or include_dir() / "onboarding.yaml"


def teams_dir(configured: str | Path | None = None) -> Path:
    """Return the teams folder: ``$IAMFLOW_TEAMS_DIR``, else ``configured``, else ``include/playbooks/teams``.

    A relative folder is taken from the project root.
    """
    teams = Path(os.environ.get(TEAMS_DIR_ENV) or configured or DEFAULT_TEAMS_DIR)
    return teams if teams.is_absolute() else project_root() / teams


def sweep_pool() -> str:
    """Return the pool of the mapped sweep tasks: ``$IAMFLOW_SWEEP_POOL``, else ``iamflow_sweep``."""
    return os.environ.get(SWEEP_POOL_ENV) or DEFAULT_SWEEP_POOL


def local_aws_port() -> int | None:
    """Return the embedded AWS's port for ``make run`` / ``make up``: ``$IAMFLOW_LOCAL_AWS_PORT``, else None (any free port)."""
    value = os.environ.get(LOCAL_AWS_PORT_ENV)
    return int(value) if value else None


def max_playbook_bytes() -> int:
    """Return the size limit of a playbook or policy file: ``$IAMFLOW_MAX_PLAYBOOK_BYTES``, else 1 MiB.

    Text that ``${var}`` expansion adds to a playbook counts against the same limit.
    """
    value = os.environ.get(MAX_PLAYBOOK_BYTES_ENV)
    if not value:
        return DEFAULT_MAX_PLAYBOOK_BYTES
    try:
        limit = int(value)
    except ValueError:
        limit = 0
    if limit <= 0:
        raise ValueError(f"{MAX_PLAYBOOK_BYTES_ENV} must be a positive number of bytes, got {value!r}")
    return limit


def remediation_config_path() -> Path:
    """Return the remediation settings: ``$IAMFLOW_REMEDIATION_CONFIG``, else ``include/remediation.yaml``."""
    return _env_path(REMEDIATION_CONFIG_ENV) or include_dir() / "remediation.yaml"


def approvals_config_path() -> Path:
    """Return who may approve what: ``$IAMFLOW_APPROVALS_CONFIG``, else ``include/approvals.yaml``."""
    return _env_path(APPROVALS_CONFIG_ENV) or include_dir() / "approvals.yaml"


def remediation_dir(path: str | Path | None = None) -> Path:
    """Return where remediation runs are recorded: ``<report folder>/remediation``."""
    return report_dir(path) / "remediation"


def audit_file(path: str | Path | None = None) -> Path:
    """Return the append-only approval audit file: ``<report folder>/audit/approvals.jsonl``."""
    return report_dir(path) / "audit" / "approvals.jsonl"
