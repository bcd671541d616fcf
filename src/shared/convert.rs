//! Conversions between `serde_json::Value` and Python objects, and of the code-interpreter
//! output lines into the plain Python values the `e2b_code_interpreter` models are built from.

use e2b_wire::execution::{OutputLine, ResultLine};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use pyo3::IntoPyObjectExt;
use serde_json::Value;

/// JSON → the object `json.loads` would give.
pub fn json_to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => b.into_bound_py_any(py)?,
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_bound_py_any(py)?
            } else if let Some(u) = n.as_u64() {
                u.into_bound_py_any(py)?
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_bound_py_any(py)?
            }
        }
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(json_to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, v) in map {
                dict.set_item(k, json_to_py(py, v)?)?;
            }
            dict.into_any()
        }
    })
}

/// A JSON value returned to Python as native objects.
pub struct PyJson(pub Value);

impl<'py> IntoPyObject<'py> for PyJson {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> Result<Self::Output, Self::Error> {
        json_to_py(py, &self.0)
    }
}

/// The keyword arguments of `Result(**kwargs)` for one `result` line (`None` fields left out).
pub fn result_to_py<'py>(py: Python<'py>, r: &ResultLine) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    let strings = [
        ("text", &r.text),
        ("html", &r.html),
        ("markdown", &r.markdown),
        ("svg", &r.svg),
        ("png", &r.png),
        ("jpeg", &r.jpeg),
        ("pdf", &r.pdf),
        ("latex", &r.latex),
        ("javascript", &r.javascript),
    ];
    for (key, value) in strings {
        if let Some(value) = value {
            dict.set_item(key, value)?;
        }
    }
    for (key, value) in [("json", &r.json), ("data", &r.data), ("chart", &r.chart)] {
        if let Some(value) = value {
            dict.set_item(key, json_to_py(py, value)?)?;
        }
    }
    dict.set_item("is_main_result", r.is_main_result)?;
    let extra = PyDict::new(py);
    for (k, v) in &r.extra {
        extra.set_item(k, json_to_py(py, v)?)?;
    }
    dict.set_item("extra", extra)?;
    Ok(dict)
}

/// One output line as an event tuple for streaming consumers:
/// `("stdout"|"stderr", text, timestamp)`, `("result", kwargs)`,
/// `("error", name, value, traceback)` or `("count", execution_count)`.
pub fn event_to_py<'py>(
    py: Python<'py>,
    line: &OutputLine,
) -> PyResult<Option<Bound<'py, PyTuple>>> {
    let tuple = match line {
        OutputLine::Stdout { text, timestamp } => PyTuple::new(
            py,
            [
                "stdout".into_bound_py_any(py)?,
                text.into_bound_py_any(py)?,
                timestamp.into_bound_py_any(py)?,
            ],
        )?,
        OutputLine::Stderr { text, timestamp } => PyTuple::new(
            py,
            [
                "stderr".into_bound_py_any(py)?,
                text.into_bound_py_any(py)?,
                timestamp.into_bound_py_any(py)?,
            ],
        )?,
        OutputLine::Result(r) => PyTuple::new(
            py,
            [
                "result".into_bound_py_any(py)?,
                result_to_py(py, r)?.into_any(),
            ],
        )?,
        OutputLine::Error {
            name,
            value,
            traceback,
        } => PyTuple::new(
            py,
            [
                "error".into_bound_py_any(py)?,
                name.into_bound_py_any(py)?,
                value.into_bound_py_any(py)?,
                traceback.into_bound_py_any(py)?,
            ],
        )?,
        OutputLine::NumberOfExecutions { execution_count } => PyTuple::new(
            py,
            [
                "count".into_bound_py_any(py)?,
                execution_count.into_bound_py_any(py)?,
            ],
        )?,
        _ => return Ok(None),
    };
    Ok(Some(tuple))
}

/// A batch of output lines as a list of event tuples.
pub struct PyEvents(pub Vec<OutputLine>);

impl<'py> IntoPyObject<'py> for PyEvents {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> Result<Self::Output, Self::Error> {
        let list = PyList::empty(py);
        for line in &self.0 {
            if let Some(event) = event_to_py(py, line)? {
                list.append(event)?;
            }
        }
        Ok(list.into_any())
    }
}

/// A whole execution, summarised for `Execution(...)`:
/// `(results: list[dict], stdout: list[str], stderr: list[str],
///   error: tuple[str, str, str] | None, execution_count: int | None)`.
pub struct PyExecution(pub Vec<OutputLine>);

impl<'py> IntoPyObject<'py> for PyExecution {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> Result<Self::Output, Self::Error> {
        let results = PyList::empty(py);
        let stdout = PyList::empty(py);
        let stderr = PyList::empty(py);
        let mut error: Option<(String, String, String)> = None;
        let mut count: Option<i64> = None;
        for line in self.0 {
            match line {
                OutputLine::Stdout { text, .. } => stdout.append(text)?,
                OutputLine::Stderr { text, .. } => stderr.append(text)?,
                OutputLine::Result(r) => results.append(result_to_py(py, &r)?)?,
                OutputLine::Error {
                    name,
                    value,
                    traceback,
                } => error = Some((name, value, traceback)),
                OutputLine::NumberOfExecutions { execution_count } => count = Some(execution_count),
                _ => {}
            }
        }
        (results, stdout, stderr, error, count).into_bound_py_any(py)
    }
}
