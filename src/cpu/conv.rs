//! im2col / col2im for 2-D convolutions and the max-pooling index search. Parallel over
//! (batch, channel) planes. Computed in f32/f64; half types go through f32.

use crate::backend::Strided;
pub use crate::backend::Window;
use crate::dtype::{DType, Elem};
use crate::error::{Error, Result};
use crate::storage::Storage;
use num_traits::Float;
use std::borrow::Cow;

/// The output columns `lo..hi` whose input column `ox*stride + off` (with
/// `off = kernel_offset - pad`) lies inside `0..w`, and `off`.
fn valid_span(
    stride: usize,
    kernel_offset: usize,
    pad: usize,
    w: usize,
    ow: usize,
) -> (usize, usize, isize) {
    let off = kernel_offset as isize - pad as isize;
    let s = stride as isize;
    let lo = if off >= 0 {
        0
    } else {
        ((-off + s - 1) / s) as usize
    };
    let last = w as isize - 1 - off;
    let hi = if last < 0 {
        0
    } else {
        ((last / s) as usize + 1).min(ow)
    };
    (lo.min(ow), hi, off)
}

/// `kh·kw` and `oh·ow`, checked.
fn window_sizes(win: Window, oh: usize, ow: usize) -> Result<(usize, usize)> {
    match (win.kh.checked_mul(win.kw), oh.checked_mul(ow)) {
        (Some(k), Some(l)) => Ok((k, l)),
        _ => Err(Error::Runtime(format!(
            "Storage size calculation overflowed with sizes=[{}, {}, {oh}, {ow}]",
            win.kh, win.kw
        ))),
    }
}

/// `x: [planes, H, W]` → `cols: [planes, kh*kw, oh*ow]` (zero padding).
pub fn im2col<F: Float + Elem + Send + Sync>(
    x: &[F],
    planes: usize,
    h: usize,
    w: usize,
    win: Window,
    oh: usize,
    ow: usize,
) -> Result<Vec<F>> {
    let (k, l) = window_sizes(win, oh, ow)?;
    // Every element is written below (padding as explicit zeros): no zero-filled allocation,
    // which for a batch's columns is a full extra pass over tens of megabytes.
    let mut out = super::try_output::<F>(crate::shape::checked_numel(&[planes, k, l])?)?;
    super::for_each_chunk(&mut out, k * l, planes * k * l, |p, dst| {
        im2col_plane(&x[p * h * w..(p + 1) * h * w], h, w, win, oh, ow, dst)
    });
    Ok(out)
}

/// One plane `src [H, W]` → `dst [kh*kw, oh*ow]`, every element written.
pub(super) fn im2col_plane<F: Float>(
    src: &[F],
    h: usize,
    w: usize,
    win: Window,
    oh: usize,
    ow: usize,
    dst: &mut [F],
) {
    if win.sh == 1 && win.sw == 1 && ow == w {
        return im2col_plane_unit(src, h, w, win, oh, dst);
    }
    let l = oh * ow;
    let zero = F::zero();
    for i in 0..win.kh {
        for j in 0..win.kw {
            let row = &mut dst[(i * win.kw + j) * l..(i * win.kw + j + 1) * l];
            let (lo, hi, off) = valid_span(win.sw, j * win.dw, win.pw, w, ow);
            for oy in 0..oh {
                let y = (oy * win.sh + i * win.dh) as isize - win.ph as isize;
                let dst_row = &mut row[oy * ow..(oy + 1) * ow];
                if y < 0 || y >= h as isize || lo >= hi {
                    dst_row.fill(zero);
                    continue;
                }
                dst_row[..lo].fill(zero);
                dst_row[hi..].fill(zero);
                let src_row = &src[y as usize * w..(y as usize + 1) * w];
                let x0 = (lo * win.sw) as isize + off;
                if win.sw == 1 {
                    dst_row[lo..hi].copy_from_slice(&src_row[x0 as usize..x0 as usize + hi - lo]);
                } else {
                    for (k, d) in dst_row[lo..hi].iter_mut().enumerate() {
                        *d = src_row[x0 as usize + k * win.sw];
                    }
                }
            }
        }
    }
}

