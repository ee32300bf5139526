#!/usr/bin/env bash
# soak.sh — `make soak SEEDS=N`: the client's seeded model test (random operations on 2-4
# devices under injected faults) for N seeds against the local stack, several at a time.
# Prints "model: P/N seeds passed" and the seeds that failed (replay one with
# `STEEL_MODEL_SEED=S scripts/with-dev-stack.sh cargo test -p steel-sync --test sync model::`).
# FIRST_SEED (default 1) and JOBS (default 4) pick the range and the parallelism.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SEEDS="${SEEDS:-1000}"
export STEEL_MODEL_SEEDS="$SEEDS" STEEL_MODEL_FIRST_SEED="${FIRST_SEED:-1}" STEEL_MODEL_JOBS="${JOBS:-4}"
mkdir -p .tools
scripts/with-dev-stack.sh cargo test -p steel-sync --locked --test sync model:: -- --nocapture 2>&1 \
  | tee .tools/soak.log | grep -E '^model|FAILED|panicked' || true
grep -q "^model: $SEEDS/$SEEDS seeds passed" .tools/soak.log
