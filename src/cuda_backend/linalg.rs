//! Matrix products on the GPU through cuBLAS.
use super::context::Gpu;
use crate::backend::{LinalgKernels, Strided};
use crate::error::{Error, Result};
use crate::storage::Storage;

/// The cuBLAS handle of one device.
pub(crate) struct Blas;

impl LinalgKernels for Gpu {
    fn matmul(
        &self,
        _a: Strided,
        _b: Strided,
        _batch: usize,
        _m: usize,
        _n: usize,
        _k: usize,
    ) -> Result<Storage> {
        Err(Error::NotImplemented("matmul on CUDA".into()))
    }
}
