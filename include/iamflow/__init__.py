"""iamflow: declare AWS identity-security posture in playbooks, converge it, and prove it holds."""

from __future__ import annotations

__version__ = "0.1.0"
