"""Top-level functions composed from existing tensor operations: window functions, searching
and binning, integration and finite differences, index/combination builders, and a few
constructors (``asarray``, ``frombuffer``, ``empty_strided``).

Everything differentiable is built from differentiable operations, so autograd works through
it. Importing this module adds the names to the ``rtorch`` namespace, without replacing any
that already exist there.
"""

import builtins
import itertools
import math
import warnings
from collections import namedtuple
from numbers import Number

import numpy as np

import rtorch as torch
from rtorch._out import scalar_type_name, write_out_from_caller

__all__ = [
    "asarray",
    "atleast_3d",
    "bartlett_window",
    "blackman_window",
    "block_diag",
    "bucketize",
    "cartesian_prod",
    "chain_matmul",
    "combinations",
    "cumulative_trapezoid",
    "empty_strided",
    "frombuffer",
    "gradient",
    "hamming_window",
    "hann_window",
    "histogramdd",
    "isin",
    "kaiser_window",
    "randint_like",
    "scalar_tensor",
    "searchsorted",
    "trapezoid",
    "trapz",
    "tril_indices",
    "triu_indices",
    "vander",
]

# The names PyTorch's messages use for dtypes ("can't alias ... 'Float' into 'Double'").
_scalar_type_name = scalar_type_name


def _short_name(dtype):
    return str(dtype).replace("torch.", "")


def _result(value, out):
    """``value``, or stored into ``out`` (resized to fit) when one is given."""
    return write_out_from_caller(value, out)


def _floating(t):
    """``t`` itself when floating point, else converted to the default float dtype."""
    return t if t.is_floating_point() else t.to(torch.get_default_dtype())


# ---- constructors ---------------------------------------------------------------------------
_UNSET = object()


def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad=_UNSET):
    """``obj`` as a tensor, sharing memory with it where possible.

    A tensor of the requested dtype and device is returned as is unless ``copy=True``;
    numpy arrays and writable buffer-protocol objects are shared; sequences and scalars
    are copied. ``copy=False`` raises ``ValueError`` when a copy cannot be avoided.
    """
    if isinstance(obj, torch.Tensor):
        return _asarray_tensor(obj, dtype, device, copy, requires_grad)
    grad = False if requires_grad is _UNSET else requires_grad
    array = None
    if isinstance(obj, np.ndarray):
        array = obj
    elif not isinstance(obj, (str, Number, list, tuple, np.generic)):
        try:
            array = np.asarray(memoryview(obj))
        except TypeError:
            array = None
    if array is not None:
        shared = torch.as_tensor(array, device=device)
        out = _asarray_tensor(shared, dtype, device, copy, False, alias_ok=copy is not True)
        if copy is True and out is shared:
            out = shared.clone()
    else:
        if copy is False:
            raise ValueError(f"can't alias a {type(obj).__name__} into a tensor: copy=False")
        out = torch.tensor(obj, dtype=dtype, device=device)
    if grad:
        out.requires_grad_(True)
    return out


def _asarray_tensor(t, dtype, device, copy, requires_grad, alias_ok=True):
    want_dtype = t.dtype if dtype is None else dtype
    want_device = t.device if device is None else torch.device(device)
    if want_device.type == "cuda" and want_device.index is None and t.device.type == "cuda":
        want_device = t.device
    converts = want_dtype != t.dtype or want_device != t.device
    if converts and copy is False:
        if want_dtype != t.dtype:
            raise ValueError(
                f"can't alias tensor with dtype '{_scalar_type_name(t.dtype)}' into dtype "
                f"'{_scalar_type_name(want_dtype)}'."
            )
        raise ValueError(f"can't alias tensor from device '{t.device}' to '{want_device}'.")
    if requires_grad is _UNSET:
        if t.requires_grad:
            warnings.warn(
                "torch.asarray: unspecified requires_grad now defaults to obj.requires_grad "
                "instead of False. Pass requires_grad=False explicitly to get the old "
                "behavior and silence this warning.",
                stacklevel=3,
            )
        requires_grad = t.requires_grad
    out = t
    if converts or (copy is True and alias_ok):
        with torch.no_grad():
            out = t.detach().to(want_device, want_dtype, copy=True)
    if out is t and requires_grad == t.requires_grad:
        return t
    if out is t:
        out = t.detach()
    return out.requires_grad_(True) if requires_grad else out


def _numpy_dtype(dtype):
    return np.dtype("bool" if dtype == torch.bool else _short_name(dtype))


