//! The `Tensor` Python class: construction, properties, conversion, indexing, autograd entry
//! points. Math methods live in `tensor_ops.rs`.

use super::convert::*;
use super::types::{size_of, PyDType, PyDevice};
use crate::autograd::{self, BackwardOptions};
use crate::device::Device;
use crate::dtype::DType;
use crate::tensor::creation_scalar::Scalar;
use crate::tensor::Tensor;
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple, PyType};
use pyo3::{PyTraverseError, PyVisit};

#[pyclass(name = "Tensor", module = "rtorch", subclass, dict, weakref)]
pub struct PyTensor {
    pub t: Tensor,
    /// True in every constructed value. Python's cycle collector can visit an instance before
    /// its Rust value is written (the memory is still zeroed while the base type creates the
    /// instance `__dict__`, which may trigger a collection); the flag then reads false and
    /// `t` must not be touched.
    constructed: bool,
}

impl PyTensor {
    pub fn new(t: Tensor) -> Self {
        PyTensor {
            t,
            constructed: true,
        }
    }

    /// `t.data = other` on the same device: copies other's values in (same shape and dtype
    /// required here).
    fn assign_data(&self, other: &Tensor) -> PyResult<()> {
        if other.shape() != self.t.shape() || other.dtype() != self.t.dtype() {
            return Err(PyRuntimeError::new_err(format!(
                "setting .data: only a tensor of the same shape and dtype is supported here (got {:?} {} for {:?} {})",
                other.shape(),
                other.dtype().name(),
                self.t.shape(),
                self.t.dtype().name()
            )));
        }
        let _g = autograd::no_grad();
        Ok(self.t.detach().copy_(other)?)
    }

    fn is_constructed(&self) -> bool {
        // SAFETY: a plain read of a bool field of a live allocation; volatile so that the
        // check is not reasoned away from the validity `t` is assumed to have.
        unsafe { std::ptr::read_volatile(&self.constructed) }
    }
}

/// Runs `f` without the GIL when the work is large enough to matter.
pub fn nogil<R: Send>(py: Python<'_>, work: usize, f: impl FnOnce() -> R + Send) -> R {
    if work >= 1 << 15 {
        py.detach(f)
    } else {
        f()
    }
}

/// Wraps a result tensor as a Python object.
pub fn wrap(py: Python<'_>, t: Tensor) -> PyResult<Py<PyAny>> {
    Ok(Py::new(py, PyTensor::new(t))?.into_any())
}

pub fn tolist<'py>(py: Python<'py>, t: &Tensor) -> PyResult<Bound<'py, PyAny>> {
    fn scal<'py>(py: Python<'py>, dt: DType, v: f64, i: i64) -> PyResult<Bound<'py, PyAny>> {
        Ok(if dt.is_float() {
            v.into_pyobject(py)?.into_any()
        } else if dt == DType::Bool {
            pyo3::types::PyBool::new(py, i != 0).to_owned().into_any()
        } else {
            i.into_pyobject(py)?.into_any()
        })
    }
    let dt = t.dtype();
    let (fv, iv): (Vec<f64>, Vec<i64>) = if dt.is_float() {
        (t.to_f64_vec()?, vec![])
    } else {
        (
            vec![],
            crate::with_dtype!(dt, T, {
                t.to_vec::<T>()?
                    .into_iter()
                    .map(crate::dtype::Elem::to_i64)
                    .collect()
            }),
        )
    };
    let get = |k: usize| -> (f64, i64) {
        if dt.is_float() {
            (fv[k], 0)
        } else {
            (0.0, iv[k])
        }
    };
    fn build<'py>(
        py: Python<'py>,
        shape: &[usize],
        pos: &mut usize,
        get: &dyn Fn(usize) -> (f64, i64),
        dt: DType,
    ) -> PyResult<Bound<'py, PyAny>> {
        if shape.is_empty() {
            let (f, i) = get(*pos);
            *pos += 1;
            return scal(py, dt, f, i);
        }
        let l = PyList::empty(py);
        for _ in 0..shape[0] {
            l.append(build(py, &shape[1..], pos, get, dt)?)?;
        }
        Ok(l.into_any())
    }
    let mut pos = 0;
    build(py, t.shape(), &mut pos, &get, dt)
}

