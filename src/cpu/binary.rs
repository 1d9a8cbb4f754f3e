//! CPU kernels of two operands: binary ops (tensor or scalar right-hand side), the in-place
//! variant, `where`, and `any`.

use super::arith::Arith;
use super::{contiguous_or_gathered, elems, fill_strided, map_elems, zip_elems};
use crate::backend::{BinaryOp, Rhs, Strided};
use crate::dtype::{DType, Elem};
use crate::error::{Error, Result};
use crate::layout::{for_each_offset, Layout};
use crate::storage::Storage;

/// `out[i] = f(a[i], b[i])` with `b` a broadcast view or a scalar.
fn run<T: Elem, U: Elem>(
    a: Strided,
    b: Rhs,
    f: impl Fn(T, T) -> U + Sync + Send,
) -> Result<Vec<U>> {
    match b {
        Rhs::Scalar(s) => {
            let y = s.to_elem::<T>();
            map_elems::<T, U>(a, move |x| f(x, y))
        }
        Rhs::Tensor(b) => zip_elems::<T, T, U>(a, b, f),
    }
}

/// The arithmetic ops as one function (a predictable branch per element keeps the number of
/// generic instantiations, and compile time, down).
#[inline(always)]
fn arith<T: Arith>(op: BinaryOp, x: T, y: T) -> T {
    use BinaryOp::*;
    match op {
        Add => T::add(x, y),
        Sub => T::sub(x, y),
        Mul => T::mul(x, y),
        Div => T::div(x, y),
        FloorDiv => T::floordiv(x, y),
        TruncDiv => match T::DTYPE {
            DType::F64 => T::from_f64((x.to_f64() / y.to_f64()).trunc()),
            // The quotient rounded to float first, as PyTorch (and the CUDA kernels) compute
            // it for float and the half types: it may round up to the next integer.
            DType::F32 | DType::F16 | DType::BF16 => {
                T::from_f64(((x.to_f64() as f32) / (y.to_f64() as f32)).trunc() as f64)
            }
            _ => T::div(x, y),
        },
        Rem => T::rem(x, y),
        Fmod => {
            if T::DTYPE.is_float() {
                T::from_f64(x.to_f64() % y.to_f64())
            } else if T::is_zero(y) {
                T::default()
            } else {
                T::from_i64(x.to_i64().wrapping_rem(y.to_i64()))
            }
        }
        Pow => T::pow(x, y),
        Maximum => T::maximum(x, y),
        Minimum => T::minimum(x, y),
        Atan2 => T::from_f64(x.to_f64().atan2(y.to_f64())),
        _ => bitwise(op, x, y),
    }
}

/// Bitwise ops and shifts with PyTorch's rules: a shift by a negative amount or by at least
/// the bit width gives 0 (`<<`) or the sign fill (`>>`), never a wrapped shift amount.
#[inline(always)]
fn bitwise<T: Elem>(op: BinaryOp, x: T, y: T) -> T {
    use BinaryOp::*;
    let (p, q) = (x.to_i64(), y.to_i64());
    let bits = (T::DTYPE.size() * 8) as i64;
    let signed = T::DTYPE != DType::U8;
    T::from_i64(match op {
        BitAnd => p & q,
        BitOr => p | q,
        BitXor => p ^ q,
        Shl => {
            if !(0..bits).contains(&q) {
                0
            } else {
                p << q
            }
        }
        _ => {
            // `p` holds the sign-extended value, so an arithmetic shift fills with its sign.
            let max = bits - signed as i64;
            if !(0..max).contains(&q) {
                p >> max.min(63)
            } else {
                p >> q
            }
        }
    })
}

