"""ARNs: splitting, and matching a policy pattern against an ARN format and against a concrete ARN."""

from __future__ import annotations

import pytest

from iamflow.policy.arn import (
    Arn,
    arn_matches,
    has_variable,
    is_placeholder,
    leading_literal,
    mismatched_parts,
    parse_arn,
    pattern_matches_format,
    split_parts,
)

S3_OBJECT = "arn:${Partition}:s3:::${BucketName}/${ObjectName}"
S3_BUCKET = "arn:${Partition}:s3:::${BucketName}"
DDB_TABLE = "arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}"
DDB_INDEX = "arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}/index/${IndexName}"
IAM_ROLE = "arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}"
LOG_GROUP = "arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}"
LOG_STREAM = ("arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}"
              ":log-stream:${LogStreamName}")
SSM_DOCUMENT = "arn:${Partition}:ssm:${Region}:${Account}:document/${DocumentName}"
HEALTH_EVENT = "arn:${Partition}:health:*::event/${Service}/${EventTypeCode}/*"


@pytest.mark.parametrize(("text", "expected"), [
    ("arn:aws:s3:::bucket/key", Arn("aws", "s3", "", "", "bucket/key")),
    ("arn:aws:logs:us-east-1:111122223333:log-group:/aws/x:*",
     Arn("aws", "logs", "us-east-1", "111122223333", "log-group:/aws/x:*")),
    ("arn:aws:iam::${aws:PrincipalAccount}:user/${aws:username}",
     Arn("aws", "iam", "", "${aws:PrincipalAccount}", "user/${aws:username}")),
    ("arn:${partition}:iam::${account_id}:role/app",
     Arn("${partition}", "iam", "", "${account_id}", "role/app")),
    ("arn:aws:s3:*", Arn("aws", "s3", "*", "*", "*")),
    ("arn:aws:ec2:us-*", Arn("aws", "ec2", "us-*", "*", "*")),
    ("arn:aws:s3", None),
    ("arn:aws:s3:::", Arn("aws", "s3", "", "", "")),
    ("arn:aws:s3:${x}", None),
    ("s3:GetObject", None),
    ("*", None),
], ids=["s3-object", "resource-with-colons", "variables-with-colons", "placeholders", "trailing-star-pads",
        "trailing-star-in-region", "too-few-parts", "empty-resource", "trailing-placeholder-is-not-a-star",
        "not-an-arn", "star"])
def test_parse_arn(text: str, expected: Arn | None) -> None:
    assert parse_arn(text) == expected


def test_split_parts_keeps_variables_whole() -> None:
    assert split_parts("a:${b:c}:d") == ["a", "${b:c}", "d"]
    assert split_parts("a:${unclosed:x") == ["a", "${unclosed:x"]


@pytest.mark.parametrize(("pattern", "arn_format", "matches"), [
    ("arn:aws:s3:::my-bucket/*", S3_OBJECT, True),
    ("arn:aws:s3:::my-bucket", S3_BUCKET, True),
    ("arn:aws:s3:::my-bucket", S3_OBJECT, False),
    ("arn:aws:s3:::my-bucket/a/b/c.txt", S3_OBJECT, True),
    ("arn:aws:s3:::*", S3_OBJECT, True),
    ("arn:aws:s3:us-east-1::my-bucket/*", S3_OBJECT, False),
    ("arn:aws:s3::111122223333:my-bucket/*", S3_OBJECT, False),
    ("arn:aws:s3:*", S3_OBJECT, True),
    ("arn:aws:s3:*:*:*", S3_OBJECT, True),
    ("arn:aws:dynamodb:us-east-1:111122223333:table/x", DDB_TABLE, True),
    ("arn:aws:dynamodb:us-east-1:111122223333:tabel/x", DDB_TABLE, False),
    ("arn:aws:dynamodb:*:*:table/x/index/*", DDB_INDEX, True),
    ("arn:aws:dynamodb:us-east-1:111122223333:table/x", DDB_INDEX, False),
    ("arn:aws:dynamodb::111122223333:table/x", DDB_TABLE, False),
    ("arn:aws:dynamodb:us-east-1:111122223333:table/x", S3_OBJECT, False),
    ("arn:${partition}:iam::${account_id}:role/app-*", IAM_ROLE, True),
    ("arn:aws:iam::111122223333:role/service-role/app", IAM_ROLE, True),
    ("arn:aws:iam::111122223333:role/${aws:username}", IAM_ROLE, True),
    ("arn:aws:iam::111122223333:user/app", IAM_ROLE, False),
    ("arn:aws:iam:us-east-1:111122223333:role/app", IAM_ROLE, False),
    ("arn:aws:logs:*:*:*", LOG_GROUP, True),
    ("arn:aws:logs:*:*:log-group:/aws/lambda/fn:*", LOG_GROUP, True),
    ("arn:aws:logs:*:*:log-group:/aws/lambda/fn:*", LOG_STREAM, True),
    ("arn:aws:logs:*:*:log-group:g", LOG_STREAM, False),
    ("arn:aws:ssm:us-east-1::document/AWS-RunShellScript", SSM_DOCUMENT, True),
    ("arn:aws:health:us-east-1::event/EC2/X/y", HEALTH_EVENT, True),
    ("arn:aws:s3:::b?cket/k", S3_OBJECT, True),
    ("arn:aws:s3:::bucket${*}/k", S3_OBJECT, True),
    ("arn::s3:::b/k", S3_OBJECT, False),
    ("not-an-arn", S3_OBJECT, False),
], ids=["s3-object", "s3-bucket", "bucket-is-no-object", "object-key-with-slashes", "s3-star", "s3-region",
        "s3-account", "short-with-star", "stars-everywhere", "ddb-table", "ddb-typo", "ddb-index",
        "table-is-no-index", "ddb-no-region", "other-service", "iam-placeholders", "iam-role-path",
        "iam-policy-variable", "iam-user-is-no-role", "iam-region", "logs-stars", "log-group-suffix",
        "log-group-pattern-covers-stream", "log-group-is-no-stream", "aws-owned-empty-account",
        "format-with-literal-star", "question-mark", "escaped-star", "empty-partition", "not-an-arn"])
