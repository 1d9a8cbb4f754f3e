//! Winograd F(2×2, 3×3) for 3×3, stride-1, dilation-1, ungrouped convolutions: each 2×2
//! output tile costs 16 multiplies per (input, output) channel pair instead of 36. Per image
//! and block of tile rows: the input tiles are transformed (`V = Bᵀ d B`), 16 GEMMs multiply
//! them by the transformed kernels (`U = G g Gᵀ`, once per call), and the products are folded
//! back (`Y = Aᵀ M A`). The transforms only add, subtract and halve, so the result differs
//! from the direct sum by a few roundings per term (tests bound it against float64).
//!
//! Layouts: `U [16][c][o]`, `V [16][c][tiles]`, `M [16][o][tiles]` (tiles fastest, as the
//! GEMM's column-major operands). The padded planes keep each row deinterleaved (even
//! columns, then odd ones), so rows are transformed whole by contiguous loops: the row
//! combination of four padded rows, then the column combination on the even/odd halves.

use super::conv_gemm::{gemm_acc, Mat};
use super::sgemm::{self, PackedA};
use crate::dtype::{DType, Elem};
use crate::error::Result;
use num_traits::Float;

/// Geometry: `c → o` channels on an `h × w` image padded by `(ph, pw)`, `th × tw` tiles over
/// the `oh × ow` output; the padded planes are `hp × wp` (an extra zero row/column when the
/// output size is odd).
#[derive(Clone, Copy, Debug)]
pub(super) struct Plan {
    c: usize,
    h: usize,
    w: usize,
    o: usize,
    ph: usize,
    pw: usize,
    oh: usize,
    ow: usize,
    th: usize,
    tw: usize,
    hp: usize,
    wp: usize,
    /// Tile rows per block (so a block's V and M stay cache-sized).
    rows: usize,
}

/// Tiles per block: measured best around a hundred (56×56 images: 4 tile rows of 28).
const BLOCK_TILES: usize = 112;

impl Plan {
    /// `oh = h + 2·ph - 2`, `ow = w + 2·pw - 2` (both ≥ 1, checked by the caller).
    pub(super) fn new(
        c: usize,
        (h, w): (usize, usize),
        o: usize,
        (ph, pw): (usize, usize),
    ) -> Plan {
        let (oh, ow) = (h + 2 * ph - 2, w + 2 * pw - 2);
        let (th, tw) = (oh.div_ceil(2), ow.div_ceil(2));
        Plan {
            c,
            h,
            w,
            o,
            ph,
            pw,
            oh,
            ow,
            th,
            tw,
            hp: 2 * th + 2,
            wp: 2 * tw + 2,
            rows: (BLOCK_TILES / tw).clamp(1, th),
        }
    }
}

/// Per-worker buffers.
pub(super) struct Scratch<F> {
    planes: Vec<F>,
    v: Vec<F>,
    m: Vec<F>,
    halves: Vec<F>,
    rows: Vec<F>,
}

impl<F: Elem> Scratch<F> {
    pub(super) fn new(p: &Plan) -> Result<Self> {
        let tb = p.rows * p.tw;
        Ok(Scratch {
            planes: super::try_zeroed(p.c * p.hp * p.wp)?,
            v: super::try_zeroed(16 * p.c * tb)?,
            m: super::try_zeroed(16 * p.o * tb)?,
            halves: super::try_zeroed(4 * p.wp)?,
            rows: super::try_zeroed(8 * p.tw)?,
        })
    }
}

/// The transformed kernels of one call: `U [16][c][o]`, and for float32 each `U_eᵀ`
/// packed once as the GEMM's left operand (every block of every image multiplies by it).
pub(super) struct Weights<F> {
    u: Vec<F>,
    packed: Vec<PackedA>,
}

/// `U [16][c][o]` from `wt [o, c, 3, 3]`, packed for the kernel where it runs.
pub(super) fn weights<F: Float + Elem>(wt: &[F], o: usize, c: usize) -> Result<Weights<F>> {
    let u = transformed(wt, o, c)?;
    let mut packed = Vec::new();
    if F::DTYPE == DType::F32 && sgemm::suits(c) {
        for e in 0..16 {
            // U_eᵀ[oc, ch] = u[(e·c + ch)·o + oc]: o × c with strides (1, o).
            let at = u[e * c * o..].as_ptr() as *const f32;
            // SAFETY: the o × c strided elements lie in u's 16·c·o.
            match unsafe { PackedA::new(o, c, (at, 1, o as isize), BLOCK_TILES) } {
                Some(pk) => packed.push(pk),
                None => {
                    packed.clear();
                    break;
                }
            }
        }
    }
    Ok(Weights { u, packed })
}

