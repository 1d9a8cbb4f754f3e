"""rtorch: PyTorch's Python API on a Rust core.

``import rtorch as torch`` and write ordinary PyTorch code: tensors with PyTorch's dtype
inference, type promotion and broadcasting, autograd, ``nn``, ``optim`` and ``utils.data``.
"""

import builtins as _builtins

from rtorch import _C

if _C._cuda_is_built():
    # The CUDA wheels' NVRTC/cuBLAS must be loaded before the backend first opens them.
    from rtorch.cuda import _libs as _cuda_libs

    _cuda_libs.preload()

from rtorch._C import (
    OutOfMemoryError,
    Generator,
    Tensor,
    arange,
    as_tensor,
    bernoulli,
    can_cast,
    cat,
    device,
    dtype,
    einsum,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    get_num_threads,
    set_num_threads,
    initial_seed,
    linspace,
    logspace,
    multinomial,
    normal,
    ones,
    ones_like,
    promote_types,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    result_type,
    stack,
    tensor,
    where,
    zeros,
    zeros_like,
)
from rtorch._size import Size
from rtorch._tensor_str import set_printoptions
from rtorch.autograd.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from rtorch import _tensor  # noqa: F401  (attaches Python-level Tensor methods)
from rtorch import _tensor_extra  # noqa: F401,E402  (more Python-level Tensor methods)
from rtorch import _functions as _fn
from rtorch import return_types  # noqa: F401

__version__ = "0.1.0"

_fn.install(globals())

# dtypes and their PyTorch aliases
bool = _C.bool
uint8 = _C.uint8
int8 = _C.int8
int16 = _C.int16
int32 = _C.int32
int64 = _C.int64
float16 = _C.float16
bfloat16 = _C.bfloat16
float32 = _C.float32
float64 = _C.float64
short = int16
int = int32
long = int64
half = float16
float = float32
double = float64

default_generator = _C._default_generator()
concat = cat
concatenate = cat


def manual_seed(seed):
    """Seeds the default generator; returns it, like PyTorch."""
    _C.manual_seed(_builtins.int(seed))
    return default_generator


def seed():
    return default_generator.seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(state):
    default_generator.set_state(state)


def is_tensor(obj):
    return isinstance(obj, Tensor)


def is_storage(obj):
    return False


def is_floating_point(input):
    return input.is_floating_point()


def is_complex(input):
    return False


def is_nonzero(input):
    if input.numel() != 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
    return _builtins.bool(input.item())


def get_default_dtype():
    return float32


def set_default_dtype(d):
    if d != float32:
        raise NotImplementedError("rtorch: only float32 is supported as the default dtype")


def is_grad_enabled_():
    return _C.is_grad_enabled()


def hstack(tensors):
    tensors = [t if t.dim() > 0 else t.reshape(1) for t in tensors]
    return cat(tensors, 0 if tensors[0].dim() == 1 else 1)


def vstack(tensors):
    return cat([t.reshape(1, -1) if t.dim() < 2 else t for t in tensors], 0)


row_stack = vstack


def dstack(tensors):
    out = []
    for t in tensors:
        if t.dim() == 0:
            t = t.reshape(1, 1, 1)
        elif t.dim() == 1:
            t = t.reshape(1, -1, 1)
        elif t.dim() == 2:
            t = t.unsqueeze(-1)
        out.append(t)
    return cat(out, 2)


def column_stack(tensors):
    return cat([t.reshape(-1, 1) if t.dim() < 2 else t for t in tensors], 1)


def broadcast_shapes(*shapes):
    out = []
    for s in shapes:
        s = (s,) if isinstance(s, _builtins.int) else tuple(s)
        n = _builtins.max(len(out), len(s))
        out = [1] * (n - len(out)) + out
        s = (1,) * (n - len(s)) + s
        for i in range(n):
            if out[i] == 1:
                out[i] = s[i]
            elif s[i] != 1 and s[i] != out[i]:
                raise RuntimeError(f"Shape mismatch: objects cannot be broadcast to a single shape.  Mismatch is at dim {i}")
    return Size(out)


def broadcast_tensors(*tensors):
    shape = broadcast_shapes(*[t.shape for t in tensors])
    return tuple(t.expand(shape) for t in tensors)


