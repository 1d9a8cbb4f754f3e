//! Symmetric indefinite LDLᵀ (Bunch–Kaufman) through faer, repacked into LAPACK's `sytrf`
//! layout (the layout PyTorch's `ldl_factor` returns), and the matching solve.
//!
//! LAPACK's layout, lower case: `A = P₁L₁ P₂L₂ … D … (P₂L₂)ᵀ(P₁L₁)ᵀ`, one step per 1×1 or 2×2
//! block of D. Step k swaps row/column r (k, or k+1 for a 2×2 block) with `p ≥ r` and then
//! eliminates below the block. Column k of LD holds that step's multipliers in the row order
//! of *that* step: later swaps are not applied to it. The diagonal of LD holds D's diagonal,
//! a 2×2 block keeps its off-diagonal entry at (k+1, k), and pivots are 1-based: `p + 1` for
//! a 1×1 block, `-(p + 1)` on both rows of a 2×2 block.
//!
//! faer returns `A = Pᵀ L D Lᵀ P` with every later swap applied to earlier columns of L, so
//! the repacking replays faer's swaps backwards on the earlier columns.
//!
//! faer's partial pivoting differs from LAPACK's in one test: with λ the largest
//! off-diagonal magnitude in column k, found at row r, and σ the largest off-diagonal
//! magnitude in row/column r, LAPACK keeps a 1×1 pivot at k when `|a_kk|·σ ≥ α·λ²` and faer
//! when `|a_kk|·λ ≥ α·σ²` (σ ≥ λ, so faer's is the stricter). When `|a_kk|` falls between the
//! two, the factorizations differ (both valid, same layout, same solutions up to rounding).

use super::factor::One;
use crate::error::{Error, Result};
use faer::diag::Diag;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::lblt::factor::{
    cholesky_in_place, cholesky_in_place_scratch, LbltParams, PivotingStrategy,
};
use faer::traits::RealField;
use faer::{Mat, Par, Spec};
use num_traits::Float;

/// One block of D: its first row, its size (1 or 2), and the 0-based row swapped with its
/// last row before elimination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Block {
    start: usize,
    size: usize,
    swap: usize,
}

/// LDLᵀ of the symmetric `[n, n]` row-major `src`, reading its lower triangle: LD `[n, n]`,
/// int32 pivots `[n]` and info (1-based index of the first exactly-zero 1×1 block of D).
pub(super) fn ldl_one<T: RealField + Float>(src: &[T], n: usize) -> One<T> {
    let mut a = Mat::<T>::from_fn(n, n, |i, j| if i >= j { src[i * n + j] } else { T::zero() });
    let mut sub = Diag::<T>::zeros(n);
    let (mut perm, mut perm_inv) = (vec![0usize; n], vec![0usize; n]);
    let mut params: Spec<LbltParams, T> = Default::default();
    params.pivoting = PivotingStrategy::Partial; // LAPACK's strategy (see the module docs)
    if n > 0 {
        let mut buf = MemBuffer::new(cholesky_in_place_scratch::<usize, T>(n, Par::Seq, params));
        cholesky_in_place(
            a.as_mut(),
            sub.as_mut(),
            &mut perm,
            &mut perm_inv,
            Par::Seq,
            MemStack::new(&mut buf),
            params,
        );
    }
    // faer composes its steps' swaps (i ↔ p_i, p_i ≥ i) into `perm`; such a sequence is
    // unique, so replaying `perm` recovers each p_i.
    let mut at: Vec<usize> = (0..n).collect(); // original row -> current position
    let mut cur: Vec<usize> = (0..n).collect(); // position -> original row
    let mut swaps = Vec::with_capacity(n);
    for i in 0..n {
        let p = at[perm[i]];
        swaps.push(p);
        let (ri, rp) = (cur[i], cur[p]);
        cur.swap(i, p);
        at[ri] = p;
        at[rp] = i;
    }
    // A 2×2 block has a nonzero off-diagonal (its pivot's column maximum); 1×1 blocks leave
    // a zero there.
    let sub = sub.column_vector();
    let mut blocks = Vec::with_capacity(n);
    let mut k = 0;
    while k < n {
        let size = if k + 1 < n && sub[k] != T::zero() {
            2
        } else {
            1
        };
        if size == 2 && swaps[k] != k {
            // Partial pivoting swaps only the block's second row; anything else cannot be
            // written in LAPACK's layout.
            return failed(n);
        }
        blocks.push(Block {
            start: k,
            size,
            swap: swaps[k + size - 1],
        });
        k += size;
    }
    let mut ld = vec![T::zero(); n * n];
    for j in 0..n {
        for i in j..n {
            ld[i * n + j] = a[(i, j)];
        }
    }
    // Undo each step's swap on the columns before it, last step first.
    for b in blocks.iter().rev() {
        let r = b.start + b.size - 1;
        if b.swap != r {
            for c in 0..b.start {
                ld.swap(r * n + c, b.swap * n + c);
            }
        }
    }
    let mut piv = vec![0i32; n];
    let mut info = 0;
    for b in &blocks {
        let p = b.swap as i32 + 1;
        if b.size == 2 {
            let k = b.start;
            ld[(k + 1) * n + k] = sub[k];
            piv[k] = -p;
            piv[k + 1] = -p;
        } else {
            piv[b.start] = p;
            if info == 0 && ld[b.start * n + b.start] == T::zero() {
                info = b.start as i32 + 1;
            }
        }
    }
    One {
        mats: vec![ld],
        ints: piv,
        info,
    }
}

