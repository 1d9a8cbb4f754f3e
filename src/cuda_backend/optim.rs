//! Optimizer family on the GPU.
use super::context::Gpu;
use crate::backend::{AdagradStep, AdamStep, OptimKernels, RmspropStep, SgdStep, Strided};
use crate::error::{Error, Result};

pub(super) fn kernel_names() -> Vec<String> {
    Vec::new()
}

fn todo<T>(op: &str) -> Result<T> {
    Err(Error::NotImplemented(format!("{op} on CUDA")))
}

impl OptimKernels for Gpu {
    fn sgd_step(&self, _p: Strided, _g: Strided, _b: Option<Strided>, _h: SgdStep) -> Result<()> {
        todo("sgd")
    }
    fn adam_step(
        &self,
        _p: Strided,
        _g: Strided,
        _a: Strided,
        _b: Strided,
        _c: Option<Strided>,
        _h: AdamStep,
    ) -> Result<()> {
        todo("adam")
    }
    fn rmsprop_step(
        &self,
        _p: Strided,
        _g: Strided,
        _s: Strided,
        _a: Option<Strided>,
        _m: Option<Strided>,
        _h: RmspropStep,
    ) -> Result<()> {
        todo("rmsprop")
    }
    fn adagrad_step(&self, _p: Strided, _g: Strided, _s: Strided, _h: AdagradStep) -> Result<()> {
        todo("adagrad")
    }
}
