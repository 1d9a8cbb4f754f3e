//! The micro-kernel contract and the 6×16 register-blocked kernel for AVX2 + FMA: 12 ymm
//! accumulators, per step two loads of packed B and six broadcasts of packed A.

use super::driver::Blocks;
use super::pack;
#[cfg(target_arch = "x86_64")]
use core::arch::x86_64::*;

/// Largest `MR · NR` of any micro-kernel (room for an edge tile computed aside).
pub const MAX_TILE: usize = 12 * 32;

/// A register-blocked micro-kernel: its tile shape and the cache blocks tuned for it.
pub trait MicroKernel {
    /// Rows of the micro-tile (packed A panels are `MR` wide).
    const MR: usize;
    /// Columns of the micro-tile (packed B panels are `NR` wide).
    const NR: usize;
    /// Cache blocks for the CPUs this kernel runs on.
    const BLOCKS: Blocks;
    /// Whether a block runs row of tiles by row (an A panel reused from L1, B from L2)
    /// rather than column by column (a B panel in L1, A from L2).
    const A_IN_L1: bool;
    /// Whether `tile_b_in_place` exists (products with few rows then skip packing B).
    const B_IN_PLACE: bool = false;

    /// `c[0..MR, 0..NR] (+)= a_panel · b_panel` over `kc` steps.
    ///
    /// With `PACKED`, `a` holds `kc` groups of `MR` values (one per tile row); otherwise row
    /// `i` of step `p` is read at `a[i·rsa + p·csa]`. `b` holds `kc` groups of `NR` values
    /// and is 64-byte aligned. `c` is written with row stride `rsc` and unit column stride;
    /// with `load` false its old contents are never read.
    ///
    /// # Safety
    /// The CPU supports the kernel's instructions; the `MR × kc` elements of `a` and the
    /// `kc·NR` floats of `b` are readable; the `MR × NR` tile at `c` is writable (and
    /// readable when `load`).
    unsafe fn tile<const PACKED: bool>(
        kc: usize,
        a: *const f32,
        a_strides: (isize, isize),
        b: *const f32,
        c: *mut f32,
        rsc: isize,
        load: bool,
    );

    /// As `tile`, writing only the top-left `mr × nr` of the tile (an edge tile); returns
    /// false, having done nothing, when the kernel has no such variant (the driver then
    /// computes the tile aside and copies the part that exists).
    ///
    /// # Safety
    /// As for `tile`, with only the `mr × nr` part of the tile at `c` writable.
    #[allow(clippy::too_many_arguments)]
    unsafe fn tile_part<const PACKED: bool>(
        _kc: usize,
        _a: *const f32,
        _a_strides: (isize, isize),
        _b: *const f32,
        _c: *mut f32,
        _rsc: isize,
        _load: bool,
        _part: (usize, usize),
    ) -> bool {
        false
    }

    /// As `tile_part` with packed A, reading B in place: step `p` of the B panel is the `NR`
    /// floats at `b + p·ldb` (any alignment), so a row-major B needs no packing. Returns
    /// false, having done nothing, when the kernel has no such variant.
    ///
    /// # Safety
    /// As for `tile_part`, with `NR` readable floats at every `b + p·ldb`, `p < kc`.
    #[allow(clippy::too_many_arguments)]
    unsafe fn tile_b_in_place(
        _kc: usize,
        _a: *const f32,
        _b: *const f32,
        _ldb: usize,
        _c: *mut f32,
        _rsc: isize,
        _load: bool,
        _part: (usize, usize),
    ) -> bool {
        false
    }

    /// Packs an `mc × kc` block of A into `MR`-row panels (see `pack::pack_a`).
    ///
    /// # Safety
    /// As for `pack::pack_a`.
    unsafe fn pack_a(mc: usize, kc: usize, a: *const f32, s: (isize, isize), out: *mut f32);

    /// Packs a `kc × nc` block of B into `NR`-column panels (see `pack::pack_b`).
    ///
    /// # Safety
    /// As for `pack::pack_b`.
    unsafe fn pack_b(kc: usize, nc: usize, b: *const f32, s: (isize, isize), out: *mut f32);
}

/// The AVX2 + FMA kernel (6×16).
pub struct Avx2;

impl MicroKernel for Avx2 {
    const MR: usize = MR;
    const NR: usize = NR;
    const A_IN_L1: bool = false;
    /// Tuned on Zen 3 (32 KiB L1d, 512 KiB L2 per core).
    const BLOCKS: Blocks = Blocks {
        mc: 144,
        kc: 256,
        nc: 4080,
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
        kernel_6x16::<PACKED>(kc, a, a_strides, b, c, rsc, load)
    }