def frombuffer(buffer, *, dtype, count=-1, offset=0, requires_grad=False):
    """A 1-D tensor over the bytes of a buffer-protocol object (``bytearray``,
    ``memoryview``, ``array.array``, ...), sharing its memory when it is writable.

    ``bfloat16`` has no numpy counterpart, so for it the values are decoded into a new
    tensor that does not share the buffer.
    """
    try:
        view = memoryview(buffer)
    except TypeError:
        raise ValueError("object does not implement Python buffer protocol.") from None
    size = view.nbytes
    item = dtype.itemsize
    if size == 0 or count == 0:
        raise ValueError(f"both buffer length ({size}) and count ({count}) must not be 0")
    if offset < 0 or offset >= size:
        raise ValueError(
            f"offset ({offset} bytes) must be non-negative and no greater than buffer length "
            f"({size} bytes) minus 1"
        )
    if count < 0:
        if (size - offset) % item:
            raise ValueError(
                f"buffer length ({size - offset} bytes) after offset ({offset} bytes) must be a "
                f"multiple of element size ({item})"
            )
        count = (size - offset) // item
    elif offset + count * item > size:
        raise ValueError(
            f"requested buffer length ({count} * {item} bytes) after offset ({offset} bytes) "
            f"must not be greater than actual buffer length ({size} bytes)"
        )
    raw = view.cast("B") if view.format != "B" and view.c_contiguous else view
    if dtype == torch.bfloat16:
        bits = np.frombuffer(raw, dtype=np.uint16, count=count, offset=offset)
        # bfloat16 is the high half of a float32: widen the bits, then round-trip exactly.
        widened = (bits.astype(np.uint32) << 16).view(np.float32)
        out = torch.from_numpy(widened.copy()).to(torch.bfloat16)
    else:
        array = np.frombuffer(raw, dtype=_numpy_dtype(dtype), count=count, offset=offset)
        out = torch.from_numpy(array)
    return out.requires_grad_(True) if requires_grad else out


def empty_strided(
    size, stride, *, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False
):
    """An uninitialised tensor with the given sizes and strides, over a storage just large
    enough to hold every element it can reach."""
    size, stride = [int(s) for s in size], [int(s) for s in stride]
    if len(size) != len(stride):
        raise RuntimeError(
            f"dimensionality of sizes ({len(size)}) must match dimensionality of strides "
            f"({len(stride)})"
        )
    for extent in size:
        if extent < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {extent}: {size}")
    if builtins.any(s < 0 for s in stride):
        raise RuntimeError(
            f"Storage size calculation overflowed with sizes={size} and strides={stride}"
        )
    if 0 in size:
        needed = 0
    else:
        needed = 1 + builtins.sum((n - 1) * s for n, s in zip(size, stride))
    base = torch.empty(needed, dtype=dtype, device=device, pin_memory=pin_memory)
    out = base.as_strided(size, stride)
    return out.requires_grad_(True) if requires_grad else out


def scalar_tensor(s, *, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False):
    """A 0-d tensor holding ``s``, in the default float dtype unless ``dtype`` is given."""
    if isinstance(s, torch.Tensor):
        s = s.item()
    out = torch.tensor(s, dtype=dtype or torch.get_default_dtype(), device=device)
    return out.requires_grad_(True) if requires_grad else out


def randint_like(
    input, low=0, high=None, *, dtype=None, layout=None, device=None, requires_grad=False,
    memory_format=None, generator=None,
):
    """Random integers in ``[low, high)`` with the shape of ``input`` (and its dtype and
    device unless given); ``randint_like(input, high)`` draws from ``[0, high)``."""
    if high is None:
        low, high = 0, low
    out = torch.randint(
        int(low), int(high), tuple(input.shape), dtype=dtype or input.dtype,
        device=device or input.device, generator=generator,
    )
    return out.requires_grad_(True) if requires_grad else out


def _lower_or_upper_indices(name, row, col, offset, dtype, device, lower):
    if row < 0:
        raise RuntimeError(f"row must be non-negative, got{row}")
    if col < 0:
        raise RuntimeError(f"col must be non-negative, got{col}")
    if dtype != torch.int64 and dtype != torch.int32:
        raise NotImplementedError(f"\"{name}\" not implemented for '{_scalar_type_name(dtype)}'")
    rows = torch.arange(row).unsqueeze(1)
    cols = torch.arange(col).unsqueeze(0)
    above = cols - rows
    keep = above <= offset if lower else above >= offset
    # nonzero lists positions in row-major order, which is the order PyTorch documents.
    return keep.nonzero().T.to(device=device, dtype=dtype).contiguous()


