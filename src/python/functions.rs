//! Module-level functions of `rtorch._C`: creation, random sampling, joining, dtype helpers.

use super::convert::*;
use super::tensor::{wrap, PyTensor};
use super::tensor_methods::list_of;
use super::types::{PyDType, PyGenerator};
use crate::device::Device;
use crate::dtype::{promote_types as promote, DType};
use crate::tensor::creation_scalar::Scalar;
use crate::tensor::random;
use crate::tensor::Tensor;
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};

/// Places a new tensor on `device` (built on the host, or already there) and applies
/// `requires_grad=`. Callers resolve `device` before building, so a bad device fails first.
fn finish(py: Python<'_>, t: Tensor, device: Device, requires_grad: bool) -> PyResult<Py<PyAny>> {
    let t = t.to_device_raw(device)?;
    if requires_grad {
        t.set_requires_grad(true)?;
    }
    wrap(py, t)
}

fn gen_of(g: Option<PyRef<PyGenerator>>) -> Option<std::sync::Arc<random::Generator>> {
    g.map(|g| g.g.clone())
}

#[pyfunction]
#[pyo3(signature = (data, *, dtype=None, device=None, requires_grad=false, pin_memory=false))]
pub fn tensor(
    py: Python<'_>,
    data: &Bound<PyAny>,
    dtype: Option<&Bound<PyAny>>,
    device: Option<&Bound<PyAny>>,
    requires_grad: bool,
    pin_memory: bool,
) -> PyResult<Py<PyAny>> {
    let dev = opt_device(device)?;
    let t = tensor_from_data(data, opt_dtype(dtype)?)?;
    let t = if pin_memory && dev == Device::Cpu {
        t.host_copy_with(crate::cuda_backend::pin)?
    } else {
        t
    };
    finish(py, t, dev, requires_grad)
}

/// `as_tensor`: shares memory with tensors and NumPy arrays when the dtype allows.
#[pyfunction]
#[pyo3(signature = (data, dtype=None, device=None))]
pub fn as_tensor(
    py: Python<'_>,
    data: &Bound<PyAny>,
    dtype: Option<&Bound<PyAny>>,
    device: Option<&Bound<PyAny>>,
) -> PyResult<Py<PyAny>> {
    let dt = opt_dtype(dtype)?;
    if let Ok(t) = data.cast::<PyTensor>() {
        let t = t.borrow().t.clone();
        let dev = device_or(device, t.device())?;
        return match dt {
            Some(d) if d != t.dtype() => wrap(py, t.to_device(dev)?.to_dtype(d)?),
            _ if dev != t.device() => wrap(py, t.to_device(dev)?),
            _ => Ok(data.clone().unbind()),
        };
    }
    let dev = opt_device(device)?;
    if data.hasattr("__array_interface__")? && scalar_of(data).is_none() {
        if let Ok(t) = from_array_interface(data) {
            let t = match dt {
                Some(d) if d != t.dtype() => t.to_dtype(d)?,
                _ => t,
            };
            return wrap(py, t.to_device_raw(dev)?);
        }
    }
    wrap(py, tensor_from_data(data, dt)?.to_device_raw(dev)?)
}

#[pyfunction]
pub fn from_numpy(py: Python<'_>, array: &Bound<PyAny>) -> PyResult<Py<PyAny>> {
    if !array.hasattr("__array_interface__")? {
        return Err(PyTypeError::new_err(format!(
            "expected np.ndarray (got {})",
            array.get_type().name()?
        )));
    }
    wrap(py, from_array_interface(array)?)
}

/// A function of `rtorch._out`, PyTorch's `out=` contract in one place.
fn out_helper<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    py.import("rtorch._out")?.getattr(name)
}

/// A factory's dtype and device arguments (Python objects, either may be absent).
type FactoryOptions<'py> = (Option<Bound<'py, PyAny>>, Option<Bound<'py, PyAny>>);

/// A factory's dtype and device with `out=`: `out`'s where none is given (checked against
/// an explicit dtype). Unchanged without `out`.
fn factory_out<'py>(
    py: Python<'py>,
    name: &str,
    out: Option<&Bound<'py, PyAny>>,
    dtype: Option<&Bound<'py, PyAny>>,
    device: Option<&Bound<'py, PyAny>>,
) -> PyResult<FactoryOptions<'py>> {
    let Some(out) = out else {
        return Ok((dtype.cloned(), device.cloned()));
    };
    let picked = out_helper(py, "factory_options")?.call1((name, out, dtype, device))?;
    let (dt, dev): (Bound<PyAny>, Bound<PyAny>) = picked.extract()?;
    Ok((Some(dt), Some(dev)))
}

