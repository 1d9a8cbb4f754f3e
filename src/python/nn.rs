//! Neural-network kernels exposed to Python with PyTorch's top-level signatures
//! (`torch.conv2d`, `torch.max_pool2d`, `torch.layer_norm`, …).

use super::tensor::{nogil, wrap, PyTensor};
use crate::error::Error;
use crate::tensor::Tensor;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

/// An int or a pair of ints.
fn pair(
    obj: Option<&Bound<PyAny>>,
    default: (usize, usize),
    name: &str,
) -> PyResult<(usize, usize)> {
    let Some(o) = obj else { return Ok(default) };
    if o.is_none() {
        return Ok(default);
    }
    if let Ok(v) = o.extract::<usize>() {
        return Ok((v, v));
    }
    let v: Vec<usize> = o
        .extract()
        .map_err(|_| PyTypeError::new_err(format!("{name} must be an int or a tuple of ints")))?;
    match v.as_slice() {
        [a] => Ok((*a, *a)),
        [a, b] => Ok((*a, *b)),
        _ => Err(PyTypeError::new_err(format!(
            "{name} must have 1 or 2 elements, got {}",
            v.len()
        ))),
    }
}

fn single(obj: Option<&Bound<PyAny>>, default: usize, name: &str) -> PyResult<usize> {
    Ok(pair(obj, (default, default), name)?.1)
}

fn opt_t(t: &Option<PyRef<PyTensor>>) -> Option<Tensor> {
    t.as_ref().map(|x| x.t.clone())
}

/// A pooling stride: `None` or an empty list means the kernel size (PyTorch's default).
fn pool_stride(stride: Option<&Bound<PyAny>>, kernel: (usize, usize)) -> PyResult<(usize, usize)> {
    match stride {
        Some(x)
            if !x.is_none()
                && !x
                    .extract::<Vec<usize>>()
                    .map(|v| v.is_empty())
                    .unwrap_or(false) =>
        {
            pair(Some(x), kernel, "stride")
        }
        _ => Ok(kernel),
    }
}

/// Resolves `padding` (int, pair, 'valid', 'same'); 'same' may need extra right/bottom zeros.
fn padding_2d(
    padding: Option<&Bound<PyAny>>,
    kernel: (usize, usize),
    dilation: (usize, usize),
    stride: (usize, usize),
) -> PyResult<((usize, usize), (usize, usize))> {
    if let Some(p) = padding {
        if let Ok(s) = p.extract::<String>() {
            return match s.as_str() {
                "valid" => Ok(((0, 0), (0, 0))),
                "same" => {
                    if stride != (1, 1) {
                        return Err(pyo3::exceptions::PyValueError::new_err(
                            "padding='same' is not supported for strided convolutions",
                        ));
                    }
                    // Saturating: an absurd kernel then fails the size checks of the op.
                    let th = dilation.0.saturating_mul(kernel.0.saturating_sub(1));
                    let tw = dilation.1.saturating_mul(kernel.1.saturating_sub(1));
                    Ok((
                        (th / 2, tw / 2),
                        (th - th / 2 - th / 2, tw - tw / 2 - tw / 2),
                    ))
                }
                _ => Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "Invalid padding string '{s}', should be one of ['valid', 'same']"
                ))),
            };
        }
    }
    Ok((pair(padding, (0, 0), "padding")?, (0, 0)))
}

/// Zero-pads the last two dims on the bottom/right.
fn pad_br(x: &Tensor, extra: (usize, usize)) -> crate::error::Result<Tensor> {
    let mut x = x.clone();
    let nd = x.ndim();
    if extra.1 > 0 {
        let mut s = x.shape().to_vec();
        s[nd - 1] = extra.1;
        x = Tensor::cat(
            &[x.clone(), Tensor::full_on(&s, 0i64, x.dtype(), x.device())?],
            (nd - 1) as i64,
        )?;
    }
    if extra.0 > 0 {
        let mut s = x.shape().to_vec();
        s[nd - 2] = extra.0;
        x = Tensor::cat(
            &[x.clone(), Tensor::full_on(&s, 0i64, x.dtype(), x.device())?],
            (nd - 2) as i64,
        )?;
    }
    Ok(x)
}

