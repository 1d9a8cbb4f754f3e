//! Element types, PyTorch's type-promotion rules, and the trait tying a Rust type to a DType.

use half::{bf16, f16};
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    Bool,
    U8,
    I8,
    I16,
    I32,
    I64,
    F16,
    BF16,
    F32,
    F64,
}

/// Index into `DEFAULT_CHOICES` of the float dtype `torch.set_default_dtype` chose.
static DEFAULT_FLOAT: AtomicUsize = AtomicUsize::new(2);
const DEFAULT_CHOICES: [DType; 4] = [DType::F16, DType::BF16, DType::F32, DType::F64];

/// The default float dtype: what Python floats become, what float creation functions make,
/// and what integer inputs of float-valued ops are computed in (float32 unless changed).
pub fn default_float() -> DType {
    DEFAULT_CHOICES[DEFAULT_FLOAT.load(Ordering::Relaxed)]
}

/// `torch.set_default_dtype`: process-wide, floating dtypes only.
pub fn set_default_float(dtype: DType) -> crate::error::Result<()> {
    let index = DEFAULT_CHOICES
        .iter()
        .position(|&d| d == dtype)
        .ok_or_else(|| {
            crate::error::Error::Type(
                "only floating-point types are supported as the default type".into(),
            )
        })?;
    DEFAULT_FLOAT.store(index, Ordering::Relaxed);
    Ok(())
}

/// The three promotion categories PyTorch compares before sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Category {
    Bool,
    Int,
    Float,
}

impl DType {
    pub const ALL: [DType; 10] = [
        DType::Bool,
        DType::U8,
        DType::I8,
        DType::I16,
        DType::I32,
        DType::I64,
        DType::F16,
        DType::BF16,
        DType::F32,
        DType::F64,
    ];

    pub fn size(self) -> usize {
        match self {
            DType::Bool | DType::U8 | DType::I8 => 1,
            DType::I16 | DType::F16 | DType::BF16 => 2,
            DType::I32 | DType::F32 => 4,
            DType::I64 | DType::F64 => 8,
        }
    }

    /// PyTorch's name: `float32`, `int64`, …
    pub fn name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::U8 => "uint8",
            DType::I8 => "int8",
            DType::I16 => "int16",
            DType::I32 => "int32",
            DType::I64 => "int64",
            DType::F16 => "float16",
            DType::BF16 => "bfloat16",
            DType::F32 => "float32",
            DType::F64 => "float64",
        }
    }

    /// The safetensors code of the dtype.
    pub fn safetensors_code(self) -> &'static str {
        match self {
            DType::Bool => "BOOL",
            DType::U8 => "U8",
            DType::I8 => "I8",
            DType::I16 => "I16",
            DType::I32 => "I32",
            DType::I64 => "I64",
            DType::F16 => "F16",
            DType::BF16 => "BF16",
            DType::F32 => "F32",
            DType::F64 => "F64",
        }
    }

    pub fn from_name(s: &str) -> Option<DType> {
        DType::ALL.into_iter().find(|d| d.name() == s)
    }

    pub fn category(self) -> Category {
        match self {
            DType::Bool => Category::Bool,
            DType::F16 | DType::BF16 | DType::F32 | DType::F64 => Category::Float,
            _ => Category::Int,
        }
    }

    pub fn is_float(self) -> bool {
        self.category() == Category::Float
    }

    pub fn is_int(self) -> bool {
        self.category() == Category::Int
    }

    pub fn is_signed(self) -> bool {
        !matches!(self, DType::Bool | DType::U8)
    }

    /// Float dtype used when an integer or bool input meets a float-only op.
    pub fn to_float(self) -> DType {
        if self.is_float() {
            self
        } else {
            default_float()
        }
    }
}

impl std::fmt::Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "torch.{}", self.name())
    }
}

/// `torch.promote_types`.
pub fn promote_types(a: DType, b: DType) -> DType {
    use DType::*;
    if a == b {
        return a;
    }
    match (a.category(), b.category()) {
        (Category::Float, Category::Float) => {
            if matches!((a, b), (F16, BF16) | (BF16, F16)) {
                F32
            } else {
                a.max(b)
            }
        }
        (Category::Float, _) => a,
        (_, Category::Float) => b,
        (Category::Bool, _) => b,
        (_, Category::Bool) => a,
        _ => {
            // Both integers: uint8 with a signed type needs the next signed width.
            let (u, s) = match (a, b) {
                (U8, s) | (s, U8) => (true, s),
                _ => (false, a.max(b)),
            };
            if u {
                match s {
                    I8 => I16,
                    other => other,
                }
            } else {
                s
            }
        }
    }
}

