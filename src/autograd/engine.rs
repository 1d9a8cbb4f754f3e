//! The backward sweep: walks reachable nodes newest-first (sequence order), sums incoming
//! gradients, runs hooks and rules, checks every gradient a rule or hook returns against the
//! tensor it is for, and accumulates into leaves or captures requested inputs.

use super::grad_mode::GradModeGuard;
use super::graph::{self, Hook, OutputMeta, RegionFn, Rule, SnapshotEdge};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

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

/// Sums two gradients for the same tensor. Both were checked against that tensor's metadata
/// (or come from the same rule), so differing shapes are a bug reported as an error rather
/// than broadcast.
fn add_grad(acc: Option<Tensor>, g: Tensor) -> Result<Tensor> {
    match acc {
        None => Ok(g),
        Some(a) => {
            if a.shape() != g.shape() {
                return Err(Error::Runtime(format!(
                    "autograd: cannot sum gradients of shapes {:?} and {:?} for one tensor",
                    a.shape(),
                    g.shape()
                )));
            }
            let g = if g.dtype() != a.dtype() {
                g.to_dtype(a.dtype())?
            } else {
                g
            };
            a.add(&g)
        }
    }
}

/// Gradients being summed for nodes not yet reached, and which of them the sweep made itself
/// (a sum, a scattered region): nothing else refers to those, so without `create_graph`
/// further contributions are added into them in place.
#[derive(Default)]
struct Pending {
    grads: HashMap<usize, Tensor>,
    owned: HashSet<usize>,
}

impl Pending {
    /// Adds `g` for node `j`; `fresh`: nothing else refers to `g`.
    fn add(&mut self, j: usize, g: Tensor, fresh: bool, in_place: bool) -> Result<()> {
        match self.grads.remove(&j) {
            None => {
                self.grads.insert(j, g);
                if fresh {
                    self.owned.insert(j);
                } else {
                    self.owned.remove(&j);
                }
            }
            Some(acc) if in_place && self.owned.contains(&j) && acc.shape() == g.shape() => {
                acc.add_assign_raw(&g)?;
                self.grads.insert(j, acc);
            }
            Some(acc) => {
                self.grads.insert(j, add_grad(Some(acc), g)?);
                self.owned.insert(j);
            }
        }
        Ok(())
    }

    fn take(&mut self, j: usize) -> Option<Tensor> {
        self.owned.remove(&j);
        self.grads.remove(&j)
    }

    /// Adds the gradient of a region view (`Rule::Region`) straight into the region of the
    /// gradient pending for its input, when the sweep owns that one; returns whether it did.
    fn add_region(&mut self, rule: &Rule, edges: &[SnapshotEdge], grad: &Tensor) -> Result<bool> {
        let (Rule::Region { region, .. }, [SnapshotEdge::Node(j, _)]) = (rule, edges) else {
            return Ok(false);
        };
        if !self.owned.contains(j) {
            return Ok(false);
        }
        let Some(acc) = self.grads.get(j) else {
            return Ok(false);
        };
        add_into_region(acc, region, grad)
    }
}

/// Adds `grad` into the region of `acc` that `region` selects, when that region has
/// `grad`'s shape and no repeated elements; returns whether it did.
fn add_into_region(acc: &Tensor, region: &RegionFn, grad: &Tensor) -> Result<bool> {
    let view = {
        let _ng = super::no_grad();
        region(acc)?
    };
    if view.shape() != grad.shape() || !view.has_distinct_elements() {
        return Ok(false);
    }
    view.add_assign_raw(grad)?;
    Ok(true)
}

/// `LeafGrads::add_region` for a region rule whose one edge is a leaf.
fn leaf_region(
    leaves: &mut LeafGrads,
    rule: &Rule,
    edges: &[SnapshotEdge],
    grad: &Tensor,
) -> Result<bool> {
    match (rule, edges) {
        (Rule::Region { region, .. }, [SnapshotEdge::Leaf(t)]) => {
            leaves.add_region(t, region, grad)
        }
        _ => Ok(false),
    }
}

