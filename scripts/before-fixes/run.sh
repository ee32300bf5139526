#!/usr/bin/env bash
# run.sh — proof that issue 13's defect tests catch the defects: the same scenarios, ported to
# the test harness of 97dae56 (the last commit before the fixes), run against that code. Every
# test must FAIL there; the script exits 0 only if all of them did.
# Usage: scripts/before-fixes/run.sh   (needs the tools of `make tools`; takes a few minutes)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BEFORE=97dae56
DIR="$(mktemp -d)/before"
git -C "$ROOT" worktree add --detach "$DIR" "$BEFORE" >/dev/null
trap 'git -C "$ROOT" worktree remove --force "$DIR"' EXIT
mkdir -p "$DIR/.tools"
ln -s "$ROOT/.tools/bin" "$DIR/.tools/bin"
ln -s "$ROOT/.tools/venv" "$DIR/.tools/venv"
cp "$ROOT/scripts/before-fixes/before_fixes.rs" "$DIR/shared/tests/"
cd "$DIR"
# A target dir of its own under ours, so a second run builds incrementally.
export CARGO_TARGET_DIR="$ROOT/target/before-fixes"
set +e
scripts/with-services.sh cargo test -p steel-core --test before_fixes -- --test-threads 2 2>&1 \
  | tee "$ROOT/.tools/before-fixes.log" | grep -E '^test |^test result'
set -e
total=$(grep -c '^test .* \.\.\. ' "$ROOT/.tools/before-fixes.log")
failed=$(grep -c '^test .* \.\.\. FAILED' "$ROOT/.tools/before-fixes.log")
echo "on $BEFORE: $failed of $total defect tests failed (all must)"
[ "$total" -gt 0 ] && [ "$failed" -eq "$total" ]
