//! Broadcasting binary ops: arithmetic, comparison, logical and bitwise, with PyTorch's type
//! promotion, plus `where`. Gradient rules sit next to each forward.

use super::creation::Scalar;
use super::Tensor;
use crate::autograd::{self, SavedTensor, SavedValue};
pub use crate::backend::BinaryOp;
use crate::backend::{Rhs, Strided};
use crate::device::Device;
use crate::dtype::{result_type, DType, Operand};
use crate::error::{Error, Result};
use crate::shape::broadcast_shapes;

/// One operand of a binary op: a tensor or a Python number.
#[derive(Clone, Copy)]
pub enum Arg<'a> {
    T(&'a Tensor),
    S(Scalar),
}

impl<'a> From<&'a Tensor> for Arg<'a> {
    fn from(t: &'a Tensor) -> Self {
        Arg::T(t)
    }
}
impl From<Scalar> for Arg<'_> {
    fn from(s: Scalar) -> Self {
        Arg::S(s)
    }
}
impl From<f64> for Arg<'_> {
    fn from(s: f64) -> Self {
        Arg::S(Scalar::Float(s))
    }
}

impl Arg<'_> {
    fn operand(&self) -> Operand {
        match self {
            Arg::T(t) if t.ndim() == 0 => Operand::ZeroDim(t.dtype()),
            Arg::T(t) => Operand::Dim(t.dtype()),
            Arg::S(s) => Operand::Scalar(s.dtype()),
        }
    }
    fn shape(&self) -> &[usize] {
        match self {
            Arg::T(t) => t.shape(),
            Arg::S(_) => &[],
        }
    }
    /// The operand as a tensor of `dtype` on `device` (a copy only when needed). Python
    /// numbers wrap into the dtype, as PyTorch casts them.
    fn tensor_as(&self, dtype: DType, device: Device) -> Result<Tensor> {
        let t = match self {
            Arg::T(t) if t.dtype() == dtype => (*t).clone(),
            Arg::T(t) => t.to_dtype_raw(dtype)?,
            Arg::S(s) => Tensor::scalar_of(*s, dtype),
        };
        t.to_device_raw(device)
    }
    fn as_tensor(&self) -> Option<&Tensor> {
        match self {
            Arg::T(t) => Some(t),
            Arg::S(_) => None,
        }
    }
}

/// The compute dtype and the output dtype of `op` on these operands.
fn dtypes(op: BinaryOp, a: &Arg, b: &Arg) -> Result<(DType, DType)> {
    let common = result_type(&[a.operand(), b.operand()]);
    use BinaryOp::*;
    Ok(match op {
        _ if op.is_compare() => (common, DType::Bool),
        _ if op.is_logical() => (DType::Bool, DType::Bool),
        _ if op.is_bitwise() => {
            // Shifts are not defined on bool either (PyTorch's kernel names).
            let shift = match op {
                Shl => Some("lshift"),
                Shr => Some("rshift"),
                _ => None,
            };
            if common.is_float() || (shift.is_some() && common == DType::Bool) {
                return Err(Error::Runtime(format!(
                    "\"{}_cpu\" not implemented for '{}'",
                    shift.unwrap_or(op.name()),
                    pretty_dtype(common)
                )));
            }
            (common, common)
        }
        Div | Atan2 => {
            let d = common.to_float();
            (d, d)
        }
        Sub if common == DType::Bool => {
            return Err(Error::Runtime(
                "Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or `logical_xor()` operator instead.".into(),
            ))
        }
        _ => (common, common),
    })
}

pub fn pretty_dtype(d: DType) -> &'static str {
    match d {
        DType::Bool => "Bool",
        DType::U8 => "Byte",
        DType::I8 => "Char",
        DType::I16 => "Short",
        DType::I32 => "Int",
        DType::I64 => "Long",
        DType::F16 => "Half",
        DType::BF16 => "BFloat16",
        DType::F32 => "Float",
        DType::F64 => "Double",
    }
}

