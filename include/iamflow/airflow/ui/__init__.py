"""The Compliance view served inside the Airflow UI: the sweep's reports as pages and JSON.

:mod:`iamflow.airflow.ui.data` reads the report folder (pure, no Airflow import); :mod:`iamflow.airflow.ui.app`
is the FastAPI app that ``plugins/iamflow_compliance.py`` registers at ``/compliance``.
"""

from __future__ import annotations
