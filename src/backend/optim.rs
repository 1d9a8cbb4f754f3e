//! Fused optimizer steps, in place on parameters and their state.

#[allow(unused_imports)]
use super::Strided;
#[allow(unused_imports)]
use crate::error::Result;

pub trait OptimKernels {}
