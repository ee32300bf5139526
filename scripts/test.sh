#!/usr/bin/env bash
# test.sh — the checks `make test` runs once the services are up (see with-services.sh):
# formatting, clippy with warnings as errors, the wasm32 check of the crates devices share,
# then the whole test suite.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

: "${DATABASE_URL:?DATABASE_URL is not set: run through scripts/with-services.sh}"

# Each phase's wall time goes to .tools/phase-times (.ci/run prints them at the end).
mkdir -p .tools
phase_name="" phase_start=$SECONDS
phase() {
  if [ -n "$phase_name" ]; then
    printf '%-44s %5d s\n' "$phase_name" $((SECONDS - phase_start)) | tee -a .tools/phase-times
  fi
  phase_name="$1" phase_start=$SECONDS
  [ -z "$1" ] || echo "== $1"
}

# CI keeps only the last lines of a run: when a phase fails, the failing tests and their first
# panic lines are written to .tools/failure-summary (and printed), which .ci/run repeats last.
rm -f .tools/failure-summary .tools/cargo-test.log
summarize_failures() {
  local rc=$?
  [ "$rc" -ne 0 ] || return 0
  {
    echo "== FAILED in phase: ${phase_name:-?} (exit $rc)"
    if [ -f .tools/cargo-test.log ]; then
      grep -E '^test .* \.\.\. FAILED$|^error: .*(target|test) failed|^    `-p ' .tools/cargo-test.log | head -12
      grep -E -A2 -m 5 "panicked at" .tools/cargo-test.log | cut -c1-300 | head -20
    fi
  } | tee .tools/failure-summary
}
trap summarize_failures EXIT

phase "cargo fmt --check"
cargo fmt --all -- --check
phase "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
# Every later cargo invocation (the backend tests, the simulation, cargo lambda watch, the
# client's tests, the Kotlin phase) must reuse the dependencies the first one built: one
# feature set per dependency (workspace-hack/Cargo.toml), or each compiles them again.
phase "workspace-hack (one feature set per dependency)"
python3 scripts/workspace-hack.py
# The contract and the cryptography also build for the browser (and the app bindings' other
# targets): no OS randomness, no I/O.
phase "cargo check --target wasm32-unknown-unknown"
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi
cargo check --locked --target wasm32-unknown-unknown -p steel-protocol -p steel-crypto
phase "cargo test (backend, in-process against the services)"
rm -f target/tmp/fault-cells-*
cargo test --workspace --locked --no-fail-fast --exclude steel-sync 2>&1 | tee .tools/cargo-test.log
# The fault suite (shared/tests/api/faults) reports its cells: (request, step, fault) each.
if compgen -G 'target/tmp/fault-cells-*' >/dev/null; then
  cat target/tmp/fault-cells-* | tee -a .tools/cargo-test.log
  awk '{ n += $2 } END { printf "fault suite: %d cells (request, step, fault), every one passed\n", n }' \
    target/tmp/fault-cells-* | tee -a .tools/cargo-test.log .tools/fault-summary
else
  echo "fault suite: no report (target/tmp/fault-cells-*)" | tee .tools/fault-summary
  exit 1
fi
# The deterministic simulation (sim/, README "Tests"): the client engine against the in-memory
# server under seeded faults, SIM_OPS simulated operations (world ops and the requests they
# made) over as many seeds as that takes, both cores. Prints its operation count and rate;
# a failure prints its seed, a shrunk trace and the command that replays it.
phase "simulation (steel-sim, ${SIM_OPS:-1000000} operations)"
cargo run --quiet --locked --bin steel-sim -- --ops "${SIM_OPS:-1000000}" 2>&1 | tee -a .tools/cargo-test.log
# The rest runs against the backend as `make dev` serves it (cargo lambda watch): the
# README's curl walk-through, then the reference client's unit, end-to-end and model tests
# (STEEL_MODEL_SEEDS seeds of the model test; `make soak` runs many more). One test at a time:
# they share one `cargo lambda watch`, and the model test (its seeds side by side) beside the
# 2,000-note sync made that one's full listing time out on a loaded machine.
phase "walkthrough and the sync client against make dev"
STEEL_MODEL_SEEDS="${STEEL_MODEL_SEEDS:-60}" scripts/with-dev-stack.sh bash -c \
  'scripts/walkthrough.sh "$STEEL_API_URL" && cargo test -p steel-sync --locked -- --test-threads 1' \
  2>&1 | tee -a .tools/cargo-test.log
# The apps' bindings: the cdylib, Kotlin and Swift generated from it, Kotlin compiled with
# -Werror and its tests run against make dev (README "Using the sync engine from the apps").
phase "Kotlin bindings against make dev"
scripts/with-dev-stack.sh scripts/kotlin-test.sh 2>&1 | tee -a .tools/cargo-test.log
phase ""

# One closing line for the whole suite (cargo prints one summary per test binary, the last
# of which is often an empty doc-test run; the Kotlin tests print their own). .ci/run
# repeats it at the very end.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1) } }
     /^kotlin: [0-9]+ passed, [0-9]+ failed$/ { p += $2; f += $4 }
     END { printf "tests: %d passed, %d failed\n", p, f }' .tools/cargo-test.log | tee .tools/test-summary
