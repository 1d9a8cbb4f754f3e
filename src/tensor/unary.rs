//! Elementwise math functions. Integer inputs of float-only functions are computed in
//! float32, like PyTorch. Gradient rules sit next to the list of ops.

use super::binary::Arg;
use super::creation::Scalar;
use super::Tensor;
use crate::autograd::{self, is_grad_enabled, SavedTensor};
use crate::cpu::fastmath::FastExp;
use crate::cpu::{self, arith::Arith};
use crate::dtype::{DType, Elem};
use crate::error::{Error, Result};
use num_traits::Float;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Abs,
    Sign,
    Exp,
    Exp2,
    Expm1,
    Log,
    Log2,
    Log10,
    Log1p,
    Sqrt,
    Rsqrt,
    Sin,
    Cos,
    Tan,
    Asin,
    Acos,
    Atan,
    Sinh,
    Cosh,
    Tanh,
    Asinh,
    Acosh,
    Atanh,
    Sigmoid,
    Relu,
    Floor,
    Ceil,
    Round,
    Trunc,
    Frac,
    Reciprocal,
    Square,
    Erf,
    Erfc,
    Erfinv,
}

impl UnaryOp {
    /// Ops defined on integers that keep the integer dtype.
    fn keeps_int(self) -> bool {
        use UnaryOp::*;
        matches!(
            self,
            Neg | Abs | Sign | Relu | Floor | Ceil | Round | Trunc | Square
        )
    }
    /// Whether the derivative reads the input `x` (otherwise only the output `y`, or nothing).
    fn derivative_uses_input(self) -> bool {
        use UnaryOp::*;
        !matches!(
            self,
            Neg | Sign
                | Exp
                | Exp2
                | Expm1
                | Sqrt
                | Rsqrt
                | Tan
                | Tanh
                | Sigmoid
                | Relu
                | Floor
                | Ceil
                | Round
                | Trunc
                | Frac
                | Reciprocal
                | Erfinv
        )
    }
    fn backward_name(self) -> &'static str {
        use UnaryOp::*;
        match self {
            Neg => "NegBackward0",
            Abs => "AbsBackward0",
            Sign => "SignBackward0",
            Exp => "ExpBackward0",
            Exp2 => "Exp2Backward0",
            Expm1 => "Expm1Backward0",
            Log => "LogBackward0",
            Log2 => "Log2Backward0",
            Log10 => "Log10Backward0",
            Log1p => "Log1pBackward0",
            Sqrt => "SqrtBackward0",
            Rsqrt => "RsqrtBackward0",
            Sin => "SinBackward0",
            Cos => "CosBackward0",
            Tan => "TanBackward0",
            Asin => "AsinBackward0",
            Acos => "AcosBackward0",
            Atan => "AtanBackward0",
            Sinh => "SinhBackward0",
            Cosh => "CoshBackward0",
            Tanh => "TanhBackward0",
            Asinh => "AsinhBackward0",
            Acosh => "AcoshBackward0",
            Atanh => "AtanhBackward0",
            Sigmoid => "SigmoidBackward0",
            Relu => "ReluBackward0",
            Floor => "FloorBackward0",
            Ceil => "CeilBackward0",
            Round => "RoundBackward0",
            Trunc => "TruncBackward0",
            Frac => "FracBackward0",
            Reciprocal => "ReciprocalBackward0",
            Square => "PowBackward0",
            Erf => "ErfBackward0",
            Erfc => "ErfcBackward0",
            Erfinv => "ErfinvBackward0",
        }
    }
}

