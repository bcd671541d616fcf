//! The per-user daemon (see lib.rs).
