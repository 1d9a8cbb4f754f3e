//! A cache of freed host allocations, keyed by exact size and alignment. Training loops free
//! and re-allocate the same large buffers every step; handing them back from here avoids the
//! page faults (and kernel zeroing) of fresh memory. Small blocks go straight to the global
//! allocator, which is fast for them.
//!
//! The lock is only ever tried, never waited on: a contended or poisoned pool is bypassed,
//! and a forked child whose parent held the lock simply allocates fresh memory.

use std::alloc::Layout;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Blocks below this size are not cached.
const MIN_BYTES: usize = 64 << 10;
/// Default bound on the bytes held idle by the cache.
const DEFAULT_LIMIT: usize = 1 << 30;

struct Pool {
    /// (bytes, align) -> addresses of idle blocks with exactly that layout.
    free: HashMap<(usize, usize), Vec<usize>>,
    held: usize,
}

static POOL: Mutex<Option<Pool>> = Mutex::new(None);
/// usize::MAX until read from `RTORCH_CPU_CACHE_BYTES` on first use.
static LIMIT: AtomicUsize = AtomicUsize::new(usize::MAX);

fn limit() -> usize {
    let l = LIMIT.load(Ordering::Relaxed);
    if l != usize::MAX {
        return l;
    }
    let l = std::env::var("RTORCH_CPU_CACHE_BYTES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(DEFAULT_LIMIT);
    LIMIT.store(l, Ordering::Relaxed);
    l
}

/// Sets the bound on idle cached bytes (0 disables the cache) and trims to it.
pub fn set_limit(bytes: usize) {
    LIMIT.store(bytes.min(usize::MAX - 1), Ordering::Relaxed);
    trim(bytes);
}

/// Bytes held idle by the cache.
pub fn held() -> usize {
    POOL.try_lock()
        .ok()
        .and_then(|p| p.as_ref().map(|p| p.held))
        .unwrap_or(0)
}

/// Frees idle blocks until at most `keep` bytes stay cached.
pub fn trim(keep: usize) {
    let Ok(mut guard) = POOL.try_lock() else {
        return;
    };
    let Some(pool) = guard.as_mut() else {
        return;
    };
    let keys: Vec<(usize, usize)> = pool.free.keys().copied().collect();
    for key in keys {
        if pool.held <= keep {
            break;
        }
        let blocks = pool
            .free
            .get_mut(&key)
            .map(std::mem::take)
            .unwrap_or_default();
        for addr in blocks {
            pool.held -= key.0;
            // The pair came from a Vec's valid layout; were it ever not one, leaking the
            // block is safe where freeing it with a made-up layout would not be.
            if let Ok(l) = Layout::from_size_align(key.0, key.1) {
                // SAFETY: the block was allocated by the global allocator with this layout
                // (recorded when it was given back) and nothing else refers to it.
                unsafe { std::alloc::dealloc(addr as *mut u8, l) };
            }
        }
    }
    pool.free.retain(|_, v| !v.is_empty());
}

/// An empty Vec with capacity for exactly `n` elements from the cache, if one is idle.
pub fn take<T>(n: usize) -> Option<Vec<T>> {
    let bytes = n.checked_mul(std::mem::size_of::<T>())?;
    if bytes < MIN_BYTES {
        return None;
    }
    let key = (bytes, std::mem::align_of::<T>());
    let addr = {
        let mut guard = POOL.try_lock().ok()?;
        let pool = guard.as_mut()?;
        let addr = pool.free.get_mut(&key)?.pop()?;
        pool.held -= bytes;
        addr
    };
    // SAFETY: the block came from a Vec<U> with size_of::<U>() * capacity == bytes and the
    // same alignment, so it is a valid allocation for `n` elements of T; length 0 exposes no
    // element.
    Some(unsafe { Vec::from_raw_parts(addr as *mut T, 0, n) })
}

/// Hands a Vec's allocation to the cache (or frees it when it is small or the cache is full).
pub fn give<T>(v: Vec<T>) {
    let bytes = v.capacity() * std::mem::size_of::<T>();
    if bytes < MIN_BYTES || bytes > limit() {
        return;
    }
    let key = (bytes, std::mem::align_of::<T>());
    let Ok(mut guard) = POOL.try_lock() else {
        return;
    };
    let pool = guard.get_or_insert_with(|| Pool {
        free: HashMap::new(),
        held: 0,
    });
    if pool.held + bytes > limit() {
        drop(guard);
        trim(limit().saturating_sub(bytes));
        let Ok(g) = POOL.try_lock() else {
            return;
        };
        guard = g;
        if guard.as_ref().is_some_and(|p| p.held + bytes > limit()) {
            return;
        }
    }
    let mut v = std::mem::ManuallyDrop::new(v);
    let addr = v.as_mut_ptr() as usize;
    if let Some(pool) = guard.as_mut() {
        pool.held += bytes;
        pool.free.entry(key).or_default().push(addr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_freed_block_is_handed_back_for_the_same_layout() {
        let v: Vec<f32> = vec![1.0; 123_457];
        let p = v.as_ptr() as usize;
        give(v);
        // Same bytes and alignment, another element type of that alignment.
        let w: Vec<i32> = take(123_457).expect("cached");
        assert_eq!(w.as_ptr() as usize, p);
        assert_eq!((w.len(), w.capacity()), (0, 123_457));
        assert!(take::<u64>(123_457 / 2).is_none(), "other alignment");
    }

    #[test]
    fn small_blocks_are_not_cached() {
        give(vec![0u8; 100]);
        assert!(take::<u8>(100).is_none());
    }
}
