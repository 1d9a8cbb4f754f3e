//! Tensor math methods: operators, elementwise functions, reductions, views, matmul,
//! indexing helpers and in-place variants.

use super::convert::*;
use super::tensor::{nogil, wrap, PyTensor};
use crate::dtype::DType;
use crate::tensor::binary_ops::{Arg, BinaryOp};
use crate::tensor::creation_scalar::Scalar;
use crate::tensor::Tensor;
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;

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

pub(super) fn need(obj: &Bound<PyAny>, op: &str) -> PyResult<Operand> {
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
    crate::tensor::binary_ops::binary_inplace(op, &t, o.arg())?;
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
                    crate::tensor::binary_ops::binary_inplace(BinaryOp::$op, &t, o.arg())?;
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
        crate::tensor::binary_ops::binary_inplace(BinaryOp::Pow, &t, o.arg())?;
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
            Ok(o) => {
                let (a, b) = (self.t.clone(), o.borrow().t.clone());
                let work = a.numel() * b.shape().last().copied().unwrap_or(1);
                wrap(py, nogil(py, work, || a.matmul(&b))?)
            }
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
        crate::tensor::binary_ops::binary_inplace(BinaryOp::Add, &t, o.arg())?;
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
        crate::tensor::binary_ops::binary_inplace(BinaryOp::Sub, &t, o.arg())?;
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
        crate::tensor::binary_ops::binary_inplace(op, &t, o.arg())?;
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