def _tensor_args(args):
    """f(a, b, ...) or f([a, b, ...]): the tensors, and whether they came as one sequence."""
    packed = len(args) == 1 and isinstance(args[0], (list, tuple))
    return (tuple(args[0]) if packed else args), packed


def meshgrid(*tensors, indexing="ij"):
    tensors, _ = _tensor_args(tensors)
    if indexing not in ("ij", "xy"):
        raise ValueError(f"torch.meshgrid: indexing must be one of 'xy' or 'ij', but received: {indexing}")
    n = len(tensors)
    # Output axis that each input varies along: 'xy' swaps the first two.
    axes = list(range(n))
    if indexing == "xy" and n >= 2:
        axes[0], axes[1] = 1, 0
    shape = [0] * n
    for t, axis in zip(tensors, axes):
        shape[axis] = t.numel()
    grids = []
    for t, axis in zip(tensors, axes):
        view = [1] * n
        view[axis] = -1
        grids.append(t.reshape(view).expand(shape))
    return tuple(grids)


def diag(input, diagonal=0):
    if input.dim() == 1:
        n = input.shape[0] + _builtins.abs(diagonal)
        out = zeros(n, n, dtype=input.dtype, device=input.device)
        idx = arange(input.shape[0], device=input.device)
        r, c = (idx, idx + diagonal) if diagonal >= 0 else (idx - diagonal, idx)
        return out.index_put((r, c), input) if False else _diag_embed(out, r, c, input)
    return input.diagonal(diagonal).clone()


def _diag_embed(out, r, c, values):
    out = out.clone()
    out[r, c] = values
    if values.requires_grad:
        # Rebuild differentiably: scatter through index_put on a zero tensor.
        z = zeros(out.shape, dtype=values.dtype, device=values.device)
        z.index_put_((r, c), values)
        return z
    return out


def trace(input):
    return input.diagonal().sum()


def tensordot(a, b, dims=2):
    if isinstance(dims, _builtins.int):
        da = list(range(a.dim() - dims, a.dim()))
        db = list(range(dims))
    else:
        da, db = [list(d) if not isinstance(d, _builtins.int) else [d] for d in dims]
    letters = "abcdefghijklmnopqrstuvwxyz"
    la = list(letters[: a.dim()])
    lb = list(letters[a.dim() : a.dim() + b.dim()])
    for x, y in zip(da, db):
        lb[y] = la[x]
    out = [c for i, c in enumerate(la) if i not in da] + [c for i, c in enumerate(lb) if i not in db]
    return einsum(f"{''.join(la)},{''.join(lb)}->{''.join(out)}", a, b)


def _at_least(args, ndim):
    tensors, packed = _tensor_args(args)
    # Missing leading dims are added as size 1 (a vector becomes a row for 2-D).
    out = tuple(
        t.reshape([1] * (ndim - t.dim()) + list(t.shape)) if t.dim() < ndim else t
        for t in tensors
    )
    return out if packed or len(out) != 1 else out[0]


def atleast_1d(*tensors):
    return _at_least(tensors, 1)


def atleast_2d(*tensors):
    return _at_least(tensors, 2)


def cdist(x1, x2, p=2.0):
    diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    return diff.norm(p, dim=-1)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    # One implementation: dim refers to the broadcast shape, norms clamped as PyTorch does.
    return nn.functional.cosine_similarity(x1, x2, dim, eps)


def numel(input):
    return input.numel()


def softmax(input, dim, dtype=None):
    return input.softmax(dim, dtype=dtype)


def log_softmax(input, dim, dtype=None):
    return input.log_softmax(dim, dtype=dtype)


from rtorch import autograd, cuda, backends, testing  # noqa: E402
from rtorch.backends.cuda import (  # noqa: E402
    get_float32_matmul_precision,
    set_float32_matmul_precision,
)
from rtorch import nn, optim, utils  # noqa: E402
from rtorch.serialization import load, save  # noqa: E402
from rtorch.nn.parameter import Parameter  # noqa: E402,F401
from rtorch import _nn_ops  # noqa: E402

_nn_ops.install(globals())
