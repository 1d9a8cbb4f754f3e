//! A low-latency fork-join for kernels that Python calls back to back.
//!
//! Rayon parks an idle worker within microseconds, and a call from a thread outside its pool
//! blocks that thread until a woken worker has run the job: on a VM both wake-ups together
//! measured 40–100 µs per call, more than a mid-sized kernel's whole run. Here the calling
//! thread runs parts itself, and helper threads (one fewer than the configured thread count)
//! spin on a shared ticket for a while after their last part before they park, as OpenMP
//! runtimes do, so back-to-back kernels find them awake. Parts are claimed one at a time from
//! the ticket, so a late helper only takes what the caller has not yet started.

use std::marker::PhantomData;
use std::ops::Range;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// How long an idle helper keeps polling before it parks.
const SPIN: Duration = Duration::from_micros(300);

/// Most parts of one job (the ticket's index field).
const MAX_PARTS: usize = (1 << 20) - 1;

/// The current job's ticket: generation (24 bits) | parts (20 bits) | next part (20 bits).
/// A helper claims part `i` by moving the ticket from `i` to `i + 1` within one generation,
/// so a helper that looked at an older job can never claim a part of a newer one.
struct Shared {
    ticket: AtomicU64,
    /// The job's closure (`&dyn Fn(usize)` behind a thin pointer), valid while parts run.
    job: AtomicPtr<JobRef<'static>>,
    /// Parts of the current job finished (by anyone).
    done: AtomicUsize,
    /// Whether a part panicked; its payload is kept for the caller.
    panicked: AtomicBool,
    payload: Mutex<Option<Box<dyn std::any::Any + Send>>>,
    /// Helpers allowed to take parts (`set_num_threads` - 1).
    active: AtomicUsize,
    helpers: Mutex<Vec<Helper>>,
    /// One job at a time; a second caller (another thread, or a part that starts a nested
    /// job) runs its parts itself.
    busy: AtomicBool,
}

struct Helper {
    thread: Thread,
    parked: &'static AtomicBool,
}

struct JobRef<'a> {
    f: &'a (dyn Fn(usize) + Sync),
}

fn decode(t: u64) -> (u64, usize, usize) {
    (
        t >> 40,
        ((t >> 20) & MAX_PARTS as u64) as usize,
        (t & MAX_PARTS as u64) as usize,
    )
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| Shared {
        ticket: AtomicU64::new(0),
        job: AtomicPtr::new(std::ptr::null_mut()),
        done: AtomicUsize::new(0),
        panicked: AtomicBool::new(false),
        payload: Mutex::new(None),
        active: AtomicUsize::new(0),
        helpers: Mutex::new(Vec::new()),
        busy: AtomicBool::new(false),
    })
}

/// Claims and runs parts of the job in `ticket` generation `gen` until none is left;
/// returns whether it ran any.
fn work_on(s: &Shared, gen: u64) -> bool {
    let mut ran = false;
    loop {
        let t = s.ticket.load(Ordering::Acquire);
        let (g, parts, next) = decode(t);
        if g != gen || next >= parts {
            return ran;
        }
        if s.ticket
            .compare_exchange_weak(t, t + 1, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            continue;
        }
        // SAFETY: part `next` of generation `gen` is claimed and not done, so the caller is
        // still waiting and the closure it published is alive.
        let job = unsafe { &*s.job.load(Ordering::Acquire) };
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| (job.f)(next))) {
            s.panicked.store(true, Ordering::Relaxed);
            *s.payload.lock().unwrap_or_else(|e| e.into_inner()) = Some(p);
        }
        s.done.fetch_add(1, Ordering::AcqRel);
        ran = true;
    }
}

fn helper_loop(index: usize, parked: &'static AtomicBool) {
    let s = shared();
    let mut seen = decode(s.ticket.load(Ordering::Acquire)).0;
    let mut idle_since = Instant::now();
    loop {
        let gen = decode(s.ticket.load(Ordering::Acquire)).0;
        if gen != seen && index < s.active.load(Ordering::Relaxed) {
            seen = gen;
            work_on(s, gen);
            idle_since = Instant::now();
            continue;
        }
        seen = gen;
        if idle_since.elapsed() < SPIN {
            std::hint::spin_loop();
            continue;
        }
        // Park; the flag is raised before the last look so that a job published after it
        // finds the flag and unparks this thread.
        parked.store(true, Ordering::SeqCst);
        if decode(s.ticket.load(Ordering::SeqCst)).0 == seen {
            std::thread::park();
        }
        parked.store(false, Ordering::SeqCst);
        idle_since = Instant::now();
    }
}

