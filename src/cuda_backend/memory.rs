//! Memory family on the GPU: fill, host transfers, strided copy and cast; page-locked host
//! memory for `pin_memory`.

use super::context::{cu_err, gpu, lock, Gpu};
use super::kernels::Family;
use super::launch::{elem_bits, launch, lay, lays, new_storage, ptr, sfx, Lay};
use crate::backend::{MemoryKernels, Strided};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::storage::Storage;
use crate::tensor::creation_scalar::Scalar;
use cudarc::driver::result;
use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

pub(super) fn kernel_names() -> Vec<String> {
    let mut v = Vec::new();
    for b in [1, 2, 4, 8] {
        v.push(format!("fill_b{b}"));
        v.push(format!("copy_b{b}"));
    }
    for s in DType::ALL {
        for d in DType::ALL {
            v.push(cast_name(s, d));
        }
    }
    v
}

fn cast_name(src: DType, dst: DType) -> String {
    format!("cast_{}_{}", sfx(src), sfx(dst))
}

impl Gpu {
    fn me(&self) -> Result<&'static Gpu> {
        gpu(self.index)
    }

    /// A contiguous device copy of `src` as `dtype` (the cast kernel, or a byte copy).
    pub(crate) fn contiguous_as(&self, src: Strided, dtype: DType) -> Result<Storage> {
        let g = self.me()?;
        let n = src.numel();
        let out = new_storage(g, n, dtype)?;
        if n == 0 {
            return Ok(out);
        }
        let (sp, op) = (ptr(src.storage)?, ptr(&out)?);
        if src.dtype() == dtype && src.is_contiguous() {
            let size = dtype.size();
            g.bind()?;
            // SAFETY: both ranges lie inside live allocations (layouts are checked).
            unsafe {
                result::memcpy_dtod_async(
                    op,
                    sp + (src.layout.offset * size) as u64,
                    n * size,
                    g.cu_stream(),
                )
            }
            .map_err(cu_err)?;
            return Ok(out);
        }
        let ls = lay(src.layout)?;
        let n64 = n as i64;
        launch!(g, Family::Memory, cast_name(src.dtype(), dtype), g.grid(n); sp, ls, op, n64)?;
        Ok(out)
    }
}

impl MemoryKernels for Gpu {
    fn full(&self, len: usize, dtype: DType, value: Scalar) -> Result<Storage> {
        let g = self.me()?;
        let out = new_storage(g, len, dtype)?;
        if len == 0 {
            return Ok(out);
        }
        let bits = elem_bits(dtype, value);
        let p = ptr(&out)?;
        if bits == 0 {
            g.bind()?;
            // SAFETY: `p` holds `len * size` bytes.
            unsafe { result::memset_d8_async(p, 0, len * dtype.size(), g.cu_stream()) }
                .map_err(cu_err)?;
        } else {
            let n = len as i64;
            let name = format!("fill_b{}", dtype.size());
            launch!(g, Family::Memory, name, g.grid(len); p, n, bits)?;
        }
        Ok(out)
    }

    fn upload(&self, host: &Storage) -> Result<Storage> {
        let g = self.me()?;
        let bytes = host.cpu_bytes()?;
        let out = new_storage(g, host.len(), host.dtype())?;
        if !bytes.is_empty() {
            g.bind()?;
            // SAFETY: the device buffer holds exactly `bytes.len()` bytes.
            unsafe { result::memcpy_htod_async(ptr(&out)?, bytes, g.cu_stream()) }
                .map_err(cu_err)?;
            // The host buffer may be freed as soon as this returns.
            g.sync()?;
        }
        Ok(out)
    }

