//! Tensor methods: reductions, views and shape, matmul.

use super::convert::*;
use super::tensor::{nogil, wrap, PyTensor};
use crate::error::Error;
use crate::tensor::Tensor;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

#[pymethods]
impl PyTensor {
    // ---- reductions --------------------------------------------------------------------

    #[pyo3(signature = (dim=None, keepdim=false, *, dtype=None))]
    fn sum(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<PyAny>>,
        keepdim: bool,
        dtype: Option<&Bound<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let (d, dt, t) = (rdims(dim)?, opt_dtype(dtype)?, self.t.clone());
        let dt = crate::amp::fp32_dtype("sum", &t, dt);
        wrap(py, nogil(py, t.numel(), || t.sum_dims(&d, keepdim, dt))?)
    }
    #[pyo3(signature = (dim=None, keepdim=false, *, dtype=None))]
    fn nansum(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<PyAny>>,
        keepdim: bool,
        dtype: Option<&Bound<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let z = Tensor::scalar_of(0.0, self.t.dtype()).to_device(self.t.device())?;
        let clean = Tensor::where_(&self.t.isnan()?, &z, &self.t)?;
        wrap(
            py,
            clean.sum_dims(&rdims(dim)?, keepdim, opt_dtype(dtype)?)?,
        )
    }
    #[pyo3(signature = (dim=None, keepdim=false, *, dtype=None))]
    fn mean(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<PyAny>>,
        keepdim: bool,
        dtype: Option<&Bound<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let (d, dt, t) = (rdims(dim)?, opt_dtype(dtype)?, self.t.clone());
        wrap(py, nogil(py, t.numel(), || t.mean_dims(&d, keepdim, dt))?)
    }
    #[pyo3(signature = (dim=None, keepdim=false, *, dtype=None))]
    fn prod(
        &self,
        py: Python<'_>,
        dim: Option<i64>,
        keepdim: bool,
        dtype: Option<&Bound<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let d: Vec<i64> = dim.into_iter().collect();
        wrap(
            py,
            self.t.reduce(
                crate::tensor::Reduction::Prod,
                &d,
                keepdim,
                crate::amp::fp32_dtype("prod", &self.t, opt_dtype(dtype)?),
            )?,
        )
    }
    #[pyo3(signature = (dim=None, keepdim=false))]
    fn amax(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<PyAny>>,
        keepdim: bool,
    ) -> PyResult<Py<PyAny>> {
        wrap(
            py,
            self.t
                .reduce(crate::tensor::Reduction::Amax, &rdims(dim)?, keepdim, None)?,
        )
    }
    #[pyo3(signature = (dim=None, keepdim=false))]
    fn amin(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<PyAny>>,
        keepdim: bool,
    ) -> PyResult<Py<PyAny>> {
        wrap(
            py,
            self.t
                .reduce(crate::tensor::Reduction::Amin, &rdims(dim)?, keepdim, None)?,
        )
    }
    #[pyo3(signature = (dim=None, keepdim=false))]
    fn max(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<PyAny>>,
        keepdim: bool,
    ) -> PyResult<Py<PyAny>> {
        max_min(py, &self.t, dim, keepdim, true)
    }
    #[pyo3(signature = (dim=None, keepdim=false))]
    fn min(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<PyAny>>,
        keepdim: bool,
    ) -> PyResult<Py<PyAny>> {
        max_min(py, &self.t, dim, keepdim, false)
    }
    #[pyo3(signature = (dim=None, keepdim=false))]
    fn argmax(&self, py: Python<'_>, dim: Option<i64>, keepdim: bool) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.argmax_min(dim, keepdim, true)?)
    }
    #[pyo3(signature = (dim=None, keepdim=false))]
    fn argmin(&self, py: Python<'_>, dim: Option<i64>, keepdim: bool) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.argmax_min(dim, keepdim, false)?)
    }
    #[pyo3(signature = (dim=None, unbiased=None, keepdim=false, *, correction=None))]
    fn var(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<PyAny>>,
        unbiased: Option<&Bound<PyAny>>,
        keepdim: bool,
        correction: Option<f64>,
    ) -> PyResult<Py<PyAny>> {
        let (d, c) = var_args(dim, unbiased, correction)?;
        wrap(py, self.t.var_std(&d, c, keepdim, false)?)
    }
    #[pyo3(signature = (dim=None, unbiased=None, keepdim=false, *, correction=None))]
    fn std(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<PyAny>>,
        unbiased: Option<&Bound<PyAny>>,
        keepdim: bool,
        correction: Option<f64>,
    ) -> PyResult<Py<PyAny>> {
        let (d, c) = var_args(dim, unbiased, correction)?;
        wrap(py, self.t.var_std(&d, c, keepdim, true)?)
    }
    #[pyo3(signature = (p=None, dim=None, keepdim=false, dtype=None))]
    fn norm(
        &self,
        py: Python<'_>,
        p: Option<&Bound<PyAny>>,
        dim: Option<&Bound<PyAny>>,
        keepdim: bool,
        dtype: Option<&Bound<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let t = match opt_dtype(dtype)? {
            Some(d) => self.t.to_dtype(d)?,
            None => self.t.clone(),
        };
        let pv = match p {
            None => 2.0,
            Some(o) if o.is_none() => 2.0,
            Some(o) => match o.extract::<String>() {
                Ok(s) if s == "fro" => 2.0,
                Ok(s) => {
                    return Err(PyRuntimeError::new_err(format!(
                        "norm: unsupported norm type '{s}'"
                    )))
                }
                Err(_) => o.extract::<f64>()?,
            },
        };
        wrap(py, t.norm(pv, &rdims(dim)?, keepdim)?)
    }
    #[pyo3(signature = (dim, keepdim=false))]
    fn logsumexp(&self, py: Python<'_>, dim: &Bound<PyAny>, keepdim: bool) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.logsumexp(&rdims(Some(dim))?, keepdim)?)
    }
    #[pyo3(signature = (dim=None, keepdim=false))]
    fn all(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<PyAny>>,
        keepdim: bool,
    ) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.all_any(&rdims(dim)?, keepdim, true)?)
    }
    #[pyo3(signature = (dim=None, keepdim=false))]
    fn any(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<PyAny>>,
        keepdim: bool,
    ) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.all_any(&rdims(dim)?, keepdim, false)?)
    }
    #[pyo3(signature = (dim=None))]
    fn count_nonzero(&self, py: Python<'_>, dim: Option<&Bound<PyAny>>) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.count_nonzero(&rdims(dim)?)?)
    }
    #[pyo3(signature = (dim, *, dtype=None))]
    fn cumsum(
        &self,
        py: Python<'_>,
        dim: i64,
        dtype: Option<&Bound<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.cumsum(dim, opt_dtype(dtype)?)?)
    }
    #[pyo3(signature = (dim, *, dtype=None))]
    fn cumprod(
        &self,
        py: Python<'_>,
        dim: i64,
        dtype: Option<&Bound<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.cumprod(dim, opt_dtype(dtype)?)?)
    }
    #[pyo3(signature = (dim=-1, descending=false, stable=false))]
    fn sort(
        &self,
        py: Python<'_>,
        dim: i64,
        descending: bool,
        stable: bool,
    ) -> PyResult<Py<PyAny>> {
        let _ = stable;
        let (v, i) = self.t.sort(dim, descending)?;
        named_pair(py, "sort", v, i)
    }
    #[pyo3(signature = (dim=-1, descending=false, stable=false))]
    fn argsort(
        &self,
        py: Python<'_>,
        dim: i64,
        descending: bool,
        stable: bool,
    ) -> PyResult<Py<PyAny>> {
        let _ = stable;
        wrap(py, self.t.argsort(dim, descending)?)
    }
    #[pyo3(signature = (k, dim=-1, largest=true, sorted=true))]
    fn topk(
        &self,
        py: Python<'_>,
        k: i64,
        dim: i64,
        largest: bool,
        sorted: bool,
    ) -> PyResult<Py<PyAny>> {
        let _ = sorted;
        let k = usize::try_from(k).map_err(|_| {
            pyo3::exceptions::PyRuntimeError::new_err(format!(
                "topk: selected index k out of range (k = {k})"
            ))
        })?;
        let (v, i) = self.t.topk(k, dim, largest)?;
        named_pair(py, "topk", v, i)
    }
    #[pyo3(signature = (sorted=true, return_inverse=false, return_counts=false, dim=None))]
    fn unique(
        &self,
        py: Python<'_>,
        sorted: bool,
        return_inverse: bool,
        return_counts: bool,
        dim: Option<i64>,
    ) -> PyResult<Py<PyAny>> {
        let _ = sorted;
        if dim.is_some() {
            return Err(Error::NotImplemented(
                "unique(dim=...) is not supported; unique over the flattened tensor is".into(),
            )
            .into());
        }
        let (u, inv, c) = self.t.unique()?;
        if !return_inverse && !return_counts {
            return wrap(py, u);
        }
        let mut out = vec![wrap(py, u)?];
        if return_inverse {
            out.push(wrap(py, inv)?);
        }
        if return_counts {
            out.push(wrap(py, c)?);
        }
        Ok(PyTuple::new(py, out)?.into_any().unbind())
    }
    #[pyo3(signature = (dim, *, dtype=None))]
    fn softmax(
        &self,
        py: Python<'_>,
        dim: i64,
        dtype: Option<&Bound<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let (t, dt) = (self.t.clone(), opt_dtype(dtype)?);
        wrap(py, nogil(py, t.numel(), || t.softmax_impl(dim, false, dt))?)
    }
    #[pyo3(signature = (dim, *, dtype=None))]
    fn log_softmax(
        &self,
        py: Python<'_>,
        dim: i64,
        dtype: Option<&Bound<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let (t, dt) = (self.t.clone(), opt_dtype(dtype)?);
        wrap(py, nogil(py, t.numel(), || t.softmax_impl(dim, true, dt))?)
    }

    // ---- views and shape ----------------------------------------------------------------

    #[pyo3(signature = (*shape))]
    fn view(&self, py: Python<'_>, shape: &Bound<PyTuple>) -> PyResult<Py<PyAny>> {
        if shape.len() == 1 {
            if let Ok(dt) = dtype_of(&shape.get_item(0)?) {
                if dt == self.t.dtype() {
                    return wrap(py, self.t.alias()?);
                }
                return Err(Error::NotImplemented(format!(
                    "view(dtype): reinterpreting {} as {} is not supported",
                    self.t.dtype().name(),
                    dt.name()
                ))
                .into());
            }
        }
        wrap(py, self.t.view(&sizes_of(shape)?)?)
    }
    #[pyo3(signature = (*shape))]
    fn reshape(&self, py: Python<'_>, shape: &Bound<PyTuple>) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.reshape(&sizes_of(shape)?)?)
    }
    fn view_as(&self, py: Python<'_>, other: PyRef<PyTensor>) -> PyResult<Py<PyAny>> {
        wrap(
            py,
            self.t.view(
                &other
                    .t
                    .shape()
                    .iter()
                    .map(|&s| s as i64)
                    .collect::<Vec<_>>(),
            )?,
        )
    }
    fn reshape_as(&self, py: Python<'_>, other: PyRef<PyTensor>) -> PyResult<Py<PyAny>> {
        wrap(
            py,
            self.t.reshape(
                &other
                    .t
                    .shape()
                    .iter()
                    .map(|&s| s as i64)
                    .collect::<Vec<_>>(),
            )?,
        )
    }
    #[pyo3(signature = (*sizes))]
    fn expand(&self, py: Python<'_>, sizes: &Bound<PyTuple>) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.expand_sizes(&sizes_of(sizes)?)?)
    }
    fn expand_as(&self, py: Python<'_>, other: PyRef<PyTensor>) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.expand(other.t.shape())?)
    }
    #[pyo3(signature = (*sizes))]
    fn broadcast_to(&self, py: Python<'_>, sizes: &Bound<PyTuple>) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.expand_sizes(&sizes_of(sizes)?)?)
    }
    fn transpose(&self, py: Python<'_>, dim0: i64, dim1: i64) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.transpose(dim0, dim1)?)
    }
    fn swapaxes(&self, py: Python<'_>, dim0: i64, dim1: i64) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.transpose(dim0, dim1)?)
    }
    fn swapdims(&self, py: Python<'_>, dim0: i64, dim1: i64) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.transpose(dim0, dim1)?)
    }
    fn t(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.t()?)
    }
    #[getter(T)]
    fn big_t(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let n = self.t.ndim() as i64;
        let rev: Vec<i64> = (0..n).rev().collect();
        wrap(py, self.t.permute(&rev)?)
    }
    #[getter(mT)]
    fn m_t(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.mt()?)
    }
    #[getter(H)]
    fn big_h(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.t()?)
    }
    #[getter(mH)]
    fn m_h(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.mt()?)
    }
    #[pyo3(signature = (*dims))]
    fn permute(&self, py: Python<'_>, dims: &Bound<PyTuple>) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.permute(&sizes_of(dims)?)?)
    }
    #[pyo3(signature = (dim=None))]
    fn squeeze(&self, py: Python<'_>, dim: Option<&Bound<PyAny>>) -> PyResult<Py<PyAny>> {
        let d = dims_of(dim)?;
        wrap(py, self.t.squeeze(d.as_deref())?)
    }
    fn unsqueeze(&self, py: Python<'_>, dim: i64) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.unsqueeze(dim)?)
    }
    #[pyo3(signature = (start_dim=0, end_dim=-1))]
    fn flatten(&self, py: Python<'_>, start_dim: i64, end_dim: i64) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.flatten(start_dim, end_dim)?)
    }
    fn ravel(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.reshape(&[-1])?)
    }
    fn unflatten(&self, py: Python<'_>, dim: i64, sizes: &Bound<PyAny>) -> PyResult<Py<PyAny>> {
        let s = sizes_of(&PyTuple::new(py, [sizes])?)?;
        wrap(py, self.t.unflatten(dim, &s)?)
    }
    fn narrow(&self, py: Python<'_>, dim: i64, start: i64, length: usize) -> PyResult<Py<PyAny>> {
        let d = crate::shape::normalize_dim(dim, self.t.ndim())?;
        let n = self.t.shape().get(d).copied().unwrap_or(0) as i64;
        let s = if start < 0 { start + n } else { start };
        if s < 0 {
            return Err(pyo3::exceptions::PyIndexError::new_err(format!(
                "start out of range (got {start})"
            )));
        }
        wrap(py, self.t.narrow(dim, s as usize, length)?)
    }
    fn select(&self, py: Python<'_>, dim: i64, index: i64) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.select(dim, index)?)
    }
    #[pyo3(signature = (size, stride, storage_offset=None))]
    fn as_strided(
        &self,
        py: Python<'_>,
        size: Vec<i64>,
        stride: Vec<i64>,
        storage_offset: Option<i64>,
    ) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.as_strided(&size, &stride, storage_offset)?)
    }
    fn unfold(
        &self,
        py: Python<'_>,
        dimension: i64,
        size: usize,
        step: usize,
    ) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.unfold_dim(dimension, size, step)?)
    }
    fn movedim(
        &self,
        py: Python<'_>,
        source: &Bound<PyAny>,
        destination: &Bound<PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let (s, d) = (
            dims_of(Some(source))?.unwrap_or_default(),
            dims_of(Some(destination))?.unwrap_or_default(),
        );
        wrap(py, self.t.movedim(&s, &d)?)
    }
    fn moveaxis(
        &self,
        py: Python<'_>,
        source: &Bound<PyAny>,
        destination: &Bound<PyAny>,
    ) -> PyResult<Py<PyAny>> {
        self.movedim(py, source, destination)
    }
    #[pyo3(signature = (offset=0, dim1=0, dim2=1))]
    fn diagonal(&self, py: Python<'_>, offset: i64, dim1: i64, dim2: i64) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.diagonal(offset, dim1, dim2)?)
    }
    #[pyo3(signature = (*sizes))]
    fn repeat(&self, py: Python<'_>, sizes: &Bound<PyTuple>) -> PyResult<Py<PyAny>> {
        let r = usizes(&sizes_of(sizes)?, "repeat")?;
        wrap(py, self.t.repeat(&r)?)
    }
    #[pyo3(signature = (*dims))]
    fn flip(&self, py: Python<'_>, dims: &Bound<PyTuple>) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.flip(&sizes_of(dims)?)?)
    }
    fn fliplr(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.flip(&[1])?)
    }
    fn flipud(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.flip(&[0])?)
    }
    #[pyo3(signature = (shifts, dims=None))]
    fn roll(
        &self,
        py: Python<'_>,
        shifts: &Bound<PyAny>,
        dims: Option<&Bound<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let s = dims_of(Some(shifts))?.unwrap_or_default();
        wrap(py, self.t.roll(&s, &dims_of(dims)?.unwrap_or_default())?)
    }
    #[pyo3(signature = (diagonal=0))]
    fn tril(&self, py: Python<'_>, diagonal: i64) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.tri(diagonal, false)?)
    }
    #[pyo3(signature = (diagonal=0))]
    fn triu(&self, py: Python<'_>, diagonal: i64) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.tri(diagonal, true)?)
    }
    #[pyo3(signature = (diagonal=0))]
    fn tril_<'py>(slf: Bound<'py, Self>, diagonal: i64) -> PyResult<Bound<'py, Self>> {
        let t = slf.borrow().t.clone();
        t.inplace(|x| x.tri(diagonal, false))?;
        Ok(slf)
    }
    #[pyo3(signature = (diagonal=0))]
    fn triu_<'py>(slf: Bound<'py, Self>, diagonal: i64) -> PyResult<Bound<'py, Self>> {
        let t = slf.borrow().t.clone();
        t.inplace(|x| x.tri(diagonal, true))?;
        Ok(slf)
    }
    #[pyo3(signature = (split_size_or_sections, dim=0))]
    fn split(
        &self,
        py: Python<'_>,
        split_size_or_sections: &Bound<PyAny>,
        dim: i64,
    ) -> PyResult<Py<PyAny>> {
        let parts = match split_size_or_sections.extract::<usize>() {
            Ok(s) => self.t.split_size(s, dim)?,
            Err(_) => {
                let v: Vec<usize> = split_size_or_sections.extract()?;
                self.t.split_sections(&v, dim)?
            }
        };
        tuple_of(py, parts)
    }
    #[pyo3(signature = (chunks, dim=0))]
    fn chunk(&self, py: Python<'_>, chunks: usize, dim: i64) -> PyResult<Py<PyAny>> {
        tuple_of(py, self.t.chunk(chunks, dim)?)
    }
    #[pyo3(signature = (dim=0))]
    fn unbind(&self, py: Python<'_>, dim: i64) -> PyResult<Py<PyAny>> {
        tuple_of(py, self.t.unbind(dim)?)
    }
    #[pyo3(signature = (memory_format=None))]
    fn contiguous(
        slf: Bound<'_, Self>,
        memory_format: Option<&Bound<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let _ = memory_format;
        let t = slf.borrow().t.clone();
        if t.is_contiguous() {
            return Ok(slf.into_any().unbind());
        }
        wrap(slf.py(), t.contiguous()?)
    }
    #[pyo3(signature = (*, memory_format=None))]
    fn clone(&self, py: Python<'_>, memory_format: Option<&Bound<PyAny>>) -> PyResult<Py<PyAny>> {
        let _ = memory_format;
        wrap(py, self.t.deep_clone()?)
    }

    // ---- matmul ---------------------------------------------------------------------------

    fn matmul(&self, py: Python<'_>, other: PyRef<PyTensor>) -> PyResult<Py<PyAny>> {
        let (a, b) = (self.t.clone(), other.t.clone());
        let work = a.numel() * b.shape().last().copied().unwrap_or(1);
        wrap(py, nogil(py, work, || a.matmul(&b))?)
    }
    fn mm(&self, py: Python<'_>, other: PyRef<PyTensor>) -> PyResult<Py<PyAny>> {
        let (a, b) = (self.t.clone(), other.t.clone());
        wrap(py, nogil(py, a.numel() * 64, || a.mm(&b))?)
    }
    fn bmm(&self, py: Python<'_>, other: PyRef<PyTensor>) -> PyResult<Py<PyAny>> {
        let (a, b) = (self.t.clone(), other.t.clone());
        wrap(py, nogil(py, a.numel() * 64, || a.bmm(&b))?)
    }
    fn mv(&self, py: Python<'_>, vec: PyRef<PyTensor>) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.mv(&vec.t)?)
    }
    fn dot(&self, py: Python<'_>, other: PyRef<PyTensor>) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.dot(&other.t)?)
    }
    fn inner(&self, py: Python<'_>, other: PyRef<PyTensor>) -> PyResult<Py<PyAny>> {
        if self.t.ndim() == 1 && other.t.ndim() == 1 {
            return wrap(py, self.t.dot(&other.t)?);
        }
        wrap(py, self.t.matmul(&other.t.mt()?)?)
    }
    fn outer(&self, py: Python<'_>, other: PyRef<PyTensor>) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.outer(&other.t)?)
    }
    fn ger(&self, py: Python<'_>, other: PyRef<PyTensor>) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.outer(&other.t)?)
    }
}

