#!/usr/bin/env bash
# with-services.sh — runs a command with the local test services up (PostgreSQL, S3 via s3s-fs,
# SQS via moto) and their settings from .tools/run/services.env in its environment, then always
# stops the services (also on error, Ctrl-C or SIGTERM) and exits with the command's exit code.
# KEEP_SERVICES=1 leaves them running for repeated local runs (stop with scripts/services.sh stop).
# Usage: scripts/with-services.sh CMD [ARGS...]
#   e.g. scripts/with-services.sh cargo test --workspace
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SERVICES="$ROOT/scripts/services.sh"

if [ "$#" -eq 0 ]; then
  echo "usage: $0 CMD [ARGS...]" >&2
  exit 2
fi

STOPPED=0
UP=0
# shellcheck disable=SC2317  # invoked via trap
cleanup() {
  local rc=$?
  if [ "$STOPPED" -eq 0 ] && [ "${KEEP_SERVICES:-0}" != 1 ]; then
    STOPPED=1
    "$SERVICES" stop || echo "[with-services] WARNING: services.sh stop failed" >&2
  elif [ "$UP" -eq 1 ] && [ "${KEEP_SERVICES:-0}" = 1 ]; then
    echo "[with-services] KEEP_SERVICES=1: services left running (scripts/services.sh stop)" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# services.sh stops what it started itself when start fails.
env_file="$("$SERVICES" start)"
UP=1

# Keep the real environment's AWS profile/session/endpoint settings from leaking into the test run.
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_SECURITY_TOKEN AWS_ENDPOINT_URL \
  AWS_CONTAINER_CREDENTIALS_RELATIVE_URI AWS_CONTAINER_CREDENTIALS_FULL_URI \
  AWS_WEB_IDENTITY_TOKEN_FILE AWS_ROLE_ARN
# shellcheck source=/dev/null
. "$env_file"

set +e
"$@"
rc=$?
set -e
exit "$rc"
