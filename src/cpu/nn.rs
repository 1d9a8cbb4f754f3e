//! CPU kernels of the nn family.

use super::CpuBackend;
use crate::backend::NnKernels;

impl NnKernels for CpuBackend {}
