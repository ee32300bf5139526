#!/usr/bin/env bash
# kotlin-test.sh — the apps' bindings, tested from Kotlin against the local stack:
#   1. builds the steel-sync-ffi cdylib (and dev-token, for identity tokens);
#   2. generates the Kotlin and the Swift bindings from the built library with the workspace's
#      uniffi-bindgen (same UniFFI version), so a generator break fails here;
#   3. compiles the generated Kotlin, the README's example (client/ffi/kotlin/example) and the
#      tests (client/ffi/kotlin/tests) with `kotlinc -Werror`;
#   4. runs the tests (JNA loads target/debug/libsteel_sync_ffi.so), which print
#      "kotlin: N passed, N failed".
# Swift is generated but not compiled: no Swift toolchain on these machines (README).
# Needs STEEL_API_URL: run as `scripts/with-dev-stack.sh scripts/kotlin-test.sh` (make test does).
# Kotlin and JNA come from scripts/install-tools.sh (.tools/kotlin, Debian's libjna-java).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
: "${STEEL_API_URL:?STEEL_API_URL is not set: run through scripts/with-dev-stack.sh}"

KOTLIN_HOME="${KOTLIN_HOME:-.tools/kotlin/node_modules/kotlin-compiler}"
JNA_JAR="${JNA_JAR:-/usr/share/java/jna.jar}"
[ -x "$KOTLIN_HOME/bin/kotlinc" ] || { echo "kotlinc not found in $KOTLIN_HOME: run scripts/install-tools.sh" >&2; exit 1; }
[ -f "$JNA_JAR" ] || { echo "$JNA_JAR not found: run scripts/install-tools.sh (libjna-java)" >&2; exit 1; }
COROUTINES_JAR="$KOTLIN_HOME/lib/kotlinx-coroutines-core-jvm.jar"
STDLIB_JAR="$KOTLIN_HOME/lib/kotlin-stdlib.jar"

start=$SECONDS
# Workspace-wide (no -p): the libraries and the two binaries with the features every other
# build of make test has (workspace-hack/), so only what is not built yet is compiled.
echo "[kotlin] cargo build --lib --bin uniffi-bindgen --bin dev-token"
cargo build --locked --lib --bin uniffi-bindgen --bin dev-token
LIB=target/debug/libsteel_sync_ffi.so
OUT=target/bindings
rm -rf "$OUT"
mkdir -p "$OUT/kotlin" "$OUT/swift" "$OUT/classes"

echo "[kotlin] uniffi-bindgen generate (Kotlin, Swift) from $LIB"
target/debug/uniffi-bindgen generate --no-format --library "$LIB" --language kotlin --out-dir "$OUT/kotlin"
target/debug/uniffi-bindgen generate --no-format --library "$LIB" --language swift --out-dir "$OUT/swift"
for f in SteelSync.swift SteelSyncFFI.h SteelSyncFFI.modulemap; do
  [ -s "$OUT/swift/$f" ] || { echo "[kotlin] Swift bindings incomplete: no $f in $OUT/swift" >&2; ls "$OUT/swift" >&2; exit 1; }
done

# cargo lambda watch starts a function on its first request: start the account ones now
# (scripts/with-dev-stack.sh warms the sync and recovery routes).
for route in "GET /account" "DELETE /account" "POST /auth/logout"; do
  curl -s -o /dev/null --max-time 900 -X "${route%% *}" -H 'content-type: application/json' \
    -d '{}' "$STEEL_API_URL${route#* }" || true
done

# The README shows the example file itself, not a copy that could drift.
python3 - README.md client/ffi/kotlin/example/NotesSync.kt <<'PY' || { echo "[kotlin] README's example differs from client/ffi/kotlin/example/NotesSync.kt" >&2; exit 1; }
import sys
readme, example = (open(p).read() for p in sys.argv[1:3])
sys.exit(0 if example.rstrip("\n") in readme else 1)
PY

echo "[kotlin] kotlinc -Werror (bindings, README example, tests)"
mapfile -t sources < <(find "$OUT/kotlin" client/ffi/kotlin/example client/ffi/kotlin/tests -name '*.kt' | sort)
"$KOTLIN_HOME/bin/kotlinc" -Werror -jvm-target 17 -cp "$JNA_JAR:$COROUTINES_JAR" \
  -d "$OUT/classes" "${sources[@]}"
compiled=$SECONDS

echo "[kotlin] running the tests against $STEEL_API_URL"
# New passphrase slots at the Argon2id floor (19 MiB), not the 64 MiB default: the tests set
# vaults up often, on a debug build.
STEEL_KDF_MEMORY_KIB=19456 DEV_TOKEN_BIN=target/debug/dev-token java -ea \
  -Djna.library.path="$PWD/target/debug" \
  -cp "$OUT/classes:$JNA_JAR:$STDLIB_JAR:$COROUTINES_JAR" \
  app.steelnotes.tests.MainKt
echo "[kotlin] build and bindings $((compiled - start)) s, tests $((SECONDS - compiled)) s"
