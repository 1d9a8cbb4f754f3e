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

fn forward<F: Float + Elem>(
    x: &[F],
    w: Option<&[F]>,
    b: Option<&[F]>,
    (m, d): (usize, usize),
    eps: f64,
) -> Result<LayerNormOut> {
    let mut y = try_output::<F>(m * d)?;
    let inv_d = F::one() / F::from_f64(d.max(1) as f64);
    let eps = F::from_f64(eps);
    let row = |i: usize, yr: &mut [F]| -> (F, F) {
        let xr = &x[i * d..(i + 1) * d];
        let mean = lane_sum2(xr, xr, |v, _| v) * inv_d;
        let var = lane_sum2(xr, xr, |v, _| (v - mean) * (v - mean)) * inv_d;
        let rstd = F::one() / (var + eps).sqrt();
        let norm = yr.iter_mut().zip(xr);
        match (w, b) {
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
        (mean, rstd)
    };
    let stats: Vec<(F, F)> = if d == 0 {
        // An empty row: mean NaN (0/0), variance 0.
        vec![(F::nan(), F::one() / eps.sqrt()); m]
    } else {
        let br = block_rows(m, d);
        super::map_chunks(&mut y, br * d, m * d, |blk, yb| {
            yb.chunks_mut(d)
                .enumerate()
                .map(|(r, yr)| row(blk * br + r, yr))
                .collect::<Vec<_>>()
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

struct Saved<'a, F> {
    g: &'a [F],
    x: &'a [F],
    mean: &'a [F],
    rstd: &'a [F],
    w: Option<&'a [F]>,
}

fn backward<F: Float + Elem>(
    s: Saved<F>,
    (m, d): (usize, usize),
    params: bool,
) -> Result<(Vec<F>, Vec<f64>, Vec<f64>)> {
    let mut gx = try_output::<F>(m * d)?;
    let inv_d = F::one() / F::from_f64(d.max(1) as f64);
    let br = block_rows(m, d);
    // Each block returns its partial sums of g·x̂ and g (per column).
    let block = |blk: usize, gb: &mut [F]| -> (Vec<F>, Vec<F>) {
        let mut pw = vec![F::zero(); if params { d } else { 0 }];
        let mut pb = vec![F::zero(); if params { d } else { 0 }];
        // g·w for one row (g itself without a weight).
        let mut gh = vec![F::zero(); d];
        for (r, gxr) in gb.chunks_mut(d).enumerate() {
            let i = blk * br + r;
            let (gr, xr) = (&s.g[i * d..(i + 1) * d], &s.x[i * d..(i + 1) * d]);
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
                let (gs, xs) = (
                    contiguous_or_gathered::<$F>(g)?,
                    contiguous_or_gathered::<$F>(x)?,
                );
                let ms = contiguous_or_gathered::<$F>(mean)?;
                let rs = contiguous_or_gathered::<$F>(rstd)?;
                let ws = w.map(contiguous_or_gathered::<$F>).transpose()?;
                let saved = Saved {
                    g: &gs,
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