#[pyfunction]
#[pyo3(signature = (input, weight, bias=None, stride=None, padding=None, dilation=None, groups=1))]
#[allow(clippy::too_many_arguments)]
fn conv2d(
    py: Python<'_>,
    input: PyRef<PyTensor>,
    weight: PyRef<PyTensor>,
    bias: Option<PyRef<PyTensor>>,
    stride: Option<&Bound<PyAny>>,
    padding: Option<&Bound<PyAny>>,
    dilation: Option<&Bound<PyAny>>,
    groups: usize,
) -> PyResult<Py<PyAny>> {
    let s = pair(stride, (1, 1), "stride")?;
    let d = pair(dilation, (1, 1), "dilation")?;
    let w = weight.t.clone();
    if w.ndim() != 4 {
        return Err(Error::Runtime(format!(
            "conv2d: expected a 4-D weight, got {:?}",
            w.shape()
        ))
        .into());
    }
    let k = (w.shape()[2], w.shape()[3]);
    let (p, extra) = padding_2d(padding, k, d, s)?;
    let x = pad_br(&input.t, extra)?;
    let b = opt_t(&bias);
    let work = x.numel().saturating_mul(w.numel() / w.shape()[0].max(1));
    wrap(
        py,
        nogil(py, work, || x.conv2d(&w, b.as_ref(), s, p, d, groups))?,
    )
}

#[pyfunction]
#[pyo3(signature = (input, weight, bias=None, stride=None, padding=None, dilation=None, groups=1))]
#[allow(clippy::too_many_arguments)]
fn conv1d(
    py: Python<'_>,
    input: PyRef<PyTensor>,
    weight: PyRef<PyTensor>,
    bias: Option<PyRef<PyTensor>>,
    stride: Option<&Bound<PyAny>>,
    padding: Option<&Bound<PyAny>>,
    dilation: Option<&Bound<PyAny>>,
    groups: usize,
) -> PyResult<Py<PyAny>> {
    let s = single(stride, 1, "stride")?;
    let d = single(dilation, 1, "dilation")?;
    let w = weight.t.clone();
    if w.ndim() != 3 {
        return Err(Error::Runtime(format!(
            "conv1d: expected a 3-D weight, got {:?}",
            w.shape()
        ))
        .into());
    }
    let batched = input.t.ndim() == 3;
    if !(batched || input.t.ndim() == 2) {
        return Err(Error::Runtime(format!(
            "conv1d: expected a 2-D or 3-D input, got {:?}",
            input.t.shape()
        ))
        .into());
    }
    let (p, extra) = padding_2d(padding, (1, w.shape()[2]), (1, d), (1, s))?;
    let x = if batched {
        input.t.clone()
    } else {
        input.t.unsqueeze(0)?
    };
    let x = pad_br(&x.unsqueeze(2)?, (0, extra.1))?;
    let b = opt_t(&bias);
    let r = nogil(
        py,
        x.numel().saturating_mul(w.numel()),
        || -> crate::error::Result<Tensor> {
            let y = x.conv2d(
                &w.unsqueeze(2)?,
                b.as_ref(),
                (1, s),
                (0, p.1),
                (1, d),
                groups,
            )?;
            let y = y.squeeze_dims(&[2])?;
            if batched {
                Ok(y)
            } else {
                y.squeeze_dims(&[0])
            }
        },
    )?;
    wrap(py, r)
}

#[pyfunction]
#[pyo3(signature = (input, weight, bias=None, stride=None, padding=None, output_padding=None, groups=1, dilation=None))]
#[allow(clippy::too_many_arguments)]
fn conv_transpose2d(
    py: Python<'_>,
    input: PyRef<PyTensor>,
    weight: PyRef<PyTensor>,
    bias: Option<PyRef<PyTensor>>,
    stride: Option<&Bound<PyAny>>,
    padding: Option<&Bound<PyAny>>,
    output_padding: Option<&Bound<PyAny>>,
    groups: usize,
    dilation: Option<&Bound<PyAny>>,
) -> PyResult<Py<PyAny>> {
    let s = pair(stride, (1, 1), "stride")?;
    let p = pair(padding, (0, 0), "padding")?;
    let op = pair(output_padding, (0, 0), "output_padding")?;
    let d = pair(dilation, (1, 1), "dilation")?;
    let b = opt_t(&bias);
    wrap(
        py,
        input
            .t
            .conv_transpose2d(&weight.t, b.as_ref(), s, p, op, groups, d)?,
    )
}

