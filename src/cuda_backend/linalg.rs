//! Matrix products on the GPU: every batched product is one cuBLAS strided-batched GEMM.
//! cuBLAS is column-major; a row-major `[r, c]` matrix is the column-major `[c, r]` matrix,
//! so `C = A·B` (row-major) is computed as `Cᵀ = Bᵀ·Aᵀ`, with each operand passed as stored
//! (op N) or transposed (op T) depending on which of its dims has unit stride.

use super::context::{gpu, lock, Gpu};
use super::launch::{new_storage, ptr};
use crate::backend::{LinalgKernels, MemoryKernels, Strided};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::storage::Storage;
use crate::tensor::creation_scalar::Scalar;
use cudarc::cublas::{result as blas, sys as bsys};
use std::ffi::c_void;

/// The cuBLAS handle of one device, bound to its stream, and the workspace it was given.
pub(crate) struct Blas {
    handle: bsys::cublasHandle_t,
    _workspace: Option<super::buffer::CudaBuffer>,
}

/// cuBLAS workspace per device (PyTorch's size on Hopper): room for the algorithms that need
/// scratch, such as split-K products for long reductions (weight gradients).
const BLAS_WORKSPACE: usize = 32 << 20;

// SAFETY: the handle is used under the device's mutex only.
unsafe impl Send for Blas {}

impl Gpu {
    fn with_blas<R>(&self, f: impl FnOnce(bsys::cublasHandle_t) -> Result<R>) -> Result<R> {
        let mut slot = lock(&self.blas);
        if slot.is_none() {
            // SAFETY: only probes whether the library can be opened.
            if !unsafe { bsys::is_culib_present() } {
                return Err(Error::Runtime(
                    "cuBLAS (libcublas.so.13) was not found: install it with `pip install \
                     \"nvidia-cublas==13.0.*\"` (the `rtorch[cuda]` extra) and import rtorch \
                     before using CUDA"
                        .into(),
                ));
            }
            self.bind()?;
            let h = blas::create_handle().map_err(blas_err)?;
            // SAFETY: a fresh handle and this device's live stream.
            unsafe { blas::set_stream(h, self.cu_stream() as _) }.map_err(blas_err)?;
            // After the stream: setting a stream resets the workspace. Without memory for
            // it cuBLAS keeps its default.
            let ws = super::buffer::CudaBuffer::alloc(
                super::context::gpu(self.index)?,
                BLAS_WORKSPACE,
                1,
            )
            .ok();
            if let Some(w) = &ws {
                // SAFETY: the buffer lives as long as the handle (both in `Blas`).
                unsafe { bsys::cublasSetWorkspace_v2(h, w.ptr() as *mut c_void, BLAS_WORKSPACE) }
                    .result()
                    .map_err(blas_err)?;
            }
            *slot = Some(Blas {
                handle: h,
                _workspace: ws,
            });
        }
        let h = slot
            .as_ref()
            .map(|b| b.handle)
            .ok_or_else(|| blas_err("no handle"))?;
        self.bind()?;
        let r = f(h)?;
        self.after_launch()?;
        Ok(r)
    }
}

fn blas_err(e: impl std::fmt::Debug) -> Error {
    Error::Runtime(format!("cuBLAS error: {e:?}"))
}

/// How one operand enters the GEMM: op, leading dimension, batch stride, element offset.
struct Operand {
    op: bsys::cublasOperation_t,
    ld: i64,
    batch_stride: i64,
    offset: usize,
}

