//! Small Python types: `dtype`, `device`, `Generator`, and the cached `Size` class.

use crate::device::Device;
use crate::dtype::DType;
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
    fn __reduce__(&self) -> (String,) {
        (self.dt.name().to_string(),)
    }
}

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
    pub dev: Device,
}

#[pymethods]
impl PyDevice {
    #[new]
    #[pyo3(signature = (spec, index=None))]
    fn new(spec: &Bound<PyAny>, index: Option<usize>) -> PyResult<Self> {
        if let Ok(d) = spec.cast::<PyDevice>() {
            return Ok(d.get().clone());
        }
        if let Ok(i) = spec.extract::<usize>() {
            return Ok(PyDevice {
                dev: Device::Cuda(i),
            });
        }
        let s: String = spec.extract()?;
        let mut dev = Device::parse(&s)?;
        if let (Some(i), Device::Cuda(_)) = (index, dev) {
            dev = Device::Cuda(i);
        }
        Ok(PyDevice { dev })
    }
    #[getter]
    fn r#type(&self) -> &'static str {
        self.dev.type_name()
    }
    #[getter]
    fn index(&self) -> Option<usize> {
        self.dev.index()
    }
    fn __repr__(&self) -> String {
        match self.dev {
            Device::Cpu => "device(type='cpu')".into(),
            Device::Cuda(i) => format!("device(type='cuda', index={i})"),
        }
    }
    fn __str__(&self) -> String {
        match self.dev {
            Device::Cpu => "cpu".into(),
            d => d.to_string(),
        }
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
        PyDevice { dev: Device::Cpu }
    }
}

static SIZE_CLS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// A `torch.Size` (the Python tuple subclass defined in `rtorch._size`).
pub fn size_of<'py>(py: Python<'py>, shape: &[usize]) -> PyResult<Bound<'py, PyAny>> {
    let cls = SIZE_CLS.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
        Ok(py.import("rtorch._size")?.getattr("Size")?.unbind())
    })?;
    cls.bind(py).call1((PyTuple::new(py, shape)?,))
}
