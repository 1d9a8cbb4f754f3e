//! Autocast (automatic mixed precision): thread-local state per device type, and the casting
//! policy ops apply at their entry in the tensor layer.
//!
//! An op that has a policy calls [`apply`] first. When autocast is on for the device type of
//! its inputs, it gets back its inputs cast to the op's dtype together with a guard that
//! suspends autocast while the op runs, so the ops it is built from keep the dtypes the
//! policy chose (PyTorch's dispatcher does the same by excluding its autocast key while it
//! redispatches). The backward sweep runs suspended too: backward ops see the dtypes the
//! forward ops used. Casts are ordinary differentiable `to_dtype` copies, so gradients
//! reach each parameter in its own dtype.

use crate::device::Device;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;

/// The device types autocast keeps separate state for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum DeviceType {
    Cpu,
    Cuda,
}

impl DeviceType {
    pub fn parse(s: &str) -> Result<DeviceType> {
        match s {
            "cpu" => Ok(DeviceType::Cpu),
            "cuda" => Ok(DeviceType::Cuda),
            _ => Err(Error::Runtime(format!(
                "User specified an unsupported autocast device_type '{s}'"
            ))),
        }
    }

    fn of(d: Device) -> DeviceType {
        match d {
            Device::Cpu => DeviceType::Cpu,
            Device::Cuda(_) => DeviceType::Cuda,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// What an op does with its floating-point inputs under autocast.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Policy {
    /// Cast to the autocast dtype (float16/bfloat16): GEMM-bound ops.
    LowPrecision,
    /// Cast to float32: ops whose range or accuracy suffers in 16 bits.
    Float32,
    /// Cast every input to the widest floating dtype among them.
    Promote,
}

// The op lists, by PyTorch op name (the documented CPU and CUDA autocast lists, restricted to
// the ops rtorch has; the rest of each list is listed where those ops are added).
const LOW_COMMON: &[&str] = &[
    "matmul",
    "mm",
    "bmm",
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "addmm",
    "addbmm",
    "baddbmm",
    "einsum",
    "prelu",
    "scaled_dot_product_attention",
    "chain_matmul",
    "multi_dot",
    "linalg_vecdot",
    "lstm",
];
const LOW_CPU_ONLY: &[&str] = &["tensordot"];
const LOW_CUDA_ONLY: &[&str] = &["mv", "addmv", "addr", "lstm_cell", "gru_cell", "rnn_cell"];
const F32_COMMON: &[&str] = &[
    "prod",
    "cdist",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "mse_loss",
    "l1_loss",
    "smooth_l1_loss",
    "huber_loss",
    "nll_loss",
    "cross_entropy",
    "kl_div",
    "cosine_embedding_loss",
    "hinge_embedding_loss",
    "margin_ranking_loss",
    "soft_margin_loss",
    "triplet_margin_loss",
    "multi_margin_loss",
    "multilabel_margin_loss",
    "poisson_nll_loss",
    "multilabel_soft_margin_loss",
    "ctc_loss",
    "linalg_matrix_sqrth",
];
const F32_CPU_ONLY: &[&str] = &[
    "trace",
    "quantile",
    "nanquantile",
    "max_pool3d",
    "avg_pool3d",
    "adaptive_avg_pool3d",
    "grid_sampler",
    "max_unpool2d",
    "max_unpool3d",
    "reflection_pad1d",
    "reflection_pad2d",
    "replication_pad1d",
    "replication_pad2d",
    "replication_pad3d",
    // Factorizations and solves (LAPACK on PyTorch's CPU has no 16-bit kernels).
    "linalg_cholesky",
    "linalg_cholesky_ex",
    "linalg_cond",
    "linalg_eig",
    "linalg_eigvals",
    "linalg_eigh",
    "linalg_eigvalsh",
    "linalg_householder_product",
    "linalg_inv",
    "linalg_inv_ex",
    "linalg_lstsq",
    "linalg_matrix_rank",
    "linalg_qr",
    "linalg_solve",
    "linalg_svd",
    "linalg_svdvals",
    "linalg_tensorinv",
    "linalg_tensorsolve",
    "inverse",
    "pinverse",
    "cholesky",
    "cholesky_solve",
    "cholesky_inverse",
    "qr",
    "svd",
    "triangular_solve",
    "lu_solve",
];
const F32_CUDA_ONLY: &[&str] = &[
    "pow",
    "rpow",
    "rdiv",
    "acos",
    "asin",
    "cosh",
    "sinh",
    "tan",
    "exp",
    "expm1",
    "log",
    "log10",
    "log1p",
    "log2",
    "erfinv",
    "reciprocal",
    "rsqrt",
    "softplus",
    "softmax",
    "softmin",
    "log_softmax",
    "layer_norm",
    "group_norm",
    "norm",
    "normalize",
    "cumsum",
    "cumprod",
    "sum",
    "dist",
    "pdist",
    "renorm",
    "cosine_similarity",
    "logsumexp",
    "linalg_vector_norm",
    "linalg_matrix_norm",
    "rms_norm",
    // interpolate / upsample, by mode and dimensionality.
    "upsample_nearest1d",
    "upsample_nearest2d",
    "upsample_nearest3d",
    "_upsample_nearest_exact1d",
    "_upsample_nearest_exact2d",
    "_upsample_nearest_exact3d",
    "upsample_linear1d",
    "upsample_bilinear2d",
    "upsample_trilinear3d",
    "upsample_bicubic2d",
];
const PROMOTE_COMMON: &[&str] = &["cat", "stack", "index_copy"];
const PROMOTE_CUDA_ONLY: &[&str] = &[
    "addcdiv",
    "addcmul",
    "atan2",
    "bilinear",
    "cross",
    "dot",
    "index_put",
    "scatter_add",
    "tensordot",
    "vdot",
];

/// The policy PyTorch applies to `op` for `dev`, if any.
pub fn policy(op: &str, dev: DeviceType) -> Option<Policy> {
    let cuda = dev == DeviceType::Cuda;
    let has = |l: &[&str]| l.contains(&op);
    if has(LOW_COMMON) || (cuda && has(LOW_CUDA_ONLY)) || (!cuda && has(LOW_CPU_ONLY)) {
        Some(Policy::LowPrecision)
    } else if has(F32_COMMON) || (cuda && has(F32_CUDA_ONLY)) || (!cuda && has(F32_CPU_ONLY)) {
        Some(Policy::Float32)
    } else if has(PROMOTE_COMMON) || (cuda && has(PROMOTE_CUDA_ONLY)) {
        Some(Policy::Promote)
    } else {
        None
    }
}

struct State {
    enabled: [bool; 2],
    dtype: [DType; 2],
    cache_enabled: bool,
    nesting: i64,
    suspended: u32,
    /// Casts of leaf parameters, reused inside one autocast region (keyed by the source's
    /// identity and target dtype; the source is held so the key cannot be reused).
    cache: HashMap<(usize, DType), (Tensor, Tensor)>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State {
        enabled: [false, false],
        dtype: [DType::BF16, DType::F16],
        cache_enabled: true,
        nesting: 0,
        suspended: 0,
        cache: HashMap::new(),
    });
    /// Some device type enabled and not suspended: the one check every op pays.
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
}

fn with<R>(f: impl FnOnce(&mut State) -> R) -> R {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        let r = f(&mut s);
        let active = s.suspended == 0 && s.enabled.iter().any(|&e| e);
        ACTIVE.with(|a| a.set(active));
        r
    })
}

