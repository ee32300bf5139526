#!/usr/bin/env bash
# dev.sh — `make dev`: the whole backend on this machine. Starts the local services, applies
# the migrations, serves the local sign-in stand-in (a JWKS of the development key in
# scripts/dev-idp/, which the apple and google providers point at), then serves every
# function through `cargo lambda watch`, which routes HTTP requests as API Gateway would
# (see [workspace.metadata.lambda.watch.router] in Cargo.toml) and rebuilds on change.
# Ctrl-C stops the functions, the stand-in and the services.
# DEV_PORT (default 9000) picks the port; DEV_PROFILE a cargo profile for the functions
# (default: dev; `make bench` serves them with bench-fast). DEV_IGNORE_CHANGES=1 serves them
# without rebuilding on change (`--ignore-changes`, and from a directory with nothing to
# watch): a change to the tree (an edit, a git checkout, a burst of writes under .tools/run
# or target/) makes `cargo lambda watch` kill and restart the functions, and a request in
# flight then never gets its answer (its client waits out its timeout); scripts/with-dev-stack.sh
# (the tests, `make bench`) sets it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if [ -z "${STEEL_DEV_INNER:-}" ]; then
  STEEL_DEV_INNER=1 exec scripts/with-services.sh "$0" "$@"
fi

PORT="${DEV_PORT:-9000}"
RUN="$ROOT/.tools/run"
SECRET_FILE="$RUN/dev-jwt-secret"
# A random signing key per checkout, kept across runs so dev tokens survive a restart.
[ -s "$SECRET_FILE" ] || python3 -c 'import secrets; print(secrets.token_urlsafe(48))' > "$SECRET_FILE"

# The sign-in stand-in: a static JWKS on loopback. Tokens come from
# `cargo run -q --bin dev-token -- --sub alice`.
IDP_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
python3 -m http.server --bind 127.0.0.1 --directory "$ROOT/scripts/dev-idp" "$IDP_PORT" \
  >"$RUN/dev-idp.log" 2>&1 &
IDP_PID=$!
WATCH_PID=""
stop_dev() {
  [ -n "$WATCH_PID" ] && kill -INT "$WATCH_PID" 2>/dev/null || true
  kill "$IDP_PID" 2>/dev/null || true
}
trap stop_dev EXIT

ENV_FILE="$RUN/dev.env"
{
  for name in DATABASE_URL AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION AWS_DEFAULT_REGION \
      AWS_EC2_METADATA_DISABLED AWS_ENDPOINT_URL_S3 AWS_ENDPOINT_URL_SQS S3_FORCE_PATH_STYLE \
      S3_BUCKET S3_REGION SQS_QUEUE_URL PURGE_QUEUE_URL; do
    printf '%s=%s\n' "$name" "${!name}"
  done
  printf 'JWT_SECRET=%s\n' "$(cat "$SECRET_FILE")"
  printf 'RUST_LOG="%s"\n' "${RUST_LOG:-info}"
  printf 'APPLE_CLIENT_ID=%s\n' "${APPLE_CLIENT_ID:-com.steelnotes.dev}"
  printf 'GOOGLE_CLIENT_IDS=%s\n' "${GOOGLE_CLIENT_IDS:-steel-dev.apps.googleusercontent.com}"
  printf 'APPLE_JWKS_URL=http://127.0.0.1:%s/keys.json\n' "$IDP_PORT"
  printf 'GOOGLE_JWKS_URL=http://127.0.0.1:%s/keys.json\n' "$IDP_PORT"
} > "$ENV_FILE"

echo "[dev] applying migrations"
cargo run --quiet --bin migrate

PROFILE_ARGS=()
[ -n "${DEV_PROFILE:-}" ] && PROFILE_ARGS=(--profile "$DEV_PROFILE")
# Every function built up front, in one cargo invocation (side by side on every core), rather
# than one at a time on each one's first request. `--bin` without `-p`, as `cargo lambda watch`
# runs them (`cargo run --bin NAME`): the same features, so it finds them up to date.
BINS=()
for dir in functions/*/; do BINS+=(--bin "$(basename "$dir")"); done
echo "[dev] building every function"
cargo build --quiet "${PROFILE_ARGS[@]}" "${BINS[@]}"

echo "[dev] serving on http://127.0.0.1:$PORT (Ctrl-C to stop)"
# `cargo lambda watch` watches the directory it runs in, even with --ignore-changes, and an
# inotify queue that overflows (s3s-fs's objects and Postgres's files under .tools/run, a
# cargo build in target/: thousands of writes a second) reaches it as an event without a
# path, which it answers by restarting every function: a request in flight loses its answer.
# Served without rebuilding, it runs in an empty directory, so it has nothing to watch.
if [ "${DEV_IGNORE_CHANGES:-0}" = 1 ]; then
  PROFILE_ARGS+=(--ignore-changes)
  mkdir -p "$RUN/watch-nothing"
  cd "$RUN/watch-nothing"
fi
# cargo-lambda stops its function processes only on SIGINT; forward INT/TERM to it by PID.
PATH="$ROOT/.tools/venv/bin:$PATH" cargo lambda watch "${PROFILE_ARGS[@]}" \
  --manifest-path "$ROOT/Cargo.toml" \
  --invoke-address 127.0.0.1 --invoke-port "$PORT" --env-file "$ENV_FILE" &
WATCH_PID=$!
trap 'stop_dev; wait "$WATCH_PID" 2>/dev/null; exit 130' INT
trap 'stop_dev; wait "$WATCH_PID" 2>/dev/null; exit 143' TERM
while kill -0 "$WATCH_PID" 2>/dev/null; do
  wait "$WATCH_PID" || true
done