/// The operand `[batch, r, c]` (row-major view) as cuBLAS sees its transpose `[c, r]`:
/// op N when the last dim has unit stride, op T when the middle one has; None otherwise.
fn operand(l: &Layout) -> Option<Operand> {
    let (r, c) = (l.shape[1], l.shape[2]);
    // Strides of size-1 dims are arbitrary: pick ones that satisfy cuBLAS.
    let rs = if r == 1 { c.max(1) } else { l.strides[1] };
    let cs = if c == 1 { 1 } else { l.strides[2] };
    let bs = if l.shape[0] == 1 { 0 } else { l.strides[0] } as i64;
    if cs == 1 && rs >= c.max(1) {
        return Some(Operand {
            op: bsys::cublasOperation_t::CUBLAS_OP_N,
            ld: rs as i64,
            batch_stride: bs,
            offset: l.offset,
        });
    }
    let (rs, cs) = (
        if r == 1 { 1 } else { l.strides[1] },
        if c == 1 { r.max(1) } else { l.strides[2] },
    );
    if rs == 1 && cs >= r.max(1) {
        return Some(Operand {
            op: bsys::cublasOperation_t::CUBLAS_OP_T,
            ld: cs as i64,
            batch_stride: bs,
            offset: l.offset,
        });
    }
    None
}

fn cuda_type(dt: DType) -> Option<bsys::cudaDataType> {
    use bsys::cudaDataType::*;
    Some(match dt {
        DType::F32 => CUDA_R_32F,
        DType::F64 => CUDA_R_64F,
        DType::F16 => CUDA_R_16F,
        DType::BF16 => CUDA_R_16BF,
        _ => return None,
    })
}

/// PyTorch's short names of integer dtypes in "not implemented" messages.
fn legacy_name(dt: DType) -> &'static str {
    match dt {
        DType::Bool => "Bool",
        DType::U8 => "Byte",
        DType::I8 => "Char",
        DType::I16 => "Short",
        DType::I32 => "Int",
        DType::I64 => "Long",
        _ => dt.name(),
    }
}

fn to_i32(v: impl TryInto<i32>, what: &str) -> Result<i32> {
    v.try_into().map_err(|_| {
        Error::Runtime(format!(
            "matmul on CUDA: {what} exceeds cuBLAS's 32-bit sizes"
        ))
    })
}

