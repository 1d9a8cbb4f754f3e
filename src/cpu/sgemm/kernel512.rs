//! Register-blocked micro-kernels for AVX-512F: 12×32 (24 zmm accumulators, per step two
//! loads of packed B and twelve broadcasts of packed A) and 24×16 for narrow products.

use super::driver::Blocks;
use super::kernel::MicroKernel;
use super::pack;
use core::arch::x86_64::*;

/// Implements `MicroKernel` for an AVX-512F tile of `$mr` rows and `16·$w` columns: the A
/// panel stays in L1 across a row of tiles (`A_IN_L1`) with the blocks tuned for the wide tile.
/// Edge tiles compute only the smallest of `$rows` row counts, and 16 columns rather than 32,
/// that covers them (an o = 64 by 112-tile Winograd product wasted a fifth of its
/// multiply-adds on padding at full tile size).
macro_rules! avx512_tile {
    ($name:ident, $mr:literal, $w:literal, [$($rows:literal),+]) => {
        impl MicroKernel for $name {
            const MR: usize = $mr;
            const NR: usize = 16 * $w;
            const A_IN_L1: bool = true;
            const B_IN_PLACE: bool = true;
            const BLOCKS: Blocks = Blocks {
                mc: 1008,
                kc: 192,
                nc: 1024,
            };

            #[inline(always)]
            unsafe fn tile<const PACKED: bool>(
                kc: usize,
                a: *const f32,
                a_strides: (isize, isize),
                b: *const f32,
                c: *mut f32,
                rsc: isize,
                load: bool,
            ) {
                let full = ($mr, 16 * $w);
                let ldb = 16 * $w;
                kernel_avx512::<$mr, $w, $mr, $w, PACKED>(kc, a, a_strides, b, ldb, c, rsc, load, full)
            }

            #[inline(always)]
            unsafe fn tile_part<const PACKED: bool>(
                kc: usize,
                a: *const f32,
                a_strides: (isize, isize),
                b: *const f32,
                c: *mut f32,
                rsc: isize,
                load: bool,
                part: (usize, usize),
            ) -> bool {
                let (mr, nr) = part;
                macro_rules! run {
                    ($r:literal, $cw:literal) => {
                        kernel_avx512::<$r, $cw, $mr, $w, PACKED>(
                            kc, a, a_strides, b, 16 * $w, c, rsc, load, part,
                        )
                    };
                }
                $(
                    if mr <= $rows {
                        if nr <= 16 {
                            run!($rows, 1)
                        } else {
                            run!($rows, $w)
                        }
                        return true;
                    }
                )+
                false
            }

            unsafe fn tile_b_in_place(
                kc: usize,
                a: *const f32,
                b: *const f32,
                ldb: usize,
                c: *mut f32,
                rsc: isize,
                load: bool,
                part: (usize, usize),
            ) -> bool {
                let (mr, nr) = part;
                if nr != 16 * $w {
                    return false;
                }
                let packed = (1, $mr as isize);
                $(
                    if mr <= $rows {
                        kernel_avx512::<$rows, $w, $mr, $w, true>(
                            kc, a, packed, b, ldb, c, rsc, load, part,
                        );
                        return true;
                    }
                )+
                false
            }

            unsafe fn pack_a(
                mc: usize,
                kc: usize,
                a: *const f32,
                s: (isize, isize),
                out: *mut f32,
            ) {
                pack::pack_a::<$mr>(mc, kc, a, s.0, s.1, out)
            }

            unsafe fn pack_b(
                kc: usize,
                nc: usize,
                b: *const f32,
                s: (isize, isize),
                out: *mut f32,
            ) {
                pack::pack_b::<{ 16 * $w }>(kc, nc, b, s.0, s.1, out)
            }
        }
    };
}

/// The AVX-512F kernel (12×32). Blocks tuned on a Xeon with 48 KiB L1d and 2 MiB L2 per
/// core: a `MR × KC` A panel (9 KiB) stays in L1 across a row of tiles while the packed
/// `KC × NC` block of B (768 KiB) streams from L2 and the packed A block (760 KiB) from L3.
/// Keeping B's panel in L1 instead (the AVX2 kernel's order) measured 10–20 % slower at
/// 1024² and 2048²; NC 1024 rather than the whole width measured about 10 % faster at 2048²
/// (a B block near the L2's size got evicted).
pub struct Avx512;

