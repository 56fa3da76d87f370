"""Documents against the IAM service reference: each rule fires on a bad document, not on its good sibling."""

from __future__ import annotations

from typing import Any

import pytest

from iamflow.policy.catalog import Action, ActionResource, ConditionKey, ResourceType, Service, catalog
from iamflow.policy.doctypes import DOCUMENT_TYPES
from iamflow.policy.findings import CODES, ERROR, SECURITY_WARNING, WARNING, Finding, Path
from iamflow.policy.semantics import check_semantics

MANAGED = DOCUMENT_TYPES["managed"]
TRUST = DOCUMENT_TYPES["trust"]
ACCOUNT = "111122223333"
SAML_AUDIENCE = "https://signin.aws.amazon.com/saml"


def _doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _allow(action: Any, resource: Any = "*", condition: dict[str, Any] | None = None,
           effect: str = "Allow") -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": effect, "Action": action, "Resource": resource}
    if condition is not None:
        statement["Condition"] = condition
    return statement


def _when(condition: dict[str, Any], action: Any = "s3:GetObject") -> dict[str, Any]:
    return _doc(_allow(action, condition=condition))


def _web_identity(condition: dict[str, Any]) -> dict[str, Any]:
    return _doc({"Effect": "Allow", "Principal": {"Federated": "arn:aws:iam::111122223333:oidc-provider/x"},
                 "Action": "sts:AssumeRoleWithWebIdentity", "Condition": condition})


def _check(doc: dict[str, Any], doc_type: Any = MANAGED) -> list[Finding]:
    return check_semantics(doc, doc_type, catalog())


def _codes(findings: list[Finding]) -> list[tuple[str, Path]]:
    return [(f.code, f.path) for f in findings]


S0 = ("Statement", 0)
ACT = (*S0, "Action")
RES = (*S0, "Resource")
COND = (*S0, "Condition")