impl LinalgKernels for Gpu {
    // Factorizations make a documented host round trip: the matrices are downloaded,
    // factored by the CPU kernels (faer) and the results uploaded. Correct on every device;
    // a native cuSOLVER path would only be faster.
    fn factorize(
        &self,
        op: crate::backend::Factorization,
        a: Strided,
        batch: usize,
        m: usize,
        n: usize,
    ) -> Result<Vec<Storage>> {
        let host = self.to_host(a)?;
        let layout = Layout::contiguous(a.shape());
        let outs =
            crate::cpu::CpuBackend.factorize(op, Strided::new(&host, &layout), batch, m, n)?;
        outs.iter().map(|o| self.upload(o)).collect()
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
        let (ha, hb) = (self.to_host(a)?, self.to_host(b)?);
        let (la, lb) = (Layout::contiguous(a.shape()), Layout::contiguous(b.shape()));
        let hp = pivots.map(|p| Ok::<_, Error>((self.to_host(p)?, Layout::contiguous(p.shape()))));
        let hp = hp.transpose()?;
        let x = crate::cpu::CpuBackend.solve_factored(
            op,
            Strided::new(&ha, &la),
            hp.as_ref().map(|(s, l)| Strided::new(s, l)),
            Strided::new(&hb, &lb),
            batch,
            n,
            k,
        )?;
        self.upload(&x)
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
        let g = gpu(self.index)?;
        let dt = a.dtype();
        let Some(ty) = cuda_type(dt) else {
            return Err(Error::Runtime(format!(
                "\"addmm_cuda\" not implemented for '{}'",
                legacy_name(dt)
            )));
        };
        let total = crate::shape::checked_numel(&[batch, m, n])?;
        if k == 0 {
            return self.full(total, dt, Scalar::Int(0));
        }
        let out = new_storage(g, total, dt)?;
        if total == 0 {
            return Ok(out);
        }
        // Operands cuBLAS cannot take as they are become contiguous copies.
        let (a_copy, b_copy);
        let (a_lay, b_lay);
        let (a_st, b_st) = match (operand(a.layout), operand(b.layout)) {
            (Some(x), Some(y)) => ((x, a.storage), (y, b.storage)),
            (x, y) => {
                a_copy = if x.is_none() {
                    Some(self.contiguous_as(a, dt)?)
                } else {
                    None
                };
                b_copy = if y.is_none() {
                    Some(self.contiguous_as(b, dt)?)
                } else {
                    None
                };
                a_lay = Layout::contiguous(a.shape());
                b_lay = Layout::contiguous(b.shape());
                let xa = match (&a_copy, x) {
                    (Some(c), _) => (operand(&a_lay).ok_or_else(|| blas_err("layout"))?, c),
                    (None, Some(x)) => (x, a.storage),
                    (None, None) => return Err(blas_err("layout")),
                };
                let yb = match (&b_copy, y) {
                    (Some(c), _) => (operand(&b_lay).ok_or_else(|| blas_err("layout"))?, c),
                    (None, Some(y)) => (y, b.storage),
                    (None, None) => return Err(blas_err("layout")),
                };
                (xa, yb)
            }
        };
        let ((oa, sa), (ob, sb)) = (a_st, b_st);
        let size = dt.size() as u64;
        let pa = ptr(sa)? + oa.offset as u64 * size;
        let pb = ptr(sb)? + ob.offset as u64 * size;
        let pc = ptr(&out)?;
        let (mi, ni, ki) = (to_i32(m, "m")?, to_i32(n, "n")?, to_i32(k, "k")?);
        let (lda, ldb) = (to_i32(ob.ld, "a stride")?, to_i32(oa.ld, "a stride")?);
        let batches = to_i32(batch, "the batch size")?;
        let compute = match dt {
            DType::F64 => bsys::cublasComputeType_t::CUBLAS_COMPUTE_64F,
            DType::F32 if super::allow_tf32() => {
                bsys::cublasComputeType_t::CUBLAS_COMPUTE_32F_FAST_TF32
            }
            _ => bsys::cublasComputeType_t::CUBLAS_COMPUTE_32F,
        };
        let (one64, zero64, one32, zero32) = (1.0f64, 0.0f64, 1.0f32, 0.0f32);
        let (alpha, beta): (*const c_void, *const c_void) = if dt == DType::F64 {
            (&one64 as *const f64 as _, &zero64 as *const f64 as _)
        } else {
            (&one32 as *const f32 as _, &zero32 as *const f32 as _)
        };
        self.with_blas(|h| {
            // SAFETY: pointers address live device buffers whose layouts were checked to hold
            // every element the GEMM reads; alpha/beta live until the call returns.
            unsafe {
                if batches == 1 {
                    // A single product through the plain GEMM, whose kernel choice for one
                    // matrix is cuBLAS's best (the batched entry point may pick another).
                    blas::gemm_ex(
                        h,
                        ob.op,
                        oa.op,
                        ni,
                        mi,
                        ki,
                        alpha,
                        pb as *const c_void,
                        ty,
                        lda,
                        pa as *const c_void,
                        ty,
                        ldb,
                        beta,
                        pc as *mut c_void,
                        ty,
                        ni,
                        compute,
                        bsys::cublasGemmAlgo_t::CUBLAS_GEMM_DEFAULT,
                    )
                } else {
                    blas::gemm_strided_batched_ex(
                        h,
                        ob.op,
                        oa.op,
                        ni,
                        mi,
                        ki,
                        alpha,
                        pb as *const c_void,
                        ty,
                        lda,
                        ob.batch_stride,
                        pa as *const c_void,
                        ty,
                        ldb,
                        oa.batch_stride,
                        beta,
                        pc as *mut c_void,
                        ty,
                        ni,
                        (m * n) as i64,
                        batches,
                        compute,
                        bsys::cublasGemmAlgo_t::CUBLAS_GEMM_DEFAULT,
                    )
                }
            }
            .map_err(blas_err)
        })?;
        Ok(out)
    }
}
