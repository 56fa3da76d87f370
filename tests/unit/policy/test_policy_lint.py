"""Each lint rule fires on a bad document and stays silent on its closest good sibling."""

from __future__ import annotations

from typing import Any

import pytest

from iamflow.policy import (
    LintFinding,
    action_matches,
    apply_waivers,
    grants_admin,
    grants_full_service,
    lint_policy,
    scan_credentials,
    statement_list,
)

OWN = "111122223333"
OTHER = "444455556666"
# the documented AWS example credentials: fake, but shaped like real ones
EXAMPLE_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
EXAMPLE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def _doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def _trust(principal: Any, condition: dict[str, Any] | None = None, action: Any = "sts:AssumeRole") -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": principal, "Action": action}
    if condition is not None:
        statement["Condition"] = condition
    return _doc(statement)


def _rules(findings: list[LintFinding]) -> set[str]:
    return {f.rule for f in findings}


# (document, profile, own account, rule expected to fire or None for "this rule stays silent")
CASES: list[tuple[dict[str, Any], str, str | None, str, bool]] = [
    # allow-star-star
    (_doc(_allow("*")), "identity", OWN, "allow-star-star", True),
    (_doc(_allow("*:*")), "identity", OWN, "allow-star-star", True),
    (_doc(_allow(["s3:GetObject", "*"], ["arn:aws:s3:::x", "*"])), "identity", OWN, "allow-star-star", True),
    (_doc(_allow("*")), "boundary", OWN, "allow-star-star", True),
    (_doc(_allow("*", "arn:aws:s3:::bucket/*")), "identity", OWN, "allow-star-star", False),
    (_doc(_allow("s3:*")), "identity", OWN, "allow-star-star", False),
    (_doc({"Effect": "Deny", "Action": "*", "Resource": "*"}), "identity", OWN, "allow-star-star", False),
    # allow-not-action
    (_doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}), "identity", OWN, "allow-not-action", True),
    (_doc({"Effect": "Deny", "NotAction": "iam:*", "Resource": "*"}), "identity", OWN, "allow-not-action", False),
    # passrole-star
    (_doc(_allow("iam:PassRole")), "identity", OWN, "passrole-star", True),
    (_doc(_allow("iam:Pass*")), "identity", OWN, "passrole-star", True),
    (_doc(_allow("IAM:*")), "identity", OWN, "passrole-star", True),
    (_doc(_allow(["iam:Pass*", "s3:*"], ["arn:aws:s3:::x", "*"])), "identity", OWN, "passrole-star", True),
    (_doc(_allow("*")), "identity", OWN, "passrole-star", False),
    (_doc(_allow("iam:PassRole", f"arn:aws:iam::{OWN}:role/app-*")), "identity", OWN, "passrole-star", False),
    (_doc(_allow("iam:Get*")), "identity", OWN, "passrole-star", False),
    (_doc({"Effect": "Deny", "Action": "iam:PassRole", "Resource": "*"}), "identity", OWN, "passrole-star", False),
    # cross-account-trust-without-external-id
    (_trust({"AWS": f"arn:aws:iam::{OTHER}:root"}), "trust", OWN,
     "cross-account-trust-without-external-id", True),
    (_trust({"AWS": OTHER}), "trust", OWN, "cross-account-trust-without-external-id", True),
    (_trust("*"), "trust", OWN, "cross-account-trust-without-external-id", True),
    (_trust({"AWS": "*"}), "trust", OWN, "cross-account-trust-without-external-id", True),
    (_trust({"AWS": f"arn:aws:iam::{OTHER}:role/ci"}, action="sts:*"), "trust", OWN,
     "cross-account-trust-without-external-id", True),
    (_trust({"AWS": [f"arn:aws:iam::{OWN}:root", f"arn:aws:iam::{OTHER}:root"]}), "trust", OWN,
     "cross-account-trust-without-external-id", True),
    (_trust({"AWS": OWN}), "trust", "${account_id}", "cross-account-trust-without-external-id", True),
    (_trust({"AWS": f"arn:aws:iam::{OTHER}:root"}, {"StringEqualsIfExists": {"sts:ExternalId": "x"}}), "trust",
     OWN, "cross-account-trust-without-external-id", True),
    (_trust({"AWS": f"arn:aws:iam::{OTHER}:root"}, {"Null": {"sts:ExternalId": "true"}}), "trust", OWN,
     "cross-account-trust-without-external-id", True),
    (_trust({"AWS": f"arn:aws:iam::{OTHER}:root"}, {"StringEquals": {"sts:ExternalId": "x"}}), "trust", OWN,
     "cross-account-trust-without-external-id", False),
    (_trust({"AWS": f"arn:aws:iam::{OTHER}:root"}, {"StringLike": {"sts:ExternalId": "x-*"}}), "trust", OWN,
     "cross-account-trust-without-external-id", False),
    (_trust({"AWS": f"arn:aws:iam::{OTHER}:root"}, {"stringequals": {"STS:EXTERNALID": "x"}}), "trust", OWN,
     "cross-account-trust-without-external-id", False),
    (_trust({"AWS": f"arn:aws:iam::{OWN}:root"}), "trust", OWN, "cross-account-trust-without-external-id", False),
    (_trust({"AWS": OWN}), "trust", OWN, "cross-account-trust-without-external-id", False),
    (_trust({"AWS": "arn:${partition}:iam::${account_id}:role/admin"}), "trust", "${account_id}",
     "cross-account-trust-without-external-id", False),
    (_trust({"AWS": "arn:aws:iam::${account_id}:root"}), "trust", None,
     "cross-account-trust-without-external-id", False),
    (_trust({"Service": "ec2.amazonaws.com"}), "trust", OWN, "cross-account-trust-without-external-id", False),
    (_trust({"Federated": "cognito-identity.amazonaws.com"}, action="sts:AssumeRoleWithWebIdentity"), "trust",
     OWN, "cross-account-trust-without-external-id", False),
    (_trust({"AWS": f"arn:aws:iam::{OTHER}:root"}), "resource", OWN,
     "cross-account-trust-without-external-id", False),
    (_doc({"Effect": "Deny", "Principal": {"AWS": OTHER}, "Action": "sts:AssumeRole"}), "trust", OWN,
     "cross-account-trust-without-external-id", False),
    (_trust({"AWS": "*"}, {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}), "trust", OWN,
     "cross-account-trust-without-external-id", False),
    (_trust({"AWS": "*"}, {"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-abc123/r-ab12/ou-ab12-*"}}),
     "trust", OWN, "cross-account-trust-without-external-id", False),
    (_trust({"AWS": "*"}, {"StringNotEquals": {"aws:PrincipalOrgID": "o-abc123"}}), "trust", OWN,
     "cross-account-trust-without-external-id", True),
    (_trust({"AWS": "*"}, {"StringEqualsIfExists": {"aws:PrincipalOrgID": "o-abc123"}}), "trust", OWN,
     "cross-account-trust-without-external-id", True),
    (_trust({"AWS": "*"}, {"StringLike": {"aws:PrincipalOrgID": "*"}}), "trust", OWN,
     "cross-account-trust-without-external-id", True),
    (_trust({"AWS": "*"}, {"Null": {"aws:PrincipalOrgID": "false"}}), "trust", OWN,
     "cross-account-trust-without-external-id", True),
    # hardcoded-credential
    (_doc(_allow("s3:GetObject", "*", Condition={"StringEquals": {"aws:username": EXAMPLE_KEY_ID}})),
     "identity", OWN, "hardcoded-credential", True),
    (_doc(_allow("s3:GetObject", "*", Sid=EXAMPLE_SECRET)), "identity", OWN, "hardcoded-credential", True),
    (_doc(_allow("s3:GetObject", "arn:aws:s3:::bucket/AIDAJQABLZS4A3QDU576Q/*")), "identity", OWN,
     "hardcoded-credential", False),
]
CASE_IDS = [
    "star-star-fires",
    "star-colon-star-fires",
    "star-among-others-fires",
    "star-star-in-boundary-fires",
    "star-on-scoped-resource-silent",
    "service-star-silent",
    "deny-star-star-silent",
    "allow-not-action-fires",
    "deny-not-action-silent",
    "passrole-fires",
    "pass-wildcard-fires",
    "iam-star-mixed-case-fires",
    "passrole-among-resources-fires",
    "star-star-subsumes-passrole",
    "passrole-on-scoped-roles-silent",
    "iam-get-star-silent",
    "deny-passrole-silent",
    "other-account-root-fires",
    "other-bare-id-fires",
    "star-principal-fires",
    "aws-star-principal-fires",
    "sts-star-action-fires",
    "one-of-several-principals-fires",
    "concrete-id-when-own-is-placeholder-fires",
    "external-id-if-exists-fires",
    "external-id-null-true-fires",
    "external-id-string-equals-silent",
    "external-id-string-like-silent",
    "external-id-case-insensitive-silent",
    "own-account-root-silent",
    "own-bare-id-silent",
    "account-id-placeholder-silent",
    "placeholder-with-unknown-own-account-silent",
    "service-principal-silent",
    "federated-web-identity-silent",
    "not-trust-profile-silent",
    "deny-cross-account-silent",
    "organization-id-guard-silent",
    "organization-path-guard-silent",
    "not-equals-organization-fires",
    "organization-if-exists-fires",
    "organization-wildcard-fires",
    "organization-null-check-fires",
    "access-key-id-fires",
    "secret-key-fires",
    "user-unique-id-in-arn-silent",
]


