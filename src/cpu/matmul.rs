//! Batched matrix multiply on strided operands: f32 through our AVX2 kernel where the CPU
//! has it (`super::sgemm`), otherwise and for f64/f16 through the `gemm` crate;
//! bf16 goes through f32; integers and bool use a plain i64-accumulating loop.

use super::{elems, gather, try_zeroed, CpuBackend};
use crate::backend::{LinalgKernels, Strided};
use crate::dtype::{DType, Elem};
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::storage::Storage;

/// Work (m·n·k) above which gemm gets the rayon pool: below it (a recurrent step, a small
/// layer) waking the pool costs more than the second core gives.
const PAR_WORK: usize = 10_000_000;

/// The same threshold for our own float32 kernel, whose split runs on the team (helpers
/// that stay awake between kernels): a fork-join costs microseconds there, so products from
/// about a million multiply-adds on (an LSTM cell's gates at batch 32: 4–8 M) gain from the
/// second core. Measured at 2 threads: 1 M (32×128·128×256) 0.73–0.98× the single-threaded
/// time, 2–4 M 0.6–0.76×, 0.5 M 0.86–1.33×.
const OWN_PAR_WORK: usize = 1 << 20;

/// One operand: its elements and a 3-D layout `[batch, rows, cols]` inside them.
struct Operand<'a, T> {
    data: &'a [T],
    offset: usize,
    strides: [usize; 3],
}

impl<'a, T: Elem> Operand<'a, T> {
    /// Checks that `l` is `[batch, rows, cols]` and that every element it addresses lies in
    /// `data` (the bound for the raw pointers handed to gemm).
    fn new(data: &'a [T], l: &Layout, shape: [usize; 3]) -> Result<Operand<'a, T>> {
        if l.shape != shape || l.strides.len() != 3 {
            return Err(Error::Runtime(format!(
                "internal error: matmul operand of shape {:?}, expected {:?}",
                l.shape, shape
            )));
        }
        l.check_fits(data.len())?;
        Ok(Operand {
            data,
            offset: l.offset,
            strides: [l.strides[0], l.strides[1], l.strides[2]],
        })
    }

    #[inline]
    fn at(&self, b: usize, r: usize, c: usize) -> T {
        self.data[self.offset + b * self.strides[0] + r * self.strides[1] + c * self.strides[2]]
    }

    /// Pointer to the first element of matrix `b` (in bounds: checked in `new`).
    fn matrix_ptr(&self, b: usize) -> *const T {
        self.data[self.offset + b * self.strides[0]..].as_ptr()
    }
}

/// Calls gemm for `dst = lhs @ rhs` (row-major `m × n` dst).
///
/// # Safety
/// `a` and `b` point to matrices whose strided `m × k` / `k × n` elements are in bounds; `dst`
/// holds `m·n` elements and does not alias them.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn gemm_call<T: Elem>(
    dst: &mut [T],
    a: *const T,
    sa: [usize; 3],
    b: *const T,
    sb: [usize; 3],
    m: usize,
    n: usize,
    k: usize,
    par: gemm::Parallelism,
) {
    // gemm: dst = alpha·dst + beta·lhs·rhs; alpha = 0 and `read_dst = false` ignore dst.
    macro_rules! call {
        ($t:ty, $zero:expr, $one:expr) => {
            gemm::gemm::<$t>(
                m,
                n,
                k,
                dst.as_mut_ptr() as *mut $t,
                1,
                n as isize,
                false,
                a as *const $t,
                sa[2] as isize,
                sa[1] as isize,
                b as *const $t,
                sb[2] as isize,
                sb[1] as isize,
                $zero,
                $one,
                false,
                false,
                false,
                par,
            )
        };
    }
    match T::DTYPE {
        DType::F32 => {
            // SAFETY: the caller's contract (operands in bounds, dst separate and m×n);
            // the output is dense row-major.
            let done = super::sgemm::suits(k)
                && super::sgemm::sgemm(
                    (m, n, k),
                    (a as *const f32, sa[1] as isize, sa[2] as isize),
                    (b as *const f32, sb[1] as isize, sb[2] as isize),
                    (dst.as_mut_ptr() as *mut f32, n as isize, 1),
                    false,
                    par_threads(par),
                );
            if !done {
                call!(f32, 0.0, 1.0)
            }
        }
        DType::F64 => call!(f64, 0.0, 1.0),
        _ => call!(
            gemm::f16,
            gemm::f16::from_f32(0.0),
            gemm::f16::from_f32(1.0)
        ),
    }
}

