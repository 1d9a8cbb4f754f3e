//! Index family on the GPU.
use super::context::Gpu;
use crate::backend::{IndexDim, IndexKernels, Offsets, Strided};
use crate::error::{Error, Result};
use crate::storage::Storage;

pub(super) fn kernel_names() -> Vec<String> {
    Vec::new()
}

fn todo<T>(op: &str) -> Result<T> {
    Err(Error::NotImplemented(format!("{op} on CUDA")))
}

impl IndexKernels for Gpu {
    fn index_offsets(&self, _dims: &[IndexDim], _shape: &[usize], _wrap: bool) -> Result<Offsets> {
        todo("index")
    }
    fn take(&self, _src: Strided, _offsets: Strided) -> Result<Storage> {
        todo("take")
    }
    fn put(&self, _dst: Strided, _o: Strided, _v: Strided, _acc: bool) -> Result<()> {
        todo("put")
    }
    fn nonzero(&self, _src: Strided) -> Result<(Storage, usize)> {
        todo("nonzero")
    }
}
