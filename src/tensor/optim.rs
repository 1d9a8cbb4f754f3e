//! Fused optimizer steps on tensors: validation, gradient dtype and aliasing, then one
//! in-place backend kernel per parameter; written tensors get their version bumped (as any
//! in-place op) so autograd notices stale saved tensors.

use super::Tensor;
use crate::backend::{memory_overlaps, AdagradStep, AdamStep, RmspropStep, SgdStep};
use crate::error::{Error, Result};

fn check(op: &str, p: &Tensor, g: &Tensor, state: &[&Tensor]) -> Result<()> {
    if p.shape() != g.shape() {
        return Err(Error::Runtime(format!(
            "{op}: gradient shape {:?} does not match parameter shape {:?}",
            g.shape(),
            p.shape()
        )));
    }
    if !p.dtype().is_float() {
        return Err(Error::Runtime(format!(
            "{op}: parameters must be floating point, got {}",
            p.dtype().name()
        )));
    }
    for s in state {
        if s.shape() != p.shape() || s.dtype() != p.dtype() {
            return Err(Error::Runtime(format!(
                "{op}: optimizer state {} {:?} does not match parameter {} {:?}",
                s.dtype().name(),
                s.shape(),
                p.dtype().name(),
                p.shape()
            )));
        }
    }
    let mut all: Vec<&Tensor> = vec![p, g];
    all.extend_from_slice(state);
    super::check_same_device(op, &all)?;
    Ok(())
}

/// The gradient as the parameter's dtype, in memory no written tensor shares.
fn grad_for(g: &Tensor, p: &Tensor, written: &[&Tensor]) -> Result<Tensor> {
    let g = g.detach();
    if g.dtype() != p.dtype()
        || written
            .iter()
            .any(|w| memory_overlaps(w.storage(), g.storage()))
    {
        return g.to_dtype_raw(p.dtype());
    }
    Ok(g)
}

fn bump(written: &[&Tensor]) {
    for t in written {
        t.storage().bump_version();
    }
}

impl Tensor {
    /// SGD step in place on `self`; returns the momentum buffer (a new one on the first step
    /// with momentum), or None without momentum.
    pub fn sgd_step_(
        &self,
        grad: &Tensor,
        buf: Option<&Tensor>,
        h: SgdStep,
    ) -> Result<Option<Tensor>> {
        let _prof = crate::profiler::op("aten::_fused_sgd_", &[self]);
        let buf = if h.momentum != 0.0 {
            Some(match buf {
                Some(b) => (b.clone(), false),
                None => (Tensor::zeros_like(self)?, true),
            })
        } else {
            None
        };
        let state: Vec<&Tensor> = buf.iter().map(|(b, _)| b).collect();
        check("sgd", self, grad, &state)?;
        let mut written = vec![self];
        written.extend(state.iter().copied());
        let g = grad_for(grad, self, &written)?;
        let h = SgdStep {
            first: buf.as_ref().is_some_and(|(_, first)| *first),
            ..h
        };
        self.backend()?.sgd_step(
            self.strided(),
            g.strided(),
            buf.as_ref().map(|(b, _)| b.strided()),
            h,
        )?;
        bump(&written);
        Ok(buf.map(|(b, _)| b))
    }

    /// Adam/AdamW step in place on `self` and its state (`max_exp_avg_sq` used with amsgrad).
    pub fn adam_step_(
        &self,
        grad: &Tensor,
        exp_avg: &Tensor,
        exp_avg_sq: &Tensor,
        max_exp_avg_sq: Option<&Tensor>,
        h: AdamStep,
    ) -> Result<()> {
        let _prof = crate::profiler::op("aten::_fused_adam_", &[self]);
        let vmax = max_exp_avg_sq.filter(|_| h.amsgrad);
        let mut written = vec![self, exp_avg, exp_avg_sq];
        written.extend(vmax);
        check("adam", self, grad, &written[1..])?;
        let g = grad_for(grad, self, &written)?;
        self.backend()?.adam_step(
            self.strided(),
            g.strided(),
            exp_avg.strided(),
            exp_avg_sq.strided(),
            vmax.map(|t| t.strided()),
            h,
        )?;
        bump(&written);
        Ok(())
    }

    /// RMSprop step in place on `self` and its state (`grad_avg` when centered,
    /// `momentum_buf` when momentum > 0).
    pub fn rmsprop_step_(
        &self,
        grad: &Tensor,
        square_avg: &Tensor,
        grad_avg: Option<&Tensor>,
        momentum_buf: Option<&Tensor>,
        h: RmspropStep,
    ) -> Result<()> {
        let _prof = crate::profiler::op("aten::_fused_rmsprop_", &[self]);
        let mb = momentum_buf.filter(|_| h.momentum > 0.0);
        let mut written = vec![self, square_avg];
        written.extend(grad_avg);
        written.extend(mb);
        check("rmsprop", self, grad, &written[1..])?;
        let g = grad_for(grad, self, &written)?;
        self.backend()?.rmsprop_step(
            self.strided(),
            g.strided(),
            square_avg.strided(),
            grad_avg.map(|t| t.strided()),
            mb.map(|t| t.strided()),
            h,
        )?;
        bump(&written);
        Ok(())
    }

    /// Adagrad step in place on `self` and `state_sum`.
    pub fn adagrad_step_(&self, grad: &Tensor, state_sum: &Tensor, h: AdagradStep) -> Result<()> {
        let _prof = crate::profiler::op("aten::_fused_adagrad_", &[self]);
        let written = [self, state_sum];
        check("adagrad", self, grad, &written[1..])?;
        let g = grad_for(grad, self, &written)?;
        self.backend()?
            .adagrad_step(self.strided(), g.strided(), state_sum.strided(), h)?;
        bump(&written);
        Ok(())
    }
}
