//! The in-sandbox agent (see lib.rs).