/// True when a tensor of `shape` broadcasts to `desired` (so a gradient of `desired` can be
/// summed back to `shape`).
fn is_expandable_to(shape: &[usize], desired: &[usize]) -> bool {
    let Some(lead) = desired.len().checked_sub(shape.len()) else {
        return false;
    };
    shape
        .iter()
        .zip(&desired[lead..])
        .all(|(&s, &d)| s == d || s == 1)
}

/// PyTorch's check of a gradient a rule returned for input `index` of node `name`: a gradient
/// whose input broadcast to it is summed back, any other shape is an error; the dtype is cast
/// to the input's.
fn validate(name: &str, index: usize, g: Tensor, meta: Option<&OutputMeta>) -> Result<Tensor> {
    let Some(meta) = meta else {
        return Ok(g);
    };
    let g = if g.shape() == meta.shape.as_slice() {
        g
    } else if is_expandable_to(&meta.shape, g.shape()) {
        crate::tensor::binary_ops::sum_to(&g, &meta.shape)?
    } else {
        return Err(Error::Runtime(format!(
            "Function {name} returned an invalid gradient at index {index} - got {:?} but expected shape compatible with {:?}",
            g.shape(),
            meta.shape
        )));
    };
    if g.dtype() != meta.dtype {
        return g.to_dtype(meta.dtype);
    }
    Ok(g)
}

/// PyTorch's legacy type name of a CPU tensor (`CPUFloatType`) for hook errors.
fn type_name(dt: DType) -> String {
    format!("CPU{}Type", crate::tensor::binary_ops::pretty_dtype(dt))
}

/// Runs tensor hooks in order; a replacement must keep the gradient's dtype and shape.
fn run_hooks(hooks: &[Hook], mut grad: Tensor) -> Result<Tensor> {
    for h in hooks {
        if let Some(g) = h.call(&grad)? {
            if g.dtype() != grad.dtype() {
                return Err(Error::Runtime(format!(
                    "hook '{}' has changed the type of value (was {} got {})",
                    h.name(),
                    type_name(grad.dtype()),
                    type_name(g.dtype())
                )));
            }
            if g.shape() != grad.shape() {
                return Err(Error::Runtime(format!(
                    "hook '{}' has changed the size of value",
                    h.name()
                )));
            }
            grad = g;
        }
    }
    Ok(grad)
}

