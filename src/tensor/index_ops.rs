//! Index ops along one dim: gather/scatter, index_select/add/copy/fill, masked ops, take,
//! nonzero. Each validates its arguments as PyTorch does and runs on the offsets primitives
//! (`index_offsets` + `take`/`put`).

use super::indexing::{grid_offsets, Bounds, TensorIndex};
use super::Tensor;
use crate::autograd::{self, SavedValue};
use crate::dtype::DType;
use crate::error::{index_err, Error, Result};
use crate::layout::Layout;
use crate::shape::{broadcast_shapes, normalize_dim};

fn check_index_dtype(t: &Tensor, op: &str) -> Result<()> {
    if t.dtype() != DType::I64 && t.dtype() != DType::I32 {
        return Err(Error::Runtime(format!(
            "{op}(): Expected dtype int32/int64 for index, got {}",
            t.dtype().name()
        )));
    }
    Ok(())
}

/// A raw (no autograd) view of a 0-d tensor as shape `[1]`; other tensors unchanged.
fn at_least_1d(t: &Tensor) -> Result<Tensor> {
    if t.ndim() > 0 {
        return Ok(t.clone());
    }
    t.view_with_layout(Layout {
        shape: vec![1],
        strides: vec![1],
        offset: t.offset(),
    })
}

/// A raw view of the single element at `t`'s offset (the base of a gather/scatter).
fn base_view(t: &Tensor) -> Result<Tensor> {
    t.view_with_layout(Layout {
        shape: vec![],
        strides: vec![],
        offset: t.offset(),
    })
}

/// The sizes as PyTorch prints them: `[2, 3]`.
fn sizes(shape: &[usize]) -> String {
    format!("{shape:?}")
}

impl Tensor {
    /// The shared setup of the `index_*` ops along `d`: a 0-d tensor is lifted to one
    /// element, and `index` (flattened) becomes the advanced index of dim `d`.
    fn along_dim_index(
        &self,
        d: usize,
        index: &Tensor,
    ) -> Result<(bool, Tensor, Vec<Option<Tensor>>)> {
        let scalar = self.ndim() == 0;
        let x = if scalar {
            self.reshape(&[1])?
        } else {
            self.clone()
        };
        let mut adv: Vec<Option<Tensor>> = vec![None; x.ndim()];
        adv[d] = Some(index.reshape(&[-1])?);
        Ok((scalar, x, adv))
    }

    /// `gather(dim, index)`: `out[i][j] = self[i][index[i][j]]` (dim 1); negative indices are
    /// errors.
    pub fn gather(&self, dim: i64, index: &Tensor) -> Result<Tensor> {
        let _prof = crate::profiler::op("aten::gather", &[self, index]);
        if index.dtype() != DType::I64 {
            return Err(Error::Runtime(
                "gather(): Expected dtype int64 for index".into(),
            ));
        }
        super::check_same_device("gather", &[self, index])?;
        let d = normalize_dim(dim, self.ndim())?;
        if index.ndim().max(1) != self.ndim().max(1) {
            return Err(Error::Runtime(
                "Index tensor must have the same number of dimensions as input tensor".into(),
            ));
        }
        let x = at_least_1d(self)?;
        let idx = at_least_1d(index)?;
        for k in 0..idx.ndim() {
            if k != d && idx.shape()[k] > x.shape()[k] {
                return Err(Error::Runtime(format!(
                    "Size does not match at dimension {k} expected index {:?} to be smaller than self {:?} apart from dimension {d}",
                    index.shape(),
                    self.shape()
                )));
            }
        }
        let out = if idx.numel() == 0 {
            Tensor::full_on(index.shape(), 0i64, self.dtype(), self.device())?
        } else {
            let offs = grid_offsets(&x, idx.shape(), Some((d, &idx)), Bounds::DimRuntime)?;
            let st = self
                .backend()?
                .take(base_view(&x)?.strided(), offs.strided())?;
            Tensor::from_kernel(st, index.shape())?
        };
        if autograd::needs_grad(&[self]) {
            let in_shape = self.shape().to_vec();
            let idx = index.clone();
            autograd::record(&out, "GatherBackward0", &[self], move |g, _| {
                let z = Tensor::full_on(&in_shape, 0.0, g.dtype(), g.device())?;
                Ok(vec![Some(z.scatter_add(d as i64, &idx, g)?)])
            });
            autograd::describe(&out, || {
                vec![
                    ("dim", SavedValue::dim(d)),
                    ("index", SavedValue::tensor(index)),
                    ("sparse_grad", SavedValue::Bool(false)),
                ]
            });
        }
        Ok(out)
    }

