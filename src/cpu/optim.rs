//! Fused optimizer updates over one parameter at a time, in place: every element of the
//! parameter and its state is read and written once per step (PyTorch's single-tensor
//! formulas). Contiguous tensors are updated in their own memory; a non-contiguous one is
//! gathered, updated and scattered back.

use super::team::SharedMut;
use super::{contiguous_or_gathered, gather, write_elems, CpuBackend};
use crate::backend::{
    check_disjoint, AdagradStep, AdamStep, OptimKernels, RmspropStep, SgdStep, Strided,
};
use crate::dtype::Elem;
use crate::error::{Error, Result};
use num_traits::Float;
use std::ops::Range;

/// Parameters from this many elements are updated in chunks on the team: the update is a
/// memory-bound pass, and a serial one leaves the other cores idle between backward and the
/// next forward.
const PAR_LEN: usize = 1 << 16;
/// Elements per chunk (every state tensor is cut at the same offsets).
const CHUNK: usize = 1 << 14;

fn split_update(len: usize) -> bool {
    len >= PAR_LEN && super::parallel_enabled()
}

/// Runs `f(range)` over `len` elements in `CHUNK`-long ranges on the team.
fn chunked(len: usize, f: impl Fn(Range<usize>) + Sync) {
    super::team::for_each_range(len, CHUNK, f)
}

/// `s[r]` of an optional shared state.
///
/// # Safety
/// As for `SharedMut::range`.
unsafe fn opt_range<'a, F>(s: &Option<SharedMut<'a, F>>, r: Range<usize>) -> Option<&'a mut [F]> {
    s.as_ref().map(|s| s.range(r))
}

// SAFETY (every `range` below): `chunked` hands each range to one part only, and every
// state has the parameter's length (the callers pass matching tensors).

/// Adam / AdamW on slices of one dtype.
pub fn adam<F: Float + Send + Sync>(
    p: &mut [F],
    g: &[F],
    m: &mut [F],
    v: &mut [F],
    vmax: Option<&mut [F]>,
    h: AdamStep,
) {
    if !split_update(p.len()) {
        return adam_serial(p, g, m, v, vmax, h);
    }
    let (p, m, v) = (SharedMut::new(p), SharedMut::new(m), SharedMut::new(v));
    let vmax = vmax.map(SharedMut::new);
    chunked(p.len(), |r| unsafe {
        let (pr, mr, vr) = (p.range(r.clone()), m.range(r.clone()), v.range(r.clone()));
        adam_serial(pr, &g[r.clone()], mr, vr, opt_range(&vmax, r), h)
    });
}

/// SGD with momentum/dampening/nesterov; `buf` is None without momentum.
pub fn sgd<F: Float + Send + Sync>(p: &mut [F], g: &[F], buf: Option<&mut [F]>, h: SgdStep) {
    if !split_update(p.len()) {
        return sgd_serial(p, g, buf, h);
    }
    let (p, buf) = (SharedMut::new(p), buf.map(SharedMut::new));
    chunked(p.len(), |r| unsafe {
        sgd_serial(p.range(r.clone()), &g[r.clone()], opt_range(&buf, r), h)
    });
}

/// RMSprop (centered and momentum variants).
pub fn rmsprop<F: Float + Send + Sync>(
    p: &mut [F],
    g: &[F],
    sq: &mut [F],
    gavg: Option<&mut [F]>,
    mbuf: Option<&mut [F]>,
    h: RmspropStep,
) {
    if !split_update(p.len()) {
        return rmsprop_serial(p, g, sq, gavg, mbuf, h);
    }
    let (p, sq) = (SharedMut::new(p), SharedMut::new(sq));
    let (gavg, mbuf) = (gavg.map(SharedMut::new), mbuf.map(SharedMut::new));
    chunked(p.len(), |r| unsafe {
        let (pr, sr) = (p.range(r.clone()), sq.range(r.clone()));
        let (ga, mb) = (opt_range(&gavg, r.clone()), opt_range(&mbuf, r.clone()));
        rmsprop_serial(pr, &g[r], sr, ga, mb, h)
    });
}

