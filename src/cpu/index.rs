//! CPU kernels of the index family.

use super::CpuBackend;
use crate::backend::IndexKernels;

impl IndexKernels for CpuBackend {}
