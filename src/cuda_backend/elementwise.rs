//! Elementwise family on the GPU.
use super::context::Gpu;
use crate::backend::{BinaryOp, ElementwiseKernels, MapOp, Rhs, Strided, UnaryOp};
use crate::error::{Error, Result};
use crate::storage::Storage;

pub(super) fn kernel_names() -> Vec<String> {
    Vec::new()
}

fn todo<T>(op: &str) -> Result<T> {
    Err(Error::NotImplemented(format!("{op} on CUDA")))
}

impl ElementwiseKernels for Gpu {
    fn unary(&self, _op: UnaryOp, _src: Strided) -> Result<Storage> {
        todo("unary")
    }
    fn map(&self, _op: MapOp, _src: Strided) -> Result<Storage> {
        todo("map")
    }
    fn binary(&self, _op: BinaryOp, _lhs: Strided, _rhs: Rhs) -> Result<Storage> {
        todo("binary")
    }
    fn binary_into(&self, _op: BinaryOp, _dst: Strided, _rhs: Rhs) -> Result<()> {
        todo("binary_into")
    }
    fn where_(&self, _c: Strided, _a: Strided, _b: Strided) -> Result<Storage> {
        todo("where")
    }
    fn any(&self, _src: Strided) -> Result<bool> {
        todo("any")
    }
}
