//! Bindings for the autocast state (`torch.autocast` and friends are built on these).

use super::convert::dtype_of;
use super::tensor::{wrap, PyTensor};
use super::types::PyDType;
use crate::amp::{self, DeviceType};
use pyo3::prelude::*;
use pyo3::types::PyList;

fn dev(device_type: &str) -> PyResult<DeviceType> {
    Ok(DeviceType::parse(device_type)?)
}

#[pyfunction]
fn _autocast_set_enabled(device_type: &str, enabled: bool) -> PyResult<()> {
    amp::set_enabled(dev(device_type)?, enabled);
    Ok(())
}

#[pyfunction]
fn _autocast_is_enabled(device_type: &str) -> PyResult<bool> {
    Ok(amp::is_enabled(dev(device_type)?))
}

#[pyfunction]
fn _autocast_set_dtype(device_type: &str, dtype: &Bound<PyAny>) -> PyResult<()> {
    Ok(amp::set_dtype(dev(device_type)?, dtype_of(dtype)?)?)
}

#[pyfunction]
fn _autocast_get_dtype(device_type: &str) -> PyResult<PyDType> {
    Ok(PyDType {
        dt: amp::dtype(dev(device_type)?),
    })
}

#[pyfunction]
fn _autocast_set_cache_enabled(enabled: bool) {
    amp::set_cache_enabled(enabled)
}

#[pyfunction]
fn _autocast_is_cache_enabled() -> bool {
    amp::is_cache_enabled()
}

#[pyfunction]
fn _autocast_increment_nesting() -> i64 {
    amp::increment_nesting()
}

#[pyfunction]
fn _autocast_decrement_nesting() -> i64 {
    amp::decrement_nesting()
}

#[pyfunction]
fn _autocast_clear_cache() {
    amp::clear_cache()
}

/// Whether an op called now could be autocast (some device type on, not suspended).
#[pyfunction]
fn _autocast_active() -> bool {
    amp::is_active()
}

/// Suspends autocast for the body of an op composed in Python; `_autocast_resume` ends it.
#[pyfunction]
fn _autocast_suspend() {
    std::mem::forget(amp::suspend())
}

#[pyfunction]
fn _autocast_resume() {
    drop(amp::Suspend::resume_one())
}

#[pyfunction]
fn _autocast_take_suspension() -> u32 {
    amp::take_suspension()
}

#[pyfunction]
fn _autocast_restore_suspension(n: u32) {
    amp::restore_suspension(n)
}

/// `op`'s autocast policy applied to `tensors`: the cast list, or None when it does not apply.
#[pyfunction]
fn _autocast_cast(
    py: Python<'_>,
    op: &str,
    tensors: Vec<PyRef<PyTensor>>,
) -> PyResult<Option<Py<PyList>>> {
    let ts: Vec<_> = tensors.iter().map(|t| t.t.clone()).collect();
    let refs: Vec<_> = ts.iter().collect();
    match amp::cast_inputs(op, &refs)? {
        None => Ok(None),
        Some(out) => {
            let items = out
                .into_iter()
                .map(|t| wrap(py, t))
                .collect::<PyResult<Vec<_>>>()?;
            Ok(Some(PyList::new(py, items)?.unbind()))
        }
    }
}

/// The autocast policy name PyTorch gives `op` on `device_type`, or None.
#[pyfunction]
fn _autocast_policy(op: &str, device_type: &str) -> PyResult<Option<&'static str>> {
    Ok(amp::policy(op, dev(device_type)?).map(|p| match p {
        amp::Policy::LowPrecision => "lower_precision_fp",
        amp::Policy::Float32 => "fp32",
        amp::Policy::Promote => "promote",
    }))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    macro_rules! add_fns {
        ($($f:ident),* $(,)?) => { $( m.add_function(wrap_pyfunction!($f, m)?)?; )* };
    }
    add_fns!(
        _autocast_set_enabled,
        _autocast_is_enabled,
        _autocast_set_dtype,
        _autocast_get_dtype,
        _autocast_set_cache_enabled,
        _autocast_is_cache_enabled,
        _autocast_increment_nesting,
        _autocast_decrement_nesting,
        _autocast_clear_cache,
        _autocast_active,
        _autocast_suspend,
        _autocast_resume,
        _autocast_take_suspension,
        _autocast_restore_suspension,
        _autocast_cast,
        _autocast_policy,
    );
    Ok(())
}