def test_pattern_matches_format(pattern: str, arn_format: str, matches: bool) -> None:
    assert pattern_matches_format(pattern, arn_format) is matches
    assert (mismatched_parts(pattern, arn_format) == ()) is matches


@pytest.mark.parametrize(("pattern", "arn_format", "parts"), [
    ("arn:aws:s3:us-east-1::my-bucket/*", S3_OBJECT, ("region",)),
    ("arn:aws:s3:us-east-1:111122223333:my-bucket/*", S3_OBJECT, ("region", "account")),
    ("arn:aws:dynamodb:us-east-1:111122223333:tabel/x", DDB_TABLE, ("resource",)),
    ("arn:aws:dynamodb:us-east-1:111122223333:table/x", S3_OBJECT, ("service", "region", "account")),
    ("arn:aws:dynamodb::111122223333:table/x", DDB_TABLE, ("region",)),
    ("arn:aws:s3", S3_OBJECT, ("partition", "service", "region", "account", "resource")),
], ids=["region", "region-and-account", "resource", "service-region-account", "missing-region", "not-an-arn"])
def test_mismatched_parts(pattern: str, arn_format: str, parts: tuple[str, ...]) -> None:
    assert mismatched_parts(pattern, arn_format) == parts


@pytest.mark.parametrize(("pattern", "arn", "matches"), [
    ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b.txt", True),
    ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket", False),
    ("arn:aws:s3:::bucket/?", "arn:aws:s3:::bucket/a", True),
    ("arn:aws:s3:::bucket/?", "arn:aws:s3:::bucket/ab", False),
    ("arn:aws:s3:*", "arn:aws:s3:::bucket", True),
    ("arn:aws:logs:*:*:log-group:g:*", "arn:aws:logs:us-east-1:111122223333:log-group:g:log-stream:s", True),
    ("arn:aws:iam::*:role/App", "arn:aws:iam::111122223333:role/app", False),
    ("arn:aws:iam::*:role/a", "arn:aws:iam:us-east-1:111122223333:role/a", False),
    ("arn:aws:s3:::b${*}", "arn:aws:s3:::b*", True),
    ("arn:aws:s3:::b${*}", "arn:aws:s3:::bx", False),
    ("*", "anything", True),
    ("not-an-arn", "not-an-arn", True),
    ("arn:aws:s3:::b", "not-an-arn", False),
], ids=["object", "star-needs-a-slash", "question-mark", "question-mark-one-char", "trailing-star",
        "star-spans-colons-in-resource", "case-sensitive", "region-must-match", "escape-literal",
        "escape-not-wildcard", "star", "equal-non-arns", "non-arn"])
def test_arn_matches(pattern: str, arn: str, matches: bool) -> None:
    assert arn_matches(pattern, arn) is matches


@pytest.mark.parametrize(("text", "placeholder", "variable"), [
    ("${bucket_arn}", True, True),
    ("${aws:username}", True, True),
    ("${*}", False, False),
    ("arn:aws:s3:::${bucket}/*", False, True),
    ("arn:aws:s3:::b${?}", False, False),
    ("arn:aws:s3:::b", False, False),
], ids=["placeholder", "policy-variable", "escape", "embedded", "embedded-escape", "plain"])
def test_placeholders(text: str, placeholder: bool, variable: bool) -> None:
    assert is_placeholder(text) is placeholder
    assert has_variable(text) is variable


@pytest.mark.parametrize(("part", "lead"), [
    ("table/${TableName}", "table/"),
    ("tabel/x", "tabel/"),
    ("log-group:${LogGroupName}", "log-group:"),
    ("${BucketName}/${ObjectName}", ""),
    ("Canvas*", ""),
    ("root", "root"),
], ids=["format", "pattern", "colon", "variable-first", "wildcard-first", "no-separator"])
def test_leading_literal(part: str, lead: str) -> None:
    assert leading_literal(part) == lead
