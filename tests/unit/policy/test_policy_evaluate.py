"""The offline IAM evaluator: the conformance table, the trace, the JSON contract, robustness."""

from __future__ import annotations

import json
from typing import Any

import pytest
from evaluation_cases import (
    ACCT,
    ALICE,
    ALL_CASES,
    APP_ROLE,
    APP_SESSION,
    CATEGORIES,
    EXT_USER,
    FED_USER,
    OBJ,
    ROOT,
    S3_READ,
    Case,
    allow,
    aws,
    deny,
    doc,
)

from iamflow.policy.conditions import (
    Substituted,
    compile_conditions,
    evaluate_conditions,
    like_regex,
    parse_date,
    substitute,
)
from iamflow.policy.evaluate import (
    Evaluation,
    Policy,
    PolicySet,
    Principal,
    Request,
    StatementTrace,
    clear_cache,
    evaluate,
)


def _named(prefix: str, docs: tuple[Any, ...]) -> tuple[Policy, ...]:
    return tuple(Policy(prefix if i == 0 else f"{prefix}-{i + 1}", d) for i, d in enumerate(docs))


def run(case: Case) -> Evaluation:
    policies = PolicySet(
        identity=_named("identity", case.identity),
        boundary=Policy("boundary", case.boundary) if case.boundary is not None else None,
        scps=tuple(_named(f"scp-{i}", level) for i, level in enumerate(case.scps)),
        rcps=tuple(_named(f"rcp-{i}", level) for i, level in enumerate(case.rcps)),
        session=Policy("session", case.session) if case.session is not None else None,
        resource=Policy("resource", case.resource_policy) if case.resource_policy is not None else None,
        resource_account=case.resource_account,
        resource_kind=case.kind,
    )
    request = Request(Principal(case.principal, case.tags), case.action, case.resource, case.context)
    return evaluate(request, policies)


# --- the conformance table ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", ALL_CASES, ids=[c.id for c in ALL_CASES])
def test_conformance(case: Case) -> None:
    result = run(case)
    assert (result.decision, tuple(t.label for t in result.deciding), result.missing_context) == \
        (case.decision, case.deciding, case.missing), result.summary


def test_the_table_is_large_and_its_ids_unique() -> None:
    ids = [c.id for c in ALL_CASES]
    assert len(ids) >= 200
    assert len(set(ids)) == len(ids)
    assert all(CATEGORIES.values())
    assert sum(len(v) for v in CATEGORIES.values()) == len(ALL_CASES)


def test_every_decision_kind_is_exercised_in_every_large_category() -> None:
    for name, cases in CATEGORIES.items():
        kinds = {c.decision for c in cases}
        assert "allowed" in kinds or name == "malformed", name
        assert kinds - {"allowed"}, name


# --- the trace ---------------------------------------------------------------------------------------


def _one(identity: dict[str, Any], action: str = "s3:GetObject", resource: str = OBJ,
         context: dict[str, tuple[str, ...]] | None = None, principal: str = ALICE) -> Evaluation:
    return evaluate(Request(Principal(principal), action, resource, context or {}),
                    PolicySet(identity=(Policy("inline alice/s3", identity),)))


