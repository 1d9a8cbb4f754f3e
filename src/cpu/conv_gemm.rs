//! 2-D convolution (forward, input gradient, weight gradient) as GEMMs per image, the images
//! spread over the team, each run of images with its own scratch (no batch-sized temporaries).
//!
//! Stride 1 uses "shifted views" instead of an im2col matrix: the image is copied once into
//! zero-padded planes of `hp × wp` elements, and the output is computed on a grid as wide as
//! a padded row (`oh × wp`, the last `(kw-1)·dw` columns of each row dropped afterwards).
//! Output point `q = y·wp + x` of kernel tap `(i, j)` reads padded element
//! `q + i·dh·wp + j·dw`, so each tap is one GEMM whose left operand is the padded image at a
//! fixed offset (column-major, channel stride = plane size): `grid += X_tap · W_tap`.
//! Other strides build one image's im2col matrix in scratch and run one GEMM per group.
//!
//! The input gradient of a stride-1 conv is a stride-1 conv of the output gradient with the
//! flipped, transposed kernel (padding `dilation·(k-1) - padding`); otherwise it is `Wᵀ·g` per
//! image folded back by col2im. The weight gradient sums per-image GEMMs into one buffer per
//! worker. f32/f64 run natively; the half types are computed in f32.

use super::conv::{col2im_plane, im2col_plane, working};
use super::conv_winograd::{Plan, Scratch as WinoScratch};
use crate::backend::{Strided, Window};
use crate::dtype::{DType, Elem};
use crate::error::Result;
use crate::storage::Storage;
use num_traits::Float;

/// Shapes of one convolution: input `[n, c, h, w]`, weight `[o, c/groups, kh, kw]`, output
/// `[n, o, oh, ow]`.
#[derive(Clone, Copy, Debug)]
struct Geom {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    o: usize,
    groups: usize,
    win: Window,
    oh: usize,
    ow: usize,
}

impl Geom {
    fn cg(&self) -> usize {
        self.c / self.groups
    }
    fn og(&self) -> usize {
        self.o / self.groups
    }
    fn kk(&self) -> usize {
        self.win.kh * self.win.kw
    }
    fn l(&self) -> usize {
        self.oh * self.ow
    }
    /// Multiply-adds of the whole convolution (saturating; only compared to thresholds).
    fn work(&self) -> usize {
        self.n
            .saturating_mul(self.o)
            .saturating_mul(self.l())
            .saturating_mul(self.cg() * self.kk())
    }
    fn stride_one(&self) -> bool {
        self.win.sh == 1 && self.win.sw == 1
    }
    /// Padded plane `(hp, wp, plane length)`; the plane has `(kw-1)·dw` zeros of slack so the
    /// last tap's read of the last grid row stays inside it.
    fn padded(&self) -> (usize, usize, usize) {
        let hp = self.h + 2 * self.win.ph;
        let wp = self.w + 2 * self.win.pw;
        (hp, wp, hp * wp + (self.win.kw - 1) * self.win.dw)
    }
    /// The input can serve as its own padded plane (no padding, one kernel column).
    fn direct(&self) -> bool {
        self.win.ph == 0 && self.win.pw == 0 && self.win.kw == 1
    }
    /// Stride 1 with enough channels per group for the shifted views' per-tap GEMMs (inner
    /// dimension `cg`); fewer channels go through im2col (inner dimension `cg·kh·kw`).
    fn shifted(&self) -> bool {
        self.stride_one() && (self.direct() || self.cg() >= SHIFTED_MIN_CHANNELS)
    }
    /// Scratch sizes `(a, b)` of the forward or the weight-gradient path (the latter always
    /// copies the image into padded planes).
    fn scratch(&self, forward: bool) -> (usize, usize) {
        if !self.shifted() {
            (self.c * self.kk() * self.l(), 0)
        } else if forward && self.direct() {
            (0, 0)
        } else {
            let (_, wp, pl) = self.padded();
            (self.c * pl, self.o * self.oh * wp)
        }
    }
}