/// How an operand takes part in type promotion (PyTorch's priority classes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operand {
    /// A tensor with at least one dimension.
    Dim(DType),
    /// A zero-dimensional tensor.
    ZeroDim(DType),
    /// A Python number (bool → Bool, int → I64, float → default float).
    Scalar(DType),
}

fn combine_categories(higher: Option<DType>, lower: Option<DType>) -> Option<DType> {
    match (higher, lower) {
        (None, l) => l,
        (Some(h), None) => Some(h),
        (Some(h), Some(l)) => {
            if h.is_float() {
                Some(h)
            } else if h == DType::Bool || l.category() > h.category() {
                Some(promote_types(h, l))
            } else {
                Some(h)
            }
        }
    }
}

/// `torch.result_type` over a set of operands.
pub fn result_type(ops: &[Operand]) -> DType {
    let (mut dim, mut zero, mut wrapped) = (None, None, None);
    let upd = |slot: &mut Option<DType>, d: DType| {
        *slot = Some(match *slot {
            None => d,
            Some(s) => promote_types(s, d),
        })
    };
    for op in ops {
        match *op {
            Operand::Dim(d) => upd(&mut dim, d),
            Operand::ZeroDim(d) => upd(&mut zero, d),
            Operand::Scalar(d) => upd(&mut wrapped, d),
        }
    }
    combine_categories(dim, combine_categories(zero, wrapped)).unwrap_or(default_float())
}