fn float_kernel<F: Float + Elem + FastExp>(op: UnaryOp, t: &Tensor) -> Vec<F> {
    use UnaryOp::*;
    let c = |v: f64| F::from(v).unwrap_or_else(F::nan);
    match op {
        Neg => cpu::map::<F, F>(t, |x| -x),
        Abs => cpu::map::<F, F>(t, |x| x.abs()),
        Sign => cpu::map::<F, F>(t, |x| {
            if x > F::zero() {
                F::one()
            } else if x < F::zero() {
                -F::one()
            } else {
                x * F::zero()
            }
        }),
        Exp => cpu::map::<F, F>(t, |x| x.fast_exp()),
        Exp2 => cpu::map::<F, F>(t, |x| x.exp2()),
        Expm1 => cpu::map::<F, F>(t, |x| x.exp_m1()),
        Log => cpu::map::<F, F>(t, |x| x.ln()),
        Log2 => cpu::map::<F, F>(t, |x| x.log2()),
        Log10 => cpu::map::<F, F>(t, |x| x.log10()),
        Log1p => cpu::map::<F, F>(t, |x| x.ln_1p()),
        Sqrt => cpu::map::<F, F>(t, |x| x.sqrt()),
        Rsqrt => cpu::map::<F, F>(t, |x| x.sqrt().recip()),
        Sin => cpu::map::<F, F>(t, |x| x.sin()),
        Cos => cpu::map::<F, F>(t, |x| x.cos()),
        Tan => cpu::map::<F, F>(t, |x| x.tan()),
        Asin => cpu::map::<F, F>(t, |x| x.asin()),
        Acos => cpu::map::<F, F>(t, |x| x.acos()),
        Atan => cpu::map::<F, F>(t, |x| x.atan()),
        Sinh => cpu::map::<F, F>(t, |x| x.sinh()),
        Cosh => cpu::map::<F, F>(t, |x| x.cosh()),
        Tanh => cpu::map::<F, F>(t, |x| x.tanh()),
        Asinh => cpu::map::<F, F>(t, |x| x.asinh()),
        Acosh => cpu::map::<F, F>(t, |x| x.acosh()),
        Atanh => cpu::map::<F, F>(t, |x| x.atanh()),
        Sigmoid => cpu::map::<F, F>(t, |x| {
            // Stable in both tails.
            if x >= F::zero() {
                F::one() / (F::one() + (-x).fast_exp())
            } else {
                let e = x.fast_exp();
                e / (F::one() + e)
            }
        }),
        Relu => cpu::map::<F, F>(t, |x| {
            if x > F::zero() || x.is_nan() {
                x
            } else {
                F::zero()
            }
        }),
        Floor => cpu::map::<F, F>(t, |x| x.floor()),
        Ceil => cpu::map::<F, F>(t, |x| x.ceil()),
        // Round half to even, like torch.round.
        Round => cpu::map::<F, F>(t, |x| c(Elem::to_f64(x).round_ties_even())),
        Trunc => cpu::map::<F, F>(t, |x| x.trunc()),
        Frac => cpu::map::<F, F>(t, |x| x - x.trunc()),
        Reciprocal => cpu::map::<F, F>(t, |x| x.recip()),
        Square => cpu::map::<F, F>(t, |x| x * x),
        Erf => cpu::map::<F, F>(t, |x| c(libm::erf(Elem::to_f64(x)))),
        Erfc => cpu::map::<F, F>(t, |x| c(libm::erfc(Elem::to_f64(x)))),
        Erfinv => cpu::map::<F, F>(t, |x| c(erfinv(Elem::to_f64(x)))),
    }
}

fn int_kernel<T: Arith>(op: UnaryOp, t: &Tensor) -> Vec<T> {
    use UnaryOp::*;
    match op {
        Neg => cpu::map::<T, T>(t, T::neg),
        Abs => cpu::map::<T, T>(t, T::abs),
        Sign => cpu::map::<T, T>(t, |x| {
            let v = x.to_i64();
            T::from_i64(v.signum())
        }),
        Relu => cpu::map::<T, T>(t, |x| if x.to_i64() > 0 { x } else { T::default() }),
        Square => cpu::map::<T, T>(t, |x| T::mul(x, x)),
        _ => cpu::map::<T, T>(t, |x| x),
    }
}

/// Inverse error function (Giles' approximation refined by two Newton steps).
fn erfinv(y: f64) -> f64 {
    if !(-1.0..=1.0).contains(&y) {
        return f64::NAN;
    }
    if y == 1.0 {
        return f64::INFINITY;
    }
    if y == -1.0 {
        return f64::NEG_INFINITY;
    }
    let w = -((1.0 - y) * (1.0 + y)).ln();
    let mut x = if w < 5.0 {
        let w = w - 2.5;
        let mut p = 2.810_226_36e-08;
        for c in [
            3.432_739_39e-07,
            -3.523_387_7e-06,
            -4.391_506_54e-06,
            0.000_218_580_87,
            -0.001_253_725_03,
            -0.004_177_681_64,
            0.246_640_727,
            1.501_409_41,
        ] {
            p = c + p * w;
        }
        p * y
    } else {
        let w = w.sqrt() - 3.0;
        let mut p = -0.000_200_214_257;
        for c in [
            0.000_100_950_558,
            0.001_349_343_22,
            -0.003_673_428_44,
            0.005_739_507_73,
            -0.007_622_461_3,
            0.009_438_870_47,
            1.001_674_06,
            2.832_976_82,
        ] {
            p = c + p * w;
        }
        p * y
    };
    for _ in 0..2 {
        let err = libm::erf(x) - y;
        x -= err / (2.0 / std::f64::consts::PI.sqrt() * (-x * x).exp());
    }
    x
}

