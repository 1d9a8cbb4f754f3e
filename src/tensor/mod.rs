//! `Tensor`: shared storage + layout + autograd metadata. Op families live in submodules.

mod binary;
pub mod conv;
mod conv_fused;
mod creation;
mod einsum;
mod factor;
pub mod creation_scalar {
    pub use super::creation::Scalar;
}
mod index_ops;
mod indexing;
mod inplace;
mod join;
mod linear;
mod matmul;
mod movement;
mod optim;
pub mod binary_ops {
    pub use super::binary::{
        binary, binary_inplace, nan_ignoring, pretty_dtype, sum_to, Arg, BinaryOp,
    };
}
pub mod nn;
pub mod random;
mod reduce;
mod rnn;
mod scan_sort;
mod unary;

pub use indexing::TensorIndex;
pub use reduce::Reduction;

mod device_check;

pub use device_check::check_same_device;

use crate::autograd::{Edge, Hook, NodeRef};
use crate::backend::{Backend, Strided};
use crate::device::Device;
use crate::dtype::{DType, Elem};
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::storage::Storage;
use std::sync::{Arc, Mutex, MutexGuard};

pub struct TensorImpl {
    pub(crate) storage: Arc<Storage>,
    pub(crate) layout: Layout,
    pub(crate) meta: Mutex<AutogradMeta>,
    /// The tensor this one is a view of (the root of the view chain).
    pub(crate) base: Option<Tensor>,
}

#[derive(Default)]
pub struct AutogradMeta {
    pub requires_grad: bool,
    pub grad_fn: Option<NodeRef>,
    pub grad: Option<Tensor>,
    pub retains_grad: bool,
    pub hooks: Vec<Hook>,
}

/// A cheaply clonable handle; clones share storage and autograd identity.
#[derive(Clone)]
pub struct Tensor(pub(crate) Arc<TensorImpl>);

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Tensor(shape={:?}, dtype={})",
            self.shape(),
            self.dtype().name()
        )
    }
}

impl Tensor {
    pub(crate) fn from_parts(
        storage: Arc<Storage>,
        layout: Layout,
        base: Option<Tensor>,
    ) -> Tensor {
        Tensor(Arc::new(TensorImpl {
            storage,
            layout,
            meta: Mutex::new(AutogradMeta::default()),
            base,
        }))
    }

    /// A tensor over existing storage (e.g. memory shared with NumPy). The layout must fit
    /// inside the storage.
    pub fn from_storage(storage: Arc<Storage>, layout: Layout) -> Result<Tensor> {
        layout.check_fits(storage.len())?;
        Ok(Tensor::from_parts(storage, layout, None))
    }

    /// A contiguous tensor of `shape` over a storage a kernel just produced.
    pub(crate) fn from_kernel(storage: Storage, shape: &[usize]) -> Result<Tensor> {
        Tensor::from_storage(Arc::new(storage), Layout::contiguous(shape))
    }

    /// A contiguous CPU tensor owning `data`.
    pub fn from_vec<T: Elem>(data: Vec<T>, shape: &[usize]) -> Result<Tensor> {
        let n = crate::shape::checked_numel(shape)?;
        if n != data.len() {
            return Err(Error::Runtime(format!(
                "from_vec: shape {:?} needs {} elements, got {}",
                shape,
                n,
                data.len()
            )));
        }
        Ok(Self::host_vec(data, shape))
    }

    /// `from_vec` on `device`: the data is built on the host and uploaded.
    pub fn from_vec_on<T: Elem>(data: Vec<T>, shape: &[usize], device: Device) -> Result<Tensor> {
        Tensor::from_vec(data, shape)?.to_device_raw(device)
    }

    /// Host data whose length the caller has checked against `shape`.
    fn host_vec<T: Elem>(data: Vec<T>, shape: &[usize]) -> Tensor {
        debug_assert_eq!(crate::shape::numel(shape), data.len());
        Tensor::from_parts(
            Arc::new(Storage::from_vec(data)),
            Layout::contiguous(shape),
            None,
        )
    }

    /// A 0-d CPU tensor (it may join tensors on any device as a scalar).
    pub fn scalar<T: Elem>(v: T) -> Tensor {
        Self::host_vec(vec![v], &[])
    }

    /// A view of this tensor's storage with another layout (no autograd recording). The
    /// layout is checked against the storage.
    pub(crate) fn view_with_layout(&self, layout: Layout) -> Result<Tensor> {
        layout.check_fits(self.0.storage.len())?;
        let base = self.0.base.clone().unwrap_or_else(|| self.clone());
        Ok(Tensor::from_parts(
            self.0.storage.clone(),
            layout,
            Some(base),
        ))
    }

