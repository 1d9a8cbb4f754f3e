//! Row reductions: the reduced dims are moved last, so every output element folds one
//! row of the (gathered when strided) input. Rows are split over the team when the work is
//! large.

use super::team;
use super::{contiguous_or_gathered, try_zeroed, CpuBackend, PAR_THRESHOLD};
use crate::backend::{ReduceKernels, ReduceOp, ScanOp, Strided};
use crate::dtype::{DType, Elem};
use crate::error::{Error, Result};
use crate::storage::Storage;

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
        let per = rows_per_part(k);
        let run = |p: usize| -> Vec<A> {
            let rows = &data[p * per * k..((p + 1) * per).min(m) * k];
            rows.chunks(k).map(&f).collect()
        };
        team::map(m.div_ceil(per), run)
            .into_iter()
            .flatten()
            .collect()
    } else {
        data.chunks(k).map(f).collect()
    }
}

/// Fills `out[i] = f(row i)` (a fallibly allocated output), in parallel when large.
pub(crate) fn fill_rows<T: Sync, A: Send>(
    data: &[T],
    k: usize,
    out: &mut [A],
    f: impl Fn(&[T]) -> A + Sync + Send,
) {
    if k == 0 {
        out.iter_mut().for_each(|o| *o = f(&[]));
        return;
    }
    let m = out.len();
    if super::parallel(m * k) && m > 1 {
        // Runs of rows, each run one chunk of `out`.
        let per = ((PAR_THRESHOLD / k).max(1) / 4 + 1).min(m);
        super::team::for_each_chunk(out, per, |c, o| {
            let rows = data[c * per * k..(c * per + o.len()) * k].chunks(k);
            o.iter_mut().zip(rows).for_each(|(o, r)| *o = f(r));
        });
    } else {
        out.iter_mut()
            .zip(data.chunks(k))
            .for_each(|(o, r)| *o = f(r));
    }
}

/// `f(row, out_row)` over `m` rows of `k` inputs and `n` outputs each, in parallel when large.
pub(crate) fn map_rows<T: Sync, A: Send>(
    data: &[T],
    k: usize,
    out: &mut [A],
    n: usize,
    f: impl Fn(&[T], &mut [A]) + Sync + Send,
) {
    if n == 0 {
        return;
    }
    let m = out.len() / n;
    if k == 0 {
        out.chunks_mut(n).for_each(|o| f(&[], o));
        return;
    }
    if super::parallel(m * k) && m > 1 {
        // Runs of rows, each run one chunk of `out`.
        let per = ((PAR_THRESHOLD / k).max(1) / 4 + 1).min(m);
        super::team::for_each_chunk(out, per * n, |c, o| {
            let rows = data[c * per * k..(c * per + o.len() / n) * k].chunks(k);
            o.chunks_mut(n).zip(rows).for_each(|(o, r)| f(r, o));
        });
    } else {
        out.chunks_mut(n)
            .zip(data.chunks(k))
            .for_each(|(o, r)| f(r, o));
    }
}

/// Rows of length `k` a part of a parallel row reduction takes.
fn rows_per_part(k: usize) -> usize {
    (PAR_THRESHOLD / k.max(1)).max(1) / 4 + 1
}

/// `f` of each `size`-long chunk of `data`, summed (in chunk order) over the team.
fn chunk_sums<T: Sync>(data: &[T], size: usize, f: impl Fn(&[T]) -> f64 + Sync) -> f64 {
    let part = |p: usize| f(&data[p * size..((p + 1) * size).min(data.len())]);
    let sums = team::map(data.len().div_ceil(size), part);
    sums.into_iter().fold(0.0, |a, b| a + b)
}

/// Sum of a long row in f64 with partial sums over the team (a full reduction of a big
/// tensor).
pub fn sum_f64(data: &[f64]) -> f64 {
    if super::parallel(data.len()) {
        chunk_sums(data, 1 << 14, |c| c.iter().fold(0.0, |a, v| a + v))
    } else {
        // From +0.0: std's f64 `sum` starts at -0.0, and PyTorch's empty sum is 0.
        data.iter().fold(0.0, |a, v| a + v)
    }
}

