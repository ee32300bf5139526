//! `uniffi-bindgen`, pinned to the UniFFI version of `steel-sync-ffi`:
//! `cargo run -p steel-uniffi-bindgen -- generate --library target/debug/libsteel_sync_ffi.so
//! --language kotlin --out-dir OUT` (scripts/kotlin-test.sh runs it for Kotlin and Swift).

fn main() {
    uniffi::uniffi_bindgen_main()
}