    /// The kernels of the device this tensor lives on.
    pub(crate) fn backend(&self) -> Result<&'static dyn Backend> {
        crate::backend::backend(self.device())
    }

    /// This tensor's storage and layout, as kernels read them.
    pub fn strided(&self) -> Strided<'_> {
        Strided::new(&self.0.storage, &self.0.layout)
    }

    /// A copy on `device` (no autograd recording); the same tensor when already there.
    pub(crate) fn to_device_raw(&self, device: Device) -> Result<Tensor> {
        if self.device() == device {
            return Ok(self.clone());
        }
        let host = self.backend()?.to_host(self.strided())?;
        let moved = crate::backend::backend(device)?.upload(&host)?;
        Tensor::from_kernel(moved, self.shape())
    }

    // ---- accessors -------------------------------------------------------------------

    pub fn shape(&self) -> &[usize] {
        &self.0.layout.shape
    }
    pub fn strides(&self) -> &[usize] {
        &self.0.layout.strides
    }
    pub fn offset(&self) -> usize {
        self.0.layout.offset
    }
    pub fn layout(&self) -> &Layout {
        &self.0.layout
    }
    pub fn ndim(&self) -> usize {
        self.0.layout.ndim()
    }
    pub fn numel(&self) -> usize {
        self.0.layout.numel()
    }
    pub fn dtype(&self) -> DType {
        self.0.storage.dtype()
    }
    pub fn device(&self) -> Device {
        self.0.storage.device()
    }
    pub fn storage(&self) -> &Arc<Storage> {
        &self.0.storage
    }
    pub fn is_contiguous(&self) -> bool {
        self.0.layout.is_contiguous()
    }
    pub fn data_ptr(&self) -> usize {
        self.0.storage.data_ptr() + self.offset() * self.dtype().size()
    }
    pub fn version(&self) -> u64 {
        self.0.storage.version()
    }
    pub fn is_view(&self) -> bool {
        self.0.base.is_some()
    }
    pub fn view_base(&self) -> Option<&Tensor> {
        self.0.base.as_ref()
    }
    /// A number naming this autograd variable while it lives (the address of its shared
    /// state): equal for two handles exactly when `same` holds.
    pub(crate) fn identity(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }
    /// Identity (same autograd variable), as Python's `is`.
    pub fn same(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
    pub fn shares_storage(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.0.storage, &other.0.storage)
    }
    /// Size along a (possibly negative) dim.
    pub fn size(&self, dim: i64) -> Result<usize> {
        let d = crate::shape::normalize_dim(dim, self.ndim())?;
        Ok(if self.ndim() == 0 { 1 } else { self.shape()[d] })
    }

    // ---- autograd metadata -----------------------------------------------------------

    pub(crate) fn meta(&self) -> MutexGuard<'_, AutogradMeta> {
        self.0.meta.lock().unwrap_or_else(|e| e.into_inner())
    }
    pub fn requires_grad(&self) -> bool {
        let m = self.meta();
        m.requires_grad || m.grad_fn.is_some()
    }
    /// Sets `requires_grad` on a leaf; PyTorch's errors for non-leaves and non-float dtypes.
    pub fn set_requires_grad(&self, on: bool) -> Result<()> {
        if self.grad_fn().is_some() {
            if on {
                return Ok(());
            }
            return Err(Error::Runtime(
                "you can only change requires_grad flags of leaf variables. If you want to use a computed variable in a subgraph that doesn't require differentiation use var_no_grad = var.detach().".into(),
            ));
        }
        if on && !self.dtype().is_float() {
            return Err(Error::Runtime(
                "only Tensors of floating point and complex dtype can require gradients".into(),
            ));
        }
        self.meta().requires_grad = on;
        Ok(())
    }
    pub fn grad_fn(&self) -> Option<NodeRef> {
        self.meta().grad_fn.clone()
    }
    pub(crate) fn set_grad_fn(&self, f: Option<NodeRef>) {
        let old = std::mem::replace(&mut self.meta().grad_fn, f);
        drop(old);
    }
    pub fn is_leaf(&self) -> bool {
        self.meta().grad_fn.is_none()
    }
    pub fn grad(&self) -> Option<Tensor> {
        self.meta().grad.clone()
    }
    pub fn set_grad(&self, g: Option<Tensor>) {
        let old = std::mem::replace(&mut self.meta().grad, g);
        drop(old);
    }
    pub fn retains_grad(&self) -> bool {
        self.meta().retains_grad
    }
    /// `retain_grad()`: non-leaf tensors keep their gradient in `.grad`.
    pub fn retain_grad(&self) -> Result<()> {
        if !self.requires_grad() {
            return Err(Error::Runtime(
                "can't retain_grad on Tensor that has requires_grad=False".into(),
            ));
        }
        if let Some(f) = self.grad_fn() {
            if !self.retains_grad() {
                f.set_retain(self);
                self.meta().retains_grad = true;
            }
        }
        Ok(())
    }
    /// `register_hook`: leaves keep hooks on themselves, non-leaves on their node.
    pub fn register_hook(&self, hook: Hook) -> Result<()> {
        if !self.requires_grad() {
            return Err(Error::Runtime(
                "cannot register a hook on a tensor that doesn't require gradient".into(),
            ));
        }
        match self.grad_fn() {
            Some(f) => f.add_hook(hook),
            None => self.meta().hooks.push(hook),
        }
        Ok(())
    }
    pub(crate) fn leaf_hooks(&self) -> Vec<Hook> {
        self.meta().hooks.clone()
    }
    pub(crate) fn edge(&self) -> Edge {
        let m = self.meta();
        match &m.grad_fn {
            Some(f) => Edge::Node(f.clone()),
            None if m.requires_grad => Edge::Leaf(self.clone()),
            None => Edge::None,
        }
    }
    /// A new tensor sharing storage, outside any graph.
    pub fn detach(&self) -> Tensor {
        Tensor::from_parts(
            self.0.storage.clone(),
            self.0.layout.clone(),
            self.0.base.clone(),
        )
    }
    /// A tensor over `data`'s storage and layout that carries this tensor's autograd state
    /// (requires_grad, grad_fn, grad, leaf hooks): `param.data = other` when `other` lives on
    /// another device, so the Python object keeps its identity across `Module.to(device)`.
    pub fn with_data_of(&self, data: &Tensor) -> Tensor {
        let out = Tensor::from_parts(
            data.0.storage.clone(),
            data.0.layout.clone(),
            data.0.base.clone(),
        );
        {
            let m = self.meta();
            let mut o = out.meta();
            o.requires_grad = m.requires_grad;
            o.grad_fn = m.grad_fn.clone();
            o.grad = m.grad.clone();
            o.hooks = m.hooks.clone();
        }
        out
    }
    /// `detach_()`: drops this tensor's history in place.
    pub fn detach_(&self) {
        let mut m = self.meta();
        let old = m.grad_fn.take();
        m.requires_grad = false;
        drop(m);
        drop(old);
    }
    /// Backward from this tensor (`Tensor.backward`).
    pub fn backward(&self) -> Result<()> {
        if self.numel() != 1 {
            return Err(Error::Runtime(
                "grad can be implicitly created only for scalar outputs".into(),
            ));
        }
        let g = Tensor::ones_like(self)?;
        let opts = crate::autograd::BackwardOptions {
            retain_graph: false,
            create_graph: false,
            inputs: None,
            accumulate: true,
            allow_unused: true,
        };
        crate::autograd::run_backward(&[(self.clone(), g)], &opts)?;
        Ok(())
    }

    // ---- data access -----------------------------------------------------------------

    /// The elements in row-major order as `T` (the dtype must match), copied to the host.
    pub fn to_vec<T: Elem>(&self) -> Result<Vec<T>> {
        if T::DTYPE != self.dtype() {
            return Err(Error::Type(format!(
                "to_vec: tensor is {}, requested {}",
                self.dtype().name(),
                T::DTYPE.name()
            )));
        }
        self.backend()?.to_host(self.strided())?.into_vec::<T>()
    }

    /// Converts every element to f64 (row-major), on the host.
    pub fn to_f64_vec(&self) -> Result<Vec<f64>> {
        self.to_dtype_raw(DType::F64)?.to_vec::<f64>()
    }

    /// The single value of a one-element tensor as f64.
    pub fn item_f64(&self) -> Result<f64> {
        self.check_single("item")?;
        Ok(self.to_f64_vec()?[0])
    }

    pub fn item_i64(&self) -> Result<i64> {
        self.check_single("item")?;
        Ok(self.to_dtype_raw(DType::I64)?.to_vec::<i64>()?[0])
    }

    /// A contiguous copy as `dtype` (no autograd recording; shares nothing).
    pub(crate) fn to_dtype_raw(&self, dtype: DType) -> Result<Tensor> {
        let out = self.backend()?.cast(self.strided(), dtype)?;
        Tensor::from_kernel(out, self.shape())
    }

    fn check_single(&self, op: &str) -> Result<()> {
        if self.numel() != 1 {
            return Err(Error::Runtime(format!(
                "a Tensor with {} elements cannot be converted to Scalar ({op})",
                self.numel()
            )));
        }
        Ok(())
    }
}
