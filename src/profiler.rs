//! Op-level profiling. Ops open a [`Scope`] at their entry; when no profiler is active that
//! costs one relaxed atomic load and nothing is recorded. When one is active, each scope
//! records its name, kind, thread, start and end times, input shapes (if asked) and the bytes
//! of tensor memory allocated while it was open. Scopes nest per thread (a parent id links an
//! event to the scope that was open when it began); finished events go to one global buffer
//! that the bindings collect when the profiler stops.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

static ACTIVE: AtomicBool = AtomicBool::new(false);
static RECORD_SHAPES: AtomicBool = AtomicBool::new(false);
static PROFILE_MEMORY: AtomicBool = AtomicBool::new(false);
static NEXT_ID: AtomicU64 = AtomicU64::new(1);
static NEXT_THREAD: AtomicU64 = AtomicU64::new(1);
static EVENTS: Mutex<Vec<Event>> = Mutex::new(Vec::new());
static EPOCH: OnceLock<Instant> = OnceLock::new();

/// What opened a scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// A tensor op (forward, or run inside a backward rule).
    Op,
    /// The gradient rule of one autograd node (named as its `grad_fn`).
    Backward,
    /// A user range (`record_function`).
    User,
}

impl EventKind {
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Op => "op",
            EventKind::Backward => "backward",
            EventKind::User => "user",
        }
    }
}

/// One finished scope.
#[derive(Clone, Debug)]
pub struct Event {
    pub id: u64,
    /// The id of the scope open on this thread when this one began (0: none).
    pub parent: u64,
    pub name: Cow<'static, str>,
    pub kind: EventKind,
    pub thread: u64,
    /// Nanoseconds since the process's first profiled event.
    pub start_ns: u64,
    pub end_ns: u64,
    /// Input shapes (empty unless shapes are recorded).
    pub shapes: Vec<Vec<usize>>,
    /// Bytes of tensor storage allocated while the scope was open, children included.
    pub alloc_bytes: u64,
}

struct Open {
    id: u64,
    parent: u64,
    name: Cow<'static, str>,
    kind: EventKind,
    start_ns: u64,
    shapes: Vec<Vec<usize>>,
    alloc_at_start: u64,
}

thread_local! {
    static STACK: RefCell<Vec<Open>> = const { RefCell::new(Vec::new()) };
    static ALLOCATED: Cell<u64> = const { Cell::new(0) };
    static THREAD_ID: Cell<u64> = const { Cell::new(0) };
}

fn now_ns() -> u64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

fn thread_id() -> u64 {
    THREAD_ID.with(|t| {
        if t.get() == 0 {
            t.set(NEXT_THREAD.fetch_add(1, Ordering::Relaxed));
        }
        t.get()
    })
}

/// True while a profiler is recording.
#[inline(always)]
pub fn is_active() -> bool {
    ACTIVE.load(Ordering::Relaxed)
}

/// Starts recording, dropping events left from an earlier session.
pub fn start(record_shapes: bool, profile_memory: bool) {
    EPOCH.get_or_init(Instant::now);
    events().clear();
    RECORD_SHAPES.store(record_shapes, Ordering::Relaxed);
    PROFILE_MEMORY.store(profile_memory, Ordering::Relaxed);
    ACTIVE.store(true, Ordering::Release);
}

/// Stops recording and returns the events finished since `start`, in completion order.
pub fn stop() -> Vec<Event> {
    ACTIVE.store(false, Ordering::Release);
    std::mem::take(&mut *events())
}

fn events() -> std::sync::MutexGuard<'static, Vec<Event>> {
    EVENTS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Notes an allocation of tensor memory (counted only while memory is profiled).
#[inline(always)]
pub fn note_alloc(bytes: usize) {
    if is_active() && PROFILE_MEMORY.load(Ordering::Relaxed) {
        ALLOCATED.with(|a| a.set(a.get() + bytes as u64));
    }
}

/// An open scope: finished (and recorded) when dropped.
#[must_use = "a scope records the time until it is dropped"]
pub struct Scope {
    open: bool,
}

impl Drop for Scope {
    #[inline]
    fn drop(&mut self) {
        if self.open {
            finish();
        }
    }
}