fn unary_raw(op: UnaryOp, t: &Tensor) -> Result<Tensor> {
    let dt = t.dtype();
    if dt == DType::Bool && matches!(op, UnaryOp::Neg) {
        return Err(Error::Runtime(
            "Negation, the `-` operator, on a bool tensor is not supported. If you are trying to invert a mask, use the `~` or `logical_not()` operator instead.".into(),
        ));
    }
    if !dt.is_float() && op.keeps_int() {
        return Ok(crate::with_dtype!(dt, T, {
            Tensor::from_vec_unchecked(int_kernel::<T>(op, t), t.shape())
        }));
    }
    // Half types are computed in float32 and rounded back, as PyTorch's CPU kernels do.
    let out_dt = if dt.is_float() { dt } else { DType::F32 };
    if dt == DType::F64 {
        return Ok(Tensor::from_vec_unchecked(
            float_kernel::<f64>(op, t),
            t.shape(),
        ));
    }
    let src = t.cast_raw_if(DType::F32);
    if op == UnaryOp::Exp {
        // SIMD exp over contiguous chunks, split across threads when large.
        let mut v = cpu::gather_contiguous::<f32>(&src);
        let n = v.len();
        cpu::for_each_chunk(&mut v, 1 << 14, n, |_, c| {
            crate::cpu::fastmath::exp_inplace(c)
        });
        return Ok(Tensor::from_vec_unchecked(v, t.shape()).cast_raw_if(out_dt));
    }
    Ok(Tensor::from_vec_unchecked(float_kernel::<f32>(op, &src), t.shape()).cast_raw_if(out_dt))
}

/// The local derivative of `op` at `x`, where `y = op(x)`.
fn derivative(op: UnaryOp, x: &Tensor, y: &Tensor) -> Result<Option<Tensor>> {
    use UnaryOp::*;
    let one = 1.0;
    Ok(Some(match op {
        Neg => return Ok(Some(Tensor::scalar_of(-1.0, x.dtype()))),
        Sign => return Ok(None),
        Abs => x.sign()?,
        Exp => y.clone(),
        Exp2 => y.mul_scalar(std::f64::consts::LN_2)?,
        Expm1 => y.add_scalar(one)?,
        Log => x.reciprocal()?,
        Log2 => x.mul_scalar(std::f64::consts::LN_2)?.reciprocal()?,
        Log10 => x.mul_scalar(std::f64::consts::LN_10)?.reciprocal()?,
        Log1p => x.add_scalar(one)?.reciprocal()?,
        Sqrt => y.mul_scalar(2.0)?.reciprocal()?,
        Rsqrt => y.pow_scalar(3.0)?.mul_scalar(-0.5)?,
        Sin => x.cos()?,
        Cos => x.sin()?.neg()?,
        Tan => y.mul(y)?.add_scalar(one)?,
        Asin => x.mul(x)?.rsub_scalar(one)?.rsqrt()?,
        Acos => x.mul(x)?.rsub_scalar(one)?.rsqrt()?.neg()?,
        Atan => x.mul(x)?.add_scalar(one)?.reciprocal()?,
        Sinh => x.cosh()?,
        Cosh => x.sinh()?,
        Tanh => y.mul(y)?.rsub_scalar(one)?,
        Asinh => x.mul(x)?.add_scalar(one)?.rsqrt()?,
        Acosh => x.mul(x)?.sub_scalar(one)?.rsqrt()?,
        Atanh => x.mul(x)?.rsub_scalar(one)?.reciprocal()?,
        Sigmoid => y.mul(&y.rsub_scalar(one)?)?,
        Relu => y.gt_scalar(0.0)?.to_dtype(y.dtype())?,
        Floor | Ceil | Round | Trunc => return Ok(None),
        Frac => return Ok(Some(Tensor::scalar_of(1.0, x.dtype()))),
        Reciprocal => y.mul(y)?.neg()?,
        Square => x.mul_scalar(2.0)?,
        Erf => x
            .mul(x)?
            .neg()?
            .exp()?
            .mul_scalar(std::f64::consts::FRAC_2_SQRT_PI)?,
        Erfc => x
            .mul(x)?
            .neg()?
            .exp()?
            .mul_scalar(-std::f64::consts::FRAC_2_SQRT_PI)?,
        Erfinv => y
            .mul(y)?
            .exp()?
            .mul_scalar(std::f64::consts::PI.sqrt() / 2.0)?,
    }))
}

