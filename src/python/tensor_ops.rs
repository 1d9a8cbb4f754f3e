//! Tensor math methods: operators, elementwise functions, reductions, views, matmul,
//! indexing helpers and in-place variants.

use super::convert::*;
use super::tensor::{nogil, wrap, PyTensor};
use crate::dtype::DType;
use crate::error::Error;
use crate::tensor::binary_ops::{Arg, BinaryOp};
use crate::tensor::creation_scalar::Scalar;
use crate::tensor::Tensor;
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

/// A binary-op operand from Python.
pub enum Operand {
    T(Tensor),
    S(Scalar),
}

impl Operand {
    pub fn of(obj: &Bound<PyAny>) -> Option<Operand> {
        if let Ok(t) = obj.cast::<PyTensor>() {
            return Some(Operand::T(t.borrow().t.clone()));
        }
        scalar_of(obj).map(Operand::S)
    }
    pub fn arg(&self) -> Arg<'_> {
        match self {
            Operand::T(t) => Arg::T(t),
            Operand::S(s) => Arg::S(*s),
        }
    }
    pub fn numel(&self) -> usize {
        match self {
            Operand::T(t) => t.numel(),
            Operand::S(_) => 1,
        }
    }
}

fn need(obj: &Bound<PyAny>, op: &str) -> PyResult<Operand> {
    Operand::of(obj).ok_or_else(|| {
        PyTypeError::new_err(format!(
            "{op}(): argument 'other' must be Tensor or Number, not {}",
            obj.get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))
    })
}

pub fn binop(py: Python<'_>, op: BinaryOp, a: Arg, b: Arg, work: usize) -> PyResult<Py<PyAny>> {
    let r = nogil(py, work, || crate::tensor::binary_ops::binary(op, a, b))?;
    wrap(py, r)
}

/// `self op other`, or NotImplemented for unsupported operand types.
fn dunder(
    slf: &PyTensor,
    py: Python<'_>,
    other: &Bound<PyAny>,
    op: BinaryOp,
    reflected: bool,
) -> PyResult<Py<PyAny>> {
    let Some(o) = Operand::of(other) else {
        return Ok(py.NotImplemented());
    };
    let work = slf.t.numel().max(o.numel());
    if reflected {
        binop(py, op, o.arg(), Arg::T(&slf.t), work)
    } else {
        binop(py, op, Arg::T(&slf.t), o.arg(), work)
    }
}

fn inplace_dunder(slf: Bound<'_, PyTensor>, other: &Bound<PyAny>, op: BinaryOp) -> PyResult<()> {
    let o = need(other, "in-place operator")?;
    let t = slf.borrow().t.clone();
    t.inplace(|x| crate::tensor::binary_ops::binary(op, Arg::T(x), o.arg()))?;
    Ok(())
}

fn scaled(o: &Operand, alpha: Option<&Bound<PyAny>>) -> PyResult<Operand> {
    match alpha.and_then(scalar_of) {
        None => Ok(match o {
            Operand::T(t) => Operand::T(t.clone()),
            Operand::S(s) => Operand::S(*s),
        }),
        Some(a) => Ok(match o {
            Operand::T(t) => Operand::T(t.mul_scalar(a)?),
            Operand::S(s) => Operand::S(match (s, a) {
                (Scalar::Int(x), Scalar::Int(y)) => Scalar::Int(x * y),
                _ => Scalar::Float(s.to_f64() * a.to_f64()),
            }),
        }),
    }
}

macro_rules! unary_py {
    ($($name:ident, $iname:ident => $method:ident;)*) => {
        #[pymethods]
        impl PyTensor {
            $(
                fn $name(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
                    let t = self.t.clone();
                    wrap(py, nogil(py, t.numel(), || t.$method())?)
                }
                fn $iname<'py>(slf: Bound<'py, Self>) -> PyResult<Bound<'py, Self>> {
                    let t = slf.borrow().t.clone();
                    t.inplace(|x| x.$method())?;
                    Ok(slf)
                }
            )*
        }
    };
}

