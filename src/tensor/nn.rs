//! Fused neural-network ops with their own backward (softmax, log_softmax) and einsum.

use super::Tensor;
use crate::autograd::{self, is_grad_enabled, SavedTensor, SavedValue};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::normalize_dim;

impl Tensor {
    /// `softmax(dim)` (and `log_softmax` with `log`), stable, with a fused backward.
    pub fn softmax_impl(&self, dim: i64, log: bool, dtype: Option<DType>) -> Result<Tensor> {
        let op = if log { "log_softmax" } else { "softmax" };
        let dtype = crate::amp::fp32_dtype(op, self, dtype);
        let _prof = crate::profiler::op(
            if log {
                "aten::log_softmax"
            } else {
                "aten::softmax"
            },
            &[self],
        );
        let src = match dtype {
            Some(d) => self.to_dtype(d)?,
            None if !self.dtype().is_float() => {
                return Err(Error::Runtime(format!(
                    "\"{}_lastdim_kernel_impl\" not implemented for '{}'",
                    if log { "log_softmax" } else { "softmax" },
                    super::binary::pretty_dtype(self.dtype())
                )))
            }
            None => self.clone(),
        };
        if !src.dtype().is_float() {
            return Err(Error::Runtime(format!(
                "{}: expected a floating point dtype, got {}",
                if log { "log_softmax" } else { "softmax" },
                src.dtype().name()
            )));
        }
        if src.ndim() == 0 {
            normalize_dim(dim, 0)?;
            let v = if log { 0.0 } else { 1.0 };
            let out = Tensor::full_on(&[], v, src.dtype(), src.device())?;
            return Ok(autograd::maybe_record(
                out,
                "SoftmaxBackward0",
                &[&src],
                || std::sync::Arc::new(|g, _| Ok(vec![Some(g.mul_scalar(0.0)?)])),
            ));
        }
        let d = normalize_dim(dim, src.ndim())?;
        let y = src.backend()?.softmax(src.strided(), d, log)?;
        let out = Tensor::from_kernel(y, src.shape())?;
        if !autograd::needs_grad(&[&src]) {
            return Ok(out);
        }
        let x = SavedTensor::new(&src);
        let y = SavedTensor::new(&out.detach());
        let di = d as i64;
        let name = if log {
            "LogSoftmaxBackward0"
        } else {
            "SoftmaxBackward0"
        };
        autograd::record(&out, name, &[&src], move |g, _| {
            let yv = if is_grad_enabled() {
                x.get()?.softmax_impl(di, log, None)?
            } else {
                let yv = y.get()?.clone();
                if d + 1 == yv.ndim() {
                    if let Some(gx) =
                        yv.backend()?
                            .softmax_backward(yv.strided(), g.strided(), log)?
                    {
                        return Ok(vec![Some(Tensor::from_kernel(gx, yv.shape())?)]);
                    }
                }
                yv
            };
            let gi = if log {
                g.sub(&yv.exp()?.mul(&g.sum_dims(&[di], true, None)?)?)?
            } else {
                yv.mul(&g.sub(&g.mul(&yv)?.sum_dims(&[di], true, None)?)?)?
            };
            Ok(vec![Some(gi)])
        });
        autograd::describe(&out, || {
            vec![
                ("dim", SavedValue::dim(d)),
                ("result", SavedValue::tensor(&out.detach())),
            ]
        });
        Ok(out)
    }
}