mod sealed {
    /// Only the ten element types below: a buffer of one dtype can never be read as another,
    /// and each of them is valid for every bit pattern of its size (bool aside, whose buffers
    /// are only ever written as 0 or 1).
    pub trait Sealed {}
    impl Sealed for bool {}
    impl Sealed for u8 {}
    impl Sealed for i8 {}
    impl Sealed for i16 {}
    impl Sealed for i32 {}
    impl Sealed for i64 {}
    impl Sealed for half::f16 {}
    impl Sealed for half::bf16 {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A Rust type that is stored as one of the dtypes (sealed: implemented only here).
pub trait Elem:
    sealed::Sealed + Copy + Send + Sync + 'static + PartialOrd + Default + std::fmt::Debug
{
    const DTYPE: DType;
    fn to_f64(self) -> f64;
    fn from_f64(v: f64) -> Self;
    fn to_i64(self) -> i64;
    fn from_i64(v: i64) -> Self;
    fn from_bool(v: bool) -> Self {
        Self::from_i64(v as i64)
    }
    fn is_nonzero(self) -> bool;
}

macro_rules! impl_elem_int {
    ($t:ty, $d:expr) => {
        impl Elem for $t {
            const DTYPE: DType = $d;
            #[inline]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline]
            fn from_f64(v: f64) -> Self {
                // Float → int casts truncate toward zero, like C and PyTorch.
                v as i64 as $t
            }
            #[inline]
            fn to_i64(self) -> i64 {
                self as i64
            }
            #[inline]
            fn from_i64(v: i64) -> Self {
                v as $t
            }
            #[inline]
            fn is_nonzero(self) -> bool {
                self != 0
            }
        }
    };
}
impl_elem_int!(u8, DType::U8);
impl_elem_int!(i8, DType::I8);
impl_elem_int!(i16, DType::I16);
impl_elem_int!(i32, DType::I32);
impl_elem_int!(i64, DType::I64);

macro_rules! impl_elem_float {
    ($t:ty, $d:expr) => {
        impl Elem for $t {
            const DTYPE: DType = $d;
            #[inline]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline]
            fn to_i64(self) -> i64 {
                self as i64
            }
            #[inline]
            fn from_i64(v: i64) -> Self {
                v as $t
            }
            #[inline]
            fn is_nonzero(self) -> bool {
                self != 0.0
            }
        }
    };
}
impl_elem_float!(f32, DType::F32);
impl_elem_float!(f64, DType::F64);

macro_rules! impl_elem_half {
    ($t:ty, $d:expr) => {
        impl Elem for $t {
            const DTYPE: DType = $d;
            #[inline]
            fn to_f64(self) -> f64 {
                self.to_f64()
            }
            #[inline]
            fn from_f64(v: f64) -> Self {
                // Through f32, as PyTorch (and the CUDA kernels) convert a double: the `half`
                // crate's own f64 -> bf16 drops the low 32 bits before rounding, which breaks
                // ties the wrong way (0.20361334085464478 gave 0.203125, not 0.2041015625).
                <$t>::from_f32(v as f32)
            }
            #[inline]
            fn to_i64(self) -> i64 {
                self.to_f64() as i64
            }
            #[inline]
            fn from_i64(v: i64) -> Self {
                <$t>::from_f32(v as f32)
            }
            #[inline]
            fn is_nonzero(self) -> bool {
                self.to_f32() != 0.0
            }
        }
    };
}
impl_elem_half!(f16, DType::F16);
impl_elem_half!(bf16, DType::BF16);

impl Elem for bool {
    const DTYPE: DType = DType::Bool;
    #[inline]
    fn to_f64(self) -> f64 {
        self as u8 as f64
    }
    #[inline]
    fn from_f64(v: f64) -> Self {
        v != 0.0
    }
    #[inline]
    fn to_i64(self) -> i64 {
        self as i64
    }
    #[inline]
    fn from_i64(v: i64) -> Self {
        v != 0
    }
    #[inline]
    fn is_nonzero(self) -> bool {
        self
    }
}

/// Runs `$body` with `$T` bound to the Rust type of `$dt`.
#[macro_export]
macro_rules! with_dtype {
    ($dt:expr, $T:ident, $body:expr) => {{
        use $crate::dtype::DType as __D;
        match $dt {
            __D::Bool => {
                type $T = bool;
                $body
            }
            __D::U8 => {
                type $T = u8;
                $body
            }
            __D::I8 => {
                type $T = i8;
                $body
            }
            __D::I16 => {
                type $T = i16;
                $body
            }
            __D::I32 => {
                type $T = i32;
                $body
            }
            __D::I64 => {
                type $T = i64;
                $body
            }
            __D::F16 => {
                type $T = half::f16;
                $body
            }
            __D::BF16 => {
                type $T = half::bf16;
                $body
            }
            __D::F32 => {
                type $T = f32;
                $body
            }
            __D::F64 => {
                type $T = f64;
                $body
            }
        }
    }};
}

/// Like `with_dtype!` but only for float dtypes; other dtypes reach `$else`.
#[macro_export]
macro_rules! with_float_dtype {
    ($dt:expr, $T:ident, $body:expr, $else:expr) => {{
        use $crate::dtype::DType as __D;
        match $dt {
            __D::F16 => {
                type $T = half::f16;
                $body
            }
            __D::BF16 => {
                type $T = half::bf16;
                $body
            }
            __D::F32 => {
                type $T = f32;
                $body
            }
            __D::F64 => {
                type $T = f64;
                $body
            }
            _ => $else,
        }
    }};
}

/// The one float policy of the CPU kernels that compute in a working precision: float64 stays
/// float64, every other dtype (halves included) is computed in float32 and rounded back by
/// the caller.
#[macro_export]
macro_rules! with_working_float {
    ($dt:expr, $F:ident, $body:expr) => {
        if $dt == $crate::dtype::DType::F64 {
            type $F = f64;
            $body
        } else {
            type $F = f32;
            $body
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn promotion_matches_pytorch() {
        use DType::*;
        assert_eq!(promote_types(U8, I8), I16);
        assert_eq!(promote_types(Bool, I32), I32);
        assert_eq!(promote_types(F16, BF16), F32);
        assert_eq!(promote_types(I64, F16), F16);
        assert_eq!(result_type(&[Operand::Dim(I64), Operand::Scalar(F32)]), F32);
        assert_eq!(result_type(&[Operand::Dim(U8), Operand::Scalar(I64)]), U8);
        assert_eq!(
            result_type(&[Operand::Dim(Bool), Operand::Scalar(I64)]),
            I64
        );
        assert_eq!(
            result_type(&[Operand::Dim(I32), Operand::ZeroDim(I64)]),
            I32
        );
        assert_eq!(
            result_type(&[Operand::Dim(F16), Operand::ZeroDim(F64)]),
            F16
        );
    }
}
