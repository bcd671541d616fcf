//! The `e2b-local` command line (see lib.rs).
