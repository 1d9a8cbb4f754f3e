//! Batched matrix multiplication.

#[allow(unused_imports)]
use super::Strided;
#[allow(unused_imports)]
use crate::error::Result;

pub trait LinalgKernels {}
