//! CPU kernels of the index family: index validation into offsets, take/put of sub-views at
//! offsets, nonzero.

use super::{contiguous_or_gathered, elems, gather, try_zeroed, CpuBackend, CHUNK};
use crate::backend::{IndexDim, IndexKernels, Offsets, Strided};
use crate::dtype::{DType, Elem};
use crate::error::{Error, Result};
use crate::layout::{for_each_offset, Layout};
use crate::storage::Storage;
use std::borrow::Cow;

fn internal(msg: String) -> Error {
    Error::Runtime(format!("internal error: {msg}"))
}

/// Whether two storages' host memory overlaps.
fn overlaps(a: &Storage, b: &Storage) -> bool {
    let (pa, pb) = (a.data_ptr(), b.data_ptr());
    let ea = pa + a.len() * a.dtype().size();
    let eb = pb + b.len() * b.dtype().size();
    pa < eb && pb < ea && !a.is_empty() && !b.is_empty()
}

/// A view's elements, copied when they share memory with `dst` (read before writing).
fn read_apart<'a, T: Elem>(s: Strided<'a>, dst: &Storage) -> Result<Cow<'a, [T]>> {
    if overlaps(s.storage, dst) {
        Ok(Cow::Owned(gather::<T>(s)?))
    } else {
        contiguous_or_gathered::<T>(s)
    }
}

/// Largest element index of a layout relative to its offset (`None`: empty).
fn rest_span(l: &Layout) -> Result<Option<usize>> {
    if l.numel() == 0 {
        return Ok(None);
    }
    let mut last = 0usize;
    for (&s, &st) in l.shape.iter().zip(&l.strides) {
        last = (s - 1)
            .checked_mul(st)
            .and_then(|v| last.checked_add(v))
            .ok_or_else(|| internal("layout span overflows".into()))?;
    }
    Ok(Some(last))
}

/// Checks that `base + o + span` stays inside `len` for every offset.
fn check_offsets(offs: &[i64], base: usize, span: usize, len: usize) -> Result<()> {
    let (lo, hi) = offs
        .iter()
        .fold((i64::MAX, i64::MIN), |(lo, hi), &o| (lo.min(o), hi.max(o)));
    if offs.is_empty() {
        return Ok(());
    }
    let end = (hi as u64 as usize)
        .checked_add(base)
        .and_then(|v| v.checked_add(span));
    if lo < 0 || !matches!(end, Some(e) if e < len) {
        return Err(internal(format!(
            "index offsets [{lo}, {hi}] leave a storage of {len} elements"
        )));
    }
    Ok(())
}

#[inline]
fn add_elem<T: Elem>(a: T, b: T) -> T {
    if T::DTYPE.is_float() {
        T::from_f64(a.to_f64() + b.to_f64())
    } else if T::DTYPE == DType::Bool {
        T::from_bool(a.is_nonzero() || b.is_nonzero())
    } else {
        T::from_i64(a.to_i64().wrapping_add(b.to_i64()))
    }
}

fn take_typed<T: Elem>(src: Strided, offs: &[i64]) -> Result<Storage> {
    let l = src.layout;
    let rest_n = l.numel();
    let total = offs
        .len()
        .checked_mul(rest_n)
        .ok_or_else(|| internal("take output size overflows".into()))?;
    let mut out = try_zeroed::<T>(total)?;
    let Some(span) = rest_span(l)? else {
        return Ok(Storage::from_vec(out));
    };
    if offs.is_empty() {
        return Ok(Storage::from_vec(out));
    }
    let data = elems::<T>(src)?;
    check_offsets(offs, l.offset, span, data.len())?;
    let base = l.offset;
    if rest_n == 1 {
        let f = |(o, &p): (&mut T, &i64)| *o = data[base + p as usize];
        if super::parallel(total) {
            super::team::for_each_chunk(&mut out, CHUNK, |i, o| {
                let offs = &offs[i * CHUNK..];
                o.iter_mut().zip(offs).for_each(f)
            });
        } else {
            out.iter_mut().zip(offs).for_each(f);
        }
        return Ok(Storage::from_vec(out));
    }
    let contiguous = l.is_contiguous();
    let f = |(o, &p): (&mut [T], &i64)| {
        let start = base + p as usize;
        if contiguous {
            o.copy_from_slice(&data[start..start + rest_n]);
        } else {
            let mut i = 0;
            for_each_offset(&l.shape, [&l.strides], [start], 0, rest_n, |[q]| {
                o[i] = data[q];
                i += 1;
            });
        }
    };
    if super::parallel(total) {
        // Whole index rows per chunk (about CHUNK elements).
        let rows = (CHUNK / rest_n).max(1);
        super::team::for_each_chunk(&mut out, rows * rest_n, |i, o| {
            let offs = &offs[i * rows..];
            o.chunks_mut(rest_n).zip(offs).for_each(f)
        });
    } else {
        out.chunks_mut(rest_n).zip(offs).for_each(f);
    }
    Ok(Storage::from_vec(out))
}

