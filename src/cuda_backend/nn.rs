//! Neural-network family on the GPU: softmax lanes, normalisation moments, running
//! statistics, im2col/col2im and max-pooling indices. Kernels in cuda/nn.cu; float dtypes
//! only, halves computed in f32 (softmax, col2im sums) or f64 (moments, running statistics).

use super::context::{gpu, Gpu};
use super::kernels::Family;
use super::launch::{launch, lay, lays, new_storage, ptr, sfx};
use crate::backend::{MemoryKernels, NnKernels, Strided, Window};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::storage::Storage;
use cudarc::driver::DeviceRepr;

pub(super) fn kernel_names() -> Vec<String> {
    let mut v = Vec::new();
    for d in DType::ALL.into_iter().filter(|d| d.is_float()) {
        for k in [
            "softmax_rows",
            "softmax_bwd_rows",
            "threshold_bwd",
            "output_bwd",
            "softmax_lanes",
            "moments",
            "running_stat",
            "im2col",
            "col2im",
            "max_pool2d_idx",
        ] {
            v.push(format!("{k}_{}", sfx(d)));
        }
    }
    for d in ["f32", "f64"] {
        for k in [
            "layer_norm_fwd",
            "layer_norm_bwd",
            "layer_norm_params",
            "layer_norm_param_sum",
        ] {
            v.push(format!("{k}_{d}"));
        }
    }
    for width in ROW_WIDTHS {
        for d in DType::ALL.into_iter().filter(|d| d.is_float()) {
            v.push(format!("softmax_rows_v{width}_{}", sfx(d)));
        }
        for d in ["f32", "f64"] {
            v.push(format!("layer_norm_fwd_v{width}_{d}"));
            v.push(format!("layer_norm_bwd_v{width}_{d}"));
        }
    }
    v
}

/// Elements per thread of the register-resident row kernels (`ROW_WIDTHS` in cuda/nn.cu).
const ROW_WIDTHS: [usize; 6] = [1, 2, 4, 8, 16, 32];

/// Block size and elements per thread for a register-resident row of `d`: about eight
/// elements per thread on at most 256 threads; `None` for rows too long to hold.
fn row_plan(d: usize) -> Option<(u32, usize)> {
    let threads = d.div_ceil(8).next_power_of_two().clamp(32, 256);
    let width = d.div_ceil(threads).next_power_of_two();
    (width <= ROW_WIDTHS[ROW_WIDTHS.len() - 1]).then_some((threads as u32, width))
}

/// The kernel `base` for rows of `d`: its register-resident form when a row fits, with the
/// launch for `rows` rows.
fn row_kernel(
    g: &Gpu,
    base: &str,
    dt: DType,
    rows: usize,
    d: usize,
) -> (String, cudarc::driver::LaunchConfig) {
    match row_plan(d) {
        Some((threads, width)) => {
            // Blocks that each walk many rows: per-block loads (layer norm's weight and bias)
            // are paid once per block instead of once per row.
            let resident = g.sm_count as usize * (2048 / threads as usize);
            (
                format!("{base}_v{width}_{}", sfx(dt)),
                g.rows(rows.min(resident), threads),
            )
        }
        None => (format!("{base}_{}", sfx(dt)), g.rows(rows, row_block(d))),
    }
}

impl Gpu {
    /// The device, element count and joint layouts of an activation's output and its
    /// gradient, or `None` when the fused backward does not apply (dtypes or shapes differ,
    /// or not a float type).
    #[allow(clippy::type_complexity)]
    fn activation_operands(
        &self,
        y: Strided,
        g: Strided,
    ) -> Result<Option<(&'static Gpu, usize, [super::launch::Lay; 2])>> {
        if y.dtype() != g.dtype() || y.shape() != g.shape() || !y.dtype().is_float() {
            return Ok(None);
        }
        let lays2 = lays(
            y.shape(),
            [
                (&y.layout.strides, y.layout.offset),
                (&g.layout.strides, g.layout.offset),
            ],
        )?;
        Ok(Some((gpu(self.index)?, y.numel(), lays2)))
    }
}

/// The address of `s`'s first element when it is contiguous, else of a contiguous copy,
/// returned too so that it outlives the launches queued behind it.
fn dense_ptr(gpu: &Gpu, s: Strided) -> Result<(u64, Option<Storage>)> {
    if s.is_contiguous() {
        let start = (s.layout.offset * s.dtype().size()) as u64;
        return Ok((ptr(s.storage)? + start, None));
    }
    let copy = gpu.contiguous_as(s, s.dtype())?;
    Ok((ptr(&copy)?, Some(copy)))
}

