//! CPU kernels of the elementwise family (the kernels live in `unary.rs` and `binary.rs`).

use super::CpuBackend;
use crate::backend::{BinaryOp, ElementwiseKernels, MapOp, Rhs, Strided, UnaryOp};
use crate::error::Result;
use crate::storage::Storage;

impl ElementwiseKernels for CpuBackend {
    fn unary(&self, op: UnaryOp, src: Strided) -> Result<Storage> {
        super::unary::unary(op, src)
    }
    fn map(&self, op: MapOp, src: Strided) -> Result<Storage> {
        super::unary::map(op, src)
    }
    fn binary(&self, op: BinaryOp, lhs: Strided, rhs: Rhs) -> Result<Storage> {
        super::binary::binary(op, lhs, rhs)
    }
    fn binary_into(&self, op: BinaryOp, dst: Strided, rhs: Rhs) -> Result<()> {
        super::binary::binary_into(op, dst, rhs)
    }
    fn where_(&self, cond: Strided, a: Strided, b: Strided) -> Result<Storage> {
        super::binary::where_(cond, a, b)
    }
    fn any(&self, src: Strided) -> Result<bool> {
        super::binary::any(src)
    }
}