/// The forward value of `op(a, b)` with broadcasting and promotion; no graph recording.
pub(crate) fn binary_raw(op: BinaryOp, a: Arg, b: Arg) -> Result<Tensor> {
    let (compute, _out) = dtypes(op, &a, &b)?;
    let shape = broadcast_shapes(a.shape(), b.shape()).map_err(|e| match e {
        Error::Runtime(m) => Error::Runtime(format!("{}: {m}", op.name())),
        e => e,
    })?;
    let tensors: Vec<&Tensor> = [a.as_tensor(), b.as_tensor()]
        .into_iter()
        .flatten()
        .collect();
    let device = super::check_same_device(op.name(), &tensors)?;
    let ta = a.tensor_as(compute, device)?;
    let la = ta.layout().broadcast_to(&shape)?;
    let lhs = Strided::new(ta.storage(), &la);
    let be = crate::backend::backend(device)?;
    let out = match b {
        // A Python number on the right stays a scalar (no broadcast tensor).
        Arg::S(s) => be.binary(op, lhs, Rhs::Scalar(s))?,
        Arg::T(_) => {
            let tb = b.tensor_as(compute, device)?;
            let lb = tb.layout().broadcast_to(&shape)?;
            be.binary(op, lhs, Rhs::Tensor(Strided::new(tb.storage(), &lb)))?
        }
    };
    Tensor::from_kernel(out, &shape)
}

/// `a op= b` written straight into `a`'s storage when autograd does not record it and the
/// result already has `a`'s dtype and shape; otherwise computed out of place and written back
/// (which also raises PyTorch's errors for casts and shapes that an in-place op refuses).
pub fn binary_inplace(op: BinaryOp, a: &Tensor, b: Arg) -> Result<()> {
    let _prof = crate::profiler::scope(
        crate::profiler::EventKind::Op,
        || format!("aten::{}_", op.name()).into(),
        || arg_shapes(&[&Arg::T(a), &b]),
    );
    let recorded = autograd::is_grad_enabled()
        && (a.requires_grad() || b.as_tensor().is_some_and(|t| t.requires_grad()));
    let direct = !recorded
        && !op.is_compare()
        && !op.is_logical()
        && matches!(dtypes(op, &Arg::T(a), &b), Ok((c, o)) if c == a.dtype() && o == a.dtype())
        && broadcast_shapes(a.shape(), b.shape()).is_ok_and(|s| s == a.shape());
    if !direct {
        return a.inplace(|x| binary(op, Arg::T(x), b));
    }
    a.check_no_internal_overlap()?;
    let tensors: Vec<&Tensor> = [Some(a), b.as_tensor()].into_iter().flatten().collect();
    let device = super::check_same_device(op.name(), &tensors)?;
    let be = crate::backend::backend(device)?;
    match b {
        Arg::S(s) => be.binary_into(op, a.strided(), Rhs::Scalar(s))?,
        Arg::T(_) => {
            let tb = b.tensor_as(a.dtype(), device)?;
            let lb = tb.layout().broadcast_to(a.shape())?;
            be.binary_into(
                op,
                a.strided(),
                Rhs::Tensor(Strided::new(tb.storage(), &lb)),
            )?
        }
    }
    a.storage().bump_version();
    Ok(())
}

/// Sums a broadcast gradient back to `shape`.
pub fn sum_to(g: &Tensor, shape: &[usize]) -> Result<Tensor> {
    if g.shape() == shape {
        return Ok(g.clone());
    }
    let Some(lead) = g.ndim().checked_sub(shape.len()) else {
        return Err(Error::Runtime(format!(
            "sum_to: gradient of shape {:?} cannot be reduced to shape {shape:?}",
            g.shape()
        )));
    };
    let mut dims: Vec<i64> = (0..lead as i64).collect();
    for (i, &s) in shape.iter().enumerate() {
        if s == 1 && g.shape()[lead + i] != 1 {
            dims.push((lead + i) as i64);
        }
    }
    // An empty dim list would mean "reduce everything": only reshape then.
    let r = if dims.is_empty() {
        g.clone()
    } else {
        g.sum_dims(&dims, true, None)?
    };
    r.reshape(&shape.iter().map(|&s| s as i64).collect::<Vec<_>>())
}

fn saved(a: &Arg) -> Option<SavedTensor> {
    a.as_tensor().map(SavedTensor::new)
}

/// An operand as a saved value: the tensor, or the Python number.
fn arg_value(a: &Arg) -> SavedValue {
    match a {
        Arg::T(t) => SavedValue::tensor(t),
        Arg::S(s) => scalar_value(*s),
    }
}

