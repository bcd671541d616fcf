//! Async E2B client (see Cargo.toml description).
