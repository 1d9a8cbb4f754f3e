//! Branch-free f32 exponential (Cephes' `expf` polynomial, ≤ 2 ulp): std's `f32::exp` does not
//! vectorise, this one does.

const LOG2E: f32 = std::f32::consts::LOG2_E;
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;

const HI: f32 = 88.722_83;
const LO: f32 = -87.336_55;
/// Round-to-nearest by the 1.5·2^23 trick (no `round` call).
const MAGIC: f32 = 12_582_912.0;

/// `n = round(x / ln2)` for `x` clamped to the finite range, as a float and as an integer.
#[inline(always)]
fn exponent_of(x: f32) -> (f32, i32) {
    let t = x.clamp(LO, HI) * LOG2E + MAGIC;
    (t - MAGIC, (t.to_bits() as i32) - (MAGIC.to_bits() as i32))
}

/// `e^r · 2^n` for the reduced argument `r` (|r| ≤ ln2/2), with the IEEE limits of `e^x` for
/// the unreduced `x`: inf above the range, 0 below it, NaN through.
#[inline(always)]
fn scale_by_exponent(x: f32, r: f32, ni: i32) -> f32 {
    let r2 = r * r;
    let p = 1.987_569_1e-4_f32;
    let p = p * r + 1.398_2e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 5e-1;
    let y = p * r2 + r + 1.0;
    // 2^n in two halves so that n = 128 (x near the overflow bound) stays representable.
    let (h1, h2) = (ni >> 1, ni - (ni >> 1));
    let v =
        y * f32::from_bits(((h1 + 127) as u32) << 23) * f32::from_bits(((h2 + 127) as u32) << 23);
    let v = if x > HI { f32::INFINITY } else { v };
    // NaN passes through the clamp and the polynomial unchanged.
    if x < LO {
        0.0
    } else {
        v
    }
}

/// `e^x` for f32 with IEEE results for ±inf and NaN, overflow to inf and underflow to 0
/// (results below f32's normal range flush to zero). Only SSE2-level operations, so the
/// loops that call it vectorise on the baseline x86-64 target.
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    let (n, ni) = exponent_of(x);
    let xc = x.clamp(LO, HI);
    scale_by_exponent(x, xc - n * LN2_HI - n * LN2_LO, ni)
}

/// `e^(hi + lo)` for an argument carried in two parts (|lo| up to a few units): the range
/// reduction subtracts n·ln2 from `hi` exactly before `lo` joins, so the result keeps the
/// precision of the unrounded sum (one polynomial instead of `exp(hi) · exp(lo)`).
#[inline(always)]
pub fn exp_f32_split(hi: f32, lo: f32) -> f32 {
    let x = hi + lo;
    let (n, ni) = exponent_of(x);
    scale_by_exponent(x, (hi - n * LN2_HI) - n * LN2_LO + lo, ni)
}

/// `exp` through the fastest accurate routine for each float type.
pub trait FastExp: Copy {
    fn fast_exp(self) -> Self;
    /// Exponentiates a buffer in place (SIMD for f32).
    fn exp_all(buf: &mut [Self]) {
        for v in buf.iter_mut() {
            *v = v.fast_exp();
        }
    }
}

impl FastExp for f32 {
    #[inline(always)]
    fn fast_exp(self) -> f32 {
        exp_f32(self)
    }
    fn exp_all(buf: &mut [f32]) {
        exp_inplace(buf)
    }
}

impl FastExp for f64 {
    #[inline(always)]
    fn fast_exp(self) -> f64 {
        self.exp()
    }
}

impl FastExp for half::f16 {
    #[inline(always)]
    fn fast_exp(self) -> half::f16 {
        half::f16::from_f32(exp_f32(self.to_f32()))
    }
}

impl FastExp for half::bf16 {
    #[inline(always)]
    fn fast_exp(self) -> half::bf16 {
        half::bf16::from_f32(exp_f32(self.to_f32()))
    }
}

/// `buf[i] = e^buf[i]`, with AVX2+FMA code when the CPU has it (runtime detection).
pub fn exp_inplace(buf: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the features were detected at run time.
            unsafe { exp_inplace_avx2(buf) };
            return;
        }
    }
    for v in buf.iter_mut() {
        *v = exp_f32(*v);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn exp_inplace_avx2(buf: &mut [f32]) {
    for v in buf.iter_mut() {
        *v = exp_f32(*v);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn matches_std_exp() {
        let mut x = -100.0f32;
        while x < 90.0 {
            let (a, b) = (super::exp_f32(x), x.exp());
            let rel = ((a - b) / b).abs();
            let ok = rel < 3e-7 || a == b || (b < f32::MIN_POSITIVE && a == 0.0);
            assert!(ok, "x={x} fast={a} std={b}");
            x += 0.0137;
        }
        assert_eq!(super::exp_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(super::exp_f32(f32::NEG_INFINITY), 0.0);
        assert!(super::exp_f32(f32::NAN).is_nan());
    }
}
