//! Fused layer norm on rows: the forward computes each row's statistics and output in one
//! visit (the row stays in cache); the backward computes the input gradient per row and the
//! weight/bias gradients as per-block partial sums, so nothing is transposed or re-read.

use super::{contiguous_or_gathered, try_output, CpuBackend};
use crate::backend::{LayerNormGrads, LayerNormOut, Strided};
use crate::dtype::{DType, Elem};
use crate::error::Result;
use crate::storage::Storage;
use num_traits::Float;

/// `Σ f(a[j], b[j])` over two equally long rows in eight independent lanes (vectorises: the
/// chunks have a known length, so there are no bounds checks inside).
#[inline(always)]
fn lane_sum2<F: Float>(a: &[F], b: &[F], f: impl Fn(F, F) -> F) -> F {
    let b = &b[..a.len()];
    let mut acc = [F::zero(); 8];
    for (ac, bc) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        for k in 0..8 {
            acc[k] = acc[k] + f(ac[k], bc[k]);
        }
    }
    let tail = a.len() / 8 * 8;
    let t = a[tail..]
        .iter()
        .zip(&b[tail..])
        .fold(F::zero(), |s, (&x, &y)| s + f(x, y));
    acc.iter().fold(t, |s, &v| s + v)
}

/// Rows per parallel block.
fn block_rows(m: usize, d: usize) -> usize {
    if super::parallel(m * d) {
        m.div_ceil(64).max(1)
    } else {
        m.max(1)
    }
}

/// What the forward reads besides `x`.
#[derive(Clone, Copy)]
struct Affine<'a, F> {
    w: Option<&'a [F]>,
    b: Option<&'a [F]>,
    d: usize,
    eps: F,
}

/// Normalizes the rows `first..` of `x` into the rows of `yb`; returns each row's (mean, rstd).
#[inline(always)]
fn norm_rows<F: Float + Elem>(x: &[F], yb: &mut [F], first: usize, p: Affine<F>) -> Vec<(F, F)> {
    let d = p.d;
    let inv_d = F::one() / F::from_f64(d as f64);
    let mut stats = Vec::with_capacity(yb.len() / d);
    for (r, yr) in yb.chunks_mut(d).enumerate() {
        let i = first + r;
        let xr = &x[i * d..(i + 1) * d];
        let mean = lane_sum2(xr, xr, |v, _| v) * inv_d;
        let var = lane_sum2(xr, xr, |v, _| (v - mean) * (v - mean)) * inv_d;
        let rstd = F::one() / (var + p.eps).sqrt();
        let norm = yr.iter_mut().zip(xr);
        match (p.w, p.b) {
            (Some(w), Some(b)) => norm
                .zip(w.iter().zip(b))
                .for_each(|((o, &v), (&wv, &bv))| *o = (v - mean) * rstd * wv + bv),
            (Some(w), None) => norm
                .zip(w)
                .for_each(|((o, &v), &wv)| *o = (v - mean) * rstd * wv),
            (None, Some(b)) => norm
                .zip(b)
                .for_each(|((o, &v), &bv)| *o = (v - mean) * rstd + bv),
            (None, None) => norm.for_each(|(o, &v)| *o = (v - mean) * rstd),
        }
        stats.push((mean, rstd));
    }
    stats
}

/// `norm_rows` compiled for AVX2 (same arithmetic, in the same order: only wider registers).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn norm_rows_avx2<F: Float + Elem>(
    x: &[F],
    yb: &mut [F],
    first: usize,
    p: Affine<F>,
) -> Vec<(F, F)> {
    norm_rows(x, yb, first, p)
}

fn norm_rows_best<F: Float + Elem>(
    x: &[F],
    yb: &mut [F],
    first: usize,
    p: Affine<F>,
) -> Vec<(F, F)> {
    #[cfg(target_arch = "x86_64")]
    if super::vmath::has_avx2_fma() {
        // SAFETY: the CPU supports the features the function is compiled for.
        return unsafe { norm_rows_avx2(x, yb, first, p) };
    }
    norm_rows(x, yb, first, p)
}

