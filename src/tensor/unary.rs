//! Elementwise math functions. Integer inputs of float-only functions are computed in
//! float32, like PyTorch. Gradient rules sit next to the list of ops.

use super::binary::{scalar_value, Arg};
use super::creation::Scalar;
use super::Tensor;
use crate::autograd::{self, is_grad_enabled, SavedTensor, SavedValue};
pub use crate::backend::{MapOp, UnaryOp};
use crate::dtype::DType;
use crate::error::{Error, Result};
use std::sync::Arc;

impl UnaryOp {
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
            Gelu | GeluTanh => "GeluBackward0",
            GeluGrad | GeluTanhGrad => "GeluBackwardBackward0",
        }
    }
}

fn unary_raw(op: UnaryOp, t: &Tensor) -> Result<Tensor> {
    let dt = t.dtype();
    if dt == DType::Bool && matches!(op, UnaryOp::Neg) {
        return Err(Error::Runtime(
            "Negation, the `-` operator, on a bool tensor is not supported. If you are trying to invert a mask, use the `~` or `logical_not()` operator instead.".into(),
        ));
    }
    // Integer inputs of float-only functions are computed in float32, like PyTorch.
    let src = if dt.is_float() || op.keeps_int() {
        t.clone()
    } else {
        t.to_dtype_raw(crate::dtype::default_float())?
    };
    let out = t.backend()?.unary(op, src.strided())?;
    Tensor::from_kernel(out, t.shape())
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
        // With create_graph the derivative is composed of differentiable ops; otherwise
        // one fused kernel.
        Gelu if is_grad_enabled() => gelu_derivative(x, false)?,
        GeluTanh if is_grad_enabled() => gelu_derivative(x, true)?,
        Gelu => unary(GeluGrad, x)?,
        GeluTanh => unary(GeluTanhGrad, x)?,
        // The gradient kernels only run with grad mode off (see above), so they are never
        // recorded and need no derivative of their own.
        GeluGrad | GeluTanhGrad => {
            return Err(Error::Runtime(
                "internal error: a GELU gradient kernel was recorded by autograd".into(),
            ))
        }
    }))
}

/// GELU's derivative from differentiable ops: Φ(x) + x·φ(x), or for the tanh form
/// σ + x·σ(1 - σ)·2u' with σ = σ(2u), u = k(x + a·x³).
fn gelu_derivative(x: &Tensor, tanh: bool) -> Result<Tensor> {
    use std::f64::consts::{FRAC_1_SQRT_2, PI};
    if tanh {
        let (k, a) = ((2.0 / PI).sqrt(), 0.044715);
        let x2 = x.mul(x)?;
        let s = x2
            .mul_scalar(a)?
            .add_scalar(1.0)?
            .mul(x)?
            .mul_scalar(2.0 * k)?
            .sigmoid()?;
        let du = x2
            .mul_scalar(3.0 * a)?
            .add_scalar(1.0)?
            .mul_scalar(2.0 * k)?;
        return s.add(&x.mul(&s)?.mul(&s.rsub_scalar(1.0)?)?.mul(&du)?);
    }
    let cdf = x.mul_scalar(-FRAC_1_SQRT_2)?.erfc()?.mul_scalar(0.5)?;
    let pdf = x
        .mul(x)?
        .mul_scalar(-0.5)?
        .exp()?
        .mul_scalar(1.0 / (2.0 * PI).sqrt())?;
    cdf.add(&x.mul(&pdf)?)
}

/// The profiler's `aten::`-style name of a unary op.
fn profile_name(op: UnaryOp) -> String {
    match op {
        UnaryOp::Gelu | UnaryOp::GeluTanh => "aten::gelu".into(),
        UnaryOp::GeluGrad | UnaryOp::GeluTanhGrad => "aten::gelu_backward".into(),
        _ => format!("aten::{op:?}").to_lowercase(),
    }
}

/// The values PyTorch reports as saved by the node of `op` (the same tensors this rule holds).
fn unary_saved(op: UnaryOp, x: &Tensor, y: &Tensor) -> autograd::SavedList {
    use UnaryOp::*;
    match op {
        Neg | Sign | Floor | Ceil | Round | Trunc | Frac => Vec::new(),
        Square => vec![
            ("exponent", SavedValue::Int(2)),
            ("self", SavedValue::tensor(x)),
        ],
        Gelu | GeluTanh => vec![
            (
                "approximate",
                SavedValue::Str(if op == Gelu { "none" } else { "tanh" }),
            ),
            ("self", SavedValue::tensor(x)),
        ],
        _ if op.derivative_uses_input() => vec![("self", SavedValue::tensor(x))],
        _ => vec![("result", SavedValue::tensor(&y.detach()))],
    }
}