/// `U [16][c][o]` from `wt [o, c, 3, 3]`.
fn transformed<F: Float + Elem>(wt: &[F], o: usize, c: usize) -> Result<Vec<F>> {
    let half = F::one() / (F::one() + F::one());
    let mut u = super::try_output::<F>(16 * c * o)?;
    for oi in 0..o {
        for ci in 0..c {
            let g = &wt[(oi * c + ci) * 9..][..9];
            // t = G·g (4×3), then rows of t·Gᵀ.
            let mut t = [[F::zero(); 3]; 4];
            for col in 0..3 {
                let (g0, g1, g2) = (g[col], g[3 + col], g[6 + col]);
                t[0][col] = g0;
                t[1][col] = (g0 + g1 + g2) * half;
                t[2][col] = (g0 - g1 + g2) * half;
                t[3][col] = g2;
            }
            for (r, tr) in t.iter().enumerate() {
                let (a, b, cc) = (tr[0], tr[1], tr[2]);
                let row = [a, (a + b + cc) * half, (a - b + cc) * half, cc];
                for (s, &v) in row.iter().enumerate() {
                    u[((r * 4 + s) * c + ci) * o + oi] = v;
                }
            }
        }
    }
    Ok(u)
}

simd_dispatch! {
    /// `V` of tile rows `ty0..ty1` from the padded planes.
    fn input_transform<F: Float> = input_transform_body(
        p: &Plan,
        scr: &mut Scratch<F>,
        ty0: usize,
        ty1: usize,
    ) in [avx2: "avx2,fma" if super::vmath::has_avx2_fma]
}

/// The planes' rows are stored deinterleaved (even padded columns, then odd ones), so both
/// passes are contiguous loops: `Bᵀ·d` over four rows, then the column combination on the
/// even/odd halves.
#[inline(always)]
fn input_transform_body<F: Float>(p: &Plan, scr: &mut Scratch<F>, ty0: usize, ty1: usize) {
    let (wp, tw, half) = (p.wp, p.tw, p.tw + 1);
    let tb = (ty1 - ty0) * tw;
    let (planes, v, t) = (&scr.planes, &mut scr.v, &mut scr.halves);
    for ci in 0..p.c {
        let plane = &planes[ci * p.hp * wp..][..p.hp * wp];
        for ty in ty0..ty1 {
            let d = |r: usize| &plane[(2 * ty + r) * wp..][..wp];
            let (d0, d1, d2, d3) = (d(0), d(1), d(2), d(3));
            let (t0, rest) = t[..4 * wp].split_at_mut(wp);
            let (t1, rest) = rest.split_at_mut(wp);
            let (t2, t3) = rest.split_at_mut(wp);
            for ((o, &a), &b) in t0.iter_mut().zip(d0).zip(d2) {
                *o = a - b;
            }
            for ((o1, o2), (&b, &c)) in t1.iter_mut().zip(t2.iter_mut()).zip(d1.iter().zip(d2)) {
                *o1 = b + c;
                *o2 = c - b;
            }
            for ((o, &b), &dd) in t3.iter_mut().zip(d1).zip(d3) {
                *o = b - dd;
            }
            let q0 = (ty - ty0) * tw;
            for r in 0..4 {
                let row = &t[r * wp..][..wp];
                let (e, od) = row.split_at(half);
                let at = |s: usize| ((r * 4 + s) * p.c + ci) * tb + q0;
                let (e0, e1, o0, o1) = (&e[..tw], &e[1..half], &od[..tw], &od[1..half]);
                for ((o, &a), &b) in v[at(0)..][..tw].iter_mut().zip(e0).zip(e1) {
                    *o = a - b;
                }
                for ((o, &a), &b) in v[at(1)..][..tw].iter_mut().zip(o0).zip(e1) {
                    *o = a + b;
                }
                for ((o, &a), &b) in v[at(2)..][..tw].iter_mut().zip(e1).zip(o0) {
                    *o = a - b;
                }
                for ((o, &a), &b) in v[at(3)..][..tw].iter_mut().zip(o0).zip(o1) {
                    *o = a - b;
                }
            }
        }
    }
}

