"""Read one field of a named connection, through whatever lookup the runtime registered.

The engine and the compliance code name connections (``targets.yaml``'s ``airflow_connection``)
but never import Airflow: the runtime registers the lookup. The Airflow layer registers
Airflow's when it is imported; the CLI registers :func:`iamflow.aws.hooks.airflow_connection_field`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from iamflow.errors import IamflowError

# (conn_id, field) -> the value, or None when the connection has no such field
ConnectionLookup = Callable[[str, str], "str | None"]

_lookup: ConnectionLookup | None = None
_lock = threading.Lock()


class ConnectionLookupError(IamflowError):
    """A connection field could not be read: no lookup, no such connection, or no such field."""


def set_connection_lookup(lookup: ConnectionLookup | None) -> None:
    """Make ``lookup(conn_id, field)`` the way connection fields are read (None removes it)."""
    global _lookup
    with _lock:
        _lookup = lookup


def connection_lookup() -> ConnectionLookup | None:
    """The registered lookup, if any."""
    with _lock:
        return _lookup


def connection_field(conn_id: str, field: str) -> str:
    """Return ``field`` (``password``, ``login`` or a key of the extra) of the connection ``conn_id``.

    :raises ConnectionLookupError: naming the connection, when no lookup is registered, the
        connection cannot be read, or the field is missing or empty.
    """
    lookup = connection_lookup()
    if lookup is None:
        raise ConnectionLookupError(
            f"Airflow connection {conn_id!r} cannot be read: no connection lookup is registered "
            "(connections are read inside Airflow, or by the iamflow CLI)"
        )
    try:
        value = lookup(conn_id, field)
    except IamflowError:
        raise
    except Exception as exc:
        raise ConnectionLookupError(f"Airflow connection {conn_id!r} cannot be read: {exc}") from exc
    if not value:
        raise ConnectionLookupError(f"Airflow connection {conn_id!r} has no {field!r}")
    return str(value)
