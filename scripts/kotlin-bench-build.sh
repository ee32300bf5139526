#!/usr/bin/env bash
# kotlin-bench-build.sh — for `make bench` part 2 (scripts/bench.sh calls it): builds the
# steel-sync-ffi cdylib in the bench-fast profile (the CLI's), generates its Kotlin bindings,
# compiles them with client/ffi/kotlin/bench/NoChange.kt, and weighs the host's release
# cdylib (fat LTO, stripped as shipped). Writes target/bench-fast/kotlin-bench/env with
# BENCH_KOTLIN_CLASSPATH, BENCH_KOTLIN_LIB and BENCH_CDYLIB_BYTES for steel-bench.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
KOTLIN_HOME="${KOTLIN_HOME:-.tools/kotlin/node_modules/kotlin-compiler}"
JNA_JAR="${JNA_JAR:-/usr/share/java/jna.jar}"
[ -x "$KOTLIN_HOME/bin/kotlinc" ] || { echo "kotlinc not found in $KOTLIN_HOME: run scripts/install-tools.sh" >&2; exit 1; }
[ -f "$JNA_JAR" ] || { echo "$JNA_JAR not found: run scripts/install-tools.sh (libjna-java)" >&2; exit 1; }
COROUTINES_JAR="$KOTLIN_HOME/lib/kotlinx-coroutines-core-jvm.jar"
STDLIB_JAR="$KOTLIN_HOME/lib/kotlin-stdlib.jar"

echo "[kotlin-bench] cargo build --profile bench-fast -p steel-sync-ffi; --release -p steel-sync-ffi" >&2
cargo build --locked --profile bench-fast -p steel-sync-ffi
cargo build --locked --release -p steel-sync-ffi
# The bindings come from the debug build of the same source: bench-fast, like release, strips
# symbols, and with them the UniFFI metadata uniffi-bindgen reads (the exported functions the
# bindings call stay).
cargo build --locked -p steel-sync-ffi -p steel-uniffi-bindgen
OUT=target/bench-fast/kotlin-bench
rm -rf "$OUT"
mkdir -p "$OUT/kotlin" "$OUT/classes"
target/debug/uniffi-bindgen generate --no-format --library target/debug/libsteel_sync_ffi.so \
  --language kotlin --out-dir "$OUT/kotlin"
mapfile -t sources < <(find "$OUT/kotlin" client/ffi/kotlin/bench -name '*.kt' | sort)
"$KOTLIN_HOME/bin/kotlinc" -Werror -jvm-target 17 -cp "$JNA_JAR:$COROUTINES_JAR" -d "$OUT/classes" "${sources[@]}"
# The release profile already strips symbols; strip again in case a profile change stops it.
cp target/release/libsteel_sync_ffi.so "$OUT/libsteel_sync_ffi.stripped.so"
strip "$OUT/libsteel_sync_ffi.stripped.so"
{
  printf 'BENCH_KOTLIN_CLASSPATH=%q\n' "$PWD/$OUT/classes:$JNA_JAR:$STDLIB_JAR:$COROUTINES_JAR"
  printf 'BENCH_KOTLIN_LIB=%q\n' "$PWD/target/bench-fast"
  printf 'BENCH_CDYLIB_BYTES=%q\n' "$(stat -c %s "$OUT/libsteel_sync_ffi.stripped.so")"
} >"$OUT/env"