/// A factory's resolved dtype (None: the factory's own default) and device, `out=` taken
/// into account.
fn factory_args(
    py: Python<'_>,
    name: &str,
    out: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
) -> PyResult<(Option<DType>, Device)> {
    let (dtype, device) = factory_out(py, name, out, dtype, device)?;
    Ok((opt_dtype(dtype.as_ref())?, opt_device(device.as_ref())?))
}

/// `result`, or stored into `out` (resized to fit) when one is given.
fn store_out(
    py: Python<'_>,
    name: &str,
    result: Py<PyAny>,
    out: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    store_with(py, "store", name, result, out)
}

/// `store_out` through `helper` of `rtorch._out` (`store_joined`: `cat`'s own wording of a
/// dtype `out` cannot take).
fn store_with(
    py: Python<'_>,
    helper: &str,
    name: &str,
    result: Py<PyAny>,
    out: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    match out {
        None => Ok(result),
        Some(o) => Ok(out_helper(py, helper)?.call1((name, result, o))?.unbind()),
    }
}

macro_rules! filled {
    (@make $name:ident, |$s:ident : &[usize], $dt:ident, $dev:ident| $make:expr) => {
        #[pyfunction]
        #[pyo3(signature = (*size, out=None, dtype=None, layout=None, device=None, requires_grad=false, pin_memory=false, memory_format=None))]
        #[allow(clippy::too_many_arguments)]
        pub fn $name(py: Python<'_>, size: &Bound<PyTuple>, out: Option<&Bound<PyAny>>, dtype: Option<&Bound<PyAny>>, layout: Option<&Bound<PyAny>>, device: Option<&Bound<PyAny>>, requires_grad: bool, pin_memory: bool, memory_format: Option<&Bound<PyAny>>) -> PyResult<Py<PyAny>> {
            let _ = (layout, memory_format);
            let (dtype, dev) = factory_args(py, stringify!($name), out, dtype, device)?;
            let s = usizes(&sizes_of(size)?, stringify!($name))?;
            let ($s, $dt, $dev): (&[usize], DType, Device) = (&s, dtype.unwrap_or(crate::dtype::default_float()), dev);
            let t = $make?;
            let t = if pin_memory && dev == Device::Cpu { t.host_copy_with(crate::cuda_backend::pin)? } else { t };
            store_out(py, stringify!($name), finish(py, t, dev, requires_grad)?, out)
        }
    };
    ($name:ident, $val:expr) => {
        filled!(@make $name, |s: &[usize], dt, dev| Tensor::full_on(s, $val, dt, dev));
    };
}
filled!(zeros, Scalar::Int(0));
filled!(ones, Scalar::Int(1));
filled!(@make empty, |s: &[usize], dt, dev| Tensor::empty_on(s, dt, dev));

#[pyfunction]
#[pyo3(signature = (size, fill_value, *, out=None, dtype=None, device=None, requires_grad=false))]
#[allow(clippy::too_many_arguments)]
pub fn full(
    py: Python<'_>,
    size: &Bound<PyAny>,
    fill_value: &Bound<PyAny>,
    out: Option<&Bound<PyAny>>,
    dtype: Option<&Bound<PyAny>>,
    device: Option<&Bound<PyAny>>,
    requires_grad: bool,
) -> PyResult<Py<PyAny>> {
    let (dtype, dev) = factory_args(py, "full", out, dtype, device)?;
    let s = usizes(&sizes_of(&PyTuple::new(py, [size])?)?, "full")?;
    let v = scalar_of(fill_value)
        .ok_or_else(|| PyTypeError::new_err("full(): fill_value must be a number"))?;
    let dt = dtype.unwrap_or(match v {
        Scalar::Bool(_) => DType::Bool,
        Scalar::Int(_) => DType::I64,
        Scalar::Float(_) => crate::dtype::default_float(),
    });
    store_out(
        py,
        "full",
        finish(py, Tensor::full_on(&s, v, dt, dev)?, dev, requires_grad)?,
        out,
    )
}

