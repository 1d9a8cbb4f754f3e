//! Dense factorizations and factored solves through `faer`, one matrix at a time, with the
//! batch split across rayon. faer runs single-threaded inside each matrix (its rayon feature
//! is off), so a batch never oversubscribes the pool.

use super::{contiguous_or_gathered, try_zeroed};
use crate::backend::{FactorSolve, Factorization, Strided};
use crate::dtype::{DType, Elem};
use crate::error::{Error, Result};
use crate::storage::Storage;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::lu::partial_pivoting::factor::{lu_in_place, lu_in_place_scratch};
use faer::linalg::triangular_solve as tri;
use faer::reborrow::ReborrowMut;
use faer::traits::RealField;
use faer::{MatMut, MatRef, Par, Side};
use num_traits::Float;
use rayon::prelude::*;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// What one matrix's factorization produced: float outputs (fixed lengths per op), int32
/// pivots (LU only) and its info code.
pub(super) struct One<T> {
    pub(super) mats: Vec<Vec<T>>,
    pub(super) ints: Vec<i32>,
    pub(super) info: i32,
}

/// Output lengths per matrix (floats, then ints) for `op` on `[m, n]`.
fn out_sizes(op: Factorization, m: usize, n: usize) -> (Vec<usize>, usize) {
    let k = m.min(n);
    match op {
        Factorization::Lu => (vec![m * n], k),
        Factorization::Ldl => (vec![n * n], n),
        Factorization::Cholesky { .. } => (vec![n * n], 0),
        Factorization::Qr { complete, r_only } => {
            let q = if complete { m } else { k };
            (vec![if r_only { 0 } else { m * q }, q * n], 0)
        }
        Factorization::Eigh { vectors, .. } => (vec![n, if vectors { n * n } else { 0 }], 0),
        Factorization::Svd { full, vectors } => {
            let (qu, qv) = if full { (m, n) } else { (k, k) };
            let (u, v) = if vectors { (m * qu, qv * n) } else { (0, 0) };
            (vec![u, k, v], 0)
        }
    }
}

fn unsupported(op: &str, dtype: DType) -> Error {
    Error::Runtime(format!(
        "{op}: expected a float32 or float64 input on the CPU, got {}",
        dtype.name()
    ))
}

pub(crate) fn factorize(
    op: Factorization,
    a: Strided,
    batch: usize,
    m: usize,
    n: usize,
) -> Result<Vec<Storage>> {
    match a.dtype() {
        DType::F32 => factorize_as::<f32>(op, a, batch, m, n),
        DType::F64 => factorize_as::<f64>(op, a, batch, m, n),
        d => Err(unsupported("linalg factorization", d)),
    }
}

fn factorize_as<T: RealField + Float + Elem>(
    op: Factorization,
    a: Strided,
    batch: usize,
    m: usize,
    n: usize,
) -> Result<Vec<Storage>> {
    let data = contiguous_or_gathered::<T>(a)?;
    let per = m * n;
    let one = |i: usize| -> One<T> {
        let src = &data[i * per..(i + 1) * per];
        // faer asserts on shapes only, which are checked here; a panic would be a bug, and
        // is reported as a failed factorization rather than crossing into Python.
        catch_unwind(AssertUnwindSafe(|| factor_one(op, src, m, n))).unwrap_or_else(|_| {
            let (sizes, ints) = out_sizes(op, m, n);
            One {
                mats: sizes.iter().map(|&s| vec![T::nan(); s]).collect(),
                ints: vec![0; ints],
                info: -1,
            }
        })
    };
    let results: Vec<One<T>> = if super::parallel(batch * per.max(1) * m.max(n)) && batch > 1 {
        (0..batch).into_par_iter().map(one).collect()
    } else {
        (0..batch).map(one).collect()
    };
    let (sizes, nints) = out_sizes(op, m, n);
    let mut outs = Vec::with_capacity(sizes.len() + 2);
    for (j, &s) in sizes.iter().enumerate() {
        let mut v = try_zeroed::<T>(s * batch)?;
        if s > 0 {
            for (chunk, r) in v.chunks_mut(s).zip(&results) {
                chunk.copy_from_slice(&r.mats[j]);
            }
        }
        outs.push(Storage::from_vec(v));
    }
    if matches!(op, Factorization::Lu | Factorization::Ldl) {
        let mut piv = try_zeroed::<i32>(nints * batch)?;
        if nints > 0 {
            for (chunk, r) in piv.chunks_mut(nints).zip(&results) {
                chunk.copy_from_slice(&r.ints);
            }
        }
        outs.push(Storage::from_vec(piv));
    }
    let info: Vec<i32> = results.iter().map(|r| r.info).collect();
    outs.push(Storage::from_vec(info));
    Ok(outs)
}

