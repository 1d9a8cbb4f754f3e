//! Running scans and sorting along rows (the scanned or sorted dim moved last).

use super::reduce::{check_rows, map_rows};
use super::{contiguous_or_gathered, try_zeroed, PAR_THRESHOLD};
use crate::backend::{ScanOp, Strided};
use crate::dtype::Elem;
use crate::error::Result;
use crate::storage::Storage;
use rayon::prelude::*;
use std::cmp::Ordering;

/// Inclusive running sum/product per row. Floats accumulate in f64, integers in wrapping
/// int64 (the tensor layer has already widened them to int64).
pub(crate) fn scan_rows(op: ScanOp, src: Strided, m: usize, k: usize) -> Result<Storage> {
    check_rows(src, m, k)?;
    let prod = op == ScanOp::Prod;
    crate::with_dtype!(src.dtype(), T, {
        let data = contiguous_or_gathered::<T>(src)?;
        let mut out = try_zeroed::<T>(m * k)?;
        map_rows(&data, k, &mut out, k, |x, y| {
            if T::DTYPE.is_float() {
                let mut acc = if prod { 1.0 } else { 0.0 };
                for (a, b) in x.iter().zip(y.iter_mut()) {
                    acc = if prod {
                        acc * a.to_f64()
                    } else {
                        acc + a.to_f64()
                    };
                    *b = T::from_f64(acc);
                }
            } else {
                let mut acc = prod as i64;
                for (a, b) in x.iter().zip(y.iter_mut()) {
                    acc = if prod {
                        acc.wrapping_mul(a.to_i64())
                    } else {
                        acc.wrapping_add(a.to_i64())
                    };
                    *b = T::from_i64(acc);
                }
            }
        });
        Ok(Storage::from_vec(out))
    })
}

/// Ascending order with NaN (the only value unequal to itself) after everything else;
/// integers compare natively (exact beyond 2**53).
#[inline]
pub(crate) fn cmp_nan_last<T: Elem>(a: &T, b: &T) -> Ordering {
    match a.partial_cmp(b) {
        Some(o) => o,
        #[allow(clippy::eq_op)]
        None => (a != a).cmp(&(b != b)),
    }
}

/// Sorts each row (stable): values and int64 positions within the row.
pub(crate) fn sort_rows(
    src: Strided,
    m: usize,
    k: usize,
    descending: bool,
) -> Result<(Storage, Storage)> {
    check_rows(src, m, k)?;
    crate::with_dtype!(src.dtype(), T, {
        let data = contiguous_or_gathered::<T>(src)?;
        let mut vals = try_zeroed::<T>(m * k)?;
        let mut idx = try_zeroed::<i64>(m * k)?;
        if m * k > 0 {
            let sort_one = |((v, i), row): ((&mut [T], &mut [i64]), &[T])| {
                let mut pairs: Vec<(T, i64)> = row
                    .iter()
                    .enumerate()
                    .map(|(j, &x)| (x, j as i64))
                    .collect();
                // Ties are broken by position, so the (faster) unstable sort is stable.
                if descending {
                    pairs.sort_unstable_by(|a, b| cmp_nan_last(&b.0, &a.0).then(a.1.cmp(&b.1)));
                } else {
                    pairs.sort_unstable_by(|a, b| cmp_nan_last(&a.0, &b.0).then(a.1.cmp(&b.1)));
                }
                for ((vo, io), (x, j)) in v.iter_mut().zip(i.iter_mut()).zip(pairs) {
                    *vo = x;
                    *io = j;
                }
            };
            if super::parallel(m * k) && m > 1 {
                vals.par_chunks_mut(k)
                    .zip(idx.par_chunks_mut(k))
                    .zip(data.par_chunks(k))
                    .with_min_len((PAR_THRESHOLD / k).max(1) / 4 + 1)
                    .for_each(sort_one);
            } else {
                vals.chunks_mut(k)
                    .zip(idx.chunks_mut(k))
                    .zip(data.chunks(k))
                    .for_each(sort_one);
            }
        }
        Ok((Storage::from_vec(vals), Storage::from_vec(idx)))
    })
}