simd_dispatch! {
    /// `Y = Aᵀ·M·A` of tile rows `ty0..ty1` into `out [o, oh·ow]`.
    fn output_transform<F: Float> = output_transform_body(
        p: &Plan,
        scr: &mut Scratch<F>,
        ty0: usize,
        ty1: usize,
        out: &mut [F],
    ) in [avx2: "avx2,fma" if super::vmath::has_avx2_fma]
}

#[inline(always)]
fn output_transform_body<F: Float>(
    p: &Plan,
    scr: &mut Scratch<F>,
    ty0: usize,
    ty1: usize,
    out: &mut [F],
) {
    let tw = p.tw;
    let tb = (ty1 - ty0) * tw;
    let (m, rr) = (&scr.m, &mut scr.rows);
    for oi in 0..p.o {
        for ty in ty0..ty1 {
            let q0 = (ty - ty0) * tw;
            let mm = |e: usize| &m[(e * p.o + oi) * tb + q0..][..tw];
            for s in 0..4 {
                let (m0, m1, m2, m3) = (mm(s), mm(4 + s), mm(8 + s), mm(12 + s));
                let (lo, hi) = rr.split_at_mut(4 * tw);
                let (a, b) = (&mut lo[s * tw..][..tw], &mut hi[s * tw..][..tw]);
                for ((((a, b), &x0), &x1), (&x2, &x3)) in a
                    .iter_mut()
                    .zip(b.iter_mut())
                    .zip(m0)
                    .zip(m1)
                    .zip(m2.iter().zip(m3))
                {
                    *a = x0 + x1 + x2;
                    *b = x1 - x2 - x3;
                }
            }
            for a in 0..2 {
                let y = 2 * ty + a;
                if y >= p.oh {
                    continue;
                }
                let row = &mut out[oi * p.oh * p.ow + y * p.ow..][..p.ow];
                let r = |s: usize| &rr[(a * 4 + s) * tw..][..tw];
                let (r0, r1, r2, r3) = (r(0), r(1), r(2), r(3));
                let pairs = row.chunks_exact_mut(2);
                let full = pairs.len();
                for (pair, (((&x0, &x1), &x2), &x3)) in pairs.zip(r0.iter().zip(r1).zip(r2).zip(r3))
                {
                    pair[0] = x0 + x1 + x2;
                    pair[1] = x1 - x2 - x3;
                }
                if p.ow % 2 == 1 {
                    row[2 * full] = r0[full] + r1[full] + r2[full];
                }
            }
        }
    }
}

/// Copies `x [c, h, w]` into the zero-padded planes, each row deinterleaved.
fn fill_planes<F: Copy>(p: &Plan, x: &[F], scr: &mut Scratch<F>) {
    let plane = p.hp * p.wp;
    let half = p.wp / 2;
    for ci in 0..p.c {
        for y in 0..p.h {
            // Padded column k goes to (k % 2)·half + k / 2 (the transform's layout).
            let row = &mut scr.planes[ci * plane + (y + p.ph) * p.wp..][..p.wp];
            // Source pairs (2j, 2j+1) land at index j of the halves of their parities.
            let (even, odd) = row.split_at_mut(half);
            let (first, second) = if p.pw.is_multiple_of(2) {
                (even, odd)
            } else {
                (odd, even)
            };
            let (first, second) = (&mut first[p.pw / 2..], &mut second[p.pw.div_ceil(2)..]);
            let src = &x[(ci * p.h + y) * p.w..][..p.w];
            for ((a, b), pair) in first.iter_mut().zip(second).zip(src.chunks_exact(2)) {
                *a = pair[0];
                *b = pair[1];
            }
            if p.w % 2 == 1 {
                first[p.w / 2] = src[p.w - 1];
            }
        }
    }
}

