"""Airflow operators over the iamflow engine (cheap to import: the engine loads inside ``execute``)."""

from __future__ import annotations

from iamflow.airflow.operators.base import IamflowBaseOperator, PlaybookRecapLink
from iamflow.airflow.operators.converge import (
           IamflowBatchOperator,
           IamflowResourceOperator,
           PlaybookInvalidOperator,
)
from iamflow.airflow.operators.recap import PlaybookRecapOperator

__all__ = ["IamflowBaseOperator", "IamflowBatchOperator", "IamflowResourceOperator", "PlaybookInvalidOperator",
           "PlaybookRecapLink", "PlaybookRecapOperator"]
