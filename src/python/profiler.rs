//! Bindings of the op profiler: start/stop (collecting events) and user ranges.

use crate::profiler;
use pyo3::prelude::*;

/// One event as `(id, parent, name, kind, thread, start_ns, end_ns, shapes, alloc_bytes)`.
type EventTuple = (
    u64,
    u64,
    String,
    &'static str,
    u64,
    u64,
    u64,
    Vec<Vec<usize>>,
    u64,
);

#[pyfunction]
fn _profiler_start(record_shapes: bool, profile_memory: bool) {
    profiler::start(record_shapes, profile_memory)
}

/// Stops recording and returns the events finished since the start.
#[pyfunction]
fn _profiler_stop() -> Vec<EventTuple> {
    profiler::stop()
        .into_iter()
        .map(|e| {
            (
                e.id,
                e.parent,
                e.name.into_owned(),
                e.kind.name(),
                e.thread,
                e.start_ns,
                e.end_ns,
                e.shapes,
                e.alloc_bytes,
            )
        })
        .collect()
}

#[pyfunction]
fn _profiler_enabled() -> bool {
    profiler::is_active()
}

/// Opens a `record_function` range on this thread (false when nothing records).
#[pyfunction]
fn _profiler_push_range(name: String) -> bool {
    profiler::push_range(name)
}

#[pyfunction]
fn _profiler_pop_range() {
    profiler::pop_range()
}

/// Opens an op scope for an op composed in Python (false when nothing records).
#[pyfunction]
fn _profiler_push_op(name: String, shapes: Vec<Vec<usize>>) -> bool {
    profiler::push_op(name, shapes)
}

#[pyfunction]
fn _profiler_pop_op() {
    profiler::pop_op()
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_profiler_start, m)?)?;
    m.add_function(wrap_pyfunction!(_profiler_stop, m)?)?;
    m.add_function(wrap_pyfunction!(_profiler_enabled, m)?)?;
    m.add_function(wrap_pyfunction!(_profiler_push_range, m)?)?;
    m.add_function(wrap_pyfunction!(_profiler_pop_range, m)?)?;
    m.add_function(wrap_pyfunction!(_profiler_push_op, m)?)?;
    m.add_function(wrap_pyfunction!(_profiler_pop_op, m)?)?;
    Ok(())
}
