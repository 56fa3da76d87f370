"""iamflow as an Airflow provider: what ``airflow providers list`` shows, and the plugin it brings.

Airflow reads :func:`get_provider_info` through the ``apache_airflow_provider`` entry point of the
installed package, so it must stay cheap: no import beyond the standard library. The public
interface Airflow users build on is listed here and in the README ("Use iamflow in your own
Airflow"): the operators (:mod:`iamflow.airflow.operators`), the sensor
(:mod:`iamflow.airflow.sensors`), the trigger (:mod:`iamflow.airflow.triggers`) and the DAG
builders (:mod:`iamflow.airflow.dag_factory`). Everything else in the package is internal.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

PACKAGE = "iamflow"


def _version() -> str:
    try:
        return version(PACKAGE)
    except PackageNotFoundError:  # a checkout used without installing it
        return "0+unknown"


def get_provider_info() -> dict[str, Any]:
    """Return the provider information Airflow validates against its provider schema."""
    return {
        "package-name": PACKAGE,
        "name": "iamflow",
        "description": "AWS identity security on Airflow: playbooks that converge IAM, KMS, Secrets Manager "
        "and Cognito, and a nightly CIS compliance sweep with its Compliance view.",
        "versions": [_version()],
        "integrations": [
            {
                "integration-name": "iamflow",
                "tags": ["aws"],
            }
        ],
        "operators": [
            {
                "integration-name": "iamflow",
                "python-modules": [
                    "iamflow.airflow.operators.converge",
                    "iamflow.airflow.operators.recap",
                    "iamflow.airflow.operators.sweep",
                    "iamflow.airflow.operators.secrets",
                    "iamflow.airflow.operators.onboarding",
                ],
            }
        ],
        "sensors": [{"integration-name": "iamflow", "python-modules": ["iamflow.airflow.sensors.secrets"]}],
        "triggers": [{"integration-name": "iamflow", "python-modules": ["iamflow.airflow.triggers.secrets"]}],
        "plugins": [{"name": "iamflow", "plugin-class": "iamflow.airflow.plugin.IamflowPlugin"}],
    }
