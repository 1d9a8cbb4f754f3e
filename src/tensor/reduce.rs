//! Reductions with `dim` (int, negative, tuple), `keepdim` and `dtype` like PyTorch.

use super::Tensor;
use crate::autograd::{self, SavedList, SavedTensor, SavedValue};
use crate::backend::ReduceOp;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::normalize_dims;

/// Reductions handled by the shared row machinery.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reduction {
    Sum,
    Prod,
    Mean,
    Amax,
    Amin,
}

/// A view permuted so the reduced dims come last: `m` rows of `k` in row-major order (the
/// kernels gather it when it is not contiguous).
pub(crate) struct Rows {
    pub t: Tensor,
    pub m: usize,
    pub k: usize,
    /// Output shape with keepdim.
    pub keep_shape: Vec<usize>,
    /// Output shape without keepdim.
    pub out_shape: Vec<usize>,
}

/// `dims` empty means all dims.
pub(crate) fn to_rows(t: &Tensor, dims: &[usize]) -> Result<Rows> {
    let nd = t.ndim();
    let all: Vec<usize> = if dims.is_empty() {
        (0..nd).collect()
    } else {
        dims.to_vec()
    };
    let kept: Vec<usize> = (0..nd).filter(|d| !all.contains(d)).collect();
    let mut perm = kept.clone();
    perm.extend(all.iter().copied());
    let c = t.permute_raw(&perm)?;
    let m: usize = kept.iter().map(|&d| t.shape()[d]).product();
    let k: usize = all.iter().map(|&d| t.shape()[d]).product();
    let keep_shape: Vec<usize> = (0..nd)
        .map(|d| if all.contains(&d) { 1 } else { t.shape()[d] })
        .collect();
    let out_shape: Vec<usize> = kept.iter().map(|&d| t.shape()[d]).collect();
    Ok(Rows {
        t: c,
        m,
        k,
        keep_shape,
        out_shape,
    })
}

impl Rows {
    pub(crate) fn shape(&self, keepdim: bool) -> &[usize] {
        if keepdim {
            &self.keep_shape
        } else {
            &self.out_shape
        }
    }

    /// `op` over every row, as a tensor of the (keepdim) output shape.
    pub(crate) fn reduce(&self, op: ReduceOp, keepdim: bool, out_dtype: DType) -> Result<Tensor> {
        let st = self
            .t
            .backend()?
            .reduce_rows(op, self.t.strided(), self.m, self.k, out_dtype)?;
        Tensor::from_kernel(st, self.shape(keepdim))
    }
}

/// Expands a reduced gradient back over the reduced dims.
pub(crate) fn expand_back(
    g: &Tensor,
    in_shape: &[usize],
    dims: &[usize],
    keepdim: bool,
) -> Result<Tensor> {
    let mut g = g.clone();
    if !keepdim && !in_shape.is_empty() {
        let mut ds: Vec<usize> = if dims.is_empty() {
            (0..in_shape.len()).collect()
        } else {
            dims.to_vec()
        };
        ds.sort_unstable();
        for d in ds {
            g = g.unsqueeze(d as i64)?;
        }
    }
    g.expand(in_shape)
}

fn reduce_name(r: Reduction, all: bool) -> &'static str {
    match (r, all) {
        (Reduction::Sum, true) => "SumBackward0",
        (Reduction::Sum, false) => "SumBackward1",
        (Reduction::Mean, true) => "MeanBackward0",
        (Reduction::Mean, false) => "MeanBackward1",
        (Reduction::Prod, true) => "ProdBackward0",
        (Reduction::Prod, false) => "ProdBackward1",
        (Reduction::Amax, _) => "AmaxBackward0",
        (Reduction::Amin, _) => "AminBackward0",
    }
}

/// A number argument as PyTorch reports it: an int when it is one.
pub(crate) fn number(v: f64) -> SavedValue {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 9.0e15 {
        SavedValue::Int(v as i64)
    } else {
        SavedValue::Float(v)
    }
}

/// `dim` (a list, or one int where PyTorch's node takes one) and `keepdim`.
fn dim_keepdim(d: &[usize], one: bool, keepdim: bool) -> SavedList {
    let dim = if one && d.len() == 1 {
        SavedValue::dim(d[0])
    } else {
        SavedValue::dims(d)
    };
    vec![("dim", dim), ("keepdim", SavedValue::Bool(keepdim))]
}

