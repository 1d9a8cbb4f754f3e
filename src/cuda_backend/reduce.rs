//! Reduction family on the GPU.
use super::context::Gpu;
use crate::backend::{ReduceKernels, ReduceOp, ScanOp, Strided};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::storage::Storage;

pub(super) fn kernel_names() -> Vec<String> {
    Vec::new()
}

fn todo<T>(op: &str) -> Result<T> {
    Err(Error::NotImplemented(format!("{op} on CUDA")))
}

impl ReduceKernels for Gpu {
    fn reduce_rows(
        &self,
        _op: ReduceOp,
        _s: Strided,
        _m: usize,
        _k: usize,
        _o: DType,
    ) -> Result<Storage> {
        todo("reduce")
    }
    fn arg_reduce_rows(
        &self,
        _is_max: bool,
        _s: Strided,
        _m: usize,
        _k: usize,
    ) -> Result<(Storage, Storage)> {
        todo("argmax")
    }
    fn scan_rows(&self, _op: ScanOp, _s: Strided, _m: usize, _k: usize) -> Result<Storage> {
        todo("scan")
    }
    fn sort_rows(&self, _s: Strided, _m: usize, _k: usize, _d: bool) -> Result<(Storage, Storage)> {
        todo("sort")
    }
}