fn put_typed<T: Elem>(
    dst: Strided,
    offsets: Strided,
    values: Strided,
    accumulate: bool,
) -> Result<()> {
    let l = dst.layout;
    let rest_n = l.numel();
    let offs = read_apart::<i64>(offsets, dst.storage)?;
    let Some(span) = rest_span(l)? else {
        return Ok(());
    };
    if offs.is_empty() {
        return Ok(());
    }
    let vals = read_apart::<T>(values, dst.storage)?;
    if Some(vals.len()) != offs.len().checked_mul(rest_n) {
        return Err(internal(format!(
            "put of {} values at {} offsets of {} elements",
            vals.len(),
            offs.len(),
            rest_n
        )));
    }
    let len = dst.storage.len();
    check_offsets(&offs, l.offset, span, len)?;
    // SAFETY: `offs` and `vals` do not overlap dst's memory (copied above when they did);
    // every write stays inside the buffer (checked above); writes are sequential.
    let out = unsafe { dst.storage.cpu_slice_mut::<T>()? };
    let contiguous = l.is_contiguous();
    for (j, &p) in offs.iter().enumerate() {
        let start = l.offset + p as usize;
        let v = &vals[j * rest_n..(j + 1) * rest_n];
        if contiguous {
            let o = &mut out[start..start + rest_n];
            if accumulate {
                o.iter_mut().zip(v).for_each(|(o, &x)| *o = add_elem(*o, x));
            } else {
                o.copy_from_slice(v);
            }
        } else {
            let mut i = 0;
            for_each_offset(&l.shape, [&l.strides], [start], 0, rest_n, |[q]| {
                out[q] = if accumulate {
                    add_elem(out[q], v[i])
                } else {
                    v[i]
                };
                i += 1;
            });
        }
    }
    Ok(())
}

impl IndexKernels for CpuBackend {
    fn index_offsets(
        &self,
        dims: &[IndexDim],
        shape: &[usize],
        wrap_negative: bool,
    ) -> Result<Offsets> {
        let n = crate::shape::checked_numel(shape)?;
        let mut out = try_zeroed::<i64>(n)?;
        for (pos, d) in dims.iter().enumerate() {
            let l = d.index.layout;
            if l.shape != shape || d.index.dtype() != DType::I64 {
                return Err(internal(format!(
                    "index of shape {:?} ({}) for index shape {:?}",
                    l.shape,
                    d.index.dtype().name(),
                    shape
                )));
            }
            if n == 0 {
                continue;
            }
            let (size, stride) = (d.size as i64, d.stride as i64);
            let mut bad: Option<i64> = None;
            let mut step = |o: &mut i64, v: i64| {
                let w = if v < 0 && wrap_negative { v + size } else { v };
                if (0..size).contains(&w) {
                    *o = o.wrapping_add(w.wrapping_mul(stride));
                } else if bad.is_none() {
                    bad = Some(v);
                }
            };
            let src = elems::<i64>(d.index)?;
            if l.is_contiguous() {
                for (o, &v) in out.iter_mut().zip(&src[l.offset..l.offset + n]) {
                    step(o, v);
                }
            } else {
                let mut j = 0;
                for_each_offset(&l.shape, [&l.strides], [l.offset], 0, n, |[q]| {
                    step(&mut out[j], src[q]);
                    j += 1;
                });
            }
            if let Some(value) = bad {
                return Ok(Offsets::OutOfBounds { pos, value });
            }
        }
        Ok(Offsets::Ok(Storage::from_vec(out)))
    }

    fn take(&self, src: Strided, offsets: Strided) -> Result<Storage> {
        let offs = contiguous_or_gathered::<i64>(offsets)?;
        crate::with_dtype!(src.dtype(), T, take_typed::<T>(src, &offs))
    }

    fn put(&self, dst: Strided, offsets: Strided, values: Strided, accumulate: bool) -> Result<()> {
        if values.dtype() != dst.dtype() {
            return Err(internal("put: values and destination dtypes differ".into()));
        }
        crate::with_dtype!(dst.dtype(), T, {
            put_typed::<T>(dst, offsets, values, accumulate)
        })
    }

    fn nonzero(&self, src: Strided) -> Result<(Storage, usize)> {
        let shape = src.shape();
        let nd = shape.len();
        crate::with_dtype!(src.dtype(), T, {
            let data = contiguous_or_gathered::<T>(src)?;
            let count = data.iter().filter(|v| v.is_nonzero()).count();
            let mut out = try_zeroed::<i64>(count * nd)?;
            let mut idx = vec![0usize; nd];
            let mut w = 0;
            for v in data.iter() {
                if v.is_nonzero() {
                    for (o, &i) in out[w..w + nd].iter_mut().zip(&idx) {
                        *o = i as i64;
                    }
                    w += nd;
                }
                // Advance the row-major multi-index.
                for d in (0..nd).rev() {
                    idx[d] += 1;
                    if idx[d] < shape[d] {
                        break;
                    }
                    idx[d] = 0;
                }
            }
            Ok((Storage::from_vec(out), count))
        })
    }
}