@pytest.mark.parametrize(("identity", "context", "reason"), [
    (doc(allow("s3:PutObject", OBJ)), {}, "action s3:GetObject is not in Action"),
    (doc(allow(not_action="s3:*")), {}, "action s3:GetObject is excluded by NotAction"),
    (doc(allow("s3:GetObject", "arn:aws:s3:::other/*")), {}, f"resource {OBJ} is not in Resource"),
    (doc(allow("s3:GetObject", not_resource="arn:aws:s3:::data/*")), {}, f"resource {OBJ} is excluded by NotResource"),
    (doc(allow("s3:GetObject", condition={"StringEquals": {"aws:username": "bob"}})), {},
     "condition StringEquals aws:username: 'alice' is not 'bob'"),
    (doc(allow("s3:GetObject", condition={"StringEquals": {"aws:username": ["bob", "carol"]}})), {},
     "condition StringEquals aws:username: 'alice' is not any of 'bob', 'carol'"),
    (doc(allow("s3:GetObject", condition={"StringNotEquals": {"aws:username": "alice"}})), {},
     "condition StringNotEquals aws:username: 'alice' is 'alice'"),
    (doc(allow("s3:GetObject", condition={"NumericLessThan": {"s3:max-keys": "10"}})), {"s3:max-keys": ("12",)},
     "condition NumericLessThan s3:max-keys: '12' is not less than '10'"),
    (doc(allow("s3:GetObject", condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})),
     {"aws:SourceIp": ("192.0.2.1",)}, "condition IpAddress aws:SourceIp: '192.0.2.1' is not in '10.0.0.0/8'"),
    (doc(allow("s3:GetObject", condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}})), {},
     "condition key aws:MultiFactorAuthPresent is missing from the request"),
    (doc(allow("s3:GetObject", condition={"ForAnyValue:StringEquals": {"aws:TagKeys": "a"}})), {},
     "condition key aws:TagKeys is missing from the request, so ForAnyValue:StringEquals is false"),
    (doc(allow("s3:GetObject", condition={"ForAllValues:StringEquals": {"aws:TagKeys": "a"}})),
     {"aws:TagKeys": ("a", "b")}, "condition ForAllValues:StringEquals aws:TagKeys: 'b' is not 'a'"),
    (doc(allow("s3:GetObject", condition={"Null": {"aws:TokenIssueTime": "false"}})), {},
     "condition Null aws:TokenIssueTime: the key is absent in the request"),
    (doc(allow("s3:GetObject", condition={"StringEqualz": {"aws:username": "alice"}})), {},
     "condition operator 'StringEqualz' is unknown"),
    (doc({"Effect": "Alow", "Action": "*", "Resource": "*"}), {},
     "its Effect 'Alow' is neither Allow nor Deny; the statement is skipped"),
    (doc(allow("s3:GetObject", "arn:aws:s3:::home/${aws:PrincipalTag/team}/*")), {},
     f"resource {OBJ} is not in Resource (the policy variable aws:PrincipalTag/team has no value in the request)"),
], ids=["action", "notaction", "resource", "notresource", "string-equals", "string-equals-list", "string-not-equals",
        "numeric", "ip", "missing-key", "for-any-value-missing", "for-all-values", "null", "unknown-operator",
        "bad-effect", "missing-variable"])
def test_statement_reason(identity: dict[str, Any], context: dict[str, tuple[str, ...]], reason: str) -> None:
    (trace,) = _one(identity, context=context).statements
    assert (trace.matched, trace.reason) == (False, reason)