pub(crate) fn scalar_value(s: Scalar) -> SavedValue {
    match s {
        Scalar::Bool(v) => SavedValue::Bool(v),
        Scalar::Int(v) => SavedValue::Int(v),
        Scalar::Float(v) => SavedValue::Float(v),
    }
}

/// The names PyTorch gives the values saved by the node of a binary op.
fn binary_saved(op: BinaryOp, a: &Arg, b: &Arg) -> autograd::SavedList {
    use BinaryOp::*;
    match op {
        Add | Sub => vec![("alpha", SavedValue::Int(1))],
        // `self` is what the gradient of `other` needs: none when `other` is a Python number.
        Mul | Div | Maximum | Minimum | Atan2 => vec![
            ("other", arg_value(b)),
            (
                "self",
                SavedValue::opt(a.as_tensor().filter(|_| b.as_tensor().is_some())),
            ),
        ],
        Pow => vec![
            ("exponent", arg_value(b)),
            ("self", SavedValue::opt(a.as_tensor())),
        ],
        _ => Vec::new(),
    }
}

/// Operand shapes for the profiler (a scalar is a 0-d operand).
fn arg_shapes(args: &[&Arg]) -> Vec<Vec<usize>> {
    args.iter().map(|a| a.shape().to_vec()).collect()
}

/// The autocast list name of `op(a, b)`: `pow` in all its forms and a number divided by a
/// tensor (`__rdiv__`) run in float32 on CUDA.
fn amp_name(op: BinaryOp, a: &Arg, b: &Arg) -> Option<&'static str> {
    match (op, a, b) {
        (BinaryOp::Pow, Arg::S(_), _) => Some("rpow"),
        (BinaryOp::Pow, _, _) => Some("pow"),
        (BinaryOp::Div, Arg::S(_), Arg::T(_)) => Some("rdiv"),
        _ => None,
    }
}

