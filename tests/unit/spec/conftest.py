"""Fixtures for the playbook-validation tests."""

from __future__ import annotations

import botocore.client
import pytest


@pytest.fixture
def api_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every botocore API call attempted (validation must stop bad input before any)."""
    calls: list[str] = []
    original = botocore.client.BaseClient._make_api_call

    def spy(self, operation_name, api_params):  # type: ignore[no-untyped-def]
        calls.append(operation_name)
        return original(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", spy)
    return calls
