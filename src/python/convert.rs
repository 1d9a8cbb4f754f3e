//! Conversions between Python objects and tensors, dtypes, devices, shapes and indices.

use super::tensor::PyTensor;
use super::types::{PyDType, PyDevice};
use crate::device::Device;
use crate::dtype::DType;
use crate::error::Error;
use crate::storage::Storage;
use crate::tensor::creation_scalar::Scalar;
use crate::tensor::{Tensor, TensorIndex};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PySequence, PySlice, PyTuple};
use std::sync::Arc;

/// A Python number as a Scalar (bool before int, since bool is an int).
pub fn scalar_of(obj: &Bound<PyAny>) -> Option<Scalar> {
    if obj.is_instance_of::<PyBool>() {
        return obj.extract::<bool>().ok().map(Scalar::Bool);
    }
    if obj.is_instance_of::<PyInt>() {
        return obj.extract::<i64>().ok().map(Scalar::Int);
    }
    if obj.is_instance_of::<PyFloat>() {
        return obj.extract::<f64>().ok().map(Scalar::Float);
    }
    // NumPy scalars and other numbers.
    let tname = obj.get_type().name().ok()?.to_string();
    if tname.starts_with("bool") {
        return obj.extract::<bool>().ok().map(Scalar::Bool);
    }
    if tname.starts_with("int") || tname.starts_with("uint") {
        return obj
            .call_method0("__index__")
            .ok()?
            .extract::<i64>()
            .ok()
            .map(Scalar::Int);
    }
    if tname.starts_with("float") {
        return obj
            .call_method0("__float__")
            .ok()?
            .extract::<f64>()
            .ok()
            .map(Scalar::Float);
    }
    None
}

pub fn dtype_of(obj: &Bound<PyAny>) -> PyResult<DType> {
    if let Ok(d) = obj.cast::<PyDType>() {
        return Ok(d.get().dt);
    }
    let py = obj.py();
    if obj.is(py.get_type::<PyFloat>()) {
        return Ok(DType::F64);
    }
    if obj.is(py.get_type::<PyBool>()) {
        return Ok(DType::Bool);
    }
    if obj.is(py.get_type::<PyInt>()) {
        return Ok(DType::I64);
    }
    if let Ok(s) = obj.extract::<String>() {
        if let Some(d) = DType::from_name(s.trim_start_matches("torch.")) {
            return Ok(d);
        }
    }
    // NumPy dtypes and scalar types.
    if let Ok(name) = obj.getattr("name").and_then(|n| n.extract::<String>()) {
        if let Some(d) = DType::from_name(&name) {
            return Ok(d);
        }
    }
    if let Ok(name) = obj.getattr("__name__").and_then(|n| n.extract::<String>()) {
        if let Some(d) = DType::from_name(&name) {
            return Ok(d);
        }
    }
    Err(PyTypeError::new_err(format!(
        "expected a torch.dtype, got {}",
        obj.repr()?
    )))
}

pub fn opt_dtype(obj: Option<&Bound<PyAny>>) -> PyResult<Option<DType>> {
    match obj {
        None => Ok(None),
        Some(o) if o.is_none() => Ok(None),
        Some(o) => dtype_of(o).map(Some),
    }
}

pub fn device_of(obj: &Bound<PyAny>) -> PyResult<Device> {
    if let Ok(d) = obj.cast::<PyDevice>() {
        return Ok(d.get().dev);
    }
    if let Ok(s) = obj.extract::<String>() {
        return Ok(Device::parse(&s)?);
    }
    if let Ok(i) = obj.extract::<i64>() {
        return Ok(Device::Cuda(i as usize));
    }
    Err(PyTypeError::new_err(format!(
        "expected a torch.device, got {}",
        obj.repr()?
    )))
}

pub fn check_device(obj: Option<&Bound<PyAny>>) -> PyResult<()> {
    if let Some(o) = obj {
        if !o.is_none() {
            device_of(o)?.check_available()?;
        }
    }
    Ok(())
}

/// Sizes from `f(2, 3)`, `f((2, 3))`, `f([2, 3])` or `f(torch.Size)`.
pub fn sizes_of(args: &Bound<PyTuple>) -> PyResult<Vec<i64>> {
    if args.len() == 1 {
        let a = args.get_item(0)?;
        if !a.is_instance_of::<PyInt>() {
            if let Ok(seq) = a.cast::<PySequence>() {
                return seq.try_iter()?.map(|x| index_i64(&x?)).collect();
            }
        }
    }
    args.iter().map(|x| index_i64(&x)).collect()
}

