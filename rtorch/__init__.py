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
from rtorch._tensor_layout import (  # noqa: E402,F401  (also installs in-place layout changes)
    layout,
    sparse_bsc,
    sparse_bsr,
    sparse_coo,
    sparse_csc,
    sparse_csr,
    strided,
)
from rtorch import _functions as _fn
from rtorch import return_types  # noqa: F401
from rtorch._autocast_ops import autocast_op  # noqa: E402

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
    """The dtype Python floats and float creation functions get (float32 unless changed)."""
    return _C._get_default_dtype()


def set_default_dtype(d):
    """Sets the default float dtype process-wide (float16, bfloat16, float32 or float64)."""
    if not isinstance(d, dtype):
        raise TypeError(f"set_default_dtype(): argument 'd' must be torch.dtype, not {type(d).__name__}")
    _C._set_default_dtype(d)


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


@autocast_op("trace")
def trace(input):
    return input.diagonal().sum()


@autocast_op("tensordot")
def tensordot(a, b, dims=2, out=None):
    if out is not None:
        from rtorch._out import check_out, store

        check_out("tensordot", out, (a, b))
        return store("tensordot", tensordot(a, b, dims), out)
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
    kept = [c for i, c in enumerate(la) if i not in da] + [c for i, c in enumerate(lb) if i not in db]
    return einsum(f"{''.join(la)},{''.join(lb)}->{''.join(kept)}", a, b)


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


@autocast_op("cdist")
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
from rtorch import distributed  # noqa: E402  (imports no MPI until init_process_group)
from rtorch import linalg  # noqa: E402
from rtorch import func  # noqa: E402
from rtorch.func import vmap  # noqa: E402,F401
from rtorch.serialization import load, save  # noqa: E402
from rtorch.nn.parameter import Parameter  # noqa: E402,F401
from rtorch import _nn_ops  # noqa: E402

_nn_ops.install(globals())

from rtorch import accelerator, profiler, random  # noqa: E402
from rtorch._legacy_tensors import (  # noqa: E402
    BFloat16Tensor,
    BoolTensor,
    ByteTensor,
    CharTensor,
    DoubleTensor,
    FloatTensor,
    HalfTensor,
    IntTensor,
    LongTensor,
    ShortTensor,
)
from rtorch.autograd.anomaly_mode import is_anomaly_check_nan_enabled, is_anomaly_enabled  # noqa: E402

# ---- default device -----------------------------------------------------------------------
# Factory functions that place their result on the default device when given no device.
_DEVICE_FACTORIES = (
    "tensor", "as_tensor", "zeros", "ones", "empty", "full", "rand", "randn", "randint",
    "randperm", "arange", "linspace", "logspace", "eye",
)
_native_factories = {name: globals()[name] for name in _DEVICE_FACTORIES}
_default_device = device("cpu")


def _on_default_device(name, native, target):
    """``native`` with ``device=None`` meaning ``target`` (an explicit device or ``out=`` wins;
    ``as_tensor`` of a tensor keeps the tensor's device, as in PyTorch)."""

    def factory(*args, device=None, **kwargs):
        if device is None and kwargs.get("out") is None:
            if not (name == "as_tensor" and args and isinstance(args[0], Tensor)):
                device = target
        return native(*args, device=device, **kwargs)

    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = native.__doc__
    return factory


def _install_device_factories(target):
    """Routes the factory functions to ``target``; None restores the native (CPU) ones."""
    g = globals()
    for name, native in _native_factories.items():
        g[name] = native if target is None else _on_default_device(name, native, target)


def set_default_device(device):
    """Sets the device tensors are created on by factory functions (``zeros``, ``tensor``,
    ``randn``, …, and so ``nn`` layers' parameters) when no ``device`` is given.

    None or "cpu" restores the default. A CUDA device must be usable now: unlike PyTorch,
    which fails at the first factory call, rtorch checks when the default is set and raises
    the same ``RuntimeError``. ``Tensor(*sizes)`` and the legacy typed constructors always
    create CPU tensors.
    """
    global _default_device
    dev = _C.device("cpu") if device is None else _C.device(device)
    if dev.type == "cpu":
        _default_device = _C.device("cpu")
        _install_device_factories(None)
        return
    if dev.type != "cuda":
        raise RuntimeError(f"rtorch: set_default_device({dev.type!r}) is not supported; rtorch has cpu and cuda devices")
    cuda._lazy_init()  # raises PyTorch's message when CUDA cannot be used
    if dev.index is not None and not 0 <= dev.index < cuda.device_count():
        raise RuntimeError(f"CUDA error: invalid device ordinal (device {dev})")
    _default_device = dev
    _install_device_factories(dev)