macro_rules! filled_like {
    (@make $name:ident, |$s:ident : &[usize], $dt:ident, $dev:ident| $make:expr) => {
        #[pyfunction]
        #[pyo3(signature = (input, *, dtype=None, layout=None, device=None, requires_grad=false, memory_format=None))]
        pub fn $name(py: Python<'_>, input: PyRef<PyTensor>, dtype: Option<&Bound<PyAny>>, layout: Option<&Bound<PyAny>>, device: Option<&Bound<PyAny>>, requires_grad: bool, memory_format: Option<&Bound<PyAny>>) -> PyResult<Py<PyAny>> {
            let _ = (layout, memory_format);
            let dev = device_or(device, input.t.device())?;
            let dt = opt_dtype(dtype)?.unwrap_or(input.t.dtype());
            let ($s, $dt, $dev): (&[usize], DType, Device) = (input.t.shape(), dt, dev);
            finish(py, $make?, dev, requires_grad)
        }
    };
    ($name:ident, $val:expr) => {
        filled_like!(@make $name, |s: &[usize], dt, dev| Tensor::full_on(s, $val, dt, dev));
    };
}
filled_like!(zeros_like, Scalar::Int(0));
filled_like!(ones_like, Scalar::Int(1));
filled_like!(@make empty_like, |s: &[usize], dt, dev| Tensor::empty_on(s, dt, dev));

#[pyfunction]
#[pyo3(signature = (input, fill_value, *, dtype=None, device=None, requires_grad=false))]
pub fn full_like(
    py: Python<'_>,
    input: PyRef<PyTensor>,
    fill_value: &Bound<PyAny>,
    dtype: Option<&Bound<PyAny>>,
    device: Option<&Bound<PyAny>>,
    requires_grad: bool,
) -> PyResult<Py<PyAny>> {
    let dev = device_or(device, input.t.device())?;
    let v = scalar_of(fill_value)
        .ok_or_else(|| PyTypeError::new_err("full_like(): fill_value must be a number"))?;
    let dt = opt_dtype(dtype)?.unwrap_or(input.t.dtype());
    finish(
        py,
        Tensor::full_on(input.t.shape(), v, dt, dev)?,
        dev,
        requires_grad,
    )
}

#[pyfunction]
#[pyo3(signature = (start, end=None, step=None, *, out=None, dtype=None, device=None, requires_grad=false))]
#[allow(clippy::too_many_arguments)]
pub fn arange(
    py: Python<'_>,
    start: &Bound<PyAny>,
    end: Option<&Bound<PyAny>>,
    step: Option<&Bound<PyAny>>,
    out: Option<&Bound<PyAny>>,
    dtype: Option<&Bound<PyAny>>,
    device: Option<&Bound<PyAny>>,
    requires_grad: bool,
) -> PyResult<Py<PyAny>> {
    let (dtype, dev) = factory_args(py, "arange", out, dtype, device)?;
    let num = |o: &Bound<PyAny>| {
        scalar_of(o).ok_or_else(|| PyTypeError::new_err("arange(): arguments must be numbers"))
    };
    let (s, e) = match end {
        Some(e) if !e.is_none() => (num(start)?, num(e)?),
        _ => (Scalar::Int(0), num(start)?),
    };
    let st = match step {
        Some(x) if !x.is_none() => num(x)?,
        _ => Scalar::Int(1),
    };
    let any_float = [s, e, st].iter().any(|x| matches!(x, Scalar::Float(_)));
    let dt = dtype.unwrap_or(if any_float {
        crate::dtype::default_float()
    } else {
        DType::I64
    });
    store_out(
        py,
        "arange",
        finish(py, Tensor::arange(s, e, st, dt)?, dev, requires_grad)?,
        out,
    )
}

#[pyfunction]
#[pyo3(signature = (start, end, steps, *, out=None, dtype=None, device=None, requires_grad=false))]
#[allow(clippy::too_many_arguments)]
pub fn linspace(
    py: Python<'_>,
    start: f64,
    end: f64,
    steps: usize,
    out: Option<&Bound<PyAny>>,
    dtype: Option<&Bound<PyAny>>,
    device: Option<&Bound<PyAny>>,
    requires_grad: bool,
) -> PyResult<Py<PyAny>> {
    let (dtype, dev) = factory_args(py, "linspace", out, dtype, device)?;
    let dt = dtype.unwrap_or(crate::dtype::default_float());
    store_out(
        py,
        "linspace",
        finish(
            py,
            Tensor::linspace(start, end, steps, dt)?,
            dev,
            requires_grad,
        )?,
        out,
    )
}

