//! Batched matrix multiplication and dense factorizations.

use super::Strided;
use crate::error::Result;
use crate::storage::Storage;

/// One dense factorization, applied to every matrix of a batch of `[m, n]` matrices. Every
/// variant ends its outputs with `info`, an int32 `[batch]` storage (0: success).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Factorization {
    /// LU with partial pivoting: packed LU `[m, n]` (unit L below the diagonal, U on and
    /// above), LAPACK pivots int32 `[min(m, n)]` (1-based row swapped with row i at step i),
    /// info (1-based index of the first exactly-zero pivot of U).
    Lu,
    /// Cholesky of a square matrix reading its lower (or, `upper`, its upper) triangle: the
    /// lower factor L (or U = Lᵀ) with zeros elsewhere, info (order of the first leading
    /// minor that is not positive-definite).
    Cholesky { upper: bool },
    /// Householder QR: Q `[m, q]` and R `[q, n]`, with q = min(m, n) (reduced) or m
    /// (`complete`); Q is `[0]` elements when `r_only`.
    Qr { complete: bool, r_only: bool },
    /// Symmetric eigendecomposition reading one triangle: eigenvalues `[n]` ascending,
    /// eigenvectors `[n, n]` as columns (`[0]` elements unless `vectors`), info (nonzero when
    /// the iteration did not converge).
    Eigh { upper: bool, vectors: bool },
    /// SVD: U `[m, q]`, S `[min(m, n)]` descending, Vh `[q, n]` with q = min(m, n) or, when
    /// `full`, m for U and n for Vh; U and Vh are `[0]` elements unless `vectors`.
    Svd { full: bool, vectors: bool },
    /// Symmetric indefinite LDLᵀ (Bunch–Kaufman partial pivoting) of a square matrix reading
    /// its lower triangle, in LAPACK `sytrf`'s compact layout: LD `[n, n]` (unit L below the
    /// diagonal, D's diagonal on it, a 2×2 block's off-diagonal at (k+1, k)), int32 pivots
    /// `[n]` (1-based; a 2×2 block has the same negative value on both rows), info (1-based
    /// index of the first exactly-zero 1×1 block of D).
    Ldl,
}

/// A solve against a factored (or triangular) coefficient matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FactorSolve {
    /// `A X = B` for triangular A: only its `upper` (or lower) triangle is read, and its
    /// diagonal is taken as ones when `unit`.
    Triangular { upper: bool, unit: bool },
    /// `A X = B` (or `Aᵀ X = B` when `transpose`) from A's packed LU and int32 pivots, as
    /// produced by `Factorization::Lu`.
    Lu { transpose: bool },
    /// `A X = B` from `Factorization::Ldl`'s LD and int32 pivots; pivots that it cannot have
    /// produced (out of range, an unpaired negative) are an error.
    Ldl,
}

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

    /// Factorizes each matrix of the float32/float64 view `a: [batch, m, n]`; the outputs
    /// (contiguous, batch-major) are listed with each `Factorization` variant. A matrix that
    /// cannot be factored sets its info; it is not an error.
    fn factorize(
        &self,
        op: Factorization,
        a: Strided,
        batch: usize,
        m: usize,
        n: usize,
    ) -> Result<Vec<Storage>>;

    /// Solves for X `[batch, n, k]` given `a: [batch, n, n]` (triangular or packed LU),
    /// `pivots: [batch, n]` int32 (LU only) and `b: [batch, n, k]`, all of `a`'s dtype.
    #[allow(clippy::too_many_arguments)]
    fn solve_factored(
        &self,
        op: FactorSolve,
        a: Strided,
        pivots: Option<Strided>,
        b: Strided,
        batch: usize,
        n: usize,
        k: usize,
    ) -> Result<Storage>;
}
