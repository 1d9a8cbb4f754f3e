//! Joining and rearranging: cat, stack, split, chunk, unbind, repeat, flip, roll, tril/triu.

use super::Tensor;
use crate::autograd;
use crate::dtype::{result_type, DType, Operand};
use crate::error::{Error, Result};
use crate::shape::normalize_dim;

impl Tensor {
    /// `torch.cat`: promotes dtypes; legacy 1-D empty tensors are skipped like PyTorch.
    pub fn cat(tensors: &[Tensor], dim: i64) -> Result<Tensor> {
        if tensors.is_empty() {
            return Err(Error::Runtime(
                "torch.cat(): expected a non-empty list of Tensors".into(),
            ));
        }
        let parts: Vec<&Tensor> = tensors
            .iter()
            .filter(|t| !(t.ndim() == 1 && t.numel() == 0))
            .collect();
        let dt = result_type(
            &tensors
                .iter()
                .map(|t| Operand::Dim(t.dtype()))
                .collect::<Vec<_>>(),
        );
        if parts.is_empty() {
            return Tensor::zeros(&[0], dt);
        }
        let nd = parts[0].ndim();
        if nd == 0 {
            return Err(Error::Runtime(
                "zero-dimensional tensor (at position 0) cannot be concatenated".into(),
            ));
        }
        let d = normalize_dim(dim, nd)?;
        let mut shape = parts[0].shape().to_vec();
        shape[d] = 0;
        for (i, t) in parts.iter().enumerate() {
            if t.ndim() != nd {
                return Err(Error::Runtime(format!(
                    "Tensors must have same number of dimensions: got {} and {}",
                    nd,
                    t.ndim()
                )));
            }
            for k in 0..nd {
                if k != d && t.shape()[k] != parts[0].shape()[k] {
                    return Err(Error::Runtime(format!(
                        "Sizes of tensors must match except in dimension {}. Expected size {} but got size {} for tensor number {} in the list.",
                        d, parts[0].shape()[k], t.shape()[k], i
                    )));
                }
            }
            shape[d] += t.shape()[d];
        }
        let out = Tensor::zeros(&shape, dt)?;
        let mut off = 0;
        let mut spans = Vec::new();
        for t in &parts {
            let len = t.shape()[d];
            let region = out.view_with_layout(out.layout().narrow(d, off, len))?;
            region.write_raw(&t.cast_raw_if(dt))?;
            spans.push((off, len, t.dtype()));
            off += len;
        }
        let inputs: Vec<&Tensor> = parts.clone();
        if autograd::needs_grad(&inputs) && dt.is_float() {
            autograd::record(&out, "CatBackward0", &inputs, move |g, needs| {
                spans
                    .iter()
                    .zip(needs)
                    .map(|(&(o, l, sdt), &n)| {
                        if !n {
                            return Ok(None);
                        }
                        let part = g.narrow(d as i64, o, l)?;
                        Ok(Some(if sdt != g.dtype() && sdt.is_float() {
                            part.to_dtype(sdt)?
                        } else {
                            part
                        }))
                    })
                    .collect()
            });
        }
        Ok(out)
    }

    pub(crate) fn cast_raw_if(&self, dt: DType) -> Tensor {
        if self.dtype() == dt {
            self.clone()
        } else {
            self.cast_raw(dt)
        }
    }

    pub fn stack(tensors: &[Tensor], dim: i64) -> Result<Tensor> {
        if tensors.is_empty() {
            return Err(Error::Runtime(
                "stack expects a non-empty TensorList".into(),
            ));
        }
        for (i, t) in tensors.iter().enumerate() {
            if t.shape() != tensors[0].shape() {
                return Err(Error::Runtime(format!(
                    "stack expects each tensor to be equal size, but got {:?} at entry 0 and {:?} at entry {}",
                    tensors[0].shape(),
                    t.shape(),
                    i
                )));
            }
        }
        let d = crate::shape::normalize_insert_dim(dim, tensors[0].ndim())?;
        let parts = tensors
            .iter()
            .map(|t| t.unsqueeze(d as i64))
            .collect::<Result<Vec<_>>>()?;
        Tensor::cat(&parts, d as i64)
    }

    /// `split(split_size)`: equal chunks, the last may be smaller.
    pub fn split_size(&self, size: usize, dim: i64) -> Result<Vec<Tensor>> {
        if self.ndim() == 0 {
            return Err(Error::Runtime(
                "split expects at least a 1-dimensional tensor".into(),
            ));
        }
        let d = normalize_dim(dim, self.ndim())?;
        let n = self.shape()[d];
        if size == 0 && n != 0 {
            return Err(Error::Runtime(
                "split_size can only be 0 if dimension size is 0, but got dimension size of "
                    .to_string()
                    + &n.to_string(),
            ));
        }
        let mut out = Vec::new();
        let mut start = 0;
        loop {
            let len = size.min(n - start);
            out.push(self.narrow(d as i64, start, len)?);
            start += len;
            if start >= n {
                break;
            }
        }
        Ok(out)
    }

    /// `split([sizes])`.
    pub fn split_sections(&self, sizes: &[usize], dim: i64) -> Result<Vec<Tensor>> {
        if self.ndim() == 0 {
            return Err(Error::Runtime(
                "split expects at least a 1-dimensional tensor".into(),
            ));
        }
        let d = normalize_dim(dim, self.ndim())?;
        let total: usize = sizes.iter().sum();
        if total != self.shape()[d] {
            return Err(Error::Runtime(format!(
                "split_with_sizes expects split_sizes to sum exactly to {} (input tensor's size at dimension {}), but got split_sizes={:?}",
                self.shape()[d], d, sizes
            )));
        }
        let mut start = 0;
        sizes
            .iter()
            .map(|&l| {
                let t = self.narrow(d as i64, start, l);
                start += l;
                t
            })
            .collect()
    }

