//! Thread-local grad mode (`no_grad`, `enable_grad`, `inference_mode`).

use std::cell::Cell;

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
    static INFERENCE: Cell<bool> = const { Cell::new(false) };
}

pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}

pub fn set_grad_enabled(on: bool) {
    GRAD_ENABLED.with(|g| g.set(on))
}

pub fn is_inference_mode() -> bool {
    INFERENCE.with(|g| g.get())
}

pub fn set_inference_mode(on: bool) {
    INFERENCE.with(|g| g.set(on))
}

/// Sets grad mode for a scope and restores the previous mode on drop.
pub struct GradModeGuard {
    prev: bool,
}

impl GradModeGuard {
    pub fn new(on: bool) -> Self {
        let prev = is_grad_enabled();
        set_grad_enabled(on);
        GradModeGuard { prev }
    }
}

impl Drop for GradModeGuard {
    fn drop(&mut self) {
        set_grad_enabled(self.prev);
    }
}

/// `no_grad()` as a Rust guard.
pub fn no_grad() -> GradModeGuard {
    GradModeGuard::new(false)
}