/// Fewest channels per group for the shifted views: below it, the per-tap GEMMs (inner
/// dimension `cg`) run far below speed and one im2col GEMM (inner dimension `cg·kh·kw`) wins
/// (measured: 16 → 32 channels on 14×14 images is 1.6× faster through im2col).
const SHIFTED_MIN_CHANNELS: usize = 32;
/// Fewest channels each way for Winograd: with fewer, its 16 GEMMs have an inner dimension
/// too small to pay for the transforms (the small CNN's 16 → 32 conv is faster by im2col).
const WINOGRAD_MIN_CHANNELS: usize = 32;

/// One image's im2col matrix `[c·kh·kw, oh·ow]` into `cols`.
fn fill_cols<F: Float>(x: &[F], s: &Geom, cols: &mut [F]) {
    let (hw, kl) = (s.h * s.w, s.kk() * s.l());
    for (ch, dst) in cols.chunks_mut(kl).enumerate().take(s.c) {
        im2col_plane(&x[ch * hw..][..hw], s.h, s.w, s.win, s.oh, s.ow, dst);
    }
}

/// A matrix operand: first element and (row, column) strides in elements.
#[derive(Clone, Copy)]
pub(super) struct Mat<F> {
    pub(super) ptr: *const F,
    pub(super) rs: isize,
    pub(super) cs: isize,
}

/// `dst (m×n) = [dst +] a (m×k) · b (k×n)` with arbitrary strides.
///
/// # Safety
/// Every element addressed through `dst`, `a` and `b` lies inside its allocation; `dst` does
/// not overlap `a` or `b`. `F` is f32 or f64.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn gemm_acc<F: Elem>(
    (m, n, k): (usize, usize, usize),
    dst: *mut F,
    (drs, dcs): (isize, isize),
    accumulate: bool,
    a: Mat<F>,
    b: Mat<F>,
    par: gemm::Parallelism,
) {
    macro_rules! call {
        ($t:ty) => {
            gemm::gemm::<$t>(
                m,
                n,
                k,
                dst as *mut $t,
                dcs,
                drs,
                accumulate,
                a.ptr as *const $t,
                a.cs,
                a.rs,
                b.ptr as *const $t,
                b.cs,
                b.rs,
                1.0,
                1.0,
                false,
                false,
                false,
                par,
            )
        };
    }
    match F::DTYPE {
        DType::F64 => call!(f64),
        _ if super::sgemm::suits(k) => {
            let done = super::sgemm::sgemm(
                (m, n, k),
                (a.ptr as *const f32, a.rs, a.cs),
                (b.ptr as *const f32, b.rs, b.cs),
                (dst as *mut f32, drs, dcs),
                accumulate,
                super::matmul::par_threads(par),
            );
            if !done {
                call!(f32)
            }
        }
        _ => call!(f32),
    }
}

/// How the work is spread: over images (each worker one image at a time) or, for fewer
/// images than threads, inside each GEMM.
fn plan(work: usize, n: usize) -> (bool, gemm::Parallelism) {
    let threads = if super::parallel(work) {
        super::team::threads()
    } else {
        1
    };
    if threads > 1 && n >= threads {
        (true, gemm::Parallelism::None)
    } else if threads > 1 {
        (false, gemm::Parallelism::Rayon(threads))
    } else {
        (false, gemm::Parallelism::None)
    }
}

/// Per-worker buffers, allocated on first use.
struct Scratch<F> {
    /// Padded planes (stride 1) or one image's im2col matrix.
    a: Vec<F>,
    /// The wide output grid (stride 1) or a column matrix for the input gradient.
    b: Vec<F>,
}

impl<F: Elem> Scratch<F> {
    fn new(a: usize, b: usize) -> Result<Self> {
        Ok(Scratch {
            a: super::try_zeroed::<F>(a)?,
            b: super::try_zeroed::<F>(b)?,
        })
    }
}