/// Row-major copy of a faer matrix view.
fn rows<T: RealField + Float>(x: MatRef<'_, T>) -> Vec<T> {
    let mut v = Vec::with_capacity(x.nrows() * x.ncols());
    for i in 0..x.nrows() {
        for j in 0..x.ncols() {
            v.push(x[(i, j)]);
        }
    }
    v
}

/// Row-major `[r, c]` identity-like matrix (ones on the main diagonal).
fn eye<T: RealField + Float>(r: usize, c: usize) -> Vec<T> {
    let mut v = vec![T::zero(); r * c];
    for i in 0..r.min(c) {
        v[i * c + i] = T::one();
    }
    v
}

fn factor_one<T: RealField + Float>(op: Factorization, src: &[T], m: usize, n: usize) -> One<T> {
    let a = MatRef::from_row_major_slice(src, m, n);
    let k = m.min(n);
    let done = |mats: Vec<Vec<T>>, info: i32| One {
        mats,
        ints: Vec::new(),
        info,
    };
    match op {
        Factorization::Lu => lu_one(src, m, n),
        Factorization::Ldl => super::ldl::ldl_one(src, n),
        Factorization::Cholesky { upper } => {
            let side = if upper { Side::Upper } else { Side::Lower };
            match a.llt(side) {
                Ok(f) => {
                    let l = f.L();
                    done(vec![rows(if upper { l.transpose() } else { l })], 0)
                }
                Err(faer::linalg::solvers::LltError::NonPositivePivot { index }) => {
                    done(vec![vec![T::zero(); n * n]], index as i32 + 1)
                }
            }
        }
        Factorization::Qr { complete, r_only } => {
            let q = if complete { m } else { k };
            if k == 0 {
                let qm = if r_only { Vec::new() } else { eye(m, q) };
                return done(vec![qm, vec![T::zero(); q * n]], 0);
            }
            let f = a.qr();
            let r_thin = f.thin_R();
            let mut r = vec![T::zero(); q * n];
            for i in 0..k {
                for j in i..n {
                    r[i * n + j] = r_thin[(i, j)];
                }
            }
            let qm = if r_only {
                Vec::new()
            } else if complete {
                rows(f.compute_Q().as_ref())
            } else {
                rows(f.compute_thin_Q().as_ref())
            };
            done(vec![qm, r], 0)
        }
        Factorization::Eigh { upper, vectors } => {
            let side = if upper { Side::Upper } else { Side::Lower };
            if n == 0 {
                return done(vec![Vec::new(), Vec::new()], 0);
            }
            if vectors {
                match a.self_adjoint_eigen(side) {
                    Ok(e) => {
                        let w = (0..n).map(|i| e.S()[i]).collect();
                        done(vec![w, rows(e.U())], 0)
                    }
                    Err(_) => done(vec![vec![T::nan(); n], vec![T::nan(); n * n]], 1),
                }
            } else {
                match a.self_adjoint_eigenvalues(side) {
                    Ok(w) => done(vec![w, Vec::new()], 0),
                    Err(_) => done(vec![vec![T::nan(); n], Vec::new()], 1),
                }
            }
        }
        Factorization::Svd { full, vectors } => svd_one(a, m, n, full, vectors),
    }
}