/// `im2col_plane` for unit strides and `ow == w` (a "same" convolution): a tap's row is the
/// plane shifted by one constant offset, so the output rows that exist copy as one run and
/// only the elements whose column lies outside the plane (they picked up a neighbouring
/// row's value) are zeroed after. Row by row, a 3×3 window on 14-wide images spent most of
/// its time in calls copying 14 and zeroing 1 element.
fn im2col_plane_unit<F: Float>(
    src: &[F],
    h: usize,
    w: usize,
    win: Window,
    oh: usize,
    dst: &mut [F],
) {
    let (l, plane) = (oh * w, (h * w) as isize);
    let zero = F::zero();
    for i in 0..win.kh {
        let dy = (i * win.dh) as isize - win.ph as isize;
        // Output rows whose input row exists: 0 <= oy + dy < h.
        let oy0 = (-dy).clamp(0, oh as isize) as usize;
        let oy1 = (h as isize - dy).clamp(oy0 as isize, oh as isize) as usize;
        for j in 0..win.kw {
            let row = &mut dst[(i * win.kw + j) * l..][..l];
            let (lo, hi, dx) = valid_span(1, j * win.dw, win.pw, w, w);
            let shift = dy * w as isize + dx;
            // row[q] = src[q + shift] over those rows, clamped to the plane (what the clamp
            // leaves out lies in columns outside the plane).
            let end = (oy1 * w) as isize;
            let q0 = ((oy0 * w) as isize).max(-shift).min(end);
            let q1 = end.min(plane - shift).max(q0);
            let (q0, q1) = (q0 as usize, q1 as usize);
            row[..q0].fill(zero);
            if q1 > q0 {
                let from = (q0 as isize + shift) as usize;
                row[q0..q1].copy_from_slice(&src[from..from + (q1 - q0)]);
            }
            row[q1..].fill(zero);
            if lo > 0 || hi < w {
                for r in row[oy0 * w..oy1 * w].chunks_exact_mut(w) {
                    zero_few(&mut r[..lo.min(hi)], zero);
                    zero_few(&mut r[hi..], zero);
                }
            }
        }
    }
}

/// Zeroes a run that is usually one or two elements long without a call to `memset`.
#[inline(always)]
fn zero_few<F: Copy>(r: &mut [F], zero: F) {
    match r {
        [] => {}
        [a] => *a = zero,
        [a, b] => (*a, *b) = (zero, zero),
        _ => r.fill(zero),
    }
}

/// The adjoint of `im2col`: sums window columns back into `[planes, H, W]`.
pub fn col2im<F: Float + Elem + Send + Sync>(
    cols: &[F],
    planes: usize,
    h: usize,
    w: usize,
    win: Window,
    oh: usize,
    ow: usize,
) -> Result<Vec<F>> {
    let (k, l) = window_sizes(win, oh, ow)?;
    let mut out = super::try_zeroed::<F>(crate::shape::checked_numel(&[planes, h, w])?)?;
    super::for_each_chunk(&mut out, h * w, planes * k * l, |p, dst| {
        col2im_plane(&cols[p * k * l..(p + 1) * k * l], h, w, win, oh, ow, dst)
    });
    Ok(out)
}

/// Adds one plane's columns `src [kh*kw, oh*ow]` into `dst [H, W]`.
pub(super) fn col2im_plane<F: Float>(
    src: &[F],
    h: usize,
    w: usize,
    win: Window,
    oh: usize,
    ow: usize,
    dst: &mut [F],
) {
    let l = oh * ow;
    for i in 0..win.kh {
        for j in 0..win.kw {
            let row = &src[(i * win.kw + j) * l..(i * win.kw + j + 1) * l];
            let (lo, hi, off) = valid_span(win.sw, j * win.dw, win.pw, w, ow);
            for oy in 0..oh {
                let y = (oy * win.sh + i * win.dh) as isize - win.ph as isize;
                if y < 0 || y >= h as isize || lo >= hi {
                    continue;
                }
                let d = &mut dst[y as usize * w..(y as usize + 1) * w];
                for (ox, &v) in row[oy * ow..(oy + 1) * ow]
                    .iter()
                    .enumerate()
                    .take(hi)
                    .skip(lo)
                {
                    let xx = ((ox * win.sw) as isize + off) as usize;
                    d[xx] = d[xx] + v;
                }
            }
        }
    }
}