#[pyfunction]
#[pyo3(signature = (start, end, steps, base=10.0, *, out=None, dtype=None, device=None, requires_grad=false))]
#[allow(clippy::too_many_arguments)]
pub fn logspace(
    py: Python<'_>,
    start: f64,
    end: f64,
    steps: usize,
    base: f64,
    out: Option<&Bound<PyAny>>,
    dtype: Option<&Bound<PyAny>>,
    device: Option<&Bound<PyAny>>,
    requires_grad: bool,
) -> PyResult<Py<PyAny>> {
    let (dtype, dev) = factory_args(py, "logspace", out, dtype, device)?;
    let dt = dtype.unwrap_or(crate::dtype::default_float());
    let l = Tensor::linspace(start, end, steps, DType::F64)?;
    let t = l
        .rbinary_scalar(
            crate::tensor::binary_ops::BinaryOp::Pow,
            Scalar::Float(base),
        )?
        .to_dtype(dt)?;
    store_out(py, "logspace", finish(py, t, dev, requires_grad)?, out)
}

#[pyfunction]
#[pyo3(signature = (n, m=None, *, out=None, dtype=None, device=None, requires_grad=false))]
#[allow(clippy::too_many_arguments)]
pub fn eye(
    py: Python<'_>,
    n: usize,
    m: Option<usize>,
    out: Option<&Bound<PyAny>>,
    dtype: Option<&Bound<PyAny>>,
    device: Option<&Bound<PyAny>>,
    requires_grad: bool,
) -> PyResult<Py<PyAny>> {
    let (dtype, dev) = factory_args(py, "eye", out, dtype, device)?;
    let dt = dtype.unwrap_or(crate::dtype::default_float());
    store_out(
        py,
        "eye",
        finish(py, Tensor::eye(n, m.unwrap_or(n), dt)?, dev, requires_grad)?,
        out,
    )
}

macro_rules! sampler {
    ($name:ident, $f:ident) => {
        #[pyfunction]
        #[pyo3(signature = (*size, generator=None, out=None, dtype=None, layout=None, device=None, requires_grad=false, pin_memory=false))]
        #[allow(clippy::too_many_arguments)]
        pub fn $name(py: Python<'_>, size: &Bound<PyTuple>, generator: Option<PyRef<PyGenerator>>, out: Option<&Bound<PyAny>>, dtype: Option<&Bound<PyAny>>, layout: Option<&Bound<PyAny>>, device: Option<&Bound<PyAny>>, requires_grad: bool, pin_memory: bool) -> PyResult<Py<PyAny>> {
            let _ = (layout, pin_memory);
            let (dtype, dev) = factory_args(py, stringify!($name), out, dtype, device)?;
            let s = usizes(&sizes_of(size)?, stringify!($name))?;
            let g = gen_of(generator);
            let t = Tensor::$f(&s, dtype.unwrap_or(crate::dtype::default_float()), g.as_ref(), dev)?;
            store_out(py, stringify!($name), finish(py, t, dev, requires_grad)?, out)
        }
    };
}
sampler!(rand, rand);
sampler!(randn, randn);

#[pyfunction]
#[pyo3(signature = (input, *, generator=None, dtype=None, device=None, requires_grad=false))]
pub fn rand_like(
    py: Python<'_>,
    input: PyRef<PyTensor>,
    generator: Option<PyRef<PyGenerator>>,
    dtype: Option<&Bound<PyAny>>,
    device: Option<&Bound<PyAny>>,
    requires_grad: bool,
) -> PyResult<Py<PyAny>> {
    let dev = device_or(device, input.t.device())?;
    let dt = opt_dtype(dtype)?.unwrap_or(input.t.dtype());
    finish(
        py,
        Tensor::rand(input.t.shape(), dt, gen_of(generator).as_ref(), dev)?,
        dev,
        requires_grad,
    )
}

