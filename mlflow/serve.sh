#!/usr/bin/env bash
# Start an MLflow tracking server for xsweep sweeps.
#
# Defaults: SQLite and local artifacts in ./mlflow-server/, bound to 127.0.0.1:5000.
# Override with the environment:
#   MLFLOW_BACKEND_STORE_URI   e.g. postgresql+psycopg2://user@db-host:5432/mlflow
#   MLFLOW_ARTIFACTS_DESTINATION  where the server stores artifacts it receives (proxied: clients
#                              upload through the server; default ./mlflow-server/artifacts)
#   MLFLOW_DEFAULT_ARTIFACT_ROOT  set instead for a cluster: e.g. s3://bucket/xsweep (S3-compatible;
#                              clients set AWS_* / MLFLOW_S3_ENDPOINT_URL). Clients then write
#                              artifacts straight to it: an XL checkpoint does not pass through
#                              the server
#   MLFLOW_HOST, MLFLOW_PORT   where to listen (keep 127.0.0.1 unless the network is trusted)
#   MLFLOW_WORKERS             server worker processes (default 4)
#   MLFLOW_SERVER_ENABLE_JOB_EXECUTION  default false here: MLflow 3's job runner (huey
#                              consumers for GenAI scorers) is a dozen processes polling the
#                              store, which sweeps never use; on two cores they cost the
#                              server a fifth of its metric throughput
#   MLFLOW_ALLOWED_HOSTS       Host headers the server answers, e.g. 203.0.113.7:5000 (MLflow's
#                              default: localhost and private addresses)
#   MLFLOW_AUTH_ADMIN_PASSWORD set: MLflow's basic-auth app, admin user
#                              ${MLFLOW_AUTH_ADMIN_USERNAME:-admin}; the password stays in the
#                              environment (never written to a file). Clients then set
#                              MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD.
# Trials then use: xsweep launch --tracking-uri http://HOST:PORT ...
set -euo pipefail

STATE_DIR="${XSWEEP_MLFLOW_DIR:-$PWD/mlflow-server}"
mkdir -p "$STATE_DIR"

extra=()
if [[ -n "${MLFLOW_ALLOWED_HOSTS:-}" ]]; then
    extra+=(--allowed-hosts "$MLFLOW_ALLOWED_HOSTS")
fi
if [[ -n "${MLFLOW_AUTH_ADMIN_PASSWORD:-}" ]]; then
    # Users without a grant see nothing; the admin user is created on first start.
    cat > "$STATE_DIR/basic_auth.ini" <<INI
[mlflow]
default_permission = ${MLFLOW_AUTH_DEFAULT_PERMISSION:-NO_PERMISSIONS}
database_uri = ${MLFLOW_AUTH_DATABASE_URI:-sqlite:///$STATE_DIR/basic_auth.db}
admin_username = ${MLFLOW_AUTH_ADMIN_USERNAME:-admin}
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
# Each password check is a deliberate PBKDF2 hash; trials make many requests.
auth_cache_ttl_seconds = ${MLFLOW_AUTH_CACHE_TTL_SECONDS:-60}
INI
    export MLFLOW_AUTH_CONFIG_PATH="$STATE_DIR/basic_auth.ini"
    # The auth app's CSRF protection needs a key that survives restarts: made once, kept
    # beside the server's state, readable by its owner only.
    if [[ -z "${MLFLOW_FLASK_SERVER_SECRET_KEY:-}" ]]; then
        key_file="$STATE_DIR/flask_secret_key"
        [[ -s "$key_file" ]] || (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$key_file")
        MLFLOW_FLASK_SERVER_SECRET_KEY="$(cat "$key_file")"
        export MLFLOW_FLASK_SERVER_SECRET_KEY
    fi
    extra+=(--app-name basic-auth)
fi

if [[ -n "${MLFLOW_DEFAULT_ARTIFACT_ROOT:-}" ]]; then
    extra+=(--no-serve-artifacts --default-artifact-root "$MLFLOW_DEFAULT_ARTIFACT_ROOT")
else
    extra+=(--artifacts-destination "${MLFLOW_ARTIFACTS_DESTINATION:-$STATE_DIR/artifacts}")
fi

# The variable is read by `mlflow server` (mlflow/environment_variables.py, MLflow 3.17).
export MLFLOW_SERVER_ENABLE_JOB_EXECUTION="${MLFLOW_SERVER_ENABLE_JOB_EXECUTION:-false}"

exec mlflow server \
    --backend-store-uri "${MLFLOW_BACKEND_STORE_URI:-sqlite:///$STATE_DIR/mlflow.db}" \
    --host "${MLFLOW_HOST:-127.0.0.1}" \
    --port "${MLFLOW_PORT:-5000}" \
    --workers "${MLFLOW_WORKERS:-4}" \
    "${extra[@]}"