@pytest.mark.parametrize(("condition", "context", "reason"), [
    ({"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}, {},
     "Deny applies to s3:GetObject on arn:aws:s3:::data/report.csv; condition key aws:MultiFactorAuthPresent is "
     "absent, so BoolIfExists holds"),
    ({"StringNotEquals": {"aws:RequestedRegion": "eu-west-1"}}, {},
     "Deny applies to s3:GetObject on arn:aws:s3:::data/report.csv; condition key aws:RequestedRegion is absent, "
     "so the negated StringNotEquals holds"),
    ({"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": ("false",)},
     "Deny applies to s3:GetObject on arn:aws:s3:::data/report.csv; its conditions hold"),
    (None, {}, "Deny applies to s3:GetObject on arn:aws:s3:::data/report.csv"),
], ids=["if-exists-absent", "negated-absent", "conditions-hold", "no-condition"])
def test_matched_reason(condition: dict[str, Any] | None, context: dict[str, tuple[str, ...]], reason: str) -> None:
    (trace,) = _one(doc(deny("s3:GetObject", condition=condition)), context=context).statements
    assert (trace.matched, trace.reason) == (True, reason)


def test_resource_reasons_name_how_the_principal_is_named() -> None:
    policy = doc(allow("s3:GetObject", OBJ, principal=aws(APP_ROLE)), allow("s3:GetObject", OBJ, principal=aws(ROOT)))
    result = evaluate(Request(Principal(APP_SESSION), "s3:GetObject", OBJ),
                      PolicySet(resource=Policy("bucket policy", policy)))
    assert [t.reason for t in result.statements] == [
        f"Allow applies to s3:GetObject on {OBJ}; it names the principal's role",
        f"Allow applies to s3:GetObject on {OBJ}; it names the principal's account, which delegates to that "
        "account's IAM policies",
    ]
    assert result.layers[2].reason == ("bucket policy Statement[0] allows s3:GetObject on arn:aws:s3:::data/report.csv "
                                       "to the principal's role, so the permissions boundary and session policy "
                                       "still limit it")


def test_every_statement_is_traced_in_layer_order() -> None:
    policies = PolicySet(
        identity=(Policy("id", doc(allow("s3:*", sid="A"), deny("iam:*", sid="B"))),),
        boundary=Policy("pb", doc(allow("*"))), session=Policy("sp", doc(allow("s3:*"))),
        scps=((Policy("FullAWSAccess", doc(allow("*"))),),), rcps=((Policy("RCPFullAWSAccess", doc(allow("*"))),),),
        resource=Policy("bucket", doc(allow("s3:GetObject", OBJ, principal=aws(ROOT)))),
    )
    result = evaluate(Request(Principal(APP_SESSION), "s3:GetObject", OBJ), policies)
    assert [(t.layer, t.policy, t.statement, t.level) for t in result.statements] == [
        ("rcp", "RCPFullAWSAccess", "Statement[0]", 0), ("scp", "FullAWSAccess", "Statement[0]", 0),
        ("resource", "bucket", "Statement[0]", None), ("identity", "id", "A", None), ("identity", "id", "B", None),
        ("boundary", "pb", "Statement[0]", None), ("session", "sp", "Statement[0]", None),
    ]
    assert [(lt.layer, lt.verdict) for lt in result.layers] == [
        ("rcp", "allow"), ("scp", "allow"), ("resource", "allow"), ("identity", "allow"), ("boundary", "allow"),
        ("session", "allow")]
    assert result.allowed and [t.label for t in result.deciding] == ["id A"]


@pytest.mark.parametrize(("policies", "principal", "verdicts"), [
    (PolicySet(), ALICE, ["absent", "absent", "absent", "absent", "absent", "absent"]),
    (PolicySet(identity=(Policy("id", doc(allow("ec2:*"))),), boundary=Policy("pb", doc(deny("s3:*")))), ALICE,
     ["absent", "absent", "absent", "no-match", "deny", "absent"]),
    (PolicySet(scps=((Policy("a", doc(allow("*"))),), (Policy("b", doc(allow("ec2:*"))),))), ALICE,
     ["absent", "no-match", "absent", "absent", "absent", "absent"]),
    (PolicySet(), ROOT, ["absent", "absent", "absent", "allow", "absent", "absent"]),
    (PolicySet(), "lambda.amazonaws.com", ["absent", "absent", "absent", "absent", "absent", "absent"]),
    (PolicySet(identity=(Policy("id", S3_READ),)), FED_USER, ["absent", "absent", "absent", "allow", "absent", "absent"]),
], ids=["nothing", "boundary-deny", "scp-level-gap", "root", "service", "federated-user"])
def test_layer_verdicts(policies: PolicySet, principal: str, verdicts: list[str]) -> None:
    result = evaluate(Request(Principal(principal), "s3:GetObject", OBJ), policies)
    assert [lt.verdict for lt in result.layers] == verdicts
    assert [lt.layer for lt in result.layers] == ["rcp", "scp", "resource", "identity", "boundary", "session"]


@pytest.mark.parametrize(("policies", "principal", "summary"), [
    (PolicySet(), ALICE, f"denied: no identity policy allows s3:GetObject on {OBJ}."),
    (PolicySet(identity=(Policy("id", S3_READ),), boundary=Policy("pb", doc(allow("ec2:*")))), ALICE,
     f"denied: the permissions boundary does not allow s3:GetObject on {OBJ}."),
    (PolicySet(identity=(Policy("id", S3_READ),), session=Policy("sp", doc(allow("ec2:*")))), APP_SESSION,
     f"denied: the session policy does not allow s3:GetObject on {OBJ}."),
    (PolicySet(identity=(Policy("id", S3_READ),)), FED_USER,
     "denied: a federated user session has no permissions without a session policy."),
    (PolicySet(identity=(Policy("id", S3_READ),), scps=((Policy("a", doc(allow("ec2:*"))),),)), ALICE,
     f"denied: no SCP at level 0 allows s3:GetObject on {OBJ}."),
    (PolicySet(identity=(Policy("id", S3_READ),), resource_account="444455556666"), ALICE,
     f"denied: s3:GetObject on {OBJ} crosses from account {ACCT} to 444455556666, and no resource-based policy "
     "is given."),
    (PolicySet(identity=(Policy("id", doc(deny("s3:*", sid="NoS3"))),)), ALICE,
     f"denied: id NoS3 explicitly denies s3:GetObject on {OBJ}."),
    (PolicySet(identity=(Policy("id", S3_READ),)), ALICE, f"allowed: id S3Read allows s3:GetObject on {OBJ}."),
    (PolicySet(identity=(Policy("id", doc(allow("s3:*", condition={"Bool": {"aws:SecureTransport": "true"}}))),)),
     ALICE, f"denied: no identity policy allows s3:GetObject on {OBJ} (the request lacks aws:SecureTransport)."),
    (PolicySet(), ROOT, f"allowed: the account root user needs no identity policy for s3:GetObject on {OBJ}."),
    (PolicySet(resource_kind="kms-key"), ALICE,
     f"denied: no key policy is given, and a KMS key's policy must allow s3:GetObject on {OBJ}."),
    (PolicySet(resource_kind="role-trust"), ROOT, "denied: the account root user cannot assume a role."),
], ids=["no-identity", "boundary", "session", "federated", "scp", "cross-account", "explicit", "allowed",
        "missing-context", "root", "kms-no-key-policy", "root-assume"])
def test_summary(policies: PolicySet, principal: str, summary: str) -> None:
    assert evaluate(Request(Principal(principal), "s3:GetObject", OBJ), policies).summary == summary


# --- the JSON contract -------------------------------------------------------------------------------


def test_to_json_shape() -> None:
    policies = PolicySet(identity=(Policy("id", doc(allow("s3:GetObject", sid="Read"), deny(
        "s3:*", sid="NoMfa", condition={"Bool": {"aws:MultiFactorAuthPresent": "false"}}))),))
    result = evaluate(Request(Principal(ALICE), "s3:GetObject", OBJ), policies)
    out = result.to_json()
    assert list(out) == ["decision", "deciding", "missing_context", "trace"]
    assert out["decision"] == "allowed"
    assert out["missing_context"] == ["aws:MultiFactorAuthPresent"]
    assert out["deciding"] == [{"layer": "identity", "policy": "id", "statement": "Read", "effect": "Allow",
                                "matched": True, "reason": f"Allow applies to s3:GetObject on {OBJ}",
                                "missing": [], "level": None}]
    layers = [e for e in out["trace"] if "verdict" in e]
    statements = [e for e in out["trace"] if "verdict" not in e]
    assert [e["layer"] for e in layers] == ["rcp", "scp", "resource", "identity", "boundary", "session"]
    assert all(set(e) == {"layer", "verdict", "reason"} for e in layers)
    assert all(set(e) == set(StatementTrace.__dataclass_fields__) for e in statements)
    assert [e["statement"] for e in statements] == ["Read", "NoMfa"]
    assert statements[1]["missing"] == ["aws:MultiFactorAuthPresent"]
    assert out["trace"].index(statements[0]) == out["trace"].index(layers[3]) + 1  # a layer precedes its statements
    assert json.loads(json.dumps(out)) == out


def test_to_json_explicit_deny_lists_the_denies() -> None:
    policies = PolicySet(identity=(Policy("id", doc(deny("s3:*", sid="A"), deny("s3:Get*", sid="B"))),))
    out = evaluate(Request(Principal(ALICE), "s3:GetObject", OBJ), policies).to_json()
    assert out["decision"] == "explicit_deny"
    assert [d["statement"] for d in out["deciding"]] == ["A", "B"]


def test_to_json_implicit_deny_has_no_deciding() -> None:
    out = evaluate(Request(Principal(ALICE), "s3:GetObject", OBJ), PolicySet()).to_json()
    assert (out["decision"], out["deciding"], out["missing_context"]) == ("implicit_deny", [], [])
    assert all(e["verdict"] == "absent" for e in out["trace"])


# --- principals and the derived context ---------------------------------------------------------------


@pytest.mark.parametrize(("arn", "kind", "account", "username", "role_arn"), [
    (ALICE, "user", ACCT, "alice", None),
    (f"arn:aws:iam::{ACCT}:user/division/team/alice", "user", ACCT, "alice", None),
    (APP_ROLE, "role", ACCT, None, APP_ROLE),
    (APP_SESSION, "assumed-role", ACCT, None, APP_ROLE),
    (FED_USER, "federated-user", ACCT, None, None),
    (ROOT, "root", ACCT, None, None),
    (ACCT, "root", ACCT, None, None),
    ("lambda.amazonaws.com", "service", None, None, None),
    ("cognito-identity.amazonaws.com", "federated", None, None, None),
    (f"arn:aws:iam::{ACCT}:saml-provider/Okta", "federated", ACCT, None, None),
    ("*", "anonymous", None, None, None),
    (f"arn:aws-cn:sts::{ACCT}:assumed-role/app/s", "assumed-role", ACCT, None, f"arn:aws-cn:iam::{ACCT}:role/app"),
], ids=["user", "user-with-path", "role", "session", "federated-user", "root", "account-id", "service",
        "cognito", "saml", "anonymous", "china-session"])
def test_principal_properties(arn: str, kind: str, account: str | None, username: str | None,
                              role_arn: str | None) -> None:
    principal = Principal(arn)
    assert (principal.kind, principal.account, principal.username, principal.role_arn) == \
        (kind, account, username, role_arn)


def test_derived_context_keys() -> None:
    checks = {"aws:PrincipalArn": APP_ROLE, "aws:PrincipalAccount": ACCT, "aws:PrincipalType": "AssumedRole",
              "aws:PrincipalTag/CostCenter": "42", "aws:userid": "AROAEXAMPLE:s1",
              "aws:PrincipalIsAWSService": "false", "aws:ResourceAccount": ACCT}
    statements = [allow("s3:GetObject", sid=key.replace(":", "").replace("/", ""),
                        condition={"StringEquals": {key: value}}) for key, value in checks.items()]
    result = evaluate(Request(Principal(APP_SESSION, {"CostCenter": "42"}, userid="AROAEXAMPLE:s1"),
                              "s3:GetObject", OBJ), PolicySet(identity=(Policy("id", doc(*statements)),)))
    assert [t.matched for t in result.statements] == [True] * len(checks), [t.reason for t in result.statements]
    assert result.missing_context == ()


def test_service_principal_context() -> None:
    policy = doc(allow("s3:PutObject", OBJ, principal="*", condition={
        "Bool": {"aws:PrincipalIsAWSService": "true"},
        "StringEquals": {"aws:PrincipalServiceName": "cloudtrail.amazonaws.com"}}))
    result = evaluate(Request(Principal("cloudtrail.amazonaws.com"), "s3:PutObject", OBJ),
                      PolicySet(resource=Policy("bucket", policy)))
    assert result.allowed, result.summary


def test_username_is_absent_for_sessions() -> None:
    result = _one(doc(allow("s3:GetObject", condition={"StringLike": {"aws:username": "*"}})), principal=APP_SESSION)
    assert (result.decision, result.missing_context) == ("implicit_deny", ("aws:username",))


# --- robustness --------------------------------------------------------------------------------------

_GARBAGE: list[Any] = [
    None, 5, "", "[]", [], {}, {"Statement": None}, {"Statement": 5}, {"Statement": [None, 1, "x", []]},
    {"Statement": [{"Effect": None}]}, {"Statement": [{"Effect": "Allow", "Action": {"x": 1}, "Resource": "*"}]},
    {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": [[]], "Condition": {"StringEquals": 5}}]},
    {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"Null": {"k": [None]}}}]},
    {"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*", "Principal": {"AWS": [None, 5]},
                    "Condition": {"ForAllValues:DateLessThan": {"aws:CurrentTime": ["x", 5, True]}}}]},
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::${",
                                             "Condition": {"StringLike": {"k": "${unterminated"}}}]},
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "NotAction": [], "Resource": "*"}]},
    {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "NotPrincipal": "*", "Principal": "*"}]},
]


