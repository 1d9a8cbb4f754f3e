//! A whole LSTM layer (one direction, no projection) as one autograd node. The backend runs
//! the recurrence (and back-propagation through time) as one fused kernel each way; the
//! weight and bias gradients are then one GEMM and one reduction over all steps. Backends
//! without the fused kernels (and double backward) use the same recurrence built from
//! ordinary ops.

use super::nn::composite_grad;
use super::Tensor;
use crate::autograd::{self, is_grad_enabled, SavedTensor};
use crate::error::{Error, Result};

/// The layer's operands (owned handles so that the backward can rebuild the composition).
#[derive(Clone)]
struct Operands {
    xw: Tensor,
    h0: Tensor,
    c0: Tensor,
    w_hh: Tensor,
    b_hh: Option<Tensor>,
}

/// Time steps in processing order.
fn order(steps: usize, reverse: bool) -> Vec<usize> {
    if reverse {
        (0..steps).rev().collect()
    } else {
        (0..steps).collect()
    }
}

/// The pre-activation gates of step `t`: `xw[t] + h·W_hhᵀ (+ b_hh)`; `w_t` is `W_hhᵀ`.
fn gates(o: &Operands, w_t: &Tensor, t: usize, h: &Tensor) -> Result<Tensor> {
    let z = o.xw.select(0, t as i64)?.add(&h.matmul(w_t)?)?;
    match &o.b_hh {
        Some(b) => z.add(b),
        None => Ok(z),
    }
}

/// The recurrence from differentiable ops: `[T + 1, N, H]` (every hidden state, then the
/// last cell state).
fn composite(o: &Operands, reverse: bool) -> Result<Tensor> {
    let steps = o.xw.shape()[0];
    let hd = o.h0.shape()[1];
    let (mut h, mut c) = (o.h0.clone(), o.c0.clone());
    let mut hs = vec![None; steps];
    let w_t = o.w_hh.t()?;
    for t in order(steps, reverse) {
        let z = gates(o, &w_t, t, &h)?;
        let part = |k: usize| z.narrow(1, k * hd, hd);
        let (i, f, g, out) = (
            part(0)?.sigmoid()?,
            part(1)?.sigmoid()?,
            part(2)?.tanh()?,
            part(3)?.sigmoid()?,
        );
        c = f.mul(&c)?.add(&i.mul(&g)?)?;
        h = out.mul(&c.tanh()?)?;
        hs[t] = Some(h.clone());
    }
    let mut all: Vec<Tensor> = hs.into_iter().flatten().collect();
    all.push(c);
    Tensor::stack(&all, 0)
}

fn check(o: &Operands) -> Result<(usize, usize, usize)> {
    let (xs, hs, cs, ws) = (o.xw.shape(), o.h0.shape(), o.c0.shape(), o.w_hh.shape());
    let ok = xs.len() == 3
        && hs.len() == 2
        && cs == hs
        && xs[0] > 0
        && xs[1] == hs[0]
        && xs[2] == 4 * hs[1]
        && ws == [4 * hs[1], hs[1]]
        && o.b_hh.as_ref().is_none_or(|b| b.shape() == [4 * hs[1]]);
    if !ok {
        return Err(Error::Runtime(format!(
            "lstm: expected input projections [T, N, 4H] (T > 0), states [N, H], weight_hh [4H, H] and bias_hh [4H]; got {xs:?}, {hs:?}, {cs:?}, {ws:?}, {:?}",
            o.b_hh.as_ref().map(|b| b.shape().to_vec())
        )));
    }
    let mut all = vec![&o.xw, &o.h0, &o.c0, &o.w_hh];
    all.extend(o.b_hh.as_ref());
    super::check_same_device("lstm", &all)?;
    if all
        .iter()
        .any(|t| t.dtype() != o.xw.dtype() || !t.dtype().is_float())
    {
        return Err(Error::Runtime(
            "lstm: expected all inputs and weights to have one floating point dtype".into(),
        ));
    }
    Ok((xs[0], xs[1], hs[1]))
}

/// What the forward keeps for the backward (see `LstmLayerOut`).
struct Tape {
    gates: Tensor,
    cells: Tensor,
    h_in: Tensor,
}

