#!/usr/bin/env bash
# test.sh — the checks `make test` runs once the services are up (see with-services.sh):
# formatting, clippy with warnings as errors, then the whole test suite.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

: "${DATABASE_URL:?DATABASE_URL is not set: run through scripts/with-services.sh}"

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
mkdir -p .tools
cargo test --workspace --locked 2>&1 | tee .tools/cargo-test.log
echo "== walkthrough against make dev"
scripts/walkthrough-check.sh

# One closing line for the whole suite (cargo prints one summary per test binary, the last
# of which is often an empty doc-test run). .ci/run repeats it at the very end.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' .tools/cargo-test.log | tee .tools/test-summary
