#!/usr/bin/env bash
# bench.sh — `make bench`: the benchmarks (issue 8), a separate command, not part of the tests.
# Runs inside scripts/with-services.sh (PostgreSQL, S3 via s3s-fs, SQS via moto; services that
# were already running are reused and left running), then:
#   1. builds the arm64 release binary of every function (`cargo lambda build --release --arm64`,
#      as `make build-arm64` and `sam build` do; cargo rebuilds only what changed) for their sizes;
#      BENCH_ARM64=skip measures whatever is already in target/lambda/ instead (and says so);
#   2. builds steel-bench (bench/), the steel-sync client and the functions, with the
#      `bench-fast` profile (release without fat LTO), and serves the backend as `make dev`
#      does (scripts/with-dev-stack.sh) for part 2, which also needs rclone (installed from
#      Debian when missing);
#      and steel-crypto's crypto_bench example (part 9);
#   3. runs steel-bench: it works in a database of its own (created, then dropped), prints the
#      report, writes BENCHMARKS.md and the performance section of README.md.
# Usage: scripts/bench.sh [steel-bench arguments]
#   e.g. scripts/bench.sh --quick --parts 1,4   (a smoke run: nothing is written to the repo)
#   scripts/bench.sh --parts 8   part 8 only (PgBouncer, scripts/pgbouncer.sh);
#   scripts/bench.sh --parts 2   measures part 2 only; BENCHMARKS.md and the README keep the
#   other parts' sections from the run that measured them (and no arm64 build without part 3)
# Environment: BENCH_ARM64=build|skip (default build); BENCH_KOTLIN=skip leaves out part 2's
# Kotlin row and its release build; BENCH_KEEP_DB=1 keeps the bench
# database for a look afterwards (EXPLAIN ...); BENCH_SANDBOX_POOL=N forces the pool size of
# the concurrency part's sandboxes (default: 2 as deployed, 1 if the server admits too few).
# Tip: KEEP_SERVICES=1 leaves services this run started running.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '[bench] %s\n' "$*" >&2; }

if [ -z "${STEEL_BENCH_INNER:-}" ]; then
  # Services someone else started (make services-start, a running make dev) stay up afterwards.
  if scripts/services.sh status >/dev/null 2>&1; then
    export KEEP_SERVICES=1
  fi
  STEEL_BENCH_INNER=1 exec scripts/with-services.sh "$0" "$@"
fi

: "${DATABASE_URL:?DATABASE_URL is not set: run through scripts/with-services.sh}"

# Part 2 syncs through the whole backend as `make dev` serves it (the functions in the
# bench-fast profile, on the shared services, started before the private SQS below), against
# rclone on the same S3.
# Only a run with part 2 needs it.
wants_part2=1
prev=""
for arg in "$@"; do
  if [ "$prev" = "--parts" ] && [[ ",$arg," != *",2,"* ]]; then wants_part2=0; fi
  prev="$arg"
done
if [ -z "${STEEL_API_URL:-}" ] && [ "$wants_part2" -eq 1 ]; then
  if ! command -v rclone >/dev/null 2>&1; then
    log "installing rclone (Debian package)"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq rclone >/dev/null
  fi
  # Served without rebuilding on change: an edit or checkout in this tree during the run
  # would restart the functions and lose the answer of a request in flight (a 35 s client
  # timeout in the figures). dev.sh builds every function first, in this profile.
  DEV_PROFILE=bench-fast DEV_IGNORE_CHANGES=1 exec scripts/with-dev-stack.sh "$0" "$@"
fi
command -v cargo >/dev/null 2>&1 || PATH="$HOME/.cargo/bin:$PATH"

started=$SECONDS
quick=0
parts=""
prev=""
for arg in "$@"; do
  [ "$arg" = "--quick" ] && quick=1
  [ "$prev" = "--parts" ] && parts="$arg"
  prev="$arg"
done
# Only part 3 measures the arm64 binaries: a run of other parts does not build them.
if [ -n "$parts" ] && [[ ",$parts," != *",3,"* ]]; then
  BENCH_ARM64=skip
fi

