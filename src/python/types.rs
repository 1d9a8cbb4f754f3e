//! Small Python types: `dtype`, `device`, `Generator`, and the cached `Size` class.

use crate::device::Device;
use crate::dtype::DType;
use crate::error::Error;
use crate::tensor::random::Generator;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyTuple;
use std::sync::Arc;

#[pyclass(
    name = "dtype",
    module = "rtorch",
    frozen,
    eq,
    hash,
    skip_from_py_object
)]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PyDType {
    pub dt: DType,
}

#[pymethods]
impl PyDType {
    fn __repr__(&self) -> String {
        format!("torch.{}", self.dt.name())
    }
    #[getter]
    fn is_floating_point(&self) -> bool {
        self.dt.is_float()
    }
    #[getter]
    fn is_complex(&self) -> bool {
        false
    }
    #[getter]
    fn is_signed(&self) -> bool {
        self.dt.is_signed()
    }
    #[getter]
    fn itemsize(&self) -> usize {
        self.dt.size()
    }
    fn to_real(&self) -> Self {
        self.clone()
    }
    /// Pickled as the module-level name (`rtorch.float32`), like any other singleton.
    fn __reduce__(&self) -> String {
        self.dt.name().to_string()
    }
}

/// `torch.device`: a type and an optional index. `device("cuda")` has no index and means
/// the current CUDA device wherever a tensor is placed; a tensor's `.device` always has one.
#[pyclass(
    name = "device",
    module = "rtorch",
    frozen,
    eq,
    hash,
    skip_from_py_object
)]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PyDevice {
    pub cuda: bool,
    pub index: Option<usize>,
}

impl PyDevice {
    /// The device of a tensor (CUDA devices always carry their index).
    pub fn of(dev: Device) -> PyDevice {
        match dev {
            Device::Cpu => PyDevice {
                cuda: false,
                index: None,
            },
            Device::Cuda(i) => PyDevice {
                cuda: true,
                index: Some(i),
            },
        }
    }

    /// Where tensors go: a CUDA device without an index is the current device.
    pub fn resolve(&self) -> Device {
        match (self.cuda, self.index) {
            (false, _) => Device::Cpu,
            (true, Some(i)) => Device::Cuda(i),
            (true, None) => Device::Cuda(super::cuda::current_device()),
        }
    }

    /// "cpu", "cuda", "cuda:1", "cpu:0".
    pub fn parse(spec: &str) -> PyResult<PyDevice> {
        let spec = spec.trim();
        let (kind, index) = match spec.split_once(':') {
            Some((k, i)) => {
                let i = i
                    .parse::<usize>()
                    .ok()
                    .filter(|_| !i.starts_with('+'))
                    .ok_or_else(|| Error::Runtime(format!("Invalid device string: '{spec}'")))?;
                (k, Some(i))
            }
            None => (spec, None),
        };
        let cuda = Device::parse(kind)? != Device::Cpu;
        Ok(PyDevice { cuda, index })
    }

    fn type_name(&self) -> &'static str {
        if self.cuda {
            "cuda"
        } else {
            "cpu"
        }
    }
}

fn non_negative(i: i64) -> PyResult<usize> {
    usize::try_from(i)
        .map_err(|_| Error::Runtime("Device index must not be negative".into()).into())
}

