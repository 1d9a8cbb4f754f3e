//! Convolution and pooling: `unfold`/`fold` (im2col/col2im) are the differentiable
//! primitives (each is the other's gradient); conv, transposed conv and average pooling are
//! matmuls and sums over them, max pooling is a `gather` at indices found by a kernel.

use super::Tensor;
use crate::autograd::{self, SavedList, SavedValue};
use crate::backend::Window;
use crate::error::{Error, Result};

fn check_4d(x: &Tensor, op: &str) -> Result<()> {
    if x.ndim() != 4 {
        return Err(Error::Runtime(format!(
            "{op}: expected a 4-D input (N, C, H, W), got shape {:?}",
            x.shape()
        )));
    }
    if !x.dtype().is_float() {
        return Err(Error::Runtime(format!(
            "{op}: \"{op}_cpu\" not implemented for '{}'",
            super::binary::pretty_dtype(x.dtype())
        )));
    }
    Ok(())
}

/// Kernel, stride and dilation must be positive (PyTorch's checks).
fn check_window(op: &str, win: Window) -> Result<()> {
    if win.kh == 0 || win.kw == 0 {
        return Err(Error::Runtime(format!(
            "{op}: kernel size should be greater than zero, but got ({}, {})",
            win.kh, win.kw
        )));
    }
    if win.sh == 0 || win.sw == 0 {
        return Err(Error::Runtime(format!(
            "{op}: stride should be greater than zero, but got ({}, {})",
            win.sh, win.sw
        )));
    }
    if win.dh == 0 || win.dw == 0 {
        return Err(Error::Runtime(format!(
            "{op}: dilation should be greater than zero, but got ({}, {})",
            win.dh, win.dw
        )));
    }
    Ok(())
}

fn out_hw(op: &str, h: usize, w: usize, win: Window, ceil: bool) -> Result<(usize, usize)> {
    check_window(op, win)?;
    let oh = Window::out_len(h, win.kh, win.sh, win.ph, win.dh, ceil);
    let ow = Window::out_len(w, win.kw, win.sw, win.pw, win.dw, ceil);
    match (oh, ow) {
        (Some(a), Some(b)) if a > 0 && b > 0 => Ok((a, b)),
        _ => Err(Error::Runtime(format!(
            "{op}: Given input size per channel: ({h} x {w}). Calculated output size is too small for kernel ({} x {}), padding ({}, {}), dilation ({}, {}), stride ({}, {})",
            win.kh, win.kw, win.ph, win.pw, win.dh, win.dw, win.sh, win.sw
        ))),
    }
}

/// `n + 2·pad` and `dilation·(k - 1) + 1` along one axis, or None on overflow (the padded
/// size must also fit an isize, as the kernels index with signed offsets).
fn padded_and_span(n: usize, k: usize, p: usize, d: usize) -> Option<(usize, usize)> {
    let padded = n.checked_add(p.checked_mul(2)?)?;
    let span = d.checked_mul(k.checked_sub(1)?)?.checked_add(1)?;
    (padded <= isize::MAX as usize).then_some((padded, span))
}

/// Convolution output size with PyTorch's error when the (dilated) kernel does not fit.
fn conv_out_hw(op: &str, h: usize, w: usize, win: Window) -> Result<(usize, usize)> {
    check_window(op, win)?;
    let (Some((ph, kh)), Some((pw, kw))) = (
        padded_and_span(h, win.kh, win.ph, win.dh),
        padded_and_span(w, win.kw, win.pw, win.dw),
    ) else {
        return Err(Error::Runtime(format!(
            "{op}: padded input size or kernel size overflows: input size per channel ({h} x {w}), kernel size ({} x {}), padding ({}, {}), dilation ({}, {})",
            win.kh, win.kw, win.ph, win.pw, win.dh, win.dw
        )));
    };
    if ph < kh || pw < kw {
        return Err(Error::Runtime(format!(
            "Calculated padded input size per channel: ({ph} x {pw}). Kernel size: ({kh} x {kw}). Kernel size can't be greater than actual input size"
        )));
    }
    out_hw(op, h, w, win, false)
}