def tril_indices(row, col, offset=0, *, dtype=torch.int64, device=None, layout=None):
    """The (row, column) coordinates of the lower triangle of a ``row x col`` matrix, with
    diagonal ``offset``, as a ``2 x N`` tensor in row-major order."""
    return _lower_or_upper_indices("tril_indices", row, col, offset, dtype, device, True)


def triu_indices(row, col, offset=0, *, dtype=torch.int64, device=None, layout=None):
    """The (row, column) coordinates of the upper triangle, like :func:`tril_indices`."""
    return _lower_or_upper_indices("triu_indices", row, col, offset, dtype, device, False)


# ---- window functions -----------------------------------------------------------------------
def _window(name, window_length, periodic, dtype, device, requires_grad, values):
    """Common checks and the periodic trick: a periodic window of length L is the symmetric
    window of length L + 1 without its last point. ``values(n, N)`` gives the symmetric
    window at positions ``n`` (float64) for a window of N points, N >= 2."""
    if isinstance(window_length, bool) or not isinstance(window_length, int):
        raise TypeError(
            f"{name}(): argument 'window_length' (position 1) must be int, not "
            f"{type(window_length).__name__}"
        )
    if window_length < 0:
        raise RuntimeError(
            f"{name} requires non-negative window_length, got window_length={window_length}"
        )
    if dtype is None:
        dtype = torch.get_default_dtype()
    if not dtype.is_floating_point:
        raise RuntimeError(f"{name} expects floating point dtypes, got: {dtype}")
    if window_length <= 1:
        out = torch.ones(window_length, dtype=dtype, device=device)
    else:
        points = window_length + 1 if periodic else window_length
        n = torch.arange(points, dtype=torch.float64, device=device)
        out = values(n, points)[:window_length].to(dtype)
    return out.requires_grad_(True) if requires_grad else out


def _cosine_sum(coefficients):
    """sum_k a_k (-1)^k cos(2 pi k n / (N - 1))."""

    def values(n, points):
        phase = n * (2 * math.pi / (points - 1))
        total = torch.zeros_like(n)
        for k, a in enumerate(coefficients):
            total = total + ((-1) ** k) * a * torch.cos(k * phase)
        return total

    return values


def hann_window(
    window_length, periodic=True, *, dtype=None, layout=None, device=None, requires_grad=False
):
    """0.5 - 0.5 cos(2 pi n / (N - 1))."""
    return _window(
        "hann_window", window_length, periodic, dtype, device, requires_grad,
        _cosine_sum((0.5, 0.5)),
    )


def hamming_window(
    window_length, periodic=True, alpha=0.54, beta=0.46, *, dtype=None, layout=None,
    device=None, requires_grad=False,
):
    """alpha - beta cos(2 pi n / (N - 1))."""
    return _window(
        "hamming_window", window_length, periodic, dtype, device, requires_grad,
        _cosine_sum((alpha, beta)),
    )


def blackman_window(
    window_length, periodic=True, *, dtype=None, layout=None, device=None, requires_grad=False
):
    """0.42 - 0.5 cos(2 pi n / (N - 1)) + 0.08 cos(4 pi n / (N - 1))."""
    return _window(
        "blackman_window", window_length, periodic, dtype, device, requires_grad,
        _cosine_sum((0.42, 0.5, 0.08)),
    )


def bartlett_window(
    window_length, periodic=True, *, dtype=None, layout=None, device=None, requires_grad=False
):
    """The triangle 1 - |2n / (N - 1) - 1|."""

    def values(n, points):
        return 1 - torch.abs(n * (2 / (points - 1)) - 1)

    return _window(
        "bartlett_window", window_length, periodic, dtype, device, requires_grad, values
    )


def kaiser_window(
    window_length, periodic=True, beta=12.0, *, dtype=None, layout=None, device=None,
    requires_grad=False,
):
    """I0(beta sqrt(1 - ((n - M/2) / (M/2))^2)) / I0(beta) with M = N - 1."""

    def values(n, points):
        half = (points - 1) / 2
        ratio = (n - half) / half
        inside = torch.clamp(1 - ratio * ratio, min=0.0)
        top = torch.i0(beta * torch.sqrt(inside))
        return top / torch.i0(torch.tensor(float(beta), dtype=torch.float64, device=n.device))

    return _window("kaiser_window", window_length, periodic, dtype, device, requires_grad, values)


