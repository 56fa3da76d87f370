"""The iamflow plugin: the Compliance view in the Airflow UI.

Airflow loads it from the package's ``airflow.plugins`` entry point (and from the provider
information, :mod:`iamflow.airflow.provider`), so an installed iamflow needs no ``plugins/``
folder. Registers :func:`iamflow.airflow.ui.app.create_app` with the api-server at ``/compliance`` and links it
from the navigation as "Compliance". The app reads the sweep's reports from
``$IAMFLOW_REPORT_DIR`` (``./reports`` by default) on each request.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from iamflow.airflow.ui.app import URL_PREFIX, create_app

compliance_app = create_app()


class IamflowPlugin(AirflowPlugin):
    """Serve and link the Compliance view."""

    name = "iamflow"
    fastapi_apps = [{"app": compliance_app, "url_prefix": URL_PREFIX, "name": "iamflow compliance"}]
    external_views = [
        {
            "name": "Compliance",
            "href": f"{URL_PREFIX}/",
            "destination": "nav",
            "url_route": "compliance",
        }
    ]


def _entry_point_plugin() -> type[AirflowPlugin] | None:
    """The class behind the ``airflow.plugins`` entry point: the plugin, unless Airflow loads providers' plugins.

    Airflow loads the plugins a provider declares only with ``[core] lazy_discover_providers =
    False``, and entry-point plugins always; a plugin name seen twice is refused (an import error
    on Airflow 3.3). So exactly one of the two paths registers the plugin: the entry point by
    default, the provider information otherwise. A non-plugin entry point is skipped silently.
    """
    from airflow.configuration import conf

    return IamflowPlugin if conf.getboolean("core", "lazy_discover_providers", fallback=True) else None


entry_point_plugin = _entry_point_plugin()