    fn to_host(&self, src: Strided) -> Result<Storage> {
        let g = self.me()?;
        let dtype = src.dtype();
        let n = src.numel();
        let mut host = crate::cpu::buffer::try_zeroed::<u8>(n * dtype.size())?;
        if n > 0 {
            let (base, offset, _keep);
            if src.is_contiguous() {
                base = ptr(src.storage)?;
                offset = src.layout.offset * dtype.size();
                _keep = None;
            } else {
                let c = self.contiguous_as(src, dtype)?;
                base = ptr(&c)?;
                offset = 0;
                _keep = Some(c);
            }
            g.bind()?;
            // SAFETY: the source range lies inside a live allocation; `host` has room.
            unsafe {
                result::memcpy_dtoh_async(&mut host[..], base + offset as u64, g.cu_stream())
            }
            .map_err(cu_err)?;
            g.sync()?;
        }
        bytes_to_storage(host, dtype)
    }

    fn cast(&self, src: Strided, dtype: DType) -> Result<Storage> {
        self.contiguous_as(src, dtype)
    }

    fn copy_into(&self, src: Strided, dst: Strided) -> Result<()> {
        let g = self.me()?;
        let n = dst.numel();
        if n == 0 {
            return Ok(());
        }
        let [ls, ld]: [Lay; 2] = lays(
            dst.shape(),
            [
                (&src.layout.strides, src.layout.offset),
                (&dst.layout.strides, dst.layout.offset),
            ],
        )?;
        let (sp, dp, n64) = (ptr(src.storage)?, ptr(dst.storage)?, n as i64);
        let name = format!("copy_b{}", dst.dtype().size());
        launch!(g, Family::Memory, name, g.grid(n); sp, ls, dp, ld, n64)
    }
}

/// Host bytes in machine order → a host storage of `dtype`.
fn bytes_to_storage(bytes: Vec<u8>, dtype: DType) -> Result<Storage> {
    crate::with_dtype!(dtype, T, {
        let n = bytes.len() / std::mem::size_of::<T>();
        let mut v = crate::cpu::buffer::try_zeroed::<T>(n)?;
        // SAFETY: `v` has room for `bytes.len()` bytes; the bytes came from elements of T
        // (bool bytes are 0 or 1).
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), v.as_mut_ptr().cast::<u8>(), bytes.len())
        };
        Ok(Storage::from_vec(v))
    })
}

fn pinned_set() -> &'static Mutex<HashSet<usize>> {
    static SET: OnceLock<Mutex<HashSet<usize>>> = OnceLock::new();
    SET.get_or_init(|| Mutex::new(HashSet::new()))
}

/// Page-locked host memory, freed with the driver when the last tensor using it goes.
struct Pinned {
    ptr: usize,
    gpu: &'static Gpu,
}

impl Drop for Pinned {
    fn drop(&mut self) {
        lock(pinned_set()).remove(&self.ptr);
        if self.gpu.bind().is_ok() {
            // SAFETY: allocated by `malloc_host` and freed once.
            let _ = unsafe { result::free_host(self.ptr as *mut _) };
        }
    }
}

/// A page-locked host copy of `host` (`Tensor.pin_memory()`).
pub fn pin(host: &Storage) -> Result<Storage> {
    let g = gpu(0).map_err(|_| {
        Error::Runtime("Cannot access accelerator device when none is available.".into())
    })?;
    let bytes = host.cpu_bytes()?;
    g.bind()?;
    // SAFETY: at least one byte is requested; the result is checked below.
    let p = unsafe { result::malloc_host(bytes.len().max(1), 0) }.map_err(cu_err)? as *mut u8;
    // SAFETY: `p` holds at least `bytes.len()` bytes and does not overlap `bytes`.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len()) };
    lock(pinned_set()).insert(p as usize);
    let owner = Pinned {
        ptr: p as usize,
        gpu: g,
    };
    // SAFETY: `p` holds `host.len()` initialised elements of the dtype, owned by `owner`.
    Ok(unsafe { Storage::from_foreign(p, host.len(), host.dtype(), Box::new(owner)) })
}

/// Whether host memory at `ptr` was allocated by `pin`.
pub fn is_pinned(ptr: usize) -> bool {
    lock(pinned_set()).contains(&ptr)
}
