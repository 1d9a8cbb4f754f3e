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
                    let (lo, hi, off) = valid_span(win.sw, j * win.dw, win.pw, w, ow);
                    let dst_row = &mut row[oy * ow..(oy + 1) * ow];
                    if lo < hi {
                        let x0 = (lo * win.sw) as isize + off;
                        if win.sw == 1 {
                            dst_row[lo..hi]
                                .copy_from_slice(&src_row[x0 as usize..x0 as usize + hi - lo]);
                        } else {
                            for (k, d) in dst_row[lo..hi].iter_mut().enumerate() {
                                *d = src_row[x0 as usize + k * win.sw];
                            }
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
                im2col(&x, 1, h, w, win, oh, ow),
                naive(&x, h, w, win, oh, ow),
                "{win:?}"
            );
        }
    }
}