    pub fn chunk(&self, chunks: usize, dim: i64) -> Result<Vec<Tensor>> {
        if chunks == 0 {
            return Err(Error::Runtime(
                "chunk expects `chunks` to be greater than 0, got: 0".into(),
            ));
        }
        let d = normalize_dim(dim, self.ndim())?;
        let n = self.shape()[d];
        let size = n.div_ceil(chunks);
        if n == 0 {
            return (0..chunks)
                .map(|_| self.narrow(d as i64, 0, 0))
                .collect::<Result<_>>();
        }
        self.split_size(size.max(1), d as i64)
    }

    pub fn unbind(&self, dim: i64) -> Result<Vec<Tensor>> {
        let d = normalize_dim(dim, self.ndim())?;
        (0..self.shape()[d])
            .map(|i| self.select(d as i64, i as i64))
            .collect()
    }

    pub fn repeat(&self, reps: &[usize]) -> Result<Tensor> {
        if reps.len() < self.ndim() {
            return Err(Error::Runtime(
                "Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor".into(),
            ));
        }
        let lead = reps.len() - self.ndim();
        let mut src_shape = vec![1usize; lead];
        src_shape.extend_from_slice(self.shape());
        let x = self.reshape(&src_shape.iter().map(|&s| s as i64).collect::<Vec<_>>())?;
        // Interleave a repeat axis before each dim, expand, and merge.
        let mut inter = Vec::new();
        let mut expanded = Vec::new();
        for (&s, &r) in src_shape.iter().zip(reps) {
            inter.extend([1i64, s as i64]);
            expanded.extend([r, s]);
        }
        let final_shape: Vec<i64> = src_shape
            .iter()
            .zip(reps)
            .map(|(&s, &r)| (s * r) as i64)
            .collect();
        // Always a copy, as in PyTorch (`contiguous` would alias when every repeat is 1).
        x.reshape(&inter)?
            .expand(&expanded)?
            .deep_clone()?
            .reshape(&final_shape)
    }

    pub fn flip(&self, dims: &[i64]) -> Result<Tensor> {
        let ds = crate::shape::normalize_dims(dims, self.ndim())?;
        let mut out = self.clone();
        // A 0-d tensor accepts dim 0/-1 and flips to itself.
        for d in ds.into_iter().filter(|&d| d < self.ndim()) {
            let n = self.shape()[d];
            let idx: Vec<i64> = (0..n as i64).rev().collect();
            out = out.index_select(d as i64, &Tensor::from_vec(idx, &[n])?)?;
        }
        if out.same(self) {
            out = self.deep_clone()?;
        }
        Ok(out)
    }

    pub fn roll(&self, shifts: &[i64], dims: &[i64]) -> Result<Tensor> {
        if dims.is_empty() {
            if shifts.len() != 1 {
                return Err(Error::Runtime(
                    "roll: shifts must be a single value when dims is not given".into(),
                ));
            }
            let shape: Vec<i64> = self.shape().iter().map(|&s| s as i64).collect();
            return self.flatten(0, -1)?.roll(shifts, &[0])?.reshape(&shape);
        }
        if shifts.len() != dims.len() {
            return Err(Error::Runtime(format!(
                "shifts and dimensions must align. shifts: {}, dims:{}",
                shifts.len(),
                dims.len()
            )));
        }
        let mut out = self.clone();
        for (&s, &dim) in shifts.iter().zip(dims) {
            let d = normalize_dim(dim, self.ndim())?;
            let n = self.shape()[d] as i64;
            if n == 0 {
                continue;
            }
            let k = s.rem_euclid(n) as usize;
            if k == 0 {
                continue;
            }
            let n = n as usize;
            let tail = out.narrow(d as i64, n - k, k)?;
            let head = out.narrow(d as i64, 0, n - k)?;
            out = Tensor::cat(&[tail, head], d as i64)?;
        }
        if out.same(self) {
            out = self.deep_clone()?;
        }
        Ok(out)
    }

    /// Lower (`upper=false`) or upper triangle of the last two dims.
    pub fn tri(&self, diagonal: i64, upper: bool) -> Result<Tensor> {
        if self.ndim() < 2 {
            return Err(Error::Runtime(format!(
                "{}: input tensor must have at least 2 dimensions",
                if upper { "triu" } else { "tril" }
            )));
        }
        let (r, c) = (self.shape()[self.ndim() - 2], self.shape()[self.ndim() - 1]);
        let mut m = vec![false; r * c];
        for i in 0..r {
            for j in 0..c {
                let k = j as i64 - i as i64;
                m[i * c + j] = if upper { k >= diagonal } else { k <= diagonal };
            }
        }
        let mask = Tensor::from_vec(m, &[r, c])?;
        Tensor::where_args(
            &mask,
            super::binary::Arg::T(self),
            super::binary::Arg::S(super::creation::Scalar::Int(0)),
        )
        .and_then(|t| {
            if t.dtype() != self.dtype() {
                t.to_dtype(self.dtype())
            } else {
                Ok(t)
            }
        })
    }
}