/// Reduction dims: None → all.
fn rdims(dim: Option<&Bound<PyAny>>) -> PyResult<Vec<i64>> {
    Ok(dims_of(dim)?.unwrap_or_default())
}

fn named_pair(py: Python<'_>, kind: &str, a: Tensor, b: Tensor) -> PyResult<Py<PyAny>> {
    let cls = py.import("rtorch.return_types")?.getattr(kind)?;
    Ok(cls.call1(((wrap(py, a)?, wrap(py, b)?),))?.unbind())
}

pub(super) fn tuple_of(py: Python<'_>, parts: Vec<Tensor>) -> PyResult<Py<PyAny>> {
    let items: Vec<Py<PyAny>> = parts
        .into_iter()
        .map(|t| wrap(py, t))
        .collect::<PyResult<_>>()?;
    Ok(PyTuple::new(py, items)?.into_any().unbind())
}

pub fn list_of(py: Python<'_>, parts: Vec<Tensor>) -> PyResult<Py<PyAny>> {
    let items: Vec<Py<PyAny>> = parts
        .into_iter()
        .map(|t| wrap(py, t))
        .collect::<PyResult<_>>()?;
    Ok(PyList::new(py, items)?.into_any().unbind())
}

fn max_min(
    py: Python<'_>,
    t: &Tensor,
    dim: Option<&Bound<PyAny>>,
    keepdim: bool,
    is_max: bool,
) -> PyResult<Py<PyAny>> {
    match dim {
        None => wrap(py, t.max_min_all(is_max)?),
        Some(d) if d.is_none() => wrap(py, t.max_min_all(is_max)?),
        Some(d) => {
            if let Ok(o) = d.cast::<PyTensor>() {
                let other = o.borrow().t.clone();
                return wrap(
                    py,
                    if is_max {
                        t.maximum(&other)?
                    } else {
                        t.minimum(&other)?
                    },
                );
            }
            let (v, i) = t.max_min_dim(index_i64(d)?, keepdim, is_max)?;
            named_pair(py, if is_max { "max" } else { "min" }, v, i)
        }
    }
}

fn var_args(
    dim: Option<&Bound<PyAny>>,
    unbiased: Option<&Bound<PyAny>>,
    correction: Option<f64>,
) -> PyResult<(Vec<i64>, f64)> {
    // var(unbiased) as the first positional argument is also accepted, as in PyTorch.
    let (dim, unbiased) = match dim {
        Some(d) if d.is_instance_of::<pyo3::types::PyBool>() => (None, Some(d.extract::<bool>()?)),
        _ => (dim, unbiased.map(|u| u.extract::<bool>()).transpose()?),
    };
    let c = correction.unwrap_or(if unbiased.unwrap_or(true) { 1.0 } else { 0.0 });
    Ok((rdims(dim)?, c))
}