/// Each window's maximum and its flat `y*W + x` index (NaN wins; padding never selected;
/// the first of equal maxima in row-major window order wins).
pub fn max_pool<F: Float + Elem + Send + Sync>(
    x: &[F],
    planes: usize,
    (h, w): (usize, usize),
    win: Window,
    oh: usize,
    ow: usize,
) -> Result<(Vec<F>, Vec<i64>)> {
    let total = crate::shape::checked_numel(&[planes, oh, ow])?;
    let mut idx = super::try_output::<i64>(total)?;
    let mut vals = super::try_output::<F>(total)?;
    let l = oh * ow;
    if l == 0 || h * w == 0 {
        vals.fill(F::neg_infinity());
        idx.fill(0);
        return Ok((vals, idx));
    }
    let work = planes * l * win.kh * win.kw;
    let pairs = win.kh == 2 && win.kw == 2 && win.sh == 2 && win.sw == 2;
    let plain = win.ph == 0 && win.pw == 0 && win.dh == 1 && win.dw == 1;
    let two_by_two = pairs && plain && 2 * oh <= h && 2 * ow <= w;
    let plane = |p: usize, dv: &mut [F], di: &mut [i64]| {
        let src = &x[p * h * w..(p + 1) * h * w];
        if two_by_two {
            max_pool_plane_2x2(src, w, ow, dv, di)
        } else {
            max_pool_plane(src, (h, w), win, ow, dv, di)
        }
    };
    if super::parallel(work) {
        let (vs, is) = (
            super::team::SharedMut::new(&mut vals),
            super::team::SharedMut::new(&mut idx),
        );
        super::team::run(planes, |p| {
            // SAFETY: plane p's outputs belong to part p only.
            let (dv, di) = unsafe { (vs.range(p * l..(p + 1) * l), is.range(p * l..(p + 1) * l)) };
            plane(p, dv, di)
        });
    } else {
        for (p, (dv, di)) in vals.chunks_mut(l).zip(idx.chunks_mut(l)).enumerate() {
            plane(p, dv, di);
        }
    }
    Ok((vals, idx))
}

/// One plane of `max_pool` with 2×2 windows at stride 2 that all lie inside the plane (the
/// common `MaxPool2d(2)`): four loads and three selects per output, no gathers (the general
/// tap-by-tap path spent most of a small CNN's pooling time gathering every other column).
fn max_pool_plane_2x2<F: Float>(src: &[F], w: usize, ow: usize, dv: &mut [F], di: &mut [i64]) {
    for (oy, (vrow, irow)) in dv.chunks_mut(ow).zip(di.chunks_mut(ow)).enumerate() {
        let r0 = 2 * oy * w;
        let (top, bottom) = (&src[r0..r0 + 2 * ow], &src[r0 + w..r0 + w + 2 * ow]);
        for (ox, ((bv, bi), (t, b))) in vrow
            .iter_mut()
            .zip(irow.iter_mut())
            .zip(top.chunks_exact(2).zip(bottom.chunks_exact(2)))
            .enumerate()
        {
            let at = r0 + 2 * ox;
            let (mut v, mut i) = (t[0], at);
            // Row-major window order; the first NaN, else the first of equal maxima, wins.
            for (c, ci) in [(t[1], at + 1), (b[0], at + w), (b[1], at + w + 1)] {
                // Non-short-circuit operators: selects, not branches that mispredict on
                // about half the windows of real activations.
                let take = (c > v) | (c.is_nan() & !v.is_nan());
                v = if take { c } else { v };
                i = if take { ci } else { i };
            }
            (*bv, *bi) = (v, i as i64);
        }
    }
}