/// Fills the padded planes from `x [c, h, w]`, then per block of tile rows `ty0..ty1`
/// transforms the input tiles into `V` and calls `f(scr, ty0, ty1)`.
fn for_each_block<F: Float>(
    p: &Plan,
    x: &[F],
    scr: &mut Scratch<F>,
    mut f: impl FnMut(&mut Scratch<F>, usize, usize),
) {
    fill_planes(p, x, scr);
    let mut ty0 = 0;
    while ty0 < p.th {
        let ty1 = (ty0 + p.rows).min(p.th);
        input_transform(p, scr, ty0, ty1);
        f(scr, ty0, ty1);
        ty0 = ty1;
    }
}

/// One image: `x [c, h, w]` → `out [o, oh·ow]` with `u` from `weights`.
pub(super) fn image<F: Float + Elem>(
    p: &Plan,
    x: &[F],
    wts: &Weights<F>,
    scr: &mut Scratch<F>,
    out: &mut [F],
    par: gemm::Parallelism,
) {
    for_each_block(p, x, scr, |scr, ty0, ty1| {
        let tb = (ty1 - ty0) * p.tw;
        let u = &wts.u;
        for e in 0..16 {
            if let Some(pk) = wts.packed.get(e) {
                // M_eᵀ (o × tb) = U_eᵀ · V_eᵀ, both row-major with row stride tb.
                let vt = scr.v[e * p.c * tb..].as_ptr() as *const f32;
                let mt = scr.m[e * p.o * tb..].as_mut_ptr() as *mut f32;
                let threads = super::matmul::par_threads(par);
                // SAFETY: F is f32 (packed is empty otherwise); the c × tb and o × tb
                // operands lie in v and m as for the product below.
                unsafe {
                    pk.gemm(
                        tb,
                        (vt, tb as isize, 1),
                        (mt, tb as isize, 1),
                        false,
                        threads,
                    )
                };
                continue;
            }
            // M_e (tb × o) = V_e (tb × c) · U_e (c × o); V_e[q, ch] = v[(e·c + ch)·tb + q],
            // U_e[ch, oc] = u[(e·c + ch)·o + oc], M_e[q, oc] = m[(e·o + oc)·tb + q].
            // SAFETY: tb ≤ rows·tw, so every index lies in the 16·c·rows·tw, 16·c·o and
            // 16·o·rows·tw element buffers; m is separate from v and u.
            unsafe {
                gemm_acc(
                    (tb, p.o, p.c),
                    scr.m[e * p.o * tb..].as_mut_ptr(),
                    (1, tb as isize),
                    false,
                    Mat {
                        ptr: scr.v[e * p.c * tb..].as_ptr(),
                        rs: 1,
                        cs: tb as isize,
                    },
                    Mat {
                        ptr: u[e * p.c * p.o..].as_ptr(),
                        rs: p.o as isize,
                        cs: 1,
                    },
                    par,
                )
            }
        }
        output_transform(p, scr, ty0, ty1, out);
    });
}

simd_dispatch! {
    /// `dM = A·dY·Aᵀ` for tile rows `ty0..ty1` from the output gradient `g [o, oh·ow]` (the
    /// adjoint of the output transform; outputs past the edge count as zero), into `M`'s
    /// layout.
    fn grad_output_transform<F: Float> = grad_output_transform_body(
        p: &Plan,
        scr: &mut Scratch<F>,
        ty0: usize,
        ty1: usize,
        g: &[F],
    ) in [avx2: "avx2,fma" if super::vmath::has_avx2_fma]
}

