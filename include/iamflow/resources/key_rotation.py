"""Two-phase rotation of a service user's access key into Secrets Manager, resumable at every step.

``rotation: {into_secret: NAME, every_days: 90, grace_days: 7}`` on an ``iam_user``. IAM allows
two access keys per user, and shows a key's secret only in ``CreateAccessKey``'s answer, so:

1. mark the rotation on the user (tag ``iamflow:rotation`` = ``<old key id>:started:<time>``);
2. create a second key;
3. store it in the secret as a new version labelled ``AWSPENDING`` (its version id is
   ``iamflow-access-key-<key id>``, so the key a version holds is known without reading a value);
4. prove that it works: ``sts:GetCallerIdentity`` signed with it must answer the user's ARN (the
   request's ``Credential`` is checked to carry the new key id);
5. promote it: ``AWSCURRENT`` moves to the new version, ``AWSPENDING`` is removed; the tag
   becomes ``<old>:promoted:<time>``;
6. on a later run, once the old key has gone unused (``GetAccessKeyLastUsed``) since the promotion
   for ``grace_days``, deactivate it (and tag ``iamflow:deactivated:<key id>`` with the date, the
   mark remediation reads as well); the tag becomes ``<old>:deactivated:<time>``;
7. on a later run still, delete the old key and remove the marks.

Each run reads where the rotation stands and plans the remaining steps, so a run that stopped
between any two steps is resumed by the next: a key created by a crashed run whose secret was
never stored is useless (IAM will never show its secret again) and is deleted before a new one is
made; a pending version is proven from the secret itself. A rotation never starts while the user
has two keys (there is no slot for the new one, and iamflow will not guess which one to drop).
No key secret is ever written to a plan, a note, a log or a result: it lives in memory between
``CreateAccessKey`` and ``PutSecretValue`` (masked the moment it exists), or is read back from the
secret to be proven.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from iamflow.aws.errors import error_code, not_found, paginate
from iamflow.errors import ApplyError
from iamflow.resources._common import adopt_by_name
from iamflow.resources.base import Change
from iamflow.secrets.hygiene import protect_secret
from iamflow.spec.kinds_identities import KeyRotation

if TYPE_CHECKING:
    from iamflow.aws.clients import AwsClients

MARK_TAG = "iamflow:rotation"
DEACTIVATED_TAG = "iamflow:deactivated:"
VERSION_PREFIX = "iamflow-access-key-"
NO_KEY = "none"
STARTED, PROMOTED, DEACTIVATED = "started", "promoted", "deactivated"
# a new key can take a few seconds to be accepted everywhere (IAM is eventually consistent)
PROOF_ATTEMPTS = 5
PROOF_DELAY_SECONDS = 2.0

# the placeholders a rotation change holds until the runner fills them
NEW_KEY_ID = "<the new key's id>"
NEW_KEY_JSON = "<the new key, as JSON>"
NEW_VERSION = "<the new key's version id>"


@dataclass(frozen=True)
class KeyInfo:
    key_id: str
    status: str
    created: datetime
    last_used: datetime | None


@dataclass(frozen=True)
class RotationFacts:
    """Where a user's rotation stands: its keys, the secret's versions, the mark on the user."""

    keys: tuple[KeyInfo, ...]
    secret_exists: bool
    current_key: str | None  # the key AWSCURRENT holds (by its version id), if iamflow stored it
    current_version: str | None
    pending_key: str | None
    mark: str | None  # the iamflow:rotation tag's value
    stored_keys: frozenset[str] = frozenset()  # every key a version of the secret holds


@dataclass
class RotationStep:
    """The rotation changes of one run (shown in the plan; executed by :func:`run_rotation`)."""

    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    blocked: str | None = None
    prove_from_secret: bool = False  # resume: the key to prove is read back from AWSPENDING
    user_arn: str = ""


def version_id(key_id: str) -> str:
    return VERSION_PREFIX + key_id


def _key_of(version: str) -> str | None:
    return version[len(VERSION_PREFIX):] if version.startswith(VERSION_PREFIX) else None


def read_rotation(clients: AwsClients, user: str, spec: KeyRotation, tags: dict[str, str]) -> RotationFacts:
    """Read the user's keys (with their last use) and the secret's versions, read calls only."""
    iam = clients.client("iam")
    keys = []
    for k in paginate(iam, "list_access_keys", "AccessKeyMetadata", UserName=user):
        used = not_found(iam, "get_access_key_last_used", AccessKeyId=k["AccessKeyId"]) or {}
        keys.append(KeyInfo(k["AccessKeyId"], k["Status"], k["CreateDate"],
                            (used.get("AccessKeyLastUsed") or {}).get("LastUsedDate")))
    described = not_found(clients.client("secretsmanager"), "describe_secret", SecretId=spec.into_secret)
    current_key = current_version = pending_key = None
    stored: set[str] = set()
    for version, stages in ((described or {}).get("VersionIdsToStages") or {}).items():
        key = _key_of(version)
        if key:
            stored.add(key)
        if "AWSCURRENT" in stages:
            current_key, current_version = key, version
        if "AWSPENDING" in stages:
            pending_key = key
    return RotationFacts(tuple(sorted(keys, key=lambda k: k.created)), described is not None, current_key,
                         current_version, pending_key, tags.get(MARK_TAG), frozenset(stored))


def _mark(value: str | None) -> tuple[str, str, datetime] | None:
    """``(old key id, phase, time)`` of an ``iamflow:rotation`` tag value."""
    if not value or value.count("|") != 2:
        return None
    old, phase, when = value.split("|")
    try:
        return old, phase, datetime.fromisoformat(when)
    except ValueError:
        return None


def _stamp(old: str, phase: str, now: datetime) -> str:
    # to the microsecond: a use just before the promotion must not count as a use after it
    return f"{old}|{phase}|{now.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}"


def plan_rotation(user: str, user_arn: str, spec: KeyRotation, facts: RotationFacts, now: datetime) -> RotationStep:
    """The rotation steps this run makes, from where the rotation stands. Pure."""
    step = RotationStep(user_arn=user_arn)
    mark = _mark(facts.mark)
    keys = {k.key_id: k for k in facts.keys}
    label = f"user {user}"
    if mark is None:
        if len(facts.keys) >= 2:
            step.blocked = (f"key rotation of {label} refuses to start: it has two access keys, so there is no "
                            "slot for a new one; deactivate and delete the one that is not in use first")
            return step
        old = facts.keys[0] if facts.keys else None
        # due when the key is old, or when the secret does not hold it (a key made by hand: iamflow
        # cannot read its secret, so it is replaced by one the secret holds)
        stored = old is not None and facts.current_key == old.key_id
        if old is not None and stored and now - old.created < timedelta(days=spec.every_days):
            return step  # not due
        old_id = old.key_id if old else NO_KEY
        step.changes.append(_tag(user, {MARK_TAG: _stamp(old_id, STARTED, now)},
                                 f"mark the start of the key rotation on {label}"))
        _plan_new_key(step, user, spec, facts, old_id, now)
        return step
    old_id, phase, when = mark
    old = keys.get(old_id)
    new = [k for k in facts.keys if k.key_id != old_id]
    if phase == STARTED:
        if facts.current_key and facts.current_key != old_id and facts.current_key in keys:
            pending = facts.pending_key == facts.current_key
            if pending:  # still labelled AWSPENDING: (a first key is AWSCURRENT as soon as it is stored) prove it
                step.prove_from_secret = True
                step.changes.append(_proof_change(user))
            _plan_promoted(step, user, spec, old_id, now, pending=pending)
        elif facts.pending_key and facts.pending_key in keys:
            step.prove_from_secret = True
            step.changes.append(_proof_change(user))
            _plan_promote(step, user, spec, facts, old_id, facts.pending_key, now)
        else:
            for orphan in new:  # made by a run that stopped before storing it: its secret is lost
                step.changes.append(Change("iam", "delete_access_key", {"UserName": user, "AccessKeyId": orphan.key_id},
                                           f"delete access key {orphan.key_id} of {label}, which a rotation that "
                                           "stopped created but never stored (its secret cannot be read again)"))
            _plan_new_key(step, user, spec, facts, old_id, now)
        return step
    if old is None:  # the old key is gone (or there was none): the rotation is complete
        step.changes.append(Change("iam", "untag_user", {"UserName": user,
                                                          "TagKeys": [MARK_TAG, DEACTIVATED_TAG + old_id]},
                                   f"end the key rotation of {label} (remove its marks)"))
        return step
    if phase == PROMOTED and old.status == "Active":
        unused_since = old.last_used is None or old.last_used < when
        due = now - when >= timedelta(days=spec.grace_days)
        if not unused_since:
            step.notes.append(f"key rotation of {label}: the old key {old_id} was used at {old.last_used:%Y-%m-%d %H:%M} "
                              "after the new one was promoted; it stays active until it goes unused for "
                              f"{spec.grace_days} days")
            return step
        if not due:
            step.notes.append(f"key rotation of {label}: the old key {old_id} is deactivated once unused for "
                              f"{spec.grace_days} days after the promotion ({when:%Y-%m-%d})")
            return step
        step.changes.append(Change("iam", "update_access_key",
                                   {"UserName": user, "AccessKeyId": old_id, "Status": "Inactive"},
                                   f"deactivate the old access key {old_id} of {label} (unused since the promotion)"))
        step.changes.append(_tag(user, {DEACTIVATED_TAG + old_id: now.strftime("%Y-%m-%d"),
                                        MARK_TAG: _stamp(old_id, DEACTIVATED, now)},
                                 f"record the deactivation of access key {old_id} on {label}"))
        return step
    if old.status != "Active" and phase == PROMOTED:
        # deactivated by a run that stopped before recording it: record it; deletion comes next run
        step.changes.append(_tag(user, {DEACTIVATED_TAG + old_id: now.strftime("%Y-%m-%d"),
                                        MARK_TAG: _stamp(old_id, DEACTIVATED, now)},
                                 f"record the deactivation of access key {old_id} on {label}"))
        return step
    if phase == DEACTIVATED and old.status == "Active":
        step.notes.append(f"key rotation of {label}: the old key {old_id} was reactivated after the rotation "
                          "deactivated it; it is not deleted while it is active")
    if phase == DEACTIVATED and old.status != "Active":  # deactivated by an earlier run
        step.changes.append(Change("iam", "delete_access_key", {"UserName": user, "AccessKeyId": old_id},
                                   f"delete the old access key {old_id} of {label} (deactivated by an earlier run)"))
        step.changes.append(Change("iam", "untag_user", {"UserName": user,
                                                          "TagKeys": [MARK_TAG, DEACTIVATED_TAG + old_id]},
                                   f"end the key rotation of {label} (remove its marks)"))
    return step


def _tag(user: str, tags: dict[str, str], summary: str) -> Change:
    return Change("iam", "tag_user", {"UserName": user, "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]},
                  summary)


def _proof_change(user: str) -> Change:
    return Change("sts", "get_caller_identity", {},
                  f"prove the new access key of user {user} works (sts:GetCallerIdentity signed with it)")


def _plan_new_key(step: RotationStep, user: str, spec: KeyRotation, facts: RotationFacts, old_id: str,
                  now: datetime) -> None:
    if not facts.secret_exists:
        step.changes.append(Change("secretsmanager", "create_secret",
                                   {"Name": spec.into_secret,
                                    "Description": f"Access key of IAM user {user}, rotated by iamflow"},
                                   f"create Secrets Manager secret {spec.into_secret} for the access key of user {user}",
                                   adopt=adopt_by_name("secretsmanager", "describe_secret", SecretId=spec.into_secret)))
    step.changes.append(Change("iam", "create_access_key", {"UserName": user},
                               f"create a second access key for user {user}"))
    step.changes.append(Change("secretsmanager", "put_secret_value",
                               {"SecretId": spec.into_secret, "ClientRequestToken": NEW_VERSION,
                                "SecretString": NEW_KEY_JSON, "VersionStages": ["AWSPENDING"]},
                               f"store the new access key of user {user} in secret {spec.into_secret} as AWSPENDING",
                               sensitive=("SecretString",)))
    step.changes.append(_proof_change(user))
    _plan_promote(step, user, spec, facts, old_id, NEW_KEY_ID, now)


def _plan_promote(step: RotationStep, user: str, spec: KeyRotation, facts: RotationFacts, old_id: str,
                  new_key: str, now: datetime) -> None:
    new_version = NEW_VERSION if new_key == NEW_KEY_ID else version_id(new_key)
    if facts.current_version:
        # a secret's first version is made AWSCURRENT by Secrets Manager itself: nothing to move then
        params: dict[str, Any] = {"SecretId": spec.into_secret, "VersionStage": "AWSCURRENT",
                                  "MoveToVersionId": new_version, "RemoveFromVersionId": facts.current_version}
        step.changes.append(Change("secretsmanager", "update_secret_version_stage", params,
                                   f"promote the new access key of user {user} to AWSCURRENT in secret "
                                   f"{spec.into_secret}"))
    step.changes.append(Change("secretsmanager", "update_secret_version_stage",
                               {"SecretId": spec.into_secret, "VersionStage": "AWSPENDING",
                                "RemoveFromVersionId": new_version},
                               f"remove the AWSPENDING label from the new key's version in secret {spec.into_secret}"))
    _plan_promoted(step, user, spec, old_id, now, pending=False)


def _plan_promoted(step: RotationStep, user: str, spec: KeyRotation, old_id: str, now: datetime, *,
                   pending: bool) -> None:
    if pending:  # stopped between moving AWSCURRENT and removing AWSPENDING
        step.changes.append(Change("secretsmanager", "update_secret_version_stage",
                                   {"SecretId": spec.into_secret, "VersionStage": "AWSPENDING",
                                    "RemoveFromVersionId": NEW_VERSION},
                                   f"remove the AWSPENDING label from the new key's version in secret "
                                   f"{spec.into_secret}"))
    if old_id == NO_KEY:
        step.changes.append(Change("iam", "untag_user", {"UserName": user, "TagKeys": [MARK_TAG]},
                                   f"end the key rotation of user {user} (its first key is stored)"))
    else:
        step.changes.append(_tag(user, {MARK_TAG: _stamp(old_id, PROMOTED, now)},
                                 f"record the promotion of the new access key on user {user}"))


# --- apply ----------------------------------------------------------------------------------------


def run_rotation(clients: AwsClients, step: RotationStep, facts: RotationFacts | None) -> list[str]:
    """Execute the step's changes in order, filling in the new key; return notes (never a secret)."""
    from iamflow.resources.execute import execute_change

    notes: list[str] = []
    new_id: str | None = None
    new_json: str | None = None
    if facts is not None and step.prove_from_secret:
        new_id = facts.pending_key
    elif facts is not None and facts.pending_key and facts.pending_key == facts.current_key:
        new_id = facts.current_key
    for change in step.changes:
        if change.operation == "get_caller_identity":
            if new_json is None:
                new_json = _read_pending(clients, change, step, facts)
            seen = prove_key(clients, new_json, step.user_arn)
            notes.append(f"the new access key {seen} answered sts:GetCallerIdentity as {step.user_arn}")
            continue
        params = {k: _fill(v, new_id, new_json) for k, v in change.params.items()}
        response = execute_change(clients, replace(change, params=params))
        if change.operation == "create_access_key":
            key = response["AccessKey"]
            protect_secret(key["SecretAccessKey"])
            new_id = key["AccessKeyId"]
            new_json = json.dumps({"AccessKeyId": new_id, "SecretAccessKey": key["SecretAccessKey"]})
            protect_secret(new_json)
    return notes


