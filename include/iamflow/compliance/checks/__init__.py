"""The checks, one module per family; importing a module registers its checks (see ``registry.load_checks``)."""

from __future__ import annotations