/// The values PyTorch reports as saved by the node of a `reduce`.
fn reduce_saved(
    r: Reduction,
    d: Option<&[usize]>,
    keepdim: bool,
    x: &Tensor,
    y: &Tensor,
) -> SavedList {
    let mut v = match d {
        Some(d) => dim_keepdim(d, r == Reduction::Prod, keepdim),
        None => Vec::new(),
    };
    match r {
        Reduction::Sum | Reduction::Mean => {
            if r == Reduction::Mean {
                v.push(("self_sym_numel", SavedValue::dim(x.numel())));
            }
            v.push(("self_sym_sizes", SavedValue::sizes(x.shape())));
        }
        Reduction::Prod | Reduction::Amax | Reduction::Amin => {
            v.push(("result", SavedValue::tensor(&y.detach())));
            v.push(("self", SavedValue::tensor(x)));
        }
    }
    v
}

impl Tensor {
    /// Normalises a dim list; an empty list means every dim.
    pub(crate) fn reduce_dims(&self, dims: &[i64]) -> Result<Vec<usize>> {
        let mut d = normalize_dims(dims, self.ndim())?;
        if self.ndim() == 0 {
            d.clear();
        }
        d.sort_unstable();
        Ok(d)
    }

    pub fn sum(&self) -> Result<Tensor> {
        self.reduce(Reduction::Sum, &[], false, None)
    }
    pub fn sum_dims(&self, dims: &[i64], keepdim: bool, dtype: Option<DType>) -> Result<Tensor> {
        self.reduce(Reduction::Sum, dims, keepdim, dtype)
    }
    pub fn mean(&self) -> Result<Tensor> {
        self.reduce(Reduction::Mean, &[], false, None)
    }
    pub fn mean_dims(&self, dims: &[i64], keepdim: bool, dtype: Option<DType>) -> Result<Tensor> {
        self.reduce(Reduction::Mean, dims, keepdim, dtype)
    }

    /// Sum/prod/mean/amax/amin over `dims` (empty: all).
    pub fn reduce(
        &self,
        r: Reduction,
        dims: &[i64],
        keepdim: bool,
        dtype: Option<DType>,
    ) -> Result<Tensor> {
        let _prof = crate::profiler::scope(
            crate::profiler::EventKind::Op,
            || format!("aten::{}", format!("{r:?}").to_lowercase()).into(),
            || vec![self.shape().to_vec()],
        );
        let name = match r {
            Reduction::Sum => "sum",
            Reduction::Prod => "prod",
            Reduction::Mean => "mean",
            Reduction::Amax => "amax",
            Reduction::Amin => "amin",
        };
        let d = self.reduce_dims(dims)?;
        let src = match dtype {
            Some(dt) => self.to_dtype(dt)?,
            None => self.clone(),
        };
        let in_dt = src.dtype();
        let out_dt = match r {
            Reduction::Sum | Reduction::Prod if !in_dt.is_float() => DType::I64,
            Reduction::Mean if !in_dt.is_float() => {
                return Err(Error::Runtime(format!(
                    "mean(): could not infer output dtype. Input dtype must be either a floating point or complex dtype. Got: {}",
                    super::binary::pretty_dtype(in_dt)
                )))
            }
            _ => in_dt,
        };
        let rows_ = to_rows(&src, &d)?;
        if matches!(r, Reduction::Amax | Reduction::Amin) && rows_.k == 0 {
            if let Some(&z) = d
                .iter()
                .find(|&&i| src.shape()[i] == 0)
                .filter(|_| !dims.is_empty())
            {
                return Err(Error::Index(format!(
                    "{name}(): Expected reduction dim {z} to have non-zero size."
                )));
            }
            return Err(Error::Runtime(format!(
                "{name}(): Expected reduction dim to be specified for input.numel() == 0. Specify the reduction dim with the 'dim' argument."
            )));
        }
        let k = rows_.k;
        let op = match r {
            Reduction::Sum => ReduceOp::Sum,
            Reduction::Prod => ReduceOp::Prod,
            Reduction::Mean => ReduceOp::Mean,
            Reduction::Amax => ReduceOp::Amax,
            Reduction::Amin => ReduceOp::Amin,
        };
        let out = rows_.reduce(op, keepdim, out_dt)?;
        if !autograd::needs_grad(&[&src]) || !out_dt.is_float() {
            return Ok(out);
        }
        let in_shape = src.shape().to_vec();
        let all = d.is_empty() || d.len() == src.ndim();
        let x = SavedTensor::new(&src);
        let y = SavedTensor::new(&out.detach());
        let dd = d.clone();
        autograd::record(
            &out,
            reduce_name(r, dims.is_empty()),
            &[&src],
            move |g, _| {
                let _ = all;
                let ge = expand_back(g, &in_shape, &dd, keepdim)?;
                Ok(vec![Some(match r {
                    Reduction::Sum => ge,
                    Reduction::Mean => ge.div_scalar(k as f64)?,
                    Reduction::Prod => ge.mul(&prod_others(x.get()?, &dd)?)?,
                    Reduction::Amax | Reduction::Amin => {
                        let yv = expand_back(y.get()?, &in_shape, &dd, keepdim)?;
                        let mask = x.get()?.eq(&yv)?.to_dtype(g.dtype())?;
                        let count = mask.sum_dims(&dims_i64(&dd, in_shape.len()), true, None)?;
                        ge.mul(&mask)?.div(&count)?
                    }
                })])
            },
        );
        let given =
            (!dims.is_empty() || r == Reduction::Amax || r == Reduction::Amin).then_some(&d[..]);
        autograd::describe(&out, || reduce_saved(r, given, keepdim, &src, &out));
        Ok(out)
    }