avx512_tile!(Avx512, 12, 2, [4, 8, 12]);

/// The AVX-512F kernel for products at most 16 columns wide (24×16): a 32-column tile would
/// leave half its lanes idle there (the LSTM's per-step `W · hᵀ` with 16 batch rows per
/// thread). Its 24-row A panel (18 KiB at KC 192) also stays in L1.
pub struct Avx512Narrow;

avx512_tile!(Avx512Narrow, 24, 1, [8, 16, 24]);

/// `c[0..MR, 0..16·W] (+)= a_panel · b_panel` over `kc` steps (see `MicroKernel::tile`),
/// of which only the top-left `mr × nr` is stored (masked stores: edge tiles need no copy
/// through a buffer). The packed panels are `PM` rows (A) and `16·PW` columns (B) wide;
/// the tile computes their first `MR` rows and `16·W` columns.
///
/// # Safety
/// The CPU supports AVX-512F; the operands are as `MicroKernel::tile` requires, with the
/// `mr × nr` part of the tile at `c` writable.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn kernel_avx512<
    const MR: usize,
    const W: usize,
    const PM: usize,
    const PW: usize,
    const PACKED: bool,
>(
    kc: usize,
    mut a: *const f32,
    (rsa, csa): (isize, isize),
    mut b: *const f32,
    ldb: usize,
    c: *mut f32,
    rsc: isize,
    load: bool,
    (mr, nr): (usize, usize),
) {
    // A packed B panel's steps are `16·PW` floats apart; a B read in place, its row stride.
    let (nrw, step_b) = (16 * W, ldb);
    const PF: usize = 12;
    let (rsa, csa) = if PACKED { (1, PM as isize) } else { (rsa, csa) };
    let mut acc = [[_mm512_setzero_ps(); W]; MR];
    for i in 0..MR as isize {
        _mm_prefetch::<_MM_HINT_T0>(c.offset(i * rsc) as *const i8);
        _mm_prefetch::<_MM_HINT_T0>(c.offset(i * rsc + nrw as isize - 1) as *const i8);
    }
    macro_rules! step {
        ($off:expr) => {{
            let bv: [__m512; W] =
                core::array::from_fn(|w| _mm512_loadu_ps(b.add($off * step_b + 16 * w)));
            let ap = a.offset($off * csa);
            for (i, row) in acc.iter_mut().enumerate() {
                let x = _mm512_set1_ps(*ap.offset(i as isize * rsa));
                for w in 0..W {
                    row[w] = _mm512_fmadd_ps(x, bv[w], row[w]);
                }
            }
        }};
    }
    let mut p = kc;
    while p >= 4 {
        if PACKED {
            // The panel's next four steps, eight steps ahead.
            for line in (0..4 * PM).step_by(16) {
                _mm_prefetch::<_MM_HINT_T0>(a.add(8 * PM + line) as *const i8);
            }
        }
        if step_b != 16 * PW {
            // B read in place: its rows lie `ldb` apart, beyond the hardware prefetchers'
            // reach; fetch the rows `PF` steps ahead.
            for q in 0..4 {
                let row = b.add((PF + q) * step_b) as *const i8;
                _mm_prefetch::<_MM_HINT_T0>(row);
                _mm_prefetch::<_MM_HINT_T0>(row.add(64 * W - 1));
            }
        }
        step!(0);
        step!(1);
        step!(2);
        step!(3);
        a = a.offset(4 * csa);
        b = b.add(4 * step_b);
        p -= 4;
    }
    while p > 0 {
        step!(0);
        a = a.offset(csa);
        b = b.add(step_b);
        p -= 1;
    }
    let lanes = |n: usize| -> __mmask16 { ((1u32 << n.min(16)) - 1) as __mmask16 };
    for (i, row) in acc.iter().enumerate().take(mr) {
        let r = c.offset(i as isize * rsc);
        for (w, &v) in row.iter().enumerate() {
            let (m, at) = (lanes(nr.saturating_sub(16 * w)), r.add(16 * w));
            let v = if load {
                _mm512_add_ps(_mm512_maskz_loadu_ps(m, at), v)
            } else {
                v
            };
            _mm512_mask_storeu_ps(at, m, v);
        }
    }
}