pub fn is_enabled(dev: DeviceType) -> bool {
    with(|s| s.enabled[dev.index()])
}

pub fn set_enabled(dev: DeviceType, on: bool) {
    with(|s| s.enabled[dev.index()] = on)
}

pub fn dtype(dev: DeviceType) -> DType {
    with(|s| s.dtype[dev.index()])
}

/// Sets the low-precision dtype for `dev` (float16 or bfloat16; others are refused).
pub fn set_dtype(dev: DeviceType, dt: DType) -> Result<()> {
    if !matches!(dt, DType::F16 | DType::BF16) {
        return Err(Error::Runtime(format!(
            "autocast: the low-precision dtype must be float16 or bfloat16, got {}",
            dt.name()
        )));
    }
    with(|s| s.dtype[dev.index()] = dt);
    Ok(())
}

pub fn is_cache_enabled() -> bool {
    with(|s| s.cache_enabled)
}

pub fn set_cache_enabled(on: bool) {
    with(|s| s.cache_enabled = on)
}

pub fn increment_nesting() -> i64 {
    with(|s| {
        s.nesting += 1;
        s.nesting
    })
}

pub fn decrement_nesting() -> i64 {
    with(|s| {
        s.nesting -= 1;
        s.nesting
    })
}

pub fn clear_cache() {
    // Dropped outside the borrow: releasing tensors may run arbitrary destructors.
    let old = with(|s| std::mem::take(&mut s.cache));
    drop(old);
}

