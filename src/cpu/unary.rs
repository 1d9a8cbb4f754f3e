//! CPU kernels of one tensor: math functions (`UnaryOp`) and maps (`MapOp`). Half types are
//! computed in float32 and rounded back per element, as PyTorch's CPU kernels do.

use super::arith::Arith;
use super::fastmath::FastExp;
use super::{for_each_chunk, gather, map_elems};
use crate::backend::{MapOp, Strided, UnaryOp};
use crate::dtype::{DType, Elem};
use crate::error::{Error, Result};
use crate::storage::Storage;
use half::{bf16, f16};
use num_traits::{Float, One, Zero};

/// A stored float type and the type it is computed in.
trait Widen: Elem {
    type F: Float + Elem + FastExp + Send + Sync;
    fn widen(self) -> Self::F;
    fn narrow(v: Self::F) -> Self;
}

impl Widen for f64 {
    type F = f64;
    #[inline(always)]
    fn widen(self) -> f64 {
        self
    }
    #[inline(always)]
    fn narrow(v: f64) -> f64 {
        v
    }
}
impl Widen for f32 {
    type F = f32;
    #[inline(always)]
    fn widen(self) -> f32 {
        self
    }
    #[inline(always)]
    fn narrow(v: f32) -> f32 {
        v
    }
}
impl Widen for f16 {
    type F = f32;
    #[inline(always)]
    fn widen(self) -> f32 {
        self.to_f32()
    }
    #[inline(always)]
    fn narrow(v: f32) -> f16 {
        f16::from_f32(v)
    }
}
impl Widen for bf16 {
    type F = f32;
    #[inline(always)]
    fn widen(self) -> f32 {
        self.to_f32()
    }
    #[inline(always)]
    fn narrow(v: f32) -> bf16 {
        bf16::from_f32(v)
    }
}

/// `op(src)` for a float dtype.
fn float_kernel<W: Widen>(op: UnaryOp, src: Strided) -> Result<Vec<W>> {
    use UnaryOp::*;
    let c = |v: f64| <W::F as num_traits::NumCast>::from(v).unwrap_or_else(W::F::nan);
    let zero = W::F::zero();
    let one = W::F::one();
    macro_rules! m {
        (|$x:ident| $e:expr) => {
            map_elems::<W, W>(src, move |v| {
                let $x = v.widen();
                W::narrow($e)
            })
        };
    }
    match op {
        Neg => m!(|x| -x),
        Abs => m!(|x| x.abs()),
        Sign => m!(|x| {
            if x > zero {
                one
            } else if x < zero {
                -one
            } else {
                // Keeps ±0 and NaN.
                x * zero
            }
        }),
        Exp => m!(|x| x.fast_exp()),
        Exp2 => m!(|x| x.exp2()),
        Expm1 => m!(|x| x.exp_m1()),
        Log => m!(|x| x.ln()),
        Log2 => m!(|x| x.log2()),
        Log10 => m!(|x| x.log10()),
        Log1p => m!(|x| x.ln_1p()),
        Sqrt => m!(|x| x.sqrt()),
        Rsqrt => m!(|x| x.sqrt().recip()),
        Sin => m!(|x| x.sin()),
        Cos => m!(|x| x.cos()),
        Tan => m!(|x| x.tan()),
        Asin => m!(|x| x.asin()),
        Acos => m!(|x| x.acos()),
        Atan => m!(|x| x.atan()),
        Sinh => m!(|x| x.sinh()),
        Cosh => m!(|x| x.cosh()),
        Tanh => m!(|x| x.tanh()),
        Asinh => m!(|x| x.asinh()),
        Acosh => m!(|x| x.acosh()),
        Atanh => m!(|x| x.atanh()),
        // Stable in both tails.
        Sigmoid => m!(|x| {
            if x >= zero {
                one / (one + (-x).fast_exp())
            } else {
                let e = x.fast_exp();
                e / (one + e)
            }
        }),
        Relu => m!(|x| if x > zero || x.is_nan() { x } else { zero }),
        Floor => m!(|x| x.floor()),
        Ceil => m!(|x| x.ceil()),
        // Round half to even, like torch.round.
        Round => m!(|x| c(Elem::to_f64(x).round_ties_even())),
        Trunc => m!(|x| x.trunc()),
        Frac => m!(|x| x - x.trunc()),
        Reciprocal => m!(|x| x.recip()),
        Square => m!(|x| x * x),
        Erf => m!(|x| c(libm::erf(Elem::to_f64(x)))),
        Erfc => m!(|x| c(libm::erfc(Elem::to_f64(x)))),
        Erfinv => m!(|x| c(erfinv(Elem::to_f64(x)))),
        Gelu => m!(|x| c(gelu_f64(Elem::to_f64(x)))),
        GeluGrad => m!(|x| c(gelu_grad_f64(Elem::to_f64(x)))),
        GeluTanh => m!(|x| c(gelu_tanh_f64(Elem::to_f64(x)))),
        GeluTanhGrad => m!(|x| c(gelu_tanh_grad_f64(Elem::to_f64(x)))),
    }
}

