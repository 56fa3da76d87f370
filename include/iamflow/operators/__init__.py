"""Airflow operators over the iamflow engine (cheap to import: the engine loads inside ``execute``)."""

from __future__ import annotations

from iamflow.operators.converge import IamflowResourceOperator, PlaybookInvalidOperator
from iamflow.operators.recap import PlaybookRecapOperator

__all__ = ["IamflowResourceOperator", "PlaybookInvalidOperator", "PlaybookRecapOperator"]
