//! Joining and rearranging: cat, stack, split, chunk, unbind, repeat, flip, roll, tril/triu.

use super::creation::Scalar;
use super::Tensor;
use crate::autograd::{self, SavedValue};
use crate::dtype::{result_type, DType, Operand};
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::shape::normalize_dim;

impl Tensor {
    /// `torch.cat`: promotes dtypes; legacy 1-D empty tensors are skipped like PyTorch.
    pub fn cat(tensors: &[Tensor], dim: i64) -> Result<Tensor> {
        let _prof = crate::profiler::scope(
            crate::profiler::EventKind::Op,
            || "aten::cat".into(),
            || tensors.iter().map(|t| t.shape().to_vec()).collect(),
        );
        if tensors.is_empty() {
            return Err(Error::Runtime(
                "torch.cat(): expected a non-empty list of Tensors".into(),
            ));
        }
        let parts: Vec<&Tensor> = tensors
            .iter()
            .filter(|t| !(t.ndim() == 1 && t.numel() == 0))
            .collect();
        let dt = result_type(
            &tensors
                .iter()
                .map(|t| Operand::Dim(t.dtype()))
                .collect::<Vec<_>>(),
        );
        if parts.is_empty() {
            return Tensor::zeros(&[0], dt);
        }
        let nd = parts[0].ndim();
        if nd == 0 {
            return Err(Error::Runtime(
                "zero-dimensional tensor (at position 0) cannot be concatenated".into(),
            ));
        }
        let d = normalize_dim(dim, nd)?;
        let mut shape = parts[0].shape().to_vec();
        shape[d] = 0;
        for (i, t) in parts.iter().enumerate() {
            if t.ndim() != nd {
                return Err(Error::Runtime(format!(
                    "Tensors must have same number of dimensions: got {} and {}",
                    nd,
                    t.ndim()
                )));
            }
            for k in 0..nd {
                if k != d && t.shape()[k] != parts[0].shape()[k] {
                    return Err(Error::Runtime(format!(
                        "Sizes of tensors must match except in dimension {}. Expected size {} but got size {} for tensor number {} in the list.",
                        d, parts[0].shape()[k], t.shape()[k], i
                    )));
                }
            }
            shape[d] += t.shape()[d];
        }
        let dev = super::check_same_device("cat", &parts)?;
        let out = Tensor::full_on(&shape, 0i64, dt, dev)?;
        let mut off = 0;
        let mut spans = Vec::new();
        for t in &parts {
            let len = t.shape()[d];
            let region = out.view_with_layout(out.layout().narrow(d, off, len))?;
            t.cast_if(dt)?.copy_into_raw(&region)?;
            spans.push((off, len, t.dtype()));
            off += len;
        }
        let inputs: Vec<&Tensor> = parts.clone();
        if autograd::needs_grad(&inputs) && dt.is_float() {
            autograd::record(&out, "CatBackward0", &inputs, move |g, needs| {
                spans
                    .iter()
                    .zip(needs)
                    .map(|(&(o, l, sdt), &n)| {
                        if !n {
                            return Ok(None);
                        }
                        let part = g.narrow(d as i64, o, l)?;
                        Ok(Some(if sdt != g.dtype() && sdt.is_float() {
                            part.to_dtype(sdt)?
                        } else {
                            part
                        }))
                    })
                    .collect()
            });
            autograd::describe(&out, || vec![("dim", SavedValue::dim(d))]);
        }
        Ok(out)
    }

    /// TRANSITIONAL (panics on allocation failure): prefer `cast_if`.
    /// This tensor as `dt` (itself when it already is; else a contiguous copy, no autograd).
    pub(crate) fn cast_if(&self, dt: DType) -> Result<Tensor> {
        if self.dtype() == dt {
            Ok(self.clone())
        } else {
            self.to_dtype_raw(dt)
        }
    }

    /// Writes this tensor's elements into `dst` (same shape; converted to dst's dtype), no
    /// autograd. `dst` must not overlap this tensor.
    pub(crate) fn copy_into_raw(&self, dst: &Tensor) -> Result<()> {
        if self.shape() != dst.shape() {
            return Err(Error::Runtime(format!(
                "internal error: copying shape {:?} into {:?}",
                self.shape(),
                dst.shape()
            )));
        }
        let src = self.to_device_raw(dst.device())?.cast_if(dst.dtype())?;
        dst.backend()?.copy_into(src.strided(), dst.strided())
    }

