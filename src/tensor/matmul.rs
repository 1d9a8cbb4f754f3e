//! The matmul family: `matmul` (1-D/2-D/batched/broadcast), mm, bmm, mv, dot, outer, einsum.

use super::Tensor;
use crate::autograd::{self, SavedTensor, SavedValue};
use crate::error::{Error, Result};
use crate::shape::broadcast_shapes;

impl Tensor {
    /// `a @ b` for a, b with ≥2 dims and broadcastable batch dims (autograd primitive).
    fn matmul_nd(&self, other: &Tensor) -> Result<Tensor> {
        let _prof = crate::profiler::op(
            if self.ndim() == 2 && other.ndim() == 2 {
                "aten::mm"
            } else {
                "aten::bmm"
            },
            &[self, other],
        );
        let (a, b) = (self, other);
        super::check_same_device("matmul", &[a, b])?;
        let (na, nb) = (a.ndim(), b.ndim());
        let (m, k) = (a.shape()[na - 2], a.shape()[na - 1]);
        let (k2, n) = (b.shape()[nb - 2], b.shape()[nb - 1]);
        if k != k2 {
            return Err(Error::Runtime(format!(
                "mat1 and mat2 shapes cannot be multiplied ({}x{} and {}x{})",
                a.shape()[..na - 1].iter().product::<usize>(),
                k,
                k2,
                n
            )));
        }
        if a.dtype() != b.dtype() {
            return Err(Error::Runtime(format!(
                "expected m1 and m2 to have the same dtype, but got: {} != {}",
                a.dtype().name(),
                b.dtype().name()
            )));
        }
        let batch = broadcast_shapes(&a.shape()[..na - 2], &b.shape()[..nb - 2])?;
        let nbatch = crate::shape::checked_numel(&batch)?;
        let mut sa = batch.clone();
        sa.extend([m, k]);
        let mut sb = batch.clone();
        sb.extend([k, n]);
        let a3 = flatten_batch(&a.expand_raw(&sa)?, nbatch)?;
        let b3 = flatten_batch(&b.expand_raw(&sb)?, nbatch)?;
        let mut out_shape = batch.clone();
        out_shape.extend([m, n]);
        let storage = a
            .backend()?
            .matmul(a3.strided(), b3.strided(), nbatch, m, n, k)?;
        let out = Tensor::from_kernel(storage, &out_shape)?;
        if autograd::needs_grad(&[a, b]) && out.dtype().is_float() {
            let (va, vb) = (SavedTensor::new(a), SavedTensor::new(b));
            let (sha, shb) = (a.shape().to_vec(), b.shape().to_vec());
            let name = if na == 2 && nb == 2 {
                "MmBackward0"
            } else {
                "BmmBackward0"
            };
            autograd::record(&out, name, &[a, b], move |g, needs| {
                let ga = if needs[0] {
                    Some(super::binary::sum_to(
                        &g.matmul_nd(&vb.get()?.mt()?)?,
                        &sha,
                    )?)
                } else {
                    None
                };
                let gb = if needs[1] {
                    Some(super::binary::sum_to(&va.get()?.mt()?.matmul_nd(g)?, &shb)?)
                } else {
                    None
                };
                Ok(vec![ga, gb])
            });
            autograd::describe(&out, || {
                if na == 2 && nb == 2 {
                    mm_saved(false, a, Some(b))
                } else {
                    vec![
                        ("mat2", SavedValue::tensor(b)),
                        ("self", SavedValue::tensor(a)),
                    ]
                }
            });
        }
        Ok(out)
    }

    fn expand_raw(&self, shape: &[usize]) -> Result<Tensor> {
        self.view_with_layout(self.layout().broadcast_to(shape)?)
    }

    /// Transpose of the last two dims (`mT`).
    pub fn mt(&self) -> Result<Tensor> {
        if self.ndim() < 2 {
            return Err(Error::Runtime(format!(
                "tensor.mT is only supported on matrices or batches of matrices. Got {}-D tensor.",
                self.ndim()
            )));
        }
        self.transpose(-2, -1)
    }