pub fn index_i64(x: &Bound<PyAny>) -> PyResult<i64> {
    if let Ok(t) = x.cast::<PyTensor>() {
        let t = &t.borrow().t;
        if t.numel() == 1 && !t.dtype().is_float() {
            return Ok(t.item_i64()?);
        }
    }
    x.call_method0("__index__")
        .and_then(|v| v.extract::<i64>())
        .map_err(|_| {
            PyTypeError::new_err(format!(
                "expected an integer, got {}",
                x.get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            ))
        })
}

pub fn usizes(v: &[i64], op: &str) -> PyResult<Vec<usize>> {
    v.iter()
        .map(|&s| {
            if s < 0 {
                Err(Error::Runtime(format!(
                    "{op}: Trying to create tensor with negative dimension {s}: {v:?}"
                ))
                .into())
            } else {
                Ok(s as usize)
            }
        })
        .collect()
}

/// `dim` as None, an int, or a tuple/list of ints.
pub fn dims_of(obj: Option<&Bound<PyAny>>) -> PyResult<Option<Vec<i64>>> {
    match obj {
        None => Ok(None),
        Some(o) if o.is_none() => Ok(None),
        Some(o) => {
            if let Ok(i) = o.extract::<i64>() {
                return Ok(Some(vec![i]));
            }
            let seq = o
                .cast::<PySequence>()
                .map_err(|_| PyTypeError::new_err("dim must be an int or a tuple of ints"))?;
            Ok(Some(
                seq.try_iter()?
                    .map(|x| index_i64(&x?))
                    .collect::<PyResult<_>>()?,
            ))
        }
    }
}

fn typestr(dt: DType) -> Option<&'static str> {
    Some(match dt {
        DType::Bool => "|b1",
        DType::U8 => "|u1",
        DType::I8 => "|i1",
        DType::I16 => "<i2",
        DType::I32 => "<i4",
        DType::I64 => "<i8",
        DType::F16 => "<f2",
        DType::F32 => "<f4",
        DType::F64 => "<f8",
        DType::BF16 => return None,
    })
}

fn dtype_of_typestr(s: &str) -> Option<DType> {
    let kind = &s[1..];
    Some(match kind {
        "b1" => DType::Bool,
        "u1" => DType::U8,
        "i1" => DType::I8,
        "i2" => DType::I16,
        "i4" => DType::I32,
        "i8" => DType::I64,
        "f2" => DType::F16,
        "f4" => DType::F32,
        "f8" => DType::F64,
        _ => return None,
    })
}

/// Wraps an object exposing `__array_interface__` without copying (`from_numpy`).
pub fn from_array_interface(obj: &Bound<PyAny>) -> PyResult<Tensor> {
    let iface = obj.getattr("__array_interface__")?;
    let iface = iface.cast::<PyDict>()?;
    let ts: String = iface
        .get_item("typestr")?
        .ok_or_else(|| PyValueError::new_err("bad __array_interface__"))?
        .extract()?;
    if ts.starts_with('>') {
        return Err(PyTypeError::new_err("can't convert a big-endian array"));
    }
    let dt = dtype_of_typestr(&ts).ok_or_else(|| {
        PyTypeError::new_err(format!(
            "can't convert np.ndarray of type {ts}. The only supported types are: float64, float32, float16, int64, int32, int16, int8, uint8, and bool."
        ))
    })?;
    let shape: Vec<usize> = iface
        .get_item("shape")?
        .ok_or_else(|| PyValueError::new_err("bad __array_interface__"))?
        .extract()?;
    let (ptr, _ro): (usize, bool) = iface
        .get_item("data")?
        .ok_or_else(|| PyValueError::new_err("bad __array_interface__"))?
        .extract()?;
    let item = dt.size();
    let strides: Vec<usize> = match iface.get_item("strides")? {
        Some(s) if !s.is_none() => {
            let bs: Vec<isize> = s.extract()?;
            let mut out = Vec::new();
            for b in bs {
                if b < 0 {
                    return Err(PyValueError::new_err(
                        "At least one stride in the given numpy array is negative, and tensors with negative strides are not currently supported. (You can probably work around this by making a copy of your array  with array.copy().) ",
                    ));
                }
                if b as usize % item != 0 {
                    return Err(PyValueError::new_err("given numpy array strides not a multiple of the element byte size. Copy the numpy array to reallocate the memory."));
                }
                out.push(b as usize / item);
            }
            out
        }
        _ => crate::shape::contiguous_strides(&shape),
    };
    let layout = crate::layout::Layout {
        shape,
        strides,
        offset: 0,
    };
    let len = layout.max_extent();
    let owner: Py<PyAny> = obj.clone().unbind();
    // SAFETY: the array's buffer covers `len` elements and lives as long as `owner`.
    let storage = unsafe { Storage::from_foreign(ptr as *mut u8, len, dt, Box::new(owner)) };
    Ok(Tensor::from_storage(Arc::new(storage), layout)?)
}

