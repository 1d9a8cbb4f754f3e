//! Without the `cuda` feature: no device memory can exist and every query says so.

use super::MemoryStats;
use crate::backend::{Backend, Strided};
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

fn not_compiled<T>() -> Result<T> {
    Err(Error::Runtime(
        "Torch not compiled with CUDA enabled: CUDA not available in this build of rtorch".into(),
    ))
}

pub fn is_available() -> bool {
    false
}

pub fn device_count() -> usize {
    0
}

pub fn backend(_index: usize) -> Result<&'static dyn Backend> {
    not_compiled()
}

pub fn device_name(_index: usize) -> Result<String> {
    not_compiled()
}

pub fn capability(_index: usize) -> Result<(i32, i32)> {
    not_compiled()
}

pub fn total_memory(_index: usize) -> Result<usize> {
    not_compiled()
}

pub fn multiprocessor_count(_index: usize) -> Result<u32> {
    not_compiled()
}

pub fn synchronize(_index: usize) -> Result<()> {
    not_compiled()
}

pub fn memory_stats(_index: usize) -> Result<MemoryStats> {
    not_compiled()
}

pub fn reset_peak_memory(_index: usize) -> Result<()> {
    not_compiled()
}

pub fn empty_cache() -> Result<()> {
    Ok(())
}

/// A timing marker on a device's stream (`torch.cuda.Event`).
pub struct Event {
    never: std::convert::Infallible,
}

impl Event {
    pub fn new(_index: usize) -> Result<Event> {
        not_compiled()
    }
    pub fn record(&self) -> Result<()> {
        match self.never {}
    }
    pub fn multiprocessor_count(_index: usize) -> Result<u32> {
        not_compiled()
    }

    pub fn synchronize(&self) -> Result<()> {
        match self.never {}
    }
    pub fn query(&self) -> Result<bool> {
        match self.never {}
    }
    pub fn elapsed_ms(&self, _end: &Event) -> Result<f32> {
        match self.never {}
    }
}

/// NVRTC compile check of every kernel family (needs the `cuda` feature).
pub fn compile_check(_arch: &str) -> Result<Vec<(String, String)>> {
    not_compiled()
}

/// A page-locked host copy of `host` (`Tensor.pin_memory()`).
pub fn pin(_host: &crate::storage::Storage) -> Result<crate::storage::Storage> {
    Err(Error::Runtime(
        "Cannot access accelerator device when none is available.".into(),
    ))
}

/// Whether host memory at `ptr` is page-locked by this backend.
pub fn is_pinned(_ptr: usize) -> bool {
    false
}

/// Compiles every kernel family into the disk cache (needs the `cuda` feature).
pub fn prebuild(_arch: &str) -> Result<String> {
    not_compiled()
}

/// Whether the NCCL library can be opened (never without the `cuda` feature).
pub fn nccl_available() -> bool {
    false
}

pub fn nccl_version() -> Result<(i32, i32, i32)> {
    not_compiled()
}

pub fn nccl_unique_id() -> Result<Vec<u8>> {
    not_compiled()
}

/// An NCCL communicator. Uninhabited without the `cuda` feature.
pub enum NcclComm {}

impl NcclComm {
    pub fn new(_id: &[u8], _rank: usize, _world: usize, _device: usize) -> Result<NcclComm> {
        not_compiled()
    }
    pub fn rank(&self) -> usize {
        match *self {}
    }
    pub fn size(&self) -> usize {
        match *self {}
    }
    pub fn device(&self) -> usize {
        match *self {}
    }
    pub fn all_reduce(&self, _t: Strided<'_>, _op: super::NcclOp) -> Result<()> {
        match *self {}
    }
    pub fn broadcast(&self, _t: Strided<'_>, _root: usize) -> Result<()> {
        match *self {}
    }
    pub fn reduce(&self, _t: Strided<'_>, _root: usize, _op: super::NcclOp) -> Result<()> {
        match *self {}
    }
    pub fn all_gather(&self, _output: Strided<'_>, _input: Strided<'_>) -> Result<()> {
        match *self {}
    }
    pub fn reduce_scatter(
        &self,
        _output: Strided<'_>,
        _input: Strided<'_>,
        _op: super::NcclOp,
    ) -> Result<()> {
        match *self {}
    }
    pub fn send(&self, _t: Strided<'_>, _peer: usize) -> Result<()> {
        match *self {}
    }
    pub fn recv(&self, _t: Strided<'_>, _peer: usize) -> Result<()> {
        match *self {}
    }
    pub fn is_completed(&self) -> Result<bool> {
        match *self {}
    }
    pub fn wait(&self, _timeout: std::time::Duration, _what: &str) -> Result<()> {
        match *self {}
    }
    pub fn group_start() -> Result<()> {
        not_compiled()
    }
    pub fn group_end() -> Result<()> {
        not_compiled()
    }
    pub fn abort(&self) {
        match *self {}
    }
    pub fn destroy(&self) -> Result<()> {
        match *self {}
    }
}
