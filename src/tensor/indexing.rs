//! Indexing: Python-style `x[...]` (ints, slices, None, Ellipsis, integer and boolean
//! tensors), gather/scatter, index_select/index_add, masked ops, take, nonzero.

use super::Tensor;
use crate::autograd::{self, no_grad};
use crate::cpu;
use crate::dtype::{DType, Elem};
use crate::error::{index_err, Error, Result};
use crate::shape::{broadcast_shapes, normalize_dim};

/// One item of a Python index expression.
#[derive(Clone, Debug)]
pub enum TensorIndex {
    Int(i64),
    Slice(Option<i64>, Option<i64>, Option<i64>),
    None,
    Ellipsis,
    Tensor(Tensor),
}

/// (broadcast index shape, element offsets, rest shape, rest strides, indexed dims, result
/// position of the broadcast dims).
type AdvancedPlan = (
    Vec<usize>,
    Vec<usize>,
    Vec<usize>,
    Vec<usize>,
    Vec<usize>,
    usize,
);

/// Clamps Python slice bounds like `slice.indices`, for positive steps.
fn slice_bounds(start: Option<i64>, stop: Option<i64>, step: i64, n: usize) -> (usize, usize) {
    let n = n as i64;
    let norm = |v: i64| if v < 0 { (v + n).max(0) } else { v.min(n) };
    let s = start.map(norm).unwrap_or(0);
    let e = stop.map(norm).unwrap_or(n);
    let len = if e > s { (e - s + step - 1) / step } else { 0 };
    (s as usize, len as usize)
}

fn check_index_dtype(t: &Tensor, op: &str) -> Result<()> {
    if t.dtype() != DType::I64 && t.dtype() != DType::I32 {
        return Err(Error::Runtime(format!(
            "{op}(): Expected dtype int32/int64 for index, got {}",
            t.dtype().name()
        )));
    }
    Ok(())
}

/// gather/scatter report a bad index value as a RuntimeError, as PyTorch does.
fn as_runtime(e: Error) -> Error {
    match e {
        Error::Index(m) => Error::Runtime(m),
        e => e,
    }
}

/// Index values as i64, bounds-checked and wrapped for negatives.
fn index_values(idx: &Tensor, size: usize, dim: usize) -> Result<Vec<usize>> {
    let raw: Vec<i64> = crate::with_dtype!(idx.dtype(), T, {
        cpu::gather_contiguous::<T>(idx)
            .into_iter()
            .map(|v| v.to_i64())
            .collect()
    });
    raw.into_iter()
        .map(|v| {
            let w = if v < 0 { v + size as i64 } else { v };
            if w < 0 || w >= size as i64 {
                Err(index_err(format!(
                    "index {v} is out of bounds for dimension {dim} with size {size}"
                )))
            } else {
                Ok(w as usize)
            }
        })
        .collect()
}

impl Tensor {
    /// `x[index]`.
    pub fn get_index(&self, items: &[TensorIndex]) -> Result<Tensor> {
        let (view, adv) = self.basic_index(items)?;
        if adv.iter().all(|a| a.is_none()) {
            // A pure basic index always returns a new view object.
            return Ok(if view.same(self) { self.alias()? } else { view });
        }
        view.index_advanced(&adv)
    }

    /// `x[index] = value`.
    pub fn set_index(&self, items: &[TensorIndex], value: &Tensor) -> Result<()> {
        let (view, adv) = self.basic_index(items)?;
        if adv.iter().all(|a| a.is_none()) {
            return view.copy_(value);
        }
        view.index_put_(&adv, value, false)
    }

