//! Empty: the `[build-dependencies]` of this crate only turn features on (see Cargo.toml).
fn main() {}