/// `op(t)` with autograd.
pub fn unary(op: UnaryOp, t: &Tensor) -> Result<Tensor> {
    let out = unary_raw(op, t)?;
    if !autograd::needs_grad(&[t]) || !out.dtype().is_float() {
        return Ok(out);
    }
    // Ops whose derivative is a function of the output (exp, tanh, sigmoid, relu, ...) read the
    // saved output, as PyTorch does, so that an in-place variant (`y.exp_()`) stays
    // differentiable although it overwrites its input.
    let uses_input = op.derivative_uses_input();
    let x = SavedTensor::new(t);
    let y = (!uses_input).then(|| SavedTensor::new(&out.detach()));
    autograd::record(&out, op.backward_name(), &[t], move |g, _| {
        let d = match &y {
            None => {
                let x = x.get()?;
                derivative(op, x, x)?
            }
            // With create_graph the output is recomputed so that its own graph is recorded.
            Some(_) if is_grad_enabled() => {
                let x = x.get()?;
                derivative(op, x, &unary(op, x)?)?
            }
            Some(y) => {
                let y = y.get()?;
                derivative(op, y, y)?
            }
        };
        Ok(vec![match d {
            Some(d) => Some(g.mul(&d)?),
            None => Some(g.mul_scalar(0.0)?),
        }])
    });
    Ok(out)
}

macro_rules! unary_methods {
    ($($name:ident => $op:ident;)*) => {
        impl Tensor {
            $(pub fn $name(&self) -> Result<Tensor> { unary(UnaryOp::$op, self) })*
        }
    };
}

unary_methods! {
    neg => Neg; abs => Abs; sign => Sign; exp => Exp; exp2 => Exp2; expm1 => Expm1;
    log => Log; log2 => Log2; log10 => Log10; log1p => Log1p; sqrt => Sqrt; rsqrt => Rsqrt;
    sin => Sin; cos => Cos; tan => Tan; asin => Asin; acos => Acos; atan => Atan;
    sinh => Sinh; cosh => Cosh; tanh => Tanh; asinh => Asinh; acosh => Acosh; atanh => Atanh;
    sigmoid => Sigmoid; relu => Relu; floor => Floor; ceil => Ceil; round => Round;
    trunc => Trunc; frac => Frac; reciprocal => Reciprocal; square => Square; erf => Erf;
    erfc => Erfc; erfinv => Erfinv;
}

impl Tensor {
    /// `s - self`.
    pub fn rsub_scalar(&self, s: impl Into<Scalar>) -> Result<Tensor> {
        super::binary::binary(super::binary::BinaryOp::Sub, Arg::S(s.into()), Arg::T(self))
    }

    /// `s / self`, `s ** self`, … for scalars on the left.
    pub fn rbinary_scalar(&self, op: super::binary::BinaryOp, s: Scalar) -> Result<Tensor> {
        super::binary::binary(op, Arg::S(s), Arg::T(self))
    }

    /// `round(decimals=n)`.
    pub fn round_decimals(&self, decimals: i64) -> Result<Tensor> {
        if decimals == 0 {
            return self.round();
        }
        let f = 10f64.powi(decimals as i32);
        self.mul_scalar(f)?.round()?.div_scalar(f)
    }

    pub fn logical_not(&self) -> Result<Tensor> {
        Ok(crate::with_dtype!(self.dtype(), T, {
            Tensor::from_vec_unchecked(cpu::map::<T, bool>(self, |x| !x.is_nonzero()), self.shape())
        }))
    }

    pub fn bitwise_not(&self) -> Result<Tensor> {
        let dt = self.dtype();
        if dt.is_float() {
            return Err(Error::Runtime(format!(
                "\"bitwise_not_cpu\" not implemented for '{}'",
                super::binary::pretty_dtype(dt)
            )));
        }
        if dt == DType::Bool {
            return self.logical_not();
        }
        Ok(crate::with_dtype!(dt, T, {
            Tensor::from_vec_unchecked(
                cpu::map::<T, T>(self, |x| T::from_i64(!x.to_i64())),
                self.shape(),
            )
        }))
    }

    fn float_predicate(&self, f: impl Fn(f64) -> bool + Sync + Send) -> Tensor {
        crate::with_dtype!(self.dtype(), T, {
            Tensor::from_vec_unchecked(cpu::map::<T, bool>(self, |x| f(x.to_f64())), self.shape())
        })
    }
    pub fn isnan(&self) -> Result<Tensor> {
        Ok(self.float_predicate(f64::is_nan))
    }
    pub fn isinf(&self) -> Result<Tensor> {
        Ok(self.float_predicate(f64::is_infinite))
    }
    pub fn isfinite(&self) -> Result<Tensor> {
        Ok(self.float_predicate(f64::is_finite))
    }
    pub fn signbit(&self) -> Result<Tensor> {
        Ok(self.float_predicate(|x| x.is_sign_negative()))
    }