/// The `__array_interface__` dict that exposes a tensor's memory to NumPy.
pub fn array_interface<'py>(py: Python<'py>, t: &Tensor) -> PyResult<Bound<'py, PyDict>> {
    let ts = typestr(t.dtype())
        .ok_or_else(|| PyTypeError::new_err("Got unsupported ScalarType BFloat16"))?;
    let d = PyDict::new(py);
    d.set_item("shape", PyTuple::new(py, t.shape())?)?;
    d.set_item("typestr", ts)?;
    d.set_item("data", (t.data_ptr(), false))?;
    let item = t.dtype().size();
    let bs: Vec<usize> = t.strides().iter().map(|s| s * item).collect();
    d.set_item("strides", PyTuple::new(py, bs)?)?;
    d.set_item("version", 3)?;
    Ok(d)
}

/// Nested Python data → (flat values, shape, inferred dtype).
struct Nested {
    vals: Vec<Scalar>,
    shape: Vec<usize>,
    kind: u8, // 0 bool, 1 int, 2 float
}

fn walk(obj: &Bound<PyAny>, depth: usize, out: &mut Nested) -> PyResult<()> {
    if let Some(s) = scalar_of(obj) {
        if depth != out.shape.len() {
            return Err(PyValueError::new_err(
                "expected sequence of equal-length sequences",
            ));
        }
        out.kind = out.kind.max(match s {
            Scalar::Bool(_) => 0,
            Scalar::Int(_) => 1,
            Scalar::Float(_) => 2,
        });
        out.vals.push(s);
        return Ok(());
    }
    if let Ok(t) = obj.cast::<PyTensor>() {
        let t = t.borrow().t.clone();
        if t.numel() != 1 || t.ndim() != 0 {
            // A tensor inside a list: treat as nested data.
            let lst = super::tensor::tolist(obj.py(), &t)?;
            return walk(&lst, depth, out);
        }
        let s = if t.dtype().is_float() {
            Scalar::Float(t.item_f64()?)
        } else if t.dtype() == DType::Bool {
            Scalar::Bool(t.item_i64()? != 0)
        } else {
            Scalar::Int(t.item_i64()?)
        };
        return walk(&s_to_py(obj.py(), s)?, depth, out);
    }
    if obj.hasattr("__array_interface__")? && !obj.is_instance_of::<PyList>() {
        let lst = obj.call_method0("tolist")?;
        return walk(&lst, depth, out);
    }
    if obj.is_instance_of::<pyo3::types::PyString>() || obj.is_instance_of::<pyo3::types::PyBytes>()
    {
        return Err(PyTypeError::new_err(format!(
            "new(): invalid data type '{}'",
            obj.get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        )));
    }
    let seq = obj.cast::<PySequence>().map_err(|_| {
        PyTypeError::new_err(format!(
            "Could not infer dtype of {}",
            obj.get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))
    })?;
    let n = seq.len()?;
    if depth == out.shape.len() {
        if !out.vals.is_empty() {
            return Err(PyValueError::new_err(
                "expected sequence of equal-length sequences",
            ));
        }
        out.shape.push(n);
    } else if depth > out.shape.len() || out.shape[depth] != n {
        return Err(PyValueError::new_err(format!(
            "expected sequence of length {} at dim {} (got {})",
            out.shape.get(depth).copied().unwrap_or(0),
            depth,
            n
        )));
    }
    for item in seq.try_iter()? {
        walk(&item?, depth + 1, out)?;
    }
    Ok(())
}

