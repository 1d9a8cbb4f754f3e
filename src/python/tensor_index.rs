//! Tensor methods: gather/scatter, index_select/index_add/index_put_, masked ops, nonzero,
//! where, in-place fills and dtype conversion by name.

use super::convert::*;
use super::tensor::{wrap, PyTensor};
use super::tensor_methods::tuple_of;
use super::tensor_ops::need;
use crate::dtype::DType;
use crate::error::Error;
use crate::tensor::binary_ops::Arg;
use crate::tensor::Tensor;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

#[pymethods]
impl PyTensor {
    // ---- indexing ops ---------------------------------------------------------------------

    fn gather(&self, py: Python<'_>, dim: i64, index: PyRef<PyTensor>) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.gather(dim, &index.t)?)
    }
    #[pyo3(signature = (dim, index, src=None, *, value=None, reduce=None))]
    fn scatter(
        &self,
        py: Python<'_>,
        dim: i64,
        index: PyRef<PyTensor>,
        src: Option<&Bound<PyAny>>,
        value: Option<&Bound<PyAny>>,
        reduce: Option<&str>,
    ) -> PyResult<Py<PyAny>> {
        wrap(
            py,
            scatter_impl(&self.t, dim, &index.t, src.or(value), reduce)?,
        )
    }
    #[pyo3(signature = (dim, index, src=None, *, value=None, reduce=None))]
    fn scatter_<'py>(
        slf: Bound<'py, Self>,
        dim: i64,
        index: PyRef<PyTensor>,
        src: Option<&Bound<PyAny>>,
        value: Option<&Bound<PyAny>>,
        reduce: Option<&str>,
    ) -> PyResult<Bound<'py, Self>> {
        let t = slf.borrow().t.clone();
        let r = scatter_impl(&t.inplace_input()?, dim, &index.t, src.or(value), reduce)?;
        t.apply_inplace(&r)?;
        Ok(slf)
    }
    fn scatter_add(
        &self,
        py: Python<'_>,
        dim: i64,
        index: PyRef<PyTensor>,
        src: PyRef<PyTensor>,
    ) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.scatter_add(dim, &index.t, &src.t)?)
    }
    fn scatter_add_<'py>(
        slf: Bound<'py, Self>,
        dim: i64,
        index: PyRef<PyTensor>,
        src: PyRef<PyTensor>,
    ) -> PyResult<Bound<'py, Self>> {
        let t = slf.borrow().t.clone();
        t.inplace(|x| x.scatter_add(dim, &index.t, &src.t))?;
        Ok(slf)
    }
    fn index_select(
        &self,
        py: Python<'_>,
        dim: i64,
        index: PyRef<PyTensor>,
    ) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.index_select(dim, &index.t)?)
    }
    #[pyo3(signature = (dim, index, source, *, alpha=1.0))]
    fn index_add(
        &self,
        py: Python<'_>,
        dim: i64,
        index: PyRef<PyTensor>,
        source: PyRef<PyTensor>,
        alpha: f64,
    ) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.index_add(dim, &index.t, &source.t, alpha)?)
    }
    #[pyo3(signature = (dim, index, source, *, alpha=1.0))]
    fn index_add_<'py>(
        slf: Bound<'py, Self>,
        dim: i64,
        index: PyRef<PyTensor>,
        source: PyRef<PyTensor>,
        alpha: f64,
    ) -> PyResult<Bound<'py, Self>> {
        let t = slf.borrow().t.clone();
        t.inplace(|x| x.index_add(dim, &index.t, &source.t, alpha))?;
        Ok(slf)
    }
    fn index_copy(
        &self,
        py: Python<'_>,
        dim: i64,
        index: PyRef<PyTensor>,
        source: PyRef<PyTensor>,
    ) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.index_copy(dim, &index.t, &source.t)?)
    }
    fn index_copy_<'py>(
        slf: Bound<'py, Self>,
        dim: i64,
        index: PyRef<PyTensor>,
        source: PyRef<PyTensor>,
    ) -> PyResult<Bound<'py, Self>> {
        let t = slf.borrow().t.clone();
        t.inplace(|x| x.index_copy(dim, &index.t, &source.t))?;
        Ok(slf)
    }
    fn index_fill(
        &self,
        py: Python<'_>,
        dim: i64,
        index: PyRef<PyTensor>,
        value: &Bound<PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let v = super::tensor::tensor_or_scalar(value, self.t.dtype())?;
        wrap(py, self.t.index_fill(dim, &index.t, &v)?)
    }
    fn index_fill_<'py>(
        slf: Bound<'py, Self>,
        dim: i64,
        index: PyRef<PyTensor>,
        value: &Bound<PyAny>,
    ) -> PyResult<Bound<'py, Self>> {
        let t = slf.borrow().t.clone();
        let v = super::tensor::tensor_or_scalar(value, t.dtype())?;
        t.inplace(|x| x.index_fill(dim, &index.t, &v))?;
        Ok(slf)
    }
    /// `repeat_interleave(repeats, dim=None, *, output_size=None)`; with no `repeats`, this
    /// tensor holds the repeats of `arange(len)` (`torch.repeat_interleave(repeats)`).
    #[pyo3(signature = (repeats=None, dim=None, *, output_size=None))]
    fn repeat_interleave(
        &self,
        py: Python<'_>,
        repeats: Option<&Bound<PyAny>>,
        dim: Option<i64>,
        output_size: Option<usize>,
    ) -> PyResult<Py<PyAny>> {
        let Some(r) = repeats else {
            use crate::tensor::creation_scalar::Scalar;
            let n = self.t.numel() as i64;
            let x = Tensor::arange(Scalar::Int(0), Scalar::Int(n), Scalar::Int(1), DType::I64)?;
            return wrap(py, x.repeat_interleave(&self.t, Some(0), output_size)?);
        };
        let reps = match r.cast::<PyTensor>() {
            Ok(t) => t.borrow().t.clone(),
            Err(_) => tensor_from_data(r, Some(DType::I64))?,
        };
        wrap(py, self.t.repeat_interleave(&reps, dim, output_size)?)
    }
    #[pyo3(signature = (indices, values, accumulate=false))]
    fn index_put_<'py>(
        slf: Bound<'py, Self>,
        indices: &Bound<PyAny>,
        values: PyRef<PyTensor>,
        accumulate: bool,
    ) -> PyResult<Bound<'py, Self>> {
        let t = slf.borrow().t.clone();
        let idx: Vec<Option<Tensor>> = indices
            .try_iter()?
            .map(|i| {
                let i = i?;
                if i.is_none() {
                    Ok(None)
                } else {
                    Ok(Some(i.cast::<PyTensor>()?.borrow().t.clone()))
                }
            })
            .collect::<PyResult<_>>()?;
        t.index_put_(&idx, &values.t, accumulate)?;
        Ok(slf)
    }
    fn masked_fill(
        &self,
        py: Python<'_>,
        mask: PyRef<PyTensor>,
        value: &Bound<PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let v = super::tensor::stored_tensor_or_scalar(value, self.t.dtype())?;
        wrap(py, self.t.masked_fill(&mask.t, &v)?)
    }
    fn masked_fill_<'py>(
        slf: Bound<'py, Self>,
        mask: PyRef<PyTensor>,
        value: &Bound<PyAny>,
    ) -> PyResult<Bound<'py, Self>> {
        let t = slf.borrow().t.clone();
        let v = super::tensor::stored_tensor_or_scalar(value, t.dtype())?;
        t.inplace_overlapping(|x| x.masked_fill(&mask.t, &v))?;
        Ok(slf)
    }
    fn masked_select(&self, py: Python<'_>, mask: PyRef<PyTensor>) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.masked_select(&mask.t)?)
    }
    fn take(&self, py: Python<'_>, index: PyRef<PyTensor>) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.take(&index.t)?)
    }
    #[pyo3(signature = (*, as_tuple=false))]
    fn nonzero(&self, py: Python<'_>, as_tuple: bool) -> PyResult<Py<PyAny>> {
        let nz = self.t.nonzero()?;
        if as_tuple {
            let cols = (0..self.t.ndim().max(1) as i64)
                .map(|k| {
                    if self.t.ndim() == 0 {
                        Ok(nz.reshape(&[-1])?)
                    } else {
                        nz.select(1, k)?.contiguous()
                    }
                })
                .collect::<crate::error::Result<Vec<_>>>()?;
            return tuple_of(py, cols);
        }
        wrap(py, nz)
    }
    fn argwhere(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.nonzero()?)
    }
    #[pyo3(name = "where")]
    fn where_(
        &self,
        py: Python<'_>,
        condition: PyRef<PyTensor>,
        other: &Bound<PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let o = need(other, "where")?;
        wrap(
            py,
            Tensor::where_args(&condition.t, Arg::T(&self.t), o.arg())?,
        )
    }

    // ---- in-place fills -------------------------------------------------------------------

    fn zero_(slf: Bound<'_, Self>) -> PyResult<Bound<'_, Self>> {
        slf.borrow().t.zero_()?;
        Ok(slf)
    }
    fn fill_<'py>(slf: Bound<'py, Self>, value: &Bound<PyAny>) -> PyResult<Bound<'py, Self>> {
        let t = slf.borrow().t.clone();
        match scalar_of(value) {
            Some(s) => t.fill_(s)?,
            None => {
                let v = value.cast::<PyTensor>()?.borrow().t.clone();
                t.copy_(&v)?;
            }
        }
        Ok(slf)
    }
    #[pyo3(signature = (src, non_blocking=false))]
    fn copy_<'py>(
        slf: Bound<'py, Self>,
        src: &Bound<PyAny>,
        non_blocking: bool,
    ) -> PyResult<Bound<'py, Self>> {
        let _ = non_blocking;
        let t = slf.borrow().t.clone();
        let s = match src.cast::<PyTensor>() {
            Ok(s) => s.borrow().t.clone(),
            Err(_) => tensor_from_data(src, Some(t.dtype()))?,
        };
        t.copy_(&s)?;
        Ok(slf)
    }
    #[pyo3(signature = (dtype=None, non_blocking=false))]
    fn r#type(
        &self,
        py: Python<'_>,
        dtype: Option<&Bound<PyAny>>,
        non_blocking: bool,
    ) -> PyResult<Py<PyAny>> {
        let _ = non_blocking;
        match dtype {
            None => {
                let name = match self.t.dtype() {
                    DType::F32 => "torch.FloatTensor",
                    DType::F64 => "torch.DoubleTensor",
                    DType::F16 => "torch.HalfTensor",
                    DType::BF16 => "torch.BFloat16Tensor",
                    DType::I64 => "torch.LongTensor",
                    DType::I32 => "torch.IntTensor",
                    DType::I16 => "torch.ShortTensor",
                    DType::I8 => "torch.CharTensor",
                    DType::U8 => "torch.ByteTensor",
                    DType::Bool => "torch.BoolTensor",
                };
                Ok(name.into_pyobject(py)?.into_any().unbind())
            }
            Some(d) => wrap(py, self.t.to_dtype(dtype_of(d)?)?),
        }
    }
    fn type_as(&self, py: Python<'_>, other: PyRef<PyTensor>) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.to_dtype(other.t.dtype())?)
    }
}

fn scatter_impl(
    t: &Tensor,
    dim: i64,
    index: &Tensor,
    src: Option<&Bound<PyAny>>,
    reduce: Option<&str>,
) -> PyResult<Tensor> {
    let src = src.ok_or_else(|| PyTypeError::new_err("scatter(): expected 'src' or 'value'"))?;
    let s = match src.cast::<PyTensor>() {
        Ok(s) => s.borrow().t.clone(),
        Err(_) => {
            let v = scalar_of(src)
                .ok_or_else(|| PyTypeError::new_err("scatter(): value must be a number"))?;
            Tensor::scalar_of(v, t.dtype())
                .to_device(t.device())?
                .expand(index.shape())?
        }
    };
    Ok(match reduce {
        None => t.scatter(dim, index, &s)?,
        Some("add") => t.scatter_add(dim, index, &s)?,
        Some(r) => {
            return Err(
                Error::NotImplemented(format!("scatter(reduce='{r}') is not supported")).into(),
            )
        }
    })
}
