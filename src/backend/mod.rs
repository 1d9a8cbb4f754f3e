//! The backend contract: the small set of primitive kernels the tensor layer needs, grouped
//! by family. A backend (CPU in `src/cpu`, CUDA in `src/cuda_backend`) implements every
//! family; the tensor layer reaches it only through `backend(device)` and never touches
//! memory itself.
//!
//! Conventions shared by all kernels:
//! - inputs are `Strided` views (storage + a layout checked against it when built); outputs
//!   are fresh contiguous storages on the same device, unless the method says "in place";
//! - the tensor layer has already checked shapes, broadcast layouts, promoted dtypes and
//!   checked that all operands are on this backend's device;
//! - failures (allocation, unsupported dtype) are `Err`, never panics.

mod elementwise;
mod index;
mod linalg;
mod memory;
mod nn;
mod optim;
mod random;
mod reduce;

pub use elementwise::*;
pub use index::*;
pub use linalg::*;
pub use memory::*;
pub use nn::*;
pub use optim::*;
pub use random::*;
pub use reduce::*;

use crate::device::Device;
use crate::dtype::DType;
use crate::error::Result;
use crate::layout::Layout;
use crate::storage::Storage;

/// A read view of a storage through a layout that fits inside it.
#[derive(Clone, Copy)]
pub struct Strided<'a> {
    pub storage: &'a Storage,
    pub layout: &'a Layout,
}

impl<'a> Strided<'a> {
    pub fn new(storage: &'a Storage, layout: &'a Layout) -> Strided<'a> {
        Strided { storage, layout }
    }
    pub fn dtype(&self) -> DType {
        self.storage.dtype()
    }
    pub fn shape(&self) -> &'a [usize] {
        &self.layout.shape
    }
    pub fn numel(&self) -> usize {
        self.layout.numel()
    }
    pub fn is_contiguous(&self) -> bool {
        self.layout.is_contiguous()
    }
}

/// Every kernel family, for one device.
pub trait Backend:
    MemoryKernels
    + ElementwiseKernels
    + ReduceKernels
    + IndexKernels
    + NnKernels
    + LinalgKernels
    + OptimKernels
    + RandomKernels
    + Send
    + Sync
{
    fn device(&self) -> Device;
}

/// The one place that maps a device to its kernels.
pub fn backend(device: Device) -> Result<&'static dyn Backend> {
    match device {
        Device::Cpu => Ok(&crate::cpu::CpuBackend),
        Device::Cuda(i) => crate::cuda_backend::backend(i),
    }
}
