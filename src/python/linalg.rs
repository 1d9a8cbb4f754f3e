//! Bindings for the dense factorization primitives behind `rtorch.linalg` (conversion only).

use super::tensor::{nogil, wrap, PyTensor};
use crate::backend::{FactorSolve, Factorization};
use crate::tensor::Tensor;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

/// `_linalg_factor(A, kind, flag_a=False, flag_b=False, name="")` → tuple of tensors.
/// kind: "lu" | "ldl" | "cholesky" (upper) | "qr" (complete, r_only) | "eigh" (upper, vectors) |
/// "svd" (full, vectors). Outputs carry no autograd history.
#[pyfunction]
#[pyo3(signature = (a, kind, flag_a=false, flag_b=false, name=""))]
fn _linalg_factor(
    py: Python<'_>,
    a: PyRef<PyTensor>,
    kind: &str,
    flag_a: bool,
    flag_b: bool,
    name: &str,
) -> PyResult<Py<PyAny>> {
    let op = match kind {
        "lu" => Factorization::Lu,
        "ldl" => Factorization::Ldl,
        "cholesky" => Factorization::Cholesky { upper: flag_a },
        "qr" => Factorization::Qr {
            complete: flag_a,
            r_only: flag_b,
        },
        "eigh" => Factorization::Eigh {
            upper: flag_a,
            vectors: flag_b,
        },
        "svd" => Factorization::Svd {
            full: flag_a,
            vectors: flag_b,
        },
        _ => {
            return Err(PyValueError::new_err(format!(
                "unknown factorization {kind:?}"
            )))
        }
    };
    let name = if name.is_empty() { kind } else { name };
    let t = a.t.clone();
    let work = t
        .numel()
        .saturating_mul(t.shape().last().copied().unwrap_or(1));
    let outs = nogil(py, work, || t.linalg_factor(op, name))?;
    let items = outs
        .into_iter()
        .map(|o| wrap(py, o))
        .collect::<PyResult<Vec<_>>>()?;
    Ok(PyTuple::new(py, items)?.into_any().unbind())
}

/// `_linalg_solve(A, pivots, B, kind, flag_a=False, flag_b=False, name="")`: kind
/// "triangular" (upper, unit), "lu" (transpose) or "ldl".
#[pyfunction]
#[pyo3(signature = (a, pivots, b, kind, flag_a=false, flag_b=false, name=""))]
#[allow(clippy::too_many_arguments)]
fn _linalg_solve(
    py: Python<'_>,
    a: PyRef<PyTensor>,
    pivots: Option<PyRef<PyTensor>>,
    b: PyRef<PyTensor>,
    kind: &str,
    flag_a: bool,
    flag_b: bool,
    name: &str,
) -> PyResult<Py<PyAny>> {
    let op = match kind {
        "triangular" => FactorSolve::Triangular {
            upper: flag_a,
            unit: flag_b,
        },
        "lu" => FactorSolve::Lu { transpose: flag_a },
        "ldl" => FactorSolve::Ldl,
        _ => return Err(PyValueError::new_err(format!("unknown solve {kind:?}"))),
    };
    let name = if name.is_empty() { kind } else { name };
    let (at, bt) = (a.t.clone(), b.t.clone());
    let pt = pivots.as_ref().map(|p| p.t.clone());
    let work = at
        .numel()
        .saturating_mul(bt.shape().last().copied().unwrap_or(1));
    let x = nogil(py, work, || {
        Tensor::linalg_solve_factored(&at, pt.as_ref(), &bt, op, name)
    })?;
    wrap(py, x)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_linalg_factor, m)?)?;
    m.add_function(wrap_pyfunction!(_linalg_solve, m)?)?;
    Ok(())
}