/// Keeps a tensor alive for NumPy while exposing its memory.
#[pyclass]
struct ArrayView {
    _t: Tensor,
    iface: Py<PyDict>,
}

#[pymethods]
impl ArrayView {
    #[getter]
    fn __array_interface__(&self, py: Python<'_>) -> Py<PyDict> {
        self.iface.clone_ref(py)
    }
}

pub fn to_numpy<'py>(py: Python<'py>, t: &Tensor) -> PyResult<Bound<'py, PyAny>> {
    if t.device() != Device::Cpu {
        return Err(PyTypeError::new_err(format!(
            "can't convert {} device type tensor to numpy. Use Tensor.cpu() to copy the tensor to host memory first.",
            t.device()
        )));
    }
    let iface = array_interface(py, t)?;
    let view = Py::new(
        py,
        ArrayView {
            _t: t.clone(),
            iface: iface.unbind(),
        },
    )?;
    py.import("numpy")?.call_method1("asarray", (view,))
}

#[pymethods]
impl PyTensor {
    /// `torch.Tensor(data)` (float32), `torch.Tensor(*sizes)`, or an alias of a tensor
    /// (used by `_make_subclass`).
    #[new]
    #[pyo3(signature = (*args))]
    fn py_new(args: &Bound<PyTuple>) -> PyResult<Self> {
        if args.is_empty() {
            return Ok(PyTensor::new(Tensor::zeros(
                &[0],
                crate::dtype::default_float(),
            )?));
        }
        let a0 = args.get_item(0)?;
        if let Ok(t) = a0.cast::<PyTensor>() {
            return Ok(PyTensor::new(t.borrow().t.detach()));
        }
        if a0.extract::<i64>().is_ok() || a0.get_type().name().map(|n| n == "Size").unwrap_or(false)
        {
            let s = usizes(&sizes_of(args)?, "Tensor")?;
            return Ok(PyTensor::new(Tensor::zeros(
                &s,
                crate::dtype::default_float(),
            )?));
        }
        Ok(PyTensor::new(tensor_from_data(
            &a0,
            Some(crate::dtype::default_float()),
        )?))
    }

