//! CPU kernels of the nn family: softmax lanes, normalisation moments, running statistics.
//! Window kernels (im2col, col2im, pooling indices) are in `conv.rs`.

use super::fastmath::FastExp;
use super::{contiguous_or_gathered, gather, write_elems, CpuBackend};
use crate::backend::{NnKernels, Strided, UnaryOp, Window};
use crate::dtype::Elem;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::storage::Storage;
use num_traits::Float;

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

/// The slice as f32 when `F` is f32.
fn as_f32<F: Elem>(x: &[F]) -> Option<&[f32]> {
    // SAFETY: F is f32 (checked), so the slice is reinterpreted as itself.
    (F::DTYPE == crate::dtype::DType::F32)
        .then(|| unsafe { std::slice::from_raw_parts(x.as_ptr() as *const f32, x.len()) })
}

fn as_f32_mut<F: Elem>(x: &mut [F]) -> Option<&mut [f32]> {
    // SAFETY: as in `as_f32`.
    (F::DTYPE == crate::dtype::DType::F32)
        .then(|| unsafe { std::slice::from_raw_parts_mut(x.as_mut_ptr() as *mut f32, x.len()) })
}

/// Softmax backward over rows of `n`: `y·(g - Σ g·y)`, or `g - e^y·Σ g` for log-softmax.
fn softmax_grad<F: Float + Elem + FastExp>(
    y: &[F],
    g: &[F],
    n: usize,
    log: bool,
) -> Result<Vec<F>> {
    let mut gx = super::try_output::<F>(y.len())?;
    if let (Some(y32), Some(g32), Some(o32)) = (as_f32(y), as_f32(g), as_f32_mut(&mut gx)) {
        super::for_each_chunk(o32, n, y.len(), |i, row| {
            let r = i * n..(i + 1) * n;
            super::vmath::softmax_grad_row_f32(&y32[r.clone()], &g32[r], row, log)
        });
        return Ok(gx);
    }
    super::for_each_chunk(&mut gx, n, y.len(), |i, row| {
        let (yr, gr) = (&y[i * n..(i + 1) * n], &g[i * n..(i + 1) * n]);
        if log {
            let s = lanes_fold(gr, F::zero(), |a, b| a + b);
            for ((o, &yv), &gv) in row.iter_mut().zip(yr).zip(gr) {
                *o = gv - yv.fast_exp() * s;
            }
        } else {
            let s = yr
                .iter()
                .zip(gr)
                .fold(F::zero(), |a, (&yv, &gv)| a + yv * gv);
            for ((o, &yv), &gv) in row.iter_mut().zip(yr).zip(gr) {
                *o = yv * (gv - s);
            }
        }
    });
    Ok(gx)
}

/// Softmax along `dim` into a contiguous buffer of the view's shape.
fn softmax_dim<F: Float + Elem + FastExp>(src: Strided, dim: usize, log: bool) -> Result<Vec<F>> {
    let shape = src.shape();
    let nd = shape.len();
    let n = shape[dim];
    let total = src.numel();
    let mut y = super::try_output::<F>(total)?;
    if total == 0 {
        return Ok(y);
    }
    if dim + 1 == nd {
        // Lanes are rows of the row-major order: no transposed copies.
        let x = contiguous_or_gathered::<F>(src)?;
        if let (Some(x32), Some(y32)) = (as_f32(&x), as_f32_mut(&mut y)) {
            super::for_each_chunk(y32, n, total, |i, row| {
                super::vmath::softmax_row_f32(&x32[i * n..(i + 1) * n], row, log)
            });
            return Ok(y);
        }
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
        out.extend(super::team::map(c, channel));
    } else {
        out.extend((0..c).map(channel));
    }
    Ok(out)
}

impl NnKernels for CpuBackend {
    fn layer_norm(
        &self,
        x: Strided,
        w: Option<Strided>,
        b: Option<Strided>,
        rows: (usize, usize),
        eps: f64,
    ) -> Result<Option<crate::backend::LayerNormOut>> {
        self.layer_norm_rows(x, w, b, rows, eps)
    }

    fn layer_norm_backward(
        &self,
        g: Strided,
        x: Strided,
        stats: (Strided, Strided),
        w: Option<Strided>,
        rows: (usize, usize),
        weight_grad: bool,
        bias_grad: bool,
    ) -> Result<Option<crate::backend::LayerNormGrads>> {
        self.layer_norm_grads(g, x, stats, w, rows, weight_grad, bias_grad)
    }

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

