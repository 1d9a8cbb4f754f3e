//! Scans and orderings along one dim: cumsum, cumprod, sort, argsort, topk, unique.

use super::reduce::{index_backward, to_rows};
use super::Tensor;
use crate::autograd::{self, SavedTensor, SavedValue};
use crate::backend::ScanOp;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::normalize_dim;

/// A kernel result laid out as `rows.t` (dim `d` moved last) put back in place, contiguous.
fn from_rows(out: crate::storage::Storage, rows_shape: &[usize], d: usize) -> Result<Tensor> {
    let r = Tensor::from_kernel(out, rows_shape)?;
    let nd = rows_shape.len();
    if d + 1 == nd {
        return Ok(r);
    }
    let mut perm: Vec<usize> = (0..nd - 1).collect();
    perm.insert(d, nd - 1);
    r.permute_raw(&perm)?.to_dtype_raw(r.dtype())
}

/// The input of a scan in its accumulation dtype (integers and bool accumulate in int64).
fn scan_input(t: &Tensor, dtype: Option<DType>) -> Result<Tensor> {
    match dtype {
        Some(dt) => t.to_dtype(dt),
        None if !t.dtype().is_float() => t.to_dtype(DType::I64),
        None => Ok(t.clone()),
    }
}

/// Inclusive running sum or product along `d` (ndim ≥ 1), without autograd.
fn scan_raw(src: &Tensor, d: usize, op: ScanOp) -> Result<Tensor> {
    let rows = to_rows(src, &[d])?;
    let out = src
        .backend()?
        .scan_rows(op, rows.t.strided(), rows.m, rows.k)?;
    from_rows(out, rows.t.shape(), d)
}

/// `flip(cumsum(flip(x)))` along `d`: sums from each position to the end.
fn reverse_cumsum(x: &Tensor, d: i64) -> Result<Tensor> {
    x.flip(&[d])?.cumsum(d, None)?.flip(&[d])
}

impl Tensor {
    pub fn cumsum(&self, dim: i64, dtype: Option<DType>) -> Result<Tensor> {
        let _prof = crate::profiler::op("aten::cumsum", &[self]);
        let dtype = crate::amp::fp32_dtype("cumsum", self, dtype);
        let src = scan_input(self, dtype)?;
        if src.ndim() == 0 {
            normalize_dim(dim, 0)?;
            return src.deep_clone();
        }
        let d = normalize_dim(dim, src.ndim())?;
        let out = scan_raw(&src, d, ScanOp::Sum)?;
        if autograd::needs_grad(&[&src]) {
            autograd::record(&out, "CumsumBackward0", &[&src], move |g, _| {
                Ok(vec![Some(reverse_cumsum(g, d as i64)?)])
            });
            autograd::describe(&out, || vec![("dim", SavedValue::dim(d))]);
        }
        Ok(out)
    }

    pub fn cumprod(&self, dim: i64, dtype: Option<DType>) -> Result<Tensor> {
        let _prof = crate::profiler::op("aten::cumprod", &[self]);
        let dtype = crate::amp::fp32_dtype("cumprod", self, dtype);
        let src = scan_input(self, dtype)?;
        if src.ndim() == 0 {
            normalize_dim(dim, 0)?;
            return src.deep_clone();
        }
        let d = normalize_dim(dim, src.ndim())?;
        let out = scan_raw(&src, d, ScanOp::Prod)?;
        if autograd::needs_grad(&[&src]) {
            let x = SavedTensor::new(&src);
            autograd::record(&out, "CumprodBackward0", &[&src], move |g, _| {
                Ok(vec![Some(cumprod_grad(x.get()?, g, d as i64)?)])
            });
            // The rule recomputes the product from the input rather than keeping the result.
            autograd::describe(&out, || {
                vec![
                    ("dim", SavedValue::dim(d)),
                    ("self", SavedValue::tensor(&src)),
                ]
            });
        }
        Ok(out)
    }

    /// `sort(dim, descending)` → (values, indices). NaN sorts as the largest; ties keep
    /// their order; integers compare exactly.
    pub fn sort(&self, dim: i64, descending: bool) -> Result<(Tensor, Tensor)> {
        let _prof = crate::profiler::op("aten::sort", &[self]);
        if self.ndim() == 0 {
            normalize_dim(dim, 0)?;
            let idx = Tensor::full_on(&[], 0i64, DType::I64, self.device())?;
            return Ok((self.deep_clone()?, idx));
        }
        let d = normalize_dim(dim, self.ndim())?;
        let rows = to_rows(self, &[d])?;
        let (v, i) = self
            .backend()?
            .sort_rows(rows.t.strided(), rows.m, rows.k, descending)?;
        let vals = from_rows(v, rows.t.shape(), d)?;
        let idx = from_rows(i, rows.t.shape(), d)?;
        record_take_along(&vals, self, &idx, d, "SortBackward0");
        Ok((vals, idx))
    }

    pub fn argsort(&self, dim: i64, descending: bool) -> Result<Tensor> {
        let _prof = crate::profiler::op("aten::argsort", &[self]);
        Ok(self.sort(dim, descending)?.1)
    }