/// Copies the `[c, h, w]` image into the interiors of the zero-padded planes (the borders,
/// never written, stay zero across images).
fn fill_padded<F: Copy>(x: &[F], s: &Geom, dst: &mut [F]) {
    let (_, wp, pl) = s.padded();
    for (ch, plane) in dst.chunks_mut(pl).enumerate().take(s.c) {
        for y in 0..s.h {
            let at = (y + s.win.ph) * wp + s.win.pw;
            plane[at..at + s.w].copy_from_slice(&x[(ch * s.h + y) * s.w..][..s.w]);
        }
    }
}

/// One image's forward: `x [c, h, w]`, `wt [o, cg, kh, kw]` → `out [o, oh·ow]`.
fn forward_image<F: Float + Elem>(
    x: &[F],
    wt: &[F],
    bias: Option<&[F]>,
    s: &Geom,
    scr: &mut Scratch<F>,
    out: &mut [F],
    par: gemm::Parallelism,
) {
    let (cg, og, kk, l) = (s.cg(), s.og(), s.kk(), s.l());
    if s.shifted() {
        let (_, wp, pl) = s.padded();
        let lg = s.oh * wp;
        let direct = s.direct();
        let (planes, grid): (&[F], &mut [F]) = if direct {
            (x, &mut *out)
        } else {
            fill_padded(x, s, &mut scr.a);
            (&scr.a, &mut scr.b)
        };
        for g in 0..s.groups {
            for t in 0..kk {
                let off = (t / s.win.kw) * s.win.dh * wp + (t % s.win.kw) * s.win.dw;
                // SAFETY: lhs element (q, ch) is planes[(g·cg + ch)·pl + off + q] with
                // q < oh·wp, and off + oh·wp ≤ pl (stride 1: oh = hp - (kh-1)·dh); rhs
                // (ch, oc) is wt[(g·og + oc)·cg·kk + ch·kk + t]; dst (q, oc) is
                // grid[(g·og + oc)·lg + q] < o·lg. `grid` is scratch or `out`, never an input.
                unsafe {
                    gemm_acc(
                        (lg, og, cg),
                        grid[g * og * lg..].as_mut_ptr(),
                        (1, lg as isize),
                        t > 0,
                        Mat {
                            ptr: planes[g * cg * pl + off..].as_ptr(),
                            rs: 1,
                            cs: pl as isize,
                        },
                        Mat {
                            ptr: wt[g * og * cg * kk + t..].as_ptr(),
                            rs: kk as isize,
                            cs: (cg * kk) as isize,
                        },
                        par,
                    )
                }
            }
        }
        if !direct {
            // Keep the first `ow` columns of each grid row.
            for oc in 0..s.o {
                for y in 0..s.oh {
                    out[oc * l + y * s.ow..][..s.ow]
                        .copy_from_slice(&scr.b[oc * lg + y * wp..][..s.ow]);
                }
            }
        }
    } else {
        fill_cols(x, s, &mut scr.a);
        for g in 0..s.groups {
            // SAFETY: lhs (q, p) is cols[(g·cg·kk + p)·l + q]; rhs (p, oc) is
            // wt[(g·og + oc)·cg·kk + p]; dst (q, oc) is out[(g·og + oc)·l + q]; all in bounds
            // of buffers sized c·kk·l, o·cg·kk and o·l.
            unsafe {
                gemm_acc(
                    (l, og, cg * kk),
                    out[g * og * l..].as_mut_ptr(),
                    (1, l as isize),
                    false,
                    Mat {
                        ptr: scr.a[g * cg * kk * l..].as_ptr(),
                        rs: 1,
                        cs: l as isize,
                    },
                    Mat {
                        ptr: wt[g * og * cg * kk..].as_ptr(),
                        rs: 1,
                        cs: (cg * kk) as isize,
                    },
                    par,
                )
            }
        }
    }
    add_bias(out, bias, l);
}

/// `out [o, l] += bias[o]`.
fn add_bias<F: Float>(out: &mut [F], bias: Option<&[F]>, l: usize) {
    if let Some(b) = bias {
        for (plane, &bv) in out.chunks_mut(l).zip(b) {
            plane.iter_mut().for_each(|v| *v = *v + bv);
        }
    }
}

