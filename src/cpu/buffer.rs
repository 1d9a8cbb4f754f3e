//! Host memory behind a CPU storage: a Rust allocation or memory borrowed from a foreign
//! owner (a NumPy array) that is kept alive with it. Allocation is fallible: a request the
//! allocator refuses becomes a RuntimeError, never an abort.

use crate::dtype::{DType, Elem};
use crate::error::{Error, Result};
use std::any::Any;

pub struct CpuBuffer {
    ptr: *mut u8,
    /// Length in elements.
    len: usize,
    owner: Box<dyn Any + Send + Sync>,
    /// Hands an owned Vec's allocation to the cache on drop (`None` for foreign memory).
    recycle: Option<fn(&mut (dyn Any + Send + Sync))>,
}

impl Drop for CpuBuffer {
    fn drop(&mut self) {
        if let Some(f) = self.recycle {
            f(&mut *self.owner);
        }
    }
}

fn recycle_vec<T: Elem>(owner: &mut (dyn Any + Send + Sync)) {
    if let Some(v) = owner.downcast_mut::<Vec<T>>() {
        super::pool::give(std::mem::take(v));
    }
}

// SAFETY: the pointer is owned by (or borrowed for the lifetime of) `owner`, which is Send +
// Sync. Concurrent writes follow the storage rule documented on `Storage`.
unsafe impl Send for CpuBuffer {}
unsafe impl Sync for CpuBuffer {}

/// PyTorch's message when host memory cannot be had.
pub fn out_of_memory(bytes: usize) -> Error {
    Error::Runtime(format!(
        "DefaultCPUAllocator: not enough memory: you tried to allocate {bytes} bytes."
    ))
}

/// `n` zeroed elements, or an error if the allocator refuses. A cached block is cleared;
/// fresh memory comes zeroed from the system.
pub fn try_zeroed<T: Elem>(n: usize) -> Result<Vec<T>> {
    if n == 0 || std::mem::size_of::<T>() == 0 {
        return Ok(Vec::new());
    }
    if let Some(mut v) = super::pool::take::<T>(n) {
        clear_cached(&mut v, n);
        return Ok(v);
    }
    let bytes = n.checked_mul(std::mem::size_of::<T>());
    let layout = match bytes.and_then(|_| std::alloc::Layout::array::<T>(n).ok()) {
        Some(l) => l,
        None => return Err(out_of_memory(bytes.unwrap_or(usize::MAX))),
    };
    // SAFETY: the layout has non-zero size. Every `Elem` type (a sealed set of bool,
    // integers and IEEE floats) is valid when all its bytes are zero, and the Vec takes over
    // an allocation made by the global allocator with exactly this layout.
    unsafe {
        let ptr = std::alloc::alloc_zeroed(layout) as *mut T;
        if ptr.is_null() {
            return Err(out_of_memory(layout.size()));
        }
        advise_huge_pages(ptr as *mut u8, layout.size());
        Ok(Vec::from_raw_parts(ptr, n, n))
    }
}

/// Zeroes the first `n` elements of an empty cached block with room for them, on the pool when
/// large (a cached block is often several megabytes, and the clearing pass is memory-bound).
fn clear_cached<T: Elem>(v: &mut Vec<T>, n: usize) {
    let clear = |c: &mut [std::mem::MaybeUninit<T>]| {
        c.iter_mut().for_each(|x| {
            x.write(T::default());
        })
    };
    let spare = &mut v.spare_capacity_mut()[..n];
    if super::parallel(n) {
        super::team::for_each_chunk(spare, 1 << 16, |_, c| clear(c));
    } else {
        clear(spare);
    }
    // SAFETY: the first n elements were just written, and the capacity is at least n.
    unsafe { v.set_len(n) };
}

/// `n` elements for an output that the caller overwrites entirely: a cached block keeps its
/// stale (initialised) contents, saving the clearing pass; otherwise zeroed memory.
pub fn try_output<T: Elem>(n: usize) -> Result<Vec<T>> {
    // bool has invalid bit patterns: stale bytes of another dtype must not be read as bool.
    if T::DTYPE != DType::Bool {
        if let Some(mut v) = super::pool::take::<T>(n) {
            // SAFETY: capacity is n; the block's bytes were initialised by its previous
            // owner, and every bit pattern is a valid value of a non-bool element type.
            unsafe { v.set_len(n) };
            return Ok(v);
        }
    }
    try_zeroed(n)
}

