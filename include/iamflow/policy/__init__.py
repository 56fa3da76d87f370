"""IAM policy documents: normalise, compare, lint, render; tags and diffs (pure Python)."""

from __future__ import annotations

from iamflow.policy.diff import state_diff, unified_json_diff
from iamflow.policy.document import (
    DEFAULT_VERSION,
    canonical_json,
    normalize_policy,
    parse_document,
    policies_equal,
    render_policy,
)
from iamflow.policy.lint import (
    PROFILES,
    LintFinding,
    action_matches,
    apply_waivers,
    grants_admin,
    grants_full_service,
    lint_policy,
    scan_credentials,
    statement_list,
)
from iamflow.policy.tags import compare_tags, tags_from_list, tags_to_list

__all__ = [
    "DEFAULT_VERSION",
    "PROFILES",
    "LintFinding",
    "action_matches",
    "apply_waivers",
    "canonical_json",
    "compare_tags",
    "grants_admin",
    "grants_full_service",
    "lint_policy",
    "normalize_policy",
    "parse_document",
    "policies_equal",
    "render_policy",
    "scan_credentials",
    "state_diff",
    "statement_list",
    "tags_from_list",
    "tags_to_list",
    "unified_json_diff",
]
