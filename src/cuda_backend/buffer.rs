//! Device memory owned by a storage: a pointer from the device's stream-ordered pool,
//! returned to it on drop.

use super::context::Gpu;
use crate::device::Device;

pub struct CudaBuffer {
    ptr: u64,
    len: usize,
    bytes: usize,
    gpu: &'static Gpu,
}

impl CudaBuffer {
    /// Uninitialised memory for `len` elements of `elem_size` bytes.
    pub(crate) fn alloc(gpu: &'static Gpu, len: usize, elem_size: usize) -> crate::Result<Self> {
        let bytes = len.checked_mul(elem_size).ok_or_else(|| {
            crate::Error::Runtime(format!(
                "CUDA out of memory: {len} elements of {elem_size} bytes overflow"
            ))
        })?;
        let ptr = gpu.alloc(bytes)?;
        Ok(CudaBuffer {
            ptr,
            len,
            bytes,
            gpu,
        })
    }

    /// Length in elements.
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn device(&self) -> Device {
        self.gpu.device()
    }
    pub fn device_ptr(&self) -> usize {
        self.ptr as usize
    }
    pub(crate) fn ptr(&self) -> u64 {
        self.ptr
    }
}

impl Drop for CudaBuffer {
    fn drop(&mut self) {
        self.gpu.free(self.ptr, self.bytes);
    }
}