    /// Applies ints, slices, None and Ellipsis as a view; returns the per-dim advanced
    /// indices (boolean masks already turned into integer indices).
    fn basic_index(&self, items: &[TensorIndex]) -> Result<(Tensor, Vec<Option<Tensor>>)> {
        let consumed: usize = items
            .iter()
            .map(|i| match i {
                TensorIndex::Int(_) | TensorIndex::Slice(..) => 1,
                TensorIndex::Tensor(t) if t.dtype() == DType::Bool || t.dtype() == DType::U8 => {
                    t.ndim()
                }
                TensorIndex::Tensor(_) => 1,
                _ => 0,
            })
            .sum();
        if consumed > self.ndim() {
            return Err(index_err(format!(
                "too many indices for tensor of dimension {}",
                self.ndim()
            )));
        }
        if items
            .iter()
            .filter(|i| matches!(i, TensorIndex::Ellipsis))
            .count()
            > 1
        {
            return Err(index_err(
                "an index can only have a single ellipsis ('...')",
            ));
        }
        let mut x = self.clone();
        let mut dim = 0usize;
        let mut adv: Vec<Option<Tensor>> = Vec::new();
        for item in items {
            match item {
                TensorIndex::Int(i) => {
                    let size = x.shape()[dim] as i64;
                    if *i < -size || *i >= size {
                        return Err(index_err(format!(
                            "index {i} is out of bounds for dimension {dim} with size {size}"
                        )));
                    }
                    x = x.select(dim as i64, *i)?;
                }
                TensorIndex::Slice(s, e, st) => {
                    let step = st.unwrap_or(1);
                    if step <= 0 {
                        return Err(Error::Value("step must be greater than zero".into()));
                    }
                    let (start, len) = slice_bounds(*s, *e, step, x.shape()[dim]);
                    if !(start == 0 && len == x.shape()[dim] && step == 1) {
                        x = x.slice(dim, start, len, step as usize)?;
                    }
                    adv.push(None);
                    dim += 1;
                }
                TensorIndex::None => {
                    x = x.unsqueeze(dim as i64)?;
                    adv.push(None);
                    dim += 1;
                }
                TensorIndex::Ellipsis => {
                    let skip = self.ndim() - consumed;
                    for _ in 0..skip {
                        adv.push(None);
                    }
                    dim += skip;
                }
                TensorIndex::Tensor(t) => {
                    if t.dtype() == DType::Bool || t.dtype() == DType::U8 {
                        let mask = t.cast_raw_if(DType::Bool);
                        for k in 0..mask.ndim() {
                            if mask.shape()[k] != x.shape()[dim + k] {
                                return Err(index_err(format!(
                                    "The shape of the mask {:?} at index {} does not match the shape of the indexed tensor {:?} at index {}",
                                    mask.shape(), k, x.shape(), dim + k
                                )));
                            }
                        }
                        if mask.ndim() == 0 {
                            // x[True] adds a dim of size 1, x[False] of size 0.
                            x = x.unsqueeze(dim as i64)?;
                            let keep = mask.storage().as_slice::<bool>()[mask.offset()];
                            adv.push(Some(Tensor::from_vec(
                                vec![0i64; keep as usize],
                                &[keep as usize],
                            )?));
                            dim += 1;
                            continue;
                        }
                        let nz = mask.nonzero()?;
                        for k in 0..mask.ndim() {
                            adv.push(Some(nz.select(1, k as i64)?));
                        }
                        dim += mask.ndim();
                    } else {
                        if t.dtype().is_float() {
                            return Err(index_err(
                                "tensors used as indices must be long, int, byte or bool tensors",
                            ));
                        }
                        adv.push(Some(t.cast_raw_if(DType::I64)));
                        dim += 1;
                    }
                }
            }
        }
        while adv.len() < x.ndim() {
            adv.push(None);
        }
        Ok((x, adv))
    }