/// A `[planes, a, b]` view of a tensor with `planes·a·b` elements (copied only when the
/// layout cannot express it), as the 3-D kernels take it.
pub(super) fn planes_view(x: &Tensor, planes: usize, a: usize, b: usize) -> Result<Tensor> {
    let shape = [planes, a, b];
    match x.layout().view(&shape) {
        Some(l) => x.view_with_layout(l),
        None => x
            .copy_raw()?
            .view_with_layout(crate::layout::Layout::contiguous(&shape)),
    }
}

/// The window arguments PyTorch's pooling and unfold nodes report.
fn window_saved(win: Window) -> SavedList {
    vec![
        ("dilation", SavedValue::sizes(&[win.dh, win.dw])),
        ("kernel_size", SavedValue::sizes(&[win.kh, win.kw])),
        ("padding", SavedValue::sizes(&[win.ph, win.pw])),
        ("stride", SavedValue::sizes(&[win.sh, win.sw])),
    ]
}

/// Records max pooling's backward on `vals` (`[n, c, oh, ow]`, taken from `x` at `idx`): the
/// backend's scatter kernel, or (for a graph of the gradient, or without the kernel) a
/// differentiable `scatter_add`.
fn record_max_pool(vals: Tensor, x: &Tensor, idx: &Tensor) -> Result<Tensor> {
    if !crate::autograd::needs_grad(&[x]) {
        return Ok(vals);
    }
    let (n, c, h, w) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
    let l = idx.numel() / (n * c).max(1);
    let shape = x.shape().to_vec();
    let idx = idx.reshape(&[n as i64, c as i64, l as i64])?;
    let dtype = x.dtype();
    crate::autograd::record(&vals, "MaxPool2DWithIndicesBackward0", &[x], move |g, _| {
        let g3 = g.reshape(&[n as i64, c as i64, l as i64])?;
        if !crate::autograd::is_grad_enabled() {
            let (g2, i2) = (
                g3.reshape(&[(n * c) as i64, l as i64])?,
                idx.reshape(&[(n * c) as i64, l as i64])?,
            );
            if let Some(s) = g
                .backend()?
                .max_pool2d_backward(g2.strided(), i2.strided(), h * w)?
            {
                return Ok(vec![Some(Tensor::from_kernel(s, &shape)?)]);
            }
        }
        let zeros = Tensor::full_on(&[n, c, h * w], 0.0, dtype, g.device())?;
        let gi = zeros.scatter_add(2, &idx, &g3)?;
        Ok(vec![Some(gi.reshape(
            &shape.iter().map(|&s| s as i64).collect::<Vec<_>>(),
        )?)])
    });
    Ok(vals)
}

impl Tensor {
    /// `F.unfold`: `[N, C, H, W]` → `[N, C*kh*kw, L]`.
    pub fn im2col(&self, win: Window) -> Result<Tensor> {
        let _prof = crate::profiler::op("aten::im2col", &[self]);
        check_4d(self, "unfold")?;
        let (n, c, h, w) = (
            self.shape()[0],
            self.shape()[1],
            self.shape()[2],
            self.shape()[3],
        );
        let (oh, ow) = out_hw("unfold", h, w, win, false)?;
        let planes = n * c;
        let x = planes_view(self, planes, h, w)?;
        let cols = self.backend()?.im2col(x.strided(), win, oh, ow)?;
        // The kernel checked planes·kh·kw·oh·ow, so these products do not overflow.
        let out = Tensor::from_kernel(cols, &[n, c * win.kh * win.kw, oh * ow])?;
        if autograd::needs_grad(&[self]) {
            autograd::record(&out, "Im2ColBackward0", &[self], move |g, _| {
                Ok(vec![Some(g.col2im((h, w), win)?)])
            });
            autograd::describe(&out, || {
                let mut v = window_saved(win);
                v.push(("self_sym_argsize_minus_1", SavedValue::dim(w)));
                v.push(("self_sym_argsize_minus_2", SavedValue::dim(h)));
                v
            });
        }
        Ok(out)
    }