/// Adagrad.
pub fn adagrad<F: Float + Send + Sync>(p: &mut [F], g: &[F], sum: &mut [F], h: AdagradStep) {
    if !split_update(p.len()) {
        return adagrad_serial(p, g, sum, h);
    }
    let (p, sum) = (SharedMut::new(p), SharedMut::new(sum));
    chunked(p.len(), |r| unsafe {
        adagrad_serial(p.range(r.clone()), &g[r.clone()], sum.range(r), h)
    });
}

/// Adam / AdamW on one chunk. The variant (weight-decay mode, amsgrad) is chosen once
/// outside the element loop, which then has no branches and vectorises (a per-element
/// `match` kept it scalar, several times slower than the memory traffic).
fn adam_serial<F: Float>(
    p: &mut [F],
    g: &[F],
    m: &mut [F],
    v: &mut [F],
    vmax: Option<&mut [F]>,
    h: AdamStep,
) {
    let k = AdamConsts::new(&h);
    let wd = if h.decoupled {
        WD_DECOUPLED
    } else if h.weight_decay != 0.0 {
        WD_COUPLED
    } else {
        WD_NONE
    };
    match vmax {
        Some(vm) if h.amsgrad => match wd {
            WD_DECOUPLED => adam_loop::<F, true, WD_DECOUPLED>(p, g, m, v, vm, &k),
            WD_COUPLED => adam_loop::<F, true, WD_COUPLED>(p, g, m, v, vm, &k),
            _ => adam_loop::<F, true, WD_NONE>(p, g, m, v, vm, &k),
        },
        _ => match wd {
            WD_DECOUPLED => adam_loop::<F, false, WD_DECOUPLED>(p, g, m, v, &mut [], &k),
            WD_COUPLED => adam_loop::<F, false, WD_COUPLED>(p, g, m, v, &mut [], &k),
            _ => adam_loop::<F, false, WD_NONE>(p, g, m, v, &mut [], &k),
        },
    }
}

const WD_NONE: u8 = 0;
const WD_DECOUPLED: u8 = 1;
const WD_COUPLED: u8 = 2;

/// One Adam step's scalars in the working type.
struct AdamConsts<F> {
    sign: F,
    b1: F,
    b2: F,
    step_size: F,
    bc2_sqrt: F,
    eps: F,
    wd: F,
    decay: F,
}

impl<F: Float> AdamConsts<F> {
    fn new(h: &AdamStep) -> Self {
        let c = |x: f64| F::from(x).unwrap_or_else(F::zero);
        let bc1 = 1.0 - h.beta1.powi(h.step as i32);
        let bc2 = 1.0 - h.beta2.powi(h.step as i32);
        AdamConsts {
            sign: if h.maximize { -F::one() } else { F::one() },
            b1: c(h.beta1),
            b2: c(h.beta2),
            step_size: c(h.lr / bc1),
            bc2_sqrt: c(bc2.sqrt()),
            eps: c(h.eps),
            wd: c(h.weight_decay),
            decay: c(1.0 - h.lr * h.weight_decay),
        }
    }
}

/// The Adam update over a chunk (`vm` is empty unless `AMS`).
#[inline(always)]
fn adam_loop<F: Float, const AMS: bool, const WD: u8>(
    p: &mut [F],
    g: &[F],
    m: &mut [F],
    v: &mut [F],
    vm: &mut [F],
    k: &AdamConsts<F>,
) {
    let n = p.len();
    let (g, m, v) = (&g[..n], &mut m[..n], &mut v[..n]);
    let vm = if AMS { &mut vm[..n] } else { vm };
    let (one_b1, one_b2) = (F::one() - k.b1, F::one() - k.b2);
    for i in 0..n {
        // ±1 times the gradient: exact, and the same bits as negating it.
        let mut gi = g[i] * k.sign;
        if WD == WD_DECOUPLED {
            p[i] = p[i] * k.decay;
        } else if WD == WD_COUPLED {
            gi = gi + k.wd * p[i];
        }
        m[i] = m[i] + (gi - m[i]) * one_b1;
        v[i] = v[i] * k.b2 + gi * gi * one_b2;
        let denom_v = if AMS {
            // The running max keeps its old value when v is NaN (a false comparison).
            let x = if v[i] > vm[i] { v[i] } else { vm[i] };
            vm[i] = x;
            x
        } else {
            v[i]
        };
        let denom = denom_v.sqrt() / k.bc2_sqrt + k.eps;
        p[i] = p[i] - k.step_size * m[i] / denom;
    }
}

