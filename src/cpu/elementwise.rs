//! CPU kernels of the elementwise family.

use super::CpuBackend;
use crate::backend::ElementwiseKernels;

impl ElementwiseKernels for CpuBackend {}