# ---- searching and binning ------------------------------------------------------------------
def _binary_search(sequence, values, right):
    """For each value, the number of entries of the sorted last axis of ``sequence`` that are
    below it (``right``: not above it); NaN values go past the end, as a NaN sorts last."""
    length = sequence.shape[-1]
    common = torch.promote_types(sequence.dtype, values.dtype)
    sequence, values = sequence.to(common), values.to(common)
    low = torch.zeros(values.shape, dtype=torch.int64, device=values.device)
    high = torch.full(values.shape, length, dtype=torch.int64, device=values.device)
    if length == 0:
        return low
    batched = sequence.dim() > 1
    for _ in range(length.bit_length()):
        open_ = low < high
        middle = (low + high) // 2
        probe_at = middle.clamp(max=length - 1)
        probe = sequence.gather(-1, probe_at) if batched else sequence[probe_at]
        below = (probe <= values) if right else (probe < values)
        go_right = below & open_
        low = torch.where(go_right, middle + 1, low)
        high = torch.where(open_ & ~below, middle, high)
    if values.is_floating_point():
        low = torch.where(values != values, torch.full_like(low, length), low)
    return low


def _as_values(x, like):
    if isinstance(x, torch.Tensor):
        return x
    return torch.tensor(x, device=like.device)


def searchsorted(
    sorted_sequence, input, *, out_int32=False, right=False, side=None, sorter=None, out=None
):
    """Indices at which ``input`` would be inserted into ``sorted_sequence`` (sorted along its
    last axis) to keep it sorted: before equal entries, or after them when ``right`` or
    ``side="right"``. A batched sequence needs ``input`` with the same leading dims."""
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(
                f"torch.searchsorted(): side can only be 'left' or 'right' but got {side}"
            )
        if right and side == "left":
            raise RuntimeError(
                "torch.searchsorted(): side and right can't be set to opposites, got side of "
                "left while right was True"
            )
        right = side == "right"
    if sorted_sequence.dim() == 0:
        raise RuntimeError(
            "torch.searchsorted(): boundaries tensor should have positive dimension, but got 0 "
            "dimension"
        )
    values = _as_values(input, sorted_sequence)
    if sorted_sequence.dim() > 1 and (
        values.dim() != sorted_sequence.dim()
        or tuple(values.shape[:-1]) != tuple(sorted_sequence.shape[:-1])
    ):
        raise RuntimeError(
            "torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 "
            "dimensions of boundaries tensor and input value tensor must match, but we got "
            f"boundaries tensor {list(sorted_sequence.shape)} and input value tensor "
            f"{list(values.shape)}"
        )
    if sorter is not None:
        if tuple(sorter.shape) != tuple(sorted_sequence.shape):
            raise RuntimeError(
                "torch.searchsorted(): boundary and sorter must have the same size, but got "
                f"boundary tensor {list(sorted_sequence.shape)}and got sorter tensor "
                f"{list(sorter.shape)}"
            )
        sorted_sequence = sorted_sequence.gather(-1, sorter)
    found = _binary_search(sorted_sequence.detach(), values.detach(), right)
    return _result(found.to(torch.int32) if out_int32 else found, out)


def bucketize(input, boundaries, *, out_int32=False, right=False, out=None):
    """The bucket of each element of ``input`` for the sorted 1-D ``boundaries``: ``i`` with
    ``boundaries[i-1] < x <= boundaries[i]`` (``right``: ``boundaries[i-1] <= x <
    boundaries[i]``)."""
    if boundaries.dim() != 1:
        raise RuntimeError(
            f"boundaries tensor must be 1 dimension, but got dim({boundaries.dim()})"
        )
    values = _as_values(input, boundaries)
    found = _binary_search(boundaries.detach(), values.detach(), right)
    return _result(found.to(torch.int32) if out_int32 else found, out)


def isin(elements, test_elements, *, assume_unique=False, invert=False):
    """Whether each element of ``elements`` occurs in ``test_elements`` (either may be a
    scalar); NaN is never found."""
    if not isinstance(elements, torch.Tensor) and not isinstance(test_elements, torch.Tensor):
        raise TypeError("isin() expected at least one of elements and test_elements to be a Tensor")
    like = elements if isinstance(elements, torch.Tensor) else test_elements
    elements = _as_values(elements, like).detach()
    tests = _as_values(test_elements, like).detach().reshape(-1)
    common = torch.promote_types(elements.dtype, tests.dtype)
    elements, tests = elements.to(common), tests.to(common)
    if tests.numel() == 0:
        found = torch.zeros(elements.shape, dtype=torch.bool, device=elements.device)
    else:
        ordered = tests.sort().values
        slot = _binary_search(ordered, elements, False).clamp(max=tests.numel() - 1)
        found = ordered[slot] == elements
    return ~found if invert else found


