//! The CUDA backend. This build has no `cuda` feature: the buffer type has no values, so no
//! tensor can live on a GPU, and asking for the backend reports that CUDA is unavailable.

use crate::backend::Backend;
use crate::device::Device;
use crate::error::{Error, Result};

/// Device memory. Uninhabited without the `cuda` feature.
pub enum CudaBuffer {}

impl CudaBuffer {
    pub fn len(&self) -> usize {
        match *self {}
    }
    pub fn is_empty(&self) -> bool {
        match *self {}
    }
    pub fn device(&self) -> Device {
        match *self {}
    }
    pub fn device_ptr(&self) -> usize {
        match *self {}
    }
}

pub fn is_available() -> bool {
    false
}

pub fn device_count() -> usize {
    0
}

pub fn backend(_index: usize) -> Result<&'static dyn Backend> {
    Err(Error::Runtime(
        "Torch not compiled with CUDA enabled: CUDA not available in this build of rtorch".into(),
    ))
}
