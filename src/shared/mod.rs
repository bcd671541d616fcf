//! Internals shared by the Python-facing classes: the process-wide tokio runtime and the
//! sync/async call plumbing, error translation, and JSON ↔ Python conversion.

pub mod convert;
pub mod errors;
pub mod rt;
