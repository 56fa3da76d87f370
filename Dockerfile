# iamflow's Airflow image: the official image, pinned, plus the locked requirements and the iamflow
# package. Build: `docker compose build` (docker-compose.yaml builds it for every Airflow service).
#
# The tag must match `apache-airflow==` in requirements.txt (tests/deploy/test_compose.py checks it).
FROM apache/airflow:3.3.2-python3.11

ARG AIRFLOW_VERSION=3.3.2

USER root
# the report folder and the UI passwords file live on volumes; created here so that named volumes
# inherit the airflow user's ownership
RUN mkdir -p /opt/airflow/reports /opt/airflow/auth \
    && chown -R airflow:0 /opt/airflow/reports /opt/airflow/auth
USER airflow

# Naming apache-airflow at the image's own version next to the lock is the constraints approach of
# the official image: pip may add and pin packages, but never moves Airflow itself.
COPY --chown=airflow:0 requirements.txt /opt/airflow/requirements.txt
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -r /opt/airflow/requirements.txt

# The iamflow package lives in include/ (pyproject.toml: package-dir include). An editable install
# points at /opt/airflow/include, which docker-compose.yaml also mounts from the checkout, so
# playbooks, policies and code changes apply without a rebuild; the copy keeps the image usable alone.
COPY --chown=airflow:0 pyproject.toml setup.py /opt/airflow/
COPY --chown=airflow:0 include/ /opt/airflow/include/
RUN pip install --no-cache-dir --no-deps -e /opt/airflow
ENV PYTHONPATH=/opt/airflow/include \
    IAMFLOW_PLAYBOOKS_DIR=/opt/airflow/include/playbooks \
    IAMFLOW_REPORT_DIR=/opt/airflow/reports
