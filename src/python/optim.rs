//! Fused optimizer steps: one Rust call updates every parameter of a group in place.

use super::tensor::PyTensor;
use crate::backend::{AdagradStep, AdamStep, RmspropStep, SgdStep};
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use pyo3::prelude::*;

/// Every per-parameter list must line up with `params`.
fn check_lens(op: &str, n: usize, lens: &[usize]) -> Result<()> {
    if lens.iter().any(|&l| l != n) {
        return Err(Error::Value(format!(
            "{op}: expected every list to have one entry per parameter ({n}), got lengths {lens:?}"
        )));
    }
    Ok(())
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
    let h = SgdStep {
        lr,
        momentum,
        dampening,
        weight_decay,
        nesterov,
        maximize,
        first: false,
    };
    let mut out = Vec::new();
    for ((p, g), b) in params.iter().zip(&grads).zip(&momentum_buffers) {
        let buf = p.t.sgd_step_(&g.t, opt(b).as_ref(), h)?;
        out.push(buf.map(|t| super::tensor::wrap(py, t)).transpose()?);
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
        params[i].t.adam_step_(
            &grads[i].t,
            &exp_avgs[i].t,
            &exp_avg_sqs[i].t,
            vmax.as_ref(),
            h,
        )?;
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
    let h = RmspropStep {
        lr,
        alpha,
        eps,
        weight_decay,
        momentum,
        maximize,
    };
    for i in 0..params.len() {
        let ga = if centered {
            grad_avgs.get(i).and_then(opt)
        } else {
            None
        };
        let mb = momentum_buffers.get(i).and_then(opt);
        params[i]
            .t
            .rmsprop_step_(&grads[i].t, &square_avgs[i].t, ga.as_ref(), mb.as_ref(), h)?;
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
        let h = AdagradStep {
            lr,
            lr_decay,
            weight_decay,
            eps,
            maximize,
            step: steps[i],
        };
        params[i]
            .t
            .adagrad_step_(&grads[i].t, &state_sums[i].t, h)?;
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
