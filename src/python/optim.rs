//! Fused optimizer steps: one Rust call updates every parameter of a group in place.

use super::tensor::PyTensor;
use crate::cpu::optim::{self as k, AdamStep};
use crate::dtype::{DType, Elem};
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use pyo3::prelude::*;

/// A contiguous working copy of a tensor's values, written back on `commit`.
struct Work<F: Elem> {
    target: Tensor,
    data: Vec<F>,
}

impl<F: Elem> Work<F> {
    fn of(t: &Tensor) -> Result<Work<F>> {
        Ok(Work {
            target: t.clone(),
            data: t.to_vec::<F>()?,
        })
    }
    fn commit(self) -> Result<()> {
        let src = Tensor::from_vec(self.data, self.target.shape())?;
        let _g = crate::autograd::no_grad();
        self.target.detach().copy_(&src)
    }
}

fn check(p: &Tensor, g: &Tensor, op: &str) -> Result<()> {
    if p.shape() != g.shape() {
        return Err(Error::Runtime(format!(
            "{op}: gradient shape {:?} does not match parameter shape {:?}",
            g.shape(),
            p.shape()
        )));
    }
    if !p.dtype().is_float() {
        return Err(Error::Runtime(format!(
            "{op}: parameters must be floating point, got {}",
            p.dtype().name()
        )));
    }
    Ok(())
}

/// Every per-parameter list must line up with `params`.
fn check_lens(op: &str, n: usize, lens: &[usize]) -> Result<()> {
    if lens.iter().any(|&l| l != n) {
        return Err(Error::Value(format!(
            "{op}: expected every list to have one entry per parameter ({n}), got lengths {lens:?}"
        )));
    }
    Ok(())
}

fn grad_as(g: &Tensor, dt: DType) -> Result<Tensor> {
    g.detach().to_dtype(dt)
}

macro_rules! float_dispatch {
    ($dt:expr, $F:ident, $body:expr) => {
        match $dt {
            DType::F64 => {
                type $F = f64;
                $body
            }
            DType::F32 => {
                type $F = f32;
                $body
            }
            other => Err(Error::NotImplemented(format!(
                "fused optimizer step: dtype {} is not supported (use float32 or float64 parameters)",
                other.name()
            ))),
        }
    };
}

fn opt(t: &Option<PyRef<PyTensor>>) -> Option<Tensor> {
    t.as_ref().map(|x| x.t.clone())
}

#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn _sgd_step(
    py: Python<'_>,
    params: Vec<PyRef<PyTensor>>,
    grads: Vec<PyRef<PyTensor>>,
    momentum_buffers: Vec<Option<PyRef<PyTensor>>>,
    lr: f64,
    momentum: f64,
    dampening: f64,
    weight_decay: f64,
    nesterov: bool,
    maximize: bool,
) -> PyResult<Vec<Option<Py<PyAny>>>> {
    check_lens("sgd", params.len(), &[grads.len(), momentum_buffers.len()])?;
    let mut out = Vec::new();
    for ((p, g), b) in params.iter().zip(&grads).zip(&momentum_buffers) {
        let (p, g) = (p.t.clone(), g.t.clone());
        check(&p, &g, "sgd")?;
        let buf = opt(b);
        let new_buf: Option<Tensor> = float_dispatch!(p.dtype(), F, {
            let mut pw = Work::<F>::of(&p)?;
            let gv = grad_as(&g, p.dtype())?.to_vec::<F>()?;
            let res = if momentum != 0.0 {
                let (mut bw, first) = match &buf {
                    Some(b) => (Work::<F>::of(b)?, false),
                    None => (
                        Work {
                            target: Tensor::zeros(p.shape(), p.dtype())?,
                            data: vec![F::default(); p.numel()],
                        },
                        true,
                    ),
                };
                k::sgd(
                    &mut pw.data,
                    &gv,
                    Some((&mut bw.data, first)),
                    lr,
                    momentum,
                    dampening,
                    weight_decay,
                    nesterov,
                    maximize,
                );
                let t = if first {
                    Tensor::from_vec(bw.data, p.shape())?
                } else {
                    let t = bw.target.clone();
                    bw.commit()?;
                    t
                };
                Some(t)
            } else {
                k::sgd(
                    &mut pw.data,
                    &gv,
                    None,
                    lr,
                    momentum,
                    dampening,
                    weight_decay,
                    nesterov,
                    maximize,
                );
                None
            };
            pw.commit()?;
            Ok(res)
        })?;
        out.push(new_buf.map(|t| super::tensor::wrap(py, t)).transpose()?);
    }
    Ok(out)
}