/// Two-pass variance of one row with a correction (empty: NaN).
pub fn variance<T: Elem>(row: &[T], correction: f64) -> f64 {
    if row.is_empty() {
        return f64::NAN;
    }
    let n = row.len() as f64;
    let mean = row.iter().map(|v| v.to_f64()).sum::<f64>() / n;
    let ss: f64 = row
        .iter()
        .map(|v| {
            let d = v.to_f64() - mean;
            d * d
        })
        .sum();
    ss / (n - correction).max(0.0)
}

/// Sum of a row of any element type in f64. f32 rows are summed in f32 blocks of 1024 with
/// 32 lanes (vectorisable, with independent vector chains so that the adds keep up with
/// memory; error like NumPy's pairwise sum) and each lane's block sums in f64.
pub fn sum_row<T: Elem>(row: &[T]) -> f64 {
    if T::DTYPE == DType::F32 {
        // SAFETY: T is f32 (checked above).
        let r: &[f32] =
            unsafe { std::slice::from_raw_parts(row.as_ptr() as *const f32, row.len()) };
        return sum_f32_wide(r);
    }
    // Folded from +0.0 (std's f64 `sum` starts at -0.0): an empty sum is 0, as in PyTorch.
    row.iter().fold(0.0, |a, v| a + v.to_f64())
}

/// The float32 sum of `sum_row`: blocks of 1024 summed in 32 f32 lanes, and each lane's
/// block sums added lane-wise in f64; the lanes are folded once at the end. (A horizontal
/// fold per block was a serial chain of 32 adds per 1024 elements and made the sum
/// compute-bound.)
#[inline(always)]
fn sum_f32(r: &[f32]) -> f64 {
    const LANES: usize = 32;
    let mut wide = [0f64; LANES];
    let mut blocks = r.chunks_exact(1024);
    for block in &mut blocks {
        let mut acc = [0f32; LANES];
        for c in block.chunks_exact(LANES) {
            prefetch_ahead(c.as_ptr());
            for k in 0..LANES {
                acc[k] += c[k];
            }
        }
        for k in 0..LANES {
            wide[k] += acc[k] as f64;
        }
    }
    let rest = blocks.remainder();
    let mut acc = [0f32; LANES];
    let mut it = rest.chunks_exact(LANES);
    for c in &mut it {
        for k in 0..LANES {
            acc[k] += c[k];
        }
    }
    let tail = it.remainder().iter().fold(0.0f64, |a, &v| a + v as f64);
    let lanes = wide
        .iter()
        .zip(acc)
        .fold(0.0, |a, (&w, v)| a + w + v as f64);
    lanes + tail
}

/// Asks for the two cache lines `PREFETCH_BYTES` past `p`: a core streaming a sum from memory
/// keeps more lines in flight than the hardware prefetcher alone (16M floats on one core
/// of a Zen 5: 26–29 → 40–42 GB/s with AVX2, 36–39 → 41–43 with AVX-512). A hint only: it
/// reads nothing, so an address past the end is fine.
#[inline(always)]
fn prefetch_ahead(p: *const f32) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let ahead = p.cast::<i8>().wrapping_add(PREFETCH_BYTES);
        // SAFETY: prefetches never fault, whatever the address.
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>(ahead);
            _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(64));
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

const PREFETCH_BYTES: usize = 4096;

simd_dispatch! {
    /// `sum_f32` in the widest vector build the CPU has (AVX2: four 8-lane chains; on a Xeon
    /// the baseline build streamed 16M floats at 11 GB/s, the AVX2 one at 26).
    fn sum_f32_wide = sum_f32(r: &[f32]) -> f64
    in [
        avx512: "avx512f,avx2,fma" if super::vmath::has_avx512,
        avx2: "avx2,fma" if super::vmath::has_avx2_fma,
    ]
}

