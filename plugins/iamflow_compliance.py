"""The Compliance view for a checkout that runs without installing iamflow (``PYTHONPATH=include``).

An installed iamflow (``pip install``, ``make venv``'s editable install) registers the plugin
through its ``airflow.plugins`` entry point; it is exposed here only when that entry point is
absent, as Airflow refuses a plugin name registered twice.
"""

from __future__ import annotations

from importlib.metadata import entry_points

if not any(ep.value.startswith("iamflow.") for ep in entry_points(group="airflow.plugins")):
    from iamflow.airflow.plugin import IamflowPlugin

    __all__ = ["IamflowPlugin"]
