"""The remediation rules, table-tested on built credentials (pure: no AWS)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from iamflow.remediation.plan import (
    DEACTIVATE,
    DELETE,
    REMOVE_PASSWORD,
    KeyState,
    Plan,
    Rules,
    Scope,
    UserCredentials,
    deactivation_tag,
    propose,
)

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
RULES = Rules(unused_days=45, delete_after_days=30)
NO_SCOPE = Scope()


def ago(days: int) -> datetime:
    return NOW - timedelta(days=days)


def user(*keys: KeyState, tags: dict[str, str] | None = None, password: bool = False,
         password_used: datetime | None = None, name: str = "u") -> UserCredentials:
    return UserCredentials(name, f"arn:aws:iam::123456789012:user/{name}", keys, tags or {}, password, ago(400),
                           password_used)


def actions(*users: UserCredentials, rules: Rules = RULES, scope: Scope = NO_SCOPE) -> list[tuple[str, str | None]]:
    plan = propose(users, rules, NOW, account_id="123456789012", scope=scope)
    return [(a.action, a.access_key_id) for a in plan.actions]


@pytest.mark.parametrize(("key", "expected"), [
    (KeyState("K", "Active", ago(200), ago(45)), [(DEACTIVATE, "K")]),   # exactly at the threshold
    (KeyState("K", "Active", ago(200), ago(44)), []),
    (KeyState("K", "Active", ago(50), None), [(DEACTIVATE, "K")]),       # never used: judged by its age
    (KeyState("K", "Active", ago(10), None), []),
    (KeyState("K", "Active", None, None), []),                           # no date at all: nothing to judge
])
def test_active_keys(key: KeyState, expected: list[tuple[str, str]]) -> None:
    assert actions(user(key)) == expected


@pytest.mark.parametrize(("tag", "last_used", "expected"), [
    ((NOW - timedelta(days=30)).date().isoformat(), ago(100), [(DELETE, "K")]),
    ((NOW - timedelta(days=29)).date().isoformat(), ago(100), []),      # not due yet
    ((NOW - timedelta(days=60)).date().isoformat(), ago(10), []),       # used after its deactivation
    ((NOW - timedelta(days=60)).date().isoformat(), None, [(DELETE, "K")]),
    (None, ago(100), []),                                                # not deactivated by iamflow
    ("yesterday", ago(100), []),                                         # unreadable date
])
def test_inactive_keys(tag: str | None, last_used: datetime | None, expected: list[tuple[str, str]]) -> None:
    tags = {deactivation_tag("K"): tag} if tag is not None else {}
    assert actions(user(KeyState("K", "Inactive", ago(300), last_used), tags=tags)) == expected


def test_an_active_key_with_a_deactivation_tag_is_deactivated_again_never_deleted() -> None:
    tags = {deactivation_tag("K"): (NOW - timedelta(days=90)).date().isoformat()}
    assert actions(user(KeyState("K", "Active", ago(300), ago(100)), tags=tags)) == [(DEACTIVATE, "K")]


def test_console_passwords_only_when_enabled() -> None:
    u = user(password=True, password_used=ago(60))
    assert actions(u) == []
    plan = propose([u], RULES, NOW, account_id="1")
    assert "cannot be undone" in plan.skipped[0].reason
    assert actions(u, rules=Rules(remove_console_passwords=True)) == [(REMOVE_PASSWORD, None)]
    assert actions(user(password=True, password_used=ago(5)), rules=Rules(remove_console_passwords=True)) == []


def test_muted_declared_and_excluded_users_are_left_alone() -> None:
    key = KeyState("K", "Active", ago(200), ago(100))
    assert actions(user(key), scope=Scope(muted_keys=frozenset({("u", "K")}))) == []
    assert actions(user(key), scope=Scope(muted_key_users=frozenset({"u"}))) == []
    assert actions(user(key), scope=Scope(declared_users=frozenset({"u"}))) == []
    assert actions(user(key), rules=Rules(exclude_users=frozenset({"u"}))) == []
    assert actions(user(password=True, password_used=ago(60)), rules=Rules(remove_console_passwords=True),
                   scope=Scope(muted_passwords=frozenset({"u"}))) == []


def test_the_hash_covers_the_actions_not_the_time_and_detects_an_altered_plan() -> None:
    u = user(KeyState("K", "Active", ago(200), ago(100)))
    one = propose([u], RULES, NOW, account_id="1")
    two = propose([u], RULES, NOW + timedelta(seconds=5), account_id="1")
    assert one.hash == two.hash and one.generated_at != two.generated_at
    data = one.to_dict()
    assert Plan.from_dict(data).hash == one.hash
    data["actions"][0]["access_key_id"] = "OTHER"
    with pytest.raises(ValueError, match="altered"):
        Plan.from_dict(data)


def test_one_action_per_credential_in_a_stable_order() -> None:
    a = user(KeyState("K2", "Active", ago(200), ago(100)), KeyState("K1", "Active", ago(200), ago(100)), name="b")
    b = user(KeyState("K3", "Active", ago(200), ago(100)), name="a")
    plan = propose([a, b], RULES, NOW, account_id="1")
    assert [x.id for x in plan.actions] == [f"{DEACTIVATE}:a:K3", f"{DEACTIVATE}:b:K1", f"{DEACTIVATE}:b:K2"]
    assert "Active -> Inactive" in plan.diff()
