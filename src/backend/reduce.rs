//! Row reductions and arg-reductions, scans, sorting.

#[allow(unused_imports)]
use super::Strided;
#[allow(unused_imports)]
use crate::error::Result;

pub trait ReduceKernels {}
