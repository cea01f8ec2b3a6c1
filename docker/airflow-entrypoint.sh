#!/usr/bin/env bash
# Entrypoint of the shop-warehouse image (Dockerfile), before the Airflow image's own /entrypoint.
#
# The Simple auth manager reads its logins' passwords from a JSON file
# (AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE); without one it would generate passwords of its own.
# As natively (stack/environment.py, Environment.airflow_logins), the file is written from `.env`: compose
# gives AIRFLOW_OPERATOR_PASSWORD and AIRFLOW_MONITOR_PASSWORD to the API server only. The file is
# container-local, owner-only, and rewritten at every start, so a password changed in `.env` applies
# on the next `docker compose up`. The variables are dropped before Airflow starts.
set -euo pipefail

if [[ -n "${AIRFLOW_OPERATOR_PASSWORD:-}" || -n "${AIRFLOW_MONITOR_PASSWORD:-}" ]]; then
    : "${AIRFLOW_OPERATOR_PASSWORD:?}" "${AIRFLOW_MONITOR_PASSWORD:?}"
    passwords_file="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE:?is not set}"
    (
        umask 077
        python -c '
import json, os, sys
json.dump(
    {"operator": os.environ["AIRFLOW_OPERATOR_PASSWORD"], "monitor": os.environ["AIRFLOW_MONITOR_PASSWORD"]},
    sys.stdout,
)' >"${passwords_file}"
    )
    unset AIRFLOW_OPERATOR_PASSWORD AIRFLOW_MONITOR_PASSWORD
fi

exec /entrypoint "$@"
