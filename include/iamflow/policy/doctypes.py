"""The kinds of policy document iamflow validates, and what AWS allows each one.

A document's type decides which elements it may hold (``Principal`` belongs in trust and resource
policies, never in an identity policy), its size limit, and which security rules apply. Sizes are
AWS's default quotas, counted as IAM counts them: characters, whitespace not counted.
"""

from __future__ import annotations

from dataclasses import dataclass

IDENTITY = "identity"
TRUST = "trust"
RESOURCE = "resource"


@dataclass(frozen=True)
class DocumentType:
    """One kind of document: its name, its profile (identity, trust, resource), its size limit."""

    name: str
    profile: str
    label: str
    max_chars: int | None
    # True when the limit is shared by every document of this type on one principal (inline policies)
    aggregate: bool = False
    # the AWS service whose resource the policy is attached to (resource policies): "kms", "secretsmanager"
    service: str | None = None


DOCUMENT_TYPES: dict[str, DocumentType] = {
    t.name: t
    for t in (
        DocumentType("managed", IDENTITY, "a managed policy", 6144),
        DocumentType("boundary", IDENTITY, "a permissions boundary", 6144),
        DocumentType("trust", TRUST, "a role trust policy", 2048),
        DocumentType("inline-role", IDENTITY, "the inline policies of a role", 10240, aggregate=True),
        DocumentType("inline-user", IDENTITY, "the inline policies of a user", 2048, aggregate=True),
        DocumentType("inline-group", IDENTITY, "the inline policies of a group", 5120, aggregate=True),
        DocumentType("kms-key", RESOURCE, "a KMS key policy", 32768, service="kms"),
        DocumentType("secret", RESOURCE, "a secret's resource policy", 20480, service="secretsmanager"),
        DocumentType("scp", IDENTITY, "a service control policy", 5120),
        DocumentType("rcp", RESOURCE, "a resource control policy", 5120, service="organizations"),
    )
}

# AWS's default quota of managed policies attached to one role, user or group
MAX_ATTACHED_POLICIES = 10


def document_type(name: str) -> DocumentType:
    """The document type named ``name``; ``ValueError`` naming the known ones otherwise."""
    try:
        return DOCUMENT_TYPES[name]
    except KeyError:
        raise ValueError(f"unknown document type {name!r}; expected one of {', '.join(DOCUMENT_TYPES)}") from None
