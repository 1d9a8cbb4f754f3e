//! Branch-free f32 exponential (Cephes' `expf` polynomial, ≤ 2 ulp): std's `f32::exp` does not
//! vectorise, this one does.

const LOG2E: f32 = std::f32::consts::LOG2_E;
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;

/// Above this `e^x` overflows f32 (128·ln2 rounded down, so `n ≤ 128` with `r < 0`).
const HI: f32 = 88.722_83;
/// The smallest f32 at or above ln(2^-126): `e^x` is normal from here on, and the reduction
/// gives `n ≥ -126` with `r ≥ 0` (the exponent arithmetic below relies on both bounds).
const LO: f32 = -87.336_54;
/// Round-to-nearest by the 1.5·2^23 trick (no `round` call).
const MAGIC: f32 = 12_582_912.0;

/// How `a·b + c` is evaluated. Code compiled for FMA (the AVX2/AVX-512 paths) uses `Fused`:
/// one instruction and one rounding. Everywhere else `Split` keeps a multiply and an add,
/// because a fused multiply-add there would be a call into libm per operation.
pub trait MulAdd {
    fn mul_add(a: f32, b: f32, c: f32) -> f32;
}

/// `a·b + c` with one rounding; only for code compiled with the `fma` target feature.
pub enum Fused {}

/// `a·b + c` as a multiply and an add.
pub enum Split {}

impl MulAdd for Fused {
    #[inline(always)]
    fn mul_add(a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }
}

impl MulAdd for Split {
    #[inline(always)]
    fn mul_add(a: f32, b: f32, c: f32) -> f32 {
        a * b + c
    }
}

/// `n = round(x / ln2)` for `x` clamped to the finite range, as a float and as an integer.
#[inline(always)]
fn exponent_of<M: MulAdd>(x: f32) -> (f32, i32) {
    let t = M::mul_add(x.clamp(LO, HI), LOG2E, MAGIC);
    (t - MAGIC, (t.to_bits() as i32) - (MAGIC.to_bits() as i32))
}

/// `e^r · 2^n` for the reduced argument `r` (|r| ≤ ln2/2), with the IEEE limits of `e^x` for
/// the unreduced `x`: inf above the range, 0 below it, NaN through.
#[inline(always)]
fn scale_by_exponent<M: MulAdd>(x: f32, r: f32, ni: i32) -> f32 {
    let r2 = r * r;
    let p = 1.987_569_1e-4_f32;
    let p = M::mul_add(p, r, 1.398_2e-3);
    let p = M::mul_add(p, r, 8.333_452e-3);
    let p = M::mul_add(p, r, 4.166_579_6e-2);
    let p = M::mul_add(p, r, 1.666_666_5e-1);
    let p = M::mul_add(p, r, 5e-1);
    let y = M::mul_add(p, r2, r) + 1.0;
    // 2^n joins y's exponent field directly: with LO and HI as chosen, n = 128 only comes
    // with y < 1 and n = -126 only with y ≥ 1, so the sum stays a normal exponent.
    let v = f32::from_bits((y.to_bits() as i32).wrapping_add(ni << 23) as u32);
    // x·inf: inf above the range, NaN for NaN.
    let v = if x <= HI { v } else { x * f32::INFINITY };
    if x < LO {
        0.0
    } else {
        v
    }
}

/// `e^x` for f32 with IEEE results for ±inf and NaN, overflow to inf and underflow to 0
/// (results below f32's normal range flush to zero), `a·b + c` evaluated as `M` says.
/// Branch-free, so loops that call it vectorise.
#[inline(always)]
pub fn exp_with<M: MulAdd>(x: f32) -> f32 {
    let (n, ni) = exponent_of::<M>(x);
    let xc = x.clamp(LO, HI);
    let r = M::mul_add(-n, LN2_LO, M::mul_add(-n, LN2_HI, xc));
    scale_by_exponent::<M>(x, r, ni)
}

/// `e^x` with a separate multiply and add: for code that is not compiled for FMA.
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    exp_with::<Split>(x)
}

/// `e^(hi + lo)` for an argument carried in two parts (|lo| up to a few units): the range
/// reduction subtracts n·ln2 from `hi` exactly before `lo` joins, so the result keeps the
/// precision of the unrounded sum (one polynomial instead of `exp(hi) · exp(lo)`).
#[inline(always)]
pub fn exp_split_with<M: MulAdd>(hi: f32, lo: f32) -> f32 {
    let x = hi + lo;
    let (n, ni) = exponent_of::<M>(x);
    let r = M::mul_add(-n, LN2_LO, M::mul_add(-n, LN2_HI, hi)) + lo;
    scale_by_exponent::<M>(x, r, ni)
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

/// `buf[i] = e^buf[i]`, in AVX-512 or AVX2 code where the CPU has it.
pub fn exp_inplace(buf: &mut [f32]) {
    super::vmath::map_f32_inplace(buf, exp_with::<Fused>, exp_f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_std_exp() {
        check(exp_f32);
        // Fused multiply-adds are exact in software too, just slow: same bounds.
        check(exp_with::<Fused>);
        check(|x| exp_split_with::<Split>(x, 0.0));
    }

    fn check(exp: impl Fn(f32) -> f32) {
        let mut x = -100.0f32;
        while x < 90.0 {
            let (a, b) = (exp(x), x.exp());
            let rel = ((a - b) / b).abs();
            let ok = rel < 3e-7 || a == b || (b < f32::MIN_POSITIVE && a == 0.0);
            assert!(ok, "x={x} fast={a} std={b}");
            x += 0.0137;
        }
        // The ends of the range: the exponent arithmetic's two edge cases.
        for x in [
            HI,
            LO,
            f32::from_bits(HI.to_bits() - 1),
            f32::from_bits(LO.to_bits() - 1),
        ] {
            let (a, b) = (exp(x), x.exp());
            assert!(((a - b) / b).abs() < 3e-7, "x={x} fast={a} std={b}");
        }
        assert_eq!(exp(f32::from_bits(HI.to_bits() + 1)), f32::INFINITY);
        assert_eq!(exp(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp(-88.0), 0.0);
        assert!(exp(f32::NAN).is_nan());
        assert!(exp(-f32::NAN).is_nan());
    }
}