    fn scatter_impl(
        &self,
        dim: i64,
        index: &Tensor,
        src: &Tensor,
        reduce_add: bool,
    ) -> Result<Tensor> {
        let op = if reduce_add { "scatter_add" } else { "scatter" };
        let _prof = crate::profiler::op(
            if reduce_add {
                "aten::scatter_add"
            } else {
                "aten::scatter"
            },
            &[self, index, src],
        );
        if index.dtype() != DType::I64 {
            return Err(Error::Runtime(format!(
                "{op}(): Expected dtype int64 for index"
            )));
        }
        super::check_same_device(op, &[self, index, src])?;
        let d = normalize_dim(dim, self.ndim())?;
        let nonempty = index.numel() > 0;
        if nonempty {
            if index.ndim().max(1) != self.ndim().max(1) {
                return Err(Error::Runtime(
                    "Index tensor must have the same number of dimensions as self tensor".into(),
                ));
            }
            if src.ndim().max(1) != index.ndim().max(1) {
                return Err(Error::Runtime(
                    "Index tensor must have the same number of dimensions as src tensor".into(),
                ));
            }
            let size = |t: &Tensor, k: usize| t.shape().get(k).copied().unwrap_or(1);
            let wrong = (0..index.ndim().max(1)).any(|k| {
                (k != d && size(index, k) > size(self, k)) || size(index, k) > size(src, k)
            });
            if wrong {
                return Err(Error::Runtime(format!(
                    "Expected index {} to be smaller than self {} apart from dimension {d} and to be smaller size than src {}",
                    sizes(index.shape()),
                    sizes(self.shape()),
                    sizes(src.shape())
                )));
            }
        }
        let out = self.to_dtype_raw(self.dtype())?;
        if nonempty {
            let (outx, idx) = (at_least_1d(&out)?, at_least_1d(index)?);
            // `src` is read at the index's positions (it may be larger than the index).
            let mut s = at_least_1d(&src.cast_if(self.dtype())?)?;
            for k in 0..idx.ndim() {
                s = s.view_with_layout(s.layout().narrow(k, 0, idx.shape()[k]))?;
            }
            let offs = grid_offsets(&outx, idx.shape(), Some((d, &idx)), Bounds::DimRuntime)?;
            self.backend()?.put(
                base_view(&outx)?.strided(),
                offs.strided(),
                s.strided(),
                reduce_add,
            )?;
        }
        if autograd::needs_grad(&[self, src]) && out.dtype().is_float() {
            let idx = index.clone();
            let src_shape = src.shape().to_vec();
            let name = if reduce_add {
                "ScatterAddBackward0"
            } else {
                "ScatterBackward0"
            };
            autograd::record(&out, name, &[self, src], move |g, needs| {
                let gs = match (needs[0], reduce_add) {
                    (false, _) => None,
                    (true, true) => Some(g.clone()),
                    (true, false) => {
                        let z = Tensor::full_on(idx.shape(), 0.0, g.dtype(), g.device())?;
                        Some(g.scatter(d as i64, &idx, &z)?)
                    }
                };
                let gsrc = if needs[1] {
                    Some(scatter_src_grad(g, &idx, d, &src_shape)?)
                } else {
                    None
                };
                Ok(vec![gs, gsrc])
            });
            autograd::describe(&out, || {
                vec![
                    ("dim", SavedValue::dim(d)),
                    ("index", SavedValue::tensor(index)),
                ]
            });
        }
        Ok(out)
    }

    pub fn scatter(&self, dim: i64, index: &Tensor, src: &Tensor) -> Result<Tensor> {
        self.scatter_impl(dim, index, src, false)
    }
    pub fn scatter_add(&self, dim: i64, index: &Tensor, src: &Tensor) -> Result<Tensor> {
        self.scatter_impl(dim, index, src, true)
    }

