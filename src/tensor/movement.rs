//! Views: reshape, transpose, permute, squeeze/unsqueeze, expand, narrow, select, slicing,
//! diagonal, movedim. Views share storage; their gradients are layout changes or a scatter
//! of the gradient into the viewed region.

use super::Tensor;
use crate::autograd::{self, no_grad, SavedList, SavedValue as V};
use crate::error::{index_err, Error, Result};
use crate::layout::Layout;
use crate::shape::{infer_shape, normalize_dim, normalize_insert_dim};
use std::sync::Arc;

/// Re-applies a view to a tensor of the original shape.
pub type ViewFn = Arc<dyn Fn(&Tensor) -> Result<Tensor> + Send + Sync>;

/// Attaches the values a view's node reports as saved (sizes, dims: the view saves no
/// tensor) once the view is built.
fn with_saved(out: Result<Tensor>, saved: impl FnOnce() -> SavedList) -> Result<Tensor> {
    let out = out?;
    autograd::describe(&out, saved);
    Ok(out)
}

impl Tensor {
    /// A view with `layout`, recording `backward` for the gradient.
    fn view_op(
        &self,
        layout: Layout,
        name: &'static str,
        backward: impl Fn(&Tensor) -> Result<Tensor> + Send + Sync + 'static,
    ) -> Result<Tensor> {
        let out = self.view_with_layout(layout)?;
        if autograd::needs_grad(&[self]) {
            autograd::record(&out, name, &[self], move |g, _| {
                Ok(vec![Some(backward(g)?)])
            });
        }
        Ok(out)
    }

    /// A view of a region (narrow, select, slice, diagonal): the gradient is scattered back
    /// (see `Rule::Region`).
    fn region_view(&self, layout: Layout, name: &'static str, redo: ViewFn) -> Result<Tensor> {
        let out = self.view_with_layout(layout)?;
        if autograd::needs_grad(&[self]) {
            let in_shape = self.shape().to_vec();
            let dt = self.dtype();
            let region = redo.clone();
            let full: autograd::graph::BackwardFn =
                Arc::new(move |g, _| Ok(vec![Some(view_scatter(g, &in_shape, dt, redo.clone())?)]));
            autograd::record_rule(
                &out,
                name,
                &[self],
                autograd::graph::Rule::Region { full, region },
            );
        }
        Ok(out)
    }

    pub(crate) fn permute_raw(&self, dims: &[usize]) -> Result<Tensor> {
        self.view_with_layout(self.layout().permute(dims))
    }

    pub fn view(&self, shape: &[i64]) -> Result<Tensor> {
        let _prof = crate::profiler::op("aten::view", &[self]);
        let new_shape = infer_shape("view", shape, self.numel())?;
        match self.layout().view(&new_shape) {
            Some(l) => {
                let in_shape: Vec<i64> = self.shape().iter().map(|&s| s as i64).collect();
                let out = self.view_op(l, "ViewBackward0", move |g| g.reshape(&in_shape));
                with_saved(out, || vec![("self_sym_sizes", V::sizes(self.shape()))])
            }
            None => Err(Error::Runtime(
                "view size is not compatible with input tensor's size and stride (at least one dimension spans across two contiguous subspaces). Use .reshape(...) instead.".into(),
            )),
        }
    }

    /// `reshape`: a view when the strides allow it, a copy otherwise.
    pub fn reshape(&self, shape: &[i64]) -> Result<Tensor> {
        let _prof = crate::profiler::op("aten::reshape", &[self]);
        let new_shape = infer_shape("reshape", shape, self.numel())?;
        if new_shape == self.shape() {
            return self.alias();
        }
        if self.layout().view(&new_shape).is_some() {
            return self.view(shape);
        }
        self.deep_clone()?.view(shape)
    }

    /// A differentiable alias (same data, new autograd identity).
    pub fn alias(&self) -> Result<Tensor> {
        self.view_op(self.layout().clone(), "AliasBackward0", |g| Ok(g.clone()))
    }

    pub fn transpose(&self, a: i64, b: i64) -> Result<Tensor> {
        let _prof = crate::profiler::op("aten::transpose", &[self]);
        let (a, b) = (
            normalize_dim(a, self.ndim())?,
            normalize_dim(b, self.ndim())?,
        );
        if self.ndim() == 0 {
            return self.alias();
        }
        let out = self.view_op(
            self.layout().transpose(a, b),
            "TransposeBackward0",
            move |g| g.transpose(a as i64, b as i64),
        );
        with_saved(out, || vec![("dim0", V::dim(a)), ("dim1", V::dim(b))])
    }