@pytest.mark.parametrize("document", _GARBAGE, ids=[f"garbage-{i}" for i in range(len(_GARBAGE))])
@pytest.mark.parametrize("layer", ["identity", "resource", "boundary", "session", "scp", "rcp"])
def test_never_raises_on_malformed_documents(document: Any, layer: str) -> None:
    policy = Policy("bad", document)
    policies = {
        "identity": PolicySet(identity=(policy,)), "resource": PolicySet(resource=policy),
        "boundary": PolicySet(identity=(Policy("ok", doc(allow("*"))),), boundary=policy),
        "session": PolicySet(identity=(Policy("ok", doc(allow("*"))),), session=policy),
        "scp": PolicySet(identity=(Policy("ok", doc(allow("*"))),), scps=((policy,),)),
        "rcp": PolicySet(identity=(Policy("ok", doc(allow("*"))),), rcps=((policy,),)),
    }[layer]
    result = evaluate(Request(Principal(ALICE), "s3:GetObject", OBJ, {"k": ("v",)}), policies)
    assert result.decision in ("allowed", "explicit_deny", "implicit_deny")
    if layer in ("boundary", "session", "scp", "rcp"):  # a layer that cannot be read allows nothing
        assert not result.allowed, result.summary
    json.dumps(result.to_json())


