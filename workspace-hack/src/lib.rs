//! No code: this crate only turns dependencies' features on (see its `Cargo.toml`), so that
//! every cargo invocation of `make test` builds each dependency once.
