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
