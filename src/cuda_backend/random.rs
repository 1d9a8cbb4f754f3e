//! Random family on the GPU.
pub(super) fn kernel_names() -> Vec<String> {
    Vec::new()
}