    /// `F.fold`: `[N, C*kh*kw, L]` → `[N, C, H, W]`, summing overlaps.
    pub fn col2im(&self, size: (usize, usize), win: Window) -> Result<Tensor> {
        if self.ndim() != 3 {
            return Err(Error::Runtime(format!(
                "fold: expected a 3-D input (N, C*kh*kw, L), got {:?}",
                self.shape()
            )));
        }
        let (n, ck, l) = (self.shape()[0], self.shape()[1], self.shape()[2]);
        check_window("fold", win)?;
        let kk = win.kh.saturating_mul(win.kw);
        if ck % kk != 0 {
            return Err(Error::Runtime(format!(
                "fold: expected size of input's dimension 1 to be divisible by the product of kernel_size, but got input.size(1)={ck} and kernel_size=({}, {})",
                win.kh, win.kw
            )));
        }
        let (h, w) = size;
        let (oh, ow) = out_hw("fold", h, w, win, false)?;
        if oh.checked_mul(ow) != Some(l) {
            return Err(Error::Runtime(format!(
                "fold: expected input's dimension 2 to match the calculated number of sliding blocks {oh} * {ow} = {}, but got input.size(2)={l}",
                oh as u128 * ow as u128
            )));
        }
        let c = ck / kk;
        let x = planes_view(self, n * c, kk, l)?;
        let img = self.backend()?.col2im(x.strided(), h, w, win, oh, ow)?;
        let out = Tensor::from_kernel(img, &[n, c, h, w])?;
        if autograd::needs_grad(&[self]) {
            autograd::record(&out, "Col2ImBackward0", &[self], move |g, _| {
                Ok(vec![Some(g.im2col(win)?)])
            });
            autograd::describe(&out, || window_saved(win));
        }
        Ok(out)
    }