    pub fn stack(tensors: &[Tensor], dim: i64) -> Result<Tensor> {
        let _prof = crate::profiler::scope(
            crate::profiler::EventKind::Op,
            || "aten::stack".into(),
            || tensors.iter().map(|t| t.shape().to_vec()).collect(),
        );
        if tensors.is_empty() {
            return Err(Error::Runtime(
                "stack expects a non-empty TensorList".into(),
            ));
        }
        for (i, t) in tensors.iter().enumerate() {
            if t.shape() != tensors[0].shape() {
                return Err(Error::Runtime(format!(
                    "stack expects each tensor to be equal size, but got {:?} at entry 0 and {:?} at entry {}",
                    tensors[0].shape(),
                    t.shape(),
                    i
                )));
            }
        }
        let d = crate::shape::normalize_insert_dim(dim, tensors[0].ndim())?;
        let parts = tensors
            .iter()
            .map(|t| t.unsqueeze(d as i64))
            .collect::<Result<Vec<_>>>()?;
        Tensor::cat(&parts, d as i64)
    }

    /// `split(split_size)`: equal chunks, the last may be smaller.
    pub fn split_size(&self, size: usize, dim: i64) -> Result<Vec<Tensor>> {
        if self.ndim() == 0 {
            return Err(Error::Runtime(
                "split expects at least a 1-dimensional tensor".into(),
            ));
        }
        let d = normalize_dim(dim, self.ndim())?;
        let n = self.shape()[d];
        if size == 0 && n != 0 {
            return Err(Error::Runtime(
                "split_size can only be 0 if dimension size is 0, but got dimension size of "
                    .to_string()
                    + &n.to_string(),
            ));
        }
        let mut out = Vec::new();
        let mut start = 0;
        loop {
            let len = size.min(n - start);
            out.push(self.narrow(d as i64, start, len)?);
            start += len;
            if start >= n {
                break;
            }
        }
        Ok(out)
    }

    /// `split([sizes])`.
    pub fn split_sections(&self, sizes: &[usize], dim: i64) -> Result<Vec<Tensor>> {
        if self.ndim() == 0 {
            return Err(Error::Runtime(
                "split expects at least a 1-dimensional tensor".into(),
            ));
        }
        let d = normalize_dim(dim, self.ndim())?;
        let total: usize = sizes.iter().sum();
        if total != self.shape()[d] {
            return Err(Error::Runtime(format!(
                "split_with_sizes expects split_sizes to sum exactly to {} (input tensor's size at dimension {}), but got split_sizes={:?}",
                self.shape()[d], d, sizes
            )));
        }
        let mut start = 0;
        sizes
            .iter()
            .map(|&l| {
                let t = self.narrow(d as i64, start, l);
                start += l;
                t
            })
            .collect()
    }

    pub fn chunk(&self, chunks: usize, dim: i64) -> Result<Vec<Tensor>> {
        if self.ndim() == 0 {
            return Err(Error::Runtime(
                "chunk expects at least a 1-dimensional tensor".into(),
            ));
        }
        if chunks == 0 {
            return Err(Error::Runtime(
                "chunk expects `chunks` to be greater than 0, got: 0".into(),
            ));
        }
        let d = normalize_dim(dim, self.ndim())?;
        let n = self.shape()[d];
        let size = n.div_ceil(chunks);
        if n == 0 {
            return (0..chunks)
                .map(|_| self.narrow(d as i64, 0, 0))
                .collect::<Result<_>>();
        }
        self.split_size(size.max(1), d as i64)
    }

    pub fn unbind(&self, dim: i64) -> Result<Vec<Tensor>> {
        if self.ndim() == 0 {
            return Err(Error::Runtime(format!(
                "Dimension specified as {dim} but tensor has no dimensions"
            )));
        }
        let d = normalize_dim(dim, self.ndim())?;
        (0..self.shape()[d])
            .map(|i| self.select(d as i64, i as i64))
            .collect()
    }

