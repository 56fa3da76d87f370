"""The grammar of policy documents: each rule fires on a small broken document, and good ones stay clean."""

from __future__ import annotations

import dataclasses
import datetime
import json
from typing import Any

import pytest

from iamflow.policy.doctypes import DOCUMENT_TYPES, document_type
from iamflow.policy.findings import CODES, ERROR, SUGGESTION, WARNING, Finding, Path
from iamflow.policy.grammar import check_grammar, document_size

ACCOUNT = "123456789012"
OBJECTS = "arn:aws:s3:::bucket/*"


def _doc(*statements: Any, version: Any = "2012-10-17") -> dict[str, Any]:
    return {"Version": version, "Statement": list(statements)}


def _allow(action: Any = "s3:GetObject", resource: Any = OBJECTS, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def _trust(principal: Any = None, action: Any = "sts:AssumeRole", **extra: Any) -> dict[str, Any]:
    if principal is None:
        principal = {"Service": "ec2.amazonaws.com"}
    return _doc({"Effect": "Allow", "Principal": principal, "Action": action, **extra})


def _key_statement(principal: Any = None, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": principal or {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "kms:Decrypt", "Resource": "*", **extra}


def _condition(operator: str, key: str, value: Any) -> dict[str, Any]:
    return _doc(_allow(Condition={operator: {key: value}}))


def _many_buckets(count: int) -> dict[str, Any]:
    return _doc(_allow(resource=[f"arn:aws:s3:::bucket-{i:04}/*" for i in range(count)]))


def _found(findings: list[Finding]) -> list[tuple[str, Path]]:
    return sorted(((f.code, f.path) for f in findings), key=repr)


def _case(name: str, doc: Any, type_name: str, *expected: tuple[str, Path]) -> Any:
    return pytest.param(doc, type_name, list(expected), id=name)


S0 = ("Statement", 0)
COND = (*S0, "Condition")
TAG = "aws:PrincipalTag/team"

BROKEN = [
    # the document
    _case("list-document", [_allow()], "managed", ("policy-not-object", ())),
    _case("string-document", "{}", "managed", ("policy-not-object", ())),
    _case("null-document", None, "managed", ("policy-not-object", ())),
    _case("miscased-top-element", {"Version": "2012-10-17", "statement": [_allow()]}, "managed",
          ("unknown-element", ("statement",)), ("statement-missing", ())),
    _case("unknown-top-element", {**_doc(_allow()), "Comment": "x"}, "managed",
          ("unknown-element", ("Comment",))),
    _case("no-version", {"Statement": [_allow()]}, "managed", ("version-missing", ())),
    _case("version-2008", _doc(_allow(), version="2008-10-17"), "managed", ("version-2008", ("Version",))),
    _case("version-wrong", _doc(_allow(), version="2012-10-18"), "managed",
          ("version-invalid", ("Version",))),
    _case("version-number", _doc(_allow(), version=2012), "managed", ("version-invalid", ("Version",))),
    _case("version-yaml-date", _doc(_allow(), version=datetime.date(2012, 10, 17)), "managed",
          ("version-invalid", ("Version",))),
    _case("id-not-string", {**_doc(_allow()), "Id": 7}, "managed", ("id-invalid", ("Id",))),
    _case("no-statement", {"Version": "2012-10-17"}, "managed", ("statement-missing", ())),
    _case("empty-statement-list", _doc(), "managed", ("statement-empty", ("Statement",))),
    _case("statement-string", {"Version": "2012-10-17", "Statement": "Allow all"}, "managed",
          ("statement-not-object", ("Statement",))),
    _case("statement-entry-not-object", _doc(_allow(), "x"), "managed",
          ("statement-not-object", ("Statement", 1))),
    # statement elements
    _case("unknown-statement-element", _doc(_allow(Resources="*")), "managed",
          ("unknown-element", (*S0, "Resources"))),
    _case("miscased-statement-element", _doc({"Effect": "Allow", "action": "s3:GetObject", "Resource": "*"}),
          "managed", ("unknown-element", (*S0, "action")), ("action-missing", S0)),
    _case("no-effect", _doc({"Action": "s3:GetObject", "Resource": "*"}), "managed", ("effect-missing", S0)),
    _case("effect-lower-case", _doc(_allow(Effect="allow")), "managed", ("effect-invalid", (*S0, "Effect"))),
    _case("effect-other", _doc(_allow(Effect="Permit")), "managed", ("effect-invalid", (*S0, "Effect"))),
    _case("no-action", _doc({"Effect": "Allow", "Resource": "*"}), "managed", ("action-missing", S0)),
    _case("action-and-not-action", _doc(_allow(NotAction="s3:PutObject")), "managed",
          ("action-conflict", (*S0, "NotAction"))),
    _case("no-resource", _doc({"Effect": "Allow", "Action": "s3:GetObject"}), "managed",
          ("resource-missing", S0)),
    _case("resource-and-not-resource", _doc(_allow(NotResource="*")), "managed",
          ("resource-conflict", (*S0, "NotResource"))),
    _case("principal-in-identity", _doc(_allow(Principal="*")), "managed",
          ("principal-in-identity", (*S0, "Principal"))),
    _case("not-principal-in-scp", _doc(_allow(NotPrincipal={"AWS": ACCOUNT})), "scp",
          ("principal-in-identity", (*S0, "NotPrincipal"))),
    _case("single-statement-object-paths",
          {"Version": "2012-10-17", "Statement": {"Effect": "allow", "Action": "s3"}}, "managed",
          ("effect-invalid", ("Statement", "Effect")), ("action-invalid", ("Statement", "Action")),
          ("resource-missing", ("Statement",))),
    # Sid
    _case("sid-not-string", _doc(_allow(Sid=1)), "managed", ("sid-invalid", (*S0, "Sid"))),
    _case("sid-with-space-iam", _doc(_allow(Sid="Read objects")), "managed", ("sid-invalid", (*S0, "Sid"))),
    _case("sid-with-dash-trust", _trust(Sid="a-b"), "trust", ("sid-invalid", (*S0, "Sid"))),
    _case("duplicate-sid", _doc(_allow(Sid="Read"), _allow(Sid="Write"), _allow(Sid="Read")), "managed",
          ("sid-duplicate", ("Statement", 2, "Sid"))),
    _case("duplicate-sid-resource-policy", _doc(*[_key_statement(Sid="Key users")] * 2), "kms-key",
          ("sid-duplicate", ("Statement", 1, "Sid"))),
    # Action
    _case("empty-action-list", _doc(_allow([])), "managed", ("empty-list", (*S0, "Action"))),
    _case("action-object", _doc(_allow({"s3": "GetObject"})), "managed", ("action-invalid", (*S0, "Action"))),
    _case("action-without-service", _doc(_allow(["s3:GetObject", "GetObject"])), "managed",
          ("action-invalid", (*S0, "Action", 1))),
    _case("action-number-entry", _doc(_allow(["s3:GetObject", 3])), "managed",
          ("action-invalid", (*S0, "Action", 1))),
    _case("action-wildcard-service", _doc(_allow("s3*:GetObject")), "managed",
          ("action-invalid", (*S0, "Action"))),
    _case("action-with-space", _doc(_allow(["s3:GetObject", "s3:Get Object"])), "managed",
          ("action-invalid", (*S0, "Action", 1))),
    _case("not-action-empty", _doc({"Effect": "Deny", "NotAction": [], "Resource": "*"}), "managed",
          ("empty-list", (*S0, "NotAction"))),
    # Resource
    _case("resource-bucket-name", _doc(_allow(resource="my-bucket/*")), "managed",
          ("resource-invalid", (*S0, "Resource"))),
    _case("resource-short-arn", _doc(_allow(resource=["*", "arn:aws:s3:bucket"])), "managed",
          ("resource-invalid", (*S0, "Resource", 1))),
    _case("resource-wildcard-service", _doc(_allow(resource="arn:aws:s3*:::bucket")), "managed",
          ("resource-invalid", (*S0, "Resource"))),
    _case("resource-number", _doc(_allow(resource=[5])), "managed",
          ("resource-invalid", (*S0, "Resource", 0))),
    _case("resource-empty-list", _doc(_allow(resource=[])), "managed", ("empty-list", (*S0, "Resource"))),
    _case("resource-in-trust", _trust(Resource="*"), "trust", ("resource-in-trust", (*S0, "Resource"))),
    _case("not-resource-in-trust", _trust(NotResource="*"), "trust",
          ("resource-in-trust", (*S0, "NotResource"))),
    _case("resource-missing-in-key-policy",
          _doc({"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt"}), "kms-key",
          ("resource-missing", S0)),
    # Principal
    _case("trust-without-principal", _doc({"Effect": "Allow", "Action": "sts:AssumeRole"}), "trust",
          ("principal-missing", S0)),
    _case("resource-policy-without-principal", _doc(_allow("secretsmanager:GetSecretValue", "*")), "secret",
          ("principal-missing", S0)),
    _case("principal-and-not-principal", _doc(_key_statement(NotPrincipal={"AWS": ACCOUNT}, Effect="Deny")),
          "kms-key", ("principal-conflict", (*S0, "NotPrincipal"))),
    _case("not-principal-in-trust",
          _doc({"Effect": "Deny", "NotPrincipal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}), "trust",
          ("not-principal-in-trust", (*S0, "NotPrincipal"))),
    _case("principal-string-not-star", _trust("ec2.amazonaws.com"), "trust",
          ("principal-invalid", (*S0, "Principal"))),
    _case("principal-empty-object", _trust({}), "trust", ("principal-invalid", (*S0, "Principal"))),
    _case("principal-type-miscased", _trust({"aws": ACCOUNT}), "trust",
          ("principal-type-unknown", (*S0, "Principal", "aws"))),
    _case("principal-type-misspelt", _trust({"Services": "ec2.amazonaws.com"}), "trust",
          ("principal-type-unknown", (*S0, "Principal", "Services"))),
    _case("principal-empty-list", _trust({"AWS": []}), "trust", ("empty-list", (*S0, "Principal", "AWS"))),
    _case("aws-principal-short-account", _trust({"AWS": ["12345"]}), "trust",
          ("principal-invalid", (*S0, "Principal", "AWS", 0))),
    _case("aws-principal-wildcard-arn", _trust({"AWS": f"arn:aws:iam::{ACCOUNT}:role/*"}), "trust",
          ("principal-invalid", (*S0, "Principal", "AWS"))),
    _case("aws-principal-s3-arn", _trust({"AWS": "arn:aws:s3:::bucket"}), "trust",
          ("principal-invalid", (*S0, "Principal", "AWS"))),
    _case("aws-principal-number", _trust({"AWS": [int(ACCOUNT)]}), "trust",
          ("principal-invalid", (*S0, "Principal", "AWS", 0))),
    _case("service-principal-short-name", _trust({"Service": ["ec2.amazonaws.com", "lambda"]}), "trust",
          ("principal-invalid", (*S0, "Principal", "Service", 1))),
    _case("federated-principal-s3-arn",
          _trust({"Federated": "arn:aws:s3:::x"}, "sts:AssumeRoleWithWebIdentity"), "trust",
          ("principal-invalid", (*S0, "Principal", "Federated"))),
    _case("canonical-user-short", _doc(_key_statement({"CanonicalUser": "abc123"})), "kms-key",
          ("principal-invalid", (*S0, "Principal", "CanonicalUser"))),
    # trust actions
    _case("trust-s3-action", _trust(action=["sts:AssumeRole", "s3:GetObject"]), "trust",
          ("trust-action-invalid", (*S0, "Action", 1))),
    _case("trust-sts-star", _trust(action="sts:*"), "trust", ("trust-action-invalid", (*S0, "Action"))),
    _case("trust-star", _trust(action="*"), "trust", ("trust-action-invalid", (*S0, "Action"))),
    _case("trust-get-caller-identity", _trust(action="sts:GetCallerIdentity"), "trust",
          ("trust-action-invalid", (*S0, "Action"))),
    _case("trust-wildcard-matching-nothing", _trust(action="sts:Nothing*"), "trust",
          ("trust-action-invalid", (*S0, "Action"))),
    _case("trust-not-action",
          _doc({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                "NotAction": "sts:TagSession"}),
          "trust", ("not-action-in-trust", (*S0, "NotAction"))),
    # Condition
    _case("condition-list", _doc(_allow(Condition=[{"Bool": {"aws:SecureTransport": "true"}}])), "managed",
          ("condition-invalid", COND)),
    _case("condition-operator-string", _doc(_allow(Condition={"Bool": "aws:SecureTransport"})), "managed",
          ("condition-invalid", (*COND, "Bool"))),
    _case("operator-misspelt", _condition("StringEqual", TAG, "core"), "managed",
          ("condition-operator-unknown", (*COND, "StringEqual"))),
    _case("operator-unknown-prefix", _condition("ForAllValue:StringEquals", "aws:TagKeys", ["a"]), "managed",
          ("condition-operator-unknown", (*COND, "ForAllValue:StringEquals"))),
    _case("null-if-exists", _condition("NullIfExists", "aws:TokenIssueTime", "true"), "managed",
          ("condition-operator-unknown", (*COND, "NullIfExists"))),
    _case("operator-lower-case", _condition("stringequals", TAG, "core"), "managed",
          ("condition-operator-case", (*COND, "stringequals"))),
    _case("operator-no-keys", _doc(_allow(Condition={"StringEquals": {}})), "managed",
          ("condition-operator-empty", (*COND, "StringEquals"))),
    _case("condition-value-object", _condition("StringEquals", TAG, {"eq": "core"}), "managed",
          ("condition-value-invalid", (*COND, "StringEquals", TAG))),
    _case("condition-value-null", _condition("StringEquals", TAG, None), "managed",
          ("condition-value-invalid", (*COND, "StringEquals", TAG))),
    _case("condition-value-nested-list", _condition("StringEquals", TAG, ["a", ["b"]]), "managed",
          ("condition-value-invalid", (*COND, "StringEquals", TAG, 1))),
    _case("condition-empty-values", _condition("StringEquals", TAG, []), "managed",
          ("empty-list", (*COND, "StringEquals", TAG))),
    _case("null-yes", _condition("Null", "aws:TokenIssueTime", "yes"), "managed",
          ("condition-value-invalid", (*COND, "Null", "aws:TokenIssueTime"))),
    _case("bool-number", _condition("Bool", "aws:SecureTransport", 1), "managed",
          ("condition-value-invalid", (*COND, "Bool", "aws:SecureTransport"))),
    _case("ip-bad-prefix", _condition("IpAddress", "aws:SourceIp", ["203.0.113.0/24", "203.0.113.0/33"]),
          "managed", ("condition-value-invalid", (*COND, "IpAddress", "aws:SourceIp", 1))),
    _case("ip-host-name", _condition("NotIpAddress", "aws:SourceIp", "example.com"), "managed",
          ("condition-value-invalid", (*COND, "NotIpAddress", "aws:SourceIp"))),
    _case("date-words", _condition("DateLessThan", "aws:CurrentTime", "tomorrow"), "managed",
          ("condition-value-invalid", (*COND, "DateLessThan", "aws:CurrentTime"))),
    _case("date-us-format", _condition("DateGreaterThan", "aws:CurrentTime", "01/31/2024"), "managed",
          ("condition-value-invalid", (*COND, "DateGreaterThan", "aws:CurrentTime"))),
    _case("numeric-word", _condition("NumericLessThan", "aws:MultiFactorAuthAge", "an hour"), "managed",
          ("condition-value-invalid", (*COND, "NumericLessThan", "aws:MultiFactorAuthAge"))),
    _case("numeric-boolean", _condition("NumericLessThan", "aws:MultiFactorAuthAge", True), "managed",
          ("condition-value-invalid", (*COND, "NumericLessThan", "aws:MultiFactorAuthAge"))),
    _case("arn-plain-name", _condition("ArnEquals", "aws:SourceArn", "my-topic"), "managed",
          ("condition-value-invalid", (*COND, "ArnEquals", "aws:SourceArn"))),
    _case("binary-not-base64", _condition("BinaryEquals", "a:b", "not base64!"), "managed",
          ("condition-value-invalid", (*COND, "BinaryEquals", "a:b"))),
    # size
    _case("managed-too-large", _many_buckets(250), "managed", ("policy-too-large", ())),
    _case("trust-too-large", _trust({"AWS": [f"arn:aws:iam::{ACCOUNT}:role/role-{i:04}" for i in range(60)]}),
          "trust", ("policy-too-large", ())),
    _case("placeholders-count-longest",
          _doc(_allow(resource=["arn:${partition}:s3:::${account_id}-${region}-b"] * 126)), "managed",
          ("policy-too-large", ())),
]


@pytest.mark.parametrize(("doc", "type_name", "expected"), BROKEN)
def test_broken_document_reports_exactly_its_problems(doc: Any, type_name: str,
                                                      expected: list[tuple[str, Path]]) -> None:
    assert _found(check_grammar(doc, document_type(type_name))) == sorted(expected, key=repr)


def _clean(name: str, doc: dict[str, Any], type_name: str) -> Any:
    return pytest.param(doc, type_name, id=name)


EVERY_FAMILY = {
    "StringEquals": {TAG: ["core", 3, True]},
    "ForAnyValue:StringLike": {"aws:TagKeys": "team-*"},
    "StringEqualsIfExists": {"aws:RequestedRegion": "eu-west-1"},
    "Bool": {"aws:SecureTransport": "True", "aws:MultiFactorAuthPresent": True},
    "Null": {"aws:TokenIssueTime": "false", "aws:SourceVpc": False},
    "IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "203.0.113.7", "2001:db8::/32", "10.1.2.3/8"]},
    "DateGreaterThan": {"aws:CurrentTime": ["2024-01-31", "2024-01-31T12:00:00Z",
                                            "2024-01-31T12:00:00.5+01:00", 1706700000, "1706700000"]},
    "NumericLessThanEquals": {"aws:MultiFactorAuthAge": ["3600", 3600, 1.5, "-2.25"]},
    "ArnLike": {"aws:SourceArn": ["arn:aws:sns:*:*:topic", "*:role/app"]},
    "BinaryEquals": {"a:b": "QmluYXJ5"},
}
WEB_IDENTITY = {"Federated": ["cognito-identity.amazonaws.com", "accounts.google.com",
                              f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.example.com"]}

CLEAN = [
    _clean("identity-policy", _doc(_allow(), {"Sid": "DenyDelete", "Effect": "Deny",
                                              "Action": ["s3:Delete*", "s3:Put?bject"],
                                              "Resource": ["arn:aws:s3:::bucket", OBJECTS]}), "managed"),
    _clean("single-statement-object", {"Version": "2012-10-17", "Statement": _allow()}, "managed"),
    _clean("with-id", {**_doc(_allow()), "Id": "policy-1"}, "managed"),
    _clean("star-action-and-resource", _doc(_allow("*", "*")), "boundary"),
    _clean("not-action-not-resource",
           _doc({"Effect": "Deny", "NotAction": "iam:*", "NotResource": "arn:aws:iam::*:role/x"}), "scp"),
    _clean("mixed-case-service-prefix", _doc(_allow(["S3:GetBucketWebsite", "cloudTrail:GetChannel"])),
           "managed"),
    _clean("action-name-with-dash", _doc(_allow("vpc-lattice:AssociateViaAWSService-EventsAndStates", "*")),
           "managed"),
    _clean("placeholders-in-arns",
           _doc(_allow(resource=["arn:${partition}:iam::${account_id}:role/app",
                                 "arn:aws:s3:::home/${aws:username}/*", "${bucket_arn}"])), "managed"),
    _clean("partition-wildcard", _doc(_allow("kms:Decrypt", "arn:*:kms:*:*:key/*")), "managed"),
    _clean("inline-policy-size-left-to-caller", _many_buckets(250), "inline-user"),
    _clean("trust-service", _trust(), "trust"),
    _clean("trust-account-and-roles",
           _trust({"AWS": [ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root",
                           f"arn:aws:sts::{ACCOUNT}:assumed-role/r/s", "*"]},
                  ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"]), "trust"),
    _clean("trust-placeholder-account", _trust({"AWS": "arn:${partition}:iam::${account_id}:root"}), "trust"),
    _clean("trust-star-principal", _trust("*"), "trust"),
    _clean("trust-china-service",
           _trust({"Service": ["ec2.amazonaws.com.cn", "logs.eu-west-1.amazonaws.com"]}), "trust"),
    _clean("trust-web-identity", _trust(WEB_IDENTITY, "sts:AssumeRoleWithWebIdentity"), "trust"),
    _clean("trust-saml",
           _trust({"Federated": f"arn:aws:iam::{ACCOUNT}:saml-provider/corp"}, "sts:AssumeRoleWithSAML"),
           "trust"),
    _clean("trust-assume-role-wildcard", _trust(action="sts:AssumeRole*"), "trust"),
    _clean("trust-action-other-case", _trust(action="STS:assumerole"), "trust"),
    _clean("trust-set-context", _trust(action=["sts:SetContext", "sts:Set*"]), "trust"),
    _clean("key-policy-any-sid", _doc(_key_statement(Sid="Allow use of the key")), "kms-key"),
    _clean("key-policy-canonical-user", _doc(_key_statement({"CanonicalUser": "a" * 64})), "kms-key"),
    _clean("deny-not-principal",
           _doc({"Effect": "Deny", "NotPrincipal": {"AWS": ACCOUNT}, "Action": "kms:*", "Resource": "*"}),
           "kms-key"),
    _clean("conditions-of-every-family", _doc(_allow(Condition=EVERY_FAMILY)), "managed"),
    _clean("condition-values-with-variables", _doc(_allow(Condition={
        "IpAddress": {"aws:SourceIp": "${allowed_cidr}"},
        "DateLessThan": {"aws:CurrentTime": "${expiry}"},
        "ArnEquals": {"aws:PrincipalArn": "${role_arn}"},
    })), "managed"),
]


@pytest.mark.parametrize(("doc", "type_name"), CLEAN)
def test_clean_document_has_no_finding(doc: dict[str, Any], type_name: str) -> None:
    assert check_grammar(doc, document_type(type_name)) == []


def test_every_problem_is_reported_in_one_pass() -> None:
    doc = {"Statement": [{"Effect": "allow", "Action": ["s3", []], "Resource": "bucket",
                          "Condition": {"StringEqual": {"a:b": "x"}}},
                         {"Action": "*", "Resource": "*", "Principal": "*"}]}
    assert [f.code for f in check_grammar(doc, document_type("managed"))] == [
        "version-missing", "effect-invalid", "action-invalid", "action-invalid", "resource-invalid",
        "condition-operator-unknown", "effect-missing", "principal-in-identity"]


@pytest.mark.parametrize(
    ("doc", "type_name", "words"),
    [
        ({"Version": "2012-10-17", "Statment": []}, "managed", ["'Statment'", "did you mean 'Statement'?"]),
        ({"version": "2012-10-17", "Statement": [_allow()]}, "managed", ["case-sensitive", "'Version'"]),
        (_doc(_allow(Efect="Allow")), "managed", ["did you mean 'Effect'?"]),
        (_doc(_allow(Effect="allow")), "managed", ["'allow'", "'Allow'", "case-sensitive"]),
        (_condition("StringEqual", "a:b", "x"), "managed", ["did you mean 'StringEquals'?"]),
        (_condition("ForAllValue:StringLik", "a:b", ["x"]), "managed",
         ["did you mean 'ForAllValues:StringLike'?"]),
        (_condition("stringequalsifexists", "a:b", "x"), "managed", ["'StringEqualsIfExists'"]),
        (_trust({"Servce": "ec2.amazonaws.com"}), "trust", ["did you mean 'Service'?"]),
        (_doc(_allow(resource="my-bucket/*")), "managed", ["'my-bucket/*'", "ARN"]),
        (_trust(action="sts:*"), "trust", ["'sts:*'", "sts:AssumeRole"]),
        (_doc(_allow(Sid="A"), _allow(Sid="A")), "managed", ["0 and 1", "'A'"]),
        (_many_buckets(250), "managed", ["6144", str(document_size(_many_buckets(250)))]),
    ],
    ids=["top-typo", "top-case", "statement-typo", "effect-case", "operator-typo", "operator-prefix-typo",
         "operator-case", "principal-type-typo", "resource-not-arn", "trust-wildcard", "duplicate-sid",
         "too-large"],
)
def test_message_names_the_value_and_the_fix(doc: dict[str, Any], type_name: str, words: list[str]) -> None:
    findings = check_grammar(doc, document_type(type_name))
    # a mistyped Version or Statement also leaves the document without one
    (finding,) = [f for f in findings if f.code not in ("statement-missing", "version-missing")]
    for word in words:
        assert word in finding.message
    assert finding.message.endswith((".", "?"))
    assert not finding.message.endswith(("?.", ".."))


@pytest.mark.parametrize(
    ("doc", "size"),
    [
        ({}, 2),
        ({"a": "b c"}, len('{"a":"b c"}')),
        ({"Version": "2012-10-17", "Statement": []}, len('{"Version":"2012-10-17","Statement":[]}')),
        ({"a": "${account_id}"}, len('{"a":"123456789012"}')),
        ({"a": "arn:${partition}:x:${region}:${account_id}"},
         len('{"a":"arn:aws-us-gov:x:ap-southeast-2:123456789012"}')),
        ({"a": "${aws:username}"}, len('{"a":"${aws:username}"}')),
        ({"a": "é"}, len('{"a":"é"}')),
        ({"a": datetime.date(2012, 10, 17)}, len('{"a":"2012-10-17"}')),
    ],
    ids=["empty", "inner-space-counts", "compact", "account-id", "all-placeholders", "aws-variable-as-is",
         "non-ascii-one-char", "not-json-value"],
)
def test_document_size_counts_like_iam(doc: Any, size: int) -> None:
    assert document_size(doc) == size


def test_document_size_ignores_indentation() -> None:
    doc = _doc(_allow(), _allow("s3:PutObject"))
    assert document_size(doc) == len(json.dumps(doc, separators=(",", ":")))
    assert document_size(json.loads(json.dumps(doc, indent=4))) == document_size(doc)


def test_size_limit_is_the_document_types() -> None:
    doc = _many_buckets(250)
    assert 6144 < document_size(doc) < 32768
    assert [f.code for f in check_grammar(doc, document_type("managed"))] == ["policy-too-large"]
    assert check_grammar(doc, document_type("inline-role")) == []  # shared limit: the caller's
    unlimited = dataclasses.replace(document_type("managed"), max_chars=None)
    assert check_grammar(doc, unlimited) == []


JUNK = [
    pytest.param(value, id=name) for name, value in [
        ("zero", 0), ("float", 1.5), ("bool", True), ("empty-string", ""), ("empty-list", []),
        ("empty-object", {}),
        ("null-statement", {"Statement": None}), ("junk-statements", {"Statement": [None, 1, [], "x"]}),
        ("empty-statement", {"Statement": {}}), ("non-string-keys", {1: 2, None: 3}),
        ("junk-top", {"Version": ["2012-10-17"], "Id": None, "Statement": 5}),
        ("null-elements", {"Statement": [{"Effect": None, "Action": None, "Resource": None, "Principal": None,
                                          "NotPrincipal": 1, "Condition": None, "Sid": None}]}),
        ("junk-elements", {"Statement": [{"Effect": [], "Action": [{}], "Resource": [None],
                                          "Principal": {"AWS": {"a": 1}},
                                          "Condition": {"Bool": None, 1: {"a:b": "x"}, "ForAnyValue:": {},
                                                        ":": {}}}]}),
        ("junk-principal", {"Statement": [{"Principal": {"AWS": [None, 1, {}], "Service": 3, 5: "x"},
                                           "Action": ["sts:*", 5]}]}),
    ]
]


@pytest.mark.parametrize("doc", JUNK)
@pytest.mark.parametrize("type_name", list(DOCUMENT_TYPES))
def test_never_raises(doc: Any, type_name: str) -> None:
    findings = check_grammar(doc, document_type(type_name))
    assert all(f.code in CODES for f in findings)
    assert findings  # none of these is a valid document


@pytest.mark.parametrize(
    ("name", "severity", "group"),
    [
        ("version-missing", SUGGESTION, "grammar"),
        ("version-2008", WARNING, "grammar"),
        ("condition-operator-case", WARNING, "grammar"),
        ("condition-operator-empty", WARNING, "grammar"),
        ("unknown-element", ERROR, "grammar"),
        ("trust-action-invalid", ERROR, "grammar"),
        ("policy-too-large", ERROR, "size"),
        ("inline-policies-too-large", ERROR, "size"),
    ],
    ids=lambda v: str(v),
)
def test_codes_are_registered_with_their_severity(name: str, severity: str, group: str) -> None:
    assert CODES[name].severity == severity
    assert CODES[name].group == group
    assert CODES[name].waivable is (severity != ERROR)