/// Gradients of `f(inputs)` with respect to `inputs` given `g`, recording a graph: used by
/// fused kernels when a double backward (create_graph) is requested.
pub(crate) fn composite_grad(
    inputs: &[Tensor],
    g: &Tensor,
    f: impl Fn(&[Tensor]) -> Result<Tensor>,
) -> Result<Vec<Option<Tensor>>> {
    let _on = autograd::GradModeGuard::new(true);
    let out = f(inputs)?;
    // Only inputs that require grad can be differentiated (an initial state of zeros, say,
    // does not); the others get no gradient.
    let wanted: Vec<Tensor> = inputs
        .iter()
        .filter(|t| t.requires_grad())
        .cloned()
        .collect();
    let opts = autograd::BackwardOptions {
        retain_graph: true,
        create_graph: true,
        inputs: Some(&wanted),
        accumulate: false,
        allow_unused: true,
    };
    let mut grads = autograd::run_backward(&[(out, g.clone())], &opts)?.into_iter();
    Ok(inputs
        .iter()
        .map(|t| {
            if t.requires_grad() {
                grads.next().flatten()
            } else {
                None
            }
        })
        .collect())
}

/// `1 / sqrt(var + eps)` computed in at least f32 (f64 for f64 statistics), as `dtype`.
fn rstd_of(var: &Tensor, eps: f64, dtype: DType) -> Result<Tensor> {
    let _ng = autograd::no_grad();
    let acc = if var.dtype() == DType::F64 {
        DType::F64
    } else {
        DType::F32
    };
    var.to_dtype_raw(acc)?
        .add_scalar(eps)?
        .rsqrt()?
        .to_dtype_raw(dtype)
}

fn layer_norm_composite(
    x: &Tensor,
    dims: &[i64],
    w: Option<&Tensor>,
    b: Option<&Tensor>,
    eps: f64,
) -> Result<Tensor> {
    let mean = x.mean_dims(dims, true, None)?;
    let xc = x.sub(&mean)?;
    let var = xc.mul(&xc)?.mean_dims(dims, true, None)?;
    let mut y = xc.mul(&var.add_scalar(eps)?.rsqrt()?)?;
    if let Some(w) = w {
        y = y.mul(w)?;
    }
    if let Some(b) = b {
        y = y.add(b)?;
    }
    Ok(y)
}

/// Records layer norm's backward on `out` (when an input needs a gradient): the fused
/// backend kernel when it has one and no graph of the gradient is wanted, otherwise the
/// composition.
fn layer_norm_record(
    out: Tensor,
    x: &Tensor,
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
    (mean, rstd): (Tensor, Tensor),
    normalized_shape: &[usize],
    eps: f64,
) -> Result<Tensor> {
    let mut ins: Vec<&Tensor> = vec![x];
    ins.extend(weight);
    ins.extend(bias);
    if !autograd::needs_grad(&ins) {
        return Ok(out);
    }
    let k = normalized_shape.len();
    let d = crate::shape::checked_numel(normalized_shape)?;
    let m = x.numel() / d.max(1);
    let nshape = normalized_shape.to_vec();
    let dims: Vec<i64> = ((x.ndim() - k) as i64..x.ndim() as i64).collect();
    let batch_dims: Vec<i64> = (0..(x.ndim() - k) as i64).collect();
    let saved_x = SavedTensor::new(x);
    let (ws, bs) = (weight.cloned(), bias.cloned());
    let (hw, hb) = (weight.is_some(), bias.is_some());
    let saved = vec![
        ("bias", SavedValue::opt(bias)),
        ("input", SavedValue::tensor(x)),
        ("normalized_shape", SavedValue::sizes(normalized_shape)),
        ("result1", SavedValue::tensor(&mean)),
        ("result2", SavedValue::tensor(&rstd)),
        ("weight", SavedValue::opt(weight)),
    ];
    autograd::record(&out, "NativeLayerNormBackward0", &ins, move |g, _| {
        let xv = saved_x.get()?.clone();
        if is_grad_enabled() {
            let mut inputs = vec![xv.clone()];
            inputs.extend(ws.clone());
            inputs.extend(bs.clone());
            let dims2 = dims.clone();
            return composite_grad(&inputs, g, |t| {
                let w = if hw { Some(&t[1]) } else { None };
                let b = if hb { Some(&t[1 + hw as usize]) } else { None };
                layer_norm_composite(&t[0], &dims2, w, b, eps)
            });
        }
        let same = g.dtype() == xv.dtype() && ws.as_ref().is_none_or(|w| w.dtype() == xv.dtype());
        let fused = if same {
            xv.backend()?.layer_norm_backward(
                g.strided(),
                xv.strided(),
                (mean.strided(), rstd.strided()),
                ws.as_ref().map(|w| w.strided()),
                (m, d),
                hw,
                hb,
            )?
        } else {
            None
        };
        if let Some(f) = fused {
            let mut res = vec![Some(Tensor::from_kernel(f.input, xv.shape())?)];
            for s in [f.weight, f.bias].into_iter().flatten() {
                res.push(Some(Tensor::from_kernel(s, &nshape)?));
            }
            return Ok(res);
        }
        let xhat = xv.sub(&mean)?.mul(&rstd)?;
        let gxhat = match &ws {
            Some(w) => g.mul(w)?,
            None => g.clone(),
        };
        let t1 = gxhat.mean_dims(&dims, true, None)?;
        let t2 = gxhat.mul(&xhat)?.mean_dims(&dims, true, None)?;
        let gx = gxhat.sub(&t1)?.sub(&xhat.mul(&t2)?)?.mul(&rstd)?;
        // Parameter gradients sum over the batch dims; an unbatched input has none (an
        // empty dim list would mean "all dims" to sum_dims).
        let over_batch = |t: Tensor| {
            if batch_dims.is_empty() {
                Ok(t)
            } else {
                t.sum_dims(&batch_dims, false, None)
            }
        };
        let mut res = vec![Some(gx)];
        if hw {
            res.push(Some(over_batch(g.mul(&xhat)?)?));
        }
        if hb {
            res.push(Some(over_batch(g.clone())?));
        }
        Ok(res)
    });
    autograd::describe(&out, || saved);
    Ok(out)
}