/// One plane of `max_pool`, tap by tap: each kernel position updates a whole output row with
/// branch-free selects (a window-by-window search branches on every element).
fn max_pool_plane<F: Float>(
    src: &[F],
    (h, w): (usize, usize),
    win: Window,
    ow: usize,
    dv: &mut [F],
    di: &mut [i64],
) {
    // The columns each kernel column reads: output span and offset, the same for every row.
    let mut gather: Vec<F> = Vec::with_capacity(ow);
    let spans: Vec<(usize, usize, isize)> = (0..win.kw)
        .map(|j| valid_span(win.sw, j * win.dw, win.pw, w, ow))
        .collect();
    for (oy, (vrow, irow)) in dv.chunks_mut(ow).zip(di.chunks_mut(ow)).enumerate() {
        vrow.fill(F::neg_infinity());
        // -1: nothing selected yet.
        irow.fill(-1);
        let mut odd = false;
        for i in 0..win.kh {
            let y = (oy * win.sh + i * win.dh) as isize - win.ph as isize;
            if y < 0 || y >= h as isize {
                continue;
            }
            let row0 = y as usize * w;
            let srow = &src[row0..row0 + w];
            for &(lo, hi, off) in &spans {
                if lo >= hi {
                    continue;
                }
                let x0 = ((lo * win.sw) as isize + off) as usize;
                let n = hi - lo;
                // The tap's inputs as one contiguous run (gathered for strides above 1).
                let taps: &[F] = if win.sw == 1 {
                    &srow[x0..x0 + n]
                } else {
                    gather.clear();
                    gather.extend(srow[x0..].iter().step_by(win.sw).take(n));
                    &gather
                };
                let base = (row0 + x0) as i64;
                let step = win.sw as i64;
                for (k, ((bv, bi), &v)) in vrow[lo..hi]
                    .iter_mut()
                    .zip(irow[lo..hi].iter_mut())
                    .zip(taps)
                    .enumerate()
                {
                    // An integer select and a max, no data-dependent branch (those mispredict
                    // on half the elements). NaN and all--inf windows are redone below.
                    let gt = v > *bv;
                    odd |= v.is_nan();
                    *bi = if gt { base + k as i64 * step } else { *bi };
                    *bv = bv.max(v);
                }
            }
        }
        // Exact rules for rows with a NaN or a window whose valid elements are all -inf
        // (nothing compared greater than the initial -inf).
        if odd || irow.iter().any(|&i| i < 0) {
            for (ox, (bv, bi)) in vrow.iter_mut().zip(irow.iter_mut()).enumerate() {
                (*bv, *bi) = max_window(src, (h, w), win, (oy, ox));
            }
        }
    }
}

/// One window's maximum and flat index by the definition: the first valid element, then
/// any greater one or the first NaN.
fn max_window<F: Float>(
    src: &[F],
    (h, w): (usize, usize),
    win: Window,
    (oy, ox): (usize, usize),
) -> (F, i64) {
    let (mut bv, mut best) = (F::neg_infinity(), None);
    for i in 0..win.kh {
        let y = (oy * win.sh + i * win.dh) as isize - win.ph as isize;
        if y < 0 || y >= h as isize {
            continue;
        }
        for j in 0..win.kw {
            let x = (ox * win.sw + j * win.dw) as isize - win.pw as isize;
            if x < 0 || x >= w as isize {
                continue;
            }
            let at = y as usize * w + x as usize;
            let v = src[at];
            if best.is_none() || v > bv || (v.is_nan() && !bv.is_nan()) {
                (bv, best) = (v, Some(at as i64));
            }
        }
    }
    (bv, best.unwrap_or(0))
}

/// Max pooling's backward: per plane, `gi[idx[o]] += g[o]`.
pub fn max_pool_grad<F: Float + Elem + Send + Sync>(
    g: &[F],
    idx: &[i64],
    planes: usize,
    hw: usize,
) -> Result<Vec<F>> {
    let l = g.len().checked_div(planes).unwrap_or(0);
    let mut gi = super::try_zeroed::<F>(crate::shape::checked_numel(&[planes, hw])?)?;
    if hw == 0 || l == 0 {
        return Ok(gi);
    }
    if let Some(bad) = idx.iter().find(|&&i| i < 0 || i as usize >= hw) {
        return Err(Error::Runtime(format!(
            "max_pool2d_backward: index {bad} is out of bounds for {hw} input elements"
        )));
    }
    super::for_each_chunk(&mut gi, hw, planes * (hw + l), |p, dst| {
        for (&i, &v) in idx[p * l..(p + 1) * l].iter().zip(&g[p * l..(p + 1) * l]) {
            dst[i as usize] = dst[i as usize] + v;
        }
    });
    Ok(gi)
}

