//! Elementwise maps: unary math functions, predicates and parameterised maps, binary ops
//! (tensor or scalar right-hand side) on broadcast layouts, `where`, and `any`.
//!
//! Dtype conventions: the tensor layer has already promoted the operands. For `unary`, `src`
//! has the dtype of the result (integer inputs of float-only functions were cast to float32);
//! a backend may compute half types in float32 internally. For `binary`, both operands have
//! the compute dtype; comparisons and logical ops produce Bool, every other op the compute
//! dtype.

use super::Strided;
use crate::error::Result;
use crate::storage::Storage;
use crate::tensor::creation_scalar::Scalar;

/// Math functions of one tensor (the differentiable family; gradient rules live in
/// `tensor/unary.rs`). On integer dtypes only `keeps_int` ops are defined.
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
    /// x·Φ(x), Φ the standard normal CDF.
    Gelu,
    /// GELU's tanh approximation, x/2·(1 + tanh(√(2/π)(x + 0.044715x³))).
    GeluTanh,
    /// The derivative of `Gelu` (a backward helper).
    GeluGrad,
    /// The derivative of `GeluTanh` (a backward helper).
    GeluTanhGrad,
}

impl UnaryOp {
    /// Ops defined on integers that keep the integer dtype (the others compute in float).
    pub fn keeps_int(self) -> bool {
        use UnaryOp::*;
        matches!(
            self,
            Neg | Abs | Sign | Relu | Floor | Ceil | Round | Trunc | Square
        )
    }
}

/// Non-differentiable maps of one tensor: predicates (Bool output), bitwise/logical not, and
/// maps with parameters (output dtype = input dtype).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MapOp {
    /// `x == 0`, Bool output.
    LogicalNot,
    /// `!x` on integers (Bool: logical not).
    BitwiseNot,
    IsNan,
    IsInf,
    IsFinite,
    SignBit,
    /// Floats only: replaces NaN / +inf / -inf.
    NanToNum {
        nan: f64,
        posinf: f64,
        neginf: f64,
    },
    /// `min(max(x, min), max)`; NaN stays NaN. Bounds are converted to the input dtype.
    Clamp {
        min: Option<Scalar>,
        max: Option<Scalar>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    TruncDiv,
    Rem,
    Fmod,
    Pow,
    Maximum,
    Minimum,
    Atan2,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    LogicalAnd,
    LogicalOr,
    LogicalXor,
    BitAnd,
    BitOr,
    BitXor,
    Shl,
    Shr,
}

impl BinaryOp {
    /// PyTorch's name of the op, for messages.
    pub fn name(self) -> &'static str {
        use BinaryOp::*;
        match self {
            Add => "add",
            Sub => "sub",
            Mul => "mul",
            Div => "div",
            FloorDiv => "floor_divide",
            TruncDiv => "div(trunc)",
            Rem => "remainder",
            Fmod => "fmod",
            Pow => "pow",
            Maximum => "maximum",
            Minimum => "minimum",
            Atan2 => "atan2",
            Eq => "eq",
            Ne => "ne",
            Lt => "lt",
            Le => "le",
            Gt => "gt",
            Ge => "ge",
            LogicalAnd => "logical_and",
            LogicalOr => "logical_or",
            LogicalXor => "logical_xor",
            BitAnd => "bitwise_and",
            BitOr => "bitwise_or",
            BitXor => "bitwise_xor",
            Shl => "bitwise_left_shift",
            Shr => "bitwise_right_shift",
        }
    }
    pub fn is_compare(self) -> bool {
        use BinaryOp::*;
        matches!(self, Eq | Ne | Lt | Le | Gt | Ge)
    }
    pub fn is_logical(self) -> bool {
        use BinaryOp::*;
        matches!(self, LogicalAnd | LogicalOr | LogicalXor)
    }
    pub fn is_bitwise(self) -> bool {
        use BinaryOp::*;
        matches!(self, BitAnd | BitOr | BitXor | Shl | Shr)
    }
    /// Integer division-like ops, which raise on a zero divisor.
    pub fn divides(self) -> bool {
        use BinaryOp::*;
        matches!(self, FloorDiv | TruncDiv | Rem | Fmod)
    }
}

/// The right-hand operand of a binary op.
#[derive(Clone, Copy)]
pub enum Rhs<'a> {
    /// A view already broadcast to the left operand's shape, of the same dtype.
    Tensor(Strided<'a>),
    /// A Python number, converted to the compute dtype as PyTorch casts (wrapping).
    Scalar(Scalar),
}

pub trait ElementwiseKernels {
    /// `op(src)`, a fresh contiguous storage of `src`'s shape and dtype.
    fn unary(&self, op: UnaryOp, src: Strided) -> Result<Storage>;

    /// `op(src)`: Bool for predicates and `LogicalNot`, `src`'s dtype otherwise.
    fn map(&self, op: MapOp, src: Strided) -> Result<Storage>;

    /// `op(lhs, rhs)` elementwise over `lhs`'s shape. Errors: integer division, remainder or
    /// fmod by zero ("ZeroDivisionError"); an integer `Pow` by a negative scalar.
    fn binary(&self, op: BinaryOp, lhs: Strided, rhs: Rhs) -> Result<Storage>;

    /// In place: `dst[i] = op(dst[i], rhs[i])` visiting `dst` in row-major order, so that
    /// elements of a self-overlapping `dst` accumulate. `rhs` must not overlap `dst`, and `op`
    /// must keep the dtype (not a comparison).
    fn binary_into(&self, op: BinaryOp, dst: Strided, rhs: Rhs) -> Result<()>;

    /// `cond ? a : b` elementwise; all three views already broadcast to one shape, `cond` Bool,
    /// `a` and `b` of one dtype (the output's).
    fn where_(&self, cond: Strided, a: Strided, b: Strided) -> Result<Storage>;

    /// Whether any element is nonzero (false for an empty view).
    fn any(&self, src: Strided) -> Result<bool>;
}