impl Tensor {
    /// One LSTM layer: `xw` `[T, N, 4H]` holds the input projections (input bias included),
    /// `h0`, `c0` `[N, H]` the initial states, `w_hh` `[4H, H]` and `b_hh` `[4H]` the
    /// recurrent weights. Returns `[T + 1, N, H]`: the hidden state of every step (in time
    /// order, also when `reverse` runs from the last step), then the final cell state.
    pub fn lstm_layer(
        xw: &Tensor,
        h0: &Tensor,
        c0: &Tensor,
        w_hh: &Tensor,
        b_hh: Option<&Tensor>,
        reverse: bool,
    ) -> Result<Tensor> {
        let ops = Operands {
            xw: xw.clone(),
            h0: h0.clone(),
            c0: c0.clone(),
            w_hh: w_hh.clone(),
            b_hh: b_hh.cloned(),
        };
        let (steps, n, hd) = check(&ops)?;
        let be = xw.backend()?;
        let states = (h0.strided(), c0.strided());
        let Some(out) = be.lstm_layer(
            xw.strided(),
            states,
            w_hh.strided(),
            b_hh.map(|b| b.strided()),
            reverse,
        )?
        else {
            // No fused kernel on this backend: the composition, recorded op by op.
            return composite(&ops, reverse);
        };
        let packed = Tensor::from_kernel(out.packed, &[steps + 1, n, hd])?;
        let tape = Tape {
            gates: Tensor::from_kernel(out.gates, &[steps, n, 4 * hd])?,
            cells: Tensor::from_kernel(out.cells, &[steps + 1, n, hd])?,
            h_in: Tensor::from_kernel(out.h_in, &[steps * n, hd])?,
        };
        record(packed, ops, tape, (steps, n, hd), reverse)
    }
}

fn record(
    packed: Tensor,
    ops: Operands,
    tape: Tape,
    (steps, n, hd): (usize, usize, usize),
    reverse: bool,
) -> Result<Tensor> {
    let mut inputs = vec![&ops.xw, &ops.h0, &ops.c0, &ops.w_hh];
    inputs.extend(ops.b_hh.as_ref());
    if !autograd::needs_grad(&inputs) {
        return Ok(packed);
    }
    let owned: Vec<Tensor> = inputs.iter().map(|t| (*t).clone()).collect();
    let w = SavedTensor::new(&ops.w_hh);
    let has_bias = ops.b_hh.is_some();
    autograd::record(&packed, "LstmBackward0", &inputs, move |g, _| {
        if is_grad_enabled() {
            return composite_grad(&owned, g, |t| {
                let o = Operands {
                    xw: t[0].clone(),
                    h0: t[1].clone(),
                    c0: t[2].clone(),
                    w_hh: t[3].clone(),
                    b_hh: has_bias.then(|| t[4].clone()),
                };
                composite(&o, reverse)
            });
        }
        let w = w.get()?.clone();
        let grads = w
            .backend()?
            .lstm_layer_backward(
                g.strided(),
                (tape.gates.strided(), tape.cells.strided()),
                w.strided(),
                reverse,
            )?
            .ok_or_else(|| Error::Runtime("lstm: the backend lost its fused kernel".into()))?;
        let dxw = Tensor::from_kernel(grads.xw, &[steps, n, 4 * hd])?;
        let dh0 = Tensor::from_kernel(grads.h0, &[n, hd])?;
        let dc0 = Tensor::from_kernel(grads.c0, &[n, hd])?;
        // ∂W_hh = Σₜ dzₜᵀ·h_{t-1}: one GEMM over all steps (both in time order).
        let zs = dxw.reshape(&[(steps * n) as i64, (4 * hd) as i64])?;
        let dw = zs.t()?.matmul(&tape.h_in)?;
        let mut res = vec![Some(dxw.clone()), Some(dh0), Some(dc0), Some(dw)];
        if has_bias {
            res.push(Some(dxw.sum_dims(&[0, 1], false, None)?));
        }
        Ok(res)
    });
    Ok(packed)
}
