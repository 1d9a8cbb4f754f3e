//! Scans and orderings along one dim: cumsum, cumprod, sort, argsort, topk, unique.

use super::reduce::to_rows;
use super::Tensor;
use crate::autograd::{self, SavedTensor};
use crate::dtype::{DType, Elem};
use crate::error::{Error, Result};
use crate::shape::normalize_dim;

/// Applies `f` to every 1-D lane along `dim`; `f` returns `out_len` values per lane.
/// The result has `dim` resized to `out_len`.
pub(crate) fn along_dim<T: Elem, U: Elem>(
    t: &Tensor,
    d: usize,
    out_len: usize,
    f: impl Fn(&[T], &mut [U]) + Sync + Send,
) -> Tensor {
    let rows = to_rows(t, &[d]).unwrap_or_else(|_| unreachable!());
    let data =
        &rows.t.storage().as_slice::<T>()[rows.t.offset()..rows.t.offset() + rows.m * rows.k];
    let mut out = vec![U::default(); rows.m * out_len];
    if rows.k > 0 || out_len == 0 {
        for (src, dst) in data
            .chunks(rows.k.max(1))
            .zip(out.chunks_mut(out_len.max(1)))
        {
            f(src, dst);
        }
    }
    // Rows are (kept dims…, d): move d back into place.
    let nd = t.ndim();
    let mut shape: Vec<usize> = (0..nd).filter(|&x| x != d).map(|x| t.shape()[x]).collect();
    shape.push(out_len);
    let r = Tensor::from_vec_unchecked(out, &shape);
    let mut perm: Vec<usize> = (0..nd - 1).collect();
    perm.insert(d, nd - 1);
    r.permute_raw(&perm).expect("transitional").copy_raw()
}

/// The input of a scan in its accumulation dtype (integers and bool accumulate in int64).
fn scan_input(t: &Tensor, dtype: Option<DType>) -> Result<Tensor> {
    match dtype {
        Some(dt) => t.to_dtype(dt),
        None if !t.dtype().is_float() => t.to_dtype(DType::I64),
        None => Ok(t.clone()),
    }
}

/// Inclusive running sum (`prod == false`) or product along `d`, without autograd.
fn scan_raw(src: &Tensor, d: usize, prod: bool) -> Tensor {
    let n = src.shape()[d];
    crate::with_dtype!(src.dtype(), T, {
        along_dim::<T, T>(src, d, n, |x, y| {
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
        })
    })
}

impl Tensor {
    pub fn cumsum(&self, dim: i64, dtype: Option<DType>) -> Result<Tensor> {
        let src = scan_input(self, dtype)?;
        if src.ndim() == 0 {
            normalize_dim(dim, 0)?;
            return src.deep_clone();
        }
        let d = normalize_dim(dim, src.ndim())?;
        let out = scan_raw(&src, d, false);
        if autograd::needs_grad(&[&src]) {
            autograd::record(&out, "CumsumBackward0", &[&src], move |g, _| {
                let di = d as i64;
                Ok(vec![Some(g.flip(&[di])?.cumsum(di, None)?.flip(&[di])?)])
            });
        }
        Ok(out)
    }

    pub fn cumprod(&self, dim: i64, dtype: Option<DType>) -> Result<Tensor> {
        let src = scan_input(self, dtype)?;
        if src.ndim() == 0 {
            normalize_dim(dim, 0)?;
            return src.deep_clone();
        }
        let d = normalize_dim(dim, src.ndim())?;
        let out = scan_raw(&src, d, true);
        if autograd::needs_grad(&[&src]) {
            let x = SavedTensor::new(&src);
            autograd::record(&out, "CumprodBackward0", &[&src], move |g, _| {
                // d out_k / d x_i = prod_{j<=k, j!=i} x_j: computed exactly (zeros included)
                // as the sum over k >= i of g_k times the product of the others.
                let xv = x.get()?;
                let di = d as i64;
                let has_zero = xv.eq_scalar(0.0)?.all_any(&[], false, false)?.item_f64()? != 0.0;
                if autograd::is_grad_enabled() && !has_zero {
                    // create_graph: a differentiable form, exact when no x is 0:
                    // grad_i = (sum_{k>=i} g_k out_k) / x_i.
                    let y = xv.cumprod(di, None)?;
                    let rev = g.mul(&y)?.flip(&[di])?.cumsum(di, None)?.flip(&[di])?;
                    return Ok(vec![Some(rev.div(xv)?)]);
                }
                Ok(vec![Some(cumprod_grad(xv, g, d)?)])
            });
        }
        Ok(out)
    }