#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn _adam_step(
    params: Vec<PyRef<PyTensor>>,
    grads: Vec<PyRef<PyTensor>>,
    exp_avgs: Vec<PyRef<PyTensor>>,
    exp_avg_sqs: Vec<PyRef<PyTensor>>,
    max_exp_avg_sqs: Vec<Option<PyRef<PyTensor>>>,
    steps: Vec<u64>,
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    amsgrad: bool,
    maximize: bool,
    decoupled_weight_decay: bool,
) -> PyResult<()> {
    check_lens(
        "adam",
        params.len(),
        &[grads.len(), exp_avgs.len(), exp_avg_sqs.len(), steps.len()],
    )?;
    for i in 0..params.len() {
        let (p, g) = (params[i].t.clone(), grads[i].t.clone());
        check(&p, &g, "adam")?;
        let h = AdamStep {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
            amsgrad,
            maximize,
            decoupled: decoupled_weight_decay,
            step: steps[i],
        };
        let vmax = max_exp_avg_sqs.get(i).and_then(opt);
        float_dispatch!(p.dtype(), F, {
            let mut pw = Work::<F>::of(&p)?;
            let gv = grad_as(&g, p.dtype())?.to_vec::<F>()?;
            let mut m = Work::<F>::of(&exp_avgs[i].t)?;
            let mut v = Work::<F>::of(&exp_avg_sqs[i].t)?;
            let mut vm = match (&vmax, amsgrad) {
                (Some(t), true) => Some(Work::<F>::of(t)?),
                _ => None,
            };
            k::adam(
                &mut pw.data,
                &gv,
                &mut m.data,
                &mut v.data,
                vm.as_mut().map(|w| w.data.as_mut_slice()),
                h,
            );
            pw.commit()?;
            m.commit()?;
            v.commit()?;
            if let Some(w) = vm {
                w.commit()?;
            }
            Ok(())
        })?;
    }
    Ok(())
}

#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn _rmsprop_step(
    params: Vec<PyRef<PyTensor>>,
    grads: Vec<PyRef<PyTensor>>,
    square_avgs: Vec<PyRef<PyTensor>>,
    grad_avgs: Vec<Option<PyRef<PyTensor>>>,
    momentum_buffers: Vec<Option<PyRef<PyTensor>>>,
    lr: f64,
    alpha: f64,
    eps: f64,
    weight_decay: f64,
    momentum: f64,
    centered: bool,
    maximize: bool,
) -> PyResult<()> {
    check_lens("rmsprop", params.len(), &[grads.len(), square_avgs.len()])?;
    for i in 0..params.len() {
        let (p, g) = (params[i].t.clone(), grads[i].t.clone());
        check(&p, &g, "rmsprop")?;
        let ga = if centered {
            grad_avgs.get(i).and_then(opt)
        } else {
            None
        };
        let mb = if momentum > 0.0 {
            momentum_buffers.get(i).and_then(opt)
        } else {
            None
        };
        float_dispatch!(p.dtype(), F, {
            let mut pw = Work::<F>::of(&p)?;
            let gv = grad_as(&g, p.dtype())?.to_vec::<F>()?;
            let mut sq = Work::<F>::of(&square_avgs[i].t)?;
            let mut gaw = ga.as_ref().map(Work::<F>::of).transpose()?;
            let mut mbw = mb.as_ref().map(Work::<F>::of).transpose()?;
            k::rmsprop(
                &mut pw.data,
                &gv,
                &mut sq.data,
                gaw.as_mut().map(|w| w.data.as_mut_slice()),
                mbw.as_mut().map(|w| w.data.as_mut_slice()),
                lr,
                alpha,
                eps,
                weight_decay,
                momentum,
                maximize,
            );
            pw.commit()?;
            sq.commit()?;
            if let Some(w) = gaw {
                w.commit()?;
            }
            if let Some(w) = mbw {
                w.commit()?;
            }
            Ok(())
        })?;
    }
    Ok(())
}

#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn _adagrad_step(
    params: Vec<PyRef<PyTensor>>,
    grads: Vec<PyRef<PyTensor>>,
    state_sums: Vec<PyRef<PyTensor>>,
    steps: Vec<u64>,
    lr: f64,
    lr_decay: f64,
    weight_decay: f64,
    eps: f64,
    maximize: bool,
) -> PyResult<()> {
    check_lens(
        "adagrad",
        params.len(),
        &[grads.len(), state_sums.len(), steps.len()],
    )?;
    for i in 0..params.len() {
        let (p, g) = (params[i].t.clone(), grads[i].t.clone());
        check(&p, &g, "adagrad")?;
        float_dispatch!(p.dtype(), F, {
            let mut pw = Work::<F>::of(&p)?;
            let gv = grad_as(&g, p.dtype())?.to_vec::<F>()?;
            let mut s = Work::<F>::of(&state_sums[i].t)?;
            k::adagrad(
                &mut pw.data,
                &gv,
                &mut s.data,
                steps[i],
                lr,
                lr_decay,
                weight_decay,
                eps,
                maximize,
            );
            pw.commit()?;
            s.commit()?;
            Ok(())
        })?;
    }
    Ok(())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_sgd_step, m)?)?;
    m.add_function(wrap_pyfunction!(_adam_step, m)?)?;
    m.add_function(wrap_pyfunction!(_rmsprop_step, m)?)?;
    m.add_function(wrap_pyfunction!(_adagrad_step, m)?)?;
    Ok(())
}