/// Runs `f(scratch, image, chunk)` over `per`-long chunks of `out` (one per image), over the
/// team in contiguous runs of images or in order; each run makes its scratch with `new`.
fn each_image<F: Send, S: Send>(
    out: &mut [F],
    per: usize,
    by_image: bool,
    new: impl Fn() -> Result<S> + Sync + Send,
    f: impl Fn(&mut S, usize, &mut [F]) + Sync + Send,
) -> Result<()> {
    let images = out.len() / per.max(1);
    let runs = if by_image {
        super::team::threads().min(images).max(1)
    } else {
        1
    };
    let out = super::team::SharedMut::new(out);
    let results = super::team::map(runs, |r| -> Result<()> {
        let mut scr = new()?;
        for b in images * r / runs..images * (r + 1) / runs {
            // SAFETY: image b's chunk belongs to run r only.
            f(&mut scr, b, unsafe { out.range(b * per..(b + 1) * per) });
        }
        Ok(())
    });
    results.into_iter().collect()
}

/// Whether Winograd F(2×2, 3×3) takes this conv: 3×3, stride 1, dilation 1, one group, and
/// enough channels for its GEMMs to outweigh the per-channel transforms.
fn winograd_applies(s: &Geom) -> bool {
    let w = s.win;
    (w.kh, w.kw, w.sh, w.sw, w.dh, w.dw) == (3, 3, 1, 1, 1, 1)
        && s.groups == 1
        && s.c >= WINOGRAD_MIN_CHANNELS
        && s.o >= WINOGRAD_MIN_CHANNELS
}

/// The whole batch's forward: `x [n, c, h, w]` → `[n, o, oh, ow]`.
fn forward<F: Float + Elem>(x: &[F], wt: &[F], bias: Option<&[F]>, s: &Geom) -> Result<Vec<F>> {
    let per_out = s.o * s.l();
    let per_in = s.c * s.h * s.w;
    let mut out = super::try_output::<F>(crate::shape::checked_numel(&[s.n, s.o, s.l()])?)?;
    let (by_image, par) = plan(s.work(), s.n);
    let x_of = |b: usize| &x[b * per_in..][..per_in];
    if winograd_applies(s) {
        let p = Plan::new(s.c, (s.h, s.w), s.o, (s.win.ph, s.win.pw));
        let wts = super::conv_winograd::weights(wt, s.o, s.c)?;
        let new = || WinoScratch::new(&p);
        each_image(&mut out, per_out, by_image, new, |scr, b, ob| {
            super::conv_winograd::image(&p, x_of(b), &wts, scr, ob, par);
            add_bias(ob, bias, s.l());
        })?;
        return Ok(out);
    }
    let (sa, sb) = s.scratch(true);
    let new = || Scratch::new(sa, sb);
    each_image(&mut out, per_out, by_image, new, |scr, b, ob| {
        forward_image(x_of(b), wt, bias, s, scr, ob, par)
    })?;
    Ok(out)
}