#[pyfunction]
#[pyo3(signature = (input, *, generator=None, dtype=None, device=None, requires_grad=false))]
pub fn randn_like(
    py: Python<'_>,
    input: PyRef<PyTensor>,
    generator: Option<PyRef<PyGenerator>>,
    dtype: Option<&Bound<PyAny>>,
    device: Option<&Bound<PyAny>>,
    requires_grad: bool,
) -> PyResult<Py<PyAny>> {
    let dev = device_or(device, input.t.device())?;
    let dt = opt_dtype(dtype)?.unwrap_or(input.t.dtype());
    finish(
        py,
        Tensor::randn(input.t.shape(), dt, gen_of(generator).as_ref(), dev)?,
        dev,
        requires_grad,
    )
}

/// `randint(high, size)` or `randint(low, high, size)`.
#[pyfunction]
#[pyo3(signature = (*args, generator=None, out=None, dtype=None, device=None, requires_grad=false, size=None))]
#[allow(clippy::too_many_arguments)]
pub fn randint(
    py: Python<'_>,
    args: &Bound<PyTuple>,
    generator: Option<PyRef<PyGenerator>>,
    out: Option<&Bound<PyAny>>,
    dtype: Option<&Bound<PyAny>>,
    device: Option<&Bound<PyAny>>,
    requires_grad: bool,
    size: Option<&Bound<PyAny>>,
) -> PyResult<Py<PyAny>> {
    let (dtype, dev) = factory_args(py, "randint", out, dtype, device)?;
    let n = args.len();
    let (low, high, sz) = match (n, size) {
        (1, Some(s)) => (0, index_i64(&args.get_item(0)?)?, s.clone()),
        (2, Some(s)) => (
            index_i64(&args.get_item(0)?)?,
            index_i64(&args.get_item(1)?)?,
            s.clone(),
        ),
        (2, None) => (0, index_i64(&args.get_item(0)?)?, args.get_item(1)?),
        (3, None) => (
            index_i64(&args.get_item(0)?)?,
            index_i64(&args.get_item(1)?)?,
            args.get_item(2)?,
        ),
        _ => {
            return Err(PyTypeError::new_err(
                "randint() expects (high, size) or (low, high, size)",
            ))
        }
    };
    let s = usizes(&sizes_of(&PyTuple::new(py, [sz])?)?, "randint")?;
    let dt = dtype.unwrap_or(DType::I64);
    store_out(
        py,
        "randint",
        finish(
            py,
            Tensor::randint(low, high, &s, dt, gen_of(generator).as_ref(), dev)?,
            dev,
            requires_grad,
        )?,
        out,
    )
}

#[pyfunction]
#[pyo3(signature = (n, *, generator=None, dtype=None, device=None, requires_grad=false))]
pub fn randperm(
    py: Python<'_>,
    n: usize,
    generator: Option<PyRef<PyGenerator>>,
    dtype: Option<&Bound<PyAny>>,
    device: Option<&Bound<PyAny>>,
    requires_grad: bool,
) -> PyResult<Py<PyAny>> {
    let dev = opt_device(device)?;
    let dt = opt_dtype(dtype)?.unwrap_or(DType::I64);
    finish(
        py,
        Tensor::randperm(n, dt, gen_of(generator).as_ref(), dev)?,
        dev,
        requires_grad,
    )
}