fn kernel<T: Arith>(op: BinaryOp, a: Strided, b: Rhs) -> Result<Storage> {
    use BinaryOp::*;
    if op.is_compare() || op.is_logical() {
        // One loop per predicate: a `match op` per element kept the loop scalar.
        macro_rules! test {
            ($f:expr) => {
                run::<T, bool>(a, b, $f)?
            };
        }
        let v = match op {
            Eq => test!(|x: T, y: T| x == y),
            Ne => test!(|x: T, y: T| x != y),
            Lt => test!(|x: T, y: T| x < y),
            Le => test!(|x: T, y: T| x <= y),
            Gt => test!(|x: T, y: T| x > y),
            Ge => test!(|x: T, y: T| x >= y),
            LogicalAnd => test!(|x: T, y: T| x.is_nonzero() && y.is_nonzero()),
            LogicalOr => test!(|x: T, y: T| x.is_nonzero() || y.is_nonzero()),
            _ => test!(|x: T, y: T| x.is_nonzero() != y.is_nonzero()),
        };
        return Ok(Storage::from_vec(v));
    }
    if op.is_bitwise() {
        return Ok(Storage::from_vec(run::<T, T>(a, b, move |x, y| {
            bitwise(op, x, y)
        })?));
    }
    if T::DTYPE == DType::F32 || T::DTYPE == DType::F64 {
        // Hot float paths get their own tight loops.
        let v = match op {
            Add => Some(run::<T, T>(a, b, T::add)?),
            Sub => Some(run::<T, T>(a, b, T::sub)?),
            Mul => Some(run::<T, T>(a, b, T::mul)?),
            Div => Some(run::<T, T>(a, b, T::div)?),
            _ => None,
        };
        if let Some(v) = v {
            return Ok(Storage::from_vec(v));
        }
    }
    Ok(Storage::from_vec(run::<T, T>(a, b, move |x, y| {
        arith(op, x, y)
    })?))
}

/// The view with its broadcast (stride 0) dims collapsed to size 1: each stored element
/// once.
fn distinct(s: Strided) -> Layout {
    let l = s.layout;
    let shape = l
        .shape
        .iter()
        .zip(&l.strides)
        .map(|(&n, &st)| if st == 0 { n.min(1) } else { n })
        .collect();
    Layout {
        shape,
        strides: l.strides.clone(),
        offset: l.offset,
    }
}

/// PyTorch's checks that run inside its integer kernels: division by zero, and an integer
/// power with a negative scalar exponent.
fn check_operands(op: BinaryOp, a: Strided, b: Rhs) -> Result<()> {
    let dt = a.dtype();
    if !(dt.is_int() && (op.divides() || op == BinaryOp::Pow)) || a.numel() == 0 {
        return Ok(());
    }
    if op == BinaryOp::Pow {
        return match b {
            Rhs::Scalar(s) if s.to_f64() < 0.0 => Err(Error::Runtime(
                "Integers to negative integer powers are not allowed.".into(),
            )),
            _ => Ok(()),
        };
    }
    let zero = match b {
        Rhs::Scalar(s) => crate::with_dtype!(dt, T, !s.to_elem::<T>().is_nonzero()),
        Rhs::Tensor(b) => {
            let l = distinct(b);
            let view = Strided::new(b.storage, &l);
            crate::with_dtype!(dt, T, {
                contiguous_or_gathered::<T>(view)?
                    .iter()
                    .any(|v| !v.is_nonzero())
            })
        }
    };
    if zero {
        return Err(Error::Runtime("ZeroDivisionError".into()));
    }
    Ok(())
}

pub(super) fn binary(op: BinaryOp, a: Strided, b: Rhs) -> Result<Storage> {
    if let Rhs::Tensor(b) = b {
        if b.dtype() != a.dtype() || b.shape() != a.shape() {
            return Err(Error::Runtime(format!(
                "internal error: {} operands {} {:?} and {} {:?}",
                op.name(),
                a.dtype().name(),
                a.shape(),
                b.dtype().name(),
                b.shape()
            )));
        }
    }
    check_operands(op, a, b)?;
    crate::with_dtype!(a.dtype(), T, kernel::<T>(op, a, b))
}