class histogramdd_result(namedtuple("histogramdd", ["hist", "bin_edges"])):
    __slots__ = ()

    def __repr__(self):
        return (
            f"torch.return_types.histogramdd(\nhist={self.hist!r},\nbin_edges={self.bin_edges!r})"
        )


histogramdd_result.__name__ = histogramdd_result.__qualname__ = "histogramdd"
histogramdd_result.__module__ = "torch.return_types"


def _histogram_ranges(points, dims, range):
    if range is not None:
        range = [float(r) for r in range]
        if len(range) != 2 * dims:
            raise RuntimeError(
                f"torch.histogramdd: for a {dims}-dimensional histogram range should have "
                f"{2 * dims} elements, but got {len(range)}"
            )
        pairs = [(range[2 * d], range[2 * d + 1]) for d in builtins.range(dims)]
    elif points.shape[0] == 0:
        pairs = [(0.0, 1.0)] * dims
    else:
        low, high = points.min(0).values.tolist(), points.max(0).values.tolist()
        pairs = list(zip(low, high))
    checked = []
    for d, (low, high) in enumerate(pairs):
        if not (math.isfinite(low) and math.isfinite(high)):
            raise RuntimeError(
                f"torch.histogramdd: range of [{low:g}, {high:g}] is not finite"
            )
        if low > high:
            raise RuntimeError(
                f"torch.histogramdd: min should not exceed max, but got min {low:g} max "
                f"{high:g} for dimension {d}"
            )
        if low == high:
            # A degenerate range is widened to one unit around the value.
            low, high = low - 0.5, high + 0.5
        checked.append((low, high))
    return checked


def histogramdd(input, bins, *, range=None, weight=None, density=False):
    """Histogram of the points in the rows of ``input`` (last axis = coordinates).

    ``bins`` is a count for every dimension, one count per dimension, or one tensor of
    increasing edges per dimension. Each bin includes its left edge; the last also its right
    edge; points outside the edges are not counted. Returns ``(hist, bin_edges)``.
    """
    if not input.is_floating_point():
        raise NotImplementedError(
            f"\"histogramdd\" not implemented for '{_scalar_type_name(input.dtype)}'"
        )
    if input.dim() < 2:
        raise RuntimeError("torch.histogramdd: input tensor should have at least 2 dimensions")
    dims = input.shape[-1]
    points = input.detach().reshape(-1, dims)
    if isinstance(bins, int):
        bins = [bins] * dims
    bins = list(bins)
    if len(bins) != dims:
        raise RuntimeError(
            "histogramdd: The size of bins must be equal to the innermost dimension of the input."
        )
    if builtins.all(isinstance(b, torch.Tensor) for b in bins):
        edges = [b.detach().to(input.dtype).reshape(-1) for b in bins]
    else:
        ranges = _histogram_ranges(points, dims, range)
        edges = [
            torch.linspace(low, high, int(b) + 1, dtype=input.dtype, device=input.device)
            for (low, high), b in zip(ranges, bins)
        ]
    counts = [e.numel() - 1 for e in edges]
    keep = torch.ones(points.shape[0], dtype=torch.bool, device=input.device)
    flat = torch.zeros(points.shape[0], dtype=torch.int64, device=input.device)
    for d, e in enumerate(edges):
        column = points[:, d]
        keep = keep & (column >= e[0]) & (column <= e[-1])
        # Bin of x: the last edge <= x, with the right-most edge folded into the last bin.
        slot = (_binary_search(e, column, True) - 1).clamp(0, builtins.max(counts[d] - 1, 0))
        flat = flat * counts[d] + slot
    if weight is None:
        weights = keep.to(input.dtype)
    else:
        weights = weight.detach().reshape(-1).to(input.dtype) * keep.to(input.dtype)
    total = math.prod(counts)
    if total == 0:
        hist = torch.zeros(counts, dtype=input.dtype, device=input.device)
    else:
        hist = torch.zeros(total, dtype=input.dtype, device=input.device)
        hist = hist.index_add(0, flat, weights).reshape(counts)
    if density:
        volume = torch.ones(counts, dtype=input.dtype, device=input.device)
        for d, e in enumerate(edges):
            shape = [1] * dims
            shape[d] = -1
            volume = volume * (e[1:] - e[:-1]).reshape(shape)
        hist = hist / (hist.sum() * volume)
    return histogramdd_result(hist, tuple(edges))


