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

/// A `device=` argument (a `torch.device`, a string or a CUDA index) as the device tensors
/// go to: "cuda" without an index is the current CUDA device.
pub fn device_of(obj: &Bound<PyAny>) -> PyResult<Device> {
    if let Ok(d) = obj.cast::<PyDevice>() {
        return Ok(d.get().resolve());
    }
    if let Ok(s) = obj.extract::<String>() {
        return Ok(PyDevice::parse(&s)?.resolve());
    }
    if let Ok(i) = obj.extract::<i64>() {
        let i = usize::try_from(i)
            .map_err(|_| Error::Runtime("Device index must not be negative".into()))?;
        return Ok(Device::Cuda(i));
    }
    Err(PyTypeError::new_err(format!(
        "expected a torch.device, got {}",
        obj.repr()?
    )))
}

/// The `device=` argument of a factory function, `default` when absent; checked to exist.
pub fn device_or(obj: Option<&Bound<PyAny>>, default: Device) -> PyResult<Device> {
    let d = match obj {
        Some(o) if !o.is_none() => device_of(o)?,
        _ => default,
    };
    d.check_available()?;
    Ok(d)
}

/// The `device=` argument of a factory function (CPU when absent).
pub fn opt_device(obj: Option<&Bound<PyAny>>) -> PyResult<Device> {
    device_or(obj, Device::Cpu)
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

const SUPPORTED_NUMPY_TYPES: &str = "The only supported types are: float64, float32, float16, int64, int32, int16, int8, uint8, and bool.";

/// `(kind, size)` of an array-interface typestr (`"<f4"`: kind 'f', 4 bytes) → dtype.
fn dtype_of_kind(kind: u8, size: usize) -> Option<DType> {
    Some(match (kind, size) {
        (b'b', 1) => DType::Bool,
        (b'u', 1) => DType::U8,
        (b'i', 1) => DType::I8,
        (b'i', 2) => DType::I16,
        (b'i', 4) => DType::I32,
        (b'i', 8) => DType::I64,
        (b'f', 2) => DType::F16,
        (b'f', 4) => DType::F32,
        (b'f', 8) => DType::F64,
        _ => return None,
    })
}

/// Parses a typestr: `(dtype, byte-swapped)`, or None for anything unsupported or malformed.
fn parse_typestr(s: &str) -> Option<(DType, bool)> {
    let b = s.as_bytes();
    if b.len() < 3 || !s.is_ascii() || !b[2..].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let size: usize = s[2..].parse().ok()?;
    let dt = dtype_of_kind(b[1], size)?;
    let foreign = if cfg!(target_endian = "little") {
        b'>'
    } else {
        b'<'
    };
    match b[0] {
        b'<' | b'>' | b'|' | b'=' => Some((dt, size > 1 && b[0] == foreign)),
        _ => None,
    }
}

/// Memory described by `__array_interface__`, validated: every size and extent below was
/// computed with checked arithmetic, and a non-empty array has a non-NULL pointer.
struct ForeignArray {
    ptr: usize,
    readonly: bool,
    dtype: DType,
    /// Multi-byte elements stored in the other byte order.
    swapped: bool,
    shape: Vec<usize>,
    /// Byte strides, each a multiple of the element size.
    byte_strides: Vec<usize>,
    numel: usize,
    /// Bytes from `ptr` that the array touches (0 when it has no elements).
    extent: usize,
}

fn iface_item<'py>(iface: &Bound<'py, PyDict>, key: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
    Ok(iface.get_item(key)?.filter(|v| !v.is_none()))
}

fn bad_iface(what: &str) -> PyErr {
    PyValueError::new_err(format!("invalid __array_interface__: {what}"))
}

/// An integer entry (`int` or anything with `__index__`): TypeError for other types,
/// ValueError when it does not fit.
fn iface_int(v: &Bound<PyAny>, what: &str) -> PyResult<i128> {
    v.extract::<i128>().map_err(|e| {
        if e.is_instance_of::<pyo3::exceptions::PyOverflowError>(v.py()) {
            bad_iface(&format!("{what} is out of range"))
        } else {
            PyTypeError::new_err(format!(
                "invalid __array_interface__: {what} must be an int, got {}",
                v.get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            ))
        }
    })
}

/// A non-negative integer that fits `usize`.
fn iface_usize(v: &Bound<PyAny>, what: &str) -> PyResult<usize> {
    let n = iface_int(v, what)?;
    usize::try_from(n).map_err(|_| bad_iface(&format!("{what} must be non-negative, got {n}")))
}