/// The input gradient: `g [n, o, oh, ow]` → `[n, c, h, w]`.
fn grad_input<F: Float + Elem>(g: &[F], wt: &[F], s: &Geom) -> Result<Vec<F>> {
    let win = s.win;
    let pad_h = (win.dh * (win.kh - 1)).checked_sub(win.ph);
    let pad_w = (win.dw * (win.kw - 1)).checked_sub(win.pw);
    if let (true, Some(ph), Some(pw)) = (s.stride_one(), pad_h, pad_w) {
        // A stride-1 conv of g with wf[g·cg + ch, oc, i, j] = wt[g·og + oc, ch, kh-1-i, kw-1-j].
        let (cg, og, kk) = (s.cg(), s.og(), s.kk());
        let mut wf = super::try_output::<F>(s.c * og * kk)?;
        for gi in 0..s.groups {
            for oc in 0..og {
                for ch in 0..cg {
                    let src = &wt[((gi * og + oc) * cg + ch) * kk..][..kk];
                    let dst = &mut wf[((gi * cg + ch) * og + oc) * kk..][..kk];
                    for (d, v) in dst.iter_mut().zip(src.iter().rev()) {
                        *d = *v;
                    }
                }
            }
        }
        let t = Geom {
            n: s.n,
            c: s.o,
            h: s.oh,
            w: s.ow,
            o: s.c,
            groups: s.groups,
            win: Window { ph, pw, ..win },
            oh: s.h,
            ow: s.w,
        };
        return forward(g, &wf, None, &t);
    }
    let (cg, og, kk, l) = (s.cg(), s.og(), s.kk(), s.l());
    let per_g = s.o * l;
    let per_x = s.c * s.h * s.w;
    let mut gx = super::try_zeroed::<F>(crate::shape::checked_numel(&[s.n, s.c, s.h, s.w])?)?;
    let (by_image, par) = plan(s.work(), s.n);
    let new = || Scratch::new(0, s.c * kk * l);
    each_image(&mut gx, per_x, by_image, new, |scr, b, gxb| {
        let gb = &g[b * per_g..][..per_g];
        for gi in 0..s.groups {
            // cols[(gi·cg·kk + p)·l + q] = Σ_oc wt[(gi·og + oc)·cg·kk + p] · g[(gi·og + oc)·l + q]
            // SAFETY: indices as in the comment, inside c·kk·l, o·l and o·cg·kk elements.
            unsafe {
                gemm_acc(
                    (l, cg * kk, og),
                    scr.b[gi * cg * kk * l..].as_mut_ptr(),
                    (1, l as isize),
                    false,
                    Mat {
                        ptr: gb[gi * og * l..].as_ptr(),
                        rs: 1,
                        cs: l as isize,
                    },
                    Mat {
                        ptr: wt[gi * og * cg * kk..].as_ptr(),
                        rs: (cg * kk) as isize,
                        cs: 1,
                    },
                    par,
                )
            }
        }
        for ch in 0..s.c {
            col2im_plane(
                &scr.b[ch * kk * l..(ch + 1) * kk * l],
                s.h,
                s.w,
                win,
                s.oh,
                s.ow,
                &mut gxb[ch * s.h * s.w..(ch + 1) * s.h * s.w],
            );
        }
    })?;
    Ok(gx)
}

/// Adds image `b`'s weight gradient into `dw [o, cg, kh, kw]`.
fn grad_weight_image<F: Float + Elem>(
    x: &[F],
    g: &[F],
    s: &Geom,
    scr: &mut Scratch<F>,
    dw: &mut [F],
    par: gemm::Parallelism,
) {
    let (cg, og, kk, l) = (s.cg(), s.og(), s.kk(), s.l());
    if s.shifted() {
        let (_, wp, pl) = s.padded();
        let lg = s.oh * wp;
        fill_padded(x, s, &mut scr.a);
        // g on the wide grid; its extra columns stay zero so they add nothing.
        for oc in 0..s.o {
            for y in 0..s.oh {
                scr.b[oc * lg + y * wp..][..s.ow].copy_from_slice(&g[oc * l + y * s.ow..][..s.ow]);
            }
        }
        // Tap-major ([kk, o, cg], see `grad_weight`): each tap's product writes rows with a
        // unit column stride (with the taps innermost, every tile went through a scalar copy).
        for gi in 0..s.groups {
            for t in 0..kk {
                let off = (t / s.win.kw) * s.win.dh * wp + (t % s.win.kw) * s.win.dw;
                // dw[t·o·cg + (gi·og + oc)·cg + ch] += Σ_q grid[(gi·og + oc)·lg + q] ·
                // planes[(gi·cg + ch)·pl + off + q].
                // SAFETY: off + lg ≤ pl as in `forward_image`; dw holds o·cg·kk elements and
                // is a separate buffer.
                unsafe {
                    gemm_acc(
                        (og, cg, lg),
                        dw[t * s.o * cg + gi * og * cg..].as_mut_ptr(),
                        (cg as isize, 1),
                        true,
                        Mat {
                            ptr: scr.b[gi * og * lg..].as_ptr(),
                            rs: lg as isize,
                            cs: 1,
                        },
                        Mat {
                            ptr: scr.a[gi * cg * pl + off..].as_ptr(),
                            rs: 1,
                            cs: pl as isize,
                        },
                        par,
                    )
                }
            }
        }
    } else {
        fill_cols(x, s, &mut scr.a);
        for gi in 0..s.groups {
            // dw[(gi·og + oc)·cg·kk + p] += Σ_q g[(gi·og + oc)·l + q] · cols[(gi·cg·kk + p)·l + q]
            // SAFETY: in bounds of o·l, c·kk·l and o·cg·kk elements; dw is separate.
            unsafe {
                gemm_acc(
                    (og, cg * kk, l),
                    dw[gi * og * cg * kk..].as_mut_ptr(),
                    ((cg * kk) as isize, 1),
                    true,
                    Mat {
                        ptr: g[gi * og * l..].as_ptr(),
                        rs: l as isize,
                        cs: 1,
                    },
                    Mat {
                        ptr: scr.a[gi * cg * kk * l..].as_ptr(),
                        rs: 1,
                        cs: l as isize,
                    },
                    par,
                )
            }
        }
    }
}