    /// Storage offsets for advanced indexing: (result shape, element offsets into `self`
    /// for each result position of the indexed dims, remaining-dims layout).
    fn advanced_plan(&self, adv: &[Option<Tensor>]) -> Result<AdvancedPlan> {
        let dims: Vec<usize> = (0..adv.len()).filter(|&d| adv[d].is_some()).collect();
        let mut bshape: Vec<usize> = vec![];
        for &d in &dims {
            let t = adv[d].as_ref().unwrap_or_else(|| unreachable!());
            bshape = broadcast_shapes(&bshape, t.shape()).map_err(|_| {
                index_err(format!(
                    "shape mismatch: indexing tensors could not be broadcast together with shapes {:?}",
                    dims.iter().map(|&d| adv[d].as_ref().map(|t| t.shape().to_vec()).unwrap_or_default()).collect::<Vec<_>>()
                ))
            })?;
        }
        let nb: usize = bshape.iter().product();
        let mut offs = vec![0usize; nb];
        for &d in &dims {
            let t = adv[d]
                .as_ref()
                .unwrap_or_else(|| unreachable!())
                .expand(&bshape)?;
            let v = index_values(&t, self.shape()[d], d)?;
            for (o, i) in offs.iter_mut().zip(v) {
                *o += i * self.strides()[d];
            }
        }
        let rest: Vec<usize> = (0..self.ndim()).filter(|d| !dims.contains(d)).collect();
        let rest_shape: Vec<usize> = rest.iter().map(|&d| self.shape()[d]).collect();
        let rest_strides: Vec<usize> = rest.iter().map(|&d| self.strides()[d]).collect();
        // Adjacent advanced dims keep their place; otherwise they go first (NumPy's rule).
        let adjacent = dims.windows(2).all(|w| w[1] == w[0] + 1);
        let first = if adjacent { dims[0] } else { 0 };
        Ok((bshape, offs, rest_shape, rest_strides, dims, first))
    }

    /// Advanced indexing (`aten::index`).
    pub fn index_advanced(&self, adv: &[Option<Tensor>]) -> Result<Tensor> {
        let (bshape, offs, rest_shape, rest_strides, _dims, first) = self.advanced_plan(adv)?;
        let rest_n: usize = rest_shape.iter().product();
        let out = crate::with_dtype!(self.dtype(), T, {
            let src = self.storage().as_slice::<T>();
            let mut v = Vec::with_capacity(offs.len() * rest_n);
            for &o in &offs {
                crate::layout::for_each_offset(
                    &rest_shape,
                    [&rest_strides],
                    [self.offset() + o],
                    0,
                    rest_n,
                    |[p]| v.push(src[p]),
                );
            }
            let mut shape = bshape.clone();
            shape.extend_from_slice(&rest_shape);
            Tensor::from_vec_unchecked(v, &shape)
        });
        // Move the broadcast dims to where the indexed dims were.
        let out = if first > 0 {
            let nb = bshape.len();
            let nr = rest_shape.len();
            let mut perm: Vec<usize> = (nb..nb + first).collect();
            perm.extend(0..nb);
            perm.extend(nb + first..nb + nr);
            out.permute_raw(&perm)?
        } else {
            out
        };
        if autograd::needs_grad(&[self]) {
            let in_shape = self.shape().to_vec();
            let idx: Vec<Option<Tensor>> = adv.to_vec();
            autograd::record(&out, "IndexBackward0", &[self], move |g, _| {
                let z = Tensor::zeros(&in_shape, g.dtype())?;
                Ok(vec![Some(z.index_put(&idx, g, true)?)])
            });
        }
        Ok(out)
    }

    /// Out-of-place `index_put` (differentiable in self and values).
    pub fn index_put(
        &self,
        adv: &[Option<Tensor>],
        values: &Tensor,
        accumulate: bool,
    ) -> Result<Tensor> {
        let out = self.copy_raw();
        {
            let _g = no_grad();
            out.index_put_raw(adv, values, accumulate)?;
        }
        if autograd::needs_grad(&[self, values]) && out.dtype().is_float() {
            let idx: Vec<Option<Tensor>> = adv.to_vec();
            let vshape = values.shape().to_vec();
            let vdt = values.dtype();
            autograd::record(
                &out,
                "IndexPutBackward0",
                &[self, values],
                move |g, needs| {
                    let gs = if needs[0] {
                        if accumulate {
                            Some(g.clone())
                        } else {
                            let z = Tensor::zeros(&[], g.dtype())?;
                            Some(g.index_put(&idx, &z, false)?)
                        }
                    } else {
                        None
                    };
                    let gv = if needs[1] {
                        let taken = g.index_advanced(&idx)?;
                        let r = super::binary::sum_to(&taken, &vshape)?;
                        Some(if r.dtype() != vdt {
                            r.to_dtype(vdt)?
                        } else {
                            r
                        })
                    } else {
                        None
                    };
                    Ok(vec![gs, gv])
                },
            );
        }
        Ok(out)
    }