/// SGD on one chunk. As for Adam, the variant is chosen outside the element loop so that
/// each loop vectorises (a per-element branch on momentum/nesterov/maximize kept it scalar).
fn sgd_serial<F: Float>(p: &mut [F], g: &[F], buf: Option<&mut [F]>, h: SgdStep) {
    match (h.maximize, h.weight_decay != 0.0) {
        (false, false) => sgd_loop::<F, false, false>(p, g, buf, &h),
        (false, true) => sgd_loop::<F, false, true>(p, g, buf, &h),
        (true, false) => sgd_loop::<F, true, false>(p, g, buf, &h),
        (true, true) => sgd_loop::<F, true, true>(p, g, buf, &h),
    }
}

/// One SGD variant: the direction is `±g (+ wd·p)` (PyTorch adds no decay term at 0, so an
/// infinite parameter stays infinite), then blended into the momentum buffer if any.
#[inline(always)]
fn sgd_loop<F: Float, const NEG: bool, const DECAY: bool>(
    p: &mut [F],
    g: &[F],
    buf: Option<&mut [F]>,
    h: &SgdStep,
) {
    let c = |x: f64| F::from(x).unwrap_or_else(F::zero);
    let (lr, mom, damp, wd) = (
        c(h.lr),
        c(h.momentum),
        c(1.0 - h.dampening),
        c(h.weight_decay),
    );
    let g = &g[..p.len()];
    let dir = |pi: F, gi: F| {
        let gi = if NEG { -gi } else { gi };
        if DECAY {
            gi + wd * pi
        } else {
            gi
        }
    };
    let Some(b) = buf else {
        for (pi, &gi) in p.iter_mut().zip(g) {
            *pi = *pi - lr * dir(*pi, gi);
        }
        return;
    };
    let b = &mut b[..p.len()];
    macro_rules! momentum {
        ($first:literal, $nesterov:literal) => {
            for ((pi, &gi), bi) in p.iter_mut().zip(g).zip(b.iter_mut()) {
                let d = dir(*pi, gi);
                *bi = if $first { d } else { *bi * mom + d * damp };
                let step = if $nesterov { d + mom * *bi } else { *bi };
                *pi = *pi - lr * step;
            }
        };
    }
    match (h.first, h.nesterov) {
        (true, true) => momentum!(true, true),
        (true, false) => momentum!(true, false),
        (false, true) => momentum!(false, true),
        (false, false) => momentum!(false, false),
    }
}

/// RMSprop on one chunk; as for Adam, the variant is chosen outside the element loop.
fn rmsprop_serial<F: Float>(
    p: &mut [F],
    g: &[F],
    sq: &mut [F],
    gavg: Option<&mut [F]>,
    mbuf: Option<&mut [F]>,
    h: RmspropStep,
) {
    let mbuf = mbuf.filter(|_| h.momentum > 0.0);
    let wd = h.weight_decay != 0.0;
    let (centered, momentum) = (gavg.is_some(), mbuf.is_some());
    let (ga, mb) = (gavg.unwrap_or(&mut []), mbuf.unwrap_or(&mut []));
    macro_rules! run {
        ($($c:literal, $m:literal, $w:literal);*) => {
            match (centered, momentum, wd) {
                $(($c, $m, $w) => rmsprop_loop::<F, $c, $m, $w>(p, g, sq, ga, mb, &h),)*
            }
        };
    }
    run!(false, false, false; false, false, true; false, true, false; false, true, true;
         true, false, false; true, false, true; true, true, false; true, true, true);
}

