"""Generate secret values from a playbook's ``generate`` / ``template`` (with ``secrets``, locally).

Generation is local (the ``secrets`` module) rather than ``GetRandomPassword``: no API call, no
value on the wire twice, and the same result in check mode and against any endpoint.
"""

from __future__ import annotations

import json
from typing import Any

from iamflow.secrets.hygiene import random_string
from iamflow.spec.kinds_secrets import GenerateSpec, Secret, character_classes


def generate_string(spec: GenerateSpec) -> str:
    """Return a random string following ``spec`` (one character of each class when required)."""
    return random_string(character_classes(spec), spec.length, each_class=spec.require_each_included_type)


def _render(template: Any) -> Any:
    if isinstance(template, dict):
        if set(template) == {"generate"}:
            return generate_string(GenerateSpec.model_validate(template["generate"] or {}))
        return {k: _render(v) for k, v in template.items()}
    return template


def render_value(secret: Secret) -> str:
    """Return a fresh value for ``secret``: a generated string, or its template as JSON."""
    if secret.template is not None:
        return json.dumps(_render(secret.template), separators=(",", ":"))
    return generate_string(secret.generate or GenerateSpec())


def describe_value(secret: Secret) -> str:
    """Say what the value looks like, never what it is (for plans and notes)."""
    if secret.template is not None:
        fields = sorted(_generated_fields(secret.template, ""))
        return f"JSON with fields {', '.join(sorted(secret.template))} (generated: {', '.join(fields)})"
    spec = secret.generate or GenerateSpec()
    return f"a generated string of {spec.length} characters"


def _generated_fields(template: dict[str, Any], prefix: str) -> list[str]:
    out: list[str] = []
    for k, v in template.items():
        if isinstance(v, dict) and set(v) == {"generate"}:
            out.append(prefix + k)
        elif isinstance(v, dict):
            out.extend(_generated_fields(v, f"{prefix}{k}."))
    return out