# ---- building blocks ------------------------------------------------------------------------
def block_diag(*tensors):
    """The given matrices (0-d and 1-d inputs count as 1 x n) along the diagonal of a
    zero matrix, in their common dtype."""
    blocks = []
    for position, t in enumerate(tensors):
        if t.dim() > 2:
            raise RuntimeError(
                "torch.block_diag: Input tensors must have 2 or fewer dimensions. Input "
                f"{position} has {t.dim()} dimensions"
            )
        blocks.append(t.reshape(1, -1) if t.dim() < 2 else t)
    if not blocks:
        return torch.empty(1, 0)
    dtype = blocks[0].dtype
    for b in blocks[1:]:
        dtype = torch.promote_types(dtype, b.dtype)
    device = blocks[0].device
    width = builtins.sum(b.shape[1] for b in blocks)
    rows, left = [], 0
    for b in blocks:
        height, cols = b.shape
        right = width - left - cols
        pieces = [
            torch.zeros(height, left, dtype=dtype, device=device),
            b.to(dtype),
            torch.zeros(height, right, dtype=dtype, device=device),
        ]
        rows.append(torch.cat(pieces, 1))
        left += cols
    return torch.cat(rows, 0)


def _check_vector(t):
    if t.dim() != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(t.shape)}")


def cartesian_prod(*tensors):
    """All tuples taking one element of each 1-D input, as rows, the last input varying
    fastest; a single input is returned unchanged."""
    for t in tensors:
        _check_vector(t)
    if len(tensors) == 1:
        return tensors[0]
    if not tensors:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    if len({t.dtype for t in tensors}) > 1:
        raise RuntimeError("meshgrid expects all tensors to have the same dtype")
    grids = torch.meshgrid(*tensors, indexing="ij")
    return torch.stack([g.reshape(-1) for g in grids], 1)


def combinations(input, r=2, with_replacement=False):
    """The length-``r`` combinations of the elements of a 1-D tensor, as rows, in the order
    of ``itertools.combinations`` (or ``combinations_with_replacement``)."""
    _check_vector(input)
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return input.new_empty(0)
    pick = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    picks = list(pick(builtins.range(input.shape[0]), r))
    if not picks:
        return input.new_empty((0, r))
    index = torch.tensor(picks, dtype=torch.int64, device=input.device)
    return input.index_select(0, index.reshape(-1)).reshape(len(picks), r)


def atleast_3d(*tensors):
    """Views with at least three dimensions: a scalar becomes 1x1x1, a vector (n) 1xnx1
    and a matrix (m, n) m x n x 1."""
    packed = len(tensors) == 1 and isinstance(tensors[0], (list, tuple))
    items = tuple(tensors[0]) if packed else tensors

    def lift(t):
        if t.dim() == 0:
            return t.reshape(1, 1, 1)
        if t.dim() == 1:
            return t.reshape(1, -1, 1)
        if t.dim() == 2:
            return t.unsqueeze(-1)
        return t

    out = tuple(lift(t) for t in items)
    return out if packed or len(out) != 1 else out[0]


def vander(x, N=None, increasing=False):
    """Columns are powers of ``x``: ``x**(N-1), ..., x, 1`` (ascending when ``increasing``).
    Integer and bool inputs give int64."""
    if x.dim() != 1:
        raise RuntimeError("x must be a one-dimensional tensor.")
    columns = x.shape[0] if N is None else N
    if columns < 0:
        raise RuntimeError("N must be non-negative.")
    dtype = torch.promote_types(x.dtype, torch.int64)
    x = x.to(dtype)
    rows = x.shape[0]
    if columns == 0:
        return torch.zeros(rows, 0, dtype=dtype, device=x.device)
    # Running products rather than pow: exact for integers, and no 0**0 in the gradient.
    first = torch.ones(rows, 1, dtype=dtype, device=x.device)
    powers = torch.cat([first, x.unsqueeze(1).expand(rows, columns - 1)], 1).cumprod(1)
    return powers if increasing else powers.flip(1)


def chain_matmul(*matrices, out=None):
    """The product of the given 2-D matrices, multiplied in the cheapest order."""
    warnings.warn(
        "torch.chain_matmul is deprecated and will be removed in a future PyTorch release. "
        "Use torch.linalg.multi_dot instead, which accepts a list of two or more tensors "
        "rather than multiple parameters.",
        UserWarning,
        stacklevel=2,
    )
    if not matrices:
        raise RuntimeError("chain_matmul(): Expected one or more matrices")
    for m in matrices:
        if m.dim() != 2:
            raise RuntimeError(f"Tensor dimension is {m.dim()}, expected 2 instead.")
    for i in builtins.range(len(matrices) - 1):
        a, b = matrices[i], matrices[i + 1]
        if a.shape[1] != b.shape[0]:
            raise RuntimeError(
                f"multi_dot(): tensors {i} and {i + 1} with shapes {list(a.shape)} and "
                f"{list(b.shape)} cannot be multiplied"
            )
    if len(matrices) == 1:
        return _result(matrices[0].clone(), out)
    return _result(_ordered_product(matrices), out)


