//! Fused neural-network kernels: softmax rows, normalisation statistics, im2col/col2im,
//! pooling indices.

use super::memory_overlaps;
use super::Strided;
use super::UnaryOp;
use crate::error::{Error, Result};
use crate::storage::Storage;

/// Geometry of a sliding 2-D window (kernel, stride, zero padding, dilation per axis).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Window {
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    pub ph: usize,
    pub pw: usize,
    pub dh: usize,
    pub dw: usize,
}

impl Window {
    /// Output size along one axis (floor or ceil mode), or None when the window does not fit
    /// or the arithmetic overflows. `k`, `s` and `d` must be positive.
    pub fn out_len(n: usize, k: usize, s: usize, p: usize, d: usize, ceil: bool) -> Option<usize> {
        let span = d.checked_mul(k.checked_sub(1)?)?.checked_add(1)?;
        let padded = n.checked_add(p.checked_mul(2)?)?;
        // Kernels index with signed offsets: the padded size must fit an isize.
        if padded < span || s == 0 || padded > isize::MAX as usize {
            return None;
        }
        let num = padded - span;
        let mut o = if ceil { num.div_ceil(s) } else { num / s } + 1;
        // PyTorch: in ceil mode the last window must start inside the input or left padding.
        if ceil && (o - 1).checked_mul(s)? >= n + p {
            o -= 1;
        }
        Some(o)
    }
}

/// `running_stat_update`'s precondition: same dtype and length, no shared memory.
pub fn check_running_stat(running: Strided, batch: Strided) -> Result<()> {
    if running.dtype() != batch.dtype() || running.numel() != batch.numel() {
        return Err(Error::Runtime(format!(
            "internal error: running statistic {} {:?} vs batch statistic {} {:?}",
            running.dtype().name(),
            running.shape(),
            batch.dtype().name(),
            batch.shape()
        )));
    }
    if memory_overlaps(running.storage, batch.storage) {
        return Err(Error::Runtime(
            "running_stat_update: the batch statistic overlaps the running one".into(),
        ));
    }
    Ok(())
}

/// What a fused layer-norm forward returns: the output, and per row the mean and `1/sqrt(var +
/// eps)` (in the input's dtype).
pub struct LayerNormOut {
    pub y: Storage,
    pub mean: Storage,
    pub rstd: Storage,
}

/// Layer-norm gradients: for the input, and (when asked for) the weight and bias, each summed
/// over the rows.
pub struct LayerNormGrads {
    pub input: Storage,
    pub weight: Option<Storage>,
    pub bias: Option<Storage>,
}

/// A fused LSTM layer's forward (all contiguous, of the inputs' dtype). Steps are numbered in
/// processing order (from the last time step when the layer runs in reverse).
pub struct LstmLayerOut {
    /// `[T + 1, N, H]`: the hidden state after every time step (in time order), then the
    /// final cell state.
    pub packed: Storage,
    /// `[T, N, 4H]`: the activated gates `[i, f, g, o]` of each processing step.
    pub gates: Storage,
    /// `[T + 1, N, H]`: the cell state before the first processing step, then after each.
    pub cells: Storage,
    /// `[T, N, H]`: the hidden state entering each time step (in time order).
    pub h_in: Storage,
}

/// Gradients of a fused LSTM layer: of the input projections `[T, N, 4H]` (in time order),
/// and of the initial hidden and cell states `[N, H]`.
pub struct LstmLayerGrads {
    pub xw: Storage,
    pub h0: Storage,
    pub c0: Storage,
}

pub trait NnKernels {
    /// A whole LSTM layer (one direction): from the input projections `xw` `[T, N, 4H]`
    /// (input bias included), initial states `h0`, `c0` `[N, H]`, the recurrent weight
    /// `w_hh` `[4H, H]` and bias `b_hh` `[4H]`, runs `z = xw[t] + h·W_hhᵀ + b_hh`,
    /// `c' = σ(f)·c + σ(i)·tanh(g)`, `h' = σ(o)·tanh(c')` over every step (from the last
    /// one when `reverse`). `Ok(None)` when the backend has no fused kernel for the dtype or
    /// shape (the tensor layer composes the recurrence).
    fn lstm_layer(
        &self,
        _xw: Strided,
        _states: (Strided, Strided),
        _w_hh: Strided,
        _b_hh: Option<Strided>,
        _reverse: bool,
    ) -> Result<Option<LstmLayerOut>> {
        Ok(None)
    }

