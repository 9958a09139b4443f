#!/usr/bin/env bash
# Start an MLflow tracking server for xsweep sweeps.
#
# Defaults: SQLite and local artifacts in ./mlflow-server/, bound to 127.0.0.1:5000.
# Override with the environment:
#   MLFLOW_BACKEND_STORE_URI   e.g. postgresql+psycopg2://user@db-host:5432/mlflow
#   MLFLOW_ARTIFACTS_DESTINATION  e.g. s3://bucket/xsweep (S3-compatible; set AWS_* / MLFLOW_S3_ENDPOINT_URL)
#   MLFLOW_HOST, MLFLOW_PORT   where to listen (keep 127.0.0.1 unless the network is trusted)
#   MLFLOW_ALLOWED_HOSTS       Host headers the server answers, e.g. 203.0.113.7:5000 (MLflow's
#                              default: localhost and private addresses)
# Trials then use: xsweep launch --tracking-uri http://HOST:PORT ...
set -euo pipefail

STATE_DIR="${XSWEEP_MLFLOW_DIR:-$PWD/mlflow-server}"
mkdir -p "$STATE_DIR"

extra=()
if [[ -n "${MLFLOW_ALLOWED_HOSTS:-}" ]]; then
    extra+=(--allowed-hosts "$MLFLOW_ALLOWED_HOSTS")
fi

exec mlflow server \
    --backend-store-uri "${MLFLOW_BACKEND_STORE_URI:-sqlite:///$STATE_DIR/mlflow.db}" \
    --artifacts-destination "${MLFLOW_ARTIFACTS_DESTINATION:-$STATE_DIR/artifacts}" \
    --host "${MLFLOW_HOST:-127.0.0.1}" \
    --port "${MLFLOW_PORT:-5000}" \
    "${extra[@]}"
