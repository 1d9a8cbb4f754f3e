//! CPU kernels. Every kernel reads strided inputs and writes a fresh contiguous output;
//! contiguous inputs take a slice fast path, and large outputs are split across rayon.

/// Defines `$name(args) -> ret`, which runs `$body` compiled for the first of the listed
/// target-feature builds whose check passes, and as is otherwise. An optional single generic
/// parameter (`fn name<F: Float> = body(...)`) is passed through (its bound must be in
/// scope), and the return type is one token tree (`-> f64`).
macro_rules! simd_dispatch {
    (
        $(#[$doc:meta])*
        fn $name:ident $(<$g:ident: $bound:path>)? = $body:ident $params:tt $(-> $ret:tt)?
        in [$($build:ident: $feat:literal if $has:path),+ $(,)?]
    ) => {
        $(#[$doc])*
        fn $name $(<$g: $bound>)? $params $(-> $ret)? {
            simd_dispatch!(@builds [$($g: $bound)?] [$($ret)?] [$($build $feat $has),+]; $body $params);
            simd_dispatch!(@call $body $params)
        }
    };
    (@builds $gen:tt $ret:tt []; $body:ident $params:tt) => {};
    (
        @builds $gen:tt $ret:tt [$build:ident $feat:literal $has:path $(, $rb:ident $rf:literal $rh:path)*];
        $body:ident $params:tt
    ) => {
        simd_dispatch!(@one $gen $ret $build $feat $has; $body $params);
        simd_dispatch!(@builds $gen $ret [$($rb $rf $rh),*]; $body $params);
    };
    (
        @one [$($g:ident: $bound:path)?] [$($ret:tt)?] $build:ident $feat:literal $has:path;
        $body:ident ($($arg:ident: $ty:ty),* $(,)?)
    ) => {
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = $feat)]
            unsafe fn $build $(<$g: $bound>)? ($($arg: $ty),*) $(-> $ret)? {
                $body($($arg),*)
            }
            if $has() {
                // SAFETY: the CPU supports the features the build is compiled for.
                return unsafe { $build($($arg),*) };
            }
        }
    };
    (@call $body:ident ($($arg:ident: $ty:ty),* $(,)?)) => {
        $body($($arg),*)
    };
}

pub mod arith;
mod binary;
pub mod buffer;
mod channel;
pub mod conv;
mod conv_gemm;
mod conv_winograd;
mod elementwise;
mod factor;
pub mod fastmath;
mod index;
mod layer_norm;
mod ldl;
pub mod matmul;
mod memory;
mod nn;
pub mod optim;
pub mod pool;
pub mod random;
pub mod reduce;
mod reduce_strided;
mod rnn;
pub mod scan_sort;
pub mod sgemm;
pub mod team;
mod transpose;
mod unary;
pub mod vmath;

use crate::backend::{Backend, Strided};
use crate::device::Device;
use crate::dtype::Elem;
use crate::error::Result;
use crate::layout::for_each_offset;
use std::sync::atomic::{AtomicBool, Ordering};

pub use buffer::{try_output, try_with_capacity, try_zeroed};

/// The CPU implementation of the backend contract (one impl block per family, next to its
/// kernels).
pub struct CpuBackend;

impl Backend for CpuBackend {
    fn device(&self) -> Device {
        Device::Cpu
    }
}

/// All host elements of a view's storage as `T` (index them with the layout's offsets).
#[inline]
pub fn elems<'a, T: Elem>(s: Strided<'a>) -> Result<&'a [T]> {
    s.storage.cpu_slice::<T>()
}

/// The view's elements as a contiguous slice when its layout allows it.
#[inline]
pub fn contiguous_elems<'a, T: Elem>(s: Strided<'a>) -> Result<Option<&'a [T]>> {
    if !s.is_contiguous() {
        return Ok(None);
    }
    let n = s.numel();
    if n == 0 {
        // A zero-size view may carry an offset past the end of its (empty) storage.
        return Ok(Some(&[]));
    }
    let all = elems::<T>(s)?;
    let o = s.layout.offset;
    Ok(Some(&all[o..o + n]))
}

/// The view's elements in row-major order, borrowed when contiguous, else gathered.
pub fn contiguous_or_gathered<'a, T: Elem>(s: Strided<'a>) -> Result<std::borrow::Cow<'a, [T]>> {
    Ok(match contiguous_elems::<T>(s)? {
        Some(c) => std::borrow::Cow::Borrowed(c),
        None => std::borrow::Cow::Owned(gather::<T>(s)?),
    })
}