    /// The backward of `lstm_layer` from the gradient of its packed output `[T + 1, N, H]`,
    /// the saved gates and cell states and the recurrent weight.
    fn lstm_layer_backward(
        &self,
        _grad: Strided,
        _saved: (Strided, Strided),
        _w_hh: Strided,
        _reverse: bool,
    ) -> Result<Option<LstmLayerGrads>> {
        Ok(None)
    }

    /// Layer norm over `m` rows of `d` (the row-major order of `x`): `(x - mean)·rstd·w + b`,
    /// with `w`, `b` views of `d` elements. `Ok(None)` when the backend has no fused kernel
    /// for this dtype (the tensor layer then composes the op).
    fn layer_norm(
        &self,
        _x: Strided,
        _w: Option<Strided>,
        _b: Option<Strided>,
        _rows: (usize, usize),
        _eps: f64,
    ) -> Result<Option<LayerNormOut>> {
        Ok(None)
    }

    /// The backward of `layer_norm` from the output gradient `g`, the input and the saved
    /// per-row statistics; `weight_grad` / `bias_grad` select the parameter gradients.
    /// `Ok(None)` as for `layer_norm`.
    #[allow(clippy::too_many_arguments)]
    fn layer_norm_backward(
        &self,
        _g: Strided,
        _x: Strided,
        _stats: (Strided, Strided),
        _w: Option<Strided>,
        _rows: (usize, usize),
        _weight_grad: bool,
        _bias_grad: bool,
    ) -> Result<Option<LayerNormGrads>> {
        Ok(None)
    }

    /// Softmax (or log-softmax with `log`) of every lane along `dim` of a float view; a
    /// contiguous output of the same shape and dtype (half types computed in f32).
    fn softmax(&self, src: Strided, dim: usize, log: bool) -> Result<Storage>;

    /// The backward of `softmax` along the last dim from its output `y` and the output
    /// gradient `g` (same shape and dtype): a contiguous gradient of that shape. `Ok(None)`
    /// when the backend has no fused kernel for this case (the tensor layer composes it).
    fn softmax_backward(&self, _y: Strided, _g: Strided, _log: bool) -> Result<Option<Storage>> {
        Ok(None)
    }

    /// ReLU's backward (PyTorch's `threshold_backward`) in one pass: `g` where
    /// `y > threshold` (and where `y` is NaN), 0 elsewhere, for `y` and `g` of one shape and
    /// dtype; a contiguous storage. `Ok(None)` when the backend has no fused kernel for the
    /// dtype (the tensor layer composes a mask and a select).
    fn threshold_backward(
        &self,
        _y: Strided,
        _g: Strided,
        _threshold: f64,
    ) -> Result<Option<Storage>> {
        Ok(None)
    }

    /// The backward of sigmoid or tanh from their output in one pass: `g·y·(1 − y)` and
    /// `g·(1 − y²)`, for `y` and `g` of one shape and dtype; a contiguous storage.
    /// `Ok(None)` for other ops, or when the backend has no fused kernel for the dtype (the
    /// tensor layer composes the products).
    fn output_backward(&self, _op: UnaryOp, _y: Strided, _g: Strided) -> Result<Option<Storage>> {
        Ok(None)
    }

    /// Mean and biased variance of a float view `[outer, c, inner]` over dims 0 and 2: two
    /// storages of `c` elements in the input's dtype (accumulated in f64).
    fn moments(&self, src: Strided) -> Result<(Storage, Storage)>;

    /// In place: `running[i] = (1 - momentum)·running[i] + momentum·scale·batch[i]` (batch
    /// norm's running statistics). `batch` has `running`'s shape and dtype and does not overlap
    /// it.
    fn running_stat_update(
        &self,
        running: Strided,
        batch: Strided,
        momentum: f64,
        scale: f64,
    ) -> Result<()>;

