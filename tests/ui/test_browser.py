"""The Airflow UI as a person uses it, in Debian's Chromium driven by Playwright (issue 5, "Tests").

Against the stack of :func:`conftest.ui_stack` (embedded AWS seeded with the demo account and swept
once, Airflow's api-server, scheduler and dag-processor on a temporary home), one browser session:

1. signs in on the simple auth manager's login page;
2. sees the DAG list, with the playbook DAGs and ``compliance_sweep``;
3. opens ``onboard_team``'s trigger form, fills it (team, environment, owners, an extra policy),
   triggers, and waits until the run stops at its approval step (Required Actions). When
   ``onboard_team`` does not exist, a playbook DAG is triggered with ``check_mode`` on instead;
   the test prints which path it took;
4. opens the Compliance view through the navigation link (embedded at ``/plugin/...``) and
   directly at ``/compliance/``, and reads the severity cards, the totals and the first finding
   row: they must match the sweep's ``findings.json``.

Screenshots of every step are kept in ``test-artifacts/ui/`` (``NN-step.png``), next to the
Airflow processes' logs (``logs/``). Chromium comes from ``.ci/setup-browser.sh``; Playwright drives
``/usr/bin/chromium`` directly, so nothing is downloaded at run time.
"""

from __future__ import annotations

import json
import time
import urllib.error
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ONBOARD_DAG = "onboard_team"
FALLBACK_DAG = "playbook_developer_access"  # triggered with check_mode when onboard_team does not exist
APPROVAL_TIMEOUT = 90.0
SEVERITIES = ("critical", "high", "medium", "low", "informational")
STATUS_RANK = {s: i for i, s in enumerate(("FAIL", "ERROR", "MUTED", "PASS"))}
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}
TEAM = "browser-test"
OWNER = "owner@example.com"
EXTRA_POLICY = "ReadOnlyAccess"


class Shots:
    """Numbered screenshots in ``test-artifacts/ui/`` (the previous run's are removed first)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.png"):
            old.unlink()
        self.taken: list[Path] = []

    def __call__(self, page: Any, name: str, *, full_page: bool = False) -> Path:
        path = self.folder / f"{len(self.taken) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        self.taken.append(path)
        return path


# --- the steps -----------------------------------------------------------------------------------


def sign_in(page: Any, stack: Any, shot: Shots) -> None:
    page.goto(f"{stack.url}/")
    page.wait_for_url("**/auth/login**")  # not signed in yet: the simple auth manager's login page
    page.locator("input[name=username]").fill(stack.username)
    page.locator("input[name=password]").fill(stack.password)
    shot(page, "login")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/auth/login" not in url)
    assert any(c["name"] == "_token" for c in page.context.cookies()), "signed in, but no _token cookie was set"


def dag_list(page: Any, stack: Any, shot: Shots) -> list[str]:
    page.goto(f"{stack.url}/dags")
    for dag_id in stack.expected_dags:
        page.locator(f'a[href$="/dags/{dag_id}"]').first.wait_for(state="visible")
    shown = sorted({(a.inner_text() or "").strip() for a in page.locator('a[href*="/dags/"]').all()} - {""})
    shot(page, "dag-list")
    for dag_id in stack.expected_dags:
        assert dag_id in shown, f"{dag_id} is not in the DAG list: {shown}"
    return shown


def open_trigger_form(page: Any, stack: Any, dag_id: str) -> Any:
    page.goto(f"{stack.url}/dags/{dag_id}")
    page.get_by_role("button", name="Trigger").first.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text(f"Trigger Dag - {dag_id}").wait_for()
    dialog.get_by_text("Run Parameters").wait_for()
    unpause = dialog.get_by_text(f"Unpause {dag_id} on trigger")
    if unpause.count():  # DAGs are paused at creation here: the run must not wait for an unpause
        assert dialog.locator('input[type=checkbox]').first.is_checked(), "the form would not unpause the DAG"
    return dialog


def submit(page: Any, dialog: Any, stack: Any, dag_id: str, shot: Shots, name: str) -> None:
    button = dialog.get_by_role("button", name="Trigger", exact=True)
    assert button.is_enabled(), "the trigger form refused the input"
    button.click()
    # the toast can stand in the DOM twice (same id) while it animates in: either copy will do
    page.get_by_text("Dag Run Triggered").first.wait_for()
    page.wait_for_url(f"**/dags/{dag_id}/runs/**")
    shot(page, name)


def trigger_onboard_team(page: Any, stack: Any, shot: Shots) -> dict[str, Any]:
    """Fill ``onboard_team``'s form, trigger, and wait for the run to ask for approval."""
    dialog = open_trigger_form(page, stack, ONBOARD_DAG)
    dialog.locator("#element_team").fill(TEAM)
    dialog.get_by_role("combobox").first.click()  # Environment: a drop-down of include/onboarding.yaml's list
    page.get_by_role("option", name="dev", exact=True).click()
    dialog.locator("#element_owners").fill(OWNER)
    dialog.locator("#element_extra_policies").fill(EXTRA_POLICY)
    shot(page, "onboard-form")
    submit(page, dialog, stack, ONBOARD_DAG, shot, "onboard-triggered")

    run = only_run(stack, ONBOARD_DAG)
    conf = run["conf"]
    assert conf["team"] == TEAM and conf["environment"] == "dev", conf
    assert conf["owners"] == [OWNER] and conf["extra_policies"] == [EXTRA_POLICY], conf

    # the run validates, renders and plans, then stops at `approve` (human in the loop)
    states = wait_for_task_state(stack, ONBOARD_DAG, run["dag_run_id"], "approve", "awaiting_input")
    page.goto(f"{stack.url}/required_actions")
    row = page.get_by_role("row").filter(has_text=ONBOARD_DAG).filter(has_text=TEAM)
    row.first.wait_for()
    assert "Approval Required" in row.first.inner_text()
    shot(page, "onboard-awaiting-approval")
    return {"path": ONBOARD_DAG, "run_id": run["dag_run_id"], "conf": conf, "tasks": states}


