//! Maps crate errors to Python exceptions; Python errors raised inside callbacks (hooks,
//! custom Functions) are parked here and re-raised unchanged at the boundary.

use crate::error::Error;
use pyo3::exceptions::{
    PyIndexError, PyNotImplementedError, PyRuntimeError, PyTypeError, PyValueError,
};
use pyo3::PyErr;
use std::cell::RefCell;

pyo3::create_exception!(
    rtorch,
    OutOfMemoryError,
    PyRuntimeError,
    "A device allocation failed (`torch.OutOfMemoryError`, also `torch.cuda.OutOfMemoryError`)."
);

thread_local! {
    static PENDING: RefCell<Option<PyErr>> = const { RefCell::new(None) };
}

/// Converts a Python error raised in a callback into a crate error, keeping the original.
pub fn park(e: PyErr) -> Error {
    let msg = e.to_string();
    PENDING.with(|p| *p.borrow_mut() = Some(e));
    Error::Runtime(msg)
}

impl From<Error> for PyErr {
    fn from(e: Error) -> PyErr {
        if let Some(p) = PENDING.with(|p| p.borrow_mut().take()) {
            return p;
        }
        match e {
            Error::Runtime(m) if m.starts_with("CUDA out of memory") => {
                OutOfMemoryError::new_err(m)
            }
            Error::Runtime(m) => PyRuntimeError::new_err(m),
            Error::Index(m) => PyIndexError::new_err(m),
            Error::Type(m) => PyTypeError::new_err(m),
            Error::Value(m) => PyValueError::new_err(m),
            Error::NotImplemented(m) => PyNotImplementedError::new_err(m),
        }
    }
}