fn svd_one<T: RealField + Float>(
    a: MatRef<'_, T>,
    m: usize,
    n: usize,
    full: bool,
    vectors: bool,
) -> One<T> {
    let k = m.min(n);
    let (qu, qv) = if full { (m, n) } else { (k, k) };
    let done = |mats: Vec<Vec<T>>, info: i32| One {
        mats,
        ints: Vec::new(),
        info,
    };
    let failed = || {
        let (u, v) = if vectors { (m * qu, qv * n) } else { (0, 0) };
        done(
            vec![vec![T::nan(); u], vec![T::nan(); k], vec![T::nan(); v]],
            1,
        )
    };
    if k == 0 {
        let (u, v) = if vectors {
            (eye(m, qu), eye(qv, n))
        } else {
            (Vec::new(), Vec::new())
        };
        return done(vec![u, Vec::new(), v], 0);
    }
    if !vectors {
        return match a.singular_values() {
            Ok(s) => done(vec![Vec::new(), s, Vec::new()], 0),
            Err(_) => failed(),
        };
    }
    let r = if full { a.svd() } else { a.thin_svd() };
    match r {
        Ok(f) => {
            let s = (0..k).map(|i| f.S()[i]).collect();
            done(vec![rows(f.U()), s, rows(f.V().transpose())], 0)
        }
        Err(_) => failed(),
    }
}

/// In-place LU of a row-major copy, then faer's row permutation replayed as LAPACK's
/// sequence of row swaps.
fn lu_one<T: RealField + Float>(src: &[T], m: usize, n: usize) -> One<T> {
    let k = m.min(n);
    let mut lu = src.to_vec();
    let mut perm = vec![0usize; m];
    let mut perm_inv = vec![0usize; m];
    if k > 0 {
        let mat = MatMut::from_row_major_slice_mut(&mut lu, m, n);
        let req = lu_in_place_scratch::<usize, T>(m, n, Par::Seq, Default::default());
        let mut buf = MemBuffer::new(req);
        lu_in_place(
            mat,
            &mut perm,
            &mut perm_inv,
            Par::Seq,
            MemStack::new(&mut buf),
            Default::default(),
        );
    }
    // perm[i] is the original row now at position i; replay it as swaps.
    let mut at: Vec<usize> = (0..m).collect(); // original row -> current position
    let mut cur: Vec<usize> = (0..m).collect(); // position -> original row
    let mut piv = Vec::with_capacity(k);
    for i in 0..k {
        let p = at[perm[i]];
        piv.push(p as i32 + 1);
        let (ri, rp) = (cur[i], cur[p]);
        cur.swap(i, p);
        at[ri] = p;
        at[rp] = i;
    }
    let info = (0..k)
        .find(|&i| lu[i * n + i] == T::zero())
        .map_or(0, |i| i as i32 + 1);
    // faer divides by an exactly-zero pivot (0/0 below it); LAPACK skips that column's
    // scaling instead. Singular inputs (and any NaN the blocked path made from finite
    // input) are redone column by column with LAPACK's rule.
    let made_nan = || lu.iter().any(|x| !x.is_finite()) && src.iter().all(|x| x.is_finite());
    if info != 0 || made_nan() {
        return lu_unblocked(src, m, n);
    }
    One {
        mats: vec![lu],
        ints: piv,
        info,
    }
}

/// Right-looking LU with partial pivoting (first largest |pivot|), row-major, as LAPACK's
/// unblocked getf2: a zero pivot is recorded in `info` and its column left unscaled.
fn lu_unblocked<T: RealField + Float>(src: &[T], m: usize, n: usize) -> One<T> {
    let k = m.min(n);
    let mut a = src.to_vec();
    let mut piv = Vec::with_capacity(k);
    let mut info = 0;
    for j in 0..k {
        let mut p = j;
        for i in j + 1..m {
            if a[i * n + j].abs() > a[p * n + j].abs() {
                p = i;
            }
        }
        piv.push(p as i32 + 1);
        if p != j {
            for c in 0..n {
                a.swap(j * n + c, p * n + c);
            }
        }
        let d = a[j * n + j];
        if d == T::zero() {
            if info == 0 {
                info = j as i32 + 1;
            }
            continue;
        }
        for i in j + 1..m {
            let f = a[i * n + j] / d;
            a[i * n + j] = f;
            for c in j + 1..n {
                let (u, v) = (a[j * n + c], a[i * n + c]);
                a[i * n + c] = v - f * u;
            }
        }
    }
    One {
        mats: vec![a],
        ints: piv,
        info,
    }
}