    /// In-place `index_put_` (also `x[adv] = v`).
    pub fn index_put_(
        &self,
        adv: &[Option<Tensor>],
        values: &Tensor,
        accumulate: bool,
    ) -> Result<()> {
        if autograd::needs_grad(&[self, values]) {
            let r = self.index_put(adv, values, accumulate)?;
            return self.apply_inplace(&r);
        }
        self.index_put_raw(adv, values, accumulate)?;
        self.storage().bump_version();
        Ok(())
    }

    fn index_put_raw(
        &self,
        adv: &[Option<Tensor>],
        values: &Tensor,
        accumulate: bool,
    ) -> Result<()> {
        let (bshape, offs, rest_shape, rest_strides, _dims, first) = self.advanced_plan(adv)?;
        // The values broadcast to the indexing result's shape (in its final dim order).
        let mut res_shape = rest_shape[..first].to_vec();
        res_shape.extend_from_slice(&bshape);
        res_shape.extend_from_slice(&rest_shape[first..]);
        let v = values.cast_raw_if(self.dtype()).expand(&res_shape).map_err(|_| {
            Error::Runtime(format!(
                "shape mismatch: value tensor of shape {:?} cannot be broadcast to indexing result of shape {:?}",
                values.shape(),
                res_shape
            ))
        })?;
        // Back to (broadcast dims, rest dims) order.
        let v = if first > 0 {
            let nb = bshape.len();
            let mut perm: Vec<usize> = (first..first + nb).collect();
            perm.extend(0..first);
            perm.extend(first + nb..res_shape.len());
            v.permute_raw(&perm)?
        } else {
            v
        };
        let rest_n: usize = rest_shape.iter().product();
        crate::with_dtype!(self.dtype(), T, {
            let vals = cpu::gather_contiguous::<T>(&v);
            // SAFETY: `vals` is a separate buffer.
            let dst = unsafe { self.storage().as_mut_slice::<T>() };
            let mut i = 0;
            for &o in &offs {
                crate::layout::for_each_offset(
                    &rest_shape,
                    [&rest_strides],
                    [self.offset() + o],
                    0,
                    rest_n,
                    |[p]| {
                        dst[p] = if accumulate {
                            add_elem(dst[p], vals[i])
                        } else {
                            vals[i]
                        };
                        i += 1;
                    },
                );
            }
        });
        Ok(())
    }

    /// `index_select(dim, index)`.
    pub fn index_select(&self, dim: i64, index: &Tensor) -> Result<Tensor> {
        check_index_dtype(index, "index_select")?;
        if index.ndim() > 1 {
            return Err(index_err(
                "index_select(): Index is supposed to be a vector",
            ));
        }
        let d = normalize_dim(dim, self.ndim())?;
        let mut adv: Vec<Option<Tensor>> = vec![None; self.ndim().max(1)];
        let x = if self.ndim() == 0 {
            self.reshape(&[1])?
        } else {
            self.clone()
        };
        adv[d] = Some(index.reshape(&[-1])?);
        let r = x.index_advanced(&adv)?;
        if self.ndim() == 0 {
            return r.reshape(&[]);
        }
        Ok(r)
    }

