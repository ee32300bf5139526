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
cargo test --workspace --locked
echo "== walkthrough against make dev"
scripts/walkthrough-check.sh