/// `torch.normal(mean, std, size)` with float mean/std, or tensor mean/std.
#[pyfunction]
#[pyo3(signature = (mean, std=None, size=None, *, generator=None, dtype=None, device=None, requires_grad=false))]
#[allow(clippy::too_many_arguments)]
pub fn normal(
    py: Python<'_>,
    mean: &Bound<PyAny>,
    std: Option<&Bound<PyAny>>,
    size: Option<&Bound<PyAny>>,
    generator: Option<PyRef<PyGenerator>>,
    dtype: Option<&Bound<PyAny>>,
    device: Option<&Bound<PyAny>>,
    requires_grad: bool,
) -> PyResult<Py<PyAny>> {
    let g = gen_of(generator);
    let std = std.cloned().unwrap_or_else(|| {
        1.0f64
            .into_pyobject(py)
            .map(|x| x.into_any())
            .unwrap_or_else(|_| py.None().into_bound(py))
    });
    let mt = mean.cast::<PyTensor>().ok().map(|t| t.borrow().t.clone());
    let st = std.cast::<PyTensor>().ok().map(|t| t.borrow().t.clone());
    if mt.is_none() && st.is_none() {
        let s = match size {
            Some(s) => usizes(&sizes_of(&PyTuple::new(py, [s])?)?, "normal")?,
            None => {
                return Err(PyTypeError::new_err(
                    "normal() missing required argument 'size'",
                ))
            }
        };
        let t = Tensor::normal(
            &s,
            mean.extract()?,
            std.extract()?,
            opt_dtype(dtype)?.unwrap_or(crate::dtype::default_float()),
            g.as_ref(),
            opt_device(device)?,
        )?;
        let dev = t.device();
        return finish(py, t, dev, requires_grad);
    }
    let shape = match (&mt, &st) {
        (Some(m), Some(s)) => crate::shape::broadcast_shapes(m.shape(), s.shape())?,
        (Some(m), None) => m.shape().to_vec(),
        (None, Some(s)) => s.shape().to_vec(),
        _ => unreachable!(),
    };
    let dt = mt
        .as_ref()
        .or(st.as_ref())
        .map(|t| t.dtype())
        .unwrap_or(crate::dtype::default_float());
    let dev = mt
        .as_ref()
        .or(st.as_ref())
        .map(|t| t.device())
        .unwrap_or(Device::Cpu);
    let z = Tensor::randn(&shape, dt, g.as_ref(), dev)?;
    let scaled = match &st {
        Some(s) => z.mul(s)?,
        None => z.mul_scalar(std.extract::<f64>()?)?,
    };
    let out = match &mt {
        Some(m) => scaled.add(m)?,
        None => scaled.add_scalar(mean.extract::<f64>()?)?,
    };
    let dev = device_or(device, dev)?;
    finish(py, out.detach(), dev, requires_grad)
}

#[pyfunction]
#[pyo3(signature = (input, p=None, *, generator=None))]
pub fn bernoulli(
    py: Python<'_>,
    input: PyRef<PyTensor>,
    p: Option<f64>,
    generator: Option<PyRef<PyGenerator>>,
) -> PyResult<Py<PyAny>> {
    let g = gen_of(generator);
    let t = match p {
        Some(p) => Tensor::bernoulli_scalar(
            input.t.shape(),
            p,
            input.t.dtype(),
            g.as_ref(),
            input.t.device(),
        )?,
        None => input.t.bernoulli(g.as_ref())?,
    };
    wrap(py, t)
}

#[pyfunction]
#[pyo3(signature = (input, num_samples, replacement=false, *, generator=None))]
pub fn multinomial(
    py: Python<'_>,
    input: PyRef<PyTensor>,
    num_samples: usize,
    replacement: bool,
    generator: Option<PyRef<PyGenerator>>,
) -> PyResult<Py<PyAny>> {
    wrap(
        py,
        input
            .t
            .multinomial(num_samples, replacement, gen_of(generator).as_ref())?,
    )
}

/// In-place samplers: `uniform_`, `normal_`, `bernoulli_`, `random_`, `exponential_`.
#[pyfunction]
#[pyo3(signature = (t, kind, a=0.0, b=1.0, generator=None))]
pub fn _sample_(
    t: PyRef<PyTensor>,
    kind: &str,
    a: f64,
    b: f64,
    generator: Option<PyRef<PyGenerator>>,
) -> PyResult<()> {
    let g = gen_of(generator);
    let (s, dt, dev) = (t.t.shape().to_vec(), t.t.dtype(), t.t.device());
    let v = match kind {
        "uniform" => Tensor::uniform(&s, a, b, dt, g.as_ref(), dev)?,
        "normal" => Tensor::normal(&s, a, b, dt, g.as_ref(), dev)?,
        "bernoulli" => Tensor::bernoulli_scalar(&s, a, dt, g.as_ref(), dev)?,
        "random" => Tensor::randint(a as i64, b as i64, &s, dt, g.as_ref(), dev)?,
        "exponential" => Tensor::rand(&s, DType::F64, g.as_ref(), dev)?
            .rsub_scalar(1.0)?
            .log()?
            .mul_scalar(-1.0 / a)?
            .to_dtype(dt)?,
        _ => return Err(PyTypeError::new_err(format!("unknown sampler {kind}"))),
    };
    let _ng = crate::autograd::no_grad();
    Ok(t.t.apply_inplace(&v)?)
}

#[pyfunction]
pub fn manual_seed(seed: i128) {
    random::manual_seed(seed as u64)
}