/// The elements of a float view as f32 or f64 (`W`), borrowed when already so.
pub(super) fn working<'a, W: Elem>(src: Strided<'a>) -> Result<Cow<'a, [W]>> {
    if src.dtype() == W::DTYPE {
        return super::contiguous_or_gathered::<W>(src);
    }
    crate::with_float_dtype!(
        src.dtype(),
        T,
        {
            let v = super::contiguous_or_gathered::<T>(src)?;
            let mut out = super::try_with_capacity::<W>(v.len())?;
            out.extend(v.iter().map(|&x| super::convert::<T, W>(x)));
            Ok(Cow::Owned(out))
        },
        Err(Error::Runtime(format!(
            "expected a floating point input, got {}",
            src.dtype().name()
        )))
    )
}

/// Converts a working-precision result back to `dt`.
pub(super) fn finish<W: Elem>(v: Vec<W>, dt: DType) -> Result<Storage> {
    if dt == W::DTYPE {
        return Ok(Storage::from_vec(v));
    }
    crate::with_dtype!(dt, T, {
        let mut out = super::try_with_capacity::<T>(v.len())?;
        out.extend(v.iter().map(|&x| super::convert::<W, T>(x)));
        Ok(Storage::from_vec(out))
    })
}

/// The 3-D shape of a kernel's input, checked.
pub(super) fn dims3(src: Strided, op: &str) -> Result<(usize, usize, usize)> {
    match *src.shape() {
        [a, b, c] => Ok((a, b, c)),
        _ => Err(Error::Runtime(format!(
            "internal error: {op} expects a 3-D view, got {:?}",
            src.shape()
        ))),
    }
}

pub(super) fn im2col_kernel(src: Strided, win: Window, oh: usize, ow: usize) -> Result<Storage> {
    let (planes, h, w) = dims3(src, "im2col")?;
    crate::with_working_float!(src.dtype(), F, {
        let x = working::<F>(src)?;
        finish(im2col::<F>(&x, planes, h, w, win, oh, ow)?, src.dtype())
    })
}

pub(super) fn col2im_kernel(
    src: Strided,
    h: usize,
    w: usize,
    win: Window,
    oh: usize,
    ow: usize,
) -> Result<Storage> {
    let (planes, k, l) = dims3(src, "col2im")?;
    if Some(k) != win.kh.checked_mul(win.kw) || Some(l) != oh.checked_mul(ow) {
        return Err(Error::Runtime(format!(
            "internal error: col2im input {:?} does not match the window {win:?} and {oh}x{ow} blocks",
            src.shape()
        )));
    }
    crate::with_working_float!(src.dtype(), F, {
        let x = working::<F>(src)?;
        finish(col2im::<F>(&x, planes, h, w, win, oh, ow)?, src.dtype())
    })
}

pub(super) fn max_pool_kernel(src: Strided, win: Window, oh: usize, ow: usize) -> Result<Storage> {
    let (planes, h, w) = dims3(src, "max_pool2d")?;
    crate::with_working_float!(src.dtype(), F, {
        let x = working::<F>(src)?;
        Ok(Storage::from_vec(
            max_pool::<F>(&x, planes, (h, w), win, oh, ow)?.1,
        ))
    })
}

/// Values and indices for f32/f64 inputs (`None` for the half types, whose values the
/// tensor layer gathers).
pub(super) fn max_pool_values_kernel(
    src: Strided,
    win: Window,
    oh: usize,
    ow: usize,
) -> Result<Option<(Storage, Storage)>> {
    let (planes, h, w) = dims3(src, "max_pool2d")?;
    macro_rules! run {
        ($F:ty) => {{
            let x = super::contiguous_or_gathered::<$F>(src)?;
            let (v, i) = max_pool::<$F>(&x, planes, (h, w), win, oh, ow)?;
            Ok(Some((Storage::from_vec(v), Storage::from_vec(i))))
        }};
    }
    match src.dtype() {
        DType::F32 => run!(f32),
        DType::F64 => run!(f64),
        _ => Ok(None),
    }
}

