//! Creation: constants, ranges, identity, casts, copies.

use super::Tensor;
use crate::autograd::{self, SavedTensor};
use crate::dtype::{DType, Elem};
use crate::error::{Error, Result};
use crate::storage::Storage;
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
    /// PyTorch's checked conversion of a Python number stored into `dtype` (`full`, `fill_`,
    /// `masked_fill`, `x[i] = v`, clamp bounds): an error when the value does not fit.
    /// Negative integers wrap into uint8 (down to -255), and nothing overflows bool.
    pub fn check_fits(self, dtype: DType) -> Result<()> {
        let fits = match (self, dtype) {
            (_, DType::Bool) | (Scalar::Bool(_), _) => true,
            (Scalar::Int(i), _) => match int_range(dtype) {
                Some((_, hi)) if dtype == DType::U8 => i <= hi && i >= -hi,
                Some((lo, hi)) => (lo..=hi).contains(&i),
                // Every int64 is within the float types' range except float16's.
                None => dtype != DType::F16 || (i as f64).abs() <= 65504.0,
            },
            (Scalar::Float(f), _) if dtype.is_float() => {
                let max = match dtype {
                    DType::F16 => 65504.0,
                    DType::BF16 => 3.389_531_389_251_535_5e38,
                    DType::F32 => f32::MAX as f64,
                    _ => f64::MAX,
                };
                f.is_nan() || f.is_infinite() || f.abs() <= max
            }
            (Scalar::Float(f), _) => match int_range(dtype) {
                Some((lo, hi)) => f >= lo as f64 && f <= hi as f64,
                None => true,
            },
        };
        if fits {
            return Ok(());
        }
        Err(Error::Runtime(format!(
            "value cannot be converted to type {} without overflow",
            c_type_name(dtype)
        )))
    }

    /// The dtype PyTorch gives a wrapped Python number.
    pub fn dtype(self) -> DType {
        match self {
            Scalar::Bool(_) => DType::Bool,
            Scalar::Int(_) => DType::I64,
            Scalar::Float(_) => crate::dtype::default_float(),
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
        let _prof = crate::profiler::scope(
            crate::profiler::EventKind::Op,
            || "aten::full".into(),
            || vec![shape.to_vec()],
        );
        let n = crate::shape::checked_numel(shape)?;
        let value = value.into();
        value.check_fits(dtype)?;
        let storage = crate::backend::backend(device)?.full(n, dtype, value)?;
        Tensor::from_kernel(storage, shape)
    }
    /// A tensor of unspecified values (`torch.empty`): memory the caller overwrites.
    pub fn empty_on(
        shape: &[usize],
        dtype: DType,
        device: crate::device::Device,
    ) -> Result<Tensor> {
        let _prof = crate::profiler::scope(
            crate::profiler::EventKind::Op,
            || "aten::empty".into(),
            || vec![shape.to_vec()],
        );
        let n = crate::shape::checked_numel(shape)?;
        let storage = crate::backend::backend(device)?.empty(n, dtype)?;
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
        crate::with_dtype!(dtype, T, Tensor::scalar(v.to_elem::<T>()))
    }

    /// A 0-d tensor holding a Python number stored into `dtype` with PyTorch's overflow
    /// check (`x[i] = v`, `masked_fill(mask, v)`).
    pub fn scalar_checked(v: Scalar, dtype: DType) -> Result<Tensor> {
        Self::full_on(&[], v, dtype, crate::device::Device::Cpu)
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
        let len = ((e - s) / st).ceil().max(0.0);
        if len >= usize::MAX as f64 {
            return Err(Error::Runtime(format!(
                "arange: the range [{s}, {e}) with step {st} has too many elements"
            )));
        }
        let n = len as usize;
        crate::shape::checked_numel(&[n])?;
        let (si, sti) = (start_int(start), start_int(step));
        // Generated on the host in f64 or i64 (integers exactly), then cast like PyTorch.
        let t = if dtype.is_float() {
            Tensor::from_vec(host_vec(n, |i| s + i as f64 * st)?, &[n])?
        } else {
            let v = host_vec(n, |i| si.wrapping_add((i as i64).wrapping_mul(sti)))?;
            Tensor::from_vec(v, &[n])?
        };
        t.to_dtype_raw(dtype)
    }

    /// `torch.linspace(start, end, steps)`, symmetric like PyTorch's kernel.
    pub fn linspace(start: f64, end: f64, steps: usize, dtype: DType) -> Result<Tensor> {
        let step = if steps > 1 {
            (end - start) / (steps - 1) as f64
        } else {
            0.0
        };
        let half = steps / 2;
        let vals = host_vec(steps, |i| {
            // steps == 1 gives `[start]`, as in PyTorch.
            if i < half || steps == 1 {
                start + step * i as f64
            } else {
                end - step * (steps - 1 - i) as f64
            }
        })?;
        Tensor::from_vec(vals, &[steps])?.to_dtype(dtype)
    }

    pub fn eye(n: usize, m: usize, dtype: DType) -> Result<Tensor> {
        let len = crate::shape::checked_numel(&[n, m])?;
        // (len > 0 implies m > 0.)
        let v = host_vec(len, |k| k / m == k % m)?;
        Tensor::from_vec(v, &[n, m])?.to_dtype_raw(dtype)
    }

    /// A contiguous copy with a new dtype (no copy when the dtype already matches).
    /// Differentiable between float dtypes.
    pub fn to_dtype(&self, dtype: DType) -> Result<Tensor> {
        let _prof = crate::profiler::op("aten::to", &[self]);
        if dtype == self.dtype() {
            return Ok(self.clone());
        }
        let out = self.to_dtype_raw(dtype)?;
        let src = self.dtype();
        Ok(autograd::maybe_record(
            out,
            "ToCopyBackward0",
            &[self],
            || Arc::new(move |g, _| Ok(vec![Some(g.to_dtype(src)?)])),
        ))
    }

    /// A copy on `device` (the same tensor when already there). Differentiable: the
    /// gradient flows back to this tensor's device (`Tensor.to(device)`, `.cuda()`, `.cpu()`).
    pub fn to_device(&self, device: crate::device::Device) -> Result<Tensor> {
        let _prof = crate::profiler::op("aten::to", &[self]);
        if device == self.device() {
            return Ok(self.clone());
        }
        device.check_available()?;
        let out = self.to_device_raw(device)?;
        let src = self.device();
        Ok(autograd::maybe_record(
            out,
            "ToCopyBackward0",
            &[self],
            || Arc::new(move |g, _| Ok(vec![Some(g.to_device(src)?)])),
        ))
    }

    /// A contiguous host copy of the elements placed in the storage `alloc` makes from it
    /// (outside autograd): page-locked copies for `Tensor.pin_memory()`, whose allocator
    /// the bindings pass in.
    pub fn host_copy_with(
        &self,
        alloc: impl FnOnce(&Storage) -> Result<Storage>,
    ) -> Result<Tensor> {
        let host = self.backend()?.to_host(self.strided())?;
        Tensor::from_kernel(alloc(&host)?, self.shape())
    }

    /// Transitional (callers outside this family): `to_dtype_raw` without the Result.
    /// A contiguous copy in new memory (`clone()`), differentiable.
    pub fn deep_clone(&self) -> Result<Tensor> {
        let _prof = crate::profiler::op("aten::clone", &[self]);
        let out = self.to_dtype_raw(self.dtype())?;
        Ok(autograd::maybe_record(
            out,
            "CloneBackward0",
            &[self],
            || Arc::new(|g, _| Ok(vec![Some(g.clone())])),
        ))
    }

    /// Transitional (callers outside this family): a contiguous copy without the Result.
    /// A contiguous copy in new memory, outside autograd.
    pub fn copy_raw(&self) -> Result<Tensor> {
        self.to_dtype_raw(self.dtype())
    }

    /// The same values in a contiguous layout (self when already contiguous).
    pub fn contiguous(&self) -> Result<Tensor> {
        if self.is_contiguous() {
            return Ok(self.clone());
        }
        self.deep_clone()
    }

    /// Raw bytes of the elements in row-major order.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        // A download: the host copy is contiguous and owned by us.
        let host = self.backend()?.to_host(self.strided())?;
        host.into_bytes()
    }

    /// A tensor from raw little-endian bytes.
    pub fn from_bytes(bytes: &[u8], dtype: DType, shape: &[usize]) -> Result<Tensor> {
        let n = crate::shape::checked_numel(shape)?;
        if Some(bytes.len()) != n.checked_mul(dtype.size()) {
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

/// The range of an integer dtype (None for floats and bool).
fn int_range(dtype: DType) -> Option<(i64, i64)> {
    Some(match dtype {
        DType::U8 => (0, u8::MAX as i64),
        DType::I8 => (i8::MIN as i64, i8::MAX as i64),
        DType::I16 => (i16::MIN as i64, i16::MAX as i64),
        DType::I32 => (i32::MIN as i64, i32::MAX as i64),
        DType::I64 => (i64::MIN, i64::MAX),
        _ => return None,
    })
}

/// The C++ type name PyTorch's overflow message uses.
fn c_type_name(dtype: DType) -> &'static str {
    match dtype {
        DType::Bool => "bool",
        DType::U8 => "uint8_t",
        DType::I8 => "int8_t",
        DType::I16 => "int16_t",
        DType::I32 => "int",
        DType::I64 => "int64_t",
        DType::F16 => "at::Half",
        DType::BF16 => "at::BFloat16",
        DType::F32 => "float",
        DType::F64 => "double",
    }
}

/// A host vector of `n` elements from `f(i)`, failing with a RuntimeError (not an abort)
/// when the allocation is refused.
pub(crate) fn host_vec<T>(n: usize, f: impl FnMut(usize) -> T) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| {
        Error::Runtime(format!(
            "DefaultCPUAllocator: not enough memory: you tried to allocate {} bytes.",
            n.saturating_mul(std::mem::size_of::<T>())
        ))
    })?;
    v.extend((0..n).map(f));
    Ok(v)
}

fn start_int(s: Scalar) -> i64 {
    match s {
        Scalar::Bool(b) => b as i64,
        Scalar::Int(i) => i,
        Scalar::Float(f) => f as i64,
    }
}
