//! Indexing: Python-style `x[...]` (ints, slices, None, Ellipsis, integer and boolean
//! tensors), gather/scatter, index_select/index_add, masked ops, take, nonzero.

use super::Tensor;
use crate::autograd::{self, no_grad, SavedValue};
use crate::backend::{IndexDim, Offsets};
use crate::dtype::DType;
use crate::error::{index_err, Error, Result};
use crate::layout::Layout;
use crate::shape::broadcast_shapes;

/// One item of a Python index expression.
#[derive(Clone, Debug)]
pub enum TensorIndex {
    Int(i64),
    Slice(Option<i64>, Option<i64>, Option<i64>),
    None,
    Ellipsis,
    Tensor(Tensor),
}

/// Clamps Python slice bounds like `slice.indices`, for positive steps.
fn slice_bounds(start: Option<i64>, stop: Option<i64>, step: i64, n: usize) -> (usize, usize) {
    let n = n as i64;
    let norm = |v: i64| if v < 0 { (v + n).max(0) } else { v.min(n) };
    let s = start.map(norm).unwrap_or(0);
    let e = stop.map(norm).unwrap_or(n);
    let len = if e > s { (e - s + step - 1) / step } else { 0 };
    (s as usize, len as usize)
}

/// How an invalid index value is reported (each op words it as PyTorch does).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Bounds {
    /// IndexError "index {v} is out of bounds for dimension {d} with size {n}".
    Dim,
    /// The same text as a RuntimeError (gather, scatter).
    DimRuntime,
    /// IndexError "index out of range in self" (index_select, index_add).
    InSelf,
    /// IndexError "index_copy_(): index {v} is out of bounds ...".
    IndexCopy,
    /// IndexError "out of range: tried to access index {v} on a tensor of {n} elements." (take)
    Take,
}

impl Bounds {
    fn error(self, v: i64, dim: usize, size: usize) -> Error {
        let text = format!("index {v} is out of bounds for dimension {dim} with size {size}");
        match self {
            Bounds::Dim => Error::Index(text),
            Bounds::DimRuntime => Error::Runtime(text),
            Bounds::InSelf => Error::Index("index out of range in self".into()),
            Bounds::IndexCopy => Error::Index(format!("index_copy_(): {text}")),
            Bounds::Take => Error::Index(format!(
                "out of range: tried to access index {v} on a tensor of {size} elements."
            )),
        }
    }
}

/// Element offsets into `base`'s layout for `(index, dim)` pairs (int64 indices that
/// broadcast to `shape`), validated by the backend: negatives count from the end with `wrap`,
/// else they are invalid like values past the end.
pub(crate) fn index_offsets(
    base: &Tensor,
    idx: &[(Tensor, usize)],
    shape: &[usize],
    wrap: bool,
    bounds: Bounds,
) -> Result<Tensor> {
    let views = idx
        .iter()
        .map(|(t, _)| t.view_with_layout(t.layout().broadcast_to(shape)?))
        .collect::<Result<Vec<_>>>()?;
    let dims: Vec<IndexDim> = views
        .iter()
        .zip(idx)
        .map(|(v, &(_, d))| IndexDim {
            index: v.strided(),
            size: base.shape()[d],
            stride: base.strides()[d],
        })
        .collect();
    match base.backend()?.index_offsets(&dims, shape, wrap)? {
        Offsets::Ok(st) => Tensor::from_kernel(st, shape),
        Offsets::OutOfBounds { pos, value } => {
            let d = idx[pos].1;
            Err(bounds.error(value, d, base.shape()[d]))
        }
    }
}

/// `0..n` as int64 on `device`, shaped to lie along dim `k` of `nd` dims.
pub(crate) fn arange_along(
    n: usize,
    k: usize,
    nd: usize,
    device: crate::device::Device,
) -> Result<Tensor> {
    use super::creation::Scalar;
    let r = Tensor::arange(
        Scalar::Int(0),
        Scalar::Int(n as i64),
        Scalar::Int(1),
        DType::I64,
    )?
    .to_device_raw(device)?;
    let mut shape = vec![1usize; nd];
    shape[k] = n;
    r.view_with_layout(Layout::contiguous(&shape))
}

/// Offsets of every position of `shape` in `base`'s layout, where dim `d` of `along` takes
/// its positions from the index tensor instead of a plain range (gather/scatter).
pub(crate) fn grid_offsets(
    base: &Tensor,
    shape: &[usize],
    along: Option<(usize, &Tensor)>,
    bounds: Bounds,
) -> Result<Tensor> {
    let nd = shape.len();
    let mut idx = Vec::with_capacity(nd);
    for (k, &n) in shape.iter().enumerate() {
        match along {
            Some((d, index)) if d == k => idx.push((index.clone(), k)),
            // A single position adds nothing.
            _ if n == 1 => {}
            _ => idx.push((arange_along(n, k, nd, base.device())?, k)),
        }
    }
    index_offsets(base, &idx, shape, false, bounds)
}

