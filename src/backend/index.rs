//! Gathers and scatters by index (with accumulation), masked selection, nonzero.

#[allow(unused_imports)]
use super::Strided;
#[allow(unused_imports)]
use crate::error::Result;

pub trait IndexKernels {}