fn failed<T: Float>(n: usize) -> One<T> {
    One {
        mats: vec![vec![T::nan(); n * n]],
        ints: (1..=n as i32).collect(),
        info: -1,
    }
}

fn bad_pivots(rule: &str) -> Error {
    Error::Runtime(format!(
        "Pivots given to ldl_solve must all satisfy {rule}. Did you properly pass the result of ldl_factor?"
    ))
}

/// The blocks described by one matrix's LAPACK pivots, or PyTorch's error for pivots that
/// `ldl_factor` cannot have produced.
fn parse_pivots(piv: &[i32]) -> Result<Vec<Block>> {
    let n = piv.len();
    if piv.contains(&0) {
        return Err(bad_pivots("|pivot| >= 1"));
    }
    if piv.iter().any(|&p| p.unsigned_abs() as usize > n) {
        return Err(bad_pivots("|pivot| <= LD.size(-2)"));
    }
    let mut blocks = Vec::with_capacity(n);
    let mut k = 0;
    while k < n {
        let p = piv[k];
        if p > 0 {
            blocks.push(Block {
                start: k,
                size: 1,
                swap: p as usize - 1,
            });
            k += 1;
        } else if k + 1 < n && piv[k + 1] == p {
            blocks.push(Block {
                start: k,
                size: 2,
                swap: p.unsigned_abs() as usize - 1,
            });
            k += 2;
        } else {
            return Err(bad_pivots(
                "that a negative pivot repeats on the next row (one 2x2 block)",
            ));
        }
    }
    Ok(blocks)
}

/// Checks every matrix's pivots (`[batch, n]`, row-major) before any solving.
pub(super) fn check_pivots(piv: &[i32], n: usize) -> Result<()> {
    if n == 0 {
        return Ok(());
    }
    piv.chunks(n).try_for_each(|p| parse_pivots(p).map(|_| ()))
}