/// True when some device type has autocast on and ops are not suspended.
#[inline]
pub fn is_active() -> bool {
    ACTIVE.with(|a| a.get())
}

/// Suspends autocast until dropped (nests).
pub struct Suspend(());

impl Drop for Suspend {
    fn drop(&mut self) {
        with(|s| s.suspended = s.suspended.saturating_sub(1));
    }
}

pub fn suspend() -> Suspend {
    with(|s| s.suspended += 1);
    Suspend(())
}

impl Suspend {
    /// The guard of a suspension begun earlier and forgotten (the Python wrappers begin and
    /// end theirs in two calls); dropping it ends that suspension.
    pub fn resume_one() -> Suspend {
        Suspend(())
    }
}

/// Clears the suspension (an explicit autocast region inside a suspended one, e.g. a custom
/// backward that re-enters the forward's autocast) and returns the count to restore later.
pub fn take_suspension() -> u32 {
    with(|s| std::mem::take(&mut s.suspended))
}

pub fn restore_suspension(n: u32) {
    with(|s| s.suspended = n)
}

/// An op's inputs after its autocast policy, and the guard that keeps autocast suspended
/// while the op runs.
pub struct Cast {
    pub args: Vec<Tensor>,
    _guard: Suspend,
}

impl Cast {
    pub fn arg(&self, i: usize) -> &Tensor {
        &self.args[i]
    }

    /// The cast of an optional input that was passed after `i` mandatory ones.
    pub fn opt(&self, i: usize, present: bool) -> Option<&Tensor> {
        present.then(|| &self.args[i])
    }
}

/// Applies `op`'s autocast policy to `inputs`: None when autocast is off for their device
/// type (or suspended) or `op` has no policy there; the op then runs unchanged.
#[inline]
pub fn apply(op: &str, inputs: &[&Tensor]) -> Result<Option<Cast>> {
    if !is_active() {
        return Ok(None);
    }
    let Some(args) = cast_inputs(op, inputs)? else {
        return Ok(None);
    };
    Ok(Some(Cast {
        args,
        _guard: suspend(),
    }))
}

/// The inputs cast by `op`'s policy (None when the policy does not apply), without
/// suspending: for ops composed in Python, whose wrapper suspends around the body itself.
pub fn cast_inputs(op: &str, inputs: &[&Tensor]) -> Result<Option<Vec<Tensor>>> {
    if !is_active() || inputs.is_empty() {
        return Ok(None);
    }
    let dev = if inputs.iter().any(|t| matches!(t.device(), Device::Cuda(_))) {
        DeviceType::Cuda
    } else {
        DeviceType::Cpu
    };
    let (on, low, cache_on) = with(|s| {
        (
            s.enabled[dev.index()],
            s.dtype[dev.index()],
            s.cache_enabled,
        )
    });
    if !on {
        return Ok(None);
    }
    let Some(pol) = policy(op, dev) else {
        return Ok(None);
    };
    // Float64 and non-float tensors, and tensors on another device type, are left alone.
    let eligible = |t: &Tensor| {
        let dt = t.dtype();
        dt.is_float() && dt != DType::F64 && DeviceType::of(t.device()) == dev
    };
    let target = match pol {
        Policy::LowPrecision => low,
        Policy::Float32 => DType::F32,
        Policy::Promote => {
            let mut widest: Option<DType> = None;
            for t in inputs.iter().filter(|t| eligible(t)) {
                widest = Some(match widest {
                    None => t.dtype(),
                    Some(w) if w == t.dtype() => w,
                    // Two different 16-bit types, or one of them float32: float32.
                    Some(_) => DType::F32,
                });
            }
            match widest {
                Some(w) => w,
                None => return Ok(Some(inputs.iter().map(|&t| t.clone()).collect())),
            }
        }
    };
    let mut out = Vec::with_capacity(inputs.len());
    for &t in inputs {
        if !eligible(t) || t.dtype() == target {
            out.push(t.clone());
            continue;
        }
        let cacheable = cache_on
            && pol == Policy::LowPrecision
            && t.dtype() == DType::F32
            && t.requires_grad()
            && t.is_leaf()
            && !t.is_view()
            && crate::autograd::is_grad_enabled();
        if !cacheable {
            out.push(t.to_dtype(target)?);
            continue;
        }
        let key = (std::sync::Arc::as_ptr(&t.0) as usize, target);
        if let Some(hit) = with(|s| s.cache.get(&key).map(|(_, c)| c.clone())) {
            out.push(hit);
            continue;
        }
        let c = t.to_dtype(target)?;
        with(|s| s.cache.insert(key, (t.clone(), c.clone())));
        out.push(c);
    }
    Ok(Some(out))
}

