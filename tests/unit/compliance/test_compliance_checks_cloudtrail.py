"""CloudTrail checks: PASS, FAIL and ERROR on hand-built snapshots; the selector reading is AWS's."""

from __future__ import annotations

from typing import Any

import pytest
from compliance_builders import ACCOUNT, REGION, run, snapshot, statuses

from iamflow.compliance.checks import cloudtrail
from iamflow.compliance.collect import management_events
from iamflow.compliance.findings import ERROR, FAIL, PASS
from iamflow.compliance.snapshot import CLOUDTRAIL_TRAILS, Trail


def trail(name: str, **kwargs: Any) -> Trail:
    defaults: dict[str, Any] = {"home_region": REGION, "multi_region": True, "log_file_validation": True,
                                "is_logging": True, "management_events": "All"}
    defaults.update(kwargs)
    return Trail(name, f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{name}", **defaults)


def test_a_logging_multi_region_trail_with_all_management_events_passes() -> None:
    snap = snapshot(cloudtrail_trails=[trail("org"), trail("local", multi_region=False)])
    findings = run(cloudtrail.cloudtrail_multi_region_enabled, snap)
    assert statuses(findings) == {"org": PASS}
    assert findings[0].resource_arn == f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/org"
    assert findings[0].compliance == {"CIS-3.0": ["3.1"], "CIS-5.0": ["3.1"], "FSBP": ["CloudTrail.1"]}


@pytest.mark.parametrize(("trails", "words"), [
    ([], "no multi-region trail exists"),
    ([trail("local", multi_region=False)], "only single-region trails"),
    ([trail("org", is_logging=False)], "trail org is not logging"),
    ([trail("org", management_events="WriteOnly")], "logs management events WriteOnly"),
])
def test_no_qualifying_trail_fails_once_for_the_region_saying_why(trails: list[Trail], words: str) -> None:
    findings = run(cloudtrail.cloudtrail_multi_region_enabled, snapshot(cloudtrail_trails=trails))
    assert [f.status for f in findings] == [FAIL]
    assert words in findings[0].message
    assert findings[0].region == REGION


def test_a_shadow_trail_listed_twice_is_judged_once() -> None:
    findings = run(cloudtrail.cloudtrail_multi_region_enabled,
                   snapshot(cloudtrail_trails=[trail("org"), trail("org")]))
    assert len(findings) == 1


def test_an_unreadable_trail_status_is_an_error_not_a_fail() -> None:
    bad = trail("org", is_logging=None, errors={"GetTrailStatus": "AccessDeniedException: no"})
    findings = run(cloudtrail.cloudtrail_multi_region_enabled, snapshot(cloudtrail_trails=[bad]))
    assert [f.status for f in findings] == [ERROR]
    assert "AccessDeniedException" in findings[0].message


def test_log_file_validation_per_trail() -> None:
    snap = snapshot(cloudtrail_trails=[trail("good"), trail("bad", log_file_validation=False)])
    findings = run(cloudtrail.cloudtrail_log_file_validation_enabled, snap)
    assert sorted(f.status for f in findings) == [FAIL, PASS]
    assert next(f for f in findings if f.status == FAIL).resource_id == "bad"
    assert findings[0].compliance["FSBP"] == ["CloudTrail.4"]


@pytest.mark.parametrize("check", [cloudtrail.cloudtrail_multi_region_enabled,
                                   cloudtrail.cloudtrail_log_file_validation_enabled])
def test_a_failed_collection_is_an_error(check: Any) -> None:
    snap = snapshot(errors={CLOUDTRAIL_TRAILS: "AccessDeniedException: cloudtrail:DescribeTrails"})
    findings = run(check, snap)
    assert [f.status for f in findings] == [ERROR]
    assert "cloudtrail:DescribeTrails" in findings[0].message


@pytest.mark.parametrize(("selectors", "expected"), [
    ({"EventSelectors": [], "AdvancedEventSelectors": []}, "All"),
    ({"EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": True}]}, "All"),
    ({"EventSelectors": [{"ReadWriteType": "ReadOnly", "IncludeManagementEvents": True}]}, "ReadOnly"),
    ({"EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": False}]}, "None"),
    ({"EventSelectors": [{"ReadWriteType": "ReadOnly"}, {"ReadWriteType": "WriteOnly"}]}, "All"),
    ({"AdvancedEventSelectors": [{"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]}]}, "All"),
    ({"AdvancedEventSelectors": [{"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]},
                                                     {"Field": "readOnly", "Equals": ["false"]}]}]}, "WriteOnly"),
    ({"AdvancedEventSelectors": [{"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Data"]}]}]}, "None"),
])
def test_management_events_from_selectors(selectors: dict[str, Any], expected: str) -> None:
    assert management_events(selectors) == expected