pub(super) fn binary_into(op: BinaryOp, dst: Strided, b: Rhs) -> Result<()> {
    if op.is_compare() || op.is_logical() {
        return Err(Error::Runtime(format!(
            "internal error: in-place {} changes the dtype",
            op.name()
        )));
    }
    check_operands(op, dst, b)?;
    let l = dst.layout;
    let n = l.numel();
    if let Rhs::Tensor(s) = b {
        if s.shape() != l.shape.as_slice() {
            return Err(Error::Runtime(format!(
                "internal error: {} into {:?} from {:?}",
                op.name(),
                l.shape,
                s.shape()
            )));
        }
    }
    if n == 0 {
        return Ok(());
    }
    crate::with_dtype!(dst.dtype(), T, {
        // A separate buffer when the operand shares dst's storage (no aliasing slices).
        let copy: Option<(Vec<T>, Layout)> = match b {
            Rhs::Tensor(s) if std::ptr::eq(s.storage, dst.storage) => {
                Some((super::gather::<T>(s)?, Layout::contiguous(&l.shape)))
            }
            _ => None,
        };
        let rhs: Option<(&[T], &Layout)> = match (b, &copy) {
            (Rhs::Scalar(_), _) => None,
            (Rhs::Tensor(_), Some((v, cl))) => Some((v.as_slice(), cl)),
            (Rhs::Tensor(s), None) => Some((super::elems::<T>(s)?, s.layout)),
        };
        let y = match b {
            Rhs::Scalar(s) => s.to_elem::<T>(),
            Rhs::Tensor(_) => T::default(),
        };
        // SAFETY: no other slice of dst's storage is alive (rhs was copied when it shares
        // it); the layout was checked against the storage when the view was built.
        let out = unsafe { dst.storage.cpu_slice_mut::<T>()? };
        let rhs_contiguous = match rhs {
            None => Some(None),
            Some((v, rl)) if rl.is_contiguous() => Some(Some(&v[rl.offset..rl.offset + n])),
            Some(_) => None,
        };
        if let (true, Some(r)) = (l.is_contiguous(), rhs_contiguous) {
            into_contiguous(op, &mut out[l.offset..l.offset + n], r, y);
            return Ok(());
        }
        if into_rows(op, out, l, rhs, y) {
            return Ok(());
        }
        let gathered: Option<std::borrow::Cow<[T]>> = match (b, &copy) {
            (Rhs::Scalar(_), _) => None,
            (Rhs::Tensor(_), Some((v, _))) => Some(std::borrow::Cow::Borrowed(v.as_slice())),
            (Rhs::Tensor(s), None) => Some(contiguous_or_gathered::<T>(s)?),
        };
        if let Some(g) = &gathered {
            // An operand without unit-stride rows (a transposed gradient), gathered once:
            // the destination's rows still take the contiguous loop.
            let rows = Layout::contiguous(&l.shape);
            if into_rows(op, out, l, Some((g, &rows)), y) {
                return Ok(());
            }
        }
        let mut i = 0;
        // Sequential, so that overlapping destination elements accumulate.
        for_each_offset(&l.shape, [&l.strides], [l.offset], 0, n, |[o]| {
            let v = gathered.as_ref().map_or(y, |r| r[i]);
            out[o] = arith(op, out[o], v);
            i += 1;
        });
        Ok(())
    })
}

/// Elements per part of the in-place loops split across threads.
const INTO_CHUNK: usize = 1 << 15;

/// `out[i] = op(out[i], rhs[i] or y)` over a contiguous destination, split across threads
/// when large.
fn into_contiguous<T: Arith>(op: BinaryOp, out: &mut [T], rhs: Option<&[T]>, y: T) {
    let work = out.len();
    super::for_each_chunk(out, INTO_CHUNK, work, |c, o| {
        let r = rhs.map(|r| &r[c * INTO_CHUNK..c * INTO_CHUNK + o.len()]);
        into_run(op, o, r, y);
    });
}

