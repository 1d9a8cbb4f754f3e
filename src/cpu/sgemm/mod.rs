//! Single-precision GEMM for x86-64 CPUs with AVX2 and FMA: packed panels, a 6×16
//! register-blocked micro-kernel, cache blocking for L1/L2/L3 and a split of the output
//! over rayon workers. Chosen at run time; other CPUs keep the `gemm` crate.

#[cfg(target_arch = "x86_64")]
mod driver;
#[cfg(target_arch = "x86_64")]
mod kernel;
#[cfg(target_arch = "x86_64")]
mod pack;
#[cfg(target_arch = "x86_64")]
mod scratch;
#[cfg(all(test, target_arch = "x86_64"))]
mod tests;

#[cfg(target_arch = "x86_64")]
pub use driver::{Blocks, Mat, MatMut, BLOCKS};

/// Whether this CPU runs the kernel (AVX2 and FMA), detected once.
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *HAS.get_or_init(|| {
            std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
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
        if !available() {
            return false;
        }
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
        // SAFETY: AVX2/FMA checked above; bounds and aliasing are the caller's contract.
        driver::run((m, n, k), a, b, c, accumulate, threads, BLOCKS);
        true
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = ((m, n, k), a, b, c, accumulate, threads);
        false
    }
}

/// As `sgemm` with explicit cache blocks (for tuning).
///
/// # Safety
/// As for `sgemm`, and the CPU has AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
pub unsafe fn sgemm_blocked(
    mnk: (usize, usize, usize),
    a: Mat,
    b: Mat,
    c: MatMut,
    accumulate: bool,
    threads: usize,
    blk: Blocks,
) {
    driver::run(mnk, a, b, c, accumulate, threads, blk)
}