def trigger_playbook_check_mode(page: Any, stack: Any, shot: Shots) -> dict[str, Any]:
    """The fallback when ``onboard_team`` is not there: a playbook DAG, with Check mode switched on."""
    dialog = open_trigger_form(page, stack, FALLBACK_DAG)
    switch = dialog.locator("input[name=element_check_mode]")
    assert not switch.is_checked(), "check_mode should default to off"
    dialog.locator('label[id="switch:element_check_mode"]').click()
    assert switch.is_checked(), "the Check mode switch did not turn on"
    shot(page, "playbook-form-check-mode")
    submit(page, dialog, stack, FALLBACK_DAG, shot, "playbook-triggered")
    run = only_run(stack, FALLBACK_DAG)
    assert run["conf"].get("check_mode") is True, run["conf"]
    return {"path": f"{FALLBACK_DAG} (check_mode)", "run_id": run["dag_run_id"], "conf": run["conf"]}


def only_run(stack: Any, dag_id: str) -> dict[str, Any]:
    runs = stack.api(f"/api/v2/dags/{dag_id}/dagRuns")["dag_runs"]
    assert len(runs) == 1, f"expected the one run the form triggered, found {[r['dag_run_id'] for r in runs]}"
    assert runs[0]["run_type"] == "manual", runs[0]
    return runs[0]


def wait_for_task_state(stack: Any, dag_id: str, run_id: str, task_id: str, wanted: str) -> dict[str, Any]:
    from urllib.parse import quote

    deadline = time.monotonic() + APPROVAL_TIMEOUT
    states: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            answer = stack.api(f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances",
                               timeout=max(1.0, min(30.0, deadline - time.monotonic())))
        except (urllib.error.URLError, OSError):  # a busy api-server (SQLite is locked while tasks start)
            time.sleep(2.0)
            continue
        states = {ti["task_id"]: ti["state"] for ti in answer["task_instances"]}
        if states.get(task_id) == wanted:
            return states
        failed = [t for t, s in states.items() if s in ("failed", "upstream_failed")]
        assert not failed, f"{dag_id} run {run_id}: tasks failed {failed} (logs under {stack.home / 'logs'})"
        time.sleep(2.0)
    pytest.fail(f"{dag_id}.{task_id} did not reach {wanted} within {APPROVAL_TIMEOUT:g}s: {states}")


# --- what the Compliance view must show ----------------------------------------------------------


def expected_view(findings: list[dict[str, Any]]) -> dict[str, Any]:
    """The numbers of ``findings.json``, counted here (independently of the view's own code)."""
    failing = Counter(f["severity"] for f in findings if f["status"] == "FAIL")
    return {
        "fail_by_severity": {s: failing.get(s, 0) for s in SEVERITIES},
        "totals": dict(Counter(f["status"] for f in findings)),
        "count": len(findings),
        "most_urgent": min((STATUS_RANK[f["status"]], SEVERITY_RANK[f["severity"]]) for f in findings),
    }


def read_cards(scope: Any) -> dict[str, dict[str, int]]:
    """Each severity card's ``data-fail`` and the number it displays."""
    cards: dict[str, dict[str, int]] = {}
    for severity in SEVERITIES:
        card = scope.locator(f"#severity-{severity}")
        cards[severity] = {"data-fail": int(card.get_attribute("data-fail")),
                           "shown": int(card.locator(".count").inner_text().strip())}
    return cards


def check_cards(cards: dict[str, dict[str, int]], expected: dict[str, Any], where: str) -> None:
    for severity, want in expected["fail_by_severity"].items():
        got = cards[severity]
        assert got == {"data-fail": want, "shown": want}, f"{where}: {severity} card shows {got}, findings.json has {want} FAIL"


