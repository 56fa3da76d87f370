"""Semantic comparison of policy documents: what is equal, what is a real difference."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

from iamflow.policy import canonical_json, normalize_policy, parse_document, policies_equal, render_policy

BASE: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "Read",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:ListBucket"],
            "Resource": ["arn:aws:s3:::data", "arn:aws:s3:::data/*"],
        },
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
            "Action": "sts:AssumeRole",
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
        },
    ],
}

EQUAL_CASES = [
    (
        BASE,
        {"Version": "2012-10-17", "Statement": list(reversed(BASE["Statement"]))},
    ),
    (
        BASE,
        {
            "Version": "2012-10-17",
            "Statement": [
                {**BASE["Statement"][0], "Action": ["s3:ListBucket", "s3:GetObject", "s3:GetObject"],
                 "Resource": ["arn:aws:s3:::data/*", "arn:aws:s3:::data"]},
                BASE["Statement"][1],
            ],
        },
    ),
    (
        {"Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}},
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["*"]}]},
    ),
    (
        {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]},
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]},
    ),
    (
        {"Statement": [{"Effect": "Allow", "Action": "S3:GetObject", "Resource": "*"}]},
        {"Statement": [{"Effect": "Allow", "Action": "s3:getobject", "Resource": "*"}]},
    ),
    (
        {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}]},
        {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject", "Resource": "*"}]},
    ),
    (
        {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "sts:AssumeRole"}]},
        {"Statement": [{"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::111122223333:root"]},
                        "Action": "sts:AssumeRole"}]},
    ),
    (
        {"Statement": [{"Effect": "Allow", "Principal": {"Service": ["lambda.amazonaws.com", "ec2.amazonaws.com"]},
                        "Action": "sts:AssumeRole"}]},
        {"Statement": [{"Effect": "Allow", "Principal": {"Service": ["ec2.amazonaws.com", "lambda.amazonaws.com"]},
                        "Action": "sts:AssumeRole"}]},
    ),
    (
        {"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*",
                        "Condition": {"Bool": {"aws:SecureTransport": False}}}]},
        {"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*",
                        "Condition": {"Bool": {"aws:SecureTransport": ["false"]}}}]},
    ),
    (
        {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
                        "Condition": {"NumericLessThan": {"s3:max-keys": 10}}}]},
        {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
                        "Condition": {"NumericLessThan": {"s3:max-keys": "10"}}}]},
    ),
    (
        BASE,
        quote(json.dumps(BASE)),
    ),
    (
        BASE,
        json.dumps(BASE, indent=4),
    ),
    (
        {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]},
        {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
                       {"Resource": "*", "Action": ["s3:GetObject"], "Effect": "Allow"}]},
    ),
    (
        {"Statement": [{"Sid": "", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]},
        {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]},
    ),
]
EQUAL_IDS = [
    "statement-order",
    "action-and-resource-order-and-duplicates",
    "single-statement-and-strings-vs-lists",
    "missing-version",
    "action-case",
    "star-principal-vs-aws-star",
    "bare-account-id-vs-root-arn",
    "service-principal-order",
    "bool-vs-string-condition",
    "number-vs-string-condition",
    "url-encoded-string",
    "json-string",
    "duplicate-statements-collapse",
    "empty-sid-vs-none",
]


@pytest.mark.parametrize(("a", "b"), EQUAL_CASES, ids=EQUAL_IDS)
def test_equal_despite_differences(a: Any, b: Any) -> None:
    assert policies_equal(a, b)
    assert policies_equal(b, a)
    assert canonical_json(a) == canonical_json(b)


def _with(statement_index: int, **changes: Any) -> dict[str, Any]:
    statements = [dict(s) for s in BASE["Statement"]]
    statements[statement_index].update(changes)
    return {"Version": "2012-10-17", "Statement": statements}


DIFFERENT_CASES = [
    _with(0, Action=["s3:GetObject", "s3:ListBucket", "s3:PutObject"]),
    _with(0, Resource=["arn:aws:s3:::other", "arn:aws:s3:::data/*"]),
    _with(0, Effect="Deny"),
    _with(1, Condition={"Bool": {"aws:MultiFactorAuthPresent": "false"}}),
    _with(1, Principal={"AWS": "arn:aws:iam::444455556666:root"}),
    _with(0, Sid="ReadData"),
    {"Version": "2008-10-17", "Statement": BASE["Statement"]},
    {"Version": "2012-10-17", "Statement": BASE["Statement"][:1]},
    _with(0, Resource=["arn:aws:s3:::DATA", "arn:aws:s3:::data/*"]),
]
DIFFERENT_IDS = [
    "extra-action",
    "different-resource",
    "effect-change",
    "condition-value-change",
    "different-principal-account",
    "sid-is-significant",
    "different-version",
    "missing-statement",
    "resource-case-is-significant",
]


@pytest.mark.parametrize("b", DIFFERENT_CASES, ids=DIFFERENT_IDS)
def test_real_differences(b: dict[str, Any]) -> None:
    assert not policies_equal(BASE, b)
    assert canonical_json(BASE) != canonical_json(b)


def test_none_equals_only_none() -> None:
    assert policies_equal(None, None)
    assert not policies_equal(None, BASE)
    assert not policies_equal(BASE, None)


def test_normalized_shape() -> None:
    doc = {"Statement": {"Effect": "Allow", "Principal": "*", "Action": "S3:GetObject", "Resource": "*",
                         "Condition": {"Bool": {"aws:SecureTransport": True}}}}
    assert normalize_policy(doc) == {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": ["*"]},
            "Action": ["s3:getobject"],
            "Resource": ["*"],
            "Condition": {"Bool": {"aws:SecureTransport": ["true"]}},
        }],
    }


def test_normalize_does_not_mutate_input() -> None:
    doc = {"Statement": [{"Effect": "Allow", "Action": ["b:B", "a:A"], "Resource": "*"}]}
    snapshot = json.dumps(doc)
    normalize_policy(doc, account_id="111122223333")
    assert json.dumps(doc) == snapshot


def test_canonical_json_is_pretty_and_sorted() -> None:
    text = canonical_json({"Statement": [{"Resource": "*", "Effect": "Allow", "Action": "s3:GetObject"}]})
    assert text.startswith("{\n  \"Statement\"")
    assert json.loads(text)["Version"] == "2012-10-17"


def test_render_policy_is_compact_and_keeps_author_order() -> None:
    doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*", "Action": "B:b"}]}
    assert render_policy(doc) == '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Resource":"*","Action":"B:b"}]}'


@pytest.mark.parametrize(
    "value",
    ['{"Statement": []}', quote('{"Statement": []}'), {"Statement": []}],
    ids=["json", "url-encoded", "dict"],
)
def test_parse_document_accepts(value: Any) -> None:
    assert parse_document(value) == {"Statement": []}


def test_parse_document_keeps_literal_plus_in_url_encoded_input() -> None:
    doc = {"Statement": [{"Condition": {"StringEquals": {"aws:username": "a+b c"}}}]}
    assert parse_document(quote(json.dumps(doc))) == doc


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "empty"),
        ("not json", "neither JSON nor URL-encoded JSON"),
        ("%7Bbroken", "neither JSON nor URL-encoded JSON"),
        ("[1, 2]", "JSON object"),
        (42, "mapping or a JSON string"),
        (None, "mapping or a JSON string"),
        (["Statement"], "mapping or a JSON string"),
    ],
    ids=["empty", "garbage", "broken-url-encoded", "json-list", "int", "none", "list"],
)
def test_parse_document_rejects(value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_document(value)
