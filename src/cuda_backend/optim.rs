//! Fused optimizer steps on the GPU: one kernel per step over the parameter and its state,
//! each element read and written once.

use super::context::{gpu, Gpu};
use super::kernels::Family;
use super::launch::{launch, lays_dyn, ptr, sfx, Lay};
use crate::backend::{
    check_disjoint, AdagradStep, AdamStep, OptimKernels, RmspropStep, SgdStep, Strided,
};
use crate::error::Result;

pub(super) fn kernel_names() -> Vec<String> {
    let mut v = Vec::new();
    for s in ["f32", "f64"] {
        for k in ["sgd", "adam", "rmsprop", "adagrad"] {
            v.push(format!("{k}_{s}"));
        }
    }
    v
}

/// Device pointers and joint layouts of the step's operands; absent optional operands get a
/// null pointer and the parameter's layout (never dereferenced).
struct Operands {
    ptrs: Vec<u64>,
    lays: Vec<Lay>,
    n: i64,
}

fn operands(param: Strided, rest: &[Option<Strided>]) -> Result<Operands> {
    let present: Vec<Strided> = std::iter::once(param)
        .chain(rest.iter().flatten().copied())
        .collect();
    let views: Vec<(&[usize], usize)> = present
        .iter()
        .map(|s| (&s.layout.strides[..], s.layout.offset))
        .collect();
    let joint = lays_dyn(param.shape(), &views)?;
    let (mut ptrs, mut out_lays) = (vec![ptr(param.storage)?], vec![joint[0]]);
    let mut next = 1;
    for r in rest {
        match r {
            Some(s) => {
                ptrs.push(ptr(s.storage)?);
                out_lays.push(joint[next]);
                next += 1;
            }
            None => {
                ptrs.push(0);
                out_lays.push(joint[0]);
            }
        }
    }
    Ok(Operands {
        ptrs,
        lays: out_lays,
        n: param.numel() as i64,
    })
}

impl OptimKernels for Gpu {
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
        let g = gpu(self.index)?;
        let o = operands(param, &[Some(grad), buf])?;
        if o.n == 0 {
            return Ok(());
        }
        let (p, lp, gr, lg, b, lb, n) = (
            o.ptrs[0], o.lays[0], o.ptrs[1], o.lays[1], o.ptrs[2], o.lays[2], o.n,
        );
        let has_buf = buf.is_some() as i32;
        let (lr, mom, damp, wd) = (h.lr, h.momentum, 1.0 - h.dampening, h.weight_decay);
        let (nesterov, maximize, first) = (h.nesterov as i32, h.maximize as i32, h.first as i32);
        let name = format!("sgd_{}", sfx(param.dtype()));
        launch!(g, Family::Optim, name, g.grid(n as usize);
            p, lp, gr, lg, b, lb, has_buf, n, lr, mom, damp, wd, nesterov, maximize, first)
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
        let g = gpu(self.index)?;
        let o = operands(
            param,
            &[Some(grad), Some(exp_avg), Some(exp_avg_sq), max_exp_avg_sq],
        )?;
        if o.n == 0 {
            return Ok(());
        }
        let (p, lp, gr, lg, m, lm) = (
            o.ptrs[0], o.lays[0], o.ptrs[1], o.lays[1], o.ptrs[2], o.lays[2],
        );
        let (v, lv, vm, lvm, n) = (o.ptrs[3], o.lays[3], o.ptrs[4], o.lays[4], o.n);
        let amsgrad = (h.amsgrad && max_exp_avg_sq.is_some()) as i32;
        let bc1 = 1.0 - h.beta1.powi(h.step as i32);
        let bc2 = 1.0 - h.beta2.powi(h.step as i32);
        let (step_size, b1, b2, bc2_sqrt) = (h.lr / bc1, h.beta1, h.beta2, bc2.sqrt());
        let (eps, wd, decay) = (h.eps, h.weight_decay, 1.0 - h.lr * h.weight_decay);
        let (decoupled, maximize) = (h.decoupled as i32, h.maximize as i32);
        let name = format!("adam_{}", sfx(param.dtype()));
        launch!(g, Family::Optim, name, g.grid(n as usize);
            p, lp, gr, lg, m, lm, v, lv, vm, lvm, amsgrad, n,
            step_size, b1, b2, bc2_sqrt, eps, wd, decay, decoupled, maximize)
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
        let g = gpu(self.index)?;
        let o = operands(
            param,
            &[Some(grad), Some(square_avg), grad_avg, momentum_buf],
        )?;
        if o.n == 0 {
            return Ok(());
        }
        let (p, lp, gr, lg, sq, lsq) = (
            o.ptrs[0], o.lays[0], o.ptrs[1], o.lays[1], o.ptrs[2], o.lays[2],
        );
        let (ga, lga, mb, lmb, n) = (o.ptrs[3], o.lays[3], o.ptrs[4], o.lays[4], o.n);
        let centered = grad_avg.is_some() as i32;
        let has_mom = (momentum_buf.is_some() && h.momentum > 0.0) as i32;
        let (lr, a, eps, wd, mom, maximize) = (
            h.lr,
            h.alpha,
            h.eps,
            h.weight_decay,
            h.momentum,
            h.maximize as i32,
        );
        let name = format!("rmsprop_{}", sfx(param.dtype()));
        launch!(g, Family::Optim, name, g.grid(n as usize);
            p, lp, gr, lg, sq, lsq, ga, lga, centered, mb, lmb, has_mom, n,
            lr, a, eps, wd, mom, maximize)
    }

    fn adagrad_step(
        &self,
        param: Strided,
        grad: Strided,
        state_sum: Strided,
        h: AdagradStep,
    ) -> Result<()> {
        check_disjoint("adagrad", param, &[grad, state_sum])?;
        let g = gpu(self.index)?;
        let o = operands(param, &[Some(grad), Some(state_sum)])?;
        if o.n == 0 {
            return Ok(());
        }
        let (p, lp, gr, lg, s, ls, n) = (
            o.ptrs[0], o.lays[0], o.ptrs[1], o.lays[1], o.ptrs[2], o.lays[2], o.n,
        );
        let clr = h.lr / (1.0 + (h.step as f64 - 1.0) * h.lr_decay);
        let (wd, eps, maximize) = (h.weight_decay, h.eps, h.maximize as i32);
        let name = format!("adagrad_{}", sfx(param.dtype()));
        launch!(g, Family::Optim, name, g.grid(n as usize); p, lp, gr, lg, s, ls, n, clr, wd, eps, maximize)
    }
}