unary_py! {
    neg, neg_ => neg; negative, negative_ => neg; abs, abs_ => abs; absolute, absolute_ => abs;
    sign, sign_ => sign; sgn, sgn_ => sign; exp, exp_ => exp; exp2, exp2_ => exp2; expm1, expm1_ => expm1;
    log, log_ => log; log2, log2_ => log2; log10, log10_ => log10; log1p, log1p_ => log1p;
    sqrt, sqrt_ => sqrt; rsqrt, rsqrt_ => rsqrt; sin, sin_ => sin; cos, cos_ => cos; tan, tan_ => tan;
    asin, asin_ => asin; acos, acos_ => acos; atan, atan_ => atan; arcsin, arcsin_ => asin;
    arccos, arccos_ => acos; arctan, arctan_ => atan; sinh, sinh_ => sinh; cosh, cosh_ => cosh;
    tanh, tanh_ => tanh; asinh, asinh_ => asinh; acosh, acosh_ => acosh; atanh, atanh_ => atanh;
    arcsinh, arcsinh_ => asinh; arccosh, arccosh_ => acosh; arctanh, arctanh_ => atanh;
    sigmoid, sigmoid_ => sigmoid; relu, relu_ => relu; floor, floor_ => floor; ceil, ceil_ => ceil;
    trunc, trunc_ => trunc; fix, fix_ => trunc; frac, frac_ => frac; reciprocal, reciprocal_ => reciprocal;
    square, square_ => square; erf, erf_ => erf; erfc, erfc_ => erfc; erfinv, erfinv_ => erfinv;
    logical_not, logical_not_ => logical_not; bitwise_not, bitwise_not_ => bitwise_not;
}

macro_rules! binary_py {
    ($($name:ident, $iname:ident => $op:ident;)*) => {
        #[pymethods]
        impl PyTensor {
            $(
                fn $name(&self, py: Python<'_>, other: &Bound<PyAny>) -> PyResult<Py<PyAny>> {
                    let o = need(other, stringify!($name))?;
                    binop(py, BinaryOp::$op, Arg::T(&self.t), o.arg(), self.t.numel())
                }
                fn $iname<'py>(slf: Bound<'py, Self>, other: &Bound<PyAny>) -> PyResult<Bound<'py, Self>> {
                    let o = need(other, stringify!($iname))?;
                    let t = slf.borrow().t.clone();
                    t.inplace(|x| crate::tensor::binary_ops::binary(BinaryOp::$op, Arg::T(x), o.arg()))?;
                    Ok(slf)
                }
            )*
        }
    };
}

binary_py! {
    mul, mul_ => Mul; multiply, multiply_ => Mul; true_divide, true_divide_ => Div;
    floor_divide, floor_divide_ => FloorDiv; remainder, remainder_ => Rem; fmod, fmod_ => Fmod;
    pow, pow_ => Pow; maximum, maximum_ => Maximum; minimum, minimum_ => Minimum;
    atan2, atan2_ => Atan2; arctan2, arctan2_ => Atan2;
    eq, eq_ => Eq; ne, ne_ => Ne; lt, lt_ => Lt; le, le_ => Le; gt, gt_ => Gt; ge, ge_ => Ge;
    not_equal, not_equal_ => Ne; less, less_ => Lt; less_equal, less_equal_ => Le;
    greater, greater_ => Gt; greater_equal, greater_equal_ => Ge;
    logical_and, logical_and_ => LogicalAnd; logical_or, logical_or_ => LogicalOr; logical_xor, logical_xor_ => LogicalXor;
    bitwise_and, bitwise_and_ => BitAnd; bitwise_or, bitwise_or_ => BitOr; bitwise_xor, bitwise_xor_ => BitXor;
    bitwise_left_shift, bitwise_left_shift_ => Shl; bitwise_right_shift, bitwise_right_shift_ => Shr;
}

/// `float_power`'s operand: computed in float64, as PyTorch does.
fn as_f64(o: &Operand) -> PyResult<Operand> {
    Ok(match o {
        Operand::T(t) => Operand::T(t.to_dtype(DType::F64)?),
        Operand::S(s) => Operand::S(Scalar::Float(s.to_f64())),
    })
}

