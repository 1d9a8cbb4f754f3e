//! # rtorch
//!
//! Tensors with PyTorch's semantics (dtypes, type promotion, broadcasting, strided views) and
//! a reverse-mode autograd, in Rust. The same crate builds the `rtorch._C` Python extension
//! (feature `python`).
//!
//! ```
//! use rtorch::{Tensor, DType};
//! let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3]).unwrap();
//! x.set_requires_grad(true).unwrap();
//! let y = x.mul(&x).unwrap().sum().unwrap(); // y = Σ x²
//! y.backward().unwrap();
//! assert_eq!(x.grad().unwrap().to_vec::<f32>().unwrap(), vec![2.0, 4.0, 6.0]);
//! assert_eq!(y.dtype(), DType::F32);
//! ```

pub mod amp;
pub mod autograd;
pub mod backend;
pub mod cpu;
pub mod cuda_backend;
pub mod device;
pub mod dtype;
pub mod error;
pub mod layout;
pub mod profiler;
pub mod shape;
pub mod storage;
pub mod tensor;

#[cfg(feature = "python")]
mod python;

pub use device::Device;
pub use dtype::DType;
pub use error::{Error, Result};
pub use tensor::random::{manual_seed, Generator};
pub use tensor::Tensor;
pub use tensor::{creation_scalar::Scalar, TensorIndex};