/// `op(src)` for integer and bool dtypes (only the ops that keep the dtype).
fn int_kernel<T: Arith>(op: UnaryOp, src: Strided) -> Result<Vec<T>> {
    use UnaryOp::*;
    match op {
        Neg => map_elems::<T, T>(src, T::neg),
        Abs => map_elems::<T, T>(src, T::abs),
        Sign => map_elems::<T, T>(src, |x| T::from_i64(x.to_i64().signum())),
        Relu => map_elems::<T, T>(src, |x| if x.to_i64() > 0 { x } else { T::default() }),
        Square => map_elems::<T, T>(src, |x| T::mul(x, x)),
        Floor | Ceil | Round | Trunc => map_elems::<T, T>(src, |x| x),
        _ => Err(Error::Runtime(format!(
            "internal error: unary {op:?} on {} (expects a float input)",
            T::DTYPE.name()
        ))),
    }
}

/// The float32 functions with vectorised kernels (`vmath`): contiguous input is mapped
/// straight into the output, strided input is gathered first; chunks run in parallel.
fn float32_simd(op: UnaryOp, src: Strided) -> Result<Option<Vec<f32>>> {
    use super::fastmath::exp_with;
    use super::vmath::*;
    use UnaryOp::*;
    if !matches!(
        op,
        Exp | Tanh | Sigmoid | Erf | Erfc | Gelu | GeluTanh | GeluGrad | GeluTanhGrad
    ) {
        return Ok(None);
    }
    const CHUNK: usize = 1 << 14;
    let run = |x: &[f32], o: &mut [f32]| match op {
        Exp => map_f32(x, o, exp_with::<Fused>, exp_with::<Split>),
        Tanh => map_f32(x, o, tanh_f32::<Fused>, tanh_f32::<Split>),
        Sigmoid => map_f32(x, o, sigmoid_f32::<Fused>, sigmoid_f32::<Split>),
        Erf => map_f32(x, o, erf_f32::<Fused>, erf_f32::<Split>),
        Erfc => map_f32(x, o, erfc_f32::<Fused>, erfc_f32::<Split>),
        Gelu => map_f32(x, o, gelu_f32::<Fused>, gelu_f32::<Split>),
        GeluTanh => map_f32(x, o, gelu_tanh_f32::<Fused>, gelu_tanh_f32::<Split>),
        GeluGrad => map_f32(x, o, gelu_grad_f32::<Fused>, gelu_grad_f32::<Split>),
        _ => map_f32(
            x,
            o,
            gelu_tanh_grad_f32::<Fused>,
            gelu_tanh_grad_f32::<Split>,
        ),
    };
    let n = src.numel();
    let gathered;
    let x: &[f32] = match super::contiguous_elems::<f32>(src)? {
        Some(c) => c,
        None => {
            gathered = gather::<f32>(src)?;
            &gathered
        }
    };
    let mut out = super::try_output::<f32>(n)?;
    for_each_chunk(&mut out, CHUNK, n, |i, o| {
        run(&x[i * CHUNK..i * CHUNK + o.len()], o)
    });
    Ok(Some(out))
}

pub(super) fn unary(op: UnaryOp, src: Strided) -> Result<Storage> {
    let dt = src.dtype();
    if dt == DType::F32 {
        if let Some(v) = float32_simd(op, src)? {
            return Ok(Storage::from_vec(v));
        }
    }
    Ok(match dt {
        DType::F64 => Storage::from_vec(float_kernel::<f64>(op, src)?),
        DType::F32 => Storage::from_vec(float_kernel::<f32>(op, src)?),
        DType::F16 => Storage::from_vec(float_kernel::<f16>(op, src)?),
        DType::BF16 => Storage::from_vec(float_kernel::<bf16>(op, src)?),
        _ => crate::with_dtype!(dt, T, Storage::from_vec(int_kernel::<T>(op, src)?)),
    })
}

