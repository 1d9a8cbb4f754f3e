//! Reverse-mode automatic differentiation: a node arena, a backward engine, saved tensors
//! with version checks, and grad mode.

pub mod engine;
pub mod grad_mode;
pub mod graph;
pub mod saved;
pub mod saved_values;

pub use engine::{accumulate_grad, run_backward, BackwardOptions};
pub use grad_mode::{is_grad_enabled, no_grad, set_grad_enabled, GradModeGuard};
pub use graph::{
    live_nodes, BackwardFn, Edge, ForeignBackward, GradHook, Hook, NextFunction, NodeRef,
    OutputMeta, Rule,
};
pub use saved::SavedTensor;
pub use saved_values::{SavedList, SavedRead, SavedValue};

use crate::error::Result;
use crate::tensor::Tensor;
use std::sync::Arc;

/// True when an op on `inputs` must be recorded.
pub fn needs_grad(inputs: &[&Tensor]) -> bool {
    is_grad_enabled() && inputs.iter().any(|t| t.requires_grad())
}

/// Records `out = op(inputs)` with the gradient rule `backward`.
pub fn record<F>(out: &Tensor, name: &'static str, inputs: &[&Tensor], backward: F)
where
    F: Fn(&Tensor, &[bool]) -> Result<Vec<Option<Tensor>>> + Send + Sync + 'static,
{
    record_rule(out, name, inputs, Rule::Native(Arc::new(backward)));
}

/// Records `out = op(inputs)` with any kind of rule (e.g. a foreign one).
pub fn record_rule(out: &Tensor, name: &'static str, inputs: &[&Tensor], rule: Rule) {
    let edges = inputs.iter().map(|t| t.edge()).collect();
    let node = NodeRef::with_rule(name, edges, rule, Some(OutputMeta::of(out)));
    out.set_grad_fn(Some(node));
}

/// Runs `f` and records its result if any input needs a gradient. `f` computes the forward
/// value; `rule` builds the backward closure only when needed.
pub fn maybe_record<R>(out: Tensor, name: &'static str, inputs: &[&Tensor], rule: R) -> Tensor
where
    R: FnOnce() -> BackwardFn,
{
    if needs_grad(inputs) && out.dtype().is_float() {
        let edges = inputs.iter().map(|t| t.edge()).collect();
        let meta = OutputMeta::of(&out);
        let node = NodeRef::with_rule(name, edges, Rule::Native(rule()), Some(meta));
        out.set_grad_fn(Some(node));
    }
    out
}

/// Tells what the rule of `out`'s node saved (names as PyTorch's `_saved_*` attributes), when
/// `out` was recorded; `saved` runs only then. It must not lock `out`'s autograd metadata.
pub fn describe<F>(out: &Tensor, saved: F)
where
    F: FnOnce() -> SavedList,
{
    let m = out.meta();
    if let Some(n) = &m.grad_fn {
        n.set_saved(saved());
    }
}
