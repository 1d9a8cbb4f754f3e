//! Elementwise maps: unary ops, binary ops (tensor or scalar right-hand side) on broadcast layouts, where, predicates.

#[allow(unused_imports)]
use super::Strided;
#[allow(unused_imports)]
use crate::error::Result;

pub trait ElementwiseKernels {}
