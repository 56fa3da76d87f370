"""iamflow's Airflow layer: the only package that imports Airflow (with the AWS hooks in ``iamflow.aws.hooks``).

It holds the DAG factory (:mod:`~iamflow.airflow.dag_factory`, every DAG iamflow ships), the
operators (one base operator, :class:`~iamflow.airflow.operators.base.IamflowBaseOperator`), the
sensors and triggers, notifications and callbacks, and the Compliance view (:mod:`~iamflow.airflow.ui`).

Importing any part of it registers, once, what the engine needs from Airflow without importing it:
Airflow's secret masker with :func:`iamflow.secrets.hygiene.register_masker`, and Airflow's
connections with :func:`iamflow.connections.set_connection_lookup`. Both load Airflow only
when first used, so DAG files stay cheap to parse.
"""

from __future__ import annotations

from iamflow.airflow.connections import register_connection_lookup
from iamflow.airflow.masking import register_masking

register_masking()
register_connection_lookup()
