//! Memory primitives: fill, host transfer, strided copy, cast.

use super::Strided;
use crate::dtype::DType;
use crate::error::Result;
use crate::storage::Storage;
use crate::tensor::creation_scalar::Scalar;

pub trait MemoryKernels {
    /// `len` elements of `dtype`, each `value` (converted as PyTorch converts a Python number).
    fn full(&self, len: usize, dtype: DType, value: Scalar) -> Result<Storage>;
    /// `len` elements of `dtype` whose values are unspecified (`torch.empty`): a backend
    /// that can hand out recycled memory without clearing it overrides this.
    fn empty(&self, len: usize, dtype: DType) -> Result<Storage> {
        self.full(len, dtype, Scalar::Int(0))
    }
    /// Copies a host storage (contiguous) to this device.
    fn upload(&self, host: &Storage) -> Result<Storage>;
    /// A contiguous host copy of `src`, in row-major order.
    fn to_host(&self, src: Strided) -> Result<Storage>;
    /// A contiguous copy of `src` converted to `dtype` (a plain copy when it already is).
    fn cast(&self, src: Strided, dtype: DType) -> Result<Storage>;
    /// In place: writes `src` (same shape and dtype, no overlap with `dst`) into the elements
    /// of `dst`.
    fn copy_into(&self, src: Strided, dst: Strided) -> Result<()>;
}