# (id, document, the (code, path) findings expected, in order)
CASES: list[tuple[str, dict[str, Any], list[tuple[str, Path]]]] = [
    # actions
    ("known-action", _doc(_allow("s3:GetObject")), []),
    ("action-in-other-case", _doc(_allow("S3:getobject")), []),
    ("star-action", _doc(_allow("*")), []),
    ("service-wildcard", _doc(_allow(["s3:Get*", "s3:*", "ec2:Describe*", "s3:?etObject"])), []),
    ("placeholder-action", _doc(_allow("${action}")), []),
    ("unknown-service", _doc(_allow("s4:GetObject")), [("unknown-service", ACT)]),
    ("unknown-action", _doc(_allow(["s3:GetObject", "s3:GetObjects"])),
     [("unknown-action", (*S0, "Action", 1))]),
    ("wildcard-matches-nothing", _doc(_allow("s3:Gett*")), [("wildcard-matches-nothing", ACT)]),
    ("not-action-checked", _doc({"Effect": "Deny", "NotAction": ["iam:*", "s3:GetObjects"], "Resource": "*"}),
     [("unknown-action", (*S0, "NotAction", 1))]),
    ("retired-service", _doc(_allow("codestar:ListProjects")), [("not-in-reference", ACT)]),
    ("action-aws-uses-unlisted", _doc(_allow("budgets:DescribeBudgets")), [("not-in-reference", ACT)]),
    ("second-statement-path", _doc(_allow("s3:GetObject"), _allow(["s3:PutObject", "s3:PutObjekt"])),
     [("unknown-action", ("Statement", 1, "Action", 1))]),
    ("lone-statement-object", {"Statement": _allow("s3:GetObjekt")},
     [("unknown-action", ("Statement", "Action"))]),
    # resources that fit
    ("s3-object", _doc(_allow("s3:GetObject", "arn:aws:s3:::my-bucket/*")), []),
    ("s3-bucket", _doc(_allow("s3:ListBucket", "arn:aws:s3:::my-bucket")), []),
    ("iam-role-placeholders",
     _doc(_allow("iam:PassRole", "arn:${partition}:iam::${account_id}:role/app-*")), []),
    ("logs-stars", _doc(_allow("logs:PutLogEvents", "arn:aws:logs:*:*:*")), []),
    ("dynamodb-index", _doc(_allow("dynamodb:Query", "arn:aws:dynamodb:*:*:table/x/index/*")), []),
    ("placeholder-resource", _doc(_allow("s3:GetObject", "${bucket_arn}")), []),
    ("policy-variable", _doc(_allow("iam:GetUser", "arn:aws:iam::*:user/${aws:username}")), []),
    ("star-only-action-beside-one-that-fits", _doc(_allow(["s3:ListAllMyBuckets", "s3:ListBucket"],
                                                          "arn:aws:s3:::b")), []),
    ("wildcard-action-one-fits", _doc(_allow("s3:Get*", "arn:aws:s3:::b")), []),
    ("sts-acts-on-iam-roles", _doc(_allow("sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/x")), []),
    ("aws-owned-ssm-document",
     _doc(_allow("ssm:SendCommand", "arn:aws:ssm:*::document/AWS-RunShellScript")), []),
    ("not-resource-skipped", _doc({"Effect": "Allow", "Action": "s3:GetObject",
                                   "NotResource": "arn:aws:s3:us-east-1::b/*"}), []),
    ("not-action-skipped", _doc({"Effect": "Deny", "NotAction": "s3:GetObject",
                                 "Resource": "arn:aws:dynamodb:*:*:table/x"}), []),
    ("not-an-arn-left-to-grammar", _doc(_allow("s3:GetObject", "my-bucket")), []),
    ("star-action-any-resource", _doc(_allow("*", "arn:aws:dynamodb:*:*:table/x")), []),
    # resources that do not
    ("s3-with-region", _doc(_allow("s3:GetObject", "arn:aws:s3:us-east-1::my-bucket/*")),
     [("invalid-arn", RES)]),
    ("dynamodb-type-typo",
     _doc(_allow("dynamodb:GetItem", ["arn:aws:dynamodb:*:*:table/ok",
                                      f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:tabel/x"])),
     [("invalid-arn", (*S0, "Resource", 1))]),
    ("dynamodb-without-region", _doc(_allow("dynamodb:GetItem", f"arn:aws:dynamodb::{ACCOUNT}:table/x")),
     [("invalid-arn", RES)]),
    ("too-few-parts", _doc(_allow("s3:GetObject", "arn:aws:s3:bucket")), [("invalid-arn", RES)]),
    ("no-such-arn-service", _doc(_allow("s3:GetObject", "arn:aws:s4:::b/k")), [("invalid-arn", RES)]),
    ("invalid-arn-even-with-star-action", _doc(_allow("*", "arn:aws:s3:us-east-1::b/*")),
     [("invalid-arn", RES)]),
    ("other-service-resource", _doc(_allow("s3:GetObject", f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/x")),
     [("resource-mismatch", RES)]),
    ("other-service-in-deny", _doc(_allow("s3:GetObject", "arn:aws:dynamodb:*:*:table/x", effect="Deny")),
     [("resource-mismatch", RES)]),
    ("star-only-action", _doc(_allow("s3:ListAllMyBuckets", "arn:aws:s3:::b")),
     [("resource-type-mismatch", RES)]),
    ("bucket-for-object-action", _doc(_allow("s3:GetObject", "arn:aws:s3:::b")),
     [("resource-type-mismatch", RES)]),
    ("undocumented-type",
     _doc(_allow("cloudformation:CreateStack", "arn:aws:cloudformation:*:*:transform/x")),
     [("undocumented-resource-type", RES)]),
    ("type-in-other-case", _doc(_allow("states:StartExecution", "arn:aws:states:*:*:statemachine:x")),
     [("undocumented-resource-type", RES)]),
    ("resource-check-skipped-after-unknown-action",
     _doc(_allow("s3:GetObjekt", "arn:aws:dynamodb:*:*:table/x")),
     [("unknown-action", ACT)]),
    # condition keys
    ("global-key", _when({"Bool": {"aws:MultiFactorAuthPresent": "true"}}), []),
    ("global-key-other-case", _when({"Bool": {"AWS:multifactorauthpresent": "true"}}), []),
    ("templated-global-key", _when({"StringEquals": {"aws:PrincipalTag/team": "x"}}), []),
    ("service-key", _when({"StringEquals": {"s3:x-amz-acl": "private"}}, "s3:PutObject"), []),
    ("templated-service-key", _when({"StringEquals": {"s3:ExistingObjectTag/team": "x"}}), []),
    ("key-of-another-action-of-the-service",
     _when({"StringLike": {"s3:prefix": "home/"}}, "s3:GetObject"), []),
    ("unknown-global-key", _when({"Bool": {"aws:MultiFactorAuthPresnt": "true"}}),
     [("unknown-condition-key", (*COND, "Bool", "aws:MultiFactorAuthPresnt"))]),
    ("unknown-service-key", _when({"StringEquals": {"s3:NoSuchKey": "x"}}),
     [("unknown-condition-key", (*COND, "StringEquals", "s3:NoSuchKey"))]),
    ("key-of-other-service", _when({"StringEquals": {"dynamodb:Select": "x"}}),
     [("condition-key-not-applicable", (*COND, "StringEquals", "dynamodb:Select"))]),
    ("key-of-other-service-with-not-action", _doc({"Effect": "Deny", "NotAction": "s3:*", "Resource": "*",
                                                   "Condition": {"StringEquals": {"dynamodb:Select": "x"}}}),
     []),
    ("key-of-other-service-with-star", _when({"StringEquals": {"dynamodb:Select": "x"}}, "*"), []),
    ("unknown-key-with-star", _when({"StringEquals": {"dynamodb:Selekt": "x"}}, "*"),
     [("unknown-condition-key", (*COND, "StringEquals", "dynamodb:Selekt"))]),
    ("saml-key-of-sts", _doc({"Effect": "Allow", "Principal": {"Federated": "x"},
                              "Action": "sts:AssumeRoleWithSAML",
                              "Condition": {"StringEquals": {"SAML:aud": SAML_AUDIENCE}}}), []),
    ("web-identity-keys", _web_identity({
        "StringEquals": {"token.actions.githubusercontent.com:sub": "repo:o/r:ref:refs/heads/main",
                         "oidc.eks.us-east-1.amazonaws.com/id/ABC:aud": "sts.amazonaws.com",
                         "accounts.google.com:aud": "x"},
        "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"}}), []),
    ("key-aws-uses-unlisted", _when({"Bool": {"aws:IsMcpServiceAction": "true"}}),
     [("not-in-reference", (*COND, "Bool", "aws:IsMcpServiceAction"))]),
    ("key-with-variable", _when({"StringEquals": {"s3:${key}": "x"}}), []),
    # operators and key types
    ("ip-operator", _when({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}), []),
    ("numeric-on-ip", _when({"NumericLessThan": {"aws:SourceIp": "1"}}),
     [("operator-key-type-mismatch", (*COND, "NumericLessThan", "aws:SourceIp"))]),
    ("string-on-ip", _when({"StringEquals": {"aws:SourceIp": "10.0.0.1"}}),
     [("operator-key-type-mismatch", (*COND, "StringEquals", "aws:SourceIp"))]),
    ("date-on-string", _when({"DateGreaterThan": {"aws:UserAgent": "2020-01-01T00:00:00Z"}}),
     [("operator-key-type-mismatch", (*COND, "DateGreaterThan", "aws:UserAgent"))]),
    ("numeric-on-bool", _when({"NumericEquals": {"aws:SecureTransport": "1"}}),
     [("operator-key-type-mismatch", (*COND, "NumericEquals", "aws:SecureTransport"))]),
    ("string-on-arn-is-fine", _when({"StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/x"}}), []),
    ("arn-on-arn", _when({"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:*:t"}}), []),
    ("date-and-numeric-on-epoch", _when({"DateGreaterThan": {"aws:EpochTime": "1700000000"},
                                         "NumericLessThan": {"aws:EpochTime": "1800000000"}}), []),
    ("numeric-on-mfa-age", _when({"NumericLessThanIfExists": {"aws:MultiFactorAuthAge": "3600"}}), []),
    ("null-on-any-key", _when({"Null": {"aws:SourceIp": "true", "aws:TagKeys": "false"}}), []),
    ("string-on-bool", _when({"StringEquals": {"aws:ViaAWSService": "true"}}),
     [("operator-key-type-unusual", (*COND, "StringEquals", "aws:ViaAWSService"))]),
    ("arn-on-string", _when({"ArnLike": {"aws:ResourceTag/owner": "arn:aws:iam::*:role/x"}}),
     [("operator-key-type-unusual", (*COND, "ArnLike", "aws:ResourceTag/owner"))]),
    ("unknown-operator-skipped", _when({"StringEqualz": {"aws:SourceIp": "x"}}), []),
    # set operators
    ("set-operator-on-multivalued", _when({"ForAnyValue:StringEquals": {"aws:TagKeys": ["a", "b"]}}), []),
    ("set-operator-on-single-valued", _when({"ForAnyValue:StringEquals": {"aws:SourceVpc": "vpc-1"}}),
     [("set-operator-on-single-valued-key", (*COND, "ForAnyValue:StringEquals", "aws:SourceVpc"))]),
    ("multivalued-without-set-operator", _when({"StringEquals": {"aws:TagKeys": "a"}}),
     [("multivalued-key-without-set-operator", (*COND, "StringEquals", "aws:TagKeys"))]),
    ("forallvalues-in-allow", _when({"ForAllValues:StringEquals": {"aws:TagKeys": ["a"]}}),
     [("forallvalues-with-allow", (*COND, "ForAllValues:StringEquals", "aws:TagKeys"))]),
    ("forallvalues-with-null-check", _when({"ForAllValues:StringEquals": {"aws:TagKeys": ["a"]},
                                            "Null": {"aws:TagKeys": "false"}}), []),
    ("forallvalues-in-deny",
     _doc(_allow("s3:GetObject", effect="Deny",
                 condition={"ForAllValues:StringEquals": {"aws:TagKeys": ["a"]}})),
     []),
]


@pytest.mark.parametrize(("doc", "expected"), [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES])
def test_findings(doc: dict[str, Any], expected: list[tuple[str, Path]]) -> None:
    assert _codes(_check(doc)) == expected


@pytest.mark.parametrize(("doc", "fragments"), [
    (_doc(_allow("s4:GetObject")), ["'s4:GetObject'", "did you mean 's3'?"]),
    (_doc(_allow("s3:GetObjects")), ["'s3:GetObjects'", "did you mean s3:GetObject"]),
    (_doc(_allow("s3:ListBuckets")), ["s3:ListBucket", "s3:ListAllMyBuckets"]),
    (_doc(_allow("s3:Gett*")), ["'s3:Gett*' matches no s3 action"]),
    (_doc(_allow("s3:GetObject", "arn:aws:s3:us-east-1::my-bucket/*")),
     ["'us-east-1'", "s3 object ARNs have no region", "leave it empty"]),
    (_doc(_allow("dynamodb:GetItem", "arn:aws:dynamodb:us-east-1:111122223333:tabel/x")),
     ["'tabel/'", "did you mean 'table/'", "table/${TableName})"]),
    (_doc(_allow("s3:GetObject", "arn:aws:dynamodb:*:*:table/x")),
     ["dynamodb table", "none of s3:GetObject apply to dynamodb resources"]),
    (_doc(_allow("s3:ListAllMyBuckets", "arn:aws:s3:::b")),
     ["s3:ListAllMyBuckets acts only on Resource \"*\""]),
    (_when({"Bool": {"aws:MultiFactorAuthPresnt": "true"}}), ["did you mean aws:MultiFactorAuthPresent"]),
    (_when({"NumericLessThan": {"aws:SourceIp": "1"}}), ["IpAddress or NotIpAddress"]),
    (_when({"StringEquals": {"ec2:ResourceTags/team": "x"}}, "ec2:StartInstances"),
     ["did you mean ec2:ResourceTag/${TagKey}"]),
    (_when({"StringEquals": {"dynamodb:Select": "x"}}), ["a key of dynamodb", "actions are of s3"]),
], ids=["service", "action", "two-actions", "wildcard", "s3-region", "resource-type", "other-service",
        "star-only", "condition-key", "operator", "templated-key", "not-applicable"])
def test_messages_say_what_to_write(doc: dict[str, Any], fragments: list[str]) -> None:
    findings = _check(doc)
    assert len(findings) == 1
    for fragment in fragments:
        assert fragment in findings[0].message


@pytest.mark.parametrize("doc", [
    {},
    {"Statement": None},
    {"Statement": "x"},
    {"Statement": [None, 1, "x", [], {}]},
    {"Statement": [{"Effect": "Allow", "Action": 3, "Resource": {"a": 1}, "Condition": []}]},
    {"Statement": [{"Effect": "Allow", "Action": [None, 1, ["s3:GetObject"]], "Resource": [None, 2]}]},
    {"Statement": [{"Effect": 1, "Action": "s3:", "Resource": "arn:"}]},
    {"Statement": [{"Effect": "Allow", "Action": ":", "Resource": "arn:::::"}]},
    {"Statement": [{"Action": "s3:GetObject",
                    "Condition": {"StringEquals": "x", "": {"": 1}, "Null": {3: 4}}}]},
    {"Statement": [{"Action": "s3:GetObject", "Condition": {"ForAllValues:": {"aws:": None, ":": []}}}]},
    {"Statement": [{"Effect": "Allow", "Action": "*:*", "Resource": "arn:aws:${x:y}:::${"}]},
], ids=["empty", "null-statement", "string-statement", "odd-items", "wrong-types", "mixed-lists",
        "empty-names", "colons", "odd-condition", "odd-set-operator", "unclosed-variable"])
def test_never_raises_on_any_shape(doc: dict[str, Any]) -> None:
    assert isinstance(_check(doc), list)


def test_a_non_dict_document_is_left_to_the_grammar() -> None:
    assert check_semantics([], MANAGED, catalog()) == []  # type: ignore[arg-type]


def test_trust_policies_are_checked_too() -> None:
    doc = _doc({"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRol"})
    assert _codes(_check(doc, TRUST)) == [("unknown-action", ACT)]


def test_repeated_checks_agree() -> None:
    doc = _doc(_allow(["s3:GetObjects", "s3:Get*"], ["arn:aws:s3:us-east-1::b/*", "arn:aws:s3:::b/*"]))
    assert _check(doc) == _check(doc)


SEVERITIES = {
    "unknown-service": ERROR, "unknown-action": ERROR, "wildcard-matches-nothing": ERROR,
    "invalid-arn": ERROR, "resource-mismatch": ERROR, "unknown-condition-key": ERROR,
    "operator-key-type-mismatch": ERROR,
    "not-in-reference": WARNING, "undocumented-resource-type": WARNING, "resource-type-mismatch": WARNING,
    "condition-key-not-applicable": WARNING, "operator-key-type-unusual": WARNING,
    "set-operator-on-single-valued-key": WARNING, "multivalued-key-without-set-operator": WARNING,
    "forallvalues-with-allow": SECURITY_WARNING,
}


@pytest.mark.parametrize(("name", "severity"), SEVERITIES.items(), ids=list(SEVERITIES))
def test_codes_are_registered(name: str, severity: str) -> None:
    assert CODES[name].severity == severity
    assert CODES[name].group == "catalog"
    assert CODES[name].waivable is (severity != ERROR)


class _TinyCatalog:
    """A catalog of one made-up service, without ``__weakref__``: no cache is kept across documents."""

    __slots__ = ("version", "_svc")

    def __init__(self) -> None:
        self.version = "test"
        self._svc = Service(
            "demo",
            actions={"getthing": Action("demo", "GetThing", "Read", (ActionResource("thing", False),),
                                        ("demo:Color",))},
            resource_types={"thing": ResourceType("demo", "thing",
                                                  "arn:${Partition}:demo:${Region}:${Account}:thing/${Id}")},
            condition_keys={"demo:color": ConditionKey("demo:Color", "String")},
        )

    def prefixes(self) -> list[str]:
        return ["demo"]

    def service(self, prefix: str) -> Service | None:
        return self._svc if prefix.lower() == "demo" else None


@pytest.mark.parametrize(("doc", "expected"), [
    (_doc(_allow("demo:GetThing", "arn:aws:demo:*:*:thing/1",
                 {"StringEquals": {"demo:Color": "red"}})), []),
    (_doc(_allow("demo:GetThings", "arn:aws:demo:*:*:thing/1")), [("unknown-action", ACT)]),
    (_doc(_allow("demo:GetThing", "arn:aws:demo:*:*:thong/1")), [("invalid-arn", RES)]),
    (_doc(_allow("demo:GetThing", condition={"StringEquals": {"demo:Colour": "red"}})),
     [("unknown-condition-key", (*COND, "StringEquals", "demo:Colour"))]),
], ids=["clean", "unknown-action", "type-typo", "unknown-key"])
def test_any_catalog_source(doc: dict[str, Any], expected: list[tuple[str, Path]]) -> None:
    assert _codes(check_semantics(doc, MANAGED, _TinyCatalog())) == expected
