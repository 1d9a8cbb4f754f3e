//! Single-precision GEMM for x86-64 CPUs with AVX2 and FMA: packed panels, a
//! register-blocked micro-kernel (6×16 on AVX2, 12×32 where AVX-512F is present), cache
//! blocking for L1/L2/L3 and a split of the output over rayon workers. The kernel is chosen
//! at run time; other CPUs keep the `gemm` crate.

#[cfg(target_arch = "x86_64")]
mod driver;
#[cfg(target_arch = "x86_64")]
mod kernel;
#[cfg(target_arch = "x86_64")]
mod kernel512;
#[cfg(target_arch = "x86_64")]
mod pack;
mod prepacked;
#[cfg(target_arch = "x86_64")]
mod scratch;
#[cfg(all(test, target_arch = "x86_64"))]
mod tests;

#[cfg(target_arch = "x86_64")]
pub use driver::{Blocks, Mat, MatMut};
#[cfg(target_arch = "x86_64")]
pub use kernel::{Avx2, MicroKernel};
#[cfg(target_arch = "x86_64")]
pub use kernel512::{Avx512, Avx512Narrow};
pub use prepacked::PackedA;

/// The instruction sets a micro-kernel exists for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    Avx2,
    Avx512,
}

/// The widest kernel this CPU runs (AVX-512F, else AVX2 + FMA), detected once;
/// `RTORCH_ISA=avx2` keeps the AVX2 kernel on AVX-512 CPUs (for comparisons).
pub fn isa() -> Option<Isa> {
    #[cfg(target_arch = "x86_64")]
    {
        static ISA: std::sync::OnceLock<Option<Isa>> = std::sync::OnceLock::new();
        *ISA.get_or_init(|| {
            use std::arch::is_x86_feature_detected as has;
            if !(has!("avx2") && has!("fma")) {
                return None;
            }
            Some(if crate::cpu::vmath::has_avx512() {
                Isa::Avx512
            } else {
                Isa::Avx2
            })
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        None
    }
}

/// Whether this CPU runs one of the kernels (it has at least AVX2 and FMA).
pub fn available() -> bool {
    isa().is_some()
}

/// Shortest inner dimension the kernel is used for: below it each product step is a full
/// read and write of the output, where the `gemm` crate's small-k kernels measured up to
/// twice as fast (k = 1 and 8 on Zen 3); from 16 on this kernel is as fast or faster.
pub const MIN_K: usize = 16;

/// Whether a product with inner dimension `k` should run here rather than in `gemm`.
pub fn suits(k: usize) -> bool {
    k >= MIN_K && available()
}

/// `c = a · b` (or `c += a · b` with `accumulate`) for `a: m × k`, `b: k × n`, `c: m × n`,
/// each given as (pointer, row stride, column stride) in elements, split over up to
/// `threads` rayon workers. Without `accumulate` the old contents of `c` are never read.
/// Returns false, having done nothing, when the CPU lacks AVX2/FMA.
///
/// # Safety
/// Every strided element of `a`, `b` and `c` lies in its allocation; `c` overlaps neither
/// `a` nor `b`, and distinct indices of `c` address distinct elements.
#[allow(clippy::too_many_arguments)]
pub unsafe fn sgemm(
    (m, n, k): (usize, usize, usize),
    a: (*const f32, isize, isize),
    b: (*const f32, isize, isize),
    c: (*mut f32, isize, isize),
    accumulate: bool,
    threads: usize,
) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        let Some(isa) = isa() else {
            return false;
        };
        let a = Mat {
            ptr: a.0,
            rs: a.1,
            cs: a.2,
        };
        let b = Mat {
            ptr: b.0,
            rs: b.1,
            cs: b.2,
        };
        let c = MatMut {
            ptr: c.0,
            rs: c.1,
            cs: c.2,
        };
        // SAFETY: the kernel's instructions were detected above; bounds and aliasing are the
        // caller's contract.
        match isa {
            Isa::Avx2 => driver::run::<Avx2>((m, n, k), a, b, c, accumulate, threads, Avx2::BLOCKS),
            // At most 16 columns (with more rows, so the product is not mirrored): the
            // 16-column tile.
            Isa::Avx512 if n <= 16 && m > n => driver::run::<Avx512Narrow>(
                (m, n, k),
                a,
                b,
                c,
                accumulate,
                threads,
                Avx512Narrow::BLOCKS,
            ),
            Isa::Avx512 => {
                driver::run::<Avx512>((m, n, k), a, b, c, accumulate, threads, Avx512::BLOCKS)
            }
        }
        true
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = ((m, n, k), a, b, c, accumulate, threads);
        false
    }
}

/// As `sgemm` with an explicit kernel and cache blocks (for tests and tuning).
///
/// # Safety
/// As for `sgemm`, and the CPU runs `K`'s instructions.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
pub unsafe fn sgemm_blocked<K: MicroKernel>(
    mnk: (usize, usize, usize),
    a: Mat,
    b: Mat,
    c: MatMut,
    accumulate: bool,
    threads: usize,
    blk: Blocks,
) {
    driver::run::<K>(mnk, a, b, c, accumulate, threads, blk)
}
