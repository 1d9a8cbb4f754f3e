//! Row reductions and arg-reductions, scans, sorting.
//!
//! Every method works on `m` rows of `k` elements: `src` is a view whose row-major order is
//! those rows (the tensor layer permutes the reduced or scanned dims last; the view need not
//! be contiguous). `m * k == src.numel()`.

use super::Strided;
use crate::dtype::DType;
use crate::error::Result;
use crate::storage::Storage;

/// What a row reduction computes. Float results are accumulated in f64 and converted to the
/// output dtype; integer sums and products accumulate in wrapping int64.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ReduceOp {
    /// Sum (empty: 0).
    Sum,
    /// Sum ignoring NaNs.
    NanSum,
    /// Product (empty: 1).
    Prod,
    /// Sum / k (empty: NaN).
    Mean,
    /// Largest element; NaN propagates. Needs `k > 0`.
    Amax,
    /// Smallest element; NaN propagates. Needs `k > 0`.
    Amin,
    /// Every element non-zero (empty: true).
    All,
    /// Some element non-zero (empty: false).
    Any,
    /// Number of non-zero elements.
    CountNonzero,
    /// Variance with `correction` (1: unbiased); `std` takes its square root.
    Var { correction: f64, std: bool },
    /// Vector p-norm of the absolute values (p may be 0 or ±inf).
    Norm { p: f64 },
    /// log(sum(exp(row))), stable (empty: -inf).
    LogSumExp,
}

/// Running (inclusive) scans along each row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanOp {
    Sum,
    Prod,
}

pub trait ReduceKernels {
    /// `out[i] = op(row i)` for `m` rows of `k`, as `out_dtype` (`m` elements).
    fn reduce_rows(
        &self,
        op: ReduceOp,
        src: Strided,
        m: usize,
        k: usize,
        out_dtype: DType,
    ) -> Result<Storage>;

    /// `(values, indices)` of the largest (`is_max`) or smallest element of each row: the
    /// values in `src`'s dtype, the indices as int64. NaN wins; ties take the first index.
    /// Needs `k > 0`.
    fn arg_reduce_rows(
        &self,
        is_max: bool,
        src: Strided,
        m: usize,
        k: usize,
    ) -> Result<(Storage, Storage)>;

    /// Inclusive running sum or product along each row, in `src`'s dtype (`m * k` elements).
    fn scan_rows(&self, op: ScanOp, src: Strided, m: usize, k: usize) -> Result<Storage>;

    /// Each row sorted: `(values, int64 indices into the row)`, `m * k` each. NaN orders as
    /// the largest value; integers compare exactly. Ties keep their order (the sort is always
    /// stable, which also satisfies `stable=False`).
    fn sort_rows(
        &self,
        src: Strided,
        m: usize,
        k: usize,
        descending: bool,
    ) -> Result<(Storage, Storage)>;
}
