"""Team onboarding without AWS or Airflow: the request's validation, the rendered playbook, conflicts, the lock."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from iamflow.onboarding import (
    GENERATED_MARKER,
    OFFBOARD,
    ONBOARD,
    LockHolder,
    OnboardingConfig,
    RequestError,
    TeamRequest,
    acquire_lock,
    approval_body,
    find_conflicts,
    form_schema,
    holds_lock,
    load_config,
    lock_path,
    release_lock,
    render_playbook,
    validate_request,
)
from iamflow.spec.loader import check_playbook

GOOD = {"team": "payments", "environment": "dev", "owners": ["alice@example.com"],
        "extra_policies": ["ReadOnlyAccess"]}


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> OnboardingConfig:
    monkeypatch.setenv("IAMFLOW_TEAMS_DIR", str(tmp_path / "teams"))
    return load_config()


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_config(config: OnboardingConfig, tmp_path: Path) -> None:
    assert "dev" in config.environments and "ReadOnlyAccess" in config.extra_policies
    assert config.teams_dir == tmp_path / "teams", "IAMFLOW_TEAMS_DIR overrides teams_dir"
    assert config.user_pool == "myapp-auth/myapp-users"
    assert 7 <= config.kms_pending_days <= 30 and 7 <= config.secret_recovery_days <= 30


def test_rendered_playbook_validates_clean(config: OnboardingConfig, tmp_path: Path) -> None:
    request = validate_request(GOOD, config)
    path = _write(tmp_path / "team.yaml", render_playbook(request, config, request_id="run-1"))
    result = check_playbook(path)
    assert result.problems == [], [str(p) for p in result.problems]
    playbook = result.playbook
    assert playbook is not None and playbook.name == "team-payments-dev"
    by_key = playbook.by_key()
    role = by_key["iam_role.team-payments-dev"]
    assert role.boundary == "arn:${partition}:iam::${account_id}:policy/boundaries/developer-boundary"
    assert role.managed_policies == ["arn:${partition}:iam::aws:policy/ReadOnlyAccess"]
    assert role.trust_policy["Statement"][0]["Principal"] == {"AWS": "arn:${partition}:iam::${account_id}:root"}
    key = by_key["kms_key.team-payments-dev"]
    assert key.aliases == ["alias/team-payments-dev"] and key.users == ["team-payments-dev"] and key.rotation
    secret = by_key["secret.teams/payments/dev/service-credentials"]
    assert secret.kms_key == "team-payments-dev" and secret.rotation is None
    assert secret.template["password"] == {"generate": {"length": 32, "exclude_characters": "\"@/\\'"}}
    group = by_key["cognito_group.team-payments"]
    assert group.user_pool == "myapp-auth/myapp-users" and group.role == "team-payments-dev"
    assert group.references() == [("role", "team-payments-dev", ("iam_role",))], "the pool is external"
    assert playbook.tags["Owners"] == "alice@example.com"
    assert GENERATED_MARKER in path.read_text(encoding="utf-8")


def test_no_extra_policies_renders_an_empty_list(config: OnboardingConfig, tmp_path: Path) -> None:
    request = validate_request({**GOOD, "extra_policies": []}, config)
    raw = yaml.safe_load(render_playbook(request, config))
    assert raw["resources"][0]["managed_policies"] == []  # explicit: purge anything attached by hand


def test_rotation_only_with_a_lambda(config: OnboardingConfig, tmp_path: Path) -> None:
    arn = "arn:${partition}:lambda:${region}:${account_id}:function:team-rotation"
    with_lambda = dataclasses.replace(config, rotation_lambda_arn=arn)
    path = _write(tmp_path / "t.yaml", render_playbook(validate_request(GOOD, with_lambda), with_lambda))
    result = check_playbook(path)
    assert result.playbook is not None, [str(p) for p in result.problems]
    secret = result.playbook.by_key()["secret.teams/payments/dev/service-credentials"]
    assert secret.rotation is not None and secret.rotation.lambda_arn == arn


def test_offboarding_renders_everything_absent(config: OnboardingConfig, tmp_path: Path) -> None:
    request = validate_request({"team": "payments", "environment": "dev"}, config, OFFBOARD)
    path = _write(tmp_path / "off.yaml", render_playbook(request, config))
    result = check_playbook(path)
    assert result.playbook is not None, [str(p) for p in result.problems]
    assert {r.state for r in result.playbook.resources} == {"absent"}
    key = result.playbook.by_key()["kms_key.team-payments-dev"]
    assert key.pending_days == config.kms_pending_days


@pytest.mark.parametrize(("params", "field", "words"), [
    ({**GOOD, "team": "Payments"}, "team", "not a team slug"),
    ({**GOOD, "team": "a"}, "team", "not a team slug"),
    ({**GOOD, "team": "x" * 40}, "team", "not a team slug"),
    ({**GOOD, "team": "pay--ments"}, "team", "'--'"),
    ({**GOOD, "environment": "qa"}, "environment", "'qa' is not an environment"),
    ({**GOOD, "owners": []}, "owners", "at least one owner"),
    ({**GOOD, "owners": ["not-an-address"]}, "owners", "not an e-mail address"),
    ({**GOOD, "extra_policies": ["AdministratorAccess"]}, "extra_policies", "not on the allowed list"),
])
def test_bad_request_names_the_field(config: OnboardingConfig, params: dict, field: str, words: str) -> None:
    with pytest.raises(RequestError) as caught:
        validate_request(params, config)
    assert [f for f, _m in caught.value.problems] == [field]
    assert f"field {field!r}" in str(caught.value) and words in str(caught.value)


def test_every_problem_at_once(config: OnboardingConfig) -> None:
    with pytest.raises(RequestError) as caught:
        validate_request({"team": "X", "environment": "qa", "owners": ["x"], "extra_policies": ["Admin"]}, config)
    assert [f for f, _m in caught.value.problems] == ["team", "environment", "owners", "extra_policies"]


def test_form_schema_matches_the_python_checks(config: OnboardingConfig) -> None:
    import jsonschema

    onboard = form_schema(config, ONBOARD)
    assert set(onboard) == {"team", "environment", "owners", "extra_policies"}
    assert set(form_schema(config, OFFBOARD)) == {"team", "environment"}
    schema = {"type": "object", "properties": {k: {x: y for x, y in v.items() if x not in ("title", "description")}
                                               for k, v in onboard.items()}}
    jsonschema.validate(GOOD, schema)
    for bad in ({**GOOD, "team": "Bad"}, {**GOOD, "environment": "qa"}, {**GOOD, "owners": []},
                {**GOOD, "owners": ["nope"]}, {**GOOD, "extra_policies": ["AdministratorAccess"]}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


def test_conflicts_with_other_playbooks(config: OnboardingConfig, tmp_path: Path) -> None:
    request = validate_request(GOOD, config)
    other = tmp_path / "playbooks"
    _write(other / "hand.yaml", "name: hand\nresources:\n  - kind: iam_role\n    name: team-payments-dev\n"
                                "  - kind: cognito_group\n    name: team-payments\n    user_pool: myapp-users\n")
    _write(other / "myapp-auth.yaml", "name: myapp-auth\nresources:\n  - kind: cognito_group\n"
                                      "    name: team-payments\n    user_pool: myapp-users\n")
    found = find_conflicts(request, config, roots=[other])
    assert len(found) == 2 and "iam_role 'team-payments-dev'" in found[0], found
    assert "cognito_group 'team-payments' in user pool 'myapp-auth/myapp-users'" in found[1], found
    assert find_conflicts(request, config, roots=[]) == []


def test_own_published_file_conflicts_only_when_hand_written(config: OnboardingConfig) -> None:
    request = validate_request(GOOD, config)
    published = config.teams_dir / "payments-dev.yaml"
    _write(published, render_playbook(request, config))
    assert find_conflicts(request, config, roots=[config.teams_dir]) == [], "a re-run converges its own file"
    _write(published, "name: team-payments-dev\nresources: []\n")
    assert "not written by onboarding" in find_conflicts(request, config, roots=[config.teams_dir])[0]


def test_lock_one_run_per_team(config: OnboardingConfig) -> None:
    request = TeamRequest(ONBOARD, "payments", "dev")
    path = lock_path(request, config)
    first = LockHolder("onboard_team", "run-1", ONBOARD)
    acquire_lock(path, first, is_stale=lambda h: False)
    acquire_lock(path, first, is_stale=lambda h: False)  # a retry of the same run
    with pytest.raises(RequestError, match="is busy: onboard run 'run-1'"):
        acquire_lock(path, LockHolder("offboard_team", "run-2", OFFBOARD), is_stale=lambda h: False)
    assert not release_lock(path, "offboard_team", "run-2"), "only the holder releases"
    acquire_lock(path, LockHolder("offboard_team", "run-3", OFFBOARD), is_stale=lambda h: h.run_id == "run-1")
    assert holds_lock(path, "offboard_team", "run-3") and not holds_lock(path, "onboard_team", "run-1")
    assert release_lock(path, "offboard_team", "run-3") and not path.exists()
    assert path.suffix == ".lock" and not path.name.endswith(".yaml"), "never discovered as a playbook"


def test_approval_body_shows_changes_and_diff(config: OnboardingConfig) -> None:
    request = validate_request(GOOD, config)
    body = approval_body(request, [{"resource": "iam_role.team-payments-dev", "status": "changed",
                                    "changes": ["create role team-payments-dev"], "diff": "+ role\n"}],
                         playbook_path="/x.yaml")
    assert "create role team-payments-dev" in body and "```diff\n+ role\n```" in body
    assert "Reject (or no answer before the timeout) changes nothing" in body