fn s_to_py(py: Python<'_>, s: Scalar) -> PyResult<Bound<'_, PyAny>> {
    Ok(match s {
        Scalar::Bool(b) => PyBool::new(py, b).to_owned().into_any(),
        Scalar::Int(i) => i.into_pyobject(py)?.into_any(),
        Scalar::Float(f) => f.into_pyobject(py)?.into_any(),
    })
}

/// `torch.tensor(data)`: copies, infers the dtype like PyTorch.
pub fn tensor_from_data(data: &Bound<PyAny>, dtype: Option<DType>) -> PyResult<Tensor> {
    if let Ok(t) = data.cast::<PyTensor>() {
        let t = t.borrow().t.detach().copy_raw()?;
        return Ok(match dtype {
            Some(d) => t.to_dtype(d)?,
            None => t,
        });
    }
    // numpy arrays and numpy scalars (np.float64 subclasses float) keep their dtype.
    let py_number = data.is_exact_instance_of::<PyFloat>()
        || data.is_exact_instance_of::<pyo3::types::PyInt>()
        || data.is_exact_instance_of::<PyBool>();
    if data.hasattr("__array_interface__")? && !py_number {
        let t = from_array_interface(data)?.copy_raw()?;
        return Ok(match dtype {
            Some(d) => t.to_dtype(d)?,
            None => t,
        });
    }
    // Fast path: a flat list of floats.
    if let Ok(v) = data.extract::<Vec<f64>>() {
        if data
            .cast::<PyList>()
            .map(|l| l.iter().all(|x| x.is_exact_instance_of::<PyFloat>()))
            .unwrap_or(false)
        {
            let n = v.len();
            let t = Tensor::from_vec(v, &[n])?;
            return Ok(t.to_dtype(dtype.unwrap_or(DType::F32))?);
        }
    }
    let mut nested = Nested {
        vals: Vec::new(),
        shape: Vec::new(),
        kind: 0,
    };
    walk(data, 0, &mut nested)?;
    let n: usize = nested.shape.iter().product();
    if nested.vals.len() != n {
        return Err(PyValueError::new_err(
            "expected sequence of equal-length sequences",
        ));
    }
    let inferred = if nested.vals.is_empty() {
        DType::F32
    } else {
        match nested.kind {
            0 => DType::Bool,
            1 => DType::I64,
            _ => DType::F32,
        }
    };
    let dt = dtype.unwrap_or(inferred);
    let t = crate::with_dtype!(dt, T, {
        let v: Vec<T> = nested.vals.iter().map(|s| s.to_elem::<T>()).collect();
        Tensor::from_vec(v, &nested.shape)?
    });
    Ok(t)
}

/// Python index expression → index items.
pub fn index_items(py: Python<'_>, idx: &Bound<PyAny>) -> PyResult<Vec<TensorIndex>> {
    let items: Vec<Bound<PyAny>> = if let Ok(t) = idx.cast::<PyTuple>() {
        t.iter().collect()
    } else {
        vec![idx.clone()]
    };
    items.iter().map(|i| index_item(py, i)).collect()
}

fn index_item(py: Python<'_>, i: &Bound<PyAny>) -> PyResult<TensorIndex> {
    if i.is_none() {
        return Ok(TensorIndex::None);
    }
    if i.is(py.Ellipsis()) {
        return Ok(TensorIndex::Ellipsis);
    }
    if let Ok(s) = i.cast::<PySlice>() {
        let get = |name: &str| -> PyResult<Option<i64>> {
            let v = s.getattr(name)?;
            if v.is_none() {
                Ok(None)
            } else {
                index_i64(&v).map(Some)
            }
        };
        return Ok(TensorIndex::Slice(
            get("start")?,
            get("stop")?,
            get("step")?,
        ));
    }
    if let Ok(t) = i.cast::<PyTensor>() {
        let t = t.borrow().t.clone();
        if t.ndim() == 0 && !t.dtype().is_float() && t.dtype() != DType::Bool {
            return Ok(TensorIndex::Int(t.item_i64()?));
        }
        return Ok(TensorIndex::Tensor(t));
    }
    if i.is_instance_of::<PyBool>() {
        let b: bool = i.extract()?;
        return Ok(TensorIndex::Tensor(Tensor::scalar(b)));
    }
    if let Ok(v) = i.call_method0("__index__") {
        return Ok(TensorIndex::Int(v.extract()?));
    }
    if i.is_instance_of::<PyList>() || i.hasattr("__array_interface__")? {
        let t = tensor_from_data(i, None)?;
        if t.dtype().is_float() {
            return Err(pyo3::exceptions::PyIndexError::new_err(
                "tensors used as indices must be long, int, byte or bool tensors",
            ));
        }
        return Ok(TensorIndex::Tensor(t));
    }
    Err(pyo3::exceptions::PyIndexError::new_err(format!(
        "only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are valid indices (got {})",
        i.get_type().name()?
    )))
}