@pytest.mark.parametrize(("doc", "profile", "own", "rule", "fires"), CASES, ids=CASE_IDS)
def test_rule(doc: dict[str, Any], profile: str, own: str | None, rule: str, fires: bool) -> None:
    findings = lint_policy(doc, profile=profile, own_account=own)
    assert (rule in _rules(findings)) is fires, findings
    for f in findings:
        assert f.severity == "error"
        assert f.path.startswith("Statement")
        assert EXAMPLE_KEY_ID not in f.message and EXAMPLE_SECRET not in f.message


def test_clean_documents_have_no_findings() -> None:
    identity = _doc(_allow(["s3:GetObject", "s3:ListBucket"], ["arn:aws:s3:::data", "arn:aws:s3:::data/*"]))
    trust = _trust({"Service": "lambda.amazonaws.com"})
    assert lint_policy(identity, profile="identity", own_account=OWN) == []
    assert lint_policy(trust, profile="trust", own_account=OWN) == []


def test_finding_paths_point_at_the_statement() -> None:
    doc = _doc(_allow("s3:GetObject", "arn:aws:s3:::x"), _allow("*"),
               {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, _allow("iam:*"))
    findings = lint_policy(doc, profile="identity", own_account=OWN)
    assert {(f.rule, f.path) for f in findings} == {
        ("allow-star-star", "Statement[1].Action"),
        ("allow-not-action", "Statement[2].NotAction"),
        ("passrole-star", "Statement[3].Resource"),
    }


def test_single_statement_path() -> None:
    findings = lint_policy({"Statement": _allow("*")}, profile="identity", own_account=OWN)
    assert ("allow-star-star", "Statement.Action") in {(f.rule, f.path) for f in findings}


def test_cross_account_message_names_the_account() -> None:
    [finding] = lint_policy(_trust({"AWS": f"arn:aws:iam::{OTHER}:root"}), profile="trust", own_account=OWN)
    assert OTHER in finding.message
    assert finding.path == "Statement[0].Principal.AWS"


def test_lint_accepts_json_string() -> None:
    findings = lint_policy('{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}',
                           profile="identity", own_account=None)
    assert "allow-star-star" in _rules(findings)


def test_unknown_profile_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown lint profile"):
        lint_policy(_doc(), profile="session", own_account=OWN)


# --- credential scan --------------------------------------------------------------------------

TRUE_POSITIVES = [
    (EXAMPLE_KEY_ID, "access key id"),
    ("ASIAY34FZKBOKMUTVV7A", "access key id"),
    ("A3TXIOSFODNN7EXAMPLE", "access key id"),
    (f"aws_access_key_id = {EXAMPLE_KEY_ID}", "access key id"),
    (EXAMPLE_SECRET, "secret access key"),
    (f"secret={EXAMPLE_SECRET}", "secret access key"),
    (f"export AWS_SECRET_ACCESS_KEY='{EXAMPLE_SECRET}'", "secret access key"),
    ("Zx9aQ1bRt2cYu3dVi4eWo5fXp6gYq7hZr8iAs0jB", "secret access key"),
]
TRUE_POSITIVE_IDS = [
    "docs-key-id",
    "temporary-key-id",
    "a3t-key-id",
    "key-id-in-text",
    "docs-secret",
    "secret-after-equals",
    "secret-in-shell-line",
    "secret-without-slash",
]


@pytest.mark.parametrize(("value", "kind"), TRUE_POSITIVES, ids=TRUE_POSITIVE_IDS)
def test_scan_true_positives(value: str, kind: str) -> None:
    assert scan_credentials(value) == [("", kind)]


FALSE_POSITIVES = [
    f"arn:aws:iam::{OWN}:role/Platform/P7xQ2k/Dp4Rw9ZtLc3Vb8NjH2q",
    "arn:aws:s3:::my-bucket/Rk2024/Qx7Fz3Wm9Tb4Yc1Lp8VdK3m9Qa",
    "da39a3ee5e6b4b0d3255bfef95601890afd80709",
    "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709",
    "123e4567-e89b-12d3-a456-426614174000",
    "QWxsWW+ZckNlZWRJcxvdmVBbmRNbJlTG/ZUFiAbc",
    "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
    "aGVsbG8gd29ybGQgdGhpcyBpcyBhIGxvbmcgYmFzZTY0IGJsb2IgMTIzNDU2Nzg5MA==",
    "s3:GetObject s3:PutObject s3:DeleteObject s3:ListBucket s3:GetBucketLocation kms:Decrypt",
    "iam:GetAccountAuthorizationDetails",
    "AIDAJQABLZS4A3QDU576Q",
    "AROADBQP57FF2AEXAMPLE:session-name",
    "akiaiosfodnn7example",
    "XAKIAIOSFODNN7EXAMPLE",
    "${account_id}",
    "",
]
FALSE_POSITIVE_IDS = [
    "role-arn-with-long-path",
    "s3-arn-with-long-key",
    "sha1-hex-lower",
    "sha1-hex-upper",
    "uuid",
    "base64-without-digits",
    "sha256-base64-with-padding",
    "long-base64-blob",
    "long-action-list",
    "long-action-name",
    "user-unique-id",
    "role-unique-id",
    "lowercase-key-id",
    "key-id-not-word-bounded",
    "placeholder",
    "empty",
]


@pytest.mark.parametrize("value", FALSE_POSITIVES, ids=FALSE_POSITIVE_IDS)
def test_scan_false_positives(value: str) -> None:
    assert scan_credentials(value) == []


@pytest.mark.parametrize("value", FALSE_POSITIVES[:2], ids=FALSE_POSITIVE_IDS[:2])
def test_arn_cases_hold_a_secret_shaped_run(value: str) -> None:
    # keeps the ARN false-positive cases honest: outside an ARN the same text would be flagged
    assert scan_credentials(value.replace("arn:", "see ", 1)) == [("", "secret access key")]


def test_scan_walks_structures_and_never_returns_the_value() -> None:
    raw = {
        "name": "ci",
        "resources": [
            {"kind": "iam_role", "vars": {"key": EXAMPLE_KEY_ID, "list": ["ok", EXAMPLE_SECRET]}},
            {EXAMPLE_KEY_ID: {"nested": "fine"}},
        ],
        "count": 3,
        "enabled": True,
    }
    hits = scan_credentials(raw)
    assert hits == [
        ("resources[0].vars.key", "access key id"),
        ("resources[0].vars.list[1]", "secret access key"),
        ("resources[1].<redacted>", "access key id"),
    ]
    assert all(EXAMPLE_KEY_ID not in p and EXAMPLE_SECRET not in p for p, _ in hits)


def test_scan_with_prefix_and_both_kinds_in_one_string() -> None:
    hits = scan_credentials([f"{EXAMPLE_KEY_ID} {EXAMPLE_SECRET}"], "vars")
    assert hits == [("vars[0]", "access key id"), ("vars[0]", "secret access key")]


def test_hardcoded_credential_finding_path() -> None:
    doc = _doc(_allow("s3:GetObject", "*", Condition={"StringEquals": {"aws:username": EXAMPLE_KEY_ID}}))
    [finding] = lint_policy(doc, profile="identity", own_account=OWN)
    assert finding.rule == "hardcoded-credential"
    assert finding.path == "Statement[0].Condition.StringEquals.aws:username"


# --- helpers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "action", "expected"),
    [
        ("iam:PassRole", "iam:PassRole", True),
        ("IAM:passrole", "iam:PassRole", True),
        ("iam:Pass*", "iam:PassRole", True),
        ("iam:*", "iam:PassRole", True),
        ("*", "iam:PassRole", True),
        ("iam:PassRol?", "iam:PassRole", True),
        ("iam:?assRole", "iam:PassRole", True),
        ("iam:Get*", "iam:PassRole", False),
        ("iam:PassRole", "iam:PassRoles", False),
        ("iam:Pass?", "iam:PassRole", False),
        ("ia.:PassRole", "iam:PassRole", False),
        ("sts:AssumeRole*", "sts:AssumeRole", True),
        ("sts:AssumeRoleWithSAML", "sts:AssumeRole", False),
    ],
    ids=["exact", "case-insensitive", "prefix-star", "service-star", "star", "question-last", "question-first",
         "other-prefix", "longer-action", "question-is-one-char", "dot-is-literal", "trailing-star-matches-empty",
         "longer-name-does-not-match"],
)
def test_action_matches(pattern: str, action: str, expected: bool) -> None:
    assert action_matches(pattern, action) is expected


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (_doc(_allow("*")), True),
        (_doc(_allow("*:*")), True),
        (_doc(_allow("s3:GetObject"), _allow(["iam:*", "*"])), True),
        ({"Statement": _allow("*")}, True),
        (_doc(_allow("*", "arn:aws:s3:::x")), False),
        (_doc({"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:s3:::x"}), False),
        (_doc({"Effect": "Deny", "Action": "*", "Resource": "*"}), False),
        (_doc(_allow("iam:*")), False),
        (_doc(), False),
    ],
    ids=["star", "star-colon-star", "second-statement", "single-statement", "scoped-resource", "not-resource",
         "deny", "service-star", "empty"],
)
def test_grants_admin(doc: dict[str, Any], expected: bool) -> None:
    assert grants_admin(doc) is expected


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (_doc(_allow("kms:*")), True),
        (_doc(_allow("KMS:*")), True),
        (_doc(_allow("*")), True),
        (_doc(_allow("kms:Decrypt")), False),
        (_doc(_allow("kms:*", "arn:aws:kms:us-east-1:111122223333:key/abc")), False),
        (_doc(_allow("s3:*")), False),
        (_doc({"Effect": "Deny", "Action": "kms:*", "Resource": "*"}), False),
    ],
    ids=["service-star", "service-case", "star", "one-action", "scoped-resource", "other-service", "deny"],
)
def test_grants_full_service(doc: dict[str, Any], expected: bool) -> None:
    assert grants_full_service(doc, "kms") is expected


