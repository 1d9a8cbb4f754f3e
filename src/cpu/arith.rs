//! Per-type scalar arithmetic with PyTorch's semantics (wrapping integers, Python-style
//! floor division and remainder, NaN-propagating max/min).

use crate::dtype::Elem;
use half::{bf16, f16};

pub trait Arith: Elem {
    fn add(a: Self, b: Self) -> Self;
    fn sub(a: Self, b: Self) -> Self;
    fn mul(a: Self, b: Self) -> Self;
    fn div(a: Self, b: Self) -> Self;
    fn rem(a: Self, b: Self) -> Self;
    fn floordiv(a: Self, b: Self) -> Self;
    fn pow(a: Self, b: Self) -> Self;
    fn maximum(a: Self, b: Self) -> Self;
    fn minimum(a: Self, b: Self) -> Self;
    fn neg(a: Self) -> Self;
    fn abs(a: Self) -> Self;
    fn is_zero(a: Self) -> bool;
}

macro_rules! int_arith {
    ($t:ty) => {
        impl Arith for $t {
            #[inline]
            fn add(a: Self, b: Self) -> Self {
                a.wrapping_add(b)
            }
            #[inline]
            fn sub(a: Self, b: Self) -> Self {
                a.wrapping_sub(b)
            }
            #[inline]
            fn mul(a: Self, b: Self) -> Self {
                a.wrapping_mul(b)
            }
            #[inline]
            fn div(a: Self, b: Self) -> Self {
                if b == 0 {
                    0
                } else {
                    a.wrapping_div(b)
                }
            }
            #[inline]
            fn rem(a: Self, b: Self) -> Self {
                if b == 0 {
                    return 0;
                }
                let r = a.wrapping_rem(b);
                #[allow(unused_comparisons)]
                if r != 0 && ((r < 0) != (b < 0)) {
                    r.wrapping_add(b)
                } else {
                    r
                }
            }
            #[inline]
            fn floordiv(a: Self, b: Self) -> Self {
                if b == 0 {
                    return 0;
                }
                let q = a.wrapping_div(b);
                let r = a.wrapping_rem(b);
                #[allow(unused_comparisons)]
                if r != 0 && ((r < 0) != (b < 0)) {
                    q.wrapping_sub(1)
                } else {
                    q
                }
            }
            #[inline]
            fn pow(a: Self, b: Self) -> Self {
                // A negative exponent: 1/a truncated toward zero (PyTorch's rule).
                #[allow(unused_comparisons)]
                if b < 0 {
                    #[allow(unused_comparisons)]
                    return if a == 1 {
                        1
                    } else if a < 0 && a == (0 as $t).wrapping_sub(1) {
                        if b & 1 == 0 {
                            1
                        } else {
                            a
                        }
                    } else {
                        0
                    };
                }
                let mut r: Self = 1;
                let mut base = a;
                let mut e = b as u64;
                while e > 0 {
                    if e & 1 == 1 {
                        r = r.wrapping_mul(base);
                    }
                    base = base.wrapping_mul(base);
                    e >>= 1;
                }
                r
            }
            #[inline]
            fn maximum(a: Self, b: Self) -> Self {
                if a > b {
                    a
                } else {
                    b
                }
            }
            #[inline]
            fn minimum(a: Self, b: Self) -> Self {
                if a < b {
                    a
                } else {
                    b
                }
            }
            #[inline]
            fn neg(a: Self) -> Self {
                (0 as $t).wrapping_sub(a)
            }
            #[inline]
            fn abs(a: Self) -> Self {
                #[allow(unused_comparisons)]
                if a < 0 {
                    (0 as $t).wrapping_sub(a)
                } else {
                    a
                }
            }
            #[inline]
            fn is_zero(a: Self) -> bool {
                a == 0
            }
        }
    };
}
int_arith!(u8);
int_arith!(i8);
int_arith!(i16);
int_arith!(i32);
int_arith!(i64);