    /// `torch.matmul`.
    pub fn matmul(&self, other: &Tensor) -> Result<Tensor> {
        if let Some(c) = crate::amp::apply("matmul", &[self, other])? {
            return c.arg(0).matmul(c.arg(1));
        }
        let _prof = crate::profiler::op("aten::matmul", &[self, other]);
        let (na, nb) = (self.ndim(), other.ndim());
        if na == 0 || nb == 0 {
            return Err(Error::Runtime(format!(
                "both arguments to matmul need to be at least 1D, but they are {na}D and {nb}D"
            )));
        }
        if na == 1 && nb == 1 {
            return self.dot(other);
        }
        let a = if na == 1 {
            self.unsqueeze(0)?
        } else {
            self.clone()
        };
        let b = if nb == 1 {
            other.unsqueeze(1)?
        } else {
            other.clone()
        };
        // A stack of matrices times one matrix is one GEMM over the stacked rows (and its
        // weight gradient one GEMM instead of a batch of products summed afterwards).
        let folded = na >= 3 && nb == 2 && a.shape()[na - 1] == b.shape()[0];
        let r = if folded {
            let k = a.shape()[na - 1] as i64;
            let mut shape: Vec<i64> = a.shape()[..na - 1].iter().map(|&d| d as i64).collect();
            shape.push(b.shape()[1] as i64);
            let rows: usize = a.shape()[..na - 1].iter().product();
            a.reshape(&[rows as i64, k])?.matmul_nd(&b)?.reshape(&shape)
        } else {
            a.matmul_nd(&b)
        };
        let r = r.map_err(|e| match e {
            Error::Runtime(m) if m.starts_with("mat1") && (na == 1 || nb == 1) => {
                Error::Runtime(format!(
                    "size mismatch, got input ({:?}), mat ({:?}) and vec",
                    self.shape(),
                    other.shape()
                ))
            }
            e => e,
        })?;
        let r = if na == 1 {
            r.squeeze_dims(&[r.ndim() - 2])?
        } else {
            r
        };
        if nb == 1 {
            r.squeeze_dims(&[r.ndim() - 1])
        } else {
            Ok(r)
        }
    }

    pub fn mm(&self, other: &Tensor) -> Result<Tensor> {
        if let Some(c) = crate::amp::apply("mm", &[self, other])? {
            return c.arg(0).mm(c.arg(1));
        }
        if self.ndim() != 2 || other.ndim() != 2 {
            return Err(Error::Runtime(format!(
                "mm: expected 2D tensors, got {}D and {}D",
                self.ndim(),
                other.ndim()
            )));
        }
        self.matmul_nd(other)
    }

    pub fn bmm(&self, other: &Tensor) -> Result<Tensor> {
        if let Some(c) = crate::amp::apply("bmm", &[self, other])? {
            return c.arg(0).bmm(c.arg(1));
        }
        if self.ndim() != 3 || other.ndim() != 3 {
            return Err(Error::Runtime(format!(
                "batch1 must be a 3D tensor (bmm got {}D and {}D)",
                self.ndim(),
                other.ndim()
            )));
        }
        if self.shape()[0] != other.shape()[0] || self.shape()[2] != other.shape()[1] {
            return Err(Error::Runtime(format!(
                "Expected size for first two dimensions of batch2 tensor to be: [{}, {}] but got: [{}, {}].",
                self.shape()[0], self.shape()[2], other.shape()[0], other.shape()[1]
            )));
        }
        self.matmul_nd(other)
    }

    pub fn mv(&self, v: &Tensor) -> Result<Tensor> {
        if let Some(c) = crate::amp::apply("mv", &[self, v])? {
            return c.arg(0).mv(c.arg(1));
        }
        if self.ndim() != 2 || v.ndim() != 1 {
            return Err(Error::Runtime(format!(
                "vector + matrix @ vector expected, got {}, {}",
                self.ndim(),
                v.ndim()
            )));
        }
        // `mv` has its own autocast policy (none on CPU): `matmul`'s must not apply here.
        let _amp = crate::amp::is_active().then(crate::amp::suspend);
        self.matmul(v)
    }