fn iface_ints(v: &Bound<PyAny>, what: &str) -> PyResult<Vec<i64>> {
    let seq = v.cast::<PySequence>().map_err(|_| {
        PyTypeError::new_err(format!(
            "invalid __array_interface__: {what} must be a tuple of ints"
        ))
    })?;
    seq.try_iter()?
        .map(|x| {
            let n = iface_int(&x?, what)?;
            i64::try_from(n).map_err(|_| bad_iface(&format!("{what} entry {n} is out of range")))
        })
        .collect()
}

/// `np.ndarray of type numpy.X` as PyTorch names it, or the typestr for other objects.
fn numpy_type_name(obj: &Bound<PyAny>, ts: &str) -> String {
    obj.getattr("dtype")
        .and_then(|d| d.getattr("type"))
        .and_then(|t| t.getattr("__name__"))
        .and_then(|n| n.extract::<String>())
        .map(|n| format!("numpy.{n}"))
        .unwrap_or_else(|_| format!("{ts:?}"))
}

fn parse_array_interface(obj: &Bound<PyAny>) -> PyResult<ForeignArray> {
    let iface = obj.getattr("__array_interface__")?;
    let iface = iface
        .cast::<PyDict>()
        .map_err(|_| PyTypeError::new_err("__array_interface__ must be a dict"))?;
    let ts: String = iface_item(iface, "typestr")?
        .ok_or_else(|| bad_iface("missing 'typestr'"))?
        .extract()
        .map_err(|_| {
            PyTypeError::new_err("invalid __array_interface__: 'typestr' must be a str")
        })?;
    let (dtype, swapped) = parse_typestr(&ts).ok_or_else(|| {
        PyTypeError::new_err(format!(
            "can't convert np.ndarray of type {}. {SUPPORTED_NUMPY_TYPES}",
            numpy_type_name(obj, &ts)
        ))
    })?;
    if iface_item(iface, "mask")?.is_some() {
        return Err(bad_iface("masked arrays are not supported"));
    }
    let dims = iface_ints(
        &iface_item(iface, "shape")?.ok_or_else(|| bad_iface("missing 'shape'"))?,
        "'shape'",
    )?;
    let mut shape = Vec::with_capacity(dims.len());
    let mut numel: usize = 1;
    for &d in &dims {
        let d = usize::try_from(d)
            .map_err(|_| bad_iface(&format!("negative dimension {d} in shape {dims:?}")))?;
        numel = numel
            .checked_mul(d)
            .ok_or_else(|| bad_iface(&format!("shape {dims:?} has too many elements")))?;
        shape.push(d);
    }
    let data = iface_item(iface, "data")?.ok_or_else(|| {
        PyTypeError::new_err(
            "invalid __array_interface__: 'data' must be a (pointer, read-only) tuple; the buffer protocol is not supported",
        )
    })?;
    let data = data.cast::<PyTuple>().map_err(|_| {
        PyTypeError::new_err(
            "invalid __array_interface__: 'data' must be a (pointer, read-only) tuple; the buffer protocol is not supported",
        )
    })?;
    if data.len() != 2 {
        return Err(bad_iface("'data' must be a (pointer, read-only) tuple"));
    }
    let ptr = iface_usize(&data.get_item(0)?, "the data pointer")?;
    let readonly = data.get_item(1)?.is_truthy()?;
    let item = dtype.size();
    let byte_strides: Vec<usize> = match iface_item(iface, "strides")? {
        None => {
            // C order; the element count did not overflow, so neither do these products.
            let mut st = vec![0; shape.len()];
            let mut acc = item;
            for k in (0..shape.len()).rev() {
                st[k] = acc;
                acc = acc.saturating_mul(shape[k].max(1));
            }
            st
        }
        Some(s) => {
            let st = iface_ints(&s, "'strides'")?;
            if st.len() != shape.len() {
                return Err(bad_iface(&format!(
                    "'strides' has {} entries for {} dimensions",
                    st.len(),
                    shape.len()
                )));
            }
            let item_i = item as i64;
            if st.iter().any(|&b| b % item_i != 0) {
                return Err(PyValueError::new_err(
                    "given numpy array strides not a multiple of the element byte size. Copy the numpy array to reallocate the memory.",
                ));
            }
            if st.iter().any(|&b| b < 0) {
                return Err(PyValueError::new_err(
                    "At least one stride in the given numpy array is negative, and tensors with negative strides are not currently supported. (You can probably work around this by making a copy of your array  with array.copy().) ",
                ));
            }
            st.into_iter().map(|b| b as usize).collect()
        }
    };
    let extent = if numel == 0 {
        0
    } else {
        let mut last: usize = 0;
        for (&d, &b) in shape.iter().zip(&byte_strides) {
            last = (d - 1)
                .checked_mul(b)
                .and_then(|x| x.checked_add(last))
                .ok_or_else(|| bad_iface("the array's byte extent overflows"))?;
        }
        let extent = last
            .checked_add(item)
            .filter(|&e| e <= isize::MAX as usize && ptr.checked_add(e).is_some())
            .ok_or_else(|| bad_iface("the array's byte extent overflows"))?;
        if ptr == 0 {
            return Err(bad_iface(
                "the data pointer is NULL for an array with elements",
            ));
        }
        extent
    };
    Ok(ForeignArray {
        ptr,
        readonly,
        dtype,
        swapped,
        shape,
        byte_strides,
        numel,
        extent,
    })
}

