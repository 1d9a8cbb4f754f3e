//! Elementwise family on the GPU: one kernel per dtype and shape of operation, the op chosen
//! by a code (the enums in cuda/elementwise.cu mirror the order of the Rust enums below).

use super::context::{cu_err, gpu, Gpu};
use super::kernels::Family;
use super::launch::{elem_bits, launch, lays, new_storage, ptr, sfx, Lay};
use crate::backend::{BinaryOp, ElementwiseKernels, MapOp, Rhs, Strided, UnaryOp};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::storage::Storage;
use cudarc::driver::result;

const INTS: [DType; 5] = [DType::U8, DType::I8, DType::I16, DType::I32, DType::I64];
const FLOATS: [DType; 4] = [DType::F16, DType::BF16, DType::F32, DType::F64];

pub(super) fn kernel_names() -> Vec<String> {
    let mut v = Vec::new();
    for dt in DType::ALL {
        let s = sfx(dt);
        for k in [
            "unary",
            "pred",
            "clamp",
            "any",
            "binary",
            "compare",
            "binary_into",
        ] {
            v.push(format!("{k}_{s}"));
        }
        if !dt.is_float() {
            v.push(format!("bitnot_{s}"));
        }
    }
    for dt in FLOATS {
        v.push(format!("nan_to_num_{}", sfx(dt)));
    }
    for dt in INTS {
        v.push(format!("has_zero_{}", sfx(dt)));
    }
    for b in [1, 2, 4, 8] {
        v.push(format!("where_b{b}"));
    }
    v
}

fn unary_code(op: UnaryOp) -> i32 {
    use UnaryOp::*;
    [
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
        Gelu,
        GeluTanh,
        GeluGrad,
        GeluTanhGrad,
    ]
    .iter()
    .position(|&o| o == op)
    .unwrap_or(0) as i32
}

fn binary_code(op: BinaryOp) -> i32 {
    use BinaryOp::*;
    [
        Add, Sub, Mul, Div, FloorDiv, TruncDiv, Rem, Fmod, Pow, Maximum, Minimum, Atan2, Eq, Ne,
        Lt, Le, Gt, Ge, LogicalAnd, LogicalOr, LogicalXor, BitAnd, BitOr, BitXor, Shl, Shr,
    ]
    .iter()
    .position(|&o| o == op)
    .unwrap_or(0) as i32
}

impl Gpu {
    /// Runs a flag kernel (`name(x, lay, n, flag)`) over `src` and reads the flag back.
    fn flag_kernel(&self, name: String, src: Strided) -> Result<bool> {
        let g = gpu(self.index)?;
        let n = src.numel();
        if n == 0 {
            return Ok(false);
        }
        let flag = new_storage(g, 1, DType::I32)?;
        let fp = ptr(&flag)?;
        g.bind()?;
        // SAFETY: `fp` holds 4 bytes.
        unsafe { result::memset_d8_async(fp, 0, 4, g.cu_stream()) }.map_err(cu_err)?;
        let [lx] = lays(src.shape(), [(&src.layout.strides, src.layout.offset)])?;
        let (xp, n64) = (ptr(src.storage)?, n as i64);
        launch!(g, Family::Elementwise, name, g.grid(n); xp, lx, n64, fp)?;
        let mut host = [0u32; 1];
        g.bind()?;
        // SAFETY: reads the 4 bytes written above into a 4-byte host buffer.
        unsafe { result::memcpy_dtoh_async(&mut host[..], fp, g.cu_stream()) }.map_err(cu_err)?;
        g.sync()?;
        Ok(host[0] != 0)
    }