/// `(index, value)` of the max (or min) of a non-empty row; NaN wins like PyTorch; first
/// index on ties.
pub(crate) fn extreme<T: Elem>(row: &[T], is_max: bool) -> (usize, T) {
    let mut bi = 0;
    let mut bv = row.first().copied().unwrap_or_default();
    #[allow(clippy::eq_op)]
    let is_nan = |v: T| v != v;
    for (i, &v) in row.iter().enumerate().skip(1) {
        if is_nan(bv) {
            break;
        }
        if is_nan(v) || (is_max && v > bv) || (!is_max && v < bv) {
            bi = i;
            bv = v;
        }
    }
    (bi, bv)
}

fn norm_row<T: Elem>(row: &[T], p: f64) -> f64 {
    let it = row.iter().map(|v| v.to_f64().abs());
    if p == f64::INFINITY {
        it.fold(0.0, f64::max)
    } else if p == f64::NEG_INFINITY {
        it.fold(f64::INFINITY, f64::min)
    } else if p == 0.0 {
        it.filter(|&v| v != 0.0).count() as f64
    } else if p == 2.0 {
        it.map(|v| v * v).sum::<f64>().sqrt()
    } else if p == 1.0 {
        it.sum()
    } else {
        it.map(|v| v.powf(p)).sum::<f64>().powf(1.0 / p)
    }
}

/// Stable log-sum-exp: NaN propagates, an empty row is -inf, infinite maxima are not
/// subtracted (so all -inf gives -inf and any +inf gives +inf).
fn logsumexp_row<T: Elem>(row: &[T]) -> f64 {
    let mut mx = f64::NEG_INFINITY;
    for v in row {
        let x = v.to_f64();
        if x.is_nan() {
            return f64::NAN;
        }
        mx = mx.max(x);
    }
    let c = if mx.is_infinite() { 0.0 } else { mx };
    let s: f64 = row.iter().map(|v| (v.to_f64() - c).exp()).sum();
    s.ln() + c
}

/// Row results before conversion to the output dtype (keeps the dtype dispatch flat).
enum Acc {
    F64(Vec<f64>),
    I64(Vec<i64>),
    Bool(Vec<bool>),
    Same(Storage),
}

fn rows_f64<T: Elem>(
    data: &[T],
    m: usize,
    k: usize,
    f: impl Fn(&[T]) -> f64 + Sync + Send,
) -> Result<Acc> {
    let mut out = try_zeroed::<f64>(m)?;
    fill_rows(data, k, &mut out, f);
    Ok(Acc::F64(out))
}

