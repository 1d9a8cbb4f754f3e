//! Reference-counted memory shared by a tensor and all its views: a dtype, the version counter
//! that autograd uses to detect in-place changes to saved tensors, and a device buffer.
//!
//! Rule for writes: storage is shared by views and may be written while the GIL is released.
//! Kernels write only into buffers they just allocated, or into the destination of an in-place
//! op, whose sources are materialised first when they overlap it. Two threads writing the same
//! tensor concurrently is a race in the caller's program, as in PyTorch; reads never observe
//! memory outside the buffer, because every layout is checked against its buffer when built.

use crate::cpu::buffer::CpuBuffer;
use crate::cuda_backend::CudaBuffer;
use crate::device::Device;
use crate::dtype::{DType, Elem};
use crate::error::{Error, Result};
use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};

/// Where the elements live. Without the `cuda` feature `CudaBuffer` has no values, so the
/// second arm can never be taken and costs nothing.
pub enum Buffer {
    Cpu(CpuBuffer),
    Cuda(CudaBuffer),
}

pub struct Storage {
    dtype: DType,
    version: AtomicU64,
    buffer: Buffer,
}

impl Storage {
    pub fn new(dtype: DType, buffer: Buffer) -> Storage {
        if crate::profiler::is_active() {
            let len = match &buffer {
                Buffer::Cpu(b) => b.len(),
                Buffer::Cuda(b) => b.len(),
            };
            crate::profiler::note_alloc(len.saturating_mul(dtype.size()));
        }
        Storage {
            dtype,
            version: AtomicU64::new(0),
            buffer,
        }
    }

    pub fn from_vec<T: Elem>(v: Vec<T>) -> Storage {
        Storage::new(T::DTYPE, Buffer::Cpu(CpuBuffer::from_vec(v)))
    }

    /// Wraps foreign host memory.
    ///
    /// # Safety
    /// As `CpuBuffer::from_foreign`: `ptr` must point to `len` valid, aligned, initialised,
    /// writable elements of `dtype` that stay alive as long as `owner` does.
    pub unsafe fn from_foreign(
        ptr: *mut u8,
        len: usize,
        dtype: DType,
        owner: Box<dyn Any + Send + Sync>,
    ) -> Storage {
        // Not `new`: wrapping memory someone else allocated is no allocation to profile.
        Storage {
            dtype,
            version: AtomicU64::new(0),
            buffer: Buffer::Cpu(CpuBuffer::from_foreign(ptr, len, owner)),
        }
    }

    /// Length in elements.
    pub fn len(&self) -> usize {
        match &self.buffer {
            Buffer::Cpu(b) => b.len(),
            Buffer::Cuda(b) => b.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    pub fn device(&self) -> Device {
        match &self.buffer {
            Buffer::Cpu(_) => Device::Cpu,
            Buffer::Cuda(b) => b.device(),
        }
    }

    pub fn buffer(&self) -> &Buffer {
        &self.buffer
    }

    pub fn data_ptr(&self) -> usize {
        match &self.buffer {
            Buffer::Cpu(b) => b.ptr() as usize,
            Buffer::Cuda(b) => b.device_ptr(),
        }
    }

    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Relaxed)
    }

    pub fn bump_version(&self) {
        self.version.fetch_add(1, Ordering::Relaxed);
    }

    /// The host buffer, or an error naming the device the memory is on.
    pub fn cpu(&self) -> Result<&CpuBuffer> {
        match &self.buffer {
            Buffer::Cpu(b) => Ok(b),
            Buffer::Cuda(b) => Err(Error::Runtime(format!(
                "expected a CPU buffer but the memory is on {}",
                b.device()
            ))),
        }
    }

    /// Host elements as `T` (kernels and bindings only; the tensor layer goes through the
    /// backend).
    pub fn cpu_slice<T: Elem>(&self) -> Result<&[T]> {
        self.cpu()?.typed::<T>(self.dtype)
    }

    /// Mutable host elements through a shared reference, as views share one storage.
    ///
    /// # Safety
    /// No other slice of this storage may be read or written while the result is alive.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn cpu_slice_mut<T: Elem>(&self) -> Result<&mut [T]> {
        self.cpu()?.typed_mut::<T>(self.dtype)
    }

    /// The raw host bytes (machine byte order).
    pub fn cpu_bytes(&self) -> Result<&[u8]> {
        Ok(self.cpu()?.bytes(self.dtype))
    }

    /// The raw bytes of a host storage, copied out.
    pub fn into_bytes(self) -> Result<Vec<u8>> {
        Ok(self.cpu_bytes()?.to_vec())
    }

    /// The elements as a Vec: no copy when this storage owns a Rust vector of `T`.
    pub fn into_vec<T: Elem>(self) -> Result<Vec<T>> {
        let dtype = self.dtype;
        match self.buffer {
            Buffer::Cpu(b) => match b.into_vec::<T>() {
                Ok(v) => Ok(v),
                Err(b) => Ok(b.typed::<T>(dtype)?.to_vec()),
            },
            Buffer::Cuda(b) => Err(Error::Runtime(format!(
                "into_vec: the memory is on {}; copy it to the host first",
                b.device()
            ))),
        }
    }
}