def compliance_via_nav(page: Any, stack: Any, shot: Shots, expected: dict[str, Any]) -> dict[str, Any]:
    page.goto(f"{stack.url}/")
    nav = page.get_by_role("button", name="Compliance").or_(page.get_by_role("link", name="Compliance"))
    nav.first.click()
    page.wait_for_url("**/plugin/**")
    frame_element = page.locator('iframe[src*="/compliance"]')
    frame_element.wait_for()
    frame = page.frame_locator('iframe[src*="/compliance"]')
    frame.locator("#severity-cards").wait_for()
    cards = read_cards(frame)
    shot(page, "compliance-in-airflow-nav")
    check_cards(cards, expected, "the Compliance view embedded in the Airflow UI")
    return {"url": page.url, "iframe": frame_element.get_attribute("src"), "cards": cards}


def compliance_direct(page: Any, stack: Any, shot: Shots, expected: dict[str, Any]) -> dict[str, Any]:
    page.goto(f"{stack.url}/compliance/")
    page.locator("#severity-cards").wait_for()
    assert page.locator("#empty-state").count() == 0, "the view says there is no report"
    assert page.locator("#run-id").first.inner_text().strip() == stack.run_dir.name
    cards = read_cards(page)
    totals = {s: int(page.locator(f"#total-{s}").get_attribute("data-count")) for s in STATUS_RANK}
    shot(page, "compliance-overview", full_page=True)
    check_cards(cards, expected, "/compliance/")
    assert totals == {s: expected["totals"].get(s, 0) for s in STATUS_RANK}, (totals, expected["totals"])

    page.locator("#nav-findings").click()
    page.wait_for_url("**/compliance/findings**")
    rows = page.locator("#findings-table tr.finding")
    rows.first.wait_for()
    assert int(page.locator("#findings-all").inner_text()) == expected["count"]
    assert rows.count() == int(page.locator("#findings-count").inner_text()) > 0  # the unfiltered page shows them all
    first = rows.first
    cells = [c.inner_text().strip() for c in first.locator("td").all()[:7]]
    row = dict(zip(("status", "severity", "account_id", "region", "check_id", "resource_arn", "message"), cells,
                   strict=True))
    shot(page, "compliance-findings")
    # the row is one of findings.json's, shown in full, and the most urgent kind comes first
    matches = [f for f in stack.findings
               if (f["status"], f["severity"], str(f["account_id"]), f["check_id"], f["resource_arn"])
               == (row["status"], row["severity"], row["account_id"], row["check_id"], row["resource_arn"])]
    assert matches, f"the first finding row is not in findings.json: {row}"
    assert any(str(f.get("message", "")).strip() == row["message"] for f in matches), (row, matches)
    assert (first.get_attribute("data-status"), first.get_attribute("data-severity")) == (row["status"], row["severity"])
    assert (STATUS_RANK[row["status"]], SEVERITY_RANK[row["severity"]]) == expected["most_urgent"], row
    return {"cards": cards, "totals": totals, "first_finding": row}


# --- the test ------------------------------------------------------------------------------------


def test_airflow_ui_in_a_real_browser(ui_stack: Any, browser_page: Any) -> None:
    page = browser_page
    shot = Shots(ui_stack.artifacts)
    timings = dict(ui_stack.timings)
    started = time.monotonic()
    expected = expected_view(ui_stack.findings)
    assert expected["fail_by_severity"] and sum(expected["fail_by_severity"].values()) > 0, \
        "the seeded demo account should fail some checks"

    sign_in(page, ui_stack, shot)
    shown = dag_list(page, ui_stack, shot)
    if ONBOARD_DAG in ui_stack.dag_ids:
        assert ONBOARD_DAG in shown
        triggered = trigger_onboard_team(page, ui_stack, shot)
    else:
        print(f"\n{ONBOARD_DAG} does not exist (yet): triggering {FALLBACK_DAG} with check_mode instead")
        triggered = trigger_playbook_check_mode(page, ui_stack, shot)
    timings["browser_trigger"] = time.monotonic() - started

    via_nav = compliance_via_nav(page, ui_stack, shot, expected)
    direct = compliance_direct(page, ui_stack, shot, expected)
    timings["browser_total"] = time.monotonic() - started

    summary = {
        "trigger_path": triggered["path"], "triggered": triggered, "dags_shown": shown,
        "report": str(ui_stack.run_dir), "expected": expected, "compliance_nav": via_nav,
        "compliance_direct": direct, "timings_s": {k: round(v, 1) for k, v in timings.items()},
        "screenshots": [p.name for p in shot.taken],
    }
    (ui_stack.artifacts / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"\ntrigger path: {triggered['path']} (run {triggered['run_id']})")
    print(f"severity FAIL counts: {expected['fail_by_severity']}; first finding: {direct['first_finding']['check_id']}")
    print(f"screenshots: {', '.join(p.name for p in shot.taken)} in {ui_stack.artifacts}")
