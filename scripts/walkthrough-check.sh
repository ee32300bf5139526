#!/usr/bin/env bash
# walkthrough-check.sh — part of `make test`: brings the backend up the way `make dev` does
# (reusing the services already running), runs the README's walk-through against it, and
# stops what it started.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
LOG=".tools/run/walkthrough-dev.log"
# A session of its own, so one signal reaches the whole tree (the wrapper defers its own
# traps until its child exits; dev.sh forwards to cargo-lambda).
KEEP_SERVICES=1 DEV_PORT="$PORT" setsid scripts/dev.sh >"$LOG" 2>&1 &
DEV_PID=$!
stop() {
  kill -TERM -- "-$DEV_PID" 2>/dev/null || true
  wait "$DEV_PID" 2>/dev/null || true
}
trap stop EXIT
for _ in $(seq 1 180); do
  if curl -s -o /dev/null "http://127.0.0.1:$PORT/"; then break; fi
  if ! kill -0 "$DEV_PID" 2>/dev/null; then echo "make dev exited early:"; tail -30 "$LOG"; exit 1; fi
  sleep 1
done
if ! scripts/walkthrough.sh "http://127.0.0.1:$PORT"; then
  echo "walkthrough failed; dev log:"; tail -40 "$LOG"
  exit 1
fi