/// The RMSprop update over a chunk (`ga`/`mb` are empty unless centered/with momentum).
#[inline(always)]
fn rmsprop_loop<F: Float, const CENTERED: bool, const MOMENTUM: bool, const WD: bool>(
    p: &mut [F],
    g: &[F],
    sq: &mut [F],
    ga: &mut [F],
    mb: &mut [F],
    h: &RmspropStep,
) {
    let c = |x: f64| F::from(x).unwrap_or_else(F::zero);
    let (lr, a, eps, wd, mom) = (
        c(h.lr),
        c(h.alpha),
        c(h.eps),
        c(h.weight_decay),
        c(h.momentum),
    );
    let sign = if h.maximize { -F::one() } else { F::one() };
    let one_a = F::one() - a;
    let n = p.len();
    let (g, sq) = (&g[..n], &mut sq[..n]);
    let ga = if CENTERED { &mut ga[..n] } else { ga };
    let mb = if MOMENTUM { &mut mb[..n] } else { mb };
    for i in 0..n {
        let mut gi = g[i] * sign;
        if WD {
            gi = gi + wd * p[i];
        }
        sq[i] = sq[i] * a + gi * gi * one_a;
        let avg = if CENTERED {
            ga[i] = ga[i] + (gi - ga[i]) * one_a;
            (sq[i] - ga[i] * ga[i]).sqrt() + eps
        } else {
            sq[i].sqrt() + eps
        };
        if MOMENTUM {
            mb[i] = mb[i] * mom + gi / avg;
            p[i] = p[i] - lr * mb[i];
        } else {
            p[i] = p[i] - lr * gi / avg;
        }
    }
}

/// Adagrad on one chunk.
fn adagrad_serial<F: Float>(p: &mut [F], g: &[F], sum: &mut [F], h: AdagradStep) {
    let c = |x: f64| F::from(x).unwrap_or_else(F::zero);
    let clr = c(h.lr / (1.0 + (h.step as f64 - 1.0) * h.lr_decay));
    let (wd, eps, maximize) = (c(h.weight_decay), c(h.eps), h.maximize);
    for i in 0..p.len() {
        let mut gi = if maximize { -g[i] } else { g[i] };
        gi = gi + wd * p[i];
        sum[i] = sum[i] + gi * gi;
        p[i] = p[i] - clr * gi / (sum[i].sqrt() + eps);
    }
}

