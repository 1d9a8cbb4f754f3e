//! CPU memory primitives: fill, host transfer (a copy), strided copy, cast.

use super::{convert, gather, try_output, try_zeroed, write_elems, CpuBackend};
use crate::backend::{MemoryKernels, Strided};
use crate::dtype::DType;
use crate::error::Result;
use crate::layout::Layout;
use crate::storage::Storage;
use crate::tensor::creation_scalar::Scalar;

impl MemoryKernels for CpuBackend {
    fn full(&self, len: usize, dtype: DType, value: Scalar) -> Result<Storage> {
        crate::with_dtype!(dtype, T, {
            let v = value.to_elem::<T>();
            let is_zero = match value {
                Scalar::Bool(b) => !b,
                Scalar::Int(i) => i == 0,
                Scalar::Float(f) => f.to_bits() == 0,
            };
            // Zeros come cleared from the allocator (or the cache); other values are written
            // once over an uncleared buffer.
            let out = if is_zero {
                try_zeroed::<T>(len)?
            } else {
                let mut out = try_output::<T>(len)?;
                super::for_each_chunk(&mut out, 1 << 16, len, |_, c| c.fill(v));
                out
            };
            Ok(Storage::from_vec(out))
        })
    }

    fn empty(&self, len: usize, dtype: DType) -> Result<Storage> {
        // A cached block keeps its stale contents (no clearing pass over megabytes that the
        // caller is about to overwrite); fresh memory comes zeroed from the system.
        crate::with_dtype!(dtype, T, Ok(Storage::from_vec(try_output::<T>(len)?)))
    }

    fn upload(&self, host: &Storage) -> Result<Storage> {
        let layout = Layout::contiguous(&[host.len()]);
        self.to_host(Strided::new(host, &layout))
    }

    fn to_host(&self, src: Strided) -> Result<Storage> {
        crate::with_dtype!(src.dtype(), T, Ok(Storage::from_vec(gather::<T>(src)?)))
    }

    fn cast(&self, src: Strided, dtype: DType) -> Result<Storage> {
        if src.dtype() == dtype {
            return self.to_host(src);
        }
        // One gather per source dtype, then a plain conversion loop per pair: keeps the
        // 10×10 instantiations small.
        crate::with_dtype!(src.dtype(), S, {
            let values = super::contiguous_or_gathered::<S>(src)?;
            crate::with_dtype!(dtype, D, {
                // Every element is written below.
                let mut out = try_output::<D>(values.len())?;
                let n = values.len();
                super::for_each_chunk(&mut out, 1 << 15, n, |c, o| {
                    let start = c << 15;
                    let n = o.len();
                    for (o, &x) in o.iter_mut().zip(&values[start..start + n]) {
                        *o = convert::<S, D>(x);
                    }
                });
                Ok(Storage::from_vec(out))
            })
        })
    }

    fn copy_into(&self, src: Strided, dst: Strided) -> Result<()> {
        crate::with_dtype!(dst.dtype(), T, {
            let values = super::contiguous_or_gathered::<T>(src)?;
            write_elems::<T>(dst, &values)
        })
    }
}