def test_statement_list_shapes() -> None:
    one = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
    assert statement_list({"Statement": one}) == [one]
    assert statement_list(_doc(one, one)) == [one, one]
    assert statement_list({}) == []


# --- waivers ----------------------------------------------------------------------------------

STAR = LintFinding("allow-star-star", "error", "m", "Statement[0].Action")
PASS = LintFinding("passrole-star", "error", "m", "Statement[0].Resource")
CRED = LintFinding("hardcoded-credential", "error", "m", "Statement[1].Sid")


@pytest.mark.parametrize(
    ("waivers", "remaining", "notes"),
    [
        ([], [STAR, PASS, CRED], []),
        ([("allow-star-star", "break-glass role")], [PASS, CRED],
         ["waived allow-star-star at Statement[0].Action: break-glass role"]),
        ([("allow-star-star", "admin"), ("passrole-star", "admin")], [CRED],
         ["waived allow-star-star at Statement[0].Action: admin", "waived passrole-star at Statement[0].Resource: admin"]),
        ([("allow-not-action", "unused")], [STAR, PASS, CRED], []),
        ([("hardcoded-credential", "it is only a test key")], [STAR, PASS, CRED], []),
    ],
    ids=["no-waivers", "one-rule", "two-rules", "waiver-matching-nothing", "credentials-cannot-be-waived"],
)
def test_apply_waivers(waivers: list[tuple[str, str]], remaining: list[LintFinding], notes: list[str]) -> None:
    assert apply_waivers([STAR, PASS, CRED], waivers) == (remaining, notes)