/// `Σ_b f(b)` over the batch's images as a `len`-element buffer: contiguous runs of images,
/// one per worker (each with its own scratch from `scratch`), each summed into its own
/// buffer, the buffers added at the end.
fn summed_over_images<F: Float + Elem, S>(
    n: usize,
    by_image: bool,
    len: usize,
    scratch: impl Fn() -> Result<S> + Sync,
    f: impl Fn(&mut S, usize, &mut [F]) + Sync,
) -> Result<Vec<F>> {
    let runs = if by_image {
        super::team::threads().min(n)
    } else {
        1
    };
    let per_run = n.div_ceil(runs.max(1));
    let partial = |r: usize| -> Result<Vec<F>> {
        let mut scr = scratch()?;
        let mut acc = super::try_zeroed::<F>(len)?;
        for b in r * per_run..((r + 1) * per_run).min(n) {
            f(&mut scr, b, &mut acc);
        }
        Ok(acc)
    };
    let mut parts: Vec<Vec<F>> = if by_image {
        super::team::map(runs, partial)
            .into_iter()
            .collect::<Result<_>>()?
    } else {
        vec![partial(0)?]
    };
    let mut sum = parts.pop().unwrap_or_default();
    for p in parts {
        sum.iter_mut().zip(p).for_each(|(a, b)| *a = *a + b);
    }
    Ok(sum)
}

/// The weight gradient summed over the batch: `[o, cg, kh, kw]`.
fn grad_weight<F: Float + Elem>(x: &[F], g: &[F], s: &Geom) -> Result<Vec<F>> {
    let len = s.o * s.cg() * s.kk();
    let (per_x, per_g) = (s.c * s.h * s.w, s.o * s.l());
    let image = |b: usize| (&x[b * per_x..][..per_x], &g[b * per_g..][..per_g]);
    let (by_image, par) = plan(s.work(), s.n);
    if winograd_applies(s) {
        // The adjoint of the forward's Winograd: 16 products per tile instead of 36.
        let p = Plan::new(s.c, (s.h, s.w), s.o, (s.win.ph, s.win.pw));
        let new = || WinoScratch::new(&p);
        let du = summed_over_images(s.n, by_image, 16 * s.o * s.c, new, |scr, b, du| {
            let (xb, gb) = image(b);
            super::conv_winograd::grad_weight_image(&p, xb, gb, scr, du, par)
        })?;
        return super::conv_winograd::weight_grad(&du, s.o, s.c);
    }
    let scratch = s.scratch(false);
    let new = || Scratch::new(scratch.0, scratch.1);
    let dw = summed_over_images(s.n, by_image, len, new, |scr, b, dw| {
        let (xb, gb) = image(b);
        grad_weight_image(xb, gb, s, scr, dw, par)
    })?;
    if !s.shifted() {
        return Ok(dw);
    }
    // The shifted path sums tap-major `[kk, o·cg]`: back to `[o·cg, kk]`.
    let (rows, kk) = (s.o * s.cg(), s.kk());
    let mut out = super::try_output::<F>(len)?;
    super::transpose::transpose_block(&dw, 0, rows, &mut out, 0, kk, 0..rows, kk, 0);
    Ok(out)
}