    /// `sort(dim, descending, stable)` → (values, indices). NaN sorts as the largest.
    pub fn sort(&self, dim: i64, descending: bool) -> Result<(Tensor, Tensor)> {
        if self.ndim() == 0 {
            return Ok((self.alias()?, Tensor::zeros(&[], DType::I64)?));
        }
        let d = normalize_dim(dim, self.ndim())?;
        let n = self.shape()[d];
        let idx = crate::with_dtype!(self.dtype(), T, {
            along_dim::<T, i64>(self, d, n, |x, y| {
                let mut order: Vec<usize> = (0..x.len()).collect();
                let key = |i: usize| x[i].to_f64();
                order.sort_by(|&i, &j| {
                    let (a, b) = (key(i), key(j));
                    let o = a
                        .partial_cmp(&b)
                        .unwrap_or_else(|| a.is_nan().cmp(&b.is_nan()));
                    if descending {
                        o.reverse()
                    } else {
                        o
                    }
                });
                for (o, v) in order.into_iter().zip(y.iter_mut()) {
                    *v = o as i64;
                }
            })
        });
        let vals = self.gather(d as i64, &idx)?;
        Ok((vals, idx))
    }

    pub fn argsort(&self, dim: i64, descending: bool) -> Result<Tensor> {
        Ok(self.sort(dim, descending)?.1)
    }

    /// `topk(k, dim, largest, sorted)` → (values, indices).
    pub fn topk(&self, k: usize, dim: i64, largest: bool) -> Result<(Tensor, Tensor)> {
        let d = normalize_dim(dim, self.ndim())?;
        let n = if self.ndim() == 0 { 1 } else { self.shape()[d] };
        if k > n {
            return Err(Error::Runtime(format!(
                "selected index k out of range (k={k}, size={n})"
            )));
        }
        let (_, idx) = self.sort(d as i64, largest)?;
        let idx = if self.ndim() == 0 {
            idx
        } else {
            idx.narrow(d as i64, 0, k)?.contiguous()?
        };
        let vals = if self.ndim() == 0 {
            self.alias()?
        } else {
            self.gather(d as i64, &idx)?
        };
        Ok((vals, idx))
    }

    /// `unique(sorted=True, return_inverse, return_counts)` over the flattened tensor.
    pub fn unique(&self) -> Result<(Tensor, Tensor, Tensor)> {
        let vals = self.to_f64_vec()?;
        let mut order: Vec<usize> = (0..vals.len()).collect();
        order.sort_by(|&i, &j| {
            vals[i]
                .partial_cmp(&vals[j])
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        let mut uniq_pos: Vec<usize> = Vec::new();
        let mut inverse = vec![0i64; vals.len()];
        let mut counts: Vec<i64> = Vec::new();
        for &i in &order {
            if uniq_pos.last().map(|&p| vals[p] != vals[i]).unwrap_or(true) {
                uniq_pos.push(i);
                counts.push(0);
            }
            inverse[i] = (uniq_pos.len() - 1) as i64;
            *counts.last_mut().unwrap_or(&mut 0) += 1;
        }
        let flat = self.reshape(&[-1])?.detach();
        let pos: Vec<i64> = uniq_pos.iter().map(|&p| p as i64).collect();
        let np = pos.len();
        let u = flat.index_select(0, &Tensor::from_vec(pos, &[np])?)?;
        let inv = Tensor::from_vec(inverse, self.shape())?;
        let nc = counts.len();
        Ok((u, inv, Tensor::from_vec(counts, &[nc])?))
    }
}

fn cumprod_grad(x: &Tensor, g: &Tensor, d: usize) -> Result<Tensor> {
    let xd = x.detach().to_dtype(DType::F64)?;
    let gd = g.detach().to_dtype(DType::F64)?;
    let n = x.shape()[d];
    let xs = xd
        .movedim(&[d as i64], &[-1])?
        .contiguous()?
        .to_vec::<f64>()?;
    let gs = gd
        .movedim(&[d as i64], &[-1])?
        .contiguous()?
        .to_vec::<f64>()?;
    let mut out = vec![0.0; xs.len()];
    for ((xr, gr), or) in xs
        .chunks(n.max(1))
        .zip(gs.chunks(n.max(1)))
        .zip(out.chunks_mut(n.max(1)))
    {
        for (i, o) in or.iter_mut().enumerate() {
            let mut p: f64 = xr[..i].iter().product();
            let mut total = 0.0;
            for k in i..n {
                if k > i {
                    p *= xr[k];
                }
                total += gr[k] * p;
            }
            *o = total;
        }
    }
    let mut moved_shape: Vec<i64> = (0..x.ndim())
        .filter(|&k| k != d)
        .map(|k| x.shape()[k] as i64)
        .collect();
    moved_shape.push(n as i64);
    let r = Tensor::from_vec(
        out,
        &moved_shape.iter().map(|&s| s as usize).collect::<Vec<_>>(),
    )?;
    r.movedim(&[-1], &[d as i64])?
        .contiguous()?
        .to_dtype(x.dtype())
}