macro_rules! float_arith {
    ($t:ty, $to:expr, $from:expr) => {
        impl Arith for $t {
            #[inline]
            fn add(a: Self, b: Self) -> Self {
                $from($to(a) + $to(b))
            }
            #[inline]
            fn sub(a: Self, b: Self) -> Self {
                $from($to(a) - $to(b))
            }
            #[inline]
            fn mul(a: Self, b: Self) -> Self {
                $from($to(a) * $to(b))
            }
            #[inline]
            fn div(a: Self, b: Self) -> Self {
                $from($to(a) / $to(b))
            }
            #[inline]
            fn rem(a: Self, b: Self) -> Self {
                let (x, y) = ($to(a), $to(b));
                let r = x % y;
                $from(if r != 0.0 && ((r < 0.0) != (y < 0.0)) {
                    r + y
                } else {
                    r
                })
            }
            #[inline]
            fn floordiv(a: Self, b: Self) -> Self {
                let (x, y) = ($to(a), $to(b));
                if y == 0.0 {
                    return $from(x / y);
                }
                let r = x % y;
                let mut q = (x - r) / y;
                if r != 0.0 && ((r < 0.0) != (y < 0.0)) {
                    q -= 1.0;
                }
                $from(q.round_ties_even_if_needed())
            }
            #[inline]
            fn pow(a: Self, b: Self) -> Self {
                $from($to(a).powf($to(b)))
            }
            #[inline]
            fn maximum(a: Self, b: Self) -> Self {
                let (x, y) = ($to(a), $to(b));
                if x.is_nan() || y.is_nan() {
                    $from(f32::NAN as _)
                } else if x > y {
                    a
                } else {
                    b
                }
            }
            #[inline]
            fn minimum(a: Self, b: Self) -> Self {
                let (x, y) = ($to(a), $to(b));
                if x.is_nan() || y.is_nan() {
                    $from(f32::NAN as _)
                } else if x < y {
                    a
                } else {
                    b
                }
            }
            #[inline]
            fn neg(a: Self) -> Self {
                $from(-$to(a))
            }
            #[inline]
            fn abs(a: Self) -> Self {
                $from($to(a).abs())
            }
            #[inline]
            fn is_zero(a: Self) -> bool {
                $to(a) == 0.0
            }
        }
    };
}

trait RoundQ {
    fn round_ties_even_if_needed(self) -> Self;
}
impl RoundQ for f32 {
    #[inline]
    fn round_ties_even_if_needed(self) -> Self {
        self.round()
    }
}
impl RoundQ for f64 {
    #[inline]
    fn round_ties_even_if_needed(self) -> Self {
        self.round()
    }
}

#[inline]
fn id32(x: f32) -> f32 {
    x
}
#[inline]
fn id64(x: f64) -> f64 {
    x
}
float_arith!(f32, id32, id32);
float_arith!(f64, id64, id64);
float_arith!(f16, f16::to_f32, f16::from_f32);
float_arith!(bf16, bf16::to_f32, bf16::from_f32);

impl Arith for bool {
    #[inline]
    fn add(a: Self, b: Self) -> Self {
        a | b
    }
    #[inline]
    fn sub(a: Self, b: Self) -> Self {
        a ^ b
    }
    #[inline]
    fn mul(a: Self, b: Self) -> Self {
        a & b
    }
    #[inline]
    fn div(a: Self, b: Self) -> Self {
        a & b
    }
    #[inline]
    fn rem(_: Self, _: Self) -> Self {
        false
    }
    #[inline]
    fn floordiv(a: Self, b: Self) -> Self {
        a & b
    }
    #[inline]
    fn pow(a: Self, b: Self) -> Self {
        a | !b
    }
    #[inline]
    fn maximum(a: Self, b: Self) -> Self {
        a | b
    }
    #[inline]
    fn minimum(a: Self, b: Self) -> Self {
        a & b
    }
    #[inline]
    fn neg(a: Self) -> Self {
        a
    }
    #[inline]
    fn abs(a: Self) -> Self {
        a
    }
    #[inline]
    fn is_zero(a: Self) -> bool {
        !a
    }
}

/// Runs `$body` with `$T: Arith` bound to the Rust type of `$dt`.
#[macro_export]
macro_rules! with_arith {
    ($dt:expr, $T:ident, $body:expr) => {
        $crate::with_dtype!($dt, $T, $body)
    };
}