fn reduce_typed<T: Elem>(op: ReduceOp, data: &[T], m: usize, k: usize, out: DType) -> Result<Acc> {
    let float_acc = out.is_float() || T::DTYPE.is_float();
    Ok(match op {
        // One long row (a full reduction): split it across threads instead.
        ReduceOp::Sum | ReduceOp::Mean if float_acc && m == 1 && super::parallel(k) => {
            let s = chunk_sums(data, 1 << 16, sum_row::<T>);
            Acc::F64(vec![if op == ReduceOp::Mean {
                s / k as f64
            } else {
                s
            }])
        }
        ReduceOp::Sum if float_acc => rows_f64(data, m, k, sum_row::<T>)?,
        ReduceOp::NanSum if float_acc => rows_f64(data, m, k, |r| {
            r.iter()
                .map(|v| v.to_f64())
                .filter(|v| !v.is_nan())
                .fold(0.0, |a, v| a + v)
        })?,
        ReduceOp::Mean => rows_f64(data, m, k, |r| sum_row::<T>(r) / k as f64)?,
        ReduceOp::Prod if float_acc => {
            rows_f64(data, m, k, |r| r.iter().map(|v| v.to_f64()).product())?
        }
        ReduceOp::Sum | ReduceOp::NanSum | ReduceOp::Prod => {
            let prod = op == ReduceOp::Prod;
            let mut o = try_zeroed::<i64>(m)?;
            fill_rows(data, k, &mut o, |r| {
                if prod {
                    r.iter().fold(1i64, |a, v| a.wrapping_mul(v.to_i64()))
                } else {
                    r.iter().fold(0i64, |a, v| a.wrapping_add(v.to_i64()))
                }
            });
            Acc::I64(o)
        }
        ReduceOp::Amax | ReduceOp::Amin => {
            if k == 0 && m > 0 {
                return Err(Error::Runtime(
                    "internal error: amax/amin over an empty row".into(),
                ));
            }
            let is_max = op == ReduceOp::Amax;
            let mut o = try_zeroed::<T>(m)?;
            fill_rows(data, k, &mut o, |r| extreme(r, is_max).1);
            Acc::Same(Storage::from_vec(o))
        }
        ReduceOp::All | ReduceOp::Any => {
            let all = op == ReduceOp::All;
            let mut o = try_zeroed::<bool>(m)?;
            fill_rows(data, k, &mut o, |r| {
                if all {
                    r.iter().all(|v| v.is_nonzero())
                } else {
                    r.iter().any(|v| v.is_nonzero())
                }
            });
            Acc::Bool(o)
        }
        ReduceOp::CountNonzero => {
            let mut o = try_zeroed::<i64>(m)?;
            fill_rows(data, k, &mut o, |r| {
                r.iter().filter(|v| v.is_nonzero()).count() as i64
            });
            Acc::I64(o)
        }
        ReduceOp::Var { correction, std } => rows_f64(data, m, k, |r| {
            let v = variance(r, correction);
            if std {
                v.sqrt()
            } else {
                v
            }
        })?,
        ReduceOp::Norm { p } => rows_f64(data, m, k, |r| norm_row(r, p))?,
        ReduceOp::LogSumExp => rows_f64(data, m, k, logsumexp_row::<T>)?,
    })
}

/// Converts row results to `dtype` (a move when they already have it).
fn finish(acc: Acc, dtype: DType) -> Result<Storage> {
    fn conv<S: Elem>(v: Vec<S>, dtype: DType) -> Result<Storage> {
        if S::DTYPE == dtype {
            return Ok(Storage::from_vec(v));
        }
        crate::with_dtype!(dtype, D, {
            let mut o = try_zeroed::<D>(v.len())?;
            o.iter_mut()
                .zip(&v)
                .for_each(|(o, &x)| *o = super::convert::<S, D>(x));
            Ok(Storage::from_vec(o))
        })
    }
    match acc {
        Acc::F64(v) => conv(v, dtype),
        Acc::I64(v) => conv(v, dtype),
        Acc::Bool(v) => conv(v, dtype),
        Acc::Same(s) if s.dtype() == dtype => Ok(s),
        Acc::Same(s) => crate::with_dtype!(s.dtype(), S, conv(s.into_vec::<S>()?, dtype)),
    }
}

/// The view must hold exactly `m` rows of `k`.
pub(crate) fn check_rows(src: Strided, m: usize, k: usize) -> Result<()> {
    if m.checked_mul(k) != Some(src.numel()) {
        return Err(Error::Runtime(format!(
            "internal error: {m} rows of {k} over a view of {} elements",
            src.numel()
        )));
    }
    Ok(())
}

impl ReduceKernels for CpuBackend {
    fn reduce_rows(
        &self,
        op: ReduceOp,
        src: Strided,
        m: usize,
        k: usize,
        out_dtype: DType,
    ) -> Result<Storage> {
        check_rows(src, m, k)?;
        if matches!(op, ReduceOp::Sum | ReduceOp::Mean) && out_dtype.is_float() {
            let sums = crate::with_dtype!(src.dtype(), T, {
                super::reduce_strided::strided_sums::<T>(src, m, k)
            });
            if let Some(mut v) = sums {
                if op == ReduceOp::Mean {
                    v.iter_mut().for_each(|s| *s /= k as f64);
                }
                return finish(Acc::F64(v), out_dtype);
            }
        }
        let acc = crate::with_dtype!(src.dtype(), T, {
            let data = contiguous_or_gathered::<T>(src)?;
            reduce_typed::<T>(op, &data, m, k, out_dtype)?
        });
        finish(acc, out_dtype)
    }