fn forward<F: Float + Elem>(
    x: &[F],
    w: Option<&[F]>,
    b: Option<&[F]>,
    (m, d): (usize, usize),
    eps: f64,
) -> Result<LayerNormOut> {
    let mut y = try_output::<F>(m * d)?;
    let eps = F::from_f64(eps);
    let stats: Vec<(F, F)> = if d == 0 {
        // An empty row: mean NaN (0/0), variance 0.
        vec![(F::nan(), F::one() / eps.sqrt()); m]
    } else {
        let br = block_rows(m, d);
        let p = Affine { w, b, d, eps };
        super::map_chunks(&mut y, br * d, m * d, |blk, yb| {
            norm_rows_best(x, yb, blk * br, p)
        })
        .into_iter()
        .flatten()
        .collect()
    };
    let (mean, rstd): (Vec<F>, Vec<F>) = stats.into_iter().unzip();
    Ok(LayerNormOut {
        y: Storage::from_vec(y),
        mean: Storage::from_vec(mean),
        rstd: Storage::from_vec(rstd),
    })
}

#[derive(Clone, Copy)]
struct Saved<'a, F> {
    /// Row `i` of the output gradient starts at `i * g_step` (0: one row broadcast to all).
    g: &'a [F],
    g_step: usize,
    x: &'a [F],
    mean: &'a [F],
    rstd: &'a [F],
    w: Option<&'a [F]>,
}

/// The input gradient of the rows `first..` (into `gb`) and, with `params`, their partial
/// sums of g·x̂ and g per column.
#[inline(always)]
fn grad_rows<F: Float + Elem>(
    s: Saved<F>,
    gb: &mut [F],
    first: usize,
    d: usize,
    params: bool,
) -> (Vec<F>, Vec<F>) {
    let inv_d = F::one() / F::from_f64(d as f64);
    let mut pw = vec![F::zero(); if params { d } else { 0 }];
    let mut pb = vec![F::zero(); if params { d } else { 0 }];
    // g·w for one row (g itself without a weight).
    let mut gh = vec![F::zero(); d];
    for (r, gxr) in gb.chunks_mut(d).enumerate() {
        let i = first + r;
        let (gr, xr) = (
            &s.g[i * s.g_step..i * s.g_step + d],
            &s.x[i * d..(i + 1) * d],
        );
        let (mean, rstd) = (s.mean[i], s.rstd[i]);
        match s.w {
            Some(w) => gh
                .iter_mut()
                .zip(gr.iter().zip(w))
                .for_each(|(o, (&a, &b))| *o = a * b),
            None => gh.copy_from_slice(gr),
        }
        let c1 = lane_sum2(&gh, &gh, |a, _| a) * inv_d;
        let c2 = lane_sum2(&gh, xr, |a, v| a * (v - mean)) * rstd * inv_d;
        gxr.iter_mut()
            .zip(gh.iter().zip(xr))
            .for_each(|(o, (&a, &v))| *o = rstd * (a - c1 - (v - mean) * rstd * c2));
        if params {
            pw.iter_mut()
                .zip(pb.iter_mut())
                .zip(gr.iter().zip(xr))
                .for_each(|((pwv, pbv), (&gv, &v))| {
                    *pwv = *pwv + gv * (v - mean) * rstd;
                    *pbv = *pbv + gv;
                });
        }
    }
    (pw, pb)
}

/// `grad_rows` compiled for AVX2 (same arithmetic, in the same order).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn grad_rows_avx2<F: Float + Elem>(
    s: Saved<F>,
    gb: &mut [F],
    first: usize,
    d: usize,
    params: bool,
) -> (Vec<F>, Vec<F>) {
    grad_rows(s, gb, first, d, params)
}