    #[staticmethod]
    #[pyo3(signature = (cls, data, require_grad=false))]
    fn _make_subclass<'py>(
        py: Python<'py>,
        cls: &Bound<'py, PyType>,
        data: PyRef<PyTensor>,
        require_grad: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let base = py.get_type::<PyTensor>();
        let obj = base
            .getattr("__new__")?
            .call1((cls, Py::new(py, PyTensor::new(data.t.detach()))?))?;
        obj.cast::<PyTensor>()?
            .borrow()
            .t
            .set_requires_grad(require_grad)?;
        Ok(obj)
    }

    // ---- properties --------------------------------------------------------------------

    #[getter]
    fn shape<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        size_of(py, self.t.shape())
    }
    #[pyo3(signature = (dim=None))]
    fn size<'py>(&self, py: Python<'py>, dim: Option<i64>) -> PyResult<Bound<'py, PyAny>> {
        match dim {
            None => size_of(py, self.t.shape()),
            Some(d) => Ok(self.t.size(d)?.into_pyobject(py)?.into_any()),
        }
    }
    #[getter]
    fn dtype(&self) -> PyDType {
        PyDType { dt: self.t.dtype() }
    }
    #[getter]
    fn device(&self) -> PyDevice {
        PyDevice::of(self.t.device())
    }
    #[getter]
    fn is_cuda(&self) -> bool {
        self.t.device() != Device::Cpu
    }
    #[getter]
    fn is_cpu(&self) -> bool {
        self.t.device() == Device::Cpu
    }
    /// Whether this tensor's host memory is page-locked (`pin_memory()`).
    #[pyo3(signature = (device=None))]
    fn is_pinned(&self, device: Option<&Bound<PyAny>>) -> bool {
        let _ = device;
        self.t.device() == Device::Cpu && crate::cuda_backend::is_pinned(self.t.data_ptr())
    }
    /// A copy in page-locked host memory (self when already pinned).
    #[pyo3(signature = (device=None))]
    fn pin_memory(slf: Bound<'_, Self>, device: Option<&Bound<PyAny>>) -> PyResult<Py<PyAny>> {
        let _ = device;
        let t = slf.borrow().t.clone();
        if t.device() != Device::Cpu {
            return Err(PyRuntimeError::new_err(format!(
                "cannot pin '{}' only dense CPU tensors can be pinned",
                legacy_type_name(&t)
            )));
        }
        if crate::cuda_backend::is_pinned(t.data_ptr()) {
            return Ok(slf.into_any().unbind());
        }
        wrap(slf.py(), t.host_copy_with(crate::cuda_backend::pin)?)
    }
    #[getter]
    fn ndim(&self) -> usize {
        self.t.ndim()
    }
    fn dim(&self) -> usize {
        self.t.ndim()
    }
    fn ndimension(&self) -> usize {
        self.t.ndim()
    }
    fn numel(&self) -> usize {
        self.t.numel()
    }
    fn nelement(&self) -> usize {
        self.t.numel()
    }
    fn element_size(&self) -> usize {
        self.t.dtype().size()
    }
    #[getter]
    fn itemsize(&self) -> usize {
        self.t.dtype().size()
    }
    #[getter]
    fn nbytes(&self) -> usize {
        self.t.dtype().size() * self.t.numel()
    }
    #[pyo3(signature = (dim=None))]
    fn stride<'py>(&self, py: Python<'py>, dim: Option<i64>) -> PyResult<Bound<'py, PyAny>> {
        match dim {
            None => Ok(PyTuple::new(py, self.t.strides())?.into_any()),
            Some(d) => {
                let d = crate::shape::normalize_dim(d, self.t.ndim())?;
                Ok(self
                    .t
                    .strides()
                    .get(d)
                    .copied()
                    .unwrap_or(1)
                    .into_pyobject(py)?
                    .into_any())
            }
        }
    }
    fn storage_offset(&self) -> usize {
        self.t.offset()
    }
    fn data_ptr(&self) -> usize {
        self.t.data_ptr()
    }
    fn untyped_storage_ptr(&self) -> usize {
        self.t.storage().data_ptr()
    }
    /// Elements in the whole storage behind this tensor (checkpoints store it entire).
    fn _storage_numel(&self) -> usize {
        self.t.storage().len()
    }
    #[getter]
    fn _version(&self) -> u64 {
        self.t.version()
    }
    #[pyo3(signature = (memory_format=None))]
    fn is_contiguous(&self, memory_format: Option<&Bound<PyAny>>) -> bool {
        let _ = memory_format;
        self.t.is_contiguous()
    }
    fn is_floating_point(&self) -> bool {
        self.t.dtype().is_float()
    }
    fn is_complex(&self) -> bool {
        false
    }
    fn is_signed(&self) -> bool {
        self.t.dtype().is_signed()
    }
    #[getter]
    fn is_sparse(&self) -> bool {
        false
    }
    #[getter]
    fn is_quantized(&self) -> bool {
        false
    }
    #[getter]
    fn is_meta(&self) -> bool {
        false
    }

    // ---- autograd ------------------------------------------------------------------------

    #[getter]
    fn get_requires_grad(&self) -> bool {
        self.t.requires_grad()
    }
    #[setter]
    fn set_requires_grad(&self, v: bool) -> PyResult<()> {
        Ok(self.t.set_requires_grad(v)?)
    }
    #[pyo3(signature = (requires_grad=true))]
    fn requires_grad_(slf: Bound<'_, Self>, requires_grad: bool) -> PyResult<Bound<'_, Self>> {
        slf.borrow().t.set_requires_grad(requires_grad)?;
        Ok(slf)
    }
    #[getter]
    fn get_grad(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.t.grad().map(|g| wrap(py, g)).transpose()
    }
    #[setter]
    fn set_grad(&self, g: Option<PyRef<PyTensor>>) -> PyResult<()> {
        match g {
            None => self.t.set_grad(None),
            Some(g) => {
                if g.t.same(&self.t) {
                    return Err(PyRuntimeError::new_err(
                        "can't assign Variable as its own grad",
                    ));
                }
                if g.t.shape() != self.t.shape() {
                    return Err(PyRuntimeError::new_err(format!(
                        "assigned grad has data of a different size: {:?} vs {:?}",
                        g.t.shape(),
                        self.t.shape()
                    )));
                }
                if g.t.dtype() != self.t.dtype() {
                    return Err(PyRuntimeError::new_err(
                        "assigned grad has data of a different type",
                    ));
                }
                let (gd, sd) = (g.t.device(), self.t.device());
                if gd.type_name() != sd.type_name() {
                    return Err(PyRuntimeError::new_err(format!(
                        "attempting to assign a gradient with device type '{}' to a tensor with device type '{}'. Please ensure that the gradient and the tensor are on the same device",
                        gd.type_name(),
                        sd.type_name()
                    )));
                }
                if gd != sd {
                    return Err(PyRuntimeError::new_err(format!(
                        "attempting to assign a gradient located on device with index '{}' to a tensor located on device with index '{}'. Please ensure that the gradient and the tensor are on the same device",
                        gd.index().unwrap_or(0),
                        sd.index().unwrap_or(0)
                    )));
                }
                self.t.set_grad(Some(g.t.clone()))
            }
        }
        Ok(())
    }
    #[getter]
    fn grad_fn(&self) -> Option<super::autograd::PyNode> {
        self.t
            .grad_fn()
            .map(|n| super::autograd::PyNode { node: n })
    }
    #[getter]
    fn is_leaf(&self) -> bool {
        self.t.is_leaf()
    }
    #[getter]
    fn retains_grad(&self) -> bool {
        self.t.retains_grad()
    }
    fn retain_grad(&self) -> PyResult<()> {
        Ok(self.t.retain_grad()?)
    }
    fn detach(&self) -> Self {
        PyTensor::new(self.t.detach())
    }
    fn detach_(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf.borrow().t.detach_();
        slf
    }
    #[getter]
    fn get_data(&self) -> Self {
        PyTensor::new(self.t.detach())
    }
    /// `t.data = other`: copies other's values in (same shape and dtype required here).
    /// A tensor on another device takes over the storage (the Python object and its
    /// autograd state stay: `Module.to(device)` keeps parameters' identity).
    #[setter]
    fn set_data(slf: &Bound<'_, Self>, other: &Bound<'_, PyTensor>) -> PyResult<()> {
        let new = other.borrow().t.clone();
        let cur = slf.borrow().t.clone();
        let same_geometry = new.shape() == cur.shape() && new.dtype() == cur.dtype();
        if new.device() != cur.device() || !same_geometry {
            // Another device, shape or dtype: this tensor takes the other's storage, as
            // PyTorch's `.data =` does, keeping its own grad, flags and hooks.
            slf.borrow_mut().t = cur.with_data_of(&new.detach());
            return Ok(());
        }
        slf.borrow().assign_data(&new)
    }
    /// In-place layout changes (`t_`, `squeeze_`, `resize_`, …): this Python object takes
    /// `view`'s storage and layout. A view that autograd recorded brings its history along;
    /// otherwise the tensor keeps its own grad, flags and hooks.
    fn _become(slf: &Bound<'_, Self>, view: &Bound<'_, PyTensor>) -> PyResult<()> {
        let new = view.borrow().t.clone();
        let cur = slf.borrow().t.clone();
        if new.device() != cur.device() {
            return Err(PyRuntimeError::new_err(
                "in-place layout change: the new layout must stay on the tensor's device",
            ));
        }
        slf.borrow_mut().t = if new.grad_fn().is_some() {
            new
        } else {
            cur.with_data_of(&new)
        };
        Ok(())
    }
    fn register_hook(&self, hook: &Bound<PyAny>) -> PyResult<super::autograd::PyHookHandle> {
        super::autograd::register_hook(&self.t, hook)
    }
    /// Cycle-collector support: the hooks and custom-Function rules this tensor owns.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        if !self.is_constructed() {
            return Ok(());
        }
        super::autograd::traverse_tensor(&self.t, &visit)
    }
    fn __clear__(&mut self) {
        if self.is_constructed() {
            super::autograd::clear_tensor(&self.t)
        }
    }
    #[pyo3(signature = (gradient=None, retain_graph=None, create_graph=false, inputs=None))]
    fn backward(
        &self,
        py: Python<'_>,
        gradient: Option<PyRef<PyTensor>>,
        retain_graph: Option<bool>,
        create_graph: bool,
        inputs: Option<&Bound<PyAny>>,
    ) -> PyResult<()> {
        let g = match gradient {
            Some(g) => g.t.clone(),
            None => {
                if self.t.numel() != 1 {
                    return Err(PyRuntimeError::new_err(
                        "grad can be implicitly created only for scalar outputs",
                    ));
                }
                Tensor::ones_like(&self.t)?
            }
        };
        if g.shape() != self.t.shape() {
            return Err(PyRuntimeError::new_err(format!(
                "Mismatch in shape: grad_output[0] has a shape of {:?} and output[0] has a shape of {:?}.",
                g.shape(),
                self.t.shape()
            )));
        }
        let ins = super::autograd::tensor_list_opt(inputs)?;
        let opts = BackwardOptions {
            retain_graph: retain_graph.unwrap_or(create_graph),
            create_graph,
            inputs: ins.as_deref(),
            accumulate: true,
            allow_unused: true,
        };
        let root = [(self.t.clone(), g)];
        py.detach(|| autograd::run_backward(&root, &opts))?;
        Ok(())
    }

    // ---- conversion ----------------------------------------------------------------------

    fn item(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let t = &self.t;
        if t.numel() != 1 {
            return Err(PyRuntimeError::new_err(format!(
                "a Tensor with {} elements cannot be converted to Scalar",
                t.numel()
            )));
        }
        Ok(tolist(py, &t.reshape(&[])?)?.unbind())
    }
    fn tolist(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(tolist(py, &self.t)?.unbind())
    }
    #[pyo3(signature = (force=false))]
    fn numpy<'py>(&self, py: Python<'py>, force: bool) -> PyResult<Bound<'py, PyAny>> {
        if self.t.requires_grad() && !force {
            return Err(PyRuntimeError::new_err(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.",
            ));
        }
        to_numpy(py, &self.t.detach())
    }
    #[pyo3(signature = (dtype=None, copy=None))]
    fn __array__<'py>(
        &self,
        py: Python<'py>,
        dtype: Option<&Bound<'py, PyAny>>,
        copy: Option<bool>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let a = to_numpy(py, &self.t.detach())?;
        match dtype {
            Some(d) if !d.is_none() => a.call_method1("astype", (d,)),
            // numpy 2 asks for a copy with `copy=True` (`np.array(t)`): never hand out the storage.
            _ if copy == Some(true) => a.call_method0("copy"),
            _ => Ok(a),
        }
    }
    fn __len__(&self) -> PyResult<usize> {
        if self.t.ndim() == 0 {
            return Err(PyTypeError::new_err("len() of a 0-d tensor"));
        }
        Ok(self.t.shape()[0])
    }
    fn __iter__(slf: Bound<'_, Self>) -> PyResult<Bound<'_, PyAny>> {
        let t = slf.borrow().t.clone();
        if t.ndim() == 0 {
            return Err(PyTypeError::new_err("iteration over a 0-d tensor"));
        }
        let py = slf.py();
        let items: Vec<Py<PyAny>> = t
            .unbind(0)?
            .into_iter()
            .map(|x| wrap(py, x))
            .collect::<PyResult<_>>()?;
        PyList::new(py, items)?.try_iter().map(|i| i.into_any())
    }
    fn __bool__(&self) -> PyResult<bool> {
        if self.t.numel() != 1 {
            return Err(PyRuntimeError::new_err(if self.t.numel() == 0 {
                "Boolean value of Tensor with no values is ambiguous"
            } else {
                "Boolean value of Tensor with more than one value is ambiguous"
            }));
        }
        Ok(self.t.item_f64()? != 0.0)
    }
    fn __float__(&self) -> PyResult<f64> {
        self.single("float")?;
        Ok(self.t.item_f64()?)
    }
    fn __int__(&self) -> PyResult<i64> {
        self.single("int")?;
        Ok(if self.t.dtype().is_float() {
            self.t.item_f64()?.trunc() as i64
        } else {
            self.t.item_i64()?
        })
    }
    fn __index__(&self) -> PyResult<i64> {
        if self.t.dtype().is_float() || self.t.numel() != 1 {
            return Err(PyTypeError::new_err(
                "only integer tensors of a single element can be converted to an index",
            ));
        }
        Ok(self.t.item_i64()?)
    }
    fn __hash__(slf: &Bound<'_, Self>) -> isize {
        slf.as_ptr() as isize
    }
    /// The address of the underlying tensor: equal for two Python objects that wrap the same
    /// tensor (e.g. a parameter and `grad_fn.next_functions[i][0].variable`).
    #[getter]
    fn _cdata(&self) -> usize {
        std::sync::Arc::as_ptr(&self.t.0) as *const u8 as usize
    }
    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        slf.py()
            .import("rtorch._tensor_str")?
            .call_method1("tensor_repr", (slf,))?
            .extract()
    }
    fn __format__(slf: &Bound<'_, Self>, spec: &str) -> PyResult<String> {
        let t = slf.borrow().t.clone();
        if t.numel() == 1 && t.ndim() == 0 {
            let v = tolist(slf.py(), &t)?;
            return v.call_method1("__format__", (spec,))?.extract();
        }
        Self::__repr__(slf)
    }
    fn __reduce_ex__<'py>(slf: &Bound<'py, Self>, _protocol: i64) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let t = slf.borrow().t.clone();
        let rebuild = py
            .import("rtorch._tensor_str")?
            .getattr("_rebuild_tensor")?;
        let bytes = pyo3::types::PyBytes::new(py, &t.to_bytes()?);
        let args = (
            slf.get_type(),
            bytes,
            t.dtype().name(),
            PyTuple::new(py, t.shape())?,
            t.requires_grad(),
            t.device().to_string(),
        );
        Ok(PyTuple::new(py, [rebuild.into_any(), args.into_pyobject(py)?.into_any()])?.into_any())
    }

    /// `to(dtype)`, `to(device)`, `to(device, dtype)`, `to(other)` (other's device and
    /// dtype); `copy=True` forces a copy. `non_blocking` is accepted: copies complete before
    /// their result is read either way.
    #[pyo3(signature = (*args, **kwargs))]
    fn to(
        slf: Bound<'_, Self>,
        args: &Bound<PyTuple>,
        kwargs: Option<&Bound<PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let py = slf.py();
        let mut dtype = None;
        let mut device = None;
        let mut copy = false;
        let mut check = |o: &Bound<PyAny>| -> PyResult<()> {
            if o.is_none() {
                return Ok(());
            }
            if let Ok(t) = o.cast::<PyTensor>() {
                dtype = Some(t.borrow().t.dtype());
                device = Some(t.borrow().t.device());
                return Ok(());
            }
            if let Ok(d) = dtype_of(o) {
                dtype = Some(d);
                return Ok(());
            }
            let d = device_of(o)?;
            d.check_available()?;
            device = Some(d);
            Ok(())
        };
        for a in args.iter() {
            if a.extract::<bool>().is_ok() && !a.is_instance_of::<pyo3::types::PyInt>() {
                continue;
            }
            check(&a)?;
        }
        if let Some(kw) = kwargs {
            for (k, v) in kw.iter() {
                let k: String = k.extract()?;
                match k.as_str() {
                    "dtype" | "device" | "other" => check(&v)?,
                    "copy" => copy = v.extract()?,
                    "non_blocking" | "memory_format" => {}
                    _ => {
                        return Err(PyTypeError::new_err(format!(
                            "to() got an unexpected keyword argument '{k}'"
                        )))
                    }
                }
            }
        }
        let t = slf.borrow().t.clone();
        let mut out = t.clone();
        if let Some(d) = device {
            out = out.to_device(d)?;
        }
        if let Some(d) = dtype {
            out = out.to_dtype(d)?;
        }
        if !out.same(&t) {
            wrap(py, out)
        } else if copy {
            wrap(py, t.deep_clone()?)
        } else {
            Ok(slf.into_any().unbind())
        }
    }
    /// A copy in host memory (self when already there).
    #[pyo3(signature = (memory_format=None))]
    fn cpu(slf: Bound<'_, Self>, memory_format: Option<&Bound<PyAny>>) -> PyResult<Py<PyAny>> {
        let _ = memory_format;
        let t = slf.borrow().t.clone();
        if t.device() == Device::Cpu {
            return Ok(slf.into_any().unbind());
        }
        wrap(slf.py(), t.to_device(Device::Cpu)?)
    }
    /// A copy on a CUDA device (the current one by default; self when already there).
    #[pyo3(signature = (device=None, non_blocking=false, memory_format=None))]
    fn cuda(
        slf: Bound<'_, Self>,
        device: Option<&Bound<PyAny>>,
        non_blocking: bool,
        memory_format: Option<&Bound<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let _ = (non_blocking, memory_format);
        let dev = match device {
            Some(d) if !d.is_none() => device_of(d)?,
            _ => Device::Cuda(super::cuda::current_device()),
        };
        if dev == Device::Cpu {
            return Err(PyRuntimeError::new_err(
                "Invalid device, must be cuda device",
            ));
        }
        dev.check_available()?;
        let t = slf.borrow().t.clone();
        if t.device() == dev {
            return Ok(slf.into_any().unbind());
        }
        wrap(slf.py(), t.to_device(dev)?)
    }

    // ---- indexing ------------------------------------------------------------------------

    fn __getitem__(&self, py: Python<'_>, idx: &Bound<PyAny>) -> PyResult<Py<PyAny>> {
        let items = index_items(py, idx)?;
        wrap(py, self.t.get_index(&items)?)
    }
    fn __setitem__(
        &self,
        py: Python<'_>,
        idx: &Bound<PyAny>,
        value: &Bound<PyAny>,
    ) -> PyResult<()> {
        let items = index_items(py, idx)?;
        let v = match value.cast::<PyTensor>() {
            Ok(v) => v.borrow().t.clone(),
            Err(_) => match scalar_of(value) {
                Some(s) => Tensor::scalar_checked(s, self.t.dtype())?,
                None => tensor_from_data(value, Some(self.t.dtype()))?,
            },
        };
        Ok(self.t.set_index(&items, &v)?)
    }

    fn single(&self, what: &str) -> PyResult<()> {
        if self.t.numel() != 1 {
            return Err(PyValueError::new_err(format!(
                "only one element tensors can be converted to Python scalars ({what})"
            )));
        }
        Ok(())
    }
}