/// Starts helpers until `count` exist.
fn ensure_helpers(s: &'static Shared, count: usize) {
    let mut helpers = s.helpers.lock().unwrap_or_else(|e| e.into_inner());
    while helpers.len() < count {
        let index = helpers.len();
        let parked: &'static AtomicBool = Box::leak(Box::new(AtomicBool::new(false)));
        let spawned = std::thread::Builder::new()
            .name(format!("rtorch-team-{index}"))
            .spawn(move || helper_loop(index, parked));
        match spawned {
            Ok(h) => helpers.push(Helper {
                thread: h.thread().clone(),
                parked,
            }),
            // No thread: the callers run every part themselves.
            Err(_) => break,
        }
    }
    s.active.store(helpers.len().min(count), Ordering::Relaxed);
}

/// Whether `set_threads` has run (else the first job sizes the team like rayon's pool).
static CONFIGURED: AtomicBool = AtomicBool::new(false);

/// Sets how many threads take part in a job, the caller included.
pub fn set_threads(n: usize) {
    CONFIGURED.store(true, Ordering::SeqCst);
    let s = shared();
    if n <= 1 {
        s.active.store(0, Ordering::Relaxed);
    } else {
        ensure_helpers(s, n - 1);
    }
}

fn threads_configured() -> usize {
    if !CONFIGURED.load(Ordering::Acquire) {
        set_threads(rayon::current_num_threads());
    }
    shared().active.load(Ordering::Relaxed) + 1
}

/// Threads a job can use now (1 when parallelism is off).
pub fn threads() -> usize {
    if super::parallel_enabled() {
        threads_configured()
    } else {
        1
    }
}