@pytest.mark.parametrize(("principal", "action", "resource", "context"), [
    ("", "", "", {}),
    ("arn:aws:iam::1", "s3", "arn", {"aws:username": None}),
    ("arn:aws:sts::111122223333:assumed-role", "x:y", "*", {"k": [1, True, None]}),
    ("arn:aws:iam::111122223333:group/g", "s3:GetObject", OBJ, {"k": "plain string"}),
], ids=["empty", "short-arns", "session-without-name", "odd-context"])
def test_never_raises_on_odd_requests(principal: str, action: str, resource: str, context: Any) -> None:
    policies = PolicySet(identity=(Policy("id", doc(allow("*"), deny("s3:*", condition={
        "StringEquals": {"k": "plain string"}}))),), resource=Policy("r", doc(allow("*", principal="*"))))
    result = evaluate(Request(Principal(principal), action, resource, context), policies)
    assert result.decision in ("allowed", "explicit_deny", "implicit_deny")


def test_a_document_is_compiled_once_and_clear_cache_forgets_it() -> None:
    document = doc(allow("s3:GetObject"))
    request = Request(Principal(ALICE), "s3:GetObject", OBJ)
    assert evaluate(request, PolicySet(identity=(Policy("id", document),))).allowed
    document["Statement"][0]["Effect"] = "Deny"  # mutated after evaluation: the cached form stays
    assert evaluate(request, PolicySet(identity=(Policy("id", document),))).allowed
    clear_cache()
    assert evaluate(request, PolicySet(identity=(Policy("id", document),))).decision == "explicit_deny"


