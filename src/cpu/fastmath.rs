//! Branch-free f32 exponential (Cephes' `expf` polynomial, ≤ 2 ulp): std's `f32::exp` does not
//! vectorise, this one does.

const LOG2E: f32 = std::f32::consts::LOG2_E;
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;

/// `e^x` for f32 with IEEE results for ±inf and NaN, overflow to inf and underflow to 0.
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    let xc = x.clamp(-87.336_55, 88.722_83);
    let n = (xc * LOG2E).round();
    let r = xc - n * LN2_HI - n * LN2_LO;
    let r2 = r * r;
    let p = 1.987_569_1e-4_f32;
    let p = p * r + 1.398_2e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 5e-1;
    let y = p * r2 + r + 1.0;
    // 2^n in two halves so that n = 128 (x near the overflow bound) stays representable.
    let ni = n as i32;
    let (h1, h2) = (ni >> 1, ni - (ni >> 1));
    let v =
        y * f32::from_bits(((h1 + 127) as u32) << 23) * f32::from_bits(((h2 + 127) as u32) << 23);
    // Saturate outside the clamped range; keep NaN.
    if x > 88.722_83 {
        f32::INFINITY
    } else if x < -87.336_55 {
        if x < -103.972_08 {
            0.0
        } else {
            x.exp()
        }
    } else if x.is_nan() {
        x
    } else {
        v
    }
}

/// `exp` through the fastest accurate routine for each float type.
pub trait FastExp: Copy {
    fn fast_exp(self) -> Self;
}

impl FastExp for f32 {
    #[inline(always)]
    fn fast_exp(self) -> f32 {
        exp_f32(self)
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

#[cfg(test)]
mod tests {
    #[test]
    fn matches_std_exp() {
        let mut x = -100.0f32;
        while x < 90.0 {
            let (a, b) = (super::exp_f32(x), x.exp());
            let rel = ((a - b) / b).abs();
            assert!(rel < 3e-7 || a == b, "x={x} fast={a} std={b}");
            x += 0.0137;
        }
        assert_eq!(super::exp_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(super::exp_f32(f32::NEG_INFINITY), 0.0);
        assert!(super::exp_f32(f32::NAN).is_nan());
    }
}
