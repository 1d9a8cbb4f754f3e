//! Fused optimizer steps, in place on a parameter and its state (PyTorch's single-tensor
//! formulas). In every step the written tensors (parameter, state) share no memory with each
//! other or with the gradient; all have the parameter's shape and float dtype.

use super::Strided;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::storage::Storage;

/// Hyper-parameters of one SGD step.
#[derive(Clone, Copy, Debug)]
pub struct SgdStep {
    pub lr: f64,
    pub momentum: f64,
    pub dampening: f64,
    pub weight_decay: f64,
    pub nesterov: bool,
    pub maximize: bool,
    /// The momentum buffer is new: it takes the update direction instead of blending.
    pub first: bool,
}

/// Hyper-parameters of one Adam/AdamW step.
#[derive(Clone, Copy, Debug)]
pub struct AdamStep {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub amsgrad: bool,
    pub maximize: bool,
    /// AdamW: decay the parameter instead of adding `weight_decay·p` to the gradient.
    pub decoupled: bool,
    pub step: u64,
}

/// Hyper-parameters of one RMSprop step.
#[derive(Clone, Copy, Debug)]
pub struct RmspropStep {
    pub lr: f64,
    pub alpha: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub momentum: f64,
    pub maximize: bool,
}

/// Hyper-parameters of one Adagrad step.
#[derive(Clone, Copy, Debug)]
pub struct AdagradStep {
    pub lr: f64,
    pub lr_decay: f64,
    pub weight_decay: f64,
    pub eps: f64,
    pub maximize: bool,
    pub step: u64,
}

/// Whether two storages' memory ranges intersect (the same device assumed).
pub fn memory_overlaps(a: &Storage, b: &Storage) -> bool {
    if a.device() != b.device() || a.is_empty() || b.is_empty() {
        return false;
    }
    let (sa, sb) = (a.data_ptr(), b.data_ptr());
    let ea = sa.saturating_add(a.len() * a.dtype().size());
    let eb = sb.saturating_add(b.len() * b.dtype().size());
    sa < eb && sb < ea
}

/// Every tensor of one step: same element count and dtype as the parameter, and no two of
/// them (the gradient included) sharing memory, so that kernels may update them in place independently.
pub fn check_disjoint(op: &str, param: Strided, rest: &[Strided]) -> Result<()> {
    let dt = param.dtype();
    if dt != DType::F32 && dt != DType::F64 {
        return Err(Error::NotImplemented(format!(
            "fused optimizer step: dtype {} is not supported (use float32 or float64 parameters)",
            dt.name()
        )));
    }
    let all: Vec<Strided> = std::iter::once(param).chain(rest.iter().copied()).collect();
    for (i, a) in all.iter().enumerate() {
        if a.dtype() != dt || a.numel() != param.numel() {
            return Err(Error::Runtime(format!(
                "{op}: state tensor {i} is {} {:?}, expected {} {:?}",
                a.dtype().name(),
                a.shape(),
                dt.name(),
                param.shape()
            )));
        }
        for b in &all[..i] {
            if memory_overlaps(a.storage, b.storage) {
                return Err(Error::Runtime(format!(
                    "{op}: the parameter, its gradient and its state must not share memory"
                )));
            }
        }
    }
    Ok(())
}

pub trait OptimKernels {
    /// In place: SGD on `param` (momentum buffer `buf` when `momentum != 0`).
    fn sgd_step(
        &self,
        param: Strided,
        grad: Strided,
        buf: Option<Strided>,
        h: SgdStep,
    ) -> Result<()>;

    /// In place: Adam/AdamW on `param`, `exp_avg`, `exp_avg_sq` (and `max_exp_avg_sq` with
    /// amsgrad).
    fn adam_step(
        &self,
        param: Strided,
        grad: Strided,
        exp_avg: Strided,
        exp_avg_sq: Strided,
        max_exp_avg_sq: Option<Strided>,
        h: AdamStep,
    ) -> Result<()>;

    /// In place: RMSprop on `param`, `square_avg` (plus `grad_avg` when centered and
    /// `momentum_buf` when `momentum > 0`).
    fn rmsprop_step(
        &self,
        param: Strided,
        grad: Strided,
        square_avg: Strided,
        grad_avg: Option<Strided>,
        momentum_buf: Option<Strided>,
        h: RmspropStep,
    ) -> Result<()>;

    /// In place: Adagrad on `param` and `state_sum`.
    fn adagrad_step(
        &self,
        param: Strided,
        grad: Strided,
        state_sum: Strided,
        h: AdagradStep,
    ) -> Result<()>;
}