pub(crate) fn solve_factored(
    op: FactorSolve,
    a: Strided,
    pivots: Option<Strided>,
    b: Strided,
    batch: usize,
    n: usize,
    k: usize,
) -> Result<Storage> {
    if a.dtype() != b.dtype() {
        return Err(Error::Runtime(format!(
            "linalg solve: expected A and B to have the same dtype, but got {} and {}",
            a.dtype().name(),
            b.dtype().name()
        )));
    }
    match a.dtype() {
        DType::F32 => solve_as::<f32>(op, a, pivots, b, batch, n, k),
        DType::F64 => solve_as::<f64>(op, a, pivots, b, batch, n, k),
        d => Err(unsupported("linalg solve", d)),
    }
}

fn solve_as<T: RealField + Float + Elem>(
    op: FactorSolve,
    a: Strided,
    pivots: Option<Strided>,
    b: Strided,
    batch: usize,
    n: usize,
    k: usize,
) -> Result<Storage> {
    let av = contiguous_or_gathered::<T>(a)?;
    let piv = match (op, pivots) {
        (FactorSolve::Lu { .. } | FactorSolve::Ldl, Some(p)) if p.dtype() == DType::I32 => {
            Some(contiguous_or_gathered::<i32>(p)?)
        }
        (FactorSolve::Lu { .. } | FactorSolve::Ldl, _) => {
            return Err(Error::Runtime("linalg solve: expected int32 pivots".into()))
        }
        _ => None,
    };
    if let (FactorSolve::Ldl, Some(p)) = (op, &piv) {
        super::ldl::check_pivots(p, n)?;
    } else if let Some(p) = &piv {
        if p.iter().any(|&x| x < 1 || x as usize > n) {
            return Err(Error::Runtime(format!(
                "lu_solve: pivots must be between 1 and {n}"
            )));
        }
    }
    let mut out = contiguous_or_gathered::<T>(b)?.into_owned();
    if n * k == 0 || batch == 0 {
        return Ok(Storage::from_vec(out));
    }
    let solve = |(i, xs): (usize, &mut [T])| {
        let ai = &av[i * n * n..(i + 1) * n * n];
        if op == FactorSolve::Ldl {
            let p = &piv.as_ref().expect("checked above")[i * n..(i + 1) * n];
            return super::ldl::solve_one(ai, p, xs, n, k);
        }
        let a = MatRef::from_row_major_slice(ai, n, n);
        let mut x = MatMut::from_row_major_slice_mut(xs, n, k);
        let swap = |x: &mut MatMut<'_, T>, r: usize, p: usize| {
            for c in 0..k {
                let t = x[(r, c)];
                x[(r, c)] = x[(p, c)];
                x[(p, c)] = t;
            }
        };
        match op {
            FactorSolve::Triangular { upper, unit } => match (upper, unit) {
                (true, true) => tri::solve_unit_upper_triangular_in_place(a, x, Par::Seq),
                (true, false) => tri::solve_upper_triangular_in_place(a, x, Par::Seq),
                (false, true) => tri::solve_unit_lower_triangular_in_place(a, x, Par::Seq),
                (false, false) => tri::solve_lower_triangular_in_place(a, x, Par::Seq),
            },
            FactorSolve::Ldl => {} // solved above
            FactorSolve::Lu { transpose } => {
                let p = &piv.as_ref().expect("checked above")[i * n..(i + 1) * n];
                if transpose {
                    // Aᵀ = Uᵀ Lᵀ Pᵀ... : solve Uᵀ, then Lᵀ, then undo the swaps backwards.
                    tri::solve_lower_triangular_in_place(a.transpose(), x.rb_mut(), Par::Seq);
                    tri::solve_unit_upper_triangular_in_place(a.transpose(), x.rb_mut(), Par::Seq);
                    for r in (0..n).rev() {
                        swap(&mut x, r, p[r] as usize - 1);
                    }
                } else {
                    for (r, &pr) in p.iter().enumerate() {
                        swap(&mut x, r, pr as usize - 1);
                    }
                    tri::solve_unit_lower_triangular_in_place(a, x.rb_mut(), Par::Seq);
                    tri::solve_upper_triangular_in_place(a, x.rb_mut(), Par::Seq);
                }
            }
        }
    };
    if super::parallel(batch * n * n * k.max(1)) && batch > 1 {
        out.par_chunks_mut(n * k).enumerate().for_each(solve);
    } else {
        out.chunks_mut(n * k).enumerate().for_each(solve);
    }
    Ok(Storage::from_vec(out))
}