    /// `max(dim)` / `min(dim)`: (values, indices); gradient flows to the chosen index.
    pub fn max_min_dim(&self, dim: i64, keepdim: bool, is_max: bool) -> Result<(Tensor, Tensor)> {
        let _prof = crate::profiler::op(if is_max { "aten::max" } else { "aten::min" }, &[self]);
        let d = crate::shape::normalize_dim(dim, self.ndim())?;
        let dims = if self.ndim() == 0 { vec![] } else { vec![d] };
        let rows_ = to_rows(self, &dims)?;
        if rows_.k == 0 {
            return Err(Error::Index(format!(
                "{}(): Expected reduction dim {} to have non-zero size.",
                if is_max { "max" } else { "min" },
                d
            )));
        }
        let shape = rows_.shape(keepdim).to_vec();
        let (v, i) =
            self.backend()?
                .arg_reduce_rows(is_max, rows_.t.strided(), rows_.m, rows_.k)?;
        let vals = Tensor::from_kernel(v, &shape)?;
        let idx = Tensor::from_kernel(i, &shape)?;
        if autograd::needs_grad(&[self]) {
            let in_shape = self.shape().to_vec();
            let ix = idx.clone();
            let name = if is_max {
                "MaxBackward0"
            } else {
                "MinBackward0"
            };
            autograd::record(&vals, name, &[self], move |g, _| {
                Ok(vec![Some(index_backward(g, &ix, &in_shape, d, keepdim)?)])
            });
            autograd::describe(&vals, || {
                vec![
                    ("dim", SavedValue::dim(d)),
                    ("indices", SavedValue::tensor(&idx)),
                    ("keepdim", SavedValue::Bool(keepdim)),
                    ("self_sym_sizes", SavedValue::sizes(self.shape())),
                ]
            });
        }
        Ok((vals, idx))
    }

    /// `argmax`/`argmin` over one dim or the flattened tensor.
    pub fn argmax_min(&self, dim: Option<i64>, keepdim: bool, is_max: bool) -> Result<Tensor> {
        match dim {
            Some(d) => Ok(self.max_min_dim(d, keepdim, is_max)?.1),
            None => {
                if self.numel() == 0 {
                    return Err(Error::Runtime(format!(
                        "{}(): Expected reduction dim to be specified for input.numel() == 0.",
                        if is_max { "argmax" } else { "argmin" }
                    )));
                }
                let flat = self.reshape(&[-1])?;
                let i = flat.max_min_dim(0, false, is_max)?.1;
                if keepdim {
                    i.reshape(&vec![1; self.ndim()])
                } else {
                    Ok(i)
                }
            }
        }
    }

