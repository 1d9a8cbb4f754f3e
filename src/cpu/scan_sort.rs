//! Running scans and sorting along rows (the scanned or sorted dim moved last).

use super::reduce::{check_rows, map_rows};
use super::{contiguous_or_gathered, try_zeroed, PAR_THRESHOLD};
use crate::backend::{ScanOp, Strided};
use crate::dtype::Elem;
use crate::error::Result;
use crate::storage::Storage;
use crate::tensor::Tensor;
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

/// TRANSITIONAL (softmax in `tensor/nn.rs` until it moves behind the nn kernels): applies
/// `f` to every 1-D lane along `d`; `f` writes `out_len` values per lane, and the result has
/// `d` resized to `out_len`.
pub fn along_dim<T: Elem, U: Elem>(
    t: &Tensor,
    d: usize,
    out_len: usize,
    f: impl Fn(&[T], &mut [U]) + Sync + Send,
) -> Tensor {
    let nd = t.ndim();
    if nd == 0 {
        let one = t.reshape(&[1]).expect("transitional");
        let r = along_dim(&one, 0, out_len, f);
        return if out_len == 1 {
            r.reshape(&[]).expect("transitional")
        } else {
            r
        };
    }
    let mut perm: Vec<usize> = (0..nd).filter(|&x| x != d).collect();
    perm.push(d);
    let p = t.permute_raw(&perm).expect("transitional");
    let data = super::gather::<T>(p.strided()).expect("transitional");
    let k = t.shape()[d];
    let m: usize = p.shape()[..nd - 1].iter().product();
    let mut out = vec![U::default(); m * out_len];
    map_rows(&data, k, &mut out, out_len, f);
    let mut shape: Vec<usize> = p.shape()[..nd - 1].to_vec();
    shape.push(out_len);
    let r = Tensor::from_vec_unchecked(out, &shape);
    let mut back: Vec<usize> = (0..nd - 1).collect();
    back.insert(d, nd - 1);
    r.permute_raw(&back).expect("transitional").copy_raw()
}