#[pyfunction]
pub fn initial_seed() -> u64 {
    random::default_generator().initial_seed()
}

#[pyfunction]
pub fn _default_generator() -> PyGenerator {
    PyGenerator {
        g: random::default_generator().clone(),
    }
}

fn tensors_of(seq: &Bound<PyAny>) -> PyResult<Vec<Tensor>> {
    seq.try_iter()?
        .map(|x| {
            let x = x?;
            x.cast::<PyTensor>()
                .map(|t| t.borrow().t.clone())
                .map_err(|_| {
                    PyTypeError::new_err(format!(
                        "expected Tensor as element in argument 'tensors', but got {}",
                        x.get_type()
                            .name()
                            .map(|n| n.to_string())
                            .unwrap_or_default()
                    ))
                })
        })
        .collect()
}

#[pyfunction]
#[pyo3(signature = (tensors, dim=0, *, out=None))]
pub fn cat(
    py: Python<'_>,
    tensors: &Bound<PyAny>,
    dim: i64,
    out: Option<&Bound<PyAny>>,
) -> PyResult<Py<PyAny>> {
    if let Some(o) = out {
        out_helper(py, "check_out")?.call1(("cat", o, tensors))?;
    }
    let ts = tensors_of(tensors)?;
    store_with(
        py,
        "store_joined",
        "cat",
        wrap(py, Tensor::cat(&ts, dim)?)?,
        out,
    )
}

#[pyfunction]
#[pyo3(signature = (tensors, dim=0, *, out=None))]
pub fn stack(
    py: Python<'_>,
    tensors: &Bound<PyAny>,
    dim: i64,
    out: Option<&Bound<PyAny>>,
) -> PyResult<Py<PyAny>> {
    if let Some(o) = out {
        out_helper(py, "check_out")?.call1(("stack", o, tensors))?;
    }
    let ts = tensors_of(tensors)?;
    store_with(
        py,
        "store_joined",
        "stack",
        wrap(py, Tensor::stack(&ts, dim)?)?,
        out,
    )
}

#[pyfunction]
#[pyo3(name = "where", signature = (condition, input=None, other=None, *, out=None))]
pub fn where_(
    py: Python<'_>,
    condition: PyRef<PyTensor>,
    input: Option<&Bound<PyAny>>,
    other: Option<&Bound<PyAny>>,
    out: Option<&Bound<PyAny>>,
) -> PyResult<Py<PyAny>> {
    match (input, other) {
        (Some(a), Some(b)) => {
            if let Some(o) = out {
                out_helper(py, "check_out")?.call1(("where", o, (a, b)))?;
            }
            let oa = super::tensor_ops::Operand::of(a)
                .ok_or_else(|| PyTypeError::new_err("where(): input must be a Tensor or number"))?;
            let ob = super::tensor_ops::Operand::of(b)
                .ok_or_else(|| PyTypeError::new_err("where(): other must be a Tensor or number"))?;
            let r = wrap(py, Tensor::where_args(&condition.t, oa.arg(), ob.arg())?)?;
            store_out(py, "where", r, out)
        }
        _ if out.is_some() => Err(PyTypeError::new_err(
            "where(): out= needs both input and other",
        )),
        (None, None) => {
            let nz = condition.t.nonzero()?;
            let cols = (0..condition.t.ndim() as i64)
                .map(|k| nz.select(1, k)?.contiguous())
                .collect::<crate::error::Result<Vec<_>>>()?;
            let items: Vec<Py<PyAny>> = cols
                .into_iter()
                .map(|c| wrap(py, c))
                .collect::<PyResult<_>>()?;
            Ok(PyTuple::new(py, items)?.into_any().unbind())
        }
        _ => Err(PyTypeError::new_err(
            "where() expects both input and other, or neither",
        )),
    }
}

#[pyfunction]
#[pyo3(signature = (equation, *operands))]
pub fn einsum(py: Python<'_>, equation: &str, operands: &Bound<PyTuple>) -> PyResult<Py<PyAny>> {
    let ts = if operands.len() == 1 && operands.get_item(0)?.cast::<PyTensor>().is_err() {
        tensors_of(&operands.get_item(0)?)?
    } else {
        tensors_of(operands.as_any())?
    };
    wrap(py, Tensor::einsum(equation, &ts)?)
}

