//! The CUDA backend: device memory, kernels compiled with NVRTC from the sources in `cuda/`,
//! matrix products through cuBLAS. With the `cuda` feature off every entry point reports that
//! CUDA is not available, and `CudaBuffer` has no values so no tensor can live on a GPU.
//!
//! The public functions below are the whole surface the bindings use (device queries, memory
//! statistics, synchronisation, events); they exist in both builds with the same signatures.

use std::sync::atomic::{AtomicBool, Ordering};

#[cfg(not(feature = "cuda"))]
mod disabled;
#[cfg(not(feature = "cuda"))]
pub use disabled::*;

#[cfg(feature = "cuda")]
mod buffer;
#[cfg(feature = "cuda")]
mod context;
#[cfg(feature = "cuda")]
mod elementwise;
#[cfg(feature = "cuda")]
mod index;
#[cfg(feature = "cuda")]
mod kernels;
#[cfg(feature = "cuda")]
mod launch;
#[cfg(feature = "cuda")]
mod linalg;
#[cfg(feature = "cuda")]
mod memory;
#[cfg(feature = "cuda")]
mod nccl;
#[cfg(feature = "cuda")]
mod nn;
#[cfg(feature = "cuda")]
mod optim;
#[cfg(feature = "cuda")]
mod random;
#[cfg(feature = "cuda")]
mod reduce;

#[cfg(feature = "cuda")]
pub use buffer::CudaBuffer;
#[cfg(feature = "cuda")]
pub use context::{
    backend, capability, device_count, device_name, empty_cache, is_available, memory_stats,
    multiprocessor_count, reset_peak_memory, synchronize, total_memory, Event,
};
#[cfg(feature = "cuda")]
pub use memory::{is_pinned, pin};
#[cfg(feature = "cuda")]
pub use nccl::{nccl_available, nccl_unique_id, nccl_version, NcclComm};

#[cfg(feature = "cuda")]
pub use kernels::{compile_check, prebuild};

/// Memory held by tensors on one device, and what the allocator keeps cached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoryStats {
    /// Bytes in live tensors.
    pub allocated: usize,
    /// Peak of `allocated` since start or the last reset.
    pub peak: usize,
    /// Bytes the stream-ordered pool holds (live + cached).
    pub reserved: usize,
}

/// A reduction of the NCCL backend (`torch.distributed.ReduceOp` less the bitwise ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NcclOp {
    Sum,
    Product,
    Min,
    Max,
    /// The mean over the ranks (NCCL's own average; integers truncate).
    Avg,
}

static ALLOW_TF32: AtomicBool = AtomicBool::new(false);

/// Whether float32 matrix products may use TF32 tensor cores
/// (`torch.backends.cuda.matmul.allow_tf32`; off by default as in PyTorch).
pub fn allow_tf32() -> bool {
    ALLOW_TF32.load(Ordering::Relaxed)
}

pub fn set_allow_tf32(on: bool) {
    ALLOW_TF32.store(on, Ordering::Relaxed)
}