    /// `t()`: transpose of a ≤2-D tensor.
    pub fn t(&self) -> Result<Tensor> {
        let _prof = crate::profiler::op("aten::t", &[self]);
        if self.ndim() > 2 {
            return Err(Error::Runtime(format!(
                "t() expects a tensor with <= 2 dimensions, but self is {}D",
                self.ndim()
            )));
        }
        if self.ndim() < 2 {
            return self.alias();
        }
        self.transpose(0, 1)
    }

    pub fn permute(&self, dims: &[i64]) -> Result<Tensor> {
        let _prof = crate::profiler::op("aten::permute", &[self]);
        if dims.len() != self.ndim() {
            return Err(Error::Runtime(format!(
                "permute(sparse_coo): number of dimensions in the tensor input does not match the length of the desired ordering of dimensions i.e. input.dim() = {} is not equal to len(dims) = {}",
                self.ndim(),
                dims.len()
            )));
        }
        let d = crate::shape::normalize_dims(dims, self.ndim())?;
        let mut inv = vec![0i64; d.len()];
        for (i, &x) in d.iter().enumerate() {
            inv[x] = i as i64;
        }
        let out = self.view_op(self.layout().permute(&d), "PermuteBackward0", move |g| {
            g.permute(&inv)
        });
        with_saved(out, || vec![("dims", V::dims(&d))])
    }

    pub fn movedim(&self, src: &[i64], dst: &[i64]) -> Result<Tensor> {
        if src.len() != dst.len() {
            return Err(Error::Runtime(format!(
                "movedim: Invalid source or destination dims: source ({:?} dims) should contain the same number of dims as destination ({:?} dims)",
                src, dst
            )));
        }
        let n = self.ndim();
        let s = crate::shape::normalize_dims(src, n)?;
        let d = crate::shape::normalize_dims(dst, n)?;
        if n == 0 {
            // dims 0 / -1 of a 0-d tensor: nothing moves.
            return self.alias();
        }
        let mut order: Vec<Option<usize>> = vec![None; n];
        for (&si, &di) in s.iter().zip(&d) {
            order[di] = Some(si);
        }
        let mut rest = (0..n).filter(|x| !s.contains(x));
        let perm: Vec<i64> = order
            .into_iter()
            .map(|o| o.unwrap_or_else(|| rest.next().unwrap_or(0)) as i64)
            .collect();
        self.permute(&perm)
    }

    pub fn unsqueeze(&self, dim: i64) -> Result<Tensor> {
        let _prof = crate::profiler::op("aten::unsqueeze", &[self]);
        let d = normalize_insert_dim(dim, self.ndim())?;
        let in_shape: Vec<i64> = self.shape().iter().map(|&s| s as i64).collect();
        let out = self.view_op(self.layout().unsqueeze(d), "UnsqueezeBackward0", move |g| {
            g.reshape(&in_shape)
        });
        with_saved(out, || vec![("dim", V::dim(d))])
    }

    /// `squeeze()` (all size-1 dims) or `squeeze(dims)`.
    pub fn squeeze_dims(&self, dims: &[usize]) -> Result<Tensor> {
        let keep: Vec<usize> = (0..self.ndim())
            .filter(|&d| !(self.shape()[d] == 1 && (dims.is_empty() || dims.contains(&d))))
            .collect();
        let l = Layout {
            shape: keep.iter().map(|&d| self.shape()[d]).collect(),
            strides: keep.iter().map(|&d| self.strides()[d]).collect(),
            offset: self.offset(),
        };
        let in_shape: Vec<i64> = self.shape().iter().map(|&s| s as i64).collect();
        let out = self.view_op(l, "SqueezeBackward0", move |g| g.reshape(&in_shape));
        with_saved(out, || vec![("self_sym_sizes", V::sizes(self.shape()))])
    }

    pub fn squeeze(&self, dims: Option<&[i64]>) -> Result<Tensor> {
        let _prof = crate::profiler::op("aten::squeeze", &[self]);
        match dims {
            None => self.squeeze_dims(&[]),
            Some(ds) => {
                if self.ndim() == 0 {
                    for &d in ds {
                        normalize_dim(d, 0)?;
                    }
                    return self.alias();
                }
                let d = crate::shape::normalize_dims(ds, self.ndim())?;
                if d.is_empty() {
                    return self.alias();
                }
                self.squeeze_dims(&d)
            }
        }
    }

    pub fn expand(&self, shape: &[usize]) -> Result<Tensor> {
        let _prof = crate::profiler::op("aten::expand", &[self]);
        let l = self.layout().broadcast_to(shape)?;
        let in_shape = self.shape().to_vec();
        let out = self.view_op(l, "ExpandBackward0", move |g| {
            super::binary::sum_to(g, &in_shape)
        });
        with_saved(out, || vec![("self_sym_sizes", V::sizes(self.shape()))])
    }

