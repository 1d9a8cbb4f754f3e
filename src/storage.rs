//! Reference-counted memory shared by a tensor and all its views, with the version counter
//! that autograd uses to detect in-place changes to saved tensors.

use crate::device::Device;
use crate::dtype::{DType, Elem};
use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};

/// A typed buffer. Memory either comes from a Rust `Vec` or is borrowed from a foreign owner
/// (a NumPy array) kept alive by `_owner`.
pub struct Storage {
    ptr: *mut u8,
    len: usize,
    dtype: DType,
    device: Device,
    version: AtomicU64,
    _owner: Box<dyn Any + Send + Sync>,
}

// SAFETY: like PyTorch's storage, concurrent mutation is the caller's responsibility; kernels
// write only into fresh buffers or through `copy_`, which first materialises overlapping sources.
unsafe impl Send for Storage {}
unsafe impl Sync for Storage {}

impl Storage {
    pub fn from_vec<T: Elem>(mut v: Vec<T>) -> Storage {
        let ptr = v.as_mut_ptr() as *mut u8;
        let len = v.len();
        Storage {
            ptr,
            len,
            dtype: T::DTYPE,
            device: Device::Cpu,
            version: AtomicU64::new(0),
            _owner: Box::new(v),
        }
    }

    /// Wraps foreign memory.
    ///
    /// # Safety
    /// `ptr` must point to `len` valid, aligned elements of `dtype` that stay alive as long as
    /// `owner` does.
    pub unsafe fn from_foreign(
        ptr: *mut u8,
        len: usize,
        dtype: DType,
        owner: Box<dyn Any + Send + Sync>,
    ) -> Storage {
        Storage {
            ptr,
            len,
            dtype,
            device: Device::Cpu,
            version: AtomicU64::new(0),
            _owner: owner,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    pub fn device(&self) -> Device {
        self.device
    }

    pub fn data_ptr(&self) -> usize {
        self.ptr as usize
    }

    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Relaxed)
    }

    pub fn bump_version(&self) {
        self.version.fetch_add(1, Ordering::Relaxed);
    }

    pub fn as_slice<T: Elem>(&self) -> &[T] {
        assert_eq!(T::DTYPE, self.dtype, "storage dtype mismatch");
        if self.len == 0 {
            return &[];
        }
        // SAFETY: ptr/len describe live memory of T (checked dtype).
        unsafe { std::slice::from_raw_parts(self.ptr as *const T, self.len) }
    }

    /// Mutable access through a shared reference, as views share one storage.
    ///
    /// # Safety
    /// No other slice of this storage may be read or written while the result is alive.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn as_mut_slice<T: Elem>(&self) -> &mut [T] {
        assert_eq!(T::DTYPE, self.dtype, "storage dtype mismatch");
        if self.len == 0 {
            return &mut [];
        }
        std::slice::from_raw_parts_mut(self.ptr as *mut T, self.len)
    }

    /// The raw bytes (little-endian machine order).
    pub fn as_bytes(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: ptr covers len * size bytes.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len * self.dtype.size()) }
    }
}