/// `x ← A⁻¹ x` in place for one matrix: `ld` `[n, n]` and `piv` `[n]` as `ldl_one` makes
/// them, `x` row-major `[n, k]`. The pivots must have passed `check_pivots`.
pub(super) fn solve_one<T: RealField + Float>(
    ld: &[T],
    piv: &[i32],
    x: &mut [T],
    n: usize,
    k: usize,
) {
    let Ok(blocks) = parse_pivots(piv) else {
        return;
    };
    let l = |i: usize, j: usize| ld[i * n + j];
    let swap_rows = |x: &mut [T], r: usize, p: usize| {
        if r != p {
            for c in 0..k {
                x.swap(r * k + c, p * k + c);
            }
        }
    };
    // x[i] -= f * x[j] for one row pair.
    let axpy = |x: &mut [T], i: usize, j: usize, f: T| {
        if f != T::zero() {
            let (lo, hi) = x.split_at_mut(i.max(j) * k);
            let (dst, src) = if i > j {
                (&mut hi[..k], &lo[j * k..j * k + k])
            } else {
                (&mut lo[i * k..i * k + k], &hi[..k])
            };
            for (d, &s) in dst.iter_mut().zip(src) {
                *d -= f * s;
            }
        }
    };
    // Forward: L⁻¹ with the swaps, then D⁻¹ block by block.
    for b in &blocks {
        let (s, e) = (b.start, b.start + b.size);
        swap_rows(x, e - 1, b.swap);
        for i in e..n {
            for j in s..e {
                axpy(x, i, j, l(i, j));
            }
        }
        if b.size == 1 {
            let d = l(s, s);
            for v in &mut x[s * k..s * k + k] {
                *v /= d;
            }
        } else {
            // [[d0, e], [e, d1]]⁻¹ scaled by e first, which keeps the 2×2 solve from
            // overflowing when the block is nearly singular relative to its size.
            let (d0, off, d1) = (l(s, s), l(s + 1, s), l(s + 1, s + 1));
            let (a0, a1) = (d0 / off, d1 / off);
            let den = a0 * a1 - T::one();
            for c in 0..k {
                let (y0, y1) = (x[s * k + c] / off, x[(s + 1) * k + c] / off);
                x[s * k + c] = (a1 * y0 - y1) / den;
                x[(s + 1) * k + c] = (a0 * y1 - y0) / den;
            }
        }
    }
    // Backward: Lᵀ⁻¹ with the swaps undone in reverse.
    for b in blocks.iter().rev() {
        let (s, e) = (b.start, b.start + b.size);
        for j in s..e {
            for i in e..n {
                axpy(x, j, i, l(i, j));
            }
        }
        swap_rows(x, e - 1, b.swap);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A⁻¹ from the factorization: the solve applied to the identity.
    fn inverse(ld: &[f64], piv: &[i32], n: usize) -> Vec<f64> {
        let mut inv = vec![0.0; n * n];
        for i in 0..n {
            inv[i * n + i] = 1.0;
        }
        solve_one(ld, piv, &mut inv, n, n);
        inv
    }

    fn matmul(a: &[f64], b: &[f64], n: usize) -> Vec<f64> {
        let mut c = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                c[i * n + j] = (0..n).map(|t| a[i * n + t] * b[t * n + j]).sum();
            }
        }
        c
    }

    #[test]
    fn solves_indefinite_systems_with_both_block_sizes() {
        // [[0, 1], [1, 0]] forces a 2×2 block; the 3×3 mixes both.
        for (n, a) in [
            (2, vec![0.0, 1.0, 1.0, 0.0]),
            (3, vec![1.0, 2.0, 3.0, 2.0, -4.0, 0.5, 3.0, 0.5, 0.0]),
            (
                4,
                vec![
                    0.1, 3.0, -1.0, 2.0, 3.0, 0.2, 4.0, 1.0, -1.0, 4.0, 0.0, 5.0, 2.0, 1.0, 5.0,
                    0.3,
                ],
            ),
        ] {
            let f = ldl_one(&a, n);
            assert_eq!(f.info, 0);
            let inv = inverse(&f.mats[0], &f.ints, n);
            let eye = matmul(&a, &inv, n);
            for i in 0..n {
                for j in 0..n {
                    let want = if i == j { 1.0 } else { 0.0 };
                    assert!((eye[i * n + j] - want).abs() < 1e-12, "{n}: {eye:?}");
                }
            }
        }
        let f = ldl_one(&[0.0, 1.0, 1.0, 0.0], 2);
        assert_eq!(f.ints, vec![-2, -2]);
        assert_eq!(f.mats[0], vec![0.0, 0.0, 1.0, 0.0]);
    }

    #[test]
    fn singular_input_sets_info_and_bad_pivots_are_refused() {
        let f = ldl_one(&[1.0, 2.0, 2.0, 4.0], 2);
        assert_eq!((f.ints.clone(), f.info), (vec![2, 2], 2));
        assert!(check_pivots(&[0, 1], 2).is_err());
        assert!(check_pivots(&[3, 1], 2).is_err());
        assert!(check_pivots(&[1, -2], 2).is_err());
        assert!(check_pivots(&[-2, -2, 3], 3).is_ok());
    }
}
