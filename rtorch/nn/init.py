"""Parameter initialisation, as torch.nn.init (every function runs under no_grad)."""

import math
import warnings

import rtorch as torch

__all__ = [
    "calculate_gain",
    "uniform_",
    "normal_",
    "trunc_normal_",
    "constant_",
    "ones_",
    "zeros_",
    "eye_",
    "dirac_",
    "xavier_uniform_",
    "xavier_normal_",
    "kaiming_uniform_",
    "kaiming_normal_",
    "orthogonal_",
    "sparse_",
]


# ---------------------------------------------------------------- gains and fans
def _leaky_relu_gain(slope):
    if slope is None:
        slope = 0.01
    elif isinstance(slope, bool) or not isinstance(slope, (int, float)):
        raise ValueError(f"negative_slope {slope} not a valid number")
    return math.sqrt(2.0 / (1 + slope * slope))


_UNIT_GAIN = (
    "linear",
    "sigmoid",
    *(f"conv{n}d" for n in (1, 2, 3)),
    *(f"conv_transpose{n}d" for n in (1, 2, 3)),
)
# nonlinearity -> gain as a function of the optional parameter
_GAINS = {
    **{name: (lambda _: 1) for name in _UNIT_GAIN},
    "tanh": lambda _: 5.0 / 3,
    "relu": lambda _: math.sqrt(2.0),
    "leaky_relu": _leaky_relu_gain,
    "selu": lambda _: 3.0 / 4,
}


def calculate_gain(nonlinearity, param=None):
    """Recommended std scale for weights feeding `nonlinearity`."""
    rule = _GAINS.get(nonlinearity) if isinstance(nonlinearity, str) else None
    if rule is None:
        raise ValueError(f"Unsupported nonlinearity {nonlinearity}")
    return rule(param)


def _calculate_fan_in_and_fan_out(tensor):
    """(fan_in, fan_out) of a weight laid out as (out, in, *kernel)."""
    if tensor.dim() < 2:
        raise ValueError(
            "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions"
        )
    shape = tuple(tensor.shape)
    per_kernel = math.prod(shape[2:])
    return shape[1] * per_kernel, shape[0] * per_kernel


_FAN_MODES = ("fan_in", "fan_out")


def _calculate_correct_fan(tensor, mode):
    mode = mode.lower()
    if mode not in _FAN_MODES:
        raise ValueError(f"Mode {mode} not supported, please use one of {list(_FAN_MODES)}")
    return _calculate_fan_in_and_fan_out(tensor)[_FAN_MODES.index(mode)]


# ---------------------------------------------------------------- drawing helpers
def _draw(tensor, method, *args, generator=None):
    """tensor.<method>_(*args) without autograd, passing the generator only when given."""
    extra = {} if generator is None else {"generator": generator}
    with torch.no_grad():
        return getattr(tensor, method)(*args, **extra)


def _require_dims(tensor, allowed, wording):
    if tensor.dim() not in allowed:
        raise ValueError(f"Only tensors with {wording} dimensions are supported")


def _is_empty(tensor):
    """Warns (as PyTorch does) that a zero-element tensor is left alone."""
    if 0 in tuple(tensor.shape):
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return True
    return False


