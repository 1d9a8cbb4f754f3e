//! The graph arena: nodes live in a slab addressed by index. Tensors and edges hold counted
//! references (`NodeRef`); a node is freed when its count reaches zero, which follows tensor
//! lifetimes as in PyTorch. Frees are queued and drained iteratively so that dropping a
//! 100k-node chain cannot overflow the stack.

use super::saved_values::SavedList;
use crate::dtype::DType;
use crate::error::Result;
use crate::tensor::{Tensor, TensorImpl};
use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

/// A gradient rule: given the gradient of the node's output and which inputs need a
/// gradient, returns one optional gradient per input.
pub type BackwardFn = Arc<dyn Fn(&Tensor, &[bool]) -> Result<Vec<Option<Tensor>>> + Send + Sync>;

/// A tensor hook: may return a replacement gradient (of the same shape and dtype).
pub trait GradHook: Send + Sync + 'static {
    fn call(&self, grad: &Tensor) -> Result<Option<Tensor>>;
    /// The name used in errors about the hook's result.
    fn name(&self) -> String {
        "<unknown>".into()
    }
    /// For bindings that must find what a hook they created holds (garbage collection).
    fn as_any(&self) -> &dyn Any;
}

impl<F> GradHook for F
where
    F: Fn(&Tensor) -> Result<Option<Tensor>> + Send + Sync + 'static,
{
    fn call(&self, grad: &Tensor) -> Result<Option<Tensor>> {
        self(grad)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

pub type Hook = Arc<dyn GradHook>;

/// A gradient rule implemented outside Rust (a Python `autograd.Function`). Unlike a
/// [`BackwardFn`] closure, a binding can reach the foreign objects it holds, to report them to
/// a garbage collector.
pub trait ForeignBackward: Send + Sync + 'static {
    fn apply(&self, grad: &Tensor, needs: &[bool]) -> Result<Vec<Option<Tensor>>>;
    fn as_any(&self) -> &dyn Any;
}

/// The view a region rule's output is of its input (`narrow`, `select`, ...), applied again
/// to a tensor of the input's shape.
pub type RegionFn = Arc<dyn Fn(&Tensor) -> Result<Tensor> + Send + Sync>;

/// A node's gradient rule.
#[derive(Clone)]
pub enum Rule {
    Native(BackwardFn),
    Foreign(Arc<dyn ForeignBackward>),
    /// A view of a region of its one input: `full` scatters the gradient into zeros of the
    /// input's shape; the engine may instead add it through `region` into the gradient it is
    /// already summing for that input (the pieces of a `chunk` or `split` then cost one
    /// full-size gradient, not one each plus the sums).
    Region {
        full: BackwardFn,
        region: RegionFn,
    },
}

impl Rule {
    pub fn apply(&self, grad: &Tensor, needs: &[bool]) -> Result<Vec<Option<Tensor>>> {
        match self {
            Rule::Native(f) | Rule::Region { full: f, .. } => f(grad, needs),
            Rule::Foreign(f) => f.apply(grad, needs),
        }
    }
}

/// Shape and dtype of the tensor a node produced: what the gradient flowing into it must have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputMeta {
    pub shape: Vec<usize>,
    pub dtype: DType,
}

impl OutputMeta {
    pub fn of(t: &Tensor) -> OutputMeta {
        OutputMeta {
            shape: t.shape().to_vec(),
            dtype: t.dtype(),
        }
    }
}

/// Where a node sends the gradient for one of its inputs.
pub enum Edge {
    None,
    Node(NodeRef),
    Leaf(Tensor),
}

pub(crate) struct Node {
    pub seq: u64,
    pub name: &'static str,
    pub backward: Option<Rule>,
    pub edges: Vec<Edge>,
    pub hooks: Vec<Hook>,
    pub retain: Option<Weak<TensorImpl>>,
    /// The output's metadata when known (nodes made by `record`/`maybe_record`).
    pub output: Option<OutputMeta>,
    /// What the rule saved, by name, for inspection (empty when the rule does not say).
    pub saved: SavedList,
    refs: usize,
}

struct Arena {
    slots: Vec<Option<Node>>,
    free: Vec<usize>,
    next_seq: u64,
    live: usize,
}

static ARENA: Mutex<Arena> = Mutex::new(Arena {
    slots: Vec::new(),
    free: Vec::new(),
    next_seq: 0,
    live: 0,
});

fn arena() -> MutexGuard<'static, Arena> {
    ARENA.lock().unwrap_or_else(|e| e.into_inner())
}

thread_local! {
    static DRAINING: Cell<bool> = const { Cell::new(false) };
    static PENDING: RefCell<Vec<Node>> = const { RefCell::new(Vec::new()) };
}