/// A Vec with room for `n` elements (length 0), or an error if the allocator refuses.
pub fn try_with_capacity<T>(n: usize) -> Result<Vec<T>> {
    if let Some(v) = super::pool::take::<T>(n) {
        return Ok(v);
    }
    let mut v = Vec::new();
    v.try_reserve_exact(n)
        .map_err(|_| out_of_memory(n.saturating_mul(std::mem::size_of::<T>())))?;
    advise_huge_pages(
        v.as_mut_ptr() as *mut u8,
        v.capacity() * std::mem::size_of::<T>(),
    );
    Ok(v)
}

/// Allocations from this size up ask the kernel for transparent huge pages.
const HUGE_PAGE_MIN_BYTES: usize = 4 << 20;

/// Asks the kernel to back the 2 MiB-aligned part of a large fresh allocation with
/// transparent huge pages (where THP is in "madvise" mode, the common default): one fault
/// per 2 MiB instead of per 4 KiB on first touch, and far fewer TLB misses when a kernel or
/// an MPI transfer streams through it. Advice only: a refusal changes nothing.
fn advise_huge_pages(ptr: *mut u8, bytes: usize) {
    #[cfg(target_os = "linux")]
    if bytes >= HUGE_PAGE_MIN_BYTES {
        const HUGE: usize = 2 << 20;
        let start = (ptr as usize).next_multiple_of(HUGE);
        let end = (ptr as usize + bytes) & !(HUGE - 1);
        if end > start {
            // SAFETY: [start, end) lies inside the allocation just made; MADV_HUGEPAGE only
            // changes how the kernel backs those pages, never their contents.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (ptr, bytes, HUGE_PAGE_MIN_BYTES);
}

impl CpuBuffer {
    pub fn from_vec<T: Elem>(mut v: Vec<T>) -> CpuBuffer {
        let ptr = v.as_mut_ptr() as *mut u8;
        let len = v.len();
        CpuBuffer {
            ptr,
            len,
            owner: Box::new(v),
            recycle: Some(recycle_vec::<T>),
        }
    }

    /// Wraps foreign memory.
    ///
    /// # Safety
    /// `ptr` must point to `len` valid, aligned, initialised elements of the storage's dtype
    /// (for bool: bytes that are 0 or 1) that stay alive and are not freed as long as `owner`
    /// lives, and that may be written through this buffer.
    pub unsafe fn from_foreign(
        ptr: *mut u8,
        len: usize,
        owner: Box<dyn Any + Send + Sync>,
    ) -> CpuBuffer {
        CpuBuffer {
            ptr,
            len,
            owner,
            recycle: None,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn ptr(&self) -> *mut u8 {
        self.ptr
    }

    /// Takes the Rust vector back without copying when this buffer owns one of `T`.
    pub fn into_vec<T: Elem>(mut self) -> std::result::Result<Vec<T>, CpuBuffer> {
        match self.owner.downcast_mut::<Vec<T>>() {
            Some(v) if v.as_ptr() as *mut u8 == self.ptr && v.len() == self.len => {
                self.recycle = None;
                Ok(std::mem::take(v))
            }
            _ => Err(self),
        }
    }

    /// The elements as `T`. The caller (Storage) has checked that `T` is the dtype.
    pub(crate) fn typed<T: Elem>(&self, dtype: DType) -> Result<&[T]> {
        check_dtype::<T>(dtype)?;
        if self.len == 0 {
            return Ok(&[]);
        }
        // SAFETY: ptr/len describe live, initialised memory of `dtype`, which is T.
        Ok(unsafe { std::slice::from_raw_parts(self.ptr as *const T, self.len) })
    }

    /// # Safety
    /// No other reference to these elements may be used while the result is alive.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn typed_mut<T: Elem>(&self, dtype: DType) -> Result<&mut [T]> {
        check_dtype::<T>(dtype)?;
        if self.len == 0 {
            return Ok(&mut []);
        }
        Ok(std::slice::from_raw_parts_mut(self.ptr as *mut T, self.len))
    }

    pub(crate) fn bytes(&self, dtype: DType) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: the buffer covers len * size bytes of initialised memory.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len * dtype.size()) }
    }
}

fn check_dtype<T: Elem>(dtype: DType) -> Result<()> {
    if T::DTYPE != dtype {
        return Err(Error::Runtime(format!(
            "internal error: a {} buffer read as {}",
            dtype.name(),
            T::DTYPE.name()
        )));
    }
    Ok(())
}