/// `dense_ptr` of an optional operand; 0 (a null pointer for the kernels) when absent.
fn opt_dense_ptr(gpu: &Gpu, s: Option<Strided>) -> Result<(u64, Option<Storage>)> {
    match s {
        Some(s) => dense_ptr(gpu, s),
        None => Ok((0, None)),
    }
}

/// Threads per block for kernels that walk a row of `d` elements: about four each.
fn row_block(d: usize) -> u32 {
    (d / 4).next_power_of_two().clamp(32, 1024) as u32
}

/// Window geometry as the kernels take it (`struct Win` in cuda/nn.cu).
#[repr(C)]
#[derive(Clone, Copy)]
struct Win {
    kh: i64,
    kw: i64,
    sh: i64,
    sw: i64,
    ph: i64,
    pw: i64,
    dh: i64,
    dw: i64,
}

// SAFETY: plain-old-data with the C layout of the device struct.
unsafe impl DeviceRepr for Win {}

impl From<Window> for Win {
    fn from(w: Window) -> Win {
        Win {
            kh: w.kh as i64,
            kw: w.kw as i64,
            sh: w.sh as i64,
            sw: w.sw as i64,
            ph: w.ph as i64,
            pw: w.pw as i64,
            dh: w.dh as i64,
            dw: w.dw as i64,
        }
    }
}

fn not_float(op: &str, dt: DType) -> Error {
    Error::Runtime(format!(
        "{op}: expected a floating point dtype, got {}",
        dt.name()
    ))
}

/// The float dtype of a window kernel's input (the CPU's message otherwise).
fn window_float(src: Strided) -> Result<DType> {
    let dt = src.dtype();
    if !dt.is_float() {
        return Err(Error::Runtime(format!(
            "expected a floating point input, got {}",
            dt.name()
        )));
    }
    Ok(dt)
}

/// The 3-D shape of a kernel's input and its offset and strides, as the kernels take them.
fn dims3(src: Strided, op: &str) -> Result<([usize; 3], [i64; 4])> {
    match (src.shape(), &src.layout.strides[..]) {
        (&[a, b, c], &[s0, s1, s2]) => Ok((
            [a, b, c],
            [src.layout.offset as i64, s0 as i64, s1 as i64, s2 as i64],
        )),
        _ => Err(Error::Runtime(format!(
            "internal error: {op} expects a 3-D view, got {:?}",
            src.shape()
        ))),
    }
}

/// `kh·kw` and `oh·ow`, checked (the CPU's message).
fn window_sizes(win: Window, oh: usize, ow: usize) -> Result<(usize, usize)> {
    match (win.kh.checked_mul(win.kw), oh.checked_mul(ow)) {
        (Some(k), Some(l)) => Ok((k, l)),
        _ => Err(Error::Runtime(format!(
            "Storage size calculation overflowed with sizes=[{}, {}, {oh}, {ow}]",
            win.kh, win.kw
        ))),
    }
}

/// Threads per block for a softmax row of `d` elements: about four elements per thread.
fn row_threads(d: usize) -> u32 {
    (d / 4).next_power_of_two().clamp(32, 512) as u32
}

impl NnKernels for Gpu {
    fn softmax(&self, src: Strided, dim: usize, log: bool) -> Result<Storage> {
        let shape = src.shape();
        if dim >= shape.len() {
            return Err(Error::Runtime(format!(
                "softmax: dim {dim} out of range for shape {shape:?}"
            )));
        }
        let dt = src.dtype();
        if !dt.is_float() {
            return Err(not_float("softmax", dt));
        }
        let g = gpu(self.index)?;
        let n = src.numel();
        let out = new_storage(g, n, dt)?;
        if n == 0 {
            return Ok(out);
        }
        let l = src.layout;
        let outer: usize = shape[..dim].iter().product();
        let inner: usize = shape[dim + 1..].iter().product();
        let d = shape[dim];
        // Lane (o, ·, i) starts at lo(o) + li(i); its elements are `sd` apart.
        let [lo] = lays(&shape[..dim], [(&l.strides[..dim], l.offset)])?;
        let [li] = lays(&shape[dim + 1..], [(&l.strides[dim + 1..], 0)])?;
        let (xp, yp) = (ptr(src.storage)?, ptr(&out)?);
        let (outer64, inner64, d64, sd) =
            (outer as i64, inner as i64, d as i64, l.strides[dim] as i64);
        let as_log = log as i32;
        if inner == 1 && d >= 32 {
            // Rows: a block each, reading coalesced along the row.
            let (name, cfg) = match row_plan(d) {
                Some(_) => row_kernel(g, "softmax_rows", dt, outer, d),
                None => (
                    format!("softmax_rows_{}", sfx(dt)),
                    g.rows(outer, row_threads(d)),
                ),
            };
            launch!(g, Family::Nn, name, cfg; xp, lo, outer64, d64, sd, yp, as_log)
        } else {
            // Lanes across rows (coalesced along `inner`), or rows too short for a block.
            launch!(g, Family::Nn, format!("softmax_lanes_{}", sfx(dt)), g.grid(outer * inner);
                xp, lo, li, outer64, inner64, d64, sd, yp, as_log)
        }?;
        Ok(out)
    }