    /// `expand` with PyTorch's `-1` meaning "keep this size".
    pub fn expand_sizes(&self, sizes: &[i64]) -> Result<Tensor> {
        let n = sizes.len();
        if n < self.ndim() {
            return Err(Error::Runtime(format!(
                "expand(torch.FloatTensor{{{:?}}}, size=[{:?}]): the number of sizes provided ({}) must be greater or equal to the number of dimensions in the tensor ({})",
                self.shape(), sizes, n, self.ndim()
            )));
        }
        let lead = n - self.ndim();
        let mut shape = Vec::with_capacity(n);
        for (i, &s) in sizes.iter().enumerate() {
            if s == -1 {
                if i < lead {
                    return Err(Error::Runtime(
                        "expand: -1 is not allowed in a leading, non-existing dimension".into(),
                    ));
                }
                shape.push(self.shape()[i - lead]);
            } else if s < 0 {
                return Err(Error::Runtime(format!("expand: invalid size {s}")));
            } else {
                shape.push(s as usize);
            }
        }
        self.expand(&shape)
    }

    pub fn narrow(&self, dim: i64, start: usize, len: usize) -> Result<Tensor> {
        let d = normalize_dim(dim, self.ndim())?;
        if self.ndim() == 0 {
            return Err(Error::Runtime(
                "narrow() cannot be applied to a 0-dim tensor.".into(),
            ));
        }
        if start + len > self.shape()[d] {
            return Err(Error::Runtime(format!(
                "start ({start}) + length ({len}) exceeds dimension size ({}).",
                self.shape()[d]
            )));
        }
        let redo: ViewFn = Arc::new(move |t: &Tensor| t.narrow(d as i64, start, len));
        let out = self.region_view(self.layout().narrow(d, start, len), "NarrowBackward0", redo);
        with_saved(out, || self.slice_saved(d, start, start + len, 1))
    }

    /// `x[start:stop:step]` along `dim` (already clamped indices).
    pub fn slice(&self, dim: usize, start: usize, len: usize, step: usize) -> Result<Tensor> {
        let redo: ViewFn = Arc::new(move |t: &Tensor| t.slice(dim, start, len, step));
        let out = self.region_view(
            self.layout().slice(dim, start, len, step),
            "SliceBackward0",
            redo,
        );
        with_saved(out, || {
            let end = (start + len * step).min(self.shape()[dim]);
            self.slice_saved(dim, start, end, step)
        })
    }

    /// `x[i]` along `dim` (negative i allowed).
    pub fn select(&self, dim: i64, index: i64) -> Result<Tensor> {
        if self.ndim() == 0 {
            return Err(index_err("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or `tensor.item<T>()` in C++ to convert a 0-dim tensor to a number"));
        }
        let d = normalize_dim(dim, self.ndim())?;
        let size = self.shape()[d] as i64;
        let i = if index < 0 { index + size } else { index };
        if i < 0 || i >= size {
            return Err(index_err(format!(
                "index {index} is out of bounds for dimension {d} with size {size}"
            )));
        }
        let redo: ViewFn = Arc::new(move |t: &Tensor| t.select(d as i64, i));
        let out = self.region_view(self.layout().select(d, i as usize), "SelectBackward0", redo);
        with_saved(out, || {
            vec![
                ("dim", V::dim(d)),
                ("index", V::Int(i)),
                ("self_sym_sizes", V::sizes(self.shape())),
            ]
        })
    }

    /// `diagonal(offset, dim1, dim2)`: a view, diagonal moved to the last dim.
    pub fn diagonal(&self, offset: i64, dim1: i64, dim2: i64) -> Result<Tensor> {
        let n = self.ndim();
        if n < 2 {
            return Err(Error::Runtime(format!(
                "diagonal: expected a tensor with at least 2 dimensions, got {n}"
            )));
        }
        let (a, b) = (normalize_dim(dim1, n)?, normalize_dim(dim2, n)?);
        if a == b {
            return Err(Error::Runtime(format!(
                "diagonal dimensions cannot be identical {dim1}, {dim2}"
            )));
        }
        let l = self.layout();
        let (sa, sb) = (l.shape[a] as i64, l.shape[b] as i64);
        let len = if offset >= 0 {
            (sa).min(sb - offset).max(0)
        } else {
            (sa + offset).min(sb).max(0)
        } as usize;
        let mut off = l.offset;
        if len > 0 {
            off += if offset >= 0 {
                offset as usize * l.strides[b]
            } else {
                (-offset) as usize * l.strides[a]
            };
        }
        let mut shape = Vec::new();
        let mut strides = Vec::new();
        for d in 0..n {
            if d != a && d != b {
                shape.push(l.shape[d]);
                strides.push(l.strides[d]);
            }
        }
        shape.push(len);
        strides.push(l.strides[a] + l.strides[b]);
        let redo: ViewFn = Arc::new(move |t: &Tensor| t.diagonal(offset, a as i64, b as i64));
        let out = self.region_view(
            Layout {
                shape,
                strides,
                offset: off,
            },
            "DiagonalBackward0",
            redo,
        );
        with_saved(out, || {
            vec![
                ("dim1", V::dim(a)),
                ("dim2", V::dim(b)),
                ("offset", V::Int(offset)),
                ("self_sym_sizes", V::sizes(self.shape())),
            ]
        })
    }

