"""Small helpers shared by the IAM resource handlers (reads, tags, documents)."""

from __future__ import annotations

from typing import Any

from iamflow.aws.errors import not_found
from iamflow.policy.document import DEFAULT_VERSION, normalize_policy, parse_document
from iamflow.policy.tags import compare_tags, tags_from_list, tags_to_list
from iamflow.resources.base import Adopt, Change, PlanEnv, dumps
from iamflow.spec import names
from iamflow.spec.models import ResourceBase

# The tag iamflow puts on every object it creates that takes tags: ``<playbook>/<kind>.<name>``
# (user pools keep their own ``<playbook>/<pool>``). It finds objects that have no name of their
# own (KMS keys) and tells iamflow's from others'. It is never purged, and never added to an
# object iamflow did not create.
ID_TAG = names.ID_TAG


def id_tag_value(env: PlanEnv, resource: ResourceBase) -> str:
    """The ``iamflow:id`` value of an object ``resource`` creates: ``<playbook>/<kind>.<name>``."""
    return f"{env.playbook.name}/{resource.key}"


def creation_tags(env: PlanEnv, resource: ResourceBase, tags: dict[str, str] | None) -> dict[str, str]:
    """The tags a create sets: the desired ones and iamflow's ``iamflow:id``."""
    return {**(tags or {}), ID_TAG: id_tag_value(env, resource)}


def adopt_by_name(service: str, operation: str, **ids: str) -> Adopt:
    """An ``adopt`` for a create that is idempotent by name: the object, read by that name, or None.

    IAM's creates are (a retry of a create whose answer was lost fails with ``EntityAlreadyExists``):
    their retries stay on, and the object that answer names is the one the create made, or one made
    meanwhile under the same name, which the read would have found and managed all the same.
    """

    def adopt(clients: Any, params: dict[str, Any]) -> dict[str, Any] | None:
        got = not_found(clients.client(service), operation, **ids)
        return None if got is None else dict(got)

    return adopt


def desired_document(document: dict[str, Any] | str | None) -> dict[str, Any]:
    """Return a playbook document (placeholders already filled by the engine) parsed to a dict."""
    if document is None:  # the schema requires the document wherever a plan reaches this
        raise ValueError("a document is required here")
    return parse_document(document)


def current_document(document: dict[str, Any] | str) -> dict[str, Any]:
    """Parse a document as IAM returns it (a dict, a JSON string, or URL-encoded JSON)."""
    return parse_document(document)


def view_document(document: dict[str, Any] | None) -> dict[str, Any] | None:
    """Return a document in its normal form, for a readable and stable diff."""
    return None if document is None else normalize_policy(document)


def read_tags(item: dict[str, Any]) -> dict[str, str]:
    """Tags of a get_* response item as a map (IAM omits the key when there are none)."""
    return tags_from_list(item.get("Tags") or [], "Key", "Value")


def tag_changes(
    current: dict[str, str],
    desired: dict[str, str] | None,
    *,
    purge: bool,
    service: str,
    tag_op: str,
    untag_op: str,
    id_params: dict[str, str],
    label: str,
) -> tuple[list[Change], dict[str, str]]:
    """Plan untag/tag calls from current to desired tags; return them and the tags afterwards.

    Removal comes first so that a rename never crosses IAM's 50-tags limit half-way.
    """
    to_set, to_remove = compare_tags(current, desired, purge=purge)
    to_remove = [k for k in to_remove if k != ID_TAG]  # iamflow's own mark stays
    changes: list[Change] = []
    if to_remove:
        changes.append(
            Change(
                service,
                untag_op,
                {**id_params, "TagKeys": sorted(to_remove)},
                f"remove tags {', '.join(sorted(to_remove))} from {label}",
            )
        )
    if to_set:
        changes.append(
            Change(
                service,
                tag_op,
                {**id_params, "Tags": tags_to_list(to_set, "Key", "Value")},
                f"set tags {', '.join(sorted(to_set))} on {label}",
            )
        )
    after = {k: v for k, v in current.items() if k not in set(to_remove)}
    after.update(to_set)
    return changes, dict(sorted(after.items()))


def desired_tags(env: PlanEnv, resource: ResourceBase) -> dict[str, str] | None:
    """The resource's tags merged with the playbook defaults (None: unmanaged)."""
    return env.tags_for(resource)


def last_segment(arn: str) -> str:
    """The name at the end of an IAM ARN (``arn:aws:iam::1:policy/a/b`` → ``b``), for summaries."""
    return arn.rsplit("/", 1)[-1]


def render_for_api(document: dict[str, Any]) -> str:
    """Serialise a document for IAM, stating ``Version`` when the playbook left it out.

    Without it IAM assumes the 2008-10-17 language (and moto refuses the document), while our
    comparison treats a missing Version as 2012-10-17: sending it keeps the two in agreement.
    """
    if "Version" not in document:
        document = {"Version": DEFAULT_VERSION, **document}
    return dumps(document)
