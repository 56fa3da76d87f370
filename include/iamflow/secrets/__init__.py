"""Secrets Manager beyond converge: value generation, rotation verification and its CLI.

Nothing in this package logs, returns or raises with a secret value: a value read for a check
lives in a local variable of the function that checks it.
"""

from __future__ import annotations
