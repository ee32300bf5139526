#!/usr/bin/env bash
# with-dev-stack.sh — runs a command against the whole backend as `make dev` serves it
# (services, migrations, the sign-in stand-in, every function behind `cargo lambda watch`),
# on a free loopback port, with STEEL_API_URL set to it; stops what it started afterwards and
# exits with the command's status. Reuses services that are already up (make test starts them).
# Usage: scripts/with-dev-stack.sh CMD [ARGS...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ "$#" -eq 0 ]; then echo "usage: $0 CMD [ARGS...]" >&2; exit 2; fi
if [ -z "${DATABASE_URL:-}" ]; then exec scripts/with-services.sh "$0" "$@"; fi

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
mkdir -p .tools/run
LOG=".tools/run/dev-stack-$PORT.log"
# A session of its own, so one signal reaches the whole tree (dev.sh forwards to cargo-lambda).
# Served as built, not rebuilt on change (DEV_IGNORE_CHANGES, see dev.sh): a command's own
# builds and the services' writes would otherwise restart the functions under it.
KEEP_SERVICES=1 DEV_PORT="$PORT" DEV_IGNORE_CHANGES="${DEV_IGNORE_CHANGES:-1}" setsid scripts/dev.sh >"$LOG" 2>&1 &
DEV_PID=$!
stop() {
  kill -TERM -- "-$DEV_PID" 2>/dev/null || true
  wait "$DEV_PID" 2>/dev/null || true
}
trap stop EXIT
# dev.sh builds every function before it serves: a cold build takes many minutes.
for _ in $(seq 1 3600); do
  if curl -s -o /dev/null "http://127.0.0.1:$PORT/"; then break; fi
  if ! kill -0 "$DEV_PID" 2>/dev/null; then echo "make dev exited early:"; tail -30 "$LOG"; exit 1; fi
  sleep 1
done
export STEEL_API_URL="http://127.0.0.1:$PORT"
# The functions' log, for tests that check what the backend wrote (no note name or content
# of an encrypted vault).
export STEEL_DEV_LOG="$PWD/$LOG"
# cargo lambda watch builds and starts each function on its first request: do that now, one
# route at a time, so the command's own requests are not the ones that wait minutes.
echo "[dev-stack] warming up every function" >&2
for route in "POST /auth/login" "POST /auth/refresh" "POST /devices/register" "GET /vault/state" \
    "POST /vault/push" "POST /vault/push/confirm" "POST /vault/pull" "POST /vault/packs" "POST /vault/bulk" "POST /vault/delete" \
    "GET /vault/history" "GET /vault/deleted" "POST /vault/restore" "GET /vault/keys" "GET /vault/migration"; do
  curl -s -o /dev/null --max-time 900 -X "${route%% *}" -H 'content-type: application/json' \
    -d '{}' "$STEEL_API_URL${route#* }" || true
done
echo "[dev-stack] backend at $STEEL_API_URL (log $LOG)" >&2
set +e
"$@"
rc=$?
set -e
if [ "$rc" -ne 0 ]; then echo "[dev-stack] command failed ($rc); last lines of the backend log:" >&2; tail -40 "$LOG" >&2; fi
exit "$rc"