#[pyfunction]
#[pyo3(signature = (input, kernel_size, stride=None, padding=None, dilation=None, ceil_mode=false))]
fn _max_pool2d_with_indices(
    py: Python<'_>,
    input: PyRef<PyTensor>,
    kernel_size: &Bound<PyAny>,
    stride: Option<&Bound<PyAny>>,
    padding: Option<&Bound<PyAny>>,
    dilation: Option<&Bound<PyAny>>,
    ceil_mode: bool,
) -> PyResult<(Py<PyAny>, Py<PyAny>)> {
    let k = pair(Some(kernel_size), (1, 1), "kernel_size")?;
    let s = pool_stride(stride, k)?;
    let p = pair(padding, (0, 0), "padding")?;
    let d = pair(dilation, (1, 1), "dilation")?;
    let x = input.t.clone();
    let (v, i) = nogil(py, x.numel(), || {
        x.max_pool2d_with_indices(k, s, p, d, ceil_mode)
    })?;
    Ok((wrap(py, v)?, wrap(py, i)?))
}

#[pyfunction]
#[pyo3(signature = (input, kernel_size, stride=None, padding=None, dilation=None, ceil_mode=false))]
fn max_pool2d(
    py: Python<'_>,
    input: PyRef<PyTensor>,
    kernel_size: &Bound<PyAny>,
    stride: Option<&Bound<PyAny>>,
    padding: Option<&Bound<PyAny>>,
    dilation: Option<&Bound<PyAny>>,
    ceil_mode: bool,
) -> PyResult<Py<PyAny>> {
    Ok(_max_pool2d_with_indices(py, input, kernel_size, stride, padding, dilation, ceil_mode)?.0)
}

#[pyfunction]
#[pyo3(signature = (input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=false))]
fn max_pool1d(
    py: Python<'_>,
    input: PyRef<PyTensor>,
    kernel_size: &Bound<PyAny>,
    stride: Option<&Bound<PyAny>>,
    padding: usize,
    dilation: usize,
    ceil_mode: bool,
) -> PyResult<Py<PyAny>> {
    let k = single(Some(kernel_size), 1, "kernel_size")?;
    let s = pool_stride(stride, (k, k))?.0;
    let x = input.t.unsqueeze(-2)?;
    let (v, _) =
        x.max_pool2d_with_indices((1, k), (1, s), (0, padding), (1, dilation), ceil_mode)?;
    wrap(py, v.squeeze_dims(&[v.ndim() - 2])?)
}

#[pyfunction]
#[pyo3(signature = (input, kernel_size, stride=None, padding=None, ceil_mode=false, count_include_pad=true, divisor_override=None))]
#[allow(clippy::too_many_arguments)]
fn _avg_pool2d(
    py: Python<'_>,
    input: PyRef<PyTensor>,
    kernel_size: &Bound<PyAny>,
    stride: Option<&Bound<PyAny>>,
    padding: Option<&Bound<PyAny>>,
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: Option<usize>,
) -> PyResult<Py<PyAny>> {
    let k = pair(Some(kernel_size), (1, 1), "kernel_size")?;
    let s = pool_stride(stride, k)?;
    let p = pair(padding, (0, 0), "padding")?;
    let x = input.t.clone();
    wrap(
        py,
        nogil(py, x.numel(), || {
            x.avg_pool2d(k, s, p, ceil_mode, count_include_pad, divisor_override)
        })?,
    )
}

#[pyfunction]
#[pyo3(signature = (input, kernel_size, dilation=None, padding=None, stride=None))]
fn _unfold(
    py: Python<'_>,
    input: PyRef<PyTensor>,
    kernel_size: &Bound<PyAny>,
    dilation: Option<&Bound<PyAny>>,
    padding: Option<&Bound<PyAny>>,
    stride: Option<&Bound<PyAny>>,
) -> PyResult<Py<PyAny>> {
    let k = pair(Some(kernel_size), (1, 1), "kernel_size")?;
    let d = pair(dilation, (1, 1), "dilation")?;
    let p = pair(padding, (0, 0), "padding")?;
    let s = pair(stride, (1, 1), "stride")?;
    let win = crate::backend::Window {
        kh: k.0,
        kw: k.1,
        sh: s.0,
        sw: s.1,
        ph: p.0,
        pw: p.1,
        dh: d.0,
        dw: d.1,
    };
    let x = if input.t.ndim() == 3 {
        input.t.unsqueeze(0)?
    } else {
        input.t.clone()
    };
    let r = x.im2col(win)?;
    wrap(
        py,
        if input.t.ndim() == 3 {
            r.squeeze_dims(&[0])?
        } else {
            r
        },
    )
}

