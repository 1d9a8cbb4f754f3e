//! The backward sweep: walks reachable nodes newest-first (sequence order), sums incoming
//! gradients, runs hooks and rules, and accumulates into leaves or captures requested inputs.

use super::grad_mode::GradModeGuard;
use super::graph::{self, EdgeTarget};
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use std::collections::HashMap;

/// What to do with the gradients that reach the requested tensors.
pub struct BackwardOptions<'a> {
    pub retain_graph: bool,
    pub create_graph: bool,
    /// `backward(inputs=…)` / `autograd.grad(…, inputs)`.
    pub inputs: Option<&'a [Tensor]>,
    /// true: accumulate into `.grad` (Tensor.backward); false: return them (autograd.grad).
    pub accumulate: bool,
    pub allow_unused: bool,
}

fn add_grad(acc: Option<Tensor>, g: Tensor) -> Result<Tensor> {
    match acc {
        None => Ok(g),
        Some(a) => a.add(&g),
    }
}

/// Runs backward from `roots` (each with its incoming gradient).
pub fn run_backward(
    roots: &[(Tensor, Tensor)],
    opts: &BackwardOptions,
) -> Result<Vec<Option<Tensor>>> {
    let _mode = GradModeGuard::new(opts.create_graph);
    let inputs = opts.inputs.unwrap_or(&[]);
    let mut captured: Vec<Option<Tensor>> = vec![None; inputs.len()];
    // Non-leaf inputs are captured at their node; leaves where their edge is followed.
    let mut capture_node: HashMap<usize, usize> = HashMap::new();
    for (i, t) in inputs.iter().enumerate() {
        if let Some(f) = t.grad_fn() {
            capture_node.insert(f.index(), i);
        } else if !t.requires_grad() {
            return Err(Error::Runtime(format!(
                "One of the differentiated Tensors (input {i}) does not require grad"
            )));
        }
    }
    let leaf_pos = |t: &Tensor| {
        inputs
            .iter()
            .position(|x| x.grad_fn().is_none() && x.same(t))
    };

    let mut pending: HashMap<usize, Tensor> = HashMap::new();
    let mut root_nodes = Vec::new();
    // Keep the roots' graphs alive for the sweep.
    let _holders: Vec<_> = roots.iter().filter_map(|(t, _)| t.grad_fn()).collect();
    for (t, g) in roots {
        match t.grad_fn() {
            Some(f) => {
                let idx = f.index();
                let prev = pending.remove(&idx);
                pending.insert(idx, add_grad(prev, g.clone())?);
                root_nodes.push(idx);
            }
            None => {
                if !t.requires_grad() {
                    return Err(Error::Runtime(
                        "element 0 of tensors does not require grad and does not have a grad_fn"
                            .into(),
                    ));
                }
                deliver_leaf(t, g.clone(), opts, &leaf_pos, &mut captured)?;
            }
        }
    }

    for (_, idx) in graph::reachable(&root_nodes) {
        let Some(mut grad) = pending.remove(&idx) else {
            continue;
        };
        let node = graph::snapshot(idx);
        for h in &node.hooks {
            if let Some(g) = h(&grad)? {
                grad = g;
            }
        }
        if let Some(w) = &node.retain {
            if let Some(t) = w.upgrade() {
                let t = Tensor(t);
                let g = if opts.create_graph {
                    grad.clone()
                } else {
                    grad.detach()
                };
                let new = add_grad(t.grad(), g)?;
                t.set_grad(Some(new));
            }
        }
        if let Some(&pos) = capture_node.get(&idx) {
            captured[pos] = Some(add_grad(captured[pos].take(), grad.clone())?);
            if opts.accumulate {
                let t = &inputs[pos];
                let new = add_grad(t.grad(), grad.detach())?;
                t.set_grad(Some(new));
            }
        }
        let Some(backward) = node.backward.clone() else {
            return Err(Error::Runtime(format!(
                "Trying to backward through the graph a second time (or directly access saved tensors after they have already been freed). Saved intermediate values of the graph are freed when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the graph a second time or if you need to access saved tensors after calling backward. (node {})",
                node.name
            )));
        };
        let needs: Vec<bool> = node
            .edges
            .iter()
            .map(|e| !matches!(e, EdgeTarget::None))
            .collect();
        let outs = backward(&grad, &needs)?;
        drop(backward);
        if !opts.retain_graph {
            graph::release(idx);
        }
        for (edge, out) in node.edges.iter().zip(outs) {
            let Some(g) = out else { continue };
            match edge {
                EdgeTarget::None => {}
                EdgeTarget::Node(j) => {
                    let prev = pending.remove(j);
                    pending.insert(*j, add_grad(prev, g)?);
                }
                EdgeTarget::Leaf(t) => deliver_leaf(t, g, opts, &leaf_pos, &mut captured)?,
            }
        }
    }

    if !opts.accumulate && !opts.allow_unused {
        if let Some(i) = captured.iter().position(|c| c.is_none()) {
            return Err(Error::Runtime(format!(
                "One of the differentiated Tensors (input {i}) appears to not have been used in the graph. Set allow_unused=True if this is the desired behavior."
            )));
        }
    }
    Ok(captured)
}

fn deliver_leaf(
    t: &Tensor,
    mut g: Tensor,
    opts: &BackwardOptions,
    leaf_pos: &dyn Fn(&Tensor) -> Option<usize>,
    captured: &mut [Option<Tensor>],
) -> Result<()> {
    let pos = leaf_pos(t);
    if opts.inputs.is_some() && pos.is_none() {
        return Ok(());
    }
    for h in t.leaf_hooks() {
        if let Some(r) = h(&g)? {
            g = r;
        }
    }
    if let Some(p) = pos {
        captured[p] = Some(add_grad(captured[p].take(), g.clone())?);
    }
    if opts.accumulate {
        accumulate_grad(t, g, opts.create_graph)?;
    }
    Ok(())
}

/// Adds `g` into `t.grad` the way PyTorch's AccumulateGrad does: the first gradient is stored
/// as a fresh tensor (never aliasing another tensor), later ones are added in place unless a
/// graph of the gradient is being built.
pub fn accumulate_grad(t: &Tensor, g: Tensor, create_graph: bool) -> Result<()> {
    let g = if g.shape() != t.shape() {
        g.expand(t.shape())?.contiguous()?
    } else {
        g
    };
    let g = if g.dtype() != t.dtype() {
        g.to_dtype(t.dtype())?
    } else {
        g
    };
    match t.grad() {
        None => {
            let new = if create_graph {
                g
            } else {
                g.detach().deep_clone()?
            };
            t.set_grad(Some(new));
        }
        Some(old) => {
            if create_graph {
                t.set_grad(Some(old.add(&g)?));
            } else {
                old.add_assign_raw(&g)?;
            }
        }
    }
    Ok(())
}
