//! Fused optimizer updates over one parameter at a time: every element of the parameter and
//! its state is read and written once per step (PyTorch's single-tensor formulas).

use num_traits::Float;

/// Hyper-parameters of one Adam/AdamW step.
#[derive(Clone, Copy)]
pub struct AdamStep {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub amsgrad: bool,
    pub maximize: bool,
    pub decoupled: bool,
    pub step: u64,
}

/// Adam / AdamW on slices of one dtype.
pub fn adam<F: Float>(
    p: &mut [F],
    g: &[F],
    m: &mut [F],
    v: &mut [F],
    vmax: Option<&mut [F]>,
    h: AdamStep,
) {
    let c = |x: f64| F::from(x).unwrap_or_else(F::zero);
    let (b1, b2) = (c(h.beta1), c(h.beta2));
    let bc1 = 1.0 - h.beta1.powi(h.step as i32);
    let bc2 = 1.0 - h.beta2.powi(h.step as i32);
    let step_size = c(h.lr / bc1);
    let bc2_sqrt = c(bc2.sqrt());
    let eps = c(h.eps);
    let wd = c(h.weight_decay);
    let decay = c(1.0 - h.lr * h.weight_decay);
    let mut vmax = vmax;
    for i in 0..p.len() {
        let mut gi = if h.maximize { -g[i] } else { g[i] };
        if h.decoupled {
            p[i] = p[i] * decay;
        } else if h.weight_decay != 0.0 {
            gi = gi + wd * p[i];
        }
        m[i] = m[i] + (gi - m[i]) * (F::one() - b1);
        v[i] = v[i] * b2 + gi * gi * (F::one() - b2);
        let denom_v = match vmax.as_deref_mut() {
            Some(vm) if h.amsgrad => {
                if v[i] > vm[i] {
                    vm[i] = v[i];
                }
                vm[i]
            }
            _ => v[i],
        };
        let denom = denom_v.sqrt() / bc2_sqrt + eps;
        p[i] = p[i] - step_size * m[i] / denom;
    }
}

/// SGD with momentum/dampening/nesterov; `buf` is None without momentum.
#[allow(clippy::too_many_arguments)]
pub fn sgd<F: Float>(
    p: &mut [F],
    g: &[F],
    buf: Option<(&mut [F], bool)>,
    lr: f64,
    momentum: f64,
    dampening: f64,
    wd: f64,
    nesterov: bool,
    maximize: bool,
) {
    let c = |x: f64| F::from(x).unwrap_or_else(F::zero);
    let (lr, mom, damp, wd) = (c(lr), c(momentum), c(1.0 - dampening), c(wd));
    let mut buf = buf;
    for i in 0..p.len() {
        let gi = if maximize { -g[i] } else { g[i] };
        let mut d = gi + wd * p[i];
        if let Some((b, first)) = buf.as_mut() {
            b[i] = if *first { d } else { b[i] * mom + d * damp };
            d = if nesterov { d + mom * b[i] } else { b[i] };
        }
        p[i] = p[i] - lr * d;
    }
}

/// RMSprop (centered and momentum variants).
#[allow(clippy::too_many_arguments)]
pub fn rmsprop<F: Float>(
    p: &mut [F],
    g: &[F],
    sq: &mut [F],
    gavg: Option<&mut [F]>,
    mbuf: Option<&mut [F]>,
    lr: f64,
    alpha: f64,
    eps: f64,
    wd: f64,
    momentum: f64,
    maximize: bool,
) {
    let c = |x: f64| F::from(x).unwrap_or_else(F::zero);
    let (lr, a, eps, wd, mom) = (c(lr), c(alpha), c(eps), c(wd), c(momentum));
    let (mut gavg, mut mbuf) = (gavg, mbuf);
    for i in 0..p.len() {
        let mut gi = if maximize { -g[i] } else { g[i] };
        gi = gi + wd * p[i];
        sq[i] = sq[i] * a + gi * gi * (F::one() - a);
        let avg = match gavg.as_deref_mut() {
            Some(ga) => {
                ga[i] = ga[i] + (gi - ga[i]) * (F::one() - a);
                (sq[i] - ga[i] * ga[i]).sqrt() + eps
            }
            None => sq[i].sqrt() + eps,
        };
        match mbuf.as_deref_mut() {
            Some(b) if momentum > 0.0 => {
                b[i] = b[i] * mom + gi / avg;
                p[i] = p[i] - lr * b[i];
            }
            _ => p[i] = p[i] - lr * gi / avg,
        }
    }
}

/// Adagrad.
#[allow(clippy::too_many_arguments)]
pub fn adagrad<F: Float>(
    p: &mut [F],
    g: &[F],
    sum: &mut [F],
    step: u64,
    lr: f64,
    lr_decay: f64,
    wd: f64,
    eps: f64,
    maximize: bool,
) {
    let c = |x: f64| F::from(x).unwrap_or_else(F::zero);
    let clr = c(lr / (1.0 + (step as f64 - 1.0) * lr_decay));
    let (wd, eps) = (c(wd), c(eps));
    for i in 0..p.len() {
        let mut gi = if maximize { -g[i] } else { g[i] };
        gi = gi + wd * p[i];
        sum[i] = sum[i] + gi * gi;
        p[i] = p[i] - clr * gi / (sum[i].sqrt() + eps);
    }
}

impl crate::backend::OptimKernels for super::CpuBackend {}