    /// `topk(k, dim, largest)` → (values, indices), sorted.
    pub fn topk(&self, k: usize, dim: i64, largest: bool) -> Result<(Tensor, Tensor)> {
        let _prof = crate::profiler::op("aten::topk", &[self]);
        let d = normalize_dim(dim, self.ndim())?;
        let n = if self.ndim() == 0 { 1 } else { self.shape()[d] };
        if k > n {
            return Err(Error::Runtime(format!(
                "selected index k out of range (k={k}, size={n})"
            )));
        }
        let (vals, idx) = {
            let _g = autograd::no_grad();
            self.sort(d as i64, largest)?
        };
        let (vals, idx) = if self.ndim() == 0 {
            (vals, idx)
        } else {
            (
                vals.narrow(d as i64, 0, k)?.contiguous()?,
                idx.narrow(d as i64, 0, k)?.contiguous()?,
            )
        };
        let vals = vals.detach();
        record_take_along(&vals, self, &idx, d, "TopkBackward0");
        Ok((vals, idx))
    }

    /// `unique(sorted=True, return_inverse, return_counts)` over the flattened tensor. NaNs
    /// are never equal, so each stays apart (as PyTorch on CPU).
    pub fn unique(&self) -> Result<(Tensor, Tensor, Tensor)> {
        let flat = self.detach().reshape(&[-1])?;
        let n = flat.numel();
        let dev = self.device();
        if n == 0 {
            let e = Tensor::full_on(&[0], 0i64, DType::I64, dev)?;
            let inv = Tensor::full_on(self.shape(), 0i64, DType::I64, dev)?;
            return Ok((flat.deep_clone()?, inv, e));
        }
        let (sorted, perm) = flat.sort(0, false)?;
        // A group starts wherever a value differs from the one before it.
        let first = Tensor::full_on(&[1], true, DType::Bool, dev)?;
        let differs = sorted
            .narrow(0, 1, n - 1)?
            .ne(&sorted.narrow(0, 0, n - 1)?)?;
        let starts_mask = Tensor::cat(&[first, differs], 0)?;
        let group = starts_mask.cumsum(0, None)?.sub_scalar(1i64)?;
        let inverse = Tensor::full_on(&[n], 0i64, DType::I64, dev)?
            .scatter(0, &perm, &group)?
            .reshape(&self.shape().iter().map(|&s| s as i64).collect::<Vec<_>>())?;
        let uniq = sorted.masked_select(&starts_mask)?;
        let starts = starts_mask.nonzero()?.reshape(&[-1])?;
        let u = starts.numel();
        let end = Tensor::full_on(&[1], n as i64, DType::I64, dev)?;
        let ends = Tensor::cat(&[starts.narrow(0, 1, u - 1)?, end], 0)?;
        let counts = ends.sub(&starts)?;
        Ok((uniq, inverse, counts))
    }
}

/// Records the backward of `out = x` taken along `d` at `idx` (sort, topk): the gradient is
/// scattered back to the chosen positions.
fn record_take_along(out: &Tensor, x: &Tensor, idx: &Tensor, d: usize, name: &'static str) {
    if !autograd::needs_grad(&[x]) {
        return;
    }
    let in_shape = x.shape().to_vec();
    let ix = idx.clone();
    autograd::record(out, name, &[x], move |g, _| {
        Ok(vec![Some(index_backward(g, &ix, &in_shape, d, true)?)])
    });
    autograd::describe(out, || {
        vec![
            ("dim", SavedValue::dim(d)),
            ("indices", SavedValue::tensor(idx)),
            ("self_sym_sizes", SavedValue::sizes(x.shape())),
        ]
    });
}

/// Gradient of cumprod along `d`, exact with zeros, in tensor ops (so it is differentiable
/// and runs on any backend). With z the first zero of a lane:
/// - before z: `grad_i = (Σ_{k≥i} g_k out_k) / x_i`;
/// - at z: `Σ_{k≥z} g_k Π_{j≤k, j≠z} x_j` (the scan with x_z replaced by 1);
/// - after z: 0 (every product contains x_z).
fn cumprod_grad(x: &Tensor, g: &Tensor, d: i64) -> Result<Tensor> {
    let dev = x.device();
    let zero = Tensor::full_on(&[], 0.0, x.dtype(), dev)?;
    let one = Tensor::full_on(&[], 1.0, x.dtype(), dev)?;
    let is_zero = x.eq_scalar(0.0)?;
    let zeros_seen = is_zero.cumsum(d, None)?;
    let before = zeros_seen.eq_scalar(0i64)?;
    let first_zero = is_zero.logical_and(&zeros_seen.eq_scalar(1i64)?)?;
    let out = x.cumprod(d, None)?;
    let safe_x = Tensor::where_(&before, x, &one)?;
    let grad_before = reverse_cumsum(&g.mul(&out)?, d)?.div(&safe_x)?;
    let x_skip = Tensor::where_(&first_zero, &one, x)?;
    let grad_at = reverse_cumsum(&g.mul(&x_skip.cumprod(d, None)?)?, d)?;
    Tensor::where_(
        &before,
        &grad_before,
        &Tensor::where_(&first_zero, &grad_at, &zero)?,
    )
}