#[pymethods]
impl PyTensor {
    fn fmax(&self, py: Python<'_>, other: &Bound<PyAny>) -> PyResult<Py<PyAny>> {
        let o = need(other, "fmax")?;
        let r = nogil(py, self.t.numel(), || {
            crate::tensor::binary_ops::nan_ignoring(BinaryOp::Maximum, Arg::T(&self.t), o.arg())
        })?;
        wrap(py, r)
    }
    fn fmin(&self, py: Python<'_>, other: &Bound<PyAny>) -> PyResult<Py<PyAny>> {
        let o = need(other, "fmin")?;
        let r = nogil(py, self.t.numel(), || {
            crate::tensor::binary_ops::nan_ignoring(BinaryOp::Minimum, Arg::T(&self.t), o.arg())
        })?;
        wrap(py, r)
    }
    fn fmax_<'py>(slf: Bound<'py, Self>, other: &Bound<PyAny>) -> PyResult<Bound<'py, Self>> {
        let o = need(other, "fmax_")?;
        let t = slf.borrow().t.clone();
        t.inplace(|x| {
            crate::tensor::binary_ops::nan_ignoring(BinaryOp::Maximum, Arg::T(x), o.arg())
        })?;
        Ok(slf)
    }
    fn fmin_<'py>(slf: Bound<'py, Self>, other: &Bound<PyAny>) -> PyResult<Bound<'py, Self>> {
        let o = need(other, "fmin_")?;
        let t = slf.borrow().t.clone();
        t.inplace(|x| {
            crate::tensor::binary_ops::nan_ignoring(BinaryOp::Minimum, Arg::T(x), o.arg())
        })?;
        Ok(slf)
    }
    fn float_power(&self, py: Python<'_>, other: &Bound<PyAny>) -> PyResult<Py<PyAny>> {
        let o = as_f64(&need(other, "float_power")?)?;
        let a = self.t.to_dtype(DType::F64)?;
        binop(py, BinaryOp::Pow, Arg::T(&a), o.arg(), a.numel())
    }
    fn float_power_<'py>(
        slf: Bound<'py, Self>,
        other: &Bound<PyAny>,
    ) -> PyResult<Bound<'py, Self>> {
        let o = as_f64(&need(other, "float_power_")?)?;
        let t = slf.borrow().t.clone();
        if t.dtype() != DType::F64 {
            return Err(PyRuntimeError::new_err(format!(
                "the base given to float_power_ has dtype {} but the operation's result requires dtype Double",
                crate::tensor::binary_ops::pretty_dtype(t.dtype())
            )));
        }
        t.inplace(|x| crate::tensor::binary_ops::binary(BinaryOp::Pow, Arg::T(x), o.arg()))?;
        Ok(slf)
    }
}

macro_rules! dunders {
    ($($name:ident => $op:ident, $refl:expr;)*) => {
        #[pymethods]
        impl PyTensor {
            $(
                fn $name(&self, py: Python<'_>, other: &Bound<PyAny>) -> PyResult<Py<PyAny>> {
                    dunder(self, py, other, BinaryOp::$op, $refl)
                }
            )*
        }
    };
}

dunders! {
    __add__ => Add, false; __radd__ => Add, true; __sub__ => Sub, false; __rsub__ => Sub, true;
    __mul__ => Mul, false; __rmul__ => Mul, true; __truediv__ => Div, false; __rtruediv__ => Div, true;
    __floordiv__ => FloorDiv, false; __rfloordiv__ => FloorDiv, true; __mod__ => Rem, false; __rmod__ => Rem, true;
    __and__ => BitAnd, false; __rand__ => BitAnd, true; __or__ => BitOr, false; __ror__ => BitOr, true;
    __xor__ => BitXor, false; __rxor__ => BitXor, true; __lshift__ => Shl, false; __rshift__ => Shr, false;
}

macro_rules! idunders {
    ($($name:ident => $op:ident;)*) => {
        #[pymethods]
        impl PyTensor {
            $(
                fn $name(slf: Bound<'_, Self>, other: &Bound<PyAny>) -> PyResult<()> {
                    inplace_dunder(slf, other, BinaryOp::$op)
                }
            )*
        }
    };
}

idunders! {
    __iadd__ => Add; __isub__ => Sub; __imul__ => Mul; __itruediv__ => Div; __ifloordiv__ => FloorDiv;
    __imod__ => Rem; __iand__ => BitAnd; __ior__ => BitOr; __ixor__ => BitXor;
}

/// Reduction dims: None → all.
fn rdims(dim: Option<&Bound<PyAny>>) -> PyResult<Vec<i64>> {
    Ok(dims_of(dim)?.unwrap_or_default())
}

fn named_pair(py: Python<'_>, kind: &str, a: Tensor, b: Tensor) -> PyResult<Py<PyAny>> {
    let cls = py.import("rtorch.return_types")?.getattr(kind)?;
    Ok(cls.call1(((wrap(py, a)?, wrap(py, b)?),))?.unbind())
}

