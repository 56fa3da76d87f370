"""Development tooling, not shipped: the demo driver (``make run`` / ``make up``) and its seeder.

Run from the repository root, e.g. ``python -m tools.demo run``.
"""