/// Opens a scope; `name` and `shapes` are evaluated only while a profiler is active (and
/// `shapes` only when it records shapes).
#[inline(always)]
pub fn scope<N, S>(kind: EventKind, name: N, shapes: S) -> Scope
where
    N: FnOnce() -> Cow<'static, str>,
    S: FnOnce() -> Vec<Vec<usize>>,
{
    if !is_active() {
        return Scope { open: false };
    }
    begin(kind, name(), shapes)
}

/// A tensor op named `name` (`aten::`-style) on `inputs`.
#[inline(always)]
pub fn op(name: &'static str, inputs: &[&crate::Tensor]) -> Scope {
    if !is_active() {
        return Scope { open: false };
    }
    begin(EventKind::Op, Cow::Borrowed(name), || {
        inputs.iter().map(|t| t.shape().to_vec()).collect()
    })
}

#[cold]
fn begin(
    kind: EventKind,
    name: Cow<'static, str>,
    shapes: impl FnOnce() -> Vec<Vec<usize>>,
) -> Scope {
    let shapes = if RECORD_SHAPES.load(Ordering::Relaxed) {
        shapes()
    } else {
        Vec::new()
    };
    push(kind, name, shapes);
    Scope { open: true }
}

fn push(kind: EventKind, name: Cow<'static, str>, shapes: Vec<Vec<usize>>) {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let alloc_at_start = ALLOCATED.with(|a| a.get());
    STACK.with(|s| {
        let mut s = s.borrow_mut();
        let parent = s.last().map_or(0, |o| o.id);
        s.push(Open {
            id,
            parent,
            name,
            kind,
            start_ns: now_ns(),
            shapes,
            alloc_at_start,
        });
    });
}

fn finish() {
    let end_ns = now_ns();
    let Some(o) = STACK.with(|s| s.borrow_mut().pop()) else {
        return;
    };
    let alloc = ALLOCATED.with(|a| a.get()) - o.alloc_at_start;
    let ev = Event {
        id: o.id,
        parent: o.parent,
        name: o.name,
        kind: o.kind,
        thread: thread_id(),
        start_ns: o.start_ns,
        end_ns,
        shapes: o.shapes,
        alloc_bytes: alloc,
    };
    events().push(ev);
}

/// Opens a user range (`record_function`) on this thread; a no-op when nothing records.
pub fn push_range(name: String) -> bool {
    if !is_active() {
        return false;
    }
    push(EventKind::User, Cow::Owned(name), Vec::new());
    true
}

/// Closes the innermost user range opened on this thread, if it is the innermost scope.
pub fn pop_range() {
    pop_kind(EventKind::User)
}

/// Opens an op scope for an op composed outside Rust (the Python package's composites);
/// `shapes` are kept only when shapes are recorded. A no-op when nothing records.
pub fn push_op(name: String, shapes: Vec<Vec<usize>>) -> bool {
    if !is_active() {
        return false;
    }
    let shapes = if RECORD_SHAPES.load(Ordering::Relaxed) {
        shapes
    } else {
        Vec::new()
    };
    push(EventKind::Op, Cow::Owned(name), shapes);
    true
}

/// Closes the innermost scope opened by [`push_op`], if it is the innermost scope.
pub fn pop_op() {
    pop_kind(EventKind::Op)
}

fn pop_kind(kind: EventKind) {
    let on_top = STACK.with(|s| s.borrow().last().is_some_and(|o| o.kind == kind));
    if on_top {
        finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_nest_and_cost_nothing_when_off() {
        {
            let _a = scope(
                EventKind::Op,
                || panic!("name evaluated while off"),
                Vec::new,
            );
        }
        start(true, true);
        {
            let _outer = scope(EventKind::User, || "outer".into(), Vec::new);
            let _inner = scope(EventKind::Op, || "aten::x".into(), || vec![vec![2, 3]]);
            note_alloc(24);
        }
        let ev = stop();
        let outer = ev.iter().find(|e| e.name == "outer").unwrap();
        let inner = ev.iter().find(|e| e.name == "aten::x").unwrap();
        assert_eq!(inner.parent, outer.id);
        assert_eq!(inner.shapes, vec![vec![2, 3]]);
        assert_eq!(inner.alloc_bytes, 24);
        assert!(outer.start_ns <= inner.start_ns && inner.end_ns <= outer.end_ns);
    }
}