def get_default_device():
    """The device factory functions use when none is given (``device('cpu')`` unless
    :func:`set_default_device` chose another); an unindexed CUDA default reports the
    current CUDA device."""
    if _default_device.type == "cuda" and _default_device.index is None:
        return _C.device("cuda", cuda.current_device())
    return _default_device


# ---- determinism --------------------------------------------------------------------------
_deterministic = {"enabled": False, "warn_only": False}


def use_deterministic_algorithms(mode, *, warn_only=False):
    """Records whether programs ask for deterministic algorithms.

    rtorch has a single implementation of each operation, so the setting selects nothing and
    never raises for an operation PyTorch would flag as nondeterministic; it is kept so that
    programs setting and reading it run unchanged.
    """
    if not isinstance(mode, _builtins.bool):
        raise TypeError(f"use_deterministic_algorithms(): argument 'mode' must be bool, not {type(mode).__name__}")
    _deterministic["enabled"] = mode
    _deterministic["warn_only"] = _builtins.bool(warn_only)


def are_deterministic_algorithms_enabled():
    return _deterministic["enabled"]


def is_deterministic_algorithms_warn_only_enabled():
    return _deterministic["warn_only"]


def set_deterministic_debug_mode(debug_mode):
    """0/"default" off, 1/"warn" on with warn_only, 2/"error" on."""
    modes = {"default": 0, "warn": 1, "error": 2}
    if isinstance(debug_mode, str):
        if debug_mode not in modes:
            raise RuntimeError(f"invalid value of debug_mode, expected one of `default`, `warn`, `error`, but got {debug_mode}")
        debug_mode = modes[debug_mode]
    if debug_mode not in (0, 1, 2):
        raise RuntimeError(f"invalid value of debug_mode, expected 0, 1, or 2, but got {debug_mode}")
    use_deterministic_algorithms(debug_mode != 0, warn_only=debug_mode == 1)


def get_deterministic_debug_mode():
    if not _deterministic["enabled"]:
        return 0
    return 1 if _deterministic["warn_only"] else 2


# ---- torch.compile ------------------------------------------------------------------------
_COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


def compile(model=None, *, fullgraph=False, dynamic=None, backend="inductor", mode=None, options=None, disable=False, **kwargs):
    """Returns ``model`` itself: rtorch has no graph compiler, so "compiling" keeps the
    eager semantics exactly. The keyword arguments are validated as PyTorch does and
    otherwise ignored; ``compile(**kwargs)`` without a model returns a decorator."""
    if None not in (mode, options):
        raise RuntimeError("Either mode or options can be specified, but both can't be specified at the same time.")
    if mode is not None and mode not in _COMPILE_MODES:
        raise RuntimeError(f"Unrecognized mode={mode}, should be one of: {', '.join(_COMPILE_MODES)}")
    if model is None:

        def decorate(fn):
            return compile(fn, fullgraph=fullgraph, dynamic=dynamic, backend=backend, mode=mode, options=options, disable=disable, **kwargs)

        return decorate
    if not callable(model):
        raise AssertionError(f"A callable function is expected, but {type(model)} is provided.")
    return model

from rtorch._type_info import finfo, iinfo  # noqa: E402
from rtorch import _extra_functions  # noqa: E402,F401  (adds window, search, integration functions)
from rtorch import special, distributions  # noqa: E402,F401

# ---- mixed precision ----------------------------------------------------------------------
from rtorch import amp, cpu  # noqa: E402
from rtorch.amp.autocast_mode import (  # noqa: E402,F401
    autocast,
    autocast_decrement_nesting,
    autocast_increment_nesting,
    clear_autocast_cache,
    get_autocast_cpu_dtype,
    get_autocast_dtype,
    get_autocast_gpu_dtype,
    is_autocast_cache_enabled,
    is_autocast_cpu_enabled,
    is_autocast_enabled,
    set_autocast_cache_enabled,
    set_autocast_cpu_dtype,
    set_autocast_cpu_enabled,
    set_autocast_dtype,
    set_autocast_enabled,
    set_autocast_gpu_dtype,
)
from rtorch.cuda import amp as _cuda_amp  # noqa: E402,F401  (torch.cuda.amp)
