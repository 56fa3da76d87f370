"""Account-wide IAM hygiene: expired server certificates (CIS 1.19) and IAM Access Analyzer (CIS 1.20).

Both read one paginated list call per account (certificates) or per region (analyzers), never a
per-user call. Facts the checks rely on:

- IAM stores server certificates for load balancers and CloudFront when ACM is not used; IAM does
  not delete them when they expire, so an expired one lingers until someone deletes it
  (``DeleteServerCertificate``). The embedded AWS gives every uploaded certificate a fixed expiry
  in 2012, so there every certificate is expired.
- CIS asks for an active *external access* analyzer (type ACCOUNT or ORGANIZATION) in every
  region used. Unused-access analyzers (ACCOUNT_UNUSED_ACCESS, ORGANIZATION_UNUSED_ACCESS) are a
  different feature and do not satisfy it. The embedded AWS answers ``ListAnalyzers`` with "not
  yet implemented", so there the check is an ERROR, never a guess.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from iamflow.compliance.checks._common import age_days, day, iso
from iamflow.compliance.config import ComplianceConfig
from iamflow.compliance.findings import Result, errored, failed, passed
from iamflow.compliance.registry import check
from iamflow.compliance.snapshot import ACCESS_ANALYZERS, SERVER_CERTIFICATES, Snapshot


@check(
    title="No expired server certificates are stored in IAM",
    severity="high",
    cis=("1.19",),
    cis5=("1.18",),
    description="Every IAM server certificate's Expiration is in the future (a certificate expiring today "
    "counts as expired).",
    remediation="Delete the expired certificate (aws iam delete-server-certificate --server-certificate-name "
    "<name>) after moving any listener still using it to a valid one; prefer ACM, which renews certificates.",
    needs=(SERVER_CERTIFICATES,),
    service="iam",
    resource_type="AwsIamServerCertificate",
)
def iam_no_expired_server_certificates_stored(
    snapshot: Snapshot, config: ComplianceConfig, now: datetime
) -> Iterator[Result]:
    """FAIL per expired server certificate."""
    assert snapshot.server_certificates is not None
    for cert in snapshot.server_certificates:
        fields = {"resource_id": cert.name, "expiration": iso(cert.expiration)}
        if cert.expiration is None:
            yield errored(cert.arn, f"Server certificate {cert.name} has no expiration date.", **fields)
            continue
        since = age_days(cert.expiration, now)
        if cert.expiration <= now:
            yield failed(cert.arn, f"Server certificate {cert.name} expired {day(cert.expiration)} ({since} days ago).",
                         **fields)
        else:
            yield passed(cert.arn, f"Server certificate {cert.name} is valid until {day(cert.expiration)}.", **fields)


@check(
    title="IAM Access Analyzer is enabled",
    severity="low",
    cis=("1.20",),
    cis5=("1.19",),
    description="The region has an ACTIVE external-access analyzer (type ACCOUNT or ORGANIZATION). "
    "Unused-access analyzers do not count; an analyzer that is CREATING, DISABLED or FAILED does not either.",
    remediation="Create an analyzer in the region (aws accessanalyzer create-analyzer --analyzer-name "
    "<name> --type ACCOUNT, or ORGANIZATION from the delegated administrator account).",
    needs=(ACCESS_ANALYZERS,),
    service="access-analyzer",
    resource_type="AwsAccessAnalyzer",
)
def accessanalyzer_enabled(snapshot: Snapshot, config: ComplianceConfig, now: datetime) -> Iterator[Result]:
    """FAIL when the region has no active external-access analyzer."""
    assert snapshot.access_analyzers is not None
    external = [a for a in snapshot.access_analyzers if a.external_access]
    active = [a for a in external if a.status == "ACTIVE"]
    listed = sorted(f"{a.name} ({a.type}, {a.status})" for a in snapshot.access_analyzers)
    if active:
        first = sorted(active, key=lambda a: a.name)[0]
        yield passed(first.arn, f"IAM Access Analyzer {first.name} ({first.type}) is active in {snapshot.region}.",
                     resource_id=first.name, analyzers=listed)
    elif external:
        yield failed(snapshot.root_arn, f"No external-access analyzer is active in {snapshot.region}: "
                     f"{', '.join(listed)}.", resource_id=snapshot.account_id, analyzers=listed)
    else:
        what = f" (only {', '.join(listed)})" if listed else ""
        yield failed(snapshot.root_arn, f"IAM Access Analyzer has no external-access analyzer in {snapshot.region}"
                     f"{what}.", resource_id=snapshot.account_id, analyzers=listed)
