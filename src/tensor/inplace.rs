//! In-place ops. Each is computed out of place with autograd, then written into `self`'s
//! storage; the version counter is bumped, and `self` (or the base it views) takes over the
//! result's history, as PyTorch's rebase / CopySlices do.

use super::Tensor;
use crate::autograd::{self, is_grad_enabled, NodeRef};
use crate::cpu;
use crate::dtype::{DType, Elem};
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
        let s = src.cast_raw_if(self.dtype());
        crate::with_dtype!(self.dtype(), T, {
            // A separate buffer even when `src` overlaps self.
            let vals = cpu::gather_contiguous::<T>(&s);
            cpu::write_strided::<T>(self, &vals);
        });
        Ok(())
    }

    /// `self += g` without autograd (gradient accumulation).
    pub(crate) fn add_assign_raw(&self, g: &Tensor) -> Result<()> {
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
        let s = src.cast_raw_if(self.dtype()).expand(self.shape())?;
        crate::with_dtype!(self.dtype(), T, {
            let vals = cpu::gather_contiguous::<T>(&s);
            // SAFETY: `vals` is a separate buffer; writes are sequential.
            let dst = unsafe { self.storage().as_mut_slice::<T>() };
            let l = self.layout();
            let mut i = 0;
            crate::layout::for_each_offset(
                &l.shape,
                [&l.strides],
                [l.offset],
                0,
                l.numel(),
                |[o]| {
                    dst[o] = T::from_f64(dst[o].to_f64() + vals[i].to_f64());
                    i += 1;
                },
            );
        });
        Ok(())
    }

    /// Makes `result` (same shape as self, computed out of place) the new value of `self`.
    pub fn apply_inplace(&self, result: &Tensor) -> Result<()> {
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
                let z = Tensor::zeros(&l1.shape, g.dtype())?;
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
                let z = Tensor::zeros(&bshape, g.dtype())?;
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

    pub fn fill_(&self, v: super::creation::Scalar) -> Result<()> {
        let t = crate::with_dtype!(self.dtype(), T, {
            Tensor::from_vec_unchecked(vec![v.to_elem::<T>(); self.numel()], self.shape())
        });
        self.apply_inplace(&t)
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
        let recorded = is_grad_enabled() && self.requires_grad();
        let r = f(&self.inplace_input()?)?;
        // Rare: self needs no grad but another operand does (`y.mul_(w)`); redo it on a copy.
        let r = if !recorded && r.requires_grad() {
            f(&self.copy_raw())?
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
        self.apply_inplace(&r)
    }
}
