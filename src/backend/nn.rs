//! Fused neural-network kernels: softmax rows, normalisation statistics, im2col/col2im, pooling indices.

#[allow(unused_imports)]
use super::Strided;
#[allow(unused_imports)]
use crate::error::Result;

pub trait NnKernels {}
