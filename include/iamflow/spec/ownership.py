"""One owner per object: a resource declared by two playbooks that run together is an error.

Two playbooks that both declare ``iam_role.deploy`` would each converge it to their own
declaration on every apply, and it would never settle. Before any AWS call, the playbooks that
are linted, planned, applied or swept together are checked for objects they both declare. An
object's identity is what makes it one object in AWS (:meth:`ResourceBase.identities`): an IAM
name whatever its path or case, a KMS alias, a secret's name, a user pool's ``iamflow:id`` tag,
a client or group name within its pool.

Playbooks that target disjoint accounts (both with an ``accounts`` list, sharing no account)
never conflict: they declare objects in different places.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from iamflow.errors import Problem
from iamflow.spec.models import Playbook, ResourceBase


@dataclass(frozen=True)
class Declaration:
    """Where one playbook declares an object."""

    source: str
    playbook: str
    resource: str  # kind.name in that playbook


@dataclass(frozen=True)
class Conflict:
    """One object declared by more than one playbook."""

    identity: tuple[str, ...]
    declarations: tuple[Declaration, ...]

    @property
    def what(self) -> str:
        """The object, as a reader names it: ``iam_role deploy`` or ``kms_alias alias/app``."""
        return " ".join(self.identity)

    def message_for(self, source: str) -> str:
        """The problem text as the playbook ``source`` sees it: who else declares the object."""
        others = [d for d in self.declarations if d.source != source] or list(self.declarations)
        where = ", ".join(f"{d.source} (as {d.resource})" for d in others)
        return (f"{self.what} is also declared by {where}; one object has one owner, or every apply would "
                "undo the other's. Keep it in one playbook and refer to it from the others by ARN")


def _targets_overlap(a: Playbook, b: Playbook) -> bool:
    return not a.accounts or not b.accounts or bool(set(a.accounts) & set(b.accounts))


def find_conflicts(playbooks: Iterable[Playbook]) -> list[Conflict]:
    """Every object that two or more of ``playbooks`` declare (in order of first declaration)."""
    books = list(playbooks)
    seen: dict[tuple[str, ...], list[tuple[Playbook, ResourceBase]]] = {}
    for book in books:
        for resource in book.resources:
            if not isinstance(resource, ResourceBase):
                continue
            for identity in dict.fromkeys(resource.identities(book.name)):
                seen.setdefault(identity, []).append((book, resource))
    conflicts: list[Conflict] = []
    for identity, owners in seen.items():
        books_of = {id(book): book for book, _ in owners}
        if len(books_of) < 2:
            continue  # declared twice in one playbook: the loader reports that
        unique = list(books_of.values())
        if not any(_targets_overlap(a, b) for i, a in enumerate(unique) for b in unique[i + 1:]):
            continue
        declarations = tuple(Declaration(book.source or book.name, book.name, resource.key)
                             for book, resource in owners)
        conflicts.append(Conflict(identity, declarations))
    return conflicts


def conflict_problems(playbooks: Sequence[Playbook]) -> dict[str, list[Problem]]:
    """The conflicts as problems, per playbook source: each names the resource and the other files."""
    out: dict[str, list[Problem]] = {}
    for conflict in find_conflicts(playbooks):
        for declaration in conflict.declarations:
            name = declaration.resource.split(".", 1)[1]
            out.setdefault(declaration.source, []).append(Problem(
                declaration.source, name, None, conflict.message_for(declaration.source), rule="one-owner",
                code="one-owner"))
    return out


def conflicted_keys(playbooks: Sequence[Playbook]) -> dict[str, dict[str, Conflict]]:
    """playbook source → resource key → its conflict, for the drift check (which reports, not compares)."""
    out: dict[str, dict[str, Conflict]] = {}
    for conflict in find_conflicts(playbooks):
        for declaration in conflict.declarations:
            out.setdefault(declaration.source, {})[declaration.resource] = conflict
    return out