#[pyfunction]
#[pyo3(signature = (input, output_size, kernel_size, dilation=None, padding=None, stride=None))]
fn _fold(
    py: Python<'_>,
    input: PyRef<PyTensor>,
    output_size: &Bound<PyAny>,
    kernel_size: &Bound<PyAny>,
    dilation: Option<&Bound<PyAny>>,
    padding: Option<&Bound<PyAny>>,
    stride: Option<&Bound<PyAny>>,
) -> PyResult<Py<PyAny>> {
    let o = pair(Some(output_size), (1, 1), "output_size")?;
    let k = pair(Some(kernel_size), (1, 1), "kernel_size")?;
    let d = pair(dilation, (1, 1), "dilation")?;
    let p = pair(padding, (0, 0), "padding")?;
    let s = pair(stride, (1, 1), "stride")?;
    let win = crate::backend::Window {
        kh: k.0,
        kw: k.1,
        sh: s.0,
        sw: s.1,
        ph: p.0,
        pw: p.1,
        dh: d.0,
        dw: d.1,
    };
    let x = if input.t.ndim() == 2 {
        input.t.unsqueeze(0)?
    } else {
        input.t.clone()
    };
    let r = x.col2im(o, win)?;
    wrap(
        py,
        if input.t.ndim() == 2 {
            r.squeeze_dims(&[0])?
        } else {
            r
        },
    )
}

#[pyfunction]
#[pyo3(signature = (input, normalized_shape, weight=None, bias=None, eps=1e-5, cudnn_enable=true))]
fn layer_norm(
    py: Python<'_>,
    input: PyRef<PyTensor>,
    normalized_shape: &Bound<PyAny>,
    weight: Option<PyRef<PyTensor>>,
    bias: Option<PyRef<PyTensor>>,
    eps: f64,
    cudnn_enable: bool,
) -> PyResult<Py<PyAny>> {
    let _ = cudnn_enable;
    let shape: Vec<usize> = match normalized_shape.extract::<usize>() {
        Ok(n) => vec![n],
        Err(_) => normalized_shape.extract()?,
    };
    let (x, w, b) = (input.t.clone(), opt_t(&weight), opt_t(&bias));
    wrap(
        py,
        nogil(py, x.numel(), || {
            x.layer_norm(&shape, w.as_ref(), b.as_ref(), eps)
        })?,
    )
}

#[pyfunction]
#[pyo3(signature = (weight, indices, padding_idx=None, scale_grad_by_freq=false, sparse=false))]
fn embedding(
    py: Python<'_>,
    weight: PyRef<PyTensor>,
    indices: PyRef<PyTensor>,
    padding_idx: Option<i64>,
    scale_grad_by_freq: bool,
    sparse: bool,
) -> PyResult<Py<PyAny>> {
    if scale_grad_by_freq || sparse {
        return Err(Error::NotImplemented(
            "embedding: scale_grad_by_freq and sparse gradients are not supported".into(),
        )
        .into());
    }
    let p = padding_idx.filter(|&p| p >= 0);
    wrap(py, Tensor::embedding(&weight.t, &indices.t, p)?)
}

#[pyfunction]
fn dropout(py: Python<'_>, input: PyRef<PyTensor>, p: f64, train: bool) -> PyResult<Py<PyAny>> {
    wrap(py, input.t.dropout(p, train)?)
}

#[pyfunction]
#[pyo3(signature = (input, target, weight=None, ignore_index=-100, label_smoothing=0.0, reduction="mean"))]
fn _cross_entropy(
    py: Python<'_>,
    input: PyRef<PyTensor>,
    target: PyRef<PyTensor>,
    weight: Option<PyRef<PyTensor>>,
    ignore_index: i64,
    label_smoothing: f64,
    reduction: &str,
) -> PyResult<Py<PyAny>> {
    let (x, t, w) = (input.t.clone(), target.t.clone(), opt_t(&weight));
    wrap(
        py,
        nogil(py, x.numel(), || {
            x.cross_entropy(&t, w.as_ref(), ignore_index, label_smoothing, reduction)
        })?,
    )
}

#[pyfunction]
#[pyo3(signature = (input, target, weight=None, ignore_index=-100, reduction="mean"))]
fn _nll_loss(
    py: Python<'_>,
    input: PyRef<PyTensor>,
    target: PyRef<PyTensor>,
    weight: Option<PyRef<PyTensor>>,
    ignore_index: i64,
    reduction: &str,
) -> PyResult<Py<PyAny>> {
    let w = opt_t(&weight);
    wrap(
        py,
        input
            .t
            .nll_loss_smooth(&target.t, w.as_ref(), ignore_index, 0.0, reduction)?,
    )
}