/// Reads the shapes of `x [n, c, h, w]` and `w [o, cg, kh, kw]`; None for what these kernels
/// do not take (other ranks, empty sizes, mismatched groups), which the caller composes.
fn geometry(x: Strided, w: Strided, win: Window, groups: usize) -> Option<Geom> {
    let (&[n, c, h, wd], &[o, cg, kh, kw]) = (x.shape(), w.shape()) else {
        return None;
    };
    if groups == 0 || cg * groups != c || o % groups != 0 || (win.kh, win.kw) != (kh, kw) {
        return None;
    }
    let oh = Window::out_len(h, kh, win.sh, win.ph, win.dh, false)?;
    let ow = Window::out_len(wd, kw, win.sw, win.pw, win.dw, false)?;
    let s = Geom {
        n,
        c,
        h,
        w: wd,
        o,
        groups,
        win,
        oh,
        ow,
    };
    // Every buffer size below must fit (checked once here, used unchecked after); out_len
    // bounded the padded sizes by isize::MAX.
    let (hp, wp) = (h + 2 * win.ph, wd + 2 * win.pw);
    let pl = hp.checked_mul(wp)?.checked_add((kw - 1) * win.dw)?;
    let kk = kh * kw;
    let fits = |d: &[usize]| crate::shape::checked_numel(d).is_ok();
    let ok = fits(&[n, c, h, wd])
        && fits(&[c, pl])
        && fits(&[o, oh, wp])
        && fits(&[c, kk, oh, ow])
        && fits(&[n, o, oh, ow])
        && fits(&[o, cg, kk]);
    let empty = [n, c, h, wd, o, cg, oh, ow].contains(&0);
    (ok && !empty).then_some(s)
}

fn float_ok(x: Strided, w: Strided) -> bool {
    x.dtype().is_float() && x.dtype() == w.dtype()
}

pub(super) fn conv2d_kernel(
    x: Strided,
    w: Strided,
    bias: Option<Strided>,
    win: Window,
    groups: usize,
) -> Result<Option<Storage>> {
    let Some(s) = geometry(x, w, win, groups) else {
        return Ok(None);
    };
    if !float_ok(x, w) || bias.is_some_and(|b| b.dtype() != x.dtype() || b.numel() != s.o) {
        return Ok(None);
    }
    crate::with_working_float!(x.dtype(), F, {
        let xs = working::<F>(x)?;
        let ws = working::<F>(w)?;
        let bs = bias.map(working::<F>).transpose()?;
        let out = forward::<F>(&xs, &ws, bs.as_deref(), &s)?;
        super::conv::finish(out, x.dtype()).map(Some)
    })
}

/// `(input gradient, weight gradient)`, each only when asked for.
pub(super) fn conv2d_backward_kernel(
    x: Strided,
    w: Strided,
    g: Strided,
    win: Window,
    groups: usize,
    (need_x, need_w): (bool, bool),
) -> Result<Option<(Option<Storage>, Option<Storage>)>> {
    let Some(s) = geometry(x, w, win, groups) else {
        return Ok(None);
    };
    if !float_ok(x, w) || g.dtype() != x.dtype() || g.shape() != [s.n, s.o, s.oh, s.ow] {
        return Ok(None);
    }
    let dt = x.dtype();
    crate::with_working_float!(dt, F, {
        let gs = working::<F>(g)?;
        let gx = if need_x {
            let ws = working::<F>(w)?;
            Some(super::conv::finish(grad_input::<F>(&gs, &ws, &s)?, dt)?)
        } else {
            None
        };
        let gw = if need_w {
            let xs = working::<F>(x)?;
            Some(super::conv::finish(grad_weight::<F>(&xs, &gs, &s)?, dt)?)
        } else {
            None
        };
        Ok(Some((gx, gw)))
    })
}

#[cfg(test)]
mod tests;