impl Tensor {
    /// `layer_norm(input, normalized_shape, weight, bias, eps)`: fused forward, backward
    /// from the saved mean and inverse std.
    pub fn layer_norm(
        &self,
        normalized_shape: &[usize],
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        eps: f64,
    ) -> Result<Tensor> {
        let _prof = crate::profiler::op("aten::layer_norm", &[self]);
        let mut ins: Vec<&Tensor> = vec![self];
        ins.extend(weight);
        ins.extend(bias);
        if let Some(c) = crate::amp::apply("layer_norm", &ins)? {
            let w = c.opt(1, weight.is_some());
            let b = c.opt(1 + weight.is_some() as usize, bias.is_some());
            return c.arg(0).layer_norm(normalized_shape, w, b, eps);
        }
        super::check_same_device("layer_norm", &ins)?;
        let k = normalized_shape.len();
        if k == 0 || k > self.ndim() || self.shape()[self.ndim() - k..] != *normalized_shape {
            return Err(Error::Runtime(format!(
                "Given normalized_shape={:?}, expected input with shape [*, {}], but got input of size{:?}",
                normalized_shape,
                normalized_shape.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", "),
                self.shape()
            )));
        }
        for (name, p) in [("weight", weight), ("bias", bias)] {
            if let Some(p) = p {
                if p.shape() != normalized_shape {
                    return Err(Error::Runtime(format!(
                        "layer_norm: expected {name} of shape {:?}, got {:?}",
                        normalized_shape,
                        p.shape()
                    )));
                }
            }
        }
        if !self.dtype().is_float() {
            return Err(Error::Runtime(
                "layer_norm: expected a floating point input".into(),
            ));
        }
        let d = crate::shape::checked_numel(normalized_shape)?;
        let m = self.numel() / d.max(1);
        let xc = self.detach();
        let mut stat_shape: Vec<usize> = self.shape()[..self.ndim() - k].to_vec();
        stat_shape.extend(std::iter::repeat_n(1, k));
        let same_dtype = ins.iter().all(|t| t.dtype() == self.dtype());
        let fused = if same_dtype {
            self.backend()?.layer_norm(
                xc.strided(),
                weight.map(|w| w.strided()),
                bias.map(|b| b.strided()),
                (m, d),
                eps,
            )?
        } else {
            None
        };
        if let Some(f) = fused {
            let out = Tensor::from_kernel(f.y, self.shape())?;
            let mean = Tensor::from_kernel(f.mean, &stat_shape)?;
            let rstd = Tensor::from_kernel(f.rstd, &stat_shape)?;
            return layer_norm_record(out, self, weight, bias, (mean, rstd), normalized_shape, eps);
        }
        let (mean, rstd) = {
            let x3 = super::conv::planes_view(&xc, 1, m, d)?;
            let (mu, var) = self.backend()?.moments(x3.strided())?;
            let var = Tensor::from_kernel(var, &stat_shape)?;
            (
                Tensor::from_kernel(mu, &stat_shape)?,
                rstd_of(&var, eps, self.dtype())?,
            )
        };
        let out = {
            let _ng = autograd::no_grad();
            let mut y = xc.sub(&mean)?.mul(&rstd)?;
            if let Some(w) = weight {
                y = y.mul(&w.detach())?;
            }
            if let Some(b) = bias {
                y = y.add(&b.detach())?;
            }
            y
        };
        layer_norm_record(out, self, weight, bias, (mean, rstd), normalized_shape, eps)
    }

    /// `cross_entropy` with class-index targets `[N]` (or `[N, d1, …]`), class weights,
    /// `ignore_index`, label smoothing and reduction ("none" | "mean" | "sum").
    pub fn cross_entropy(
        &self,
        target: &Tensor,
        weight: Option<&Tensor>,
        ignore_index: i64,
        label_smoothing: f64,
        reduction: &str,
    ) -> Result<Tensor> {
        let _prof = crate::profiler::op("aten::cross_entropy_loss", &[self]);
        let mut ins = vec![self, target];
        ins.extend(weight);
        super::check_same_device("cross_entropy", &ins)?;
        let logp = self.softmax_impl(1, true, None)?;
        logp.nll_loss_smooth(target, weight, ignore_index, label_smoothing, reduction)
    }

    /// `nll_loss` on log-probabilities `[N, C, …]` (plus label smoothing for cross_entropy).
    pub fn nll_loss_smooth(
        &self,
        target: &Tensor,
        weight: Option<&Tensor>,
        ignore_index: i64,
        label_smoothing: f64,
        reduction: &str,
    ) -> Result<Tensor> {
        let _prof = crate::profiler::op("aten::nll_loss", &[self]);
        let mut ins = vec![self, target];
        ins.extend(weight);
        super::check_same_device("nll_loss", &ins)?;
        if self.ndim() < 2 {
            return Err(Error::Value(format!(
                "Expected 2 or more dimensions (got {})",
                self.ndim()
            )));
        }
        if target.dtype() != DType::I64 {
            return Err(Error::Runtime(format!(
                "expected scalar type Long but found {}",
                super::binary::pretty_dtype(target.dtype())
            )));
        }
        let c = self.shape()[1];
        let mut expect = vec![self.shape()[0]];
        expect.extend_from_slice(&self.shape()[2..]);
        if target.shape() != expect.as_slice() {
            return Err(Error::Value(format!(
                "Expected input batch_size ({}) to match target batch_size ({}).",
                self.shape()[0],
                target.shape().first().copied().unwrap_or(0)
            )));
        }
        if let Some(w) = weight {
            if w.shape() != [c] {
                return Err(Error::Runtime(format!("weight tensor should be defined either for all {c} classes or no classes but got weight tensor of shape: {:?}", w.shape())));
            }
        }
        let valid = target.ne_scalar(ignore_index)?;
        let safe_t = Tensor::where_args(
            &valid,
            super::binary::Arg::T(target),
            super::binary::Arg::S(super::creation::Scalar::Int(0)),
        )?;
        let tv = safe_t.to_vec::<i64>()?;
        if let Some(bad) = tv.iter().find(|&&t| t < 0 || t as usize >= c) {
            return Err(Error::Index(format!("Target {bad} is out of bounds.")));
        }
        let picked = self.gather(1, &safe_t.unsqueeze(1)?)?.squeeze_dims(&[1])?; // [N, …]
        let validf = valid.to_dtype(self.dtype())?;
        let wt = match weight {
            Some(w) => w
                .index_select(0, &safe_t.reshape(&[-1])?)?
                .reshape(&safe_t.shape().iter().map(|&s| s as i64).collect::<Vec<_>>())?
                .mul(&validf)?,
            None => validf.clone(),
        };
        let mut loss = picked.mul(&wt)?.neg()?;
        if label_smoothing > 0.0 {
            let wsum = match weight {
                Some(w) => {
                    let mut ws = vec![1i64; self.ndim()];
                    ws[1] = c as i64;
                    self.mul(&w.reshape(&ws)?)?
                }
                None => self.clone(),
            };
            let smooth = wsum.sum_dims(&[1], false, None)?.neg()?.mul(&validf)?;
            loss = loss
                .mul_scalar(1.0 - label_smoothing)?
                .add(&smooth.mul_scalar(label_smoothing / c as f64)?)?;
        }
        match reduction {
            "none" => Ok(loss),
            "sum" => loss.sum(),
            "mean" => loss.sum()?.div(&wt.sum()?),
            r => Err(Error::Value(format!(
                "{r} is not a valid value for reduction"
            ))),
        }
    }

    /// `embedding(weight, indices, padding_idx)`: rows of `weight`; no gradient reaches the
    /// padding row.
    pub fn embedding(
        weight: &Tensor,
        indices: &Tensor,
        padding_idx: Option<i64>,
    ) -> Result<Tensor> {
        let _prof = crate::profiler::op("aten::embedding", &[weight, indices]);
        super::check_same_device("embedding", &[weight, indices])?;
        if indices.dtype().is_float() || indices.dtype() == DType::Bool {
            return Err(Error::Runtime(format!(
                "Expected tensor for argument #1 'indices' to have one of the following scalar types: Long, Int; but got {} instead",
                indices.dtype().name()
            )));
        }
        if weight.ndim() != 2 {
            return Err(Error::Runtime(format!(
                "embedding: 'weight' must be 2-D, got shape {:?}",
                weight.shape()
            )));
        }
        let flat = indices.reshape(&[-1])?;
        let rows = match padding_idx {
            Some(p) if weight.requires_grad() && autograd::is_grad_enabled() => {
                let n = weight.shape()[0] as i64;
                let p = if p < 0 { p + n } else { p };
                let keep = flat.ne_scalar(p)?.to_dtype(weight.dtype())?.unsqueeze(1)?;
                let r = weight.index_select(0, &flat)?;
                // Gradient masked at padding positions; values unchanged.
                r.mul(&keep)?
                    .add(&r.detach().mul(&keep.rsub_scalar(1.0)?)?)?
            }
            _ => weight.index_select(0, &flat)?,
        };
        let mut shape: Vec<i64> = indices.shape().iter().map(|&s| s as i64).collect();
        shape.push(weight.shape()[1] as i64);
        rows.reshape(&shape)
    }

    /// Inverted dropout: zeroes with probability p and scales the rest by 1/(1-p).
    pub fn dropout(&self, p: f64, train: bool) -> Result<Tensor> {
        let _prof = crate::profiler::op("aten::dropout", &[self]);
        if !(0.0..=1.0).contains(&p) {
            return Err(Error::Value(format!(
                "dropout probability has to be between 0 and 1, but got {p}"
            )));
        }
        if !train || p == 0.0 {
            return self.alias();
        }
        if p == 1.0 {
            return self.mul_scalar(0.0);
        }
        let mask =
            Tensor::bernoulli_scalar(self.shape(), 1.0 - p, self.dtype(), None, self.device())?;
        self.mul(&mask.mul_scalar(1.0 / (1.0 - p))?)
    }
}