def _uniform_fan_in_(weight, bias=None, fan_in=None, generator=None):
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for a layer's weight and bias.

    The default init of Linear/Conv/Bilinear and friends; fan_in defaults to the
    weight's. A bias of a fan_in-0 layer becomes zero.
    """
    if fan_in is None:
        fan_in = _calculate_fan_in_and_fan_out(weight)[0]
    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    if not _is_empty(weight):
        _draw(weight, "uniform_", -bound, bound, generator=generator)
    if bias is not None:
        _draw(bias, "uniform_", -bound, bound, generator=generator)
    return weight


# ---------------------------------------------------------------- public initialisers
def uniform_(tensor, a=0.0, b=1.0, generator=None):
    return _draw(tensor, "uniform_", a, b, generator=generator)


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    return _draw(tensor, "normal_", mean, std, generator=generator)


def _normal_cdf(z):
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """N(mean, std^2) restricted to [a, b]."""
    if not a - 2 * std <= mean <= b + 2 * std:
        warnings.warn(
            "mean is more than 2 std from [a, b] in nn.init.trunc_normal_. "
            "The distribution of values may be incorrect.",
            stacklevel=2,
        )
    with torch.no_grad():
        if hasattr(tensor, "erfinv_"):
            # Inverse CDF: a uniform draw between the CDF values of the bounds, mapped back.
            low, high = (2 * _normal_cdf((x - mean) / std) - 1 for x in (a, b))
            _draw(tensor, "uniform_", low, high, generator=generator)
            tensor.erfinv_().mul_(std * math.sqrt(2.0)).add_(mean)
        else:
            # Rejection: redraw the out-of-range entries until none remain.
            _draw(tensor, "normal_", mean, std, generator=generator)
            for _ in range(1000):
                outside = (tensor < a) | (tensor > b)
                if not bool(outside.any()):
                    break
                fresh = _draw(torch.empty_like(tensor), "normal_", mean, std, generator=generator)
                tensor.copy_(torch.where(outside, fresh, tensor))
        return tensor.clamp_(min=a, max=b)


def constant_(tensor, val):
    return _draw(tensor, "fill_", val)


def ones_(tensor):
    return constant_(tensor, 1.0)


def zeros_(tensor):
    return _draw(tensor, "zero_")


def eye_(tensor):
    """Identity matrix (2-D tensors only)."""
    _require_dims(tensor, (2,), "2")
    rows, cols = tensor.shape
    return _draw(tensor, "copy_", torch.eye(rows, cols, dtype=tensor.dtype, device=tensor.device))


def dirac_(tensor, groups=1):
    """Identity-preserving conv kernels: a 1 at each kernel centre, per group."""
    _require_dims(tensor, (3, 4, 5), "3, 4, or 5")
    out_channels, in_channels, *kernel = tensor.shape
    if out_channels % groups:
        raise ValueError("dim 0 must be divisible by groups")
    per_group = out_channels // groups
    centre = tuple(k // 2 for k in kernel)
    with torch.no_grad():
        tensor.zero_()
        for g in range(groups):
            for c in range(min(per_group, in_channels)):
                tensor[(g * per_group + c, c, *centre)] = 1
    return tensor


def _xavier_std(tensor, gain):
    return gain * math.sqrt(2.0 / sum(_calculate_fan_in_and_fan_out(tensor)))


def xavier_uniform_(tensor, gain=1.0, generator=None):
    bound = math.sqrt(3.0) * _xavier_std(tensor, gain)
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    return normal_(tensor, 0.0, _xavier_std(tensor, gain), generator)


def _kaiming_std(tensor, a, mode, nonlinearity):
    return calculate_gain(nonlinearity, a) / math.sqrt(_calculate_correct_fan(tensor, mode))


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    if _is_empty(tensor):
        return tensor
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    if _is_empty(tensor):
        return tensor
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity), generator)


def _qr_q(a):
    """Q of the QR of a (rows >= cols) with R's diagonal made positive (half precision is
    factored in float32)."""
    low = a.dtype in (torch.float16, torch.bfloat16)
    q, r = torch.linalg.qr(a.float() if low else a)
    q = q * torch.sign(torch.diagonal(r, 0))
    return q.to(a.dtype) if low else q


def orthogonal_(tensor, gain=1, generator=None):
    """(Semi-)orthogonal matrix over dim 0 vs the rest, scaled by gain."""
    if tensor.dim() < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.size(0)
    cols = tensor.numel() // rows
    with torch.no_grad():
        flat = _draw(
            torch.empty(rows, cols, dtype=tensor.dtype, device=tensor.device),
            "normal_",
            0,
            1,
            generator=generator,
        )
        wide = rows < cols
        q = _qr_q(flat.t() if wide else flat)
        tensor.copy_((q.t() if wide else q).reshape(tensor.shape))
        tensor.mul_(gain)
    return tensor


def sparse_(tensor, sparsity, std=0.01, generator=None):
    """N(0, std^2) with a `sparsity` fraction of each column zeroed."""
    _require_dims(tensor, (2,), "2")
    rows, cols = tensor.shape
    zeros_per_column = int(math.ceil(sparsity * rows))
    _draw(tensor, "normal_", 0, std, generator=generator)
    if zeros_per_column:
        with torch.no_grad():
            for c in range(cols):
                tensor[torch.rand(rows).argsort()[:zeros_per_column], c] = 0
    return tensor


def _deprecated(new):
    """The old un-suffixed spelling of an initialiser, warning on use."""
    old = new.__name__[:-1]

    def alias(*args, **kwargs):
        warnings.warn(
            f"`nn.init.{old}` is now deprecated in favor of `nn.init.{new.__name__}`.",
            FutureWarning,
            stacklevel=2,
        )
        return new(*args, **kwargs)

    alias.__name__ = alias.__qualname__ = old
    return alias


uniform = _deprecated(uniform_)
normal = _deprecated(normal_)
constant = _deprecated(constant_)
xavier_uniform = _deprecated(xavier_uniform_)
xavier_normal = _deprecated(xavier_normal_)
kaiming_uniform = _deprecated(kaiming_uniform_)
kaiming_normal = _deprecated(kaiming_normal_)
orthogonal = _deprecated(orthogonal_)
