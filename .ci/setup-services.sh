#!/usr/bin/env bash
# Services the distributed test needs (tests/distributed): Debian's PostgreSQL and Redis binaries,
# and the Python clients of the CeleryExecutor in .venv. Nothing is started here, and no system
# service is left running: the test starts its own throwaway PostgreSQL cluster and Redis server
# on free ports of 127.0.0.1 and stops them.
#
# Idempotent and quiet; a no-op (well under a second) when everything is already installed.
# Needs root (or sudo) only when a Debian package is missing.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

have_postgres() { compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null && compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null; }
have_redis() { command -v redis-server >/dev/null 2>&1; }

missing=()
have_postgres || missing+=(postgresql)
have_redis || missing+=(redis-server)

if ((${#missing[@]})); then
    sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 || { echo "setup-services: need root to install ${missing[*]}" >&2; exit 1; }
        sudo=(sudo)
    fi
    echo "setup-services: installing ${missing[*]} (Debian packages)" >&2
    # Keep the packages' own services from being started by the install (policy-rc.d answering
    # 101 = "action not allowed"): the test runs its own instances on free ports.
    policy=/usr/sbin/policy-rc.d
    made_policy=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
        "${sudo[@]}" chmod 755 "$policy"
        made_policy=1
    fi
    trap '[[ $made_policy -eq 1 ]] && "${sudo[@]}" rm -f "$policy"' EXIT
    export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1
    log=$(mktemp)
    if ! { "${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        exit 1
    fi
    rm -f "$log"
    have_postgres || { echo "setup-services: PostgreSQL's initdb/pg_ctl still missing after the install" >&2; exit 1; }
    have_redis || { echo "setup-services: redis-server still missing after the install" >&2; exit 1; }
fi

# The CeleryExecutor's Python side: the provider, Celery with its Redis transport, and the
# PostgreSQL drivers (psycopg2 for the metadata DB and Celery's results, asyncpg for Airflow's async engine). They are pinned in requirements.txt (so `make venv` installs them too); this
# only fills in a venv made before they were added there.
if [[ -x .venv/bin/python ]] && ! .venv/bin/python -c '
import importlib.metadata as m
for name in ("apache-airflow-providers-celery", "celery", "redis", "psycopg2-binary", "asyncpg"):
    m.version(name)' >/dev/null 2>&1; then
    echo "setup-services: installing the CeleryExecutor's Python packages into .venv" >&2
    pins=$(grep -E '^(apache-airflow-providers-celery|celery|kombu|redis|psycopg2-binary|asyncpg|packaging)==' requirements.txt || true)
    # shellcheck disable=SC2086 # one pin per word
    .venv/bin/python -m pip install --disable-pip-version-check -q ${pins:-apache-airflow-providers-celery 'celery[redis]<5.7' psycopg2-binary asyncpg}
fi