/// Composite batch norm (used for double backward): statistics over every dim but 1.
/// Batch norm's gradients from two per-channel kernels (sums of `g` and `g·x`, then one
/// affine pass): `[input, weight, bias]`, or `None` when the backend lacks the kernels.
fn batch_norm_fused_grads(
    g: &Tensor,
    x: &Tensor,
    (mean, rstd): (&Tensor, &Tensor),
    w: Option<&Tensor>,
    (n, c, l): (usize, usize, usize),
    training: bool,
) -> Result<Option<Vec<Option<Tensor>>>> {
    let be = x.backend()?;
    let ch = [c as i64];
    let (g3, x3) = (
        super::conv::planes_view(g, n, c, l)?,
        super::conv::planes_view(x, n, c, l)?,
    );
    let Some((sg, sgx)) = be.channel_sums(g3.strided(), x3.strided())? else {
        return Ok(None);
    };
    let (sg, sgx) = (
        Tensor::from_kernel(sg, &[c])?,
        Tensor::from_kernel(sgx, &[c])?,
    );
    let (m1, r1) = (mean.reshape(&ch)?, rstd.reshape(&ch)?);
    // Σ g·x̂ = rstd·(Σ g·x - mean·Σ g)
    let sgxhat = r1.mul(&sgx.sub(&m1.mul(&sg)?)?)?;
    let k = match w {
        Some(w) => r1.mul(&w.reshape(&ch)?)?,
        None => r1.clone(),
    };
    let gx = if training {
        // gx = k·(g - Σg/N - x̂·Σg·x̂/N) = k·g + e·x + b
        let count = (n * l) as f64;
        let e = k.mul(&r1)?.mul(&sgxhat)?.mul_scalar(-1.0 / count)?;
        let b = k.mul(&sg)?.mul_scalar(-1.0 / count)?.sub(&e.mul(&m1)?)?;
        be.channel_affine(
            g3.strided(),
            k.strided(),
            b.strided(),
            Some((x3.strided(), e.strided())),
        )?
    } else {
        let zero = k.mul_scalar(0.0)?;
        be.channel_affine(g3.strided(), k.strided(), zero.strided(), None)?
    };
    let Some(gx) = gx else {
        return Ok(None);
    };
    Ok(Some(vec![
        Some(Tensor::from_kernel(gx, x.shape())?),
        Some(sg),
        Some(sgxhat),
    ]))
}