/// Workers a gemm-crate parallelism setting asks for (at least 1).
pub(super) fn par_threads(par: gemm::Parallelism) -> usize {
    match par {
        gemm::Parallelism::Rayon(0) => super::team::threads(),
        gemm::Parallelism::Rayon(t) => t,
        gemm::Parallelism::None => 1,
    }
}

/// Whether an `m × k · k × n` product is faster computed mirrored (`(Bᵀ·Aᵀ)ᵀ`, through a
/// scratch matrix) by the gemm crate, which runs 16 or 32 rows against many columns well
/// below its speed for the mirrored shape: 32×256·256×1024 (an LSTM step) takes about 1.5× the time of
/// 1024×256·256×32 plus the transpose. Measured on a grid of shapes; outside this band
/// (other row counts, short `k`, fewer or odd column counts) the mirror is as often slower.
fn transposed_is_faster(m: usize, n: usize, k: usize) -> bool {
    (m == 16 || m == 32) && k >= 256 && n >= 1024 && n.is_multiple_of(512)
}

/// `dst = lhs @ rhs` computed as `dstᵀ = rhsᵀ · lhsᵀ` into a scratch matrix, then transposed.
///
/// # Safety
/// As for `gemm_call`.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_call_transposed<T: Elem>(
    dst: &mut [T],
    a: *const T,
    sa: [usize; 3],
    b: *const T,
    sb: [usize; 3],
    m: usize,
    n: usize,
    k: usize,
) -> Result<()> {
    let mut scratch = super::try_output::<T>(m * n)?;
    // Aᵀ is `k × m` with strides (sa[2], sa[1]); Bᵀ is `n × k` with strides (sb[2], sb[1]).
    gemm_call(
        &mut scratch,
        b,
        [0, sb[2], sb[1]],
        a,
        [0, sa[2], sa[1]],
        n,
        m,
        k,
        gemm::Parallelism::None,
    );
    super::transpose::transpose_block(&scratch, 0, m, dst, 0, n, 0..m, n, 0);
    Ok(())
}

/// Batched product on validated operands; `out` is `[batch, m, n]` row-major.
fn bmm_into<T: Elem>(
    out: &mut [T],
    a: &Operand<T>,
    b: &Operand<T>,
    batch: usize,
    m: usize,
    n: usize,
    k: usize,
) {
    match T::DTYPE {
        DType::F32 | DType::F64 | DType::F16 => {
            // The AVX2 f32 kernel picks its own orientation.
            let own_f32 = T::DTYPE == DType::F32 && super::sgemm::suits(k);
            let threshold = if own_f32 { OWN_PAR_WORK } else { PAR_WORK };
            let big = m.saturating_mul(n).saturating_mul(k) >= threshold;
            let par = if big && batch == 1 && super::parallel_enabled() {
                gemm::Parallelism::Rayon(rayon::current_num_threads())
            } else {
                gemm::Parallelism::None
            };
            let mirrored = !own_f32 && transposed_is_faster(m, n, k);
            let run = |bi: usize, dst: &mut [T]| {
                if mirrored {
                    // SAFETY: as below; the scratch matrix is the call's own.
                    let done = unsafe {
                        gemm_call_transposed(
                            dst,
                            a.matrix_ptr(bi),
                            a.strides,
                            b.matrix_ptr(bi),
                            b.strides,
                            m,
                            n,
                            k,
                        )
                    };
                    if done.is_ok() {
                        return;
                    }
                }
                // SAFETY: both operands were checked against their buffers (`Operand::new`),
                // and dst is a separate m×n chunk of the fresh output.
                unsafe {
                    gemm_call(
                        dst,
                        a.matrix_ptr(bi),
                        a.strides,
                        b.matrix_ptr(bi),
                        b.strides,
                        m,
                        n,
                        k,
                        par,
                    )
                }
            };
            let total = batch.saturating_mul(m * n).saturating_mul(k);
            if batch > 1 && total >= threshold && super::parallel_enabled() {
                super::team::for_each_chunk(out, m * n, run);
            } else {
                out.chunks_mut(m * n)
                    .enumerate()
                    .for_each(|(bi, d)| run(bi, d));
            }
        }
        _ => {
            let float = T::DTYPE.is_float();
            for (bi, dst) in out.chunks_mut(m * n).enumerate() {
                for i in 0..m {
                    for j in 0..n {
                        let (mut acc_i, mut acc_f) = (0i64, 0f64);
                        for p in 0..k {
                            let (x, y) = (a.at(bi, i, p), b.at(bi, p, j));
                            if float {
                                acc_f += x.to_f64() * y.to_f64();
                            } else {
                                acc_i = acc_i.wrapping_add(x.to_i64().wrapping_mul(y.to_i64()));
                            }
                        }
                        dst[i * n + j] = if float {
                            T::from_f64(acc_f)
                        } else if T::DTYPE == DType::Bool {
                            T::from_bool(acc_i != 0)
                        } else {
                            T::from_i64(acc_i)
                        };
                    }
                }
            }
        }
    }
}

