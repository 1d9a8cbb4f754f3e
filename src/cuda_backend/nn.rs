//! Neural-network family on the GPU: softmax lanes, normalisation moments, running
//! statistics, im2col/col2im and max-pooling indices. Kernels in cuda/nn.cu; float dtypes
//! only, halves computed in f32 (softmax, col2im sums) or f64 (moments, running statistics).

use super::context::{gpu, Gpu};
use super::kernels::Family;
use super::launch::{launch, lay, lays, new_storage, ptr, sfx};
use crate::backend::{NnKernels, Strided, Window};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::storage::Storage;
use cudarc::driver::DeviceRepr;

pub(super) fn kernel_names() -> Vec<String> {
    let mut v = Vec::new();
    for d in DType::ALL.into_iter().filter(|d| d.is_float()) {
        for k in [
            "softmax_rows",
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
    v
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
            let cfg = g.rows(outer, row_threads(d));
            launch!(g, Family::Nn, format!("softmax_rows_{}", sfx(dt)), cfg;
                xp, lo, outer64, d64, sd, yp, as_log)
        } else {
            // Lanes across rows (coalesced along `inner`), or rows too short for a block.
            launch!(g, Family::Nn, format!("softmax_lanes_{}", sfx(dt)), g.grid(outer * inner);
                xp, lo, li, outer64, inner64, d64, sd, yp, as_log)
        }?;
        Ok(out)
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