fn backward<F: Float + Elem>(
    s: Saved<F>,
    (m, d): (usize, usize),
    params: bool,
) -> Result<(Vec<F>, Vec<f64>, Vec<f64>)> {
    let mut gx = try_output::<F>(m * d)?;
    let br = block_rows(m, d);
    // Each block returns its partial sums of g·x̂ and g (per column).
    let block = |blk: usize, gb: &mut [F]| -> (Vec<F>, Vec<F>) {
        #[cfg(target_arch = "x86_64")]
        if super::vmath::has_avx2_fma() {
            // SAFETY: the CPU supports the features the function is compiled for.
            return unsafe { grad_rows_avx2(s, gb, blk * br, d, params) };
        }
        grad_rows(s, gb, blk * br, d, params)
    };
    let partials = if d == 0 {
        Vec::new()
    } else {
        super::map_chunks(&mut gx, br * d, m * d, block)
    };
    let (mut gw, mut gbias) = (vec![0f64; d], vec![0f64; d]);
    if params {
        for (pw, pb) in &partials {
            for j in 0..d {
                gw[j] += pw[j].to_f64();
                gbias[j] += pb[j].to_f64();
            }
        }
    }
    Ok((gx, gw, gbias))
}

/// The single value of a non-empty view that repeats one element everywhere (all strides 0).
fn broadcast_value<F: Elem>(s: Strided) -> Result<Option<F>> {
    if s.numel() == 0 || s.layout.strides.iter().any(|&st| st != 0) {
        return Ok(None);
    }
    Ok(Some(super::elems::<F>(s)?[s.layout.offset]))
}

fn to_storage<F: Elem>(v: &[f64]) -> Storage {
    Storage::from_vec(v.iter().map(|&x| F::from_f64(x)).collect::<Vec<F>>())
}

impl CpuBackend {
    pub(super) fn layer_norm_rows(
        &self,
        x: Strided,
        w: Option<Strided>,
        b: Option<Strided>,
        rows: (usize, usize),
        eps: f64,
    ) -> Result<Option<LayerNormOut>> {
        macro_rules! run {
            ($F:ty) => {{
                let xs = contiguous_or_gathered::<$F>(x)?;
                let ws = w.map(contiguous_or_gathered::<$F>).transpose()?;
                let bs = b.map(contiguous_or_gathered::<$F>).transpose()?;
                Ok(Some(forward::<$F>(
                    &xs,
                    ws.as_deref(),
                    bs.as_deref(),
                    rows,
                    eps,
                )?))
            }};
        }
        match x.dtype() {
            DType::F32 => run!(f32),
            DType::F64 => run!(f64),
            _ => Ok(None),
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn layer_norm_grads(
        &self,
        g: Strided,
        x: Strided,
        (mean, rstd): (Strided, Strided),
        w: Option<Strided>,
        rows: (usize, usize),
        weight_grad: bool,
        bias_grad: bool,
    ) -> Result<Option<LayerNormGrads>> {
        macro_rules! run {
            ($F:ty) => {{
                let (gs, g_step) = match broadcast_value::<$F>(g)? {
                    // One value for every element (`y.sum().backward()`): one row of it.
                    Some(v) => (std::borrow::Cow::Owned(vec![v; rows.1]), 0),
                    None => (contiguous_or_gathered::<$F>(g)?, rows.1),
                };
                let xs = contiguous_or_gathered::<$F>(x)?;
                let ms = contiguous_or_gathered::<$F>(mean)?;
                let rs = contiguous_or_gathered::<$F>(rstd)?;
                let ws = w.map(contiguous_or_gathered::<$F>).transpose()?;
                let saved = Saved {
                    g: &gs,
                    g_step,
                    x: &xs,
                    mean: &ms,
                    rstd: &rs,
                    w: ws.as_deref(),
                };
                let (gx, gw, gb) = backward::<$F>(saved, rows, weight_grad || bias_grad)?;
                Ok(Some(LayerNormGrads {
                    input: Storage::from_vec(gx),
                    weight: weight_grad.then(|| to_storage::<$F>(&gw)),
                    bias: bias_grad.then(|| to_storage::<$F>(&gb)),
                }))
            }};
        }
        match x.dtype() {
            DType::F32 => run!(f32),
            DType::F64 => run!(f64),
            _ => Ok(None),
        }
    }
}
