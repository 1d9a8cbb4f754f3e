//! Batched matrix multiply on strided operands through the `gemm` crate (f32, f64, f16);
//! bf16 goes through f32; integers use a plain i64-accumulating loop.

use crate::dtype::{DType, Elem};
use crate::tensor::Tensor;
use rayon::prelude::*;

/// Work (m·n·k) above which gemm gets the rayon pool.
const PAR_WORK: usize = 600_000;

/// `out[b] = a[b] @ bm[b]` for 3-D layouts `a: [B, M, K]`, `bm: [B, K, N]` (batch strides may
/// be 0 for broadcasting). Returns a contiguous `[B, M, N]` buffer.
pub fn bmm<T: Elem>(a: &Tensor, bm: &Tensor) -> Vec<T> {
    let (batch, m, k) = (a.shape()[0], a.shape()[1], a.shape()[2]);
    let n = bm.shape()[2];
    let mut out = vec![T::default(); batch * m * n];
    if m * n == 0 {
        return out;
    }
    let sa = a.storage().as_slice::<T>();
    let sb = bm.storage().as_slice::<T>();
    let (as_, bs) = (a.strides(), bm.strides());
    match T::DTYPE {
        DType::F32 | DType::F64 | DType::F16 => {
            let par = if m * n * k >= PAR_WORK && batch == 1 && super::parallel_enabled() {
                gemm::Parallelism::Rayon(rayon::current_num_threads())
            } else {
                gemm::Parallelism::None
            };
            let run = |bi: usize, dst: &mut [T]| {
                let pa = sa[a.offset() + bi * as_[0]..].as_ptr();
                let pb = sb[bm.offset() + bi * bs[0]..].as_ptr();
                // SAFETY: pointers and strides describe in-bounds strided matrices; dst is
                // a separate m×n row-major buffer. gemm: dst = alpha·dst + beta·lhs·rhs.
                unsafe {
                    match T::DTYPE {
                        DType::F32 => gemm::gemm::<f32>(
                            m,
                            n,
                            k,
                            dst.as_mut_ptr() as *mut f32,
                            1,
                            n as isize,
                            false,
                            pa as *const f32,
                            as_[2] as isize,
                            as_[1] as isize,
                            pb as *const f32,
                            bs[2] as isize,
                            bs[1] as isize,
                            0.0,
                            1.0,
                            false,
                            false,
                            false,
                            par,
                        ),
                        DType::F64 => gemm::gemm::<f64>(
                            m,
                            n,
                            k,
                            dst.as_mut_ptr() as *mut f64,
                            1,
                            n as isize,
                            false,
                            pa as *const f64,
                            as_[2] as isize,
                            as_[1] as isize,
                            pb as *const f64,
                            bs[2] as isize,
                            bs[1] as isize,
                            0.0,
                            1.0,
                            false,
                            false,
                            false,
                            par,
                        ),
                        _ => gemm::gemm::<gemm::f16>(
                            m,
                            n,
                            k,
                            dst.as_mut_ptr() as *mut gemm::f16,
                            1,
                            n as isize,
                            false,
                            pa as *const gemm::f16,
                            as_[2] as isize,
                            as_[1] as isize,
                            pb as *const gemm::f16,
                            bs[2] as isize,
                            bs[1] as isize,
                            gemm::f16::from_f32(0.0),
                            gemm::f16::from_f32(1.0),
                            false,
                            false,
                            false,
                            par,
                        ),
                    }
                }
            };
            if batch > 1 && batch * m * n * k >= PAR_WORK && super::parallel_enabled() {
                out.par_chunks_mut(m * n)
                    .enumerate()
                    .for_each(|(bi, d)| run(bi, d));
            } else {
                out.chunks_mut(m * n)
                    .enumerate()
                    .for_each(|(bi, d)| run(bi, d));
            }
        }
        _ => {
            let float = T::DTYPE.is_float();
            for bi in 0..batch {
                for i in 0..m {
                    for j in 0..n {
                        let (mut acc_i, mut acc_f) = (0i64, 0f64);
                        for p in 0..k {
                            let x = sa[a.offset() + bi * as_[0] + i * as_[1] + p * as_[2]];
                            let y = sb[bm.offset() + bi * bs[0] + p * bs[1] + j * bs[2]];
                            if float {
                                acc_f += x.to_f64() * y.to_f64();
                            } else {
                                acc_i = acc_i.wrapping_add(x.to_i64().wrapping_mul(y.to_i64()));
                            }
                        }
                        out[bi * m * n + i * n + j] = if float {
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
    out
}

impl crate::backend::LinalgKernels for super::CpuBackend {}
