"""Broken ssm_parameter and organizations_policy declarations: refused naming file, resource and field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from iamflow.spec.loader import check_playbook


def resource(kind: str, name: str, body: str) -> str:
    return (f"name: x\nresources:\n  - kind: {kind}\n    name: '{name}'\n"
            + textwrap.indent(textwrap.dedent(body), "    "))


def ssm(body: str, name: str = "/app/db/password") -> str:
    return resource("ssm_parameter", name, body)


def org(body: str, name: str = "guardrails") -> str:
    return resource("organizations_policy", name, body)


DENY = "document: {Version: '2012-10-17', Statement: [{Effect: Deny, Action: 'organizations:LeaveOrganization', " \
       "Resource: '*'}]}\n"
GEN = "type: SecureString\ngenerate: {length: 16}\n"
NO_AUD_TRUST = ("trust_policy: {Version: '2012-10-17', Statement: [{Effect: Allow, Principal: {Federated: "
                "cognito-identity.amazonaws.com}, Action: 'sts:AssumeRoleWithWebIdentity', Condition: "
                "{'ForAnyValue:StringLike': {'cognito-identity.amazonaws.com:amr': authenticated}}}]}\n")


def identity(body: str, name: str = "myapp identities") -> str:
    return resource("cognito_identity_pool", name, body)

CASES = [
    ("securestring-literal", ssm("type: SecureString\nvalue: hunter2hunter2\n"), "/app/db/password", "value",
     "never written in a playbook"),
    ("securestring-no-generate", ssm("type: SecureString\n"), "/app/db/password", "generate", "needs 'generate'"),
    ("string-generate", ssm("type: String\ngenerate: {length: 16}\n"), "/app/db/password", "generate",
     "only a SecureString is generated"),
    ("string-no-value", ssm("type: String\n"), "/app/db/password", "value", "needs a value"),
    ("string-kms-key", ssm("type: String\nvalue: x\nkms_key: 'arn:aws:kms:us-east-1:123456789012:alias/a'\n"),
     "/app/db/password", "kms_key", "only a SecureString"),
    ("reserved-prefix", ssm(GEN, name="/aws/thing"), "/aws/thing", "name", "reserves"),
    ("relative-hierarchy", ssm(GEN, name="app/db"), "app/db", "name", "must begin with '/'"),
    ("bad-characters", ssm(GEN, name="/app/db pass"), "/app/db pass", "name", "letters, digits"),
    ("too-deep", ssm(GEN, name="/" + "/".join("abcdefghijklmnop")), "/" + "/".join("abcdefghijklmnop"), "name",
     "15 levels"),
    ("pattern-mismatch", ssm("value: abc\nallowed_pattern: '^[0-9]+$'\n"), "/app/db/password", "value",
     "allowed_pattern"),
    ("bad-pattern", ssm("value: abc\nallowed_pattern: '['\n"), "/app/db/password", "allowed_pattern",
     "does not compile"),
    ("bad-tier", ssm(GEN + "tier: Premium\n"), "/app/db/password", "tier", "Standard"),
    ("value-too-big", ssm("value: " + "a" * 4097 + "\n"), "/app/db/password", "value", "4096"),
    ("empty-list-item", ssm("type: StringList\nvalue: 'a,,b'\n"), "/app/db/password", "value", "none of them empty"),
    ("org-no-document", org("targets: [root]\n"), "guardrails", "document", "required"),
    ("org-bad-type", org(DENY + "type: TAG_POLICY\n"), "guardrails", "type", "SERVICE_CONTROL_POLICY"),
    ("org-duplicate-target", org(DENY + "targets: [root, root]\n"), "guardrails", "targets", "twice"),
    ("org-managed-with-document", org(DENY, name="FullAWSAccess"), "FullAWSAccess", "document", "AWS-managed"),
    ("org-scp-principal", org("document: {Version: '2012-10-17', Statement: [{Effect: Deny, Principal: '*', "
                              "Action: 's3:*', Resource: '*'}]}\n"), "guardrails", "document.Statement[0]",
     "Principal"),
    ("org-rcp-allow", org("type: RESOURCE_CONTROL_POLICY\ndocument: {Version: '2012-10-17', Statement: [{Effect: "
                          "Allow, Principal: '*', Action: 's3:GetObject', Resource: '*'}]}\n"), "guardrails",
     "document.Statement[0].Effect", "may only deny"),
    ("org-rcp-service", org("type: RESOURCE_CONTROL_POLICY\ndocument: {Version: '2012-10-17', Statement: [{Effect: "
                            "Deny, Principal: '*', Action: 'ec2:RunInstances', Resource: '*'}]}\n"), "guardrails",
     "document.Statement[0].Action", "not an action of a service"),
    ("org-rcp-named-principal", org("type: RESOURCE_CONTROL_POLICY\ndocument: {Version: '2012-10-17', Statement: "
                                    "[{Effect: Deny, Principal: {AWS: 'arn:aws:iam::123456789012:root'}, Action: "
                                    "'s3:*', Resource: '*'}]}\n"), "guardrails", "document.Statement[0].Principal",
     "applies to \"*\""),
    ("pool-bad-name", identity("allow_unauthenticated: false\n", name="my-app!"), "my-app!", "name",
     "letters, digits, spaces and _"),
    ("pool-bad-role", identity("authenticated_role: 'arn:aws:iam::123456789012:user/x'\n"), "myapp identities",
     "authenticated_role", "not a valid IAM role ARN"),
    ("pool-unknown-role", identity("authenticated_role: nobody\n"), "myapp identities", "authenticated_role",
     "does not declare"),
    ("pool-duplicate-provider", identity("providers: [{user_pool: p, client: c}, {user_pool: p, client: c}]\n"),
     "myapp identities", "providers", "listed twice"),
    ("pool-provider-arn", identity("providers: [{user_pool: 'arn:aws:cognito-idp:x', client: c}]\n"),
     "myapp identities", "providers", "cognito_user_pool"),
    ("trust-without-aud", resource("iam_role", "app", NO_AUD_TRUST), "app", "trust_policy", "any Cognito identity pool"),
    ("org-expect-without-action", org(DENY + "expect: {denied: [{principal: 'arn:aws:iam::111122223333:root'}]}\n"),
     "guardrails", "expect", "needs an action and a resource"),
]


@pytest.mark.parametrize(("case", "text", "resource_name", "field", "fragment"), CASES, ids=[c[0] for c in CASES])
def test_broken_declaration_is_refused(tmp_path: Path, case, text, resource_name, field, fragment):
    path = tmp_path / f"{case}.yaml"
    path.write_text(text)
    result = check_playbook(path)
    assert result.playbook is None, f"{case} was accepted"
    matching = [p for p in result.errors if p.resource == resource_name and (p.field or "").startswith(field)]
    assert matching, [str(p) for p in result.errors]
    assert any(fragment in p.message for p in matching), [str(p) for p in matching]
    assert all(p.file == str(path) for p in result.errors)


def test_a_securestring_literal_is_never_echoed(tmp_path: Path):
    path = tmp_path / "p.yaml"
    path.write_text(ssm("type: SecureString\nvalue: Sup3rS3cretLiteral\n"))
    assert "Sup3rS3cretLiteral" not in "\n".join(str(p) for p in check_playbook(path).problems)


@pytest.mark.parametrize("name", ["myapp-parameters", "org-guardrails"])
def test_the_shipped_playbooks_validate(name: str):
    from iamflow.settings import project_root

    result = check_playbook(project_root() / "include" / "playbooks" / f"{name}.yaml")
    assert result.playbook is not None and not result.errors, [str(p) for p in result.problems]