    unsafe fn pack_a(mc: usize, kc: usize, a: *const f32, s: (isize, isize), out: *mut f32) {
        pack::pack_a::<MR>(mc, kc, a, s.0, s.1, out)
    }

    unsafe fn pack_b(kc: usize, nc: usize, b: *const f32, s: (isize, isize), out: *mut f32) {
        pack::pack_b::<NR>(kc, nc, b, s.0, s.1, out)
    }
}

const MR: usize = 6;
const NR: usize = 16;

/// `c[0..6, 0..16] (+)= a_panel · b_panel` over `kc` steps.
///
/// With `PACKED`, `a` holds `kc` groups of `MR` values (one per tile row); otherwise row `i`
/// of step `p` is read at `a[i·rsa + p·csa]`. `b` holds `kc` groups of `NR` values and is
/// 32-byte aligned. `c` is written with row stride `rsc` and unit column
/// stride; with `load` false its old contents are never read.
///
/// # Safety
/// The CPU supports AVX2 and FMA; the `MR × kc` elements of `a` and the `kc·NR` floats of
/// `b` are readable; the
/// 6×16 tile at `c` is writable (and readable when `load`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub unsafe fn kernel_6x16<const PACKED: bool>(
    kc: usize,
    mut a: *const f32,
    (rsa, csa): (isize, isize),
    mut b: *const f32,
    c: *mut f32,
    rsc: isize,
    load: bool,
) {
    // Constants once monomorphised for packed panels.
    let (rsa, csa) = if PACKED { (1, MR as isize) } else { (rsa, csa) };
    let z = _mm256_setzero_ps();
    let (mut c00, mut c01, mut c10, mut c11, mut c20, mut c21) = (z, z, z, z, z, z);
    let (mut c30, mut c31, mut c40, mut c41, mut c50, mut c51) = (z, z, z, z, z, z);
    // Warm the output lines while the product runs.
    for i in 0..MR as isize {
        _mm_prefetch::<_MM_HINT_T0>(c.offset(i * rsc) as *const i8);
        _mm_prefetch::<_MM_HINT_T0>(c.offset(i * rsc + 15) as *const i8);
    }
    macro_rules! step {
        ($off:expr) => {{
            let b0 = _mm256_load_ps(b.add($off * NR));
            let b1 = _mm256_load_ps(b.add($off * NR + 8));
            let ap = a.offset($off * csa);
            let x = _mm256_broadcast_ss(&*ap);
            c00 = _mm256_fmadd_ps(x, b0, c00);
            c01 = _mm256_fmadd_ps(x, b1, c01);
            let x = _mm256_broadcast_ss(&*ap.offset(1 * rsa));
            c10 = _mm256_fmadd_ps(x, b0, c10);
            c11 = _mm256_fmadd_ps(x, b1, c11);
            let x = _mm256_broadcast_ss(&*ap.offset(2 * rsa));
            c20 = _mm256_fmadd_ps(x, b0, c20);
            c21 = _mm256_fmadd_ps(x, b1, c21);
            let x = _mm256_broadcast_ss(&*ap.offset(3 * rsa));
            c30 = _mm256_fmadd_ps(x, b0, c30);
            c31 = _mm256_fmadd_ps(x, b1, c31);
            let x = _mm256_broadcast_ss(&*ap.offset(4 * rsa));
            c40 = _mm256_fmadd_ps(x, b0, c40);
            c41 = _mm256_fmadd_ps(x, b1, c41);
            let x = _mm256_broadcast_ss(&*ap.offset(5 * rsa));
            c50 = _mm256_fmadd_ps(x, b0, c50);
            c51 = _mm256_fmadd_ps(x, b1, c51);
        }};
    }
    let mut p = kc;
    while p >= 4 {
        if PACKED {
            _mm_prefetch::<_MM_HINT_T0>(a.add(8 * MR) as *const i8);
        }
        step!(0);
        step!(1);
        step!(2);
        step!(3);
        a = a.offset(4 * csa);
        b = b.add(4 * NR);
        p -= 4;
    }
    while p > 0 {
        step!(0);
        a = a.offset(csa);
        b = b.add(NR);
        p -= 1;
    }
    let rows = [
        (c00, c01),
        (c10, c11),
        (c20, c21),
        (c30, c31),
        (c40, c41),
        (c50, c51),
    ];
    for (i, &(lo, hi)) in rows.iter().enumerate() {
        let r = c.offset(i as isize * rsc);
        if load {
            _mm256_storeu_ps(r, _mm256_add_ps(_mm256_loadu_ps(r), lo));
            _mm256_storeu_ps(r.add(8), _mm256_add_ps(_mm256_loadu_ps(r.add(8)), hi));
        } else {
            _mm256_storeu_ps(r, lo);
            _mm256_storeu_ps(r.add(8), hi);
        }
    }
}