impl ForeignArray {
    /// The bytes `[ptr, ptr + extent)`.
    ///
    /// # Safety
    /// The object that described the array must be alive and its description truthful; the
    /// GIL must be held so that Python code cannot free or resize the memory meanwhile.
    unsafe fn bytes(&self) -> &[u8] {
        if self.extent == 0 {
            return &[];
        }
        // SAFETY: non-NULL (checked), extent <= isize::MAX (checked), u8 has alignment 1;
        // validity of the range is the caller's contract.
        unsafe { std::slice::from_raw_parts(self.ptr as *const u8, self.extent) }
    }

    /// The elements in row-major order, in native byte order, as a fresh tensor (bools are
    /// normalised to 0/1 by `from_bytes`).
    ///
    /// # Safety
    /// As for [`ForeignArray::bytes`].
    unsafe fn copy(&self) -> PyResult<Tensor> {
        if self.numel == 0 {
            return Ok(Tensor::zeros(&self.shape, self.dtype)?);
        }
        // SAFETY: forwarded contract.
        let src = unsafe { self.bytes() };
        let item = self.dtype.size();
        let mut out: Vec<u8> = Vec::with_capacity(self.numel * item);
        let ndim = self.shape.len();
        let mut index = vec![0usize; ndim];
        let mut off = 0usize;
        let oob = || {
            PyValueError::new_err(
                "invalid __array_interface__: element outside the described memory",
            )
        };
        for _ in 0..self.numel {
            let elem = src.get(off..off + item).ok_or_else(oob)?;
            if self.swapped {
                out.extend(elem.iter().rev());
            } else {
                out.extend_from_slice(elem);
            }
            // Odometer step over the multi-index (offsets stay within the checked extent).
            for k in (0..ndim).rev() {
                index[k] += 1;
                off += self.byte_strides[k];
                if index[k] < self.shape[k] {
                    break;
                }
                off -= self.byte_strides[k] * self.shape[k];
                index[k] = 0;
            }
        }
        Ok(Tensor::from_bytes(&out, self.dtype, &self.shape)?)
    }

    /// True when every byte of the extent is a valid Rust `bool` (0 or 1).
    ///
    /// # Safety
    /// As for [`ForeignArray::bytes`].
    unsafe fn bool_bytes_valid(&self) -> bool {
        // SAFETY: forwarded contract.
        unsafe { self.bytes() }.iter().all(|&b| b <= 1)
    }
}

fn user_warning(py: Python<'_>, msg: &str) -> PyResult<()> {
    let msg = std::ffi::CString::new(msg).unwrap_or_default();
    PyErr::warn(
        py,
        &py.get_type::<pyo3::exceptions::PyUserWarning>().into_any(),
        &msg,
        1,
    )
}