    /// `max()` / `min()` of all elements; ties share the gradient evenly (PyTorch's rule).
    pub fn max_min_all(&self, is_max: bool) -> Result<Tensor> {
        if self.numel() == 0 {
            return Err(Error::Runtime(format!(
                "{}(): Expected reduction dim to be specified for input.numel() == 0. Specify the reduction dim with the 'dim' argument.",
                if is_max { "max" } else { "min" }
            )));
        }
        self.reduce(
            if is_max {
                Reduction::Amax
            } else {
                Reduction::Amin
            },
            &[],
            false,
            None,
        )
    }

    /// `var`/`std` with `correction` (1 = unbiased).
    pub fn var_std(
        &self,
        dims: &[i64],
        correction: f64,
        keepdim: bool,
        is_std: bool,
    ) -> Result<Tensor> {
        let _prof = crate::profiler::op(if is_std { "aten::std" } else { "aten::var" }, &[self]);
        if !self.dtype().is_float() {
            return Err(Error::Runtime(format!(
                "{}: only supports floating-point dtypes, got {}",
                if is_std { "std" } else { "var" },
                self.dtype().name()
            )));
        }
        let d = self.reduce_dims(dims)?;
        let rows_ = to_rows(self, &d)?;
        let n = rows_.k;
        let out = rows_.reduce(
            ReduceOp::Var {
                correction,
                std: is_std,
            },
            keepdim,
            self.dtype(),
        )?;
        if !autograd::needs_grad(&[self]) {
            return Ok(out);
        }
        let mean = self
            .detach()
            .mean_dims(&dims_i64(&d, self.ndim()), true, None)?;
        let in_shape = self.shape().to_vec();
        let x = SavedTensor::new(self);
        let y = SavedTensor::new(&out.detach());
        let dd = d.clone();
        let name = if is_std {
            "StdBackward0"
        } else {
            "VarBackward0"
        };
        autograd::record(&out, name, &[self], move |g, _| {
            let xv = x.get()?;
            // With create_graph, mean and std are recomputed from x so that their graphs are
            // recorded (the second derivative depends on them).
            let create_graph = autograd::is_grad_enabled();
            let di = dims_i64(&d, in_shape.len());
            let centered = if create_graph {
                xv.sub(&xv.mean_dims(&di, true, None)?)?
            } else {
                xv.sub(&mean)?
            };
            // PyTorch's var backward divides by n - correction unclamped.
            let denom = n as f64 - correction;
            let mut ge = expand_back(g, &in_shape, &d, keepdim)?;
            if is_std {
                // d std = d var / (2 std), taken as 0 where std is 0 (PyTorch's rule: a
                // constant input gets a zero gradient, not NaN).
                let yv = if create_graph {
                    xv.var_std(&di, correction, keepdim, true)?
                } else {
                    y.get()?.clone()
                };
                let sv = expand_back(&yv, &in_shape, &d, keepdim)?;
                let zero = Tensor::full_on(&[], 0.0, ge.dtype(), ge.device())?;
                ge = Tensor::where_(&sv.eq_scalar(0.0)?, &zero, &ge.div(&sv.mul_scalar(2.0)?)?)?;
            }
            Ok(vec![Some(centered.mul_scalar(2.0 / denom)?.mul(&ge)?)])
        });
        autograd::describe(&out, || {
            let mut v = vec![("correction", number(correction))];
            v.extend(dim_keepdim(&dd, false, keepdim));
            if is_std {
                v.push(("result", SavedValue::tensor(&out.detach())));
            }
            v.push(("self", SavedValue::tensor(self)));
            v
        });
        Ok(out)
    }