/// Copies a view's elements into a new row-major Vec.
pub fn gather<T: Elem>(s: Strided) -> Result<Vec<T>> {
    if let Some(c) = contiguous_elems::<T>(s)? {
        let mut v = try_with_capacity(c.len())?;
        v.extend_from_slice(c);
        return Ok(v);
    }
    let src = elems::<T>(s)?;
    let l = s.layout;
    let mut out = try_output::<T>(l.numel())?;
    if !out.is_empty() && l.strides.iter().all(|&st| st == 0) {
        // One element broadcast everywhere (the gradient of a full reduction).
        out.fill(src[l.offset]);
        return Ok(out);
    }
    if !transpose::gather_tiled(src, l, &mut out) && !transpose::gather_rows(src, l, &mut out) {
        fill_strided(&mut out, &l.shape, [&l.strides], [l.offset], |[o]| src[o]);
    }
    Ok(out)
}

/// `out[i] = f(s[i])`.
pub fn map_elems<T: Elem, U: Elem>(s: Strided, f: impl Fn(T) -> U + Sync + Send) -> Result<Vec<U>> {
    let n = s.numel();
    let mut out = try_output::<U>(n)?;
    if let Some(c) = contiguous_elems::<T>(s)? {
        for_each_chunk(&mut out, CHUNK, n, |i, o| {
            let xs = &c[i * CHUNK..i * CHUNK + o.len()];
            o.iter_mut().zip(xs).for_each(|(o, &v)| *o = f(v));
        });
        return Ok(out);
    }
    let src = elems::<T>(s)?;
    let l = s.layout;
    let unit = l.strides.last() == Some(&1);
    let by_rows = fill_rows(
        &mut out,
        &l.shape,
        [&l.strides],
        [l.offset],
        |o, [start]| match row(src, start, o.len(), unit) {
            Row::Run(xs) => o.iter_mut().zip(xs).for_each(|(o, &x)| *o = f(x)),
            Row::Same(x) => o.fill(f(x)),
        },
    );
    if !by_rows {
        fill_strided(
            &mut out,
            &l.shape,
            [&l.strides],
            [l.offset],
            |[o]| f(src[o]),
        );
    }
    Ok(out)
}

/// Elementwise work below this many elements stays on the calling thread (a rayon call
/// costs several microseconds).
pub const PAR_THRESHOLD: usize = 1 << 16;
const CHUNK: usize = 1 << 15;

static PARALLEL: AtomicBool = AtomicBool::new(true);

/// Whether work of this size should use the rayon pool. Parallelism is switched off in a
/// forked child (the pool's threads do not survive `fork`) and by `set_num_threads(1)`.
#[inline]
pub fn parallel(work: usize) -> bool {
    work >= PAR_THRESHOLD && PARALLEL.load(Ordering::Relaxed)
}

pub fn set_parallel(on: bool) {
    PARALLEL.store(on, Ordering::Relaxed);
}

pub fn parallel_enabled() -> bool {
    PARALLEL.load(Ordering::Relaxed)
}

/// `set_num_threads(n)`: 1 keeps every kernel on the calling thread; more sizes rayon's
/// global pool, which is possible only before its first use. Returns the pool's size when it
/// was already running with another size (the caller warns), else None.
pub fn set_num_threads(n: usize) -> Option<usize> {
    set_parallel(n > 1);
    team::set_threads(n);
    if n <= 1 {
        return None;
    }
    // `current_num_threads` would start the pool: try to build it first.
    let built = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build_global()
        .is_ok();
    let size = rayon::current_num_threads();
    (!built && size != n).then_some(size)
}