    /// Integer division by zero raises (as on the CPU) before anything is computed.
    fn check_divisor(&self, op: BinaryOp, lhs: Strided, rhs: Rhs) -> Result<()> {
        let dt = lhs.dtype();
        if !(dt.is_int() && (op.divides() || op == BinaryOp::Pow)) || lhs.numel() == 0 {
            return Ok(());
        }
        let zero = match (op, rhs) {
            (BinaryOp::Pow, Rhs::Scalar(s)) => {
                if s.to_f64() < 0.0 {
                    return Err(Error::Runtime(
                        "Integers to negative integer powers are not allowed.".into(),
                    ));
                }
                false
            }
            (BinaryOp::Pow, Rhs::Tensor(_)) => false,
            (_, Rhs::Scalar(s)) => elem_bits(dt, s) == 0,
            (_, Rhs::Tensor(b)) => self.flag_kernel(format!("has_zero_{}", sfx(dt)), b)?,
        };
        if zero {
            return Err(Error::Runtime("ZeroDivisionError".into()));
        }
        Ok(())
    }

    /// A map kernel `name(x, lay, out, n, extra...)` over `src` into a fresh storage.
    fn map_into_new(
        &self,
        src: Strided,
        out_dtype: DType,
    ) -> Result<(Storage, u64, Lay, u64, i64)> {
        let g = gpu(self.index)?;
        let n = src.numel();
        let out = new_storage(g, n, out_dtype)?;
        let [lx] = lays(src.shape(), [(&src.layout.strides, src.layout.offset)])?;
        let op = ptr(&out)?;
        Ok((out, ptr(src.storage)?, lx, op, n as i64))
    }
}

/// Layouts of `lhs` and `rhs` (or a placeholder for a scalar) over `lhs`'s shape, plus the
/// output's contiguous layout when `out` is set; and the scalar flag and bits.
fn operands(lhs: Strided, rhs: Rhs) -> Result<(Lay, u64, Lay, i32, u64)> {
    match rhs {
        Rhs::Tensor(b) => {
            let [la, lb] = lays(
                lhs.shape(),
                [
                    (&lhs.layout.strides, lhs.layout.offset),
                    (&b.layout.strides, b.layout.offset),
                ],
            )?;
            Ok((la, ptr(b.storage)?, lb, 0, 0))
        }
        Rhs::Scalar(s) => {
            let [la] = lays(lhs.shape(), [(&lhs.layout.strides, lhs.layout.offset)])?;
            Ok((la, 0, Lay::contiguous(0, 0), 1, elem_bits(lhs.dtype(), s)))
        }
    }
}

impl ElementwiseKernels for Gpu {
    fn unary(&self, op: UnaryOp, src: Strided) -> Result<Storage> {
        let g = gpu(self.index)?;
        let (out, xp, lx, outp, n) = self.map_into_new(src, src.dtype())?;
        if n > 0 {
            let code = unary_code(op);
            let name = format!("unary_{}", sfx(src.dtype()));
            launch!(g, Family::Elementwise, name, g.grid(n as usize); code, xp, lx, outp, n)?;
        }
        Ok(out)
    }

    fn map(&self, op: MapOp, src: Strided) -> Result<Storage> {
        let g = gpu(self.index)?;
        let dt = src.dtype();
        let s = sfx(dt);
        let code = match op {
            MapOp::LogicalNot => 0,
            MapOp::IsNan => 1,
            MapOp::IsInf => 2,
            MapOp::IsFinite => 3,
            MapOp::SignBit => 4,
            _ => -1,
        };
        let out_dtype = if code >= 0 { DType::Bool } else { dt };
        let (out, xp, lx, outp, n) = self.map_into_new(src, out_dtype)?;
        if n == 0 {
            return Ok(out);
        }
        let cfg = g.grid(n as usize);
        match op {
            MapOp::BitwiseNot => {
                if dt.is_float() {
                    return Err(Error::Runtime(format!(
                        "internal error: bitwise_not on {}",
                        dt.name()
                    )));
                }
                launch!(g, Family::Elementwise, format!("bitnot_{s}"), cfg; xp, lx, outp, n)?
            }
            MapOp::NanToNum {
                nan,
                posinf,
                neginf,
            } => {
                if !dt.is_float() {
                    return Err(Error::Runtime(format!(
                        "internal error: nan_to_num on {}",
                        dt.name()
                    )));
                }
                let [a, b, c] = [nan, posinf, neginf].map(|v| elem_bits(dt, v.into()));
                launch!(g, Family::Elementwise, format!("nan_to_num_{s}"), cfg;
                    xp, lx, outp, n, a, b, c)?
            }
            MapOp::Clamp { min, max } => {
                let (has_lo, lo) = (min.is_some() as i32, min.map_or(0, |v| elem_bits(dt, v)));
                let (has_hi, hi) = (max.is_some() as i32, max.map_or(0, |v| elem_bits(dt, v)));
                launch!(g, Family::Elementwise, format!("clamp_{s}"), cfg;
                    xp, lx, outp, n, has_lo, lo, has_hi, hi)?
            }
            _ => launch!(g, Family::Elementwise, format!("pred_{s}"), cfg; code, xp, lx, outp, n)?,
        }
        Ok(out)
    }

