"""Remediation settings from ``include/remediation.yaml`` (``$IAMFLOW_REMEDIATION_CONFIG``).

Keys (all optional; an unknown key is an error naming the file and the key):

- ``delete_after_days`` (30): a key iamflow deactivated is proposed for deletion once it has been
  inactive this many days with no use since;
- ``remove_console_passwords`` (false): propose removing console passwords unused past the sweep's
  ``credential_unused_days``. Off by default: a removed password cannot be restored;
- ``exclude_users`` ([]): user names remediation never touches (break-glass users, say).

The unused threshold itself is the sweep's, ``thresholds.credential_unused_days`` of
``include/compliance.yaml``, so the remediation acts on exactly what the sweep reports.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from iamflow.compliance.config import ComplianceConfig, ComplianceConfigError, read_yaml_file
from iamflow.remediation.plan import Rules
from iamflow.settings import remediation_config_path

_KEYS = {"delete_after_days", "remove_console_passwords", "exclude_users"}


def load_rules(path: str | Path | None = None, compliance: ComplianceConfig | None = None) -> Rules:
    """The remediation rules: remediation.yaml (defaults when the shipped file is absent) plus the sweep's threshold."""
    compliance = compliance or ComplianceConfig.load()
    file = Path(path) if path is not None else remediation_config_path()
    data: dict[str, Any] = read_yaml_file(file, "remediation settings") if file.exists() or path else {}
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise ComplianceConfigError(f"{file}: unknown key {unknown[0]!r} (expected {', '.join(sorted(_KEYS))})")
    days = data.get("delete_after_days", 30)
    if not isinstance(days, int) or isinstance(days, bool) or days < 1:
        raise ComplianceConfigError(f"{file}: delete_after_days: must be a whole number of days, at least 1")
    remove = data.get("remove_console_passwords", False)
    if not isinstance(remove, bool):
        raise ComplianceConfigError(f"{file}: remove_console_passwords: must be true or false")
    exclude = data.get("exclude_users") or []
    if not isinstance(exclude, list) or not all(isinstance(u, str) for u in exclude):
        raise ComplianceConfigError(f"{file}: exclude_users: must be a list of user names")
    return Rules(unused_days=compliance.thresholds.credential_unused_days, delete_after_days=days,
                 remove_console_passwords=remove, exclude_users=frozenset(exclude))


__all__ = ["load_rules"]
