"""Package list for setuptools: every ``iamflow*`` package below include/, plus ``iamflow.defaults``.

``iamflow.defaults`` has no folder of its own: pyproject.toml maps it onto include/, so the wheel
ships the repository's own configuration files (its package-data) as the defaults of
``iamflow.settings``. Everything else about the package is in pyproject.toml.

The ``iamflow.egg-info`` metadata goes to build/, not include/: there, any process run with
``PYTHONPATH=include`` would see the package's entry points a second time beside the installed
distribution's, and Airflow would register the Compliance plugin twice.
"""

from pathlib import Path

from setuptools import find_packages, setup

(Path(__file__).resolve().parent / "build").mkdir(exist_ok=True)

setup(
    packages=[*find_packages(where="include", include=["iamflow", "iamflow.*"]), "iamflow.defaults"],
    options={"egg_info": {"egg_base": "build"}},
)