def test_same_document_in_two_layers_keeps_each_name() -> None:
    shared = doc(allow("s3:*"))
    result = evaluate(Request(Principal(EXT_USER), "s3:GetObject", OBJ),
                      PolicySet(identity=(Policy("mine", shared),), boundary=Policy("limit", shared)))
    assert [(t.layer, t.policy) for t in result.statements] == [("identity", "mine"), ("boundary", "limit")]


# --- conditions and variables, directly -----------------------------------------------------------------


@pytest.mark.parametrize(("text", "context", "like", "expected"), [
    ("home/${aws:username}/*", {"aws:username": ("alice",)}, True, Substituted("home/alice/*")),
    ("home/${aws:username}/*", {}, True, Substituted(None, ("aws:username",))),
    ("${aws:username, 'guest'}", {}, False, Substituted("guest")),
    ("${ aws:username , 'guest' }", {"aws:username": ("bob",)}, False, Substituted("bob")),
    ("${aws:username, 'it''s'}", {}, False, Substituted("it's")),
    ("${aws:PrincipalTag/team}", {"aws:principaltag/team": ("a*b",)}, True, Substituted("a${*}b")),
    ("${aws:PrincipalTag/team}", {"aws:principaltag/team": ("a*b",)}, False, Substituted("a*b")),
    ("a${*}b${?}c${$}", {}, False, Substituted("a*b?c$")),
    ("a${*}b", {}, True, Substituted("a${*}b")),
    ("${a}${b}", {}, False, Substituted(None, ("a", "b"))),
    ("${k}", {"k": ("1", "2")}, False, Substituted(None, ("k",))),
    ("no variables", {}, True, Substituted("no variables")),
], ids=["value", "missing", "default", "default-spaces", "default-quote", "value-escaped-for-like",
        "value-plain", "escapes-plain", "escapes-kept-for-like", "two-missing", "multivalued", "none"])