/// Wraps an object exposing `__array_interface__` (`from_numpy`, and `as_tensor` first).
///
/// Memory is shared only when that is sound: writable, aligned for the element type, in native
/// byte order, and (for bool) holding only the bytes 0 and 1. Foreign byte order and
/// misalignment are errors (`as_tensor` then falls back to a copy); read-only memory and other
/// bool bytes are copied into a fresh buffer with a UserWarning, so immutable memory is never
/// written.
pub fn from_array_interface(obj: &Bound<PyAny>) -> PyResult<Tensor> {
    let py = obj.py();
    let a = parse_array_interface(obj)?;
    if a.swapped {
        return Err(PyValueError::new_err(
            "given numpy array has byte order different from the native byte order. Conversion between byte orders is currently not supported.",
        ));
    }
    let item = a.dtype.size();
    if a.numel > 0 && a.ptr % item != 0 {
        return Err(PyValueError::new_err(format!(
            "given numpy array is not aligned to its element size ({item} bytes), and rtorch cannot share misaligned memory. Copy the numpy array to reallocate the memory."
        )));
    }
    if a.readonly {
        user_warning(
            py,
            "The given NumPy array is not writable, and PyTorch does not support non-writable tensors. rtorch copies the array into a new, writable buffer instead, so the tensor does not share memory with the array.",
        )?;
        // SAFETY: `obj` is alive and the GIL is held.
        return unsafe { a.copy() };
    }
    if a.numel == 0 {
        return Ok(Tensor::zeros(&a.shape, a.dtype)?);
    }
    // SAFETY: `obj` is alive and the GIL is held.
    if a.dtype == DType::Bool && !unsafe { a.bool_bytes_valid() } {
        user_warning(
            py,
            "The given NumPy bool array holds bytes other than 0 and 1. rtorch copies it into a new buffer with every nonzero byte as True, so the tensor does not share memory with the array.",
        )?;
        // SAFETY: as above.
        return unsafe { a.copy() };
    }
    let layout = crate::layout::Layout {
        shape: a.shape.clone(),
        strides: a.byte_strides.iter().map(|b| b / item).collect(),
        offset: 0,
    };
    let owner: Py<PyAny> = obj.clone().unbind();
    // SAFETY: the pointer is non-NULL and aligned for the dtype, the extent (a multiple of the
    // element size) covers every element the layout addresses, the memory is writable, in
    // native byte order and (for bool) holds only 0/1, and `owner` keeps it alive.
    let storage = unsafe {
        Storage::from_foreign(a.ptr as *mut u8, a.extent / item, a.dtype, Box::new(owner))
    };
    Ok(Tensor::from_storage(Arc::new(storage), layout)?)
}

/// A fresh copy of the memory an `__array_interface__` object describes (`torch.tensor`):
/// any alignment and byte order; bools normalised.
fn copy_array_interface(obj: &Bound<PyAny>) -> PyResult<Tensor> {
    let a = parse_array_interface(obj)?;
    // SAFETY: `obj` is alive and the GIL is held.
    unsafe { a.copy() }
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
        let t = copy_array_interface(data)?;
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
            return Ok(t.to_dtype(dtype.unwrap_or(crate::dtype::default_float()))?);
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
        crate::dtype::default_float()
    } else {
        match nested.kind {
            0 => DType::Bool,
            1 => DType::I64,
            _ => crate::dtype::default_float(),
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
    } else if let Some(items) = legacy_tuple_index(py, idx)? {
        items
    } else {
        vec![idx.clone()]
    };
    items.iter().map(|i| index_item(py, i)).collect()
}

/// NumPy's old rule, which PyTorch still follows with a deprecation warning: a short list
/// holding a slice, `...`, `None` or a tensor indexes like the tuple of its items. Nested
/// lists of integers are one integer index, as NumPy and PyTorch's announced behaviour have it.
fn legacy_tuple_index<'py>(
    py: Python<'py>,
    idx: &Bound<'py, PyAny>,
) -> PyResult<Option<Vec<Bound<'py, PyAny>>>> {
    let Ok(list) = idx.cast::<PyList>() else {
        return Ok(None);
    };
    if list.len() >= 32 {
        return Ok(None);
    }
    let mut multi = false;
    for item in list.iter() {
        multi |= item.is_none()
            || item.is(py.Ellipsis())
            || item.cast::<PySlice>().is_ok()
            || item.cast::<PyTensor>().is_ok()
            || item.hasattr("__array_interface__")?;
    }
    if !multi {
        return Ok(None);
    }
    let warnings = py.import("warnings")?;
    warnings.call_method1(
        "warn",
        (
            "Using a non-tuple sequence for multidimensional indexing is deprecated; use \
             x[tuple(seq)] instead of x[seq]",
            py.get_type::<pyo3::exceptions::PyUserWarning>(),
        ),
    )?;
    Ok(Some(list.iter().collect()))
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
    let sequence = i.is_instance_of::<PyList>()
        || i.is_instance_of::<PyTuple>()
        || i.is_instance_of::<pyo3::types::PyRange>();
    if sequence || i.hasattr("__array_interface__")? {
        let data = if i.is_instance_of::<pyo3::types::PyRange>() {
            pyo3::types::PyList::new(py, i.try_iter()?.collect::<PyResult<Vec<_>>>()?)?.into_any()
        } else {
            i.clone()
        };
        let mut t = tensor_from_data(&data, None)?;
        if t.numel() == 0 && t.dtype().is_float() {
            t = t.to_dtype(DType::I64)?; // `x[[]]` selects nothing, as an empty integer index
        }
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