fn batch_norm_composite(
    x: &Tensor,
    w: Option<&Tensor>,
    b: Option<&Tensor>,
    stats: Option<(&Tensor, &Tensor)>,
    eps: f64,
) -> Result<Tensor> {
    let dims: Vec<i64> = (0..x.ndim() as i64).filter(|&d| d != 1).collect();
    let mut cshape = vec![1i64; x.ndim()];
    cshape[1] = x.shape()[1] as i64;
    let (mean, var) = match stats {
        Some((m, v)) => (m.reshape(&cshape)?, v.reshape(&cshape)?),
        None => {
            let mean = x.mean_dims(&dims, true, None)?;
            let xc = x.sub(&mean)?;
            let var = xc.mul(&xc)?.mean_dims(&dims, true, None)?;
            (mean, var)
        }
    };
    let mut y = x.sub(&mean)?.mul(&var.add_scalar(eps)?.rsqrt()?)?;
    if let Some(w) = w {
        y = y.mul(&w.reshape(&cshape)?)?;
    }
    if let Some(b) = b {
        y = y.add(&b.reshape(&cshape)?)?;
    }
    Ok(y)
}

impl Tensor {
    /// `batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps)`:
    /// per-channel statistics in one pass; running statistics updated in place when training;
    /// backward from the saved mean and inverse std.
    #[allow(clippy::too_many_arguments)]
    pub fn batch_norm(
        &self,
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        running_mean: Option<&Tensor>,
        running_var: Option<&Tensor>,
        training: bool,
        momentum: f64,
        eps: f64,
    ) -> Result<Tensor> {
        let _prof = crate::profiler::op("aten::batch_norm", &[self]);
        let mut all: Vec<&Tensor> = vec![self];
        all.extend(weight);
        all.extend(bias);
        all.extend(running_mean);
        all.extend(running_var);
        super::check_same_device("batch_norm", &all)?;
        if self.ndim() < 2 || !self.dtype().is_float() {
            return Err(Error::Value(format!(
                "batch_norm: expected a floating point input with at least 2 dims, got {:?} {}",
                self.shape(),
                self.dtype().name()
            )));
        }
        let c = self.shape()[1];
        for (name, p) in [
            ("weight", weight),
            ("bias", bias),
            ("running_mean", running_mean),
            ("running_var", running_var),
        ] {
            if let Some(p) = p {
                if p.numel() != c {
                    return Err(Error::Runtime(format!(
                        "batch_norm: {name} should contain {c} elements not {}",
                        p.numel()
                    )));
                }
            }
        }
        let n = self.shape()[0];
        let l: usize = self.shape()[2..].iter().product();
        let count = n * l;
        if training && count <= 1 {
            return Err(Error::Value(format!(
                "Expected more than 1 value per channel when training, got input size {:?}",
                self.shape()
            )));
        }
        let mut cshape = vec![1usize; self.ndim()];
        cshape[1] = c;
        let ci: Vec<i64> = cshape.iter().map(|&s| s as i64).collect();
        let (mean, rstd) = if training {
            let x3 = super::conv::planes_view(&self.detach(), n, c, l)?;
            let (mu, var) = self.backend()?.moments(x3.strided())?;
            let (mu, var) = (
                Tensor::from_kernel(mu, &[c])?,
                Tensor::from_kernel(var, &[c])?,
            );
            let backend = self.backend()?;
            // In place on the running tensors' memory (PyTorch's update under no_grad).
            for (buf, fresh, scale) in [
                (running_mean, &mu, 1.0),
                (running_var, &var, count as f64 / (count - 1) as f64),
            ] {
                if let Some(buf) = buf {
                    let fresh = fresh.to_dtype_raw(buf.dtype())?;
                    backend.running_stat_update(buf.strided(), fresh.strided(), momentum, scale)?;
                    buf.storage().bump_version();
                }
            }
            (
                mu.reshape(&ci)?,
                rstd_of(&var, eps, self.dtype())?.reshape(&ci)?,
            )
        } else {
            match (running_mean, running_var) {
                (Some(m), Some(v)) => (
                    m.detach().to_dtype_raw(self.dtype())?.reshape(&ci)?,
                    rstd_of(&v.detach().contiguous()?, eps, self.dtype())?.reshape(&ci)?,
                ),
                _ => {
                    return Err(Error::Runtime(
                        "running_mean and running_var must be defined in evaluation mode".into(),
                    ))
                }
            }
        };
        let ch = [c as i64];
        let fused = {
            // y = a·x + b per channel, a = rstd·w, b = bias - mean·a.
            let _ng = autograd::no_grad();
            let (m1, r1) = (mean.reshape(&ch)?, rstd.reshape(&ch)?);
            let a = match weight {
                Some(w) => r1.mul(&w.detach().reshape(&ch)?)?,
                None => r1,
            };
            let b = match bias {
                Some(b) => b.detach().reshape(&ch)?.sub(&m1.mul(&a)?)?,
                None => m1.mul(&a)?.neg()?,
            };
            let x3 = super::conv::planes_view(&self.detach(), n, c, l)?;
            self.backend()?
                .channel_affine(x3.strided(), a.strided(), b.strided(), None)?
        };
        let out = match fused {
            Some(y) => Tensor::from_kernel(y, self.shape())?,
            None => {
                let _ng = autograd::no_grad();
                let mut y = self.detach().sub(&mean)?.mul(&rstd)?;
                if let Some(w) = weight {
                    y = y.mul(&w.detach().reshape(&ci)?)?;
                }
                if let Some(b) = bias {
                    y = y.add(&b.detach().reshape(&ci)?)?;
                }
                y
            }
        };
        let mut ins: Vec<&Tensor> = vec![self];
        ins.extend(weight);
        ins.extend(bias);
        if !autograd::needs_grad(&ins) {
            return Ok(out);
        }
        let dims: Vec<i64> = (0..self.ndim() as i64).filter(|&d| d != 1).collect();
        let x = SavedTensor::new(self);
        let (ws, bs) = (weight.cloned(), bias.cloned());
        let (hw, hb) = (weight.is_some(), bias.is_some());
        let (rm, rv) = (
            running_mean.map(|t| t.detach().deep_clone()).transpose()?,
            running_var.map(|t| t.detach().deep_clone()).transpose()?,
        );
        let saved = vec![
            ("eps", SavedValue::Float(eps)),
            ("input", SavedValue::tensor(self)),
            ("result1", SavedValue::tensor(&mean)),
            ("result2", SavedValue::tensor(&rstd)),
            ("running_mean", SavedValue::opt(rm.as_ref())),
            ("running_var", SavedValue::opt(rv.as_ref())),
            ("training", SavedValue::Bool(training)),
            ("weight", SavedValue::opt(weight)),
        ];
        autograd::record(&out, "NativeBatchNormBackward0", &ins, move |g, _| {
            let xv = x.get()?.clone();
            if is_grad_enabled() {
                let mut inputs = vec![xv.clone()];
                inputs.extend(ws.clone());
                inputs.extend(bs.clone());
                let (rm, rv) = (rm.clone(), rv.clone());
                return composite_grad(&inputs, g, |t| {
                    let w = if hw { Some(&t[1]) } else { None };
                    let b = if hb { Some(&t[1 + hw as usize]) } else { None };
                    let stats = match (training, &rm, &rv) {
                        (false, Some(m), Some(v)) => Some((m, v)),
                        _ => None,
                    };
                    batch_norm_composite(&t[0], w, b, stats, eps)
                });
            }
            let shape = |t: &Option<Tensor>| -> Vec<i64> {
                t.as_ref().map_or(vec![c as i64], |t| {
                    t.shape().iter().map(|&s| s as i64).collect()
                })
            };
            if let Some(mut res) =
                batch_norm_fused_grads(g, &xv, (&mean, &rstd), ws.as_ref(), (n, c, l), training)?
            {
                // [input, Σg (bias), Σg·x̂ (weight)]; parameter gradients in their own shapes.
                let (gw, gb) = (res.pop().flatten(), res.pop().flatten());
                let mut out = vec![res.pop().flatten()];
                if hw {
                    out.push(gw.map(|t| t.reshape(&shape(&ws))).transpose()?);
                }
                if hb {
                    out.push(gb.map(|t| t.reshape(&shape(&bs))).transpose()?);
                }
                return Ok(out);
            }
            let xhat = xv.sub(&mean)?.mul(&rstd)?;
            let gxhat = match &ws {
                Some(w) => g.mul(&w.reshape(&ci)?)?,
                None => g.clone(),
            };
            let gx = if training {
                let t1 = gxhat.mean_dims(&dims, true, None)?;
                let t2 = gxhat.mul(&xhat)?.mean_dims(&dims, true, None)?;
                gxhat.sub(&t1)?.sub(&xhat.mul(&t2)?)?.mul(&rstd)?
            } else {
                gxhat.mul(&rstd)?
            };
            let mut res = vec![Some(gx)];
            if let Some(w) = &ws {
                res.push(Some(g.mul(&xhat)?.sum_dims(&dims, false, None)?.reshape(
                    &w.shape().iter().map(|&s| s as i64).collect::<Vec<_>>(),
                )?));
            }
            if let Some(b) = &bs {
                res.push(Some(g.sum_dims(&dims, false, None)?.reshape(
                    &b.shape().iter().map(|&s| s as i64).collect::<Vec<_>>(),
                )?));
            }
            Ok(res)
        });
        autograd::describe(&out, || saved);
        Ok(out)
    }
}
