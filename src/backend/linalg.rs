//! Batched matrix multiplication.

use super::Strided;
use crate::error::Result;
use crate::storage::Storage;

pub trait LinalgKernels {
    /// `out[b] = a[b] @ b[b]` for 3-D views `a: [batch, m, k]` and `b: [batch, k, n]` of one
    /// dtype (batch strides may be 0 for broadcasting). Returns a contiguous `[batch, m, n]`
    /// storage; `k == 0` gives zeros. Integers accumulate in i64 with wrap-around, bool as
    /// "any".
    fn matmul(
        &self,
        a: Strided,
        b: Strided,
        batch: usize,
        m: usize,
        n: usize,
        k: usize,
    ) -> Result<Storage>;
}