    pub fn repeat(&self, reps: &[usize]) -> Result<Tensor> {
        if reps.len() < self.ndim() {
            return Err(Error::Runtime(
                "Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor".into(),
            ));
        }
        let lead = reps.len() - self.ndim();
        // A view with a stride-0 repeat axis before each (padded) dim; sizes are checked
        // before anything is allocated.
        let mut shape = Vec::with_capacity(2 * reps.len());
        let mut strides = Vec::with_capacity(2 * reps.len());
        let mut final_shape = Vec::with_capacity(reps.len());
        for (i, &r) in reps.iter().enumerate() {
            let (s, st) = if i < lead {
                (1, 0)
            } else {
                (self.shape()[i - lead], self.strides()[i - lead])
            };
            shape.extend([r, s]);
            strides.extend([0, st]);
            final_shape.push(s.checked_mul(r).ok_or_else(|| {
                Error::Runtime(format!(
                    "Storage size calculation overflowed with sizes={reps:?}"
                ))
            })?);
        }
        crate::shape::checked_numel(&final_shape)?;
        let expanded = shape.clone();
        let e = self.view_with_layout(Layout {
            shape,
            strides,
            offset: self.offset(),
        })?;
        // Always a copy, as in PyTorch.
        let st = self.backend()?.cast(e.strided(), self.dtype())?;
        let out = Tensor::from_kernel(st, &final_shape)?;
        if autograd::needs_grad(&[self]) {
            let in_shape: Vec<i64> = self.shape().iter().map(|&s| s as i64).collect();
            let exp: Vec<i64> = expanded.iter().map(|&s| s as i64).collect();
            let rep_axes: Vec<i64> = (0..reps.len() as i64).map(|i| 2 * i).collect();
            autograd::record(&out, "RepeatBackward0", &[self], move |g, _| {
                let r = g.reshape(&exp)?.sum_dims(&rep_axes, false, None)?;
                Ok(vec![Some(r.reshape(&in_shape)?)])
            });
            autograd::describe(&out, || {
                vec![
                    ("repeats", SavedValue::sizes(reps)),
                    ("self_sym_sizes", SavedValue::sizes(self.shape())),
                ]
            });
        }
        Ok(out)
    }

    pub fn flip(&self, dims: &[i64]) -> Result<Tensor> {
        let ds = crate::shape::normalize_dims(dims, self.ndim())?;
        let mut out = self.clone();
        // A 0-d tensor accepts dim 0/-1 and flips to itself.
        for d in ds.into_iter().filter(|&d| d < self.ndim()) {
            let n = self.shape()[d] as i64;
            let idx = Tensor::arange(
                Scalar::Int(n - 1),
                Scalar::Int(-1),
                Scalar::Int(-1),
                DType::I64,
            )?
            .to_device_raw(self.device())?;
            out = out.index_select(d as i64, &idx)?;
        }
        if out.same(self) {
            out = self.deep_clone()?;
        }
        Ok(out)
    }

    pub fn roll(&self, shifts: &[i64], dims: &[i64]) -> Result<Tensor> {
        if dims.is_empty() {
            if shifts.len() != 1 {
                return Err(Error::Runtime(
                    "roll: shifts must be a single value when dims is not given".into(),
                ));
            }
            let shape: Vec<i64> = self.shape().iter().map(|&s| s as i64).collect();
            return self.flatten(0, -1)?.roll(shifts, &[0])?.reshape(&shape);
        }
        if shifts.len() != dims.len() {
            return Err(Error::Runtime(format!(
                "shifts and dimensions must align. shifts: {}, dims:{}",
                shifts.len(),
                dims.len()
            )));
        }
        let mut out = self.clone();
        for (&s, &dim) in shifts.iter().zip(dims) {
            let d = normalize_dim(dim, self.ndim())?;
            // A 0-d tensor accepts dim 0/-1 and rolls to itself.
            let n = self.shape().get(d).copied().unwrap_or(0) as i64;
            if n == 0 {
                continue;
            }
            let k = s.rem_euclid(n) as usize;
            if k == 0 {
                continue;
            }
            let n = n as usize;
            let tail = out.narrow(d as i64, n - k, k)?;
            let head = out.narrow(d as i64, 0, n - k)?;
            out = Tensor::cat(&[tail, head], d as i64)?;
        }
        if out.same(self) {
            out = self.deep_clone()?;
        }
        Ok(out)
    }