fn bmm<T: Elem>(
    a: Strided,
    b: Strided,
    batch: usize,
    m: usize,
    n: usize,
    k: usize,
) -> Result<Vec<T>> {
    let len = crate::shape::checked_numel(&[batch, m, n])?;
    // Nothing to read: an empty product is zeros (and an empty view may carry any offset).
    if len == 0 || k == 0 {
        return try_zeroed::<T>(len);
    }
    // Fully written by the GEMM (which ignores the destination's contents).
    let mut out = super::try_output::<T>(len)?;
    let oa = Operand::new(elems::<T>(a)?, a.layout, [batch, m, k])?;
    let ob = Operand::new(elems::<T>(b)?, b.layout, [batch, k, n])?;
    bmm_into(&mut out, &oa, &ob, batch, m, n, k);
    Ok(out)
}

/// bf16 operands as contiguous f32 copies.
fn bf16_as_f32(s: Strided) -> Result<(Vec<f32>, Layout)> {
    let v: Vec<half::bf16> = gather(s)?;
    let mut out = super::try_with_capacity(v.len())?;
    out.extend(v.iter().map(|x| x.to_f32()));
    Ok((out, Layout::contiguous(s.shape())))
}

impl LinalgKernels for CpuBackend {
    fn factorize(
        &self,
        op: crate::backend::Factorization,
        a: Strided,
        batch: usize,
        m: usize,
        n: usize,
    ) -> Result<Vec<Storage>> {
        super::factor::factorize(op, a, batch, m, n)
    }

    #[allow(clippy::too_many_arguments)]
    fn solve_factored(
        &self,
        op: crate::backend::FactorSolve,
        a: Strided,
        pivots: Option<Strided>,
        b: Strided,
        batch: usize,
        n: usize,
        k: usize,
    ) -> Result<Storage> {
        super::factor::solve_factored(op, a, pivots, b, batch, n, k)
    }

    fn matmul(
        &self,
        a: Strided,
        b: Strided,
        batch: usize,
        m: usize,
        n: usize,
        k: usize,
    ) -> Result<Storage> {
        if a.dtype() != b.dtype() {
            return Err(Error::Runtime(format!(
                "expected m1 and m2 to have the same dtype, but got: {} != {}",
                a.dtype().name(),
                b.dtype().name()
            )));
        }
        if a.dtype() == DType::BF16 {
            let (xa, la) = bf16_as_f32(a)?;
            let (xb, lb) = bf16_as_f32(b)?;
            let (sa, sb) = (Storage::from_vec(xa), Storage::from_vec(xb));
            let r = bmm::<f32>(
                Strided::new(&sa, &la),
                Strided::new(&sb, &lb),
                batch,
                m,
                n,
                k,
            )?;
            let mut out = super::try_with_capacity(r.len())?;
            out.extend(r.iter().map(|&x| half::bf16::from_f32(x)));
            return Ok(Storage::from_vec::<half::bf16>(out));
        }
        crate::with_dtype!(a.dtype(), T, {
            Ok(Storage::from_vec(bmm::<T>(a, b, batch, m, n, k)?))
        })
    }
}