/// For ops with an optional `dtype` argument on the float32 lists (softmax, sum, cumsum…):
/// the dtype to compute in. An explicit `dtype` wins; under autocast an eligible 16-bit
/// input runs in float32, as if `dtype=torch.float32` had been passed.
pub fn fp32_dtype(op: &str, t: &Tensor, given: Option<DType>) -> Option<DType> {
    if given.is_some() || !is_active() {
        return given;
    }
    let dev = DeviceType::of(t.device());
    let on = with(|s| s.enabled[dev.index()]);
    let low = matches!(t.dtype(), DType::F16 | DType::BF16);
    (on && low && policy(op, dev) == Some(Policy::Float32)).then_some(DType::F32)
}

/// The PyTorch name of a unary op that has an autocast policy (the CUDA float32 list).
pub fn unary_name(op: crate::backend::UnaryOp) -> Option<&'static str> {
    use crate::backend::UnaryOp::*;
    Some(match op {
        Exp => "exp",
        Expm1 => "expm1",
        Log => "log",
        Log2 => "log2",
        Log10 => "log10",
        Log1p => "log1p",
        Rsqrt => "rsqrt",
        Reciprocal => "reciprocal",
        Tan => "tan",
        Asin => "asin",
        Acos => "acos",
        Sinh => "sinh",
        Cosh => "cosh",
        Erfinv => "erfinv",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_follow_the_device_type() {
        assert_eq!(policy("mm", DeviceType::Cpu), Some(Policy::LowPrecision));
        assert_eq!(policy("mv", DeviceType::Cpu), None);
        assert_eq!(policy("mv", DeviceType::Cuda), Some(Policy::LowPrecision));
        assert_eq!(policy("softmax", DeviceType::Cpu), None);
        assert_eq!(policy("softmax", DeviceType::Cuda), Some(Policy::Float32));
        assert_eq!(policy("mse_loss", DeviceType::Cpu), Some(Policy::Float32));
        assert_eq!(policy("cat", DeviceType::Cuda), Some(Policy::Promote));
        assert_eq!(policy("relu", DeviceType::Cuda), None);
        assert_eq!(
            policy("tensordot", DeviceType::Cpu),
            Some(Policy::LowPrecision)
        );
        assert_eq!(policy("tensordot", DeviceType::Cuda), Some(Policy::Promote));
        assert_eq!(policy("linalg_inv", DeviceType::Cpu), Some(Policy::Float32));
        assert_eq!(policy("linalg_inv", DeviceType::Cuda), None);
        assert_eq!(policy("pow", DeviceType::Cpu), None);
    }

    #[test]
    fn casts_and_suspends() {
        let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
        let d = a.to_dtype(DType::F64).unwrap();
        assert!(apply("mm", &[&a, &a]).unwrap().is_none());
        set_enabled(DeviceType::Cpu, true);
        {
            let c = apply("mm", &[&a, &d]).unwrap().unwrap();
            assert_eq!(c.arg(0).dtype(), DType::BF16);
            assert_eq!(c.arg(1).dtype(), DType::F64);
            // Inside the op nothing is cast again.
            assert!(apply("mm", &[&a, &a]).unwrap().is_none());
        }
        assert!(apply("mm", &[&a, &a]).unwrap().is_some());
        assert!(apply("relu", &[&a]).unwrap().is_none());
        set_enabled(DeviceType::Cpu, false);
        assert!(!is_active());
    }
}