/// A tensor being updated: its own memory when contiguous, else a gathered copy that
/// `finish` scatters back.
enum MutElems<'a, F: Elem> {
    Direct(&'a mut [F]),
    Gathered(Vec<F>, Strided<'a>),
}

impl<'a, F: Elem> MutElems<'a, F> {
    /// # Safety
    /// No other slice of `s`'s memory may be alive while the result is (checked by
    /// `check_disjoint` for every tensor of a step).
    unsafe fn of(s: Strided<'a>) -> Result<MutElems<'a, F>> {
        if !s.is_contiguous() {
            return Ok(MutElems::Gathered(gather::<F>(s)?, s));
        }
        let n = s.numel();
        if n == 0 {
            return Ok(MutElems::Direct(&mut []));
        }
        let o = s.layout.offset;
        let all = s.storage.cpu_slice_mut::<F>()?;
        let len = all.len();
        match all.get_mut(o..o.saturating_add(n)) {
            Some(c) => Ok(MutElems::Direct(c)),
            None => Err(Error::Runtime(format!(
                "optimizer step: view of {n} elements at offset {o} exceeds its storage of {len}"
            ))),
        }
    }

    fn slice(&mut self) -> &mut [F] {
        match self {
            MutElems::Direct(s) => s,
            MutElems::Gathered(v, _) => v,
        }
    }

    fn finish(self) -> Result<()> {
        match self {
            MutElems::Direct(_) => Ok(()),
            MutElems::Gathered(v, s) => write_elems(s, &v),
        }
    }
}

impl OptimKernels for CpuBackend {
    fn sgd_step(
        &self,
        param: Strided,
        grad: Strided,
        buf: Option<Strided>,
        h: SgdStep,
    ) -> Result<()> {
        let mut rest = vec![grad];
        rest.extend(buf);
        check_disjoint("sgd", param, &rest)?;
        crate::with_working_float!(param.dtype(), F, {
            let g = contiguous_or_gathered::<F>(grad)?;
            // SAFETY: param and buf are disjoint from each other and from grad (checked).
            let mut p = unsafe { MutElems::<F>::of(param)? };
            let mut b = buf.map(|s| unsafe { MutElems::<F>::of(s) }).transpose()?;
            sgd(p.slice(), &g, b.as_mut().map(|b| b.slice()), h);
            p.finish()?;
            b.map(MutElems::finish).transpose()?;
            Ok(())
        })
    }

    fn adam_step(
        &self,
        param: Strided,
        grad: Strided,
        exp_avg: Strided,
        exp_avg_sq: Strided,
        max_exp_avg_sq: Option<Strided>,
        h: AdamStep,
    ) -> Result<()> {
        let mut rest = vec![grad, exp_avg, exp_avg_sq];
        rest.extend(max_exp_avg_sq);
        check_disjoint("adam", param, &rest)?;
        crate::with_working_float!(param.dtype(), F, {
            let g = contiguous_or_gathered::<F>(grad)?;
            // SAFETY: every written tensor is disjoint from the others and from grad (checked).
            let (mut p, mut m, mut v) = unsafe {
                (
                    MutElems::<F>::of(param)?,
                    MutElems::<F>::of(exp_avg)?,
                    MutElems::<F>::of(exp_avg_sq)?,
                )
            };
            let mut vm = max_exp_avg_sq
                .map(|s| unsafe { MutElems::<F>::of(s) })
                .transpose()?;
            adam(
                p.slice(),
                &g,
                m.slice(),
                v.slice(),
                vm.as_mut().map(|w| w.slice()),
                h,
            );
            p.finish()?;
            m.finish()?;
            v.finish()?;
            vm.map(MutElems::finish).transpose()?;
            Ok(())
        })
    }

    fn rmsprop_step(
        &self,
        param: Strided,
        grad: Strided,
        square_avg: Strided,
        grad_avg: Option<Strided>,
        momentum_buf: Option<Strided>,
        h: RmspropStep,
    ) -> Result<()> {
        let mut rest = vec![grad, square_avg];
        rest.extend(grad_avg);
        rest.extend(momentum_buf);
        check_disjoint("rmsprop", param, &rest)?;
        crate::with_working_float!(param.dtype(), F, {
            let g = contiguous_or_gathered::<F>(grad)?;
            // SAFETY: every written tensor is disjoint from the others and from grad (checked).
            let (mut p, mut sq) =
                unsafe { (MutElems::<F>::of(param)?, MutElems::<F>::of(square_avg)?) };
            let mut ga = grad_avg
                .map(|s| unsafe { MutElems::<F>::of(s) })
                .transpose()?;
            let mut mb = momentum_buf
                .map(|s| unsafe { MutElems::<F>::of(s) })
                .transpose()?;
            rmsprop(
                p.slice(),
                &g,
                sq.slice(),
                ga.as_mut().map(|w| w.slice()),
                mb.as_mut().map(|w| w.slice()),
                h,
            );
            p.finish()?;
            sq.finish()?;
            ga.map(MutElems::finish).transpose()?;
            mb.map(MutElems::finish).transpose()?;
            Ok(())
        })
    }

    fn adagrad_step(
        &self,
        param: Strided,
        grad: Strided,
        state_sum: Strided,
        h: AdagradStep,
    ) -> Result<()> {
        check_disjoint("adagrad", param, &[grad, state_sum])?;
        crate::with_working_float!(param.dtype(), F, {
            let g = contiguous_or_gathered::<F>(grad)?;
            // SAFETY: param and state_sum are disjoint from each other and from grad (checked).
            let (mut p, mut s) =
                unsafe { (MutElems::<F>::of(param)?, MutElems::<F>::of(state_sum)?) };
            adagrad(p.slice(), &g, s.slice(), h);
            p.finish()?;
            s.finish()?;
            Ok(())
        })
    }
}