/// The advanced-indexing plan: offsets of each broadcast index position, the view of the
/// remaining dims (based at `self`'s offset), and where the broadcast dims go in the result.
pub(crate) struct Plan {
    bshape: Vec<usize>,
    offsets: Tensor,
    rest: Layout,
    first: usize,
}

impl Tensor {
    /// `x[index]`.
    pub fn get_index(&self, items: &[TensorIndex]) -> Result<Tensor> {
        let _prof = crate::profiler::op("aten::index", &[self]);
        let (view, adv) = self.basic_index(items)?;
        if adv.iter().all(|a| a.is_none()) {
            // A pure basic index always returns a new view object.
            return Ok(if view.same(self) { self.alias()? } else { view });
        }
        view.index_advanced(&adv)
    }

    /// `x[index] = value`.
    pub fn set_index(&self, items: &[TensorIndex], value: &Tensor) -> Result<()> {
        let _prof = crate::profiler::op("aten::index_put_", &[self, value]);
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
                        let mask = t.cast_if(DType::Bool)?;
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
                            let keep = mask.item_i64()? as usize;
                            adv.push(Some(Tensor::full_on(
                                &[keep],
                                0i64,
                                DType::I64,
                                x.device(),
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
                        adv.push(Some(t.cast_if(DType::I64)?));
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

    /// Boolean (or uint8) masks among `index_put_` indices become their nonzero columns.
    fn masks_to_indices(adv: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> {
        let mut out = Vec::with_capacity(adv.len());
        for a in adv {
            match a {
                Some(t) if t.dtype() == DType::Bool || t.dtype() == DType::U8 => {
                    let nz = t.nonzero()?;
                    for k in 0..t.ndim() {
                        out.push(Some(nz.select(1, k as i64)?));
                    }
                }
                a => out.push(a.clone()),
            }
        }
        Ok(out)
    }

    fn advanced_plan(&self, adv: &[Option<Tensor>], wrap: bool, bounds: Bounds) -> Result<Plan> {
        if adv.len() > self.ndim() {
            return Err(index_err(format!(
                "too many indices for tensor of dimension {}",
                self.ndim()
            )));
        }
        let dims: Vec<usize> = (0..adv.len()).filter(|&d| adv[d].is_some()).collect();
        let mut idx: Vec<(Tensor, usize)> = Vec::with_capacity(dims.len());
        let mut bshape: Vec<usize> = vec![];
        for &d in &dims {
            let Some(t) = adv[d].as_ref() else { continue };
            if t.dtype().is_float() || t.dtype() == DType::Bool {
                return Err(index_err(
                    "tensors used as indices must be long, int, byte or bool tensors",
                ));
            }
            bshape = broadcast_shapes(&bshape, t.shape()).map_err(|_| {
                index_err(format!(
                    "shape mismatch: indexing tensors could not be broadcast together with shapes {:?}",
                    dims.iter().map(|&d| adv[d].as_ref().map(|t| t.shape().to_vec()).unwrap_or_default()).collect::<Vec<_>>()
                ))
            })?;
            // Index tensors may live on the host (PyTorch accepts CPU indices).
            idx.push((t.to_device_raw(self.device())?.cast_if(DType::I64)?, d));
        }
        let offsets = index_offsets(self, &idx, &bshape, wrap, bounds)?;
        let rest: Vec<usize> = (0..self.ndim()).filter(|d| !dims.contains(d)).collect();
        let rest_layout = Layout {
            shape: rest.iter().map(|&d| self.shape()[d]).collect(),
            strides: rest.iter().map(|&d| self.strides()[d]).collect(),
            offset: self.offset(),
        };
        // Adjacent advanced dims keep their place; otherwise they go first (NumPy's rule).
        let adjacent = dims.windows(2).all(|w| w[1] == w[0] + 1);
        let first = if adjacent {
            dims.first().copied().unwrap_or(0)
        } else {
            0
        };
        Ok(Plan {
            bshape,
            offsets,
            rest: rest_layout,
            first,
        })
    }

    /// Advanced indexing (`aten::index`): negative indices count from the end.
    pub fn index_advanced(&self, adv: &[Option<Tensor>]) -> Result<Tensor> {
        self.index_take(adv, true, Bounds::Dim)
    }

    /// Advanced indexing with the given index rule (index_select, take, …).
    pub(crate) fn index_take(
        &self,
        adv: &[Option<Tensor>],
        wrap: bool,
        bounds: Bounds,
    ) -> Result<Tensor> {
        let p = self.advanced_plan(adv, wrap, bounds)?;
        let nb = p.bshape.len();
        let nr = p.rest.ndim();
        let mut shape = p.bshape.clone();
        shape.extend_from_slice(&p.rest.shape);
        let out = if crate::shape::checked_numel(&shape)? == 0 {
            // Nothing to read (the rest view may not even fit an empty storage).
            Tensor::full_on(&shape, 0i64, self.dtype(), self.device())?
        } else {
            let rest = self.view_with_layout(p.rest.clone())?;
            let st = self.backend()?.take(rest.strided(), p.offsets.strided())?;
            Tensor::from_kernel(st, &shape)?
        };
        // Move the broadcast dims to where the indexed dims were.
        let out = if p.first > 0 {
            let first = p.first;
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
                let z = Tensor::full_on(&in_shape, 0.0, g.dtype(), g.device())?;
                Ok(vec![Some(z.index_put(&idx, g, true)?)])
            });
            autograd::describe(&out, || {
                vec![
                    ("indices", indices_saved(adv)),
                    ("self_sym_sizes", SavedValue::sizes(self.shape())),
                ]
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
        self.index_put_checked(adv, values, accumulate, true, Bounds::Dim)
    }

    /// `index_put` with the given index rule (index_add, index_copy, index_fill).
    pub(crate) fn index_put_checked(
        &self,
        adv: &[Option<Tensor>],
        values: &Tensor,
        accumulate: bool,
        wrap: bool,
        bounds: Bounds,
    ) -> Result<Tensor> {
        super::check_same_device("index_put", &[self, values])?;
        let adv = Self::masks_to_indices(adv)?;
        let out = self.to_dtype_raw(self.dtype())?;
        {
            let _g = no_grad();
            out.index_put_raw(&adv, values, accumulate, wrap, bounds)?;
        }
        if autograd::needs_grad(&[self, values]) && out.dtype().is_float() {
            let saved = vec![
                ("accumulate", SavedValue::Bool(accumulate)),
                ("indices", indices_saved(&adv)),
            ];
            let idx = adv;
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
                            let z = Tensor::full_on(&[], 0.0, g.dtype(), g.device())?;
                            Some(g.index_put(&idx, &z, false)?)
                        }
                    } else {
                        None
                    };
                    let gv = if needs[1] {
                        let taken = if idx.iter().any(|i| i.is_some()) {
                            g.index_advanced(&idx)?
                        } else {
                            g.clone()
                        };
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
            autograd::describe(&out, || saved);
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
        super::check_same_device("index_put_", &[self, values])?;
        let adv = Self::masks_to_indices(adv)?;
        self.index_put_raw(&adv, values, accumulate, true, Bounds::Dim)?;
        self.storage().bump_version();
        Ok(())
    }

    fn index_put_raw(
        &self,
        adv: &[Option<Tensor>],
        values: &Tensor,
        accumulate: bool,
        wrap: bool,
        bounds: Bounds,
    ) -> Result<()> {
        let values = values.to_device_raw(self.device())?.cast_if(self.dtype())?;
        if adv.iter().all(|a| a.is_none()) {
            // No index tensor: the whole tensor is the target.
            let v = values.expand(self.shape())?;
            let v = if accumulate {
                let _g = no_grad();
                self.add(&v)?.cast_if(self.dtype())?
            } else {
                v.to_dtype_raw(self.dtype())?
            };
            return v.copy_into_raw(self);
        }
        let p = self.advanced_plan(adv, wrap, bounds)?;
        let (nb, first) = (p.bshape.len(), p.first);
        let rest_shape = &p.rest.shape;
        // The values broadcast to the indexing result's shape (in its final dim order).
        let mut res_shape = rest_shape[..first].to_vec();
        res_shape.extend_from_slice(&p.bshape);
        res_shape.extend_from_slice(&rest_shape[first..]);
        let v = values.expand(&res_shape).map_err(|_| {
            Error::Runtime(format!(
                "shape mismatch: value tensor of shape {:?} cannot be broadcast to indexing result of shape {:?}",
                values.shape(),
                res_shape
            ))
        })?;
        // Back to (broadcast dims, rest dims) order.
        let v = if first > 0 {
            let mut perm: Vec<usize> = (first..first + nb).collect();
            perm.extend(0..first);
            perm.extend(first + nb..res_shape.len());
            v.permute_raw(&perm)?
        } else {
            v
        };
        if p.offsets.numel() == 0 || p.rest.numel() == 0 {
            return Ok(());
        }
        let rest = self.view_with_layout(p.rest.clone())?;
        self.backend()?
            .put(rest.strided(), p.offsets.strided(), v.strided(), accumulate)
    }
}

/// Advanced indices as PyTorch's index nodes report them: a tuple with None for the dims
/// before an indexed one that are not indexed (trailing ones are left out).
fn indices_saved(adv: &[Option<Tensor>]) -> SavedValue {
    let used = adv.iter().rposition(|i| i.is_some()).map_or(0, |p| p + 1);
    SavedValue::Tensors(
        adv[..used]
            .iter()
            .map(|i| i.as_ref().map(crate::autograd::SavedTensor::new))
            .collect(),
    )
}