def _ordered_product(matrices):
    """Matrix-chain product with the split that minimises scalar multiplications."""
    sizes = [m.shape[0] for m in matrices] + [matrices[-1].shape[1]]
    n = len(matrices)
    cost = [[0] * n for _ in builtins.range(n)]
    split = [[0] * n for _ in builtins.range(n)]
    for span in builtins.range(1, n):
        for i in builtins.range(n - span):
            j = i + span
            cost[i][j] = math.inf
            for k in builtins.range(i, j):
                c = cost[i][k] + cost[k + 1][j] + sizes[i] * sizes[k + 1] * sizes[j + 1]
                if c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k

    def product(i, j):
        if i == j:
            return matrices[i]
        k = split[i][j]
        return torch.matmul(product(i, k), product(k + 1, j))

    return product(0, n - 1)


# ---- integration and finite differences -----------------------------------------------------
def _axis(t, dim):
    if t.dim() == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    if not -t.dim() <= dim < t.dim():
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-t.dim()}, {t.dim() - 1}], "
            f"but got {dim})"
        )
    return dim % t.dim()


def _along(vector, ndim, dim):
    """A 1-D tensor shaped to broadcast along ``dim`` of an ``ndim``-D tensor."""
    shape = [1] * ndim
    shape[dim] = -1
    return vector.reshape(shape)


def _trapezoid_terms(name, y, x, dx, dim):
    """Per-interval areas along ``dim`` (one fewer than the samples)."""
    if x is not None and dx is not None:
        raise TypeError(f"{name}(): pass either x or dx, not both")
    dim = _axis(y, dim)
    n = y.shape[dim]
    if x is not None and isinstance(x, torch.Tensor):
        dtype = torch.promote_types(y.dtype, x.dtype)
        if not dtype.is_floating_point:
            dtype = torch.get_default_dtype()
    else:
        dtype = y.dtype if y.is_floating_point() else torch.get_default_dtype()
    y = y.to(dtype)
    if n == 0:
        return y.narrow(dim, 0, 0), dim
    ends = y.narrow(dim, 1, n - 1) + y.narrow(dim, 0, n - 1)
    if x is None:
        step = 1 if dx is None else dx
        return ends * (step / 2), dim
    x = x.to(dtype)
    if x.dim() == 1:
        if x.shape[0] != n:
            raise RuntimeError(f"{name}: There must be one `x` value for each sample point")
        steps = _along(x[1:] - x[:-1], y.dim(), dim)
    else:
        xd = x.dim() - y.dim() + dim
        if xd < 0 or x.shape[xd] != n:
            raise RuntimeError(f"{name}: There must be one `x` value for each sample point")
        steps = x.narrow(xd, 1, n - 1) - x.narrow(xd, 0, n - 1)
    return ends * steps / 2, dim


def trapezoid(y, x=None, *, dx=None, dim=-1):
    """The trapezoid rule along ``dim``: samples at ``x`` (1-D, or broadcastable with
    ``y``), or spaced ``dx`` apart (default 1). Integer inputs give the default float."""
    terms, dim = _trapezoid_terms("trapezoid", y, x, dx, dim)
    return terms.sum(dim)


def trapz(y, x=None, *, dx=None, dim=-1):
    """Alias of :func:`trapezoid`."""
    terms, dim = _trapezoid_terms("trapz", y, x, dx, dim)
    return terms.sum(dim)


def cumulative_trapezoid(y, x=None, *, dx=None, dim=-1):
    """Running trapezoid-rule integrals along ``dim``: one fewer value than samples."""
    terms, dim = _trapezoid_terms("cumulative_trapezoid", y, x, dx, dim)
    if terms.shape[dim] == 0:
        return terms
    return terms.cumsum(dim)


def _gradient_spacing(input, spacing, dims, dim_given):
    count = len(dims)
    if isinstance(spacing, torch.Tensor):
        raise TypeError(
            "gradient(): argument 'spacing' must be a number or a list/tuple of numbers or "
            "1-D tensors, not Tensor"
        )
    if isinstance(spacing, Number):
        return [spacing] * count
    spacing = list(spacing)
    if len(spacing) != count:
        expected = "'dim'" if dim_given else f"'self.dim() = {input.dim()}'"
        given = " was" if dim_given else " was not"
        raise RuntimeError(
            "torch.gradient expected spacing to be unspecified, a scalar, or a list of length "
            f"equal to {expected}, since dim argument{given} given, but got a list of length "
            f"{len(spacing)}"
        )
    for s in spacing:
        if isinstance(s, torch.Tensor) and s.dim() != 1:
            raise RuntimeError(
                "torch.gradient expected each element of spacing to have one dimension, but got "
                f"an element with {s.dim()} dimensions!"
            )
    return spacing


