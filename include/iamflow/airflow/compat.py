"""What differs between the Airflow 3 minors iamflow supports (3.1 up to, not including, 4).

- ``AirflowException``, ``AirflowFailException`` and ``AirflowSkipException`` are importable from ``airflow.sdk.exceptions``
  since Airflow 3.2; 3.1 has them only in ``airflow.exceptions`` (its task runner handles those).
- Human-in-the-loop approvals (``ApprovalOperator``): from 3.3 the task waits in the
  ``AWAITING_INPUT`` state and needs no triggerer; on 3.1 and 3.2 it defers to the triggerer, which
  must run (MWAA, Astronomer and the official chart run one) and under ``airflow dags test`` polls
  in process. The operator code is the same either way (the standard provider picks the path).
"""

from __future__ import annotations

try:
    from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException
except ImportError:  # Airflow 3.1
    from airflow.exceptions import (  # type: ignore[no-redef]
        AirflowException,
        AirflowFailException,
        AirflowSkipException,
    )

__all__ = ["AirflowException", "AirflowFailException", "AirflowSkipException"]