/// GELU (exact, or its tanh approximation) as one fused kernel with a fused backward.
#[pyfunction]
fn _gelu(py: Python<'_>, input: PyRef<PyTensor>, tanh: bool) -> PyResult<Py<PyAny>> {
    let x = input.t.clone();
    wrap(
        py,
        nogil(
            py,
            x.numel(),
            || if tanh { x.gelu_tanh() } else { x.gelu() },
        )?,
    )
}

/// One LSTM layer direction as one fused op: `[T + 1, N, H]` (hidden states, then the final
/// cell state).
#[pyfunction]
#[pyo3(signature = (xw, h0, c0, w_hh, b_hh, reverse))]
fn _lstm_layer(
    py: Python<'_>,
    xw: PyRef<PyTensor>,
    h0: PyRef<PyTensor>,
    c0: PyRef<PyTensor>,
    w_hh: PyRef<PyTensor>,
    b_hh: Option<PyRef<PyTensor>>,
    reverse: bool,
) -> PyResult<Py<PyAny>> {
    let (x, h, c, w, b) = (
        xw.t.clone(),
        h0.t.clone(),
        c0.t.clone(),
        w_hh.t.clone(),
        opt_t(&b_hh),
    );
    wrap(
        py,
        nogil(py, x.numel(), || {
            Tensor::lstm_layer(&x, &h, &c, &w, b.as_ref(), reverse)
        })?,
    )
}

/// `F.linear`: one fused node (`AddmmBackward0`) for a 2-D weight.
#[pyfunction]
#[pyo3(signature = (input, weight, bias=None))]
fn _linear(
    py: Python<'_>,
    input: PyRef<PyTensor>,
    weight: PyRef<PyTensor>,
    bias: Option<PyRef<PyTensor>>,
) -> PyResult<Py<PyAny>> {
    let (x, w, b) = (input.t.clone(), weight.t.clone(), opt_t(&bias));
    let work = x
        .numel()
        .saturating_mul(w.shape().first().copied().unwrap_or(1));
    wrap(py, nogil(py, work, || x.linear(&w, b.as_ref()))?)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_linear, m)?)?;
    m.add_function(wrap_pyfunction!(_lstm_layer, m)?)?;
    m.add_function(wrap_pyfunction!(_gelu, m)?)?;
    m.add_function(wrap_pyfunction!(conv2d, m)?)?;
    m.add_function(wrap_pyfunction!(conv1d, m)?)?;
    m.add_function(wrap_pyfunction!(conv_transpose2d, m)?)?;
    m.add_function(wrap_pyfunction!(_max_pool2d_with_indices, m)?)?;
    m.add_function(wrap_pyfunction!(max_pool2d, m)?)?;
    m.add_function(wrap_pyfunction!(max_pool1d, m)?)?;
    m.add_function(wrap_pyfunction!(_avg_pool2d, m)?)?;
    m.add_function(wrap_pyfunction!(_unfold, m)?)?;
    m.add_function(wrap_pyfunction!(_fold, m)?)?;
    m.add_function(wrap_pyfunction!(layer_norm, m)?)?;
    m.add_function(wrap_pyfunction!(embedding, m)?)?;
    m.add_function(wrap_pyfunction!(dropout, m)?)?;
    m.add_function(wrap_pyfunction!(_cross_entropy, m)?)?;
    m.add_function(wrap_pyfunction!(_nll_loss, m)?)?;
    Ok(())
}

#[pyfunction]
#[pyo3(signature = (input, weight, bias, running_mean, running_var, training, momentum, eps, cudnn_enabled=false))]
#[allow(clippy::too_many_arguments)]
fn batch_norm(
    py: Python<'_>,
    input: PyRef<PyTensor>,
    weight: Option<PyRef<PyTensor>>,
    bias: Option<PyRef<PyTensor>>,
    running_mean: Option<PyRef<PyTensor>>,
    running_var: Option<PyRef<PyTensor>>,
    training: bool,
    momentum: f64,
    eps: f64,
    cudnn_enabled: bool,
) -> PyResult<Py<PyAny>> {
    let _ = cudnn_enabled;
    let (x, w, b, m, v) = (
        input.t.clone(),
        opt_t(&weight),
        opt_t(&bias),
        opt_t(&running_mean),
        opt_t(&running_var),
    );
    wrap(
        py,
        nogil(py, x.numel(), || {
            x.batch_norm(
                w.as_ref(),
                b.as_ref(),
                m.as_ref(),
                v.as_ref(),
                training,
                momentum,
                eps,
            )
        })?,
    )
}

pub fn register_norm(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(batch_norm, m)?)?;
    Ok(())
}