/// Per tile row: the two gradient rows split into even and odd columns, `z = dY·Aᵀ`
/// column by column (`e, e + o, e - o, -o`), then `A·z` row by row.
#[inline(always)]
fn grad_output_transform_body<F: Float>(
    p: &Plan,
    scr: &mut Scratch<F>,
    ty0: usize,
    ty1: usize,
    g: &[F],
) {
    let tw = p.tw;
    let tb = (ty1 - ty0) * tw;
    let (m, rr) = (&mut scr.m, &mut scr.rows);
    for oi in 0..p.o {
        for ty in ty0..ty1 {
            let (halves, z) = rr.split_at_mut(4 * tw);
            halves.fill(F::zero());
            for a in 0..2 {
                let y = 2 * ty + a;
                if y >= p.oh {
                    continue;
                }
                let row = &g[oi * p.oh * p.ow + y * p.ow..][..p.ow];
                let (ev, od) = halves[2 * a * tw..][..2 * tw].split_at_mut(tw);
                for ((e, o), pair) in ev.iter_mut().zip(od.iter_mut()).zip(row.chunks_exact(2)) {
                    *e = pair[0];
                    *o = pair[1];
                }
                if p.ow % 2 == 1 {
                    ev[p.ow / 2] = row[p.ow - 1];
                }
            }
            let (e0, rest) = halves.split_at(tw);
            let (o0, rest) = rest.split_at(tw);
            let (e1, o1) = rest.split_at(tw);
            let q0 = (ty - ty0) * tw;
            let (z0, z1) = z[..2 * tw].split_at_mut(tw);
            for s in 0..4 {
                let col = |e: F, o: F| match s {
                    0 => e,
                    1 => e + o,
                    2 => e - o,
                    _ => -o,
                };
                for (((z, &e), &o), (w, (&e1, &o1))) in z0
                    .iter_mut()
                    .zip(e0)
                    .zip(o0)
                    .zip(z1.iter_mut().zip(e1.iter().zip(o1)))
                {
                    *z = col(e, o);
                    *w = col(e1, o1);
                }
                let at = |r: usize| ((r * 4 + s) * p.o + oi) * tb + q0;
                for r in 0..4 {
                    let out = &mut m[at(r)..][..tw];
                    for ((d, &a), &b) in out.iter_mut().zip(z0.iter()).zip(z1.iter()) {
                        *d = match r {
                            0 => a,
                            1 => a + b,
                            2 => a - b,
                            _ => -b,
                        };
                    }
                }
            }
        }
    }
}

/// Adds one image's kernel gradient in the transformed domain to `du [16][o][c]`:
/// `dU_e += dM_e · V_eᵀ` summed over the image's tiles, block by block.
pub(super) fn grad_weight_image<F: Float + Elem>(
    p: &Plan,
    x: &[F],
    g: &[F],
    scr: &mut Scratch<F>,
    du: &mut [F],
    par: gemm::Parallelism,
) {
    for_each_block(p, x, scr, |scr, ty0, ty1| {
        let tb = (ty1 - ty0) * p.tw;
        grad_output_transform(p, scr, ty0, ty1, g);
        for e in 0..16 {
            // dU_e (o × c) += dM_e (o × tb) · V_eᵀ (tb × c), V_eᵀ[q, ch] = v[(e·c + ch)·tb + q].
            // SAFETY: every index lies in the 16·o·tb, 16·c·tb and 16·o·c element buffers;
            // du is separate from both operands.
            unsafe {
                gemm_acc(
                    (p.o, p.c, tb),
                    du[e * p.o * p.c..].as_mut_ptr(),
                    (p.c as isize, 1),
                    true,
                    Mat {
                        ptr: scr.m[e * p.o * tb..].as_ptr(),
                        rs: tb as isize,
                        cs: 1,
                    },
                    Mat {
                        ptr: scr.v[e * p.c * tb..].as_ptr(),
                        rs: 1,
                        cs: tb as isize,
                    },
                    par,
                )
            }
        }
    });
}

/// The kernel gradient `dw [o, c, 3, 3] = Gᵀ·dU·G` (the adjoint of `U = G·g·Gᵀ`) from the
/// summed `du [16][o][c]`.
pub(super) fn weight_grad<F: Float + Elem>(du: &[F], o: usize, c: usize) -> Result<Vec<F>> {
    let half = F::one() / (F::one() + F::one());
    // Gᵀ applied to four values: the three taps they feed.
    let gt = |v: [F; 4]| {
        let mid = (v[1] + v[2]) * half;
        [v[0] + mid, (v[1] - v[2]) * half, mid + v[3]]
    };
    let mut dw = super::try_output::<F>(9 * o * c)?;
    for oi in 0..o {
        for ci in 0..c {
            let u = |r: usize, s: usize| du[((r * 4 + s) * o + oi) * c + ci];
            let t: [[F; 3]; 4] = core::array::from_fn(|r| gt([u(r, 0), u(r, 1), u(r, 2), u(r, 3)]));
            let out = &mut dw[(oi * c + ci) * 9..][..9];
            for j in 0..3 {
                let col = gt([t[0][j], t[1][j], t[2][j], t[3][j]]);
                for i in 0..3 {
                    out[i * 3 + j] = col[i];
                }
            }
        }
    }
    Ok(dw)
}