#[pymethods]
impl PyTensor {
    fn __eq__(&self, py: Python<'_>, other: &Bound<PyAny>) -> PyResult<Py<PyAny>> {
        dunder(self, py, other, BinaryOp::Eq, false)
    }
    fn __ne__(&self, py: Python<'_>, other: &Bound<PyAny>) -> PyResult<Py<PyAny>> {
        dunder(self, py, other, BinaryOp::Ne, false)
    }
    fn __lt__(&self, py: Python<'_>, other: &Bound<PyAny>) -> PyResult<Py<PyAny>> {
        dunder(self, py, other, BinaryOp::Lt, false)
    }
    fn __le__(&self, py: Python<'_>, other: &Bound<PyAny>) -> PyResult<Py<PyAny>> {
        dunder(self, py, other, BinaryOp::Le, false)
    }
    fn __gt__(&self, py: Python<'_>, other: &Bound<PyAny>) -> PyResult<Py<PyAny>> {
        dunder(self, py, other, BinaryOp::Gt, false)
    }
    fn __ge__(&self, py: Python<'_>, other: &Bound<PyAny>) -> PyResult<Py<PyAny>> {
        dunder(self, py, other, BinaryOp::Ge, false)
    }
    fn __ipow__(
        slf: Bound<'_, Self>,
        other: &Bound<PyAny>,
        _mod: Option<&Bound<PyAny>>,
    ) -> PyResult<()> {
        inplace_dunder(slf, other, BinaryOp::Pow)
    }
    fn __pow__(
        &self,
        py: Python<'_>,
        other: &Bound<PyAny>,
        _mod: Option<&Bound<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        dunder(self, py, other, BinaryOp::Pow, false)
    }
    fn __rpow__(
        &self,
        py: Python<'_>,
        other: &Bound<PyAny>,
        _mod: Option<&Bound<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        dunder(self, py, other, BinaryOp::Pow, true)
    }
    fn __matmul__(&self, py: Python<'_>, other: &Bound<PyAny>) -> PyResult<Py<PyAny>> {
        match other.cast::<PyTensor>() {
            Ok(o) => self.matmul(py, o.borrow()),
            Err(_) => Ok(py.NotImplemented()),
        }
    }
    fn __rmatmul__(&self, py: Python<'_>, other: &Bound<PyAny>) -> PyResult<Py<PyAny>> {
        match other.cast::<PyTensor>() {
            Ok(o) => {
                let a = o.borrow().t.clone();
                wrap(py, a.matmul(&self.t)?)
            }
            Err(_) => Ok(py.NotImplemented()),
        }
    }
    fn __neg__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.neg()?)
    }
    fn __pos__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }
    fn __abs__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.abs()?)
    }
    fn __invert__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.bitwise_not()?)
    }

    #[pyo3(signature = (other, *, alpha=None))]
    fn add(
        &self,
        py: Python<'_>,
        other: &Bound<PyAny>,
        alpha: Option<&Bound<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let o = scaled(&need(other, "add")?, alpha)?;
        binop(py, BinaryOp::Add, Arg::T(&self.t), o.arg(), self.t.numel())
    }
    #[pyo3(signature = (other, *, alpha=None))]
    fn add_<'py>(
        slf: Bound<'py, Self>,
        other: &Bound<PyAny>,
        alpha: Option<&Bound<PyAny>>,
    ) -> PyResult<Bound<'py, Self>> {
        let o = scaled(&need(other, "add_")?, alpha)?;
        let t = slf.borrow().t.clone();
        t.inplace(|x| crate::tensor::binary_ops::binary(BinaryOp::Add, Arg::T(x), o.arg()))?;
        Ok(slf)
    }
    #[pyo3(signature = (other, *, alpha=None))]
    fn sub(
        &self,
        py: Python<'_>,
        other: &Bound<PyAny>,
        alpha: Option<&Bound<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let o = scaled(&need(other, "sub")?, alpha)?;
        binop(py, BinaryOp::Sub, Arg::T(&self.t), o.arg(), self.t.numel())
    }
    #[pyo3(signature = (other, *, alpha=None))]
    fn subtract(
        &self,
        py: Python<'_>,
        other: &Bound<PyAny>,
        alpha: Option<&Bound<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        self.sub(py, other, alpha)
    }
    #[pyo3(signature = (other, *, alpha=None))]
    fn sub_<'py>(
        slf: Bound<'py, Self>,
        other: &Bound<PyAny>,
        alpha: Option<&Bound<PyAny>>,
    ) -> PyResult<Bound<'py, Self>> {
        let o = scaled(&need(other, "sub_")?, alpha)?;
        let t = slf.borrow().t.clone();
        t.inplace(|x| crate::tensor::binary_ops::binary(BinaryOp::Sub, Arg::T(x), o.arg()))?;
        Ok(slf)
    }
    #[pyo3(signature = (other, *, rounding_mode=None))]
    fn div(
        &self,
        py: Python<'_>,
        other: &Bound<PyAny>,
        rounding_mode: Option<&str>,
    ) -> PyResult<Py<PyAny>> {
        let o = need(other, "div")?;
        binop(
            py,
            div_op(rounding_mode)?,
            Arg::T(&self.t),
            o.arg(),
            self.t.numel(),
        )
    }
    #[pyo3(signature = (other, *, rounding_mode=None))]
    fn divide(
        &self,
        py: Python<'_>,
        other: &Bound<PyAny>,
        rounding_mode: Option<&str>,
    ) -> PyResult<Py<PyAny>> {
        self.div(py, other, rounding_mode)
    }
    #[pyo3(signature = (other, *, rounding_mode=None))]
    fn div_<'py>(
        slf: Bound<'py, Self>,
        other: &Bound<PyAny>,
        rounding_mode: Option<&str>,
    ) -> PyResult<Bound<'py, Self>> {
        let o = need(other, "div_")?;
        let op = div_op(rounding_mode)?;
        let t = slf.borrow().t.clone();
        t.inplace(|x| crate::tensor::binary_ops::binary(op, Arg::T(x), o.arg()))?;
        Ok(slf)
    }
    #[pyo3(signature = (other, alpha=None))]
    fn rsub(
        &self,
        py: Python<'_>,
        other: &Bound<PyAny>,
        alpha: Option<&Bound<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let o = need(other, "rsub")?;
        let me = match alpha.and_then(scalar_of) {
            Some(a) => self.t.mul_scalar(a)?,
            None => self.t.clone(),
        };
        binop(py, BinaryOp::Sub, o.arg(), Arg::T(&me), self.t.numel())
    }

    #[pyo3(signature = (decimals=0))]
    fn round(&self, py: Python<'_>, decimals: i64) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.round_decimals(decimals)?)
    }
    #[pyo3(signature = (decimals=0))]
    fn round_<'py>(slf: Bound<'py, Self>, decimals: i64) -> PyResult<Bound<'py, Self>> {
        let t = slf.borrow().t.clone();
        t.inplace(|x| x.round_decimals(decimals))?;
        Ok(slf)
    }
    fn isnan(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.isnan()?)
    }
    fn isinf(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.isinf()?)
    }
    fn isfinite(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.isfinite()?)
    }
    fn signbit(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.signbit()?)
    }
    #[pyo3(signature = (nan=0.0, posinf=None, neginf=None))]
    fn nan_to_num(
        &self,
        py: Python<'_>,
        nan: f64,
        posinf: Option<f64>,
        neginf: Option<f64>,
    ) -> PyResult<Py<PyAny>> {
        wrap(py, self.t.nan_to_num(nan, posinf, neginf)?)
    }
    #[pyo3(signature = (min=None, max=None))]
    fn clamp(
        &self,
        py: Python<'_>,
        min: Option<&Bound<PyAny>>,
        max: Option<&Bound<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        wrap(py, clamp_impl(&self.t, min, max)?)
    }
    #[pyo3(signature = (min=None, max=None))]
    fn clip(
        &self,
        py: Python<'_>,
        min: Option<&Bound<PyAny>>,
        max: Option<&Bound<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        wrap(py, clamp_impl(&self.t, min, max)?)
    }
    #[pyo3(signature = (min=None, max=None))]
    fn clamp_<'py>(
        slf: Bound<'py, Self>,
        min: Option<&Bound<PyAny>>,
        max: Option<&Bound<PyAny>>,
    ) -> PyResult<Bound<'py, Self>> {
        let t = slf.borrow().t.clone();
        let r = clamp_impl(&t.inplace_input()?, min, max)?;
        t.apply_inplace(&r)?;
        Ok(slf)
    }
    #[pyo3(signature = (min=None, max=None))]
    fn clip_<'py>(
        slf: Bound<'py, Self>,
        min: Option<&Bound<PyAny>>,
        max: Option<&Bound<PyAny>>,
    ) -> PyResult<Bound<'py, Self>> {
        Self::clamp_(slf, min, max)
    }
    fn clamp_min(&self, py: Python<'_>, min: &Bound<PyAny>) -> PyResult<Py<PyAny>> {
        wrap(py, clamp_impl(&self.t, Some(min), None)?)
    }
    fn clamp_max(&self, py: Python<'_>, max: &Bound<PyAny>) -> PyResult<Py<PyAny>> {
        wrap(py, clamp_impl(&self.t, None, Some(max))?)
    }
    #[pyo3(signature = (end, weight))]
    fn lerp(
        &self,
        py: Python<'_>,
        end: PyRef<PyTensor>,
        weight: &Bound<PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let w = need(weight, "lerp")?;
        wrap(py, self.t.lerp(&end.t, w.arg())?)
    }
    #[pyo3(signature = (end, weight))]
    fn lerp_<'py>(
        slf: Bound<'py, Self>,
        end: PyRef<PyTensor>,
        weight: &Bound<PyAny>,
    ) -> PyResult<Bound<'py, Self>> {
        let w = need(weight, "lerp_")?;
        let t = slf.borrow().t.clone();
        t.inplace(|x| x.lerp(&end.t, w.arg()))?;
        Ok(slf)
    }
    fn equal(&self, other: PyRef<PyTensor>) -> PyResult<bool> {
        Ok(self.t.equal(&other.t)?)
    }

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
        let z = Tensor::scalar_of(0.0, self.t.dtype());
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
                opt_dtype(dtype)?,
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
        k: usize,
        dim: i64,
        largest: bool,
        sorted: bool,
    ) -> PyResult<Py<PyAny>> {
        let _ = sorted;
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
                    return wrap(py, self.t.alias());
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
        let v = super::tensor::tensor_or_scalar(value, self.t.dtype())?;
        wrap(py, self.t.masked_fill(&mask.t, &v)?)
    }
    fn masked_fill_<'py>(
        slf: Bound<'py, Self>,
        mask: PyRef<PyTensor>,
        value: &Bound<PyAny>,
    ) -> PyResult<Bound<'py, Self>> {
        let t = slf.borrow().t.clone();
        let v = super::tensor::tensor_or_scalar(value, t.dtype())?;
        t.inplace(|x| x.masked_fill(&mask.t, &v))?;
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

