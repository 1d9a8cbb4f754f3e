//! Per-thread packing buffers, kept between calls (a GEMM per layer per step would
//! otherwise allocate and fault in fresh pages each time).

use std::cell::RefCell;

thread_local! {
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Floats of slack that let the buffer start on a 64-byte boundary.
const ALIGN: usize = 16;

/// Calls `f` with a 64-byte-aligned buffer of `len` floats (contents unspecified).
pub fn with_scratch<R>(len: usize, f: impl FnOnce(*mut f32) -> R) -> R {
    let run = |v: &mut Vec<f32>| {
        if v.len() < len + ALIGN {
            v.resize(len + ALIGN, 0.0);
        }
        let off = v.as_ptr().align_offset(64).min(ALIGN);
        f(v[off..].as_mut_ptr())
    };
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut v) => run(&mut v),
        // Re-entered on this thread (not expected): a fresh buffer.
        Err(_) => run(&mut Vec::new()),
    })
}