def test_substitute(text: str, context: dict[str, tuple[str, ...]], like: bool, expected: Substituted) -> None:
    assert substitute(text, context, like=like) == expected


@pytest.mark.parametrize(("pattern", "value", "matches"), [
    ("a*", "abc", True), ("a*", "Abc", False), ("a?c", "abc", True), ("a?c", "abbc", False),
    ("a${*}", "a*", True), ("a${*}", "ab", False), ("x.y", "xzy", False), ("multi*line", "multi\nline", True),
], ids=["star", "case", "question", "question-one", "escaped-star", "escaped-not-wild", "dot-literal", "newline"])
def test_like_regex(pattern: str, value: str, matches: bool) -> None:
    assert (like_regex(pattern).fullmatch(value) is not None) is matches


@pytest.mark.parametrize(("text", "epoch"), [
    ("1970-01-01T00:00:00Z", 0.0), ("1970-01-01", 0.0), ("1970-01-01T01:00:00+01:00", 0.0), ("86400", 86400.0),
    ("1970-01-02T00:00:00.5Z", 86400.5), ("yesterday", None), ("", None),
], ids=["iso-z", "date-only", "offset", "epoch", "fraction", "words", "empty"])
def test_parse_date(text: str, epoch: float | None) -> None:
    assert parse_date(text) == epoch


def test_conditions_report_every_missing_key_once() -> None:
    block = compile_conditions({"StringEquals": {"a": "1", "b": "2"}, "StringLike": {"A": "x*"}})
    outcome = evaluate_conditions(block, {})
    assert (outcome.holds, outcome.missing) == (False, ("a", "b", "A"))
    assert outcome.reason == "condition key a is missing from the request"