    pub fn flatten(&self, start: i64, end: i64) -> Result<Tensor> {
        let _prof = crate::profiler::op("aten::flatten", &[self]);
        if self.ndim() == 0 {
            return self.reshape(&[1]);
        }
        let (s, e) = (
            normalize_dim(start, self.ndim())?,
            normalize_dim(end, self.ndim())?,
        );
        if s > e {
            return Err(Error::Runtime(
                "flatten() has invalid args: start_dim cannot come after end_dim".into(),
            ));
        }
        let mut shape: Vec<i64> = self.shape()[..s].iter().map(|&x| x as i64).collect();
        shape.push(self.shape()[s..=e].iter().product::<usize>() as i64);
        shape.extend(self.shape()[e + 1..].iter().map(|&x| x as i64));
        self.reshape(&shape)
    }

    pub fn unflatten(&self, dim: i64, sizes: &[i64]) -> Result<Tensor> {
        let d = normalize_dim(dim, self.ndim())?;
        if sizes.is_empty() {
            return Err(Error::Runtime("unflatten: sizes must be non-empty".into()));
        }
        if self.ndim() == 0 {
            return Err(Error::Runtime(
                "unflatten: a 0-dimensional tensor has no dimension to unflatten".into(),
            ));
        }
        let inner = infer_shape("unflatten", sizes, self.shape()[d]).map_err(|_| {
            Error::Runtime(format!(
                "unflatten: Provided sizes {:?} don't multiply up to the size of dim {} ({}) in the input tensor",
                sizes, dim, self.shape()[d]
            ))
        })?;
        let mut shape: Vec<i64> = self.shape()[..d].iter().map(|&x| x as i64).collect();
        shape.extend(inner.iter().map(|&x| x as i64));
        shape.extend(self.shape()[d + 1..].iter().map(|&x| x as i64));
        self.view(&shape).or_else(|_| self.reshape(&shape))
    }

    /// `Tensor.unfold(dim, size, step)`: sliding windows as a new last dim (a view).
    pub fn unfold_dim(&self, dim: i64, size: usize, step: usize) -> Result<Tensor> {
        let d = normalize_dim(dim, self.ndim())?;
        let n = if self.ndim() == 0 { 1 } else { self.shape()[d] };
        if size > n {
            return Err(Error::Runtime(format!(
                "maximum size for tensor at dimension {d} is {n} but size is {size}"
            )));
        }
        if step == 0 {
            return Err(Error::Runtime("step is 0 but must be > 0".into()));
        }
        let l = self.layout();
        let mut shape = l.shape.clone();
        let mut strides = l.strides.clone();
        if self.ndim() == 0 {
            // The window of a 0-d tensor is the tensor itself (size 0 or 1).
            shape.push(size);
            strides.push(1);
        } else {
            shape[d] = (n - size) / step + 1;
            strides[d] = l.strides[d] * step;
            shape.push(size);
            strides.push(l.strides[d]);
        }
        let redo: ViewFn = Arc::new(move |t: &Tensor| t.unfold_dim(d as i64, size, step));
        let out = self.region_view(
            Layout {
                shape,
                strides,
                offset: l.offset,
            },
            "UnfoldBackward0",
            redo,
        );
        with_saved(out, || {
            vec![
                ("dimension", V::dim(d)),
                ("self_sym_sizes", V::sizes(self.shape())),
                ("size", V::dim(size)),
                ("step", V::dim(step)),
            ]
        })
    }
}