    /// im2col of a float view `[planes, h, w]` → contiguous `[planes, kh·kw, oh·ow]` (zero
    /// padding); `oh`, `ow` come from `Window::out_len`.
    fn im2col(&self, src: Strided, win: Window, oh: usize, ow: usize) -> Result<Storage>;

    /// col2im, the adjoint of `im2col`: a float view `[planes, kh·kw, oh·ow]` → contiguous
    /// `[planes, h, w]`, summing overlapping windows.
    fn col2im(
        &self,
        src: Strided,
        h: usize,
        w: usize,
        win: Window,
        oh: usize,
        ow: usize,
    ) -> Result<Storage>;

    /// Fused 2-D convolution of float views `x [n, c, h, w]` and `w [o, c/groups, kh, kw]`
    /// (one dtype; `win` carries the kernel size, stride, padding and dilation) plus an
    /// optional `bias` of `o` elements: a contiguous `[n, o, oh, ow]` storage. `Ok(None)`
    /// when the backend has no such kernel or does not take these shapes (the tensor layer
    /// then composes im2col and matmul).
    fn conv2d(
        &self,
        _x: Strided,
        _w: Strided,
        _bias: Option<Strided>,
        _win: Window,
        _groups: usize,
    ) -> Result<Option<Storage>> {
        Ok(None)
    }

    /// `conv2d`'s gradients from the output gradient `g [n, o, oh, ow]`: the input's
    /// `[n, c, h, w]` and the weight's `[o, c/groups, kh, kw]`, each only when its flag in
    /// `need` is set. `Ok(None)` as for `conv2d`.
    #[allow(clippy::too_many_arguments)]
    fn conv2d_backward(
        &self,
        _x: Strided,
        _w: Strided,
        _g: Strided,
        _win: Window,
        _groups: usize,
        _need: (bool, bool),
    ) -> Result<Option<(Option<Storage>, Option<Storage>)>> {
        Ok(None)
    }

    /// Max pooling of a float view `[planes, h, w]`: the flat index `y·w + x` of every
    /// window's maximum (NaN wins; padding is never selected) as a contiguous int64
    /// `[planes, oh, ow]` storage.
    fn max_pool2d_indices(
        &self,
        src: Strided,
        win: Window,
        oh: usize,
        ow: usize,
    ) -> Result<Storage>;

    /// Per-channel affine map of a float view `[outer, c, inner]`:
    /// `a[ch]·x + b[ch] (+ e[ch]·z)`, with `a`, `b`, `e` views of `c` elements and `z` shaped
    /// like `x`; a contiguous result of `x`'s shape. `Ok(None)` when the backend has no such
    /// kernel (batch norm then composes broadcast ops).
    fn channel_affine(
        &self,
        _x: Strided,
        _a: Strided,
        _b: Strided,
        _extra: Option<(Strided, Strided)>,
    ) -> Result<Option<Storage>> {
        Ok(None)
    }

    /// Per-channel `Σ g` and `Σ g·x` over dims 0 and 2 of two float views `[outer, c, inner]`
    /// (accumulated in f64), as two storages of `c` in `g`'s dtype. `Ok(None)` as for
    /// `channel_affine`.
    fn channel_sums(&self, _g: Strided, _x: Strided) -> Result<Option<(Storage, Storage)>> {
        Ok(None)
    }

    /// Max pooling's values and indices (as `max_pool2d_indices`) in one pass: a values
    /// storage in the input's dtype and the int64 indices, both `[planes, oh, ow]`.
    /// `Ok(None)` when the backend has no such kernel (the values are then gathered).
    fn max_pool2d(
        &self,
        _src: Strided,
        _win: Window,
        _oh: usize,
        _ow: usize,
    ) -> Result<Option<(Storage, Storage)>> {
        Ok(None)
    }

    /// The backward of max pooling: `g` and `indices` are `[planes, l]` (the gradient of
    /// each output and the flat index of its input); the result `[planes, hw]` sums the
    /// gradients that reach each input. `Ok(None)` when the backend has no such kernel.
    fn max_pool2d_backward(
        &self,
        _g: Strided,
        _indices: Strided,
        _hw: usize,
    ) -> Result<Option<Storage>> {
        Ok(None)
    }
}
