//! In-place ops. Each is computed out of place with autograd, then written into `self`'s
//! storage; the version counter is bumped, and `self` (or the base it views) takes over the
//! result's history, as PyTorch's rebase / CopySlices do.

use super::Tensor;
use crate::autograd::{self, is_grad_enabled, NodeRef};
use crate::backend::{BinaryOp, Rhs};
use crate::dtype::DType;
use crate::error::{Error, Result};
use std::sync::Arc;

/// PyTorch's `canCast`: no float → int/bool, no int → bool.
fn can_cast(from: DType, to: DType) -> bool {
    !((from.is_float() && !to.is_float()) || (from != DType::Bool && to == DType::Bool))
}

impl Tensor {
    /// Writes `src` (same shape; any dtype) into this tensor's elements, no autograd.
    pub(crate) fn write_raw(&self, src: &Tensor) -> Result<()> {
        if src.shape() != self.shape() {
            return Err(Error::Runtime(format!(
                "write: shape {:?} does not match {:?}",
                src.shape(),
                self.shape()
            )));
        }
        // A separate buffer when `src` needs a cast or a move, or may overlap self.
        let s = if src.dtype() != self.dtype()
            || src.device() != self.device()
            || src.shares_storage(self)
        {
            src.to_dtype_raw(self.dtype())?
                .to_device_raw(self.device())?
        } else {
            src.clone()
        };
        self.backend()?.copy_into(s.strided(), self.strided())
    }

    /// PyTorch's `assert_no_internal_overlap`: an in-place op may not write a tensor in which
    /// one memory location backs several elements (a broadcast dim of stride 0).
    pub(crate) fn check_no_internal_overlap(&self) -> Result<()> {
        let l = self.layout();
        if l.shape
            .iter()
            .zip(&l.strides)
            .any(|(&n, &st)| st == 0 && n > 1)
        {
            return Err(Error::Runtime(
                "unsupported operation: more than one element of the written-to tensor refers to a single memory location. Please clone() the tensor before performing the operation.".into(),
            ));
        }
        Ok(())
    }

    /// `self += g` without autograd (gradient accumulation).
    pub(crate) fn add_assign_raw(&self, g: &Tensor) -> Result<()> {
        if g.dtype() == self.dtype() && g.device() == self.device() && g.shape() == self.shape() {
            self.check_no_internal_overlap()?;
            self.backend()?
                .binary_into(BinaryOp::Add, self.strided(), Rhs::Tensor(g.strided()))?;
            self.storage().bump_version();
            return Ok(());
        }
        let sum = {
            let _ng = autograd::no_grad();
            self.add(g)?
        };
        self.write_raw(&sum)?;
        self.storage().bump_version();
        Ok(())
    }

    /// Adds `src` into this (possibly self-overlapping) view element by element.
    pub(crate) fn index_add_region_raw(&self, src: &Tensor) -> Result<()> {
        let s = if src.dtype() == self.dtype() && src.device() == self.device() {
            src.clone()
        } else {
            src.to_dtype_raw(self.dtype())?
                .to_device_raw(self.device())?
        };
        let s = s.expand(self.shape())?;
        // Sequential accumulation, so that overlapping elements of self add up.
        self.backend()?
            .binary_into(BinaryOp::Add, self.strided(), Rhs::Tensor(s.strided()))
    }

    /// Makes `result` (same shape as self, computed out of place) the new value of `self`.
    pub fn apply_inplace(&self, result: &Tensor) -> Result<()> {
        self.check_no_internal_overlap()?;
        self.apply_inplace_overlapping(result)
    }

    /// `apply_inplace` for ops that may write a self-overlapping tensor (PyTorch allows the
    /// idempotent ones: `fill_`, `zero_`, `masked_fill_`).
    pub fn apply_inplace_overlapping(&self, result: &Tensor) -> Result<()> {
        if result.shape() != self.shape() {
            return Err(Error::Runtime(format!(
                "output with shape {:?} doesn't match the broadcast shape {:?}",
                self.shape(),
                result.shape()
            )));
        }
        if !can_cast(result.dtype(), self.dtype()) {
            return Err(Error::Runtime(format!(
                "result type {} can't be cast to the desired output type {}",
                super::binary::pretty_dtype(result.dtype()),
                super::binary::pretty_dtype(self.dtype())
            )));
        }
        let grad_on = is_grad_enabled();
        if grad_on && self.is_leaf() && self.requires_grad() {
            return Err(Error::Runtime(
                "a leaf Variable that requires grad is being used in an in-place operation.".into(),
            ));
        }
        let tracked = grad_on && (result.requires_grad() || self.requires_grad());
        if let (true, Some(base)) = (tracked, self.view_base()) {
            if base.is_leaf() && base.requires_grad() {
                return Err(Error::Runtime(
                    "a view of a leaf Variable that requires grad is being used in an in-place operation.".into(),
                ));
            }
            return self.copy_slices(base, result);
        }
        self.write_raw(result)?;
        self.storage().bump_version();
        if tracked {
            let r = if result.dtype() != self.dtype() {
                result.to_dtype(self.dtype())?
            } else {
                result.clone()
            };
            match r.grad_fn() {
                Some(f) => self.set_grad_fn(Some(f)),
                None => {
                    // The new value does not depend on anything that requires grad.
                    self.set_grad_fn(None);
                }
            }
        }
        Ok(())
    }

