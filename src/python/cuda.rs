//! `rtorch._C` functions behind `rtorch.cuda`: device queries, the current device, memory
//! statistics, synchronisation, events, seeds, TF32 and the NVRTC compile check. Each one
//! forwards to `crate::cuda_backend` (or the CUDA seeds in `crate::tensor::random`); without
//! the `cuda` feature, or without a driver, the backend's error explains why.

use crate::cuda_backend as backend;
use crate::error::Error;
use crate::tensor::random;
use pyo3::prelude::*;
use std::cell::Cell;

thread_local! {
    /// `torch.cuda.current_device()`: per thread, like the CUDA runtime's current device.
    static CURRENT: Cell<usize> = const { Cell::new(0) };
}

/// The device `"cuda"` (no index) and `.cuda()` mean on this thread.
pub fn current_device() -> usize {
    CURRENT.with(|c| c.get())
}

/// Fails unless `index` names a usable CUDA device, with the backend's message when CUDA
/// itself is unavailable.
fn check_index(index: usize) -> PyResult<()> {
    if index < backend::device_count() {
        return Ok(());
    }
    backend::backend(index)?;
    Err(Error::Runtime("CUDA error: invalid device ordinal".into()).into())
}

#[pyfunction]
fn _cuda_is_built() -> bool {
    cfg!(feature = "cuda")
}

#[pyfunction]
fn _cuda_is_available() -> bool {
    backend::is_available()
}

#[pyfunction]
fn _cuda_device_count() -> usize {
    backend::device_count()
}

#[pyfunction]
fn _cuda_current_device() -> PyResult<usize> {
    let i = current_device();
    check_index(i)?;
    Ok(i)
}

#[pyfunction]
fn _cuda_set_device(index: usize) -> PyResult<()> {
    check_index(index)?;
    CURRENT.with(|c| c.set(index));
    Ok(())
}

#[pyfunction]
fn _cuda_get_device_name(index: usize) -> PyResult<String> {
    check_index(index)?;
    Ok(backend::device_name(index)?)
}

#[pyfunction]
fn _cuda_get_device_capability(index: usize) -> PyResult<(i32, i32)> {
    check_index(index)?;
    Ok(backend::capability(index)?)
}

/// `(name, major, minor, total_memory)` of a device.
#[pyfunction]
fn _cuda_get_device_properties(index: usize) -> PyResult<(String, i32, i32, usize)> {
    check_index(index)?;
    let (major, minor) = backend::capability(index)?;
    Ok((
        backend::device_name(index)?,
        major,
        minor,
        backend::total_memory(index)?,
    ))
}

/// Waits for every queued kernel on the device (without the GIL).
#[pyfunction]
fn _cuda_synchronize(py: Python<'_>, index: usize) -> PyResult<()> {
    check_index(index)?;
    Ok(py.detach(|| backend::synchronize(index))?)
}

/// `(allocated, peak allocated, reserved)` bytes on a device.
#[pyfunction]
fn _cuda_memory_stats(index: usize) -> PyResult<(usize, usize, usize)> {
    check_index(index)?;
    let s = backend::memory_stats(index)?;
    Ok((s.allocated, s.peak, s.reserved))
}

#[pyfunction]
fn _cuda_reset_peak(index: usize) -> PyResult<()> {
    check_index(index)?;
    Ok(backend::reset_peak_memory(index)?)
}

#[pyfunction]
fn _cuda_empty_cache() -> PyResult<()> {
    Ok(backend::empty_cache()?)
}

#[pyfunction]
fn _cuda_set_allow_tf32(on: bool) {
    backend::set_allow_tf32(on)
}

#[pyfunction]
fn _cuda_get_allow_tf32() -> bool {
    backend::allow_tf32()
}

/// Compiles every kernel family with NVRTC for `arch` (e.g. "sm_90"): `[(family, log)]`.
#[pyfunction]
fn _cuda_compile_check(py: Python<'_>, arch: String) -> PyResult<Vec<(String, String)>> {
    Ok(py.detach(|| backend::compile_check(&arch))?)
}