    fn softmax_backward(&self, y: Strided, g: Strided, log: bool) -> Result<Option<Storage>> {
        let dt = y.dtype();
        let (Some(&d), true) = (y.shape().last(), dt.is_float() && g.dtype() == dt) else {
            return Ok(None);
        };
        if y.shape() != g.shape() || d == 0 {
            return Ok(None);
        }
        let gpu_ = gpu(self.index)?;
        let n = y.numel();
        let out = new_storage(gpu_, n, dt)?;
        let ((yp, _ykeep), (gp, _gkeep)) = (dense_ptr(self, y)?, dense_ptr(self, g)?);
        let (op, rows, d64, as_log) = (ptr(&out)?, (n / d) as i64, d as i64, log as i32);
        launch!(gpu_, Family::Nn, format!("softmax_bwd_rows_{}", sfx(dt)),
            gpu_.rows(n / d, row_block(d)); yp, gp, rows, d64, op, as_log)?;
        Ok(Some(out))
    }

    fn threshold_backward(
        &self,
        y: Strided,
        grad: Strided,
        threshold: f64,
    ) -> Result<Option<Storage>> {
        let Some((g, n, [ly, lg])) = self.activation_operands(y, grad)? else {
            return Ok(None);
        };
        let dt = y.dtype();
        let out = new_storage(g, n, dt)?;
        if n > 0 {
            let (yp, gp, op, n64) = (ptr(y.storage)?, ptr(grad.storage)?, ptr(&out)?, n as i64);
            launch!(g, Family::Nn, format!("threshold_bwd_{}", sfx(dt)), g.grid(n);
                yp, ly, gp, lg, threshold, op, n64)?;
        }
        Ok(Some(out))
    }

    fn output_backward(
        &self,
        op: crate::backend::UnaryOp,
        y: Strided,
        grad: Strided,
    ) -> Result<Option<Storage>> {
        let code: i32 = match op {
            crate::backend::UnaryOp::Sigmoid => 0,
            crate::backend::UnaryOp::Tanh => 1,
            _ => return Ok(None),
        };
        let Some((g, n, [ly, lg])) = self.activation_operands(y, grad)? else {
            return Ok(None);
        };
        let dt = y.dtype();
        let out = new_storage(g, n, dt)?;
        if n > 0 {
            let (yp, gp, outp, n64) = (ptr(y.storage)?, ptr(grad.storage)?, ptr(&out)?, n as i64);
            launch!(g, Family::Nn, format!("output_bwd_{}", sfx(dt)), g.grid(n);
                code, yp, ly, gp, lg, outp, n64)?;
        }
        Ok(Some(out))
    }

    fn layer_norm(
        &self,
        x: Strided,
        w: Option<Strided>,
        b: Option<Strided>,
        (m, d): (usize, usize),
        eps: f64,
    ) -> Result<Option<crate::backend::LayerNormOut>> {
        let dt = x.dtype();
        if !matches!(dt, DType::F32 | DType::F64) || x.numel() != m * d {
            return Ok(None);
        }
        let g = gpu(self.index)?;
        let (y, mean, rstd) = (
            new_storage(g, m * d, dt)?,
            new_storage(g, m, dt)?,
            new_storage(g, m, dt)?,
        );
        if m > 0 && d > 0 {
            let (xp, _xk) = dense_ptr(self, x)?;
            let (wp, _wk) = opt_dense_ptr(self, w)?;
            let (bp, _bk) = opt_dense_ptr(self, b)?;
            let (yp, mp, rp) = (ptr(&y)?, ptr(&mean)?, ptr(&rstd)?);
            let (m64, d64) = (m as i64, d as i64);
            let (name, cfg) = row_kernel(g, "layer_norm_fwd", dt, m, d);
            launch!(g, Family::Nn, name, cfg; xp, wp, bp, m64, d64, eps, yp, mp, rp)?;
        }
        Ok(Some(crate::backend::LayerNormOut { y, mean, rstd }))
    }