    /// `index_select(dim, index)`: negative indices are errors ("index out of range in self").
    pub fn index_select(&self, dim: i64, index: &Tensor) -> Result<Tensor> {
        let _prof = crate::profiler::op("aten::index_select", &[self, index]);
        check_index_dtype(index, "index_select")?;
        super::check_same_device("index_select", &[self, index])?;
        if index.ndim() > 1 {
            return Err(index_err(
                "index_select(): Index is supposed to be a vector",
            ));
        }
        let d = normalize_dim(dim, self.ndim())?;
        if self.ndim() == 0 {
            if index.numel() != 1 {
                return Err(index_err(format!(
                    "index_select(): Index to scalar can have only 1 value, got {} value(s)",
                    index.numel()
                )));
            }
            let r = self.reshape(&[1])?.index_take(
                &[Some(index.reshape(&[-1])?)],
                false,
                Bounds::InSelf,
            )?;
            return r.reshape(&[]);
        }
        let mut adv: Vec<Option<Tensor>> = vec![None; self.ndim()];
        adv[d] = Some(index.reshape(&[-1])?);
        self.index_take(&adv, false, Bounds::InSelf)
    }

    /// index_add / index_copy: `source` written (or added) at `index` along `dim`.
    fn index_write(
        &self,
        op: &str,
        dim: i64,
        index: &Tensor,
        source: &Tensor,
        accumulate: bool,
        bounds: Bounds,
    ) -> Result<Tensor> {
        check_index_dtype(index, op)?;
        super::check_same_device(op, &[self, index, source])?;
        let d = normalize_dim(dim, self.ndim())?;
        if index.ndim() > 1 {
            return Err(index_err(format!(
                "{op}_(): Index is supposed to be a vector"
            )));
        }
        let n = index.numel();
        let src_n = if source.ndim() == 0 {
            1
        } else {
            source.shape().get(d).copied().unwrap_or(0)
        };
        if n != src_n {
            return Err(Error::Runtime(format!(
                "{op}_(): Number of indices ({n}) should be equal to source.size(dim) ({src_n})"
            )));
        }
        if source.ndim() > 0
            && (source.ndim() != self.ndim().max(1)
                || (0..source.ndim()).any(|k| k != d && source.shape()[k] != self.shape()[k]))
        {
            return Err(Error::Runtime(format!(
                "source tensor shape must match self tensor shape, excluding the specified dimension. Got self.shape = {} source.shape = {}",
                sizes(self.shape()),
                sizes(source.shape())
            )));
        }
        let (scalar, x, adv) = self.along_dim_index(d, index)?;
        let src = if source.ndim() == 0 {
            source.reshape(&[1])?
        } else {
            source.clone()
        };
        let r = x.index_put_checked(&adv, &src, accumulate, false, bounds)?;
        if scalar {
            r.reshape(&[])
        } else {
            Ok(r)
        }
    }

    /// `index_add(dim, index, source, alpha)`.
    pub fn index_add(
        &self,
        dim: i64,
        index: &Tensor,
        source: &Tensor,
        alpha: f64,
    ) -> Result<Tensor> {
        let _prof = crate::profiler::op("aten::index_add", &[self, index, source]);
        let src = if alpha != 1.0 {
            source.mul_scalar(alpha)?
        } else {
            source.clone()
        };
        self.index_write("index_add", dim, index, &src, true, Bounds::InSelf)
    }

    /// `index_copy(dim, index, source)`.
    pub fn index_copy(&self, dim: i64, index: &Tensor, source: &Tensor) -> Result<Tensor> {
        let _prof = crate::profiler::op("aten::index_copy", &[self, index, source]);
        self.index_write("index_copy", dim, index, source, false, Bounds::IndexCopy)
    }

