//! `linear(x, W, b) = x @ Wᵀ + b` as one autograd node (`AddmmBackward0`, or `MmBackward0`
//! without a bias): the leading dims of `x` fold into the GEMM's rows, the bias is added into
//! the fresh GEMM output in place, and the backward is three products/reductions with no
//! per-batch copies of the weight gradient.

use super::Tensor;
use crate::autograd::{self, SavedTensor, SavedValue};
use crate::backend::{BinaryOp, Rhs};
use crate::error::{Error, Result};

impl Tensor {
    /// `torch.nn.functional.linear` for a 2-D weight `[out, in]` and an optional 1-D bias.
    pub fn linear(&self, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
        let mut amp_in = vec![self, weight];
        amp_in.extend(bias);
        if let Some(c) = crate::amp::apply("linear", &amp_in)? {
            return c.arg(0).linear(c.arg(1), c.opt(2, bias.is_some()));
        }
        let _prof = crate::profiler::op("aten::linear", &[self, weight]);
        let fused = weight.ndim() == 2
            && self.ndim() >= 1
            && bias.is_none_or(|b| b.ndim() == 1 && b.shape()[0] == weight.shape()[0])
            && self.dtype().is_float()
            && self.dtype() == weight.dtype()
            && bias.is_none_or(|b| b.dtype() == self.dtype());
        if !fused {
            // Promotion, broadcasting biases and the error messages of the generic ops.
            let w = if weight.ndim() == 2 {
                weight.t()?
            } else {
                weight.clone()
            };
            let out = self.matmul(&w)?;
            return match bias {
                Some(b) => out.add(b),
                None => Ok(out),
            };
        }
        let mut ins: Vec<&Tensor> = vec![self, weight];
        ins.extend(bias);
        super::check_same_device("linear", &ins)?;
        let (out_f, in_f) = (weight.shape()[0], weight.shape()[1]);
        let nd = self.ndim();
        let lead = &self.shape()[..nd - 1];
        let rows: usize = lead.iter().product();
        if self.shape()[nd - 1] != in_f {
            return Err(Error::Runtime(format!(
                "mat1 and mat2 shapes cannot be multiplied ({}x{} and {}x{})",
                rows,
                self.shape()[nd - 1],
                in_f,
                out_f
            )));
        }
        // A view when the leading dims collapse, else a copy (recorded by autograd).
        let x2 = if nd == 2 {
            self.clone()
        } else {
            self.reshape(&[rows as i64, in_f as i64])?
        };
        let y = {
            let _ng = autograd::no_grad();
            let y = x2.detach().matmul(&weight.detach().t()?)?;
            if let Some(b) = bias {
                if rows > 0 && out_f > 0 {
                    let be = b.detach().expand(&[rows, out_f])?;
                    y.backend()?.binary_into(
                        BinaryOp::Add,
                        y.strided(),
                        Rhs::Tensor(be.strided()),
                    )?;
                }
            }
            y
        };
        let mut inputs: Vec<&Tensor> = Vec::with_capacity(3);
        inputs.extend(bias);
        inputs.extend([&x2, weight]);
        if autograd::needs_grad(&inputs) {
            let (sx, sw) = (SavedTensor::new(&x2), SavedTensor::new(weight));
            let has_bias = bias.is_some();
            let name = if has_bias {
                "AddmmBackward0"
            } else {
                "MmBackward0"
            };
            autograd::record(&y, name, &inputs, move |g, needs| {
                let (nb, nx, nw) = if has_bias {
                    (needs[0], needs[1], needs[2])
                } else {
                    (false, needs[0], needs[1])
                };
                let gb = if nb {
                    Some(g.sum_dims(&[0], false, None)?)
                } else {
                    None
                };
                let gx = if nx { Some(g.matmul(sw.get()?)?) } else { None };
                let gw = if nw {
                    Some(g.t()?.matmul(sx.get()?)?)
                } else {
                    None
                };
                let mut grads = Vec::with_capacity(3);
                if has_bias {
                    grads.push(gb);
                }
                grads.extend([gx, gw]);
                Ok(grads)
            });
            autograd::describe(&y, || {
                // PyTorch's addmm multiplies by weight.t(): report that view (no copy).
                let wt = weight.view_with_layout(weight.layout().transpose(0, 1));
                let mut v = Vec::with_capacity(8);
                if has_bias {
                    v.push(("alpha", SavedValue::Int(1)));
                    v.push(("beta", SavedValue::Int(1)));
                }
                v.extend(super::matmul::mm_saved(has_bias, &x2, wt.ok().as_ref()));
                v
            });
        }
        if nd == 2 {
            return Ok(y);
        }
        let mut shape: Vec<i64> = lead.iter().map(|&d| d as i64).collect();
        shape.push(out_f as i64);
        y.reshape(&shape)
    }
}