    fn binary(&self, op: BinaryOp, lhs: Strided, rhs: Rhs) -> Result<Storage> {
        let g = gpu(self.index)?;
        if let Rhs::Tensor(b) = rhs {
            if b.dtype() != lhs.dtype() || b.shape() != lhs.shape() {
                return Err(Error::Runtime(format!(
                    "internal error: {} operands {} {:?} and {} {:?}",
                    op.name(),
                    lhs.dtype().name(),
                    lhs.shape(),
                    b.dtype().name(),
                    b.shape()
                )));
            }
        }
        self.check_divisor(op, lhs, rhs)?;
        let boolean = op.is_compare() || op.is_logical();
        let out_dtype = if boolean { DType::Bool } else { lhs.dtype() };
        let n = lhs.numel();
        let out = new_storage(g, n, out_dtype)?;
        if n == 0 {
            return Ok(out);
        }
        let (la, bp, lb, scalar, sbits) = operands(lhs, rhs)?;
        let (ap, outp, n64, code) = (ptr(lhs.storage)?, ptr(&out)?, n as i64, binary_code(op));
        let kind = if boolean { "compare" } else { "binary" };
        let name = format!("{kind}_{}", sfx(lhs.dtype()));
        launch!(g, Family::Elementwise, name, g.grid(n);
            code, ap, la, bp, lb, scalar, sbits, outp, n64)?;
        Ok(out)
    }

    fn binary_into(&self, op: BinaryOp, dst: Strided, rhs: Rhs) -> Result<()> {
        let g = gpu(self.index)?;
        if op.is_compare() || op.is_logical() {
            return Err(Error::Runtime(format!(
                "internal error: in-place {} changes the dtype",
                op.name()
            )));
        }
        self.check_divisor(op, dst, rhs)?;
        let n = dst.numel();
        if n == 0 {
            return Ok(());
        }
        let (ld, bp, lb, scalar, sbits) = operands(dst, rhs)?;
        let (dp, n64, code) = (ptr(dst.storage)?, n as i64, binary_code(op));
        let name = format!("binary_into_{}", sfx(dst.dtype()));
        launch!(g, Family::Elementwise, name, g.grid(n); code, dp, ld, bp, lb, scalar, sbits, n64)
    }

    fn where_(&self, cond: Strided, a: Strided, b: Strided) -> Result<Storage> {
        let g = gpu(self.index)?;
        let n = a.numel();
        let out = new_storage(g, n, a.dtype())?;
        if n == 0 {
            return Ok(out);
        }
        let [lc, la, lb] = lays(
            a.shape(),
            [
                (&cond.layout.strides, cond.layout.offset),
                (&a.layout.strides, a.layout.offset),
                (&b.layout.strides, b.layout.offset),
            ],
        )?;
        let (cp, ap, bp, outp, n64) = (
            ptr(cond.storage)?,
            ptr(a.storage)?,
            ptr(b.storage)?,
            ptr(&out)?,
            n as i64,
        );
        let name = format!("where_b{}", a.dtype().size());
        launch!(g, Family::Elementwise, name, g.grid(n); cp, lc, ap, la, bp, lb, outp, n64)?;
        Ok(out)
    }

    fn any(&self, src: Strided) -> Result<bool> {
        self.flag_kernel(format!("any_{}", sfx(src.dtype())), src)
    }
}