/// Runs `f(0..parts)`, each index once, spread over the caller and the helpers; returns
/// when all have run. A panic in a part is raised again here after the others finished.
pub fn run(parts: usize, f: impl Fn(usize) + Sync) {
    if parts == 0 {
        return;
    }
    let s = shared();
    let helpers = if parts > 1 && super::parallel_enabled() {
        threads_configured() - 1
    } else {
        0
    };
    if helpers == 0
        || parts > MAX_PARTS
        || s.busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
    {
        (0..parts).for_each(f);
        return;
    }
    let job = JobRef { f: &f };
    s.done.store(0, Ordering::Relaxed);
    s.panicked.store(false, Ordering::Relaxed);
    s.job.store(
        &job as *const JobRef as *mut JobRef<'static>,
        Ordering::Release,
    );
    let gen = (decode(s.ticket.load(Ordering::Relaxed)).0 + 1) & 0xFF_FFFF;
    s.ticket
        .store((gen << 40) | ((parts as u64) << 20), Ordering::SeqCst);
    if let Ok(hs) = s.helpers.lock() {
        for h in hs.iter().take(helpers) {
            if h.parked.swap(false, Ordering::SeqCst) {
                h.thread.unpark();
            }
        }
    }
    work_on(s, gen);
    // Parts taken by helpers may still run: wait (they are short) before `f` goes away.
    let mut spins = 0u32;
    while s.done.load(Ordering::Acquire) < parts {
        spins += 1;
        if spins < 1 << 14 {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
    s.job.store(std::ptr::null_mut(), Ordering::Relaxed);
    let panicked = s.panicked.load(Ordering::Acquire);
    let payload = panicked
        .then(|| s.payload.lock().ok().and_then(|mut p| p.take()))
        .flatten();
    s.busy.store(false, Ordering::Release);
    if panicked {
        resume_unwind(payload.unwrap_or_else(|| Box::new("a parallel part panicked")));
    }
}

/// `[f(0), f(1), …, f(parts - 1)]`, the parts run as by `run`.
pub fn map<R: Send>(parts: usize, f: impl Fn(usize) -> R + Sync) -> Vec<R> {
    let mut results: Vec<Option<R>> = (0..parts).map(|_| None).collect();
    let slots = SharedMut::new(&mut results);
    run(parts, |p| {
        // SAFETY: slot p belongs to part p only.
        let slot = unsafe { slots.range(p..p + 1) };
        slot[0] = Some(f(p));
    });
    // Every slot is filled: a part that panicked was raised again by `run`.
    results.into_iter().flatten().collect()
}

/// Runs `f(range)` over `0..len` cut into `size`-long ranges (the last may be shorter),
/// spread over the team in contiguous runs of ranges.
pub fn for_each_range(len: usize, size: usize, f: impl Fn(Range<usize>) + Sync) {
    let size = size.max(1);
    let chunks = len.div_ceil(size);
    // A few parts per thread, so that a helper that starts late leaves less undone.
    let parts = chunks.min(4 * threads());
    run(parts, |p| {
        for c in chunks * p / parts..chunks * (p + 1) / parts {
            f(c * size..((c + 1) * size).min(len));
        }
    });
}

/// Runs `f(index, chunk)` over the `size`-long chunks of `out` (the last may be shorter),
/// spread over the team in contiguous runs of chunks.
pub fn for_each_chunk<T: Send>(out: &mut [T], size: usize, f: impl Fn(usize, &mut [T]) + Sync) {
    let size = size.max(1);
    let out = SharedMut::new(out);
    for_each_range(out.len(), size, |r| {
        let index = r.start / size;
        // SAFETY: the ranges of one job are disjoint.
        f(index, unsafe { out.range(r) })
    });
}

/// A mutable slice that the parts of one job borrow in disjoint ranges at once (several
/// slices cut at the same offsets, as an optimizer's parameter and state).
pub struct SharedMut<'a, T> {
    ptr: *mut T,
    len: usize,
    _slice: PhantomData<&'a mut [T]>,
}

// SAFETY: parts only reach the elements through `range`, whose contract keeps the ranges
// they hold at once disjoint.
unsafe impl<T: Send> Sync for SharedMut<'_, T> {}

impl<'a, T> SharedMut<'a, T> {
    pub fn new(s: &'a mut [T]) -> Self {
        SharedMut {
            ptr: s.as_mut_ptr(),
            len: s.len(),
            _slice: PhantomData,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Elements `r` of the slice.
    ///
    /// # Safety
    /// No other live borrow (from this or another part) overlaps `r`.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn range(&self, r: Range<usize>) -> &'a mut [T] {
        assert!(
            r.start <= r.end && r.end <= self.len,
            "range outside the shared slice"
        );
        std::slice::from_raw_parts_mut(self.ptr.add(r.start), r.end - r.start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn every_part_runs_once() {
        set_threads(2);
        for parts in [1, 2, 3, 7, 64, 1000] {
            let hits: Vec<AtomicUsize> = (0..parts).map(|_| AtomicUsize::new(0)).collect();
            run(parts, |i| {
                hits[i].fetch_add(1, Ordering::Relaxed);
            });
            assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1));
        }
    }

    #[test]
    fn nested_jobs_run_inline_and_panics_propagate() {
        set_threads(2);
        let total = AtomicUsize::new(0);
        run(4, |_| {
            run(3, |_| {
                total.fetch_add(1, Ordering::Relaxed);
            })
        });
        assert_eq!(total.load(Ordering::Relaxed), 12);
        let caught = catch_unwind(|| run(8, |i| assert!(i != 5, "part five")));
        assert!(caught.is_err());
        // The team is usable after a panic.
        let n = AtomicUsize::new(0);
        run(5, |_| {
            n.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(n.load(Ordering::Relaxed), 5);
    }

    #[test]
    fn chunks_cover_the_slice() {
        set_threads(2);
        for (len, size) in [(0, 3), (1, 3), (10, 3), (1000, 7), (100_000, 4096)] {
            let mut v = vec![0usize; len];
            for_each_chunk(&mut v, size, |c, chunk| {
                assert!(chunk.len() == size || (c + 1) * size >= len);
                for (j, x) in chunk.iter_mut().enumerate() {
                    *x += c * size + j + 1;
                }
            });
            assert!(v.iter().enumerate().all(|(i, &x)| x == i + 1));
        }
    }

    #[test]
    fn map_keeps_part_order_and_ranges_cut_evenly() {
        set_threads(2);
        for parts in [0, 1, 2, 5, 300] {
            let got = map(parts, |p| p * p);
            assert_eq!(got, (0..parts).map(|p| p * p).collect::<Vec<_>>());
        }
        for (len, size) in [(0, 4), (9, 4), (64, 8), (1001, 100)] {
            let mut a = vec![0usize; len];
            let mut b = vec![0usize; len];
            let (sa, sb) = (SharedMut::new(&mut a), SharedMut::new(&mut b));
            for_each_range(len, size, |r| {
                assert!(r.len() == size || r.end == len);
                // SAFETY: the ranges of one job are disjoint.
                let (x, y) = unsafe { (sa.range(r.clone()), sb.range(r.clone())) };
                for (k, (x, y)) in x.iter_mut().zip(y.iter_mut()).enumerate() {
                    *x += r.start + k;
                    *y += 1;
                }
            });
            assert!(a.iter().enumerate().all(|(i, &x)| x == i));
            assert!(b.iter().all(|&y| y == 1));
        }
    }
}