#[pymethods]
impl PyDevice {
    #[new]
    #[pyo3(signature = (spec, index=None))]
    fn new(spec: &Bound<PyAny>, index: Option<i64>) -> PyResult<Self> {
        if let Ok(d) = spec.cast::<PyDevice>() {
            return Ok(d.get().clone());
        }
        if let Ok(i) = spec.extract::<i64>() {
            return Ok(PyDevice {
                cuda: true,
                index: Some(non_negative(i)?),
            });
        }
        let s: String = spec.extract().map_err(|_| {
            pyo3::exceptions::PyTypeError::new_err(format!(
                "device() received an invalid combination of arguments - got ({})",
                spec.get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            ))
        })?;
        let mut d = PyDevice::parse(&s)?;
        if let Some(i) = index {
            if d.index.is_some() {
                return Err(Error::Runtime(format!(
                    "type (string) must not include an index because index was passed explicitly: {s}"
                ))
                .into());
            }
            d.index = Some(non_negative(i)?);
        }
        Ok(d)
    }
    #[getter]
    fn r#type(&self) -> &'static str {
        self.type_name()
    }
    #[getter]
    fn index(&self) -> Option<usize> {
        self.index
    }
    fn __repr__(&self) -> String {
        match self.index {
            None => format!("device(type='{}')", self.type_name()),
            Some(i) => format!("device(type='{}', index={i})", self.type_name()),
        }
    }
    fn __str__(&self) -> String {
        match self.index {
            None => self.type_name().to_string(),
            Some(i) => format!("{}:{i}", self.type_name()),
        }
    }
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let d = slf.get();
        let args = match d.index {
            None => PyTuple::new(py, [d.type_name().into_pyobject(py)?.into_any()])?,
            Some(i) => PyTuple::new(
                py,
                [
                    d.type_name().into_pyobject(py)?.into_any(),
                    i.into_pyobject(py)?.into_any(),
                ],
            )?,
        };
        PyTuple::new(py, [slf.get_type().into_any(), args.into_any()])
    }
}

#[pyclass(name = "Generator", module = "rtorch")]
pub struct PyGenerator {
    pub g: Arc<Generator>,
}

#[pymethods]
impl PyGenerator {
    #[new]
    #[pyo3(signature = (device=None))]
    fn new(device: Option<&Bound<PyAny>>) -> PyResult<Self> {
        super::convert::check_device(device)?;
        Ok(PyGenerator {
            g: Generator::new(67280421310721),
        })
    }
    fn manual_seed<'py>(slf: Bound<'py, Self>, seed: i128) -> Bound<'py, Self> {
        slf.borrow().g.manual_seed(seed as u64);
        slf
    }
    fn seed(&self) -> u64 {
        let s = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        self.g.manual_seed(s);
        s
    }
    fn initial_seed(&self) -> u64 {
        self.g.initial_seed()
    }
    fn get_state(&self) -> PyResult<super::tensor::PyTensor> {
        let v: Vec<i64> = self.g.get_state().into_iter().map(|x| x as i64).collect();
        Ok(super::tensor::PyTensor::new(
            crate::tensor::Tensor::from_vec(v, &[5])?,
        ))
    }
    fn set_state(&self, state: PyRef<super::tensor::PyTensor>) -> PyResult<()> {
        let v: Vec<u64> = state
            .t
            .to_vec::<i64>()?
            .into_iter()
            .map(|x| x as u64)
            .collect();
        Ok(self.g.set_state(&v)?)
    }
    #[getter]
    fn device(&self) -> PyDevice {
        PyDevice::of(Device::Cpu)
    }
}

/// `rtorch._size.Size` and `tuple.__new__`.
static SIZE_NEW: PyOnceLock<(Py<PyAny>, Py<PyAny>)> = PyOnceLock::new();

/// A `torch.Size` (the Python tuple subclass defined in `rtorch._size`). Made with
/// `tuple.__new__(Size, ints)`: the ints are exact already, so `Size.__new__`'s
/// conversion (a Python-level loop, most of the cost of `Tensor.shape`) is skipped.
pub fn size_of<'py>(py: Python<'py>, shape: &[usize]) -> PyResult<Bound<'py, PyAny>> {
    let (cls, new) = SIZE_NEW.get_or_try_init(py, || -> PyResult<(Py<PyAny>, Py<PyAny>)> {
        let cls = py.import("rtorch._size")?.getattr("Size")?.unbind();
        let new = py.get_type::<PyTuple>().getattr("__new__")?.unbind();
        Ok((cls, new))
    })?;
    new.bind(py).call1((cls.bind(py), PyTuple::new(py, shape)?))
}