/// Runs backward from `roots` (each with its incoming gradient).
pub fn run_backward(
    roots: &[(Tensor, Tensor)],
    opts: &BackwardOptions,
) -> Result<Vec<Option<Tensor>>> {
    let _mode = GradModeGuard::new(opts.create_graph);
    // Backward ops run in the dtypes their forward ops chose, not under a fresh autocast.
    let _amp = crate::amp::suspend();
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

    let mut pending = Pending::default();
    // In-place sums only where gradients carry no graph of their own.
    let in_place = !opts.create_graph;
    let mut leaves = LeafGrads::default();
    let mut root_nodes = Vec::new();
    // Keep the roots' graphs alive for the sweep.
    let _holders: Vec<_> = roots.iter().filter_map(|(t, _)| t.grad_fn()).collect();
    for (i, (t, g)) in roots.iter().enumerate() {
        if g.shape() != t.shape() {
            return Err(Error::Runtime(format!(
                "Mismatch in shape: grad_output[{i}] has a shape of {:?} and output[{i}] has a shape of {:?}.",
                g.shape(),
                t.shape()
            )));
        }
        let g = if g.dtype() != t.dtype() {
            g.to_dtype(t.dtype())?
        } else {
            g.clone()
        };
        match t.grad_fn() {
            Some(f) => {
                let idx = f.index();
                pending.add(idx, g, false, in_place)?;
                root_nodes.push(idx);
            }
            None => {
                if !t.requires_grad() {
                    return Err(Error::Runtime(format!(
                        "element {i} of tensors does not require grad and does not have a grad_fn"
                    )));
                }
                leaves.add(t, g, false, in_place)?;
            }
        }
    }

    let graph::Reachable {
        order,
        leaf_edges,
        mut leaf_uses,
    } = graph::reachable(&root_nodes);
    for (_, idx) in order {
        // Whether or not this node runs, its leaf edges are settled once it has been passed.
        let settle = |leaves: &mut LeafGrads,
                      captured: &mut [Option<Tensor>],
                      leaf_uses: &mut HashMap<usize, usize>|
         -> Result<()> {
            for id in leaf_edges.get(&idx).into_iter().flatten() {
                let left = leaf_uses.get_mut(id).map(|n| {
                    *n -= 1;
                    *n
                });
                if left == Some(0) {
                    if let Some((t, g)) = leaves.take(*id) {
                        deliver_leaf(&t, g, opts, &leaf_pos, captured)?;
                    }
                }
            }
            Ok(())
        };
        let Some(grad) = pending.take(idx) else {
            settle(&mut leaves, &mut captured, &mut leaf_uses)?;
            continue;
        };
        let node = graph::snapshot(idx);
        let grad = run_hooks(&node.hooks, grad)?;
        if let Some(w) = &node.retain {
            if let Some(t) = w.upgrade() {
                let g = if opts.create_graph {
                    grad.clone()
                } else {
                    grad.detach()
                };
                accumulate_out_of_place(&Tensor(t), g, opts.create_graph)?;
            }
        }
        if let Some(&pos) = capture_node.get(&idx) {
            captured[pos] = Some(add_grad(captured[pos].take(), grad.clone())?);
            if opts.accumulate {
                accumulate_out_of_place(&inputs[pos], grad.detach(), false)?;
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
            .map(|e| !matches!(e, SnapshotEdge::None))
            .collect();
        let outs = {
            let _prof = crate::profiler::scope(
                crate::profiler::EventKind::Backward,
                || node.name.into(),
                || vec![grad.shape().to_vec()],
            );
            if in_place
                && (pending.add_region(&backward, &node.edges, &grad)?
                    || leaf_region(&mut leaves, &backward, &node.edges, &grad)?)
            {
                vec![None]
            } else {
                backward.apply(&grad, &needs)?
            }
        };
        // A region rule's gradient is a new tensor of its own.
        let fresh = in_place && matches!(backward, Rule::Region { .. });
        drop(backward);
        if !opts.retain_graph {
            graph::release(idx);
        }
        if outs.len() != node.edges.len() {
            return Err(Error::Runtime(format!(
                "Function {} returned an invalid number of gradients - expected {}, but got {}",
                node.name,
                node.edges.len(),
                outs.len()
            )));
        }
        for (i, (edge, out)) in node.edges.iter().zip(outs).enumerate() {
            // None: no contribution (an input that needs no gradient, or a zero one).
            let Some(g) = out else { continue };
            match edge {
                SnapshotEdge::None => {}
                SnapshotEdge::Node(j, meta) => {
                    let g = validate(node.name, i, g, meta.as_ref())?;
                    pending.add(*j, g, fresh, in_place)?;
                }
                SnapshotEdge::Leaf(t) => {
                    let g = validate(node.name, i, g, Some(&OutputMeta::of(t)))?;
                    leaves.add(t, g, fresh, in_place)?;
                }
            }
        }
        settle(&mut leaves, &mut captured, &mut leaf_uses)?;
    }
    // Leaves given as roots that no node reaches.
    for (t, g) in leaves.drain() {
        deliver_leaf(&t, g, opts, &leaf_pos, &mut captured)?;
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

/// Gradients for leaves, summed until the last node with an edge into the leaf has run: a
/// leaf's hooks then see its whole gradient once, and `.grad` is updated once, as PyTorch's
/// AccumulateGrad does.
///
/// As for `Pending`, a sum the sweep made itself (`owned`) takes further contributions in
/// place: a weight used at every step of a recurrent loop gets one buffer, not a fresh
/// full-size sum per step.
#[derive(Default)]
struct LeafGrads {
    // Insertion order kept, so that leftover root leaves are delivered in the roots' order.
    order: Vec<usize>,
    grads: HashMap<usize, (Tensor, Tensor)>,
    owned: HashSet<usize>,
}

impl LeafGrads {
    /// Adds `g` for leaf `t`; `fresh`: nothing else refers to `g`; `in_place`: sums may be
    /// formed in place (no graph of their own).
    fn add(&mut self, t: &Tensor, g: Tensor, fresh: bool, in_place: bool) -> Result<()> {
        let id = t.identity();
        match self.grads.remove(&id) {
            Some((t, prev))
                if in_place && self.owned.contains(&id) && prev.shape() == g.shape() =>
            {
                prev.add_assign_raw(&g)?;
                self.grads.insert(id, (t, prev));
            }
            Some((t, prev)) => {
                self.grads.insert(id, (t, add_grad(Some(prev), g)?));
                if in_place {
                    self.owned.insert(id);
                }
            }
            None => {
                self.order.push(id);
                self.grads.insert(id, (t.clone(), g));
                if fresh && in_place {
                    self.owned.insert(id);
                }
            }
        }
        Ok(())
    }

    /// As `Pending::add_region`, for a region view of leaf `t`.
    fn add_region(&mut self, t: &Tensor, region: &RegionFn, grad: &Tensor) -> Result<bool> {
        let id = t.identity();
        if !self.owned.contains(&id) {
            return Ok(false);
        }
        let Some((_, acc)) = self.grads.get(&id) else {
            return Ok(false);
        };
        add_into_region(acc, region, grad)
    }

    fn take(&mut self, id: usize) -> Option<(Tensor, Tensor)> {
        self.owned.remove(&id);
        self.grads.remove(&id)
    }

    fn drain(mut self) -> Vec<(Tensor, Tensor)> {
        let order = std::mem::take(&mut self.order);
        order
            .into_iter()
            .filter_map(|id| self.grads.remove(&id))
            .collect()
    }
}

fn deliver_leaf(
    t: &Tensor,
    g: Tensor,
    opts: &BackwardOptions,
    leaf_pos: &dyn Fn(&Tensor) -> Option<usize>,
    captured: &mut [Option<Tensor>],
) -> Result<()> {
    let pos = leaf_pos(t);
    if opts.inputs.is_some() && pos.is_none() {
        return Ok(());
    }
    let _prof = crate::profiler::scope(
        crate::profiler::EventKind::Backward,
        || "torch::autograd::AccumulateGrad".into(),
        || vec![g.shape().to_vec()],
    );
    let g = run_hooks(&t.leaf_hooks(), g)?;
    if let Some(p) = pos {
        captured[p] = Some(add_grad(captured[p].take(), g.clone())?);
    }
    if opts.accumulate {
        accumulate_grad(t, g, opts.create_graph)?;
    }
    Ok(())
}

// Mutable access to shared storage while the GIL is released
// ----------------------------------------------------------
// Backward (and large kernels) run without the GIL, so several Python threads can be inside
// the core at once. The rule: a thread writes into a storage that other threads can reach
// only while holding the lock that guards that write. For gradient accumulation that is the
// tensor's accumulation lock below, held across the whole read-add-write of `.grad` (reading
// the current gradient, adding in place or replacing it). Everything else writes only into
// buffers it has just allocated and not yet published. In-place ops issued by Python code on
// tensors that another thread is using concurrently are, as in PyTorch, the caller's
// responsibility. No hook or other Python code runs while an accumulation lock is held, and
// nothing under it takes another accumulation lock, so it cannot deadlock with the GIL.

const ACCUMULATION_STRIPES: usize = 64;

/// Accumulation locks, striped by tensor identity (a collision only serialises two tensors).
static ACCUMULATION: [Mutex<()>; ACCUMULATION_STRIPES] =
    [const { Mutex::new(()) }; ACCUMULATION_STRIPES];

fn accumulation_lock(t: &Tensor) -> MutexGuard<'static, ()> {
    let addr = Arc::as_ptr(&t.0) as usize;
    ACCUMULATION[(addr / 64) % ACCUMULATION_STRIPES]
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// Replaces `t.grad`, returning the old value so the caller can drop it after unlocking.
fn swap_grad(t: &Tensor, g: Option<Tensor>) -> Option<Tensor> {
    std::mem::replace(&mut t.meta().grad, g)
}

fn checked_for(t: &Tensor, g: Tensor) -> Result<Tensor> {
    if g.shape() != t.shape() {
        return Err(Error::Runtime(format!(
            "AccumulateGrad: a gradient of shape {:?} cannot be accumulated into a tensor of shape {:?}",
            g.shape(),
            t.shape()
        )));
    }
    if g.dtype() != t.dtype() {
        return g.to_dtype(t.dtype());
    }
    Ok(g)
}

/// Adds `g` into `t.grad` the way PyTorch's AccumulateGrad does: the first gradient is stored
/// as a fresh tensor (never aliasing another tensor), later ones are added in place unless a
/// graph of the gradient is being built. Atomic per tensor across threads.
pub fn accumulate_grad(t: &Tensor, g: Tensor, create_graph: bool) -> Result<()> {
    let g = checked_for(t, g)?;
    // A gradient nobody else can reach (its own dense storage, no other handle) is stored as
    // it is; otherwise it is copied so that `t.grad` never aliases another tensor.
    let owned = !create_graph
        && std::sync::Arc::strong_count(&g.0) == 1
        && std::sync::Arc::strong_count(&g.0.storage) == 1
        && g.0.base.is_none()
        && g.is_contiguous()
        && g.layout().offset == 0
        && g.numel() == g.storage().len();
    let g = if create_graph { g } else { g.detach() };
    let guard = accumulation_lock(t);
    let replaced = match t.grad() {
        None => {
            let new = if create_graph || owned {
                g
            } else {
                g.deep_clone()?
            };
            swap_grad(t, Some(new))
        }
        Some(old) => {
            if create_graph {
                swap_grad(t, Some(old.add(&g)?))
            } else {
                old.add_assign_raw(&g)?;
                None
            }
        }
    };
    drop(guard);
    drop(replaced);
    Ok(())
}

/// `t.grad = t.grad + g` (a fresh first value), atomically: retained gradients of non-leaf
/// tensors and `backward(inputs=[non_leaf])`.
fn accumulate_out_of_place(t: &Tensor, g: Tensor, create_graph: bool) -> Result<()> {
    let g = checked_for(t, g)?;
    let guard = accumulation_lock(t);
    let new = match t.grad() {
        None if create_graph => g,
        None => g.detach().deep_clone()?,
        Some(old) => old.add(&g)?,
    };
    let replaced = swap_grad(t, Some(new));
    drop(guard);
    drop(replaced);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expandable_shapes() {
        assert!(is_expandable_to(&[3], &[2, 3]));
        assert!(is_expandable_to(&[1, 3], &[4, 3]));
        assert!(is_expandable_to(&[], &[2]));
        assert!(!is_expandable_to(&[2, 3], &[3]));
        assert!(!is_expandable_to(&[2], &[3]));
    }

    #[test]
    fn reduces_and_rejects() {
        let g = Tensor::ones(&[4, 2, 3], DType::F32).unwrap();
        let meta = OutputMeta {
            shape: vec![3, 1],
            dtype: DType::F64,
        };
        let e = validate("XBackward", 0, g.clone(), Some(&meta)).unwrap_err();
        assert!(e
            .to_string()
            .contains("got [4, 2, 3] but expected shape compatible with [3, 1]"));
        let meta = OutputMeta {
            shape: vec![1, 3],
            dtype: DType::F64,
        };
        let r = validate("XBackward", 0, g, Some(&meta)).unwrap();
        assert_eq!(r.shape(), &[1, 3]);
        assert_eq!(r.dtype(), DType::F64);
        assert_eq!(r.to_f64_vec().unwrap(), vec![8.0; 3]);
    }
}
