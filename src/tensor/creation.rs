//! Creation: constants, ranges, identity, casts, copies.

use super::Tensor;
use crate::autograd::{self, SavedTensor};
use crate::dtype::{DType, Elem};
use crate::error::{Error, Result};
use std::sync::Arc;

/// A Python-style number: keeps integers exact.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scalar {
    Bool(bool),
    Int(i64),
    Float(f64),
}

impl Scalar {
    pub fn to_elem<T: Elem>(self) -> T {
        match self {
            Scalar::Bool(b) => T::from_bool(b),
            Scalar::Int(i) => {
                if T::DTYPE == DType::Bool {
                    T::from_bool(i != 0)
                } else {
                    T::from_i64(i)
                }
            }
            Scalar::Float(f) => T::from_f64(f),
        }
    }
    pub fn to_f64(self) -> f64 {
        match self {
            Scalar::Bool(b) => b as i64 as f64,
            Scalar::Int(i) => i as f64,
            Scalar::Float(f) => f,
        }
    }
    /// The dtype PyTorch gives a wrapped Python number.
    pub fn dtype(self) -> DType {
        match self {
            Scalar::Bool(_) => DType::Bool,
            Scalar::Int(_) => DType::I64,
            Scalar::Float(_) => DType::F32,
        }
    }
}

impl From<f64> for Scalar {
    fn from(v: f64) -> Self {
        Scalar::Float(v)
    }
}
impl From<i64> for Scalar {
    fn from(v: i64) -> Self {
        Scalar::Int(v)
    }
}
impl From<bool> for Scalar {
    fn from(v: bool) -> Self {
        Scalar::Bool(v)
    }
}

impl Tensor {
    pub fn full(shape: &[usize], value: impl Into<Scalar>, dtype: DType) -> Result<Tensor> {
        Self::full_on(shape, value, dtype, crate::device::Device::Cpu)
    }
    /// `full` on a device: the one constructor every filled tensor goes through.
    pub fn full_on(
        shape: &[usize],
        value: impl Into<Scalar>,
        dtype: DType,
        device: crate::device::Device,
    ) -> Result<Tensor> {
        let n = crate::shape::checked_numel(shape)?;
        let storage = crate::backend::backend(device)?.full(n, dtype, value.into())?;
        Tensor::from_kernel(storage, shape)
    }
    pub fn zeros(shape: &[usize], dtype: DType) -> Result<Tensor> {
        Self::full(shape, Scalar::Int(0), dtype)
    }
    pub fn ones(shape: &[usize], dtype: DType) -> Result<Tensor> {
        Self::full(shape, Scalar::Int(1), dtype)
    }
    pub fn zeros_like(t: &Tensor) -> Result<Tensor> {
        Self::full_on(t.shape(), Scalar::Int(0), t.dtype(), t.device())
    }
    pub fn ones_like(t: &Tensor) -> Result<Tensor> {
        Self::full_on(t.shape(), Scalar::Int(1), t.dtype(), t.device())
    }
    /// A 0-d tensor holding `v` as `dtype`.
    pub fn scalar_of(v: impl Into<Scalar>, dtype: DType) -> Tensor {
        let v = v.into();
        crate::with_dtype!(dtype, T, {
            Tensor::from_vec_unchecked(vec![v.to_elem::<T>()], &[])
        })
    }

    /// `torch.arange(start, end, step)`.
    pub fn arange(start: Scalar, end: Scalar, step: Scalar, dtype: DType) -> Result<Tensor> {
        let (s, e, st) = (start.to_f64(), end.to_f64(), step.to_f64());
        if st == 0.0 {
            return Err(Error::Runtime("arange: step must be nonzero".into()));
        }
        if !(s.is_finite() && e.is_finite()) {
            return Err(Error::Runtime(
                "arange: unsupported range: start and end must be finite".into(),
            ));
        }
        if (st > 0.0 && e < s) || (st < 0.0 && e > s) {
            return Err(Error::Runtime(
                "arange: upper bound and larger bound inconsistent with step sign".into(),
            ));
        }
        let n = ((e - s) / st).ceil().max(0.0) as usize;
        Ok(crate::with_dtype!(dtype, T, {
            let data: Vec<T> = if dtype.is_float() {
                (0..n).map(|i| T::from_f64(s + i as f64 * st)).collect()
            } else {
                let (si, sti) = (start_int(start), start_int(step));
                (0..n).map(|i| T::from_i64(si + i as i64 * sti)).collect()
            };
            Tensor::from_vec_unchecked(data, &[n])
        }))
    }

