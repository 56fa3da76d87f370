"""The nightly compliance sweep: collect once per account, evaluate pure checks, mute, report.

- ``collect.collect_account`` builds a :class:`~iamflow.compliance.snapshot.Snapshot` with a fixed
  number of IAM calls (credential report + GetAccountAuthorizationDetails, no per-user call);
- ``checks/`` holds the checks (Prowler IDs, CIS AWS Foundations v3.0 controls), registered by
  ``registry.check``; each is a pure function of ``(snapshot, config, now)``;
- ``mutelist`` applies Prowler-format suppressions with owner, reason and expiry;
- ``report.write_reports`` writes findings.json / .csv / .ocsf.json, report.html, summary.json;
- ``sweep`` ties them together per account and across accounts (``targets``), and ``cli`` is
  ``iamflow sweep``.
"""

from __future__ import annotations