    /// `nan_to_num(nan, posinf, neginf)`; infinities default to the dtype's extremes.
    pub fn nan_to_num(&self, nan: f64, posinf: Option<f64>, neginf: Option<f64>) -> Result<Tensor> {
        let dt = self.dtype();
        if !dt.is_float() {
            return self.deep_clone();
        }
        let (maxv, minv) = match dt {
            DType::F16 => (65504.0, -65504.0),
            DType::BF16 => (3.389_531_389_251_535_5e38, -3.389_531_389_251_535_5e38),
            DType::F32 => (f32::MAX as f64, f32::MIN as f64),
            _ => (f64::MAX, f64::MIN),
        };
        let (p, n) = (posinf.unwrap_or(maxv), neginf.unwrap_or(minv));
        let out = crate::with_dtype!(dt, T, {
            Tensor::from_vec_unchecked(
                cpu::map::<T, T>(self, |x| {
                    let v = x.to_f64();
                    if v.is_nan() {
                        T::from_f64(nan)
                    } else if v == f64::INFINITY {
                        T::from_f64(p)
                    } else if v == f64::NEG_INFINITY {
                        T::from_f64(n)
                    } else {
                        x
                    }
                }),
                self.shape(),
            )
        });
        let mask = self.isfinite()?;
        Ok(autograd::maybe_record(
            out,
            "NanToNumBackward0",
            &[self],
            move || Arc::new(move |g, _| Ok(vec![Some(g.mul(&mask.to_dtype(g.dtype())?)?)])),
        ))
    }

    /// `clamp(min, max)` with scalar bounds; gradient passes where min < x < max (PyTorch's
    /// rule: zero at the bounds themselves).
    #[allow(clippy::bool_comparison)]
    pub fn clamp(&self, min: Option<Scalar>, max: Option<Scalar>) -> Result<Tensor> {
        if min.is_none() && max.is_none() {
            return Err(Error::Runtime(
                "torch.clamp: At least one of 'min' or 'max' must not be None".into(),
            ));
        }
        let mut dt = self.dtype();
        for s in [min, max].into_iter().flatten() {
            dt = crate::dtype::result_type(&[
                crate::dtype::Operand::Dim(dt),
                crate::dtype::Operand::Scalar(s.dtype()),
            ]);
        }
        let src = if dt == self.dtype() {
            self.clone()
        } else {
            self.cast_raw(dt)
        };
        let out = crate::with_dtype!(dt, T, {
            let lo = min.map(|s| s.to_elem::<T>());
            let hi = max.map(|s| s.to_elem::<T>());
            Tensor::from_vec_unchecked(
                cpu::map::<T, T>(&src, |x| {
                    if x.to_f64().is_nan() {
                        return x;
                    }
                    let mut v = x;
                    if let Some(l) = lo {
                        if v < l {
                            v = l;
                        }
                    }
                    if let Some(h) = hi {
                        if v > h {
                            v = h;
                        }
                    }
                    v
                }),
                self.shape(),
            )
        });
        if !autograd::needs_grad(&[self]) || !dt.is_float() {
            return Ok(out);
        }
        let x = SavedTensor::new(self);
        autograd::record(&out, "ClampBackward1", &[self], move |g, _| {
            let x = x.get()?;
            let mut mask = Tensor::ones(x.shape(), DType::Bool)?;
            if let Some(l) = min {
                mask = mask.logical_and(&x.gt_scalar(l)?)?;
            }
            if let Some(h) = max {
                mask = mask.logical_and(&x.lt_scalar(h)?)?;
            }
            Ok(vec![Some(g.mul(&mask.to_dtype(g.dtype())?)?)])
        });
        Ok(out)
    }

    /// `clamp` with tensor bounds (broadcasting), composed so gradients reach the bounds too.
    pub fn clamp_tensor(&self, min: Option<&Tensor>, max: Option<&Tensor>) -> Result<Tensor> {
        if min.is_none() && max.is_none() {
            return Err(Error::Runtime(
                "torch.clamp: At least one of 'min' or 'max' must not be None".into(),
            ));
        }
        // maximum/minimum split the gradient at ties, as PyTorch's tensor-bound clamp does.
        let mut out = self.clone();
        if let Some(lo) = min {
            out = out.maximum(lo)?;
        }
        if let Some(hi) = max {
            out = out.minimum(hi)?;
        }
        Ok(out)
    }
}