/// Drops freed nodes outside the arena lock, iteratively.
fn drop_freed(node: Node) {
    PENDING.with(|p| p.borrow_mut().push(node));
    if DRAINING.with(|d| d.replace(true)) {
        return;
    }
    loop {
        let next = PENDING.with(|p| p.borrow_mut().pop());
        match next {
            Some(n) => drop(n),
            None => break,
        }
    }
    DRAINING.with(|d| d.set(false));
}

/// A counted handle to a node in the arena.
pub struct NodeRef {
    idx: usize,
}

impl NodeRef {
    pub fn new(name: &'static str, edges: Vec<Edge>, backward: BackwardFn) -> NodeRef {
        Self::with_rule(name, edges, Rule::Native(backward), None)
    }

    /// A node whose output metadata is known, so that the engine can check (and reduce or
    /// cast) the gradients that its successors send to it.
    pub fn with_rule(
        name: &'static str,
        edges: Vec<Edge>,
        backward: Rule,
        output: Option<OutputMeta>,
    ) -> NodeRef {
        let mut a = arena();
        let seq = a.next_seq;
        a.next_seq += 1;
        let node = Node {
            seq,
            name,
            backward: Some(backward),
            edges,
            hooks: Vec::new(),
            retain: None,
            output,
            saved: Vec::new(),
            refs: 1,
        };
        a.live += 1;
        let idx = match a.free.pop() {
            Some(i) => {
                a.slots[i] = Some(node);
                i
            }
            None => {
                a.slots.push(Some(node));
                a.slots.len() - 1
            }
        };
        NodeRef { idx }
    }

    pub fn index(&self) -> usize {
        self.idx
    }

    pub fn name(&self) -> &'static str {
        with_node(self.idx, |n| n.name)
    }

    pub fn seq(&self) -> u64 {
        with_node(self.idx, |n| n.seq)
    }

    /// Shape and dtype of the tensor this node produced, when recorded.
    pub fn output_meta(&self) -> Option<OutputMeta> {
        with_node(self.idx, |n| n.output.clone())
    }

    /// `(name, next nodes)` for `grad_fn.next_functions`.
    pub fn next_functions(&self) -> Vec<NextFunction> {
        let mut a = arena();
        let targets: Vec<EdgeTarget> = a.slots[self.idx]
            .as_ref()
            .expect("live node")
            .edges
            .iter()
            .map(|e| match e {
                Edge::None => EdgeTarget::None,
                Edge::Node(r) => EdgeTarget::Node(r.idx),
                Edge::Leaf(t) => EdgeTarget::Leaf(t.clone()),
            })
            .collect();
        targets
            .into_iter()
            .map(|t| match t {
                EdgeTarget::None => NextFunction::None,
                EdgeTarget::Node(i) => {
                    a.slots[i].as_mut().expect("live node").refs += 1;
                    NextFunction::Node(NodeRef { idx: i })
                }
                EdgeTarget::Leaf(t) => NextFunction::Leaf(t),
            })
            .collect()
    }

    /// Describes what the node's rule saved (see [`crate::autograd::describe`]).
    pub fn set_saved(&self, saved: SavedList) {
        let old = {
            let mut a = arena();
            let n = a.slots[self.idx].as_mut().expect("live node");
            std::mem::replace(&mut n.saved, saved)
        };
        drop(old);
    }

    /// The node's saved values by name (tensors as handles, not copies).
    pub fn saved(&self) -> SavedList {
        with_node(self.idx, |n| n.saved.clone())
    }

    pub fn add_hook(&self, hook: Hook) {
        arena().slots[self.idx]
            .as_mut()
            .expect("live node")
            .hooks
            .push(hook);
    }

    pub fn set_retain(&self, t: &Tensor) {
        arena().slots[self.idx].as_mut().expect("live node").retain = Some(Arc::downgrade(&t.0));
    }
}

pub enum NextFunction {
    None,
    Node(NodeRef),
    Leaf(Tensor),
}

impl Clone for NodeRef {
    fn clone(&self) -> Self {
        arena().slots[self.idx].as_mut().expect("live node").refs += 1;
        NodeRef { idx: self.idx }
    }
}

impl Drop for NodeRef {
    fn drop(&mut self) {
        let freed = {
            let mut a = arena();
            let slot = a.slots[self.idx].as_mut().expect("live node");
            slot.refs -= 1;
            if slot.refs == 0 {
                let n = a.slots[self.idx].take();
                a.free.push(self.idx);
                a.live -= 1;
                n
            } else {
                None
            }
        };
        if let Some(n) = freed {
            drop_freed(n);
        }
    }
}

fn with_node<R>(idx: usize, f: impl FnOnce(&Node) -> R) -> R {
    let a = arena();
    f(a.slots[idx].as_ref().expect("live node"))
}

/// Number of live graph nodes (for memory tests).
pub fn live_nodes() -> usize {
    arena().live
}

