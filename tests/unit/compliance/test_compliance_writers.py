"""The fast paths of the sweep's output: they must give exactly what the plain forms give.

- A finding with nothing to redact skips the field-by-field redaction: the result must equal the
  field-by-field one, and a secret in any field must still be redacted.
- ``findings.csv`` is built a line at a time: each line must be what ``csv.writer`` writes for the
  row's cells (``_csv_row``), whatever the cells hold.
- Large runs write OCSF and CSV in forked processes: the files must be byte-identical to the ones
  one process writes, and a failing writer process must fail the report.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest
from compliance_builders import ACCOUNT, NOW, ROOT_ARN, user_arn

import iamflow.compliance.report as report
from iamflow.compliance.findings import _TEXT_FIELDS, FAIL, MUTED, PASS, Finding
from iamflow.compliance.report import REPORT_FILES, write_reports
from iamflow.secrets.hygiene import redact, redact_text

FAKE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # AWS's documented example secret key


def finding(user: str = "alice", *, status: str = FAIL, tags: dict[str, str] | None = None, **extra: object) -> Finding:
    return Finding("iam_rotate_access_key_90_days", status, "medium", ACCOUNT, "global", user_arn(user),
                   f"Access key 1 of user {user} is 200 days old.", "Rotate the key.", {"CIS-3.0": ["1.14"]},
                   title="Keys are rotated", resource_id=user, resource_type="AwsIamUser", tags=tags or {},
                   extra=dict(extra))


def field_by_field(f: Finding) -> dict[str, object]:
    """What the plain redaction gives: every text, tag, extra value and mute note through redact()."""
    out = {name: redact_text(getattr(f, name)) for name in _TEXT_FIELDS}
    out.update(tags=redact(f.tags), extra=redact(f.extra), muted_by=redact(f.muted_by) if f.muted_by else None)
    return out


def as_made(f: Finding) -> dict[str, object]:
    out: dict[str, object] = {name: getattr(f, name) for name in _TEXT_FIELDS}
    out.update(tags=f.tags, extra=f.extra, muted_by=f.muted_by)
    return out


CLEAN = [
    pytest.param(dict(), id="no-extra"),
    pytest.param(dict(access_key="access_key_1", age_days=200, key_created="2026-05-01T00:00:00+00:00"), id="scalars"),
    pytest.param(dict(aliases=("alias/a", "alias/b"), services=["s3", "kms"], when=date(2026, 1, 2)), id="flat-lists"),
    pytest.param(dict(methods=[{"action": "iam:PassRole"}]), id="nested"),
    pytest.param(dict(tags={"team": "payments"}), id="tags"),
]


@pytest.mark.parametrize("extra", CLEAN)
def test_a_finding_with_nothing_to_redact_equals_the_field_by_field_redaction(extra: dict[str, object]) -> None:
    tags = extra.pop("tags", None)
    made = finding(tags=tags, **extra)  # type: ignore[arg-type]
    assert as_made(made) == field_by_field(made)
    for key, value in made.extra.items():  # redact() gives a flat tuple back as a list: so must the fast path
        assert not isinstance(value, tuple), key


@pytest.mark.parametrize("make", [
    pytest.param(lambda: finding(note=f"key={FAKE_SECRET}"), id="extra-string"),
    pytest.param(lambda: finding(services=["s3", FAKE_SECRET]), id="extra-list"),
    pytest.param(lambda: finding(tags={"k": f"x {FAKE_SECRET}"}), id="tag"),
    pytest.param(lambda: Finding("c", FAIL, "high", FAKE_SECRET, "global", ROOT_ARN, "m", "fix", {}), id="account"),
    pytest.param(lambda: Finding("c", FAIL, "high", ACCOUNT, FAKE_SECRET, ROOT_ARN, "m", "fix", {}), id="region"),
    pytest.param(lambda: Finding("c", FAIL, "high", ACCOUNT, "global", ROOT_ARN, "m", "fix", {},
                                 resource_type=FAKE_SECRET), id="resource-type"),
    pytest.param(lambda: Finding(FAKE_SECRET, FAIL, "high", ACCOUNT, "global", ROOT_ARN, "m", "fix", {}), id="check-id"),
])
def test_a_secret_in_any_field_is_still_redacted(make: object) -> None:
    made = make()  # type: ignore[operator]
    text = repr(made) + repr(made.to_dict())
    assert FAKE_SECRET not in text and "<redacted>" in text


def test_a_run_is_never_made_across_two_fields() -> None:
    half = FAKE_SECRET[:20]
    made = finding(note=half, other=FAKE_SECRET[20:])  # joined they would look like a secret; apart they are not
    assert made.extra["note"] == half and made.extra["other"] == FAKE_SECRET[20:]


# --- CSV -------------------------------------------------------------------------------------------

TRICKY = ["plain", "", "a,b", 'say "hi"', "two\nlines", "cr\rhere", "=SUM(A1)", "+1", "-1", "@x", "\tt", "\rr",
          " lead", "ünï", "'quoted", 'x",y']


def csv_writer_line(r: dict[str, object]) -> str:
    buf = io.StringIO()
    csv.writer(buf).writerow(report._csv_row(r))
    return buf.getvalue()


@pytest.mark.parametrize("text", TRICKY)
def test_each_csv_line_is_what_csv_writer_writes(text: str) -> None:
    made = Finding("check", FAIL, "high", ACCOUNT, "global", text, text, text, {"CIS-3.0": [text, "1.1"]},
                   title=text, resource_id=text, resource_type=text, tags={"t": text},
                   extra={"note": text, "n": -5, "ratio": 0.1, "flag": True, "access_key_id": text or None})
    for f in (made, made.with_status(MUTED, muted_by={"owner": text, "reason": text, "expires": date(2026, 1, 2)})):
        row = f.to_dict()
        assert report._csv_line(row, {}) == csv_writer_line(row)


def test_csv_lines_agree_over_a_sample_with_a_shared_memo() -> None:
    memo: dict[object, str] = {}
    rows = [finding(f"user-{i}", status=PASS if i % 2 else FAIL, age_days=i, note=TRICKY[i % len(TRICKY)]).to_dict()
            for i in range(200)]
    assert [report._csv_line(r, memo) for r in rows] == [csv_writer_line(r) for r in rows]


# --- writer processes ------------------------------------------------------------------------------


def many() -> list[Finding]:
    out = []
    for i in range(300):
        out.append(finding(f"user-{i:03d}", status=(FAIL, PASS)[i % 2], access_key="access_key_1", age_days=i,
                           tags={"team": f"t{i % 7}"}))
    out.append(finding("zed").with_status(MUTED, muted_by={"owner": "ops", "reason": "leaver", "expires": "2027-01-01"}))
    return out


def test_writer_processes_write_the_same_bytes_as_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report, "PARALLEL_MIN_FINDINGS", 10**9)
    write_reports(many(), tmp_path / "one", run_id="r", generated_at=NOW)
    monkeypatch.setattr(report, "PARALLEL_MIN_FINDINGS", 1)
    forks: list[int] = []
    real_fork = report.os.fork

    def counting_fork() -> int:
        pid = real_fork()
        if pid:
            forks.append(pid)
        return pid

    monkeypatch.setattr(report.os, "fork", counting_fork)
    paths = write_reports(many(), tmp_path / "side", run_id="r", generated_at=NOW)
    assert len(forks) == 2  # OCSF and CSV were written by processes of their own
    assert list(paths.files) == ["findings.json", "findings.csv", "findings.ocsf.json", "summary.json", "report.html"]
    for name in REPORT_FILES:
        one = (tmp_path / "one" / "r" / name).read_bytes()
        assert one and one == (tmp_path / "side" / "r" / name).read_bytes(), name
        assert (tmp_path / "side" / "latest" / name).read_bytes() == one, name


def test_a_failing_writer_process_fails_the_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report, "PARALLEL_MIN_FINDINGS", 1)

    def broken(path: Path, rows: object) -> Path:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report, "_write_csv", broken)
    with pytest.raises(OSError, match="report writer process failed: OSError: .*No space left on device"):
        write_reports(many(), tmp_path, run_id="r", generated_at=NOW)
    assert not (tmp_path / "latest").exists()


def test_writer_processes_are_reaped_when_the_report_fails_meanwhile(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.setattr(report, "PARALLEL_MIN_FINDINGS", 1)

    def broken(*args: object) -> str:
        raise RuntimeError("the page could not be rendered")

    monkeypatch.setattr(report, "render_html", broken)
    with pytest.raises(RuntimeError, match="could not be rendered"):
        write_reports(many(), tmp_path, run_id="r", generated_at=NOW)
    with pytest.raises(ChildProcessError):  # no child left behind, finished or not
        os.waitpid(-1, os.WNOHANG)


def test_writing_a_run_id_again_leaves_the_previous_latest_intact_until_replaced(tmp_path: Path) -> None:
    write_reports(many()[:3], tmp_path, run_id="r", generated_at=NOW)
    before = (tmp_path / "latest" / "findings.json").read_bytes()
    latest_inode = (tmp_path / "latest" / "findings.json").stat().st_ino
    write_reports(many()[:5], tmp_path, run_id="r", generated_at=NOW)
    assert (tmp_path / "latest" / "findings.json").stat().st_ino != latest_inode  # new files, not rewritten links
    assert (tmp_path / "latest" / "findings.json").read_bytes() != before


# --- OCSF ------------------------------------------------------------------------------------------


def test_ocsf_file_is_the_dump_of_to_ocsf_byte_for_byte(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    odd = [
        finding("alice", tags={"b": "2", "a": 'quote " and \\ back'}, when=datetime(2026, 1, 2, 3, 4, tzinfo=UTC),
                nested={"k": [1, 2.5, None, True]}),
        finding("bob", status=PASS),
        Finding("check", FAIL, "critical", ACCOUNT, "us-west-2", "not-an-arn", "ünïcode \n message", "", {},
                resource_type="", extra={"n": 1}),
        Finding("check", FAIL, "low", "222233334444", "us-west-2", "arn:aws-cn:iam::222233334444:root", "m", "fix",
                {"CIS-3.0": ["1.1", "1.2"], "FSBP": ["IAM.1"]}, title="", resource_id="222233334444"),
        finding("carol").with_status(MUTED, muted_by={"owner": "ops", "reason": "r", "expires": date(2027, 1, 1)}),
    ]
    path = report._write_ocsf(tmp_path / "o.json", odd, NOW)
    assert path.read_bytes() == report.dumps([report.to_ocsf(f, NOW) for f in odd])
    assert report._write_ocsf(tmp_path / "empty.json", [], NOW).read_bytes() == report.dumps([])