/// `op(a, b)` with autograd.
pub fn binary(op: BinaryOp, a: Arg, b: Arg) -> Result<Tensor> {
    if crate::amp::is_active() {
        if let Some(name) = amp_name(op, &a, &b) {
            let ts: Vec<&Tensor> = [a.as_tensor(), b.as_tensor()]
                .into_iter()
                .flatten()
                .collect();
            if let Some(c) = crate::amp::apply(name, &ts)? {
                let mut cast = c.args.iter();
                let mut pick = |x: Arg<'_>| -> Option<Tensor> {
                    x.as_tensor().and_then(|_| cast.next().cloned())
                };
                let (ca, cb) = (pick(a), pick(b));
                let a2 = ca.as_ref().map_or(a, Arg::T);
                let b2 = cb.as_ref().map_or(b, Arg::T);
                return binary(op, a2, b2);
            }
        }
    }
    let _prof = crate::profiler::scope(
        crate::profiler::EventKind::Op,
        || format!("aten::{}", op.name()).into(),
        || arg_shapes(&[&a, &b]),
    );
    let out = binary_raw(op, a, b)?;
    let inputs: Vec<&Tensor> = [a.as_tensor(), b.as_tensor()]
        .into_iter()
        .flatten()
        .collect();
    if !autograd::needs_grad(&inputs) || !out.dtype().is_float() {
        return Ok(out);
    }
    use BinaryOp::*;
    let sa: Vec<usize> = a.shape().to_vec();
    let sb: Vec<usize> = b.shape().to_vec();
    let (ka, kb) = (a.as_tensor().is_some(), b.as_tensor().is_some());
    let (va, vb) = (saved(&a), saved(&b));
    let (ca, cb) = (scalar_of(&a), scalar_of(&b));
    let odt = out.dtype();
    // Maps (grad, needs) → grads for (a, b) before reduction to their shapes.
    type Rule = Box<dyn Fn(&Tensor, [bool; 2]) -> Result<[Option<Tensor>; 2]> + Send + Sync>;
    let name: &'static str;
    let rule: Rule = match op {
        Add => {
            name = "AddBackward0";
            Box::new(|g, _| Ok([Some(g.clone()), Some(g.clone())]))
        }
        Sub => {
            name = "SubBackward0";
            Box::new(|g, [_, nb]| Ok([Some(g.clone()), if nb { Some(g.neg()?) } else { None }]))
        }
        Mul => {
            name = "MulBackward0";
            Box::new(move |g, [na, nb]| {
                let ga = if na {
                    Some(g.mul(&operand(&vb, cb, odt)?)?)
                } else {
                    None
                };
                let gb = if nb {
                    Some(g.mul(&operand(&va, ca, odt)?)?)
                } else {
                    None
                };
                Ok([ga, gb])
            })
        }
        Div => {
            name = "DivBackward0";
            Box::new(move |g, [na, nb]| {
                let bv = operand(&vb, cb, odt)?;
                let ga = if na { Some(g.div(&bv)?) } else { None };
                let gb = if nb {
                    let av = operand(&va, ca, odt)?;
                    Some(g.neg()?.mul(&av)?.div(&bv.mul(&bv)?)?)
                } else {
                    None
                };
                Ok([ga, gb])
            })
        }
        Pow => {
            name = "PowBackward0";
            Box::new(move |g, [na, nb]| {
                let av = operand(&va, ca, odt)?;
                let bv = operand(&vb, cb, odt)?;
                let ga = if na {
                    // b * a^(b-1), with 0 where b == 0 (PyTorch's masking).
                    let d = bv.mul(&av.pow(&bv.sub_scalar(1.0)?)?)?;
                    let d = Tensor::where_(
                        &bv.eq_scalar(0.0)?,
                        &Tensor::scalar_of(0.0, d.dtype()),
                        &d,
                    )?;
                    Some(g.mul(&d)?)
                } else {
                    None
                };
                let gb = if nb {
                    // a^b * ln(a), with 0 where a == 0 and b >= 0.
                    let d = av.pow(&bv)?.mul(&av.log()?)?;
                    let mask = av.eq_scalar(0.0)?.logical_and(&bv.ge_scalar(0.0)?)?;
                    let d = Tensor::where_(&mask, &Tensor::scalar_of(0.0, d.dtype()), &d)?;
                    Some(g.mul(&d)?)
                } else {
                    None
                };
                Ok([ga, gb])
            })
        }
        Maximum | Minimum => {
            name = if op == Maximum {
                "MaximumBackward0"
            } else {
                "MinimumBackward0"
            };
            Box::new(move |g, [na, nb]| {
                let av = operand(&va, ca, odt)?;
                let bv = operand(&vb, cb, odt)?;
                let half = Tensor::where_(&av.eq(&bv)?, &g.mul_scalar(0.5)?, g)?;
                let zero = Tensor::scalar_of(0.0, g.dtype());
                let (lose_a, lose_b) = if op == Maximum {
                    (av.lt(&bv)?, av.gt(&bv)?)
                } else {
                    (av.gt(&bv)?, av.lt(&bv)?)
                };
                let ga = if na {
                    Some(Tensor::where_(&lose_a, &zero, &half)?)
                } else {
                    None
                };
                let gb = if nb {
                    Some(Tensor::where_(&lose_b, &zero, &half)?)
                } else {
                    None
                };
                Ok([ga, gb])
            })
        }
        Atan2 => {
            name = "Atan2Backward0";
            Box::new(move |g, [na, nb]| {
                let av = operand(&va, ca, odt)?;
                let bv = operand(&vb, cb, odt)?;
                let den = av.mul(&av)?.add(&bv.mul(&bv)?)?;
                let ga = if na {
                    Some(g.mul(&bv.div(&den)?)?)
                } else {
                    None
                };
                let gb = if nb {
                    Some(g.mul(&av.neg()?.div(&den)?)?)
                } else {
                    None
                };
                Ok([ga, gb])
            })
        }
        Rem | Fmod => {
            name = if op == Rem {
                "RemainderBackward0"
            } else {
                "FmodBackward0"
            };
            Box::new(move |g, [_, nb]| {
                let gb = if nb {
                    let av = operand(&va, ca, odt)?;
                    let bv = operand(&vb, cb, odt)?;
                    let q = if op == Rem {
                        binary(FloorDiv, Arg::T(&av), Arg::T(&bv))?
                    } else {
                        binary(TruncDiv, Arg::T(&av), Arg::T(&bv))?
                    };
                    Some(g.neg()?.mul(&q)?)
                } else {
                    None
                };
                Ok([Some(g.clone()), gb])
            })
        }
        FloorDiv | TruncDiv => {
            name = "DivBackward1";
            Box::new(|g, _| {
                let z = g.mul_scalar(0.0)?;
                Ok([Some(z.clone()), Some(z)])
            })
        }
        _ => return Ok(out),
    };
    let out_dtype = out.dtype();
    let (da, db) = (
        a.as_tensor().map(|t| t.dtype()),
        b.as_tensor().map(|t| t.dtype()),
    );
    let rec_inputs = inputs.clone();
    autograd::record(&out, name, &rec_inputs, move |g, needs| {
        // `needs` lines up with the tensor operands only.
        let mut it = needs.iter().copied();
        let na = ka && it.next().unwrap_or(false);
        let nb = kb && it.next().unwrap_or(false);
        let [ga, gb] = rule(g, [na, nb])?;
        let mut res = Vec::new();
        if ka {
            res.push(match ga {
                Some(x) if na => Some(finish(x, &sa, da, out_dtype)?),
                _ => None,
            });
        }
        if kb {
            res.push(match gb {
                Some(x) if nb => Some(finish(x, &sb, db, out_dtype)?),
                _ => None,
            });
        }
        Ok(res)
    });
    autograd::describe(&out, || binary_saved(op, &a, &b));
    Ok(out)
}