/// Sizes the pool from `OMP_NUM_THREADS` (PyTorch's variable) when rayon's own
/// `RAYON_NUM_THREADS` is not set; called once at import, before any parallel work.
pub fn threads_from_env() {
    if std::env::var_os("RAYON_NUM_THREADS").is_some() {
        return;
    }
    let n = std::env::var("OMP_NUM_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok());
    if let Some(n) = n.filter(|&n| n >= 1) {
        let _ = set_num_threads(n);
    }
}

/// Runs `f(index, chunk)` over `size`-long chunks of `out`, in parallel when `work` is large.
pub fn for_each_chunk<T: Send>(
    out: &mut [T],
    size: usize,
    work: usize,
    f: impl Fn(usize, &mut [T]) + Sync + Send,
) {
    if size == 0 {
        return;
    }
    if parallel(work) {
        team::for_each_chunk(out, size, f);
    } else {
        out.chunks_mut(size).enumerate().for_each(|(i, c)| f(i, c));
    }
}

/// `f(index, chunk)` over `size`-long chunks of `out` like `for_each_chunk`, collecting what
/// each call returns (in chunk order).
pub fn map_chunks<T: Send, R: Send>(
    out: &mut [T],
    size: usize,
    work: usize,
    f: impl Fn(usize, &mut [T]) -> R + Sync + Send,
) -> Vec<R> {
    if size == 0 {
        return Vec::new();
    }
    if parallel(work) {
        let len = out.len();
        let chunks = team::SharedMut::new(out);
        team::map(len.div_ceil(size), |i| {
            // SAFETY: chunk i belongs to part i only.
            f(i, unsafe {
                chunks.range(i * size..((i + 1) * size).min(len))
            })
        })
    } else {
        out.chunks_mut(size)
            .enumerate()
            .map(|(i, c)| f(i, c))
            .collect()
    }
}

/// Fills `out[i] = f(i-th offsets)` for a logical `shape`, in parallel when large.
pub fn fill_strided<U: Send, const N: usize>(
    out: &mut [U],
    shape: &[usize],
    strides: [&[usize]; N],
    base: [usize; N],
    f: impl Fn([usize; N]) -> U + Sync,
) {
    let n = out.len();
    if parallel(n) {
        team::for_each_chunk(out, CHUNK, |c, chunk| {
            let start = c * CHUNK;
            let mut i = 0;
            for_each_offset(shape, strides, base, start, start + chunk.len(), |o| {
                chunk[i] = f(o);
                i += 1;
            });
        });
    } else {
        let mut i = 0;
        for_each_offset(shape, strides, base, 0, n, |o| {
            out[i] = f(o);
            i += 1;
        });
    }
}

/// Rows shorter than this go element by element (`fill_strided`).
const MIN_ROW: usize = 8;

/// The row-by-row twin of `fill_strided` for views whose last dim has stride 1 (or 0: one
/// value along the row) in every operand: `f(out_row, row_start_offsets)` for each row of
/// `shape`, in parallel when large. Returns false, having done nothing, otherwise.
pub fn fill_rows<U: Send, const N: usize>(
    out: &mut [U],
    shape: &[usize],
    strides: [&[usize]; N],
    base: [usize; N],
    f: impl Fn(&mut [U], [usize; N]) + Sync,
) -> bool {
    let Some((&inner, outer)) = shape.split_last() else {
        return false;
    };
    if inner < MIN_ROW || strides.iter().any(|s| !matches!(s.last(), Some(0 | 1))) {
        return false;
    }
    let k = outer.len();
    let outer_strides: [&[usize]; N] = std::array::from_fn(|i| &strides[i][..k]);
    let rows_per_chunk = (CHUNK / inner).max(1);
    let run = |c: usize, o: &mut [U]| {
        let (first, count) = (c * rows_per_chunk, o.len() / inner);
        let mut rows = o.chunks_mut(inner);
        for_each_offset(outer, outer_strides, base, first, first + count, |starts| {
            if let Some(row) = rows.next() {
                f(row, starts);
            }
        });
    };
    if parallel(out.len()) {
        team::for_each_chunk(out, rows_per_chunk * inner, run);
    } else {
        out.chunks_mut(rows_per_chunk * inner)
            .enumerate()
            .for_each(|(c, o)| run(c, o));
    }
    true
}

/// One row of an operand in `fill_rows`: its elements, or one value along the row.
enum Row<'a, T> {
    Run(&'a [T]),
    Same(T),
}

/// The row of `src` from `start`, `len` long, with a unit (or else zero) last stride.
#[inline(always)]
fn row<T: Copy>(src: &[T], start: usize, len: usize, unit: bool) -> Row<'_, T> {
    if unit {
        Row::Run(&src[start..start + len])
    } else {
        Row::Same(src[start])
    }
}

