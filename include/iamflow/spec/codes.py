"""The stable codes of the problems the playbook loader finds itself (the policy validator has its own).

Every problem ``iamflow lint`` reports carries a code, printed by ``iamflow lint --json``; the
table of all codes is in ``docs/policy-validation.md``. These are errors (the playbook is refused)
unless said otherwise, and are not waivable (they are about the playbook, not a document's content),
but for the quota of attached policies, which an account may have raised.
"""

from __future__ import annotations

from iamflow.policy.findings import ERROR, WARNING, code

_G = "playbook"

PLAYBOOK_UNREADABLE = code("playbook-unreadable", ERROR, "the file cannot be read safely: too big, too deep, "
                           "not UTF-8, aliases, duplicate keys, or bad YAML syntax", group=_G)
PLAYBOOK_SHAPE = code("playbook-shape", ERROR, "the file is not a mapping with 'name' and 'resources'", group=_G)
UNKNOWN_FIELD = code("unknown-field", ERROR, "a field that is not part of the schema (check the spelling)",
                     group=_G)
MISSING_FIELD = code("missing-field", ERROR, "a required field is missing", group=_G)
INVALID_VALUE = code("invalid-value", ERROR, "a field's value breaks the schema (type, name rules, limits)",
                     group=_G)
UNKNOWN_KIND = code("unknown-kind", ERROR, "a resource kind iamflow does not know", group=_G)
DUPLICATE_RESOURCE = code("duplicate-resource", ERROR, "two resources of one kind share a name", group=_G)
DUPLICATE_PLAYBOOK = code("duplicate-playbook-name", ERROR, "two playbook files share a playbook name",
                          group=_G)
OWNERSHIP_CONFLICT = code("one-owner", ERROR, "two playbooks declare the same AWS object", group=_G)
VAR_ERROR = code("var-error", ERROR, "a ${var} is undefined, cyclic, or expands past the size limit", group=_G)
POLICY_FILE = code("policy-file", ERROR, "a policy file that is missing, outside the allowed folders, or "
                   "unreadable", group=_G)
DOCUMENT_SHAPE = code("document-shape", ERROR, "a policy document that is not a mapping", group=_G)
DANGLING_REFERENCE = code("dangling-reference", ERROR, "a reference to a resource the playbook does not "
                          "declare, or declares absent", group=_G)
REFERENCE_CYCLE = code("reference-cycle", ERROR, "resources that refer to each other in a cycle", group=_G)
ATTACHED_POLICIES_QUOTA = code("attached-policies-quota", ERROR, "more managed policies on one role than "
                               "AWS's default quota (10); waivable once the quota is raised", group=_G, waivable=True)
RESOURCE_WARNING = code("resource-warning", WARNING, "a kind's own advice on a resource (a setting that "
                        "weakens it)", group=_G, waivable=False)
LOADER_FAILURE = code("loader-failure", ERROR, "the playbook could not be checked (a fault in iamflow; the log "
                      "has the details)", group=_G)
UNUSED_WAIVER = code("unused-waiver", WARNING, "a waiver that matches no finding", group=_G, waivable=False)
UNWAIVABLE = code("unwaivable", WARNING, "a waiver that names a code which cannot be waived", group=_G,
                  waivable=False)