    fn arg_reduce_rows(
        &self,
        is_max: bool,
        src: Strided,
        m: usize,
        k: usize,
    ) -> Result<(Storage, Storage)> {
        check_rows(src, m, k)?;
        if k == 0 && m > 0 {
            return Err(Error::Runtime(
                "internal error: arg reduction over an empty row".into(),
            ));
        }
        crate::with_dtype!(src.dtype(), T, {
            let data = contiguous_or_gathered::<T>(src)?;
            let mut vals = try_zeroed::<T>(m)?;
            let mut idx = try_zeroed::<i64>(m)?;
            if m > 0 {
                let f = |((v, i), r): ((&mut T, &mut i64), &[T])| {
                    let (bi, bv) = extreme(r, is_max);
                    *v = bv;
                    *i = bi as i64;
                };
                if super::parallel(m * k) && m > 1 {
                    let per = rows_per_part(k);
                    let (vs, is) = (
                        team::SharedMut::new(&mut vals),
                        team::SharedMut::new(&mut idx),
                    );
                    team::run(m.div_ceil(per), |p| {
                        let r = p * per..((p + 1) * per).min(m);
                        // SAFETY: rows r belong to part p only.
                        let (v, i) = unsafe { (vs.range(r.clone()), is.range(r.clone())) };
                        let rows = data[r.start * k..r.end * k].chunks(k);
                        v.iter_mut().zip(i.iter_mut()).zip(rows).for_each(&f);
                    });
                } else {
                    vals.iter_mut()
                        .zip(idx.iter_mut())
                        .zip(data.chunks(k))
                        .for_each(f);
                }
            }
            Ok((Storage::from_vec(vals), Storage::from_vec(idx)))
        })
    }

    fn scan_rows(&self, op: ScanOp, src: Strided, m: usize, k: usize) -> Result<Storage> {
        super::scan_sort::scan_rows(op, src, m, k)
    }

    fn sort_rows(
        &self,
        src: Strided,
        m: usize,
        k: usize,
        descending: bool,
    ) -> Result<(Storage, Storage)> {
        super::scan_sort::sort_rows(src, m, k, descending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The float32 row sum against an f64 reference, at lengths around the block and lane
    /// sizes (tails of every kind) and on every dispatch path the CPU has.
    #[test]
    fn float32_row_sums_match_a_float64_reference() {
        let lens: [usize; 10] = [0, 1, 31, 32, 33, 1023, 1024, 1025, 3 * 1024 + 77, 1 << 20];
        for &len in &lens {
            // Mixed signs and magnitudes, so cancellation is exercised too.
            let row: Vec<f32> = (0..len)
                .map(|i| ((i * 7919 % 1000) as f32 - 480.0) * 1e-3 * (1 + i % 3) as f32)
                .collect();
            let exact: f64 = row.iter().map(|&v| v as f64).sum();
            let scale: f64 = row.iter().map(|&v| (v as f64).abs()).sum::<f64>().max(1.0);
            // The baseline build and the widest one this CPU has.
            for g in [sum_f32(&row), sum_f32_wide(&row), sum_row(&row)] {
                // f32 partial sums over 32 elements per lane and block: error well under
                // 1e-6 of the absolute sum.
                assert!(
                    (g - exact).abs() <= 1e-6 * scale,
                    "len {len}: {g} vs {exact}"
                );
            }
        }
    }

    #[test]
    fn an_empty_float32_sum_is_positive_zero() {
        let s = sum_row::<f32>(&[]);
        assert!(s == 0.0 && s.is_sign_positive());
    }
}