/// `out[i] = f(a[i], b[i])` for two views already broadcast to one shape.
pub fn zip_elems<A: Elem, B: Elem, U: Elem>(
    a: Strided,
    b: Strided,
    f: impl Fn(A, B) -> U + Sync + Send,
) -> Result<Vec<U>> {
    let (la, lb) = (a.layout, b.layout);
    let sa = elems::<A>(a)?;
    let sb = elems::<B>(b)?;
    let n = la.numel();
    let mut out = try_output::<U>(n)?;
    if n == 0 {
        return Ok(out);
    }
    let both = la.is_contiguous() && lb.is_contiguous();
    let a_scalar = la.strides.iter().all(|&s| s == 0);
    let b_scalar = lb.strides.iter().all(|&s| s == 0);
    if both {
        let xa = &sa[la.offset..la.offset + n];
        let xb = &sb[lb.offset..lb.offset + n];
        for_each_chunk(&mut out, CHUNK, n, |c, o| {
            let r = c * CHUNK..c * CHUNK + o.len();
            let (xs, ys) = (&xa[r.clone()], &xb[r]);
            o.iter_mut()
                .zip(xs.iter().zip(ys))
                .for_each(|(o, (&x, &y))| *o = f(x, y));
        });
        return Ok(out);
    }
    // A scalar operand (all strides zero) against a contiguous one.
    if b_scalar && la.is_contiguous() {
        let y = sb[lb.offset];
        let xa = &sa[la.offset..la.offset + n];
        for_each_chunk(&mut out, CHUNK, n, |c, o| {
            let xs = &xa[c * CHUNK..c * CHUNK + o.len()];
            o.iter_mut().zip(xs).for_each(|(o, &x)| *o = f(x, y));
        });
        return Ok(out);
    }
    if a_scalar && lb.is_contiguous() {
        let x = sa[la.offset];
        let xb = &sb[lb.offset..lb.offset + n];
        for_each_chunk(&mut out, CHUNK, n, |c, o| {
            let ys = &xb[c * CHUNK..c * CHUNK + o.len()];
            o.iter_mut().zip(ys).for_each(|(o, &y)| *o = f(x, y));
        });
        return Ok(out);
    }
    let (ua, ub) = (la.strides.last() == Some(&1), lb.strides.last() == Some(&1));
    let by_rows = fill_rows(
        &mut out,
        &la.shape,
        [&la.strides, &lb.strides],
        [la.offset, lb.offset],
        |o, [oa, ob]| match (row(sa, oa, o.len(), ua), row(sb, ob, o.len(), ub)) {
            (Row::Run(xs), Row::Run(ys)) => o
                .iter_mut()
                .zip(xs.iter().zip(ys))
                .for_each(|(o, (&x, &y))| *o = f(x, y)),
            (Row::Run(xs), Row::Same(y)) => o.iter_mut().zip(xs).for_each(|(o, &x)| *o = f(x, y)),
            (Row::Same(x), Row::Run(ys)) => o.iter_mut().zip(ys).for_each(|(o, &y)| *o = f(x, y)),
            (Row::Same(x), Row::Same(y)) => o.fill(f(x, y)),
        },
    );
    if !by_rows {
        fill_strided(
            &mut out,
            &la.shape,
            [&la.strides, &lb.strides],
            [la.offset, lb.offset],
            |[oa, ob]| f(sa[oa], sb[ob]),
        );
    }
    Ok(out)
}

/// Writes row-major `src` into the (possibly strided) elements of `dst`.
///
/// The caller guarantees `src` does not alias `dst`'s storage and that no other reference to
/// `dst`'s elements is alive (the storage write rule).
pub fn write_elems<T: Elem>(dst: Strided, src: &[T]) -> Result<()> {
    let l = dst.layout;
    if src.len() != l.numel() {
        return Err(crate::rt_err!(
            "internal error: writing {} elements into a view of {}",
            src.len(),
            l.numel()
        ));
    }
    if src.is_empty() {
        return Ok(());
    }
    // SAFETY: src is a separate buffer; each element of dst is written once, and the layout
    // was checked against the storage when the view was built.
    let out = unsafe { dst.storage.cpu_slice_mut::<T>()? };
    if l.is_contiguous() {
        out[l.offset..l.offset + src.len()].copy_from_slice(src);
        return Ok(());
    }
    if let Some((&inner, outer)) = l.shape.split_last() {
        if inner >= 8 && l.strides.last() == Some(&1) {
            // Unit-stride rows (a column slice, a `narrow`): one copy per row, in order.
            let rows = outer.iter().product::<usize>();
            let mut i = 0;
            for_each_offset(
                outer,
                [&l.strides[..outer.len()]],
                [l.offset],
                0,
                rows,
                |[o]| {
                    out[o..o + inner].copy_from_slice(&src[i..i + inner]);
                    i += inner;
                },
            );
            return Ok(());
        }
    }
    let mut i = 0;
    for_each_offset(&l.shape, [&l.strides], [l.offset], 0, l.numel(), |[o]| {
        out[o] = src[i];
        i += 1;
    });
    Ok(())
}

/// Converts between element types: floats through f64, bool and integers through i64 (so an
/// int64 beyond 2^53 rounds once into a float type, as in PyTorch and the CUDA kernels).
#[inline]
pub fn convert<T: Elem, U: Elem>(v: T) -> U {
    use crate::dtype::DType;
    if U::DTYPE == DType::Bool {
        return U::from_bool(v.is_nonzero());
    }
    if T::DTYPE.is_float() {
        U::from_f64(v.to_f64())
    } else {
        U::from_i64(v.to_i64())
    }
}