/// `out[i] = op(out[i], rhs[i] or y)` over one contiguous run; the common float ops get
/// branch-free loops that vectorise.
#[inline]
fn into_run<T: Arith>(op: BinaryOp, o: &mut [T], r: Option<&[T]>, y: T) {
    let hot = T::DTYPE == DType::F32 || T::DTYPE == DType::F64;
    if hot
        && matches!(
            op,
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div
        )
    {
        // The float loops in wide-vector builds: a memory-bound in-place add streams a little
        // faster with fewer, wider loads and stores (16M floats on one Zen 5 core, the loop
        // alone: 3.1–3.3 ms with 16-byte vectors, 3.0 ms with 32- or 64-byte ones).
        return into_run_wide(op, o, r, y);
    }
    into_run_body(op, o, r, y)
}

simd_dispatch! {
    /// `into_run_body` in the widest vector build the CPU has.
    fn into_run_wide<T: Arith> = into_run_body(op: BinaryOp, o: &mut [T], r: Option<&[T]>, y: T)
    in [
        avx512: "avx512f,avx2,fma" if super::vmath::has_avx512,
        avx2: "avx2,fma" if super::vmath::has_avx2_fma,
    ]
}

#[inline(always)]
fn into_run_body<T: Arith>(op: BinaryOp, o: &mut [T], r: Option<&[T]>, y: T) {
    let hot = T::DTYPE == DType::F32 || T::DTYPE == DType::F64;
    macro_rules! each {
        ($f:expr) => {
            match r {
                Some(r) => o.iter_mut().zip(r).for_each(|(x, &v)| *x = $f(*x, v)),
                None => o.iter_mut().for_each(|x| *x = $f(*x, y)),
            }
        };
    }
    match op {
        BinaryOp::Add if hot => each!(T::add),
        BinaryOp::Sub if hot => each!(T::sub),
        BinaryOp::Mul if hot => each!(T::mul),
        BinaryOp::Div if hot => each!(T::div),
        _ => each!(|a, b| arith(op, a, b)),
    }
}

/// Shortest unit-stride last dim worth a row-by-row loop.
const MIN_ROW: usize = 8;

/// The in-place op row by row through the contiguous loop, where the destination's last
/// dim is unit-stride and its elements distinct (a `narrow` or column slice, the gradient
/// of one piece of a `chunk`) and the operand's last dim is unit-stride too (any outer
/// strides: a bias broadcast over rows is read in place, not expanded); rows split across
/// threads when large. Returns false, having done nothing, for other layouts.
fn into_rows<T: Arith>(
    op: BinaryOp,
    out: &mut [T],
    l: &Layout,
    rhs: Option<(&[T], &Layout)>,
    y: T,
) -> bool {
    let Some((&inner, outer)) = l.shape.split_last() else {
        return false;
    };
    let unit_rows = |l: &Layout| l.strides.last() == Some(&1);
    if inner < MIN_ROW
        || !unit_rows(l)
        || rhs.is_some_and(|(_, rl)| !unit_rows(rl))
        || !(l.is_contiguous() || l.elements_distinct())
    {
        return false;
    }
    let rows = outer.iter().product::<usize>();
    let mut starts = Vec::with_capacity(rows);
    let k = outer.len();
    let (rv, rl) = match rhs {
        Some((v, rl)) => (Some(v), rl),
        None => (None, l),
    };
    for_each_offset(
        outer,
        [&l.strides[..k], &rl.strides[..k]],
        [l.offset, rl.offset],
        0,
        rows,
        |o| starts.push(o),
    );
    let per_part = (INTO_CHUNK / inner).max(1);
    let shared = super::team::SharedMut::new(out);
    let part = |p: usize| {
        for &[s, r] in starts.iter().skip(p * per_part).take(per_part) {
            // SAFETY: the elements are distinct, so rows never overlap, and each row is
            // reached by one part only; the layout lies inside the storage.
            let o = unsafe { shared.range(s..s + inner) };
            into_run(op, o, rv.map(|v| &v[r..r + inner]), y);
        }
    };
    let parts = rows.div_ceil(per_part);
    if super::parallel(rows * inner) {
        super::team::run(parts, part);
    } else {
        (0..parts).for_each(part);
    }
    true
}