    /// `gather(dim, index)`.
    pub fn gather(&self, dim: i64, index: &Tensor) -> Result<Tensor> {
        if index.dtype() != DType::I64 {
            return Err(Error::Runtime(
                "gather(): Expected dtype int64 for index".into(),
            ));
        }
        let d = normalize_dim(dim, self.ndim())?;
        if index.ndim() != self.ndim() && !(self.ndim() == 0 && index.ndim() <= 1) {
            return Err(Error::Runtime(
                "Index tensor must have the same number of dimensions as input tensor".into(),
            ));
        }
        for k in 0..index.ndim() {
            if k != d && index.shape()[k] > self.shape().get(k).copied().unwrap_or(1) {
                return Err(Error::Runtime(format!(
                    "Size does not match at dimension {k} expected index {:?} to be smaller than self {:?} apart from dimension {d}",
                    index.shape(),
                    self.shape()
                )));
            }
        }
        let size = if self.ndim() == 0 { 1 } else { self.shape()[d] };
        let iv = index_values(index, size, d).map_err(as_runtime)?;
        let il = crate::layout::Layout::contiguous(index.shape());
        let sl = self.layout();
        let out = crate::with_dtype!(self.dtype(), T, {
            let src = self.storage().as_slice::<T>();
            let mut v = Vec::with_capacity(iv.len());
            let mut n = 0;
            let strides: Vec<usize> = (0..index.ndim())
                .map(|k| {
                    if k == d {
                        0
                    } else {
                        sl.strides.get(k).copied().unwrap_or(0)
                    }
                })
                .collect();
            crate::layout::for_each_offset(
                &il.shape,
                [&strides],
                [sl.offset],
                0,
                iv.len(),
                |[p]| {
                    let st = sl.strides.get(d).copied().unwrap_or(0);
                    v.push(src[p + iv[n] * st]);
                    n += 1;
                },
            );
            Tensor::from_vec_unchecked(v, index.shape())
        });
        if autograd::needs_grad(&[self]) {
            let in_shape = self.shape().to_vec();
            let idx = index.clone();
            autograd::record(&out, "GatherBackward0", &[self], move |g, _| {
                Ok(vec![Some(
                    Tensor::zeros(&in_shape, g.dtype())?.scatter_add(d as i64, &idx, g)?,
                )])
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
        if index.dtype() != DType::I64 {
            return Err(Error::Runtime(
                "scatter(): Expected dtype int64 for index".into(),
            ));
        }
        let d = normalize_dim(dim, self.ndim())?;
        if index.ndim() != self.ndim() && self.ndim() > 0 {
            return Err(Error::Runtime(
                "Index tensor must have the same number of dimensions as self tensor".into(),
            ));
        }
        let size = if self.ndim() == 0 { 1 } else { self.shape()[d] };
        let iv = index_values(index, size, d).map_err(as_runtime)?;
        let out = self.copy_raw();
        let srcv = src.cast_raw_if(self.dtype());
        // `src` is read at the index's positions (it may be larger than the index).
        let src_sub = if srcv.ndim() == index.ndim() && srcv.ndim() > 0 {
            let mut s = srcv.clone();
            for k in 0..index.ndim() {
                if index.shape()[k] > s.shape()[k] {
                    return Err(Error::Runtime(format!(
                        "Expected index {:?} to be smaller than src {:?}",
                        index.shape(),
                        src.shape()
                    )));
                }
                s = s.view_with_layout(s.layout().narrow(k, 0, index.shape()[k]))?;
            }
            s
        } else {
            srcv.expand(index.shape())?
        };
        crate::with_dtype!(self.dtype(), T, {
            let vals = cpu::gather_contiguous::<T>(&src_sub);
            // SAFETY: `out` is a fresh tensor.
            let dst = unsafe { out.storage().as_mut_slice::<T>() };
            let ol = out.layout().clone();
            let strides: Vec<usize> = (0..index.ndim())
                .map(|k| if k == d { 0 } else { ol.strides[k] })
                .collect();
            let st = ol.strides.get(d).copied().unwrap_or(0);
            let mut n = 0;
            crate::layout::for_each_offset(index.shape(), [&strides], [0], 0, iv.len(), |[p]| {
                let q = p + iv[n] * st;
                dst[q] = if reduce_add {
                    add_elem(dst[q], vals[n])
                } else {
                    vals[n]
                };
                n += 1;
            });
        });
        if autograd::needs_grad(&[self, src]) && out.dtype().is_float() {
            let idx = index.clone();
            let src_shape = src.shape().to_vec();
            let same_nd = src.ndim() == index.ndim();
            autograd::record(
                &out,
                if reduce_add {
                    "ScatterAddBackward0"
                } else {
                    "ScatterBackward0"
                },
                &[self, src],
                move |g, needs| {
                    let gs = if needs[0] {
                        if reduce_add {
                            Some(g.clone())
                        } else {
                            Some(g.scatter(
                                d as i64,
                                &idx,
                                &Tensor::zeros(idx.shape(), g.dtype())?,
                            )?)
                        }
                    } else {
                        None
                    };
                    let gsrc = if needs[1] {
                        let taken = g.gather(d as i64, &idx)?;
                        if same_nd && taken.shape() != src_shape.as_slice() {
                            let z = Tensor::zeros(&src_shape, g.dtype())?;
                            let mut region = z.clone();
                            for k in 0..idx.ndim() {
                                region = region.view_with_layout(region.layout().narrow(
                                    k,
                                    0,
                                    idx.shape()[k],
                                ))?;
                            }
                            region.write_raw(&taken.detach())?;
                            Some(z)
                        } else {
                            Some(super::binary::sum_to(&taken, &src_shape)?)
                        }
                    } else {
                        None
                    };
                    Ok(vec![gs, gsrc])
                },
            );
        }
        Ok(out)
    }

    pub fn scatter(&self, dim: i64, index: &Tensor, src: &Tensor) -> Result<Tensor> {
        self.scatter_impl(dim, index, src, false)
    }
    pub fn scatter_add(&self, dim: i64, index: &Tensor, src: &Tensor) -> Result<Tensor> {
        self.scatter_impl(dim, index, src, true)
    }

    /// `index_add(dim, index, source, alpha)`.
    pub fn index_add(
        &self,
        dim: i64,
        index: &Tensor,
        source: &Tensor,
        alpha: f64,
    ) -> Result<Tensor> {
        check_index_dtype(index, "index_add")?;
        let d = normalize_dim(dim, self.ndim())?;
        let mut adv: Vec<Option<Tensor>> = vec![None; self.ndim()];
        adv[d] = Some(index.reshape(&[-1])?);
        let src = if alpha != 1.0 {
            source.mul_scalar(alpha)?
        } else {
            source.clone()
        };
        // index_put with accumulate expects the indexed dim first when it is not dim 0.
        self.index_put(&adv, &src, true)
    }

    /// `masked_fill(mask, value)`.
    pub fn masked_fill(&self, mask: &Tensor, value: &Tensor) -> Result<Tensor> {
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

    /// `take(index)`: indexes the flattened tensor.
    pub fn take(&self, index: &Tensor) -> Result<Tensor> {
        check_index_dtype(index, "take")?;
        let flat = self.reshape(&[-1])?;
        let r = flat.index_advanced(&[Some(index.reshape(&[-1])?)])?;
        r.reshape(&index.shape().iter().map(|&s| s as i64).collect::<Vec<_>>())
    }

    /// `nonzero()`: (n, ndim) int64 indices in row-major order.
    pub fn nonzero(&self) -> Result<Tensor> {
        let flags = crate::with_dtype!(self.dtype(), T, {
            cpu::map::<T, bool>(self, |v| v.is_nonzero())
        });
        let nd = self.ndim();
        let mut out = Vec::new();
        let mut count = 0;
        let shape = self.shape();
        for (lin, &f) in flags.iter().enumerate() {
            if f {
                let mut rem = lin;
                let mut idx = vec![0i64; nd];
                for d in (0..nd).rev() {
                    idx[d] = (rem % shape[d]) as i64;
                    rem /= shape[d];
                }
                out.extend(idx);
                count += 1;
            }
        }
        Tensor::from_vec(out, &[count, nd])
    }
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
