//! Row reductions: the reduced dims are moved last and made contiguous, so every output
//! element folds one contiguous row. Rows are split across rayon when the work is large.

use super::PAR_THRESHOLD;
use rayon::prelude::*;

/// `out[i] = f(row i)` over `m` rows of length `k`.
pub fn rows<T: Sync, A: Send>(
    data: &[T],
    m: usize,
    k: usize,
    f: impl Fn(&[T]) -> A + Sync + Send,
) -> Vec<A> {
    if k == 0 {
        return (0..m).map(|_| f(&[])).collect();
    }
    if super::parallel(m * k) && m > 1 {
        data.par_chunks(k)
            .with_min_len((PAR_THRESHOLD / k).max(1) / 4 + 1)
            .map(&f)
            .collect()
    } else {
        data.chunks(k).map(f).collect()
    }
}

/// Sum of a long row in f64 with rayon partial sums (a full reduction of a big tensor).
pub fn sum_f64(data: &[f64]) -> f64 {
    if super::parallel(data.len()) {
        data.par_chunks(1 << 14)
            .map(|c| c.iter().fold(0.0, |a, v| a + v))
            .reduce(|| 0.0, |a, b| a + b)
    } else {
        // From +0.0: std's f64 `sum` starts at -0.0, and PyTorch's empty sum is 0.
        data.iter().fold(0.0, |a, v| a + v)
    }
}

/// Welford-free two-pass variance of one row with a correction.
pub fn variance(row: &[f64], correction: f64) -> f64 {
    let n = row.len() as f64;
    let mean = row.iter().sum::<f64>() / n;
    let ss: f64 = row.iter().map(|&x| (x - mean) * (x - mean)).sum();
    ss / (n - correction).max(0.0)
}

/// Sum of a row of any element type in f64. f32 rows are summed in f32 blocks of 1024 with
/// eight lanes (vectorisable, error like NumPy's pairwise sum) and the blocks in f64.
pub fn sum_row<T: crate::dtype::Elem>(row: &[T]) -> f64 {
    if T::DTYPE == crate::dtype::DType::F32 {
        // SAFETY: T is f32 (checked above).
        let r: &[f32] =
            unsafe { std::slice::from_raw_parts(row.as_ptr() as *const f32, row.len()) };
        return r
            .chunks(1024)
            .map(|block| {
                let mut acc = [0f32; 8];
                let mut it = block.chunks_exact(8);
                for c in &mut it {
                    for k in 0..8 {
                        acc[k] += c[k];
                    }
                }
                let tail: f32 = it.remainder().iter().sum();
                (acc.iter().sum::<f32>() + tail) as f64
            })
            .fold(0.0, |a, b| a + b);
    }
    // Folded from +0.0 (std's f64 `sum` starts at -0.0): an empty sum is 0, as in PyTorch.
    row.iter().fold(0.0, |a, v| a + v.to_f64())
}

impl crate::backend::ReduceKernels for super::CpuBackend {}
