//! Rust errors → the Python exception classes of `e2b.exceptions` (looked up by name, so
//! `isinstance`/`except` behave exactly as upstream), with `status_code` where 2.63.0 sets it.

use e2b_client::{Error, ErrorKind};
use pyo3::exceptions::{PyConnectionError, PyException};
use pyo3::prelude::*;

pub fn to_pyerr(py: Python<'_>, err: Error) -> PyErr {
    match err.kind {
        ErrorKind::Generic => PyException::new_err(err.message),
        ErrorKind::Connection => PyConnectionError::new_err(err.message),
        kind => match build(py, kind.python_class(), &err) {
            Ok(e) => e,
            Err(lookup_failure) => lookup_failure,
        },
    }
}

fn build(py: Python<'_>, class_name: &str, err: &Error) -> PyResult<PyErr> {
    let module = py.import("e2b.exceptions")?;
    let class = module.getattr(class_name)?;
    let instance = class.call1((err.message.as_str(),))?;
    if let Some(code) = err.status_code {
        instance.setattr("status_code", code)?;
    }
    Ok(PyErr::from_value(instance))
}

/// Converts a client result, raising the mapped exception.
pub fn check<T>(py: Python<'_>, result: e2b_client::Result<T>) -> PyResult<T> {
    result.map_err(|e| to_pyerr(py, e))
}
