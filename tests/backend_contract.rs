//! The backend contract seen from the Rust API: layouts are checked against their buffers,
//! sizes are checked arithmetic, allocation failure is an error, and the device rule holds.

use rtorch::backend::{backend, Strided};
use rtorch::layout::Layout;
use rtorch::storage::Storage;
use rtorch::{DType, Device, Tensor};
use std::sync::Arc;

#[test]
fn layouts_outside_the_buffer_are_rejected() {
    let s = Arc::new(Storage::from_vec(vec![1.0f32, 2.0, 3.0]));
    let ok = Layout::contiguous(&[3]);
    assert!(Tensor::from_storage(s.clone(), ok).is_ok());
    let past_end = Layout {
        shape: vec![2],
        strides: vec![3],
        offset: 0,
    };
    assert!(Tensor::from_storage(s.clone(), past_end).is_err());
    let overflowing = Layout {
        shape: vec![usize::MAX / 2, 4],
        strides: vec![0, 0],
        offset: 0,
    };
    assert!(Tensor::from_storage(s.clone(), overflowing).is_err());
    let mismatched = Layout {
        shape: vec![3],
        strides: vec![],
        offset: 0,
    };
    assert!(Tensor::from_storage(s.clone(), mismatched).is_err());
    // An empty view may carry an offset past the end, as in PyTorch.
    let empty = Layout {
        shape: vec![0],
        strides: vec![1],
        offset: 7,
    };
    assert!(Tensor::from_storage(s, empty).is_ok());
}

#[test]
fn views_with_overflowing_sizes_fail() {
    let t = Tensor::ones(&[1], DType::F32).unwrap();
    let n = i64::MAX;
    assert!(t.view(&[n, n]).is_err());
    assert!(t.reshape(&[n, n]).is_err());
    assert!(t.expand(&[1 << 32, 1 << 32]).is_err());
}

#[test]
fn allocation_failure_is_an_error() {
    let e = Tensor::zeros(&[1 << 50], DType::F32).unwrap_err();
    assert!(e.to_string().contains("not enough memory"), "{e}");
    let e = Tensor::zeros(&[1 << 62, 4], DType::F32).unwrap_err();
    assert!(e.to_string().contains("overflowed"), "{e}");
}

#[test]
fn the_cpu_backend_round_trips_through_the_contract() {
    let t = Tensor::from_vec(vec![1i64, 2, 3, 4, 5, 6], &[2, 3]).unwrap();
    let tt = t.transpose(0, 1).unwrap();
    let b = backend(Device::Cpu).unwrap();
    assert_eq!(b.device(), Device::Cpu);
    let host = b.to_host(Strided::new(tt.storage(), tt.layout())).unwrap();
    assert_eq!(host.into_vec::<i64>().unwrap(), vec![1, 4, 2, 5, 3, 6]);
    let cast = b.cast(tt.strided(), DType::F32).unwrap();
    assert_eq!(
        cast.into_vec::<f32>().unwrap(),
        vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]
    );
}

#[test]
fn cuda_is_reported_unavailable_without_the_feature() {
    assert!(backend(Device::Cuda(0)).is_err());
    assert!(Tensor::full_on(&[2], 1.0, DType::F32, Device::Cuda(0)).is_err());
}
