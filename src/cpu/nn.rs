//! CPU kernels of the nn family: softmax lanes, normalisation moments, running statistics.
//! Window kernels (im2col, col2im, pooling indices) are in `conv.rs`.

use super::fastmath::FastExp;
use super::{contiguous_or_gathered, gather, try_zeroed, write_elems, CpuBackend};
use crate::backend::{NnKernels, Strided, Window};
use crate::dtype::Elem;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::storage::Storage;
use num_traits::Float;
use rayon::prelude::*;

/// Eight independent accumulators so the reduction vectorises (no serial dependency).
fn lanes_fold<F: Float>(x: &[F], init: F, f: impl Fn(F, F) -> F) -> F {
    let mut acc = [init; 8];
    let mut it = x.chunks_exact(8);
    for c in &mut it {
        for k in 0..8 {
            acc[k] = f(acc[k], c[k]);
        }
    }
    let tail = it.remainder().iter().fold(init, |a, &b| f(a, b));
    acc.iter().fold(tail, |a, &b| f(a, b))
}

/// Stable softmax (or log-softmax) of one lane.
fn softmax_lane<F: Float + Elem + FastExp>(x: &[F], y: &mut [F], log: bool) {
    let m = lanes_fold(x, F::neg_infinity(), |a, b| if b > a { b } else { a });
    let m = if m.is_infinite() { F::zero() } else { m };
    for (&a, b) in x.iter().zip(y.iter_mut()) {
        *b = a - m;
    }
    F::exp_all(y);
    let s = lanes_fold(y, F::zero(), |a, b| a + b);
    if log {
        let ls = s.ln();
        for (&a, b) in x.iter().zip(y.iter_mut()) {
            *b = a - m - ls;
        }
    } else {
        let inv = F::one() / s;
        for b in y.iter_mut() {
            *b = *b * inv;
        }
    }
}

/// Softmax along `dim` into a contiguous buffer of the view's shape.
fn softmax_dim<F: Float + Elem + FastExp>(src: Strided, dim: usize, log: bool) -> Result<Vec<F>> {
    let shape = src.shape();
    let nd = shape.len();
    let n = shape[dim];
    let total = src.numel();
    let mut y = try_zeroed::<F>(total)?;
    if total == 0 {
        return Ok(y);
    }
    if dim + 1 == nd {
        // Lanes are rows of the row-major order: no transposed copies.
        let x = contiguous_or_gathered::<F>(src)?;
        super::for_each_chunk(&mut y, n, total, |i, row| {
            softmax_lane(&x[i * n..(i + 1) * n], row, log)
        });
        return Ok(y);
    }
    // Move `dim` last, compute rows, then restore the order.
    let mut perm: Vec<usize> = (0..nd).filter(|&d| d != dim).collect();
    perm.push(dim);
    let moved = src.layout.permute(&perm);
    let x = gather::<F>(Strided::new(src.storage, &moved))?;
    super::for_each_chunk(&mut y, n, total, |i, row| {
        softmax_lane(&x[i * n..(i + 1) * n], row, log)
    });
    let mut inv: Vec<usize> = (0..nd - 1).collect();
    inv.insert(dim, nd - 1);
    let rows = Storage::from_vec(y);
    let back = Layout::contiguous(&moved.shape).permute(&inv);
    gather::<F>(Strided::new(&rows, &back))
}

/// Mean and biased variance over dims 0 and 2 of `[outer, c, inner]` row-major data.
fn moments_of<F: Elem>(x: &[F], outer: usize, c: usize, inner: usize) -> Result<Vec<(f64, f64)>> {
    let count = (outer * inner) as f64;
    let channel = |ch: usize| {
        let rows = (0..outer).map(|o| &x[(o * c + ch) * inner..(o * c + ch + 1) * inner]);
        let sum: f64 = rows
            .clone()
            .map(|r| r.iter().fold(0.0, |a, v| a + v.to_f64()))
            .sum();
        let mean = sum / count;
        let ss: f64 = rows
            .map(|r| {
                r.iter().fold(0.0, |a, v| {
                    let d = v.to_f64() - mean;
                    a + d * d
                })
            })
            .sum();
        (mean, ss / count)
    };
    let mut out = super::try_with_capacity(c)?;
    if super::parallel(x.len()) && c > 1 {
        out.par_extend((0..c).into_par_iter().map(channel));
    } else {
        out.extend((0..c).map(channel));
    }
    Ok(out)
}

impl NnKernels for CpuBackend {
    fn softmax(&self, src: Strided, dim: usize, log: bool) -> Result<Storage> {
        if dim >= src.shape().len() {
            return Err(Error::Runtime(format!(
                "softmax: dim {dim} out of range for shape {:?}",
                src.shape()
            )));
        }
        crate::with_float_dtype!(
            src.dtype(),
            F,
            Ok(Storage::from_vec(softmax_dim::<F>(src, dim, log)?)),
            Err(Error::Runtime(format!(
                "softmax: expected a floating point dtype, got {}",
                src.dtype().name()
            )))
        )
    }

    fn moments(&self, src: Strided) -> Result<(Storage, Storage)> {
        let &[outer, c, inner] = src.shape() else {
            return Err(Error::Runtime(format!(
                "internal error: moments expects a 3-D view, got {:?}",
                src.shape()
            )));
        };
        crate::with_float_dtype!(
            src.dtype(),
            F,
            {
                let x = contiguous_or_gathered::<F>(src)?;
                let stats = moments_of::<F>(&x, outer, c, inner)?;
                let mut mean = super::try_with_capacity::<F>(c)?;
                let mut var = super::try_with_capacity::<F>(c)?;
                for (m, v) in stats {
                    mean.push(F::from_f64(m));
                    var.push(F::from_f64(v));
                }
                Ok((Storage::from_vec(mean), Storage::from_vec(var)))
            },
            Err(Error::Runtime(format!(
                "moments: expected a floating point dtype, got {}",
                src.dtype().name()
            )))
        )
    }

    fn running_stat_update(
        &self,
        running: Strided,
        batch: Strided,
        momentum: f64,
        scale: f64,
    ) -> Result<()> {
        crate::backend::check_running_stat(running, batch)?;
        crate::with_float_dtype!(
            running.dtype(),
            F,
            {
                let cur = gather::<F>(running)?;
                let fresh = contiguous_or_gathered::<F>(batch)?;
                let mut next = super::try_with_capacity::<F>(cur.len())?;
                next.extend(cur.iter().zip(fresh.iter()).map(|(&r, &f)| {
                    F::from_f64((1.0 - momentum) * r.to_f64() + momentum * (f.to_f64() * scale))
                }));
                // Into the running tensor's own memory (a separate source buffer).
                write_elems::<F>(running, &next)
            },
            Err(Error::Runtime(format!(
                "running_stat_update: expected a floating point dtype, got {}",
                running.dtype().name()
            )))
        )
    }

    fn im2col(&self, src: Strided, win: Window, oh: usize, ow: usize) -> Result<Storage> {
        super::conv::im2col_kernel(src, win, oh, ow)
    }

    fn col2im(
        &self,
        src: Strided,
        h: usize,
        w: usize,
        win: Window,
        oh: usize,
        ow: usize,
    ) -> Result<Storage> {
        super::conv::col2im_kernel(src, h, w, win, oh, ow)
    }

    fn max_pool2d_indices(
        &self,
        src: Strided,
        win: Window,
        oh: usize,
        ow: usize,
    ) -> Result<Storage> {
        super::conv::max_pool_kernel(src, win, oh, ow)
    }
}