/// Compiles every kernel family for `arch` into the on-disk kernel cache; its directory.
#[pyfunction]
fn _cuda_prebuild(py: Python<'_>, arch: String) -> PyResult<String> {
    Ok(py.detach(|| backend::prebuild(&arch))?)
}

/// Seeds are taken modulo 2**64, so negative Python ints wrap as in PyTorch.
fn seed_bits(seed: i128) -> u64 {
    seed as u64
}

#[pyfunction]
fn _cuda_manual_seed(index: usize, seed: i128) {
    random::cuda_manual_seed(index, seed_bits(seed))
}

#[pyfunction]
fn _cuda_manual_seed_all(seed: i128) {
    random::cuda_manual_seed_all(seed_bits(seed))
}

#[pyfunction]
fn _cuda_initial_seed(index: usize) -> PyResult<u64> {
    check_index(index)?;
    Ok(random::cuda_initial_seed(index))
}

/// Raises the Python exception a crate `RuntimeError` with this message maps to (tests of
/// the error mapping, e.g. "CUDA out of memory" → `OutOfMemoryError`).
#[pyfunction]
fn _raise_runtime_error(message: String) -> PyResult<()> {
    Err(Error::Runtime(message).into())
}

/// `torch.cuda.Event`: a marker on a device's stream, for waiting and timing.
#[pyclass(name = "_CudaEvent", module = "rtorch._C")]
pub struct PyCudaEvent {
    ev: backend::Event,
    device: usize,
    timing: bool,
}

#[pymethods]
impl PyCudaEvent {
    #[new]
    #[pyo3(signature = (device, enable_timing=false))]
    fn new(device: usize, enable_timing: bool) -> PyResult<Self> {
        check_index(device)?;
        Ok(PyCudaEvent {
            ev: backend::Event::new(device)?,
            device,
            timing: enable_timing,
        })
    }
    fn record(&self) -> PyResult<()> {
        Ok(self.ev.record()?)
    }
    fn synchronize(&self, py: Python<'_>) -> PyResult<()> {
        Ok(py.detach(|| self.ev.synchronize())?)
    }
    fn query(&self) -> PyResult<bool> {
        Ok(self.ev.query()?)
    }
    /// Milliseconds from this event to `end` (both recorded, both with timing enabled).
    fn elapsed_time(&self, py: Python<'_>, end: PyRef<'_, PyCudaEvent>) -> PyResult<f32> {
        if !self.timing || !end.timing {
            return Err(Error::Runtime(
                "Both events must be created with argument 'enable_timing=True'.".into(),
            )
            .into());
        }
        let end = &end.ev;
        Ok(py.detach(|| self.ev.elapsed_ms(end))?)
    }
    #[getter]
    fn device(&self) -> usize {
        self.device
    }
    #[getter]
    fn enable_timing(&self) -> bool {
        self.timing
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyCudaEvent>()?;
    m.add(
        "OutOfMemoryError",
        m.py().get_type::<super::errors::OutOfMemoryError>(),
    )?;
    macro_rules! add_fns {
        ($($f:ident),* $(,)?) => { $( m.add_function(wrap_pyfunction!($f, m)?)?; )* };
    }
    add_fns!(
        _cuda_is_built,
        _cuda_is_available,
        _cuda_device_count,
        _cuda_current_device,
        _cuda_set_device,
        _cuda_get_device_name,
        _cuda_get_device_capability,
        _cuda_get_device_properties,
        _cuda_synchronize,
        _cuda_memory_stats,
        _cuda_reset_peak,
        _cuda_empty_cache,
        _cuda_set_allow_tf32,
        _cuda_get_allow_tf32,
        _cuda_compile_check,
        _cuda_prebuild,
        _cuda_manual_seed,
        _cuda_manual_seed_all,
        _cuda_initial_seed,
        _raise_runtime_error,
    );
    Ok(())
}