    /// In-place write into a view while recording the base's new history (CopySlices).
    fn copy_slices(&self, base: &Tensor, result: &Tensor) -> Result<()> {
        if !(base.is_contiguous() && base.offset() == 0) {
            return Err(Error::NotImplemented(
                "in-place operation on a view of a non-contiguous tensor that requires grad is not supported".into(),
            ));
        }
        let layout = self.layout().clone();
        let base_edge = base.edge();
        let value = if result.dtype() != self.dtype() {
            result.to_dtype(self.dtype())?
        } else {
            result.clone()
        };
        let value_edge = value.edge();
        self.write_raw(&value)?;
        self.storage().bump_version();
        let l1 = layout.clone();
        let rule = move |g: &Tensor, needs: &[bool]| -> Result<Vec<Option<Tensor>>> {
            let region = |t: &Tensor| t.as_strided_view(&l1);
            let gb = if needs[0] {
                let c = g.deep_clone()?;
                let z = Tensor::full_on(&l1.shape, 0i64, g.dtype(), g.device())?;
                region(&c)?.write_raw(&z)?;
                Some(c)
            } else {
                None
            };
            let gv = if needs[1] {
                Some(region(g)?.contiguous()?)
            } else {
                None
            };
            Ok(vec![gb, gv])
        };
        let node = NodeRef::new("CopySlices", vec![base_edge, value_edge], Arc::new(rule));
        base.set_grad_fn(Some(node));
        // The view now reads from the new base history.
        let bshape = base.shape().to_vec();
        let l2 = layout.clone();
        let vnode = NodeRef::new(
            "AsStridedBackward0",
            vec![base.edge()],
            Arc::new(move |g: &Tensor, _: &[bool]| {
                let z = Tensor::full_on(&bshape, 0i64, g.dtype(), g.device())?;
                z.as_strided_view(&l2)?.index_add_region_raw(&g.detach())?;
                Ok(vec![Some(z)])
            }),
        );
        self.set_grad_fn(Some(vnode));
        Ok(())
    }

    /// A view of a contiguous tensor with an explicit layout (offsets relative to it).
    pub(crate) fn as_strided_view(&self, l: &crate::layout::Layout) -> Result<Tensor> {
        let c = self.contiguous()?;
        let mut l = l.clone();
        l.offset += c.offset();
        if l.max_extent() > c.storage().len() {
            return Err(Error::Runtime("as_strided: view out of bounds".into()));
        }
        c.view_with_layout(l)
    }

    /// `copy_(src)`: broadcasts and casts `src` into self.
    pub fn copy_(&self, src: &Tensor) -> Result<()> {
        let s = src.expand(self.shape()).map_err(|_| {
            Error::Runtime(format!(
                "The size of tensor a ({:?}) must match the size of tensor b ({:?})",
                self.shape(),
                src.shape()
            ))
        })?;
        // copy_ may cast across any dtypes.
        let s = if s.dtype() != self.dtype() {
            s.to_dtype(self.dtype())?
        } else {
            s.alias()?
        };
        self.apply_inplace(&s)
    }

    /// `fill_(v)`, with PyTorch's check that `v` fits the dtype.
    pub fn fill_(&self, v: super::creation::Scalar) -> Result<()> {
        let t = Tensor::full_on(self.shape(), v, self.dtype(), self.device())?;
        self.apply_inplace_overlapping(&t)
    }

    pub fn zero_(&self) -> Result<()> {
        self.fill_(super::creation::Scalar::Int(0))
    }

    /// What an in-place op on `self` should compute from: `self`, or a recorded copy of it when
    /// autograd records the op (see `inplace`).
    pub fn inplace_input(&self) -> Result<Tensor> {
        if is_grad_enabled() && self.requires_grad() {
            self.deep_clone()
        } else {
            Ok(self.clone())
        }
    }

    /// Runs an out-of-place op and writes its result into self.
    ///
    /// When the op is recorded by autograd it runs on a copy of `self` (PyTorch's
    /// `original_self`), so that a gradient rule which saved its input is not invalidated by the
    /// write below: `y.clamp_(..)`, `y.mul_(w)`, `y.pow_(2)` stay differentiable.
    pub fn inplace(&self, f: impl Fn(&Tensor) -> Result<Tensor>) -> Result<()> {
        self.check_no_internal_overlap()?;
        self.inplace_overlapping(f)
    }

    /// `inplace` for ops that may write a self-overlapping tensor (`masked_fill_`).
    pub fn inplace_overlapping(&self, f: impl Fn(&Tensor) -> Result<Tensor>) -> Result<()> {
        let recorded = is_grad_enabled() && self.requires_grad();
        let r = f(&self.inplace_input()?)?;
        // Rare: self needs no grad but another operand does (`y.mul_(w)`); redo it on a copy.
        let r = if !recorded && r.requires_grad() {
            f(&self.to_dtype_raw(self.dtype())?)?
        } else {
            r
        };
        let r = if r.shape() != self.shape() {
            return Err(Error::Runtime(format!(
                "output with shape {:?} doesn't match the broadcast shape {:?}",
                self.shape(),
                r.shape()
            )));
        } else {
            r
        };
        self.apply_inplace_overlapping(&r)
    }
}
