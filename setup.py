"""Package list for setuptools: every ``iamflow*`` package below include/, plus ``iamflow.defaults``.

``iamflow.defaults`` has no folder of its own: pyproject.toml maps it onto include/, so the wheel
ships the repository's own configuration files (its package-data) as the defaults of
``iamflow.settings``. Everything else about the package is in pyproject.toml.
"""

from setuptools import find_packages, setup

setup(packages=[*find_packages(where="include", include=["iamflow", "iamflow.*"]), "iamflow.defaults"])