/// `op(t)` with autograd.
pub fn unary(op: UnaryOp, t: &Tensor) -> Result<Tensor> {
    if crate::amp::is_active() {
        if let Some(c) = crate::amp::unary_name(op).map(|n| crate::amp::apply(n, &[t])) {
            if let Some(c) = c? {
                return unary(op, c.arg(0));
            }
        }
    }
    let _prof = crate::profiler::scope(
        crate::profiler::EventKind::Op,
        || profile_name(op).into(),
        || vec![t.shape().to_vec()],
    );
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
        if let (UnaryOp::Relu, Some(y)) = (op, &y) {
            // PyTorch's threshold_backward: 0 where the output is <= 0, the gradient
            // elsewhere (also where it is NaN or infinite, which a product with a 0/1 mask
            // would turn into NaN). One fused pass where the backend has it and no graph of
            // the gradient is built; else a mask and a select (differentiable in `g`).
            let y = y.get()?;
            let same = g.dtype() == y.dtype() && g.shape() == y.shape();
            if !is_grad_enabled() && same && g.device() == y.device() {
                let _prof = crate::profiler::scope(
                    crate::profiler::EventKind::Op,
                    || "aten::threshold_backward".into(),
                    || vec![y.shape().to_vec(), g.shape().to_vec()],
                );
                if let Some(gx) = y
                    .backend()?
                    .threshold_backward(y.strided(), g.strided(), 0.0)?
                {
                    return Ok(vec![Some(Tensor::from_kernel(gx, y.shape())?)]);
                }
            }
            let off = y.le_scalar(0.0)?;
            return Ok(vec![Some(Tensor::where_args(
                &off,
                Arg::S(Scalar::from(0.0)),
                Arg::T(g),
            )?)]);
        }
        if let (UnaryOp::Sigmoid | UnaryOp::Tanh, Some(y)) = (op, &y) {
            // PyTorch's sigmoid_backward / tanh_backward: one fused pass where the backend
            // has it and no graph of the gradient is built.
            let y = y.get()?;
            let same = g.dtype() == y.dtype() && g.shape() == y.shape();
            if !is_grad_enabled() && same && g.device() == y.device() {
                let _prof = crate::profiler::scope(
                    crate::profiler::EventKind::Op,
                    || format!("aten::{op:?}_backward").to_lowercase().into(),
                    || vec![g.shape().to_vec(), y.shape().to_vec()],
                );
                if let Some(gx) = y.backend()?.output_backward(op, y.strided(), g.strided())? {
                    return Ok(vec![Some(Tensor::from_kernel(gx, y.shape())?)]);
                }
            }
        }
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
    autograd::describe(&out, || unary_saved(op, t, &out));
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
    erfc => Erfc; erfinv => Erfinv; gelu => Gelu; gelu_tanh => GeluTanh;
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

    /// A non-differentiable map through the backend.
    fn map_raw(&self, op: MapOp) -> Result<Tensor> {
        let out = self.backend()?.map(op, self.strided())?;
        Tensor::from_kernel(out, self.shape())
    }

    pub fn logical_not(&self) -> Result<Tensor> {
        self.map_raw(MapOp::LogicalNot)
    }

    pub fn bitwise_not(&self) -> Result<Tensor> {
        let dt = self.dtype();
        if dt.is_float() {
            return Err(Error::Runtime(format!(
                "\"bitwise_not_cpu\" not implemented for '{}'",
                super::binary::pretty_dtype(dt)
            )));
        }
        self.map_raw(MapOp::BitwiseNot)
    }

    pub fn isnan(&self) -> Result<Tensor> {
        self.map_raw(MapOp::IsNan)
    }
    pub fn isinf(&self) -> Result<Tensor> {
        self.map_raw(MapOp::IsInf)
    }
    pub fn isfinite(&self) -> Result<Tensor> {
        self.map_raw(MapOp::IsFinite)
    }
    pub fn signbit(&self) -> Result<Tensor> {
        self.map_raw(MapOp::SignBit)
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
        let op = MapOp::NanToNum {
            nan,
            posinf: posinf.unwrap_or(maxv),
            neginf: neginf.unwrap_or(minv),
        };
        let out = self.map_raw(op)?;
        if !autograd::needs_grad(&[self]) {
            return Ok(out);
        }
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
        // The bounds are stored in the result dtype, with PyTorch's overflow check.
        for s in [min, max].into_iter().flatten() {
            s.check_fits(dt)?;
        }
        let src = if dt == self.dtype() {
            self.clone()
        } else {
            self.to_dtype_raw(dt)?
        };
        let out = src.map_raw(MapOp::Clamp { min, max })?;
        if !autograd::needs_grad(&[self]) || !dt.is_float() {
            return Ok(out);
        }
        let x = SavedTensor::new(self);
        autograd::record(&out, "ClampBackward1", &[self], move |g, _| {
            let x = x.get()?;
            let mut mask = Tensor::full_on(x.shape(), true, DType::Bool, x.device())?;
            if let Some(l) = min {
                mask = mask.logical_and(&x.gt_scalar(l)?)?;
            }
            if let Some(h) = max {
                mask = mask.logical_and(&x.lt_scalar(h)?)?;
            }
            Ok(vec![Some(g.mul(&mask.to_dtype(g.dtype())?)?)])
        });
        autograd::describe(&out, || {
            let bound = |b: Option<Scalar>| b.map_or(SavedValue::None, scalar_value);
            vec![
                ("max", bound(max)),
                ("min", bound(min)),
                ("self", SavedValue::tensor(self)),
            ]
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
