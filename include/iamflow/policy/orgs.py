"""Rules of the AWS Organizations policy types: service control policies (SCP) and resource control policies (RCP).

The grammar already holds an SCP to the identity-policy elements (no ``Principal`` or
``NotPrincipal``) and both types to their 5 120-character limit. What this module adds, from AWS
Organizations' RCP syntax:

* ``rcp-allow``: a customer RCP may only deny. ``Allow`` is supported in the AWS-managed
  ``RCPFullAWSAccess`` alone (attached everywhere when RCPs are enabled, and not detachable).
* ``rcp-principal-not-star``: an RCP statement names its principal as ``"*"`` (every principal);
  who is exempt is said with conditions (``aws:PrincipalOrgID``, ``aws:PrincipalIsAWSService``).
* ``rcp-not-supported-element``: ``NotPrincipal`` and ``NotAction`` are not supported in an RCP.
* ``rcp-unsupported-service``: an RCP applies to the resources of a fixed list of services
  (Amazon S3, AWS STS, AWS KMS, Amazon SQS, Secrets Manager, Amazon Cognito identity pools,
  CloudWatch Logs, DynamoDB, Amazon ECR, OpenSearch Serverless); an action of another service
  (or ``*``, which AWS refuses in an RCP's Action) is an error.
* ``scp-allow-not-full``: a warning for an SCP that allows: an SCP grants nothing, and an Allow
  list replaces ``FullAWSAccess`` only where that policy is detached (an allow-list strategy);
  otherwise deny statements say what an SCP is for.
"""

from __future__ import annotations

from typing import Any

from iamflow.policy.doctypes import DocumentType
from iamflow.policy.findings import ERROR, WARNING, Finding, Path, code

GROUP = "grammar"
RCP_SERVICES = frozenset({"s3", "sts", "kms", "sqs", "secretsmanager", "cognito-identity", "logs", "dynamodb",
                          "ecr", "aoss"})

RCP_ALLOW = code("rcp-allow", ERROR, "a resource control policy allows (only RCPFullAWSAccess may)", group=GROUP)
RCP_PRINCIPAL = code("rcp-principal-not-star", ERROR,
                     "a resource control policy statement's Principal is not \"*\"", group=GROUP)
RCP_ELEMENT = code("rcp-not-supported-element", ERROR,
                   "NotPrincipal or NotAction in a resource control policy", group=GROUP)
RCP_SERVICE = code("rcp-unsupported-service", ERROR,
                   "an action of a service resource control policies do not apply to", group=GROUP)
SCP_ALLOW = code("scp-allow-not-full", WARNING,
                 "a service control policy allows: SCPs grant nothing, they only set the ceiling", group=GROUP)


def _statements(doc: dict[str, Any]) -> list[tuple[Path, dict[str, Any]]]:
    raw = doc.get("Statement")
    if isinstance(raw, dict):
        return [(("Statement",), raw)]
    if isinstance(raw, list):
        return [(("Statement", i), s) for i, s in enumerate(raw) if isinstance(s, dict)]
    return []


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def check_org_policy(doc: dict[str, Any], doc_type: DocumentType) -> list[Finding]:
    """The SCP and RCP rules of ``doc`` (nothing for the other document types)."""
    if doc_type.name == "rcp":
        return [f for path, s in _statements(doc) for f in _check_rcp_statement(path, s)]
    if doc_type.name == "scp":
        return [Finding(SCP_ALLOW, (
            "allows, but an SCP grants nothing: an Allow only matters where FullAWSAccess is detached "
            "(an allow-list); say what accounts may not do with Deny statements instead"), path + ("Effect",))
            for path, s in _statements(doc) if s.get("Effect") == "Allow" and not _is_full_access(s)]
    return []


def _is_full_access(s: dict[str, Any]) -> bool:
    return s.get("Action") in ("*", ["*"]) and s.get("Resource") in ("*", ["*"]) and "Condition" not in s


def _check_rcp_statement(path: Path, s: dict[str, Any]) -> list[Finding]:
    out: list[Finding] = []
    if s.get("Effect") == "Allow":
        out.append(Finding(RCP_ALLOW, "allows, but a resource control policy may only deny (Allow is reserved "
                           "to the AWS-managed RCPFullAWSAccess)", path + ("Effect",)))
    for element in ("NotPrincipal", "NotAction"):
        if element in s:
            out.append(Finding(RCP_ELEMENT, f"{element} is not supported in a resource control policy",
                               path + (element,)))
    if "Principal" in s and s["Principal"] != "*":
        out.append(Finding(RCP_PRINCIPAL, "names its principals, but a resource control policy statement applies "
                           "to \"*\"; exempt principals with conditions (aws:PrincipalOrgID ...)",
                           path + ("Principal",)))
    actions = s.get("Action")
    for i, action in enumerate(_as_list(actions)):
        if not isinstance(action, str):
            continue
        service = action.split(":", 1)[0].lower() if ":" in action else "*"
        if service not in RCP_SERVICES:
            where = path + ("Action",) + ((i,) if isinstance(actions, list) else ())
            out.append(Finding(RCP_SERVICE, (
                f"{action!r} is not an action of a service resource control policies apply to "
                f"({', '.join(sorted(RCP_SERVICES))})"), where))
    return out