    /// `conv2d(input, weight, bias, stride, padding, dilation, groups)`.
    pub fn conv2d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        stride: (usize, usize),
        padding: (usize, usize),
        dilation: (usize, usize),
        groups: usize,
    ) -> Result<Tensor> {
        let _prof = crate::profiler::op("aten::conv2d", &[self, weight]);
        let mut ins = vec![self, weight];
        ins.extend(bias);
        if let Some(c) = crate::amp::apply("conv2d", &ins)? {
            let b = c.opt(2, bias.is_some());
            return c
                .arg(0)
                .conv2d(c.arg(1), b, stride, padding, dilation, groups);
        }
        super::check_same_device("conv2d", &ins)?;
        let x = if self.ndim() == 3 {
            self.unsqueeze(0)?
        } else {
            self.clone()
        };
        check_4d(&x, "conv2d")?;
        if weight.ndim() != 4 {
            return Err(Error::Runtime(format!(
                "conv2d: expected a 4-D weight, got {:?}",
                weight.shape()
            )));
        }
        let (n, c, h, w) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
        let (o, cg, kh, kw) = (
            weight.shape()[0],
            weight.shape()[1],
            weight.shape()[2],
            weight.shape()[3],
        );
        if groups == 0 || c % groups != 0 || o % groups != 0 || cg * groups != c {
            return Err(Error::Runtime(format!(
                "Given groups={groups}, weight of size {:?}, expected input{:?} to have {} channels, but got {} channels instead",
                weight.shape(),
                x.shape(),
                cg * groups,
                c
            )));
        }
        if weight.dtype() != x.dtype() {
            return Err(Error::Runtime(format!(
                "Input type ({}) and weight type ({}) should be the same",
                x.dtype().name(),
                weight.dtype().name()
            )));
        }
        let win = Window {
            kh,
            kw,
            sh: stride.0,
            sw: stride.1,
            ph: padding.0,
            pw: padding.1,
            dh: dilation.0,
            dw: dilation.1,
        };
        let (oh, ow) = conv_out_hw("conv2d", h, w, win)?;
        if let Some(out) =
            super::conv_fused::fused_conv2d(&x, weight, bias, win, groups, [n, o, oh, ow])?
        {
            return if self.ndim() == 3 {
                out.squeeze_dims(&[0])
            } else {
                Ok(out)
            };
        }
        let cols = x.im2col(win)?; // [N, C*kh*kw, L]
        let kg = cg * kh * kw;
        let out = if groups == 1 {
            weight.reshape(&[o as i64, kg as i64])?.matmul(&cols)?
        } else {
            let g = groups as i64;
            let cols = cols.reshape(&[n as i64, g, kg as i64, (oh * ow) as i64])?;
            let wg = weight.reshape(&[g, (o / groups) as i64, kg as i64])?;
            wg.matmul(&cols)?
                .reshape(&[n as i64, o as i64, (oh * ow) as i64])?
        };
        let mut out = out.reshape(&[n as i64, o as i64, oh as i64, ow as i64])?;
        if let Some(b) = bias {
            out = out.add(&b.reshape(&[1, o as i64, 1, 1])?)?;
        }
        if self.ndim() == 3 {
            out = out.squeeze_dims(&[0])?;
        }
        Ok(out)
    }

    /// `conv_transpose2d(input, weight [Cin, Cout/groups, kh, kw], bias, stride, padding,
    /// output_padding, groups, dilation)`.
    #[allow(clippy::too_many_arguments)]
    pub fn conv_transpose2d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        stride: (usize, usize),
        padding: (usize, usize),
        output_padding: (usize, usize),
        groups: usize,
        dilation: (usize, usize),
    ) -> Result<Tensor> {
        let _prof = crate::profiler::op("aten::conv_transpose2d", &[self, weight]);
        let mut ins = vec![self, weight];
        ins.extend(bias);
        if let Some(c) = crate::amp::apply("conv_transpose2d", &ins)? {
            let (x, w, b) = (c.arg(0), c.arg(1), c.opt(2, bias.is_some()));
            return x.conv_transpose2d(w, b, stride, padding, output_padding, groups, dilation);
        }
        super::check_same_device("conv_transpose2d", &ins)?;
        let x = if self.ndim() == 3 {
            self.unsqueeze(0)?
        } else {
            self.clone()
        };
        check_4d(&x, "conv_transpose2d")?;
        let (n, c, h, w) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
        if weight.ndim() != 4 || weight.shape()[0] != c || groups == 0 || c % groups != 0 {
            return Err(Error::Runtime(format!(
                "conv_transpose2d: weight {:?} does not match input {:?} with groups={groups}",
                weight.shape(),
                x.shape()
            )));
        }
        let (og, kh, kw) = (weight.shape()[1], weight.shape()[2], weight.shape()[3]);
        let o = og * groups;
        check_window(
            "conv_transpose2d",
            Window {
                kh,
                kw,
                sh: stride.0,
                sw: stride.1,
                ph: 0,
                pw: 0,
                dh: dilation.0,
                dw: dilation.1,
            },
        )?;
        if h == 0 || w == 0 {
            return Err(Error::Runtime(format!(
                "conv_transpose2d: expected non-empty spatial dims, got input {:?}",
                x.shape()
            )));
        }
        // (n - 1)·stride + dilation·(k - 1) + output_padding + 1 - 2·padding, checked.
        let axis = |n: usize, s: usize, d: usize, k: usize, op: usize, p: usize| {
            let full = (n - 1)
                .checked_mul(s)?
                .checked_add(d.checked_mul(k - 1)?)?
                .checked_add(op)?
                .checked_add(1)?;
            Some(full.checked_sub(p.checked_mul(2)?))
        };
        let (Some(oh), Some(ow)) = (
            axis(h, stride.0, dilation.0, kh, output_padding.0, padding.0),
            axis(w, stride.1, dilation.1, kw, output_padding.1, padding.1),
        ) else {
            return Err(Error::Runtime(format!(
                "conv_transpose2d: output size overflows for input {:?}, kernel ({kh} x {kw}), stride {stride:?}, dilation {dilation:?}, output_padding {output_padding:?}",
                x.shape()
            )));
        };
        let (Some(oh), Some(ow)) = (oh.filter(|&v| v > 0), ow.filter(|&v| v > 0)) else {
            return Err(Error::Runtime(
                "conv_transpose2d: output size is too small".into(),
            ));
        };
        let win = Window {
            kh,
            kw,
            sh: stride.0,
            sw: stride.1,
            ph: padding.0,
            pw: padding.1,
            dh: dilation.0,
            dw: dilation.1,
        };
        let g = groups as i64;
        let cg = (c / groups) as i64;
        // cols[n, g, og*kh*kw, h*w] = W_g^T @ x_g
        let xg = x.reshape(&[n as i64, g, cg, (h * w) as i64])?;
        let wg = weight
            .reshape(&[g, cg, (og * kh * kw) as i64])?
            .transpose(-2, -1)?;
        let cols = wg
            .matmul(&xg)?
            .reshape(&[n as i64, (o * kh * kw) as i64, (h * w) as i64])?;
        let mut out = cols.col2im((oh, ow), win)?;
        if let Some(b) = bias {
            out = out.add(&b.reshape(&[1, o as i64, 1, 1])?)?;
        }
        if self.ndim() == 3 {
            out = out.squeeze_dims(&[0])?;
        }
        Ok(out)
    }

    /// `max_pool2d` → (values, flat spatial indices), differentiable through `gather`.
    pub fn max_pool2d_with_indices(
        &self,
        kernel: (usize, usize),
        stride: (usize, usize),
        padding: (usize, usize),
        dilation: (usize, usize),
        ceil_mode: bool,
    ) -> Result<(Tensor, Tensor)> {
        let _prof = crate::profiler::op("aten::max_pool2d_with_indices", &[self]);
        let x = if self.ndim() == 3 {
            self.unsqueeze(0)?
        } else {
            self.clone()
        };
        check_4d(&x, "max_pool2d")?;
        if padding.0 > kernel.0 / 2 || padding.1 > kernel.1 / 2 {
            return Err(Error::Runtime(format!(
                "max_pool2d: pad should be at most half of effective kernel size, but got pad={:?}, kernel_size={:?}",
                padding, kernel
            )));
        }
        let (n, c, h, w) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
        let win = Window {
            kh: kernel.0,
            kw: kernel.1,
            sh: stride.0,
            sw: stride.1,
            ph: padding.0,
            pw: padding.1,
            dh: dilation.0,
            dw: dilation.1,
        };
        let (oh, ow) = out_hw("max_pool2d", h, w, win, ceil_mode)?;
        let planes = planes_view(&x, n * c, h, w)?;
        if let Some((v, i)) = x
            .backend()?
            .max_pool2d(planes.detach().strided(), win, oh, ow)?
        {
            let idx = Tensor::from_kernel(i, &[n, c, oh, ow])?;
            let vals = Tensor::from_kernel(v, &[n, c, oh, ow])?;
            let vals = record_max_pool(vals, &x, &idx)?;
            // The rule keeps the indices, not the input: only what it holds is reported.
            autograd::describe(&vals, || {
                let mut v = window_saved(win);
                v.push(("ceil_mode", SavedValue::Bool(ceil_mode)));
                v.push(("result1", SavedValue::tensor(&idx)));
                v
            });
            if self.ndim() == 3 {
                return Ok((vals.squeeze_dims(&[0])?, idx.squeeze_dims(&[0])?));
            }
            return Ok((vals, idx));
        }
        let idx = x
            .backend()?
            .max_pool2d_indices(planes.strided(), win, oh, ow)?;
        let idx = Tensor::from_kernel(idx, &[n, c, oh, ow])?;
        let flat = x.reshape(&[n as i64, c as i64, (h * w) as i64])?;
        let vals = flat
            .gather(2, &idx.reshape(&[n as i64, c as i64, (oh * ow) as i64])?)?
            .reshape(&[n as i64, c as i64, oh as i64, ow as i64])?;
        if self.ndim() == 3 {
            return Ok((vals.squeeze_dims(&[0])?, idx.squeeze_dims(&[0])?));
        }
        Ok((vals, idx))
    }

    /// `avg_pool2d` over `unfold` windows; `count_include_pad` and `divisor_override` as PyTorch.
    #[allow(clippy::too_many_arguments)]
    pub fn avg_pool2d(
        &self,
        kernel: (usize, usize),
        stride: (usize, usize),
        padding: (usize, usize),
        ceil_mode: bool,
        count_include_pad: bool,
        divisor_override: Option<usize>,
    ) -> Result<Tensor> {
        let _prof = crate::profiler::op("aten::avg_pool2d", &[self]);
        let x = if self.ndim() == 3 {
            self.unsqueeze(0)?
        } else {
            self.clone()
        };
        check_4d(&x, "avg_pool2d")?;
        if padding.0 > kernel.0 / 2 || padding.1 > kernel.1 / 2 {
            return Err(Error::Runtime(format!(
                "avg_pool2d: pad should be at most half of kernel size, but got pad={:?}, kernel_size={:?}",
                padding, kernel
            )));
        }
        let (n, c, h, w) = (x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]);
        let base = Window {
            kh: kernel.0,
            kw: kernel.1,
            sh: stride.0,
            sw: stride.1,
            ph: padding.0,
            pw: padding.1,
            dh: 1,
            dw: 1,
        };
        let (oh, ow) = out_hw("avg_pool2d", h, w, base, ceil_mode)?;
        // Extra bottom/right zero padding so ceil-mode windows exist for unfold.
        // (sizes fit: out_hw checked h + 2·padding against isize::MAX)
        let need_h = (oh - 1).saturating_mul(stride.0).saturating_add(kernel.0);
        let need_w = (ow - 1).saturating_mul(stride.1).saturating_add(kernel.1);
        let extra_h = need_h.saturating_sub(h + 2 * padding.0);
        let extra_w = need_w.saturating_sub(w + 2 * padding.1);
        let xp = if extra_h > 0 || extra_w > 0 {
            let zeros = |shape: &[usize]| Tensor::full_on(shape, 0i64, x.dtype(), x.device());
            let top = Tensor::cat(&[x.clone(), zeros(&[n, c, h, extra_w])?], 3)?;
            Tensor::cat(&[top, zeros(&[n, c, extra_h, w + extra_w])?], 2)?
        } else {
            x.clone()
        };
        let cols = xp.im2col(base)?.reshape(&[
            n as i64,
            c as i64,
            (kernel.0 * kernel.1) as i64,
            (oh * ow) as i64,
        ])?;
        let sums = cols.sum_dims(&[2], false, None)?;
        // Divisors per output position.
        let len = crate::shape::checked_numel(&[oh, ow])?;
        let mut div = Vec::new();
        div.try_reserve_exact(len)
            .map_err(|_| Error::Runtime(format!("avg_pool2d: cannot allocate {len} divisors")))?;
        div.resize(len, 0f64);
        for oy in 0..oh {
            for ox in 0..ow {
                let y0 = (oy * stride.0) as isize - padding.0 as isize;
                let x0 = (ox * stride.1) as isize - padding.1 as isize;
                let y1 = (y0 + kernel.0 as isize).min((h + padding.0) as isize);
                let x1 = (x0 + kernel.1 as isize).min((w + padding.1) as isize);
                let pool = ((y1 - y0) * (x1 - x0)) as f64;
                let (cy0, cx0, cy1, cx1) =
                    (y0.max(0), x0.max(0), y1.min(h as isize), x1.min(w as isize));
                let valid = ((cy1 - cy0).max(0) * (cx1 - cx0).max(0)) as f64;
                div[oy * ow + ox] = match divisor_override {
                    Some(d) => d as f64,
                    None if count_include_pad => pool,
                    None => valid,
                };
            }
        }
        let d = Tensor::from_vec_on(div, &[oh * ow], x.device())?.to_dtype(x.dtype())?;
        let out = sums
            .div(&d)?
            .reshape(&[n as i64, c as i64, oh as i64, ow as i64])?;
        if self.ndim() == 3 {
            return out.squeeze_dims(&[0]);
        }
        Ok(out)
    }
}
