//! The graph arena: nodes live in a slab addressed by index. Tensors and edges hold counted
//! references (`NodeRef`); a node is freed when its count reaches zero, which follows tensor
//! lifetimes as in PyTorch. Frees are queued and drained iteratively so that dropping a
//! 100k-node chain cannot overflow the stack.

use crate::error::Result;
use crate::tensor::{Tensor, TensorImpl};
use std::cell::{Cell, RefCell};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

/// A gradient rule: given the gradient of the node's output and which inputs need a
/// gradient, returns one optional gradient per input.
pub type BackwardFn = Arc<dyn Fn(&Tensor, &[bool]) -> Result<Vec<Option<Tensor>>> + Send + Sync>;

/// A tensor hook: may return a replacement gradient.
pub type Hook = Arc<dyn Fn(&Tensor) -> Result<Option<Tensor>> + Send + Sync>;

/// Where a node sends the gradient for one of its inputs.
pub enum Edge {
    None,
    Node(NodeRef),
    Leaf(Tensor),
}

pub(crate) struct Node {
    pub seq: u64,
    pub name: &'static str,
    pub backward: Option<BackwardFn>,
    pub edges: Vec<Edge>,
    pub hooks: Vec<Hook>,
    pub retain: Option<Weak<TensorImpl>>,
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
    pub backward: Option<BackwardFn>,
    pub edges: Vec<EdgeTarget>,
    pub hooks: Vec<Hook>,
    pub retain: Option<Weak<TensorImpl>>,
}

pub(crate) enum EdgeTarget {
    None,
    Node(usize),
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
                Edge::None => EdgeTarget::None,
                Edge::Node(r) => EdgeTarget::Node(r.idx),
                Edge::Leaf(t) => EdgeTarget::Leaf(t.clone()),
            })
            .collect(),
        hooks: n.hooks.clone(),
        retain: n.retain.clone(),
    }
}

/// All nodes reachable from `roots`, as `(seq, idx)` sorted newest first: a valid reverse
/// topological order because every node is created after its inputs' nodes.
pub(crate) fn reachable(roots: &[usize]) -> Vec<(u64, usize)> {
    let a = arena();
    let mut seen = std::collections::HashSet::new();
    let mut stack: Vec<usize> = roots.to_vec();
    let mut out = Vec::new();
    while let Some(i) = stack.pop() {
        if !seen.insert(i) {
            continue;
        }
        let n = a.slots[i].as_ref().expect("live node");
        out.push((n.seq, i));
        for e in &n.edges {
            if let Edge::Node(r) = e {
                stack.push(r.idx);
            }
        }
    }
    out.sort_unstable_by_key(|x| std::cmp::Reverse(x.0));
    out
}

/// Frees a node's gradient rule (and with it its saved tensors) after backward.
pub(crate) fn release(idx: usize) {
    let f = arena().slots[idx].as_mut().and_then(|n| n.backward.take());
    drop(f);
}
