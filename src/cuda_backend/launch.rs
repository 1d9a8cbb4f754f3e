//! What kernels receive: device pointers, element counts, and strided layouts (`Lay`, the
//! mirror of `struct Lay` in cuda/prelude.cuh), plus the glue that turns storages into them.

use super::buffer::CudaBuffer;
use super::context::Gpu;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::storage::{Buffer, Storage};
use cudarc::driver::DeviceRepr;

/// Most dims a kernel layout holds after merging (`MAXD` in the prelude).
pub(crate) const MAXD: usize = 12;

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Lay {
    pub offset: i64,
    pub ndim: i64,
    pub shape: [i64; MAXD],
    pub stride: [i64; MAXD],
}

// SAFETY: plain-old-data with the C layout of the device struct.
unsafe impl DeviceRepr for Lay {}

impl Lay {
    /// `n` contiguous elements from `offset`.
    pub fn contiguous(n: usize, offset: usize) -> Lay {
        let mut l = Lay {
            offset: offset as i64,
            ndim: 1,
            shape: [1; MAXD],
            stride: [0; MAXD],
        };
        l.shape[0] = n as i64;
        l.stride[0] = 1;
        l
    }
}

/// Layouts of `N` views that share `shape`, with dims merged wherever every view allows it
/// (size-1 dims dropped; a dim folded into the next inner one when its stride is the inner
/// stride times the inner size in every view). Row-major order is unchanged.
pub(crate) fn lays<const N: usize>(
    shape: &[usize],
    views: [(&[usize], usize); N],
) -> Result<[Lay; N]> {
    let v = lays_dyn(shape, &views)?;
    Ok(std::array::from_fn(|i| v[i]))
}

/// `lays` for a number of views known at run time.
pub(crate) fn lays_dyn(shape: &[usize], views: &[(&[usize], usize)]) -> Result<Vec<Lay>> {
    let n = views.len();
    // Groups from the innermost outwards: (size, stride per view).
    let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
    for d in (0..shape.len()).rev() {
        let size = shape[d];
        if size == 1 {
            continue;
        }
        let strides: Vec<usize> = views.iter().map(|v| v.0[d]).collect();
        if let Some((gsize, gstrides)) = groups.last_mut() {
            if (0..n).all(|v| strides[v] == gstrides[v].wrapping_mul(*gsize)) {
                *gsize *= size;
                continue;
            }
        }
        groups.push((size, strides));
    }
    if groups.len() > MAXD {
        return Err(Error::NotImplemented(format!(
            "CUDA kernels take views of at most {MAXD} dims that cannot be merged; got shape \
             {shape:?}"
        )));
    }
    groups.reverse();
    Ok((0..n)
        .map(|v| {
            let mut l = Lay {
                offset: views[v].1 as i64,
                ndim: groups.len() as i64,
                shape: [1; MAXD],
                stride: [0; MAXD],
            };
            for (d, (size, strides)) in groups.iter().enumerate() {
                l.shape[d] = *size as i64;
                l.stride[d] = strides[v] as i64;
            }
            l
        })
        .collect())
}

/// The layout of one view.
pub(crate) fn lay(l: &Layout) -> Result<Lay> {
    Ok(lays(&l.shape, [(&l.strides, l.offset)])?[0])
}

/// The device buffer of a storage (the tensor layer has checked the device already).
pub(crate) fn buf(s: &Storage) -> Result<&CudaBuffer> {
    match s.buffer() {
        Buffer::Cuda(b) => Ok(b),
        Buffer::Cpu(_) => Err(Error::Runtime(
            "expected a CUDA buffer but the memory is on cpu".into(),
        )),
    }
}

/// The device address of a storage's first element.
pub(crate) fn ptr(s: &Storage) -> Result<u64> {
    Ok(buf(s)?.ptr())
}

/// A fresh (uninitialised) device storage of `len` elements of `dtype`.
pub(crate) fn new_storage(gpu: &'static Gpu, len: usize, dtype: DType) -> Result<Storage> {
    let b = CudaBuffer::alloc(gpu, len, dtype.size())?;
    Ok(Storage::new(dtype, Buffer::Cuda(b)))
}

/// Kernel-name suffix of a dtype (the `M(suffix, type)` names in the prelude).
pub(crate) fn sfx(dt: DType) -> &'static str {
    match dt {
        DType::Bool => "bool",
        DType::U8 => "u8",
        DType::I8 => "i8",
        DType::I16 => "i16",
        DType::I32 => "i32",
        DType::I64 => "i64",
        DType::F16 => "f16",
        DType::BF16 => "bf16",
        DType::F32 => "f32",
        DType::F64 => "f64",
    }
}

/// The little-endian bit pattern of one element, as kernels receive scalars.
pub(crate) fn elem_bits(dt: DType, value: crate::tensor::creation_scalar::Scalar) -> u64 {
    crate::with_dtype!(dt, T, {
        let v: T = value.to_elem::<T>();
        let mut bytes = [0u8; 8];
        // SAFETY: T is a plain element type of at most 8 bytes.
        let src = unsafe {
            std::slice::from_raw_parts((&v as *const T).cast::<u8>(), std::mem::size_of::<T>())
        };
        bytes[..src.len()].copy_from_slice(src);
        u64::from_le_bytes(bytes)
    })
}

/// Launches `name` of `family` on `gpu`'s stream with the given arguments (each a local
/// variable: the launch reads them through references).
macro_rules! launch {
    ($gpu:expr, $family:expr, $name:expr, $cfg:expr; $($arg:ident),* $(,)?) => {{
        let func = $gpu.func($family, &$name)?;
        let mut builder = $gpu.stream.launch_builder(&func);
        $( cudarc::driver::PushKernelArg::arg(&mut builder, &$arg); )*
        $gpu.bind()?;
        // SAFETY: the arguments match the kernel's signature in cuda/, device pointers come
        // from checked layouts of live storages.
        unsafe { builder.launch($cfg) }
            .map(|_| ())
            .map_err($crate::cuda_backend::context::cu_err)
            .and_then(|_| $gpu.after_launch())
    }};
}
pub(crate) use launch;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contiguous_views_merge_to_one_dim() {
        let [a] = lays(&[2, 3, 4], [(&[12, 4, 1], 5)]).unwrap();
        assert_eq!((a.ndim, a.offset, a.shape[0], a.stride[0]), (1, 5, 24, 1));
    }

    #[test]
    fn transposed_view_keeps_two_dims_and_broadcast_merges() {
        let [a, b] = lays(&[3, 4], [(&[1, 3], 0), (&[0, 1], 0)]).unwrap();
        assert_eq!(a.ndim, 2);
        assert_eq!((&a.shape[..2], &a.stride[..2]), (&[3, 4][..], &[1, 3][..]));
        assert_eq!(&b.stride[..2], &[0, 1]);
        let [c] = lays(&[5, 1, 1], [(&[1, 7, 9], 0)]).unwrap();
        assert_eq!((c.ndim, c.shape[0], c.stride[0]), (1, 5, 1));
        let [d] = lays(&[1, 1], [(&[3, 3], 2)]).unwrap();
        assert_eq!((d.ndim, d.offset), (0, 2));
    }

    #[test]
    fn too_many_dims_is_an_error() {
        let shape = vec![2usize; MAXD + 1];
        let strides: Vec<usize> = (0..MAXD + 1).map(|d| 1usize << (2 * d + 1)).collect();
        assert!(lays(&shape, [(&strides, 0)]).is_err());
    }
}