def _uniform_gradient(f, dim, h, edge_order):
    n = f.shape[dim]

    def at(start, length=1):
        return f.narrow(dim, start, length)

    inner = (at(2, n - 2) - at(0, n - 2)) / (2 * h)
    if edge_order == 1:
        first = (at(1) - at(0)) / h
        last = (at(n - 1) - at(n - 2)) / h
    else:
        first = (-1.5 * at(0) + 2 * at(1) - 0.5 * at(2)) / h
        last = (0.5 * at(n - 3) - 2 * at(n - 2) + 1.5 * at(n - 1)) / h
    return torch.cat([first, inner, last], dim)


def _coordinate_gradient(f, dim, x, edge_order):
    """Second-order accurate differences for samples at coordinates ``x`` (numpy's and
    PyTorch's formulas for unevenly spaced points)."""
    n = f.shape[dim]
    if x.shape[0] != n:
        raise RuntimeError(
            f"torch.gradient expected the coordinates for dimension {dim} to have {n} values, "
            f"but got {x.shape[0]}"
        )
    x = x.to(f.dtype)
    steps = x[1:] - x[:-1]

    def at(start, length=1):
        return f.narrow(dim, start, length)

    def coef(v):
        return _along(v, f.dim(), dim) if isinstance(v, torch.Tensor) and v.dim() else v

    a_, b_ = steps[:-1], steps[1:]  # spacing before and after each interior point
    before = coef(-b_ / (a_ * (a_ + b_)))
    centre = coef((b_ - a_) / (a_ * b_))
    after = coef(a_ / (b_ * (a_ + b_)))
    inner = before * at(0, n - 2) + centre * at(1, n - 2) + after * at(2, n - 2)
    if edge_order == 1:
        first = (at(1) - at(0)) / steps[0]
        last = (at(n - 1) - at(n - 2)) / steps[-1]
    else:
        h1, h2 = steps[0], steps[1]
        first = (
            -(2 * h1 + h2) / (h1 * (h1 + h2)) * at(0)
            + (h1 + h2) / (h1 * h2) * at(1)
            - h1 / (h2 * (h1 + h2)) * at(2)
        )
        h1, h2 = steps[-2], steps[-1]
        last = (
            h2 / (h1 * (h1 + h2)) * at(n - 3)
            - (h1 + h2) / (h1 * h2) * at(n - 2)
            + (2 * h2 + h1) / (h2 * (h1 + h2)) * at(n - 1)
        )
    return torch.cat([first, inner, last], dim)


def gradient(input, *, spacing=1, dim=None, edge_order=1):
    """Finite-difference derivative of ``input`` along each of ``dim`` (default: all), one
    tensor per dimension: central differences inside, one-sided of order ``edge_order``
    (1 or 2) at the ends. ``spacing`` is a scalar step, one step per dimension, or one 1-D
    tensor of sample coordinates per dimension."""
    if edge_order not in (1, 2):
        raise RuntimeError("torch.gradient only supports edge_order=1 and edge_order=2.")
    dim_given = dim is not None
    if dim is None:
        dims = list(builtins.range(input.dim()))
    elif isinstance(dim, int):
        dims = [dim]
    else:
        dims = list(dim)
    dims = [_axis(input, d) for d in dims]
    steps = _gradient_spacing(input, spacing, dims, dim_given)
    for d in dims:
        if input.shape[d] < edge_order + 1:
            raise RuntimeError(
                "torch.gradient expected each dimension size to be at least edge_order+1"
            )
    f = _floating(input)
    out = []
    for d, step in zip(dims, steps):
        if isinstance(step, torch.Tensor):
            out.append(_coordinate_gradient(f, d, step, edge_order))
        else:
            out.append(_uniform_gradient(f, d, step, edge_order))
    return tuple(out)


def install(namespace):
    """Adds the functions above to ``namespace`` where it has no name of its own."""
    for name in __all__:
        namespace.setdefault(name, globals()[name])
    if not hasattr(torch.return_types, "histogramdd"):
        torch.return_types.histogramdd = histogramdd_result


install(vars(torch))
