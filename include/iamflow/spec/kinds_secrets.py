"""Playbook schema of the secrets resource kinds (registered into RESOURCE_MODELS on import)."""

from __future__ import annotations
