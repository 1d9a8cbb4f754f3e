//! Branch-free float32 math that vectorises: tanh, sigmoid, erf/erfc and GELU with its
//! derivative, built on the polynomial `exp` of `fastmath`. Every function is a plain
//! expression of selects, so a loop over a slice compiles to SIMD; `map_f32` runs such a loop
//! compiled for AVX2+FMA when the CPU has it (detected once at run time).
//!
//! Accuracy (checked against f64 references in the tests): tanh and sigmoid within 4 ulp-ish
//! relative error 5e-7, erf/erfc and GELU within 1e-6 relative.

use super::fastmath::{exp_split_with, exp_with};
pub use super::fastmath::{Fused, MulAdd, Split};

const FRAC_1_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
/// 1 / sqrt(2π)
const INV_SQRT_2PI: f32 = 0.398_942_3;

#[inline(always)]
fn select(c: bool, a: f32, b: f32) -> f32 {
    if c {
        a
    } else {
        b
    }
}

/// tanh: an odd minimax polynomial near 0 (where `1 - 2/(e^2x + 1)` would cancel), that
/// expression elsewhere.
#[inline(always)]
pub fn tanh_f32<M: MulAdd>(x: f32) -> f32 {
    let a = x.abs();
    let z = x * x;
    let p = -5.704_988_7e-3_f32;
    let p = M::mul_add(p, z, 2.063_909e-2);
    let p = M::mul_add(p, z, -5.373_971_6e-2);
    let p = M::mul_add(p, z, 1.333_144_2e-1);
    let p = M::mul_add(p, z, -3.333_328e-1);
    let small = x * (1.0 + z * p);
    let big = 1.0 - 2.0 / (exp_with::<M>(2.0 * a) + 1.0);
    select(a < 0.625, small, big.copysign(x))
}

/// 1 / (1 + e^-x): exact limits 0 and 1 at ∓inf, NaN through.
#[inline(always)]
pub fn sigmoid_f32<M: MulAdd>(x: f32) -> f32 {
    1.0 / (1.0 + exp_with::<M>(-x))
}

/// `x²` as an exact head plus a small tail: the head keeps 12 significant bits of `x`, so its
/// square is exact in f32. `e^{-x²}` from the two halves keeps full relative precision where
/// rounding `x²` itself would lose it (large |x|).
#[inline(always)]
fn split_square(x: f32) -> (f32, f32) {
    let hi = f32::from_bits(x.to_bits() & 0xffff_f000);
    (hi * hi, (x - hi) * (x + hi))
}

/// erfc(z) for 0 ≤ z ≤ 10 given z² = sq.0 + sq.1, relative error about 1e-7: a
/// Chebyshev-fitted `t·exp(-z² + poly(t))`, t = 1/(1 + z/2).
#[inline(always)]
fn erfc_core<M: MulAdd>(z: f32, sq: (f32, f32)) -> f32 {
    let t = 1.0 / (1.0 + 0.5 * z);
    let p = 0.170_872_77_f32;
    let p = M::mul_add(p, t, -0.822_152_23);
    let p = M::mul_add(p, t, 1.488_515_9);
    let p = M::mul_add(p, t, -1.135_204);
    let p = M::mul_add(p, t, 0.278_868_07);
    let p = M::mul_add(p, t, -0.186_288_06);
    let p = M::mul_add(p, t, 0.096_784_18);
    let p = M::mul_add(p, t, 0.374_091_96);
    let p = M::mul_add(p, t, 1.000_023_7);
    let p = M::mul_add(p, t, -1.265_512_2);
    t * exp_split_with::<M>(-sq.0, p - sq.1)
}

/// erfc(z) for z ≥ 0 (beyond 10 it is below f32's range).
#[inline(always)]
fn erfc_pos<M: MulAdd>(z: f32) -> f32 {
    let z = z.min(10.0);
    erfc_core::<M>(z, split_square(z))
}