/// Reduces a gradient to the input's shape and casts it back to the input's dtype.
fn finish(g: Tensor, shape: &[usize], dtype: Option<DType>, _out: DType) -> Result<Tensor> {
    let g = sum_to(&g, shape)?;
    match dtype {
        Some(d) if d != g.dtype() && d.is_float() => g.to_dtype(d),
        _ => Ok(g),
    }
}

fn scalar_of(a: &Arg) -> Option<Scalar> {
    match a {
        Arg::S(s) => Some(*s),
        _ => None,
    }
}

/// A saved operand, or the Python number as a 0-d tensor of the op's dtype.
fn operand(v: &Option<SavedTensor>, c: Option<Scalar>, dtype: DType) -> Result<Tensor> {
    match (v, c) {
        (Some(v), _) => Ok(v.get()?.clone()),
        (None, Some(s)) => Ok(Tensor::scalar_of(s, dtype)),
        _ => Err(Error::Runtime("binary backward: missing operand".into())),
    }
}

macro_rules! binary_methods {
    ($($name:ident, $sname:ident => $op:ident;)*) => {
        impl Tensor {
            $(
                pub fn $name(&self, other: &Tensor) -> Result<Tensor> {
                    binary(BinaryOp::$op, Arg::T(self), Arg::T(other))
                }
                pub fn $sname(&self, other: impl Into<Scalar>) -> Result<Tensor> {
                    binary(BinaryOp::$op, Arg::T(self), Arg::S(other.into()))
                }
            )*
        }
    };
}

binary_methods! {
    add, add_scalar => Add;
    sub, sub_scalar => Sub;
    mul, mul_scalar => Mul;
    div, div_scalar => Div;
    floor_divide, floor_divide_scalar => FloorDiv;
    remainder, remainder_scalar => Rem;
    fmod, fmod_scalar => Fmod;
    pow, pow_scalar => Pow;
    maximum, maximum_scalar => Maximum;
    minimum, minimum_scalar => Minimum;
    atan2, atan2_scalar => Atan2;
    eq, eq_scalar => Eq;
    ne, ne_scalar => Ne;
    lt, lt_scalar => Lt;
    le, le_scalar => Le;
    gt, gt_scalar => Gt;
    ge, ge_scalar => Ge;
    logical_and, logical_and_scalar => LogicalAnd;
    logical_or, logical_or_scalar => LogicalOr;
    logical_xor, logical_xor_scalar => LogicalXor;
    bitwise_and, bitwise_and_scalar => BitAnd;
    bitwise_or, bitwise_or_scalar => BitOr;
    bitwise_xor, bitwise_xor_scalar => BitXor;
    bitwise_left_shift, bitwise_left_shift_scalar => Shl;
    bitwise_right_shift, bitwise_right_shift_scalar => Shr;
}

/// `fmax`/`fmin` (`op` is `Maximum`/`Minimum`): like `maximum`/`minimum`, but a NaN loses to a
/// number; the result is NaN only where both operands are.
pub fn nan_ignoring(op: BinaryOp, a: Arg, b: Arg) -> Result<Tensor> {
    let m = binary(op, a, b)?;
    if !m.dtype().is_float() {
        return Ok(m);
    }
    let isnan = |x: Arg| match x {
        Arg::T(t) => t.isnan(),
        Arg::S(s) => Ok(Tensor::scalar(s.to_f64().is_nan())),
    };
    let m = Tensor::where_args(&isnan(b)?, a, Arg::T(&m))?;
    Tensor::where_args(&isnan(a)?, b, Arg::T(&m))
}