    fn layer_norm_backward(
        &self,
        grad: Strided,
        x: Strided,
        (mean, rstd): (Strided, Strided),
        w: Option<Strided>,
        (m, d): (usize, usize),
        weight_grad: bool,
        bias_grad: bool,
    ) -> Result<Option<crate::backend::LayerNormGrads>> {
        let dt = x.dtype();
        if !matches!(dt, DType::F32 | DType::F64) || x.numel() != m * d || grad.numel() != m * d {
            return Ok(None);
        }
        let g = gpu(self.index)?;
        let input = new_storage(g, m * d, dt)?;
        let (gp, _gk) = dense_ptr(self, grad)?;
        let (xp, _xk) = dense_ptr(self, x)?;
        let (mp, _mk) = dense_ptr(self, mean)?;
        let (rp, _rk) = dense_ptr(self, rstd)?;
        let (wp, _wk) = opt_dense_ptr(self, w)?;
        let (m64, d64) = (m as i64, d as i64);
        let sf = sfx(dt);
        if m > 0 && d > 0 {
            let ip = ptr(&input)?;
            let (name, cfg) = row_kernel(g, "layer_norm_bwd", dt, m, d);
            launch!(g, Family::Nn, name, cfg; gp, xp, mp, rp, wp, m64, d64, ip)?;
        }
        let (gw, gb) = if !(weight_grad || bias_grad) {
            (None, None)
        } else if m == 0 || d == 0 {
            let zero = || self.full(d, dt, crate::tensor::creation_scalar::Scalar::Int(0));
            (Some(zero()?), Some(zero()?))
        } else {
            // Chunks of rows small enough to give every multiprocessor blocks of work, large
            // enough that the second step is short.
            let tiles = d.div_ceil(32);
            let target = (g.sm_count as usize * 8).div_ceil(tiles).max(1);
            let chunk = m.div_ceil(target).max(64);
            let chunks = m.div_ceil(chunk);
            let part_w = new_storage(g, chunks * d, dt)?;
            let part_b = new_storage(g, chunks * d, dt)?;
            let (pw, pb) = (ptr(&part_w)?, ptr(&part_b)?);
            let (chunk64, chunks64) = (chunk as i64, chunks as i64);
            launch!(g, Family::Nn, format!("layer_norm_params_{sf}"), g.rows(tiles * chunks, 256);
                gp, xp, mp, rp, m64, d64, chunk64, pw, pb)?;
            let (gw, gb) = (new_storage(g, d, dt)?, new_storage(g, d, dt)?);
            let (gwp, gbp) = (ptr(&gw)?, ptr(&gb)?);
            launch!(g, Family::Nn, format!("layer_norm_param_sum_{sf}"), g.grid(d);
                pw, chunks64, d64, gwp)?;
            launch!(g, Family::Nn, format!("layer_norm_param_sum_{sf}"), g.grid(d);
                pb, chunks64, d64, gbp)?;
            (Some(gw), Some(gb))
        };
        Ok(Some(crate::backend::LayerNormGrads {
            input,
            weight: gw.filter(|_| weight_grad),
            bias: gb.filter(|_| bias_grad),
        }))
    }

    fn moments(&self, src: Strided) -> Result<(Storage, Storage)> {
        let &[outer, c, inner] = src.shape() else {
            return Err(Error::Runtime(format!(
                "internal error: moments expects a 3-D view, got {:?}",
                src.shape()
            )));
        };
        let dt = src.dtype();
        if !dt.is_float() {
            return Err(not_float("moments", dt));
        }
        let g = gpu(self.index)?;
        let (mean, var) = (new_storage(g, c, dt)?, new_storage(g, c, dt)?);
        if c == 0 {
            return Ok((mean, var));
        }
        let (_, [off, s0, s1, s2]) = dims3(src, "moments")?;
        let (xp, mp, vp) = (ptr(src.storage)?, ptr(&mean)?, ptr(&var)?);
        let (outer64, c64, inner64) = (outer as i64, c as i64, inner as i64);
        launch!(g, Family::Nn, format!("moments_{}", sfx(dt)), g.rows(c, 256);
            xp, off, outer64, c64, inner64, s0, s1, s2, mp, vp)?;
        Ok((mean, var))
    }

