//! `rtorch._C` entry points of the NCCL backend (`rtorch.distributed`'s `nccl`): library
//! queries, the unique id, and `_NcclComm`, one rank's communicator on one device. Each
//! method converts its arguments and forwards to `crate::cuda_backend::NcclComm`, without the
//! GIL (NCCL calls can wait for the other ranks). Without the `cuda` feature, libnccl or a
//! GPU, the backend's error explains why.

use super::tensor::PyTensor;
use crate::cuda_backend::{self as backend, NcclComm, NcclOp};
use crate::error::Error;
use crate::tensor::Tensor;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use std::time::Duration;

/// Whether the NCCL library can be opened (the `cuda` feature built in, libnccl found).
#[pyfunction]
fn _nccl_is_available() -> bool {
    backend::nccl_available()
}

/// `(major, minor, patch)` of the loaded NCCL library.
#[pyfunction]
fn _nccl_version() -> PyResult<(i32, i32, i32)> {
    Ok(backend::nccl_version()?)
}

/// A fresh 128-byte unique id for `_NcclComm`.
#[pyfunction]
fn _nccl_unique_id(py: Python<'_>) -> PyResult<Py<PyBytes>> {
    let id = py.detach(backend::nccl_unique_id)?;
    Ok(PyBytes::new(py, &id).unbind())
}

#[pyfunction]
fn _nccl_group_start() -> PyResult<()> {
    Ok(NcclComm::group_start()?)
}

#[pyfunction]
fn _nccl_group_end(py: Python<'_>) -> PyResult<()> {
    Ok(py.detach(NcclComm::group_end)?)
}

/// `ReduceOp.RedOpType` values (SUM 0, AVG 1, PRODUCT 2, MIN 3, MAX 4) to NCCL's reductions.
fn op(code: i64, name: &str) -> PyResult<NcclOp> {
    Ok(match code {
        0 => NcclOp::Sum,
        1 => NcclOp::Avg,
        2 => NcclOp::Product,
        3 => NcclOp::Min,
        4 => NcclOp::Max,
        _ => {
            return Err(Error::Value(format!(
                "{name}: reduction operator {code} is not supported by the NCCL backend \
                 (SUM, AVG, PRODUCT, MIN and MAX are)"
            ))
            .into())
        }
    })
}

#[pyclass(name = "_NcclComm", module = "rtorch._C", frozen)]
pub struct PyNcclComm {
    comm: NcclComm,
}

fn tensor(t: &Bound<'_, PyTensor>) -> Tensor {
    t.borrow().t.clone()
}

#[pymethods]
impl PyNcclComm {
    /// Joins communicator `unique_id` as `rank` of `world_size` on CUDA device `device`;
    /// returns once every rank has joined.
    #[new]
    fn new(
        py: Python<'_>,
        unique_id: &[u8],
        rank: usize,
        world_size: usize,
        device: usize,
    ) -> PyResult<Self> {
        let id = unique_id.to_vec();
        let comm = py.detach(move || NcclComm::new(&id, rank, world_size, device))?;
        Ok(PyNcclComm { comm })
    }

    #[getter]
    fn rank(&self) -> usize {
        self.comm.rank()
    }
    #[getter]
    fn size(&self) -> usize {
        self.comm.size()
    }
    #[getter]
    fn device(&self) -> usize {
        self.comm.device()
    }

    fn all_reduce(&self, py: Python<'_>, t: &Bound<'_, PyTensor>, op_code: i64) -> PyResult<()> {
        let (t, op) = (tensor(t), op(op_code, "all_reduce")?);
        Ok(py.detach(|| self.comm.all_reduce(t.strided(), op))?)
    }

    fn broadcast(&self, py: Python<'_>, t: &Bound<'_, PyTensor>, root: usize) -> PyResult<()> {
        let t = tensor(t);
        Ok(py.detach(|| self.comm.broadcast(t.strided(), root))?)
    }

    fn reduce(
        &self,
        py: Python<'_>,
        t: &Bound<'_, PyTensor>,
        root: usize,
        op_code: i64,
    ) -> PyResult<()> {
        let (t, op) = (tensor(t), op(op_code, "reduce")?);
        Ok(py.detach(|| self.comm.reduce(t.strided(), root, op))?)
    }

    fn all_gather(
        &self,
        py: Python<'_>,
        output: &Bound<'_, PyTensor>,
        input: &Bound<'_, PyTensor>,
    ) -> PyResult<()> {
        let (o, i) = (tensor(output), tensor(input));
        Ok(py.detach(|| self.comm.all_gather(o.strided(), i.strided()))?)
    }

    fn reduce_scatter(
        &self,
        py: Python<'_>,
        output: &Bound<'_, PyTensor>,
        input: &Bound<'_, PyTensor>,
        op_code: i64,
    ) -> PyResult<()> {
        let (o, i, op) = (
            tensor(output),
            tensor(input),
            op(op_code, "reduce_scatter")?,
        );
        Ok(py.detach(|| self.comm.reduce_scatter(o.strided(), i.strided(), op))?)
    }

    fn send(&self, py: Python<'_>, t: &Bound<'_, PyTensor>, peer: usize) -> PyResult<()> {
        let t = tensor(t);
        Ok(py.detach(|| self.comm.send(t.strided(), peer))?)
    }

    fn recv(&self, py: Python<'_>, t: &Bound<'_, PyTensor>, peer: usize) -> PyResult<()> {
        let t = tensor(t);
        Ok(py.detach(|| self.comm.recv(t.strided(), peer))?)
    }

    /// Whether the operations enqueued so far have finished (never blocks).
    fn is_completed(&self) -> PyResult<bool> {
        Ok(self.comm.is_completed()?)
    }

    /// Waits up to `timeout_s` for the operations enqueued so far; aborts the communicator
    /// and raises RuntimeError on a timeout or an NCCL failure.
    fn wait(&self, py: Python<'_>, timeout_s: f64, what: &str) -> PyResult<()> {
        let limit = Duration::try_from_secs_f64(timeout_s.max(0.0)).unwrap_or(Duration::MAX);
        Ok(py.detach(|| self.comm.wait(limit, what))?)
    }

    fn abort(&self, py: Python<'_>) {
        py.detach(|| self.comm.abort())
    }

    fn destroy(&self, py: Python<'_>) -> PyResult<()> {
        Ok(py.detach(|| self.comm.destroy())?)
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyNcclComm>()?;
    macro_rules! add_fns {
        ($($f:ident),* $(,)?) => { $( m.add_function(wrap_pyfunction!($f, m)?)?; )* };
    }
    add_fns!(
        _nccl_is_available,
        _nccl_version,
        _nccl_unique_id,
        _nccl_group_start,
        _nccl_group_end,
    );
    Ok(())
}