    pub fn dot(&self, other: &Tensor) -> Result<Tensor> {
        if self.ndim() != 1 || other.ndim() != 1 {
            return Err(Error::Runtime(format!(
                "1D tensors expected, but got {}D and {}D tensors",
                self.ndim(),
                other.ndim()
            )));
        }
        if self.shape() != other.shape() {
            return Err(Error::Runtime(format!(
                "inconsistent tensor size, expected tensor [{}] and src [{}] to have the same number of elements, but got {} and {} elements respectively",
                self.numel(), other.numel(), self.numel(), other.numel()
            )));
        }
        self.unsqueeze(0)?
            .matmul_nd(&other.unsqueeze(1)?)?
            .reshape(&[])
    }

    pub fn outer(&self, other: &Tensor) -> Result<Tensor> {
        if self.ndim() != 1 || other.ndim() != 1 {
            return Err(Error::Runtime("outer: expected 1D tensors".into()));
        }
        self.unsqueeze(1)?.mul(&other.unsqueeze(0)?)
    }

    /// `torch.einsum` for explicit or implicit output, with repeated-index sums; contractions
    /// are lowered to permute + reshape + batched matmul (or mul+sum).
    pub fn einsum(equation: &str, operands: &[Tensor]) -> Result<Tensor> {
        let refs: Vec<&Tensor> = operands.iter().collect();
        if let Some(c) = crate::amp::apply("einsum", &refs)? {
            return super::einsum::einsum(equation, &c.args);
        }
        super::einsum::einsum(equation, operands)
    }
}

/// Views an `[..batch, r, c]` tensor as `[nbatch, r, c]` (batch dims may be broadcast).
fn flatten_batch(t: &Tensor, nbatch: usize) -> Result<Tensor> {
    let nd = t.ndim();
    let (r, c) = (t.shape()[nd - 2], t.shape()[nd - 1]);
    let l = t.layout();
    let batch_dims = &l.shape[..nd - 2];
    // A single stride works when the batch dims collapse (contiguous or broadcast).
    let collapsed = crate::layout::Layout {
        shape: batch_dims.to_vec(),
        strides: l.strides[..nd - 2].to_vec(),
        offset: 0,
    }
    .view(&[nbatch]);
    match collapsed {
        Some(cl) if nd > 2 => t.view_with_layout(crate::layout::Layout {
            shape: vec![nbatch, r, c],
            strides: vec![cl.strides[0], l.strides[nd - 2], l.strides[nd - 1]],
            offset: l.offset,
        }),
        None if nd > 2 => {
            let c2 = t.copy_raw()?;
            c2.view_with_layout(crate::layout::Layout::contiguous(&[nbatch, r, c]))
        }
        _ => t.view_with_layout(crate::layout::Layout {
            shape: vec![1, r, c],
            strides: vec![0, l.strides[nd - 2], l.strides[nd - 1]],
            offset: l.offset,
        }),
    }
}

/// What PyTorch's mm (`addmm`: `mat1`) nodes report: both operands with sizes and strides.
pub(crate) fn mm_saved(addmm: bool, a: &Tensor, b: Option<&Tensor>) -> autograd::SavedList {
    let geometry = |names: [&'static str; 3], t: &Tensor| {
        [
            (names[0], SavedValue::tensor(t)),
            (names[1], SavedValue::sizes(t.shape())),
            (names[2], SavedValue::sizes(t.strides())),
        ]
    };
    let mut v = Vec::with_capacity(6);
    if let Some(b) = b {
        v.extend(geometry(["mat2", "mat2_sym_sizes", "mat2_sym_strides"], b));
    }
    let a_names = if addmm {
        ["mat1", "mat1_sym_sizes", "mat1_sym_strides"]
    } else {
        ["self", "self_sym_sizes", "self_sym_strides"]
    };
    v.extend(geometry(a_names, a));
    v
}