/// `tensor_or_scalar` for a value stored into a tensor of dtype `like` (`masked_fill`): a
/// Python number must fit `like` (PyTorch's overflow check).
pub fn stored_tensor_or_scalar(obj: &Bound<PyAny>, like: DType) -> PyResult<Tensor> {
    if let Some(s) = scalar_of(obj) {
        s.check_fits(like)?;
    }
    tensor_or_scalar(obj, like)
}

/// A tensor from a Python argument that may be a number (for functions taking either).
pub fn tensor_or_scalar(obj: &Bound<PyAny>, like: DType) -> PyResult<Tensor> {
    if let Ok(t) = obj.cast::<PyTensor>() {
        return Ok(t.borrow().t.clone());
    }
    if let Some(s) = scalar_of(obj) {
        let dt = match s {
            Scalar::Float(_) if !like.is_float() => crate::dtype::default_float(),
            _ => like,
        };
        return Ok(Tensor::scalar_of(s, dt));
    }
    tensor_from_data(obj, None)
}

/// PyTorch's legacy tensor type name (`torch.FloatTensor`, `torch.cuda.LongTensor`).
fn legacy_type_name(t: &Tensor) -> String {
    let name = match t.dtype() {
        DType::Bool => "Bool",
        DType::U8 => "Byte",
        DType::I8 => "Char",
        DType::I16 => "Short",
        DType::I32 => "Int",
        DType::I64 => "Long",
        DType::F16 => "Half",
        DType::BF16 => "BFloat16",
        DType::F32 => "Float",
        DType::F64 => "Double",
    };
    match t.device() {
        Device::Cpu => format!("torch.{name}Tensor"),
        Device::Cuda(_) => format!("torch.cuda.{name}Tensor"),
    }
}