    /// `torch.linspace(start, end, steps)`, symmetric like PyTorch's kernel.
    pub fn linspace(start: f64, end: f64, steps: usize, dtype: DType) -> Result<Tensor> {
        let step = if steps > 1 {
            (end - start) / (steps - 1) as f64
        } else {
            0.0
        };
        let half = steps / 2;
        let vals: Vec<f64> = (0..steps)
            .map(|i| {
                // steps == 1 gives `[start]`, as in PyTorch.
                if i < half || steps == 1 {
                    start + step * i as f64
                } else {
                    end - step * (steps - 1 - i) as f64
                }
            })
            .collect();
        Tensor::from_vec(vals, &[steps])?.to_dtype(dtype)
    }

    pub fn eye(n: usize, m: usize, dtype: DType) -> Result<Tensor> {
        let mut v = vec![0.0f64; n * m];
        for i in 0..n.min(m) {
            v[i * m + i] = 1.0;
        }
        Tensor::from_vec(v, &[n, m])?.to_dtype(dtype)
    }

    /// A contiguous copy with a new dtype (no copy when the dtype already matches).
    /// Differentiable between float dtypes.
    pub fn to_dtype(&self, dtype: DType) -> Result<Tensor> {
        if dtype == self.dtype() {
            return Ok(self.clone());
        }
        let out = self.cast_raw(dtype);
        let src = self.dtype();
        Ok(autograd::maybe_record(
            out,
            "ToCopyBackward0",
            &[self],
            || Arc::new(move |g, _| Ok(vec![Some(g.to_dtype(src)?)])),
        ))
    }

    pub(crate) fn cast_raw(&self, dtype: DType) -> Tensor {
        self.to_dtype_raw(dtype).expect("transitional")
    }

    /// A contiguous copy in new memory (`clone()`), differentiable.
    pub fn deep_clone(&self) -> Result<Tensor> {
        // Fallible: a copy too large to allocate is a RuntimeError.
        let out = self.to_dtype_raw(self.dtype())?;
        Ok(autograd::maybe_record(
            out,
            "CloneBackward0",
            &[self],
            || Arc::new(|g, _| Ok(vec![Some(g.clone())])),
        ))
    }

    pub fn copy_raw(&self) -> Tensor {
        self.to_dtype_raw(self.dtype()).expect("transitional")
    }

    /// The same values in a contiguous layout (self when already contiguous).
    pub fn contiguous(&self) -> Result<Tensor> {
        if self.is_contiguous() {
            return Ok(self.clone());
        }
        self.deep_clone()
    }

    /// Raw bytes of the elements in row-major order.
    pub fn to_bytes(&self) -> Vec<u8> {
        let c = if self.is_contiguous() {
            self.clone()
        } else {
            self.copy_raw()
        };
        let size = c.dtype().size();
        let start = c.offset() * size;
        c.storage().as_bytes()[start..start + c.numel() * size].to_vec()
    }

    /// A tensor from raw little-endian bytes.
    pub fn from_bytes(bytes: &[u8], dtype: DType, shape: &[usize]) -> Result<Tensor> {
        let n: usize = shape.iter().product();
        if bytes.len() != n * dtype.size() {
            return Err(Error::Runtime(format!(
                "from_bytes: {} bytes cannot hold shape {:?} of {}",
                bytes.len(),
                shape,
                dtype.name()
            )));
        }
        if dtype == DType::Bool {
            let fixed: Vec<bool> = bytes.iter().map(|&b| b != 0).collect();
            return Tensor::from_vec(fixed, shape);
        }
        crate::with_dtype!(dtype, T, {
            let mut v = vec![T::default(); n];
            // SAFETY: v has exactly n * size bytes and every bit pattern is a valid T here.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    bytes.as_ptr(),
                    v.as_mut_ptr().cast::<u8>(),
                    bytes.len(),
                );
            }
            Tensor::from_vec(v, shape)
        })
    }

    /// Saves a tensor for backward with a version stamp.
    pub fn saved(&self) -> SavedTensor {
        SavedTensor::new(self)
    }
}

fn start_int(s: Scalar) -> i64 {
    match s {
        Scalar::Bool(b) => b as i64,
        Scalar::Int(i) => i,
        Scalar::Float(f) => f as i64,
    }
}