    /// Vector p-norm over `dims` (empty: all). p may be ±inf or 0.
    pub fn norm(&self, p: f64, dims: &[i64], keepdim: bool) -> Result<Tensor> {
        if let Some(c) = crate::amp::apply("norm", &[self])? {
            return c.arg(0).norm(p, dims, keepdim);
        }
        let _prof = crate::profiler::op("aten::norm", &[self]);
        if !self.dtype().is_float() {
            return Err(Error::Runtime(format!(
                "linalg.vector_norm: Expected a floating point or complex tensor as input. Got {}",
                super::binary::pretty_dtype(self.dtype())
            )));
        }
        let d = self.reduce_dims(dims)?;
        let out = to_rows(self, &d)?.reduce(ReduceOp::Norm { p }, keepdim, self.dtype())?;
        if !autograd::needs_grad(&[self]) {
            return Ok(out);
        }
        let in_shape = self.shape().to_vec();
        let x = SavedTensor::new(self);
        let y = SavedTensor::new(&out.detach());
        let dd = d.clone();
        autograd::record(&out, "LinalgVectorNormBackward0", &[self], move |g, _| {
            let xv = x.get()?;
            let ge = expand_back(g, &in_shape, &d, keepdim)?;
            // With create_graph the norm is recomputed from x so that its own graph is recorded.
            let yv = if autograd::is_grad_enabled() {
                xv.norm(p, &dims_i64(&d, in_shape.len()), keepdim)?
            } else {
                y.get()?.clone()
            };
            let nv = expand_back(&yv, &in_shape, &d, keepdim)?;
            let zero = Tensor::scalar_of(0.0, xv.dtype());
            let gx = if p == 0.0 {
                xv.mul_scalar(0.0)?
            } else if p == 1.0 {
                xv.sign()?
            } else if p.is_infinite() {
                let mask = xv.abs()?.eq(&nv)?.to_dtype(xv.dtype())?;
                let count = mask.sum_dims(&dims_i64(&d, in_shape.len()), true, None)?;
                xv.sign()?.mul(&mask)?.div(&count)?
            } else if p == 2.0 {
                Tensor::where_(&nv.eq_scalar(0.0)?, &zero, &xv.div(&nv)?)?
            } else {
                let num = xv.mul(&xv.abs()?.pow_scalar(p - 2.0)?)?;
                let q = num.div(&nv.pow_scalar(p - 1.0)?)?;
                Tensor::where_(&nv.eq_scalar(0.0)?, &zero, &q)?
            };
            Ok(vec![Some(gx.mul(&ge)?)])
        });
        autograd::describe(&out, || {
            let mut v = dim_keepdim(&dd, false, keepdim);
            v.push(("ord", number(p)));
            v.push(("result", SavedValue::tensor(&out.detach())));
            v.push(("self", SavedValue::tensor(self)));
            v
        });
        Ok(out)
    }

    /// `logsumexp(dims)`, stable; gradient softmax-weighted.
    pub fn logsumexp(&self, dims: &[i64], keepdim: bool) -> Result<Tensor> {
        if let Some(c) = crate::amp::apply("logsumexp", &[self])? {
            return c.arg(0).logsumexp(dims, keepdim);
        }
        let _prof = crate::profiler::op("aten::logsumexp", &[self]);
        let src = if self.dtype().is_float() {
            self.clone()
        } else {
            self.to_dtype(crate::dtype::default_float())?
        };
        let d = src.reduce_dims(dims)?;
        let out = to_rows(&src, &d)?.reduce(ReduceOp::LogSumExp, keepdim, src.dtype())?;
        if !autograd::needs_grad(&[&src]) {
            return Ok(out);
        }
        let in_shape = src.shape().to_vec();
        let x = SavedTensor::new(&src);
        let y = SavedTensor::new(&out.detach());
        let dd = d.clone();
        autograd::record(&out, "LogsumexpBackward0", &[&src], move |g, _| {
            let ge = expand_back(g, &in_shape, &d, keepdim)?;
            // With create_graph the output is recomputed so that its own graph is recorded.
            let yv = if autograd::is_grad_enabled() {
                x.get()?.logsumexp(&dims_i64(&d, in_shape.len()), keepdim)?
            } else {
                y.get()?.clone()
            };
            let yv = expand_back(&yv, &in_shape, &d, keepdim)?;
            Ok(vec![Some(ge.mul(&x.get()?.sub(&yv)?.exp()?)?)])
        });
        autograd::describe(&out, || {
            let mut v = dim_keepdim(&dd, false, keepdim);
            v.push(("result", SavedValue::tensor(&out.detach())));
            v.push(("self", SavedValue::tensor(&src)));
            v
        });
        Ok(out)
    }

    /// `all` / `any` over `dims` (empty: all): bool, or uint8 for a uint8 input (PyTorch's
    /// rule).
    pub fn all_any(&self, dims: &[i64], keepdim: bool, is_all: bool) -> Result<Tensor> {
        let d = self.reduce_dims(dims)?;
        let out_dt = if self.dtype() == DType::U8 {
            DType::U8
        } else {
            DType::Bool
        };
        let op = if is_all { ReduceOp::All } else { ReduceOp::Any };
        to_rows(self, &d)?.reduce(op, keepdim, out_dt)
    }