def test_waived_note_reads_like_the_contract() -> None:
    findings = lint_policy(_doc(_allow("*")), profile="boundary", own_account=OWN)
    remaining, notes = apply_waivers(findings, [("allow-star-star", "boundary is the ceiling")])
    assert "allow-star-star" not in _rules(remaining)
    assert "waived allow-star-star at Statement[0].Action: boundary is the ceiling" in notes


@pytest.mark.parametrize("sid", [
    "AllowEc2InstancesWithEncryptedEbsVolumes",
    "EC2DeleteGlueNetworkInterfacePermissions",
    "LookoutVisionConsoleS3BucketSearchAccess",
])
def test_words_run_together_in_a_sid_are_not_a_secret_key(sid: str) -> None:
    """Sids of AWS-managed policies: 40 letters and digits, but CamelCase words, not a random key."""
    assert len(sid) == 40
    doc = _doc(_allow("s3:GetObject", "arn:aws:s3:::b/*", Sid=sid))
    assert "hardcoded-credential" not in _rules(lint_policy(doc, profile="identity", own_account=OWN))


def test_a_random_key_without_slash_or_plus_is_still_a_secret_key() -> None:
    doc = _doc(_allow("s3:GetObject", "arn:aws:s3:::b/*", Sid="Kq7vT2xwLm9ZbR4cYh8NpE3sJd6FgA1uWo5iXe0V"))
    assert "hardcoded-credential" in _rules(lint_policy(doc, profile="identity", own_account=OWN))
