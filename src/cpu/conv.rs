//! im2col / col2im for 2-D convolutions and the max-pooling index search. Parallel over
//! (batch, channel) planes.

use num_traits::Float;

/// Geometry of a sliding 2-D window.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Window {
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    pub ph: usize,
    pub pw: usize,
    pub dh: usize,
    pub dw: usize,
}

impl Window {
    /// Output size along one axis (floor mode), or None when the window does not fit.
    pub fn out_len(n: usize, k: usize, s: usize, p: usize, d: usize, ceil: bool) -> Option<usize> {
        let span = d * (k - 1) + 1;
        if n + 2 * p < span {
            return None;
        }
        let num = n + 2 * p - span;
        let mut o = if ceil { num.div_ceil(s) } else { num / s } + 1;
        // PyTorch: in ceil mode the last window must start inside the input or left padding.
        if ceil && (o - 1) * s >= n + p {
            o -= 1;
        }
        Some(o)
    }
}

/// `x: [planes, H, W]` → `cols: [planes, kh*kw, oh*ow]` (zero padding).
pub fn im2col<F: Float + Send + Sync>(
    x: &[F],
    planes: usize,
    h: usize,
    w: usize,
    win: Window,
    oh: usize,
    ow: usize,
) -> Vec<F> {
    let k = win.kh * win.kw;
    let l = oh * ow;
    let mut out = vec![F::zero(); planes * k * l];
    super::for_each_chunk(&mut out, k * l, planes * k * l, |p, dst| {
        let src = &x[p * h * w..(p + 1) * h * w];
        for i in 0..win.kh {
            for j in 0..win.kw {
                let row = &mut dst[(i * win.kw + j) * l..(i * win.kw + j + 1) * l];
                for oy in 0..oh {
                    let y = (oy * win.sh + i * win.dh) as isize - win.ph as isize;
                    if y < 0 || y >= h as isize {
                        continue;
                    }
                    let src_row = &src[y as usize * w..(y as usize + 1) * w];
                    for ox in 0..ow {
                        let xx = (ox * win.sw + j * win.dw) as isize - win.pw as isize;
                        if xx >= 0 && xx < w as isize {
                            row[oy * ow + ox] = src_row[xx as usize];
                        }
                    }
                }
            }
        }
    });
    out
}

/// The adjoint of `im2col`: sums window columns back into `[planes, H, W]`.
pub fn col2im<F: Float + Send + Sync>(
    cols: &[F],
    planes: usize,
    h: usize,
    w: usize,
    win: Window,
    oh: usize,
    ow: usize,
) -> Vec<F> {
    let k = win.kh * win.kw;
    let l = oh * ow;
    let mut out = vec![F::zero(); planes * h * w];
    super::for_each_chunk(&mut out, h * w, planes * k * l, |p, dst| {
        let src = &cols[p * k * l..(p + 1) * k * l];
        for i in 0..win.kh {
            for j in 0..win.kw {
                let row = &src[(i * win.kw + j) * l..(i * win.kw + j + 1) * l];
                for oy in 0..oh {
                    let y = (oy * win.sh + i * win.dh) as isize - win.ph as isize;
                    if y < 0 || y >= h as isize {
                        continue;
                    }
                    for ox in 0..ow {
                        let xx = (ox * win.sw + j * win.dw) as isize - win.pw as isize;
                        if xx >= 0 && xx < w as isize {
                            let d = &mut dst[y as usize * w + xx as usize];
                            *d = *d + row[oy * ow + ox];
                        }
                    }
                }
            }
        }
    });
    out
}

/// Flat `y*W + x` index of each window's maximum (NaN wins; padding never selected).
pub fn max_pool_indices<F: Float + Send + Sync>(
    x: &[F],
    planes: usize,
    h: usize,
    w: usize,
    win: Window,
    oh: usize,
    ow: usize,
) -> Vec<i64> {
    let mut out = vec![0i64; planes * oh * ow];
    super::for_each_chunk(&mut out, oh * ow, planes * h * w, |p, dst| {
        let src = &x[p * h * w..(p + 1) * h * w];
        for oy in 0..oh {
            for ox in 0..ow {
                let mut best = -1i64;
                let mut bv = F::neg_infinity();
                for i in 0..win.kh {
                    let y = (oy * win.sh + i * win.dh) as isize - win.ph as isize;
                    if y < 0 || y >= h as isize {
                        continue;
                    }
                    for j in 0..win.kw {
                        let xx = (ox * win.sw + j * win.dw) as isize - win.pw as isize;
                        if xx < 0 || xx >= w as isize {
                            continue;
                        }
                        let idx = y as usize * w + xx as usize;
                        let v = src[idx];
                        if best < 0 || v > bv || v.is_nan() && !bv.is_nan() {
                            best = idx as i64;
                            bv = v;
                        }
                    }
                }
                dst[oy * ow + ox] = best.max(0);
            }
        }
    });
    out
}