impl Tensor {
    /// `torch.where(cond, a, b)`, differentiable in `a` and `b`.
    pub fn where_(cond: &Tensor, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        Self::where_args(cond, Arg::T(a), Arg::T(b))
    }

    pub fn where_args(cond: &Tensor, a: Arg, b: Arg) -> Result<Tensor> {
        let _prof = crate::profiler::scope(
            crate::profiler::EventKind::Op,
            || "aten::where".into(),
            || {
                let mut s = vec![cond.shape().to_vec()];
                s.extend(arg_shapes(&[&a, &b]));
                s
            },
        );
        if !matches!(cond.dtype(), DType::Bool | DType::U8) {
            return Err(Error::Runtime(format!(
                "where expected condition to be a boolean tensor, but got a tensor with dtype {}",
                pretty_dtype(cond.dtype())
            )));
        }
        let dt = result_type(&[a.operand(), b.operand()]);
        let shape = broadcast_shapes(&broadcast_shapes(cond.shape(), a.shape())?, b.shape())
            .map_err(|e| Error::Runtime(format!("where: {e}")))?;
        let all: Vec<&Tensor> = [Some(cond), a.as_tensor(), b.as_tensor()]
            .into_iter()
            .flatten()
            .collect();
        let device = super::check_same_device("where", &all)?;
        let cond_b = Arg::T(cond).tensor_as(DType::Bool, device)?;
        let (ta, tb) = (a.tensor_as(dt, device)?, b.tensor_as(dt, device)?);
        let lc = cond_b.layout().broadcast_to(&shape)?;
        let la = ta.layout().broadcast_to(&shape)?;
        let lb = tb.layout().broadcast_to(&shape)?;
        let out = crate::backend::backend(device)?.where_(
            Strided::new(cond_b.storage(), &lc),
            Strided::new(ta.storage(), &la),
            Strided::new(tb.storage(), &lb),
        )?;
        let out = Tensor::from_kernel(out, &shape)?;
        let inputs: Vec<&Tensor> = [a.as_tensor(), b.as_tensor()]
            .into_iter()
            .flatten()
            .collect();
        if !autograd::needs_grad(&inputs) || !dt.is_float() {
            return Ok(out);
        }
        let (ka, kb) = (a.as_tensor().is_some(), b.as_tensor().is_some());
        let (sa, sb) = (a.shape().to_vec(), b.shape().to_vec());
        let (da, db) = (
            a.as_tensor().map(|t| t.dtype()),
            b.as_tensor().map(|t| t.dtype()),
        );
        let c = cond_b.clone();
        autograd::record(&out, "WhereBackward0", &inputs, move |g, needs| {
            let zero = Tensor::scalar_of(0.0, g.dtype());
            let mut res = Vec::new();
            let mut it = needs.iter().copied();
            if ka {
                res.push(if it.next().unwrap_or(false) {
                    Some(finish(Tensor::where_(&c, g, &zero)?, &sa, da, dt)?)
                } else {
                    None
                });
            }
            if kb {
                res.push(if it.next().unwrap_or(false) {
                    Some(finish(Tensor::where_(&c, &zero, g)?, &sb, db, dt)?)
                } else {
                    None
                });
            }
            Ok(res)
        });
        autograd::describe(&out, || vec![("condition", SavedValue::tensor(&cond_b))]);
        Ok(out)
    }

    /// `lerp(self, end, weight)` = self + weight * (end - self).
    pub fn lerp(&self, end: &Tensor, weight: Arg) -> Result<Tensor> {
        let diff = end.sub(self)?;
        let step = match weight {
            Arg::T(w) => diff.mul(w)?,
            Arg::S(s) => diff.mul_scalar(s)?,
        };
        self.add(&step)
    }

    /// Elementwise equality of shapes and values (`torch.equal`).
    pub fn equal(&self, other: &Tensor) -> Result<bool> {
        if self.shape() != other.shape() {
            return Ok(false);
        }
        let ne = binary_raw(BinaryOp::Ne, Arg::T(self), Arg::T(other))?;
        Ok(!ne.backend()?.any(ne.strided())?)
    }
}
