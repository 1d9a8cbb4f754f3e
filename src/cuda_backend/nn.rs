//! Neural-network family on the GPU.
use super::context::Gpu;
use crate::backend::{NnKernels, Strided, Window};
use crate::error::{Error, Result};
use crate::storage::Storage;

pub(super) fn kernel_names() -> Vec<String> {
    Vec::new()
}

fn todo<T>(op: &str) -> Result<T> {
    Err(Error::NotImplemented(format!("{op} on CUDA")))
}

impl NnKernels for Gpu {
    fn softmax(&self, _src: Strided, _dim: usize, _log: bool) -> Result<Storage> {
        todo("softmax")
    }
    fn moments(&self, _src: Strided) -> Result<(Storage, Storage)> {
        todo("moments")
    }
    fn running_stat_update(&self, _r: Strided, _b: Strided, _m: f64, _s: f64) -> Result<()> {
        todo("running stats")
    }
    fn im2col(&self, _src: Strided, _w: Window, _oh: usize, _ow: usize) -> Result<Storage> {
        todo("im2col")
    }
    fn col2im(
        &self,
        _src: Strided,
        _h: usize,
        _w: usize,
        _win: Window,
        _oh: usize,
        _ow: usize,
    ) -> Result<Storage> {
        todo("col2im")
    }
    fn max_pool2d_indices(
        &self,
        _src: Strided,
        _w: Window,
        _oh: usize,
        _ow: usize,
    ) -> Result<Storage> {
        todo("max_pool2d")
    }
}