    /// `index_fill(dim, index, value)`: negative indices count from the end (as PyTorch).
    pub fn index_fill(&self, dim: i64, index: &Tensor, value: &Tensor) -> Result<Tensor> {
        let _prof = crate::profiler::op("aten::index_fill", &[self, index]);
        if index.dtype() != DType::I64 {
            return Err(index_err("index_fill_(): Expected dtype int64 for index."));
        }
        if index.ndim() > 1 {
            return Err(index_err("index_fill_(): Index has to be a vector/scalar"));
        }
        if value.ndim() != 0 {
            return Err(Error::Runtime(format!(
                "index_fill_ only supports a 0-dimensional value tensor, but got tensor with {} dimension(s).",
                value.ndim()
            )));
        }
        super::check_same_device("index_fill", &[self, index])?;
        let d = normalize_dim(dim, self.ndim())?;
        let (scalar, x, adv) = self.along_dim_index(d, index)?;
        let v = value.to_device_raw(self.device())?.to_dtype(self.dtype())?;
        let r = x.index_put_checked(&adv, &v, false, true, Bounds::Dim)?;
        if scalar {
            r.reshape(&[])
        } else {
            Ok(r)
        }
    }

    /// `masked_fill(mask, value)`.
    pub fn masked_fill(&self, mask: &Tensor, value: &Tensor) -> Result<Tensor> {
        let _prof = crate::profiler::op("aten::masked_fill", &[self, mask]);
        if mask.dtype() != DType::Bool {
            return Err(Error::Runtime(format!(
                "masked_fill_ only supports boolean masks, but got mask with dtype {}",
                mask.dtype().name()
            )));
        }
        if value.ndim() != 0 {
            return Err(Error::Runtime(format!(
                "masked_fill_ only supports a 0-dimensional value tensor, but got tensor with {} dimension(s).",
                value.ndim()
            )));
        }
        let shape = broadcast_shapes(self.shape(), mask.shape())?;
        if shape != self.shape() {
            // PyTorch broadcasts the mask to self only.
            return self.expand(&shape)?.masked_fill(mask, value);
        }
        let v = value.to_dtype(self.dtype())?;
        Tensor::where_(mask, &v, self)
    }

    pub fn masked_select(&self, mask: &Tensor) -> Result<Tensor> {
        let _prof = crate::profiler::op("aten::masked_select", &[self, mask]);
        if mask.dtype() != DType::Bool {
            return Err(Error::Runtime(
                "masked_select: expected BoolTensor for mask".into(),
            ));
        }
        let shape = broadcast_shapes(self.shape(), mask.shape())?;
        let x = self.expand(&shape)?;
        let m = mask.expand(&shape)?;
        x.get_index(&[TensorIndex::Tensor(m.contiguous()?)])
    }

    /// `take(index)`: indexes the flattened tensor; negative indices count from the end.
    pub fn take(&self, index: &Tensor) -> Result<Tensor> {
        let _prof = crate::profiler::op("aten::take", &[self, index]);
        check_index_dtype(index, "take")?;
        super::check_same_device("take", &[self, index])?;
        let flat = self.reshape(&[-1])?;
        let r = flat.index_take(&[Some(index.reshape(&[-1])?)], true, Bounds::Take)?;
        r.reshape(&index.shape().iter().map(|&s| s as i64).collect::<Vec<_>>())
    }

    /// `nonzero()`: (n, ndim) int64 indices in row-major order.
    pub fn nonzero(&self) -> Result<Tensor> {
        let _prof = crate::profiler::op("aten::nonzero", &[self]);
        let (st, n) = self.backend()?.nonzero(self.strided())?;
        Tensor::from_kernel(st, &[n, self.ndim()])
    }
}

/// The gradient of scatter's `src`: `g` gathered at the index positions, zero where `src` is
/// larger than the index.
fn scatter_src_grad(g: &Tensor, idx: &Tensor, d: usize, src_shape: &[usize]) -> Result<Tensor> {
    let taken = g.gather(d as i64, idx)?;
    if taken.shape() == src_shape {
        return Ok(taken);
    }
    if taken.numel() == 0 {
        return Tensor::full_on(src_shape, 0.0, g.dtype(), g.device());
    }
    if src_shape.len() != idx.ndim() {
        // A 0-d src with a one-element index.
        return taken.reshape(&[]);
    }
    let z = Tensor::full_on(src_shape, 0.0, g.dtype(), g.device())?;
    let mut region = z.clone();
    for k in 0..idx.ndim() {
        region = region.view_with_layout(region.layout().narrow(k, 0, idx.shape()[k]))?;
    }
    taken.detach().copy_into_raw(&region)?;
    Ok(z)
}