/// erfc(x) for every x.
#[inline(always)]
pub fn erfc_f32<M: MulAdd>(x: f32) -> f32 {
    let e = erfc_pos::<M>(x.abs());
    let v = select(x < 0.0, 2.0 - e, e);
    select(x.is_nan(), x, v)
}

/// erf(x): its Taylor series near 0 (where 1 - erfc loses relative precision), else
/// ±(1 - erfc(|x|)).
#[inline(always)]
pub fn erf_f32<M: MulAdd>(x: f32) -> f32 {
    let z = x * x;
    // 2/√π · (1 - z/3 + z²/10 - z³/42 + z⁴/216 - z⁵/1320 + z⁶/9360)
    let p = 1.205_350_2e-4_f32;
    let p = M::mul_add(p, z, -8.548_327e-4);
    let p = M::mul_add(p, z, 5.223_977_4e-3);
    let p = M::mul_add(p, z, -2.686_617_1e-2);
    let p = M::mul_add(p, z, 1.128_379_2e-1);
    let p = M::mul_add(p, z, -3.761_264e-1);
    let p = M::mul_add(p, z, std::f32::consts::FRAC_2_SQRT_PI);
    let small = p * x;
    let big = (1.0 - erfc_pos::<M>(x.abs())).copysign(x);
    let v = select(x.abs() < 0.5, small, big);
    select(x.is_nan(), x, v)
}

/// Φ(x) = erfc(-x/√2)/2 and e^{-x²/2}, both to full relative precision (the square is
/// split from `x` itself, before the scaling by 1/√2 rounds).
#[inline(always)]
fn normal_cdf_and_kernel<M: MulAdd>(x: f32) -> (f32, f32) {
    let x = x.clamp(-14.0, 14.0);
    let (a, b) = split_square(x);
    let sq = (0.5 * a, 0.5 * b);
    let e = 0.5 * erfc_core::<M>(x.abs() * FRAC_1_SQRT_2, sq);
    let cdf = select(x < 0.0, e, 1.0 - e);
    (cdf, exp_split_with::<M>(-sq.0, -sq.1))
}

/// GELU, x·Φ(x).
#[inline(always)]
pub fn gelu_f32<M: MulAdd>(x: f32) -> f32 {
    let v = x * normal_cdf_and_kernel::<M>(x).0;
    select(x.is_nan(), x, v)
}

/// dGELU/dx = Φ(x) + x·φ(x).
#[inline(always)]
pub fn gelu_grad_f32<M: MulAdd>(x: f32) -> f32 {
    let (cdf, k) = normal_cdf_and_kernel::<M>(x);
    let v = cdf + x * INV_SQRT_2PI * k;
    select(x.is_nan(), x, v)
}

const GELU_K: f32 = 0.797_884_6; // sqrt(2/π)
const GELU_A: f32 = 0.044_715;

/// GELU's tanh approximation, x/2·(1 + tanh u) written as x·σ(2u): the same function
/// without the cancellation of 1 + tanh u in the negative tail.
#[inline(always)]
pub fn gelu_tanh_f32<M: MulAdd>(x: f32) -> f32 {
    let u = GELU_K * (x + GELU_A * x * x * x);
    x * sigmoid_f32::<M>(2.0 * u)
}

/// Derivative of GELU's tanh approximation: σ + x·σ(1 - σ)·2u'.
#[inline(always)]
pub fn gelu_tanh_grad_f32<M: MulAdd>(x: f32) -> f32 {
    let x2 = x * x;
    let s = sigmoid_f32::<M>(2.0 * GELU_K * (x + GELU_A * x2 * x));
    s + x * s * (1.0 - s) * 2.0 * GELU_K * (1.0 + 3.0 * GELU_A * x2)
}

#[cfg(target_arch = "x86_64")]
pub(super) fn has_avx2_fma() -> bool {
    use std::sync::OnceLock;
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"))
}