    fn lstm_layer(
        &self,
        xw: Strided,
        states: (Strided, Strided),
        w_hh: Strided,
        b_hh: Option<Strided>,
        reverse: bool,
    ) -> Result<Option<crate::backend::LstmLayerOut>> {
        self.lstm_layer_forward(xw, states, w_hh, b_hh, reverse)
    }

    fn lstm_layer_backward(
        &self,
        grad: Strided,
        saved: (Strided, Strided),
        w_hh: Strided,
        reverse: bool,
    ) -> Result<Option<crate::backend::LstmLayerGrads>> {
        self.lstm_layer_grads(grad, saved, w_hh, reverse)
    }

    fn softmax_backward(&self, y: Strided, g: Strided, log: bool) -> Result<Option<Storage>> {
        let n = y.shape().last().copied().unwrap_or(1);
        if y.dtype() != g.dtype() || y.shape() != g.shape() || n == 0 {
            return Ok(None);
        }
        macro_rules! run {
            ($F:ty) => {{
                let (ys, gs) = (
                    contiguous_or_gathered::<$F>(y)?,
                    contiguous_or_gathered::<$F>(g)?,
                );
                Ok(Some(Storage::from_vec(softmax_grad::<$F>(
                    &ys, &gs, n, log,
                )?)))
            }};
        }
        match y.dtype() {
            crate::dtype::DType::F32 => run!(f32),
            crate::dtype::DType::F64 => run!(f64),
            _ => Ok(None),
        }
    }

    fn threshold_backward(
        &self,
        y: Strided,
        g: Strided,
        threshold: f64,
    ) -> Result<Option<Storage>> {
        if y.dtype() != g.dtype() || y.shape() != g.shape() {
            return Ok(None);
        }
        macro_rules! run {
            ($F:ty) => {{
                let t = threshold as $F;
                // A select, not a product with a 0/1 mask: an infinite or NaN gradient
                // where the output is cut off still gives 0.
                let out =
                    super::zip_elems::<$F, $F, $F>(y, g, move |y, g| if y <= t { 0.0 } else { g })?;
                Ok(Some(Storage::from_vec(out)))
            }};
        }
        match y.dtype() {
            crate::dtype::DType::F32 => run!(f32),
            crate::dtype::DType::F64 => run!(f64),
            _ => Ok(None),
        }
    }

    fn output_backward(&self, op: UnaryOp, y: Strided, g: Strided) -> Result<Option<Storage>> {
        if y.dtype() != g.dtype() || y.shape() != g.shape() {
            return Ok(None);
        }
        macro_rules! run {
            ($F:ty) => {{
                let out = match op {
                    UnaryOp::Sigmoid => {
                        super::zip_elems::<$F, $F, $F>(y, g, |y, g| g * (y * (1.0 - y)))?
                    }
                    UnaryOp::Tanh => {
                        super::zip_elems::<$F, $F, $F>(y, g, |y, g| g * (1.0 - y * y))?
                    }
                    _ => return Ok(None),
                };
                Ok(Some(Storage::from_vec(out)))
            }};
        }
        match y.dtype() {
            crate::dtype::DType::F32 => run!(f32),
            crate::dtype::DType::F64 => run!(f64),
            _ => Ok(None),
        }
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

    fn conv2d(
        &self,
        x: Strided,
        w: Strided,
        bias: Option<Strided>,
        win: Window,
        groups: usize,
    ) -> Result<Option<Storage>> {
        super::conv_gemm::conv2d_kernel(x, w, bias, win, groups)
    }

    fn conv2d_backward(
        &self,
        x: Strided,
        w: Strided,
        g: Strided,
        win: Window,
        groups: usize,
        need: (bool, bool),
    ) -> Result<Option<(Option<Storage>, Option<Storage>)>> {
        super::conv_gemm::conv2d_backward_kernel(x, w, g, win, groups, need)
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

    fn channel_affine(
        &self,
        x: Strided,
        a: Strided,
        b: Strided,
        extra: Option<(Strided, Strided)>,
    ) -> Result<Option<Storage>> {
        self.channel_affine_kernel(x, a, b, extra)
    }

    fn channel_sums(&self, g: Strided, x: Strided) -> Result<Option<(Storage, Storage)>> {
        self.channel_sums_kernel(g, x)
    }

    fn max_pool2d(
        &self,
        src: Strided,
        win: Window,
        oh: usize,
        ow: usize,
    ) -> Result<Option<(Storage, Storage)>> {
        super::conv::max_pool_values_kernel(src, win, oh, ow)
    }

    fn max_pool2d_backward(
        &self,
        g: Strided,
        indices: Strided,
        hw: usize,
    ) -> Result<Option<Storage>> {
        super::conv::max_pool_grad_kernel(g, indices, hw)
    }
}
