//! Shapes: dim normalisation (negative dims), broadcasting, contiguous strides.

use crate::error::{index_err, Error, Result};

/// The element count of a shape already known to be valid (a tensor's own layout).
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// The element count of a requested shape, checked: it must fit in an `isize` (as PyTorch's
/// int64 sizes do), so that offsets and byte sizes computed from it cannot overflow.
pub fn checked_numel(shape: &[usize]) -> Result<usize> {
    let mut n: usize = 1;
    let mut overflow = false;
    for &d in shape {
        match n.checked_mul(d) {
            Some(v) => n = v,
            None => overflow = true,
        }
    }
    // A zero-size dim makes any product valid; an overflow elsewhere still means the sizes
    // themselves are beyond what a tensor may have.
    if overflow || n > isize::MAX as usize || shape.iter().any(|&d| d > isize::MAX as usize) {
        return Err(Error::Runtime(format!(
            "Storage size calculation overflowed with sizes={shape:?}"
        )));
    }
    Ok(n)
}

pub fn contiguous_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![0; shape.len()];
    let mut s: usize = 1;
    for i in (0..shape.len()).rev() {
        strides[i] = s;
        s = s.saturating_mul(shape[i].max(1));
    }
    strides
}

/// Maps a possibly negative `dim` into `0..ndim` (PyTorch treats 0-d as having one dim here).
pub fn normalize_dim(dim: i64, ndim: usize) -> Result<usize> {
    let n = ndim.max(1) as i64;
    let d = if dim < 0 { dim + n } else { dim };
    if d < 0 || d >= n {
        return Err(index_err(format!(
            "Dimension out of range (expected to be in range of [{}, {}], but got {})",
            -n,
            n - 1,
            dim
        )));
    }
    Ok(d as usize)
}

/// Like `normalize_dim` for an insertion position (`unsqueeze`): range is ndim+1.
pub fn normalize_insert_dim(dim: i64, ndim: usize) -> Result<usize> {
    normalize_dim(dim, ndim + 1)
}

/// Normalises a list of dims and rejects repeats.
pub fn normalize_dims(dims: &[i64], ndim: usize) -> Result<Vec<usize>> {
    let mut out = Vec::with_capacity(dims.len());
    for &d in dims {
        let n = normalize_dim(d, ndim)?;
        if out.contains(&n) {
            return Err(Error::Runtime(format!(
                "dim {n} appears multiple times in the list of dims"
            )));
        }
        out.push(n);
    }
    Ok(out)
}

/// The broadcast shape of two shapes, or PyTorch's error.
pub fn broadcast_shapes(a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let da = if i + a.len() >= n {
            a[i + a.len() - n]
        } else {
            1
        };
        let db = if i + b.len() >= n {
            b[i + b.len() - n]
        } else {
            1
        };
        out[i] = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return Err(Error::Runtime(format!(
                "The size of tensor a ({da}) must match the size of tensor b ({db}) at non-singleton dimension {i}"
            )));
        };
    }
    Ok(out)
}

/// Resolves a `-1` entry in a requested shape for `view`/`reshape`.
pub fn infer_shape(op: &str, shape: &[i64], numel: usize) -> Result<Vec<usize>> {
    let mut infer = None;
    let mut known = 1usize;
    for (i, &s) in shape.iter().enumerate() {
        if s == -1 {
            if infer.is_some() {
                return Err(Error::Runtime(format!(
                    "{op}: only one dimension can be inferred"
                )));
            }
            infer = Some(i);
        } else if s < 0 {
            return Err(Error::Runtime(format!("{op}: invalid shape dimension {s}")));
        } else {
            // A product past usize::MAX cannot match any tensor's size.
            known = known.saturating_mul(s as usize);
        }
    }
    let mut out: Vec<usize> = shape.iter().map(|&s| s.max(0) as usize).collect();
    let bad = || {
        Error::Runtime(format!(
            "shape '{:?}' is invalid for input of size {numel}",
            shape
        ))
    };
    if known == usize::MAX && shape.iter().all(|&s| s != 0) {
        return Err(bad());
    }
    match infer {
        Some(i) => {
            if known == 0 || !numel.is_multiple_of(known) {
                return Err(bad());
            }
            out[i] = numel / known;
        }
        None => {
            if known != numel {
                return Err(bad());
            }
        }
    }
    Ok(out)
}

/// Formats a shape the way PyTorch prints it in messages: `[2, 3]`.
pub fn fmt_shape(shape: &[usize]) -> String {
    format!("{:?}", shape)
}