    fn running_stat_update(
        &self,
        running: Strided,
        batch: Strided,
        momentum: f64,
        scale: f64,
    ) -> Result<()> {
        crate::backend::check_running_stat(running, batch)?;
        let dt = running.dtype();
        if !dt.is_float() {
            return Err(not_float("running_stat_update", dt));
        }
        let g = gpu(self.index)?;
        let n = running.numel();
        if n == 0 {
            return Ok(());
        }
        // Each walked in its own row-major order (the shapes agree in element count).
        let (lr, lb) = (lay(running.layout)?, lay(batch.layout)?);
        let (rp, bp, n64) = (ptr(running.storage)?, ptr(batch.storage)?, n as i64);
        launch!(g, Family::Nn, format!("running_stat_{}", sfx(dt)), g.grid(n);
            rp, lr, bp, lb, n64, momentum, scale)
    }

    fn im2col(&self, src: Strided, win: Window, oh: usize, ow: usize) -> Result<Storage> {
        let ([planes, h, w], [off, s0, s1, s2]) = dims3(src, "im2col")?;
        let dt = window_float(src)?;
        let (k, l) = window_sizes(win, oh, ow)?;
        let n = crate::shape::checked_numel(&[planes, k, l])?;
        let g = gpu(self.index)?;
        let out = new_storage(g, n, dt)?;
        if n == 0 {
            return Ok(out);
        }
        let (xp, op) = (ptr(src.storage)?, ptr(&out)?);
        let (h64, w64, oh64, ow64, n64, kw) = (
            h as i64,
            w as i64,
            oh as i64,
            ow as i64,
            n as i64,
            Win::from(win),
        );
        launch!(g, Family::Nn, format!("im2col_{}", sfx(dt)), g.grid(n);
            xp, off, s0, s1, s2, h64, w64, kw, oh64, ow64, op, n64)?;
        Ok(out)
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
        let ([planes, k, l], [off, s0, s1, s2]) = dims3(src, "col2im")?;
        if Some(k) != win.kh.checked_mul(win.kw) || Some(l) != oh.checked_mul(ow) {
            return Err(Error::Runtime(format!(
                "internal error: col2im input {:?} does not match the window {win:?} and {oh}x{ow} blocks",
                src.shape()
            )));
        }
        let dt = window_float(src)?;
        let n = crate::shape::checked_numel(&[planes, h, w])?;
        let g = gpu(self.index)?;
        let out = new_storage(g, n, dt)?;
        if n == 0 {
            return Ok(out);
        }
        // The gather divides by the strides (Window::out_len never yields a zero stride).
        if win.sh == 0 || win.sw == 0 {
            return Err(Error::Runtime(format!(
                "internal error: col2im with a zero stride in {win:?}"
            )));
        }
        let (xp, op) = (ptr(src.storage)?, ptr(&out)?);
        let (h64, w64, oh64, ow64, n64, kw) = (
            h as i64,
            w as i64,
            oh as i64,
            ow as i64,
            n as i64,
            Win::from(win),
        );
        launch!(g, Family::Nn, format!("col2im_{}", sfx(dt)), g.grid(n);
            xp, off, s0, s1, s2, h64, w64, kw, oh64, ow64, op, n64)?;
        Ok(out)
    }

    fn max_pool2d_indices(
        &self,
        src: Strided,
        win: Window,
        oh: usize,
        ow: usize,
    ) -> Result<Storage> {
        let ([planes, h, w], [off, s0, s1, s2]) = dims3(src, "max_pool2d")?;
        let dt = window_float(src)?;
        let n = crate::shape::checked_numel(&[planes, oh, ow])?;
        let g = gpu(self.index)?;
        let out = new_storage(g, n, DType::I64)?;
        if n == 0 {
            return Ok(out);
        }
        let (xp, op) = (ptr(src.storage)?, ptr(&out)?);
        let (h64, w64, oh64, ow64, n64, kw) = (
            h as i64,
            w as i64,
            oh as i64,
            ow as i64,
            n as i64,
            Win::from(win),
        );
        launch!(g, Family::Nn, format!("max_pool2d_idx_{}", sfx(dt)), g.grid(n);
            xp, off, s0, s1, s2, h64, w64, kw, oh64, ow64, op, n64)?;
        Ok(out)
    }
}
