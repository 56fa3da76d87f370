"""Airflow connections as the source of :func:`iamflow.connections.connection_field`."""

from __future__ import annotations

from iamflow.connections import set_connection_lookup


def airflow_connection_field(conn_id: str, field: str) -> str | None:
    """Read ``field`` of the Airflow connection ``conn_id`` (any configured secrets backend applies)."""
    # imported on first use: the AWS hooks load the Amazon provider, too slow for parse time
    from iamflow.aws.hooks import airflow_connection_field as read_field

    return read_field(conn_id, field)


def register_connection_lookup() -> None:
    """Read connection fields from Airflow's connections."""
    set_connection_lookup(airflow_connection_field)
