//! CPU kernels. Every kernel reads strided inputs and writes a fresh contiguous output;
//! contiguous inputs take a slice fast path, and large outputs are split across rayon.

pub mod arith;
pub mod conv;
pub mod fastmath;
pub mod matmul;
pub mod optim;
pub mod reduce;

use crate::dtype::Elem;
use crate::layout::{for_each_offset, Layout};
use crate::tensor::Tensor;
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};

/// Elementwise work below this many elements stays on the calling thread (a rayon call
/// costs several microseconds).
pub const PAR_THRESHOLD: usize = 1 << 18;
const CHUNK: usize = 1 << 15;

static PARALLEL: AtomicBool = AtomicBool::new(true);

/// Whether work of this size should use the rayon pool. Parallelism is switched off in a
/// forked child (the pool's threads do not survive `fork`) and by `set_num_threads(1)`.
#[inline]
pub fn parallel(work: usize) -> bool {
    work >= PAR_THRESHOLD && PARALLEL.load(Ordering::Relaxed)
}

pub fn set_parallel(on: bool) {
    PARALLEL.store(on, Ordering::Relaxed);
}

pub fn parallel_enabled() -> bool {
    PARALLEL.load(Ordering::Relaxed)
}

/// Runs `f(index, chunk)` over `size`-long chunks of `out`, in parallel when `work` is large.
pub fn for_each_chunk<T: Send>(
    out: &mut [T],
    size: usize,
    work: usize,
    f: impl Fn(usize, &mut [T]) + Sync + Send,
) {
    if size == 0 {
        return;
    }
    if parallel(work) {
        out.par_chunks_mut(size)
            .enumerate()
            .for_each(|(i, c)| f(i, c));
    } else {
        out.chunks_mut(size).enumerate().for_each(|(i, c)| f(i, c));
    }
}

/// Fills `out[i] = f(i-th offsets)` for a logical `shape`, in parallel when large.
pub fn fill_strided<U: Send, const N: usize>(
    out: &mut [U],
    shape: &[usize],
    strides: [&[usize]; N],
    base: [usize; N],
    f: impl Fn([usize; N]) -> U + Sync,
) {
    let n = out.len();
    if parallel(n) {
        out.par_chunks_mut(CHUNK)
            .enumerate()
            .for_each(|(c, chunk)| {
                let start = c * CHUNK;
                let mut i = 0;
                for_each_offset(shape, strides, base, start, start + chunk.len(), |o| {
                    chunk[i] = f(o);
                    i += 1;
                });
            });
    } else {
        let mut i = 0;
        for_each_offset(shape, strides, base, 0, n, |o| {
            out[i] = f(o);
            i += 1;
        });
    }
}

fn alloc<U: Elem>(n: usize) -> Vec<U> {
    vec![U::default(); n]
}

/// Copies a tensor's elements into a new row-major Vec.
pub fn gather_contiguous<T: Elem>(t: &Tensor) -> Vec<T> {
    if let Some(s) = t.contiguous_slice::<T>() {
        return s.to_vec();
    }
    let src = t.storage().as_slice::<T>();
    let l = t.layout();
    let mut out = alloc::<T>(l.numel());
    fill_strided(&mut out, &l.shape, [&l.strides], [l.offset], |[o]| src[o]);
    out
}

/// `out[i] = f(t[i])`.
pub fn map<T: Elem, U: Elem>(t: &Tensor, f: impl Fn(T) -> U + Sync + Send) -> Vec<U> {
    if let Some(s) = t.contiguous_slice::<T>() {
        if parallel(s.len()) {
            return s.par_iter().with_min_len(CHUNK).map(|&v| f(v)).collect();
        }
        return s.iter().map(|&v| f(v)).collect();
    }
    let src = t.storage().as_slice::<T>();
    let l = t.layout();
    let mut out = alloc::<U>(l.numel());
    fill_strided(
        &mut out,
        &l.shape,
        [&l.strides],
        [l.offset],
        |[o]| f(src[o]),
    );
    out
}

/// `out[i] = f(a[i], b[i])` where `la`/`lb` are layouts already broadcast to one shape.
pub fn zip<A: Elem, B: Elem, U: Elem>(
    a: &Tensor,
    la: &Layout,
    b: &Tensor,
    lb: &Layout,
    f: impl Fn(A, B) -> U + Sync + Send,
) -> Vec<U> {
    let sa = a.storage().as_slice::<A>();
    let sb = b.storage().as_slice::<B>();
    let n = la.numel();
    if la.is_contiguous() && lb.is_contiguous() {
        let xa = &sa[la.offset..la.offset + n];
        let xb = &sb[lb.offset..lb.offset + n];
        if parallel(n) {
            return xa
                .par_iter()
                .zip(xb.par_iter())
                .with_min_len(CHUNK)
                .map(|(&x, &y)| f(x, y))
                .collect();
        }
        return xa.iter().zip(xb).map(|(&x, &y)| f(x, y)).collect();
    }
    // A scalar operand (all strides zero) against a contiguous one.
    if lb.strides.iter().all(|&s| s == 0) && la.is_contiguous() {
        let y = sb[lb.offset];
        let xa = &sa[la.offset..la.offset + n];
        if parallel(n) {
            return xa
                .par_iter()
                .with_min_len(CHUNK)
                .map(|&x| f(x, y))
                .collect();
        }
        return xa.iter().map(|&x| f(x, y)).collect();
    }
    if la.strides.iter().all(|&s| s == 0) && lb.is_contiguous() {
        let x = sa[la.offset];
        let xb = &sb[lb.offset..lb.offset + n];
        if parallel(n) {
            return xb
                .par_iter()
                .with_min_len(CHUNK)
                .map(|&y| f(x, y))
                .collect();
        }
        return xb.iter().map(|&y| f(x, y)).collect();
    }
    let mut out = alloc::<U>(n);
    fill_strided(
        &mut out,
        &la.shape,
        [&la.strides, &lb.strides],
        [la.offset, lb.offset],
        |[oa, ob]| f(sa[oa], sb[ob]),
    );
    out
}

/// Writes row-major `src` into the (possibly strided) elements of `dst`.
///
/// The caller guarantees `src` does not alias `dst`'s storage.
pub fn write_strided<T: Elem>(dst: &Tensor, src: &[T]) {
    let l = dst.layout();
    // SAFETY: src is a separate buffer; dst's elements are written once each.
    let out = unsafe { dst.storage().as_mut_slice::<T>() };
    if l.is_contiguous() {
        out[l.offset..l.offset + src.len()].copy_from_slice(src);
        return;
    }
    let mut i = 0;
    for_each_offset(&l.shape, [&l.strides], [l.offset], 0, l.numel(), |[o]| {
        out[o] = src[i];
        i += 1;
    });
}

/// Converts between element types through f64 (bool and integers exactly).
#[inline]
pub fn convert<T: Elem, U: Elem>(v: T) -> U {
    use crate::dtype::DType;
    if U::DTYPE == DType::Bool {
        return U::from_bool(v.is_nonzero());
    }
    if T::DTYPE.is_float() || U::DTYPE.is_float() {
        U::from_f64(v.to_f64())
    } else {
        U::from_i64(v.to_i64())
    }
}
