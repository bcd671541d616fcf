//! pyo3 bindings: `e2b._native`.