def _fill(value: Any, new_id: str | None, new_json: str | None) -> Any:
    if value == NEW_KEY_JSON:
        if new_json is None:
            raise ApplyError("the new access key is not known: no earlier step of this rotation created it")
        return new_json
    if value in (NEW_KEY_ID, NEW_VERSION):
        if new_id is None:
            raise ApplyError("the new access key's id is not known: no earlier step of this rotation created it")
        return new_id if value == NEW_KEY_ID else version_id(new_id)
    return value


def _read_pending(clients: AwsClients, change: Change, step: RotationStep, facts: RotationFacts | None) -> str:
    """Read back the pending key to prove it (a resumed rotation: the key was stored by an earlier run)."""
    secret_id = next((c.params["SecretId"] for c in step.changes if "SecretId" in c.params), None)
    if secret_id is None or facts is None or facts.pending_key is None:
        raise ApplyError("no pending access key to prove")
    got = clients.client("secretsmanager").get_secret_value(SecretId=secret_id, VersionStage="AWSPENDING")
    value = str(got["SecretString"])
    protect_secret(value)
    return value


def prove_key(clients: AwsClients, key_json: str, user_arn: str) -> str:
    """``sts:GetCallerIdentity`` signed with the key; return its id; ``ApplyError`` unless it answers as the user.

    The request's ``Authorization`` header is checked to carry the key's id, so the proof is made
    with the new key and not with the caller's own credentials.
    """
    import boto3
    from botocore.exceptions import ClientError

    key = json.loads(key_json)
    protect_secret(key["SecretAccessKey"])
    template = clients.client("sts")
    session = boto3.session.Session(aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                                    region_name=template.meta.region_name)
    sts = session.client("sts", endpoint_url=template.meta.endpoint_url)
    signed_with: list[str] = []

    def record(request: Any, **_: Any) -> None:
        header = request.headers.get("Authorization", b"")
        text = header.decode() if isinstance(header, bytes) else str(header)
        if "Credential=" in text:
            signed_with.append(text.split("Credential=", 1)[1].split("/", 1)[0])

    sts.meta.events.register("before-send.sts", record)
    for attempt in range(PROOF_ATTEMPTS):
        try:
            arn = sts.get_caller_identity()["Arn"]
            break
        except ClientError as error:
            if error_code(error) != "InvalidClientTokenId" or attempt == PROOF_ATTEMPTS - 1:
                raise ApplyError(f"Failed to prove the new access key: {error_code(error)}") from None
            time.sleep(PROOF_DELAY_SECONDS)
    if not signed_with or signed_with[-1] != key["AccessKeyId"]:
        raise ApplyError("Failed to prove the new access key: the request was not signed with it")
    if arn != user_arn:
        raise ApplyError(f"Failed to prove the new access key: it answered as {arn}, not as {user_arn}")
    return str(key["AccessKeyId"])


def now_utc() -> datetime:
    return datetime.now(UTC)