#[pyfunction]
pub fn promote_types(a: &Bound<PyAny>, b: &Bound<PyAny>) -> PyResult<PyDType> {
    Ok(PyDType {
        dt: promote(dtype_of(a)?, dtype_of(b)?),
    })
}

#[pyfunction]
pub fn result_type(a: &Bound<PyAny>, b: &Bound<PyAny>) -> PyResult<PyDType> {
    use crate::dtype::{result_type, Operand};
    let op = |o: &Bound<PyAny>| -> PyResult<Operand> {
        if let Ok(t) = o.cast::<PyTensor>() {
            let t = &t.borrow().t;
            return Ok(if t.ndim() == 0 {
                Operand::ZeroDim(t.dtype())
            } else {
                Operand::Dim(t.dtype())
            });
        }
        scalar_of(o)
            .map(|s| Operand::Scalar(s.dtype()))
            .ok_or_else(|| PyTypeError::new_err("result_type expects tensors or numbers"))
    };
    Ok(PyDType {
        dt: result_type(&[op(a)?, op(b)?]),
    })
}

#[pyfunction]
pub fn can_cast(from_: &Bound<PyAny>, to: &Bound<PyAny>) -> PyResult<bool> {
    let (f, t) = (dtype_of(from_)?, dtype_of(to)?);
    Ok(!((f.is_float() && !t.is_float()) || (f != DType::Bool && t == DType::Bool)))
}

#[pyfunction]
pub fn _tensor_to_bytes<'py>(py: Python<'py>, t: PyRef<PyTensor>) -> PyResult<Bound<'py, PyBytes>> {
    let b = t.t.to_bytes()?;
    Ok(PyBytes::new(py, &b))
}

#[pyfunction]
pub fn _tensor_from_bytes(
    py: Python<'_>,
    data: &[u8],
    dtype: &Bound<PyAny>,
    shape: Vec<usize>,
) -> PyResult<Py<PyAny>> {
    wrap(py, Tensor::from_bytes(data, dtype_of(dtype)?, &shape)?)
}

/// `torch.split`, `chunk`, `unbind` as lists for `rtorch` helpers that need them.
#[pyfunction]
pub fn _unbind_list(py: Python<'_>, t: PyRef<PyTensor>, dim: i64) -> PyResult<Py<PyAny>> {
    list_of(py, t.t.unbind(dim)?)
}

/// Called in DataLoader workers after `fork`: the rayon pool does not survive it.
#[pyfunction]
pub fn _after_fork() {
    crate::cpu::set_parallel(false);
}

extern "C" fn child_after_fork() {
    crate::cpu::set_parallel(false);
}

/// Registers the after-fork handler once, at import.
pub fn install_fork_handler() {
    // SAFETY: registers a plain function that only stores an atomic flag.
    unsafe {
        libc::pthread_atfork(None, None, Some(child_after_fork));
    }
}

#[pyfunction]
pub fn set_num_threads(py: Python<'_>, n: i64) -> PyResult<()> {
    if n <= 0 {
        return Err(PyRuntimeError::new_err(
            "set_num_threads: Expected positive number of threads",
        ));
    }
    if let Some(size) = crate::cpu::set_num_threads(n as usize) {
        let msg = format!(
            "set_num_threads({n}): the thread pool already runs {size} threads (started by \
             earlier parallel work) and cannot be resized; call set_num_threads before the \
             first large operation, or set OMP_NUM_THREADS / RAYON_NUM_THREADS"
        );
        let warning = py.get_type::<pyo3::exceptions::PyUserWarning>();
        PyErr::warn(py, &warning, &std::ffi::CString::new(msg)?, 1)?;
    }
    Ok(())
}

/// `torch.set_default_dtype`: the dtype of Python floats and float creation functions.
#[pyfunction]
pub fn _set_default_dtype(dtype: &Bound<PyAny>) -> PyResult<()> {
    Ok(crate::dtype::set_default_float(dtype_of(dtype)?)?)
}

#[pyfunction]
pub fn _get_default_dtype() -> PyDType {
    PyDType {
        dt: crate::dtype::default_float(),
    }
}

#[pyfunction]
pub fn get_num_threads() -> usize {
    if crate::cpu::parallel_enabled() {
        rayon::current_num_threads()
    } else {
        1
    }
}