/// Whether 512-bit code may run: the CPU has AVX-512F (with AVX2 and FMA) and
/// `RTORCH_ISA=avx2` does not keep rtorch on its AVX2 code (for comparisons).
#[cfg(target_arch = "x86_64")]
pub fn has_avx512() -> bool {
    use std::sync::OnceLock;
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| {
        has_avx2_fma()
            && is_x86_feature_detected!("avx512f")
            && !std::env::var("RTORCH_ISA").is_ok_and(|v| v.eq_ignore_ascii_case("avx2"))
    })
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn map_avx512(src: &[f32], dst: &mut [f32], f: impl Fn(f32) -> f32) {
    dst.iter_mut().zip(src).for_each(|(d, &s)| *d = f(s));
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn map_avx2(src: &[f32], dst: &mut [f32], f: impl Fn(f32) -> f32) {
    dst.iter_mut().zip(src).for_each(|(d, &s)| *d = f(s));
}

/// `dst[i] = f(src[i])` (equal lengths): `fused` (the `Fused` build of a function here) in
/// AVX-512 or AVX2 code when the CPU has it, `plain` (its `Split` build) otherwise.
#[inline(always)]
pub fn map_f32(
    src: &[f32],
    dst: &mut [f32],
    fused: impl Fn(f32) -> f32,
    plain: impl Fn(f32) -> f32,
) {
    #[cfg(target_arch = "x86_64")]
    if has_avx512() {
        // SAFETY: the CPU supports the features the function is compiled for.
        unsafe { map_avx512(src, dst, fused) };
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU supports the features the function is compiled for.
        unsafe { map_avx2(src, dst, fused) };
        return;
    }
    let _ = &fused;
    dst.iter_mut().zip(src).for_each(|(d, &s)| *d = plain(s));
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn map_inplace_avx2(buf: &mut [f32], f: impl Fn(f32) -> f32) {
    buf.iter_mut().for_each(|v| *v = f(*v));
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn map_inplace_avx512(buf: &mut [f32], f: impl Fn(f32) -> f32) {
    buf.iter_mut().for_each(|v| *v = f(*v));
}

/// `buf[i] = f(buf[i])`, with `fused` and `plain` as in [`map_f32`].
#[inline(always)]
pub fn map_f32_inplace(buf: &mut [f32], fused: impl Fn(f32) -> f32, plain: impl Fn(f32) -> f32) {
    #[cfg(target_arch = "x86_64")]
    if has_avx512() {
        // SAFETY: the CPU supports the features the function is compiled for.
        unsafe { map_inplace_avx512(buf, fused) };
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU supports the features the function is compiled for.
        unsafe { map_inplace_avx2(buf, fused) };
        return;
    }
    let _ = &fused;
    buf.iter_mut().for_each(|v| *v = plain(*v));
}

/// Softmax (or log-softmax) of one float32 row in three passes over `x`/`y` (max; exp and
/// sum; scale), each a SIMD loop over 16- or 32-lane chunks (no bounds checks inside).
#[inline(always)]
fn softmax_row_body<M: MulAdd>(x: &[f32], y: &mut [f32], log: bool) {
    let y = &mut y[..x.len()];
    // The max in 32 lanes (four independent vector chains; one chain is bound by the
    // compare-and-select latency), NaNs flagged on the side.
    let mut mx = [f32::NEG_INFINITY; 32];
    let mut nan = [0u32; 32];
    for c in x.chunks_exact(32) {
        for k in 0..32 {
            mx[k] = if c[k] > mx[k] { c[k] } else { mx[k] };
            nan[k] |= c[k].is_nan() as u32;
        }
    }
    let tail32 = x.len() / 32 * 32;
    let m = x[tail32..]
        .iter()
        .chain(mx.iter())
        .fold(
            f32::NEG_INFINITY,
            |a, &b| if b > a || b.is_nan() { b } else { a },
        );
    // NaN propagates: a NaN anywhere makes the row NaN below.
    let m = if nan.iter().any(|&f| f != 0) {
        f32::NAN
    } else {
        m
    };
    let tail = x.len() / 16 * 16;
    // A row of -inf (or +inf) gets m = 0 so that x - m keeps the infinities' meaning.
    let m = if m.is_infinite() { 0.0 } else { m };
    let mut acc = [0f32; 16];
    for (xc, yc) in x.chunks_exact(16).zip(y.chunks_exact_mut(16)) {
        for k in 0..16 {
            let e = exp_with::<M>(xc[k] - m);
            yc[k] = e;
            acc[k] += e;
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (o, &v) in y[tail..].iter_mut().zip(&x[tail..]) {
        *o = exp_with::<M>(v - m);
        s += *o;
    }
    if log {
        let shift = m + s.ln();
        y.iter_mut().zip(x).for_each(|(o, &v)| *o = v - shift);
    } else {
        let inv = 1.0 / s;
        y.iter_mut().for_each(|o| *o *= inv);
    }
}

/// `Σ a[j]·b[j]` (or `Σ a[j]` without `b`) in eight lanes.
#[inline(always)]
fn lane_dot_f32(a: &[f32], b: Option<&[f32]>) -> f32 {
    let mut acc = [0f32; 8];
    let tail = a.len() / 8 * 8;
    let mut s = 0.0;
    match b {
        Some(b) => {
            let b = &b[..a.len()];
            for (ac, bc) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
                for k in 0..8 {
                    acc[k] += ac[k] * bc[k];
                }
            }
            for j in tail..a.len() {
                s += a[j] * b[j];
            }
        }
        None => {
            for ac in a.chunks_exact(8) {
                for k in 0..8 {
                    acc[k] += ac[k];
                }
            }
            s = a[tail..].iter().sum();
        }
    }
    s + acc.iter().sum::<f32>()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn softmax_row_avx2(x: &[f32], y: &mut [f32], log: bool) {
    softmax_row_body::<Fused>(x, y, log)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn softmax_row_avx512(x: &[f32], y: &mut [f32], log: bool) {
    softmax_row_body::<Fused>(x, y, log)
}

/// Softmax (or log-softmax) of a float32 row into `y`.
pub fn softmax_row_f32(x: &[f32], y: &mut [f32], log: bool) {
    #[cfg(target_arch = "x86_64")]
    if has_avx512() {
        // SAFETY: the CPU supports the features the function is compiled for.
        unsafe { softmax_row_avx512(x, y, log) };
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU supports the features the function is compiled for.
        unsafe { softmax_row_avx2(x, y, log) };
        return;
    }
    softmax_row_body::<Split>(x, y, log)
}

/// The backward of a float32 softmax row from its output `y` and gradient `g`:
/// `y·(g - Σ g·y)`, or for log-softmax `g - e^y·Σ g`.
#[inline(always)]
fn softmax_grad_row_body<M: MulAdd>(y: &[f32], g: &[f32], gx: &mut [f32], log: bool) {
    let n = y.len();
    let (g, gx) = (&g[..n], &mut gx[..n]);
    if log {
        let s = lane_dot_f32(g, None);
        for ((o, &yv), &gv) in gx.iter_mut().zip(y).zip(g) {
            *o = gv - exp_with::<M>(yv) * s;
        }
    } else {
        let s = lane_dot_f32(g, Some(y));
        for ((o, &yv), &gv) in gx.iter_mut().zip(y).zip(g) {
            *o = yv * (gv - s);
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn softmax_grad_row_avx2(y: &[f32], g: &[f32], gx: &mut [f32], log: bool) {
    softmax_grad_row_body::<Fused>(y, g, gx, log)
}

/// The backward of a float32 softmax (or log-softmax) row.
pub fn softmax_grad_row_f32(y: &[f32], g: &[f32], gx: &mut [f32], log: bool) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        // SAFETY: the CPU supports the features the function is compiled for.
        unsafe { softmax_grad_row_avx2(y, g, gx, log) };
        return;
    }
    softmax_grad_row_body::<Split>(y, g, gx, log)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Worst relative error of `f` against the f64 reference over a grid of [lo, hi], with an
    /// absolute floor `tiny` below which values compare absolutely.
    fn worst(f: impl Fn(f32) -> f32, r: impl Fn(f64) -> f64, lo: f32, hi: f32, tiny: f64) -> f64 {
        let mut w: f64 = 0.0;
        let n = 200_000;
        for i in 0..=n {
            let x = lo + (hi - lo) * i as f32 / n as f32;
            let (got, want) = (f(x) as f64, r(x as f64));
            let e = (got - want).abs() / want.abs().max(tiny);
            w = w.max(e);
        }
        w
    }

    fn phi(x: f64) -> f64 {
        0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
    }

    #[test]
    fn accuracy_against_f64() {
        // The fused build runs in software here if the CPU lacks FMA: same results.
        accuracy::<Split>();
        accuracy::<Fused>();
    }

    fn accuracy<M: MulAdd>() {
        assert!(worst(tanh_f32::<M>, f64::tanh, -12.0, 12.0, 1e-30) < 6e-7);
        assert!(
            worst(
                sigmoid_f32::<M>,
                |x| 1.0 / (1.0 + (-x).exp()),
                -80.0,
                40.0,
                1e-30
            ) < 6e-7
        );
        assert!(worst(erf_f32::<M>, libm::erf, -6.0, 6.0, 1e-30) < 6e-7);
        assert!(worst(erfc_f32::<M>, libm::erfc, -6.0, 9.0, 1e-30) < 2e-6);
        assert!(worst(gelu_f32::<M>, |x| x * phi(x), -12.0, 12.0, 1e-30) < 2e-6);
        let dg = |x: f64| phi(x) + x * (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
        assert!(worst(gelu_grad_f32::<M>, dg, -12.0, 12.0, 0.1) < 2e-6);
        let k = (2.0 / std::f64::consts::PI).sqrt();
        // 1 + tanh u = 2σ(2u), without the cancellation (which f64 suffers from too).
        let gt = |x: f64| x / (1.0 + (-2.0 * k * (x + 0.044715 * x * x * x)).exp());
        assert!(worst(gelu_tanh_f32::<M>, gt, -3.0, 8.0, 1e-30) < 2e-6);
        // Further out u = k(x + a·x³) itself rounds in f32, and e^{2u} amplifies that by |2u|
        // (about 50 at x = -8): the error is the input's, as in any f32 evaluation.
        assert!(worst(gelu_tanh_f32::<M>, gt, -8.0, 8.0, 1e-30) < 2e-5);
        let gtd = |x: f64| {
            let th = (k * (x + 0.044715 * x * x * x)).tanh();
            0.5 * (1.0 + th) + 0.5 * x * (1.0 - th * th) * k * (1.0 + 3.0 * 0.044715 * x * x)
        };
        assert!(worst(gelu_tanh_grad_f32::<M>, gtd, -8.0, 8.0, 0.1) < 2e-6);
    }

    #[test]
    fn special_values() {
        specials::<Split>();
        specials::<Fused>();
    }

    fn specials<M: MulAdd>() {
        for f in [
            tanh_f32::<M>,
            sigmoid_f32::<M>,
            erf_f32::<M>,
            erfc_f32::<M>,
            gelu_f32::<M>,
        ] {
            assert!(f(f32::NAN).is_nan());
        }
        assert_eq!(tanh_f32::<M>(f32::INFINITY), 1.0);
        assert_eq!(tanh_f32::<M>(f32::NEG_INFINITY), -1.0);
        assert_eq!(sigmoid_f32::<M>(f32::INFINITY), 1.0);
        assert_eq!(sigmoid_f32::<M>(f32::NEG_INFINITY), 0.0);
        assert_eq!(erf_f32::<M>(f32::INFINITY), 1.0);
        assert_eq!(erfc_f32::<M>(f32::NEG_INFINITY), 2.0);
        assert_eq!(gelu_f32::<M>(f32::INFINITY), f32::INFINITY);
        assert_eq!(tanh_f32::<M>(-0.0).to_bits(), (-0.0f32).to_bits());
    }
}