    /// Lower (`upper=false`) or upper triangle of the last two dims.
    pub fn tri(&self, diagonal: i64, upper: bool) -> Result<Tensor> {
        if self.ndim() < 2 {
            return Err(Error::Runtime(format!(
                "{}: input tensor must have at least 2 dimensions",
                if upper { "triu" } else { "tril" }
            )));
        }
        let (r, c) = (self.shape()[self.ndim() - 2], self.shape()[self.ndim() - 1]);
        // mask[i][j] = (j - i) compared with the diagonal, from two aranges.
        let dev = self.device();
        let rows = super::indexing::arange_along(r, 0, 2, dev)?;
        let cols = super::indexing::arange_along(c, 1, 2, dev)?;
        let k = cols.sub(&rows)?;
        let mask = if upper {
            k.ge_scalar(diagonal)?
        } else {
            k.le_scalar(diagonal)?
        };
        Tensor::where_args(
            &mask,
            super::binary::Arg::T(self),
            super::binary::Arg::S(super::creation::Scalar::Int(0)),
        )
        .and_then(|t| {
            if t.dtype() != self.dtype() {
                t.to_dtype(self.dtype())
            } else {
                Ok(t)
            }
        })
    }
}

impl Tensor {
    /// `repeat_interleave(repeats, dim, output_size)`: element `i` along `dim` (the flattened
    /// tensor when `dim` is None) repeated `repeats[i]` times; a one-element `repeats`
    /// applies to every element. Built from a cumsum and index ops (no host loop).
    pub fn repeat_interleave(
        &self,
        repeats: &Tensor,
        dim: Option<i64>,
        output_size: Option<usize>,
    ) -> Result<Tensor> {
        let (x, d) = match dim {
            None => (self.reshape(&[-1])?, 0),
            Some(dm) if self.ndim() == 0 => (self.reshape(&[1])?, normalize_dim(dm, 0)?),
            Some(dm) => (self.clone(), normalize_dim(dm, self.ndim())?),
        };
        let n = x.shape()[d];
        if repeats.ndim() > 1 {
            return Err(Error::Runtime(
                "repeats must be 0-dim or 1-dim tensor".into(),
            ));
        }
        if repeats.dtype() != DType::I64 && repeats.dtype() != DType::I32 {
            return Err(Error::Runtime(
                "repeats has to be Long or Int tensor".into(),
            ));
        }
        let reps = repeats
            .detach()
            .to_device_raw(x.device())?
            .cast_if(DType::I64)?
            .reshape(&[-1])?;
        let reps = if reps.numel() == 1 {
            reps.expand(&[n])?
        } else if reps.numel() != n {
            return Err(Error::Runtime(format!(
                "repeats must have the same size as input along dim, but got repeats.size(0) = {} and input.size({d}) = {n}",
                reps.numel()
            )));
        } else {
            reps
        };
        if n > 0
            && reps
                .lt_scalar(0i64)?
                .all_any(&[], false, false)?
                .item_i64()?
                != 0
        {
            return Err(Error::Runtime("repeats can not be negative".into()));
        }
        // ends[i]: one past the last output position of element i.
        let ends = reps.cumsum(0, None)?;
        let total = if n == 0 {
            0
        } else {
            ends.select(0, n as i64 - 1)?.item_i64()? as usize
        };
        if output_size.is_some_and(|o| o != total) {
            return Err(Error::Runtime(
                "allocated size does not match required size".into(),
            ));
        }
        // Output position j belongs to the element whose range holds it: the number of
        // elements that end at or before j.
        let dev = x.device();
        let ones = Tensor::full_on(&[n], 1i64, DType::I64, dev)?;
        let marks = Tensor::full_on(&[total + 1], 0i64, DType::I64, dev)?
            .index_add(0, &ends, &ones, 1.0)?;
        let group = marks.narrow(0, 0, total)?.cumsum(0, None)?;
        x.index_select(d as i64, &group)
    }
}
