"""Airflow DAGs for the playbooks: one DAG per file in include/playbooks/ (``$IAMFLOW_PLAYBOOKS_DIR``).

Each resource is a task, ordered by the references between resources, and the last task prints the
PLAY RECAP. Trigger with ``{"check_mode": true}`` to plan without changing anything. Parsing makes
no AWS call; a playbook that does not validate becomes a placeholder DAG tagged ``invalid`` (see
``iamflow.airflow.dag_factory``).
"""

from __future__ import annotations

from iamflow.airflow.dag_factory import build_playbook_dags

globals().update(build_playbook_dags())
