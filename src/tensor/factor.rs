//! Dense factorizations (LU, Cholesky, QR, symmetric eigen, SVD) and factored solves over
//! the last two dims, batched over the leading ones.
//!
//! These are forward-only primitives: their gradient rules are composites of tensor ops
//! that live with the public `linalg` functions built on them, so the outputs here never
//! record autograd history.

use super::Tensor;
use crate::autograd;
use crate::backend::{FactorSolve, Factorization};
use crate::dtype::DType;
use crate::error::{Error, Result};

fn check_float(op: &str, t: &Tensor) -> Result<()> {
    match t.dtype() {
        DType::F32 | DType::F64 => Ok(()),
        d => Err(Error::Runtime(format!(
            "{op}: expected a float32 or float64 tensor, got {}",
            d.name()
        ))),
    }
}

/// `(batch dims, m, n)` of a tensor with at least two dims.
fn split(op: &str, t: &Tensor) -> Result<(Vec<usize>, usize, usize)> {
    let nd = t.ndim();
    if nd < 2 {
        return Err(Error::Runtime(format!(
            "{op}: The input tensor A must have at least 2 dimensions."
        )));
    }
    let s = t.shape();
    Ok((s[..nd - 2].to_vec(), s[nd - 2], s[nd - 1]))
}

fn as_3d(t: &Tensor, batch: usize, m: usize, n: usize) -> Result<Tensor> {
    t.reshape(&[batch as i64, m as i64, n as i64])
}

fn with_batch(batch: &[usize], tail: &[usize]) -> Vec<usize> {
    let mut s = batch.to_vec();
    s.extend_from_slice(tail);
    s
}

impl Tensor {
    /// Factorizes every matrix of `self` (`[..., m, n]`); the outputs follow
    /// `Factorization`'s documentation with the batch dims in front (empty factors that an
    /// op skips are returned with shape `[0]`).
    pub fn linalg_factor(&self, op: Factorization, name: &str) -> Result<Vec<Tensor>> {
        check_float(name, self)?;
        let (bdims, m, n) = split(name, self)?;
        if matches!(
            op,
            Factorization::Cholesky { .. } | Factorization::Eigh { .. } | Factorization::Ldl
        ) && m != n
        {
            return Err(Error::Runtime(format!(
                "{name}: A must be batches of square matrices, but they are {m} by {n} matrices"
            )));
        }
        let _g = autograd::no_grad();
        let batch = crate::shape::checked_numel(&bdims)?;
        let a = as_3d(self, batch, m, n)?;
        let outs = self.backend()?.factorize(op, a.strided(), batch, m, n)?;
        let k = m.min(n);
        let shapes: Vec<Vec<usize>> = match op {
            Factorization::Lu => vec![vec![m, n], vec![k], vec![]],
            Factorization::Ldl => vec![vec![n, n], vec![n], vec![]],
            Factorization::Cholesky { .. } => vec![vec![n, n], vec![]],
            Factorization::Qr { complete, r_only } => {
                let q = if complete { m } else { k };
                let qs = if r_only { None } else { Some(vec![m, q]) };
                vec![qs.unwrap_or_default(), vec![q, n], vec![]]
            }
            Factorization::Eigh { vectors, .. } => {
                vec![vec![n], if vectors { vec![n, n] } else { vec![] }, vec![]]
            }
            Factorization::Svd { full, vectors } => {
                let (qu, qv) = if full { (m, n) } else { (k, k) };
                if vectors {
                    vec![vec![m, qu], vec![k], vec![qv, n], vec![]]
                } else {
                    vec![vec![], vec![k], vec![], vec![]]
                }
            }
        };
        outs.into_iter()
            .zip(shapes)
            .map(|(s, tail)| {
                if tail.is_empty() && s.len() != batch {
                    // A factor the op skipped: an empty 1-D tensor.
                    Tensor::from_kernel(s, &[0])
                } else {
                    Tensor::from_kernel(s, &with_batch(&bdims, &tail))
                }
            })
            .collect()
    }

    /// Solves `A X = B` against `a` (triangular, a packed LU or LD with `pivots`) for `b`
    /// of shape `[..., n, k]`; `a`, `pivots` and `b` must already share their batch dims.
    pub fn linalg_solve_factored(
        a: &Tensor,
        pivots: Option<&Tensor>,
        b: &Tensor,
        op: FactorSolve,
        name: &str,
    ) -> Result<Tensor> {
        check_float(name, a)?;
        super::check_same_device(name, &[a, b])?;
        if a.dtype() != b.dtype() {
            return Err(Error::Runtime(format!(
                "{name}: Expected A and B to have the same dtype, but found A of type {} and B of type {} instead",
                a.dtype().name(),
                b.dtype().name()
            )));
        }
        let (bdims, n, n2) = split(name, a)?;
        let (bb, nb, k) = split(name, b)?;
        if n != n2 || nb != n || bb != bdims {
            return Err(Error::Runtime(format!(
                "{name}: Incompatible shapes of A and B for the equation AX = B ({:?} and {:?})",
                a.shape(),
                b.shape()
            )));
        }
        let _g = autograd::no_grad();
        let batch = crate::shape::checked_numel(&bdims)?;
        let a3 = as_3d(a, batch, n, n)?;
        let b3 = as_3d(b, batch, n, k)?;
        let p2 = match pivots {
            Some(p) => {
                super::check_same_device(name, &[a, p])?;
                if p.shape() != with_batch(&bdims, &[n]).as_slice() {
                    return Err(Error::Runtime(format!(
                        "{name}: expected pivots of shape {:?}, got {:?}",
                        with_batch(&bdims, &[n]),
                        p.shape()
                    )));
                }
                Some(
                    p.to_dtype_raw(DType::I32)?
                        .reshape(&[batch as i64, n as i64])?,
                )
            }
            None => None,
        };
        let x = a.backend()?.solve_factored(
            op,
            a3.strided(),
            p2.as_ref().map(|p| p.strided()),
            b3.strided(),
            batch,
            n,
            k,
        )?;
        Tensor::from_kernel(x, b.shape())
    }
}
