//! conv2d through a backend's fused kernel (one `ConvolutionBackward0` node), with the
//! gradients from the backend's backward kernel or, when a graph of the gradient is being
//! built, from differentiable compositions (conv_transpose2d and im2col + matmul).

use super::Tensor;
use crate::autograd::{self, SavedTensor, SavedValue};
use crate::backend::Window;
use crate::error::Result;

/// conv2d through the backend's fused kernel, recorded as one node; None when the backend
/// has no such kernel for these operands.
pub(super) fn fused_conv2d(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    win: Window,
    groups: usize,
    shape: [usize; 4],
) -> Result<Option<Tensor>> {
    if bias.is_some_and(|b| b.ndim() != 1 || b.dtype() != x.dtype() || b.numel() != shape[1]) {
        return Ok(None);
    }
    let be = x.backend()?;
    let Some(s) = be.conv2d(
        x.strided(),
        weight.strided(),
        bias.map(|b| b.strided()),
        win,
        groups,
    )?
    else {
        return Ok(None);
    };
    let out = Tensor::from_kernel(s, &shape)?;
    let mut ins = vec![x, weight];
    ins.extend(bias);
    if autograd::needs_grad(&ins) {
        let (vx, vw) = (SavedTensor::new(x), SavedTensor::new(weight));
        autograd::record(&out, "ConvolutionBackward0", &ins, move |g, needs| {
            let (x, w) = (vx.get()?, vw.get()?);
            let (gx, gw) = conv2d_grads(x, w, g, win, groups, (needs[0], needs[1]))?;
            let mut grads = vec![gx, gw];
            if needs.len() > 2 {
                grads.push(if needs[2] {
                    Some(g.sum_dims(&[0, 2, 3], false, None)?)
                } else {
                    None
                });
            }
            Ok(grads)
        });
        let pair = |a: usize, b: usize| SavedValue::Ints(vec![a as i64, b as i64]);
        // PyTorch reports a missing bias as size (0,).
        let bias_sizes = SavedValue::sizes(bias.map_or(&[0][..], |b| b.shape()));
        autograd::describe(&out, || {
            vec![
                ("bias_sym_sizes_opt", bias_sizes),
                ("dilation", pair(win.dh, win.dw)),
                ("groups", SavedValue::Int(groups as i64)),
                ("input", SavedValue::tensor(x)),
                ("output_padding", pair(0, 0)),
                ("padding", pair(win.ph, win.pw)),
                ("stride", pair(win.sh, win.sw)),
                ("transposed", SavedValue::Bool(false)),
                ("weight", SavedValue::tensor(weight)),
            ]
        });
    }
    Ok(Some(out))
}

/// Input and weight gradients of conv2d: the backend's kernel, or (building a graph of the
/// gradient, or without the kernel) differentiable compositions.
fn conv2d_grads(
    x: &Tensor,
    w: &Tensor,
    g: &Tensor,
    win: Window,
    groups: usize,
    (need_x, need_w): (bool, bool),
) -> Result<(Option<Tensor>, Option<Tensor>)> {
    if !autograd::is_grad_enabled() {
        let be = x.backend()?;
        let got = be.conv2d_backward(
            x.strided(),
            w.strided(),
            g.strided(),
            win,
            groups,
            (need_x, need_w),
        )?;
        if let Some((gx, gw)) = got {
            let gx = gx.map(|s| Tensor::from_kernel(s, x.shape())).transpose()?;
            let gw = gw.map(|s| Tensor::from_kernel(s, w.shape())).transpose()?;
            return Ok((gx, gw));
        }
    }
    let (n, h, wd) = (x.shape()[0], x.shape()[2], x.shape()[3]);
    let (o, cg) = (w.shape()[0], w.shape()[1]);
    let (oh, ow) = (g.shape()[2], g.shape()[3]);
    let gx = if need_x {
        // conv_transpose2d is conv2d's adjoint; output_padding restores the rows and columns
        // a strided conv skipped.
        let extra = |size: usize, o: usize, s: usize, p: usize, d: usize, k: usize| {
            size + 2 * p - (o - 1) * s - d * (k - 1) - 1
        };
        let op = (
            extra(h, oh, win.sh, win.ph, win.dh, win.kh),
            extra(wd, ow, win.sw, win.pw, win.dw, win.kw),
        );
        Some(g.conv_transpose2d(
            w,
            None,
            (win.sh, win.sw),
            (win.ph, win.pw),
            op,
            groups,
            (win.dh, win.dw),
        )?)
    } else {
        None
    };
    let gw = if need_w {
        let (gr, kk, l) = (
            groups as i64,
            (cg * win.kh * win.kw) as i64,
            (oh * ow) as i64,
        );
        let cols = x
            .im2col(win)?
            .reshape(&[n as i64, gr, kk, l])?
            .transpose(-2, -1)?;
        let gs = g.reshape(&[n as i64, gr, (o / groups) as i64, l])?;
        let sum = gs.matmul(&cols)?.sum_dims(&[0], false, None)?;
        Some(sum.reshape(&[o as i64, cg as i64, win.kh as i64, win.kw as i64])?)
    } else {
        None
    };
    Ok((gx, gw))
}