/// What the engine needs from a node, copied out so the lock is not held while rules run.
pub(crate) struct NodeSnapshot {
    pub name: &'static str,
    pub backward: Option<Rule>,
    pub edges: Vec<SnapshotEdge>,
    pub hooks: Vec<Hook>,
    pub retain: Option<Weak<TensorImpl>>,
}

pub(crate) enum EdgeTarget {
    None,
    Node(usize),
    Leaf(Tensor),
}

/// An edge as the engine follows it: the target node's output metadata comes along.
pub(crate) enum SnapshotEdge {
    None,
    Node(usize, Option<OutputMeta>),
    Leaf(Tensor),
}

pub(crate) fn snapshot(idx: usize) -> NodeSnapshot {
    let a = arena();
    let n = a.slots[idx].as_ref().expect("live node");
    NodeSnapshot {
        name: n.name,
        backward: n.backward.clone(),
        edges: n
            .edges
            .iter()
            .map(|e| match e {
                Edge::None => SnapshotEdge::None,
                Edge::Node(r) => SnapshotEdge::Node(
                    r.idx,
                    a.slots[r.idx].as_ref().and_then(|m| m.output.clone()),
                ),
                Edge::Leaf(t) => SnapshotEdge::Leaf(t.clone()),
            })
            .collect(),
        hooks: n.hooks.clone(),
        retain: n.retain.clone(),
    }
}

/// The part of the graph a backward pass sweeps.
pub(crate) struct Reachable {
    /// `(seq, idx)` of every node reachable from the roots, newest first: a valid reverse
    /// topological order because every node is created after its inputs' nodes.
    pub order: Vec<(u64, usize)>,
    /// For each reachable node with leaf edges, the identities of those leaves (one entry
    /// per edge).
    pub leaf_edges: HashMap<usize, Vec<usize>>,
    /// Per leaf identity, the number of edges into it from reachable nodes.
    pub leaf_uses: HashMap<usize, usize>,
}

/// The nodes reachable from `roots` and the leaf edges among them.
pub(crate) fn reachable(roots: &[usize]) -> Reachable {
    let a = arena();
    let mut seen = std::collections::HashSet::new();
    let mut stack: Vec<usize> = roots.to_vec();
    let mut out = Reachable {
        order: Vec::new(),
        leaf_edges: HashMap::new(),
        leaf_uses: HashMap::new(),
    };
    while let Some(i) = stack.pop() {
        if !seen.insert(i) {
            continue;
        }
        let n = a.slots[i].as_ref().expect("live node");
        out.order.push((n.seq, i));
        for e in &n.edges {
            match e {
                Edge::Node(r) => stack.push(r.idx),
                Edge::Leaf(t) => {
                    let id = t.identity();
                    out.leaf_edges.entry(i).or_default().push(id);
                    *out.leaf_uses.entry(id).or_default() += 1;
                }
                Edge::None => {}
            }
        }
    }
    out.order.sort_unstable_by_key(|x| std::cmp::Reverse(x.0));
    out
}

/// Frees a node's gradient rule (and with it its saved tensors) after backward.
pub(crate) fn release(idx: usize) {
    let (f, saved) = {
        let mut a = arena();
        match a.slots[idx].as_mut() {
            Some(n) => {
                let kept = n.saved.iter().map(|(k, v)| (*k, v.released())).collect();
                (n.backward.take(), std::mem::replace(&mut n.saved, kept))
            }
            None => (None, Vec::new()),
        }
    };
    drop(f);
    drop(saved);
}

/// Runs `f` on the hooks and rule of the node `r` refers to, when `r` is its only reference
/// and the arena is not locked (None otherwise). For garbage-collector traversal: whoever owns
/// `r` exclusively then owns what the node holds.
#[cfg_attr(not(feature = "python"), allow(dead_code))]
pub(crate) fn with_exclusive_node<R>(
    r: &NodeRef,
    f: impl FnOnce(&[Hook], Option<&Rule>) -> R,
) -> Option<R> {
    let a = ARENA.try_lock().ok()?;
    let n = a.slots.get(r.idx)?.as_ref()?;
    if n.refs != 1 {
        return None;
    }
    Some(f(&n.hooks, n.backward.as_ref()))
}

/// Takes the hooks and a foreign rule out of the node `r` refers to, when `r` is its only
/// reference (garbage-collector clear). The caller drops them, outside the arena lock.
#[cfg_attr(not(feature = "python"), allow(dead_code))]
pub(crate) fn take_exclusive_callbacks(r: &NodeRef) -> (Vec<Hook>, Option<Rule>) {
    let Ok(mut a) = ARENA.try_lock() else {
        return (Vec::new(), None);
    };
    match a.slots.get_mut(r.idx).and_then(|n| n.as_mut()) {
        Some(n) if n.refs == 1 => {
            let rule = match n.backward {
                Some(Rule::Foreign(_)) => n.backward.take(),
                _ => None,
            };
            (std::mem::take(&mut n.hooks), rule)
        }
        _ => (Vec::new(), None),
    }
}