pub(super) fn where_(cond: Strided, a: Strided, b: Strided) -> Result<Storage> {
    let n = cond.numel();
    if cond.dtype() != DType::Bool
        || a.dtype() != b.dtype()
        || a.shape() != cond.shape()
        || b.shape() != cond.shape()
    {
        return Err(Error::Runtime(
            "internal error: where expects a Bool condition and operands broadcast to one shape of one dtype".into(),
        ));
    }
    crate::with_dtype!(a.dtype(), T, {
        let mut out = super::try_output::<T>(n)?;
        if n == 0 {
            return Ok(Storage::from_vec(out));
        }
        let (sc, xa, xb) = (elems::<bool>(cond)?, elems::<T>(a)?, elems::<T>(b)?);
        let (lc, la, lb) = (cond.layout, a.layout, b.layout);
        let sides = (side(xa, la, n), side(xb, lb, n));
        if let (true, Some(x), Some(y)) = (lc.is_contiguous(), sides.0, sides.1) {
            let c = &sc[lc.offset..lc.offset + n];
            super::for_each_chunk(&mut out, 1 << 15, n, |k, o| {
                let r = k << 15..(k << 15) + o.len();
                let c = &c[r.clone()];
                // One loop per operand kind, each a branch-free select that vectorises.
                match (x, y) {
                    (Side::Elems(x), Side::Elems(y)) => {
                        let (x, y) = (&x[r.clone()], &y[r]);
                        for ((o, &c), (&x, &y)) in o.iter_mut().zip(c).zip(x.iter().zip(y)) {
                            *o = if c { x } else { y };
                        }
                    }
                    (Side::Elems(x), Side::Value(y)) => {
                        let x = &x[r];
                        for ((o, &c), &x) in o.iter_mut().zip(c).zip(x) {
                            *o = if c { x } else { y };
                        }
                    }
                    (Side::Value(x), Side::Elems(y)) => {
                        let y = &y[r];
                        for ((o, &c), &y) in o.iter_mut().zip(c).zip(y) {
                            *o = if c { x } else { y };
                        }
                    }
                    (Side::Value(x), Side::Value(y)) => {
                        for (o, &c) in o.iter_mut().zip(c) {
                            *o = if c { x } else { y };
                        }
                    }
                }
            });
        } else {
            fill_strided(
                &mut out,
                &lc.shape,
                [&lc.strides, &la.strides, &lb.strides],
                [lc.offset, la.offset, lb.offset],
                |[c, i, j]| if sc[c] { xa[i] } else { xb[j] },
            );
        }
        Ok(Storage::from_vec(out))
    })
}

/// A `where` operand read without index arithmetic: contiguous elements, or one value
/// broadcast everywhere (a scalar branch such as `where(m, x, 0.0)`).
#[derive(Clone, Copy)]
enum Side<'a, T> {
    Elems(&'a [T]),
    Value(T),
}

fn side<'a, T: Copy>(xs: &'a [T], l: &Layout, n: usize) -> Option<Side<'a, T>> {
    if l.is_contiguous() {
        Some(Side::Elems(&xs[l.offset..l.offset + n]))
    } else if l.strides.iter().all(|&s| s == 0) {
        Some(Side::Value(xs[l.offset]))
    } else {
        None
    }
}

pub(super) fn any(src: Strided) -> Result<bool> {
    if src.numel() == 0 {
        return Ok(false);
    }
    let l = distinct(src);
    let view = Strided::new(src.storage, &l);
    crate::with_dtype!(src.dtype(), T, {
        Ok(contiguous_or_gathered::<T>(view)?
            .iter()
            .any(|v| v.is_nonzero()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trunc_division_rounds_the_quotient_in_the_working_precision() {
        // 16777213 / (1 - 2^-24) = 16777213.99999988..., which float rounds to 16777214
        let (x, y) = (16_777_213.0f32, 1.0 - f32::EPSILON / 2.0);
        assert_eq!(arith(BinaryOp::TruncDiv, x, y), 16_777_214.0);
        assert_eq!(arith(BinaryOp::TruncDiv, x as f64, y as f64), 16_777_213.0);
    }
}