pub(super) fn max_pool_grad_kernel(g: Strided, idx: Strided, hw: usize) -> Result<Option<Storage>> {
    let (&[planes, l], &[p2, l2]) = (g.shape(), idx.shape()) else {
        return Ok(None);
    };
    if (planes, l) != (p2, l2) || idx.dtype() != DType::I64 {
        return Ok(None);
    }
    let ix = super::contiguous_or_gathered::<i64>(idx)?;
    macro_rules! run {
        ($F:ty) => {{
            let gs = super::contiguous_or_gathered::<$F>(g)?;
            Ok(Some(Storage::from_vec(max_pool_grad::<$F>(
                &gs, &ix, planes, hw,
            )?)))
        }};
    }
    match g.dtype() {
        DType::F32 => run!(f32),
        DType::F64 => run!(f64),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(x: &[f64], h: usize, w: usize, win: Window, oh: usize, ow: usize) -> Vec<f64> {
        let mut out = vec![0.0; win.kh * win.kw * oh * ow];
        for i in 0..win.kh {
            for j in 0..win.kw {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let y = (oy * win.sh + i * win.dh) as isize - win.ph as isize;
                        let xx = (ox * win.sw + j * win.dw) as isize - win.pw as isize;
                        if y >= 0 && y < h as isize && xx >= 0 && xx < w as isize {
                            out[((i * win.kw + j) * oh + oy) * ow + ox] =
                                x[y as usize * w + xx as usize];
                        }
                    }
                }
            }
        }
        out
    }

    #[test]
    fn im2col_matches_naive_windows() {
        let (h, w) = (5, 7);
        let x: Vec<f64> = (0..h * w).map(|v| v as f64 + 1.0).collect();
        for &(k, s, p, d) in &[
            (3, 1, 1, 1),
            (3, 2, 1, 1),
            (2, 3, 0, 1),
            (3, 1, 2, 2),
            (1, 1, 0, 1),
            (3, 2, 2, 1),
        ] {
            let win = Window {
                kh: k,
                kw: k,
                sh: s,
                sw: s,
                ph: p,
                pw: p,
                dh: d,
                dw: d,
            };
            let oh = Window::out_len(h, k, s, p, d, false).unwrap();
            let ow = Window::out_len(w, k, s, p, d, false).unwrap();
            assert_eq!(
                im2col(&x, 1, h, w, win, oh, ow).unwrap(),
                naive(&x, h, w, win, oh, ow),
                "{win:?}"
            );
        }
    }

    #[test]
    fn im2col_same_convolutions_match_naive_windows() {
        // Unit strides with the output as wide as the input (the shifted-run path): odd and
        // asymmetric windows, dilation, padding past the whole plane, one-pixel planes.
        let windows = [
            (3, 3, 1, 1, 1, 1),
            (5, 3, 2, 1, 1, 1),
            (3, 5, 1, 2, 1, 1),
            (3, 3, 2, 2, 2, 2),
            (1, 7, 0, 3, 1, 1),
            (7, 1, 3, 0, 1, 1),
            (5, 5, 4, 4, 2, 2),
        ];
        for (h, w) in [(1, 1), (2, 3), (5, 7), (6, 2), (9, 14)] {
            let x: Vec<f64> = (0..h * w).map(|v| v as f64 + 1.0).collect();
            for &(kh, kw, ph, pw, dh, dw) in &windows {
                let win = Window {
                    kh,
                    kw,
                    sh: 1,
                    sw: 1,
                    ph,
                    pw,
                    dh,
                    dw,
                };
                let oh = Window::out_len(h, kh, 1, ph, dh, false).unwrap();
                let ow = Window::out_len(w, kw, 1, pw, dw, false).unwrap();
                assert_eq!(ow, w);
                assert_eq!(
                    im2col(&x, 1, h, w, win, oh, ow).unwrap(),
                    naive(&x, h, w, win, oh, ow),
                    "{h}x{w} {win:?}"
                );
            }
        }
    }
}