    pub fn count_nonzero(&self, dims: &[i64]) -> Result<Tensor> {
        let d = self.reduce_dims(dims)?;
        to_rows(self, &d)?.reduce(ReduceOp::CountNonzero, false, DType::I64)
    }

    /// `nansum`: the sum with NaNs taken as zero; NaN positions get no gradient.
    pub fn nansum_dims(&self, dims: &[i64], keepdim: bool, dtype: Option<DType>) -> Result<Tensor> {
        if !self.dtype().is_float() && !matches!(dtype, Some(d) if d.is_float()) {
            return self.sum_dims(dims, keepdim, dtype);
        }
        let src = match dtype {
            Some(dt) => self.to_dtype(dt)?,
            None => self.clone(),
        };
        let d = src.reduce_dims(dims)?;
        let out = to_rows(&src, &d)?.reduce(ReduceOp::NanSum, keepdim, src.dtype())?;
        if !autograd::needs_grad(&[&src]) {
            return Ok(out);
        }
        let in_shape = src.shape().to_vec();
        let x = SavedTensor::new(&src);
        let dd = d.clone();
        autograd::record(&out, "NansumBackward0", &[&src], move |g, _| {
            let ge = expand_back(g, &in_shape, &d, keepdim)?;
            let zero = Tensor::full_on(&[], 0.0, ge.dtype(), ge.device())?;
            Ok(vec![Some(Tensor::where_(&x.get()?.isnan()?, &zero, &ge)?)])
        });
        autograd::describe(&out, || {
            let mut v = dim_keepdim(&dd, false, keepdim);
            v.push(("self", SavedValue::tensor(&src)));
            v
        });
        Ok(out)
    }
}

pub(crate) fn dims_i64(d: &[usize], ndim: usize) -> Vec<i64> {
    if d.is_empty() {
        (0..ndim as i64).collect()
    } else {
        d.iter().map(|&x| x as i64).collect()
    }
}

/// Scatters a reduced gradient into the positions given by `idx` along `dim`.
pub(crate) fn index_backward(
    g: &Tensor,
    idx: &Tensor,
    in_shape: &[usize],
    dim: usize,
    keepdim: bool,
) -> Result<Tensor> {
    if in_shape.is_empty() {
        return Ok(g.clone());
    }
    let (g, idx) = if keepdim {
        (g.clone(), idx.clone())
    } else {
        (g.unsqueeze(dim as i64)?, idx.unsqueeze(dim as i64)?)
    };
    let z = Tensor::full_on(in_shape, 0, g.dtype(), g.device())?;
    z.scatter(dim as i64, &idx, &g)
}

/// Product of all other elements along the reduced dims, exact with zeros
/// (exclusive cumulative products from both ends).
fn prod_others(x: &Tensor, dims: &[usize]) -> Result<Tensor> {
    let in_shape = x.shape().to_vec();
    let (flat, dim) = if dims.len() == 1 {
        (x.clone(), dims[0] as i64)
    } else {
        (x.reshape(&[-1])?, 0)
    };
    let left = exclusive_cumprod(&flat, dim)?;
    let right = exclusive_cumprod(&flat.flip(&[dim])?, dim)?.flip(&[dim])?;
    left.mul(&right)?
        .reshape(&in_shape.iter().map(|&s| s as i64).collect::<Vec<_>>())
}

fn exclusive_cumprod(x: &Tensor, dim: i64) -> Result<Tensor> {
    let d = crate::shape::normalize_dim(dim, x.ndim())?;
    let n = if x.ndim() == 0 { 1 } else { x.shape()[d] };
    if n == 0 {
        return Ok(x.clone());
    }
    let ones_shape: Vec<usize> = x
        .shape()
        .iter()
        .enumerate()
        .map(|(i, &s)| if i == d { 1 } else { s })
        .collect();
    let ones = Tensor::full_on(&ones_shape, 1, x.dtype(), x.device())?;
    let shifted = Tensor::cat(&[ones, x.narrow(dim, 0, n - 1)?], dim)?;
    shifted.cumprod(dim, None)
}