impl Tensor {
    /// `as_strided(size, stride, storage_offset)`: a view with any geometry over this tensor's
    /// storage; the offset counts from the start of the storage (this tensor's own offset
    /// when `None`).
    pub fn as_strided(
        &self,
        size: &[i64],
        stride: &[i64],
        storage_offset: Option<i64>,
    ) -> Result<Tensor> {
        if size.len() != stride.len() {
            return Err(Error::Runtime(format!(
                "as_strided: mismatch in length of strides and shape: sizes {size:?}, strides {stride:?}"
            )));
        }
        if let Some(&s) = size.iter().find(|&&s| s < 0) {
            return Err(Error::Runtime(format!(
                "as_strided: negative size {s} in sizes {size:?}"
            )));
        }
        if stride.iter().any(|&s| s < 0) {
            return Err(Error::Runtime(format!(
                "as_strided: negative strides are not supported, got strides {stride:?}"
            )));
        }
        let offset = storage_offset.unwrap_or(self.offset() as i64);
        if offset < 0 {
            return Err(Error::Runtime(format!(
                "as_strided: invalid storage offset {offset}"
            )));
        }
        let layout = Layout {
            shape: size.iter().map(|&s| s as usize).collect(),
            strides: stride.iter().map(|&s| s as usize).collect(),
            offset: offset as usize,
        };
        let storage_len = self.storage().len();
        if layout.numel() > 0 && layout.max_extent() > storage_len {
            return Err(Error::Runtime(format!(
                "as_strided: sizes {size:?}, strides {stride:?} and storage offset {offset} need a \
                 storage of {} elements, but the storage holds {storage_len}",
                layout.max_extent()
            )));
        }
        if !autograd::needs_grad(&[self]) {
            return self.view_with_layout(layout);
        }
        // The gradient lands in a fresh contiguous buffer shaped like the input, so the
        // storage positions must be the input's own elements: a contiguous input, read at or
        // after its first element.
        let start = self.offset();
        if !self.is_contiguous() || layout.offset < start {
            return Err(Error::Runtime(
                "as_strided: the gradient is only available for a contiguous input viewed at or \
                 after its own storage offset; call .contiguous() first"
                    .into(),
            ));
        }
        let (shape, strides, rel) = (
            layout.shape.clone(),
            layout.strides.clone(),
            layout.offset - start,
        );
        let redo: ViewFn = Arc::new(move |t: &Tensor| {
            t.view_with_layout(Layout {
                shape: shape.clone(),
                strides: strides.clone(),
                offset: t.offset() + rel,
            })
        });
        let out = self.region_view(layout, "AsStridedBackward0", redo);
        with_saved(out, || {
            vec![
                ("size", V::Ints(size.to_vec())),
                ("storage_offset", V::Int(offset)),
                ("stride", V::Ints(stride.to_vec())),
            ]
        })
    }

    /// What PyTorch's SliceBackward0 reports.
    fn slice_saved(&self, dim: usize, start: usize, end: usize, step: usize) -> SavedList {
        vec![
            ("dim", V::dim(dim)),
            ("end", V::dim(end)),
            ("self_sym_sizes", V::sizes(self.shape())),
            ("start", V::dim(start)),
            ("step", V::dim(step)),
        ]
    }
}

/// Zeros of `in_shape` with `g` added into the region that `redo` views (overlapping
/// windows accumulate). Differentiable: its backward re-applies the view.
pub fn view_scatter(
    g: &Tensor,
    in_shape: &[usize],
    dt: crate::dtype::DType,
    redo: ViewFn,
) -> Result<Tensor> {
    let out = {
        let _ng = no_grad();
        let _ = dt;
        let z = Tensor::full_on(in_shape, 0.0, g.dtype(), g.device())?;
        let region = redo(&z)?;
        let gd = g.detach().expand(region.shape())?;
        if region.numel() > 0 && region.layout().elements_distinct() {
            gd.copy_into_raw(&region)?;
        } else if region.numel() > 0 {
            // Overlapping windows (unfold with step < size): accumulate at element offsets.
            use super::indexing::{grid_offsets, Bounds};
            let offs = grid_offsets(&region, region.shape(), None, Bounds::Dim)?;
            let base = region.view_with_layout(Layout {
                shape: vec![],
                strides: vec![],
                offset: region.offset(),
            })?;
            z.backend()?
                .put(base.strided(), offs.strided(), gd.strided(), true)?;
        }
        z
    };
    if autograd::needs_grad(&[g]) {
        let r = redo.clone();
        autograd::record(&out, "ViewScatterBackward", &[g], move |gg, _| {
            Ok(vec![Some(r(gg)?)])
        });
    }
    Ok(out)
}

impl Tensor {
    /// Whether no two elements of this tensor share a storage position.
    pub(crate) fn has_distinct_elements(&self) -> bool {
        self.layout().elements_distinct()
    }
}
