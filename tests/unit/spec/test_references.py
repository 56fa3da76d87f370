"""References between resources: order, reversed order for removal, cycles."""

from __future__ import annotations

import pytest

from iamflow.spec.loader import dependencies, dependency_levels
from iamflow.spec.models import IamInstanceProfile, IamManagedPolicy, IamRole, Playbook

DOC = {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
TRUST = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def _pb(*resources: object) -> Playbook:
    return Playbook(name="t", resources=list(resources))


def test_role_runs_after_its_boundary_and_policies_profile_after_role() -> None:
    pb = _pb(
        IamInstanceProfile(kind="iam_instance_profile", name="prof", role="role"),
        IamRole(kind="iam_role", name="role", trust_policy=TRUST, boundary="bound", managed_policies=["pol"]),
        IamManagedPolicy(kind="iam_managed_policy", name="bound", document=DOC),
        IamManagedPolicy(kind="iam_managed_policy", name="pol", document=DOC),
    )
    assert dependency_levels(pb) == [
        ["iam_managed_policy.bound", "iam_managed_policy.pol"],
        ["iam_role.role"],
        ["iam_instance_profile.prof"],
    ]


def test_removal_reverses_the_order() -> None:
    pb = _pb(
        IamRole(kind="iam_role", name="role", state="absent", boundary="bound"),
        IamManagedPolicy(kind="iam_managed_policy", name="bound", state="absent"),
    )
    # the role references the boundary; both go away, so the role is deleted first
    assert dependencies(pb)["iam_managed_policy.bound"] == {"iam_role.role"}
    assert dependency_levels(pb) == [["iam_role.role"], ["iam_managed_policy.bound"]]


def test_arn_references_are_external() -> None:
    role = IamRole(kind="iam_role", name="r", trust_policy=TRUST,
                   managed_policies=["arn:aws:iam::aws:policy/ReadOnlyAccess"])
    assert role.references() == []
    assert dependency_levels(_pb(role)) == [["iam_role.r"]]


def test_cycle_is_reported_with_its_members() -> None:
    # a cycle needs two-way references: a profile whose role is being removed while... build one directly
    pb = _pb(
        IamRole(kind="iam_role", name="a", state="absent", boundary="b"),
        IamManagedPolicy(kind="iam_managed_policy", name="b", state="absent"),
    )
    deps = dependencies(pb)
    deps["iam_role.a"].add("iam_managed_policy.b")  # force a loop to exercise the detector
    from iamflow.spec import loader

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(loader, "dependencies", lambda _pb: deps)
        with pytest.raises(ValueError, match="reference cycle: .*iam_role.a.*iam_managed_policy.b|reference cycle"):
            loader.dependency_levels(pb)


def test_explicit_null_is_managed_and_omitted_is_not() -> None:
    role = IamRole.model_validate({"kind": "iam_role", "name": "r", "trust_policy": TRUST, "boundary": None})
    assert role.is_managed("boundary")
    assert not role.is_managed("managed_policies")