// (`v < l` on bool compares as PyTorch does: false < true.)
#[allow(clippy::bool_comparison)]
pub(super) fn map(op: MapOp, src: Strided) -> Result<Storage> {
    let dt = src.dtype();
    crate::with_dtype!(dt, T, {
        let pred = |f: fn(T) -> bool| -> Result<Storage> {
            Ok(Storage::from_vec(map_elems::<T, bool>(src, f)?))
        };
        match op {
            MapOp::LogicalNot => pred(|x| !x.is_nonzero()),
            MapOp::IsNan => pred(|x| x.to_f64().is_nan()),
            MapOp::IsInf => pred(|x| x.to_f64().is_infinite()),
            MapOp::IsFinite => pred(|x| x.to_f64().is_finite()),
            MapOp::SignBit => pred(|x| x.to_f64().is_sign_negative()),
            MapOp::BitwiseNot => {
                if dt.is_float() {
                    return Err(Error::Runtime(format!(
                        "internal error: bitwise_not on {}",
                        dt.name()
                    )));
                }
                Ok(Storage::from_vec(map_elems::<T, T>(src, |x| {
                    if T::DTYPE == DType::Bool {
                        T::from_bool(!x.is_nonzero())
                    } else {
                        T::from_i64(!x.to_i64())
                    }
                })?))
            }
            MapOp::NanToNum {
                nan,
                posinf,
                neginf,
            } => {
                let (n, p, m) = (T::from_f64(nan), T::from_f64(posinf), T::from_f64(neginf));
                Ok(Storage::from_vec(map_elems::<T, T>(src, move |x| {
                    let v = x.to_f64();
                    if v.is_nan() {
                        n
                    } else if v == f64::INFINITY {
                        p
                    } else if v == f64::NEG_INFINITY {
                        m
                    } else {
                        x
                    }
                })?))
            }
            MapOp::Clamp { min, max } => {
                let lo = min.map(|s| s.to_elem::<T>());
                let hi = max.map(|s| s.to_elem::<T>());
                Ok(Storage::from_vec(map_elems::<T, T>(src, move |x| {
                    // NaN compares false both ways and passes through.
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
                })?))
            }
        }
    })
}

/// GELU and its derivative in f64 (the f32 kernels are in `vmath`).
fn gelu_f64(x: f64) -> f64 {
    0.5 * x * libm::erfc(-x * std::f64::consts::FRAC_1_SQRT_2)
}
fn gelu_grad_f64(x: f64) -> f64 {
    let pdf = (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
    0.5 * libm::erfc(-x * std::f64::consts::FRAC_1_SQRT_2) + x * pdf
}
const GELU_K: f64 = 0.797_884_560_802_865_4; // sqrt(2/π)
fn gelu_tanh_sigma(x: f64) -> f64 {
    1.0 / (1.0 + (-2.0 * GELU_K * (x + 0.044715 * x * x * x)).exp())
}
fn gelu_tanh_f64(x: f64) -> f64 {
    x * gelu_tanh_sigma(x)
}
fn gelu_tanh_grad_f64(x: f64) -> f64 {
    let s = gelu_tanh_sigma(x);
    s + x * s * (1.0 - s) * 2.0 * GELU_K * (1.0 + 3.0 * 0.044715 * x * x)
}

/// Inverse error function (Giles' approximation refined by Newton steps).
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
    let k = 2.0 / std::f64::consts::PI.sqrt();
    if y.abs() <= 0.5 {
        for _ in 0..2 {
            x -= (libm::erf(x) - y) / (k * (-x * x).exp());
        }
        return x;
    }
    // Near ±1, erf(x) - y cancels to nothing; solve ln erfc(|x|) = ln(1 - |y|) instead (1 - |y|
    // is exact here), which converges from the coarse far-tail start in four steps.
    let (t, mut a) = (1.0 - y.abs(), x.abs());
    for _ in 0..4 {
        let e = libm::erfc(a);
        a += (e.ln() - t.ln()) * e / (k * (-a * a).exp());
    }
    a.copysign(y)
}

#[cfg(test)]
mod tests {
    #[test]
    fn erfinv_is_accurate_up_to_the_tails() {
        // (y, erfinv(y)) to double precision (bisection on erf / erfc)
        for (y, want) in [
            (0.5, 0.476_936_276_204_469_9),
            (-0.9, -1.163_087_153_676_674_3),
            (1.0 - 1e-12, 5.042_031_898_572_696),
            (1.0 - f64::EPSILON / 2.0, 5.863_584_748_755_168),
        ] {
            let got = super::erfinv(y);
            assert!(
                (got - want).abs() <= 4e-16 * want.abs(),
                "erfinv({y}) = {got}, want {want}"
            );
        }
    }
}