packages=()
for dir in functions/*/; do
  packages+=(-p "$(basename "$dir")")
done

arm64_secs=0
case "${BENCH_ARM64:-build}" in
  build)
    log "cargo lambda build --release --arm64 (every function)"
    t=$SECONDS
    # The tools venv first: cargo-lambda finds zig through `python3 -m ziglang`.
    PATH="$ROOT/.tools/venv/bin:$PATH" cargo lambda build --release --arm64 --locked "${packages[@]}"
    arm64_secs=$((SECONDS - t))
    arm64_note="\`cargo lambda build --release --arm64\` ran first in this run: ${arm64_secs} s (cargo rebuilds only what changed since the previous build: a few seconds mean the binaries were up to date)."
    ;;
  skip)
    arm64_note="BENCH_ARM64=skip: the binaries already in \`target/lambda/\`, not rebuilt by this run."
    ;;
  *)
    log "BENCH_ARM64 must be build or skip"
    exit 2
    ;;
esac

log "cargo build --profile bench-fast (steel-bench and the functions it cold-starts)"
t=$SECONDS
# `--bin` without `-p`: a workspace-wide selection, the features `cargo lambda watch` (`cargo run
# --bin NAME`) and dev.sh build the functions with, so nothing is compiled twice.
cargo build --locked --profile bench-fast --bin steel-bench --bin steel-sync --bin state --bin push \
  --bin confirm --bin pull --bin delete --bin login --bin refresh --bin register
# Part 9 runs steel-crypto's example as a process of its own (its peak memory is the KDF's).
cargo build --locked --profile bench-fast -p steel-crypto --example crypto_bench
# Part 2 also syncs through the apps' engine from Kotlin (client/ffi/kotlin/bench/NoChange.kt),
# with the cdylib built in the same profile as the CLI, and weighs the release cdylib.
# BENCH_KOTLIN=skip leaves that row out (its release build is a fat-LTO link of several
# minutes); the section then says the binding was not measured.
if [ "$wants_part2" -eq 1 ] && [ "${BENCH_KOTLIN:-run}" != skip ]; then
  scripts/kotlin-bench-build.sh
  export BENCH_KOTLIN_CLASSPATH BENCH_KOTLIN_LIB BENCH_CDYLIB_BYTES
  # shellcheck disable=SC1091
  . target/bench-fast/kotlin-bench/env
fi
build_secs=$((SECONDS - t))

# SQS of the bench's own: moto spends time in proportion to the messages waiting on its
# queues, and the shared one also serves whatever else runs here (make dev, client tests),
# which would show up in every confirm and delete. A private moto_server keeps that out.
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
mkdir -p "$ROOT/.tools/run"
"$ROOT/.tools/venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$ROOT/.tools/run/bench-sqs.log" 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  kill -0 "$moto_pid" 2>/dev/null || { log "moto_server did not start (.tools/run/bench-sqs.log)"; exit 1; }
  sleep 0.1
done
export AWS_ENDPOINT_URL_SQS="http://127.0.0.1:$port" STEEL_BENCH_PRIVATE_SQS=1

# Part 8: a server of 20 connections behind PgBouncer (transaction mode), both throwaway
# (scripts/pgbouncer.sh installs PgBouncer from the Debian package on first use).
if [ -z "$parts" ] || [[ ",$parts," == *",8,"* ]]; then
  log "scripts/pgbouncer.sh start (part 8)"
  pooler_env="$(scripts/pgbouncer.sh start)"
  # shellcheck disable=SC1090
  . "$pooler_env"
  trap 'kill "$moto_pid" 2>/dev/null || true; scripts/pgbouncer.sh stop || true' EXIT
fi

args=(--bin-dir target/bench-fast --lambda-dir target/lambda --functions-dir functions
      --profile bench-fast --arm64-note "$arm64_note")
if [ "$quick" -eq 0 ]; then
  args+=(--out BENCHMARKS.md --readme README.md)
fi
set +e
target/bench-fast/steel-bench "${args[@]}" "$@"
rc=$?
set -e
log "make bench: ${arm64_secs} s arm64 build, ${build_secs} s bench build, $((SECONDS - started)) s in all (exit $rc)"
exit "$rc"