macro_rules! casts {
    ($($name:ident => $dt:ident;)*) => {
        #[pymethods]
        impl PyTensor {
            $(
                #[pyo3(signature = (memory_format=None))]
                fn $name(slf: Bound<'_, Self>, memory_format: Option<&Bound<PyAny>>) -> PyResult<Py<PyAny>> {
                    let _ = memory_format;
                    let t = slf.borrow().t.clone();
                    if t.dtype() == DType::$dt {
                        return Ok(slf.into_any().unbind());
                    }
                    wrap(slf.py(), t.to_dtype(DType::$dt)?)
                }
            )*
        }
    };
}

casts! {
    float => F32; double => F64; half => F16; bfloat16 => BF16; long => I64; int => I32;
    short => I16; char => I8; byte => U8; bool => Bool;
}

fn tuple_of(py: Python<'_>, parts: Vec<Tensor>) -> PyResult<Py<PyAny>> {
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

fn div_op(mode: Option<&str>) -> PyResult<BinaryOp> {
    Ok(match mode {
        None => BinaryOp::Div,
        Some("floor") => BinaryOp::FloorDiv,
        Some("trunc") => BinaryOp::TruncDiv,
        Some(m) => {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '{m}'"
            )))
        }
    })
}

pub fn clamp_impl(
    t: &Tensor,
    min: Option<&Bound<PyAny>>,
    max: Option<&Bound<PyAny>>,
) -> PyResult<Tensor> {
    let min = min.filter(|m| !m.is_none());
    let max = max.filter(|m| !m.is_none());
    let is_t = |o: Option<&Bound<PyAny>>| o.map(|x| x.cast::<PyTensor>().is_ok()).unwrap_or(false);
    if is_t(min) || is_t(max) {
        let lo = min
            .map(|m| super::tensor::tensor_or_scalar(m, t.dtype()))
            .transpose()?;
        let hi = max
            .map(|m| super::tensor::tensor_or_scalar(m, t.dtype()))
            .transpose()?;
        return Ok(t.clamp_tensor(lo.as_ref(), hi.as_ref())?);
    }
    let lo = min
        .map(|m| {
            scalar_of(m)
                .ok_or_else(|| PyTypeError::new_err("clamp: min must be a number or tensor"))
        })
        .transpose()?;
    let hi = max
        .map(|m| {
            scalar_of(m)
                .ok_or_else(|| PyTypeError::new_err("clamp: max must be a number or tensor"))
        })
        .transpose()?;
    Ok(t.clamp(lo, hi)?)
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
            Tensor::scalar_of(v, t.dtype()).expand(index.shape())?
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
