"""docs/playbook-reference.md is what tools/gen_reference.py prints from the schema, and it is complete.

Regenerate after changing a model, adding a kind or an ``IAMFLOW_*`` variable:
``PYTHONPATH=include .venv/bin/python -m tools.gen_reference``.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

import pytest
from pydantic import Field

from iamflow.spec.models import RESOURCE_MODELS, ResourceBase
from tools import gen_reference
from tools.gen_reference import DOC, REGENERATE, render

STALE = f"{DOC.name} is stale: regenerate it with `{REGENERATE}`"


def test_the_committed_reference_is_what_the_generator_prints():
    assert DOC.read_text(encoding="utf-8") == render(), STALE


def test_every_kind_and_every_field_is_in_the_reference():
    text = render()
    for kind, model in RESOURCE_MODELS.items():
        section = text.split(f"### `{kind}`\n", 1)[1].split("\n### ", 1)[0]
        for name, info in model.model_fields.items():
            if name in ("kind", "name", "state", "waive"):
                continue
            assert f"| `{info.alias or name}` |" in section, f"{kind}.{name} is missing"
        assert "```yaml" in section, f"{kind} has no example"


def test_the_fields_a_user_had_to_find_in_the_code_are_documented():
    text = render()
    for needle in ("| `inline_policies` |", "### RotationSpec", "| `lambda_arn` |", "| `template` |",
                   "| `generate` |", "| `users` |", "| `exclusive` |", "`IAMFLOW_PLAYBOOKS_DIR`",
                   "${env:NAME}", "--var name=value"):
        assert needle in text, needle


def test_every_iamflow_variable_the_code_uses_is_described():
    undocumented = [name for name, text, _files in gen_reference.variables() if not text]
    assert undocumented == [], (f"describe {', '.join(undocumented)} in iamflow/settings.py (its table) or in "
                                f"OTHER_VARIABLES of tools/gen_reference.py, then: {REGENERATE}")
    used = set(gen_reference.used_variables())
    assert {"IAMFLOW_PLAYBOOKS_DIR", "IAMFLOW_MAX_PLAYBOOK_BYTES", "IAMFLOW_BOOTSTRAP_EXTERNAL_ID"} <= used
    documented = set(re.findall(r"^\| `(IAMFLOW_[A-Z0-9_]+)` \|", render(), re.M))
    assert used <= documented


def test_a_new_kind_is_documented_without_touching_the_generator(monkeypatch: pytest.MonkeyPatch):
    """A kind another module registers appears, with its fields, defaults, bounds and comments."""

    class Widget(ResourceBase):
        """A test widget."""

        reference_fields: ClassVar[dict[str, tuple[str, ...]]] = {"role": ("iam_role",)}
        kind: Literal["test_widget"]
        # how many sprockets it has
        size: int = Field(default=3, ge=1, le=9)
        colour: Literal["red", "blue"]
        role: str | None = None

    monkeypatch.setitem(RESOURCE_MODELS, "test_widget", Widget)
    text = render()
    section = text.split("### `test_widget`\n", 1)[1].split("\n### ", 1)[0]
    assert "A test widget." in section
    assert '| `size` | integer | `3` | ≥ 1, ≤ 9 | how many sprockets it has |' in section
    assert '| `colour` | "red" \\| "blue" | **required** |' in section
    assert "a reference: the name of a resource of kind `iam_role`" in section
    assert "colour: <\"red\" | \"blue\">" in section  # the example of a kind no shipped playbook uses
    assert render() != DOC.read_text(encoding="utf-8")  # and the staleness test would now fail


def test_type_names_are_readable():
    from iamflow.spec.kinds_secrets import RotationSpec

    cases: list[tuple[Any, str]] = [(list[str] | None, "list[string]"), (dict[str, int], "map[string, integer]"),
                                    (Literal["ON", "OFF"], '"ON" | "OFF"'),
                                    (RotationSpec | None, "[RotationSpec](#rotationspec)")]
    for annotation, expected in cases:
        assert gen_reference.type_name(annotation) == expected
