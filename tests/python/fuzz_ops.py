#!/usr/bin/env python3
"""Crash/panic fuzzer for rtorch's public ops (run by ``test_fuzz.py`` in a subprocess).

Not a test module (pytest collects ``test_*.py`` only): ``test_fuzz.py`` runs this file as a
child process, one op group at a time, so that a segfault, an abort or a hang fails the test
with the case that caused it instead of killing pytest.

Invariant: every call either returns or raises an ordinary ``Exception``. A Rust panic
(``pyo3_runtime.PanicException``, a ``BaseException``), a crash or a hang is a failure. A few
cases must raise (sizes no machine can allocate, such as ``torch.empty(2**40)``); returning
there is a failure too (``NORAISE``), and so is a wrong exception type where PyTorch's is
clear-cut (``WRONG_EXC``). With ``--check-layout`` every deterministic case is evaluated a
second time with all its input tensors made contiguous, and the two results must agree
(``LAYOUT``): a cheap oracle for stride/offset bugs.

Every case is one line of Python that rebuilds its inputs with ``mk(...)`` (below) and calls the
op. The child prints ``CASE <op> <n>: <code>`` (flushed) to its log before running it, so the
last CASE line of a crashed run names the crashing case. Repro: ``python fuzz_ops.py --repro
'<code>'``.

Usage::

    python tests/python/fuzz_ops.py --list
    python tests/python/fuzz_ops.py --group elementwise --examples 50 [--check-layout]
    python tests/python/fuzz_ops.py --group all --ops sum,cumsum --examples 200 --shrink
    python tests/python/fuzz_ops.py --repro "mk((3, 0), 'float32', 1, 'rand', 'off:2').sum(0)"
"""

import argparse
import faulthandler
import json
import math
import os
import re
import sys
import tempfile
import time
import traceback
import warnings

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import rtorch as torch
import rtorch.nn.functional as F

# --------------------------------------------------------------------------- tensor recipes

DTYPES = [
    "float32", "float64", "float16", "bfloat16",
    "int64", "int32", "int16", "int8", "uint8", "bool",
]
FLOATS = ["float32", "float64", "float16", "bfloat16"]
INTS = ["int64", "int32", "int16", "int8", "uint8"]
_NP = {
    "float32": np.float32, "float64": np.float64, "float16": np.float16,
    "bfloat16": np.float32, "int64": np.int64, "int32": np.int32, "int16": np.int16,
    "int8": np.int8, "uint8": np.uint8, "bool": np.bool_,
}
_SPECIAL_F = [
    0.0, -0.0, 1.0, -1.0, 0.5, 2.5, math.inf, -math.inf, math.nan, 1e30, -1e30, 3e38,
    1e-40, 65504.0, 2.0**31, 2.0**63, -(2.0**63), 1e300,
]

# Set by the layout check: mk() then ignores `layout` and returns a contiguous tensor with the
# same values, so a case can be re-evaluated on contiguous inputs.
FORCE_CONTIGUOUS = False


def _values(shape, dtype, rng, fill):
    """A numpy array of `shape` with values for `dtype` (bfloat16: float32 values)."""
    shape = tuple(shape)
    n = int(np.prod(shape)) if shape else 1
    npd = _NP[dtype]
    with np.errstate(all="ignore"):
        if fill.startswith("idx"):  # "idx:lo:hi": integers in [lo, hi] (index tensors)
            lo, hi = (int(v) for v in fill.split(":")[1:])
            v = rng.integers(lo, hi + 1, size=n)
            if dtype == "bool":
                v = v != 0
        elif fill == "zero":
            v = np.zeros(n)
        elif dtype == "bool":
            v = rng.random(n) < 0.5
        elif dtype in FLOATS:
            v = rng.standard_normal(n) * 3
            if fill == "special":
                m = rng.random(n) < 0.35
                v[m] = rng.choice(_SPECIAL_F, int(m.sum()))
            elif fill == "pos":
                v = np.abs(v) + 0.1
        else:
            info = np.iinfo(npd)
            lo, hi = (0 if fill == "pos" else max(info.min, -6)), min(info.max, 6)
            v = rng.integers(lo, hi + 1, size=n)
            if fill == "special":
                m = rng.random(n) < 0.35
                sp = [0, 1, -1, info.min, info.max, info.max - 1, info.min + 1]
                sp = [s for s in sp if info.min <= s <= info.max]
                v[m] = rng.choice(sp, int(m.sum()))
        return np.asarray(v).astype(npd).reshape(shape)


def _contig(v, dtype):
    t = torch.from_numpy(np.array(v, order="C"))  # (np.ascontiguousarray makes 0-d 1-d)
    return t.to(torch.bfloat16) if dtype == "bfloat16" else t


def mk(shape, dtype="float32", seed=0, fill="rand", layout="c", rg=False):
    """A tensor of `shape`/`dtype` whose values come from `seed` and `fill` ('rand', 'special'
    with inf/nan/extremes, 'pos', 'zero', 'idx:lo:hi'), laid out in memory by `layout`:

    - ``c``: contiguous (``torch.from_numpy``); ``list``: ``torch.tensor(list)``
    - ``perm:p``: ``base.permute(q)`` of a contiguous base holding the values permuted by p
    - ``step:d:k``: every k-th element along dim d of a bigger base (``base[..., ::k]``)
    - ``exp:dims:lead``: ``expand`` (stride 0) of a base with size 1 at `dims` and without the
      `lead` leading dims
    - ``off:k``: ``base[k:]`` (``base[k]`` for 0-d), a view with a storage offset, empty too
    - ``npT`` / ``npstep``: ``from_numpy`` of a Fortran-order / stepped numpy array

    The logical values do not depend on `layout`: ``FORCE_CONTIGUOUS`` rebuilds the same values
    contiguously.
    """
    shape = tuple(int(s) for s in shape)
    rng = np.random.default_rng(seed)
    kind, _, arg = layout.partition(":")
    if kind == "exp":
        dims_s, _, lead_s = arg.partition(":")
        dims = [int(v) for v in dims_s.split(",") if v]
        lead = int(lead_s or 0)
        small = [1 if i in dims else s for i, s in enumerate(shape)][lead:]
        v = _values(small, dtype, rng, fill)
        if FORCE_CONTIGUOUS:
            t = _contig(np.broadcast_to(v, shape).copy(), dtype)
        else:
            t = _contig(v, dtype).expand(*shape)
    else:
        v = _values(shape, dtype, rng, fill)
        if FORCE_CONTIGUOUS or kind == "c":
            t = _contig(v, dtype)
        elif kind == "list":
            t = torch.tensor(v.reshape(-1).tolist(), dtype=getattr(torch, dtype)).reshape(shape)
        elif kind == "perm":
            p = [int(i) for i in arg.split(",")]
            q = [int(i) for i in np.argsort(p)]
            t = _contig(v.transpose(p), dtype).permute(*q)
        elif kind == "step":
            d, k = (int(i) for i in arg.split(":"))
            bshape = list(shape)
            bshape[d] *= k
            base = _values(bshape, dtype, rng, fill)
            sl = (slice(None),) * d + (slice(None, None, k),)
            base[sl] = v
            t = _contig(base, dtype)[sl]
        elif kind == "off":
            k = int(arg)
            if not shape:
                base = _values((k + 1,), dtype, rng, fill)
                base[k] = v
                t = _contig(base, dtype)[k]
            else:
                junk = _values((k,) + shape[1:], dtype, rng, fill)
                t = _contig(np.concatenate([junk, v], 0), dtype)[k:]
        elif kind == "npT":
            t = torch.from_numpy(np.asfortranarray(v))
        elif kind == "npstep":
            base = _values((shape[0] * 2,) + shape[1:], dtype, rng, fill)
            base[::2] = v
            t = torch.from_numpy(base[::2])
        else:
            raise ValueError(f"unknown layout {layout!r}")
    if rg:
        t.requires_grad_(True)
    return t


class R:
    """A tensor recipe; its repr is the ``mk(...)`` call that builds it."""

    def __init__(self, shape, dtype, seed, fill, layout, rg=False):
        self.shape, self.dtype, self.seed = tuple(shape), dtype, seed
        self.fill, self.layout, self.rg = fill, layout, rg

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def numel(self):
        return int(np.prod(self.shape)) if self.shape else 1

    def __repr__(self):
        rg = ", rg=True" if self.rg else ""
        return (
            f"mk({self.shape!r}, {self.dtype!r}, {self.seed}, {self.fill!r}, "
            f"{self.layout!r}{rg})"
        )

    __str__ = __repr__


# --------------------------------------------------------------------------- generation helpers

BIG_INTS = [2**31 - 1, 2**31, 2**32, 2**62, 2**63 - 1, -(2**31), -(2**62), -(2**63)]
BAD_SCALARS = [math.nan, math.inf, -math.inf, 2**63 - 1, -(2**63), 2**64, 1e308, -0.0, 300, -129]
SCALARS = [0, 1, -1, 2, 3, -3, 0.5, -2.5, True, False, 7, 1e-3]


EXCLUDE_LAYOUTS = set()  # --exclude-layouts: to look past a bug that dominates a run


class Gen:
    """Draws case parts from a Hypothesis `data` object."""

    def __init__(self, data):
        self.data = data

    def draw(self, strategy):
        return self.data.draw(strategy)

    def int(self, lo, hi):
        return self.draw(st.integers(lo, hi))

    def bool(self):
        return self.draw(st.booleans())

    def pick(self, seq):
        return self.draw(st.sampled_from(list(seq)))

    def chance(self, p):
        return self.draw(st.integers(0, 999)) < p * 1000

    def shape(self, min_rank=0, max_rank=6, max_side=None, min_side=0):
        rank = self.int(min_rank, max_rank)
        side = max_side if max_side is not None else (5 if rank <= 2 else 4 if rank <= 4 else 3)
        return tuple(self.int(min_side, max(side, min_side)) for _ in range(rank))

    def layout(self, shape, dtype):
        rank = len(shape)
        kinds = ["c", "c", "c", "list", "off", "off"]
        if rank >= 1:
            kinds += ["step", "exp", "exp", "npstep"]
        if rank >= 2:
            kinds += ["perm", "perm", "npT"]
        kinds = [k for k in kinds if k not in EXCLUDE_LAYOUTS] or ["c"]
        kind = self.pick(kinds)
        if kind in ("npT", "npstep") and dtype == "bfloat16":
            kind = "c"
        if kind == "perm":
            p = self.draw(st.permutations(list(range(rank))))
            return "perm:" + ",".join(str(i) for i in p)
        if kind == "step":
            return f"step:{self.int(0, rank - 1)}:{self.int(2, 3)}"
        if kind == "exp":
            dims = [i for i in range(rank) if self.bool()]
            lead = self.int(0, rank) if self.chance(0.3) else 0
            return "exp:" + ",".join(str(i) for i in dims) + f":{lead}"
        if kind == "off":
            return f"off:{self.int(1, 3)}"
        return kind

    def tensor(self, shape=None, dtype=None, dtypes=DTYPES, fill=None, layout=None, rg=False,
               min_rank=0, max_rank=6, max_side=None):
        if shape is None:
            shape = self.shape(min_rank, max_rank, max_side)
        if dtype is None:
            dtype = self.pick(dtypes)
        if fill is None:
            fill = self.pick(["rand", "rand", "rand", "special", "zero", "pos"])
        if layout is None:
            layout = self.layout(shape, dtype)
        return R(shape, dtype, self.int(0, 9999), fill, layout, rg)

    def ftensor(self, **kw):
        kw.setdefault("dtypes", FLOATS)
        return self.tensor(**kw)

    def index_tensor(self, size, shape=None, dtype=None, **kw):
        """An integer tensor of indices for a dim of `size` (mostly valid, some out of range)."""
        if dtype is None:
            dtype = self.pick(["int64"] * 6 + ["int32", "uint8", "bool", "float32", "int16"])
        mode = self.pick(["valid", "valid", "valid", "neg", "oob"])
        if size == 0 and mode != "oob":
            lo, hi = 0, 0
        elif mode == "valid":
            lo, hi = 0, size - 1
        elif mode == "neg":
            lo, hi = -size, size - 1
        else:
            lo, hi = -size - 2, size + 2
        if dtype == "uint8":
            lo = max(lo, 0)
            hi = max(hi, lo)
        return self.tensor(shape=shape, dtype=dtype, fill=f"idx:{lo}:{hi}", **kw)

    def dim(self, ndim, wild=0.12):
        """A dim for a tensor of rank `ndim`: usually valid, sometimes out of range or huge."""
        if self.chance(wild):
            return self.pick([ndim, -ndim - 1, ndim + 3, 2**31, -(2**63), 2**63 - 1])
        n = max(ndim, 1)
        return self.int(-n, n - 1)

    def dims(self, ndim):
        """A `dim` argument for reductions: int, tuple/list (repeats too), empty, None."""
        kind = self.pick(["int", "int", "tuple", "list", "empty", "none", "rep"])
        if kind == "int":
            return self.dim(ndim)
        if kind == "none":
            return None
        if kind == "empty":
            return self.pick([(), []])
        k = self.int(1, max(ndim, 1) + 1)
        ds = tuple(self.dim(ndim, wild=0.05) for _ in range(k))
        if kind == "rep":
            ds = ds + ds[:1]
        return list(ds) if kind == "list" else ds

    def index_int(self, size, wild=0.15):
        """An index into a dim of `size`: valid, negative, out of range or huge."""
        if self.chance(wild):
            return self.pick([size, -size - 1, size + 5] + BIG_INTS)
        if size == 0:
            return self.pick([0, -1, 1])
        return self.int(-size, size - 1)

    def small_int(self, lo=-2, hi=5, wild=0.1):
        if self.chance(wild):
            return self.pick(BIG_INTS)
        return self.int(lo, hi)

    def scalar(self, wild=0.25):
        if self.chance(wild):
            return self.pick(BAD_SCALARS)
        return self.pick(SCALARS)

    def bshape(self, shape):
        """A shape that broadcasts with `shape` (mostly), sometimes not."""
        shape = list(shape)
        kind = self.pick(["same", "suffix", "ones", "lead", "random"])
        if kind == "same":
            return tuple(shape)
        if kind == "suffix":
            return tuple(shape[self.int(0, len(shape)):])
        if kind == "ones":
            return tuple(1 if self.bool() else s for s in shape)
        if kind == "lead":
            return (self.int(1, 3),) + tuple(1 if self.bool() else s for s in shape)
        return self.shape(0, 4)

    def other(self, x, dtypes=DTYPES):
        """The second operand of a binary op with `x`: a tensor (broadcast, 0-d, any dtype) or a
        Python scalar."""
        kind = self.pick(["tensor", "tensor", "tensor", "scalar", "scalar0d", "same_dtype"])
        if kind == "scalar":
            return repr(self.scalar())
        if kind == "scalar0d":
            return repr(self.tensor(shape=(), dtypes=dtypes))
        dt = x.dtype if kind == "same_dtype" else None
        return repr(self.tensor(shape=self.bshape(x.shape), dtype=dt, dtypes=dtypes))

    def dtype_kw(self, p=0.3):
        if self.chance(p):
            return f", dtype=torch.{self.pick(DTYPES)}"
        return ""

    def size_arg(self, sizes):
        """A size list passed as varargs, tuple or list."""
        form = self.pick(["args", "tuple", "list"])
        if form == "args":
            return ", ".join(repr(s) for s in sizes)
        if form == "tuple":
            return repr(tuple(sizes))
        return repr(list(sizes))


class Case:
    """One call: `code` is a Python expression (or `;`-separated statements assigning `_r`).

    must_raise: returning is a failure. expect: the exception types PyTorch raises (any other
    ordinary exception is WRONG_EXC). compare: participates in the layout check ("all", "first"
    to compare only the first element of a tuple result, or False)."""

    def __init__(self, code, must_raise=False, expect=None, compare="all"):
        self.code, self.must_raise, self.expect, self.compare = code, must_raise, expect, compare


def _case(x):
    return x if isinstance(x, Case) else Case(x)


# --------------------------------------------------------------------------- op registry

GROUPS = {}  # group -> {op name -> generator(Gen) -> Case | str}
WEIGHTS = {}  # op name -> share of --examples it gets (table-driven ops get fewer)


def register(group, name, fn, weight=1.0):
    GROUPS.setdefault(group, {})[name] = fn
    WEIGHTS[name] = weight


def op(group, name=None):
    def deco(fn):
        register(group, name or fn.__name__.rstrip("_"), fn)
        return fn

    return deco


_TORCH_FUNCS = {
    n for n in dir(torch) if callable(getattr(torch, n)) and not isinstance(
        getattr(torch, n), (torch.dtype, type))
}


def _has(name, obj=None):
    return hasattr(torch.Tensor if obj is None else obj, name)


# ---------------------------------------------------------------- elementwise

UNARY = """abs neg sign sgn exp exp2 expm1 log log2 log10 log1p sqrt rsqrt sin cos tan asin acos
atan sinh cosh tanh asinh acosh atanh sigmoid relu floor ceil trunc frac reciprocal square erf
erfc erfinv round logical_not bitwise_not isnan isinf isfinite signbit nan_to_num fix
float double half bfloat16 bool byte char short int long""".split()
BINARY = """add sub mul div true_divide floor_divide remainder fmod pow float_power maximum minimum
fmax fmin atan2 eq ne lt le gt ge logical_and logical_or logical_xor bitwise_and bitwise_or
bitwise_xor bitwise_left_shift bitwise_right_shift rsub""".split()
DUNDERS = ["+", "-", "*", "/", "//", "%", "**", "&", "|", "^", "<<", ">>", "==", "<", ">=", "!="]


def _unary(name):
    def gen(g):
        x = g.tensor()
        form = g.pick(["method", "method", "inplace", "func"])
        if form == "inplace" and _has(name + "_"):
            return f"{x}.{name}_()"
        if form == "func" and name in _TORCH_FUNCS:
            return f"torch.{name}({x})"
        return f"{x}.{name}()"

    return gen


for _n in UNARY:
    if _has(_n):
        register("elementwise", _n, _unary(_n), weight=0.4)


def _binary(name):
    def gen(g):
        x = g.tensor()
        y = g.other(x)
        kw = ""
        if name in ("add", "sub", "rsub") and g.chance(0.3):
            kw = f", alpha={g.scalar()!r}"
        if name == "div" and g.chance(0.4):
            kw = f", rounding_mode={g.pick(['floor', 'trunc', None, 'bad'])!r}"
        form = g.pick(["method", "method", "inplace", "func"])
        if form == "inplace" and _has(name + "_"):
            return f"{x}.{name}_({y}{kw})"
        if form == "func" and name in _TORCH_FUNCS:
            return f"torch.{name}({x}, {y}{kw})"
        return f"{x}.{name}({y}{kw})"

    return gen


for _n in BINARY:
    if _has(_n):
        register("elementwise", _n, _binary(_n), weight=0.6)


@op("elementwise")
def dunder(g):
    x = g.tensor()
    o = g.pick(DUNDERS)
    y = g.other(x)
    form = g.pick(["lr", "lr", "rl", "inplace"])
    if form == "rl":
        return f"{g.scalar()!r} {o} {x}"
    if form == "inplace" and o not in ("==", "<", ">=", "!="):
        return f"x = {x}; x {o}= {y}; _r = x"
    return f"{x} {o} {y}"


@op("elementwise")
def unary_dunder(g):
    return f"{g.pick(['-', '~', '+', 'abs'])}({g.tensor()})"


@op("elementwise")
def shift_by_width(g):
    x = g.tensor(dtypes=INTS + ["bool"])
    s = g.pick([0, 1, 7, 8, 15, 16, 31, 32, 33, 63, 64, 65, 100, -1, -64, 2**31, 2**63 - 1])
    if g.bool():
        s = repr(g.tensor(shape=g.bshape(x.shape), dtypes=INTS, fill=f"idx:-2:{g.int(0, 70)}"))
    return f"{x} {g.pick(['<<', '>>'])} {s}" if g.bool() else f"{x}.bitwise_left_shift({s})"


@op("elementwise")
def div_by_int_zero(g):
    x = g.tensor(dtypes=INTS + ["bool"])
    fn = g.pick(["fmod", "remainder", "floor_divide", "div", "__mod__", "__floordiv__"])
    y = g.pick(["0", "torch.tensor(0)", repr(g.tensor(shape=g.bshape(x.shape), dtypes=INTS,
                                                  fill=g.pick(["zero", "idx:-1:1"])))])
    if fn == "div" and g.bool():
        return f"{x}.div({y}, rounding_mode={g.pick(['floor', 'trunc'])!r})"
    return f"{x}.{fn}({y})"


@op("elementwise")
def int_min_div_neg1(g):
    dt = g.pick(["int64", "int32", "int16", "int8"])
    x = g.tensor(dtype=dt, fill="special")
    fn = g.pick(["floor_divide", "remainder", "fmod", "__floordiv__", "__mod__", "abs", "neg"])
    if fn in ("abs", "neg"):
        return f"{x}.{fn}()"
    return f"{x}.{fn}({g.pick([-1, 'torch.tensor(-1)', -1.0])})"


@op("elementwise")
def pow_(g):
    x = g.tensor()
    e = g.pick([0, 1, 2, -1, -2, 0.5, -0.5, 63, 64, 2**62, -(2**63), math.nan, math.inf, True])
    if g.bool():
        e = repr(g.tensor(shape=g.bshape(x.shape)))
    form = g.pick(["pow", "rpow", "ipow", "float_power"])
    if form == "rpow":
        return f"{g.scalar()!r} ** {x}"
    if form == "ipow":
        return f"x = {x}; x **= {e}; _r = x"
    return f"{x}.{form}({e})"


@op("elementwise")
def clamp(g):
    x = g.tensor()

    def bound():
        k = g.pick(["none", "scalar", "tensor"])
        if k == "none":
            return "None"
        if k == "scalar":
            return repr(g.scalar())
        return repr(g.tensor(shape=g.bshape(x.shape)))

    fn = g.pick(["clamp", "clip", "clamp_", "clamp_min", "clamp_max"])
    if fn in ("clamp_min", "clamp_max"):
        return f"{x}.{fn}({bound()})"
    return f"{x}.{fn}({bound()}, {bound()})"


@op("elementwise")
def where(g):
    shape = g.shape(0, 4)
    c = g.tensor(shape=g.bshape(shape), dtype=g.pick(["bool"] * 4 + ["uint8", "float32"]))

    def val():
        if g.chance(0.3):
            return repr(g.scalar())
        return repr(g.tensor(shape=g.bshape(shape)))

    if g.bool():
        return f"torch.where({c}, {val()}, {val()})"
    x = g.tensor(shape=shape)
    return f"{x}.where({c}, {val()})"


@op("elementwise")
def lerp(g):
    x = g.tensor(dtypes=FLOATS + ["int64"])
    y = g.tensor(shape=g.bshape(x.shape), dtypes=FLOATS)
    w = repr(g.scalar()) if g.bool() else repr(g.tensor(shape=g.bshape(x.shape), dtypes=FLOATS))
    return f"{x}.lerp{g.pick(['', '_'])}({y}, {w})"


@op("elementwise")
def addcmul_addcdiv(g):
    x = g.tensor()
    a = g.tensor(shape=g.bshape(x.shape))
    b = g.tensor(shape=g.bshape(x.shape))
    fn = g.pick(["addcmul", "addcdiv", "addcmul_", "addcdiv_"])
    return f"{x}.{fn}({a}, {b}, value={g.scalar()!r})"


@op("elementwise")
def isclose_allclose(g):
    x = g.tensor()
    y = g.other(x)
    fn = g.pick(["isclose", "allclose"])
    kw = f"rtol={g.pick([0, 1e-5, -1, math.nan])!r}, atol={g.pick([0, 1e-8, -1, math.inf])!r}"
    return f"torch.{fn}({x}, {y}, {kw}, equal_nan={g.bool()})"


@op("elementwise")
def equal(g):
    x = g.tensor()
    return f"torch.equal({x}, {g.tensor(shape=g.bshape(x.shape))})"


@op("elementwise")
def nan_to_num_args(g):
    x = g.tensor(fill="special")
    kw = ", ".join(f"{k}={g.scalar()!r}" for k in ("nan", "posinf", "neginf") if g.bool())
    return f"{x}.nan_to_num({kw})"


@op("elementwise")
def round_decimals(g):
    return f"{g.tensor()}.round(decimals={g.pick([0, 1, 3, -1, -5, 40, 400, -400, 2**31])})"


@op("elementwise")
def cast(g):
    x = g.tensor(fill=g.pick(["special", "rand"]))
    form = g.pick(["to", "type", "type_as"])
    dt = g.pick(DTYPES)
    if form == "type_as":
        return f"{x}.type_as({g.tensor(dtype=dt, shape=())})"
    return f"{x}.{form}(torch.{dt})"


@op("elementwise")
def inplace_overlap(g):
    """In-place ops whose output overlaps an input (self-aliasing views, expanded outputs)."""
    x = g.tensor(min_rank=1, max_rank=3)
    fn = g.pick(["add_", "mul_", "sub_", "copy_", "div_", "clamp_", "masked_fill_", "zero_",
                 "fill_", "exp_", "index_add_"])
    other = g.pick(["x", "x.flip(0)", "x.t()" if x.ndim == 2 else "x", "x[:1]", "x.roll(1, 0)",
                    "x.expand_as(x)"])
    if fn == "masked_fill_":
        call = f"x.masked_fill_(x > 0 if x.dtype != torch.bool else x, {g.scalar()!r})"
    elif fn == "zero_":
        call = "x.zero_()"
    elif fn == "fill_":
        call = f"x.fill_({g.scalar()!r})"
    elif fn == "exp_":
        call = "x.exp_()"
    elif fn == "clamp_":
        call = f"x.clamp_({other}, None)"
    elif fn == "index_add_":
        call = f"x.index_add_(0, torch.zeros({x.shape[0]}, dtype=torch.int64), {other})"
    else:
        call = f"x.{fn}({other})"
    return f"x = {x}; {call}; _r = x"


@op("elementwise")
def inplace_on_expanded(g):
    shape = g.shape(1, 3, min_side=1)
    x = g.tensor(shape=shape, layout="exp:" + ",".join(str(i) for i in range(len(shape))) + ":0")
    fn = g.pick(["add_(1)", "mul_(2)", "zero_()", "fill_(3)", "copy_(torch.ones(1))",
                 "exp_()", "neg_()", "clamp_(0, 1)", "__setitem__(0, 5)", "index_put_(("
                 "torch.tensor([0]),), torch.tensor(1.0))"])
    return f"x = {x}; x.{fn}; _r = x"


# ---------------------------------------------------------------- reductions / scans / sorting

_DIM_LISTS = {"sum", "mean", "nansum", "amax", "amin", "var", "std", "logsumexp",
              "count_nonzero", "var_mean", "std_mean", "all", "any"}
_NEEDS_DIM = {"cumsum", "cumprod", "softmax", "log_softmax", "logsumexp"}
_NO_KEEPDIM = {"cumsum", "cumprod", "softmax", "log_softmax", "count_nonzero"}
_DTYPE_ARG = {"sum", "mean", "nansum", "prod", "cumsum", "cumprod", "softmax", "log_softmax"}
_CORRECTION = {"var", "std", "var_mean", "std_mean"}


_DIM_CHECKED_FIRST = {"sum", "amax", "amin", "argmax", "argmin", "cumsum"}


def _dim_ok(d, ndim):
    n = max(ndim, 1)
    return -n <= d < n


def _reduce(name):
    def gen(g):
        x = g.tensor()
        args = []
        form = g.pick(["none", "pos", "pos", "kw"])
        if name in _NEEDS_DIM and form == "none":
            form = "pos"
        if form != "none":
            d = g.dims(x.ndim) if name in _DIM_LISTS else g.dim(x.ndim)
            args.append(repr(d) if form == "pos" else f"dim={d!r}")
            if name not in _NO_KEEPDIM and g.bool():
                args.append(f"keepdim={g.bool()}")
        if name in _DTYPE_ARG and g.chance(0.25):
            args.append(f"dtype=torch.{g.pick(DTYPES)}")
        if name in _CORRECTION and g.chance(0.5):
            args.append(g.pick(["unbiased=False", "unbiased=True", "correction=0",
                                "correction=2", "correction=-1", "correction=1.5"]))
        code = f"{x}.{name}({', '.join(args)})"
        if name in _DIM_CHECKED_FIRST and form != "none" and isinstance(d, int) and len(
                args) == 1 and not _dim_ok(d, x.ndim):
            return Case(code, expect=(IndexError,))  # PyTorch: "Dimension out of range"
        return code

    return gen


for _n in """sum nansum mean prod amax amin argmax argmin var std logsumexp all any count_nonzero
cumsum cumprod softmax log_softmax var_mean std_mean""".split():
    if _has(_n):
        register("reduce", _n, _reduce(_n), weight=0.7)


@op("reduce")
def max_min(g):
    x = g.tensor()
    fn = g.pick(["max", "min"])
    form = g.pick(["all", "dim", "other"])
    if form == "all":
        return Case(f"{x}.{fn}()")
    if form == "dim":
        return Case(f"{x}.{fn}({g.dim(x.ndim)}, keepdim={g.bool()})")
    return Case(f"{x}.{fn}({g.tensor(shape=g.bshape(x.shape))})")


@op("reduce")
def all_any_dims(g):
    x = g.tensor()
    return f"{x}.{g.pick(['all', 'any'])}({g.dim(x.ndim)}, {g.bool()})"


@op("reduce")
def norm(g):
    x = g.tensor(dtypes=FLOATS + ["int64"])
    p = g.pick([None, 0, 1, 2, 3.5, -1, -2, 0.5, math.inf, -math.inf, "fro", "nuc", math.nan])
    kw = ""
    if g.bool():
        kw = f", dim={g.dims(x.ndim)!r}, keepdim={g.bool()}"
    return f"{x}.norm({p!r}{kw})"


@op("reduce")
def sort(g):
    x = g.tensor()
    kw = f"dim={g.dim(x.ndim)}, descending={g.bool()}"
    if g.bool():
        kw += f", stable={g.bool()}"
    return Case(f"{x}.sort({kw})", compare="first")


@op("reduce")
def argsort(g):
    x = g.tensor()
    stable = g.bool()
    return Case(f"{x}.argsort(dim={g.dim(x.ndim)}, descending={g.bool()}, stable={stable})",
                compare="all" if stable else False)


@op("reduce")
def topk(g):
    x = g.tensor()
    d = g.dim(x.ndim)
    size = x.shape[d] if x.ndim and -x.ndim <= d < x.ndim else 1
    k = g.pick([0, 1, size, size + 1, -1, max(size - 1, 0), 2**62])
    return Case(f"{x}.topk({k}, dim={d}, largest={g.bool()}, sorted={g.bool()})",
                compare="first")


@op("reduce")
def unique(g):
    x = g.tensor(max_rank=4)
    kw = f"sorted={g.bool()}, return_inverse={g.bool()}, return_counts={g.bool()}"
    if g.chance(0.4):
        kw += f", dim={g.dim(x.ndim)}"
    return Case(f"{x}.unique({kw})", compare="all")


@op("reduce")
def cumsum_cumprod_func(g):
    x = g.tensor()
    return f"torch.{g.pick(['cumsum', 'cumprod'])}({x}, {g.dim(x.ndim)}{g.dtype_kw()})"


@op("reduce")
def softmax_func(g):
    x = g.tensor()
    fn = g.pick(["F.softmax", "F.log_softmax", "torch.softmax", "torch.log_softmax",
                 "F.softmin"])
    d = g.pick([repr(g.dim(x.ndim)), "None"]) if fn.startswith("F.") else repr(g.dim(x.ndim))
    return f"{fn}({x}, {d}{g.dtype_kw()})"


# ---------------------------------------------------------------- movement / shape / joins

def _random_sizes(g, numel, rank_hi=5):
    """A target shape for view/reshape: mostly same numel (with -1), sometimes not."""
    kind = g.pick(["same", "same", "infer", "wrong", "zero", "huge"])
    if kind == "huge":
        return [g.pick(BIG_INTS), g.pick([0, 1, -1, 2**32])]
    if kind == "wrong":
        return list(g.shape(0, 4))
    if kind == "zero":
        return [0, g.int(-1, 3)]
    # factor numel into a random shape
    sizes, rest = [], numel
    for _ in range(g.int(0, rank_hi)):
        divs = [d for d in range(1, rest + 1) if rest % d == 0] if rest else [0, 1, 2]
        dd = g.pick(divs)
        sizes.append(dd)
        rest = rest // dd if dd else rest
    if rest != 1 or numel == 0:
        sizes.append(rest)
    if kind == "infer" and sizes:
        sizes[g.int(0, len(sizes) - 1)] = -1
        if g.chance(0.15):
            sizes.append(-1)
    return sizes


@op("movement")
def view(g):
    x = g.tensor()
    return f"{x}.view({g.size_arg(_random_sizes(g, x.numel))})"


@op("movement")
def reshape(g):
    x = g.tensor()
    fn = g.pick(["reshape", "reshape", "view_dtype"])
    if fn == "view_dtype":
        return f"{x}.view(torch.{g.pick(DTYPES)})"
    return f"{x}.reshape({g.size_arg(_random_sizes(g, x.numel))})"


@op("movement")
def expand(g):
    x = g.tensor(max_rank=4)
    sizes = [s if not g.chance(0.3) else g.pick([-1, 1, 0, 3, s]) for s in x.shape]
    if g.chance(0.4):
        sizes = [g.int(0, 3)] * g.int(1, 2) + sizes
    huge = g.chance(0.15)
    if huge:
        sizes = [g.pick([2**40, 2**62, 2**63 - 1, -2])] + sizes
        # only metadata may be touched: expanding to a huge size is a view
        return Case(f"t = {x}.expand({g.size_arg(sizes)}); _r = (t.shape, t.stride())",
                    compare=False)
    return f"{x}.{g.pick(['expand', 'broadcast_to'])}({g.size_arg(sizes)})"


@op("movement")
def repeat(g):
    x = g.tensor(max_rank=4, max_side=3)
    k = g.int(max(x.ndim - 1, 0), x.ndim + 2)
    reps = [g.int(0, 3) for _ in range(k)]
    if int(np.prod(reps or [1])) * x.numel > 4096:
        reps = [1] * k
    if g.chance(0.15):
        # sizes no machine holds (must raise) or an empty result; never just "big"
        reps = reps + [g.pick([2**31, 2**32, 2**40, 2**62, 2**63 - 1, -1])
                       for _ in range(g.int(1, 2))]
        numel = int(np.prod([abs(r) for r in reps], dtype=object)) * x.numel
        if 0 < numel < 2**44 and all(r >= 0 for r in reps):
            reps[0] = 0
            numel = 0
        return Case(f"{x}.repeat({g.size_arg(reps)})", must_raise=numel >= 2**44,
                    compare=False)
    return f"{x}.repeat({g.size_arg(reps)})"


@op("movement")
def permute(g):
    x = g.tensor()
    if g.chance(0.7):
        p = list(g.draw(st.permutations(list(range(x.ndim)))))
        p = [d - x.ndim if g.chance(0.2) else d for d in p]
    else:
        p = [g.dim(x.ndim) for _ in range(g.int(0, x.ndim + 1))]
    return f"{x}.permute({g.size_arg(p)})"


@op("movement")
def transpose(g):
    x = g.tensor()
    fn = g.pick(["transpose", "swapaxes", "swapdims"])
    if g.chance(0.2):
        return f"{x}.{g.pick(['t', 'T', 'mT', 'H', 'mH'])}" + ("()" if g.bool() else "")
    return f"{x}.{fn}({g.dim(x.ndim)}, {g.dim(x.ndim)})"


@op("movement")
def t_props(g):
    x = g.tensor(max_rank=3)
    return f"{x}.{g.pick(['t()', 'T', 'mT', 'H', 'mH'])}"


@op("movement")
def flatten(g):
    x = g.tensor()
    return f"{x}.flatten({g.dim(x.ndim)}, {g.dim(x.ndim)})"


@op("movement")
def unflatten(g):
    x = g.tensor(min_rank=0)
    d = g.dim(x.ndim)
    size = x.shape[d] if x.ndim and -x.ndim <= d < x.ndim else 1
    sizes = _random_sizes(g, size, rank_hi=3)
    return f"{x}.unflatten({d}, {tuple(sizes)!r})"


@op("movement")
def squeeze_unsqueeze(g):
    x = g.tensor()
    fn = g.pick(["squeeze", "unsqueeze", "squeeze_tuple", "squeeze_none"])
    if fn == "squeeze_none":
        return f"{x}.squeeze()"
    if fn == "squeeze_tuple":
        return f"{x}.squeeze({g.dims(x.ndim)!r})"
    if fn == "unsqueeze":
        return f"{x}.unsqueeze({g.dim(x.ndim + 1)})"
    return f"{x}.squeeze({g.dim(x.ndim)})"


@op("movement")
def narrow(g):
    x = g.tensor()
    d = g.dim(x.ndim)
    size = x.shape[d] if x.ndim and -x.ndim <= d < x.ndim else 1
    start = g.index_int(size)
    length = g.pick([0, 1, size, size + 1, -1, max(size - 1, 0), 2**63 - 1])
    if g.chance(0.15):
        start = f"torch.tensor({start})"
    return f"{x}.narrow({d}, {start}, {length})"


@op("movement")
def select(g):
    x = g.tensor()
    d = g.dim(x.ndim)
    size = x.shape[d] if x.ndim and -x.ndim <= d < x.ndim else 1
    i = g.index_int(size)
    if x.ndim and (not _dim_ok(d, x.ndim) or not -size <= i < size):
        return Case(f"{x}.select({d}, {i})", expect=(IndexError,))
    return f"{x}.select({d}, {i})"


@op("movement")
def unfold(g):
    x = g.tensor()
    d = g.dim(x.ndim)
    size = x.shape[d] if x.ndim and -x.ndim <= d < x.ndim else 1
    sz = g.pick([0, 1, 2, size, size + 1, -1, 2**63 - 1])
    step = g.pick([1, 2, 3, 0, -1, 2**63 - 1])
    return f"{x}.unfold({d}, {sz}, {step})"


@op("movement")
def as_strided(g):
    x = g.tensor()
    k = g.int(0, 4)
    size = tuple(g.pick([0, 1, 2, 3, -1, 2**62]) for _ in range(k))
    stride = tuple(g.pick([0, 1, 2, 5, -1, 2**62]) for _ in range(k if g.chance(0.9) else k + 1))
    offset = g.pick([None, 0, 1, 4, -1, 2**62])
    method = g.pick(["as_strided", "as_strided_"])
    return f"{x}.{method}({size}, {stride}, {offset})"


@op("movement")
def layout_in_place(g):
    x = g.tensor()
    fn = g.pick(["t_", "transpose_", "squeeze_", "unsqueeze_", "resize_"])
    if fn == "t_":
        return f"{x}.t_()"
    if fn == "transpose_":
        return f"{x}.transpose_({g.dim(x.ndim)}, {g.dim(x.ndim)})"
    if fn == "squeeze_":
        return f"{x}.squeeze_({g.dim(x.ndim)})" if g.bool() else f"{x}.squeeze_()"
    if fn == "unsqueeze_":
        return f"{x}.unsqueeze_({g.dim(x.ndim + 1)})"
    sizes = tuple(g.pick([0, 1, 3, 7, -1]) for _ in range(g.int(0, 3)))
    return f"{x}.resize_({sizes})"


@op("movement")
def sequence_index(g):
    x = g.tensor()
    n = x.shape[0] if x.ndim else 1
    index = g.pick([f"range({n})", f"range({n + 2})", "range(0)", "[]",
                    f"[0, slice(None, {n})]", "[[0, 1], [1, 0]]", "[(0,), (0,)]",
                    f"(range({n}), 0)", "[None, 0]", "[..., 0]"])
    return f"{x}[{index}]"


@op("movement")
def movedim(g):
    x = g.tensor()
    if g.bool():
        return f"{x}.{g.pick(['movedim', 'moveaxis'])}({g.dim(x.ndim)}, {g.dim(x.ndim)})"
    k = g.int(0, x.ndim + 1)
    a = tuple(g.dim(x.ndim, wild=0.05) for _ in range(k))
    b = tuple(g.dim(x.ndim, wild=0.05) for _ in range(k if g.chance(0.9) else k + 1))
    return f"{x}.movedim({a!r}, {b!r})"


@op("movement")
def roll(g):
    x = g.tensor()
    kind = g.pick(["int", "int_dim", "tuple"])
    if kind == "int":
        return f"{x}.roll({g.small_int(-7, 7, wild=0.2)})"
    if kind == "int_dim":
        return f"{x}.roll({g.small_int(-7, 7, wild=0.2)}, {g.dim(x.ndim)})"
    k = g.int(0, 3)
    shifts = tuple(g.small_int(-7, 7) for _ in range(k))
    dims = tuple(g.dim(x.ndim) for _ in range(k if g.chance(0.85) else k + 1))
    return f"{x}.roll({shifts!r}, {dims!r})"


@op("movement")
def flip(g):
    x = g.tensor()
    fn = g.pick(["flip", "flip", "fliplr", "flipud"])
    if fn == "flip":
        ds = tuple(g.dim(x.ndim) for _ in range(g.int(0, 3)))
        return f"{x}.flip({ds!r})" if g.bool() else f"{x}.flip({', '.join(map(str, ds))})"
    return f"{x}.{fn}()"


@op("movement")
def chunk_split(g):
    x = g.tensor()
    d = g.dim(x.ndim)
    size = x.shape[d] if x.ndim and -x.ndim <= d < x.ndim else 1
    fn = g.pick(["chunk", "split", "split_list", "unbind", "torch_split"])
    if fn == "chunk":
        return f"{x}.chunk({g.pick([1, 2, 3, 7, 0, -1, 2**62])}, {d})"
    if fn == "split":
        return f"{x}.split({g.pick([1, 2, 3, size, size + 1, 0, -1, 2**63 - 1])}, {d})"
    if fn == "unbind":
        return f"{x}.unbind({d})"
    parts = []
    rest = size
    while rest > 0 and len(parts) < 4:
        p = g.int(0, rest)
        parts.append(p)
        rest -= p
    if rest or g.chance(0.2):
        parts.append(rest if g.chance(0.7) else g.pick([-1, rest + 1, 2**62]))
    if fn == "torch_split":
        return f"torch.split({x}, {parts!r}, {d})"
    return f"{x}.split({parts!r}, {d})"


@op("movement")
def tril_triu(g):
    x = g.tensor()
    k = g.pick([0, 1, -1, 2, -3, 5, 2**62, -(2**62), 2**63 - 1, -(2**63)])
    fn = g.pick(["tril", "triu", "tril_", "triu_"])
    return f"{x}.{fn}({k})"


@op("movement")
def diagonal(g):
    x = g.tensor()
    off = g.pick([0, 1, -1, 2, -3, 7, 2**62, -(2**62), 2**63 - 1, -(2**63)])
    return f"{x}.diagonal({off}, {g.dim(x.ndim)}, {g.dim(x.ndim)})"


@op("movement")
def diag_trace(g):
    x = g.tensor(max_rank=3)
    fn = g.pick(["diag", "trace", "diag_k"])
    if fn == "diag_k":
        return f"torch.diag({x}, {g.pick([0, 1, -2, 5, 2**62])})"
    return f"torch.{fn}({x})"


def _cat_list(g, stack):
    shape = list(g.shape(0, 4))
    n = g.int(0, 4)
    d = g.dim(len(shape) + (1 if stack else 0))
    out = []
    dt = g.pick(DTYPES)
    for _ in range(n):
        s = list(shape)
        if not stack and s and -len(s) <= d < len(s) and g.bool():
            s[d] = g.int(0, 3)
        if g.chance(0.15):
            s = list(g.pick([(0,), (), (1,), tuple(g.shape(0, 3))]))
        out.append(g.tensor(shape=s, dtype=dt if g.chance(0.7) else None))
    return out, d


@op("movement")
def cat(g):
    ts, d = _cat_list(g, False)
    fn = g.pick(["cat", "cat", "concat", "hstack", "vstack", "dstack", "column_stack"])
    if fn in ("cat", "concat"):
        return f"torch.{fn}({ts!r}, {d})" if g.bool() else f"torch.cat({tuple(ts)!r}, dim={d})"
    return f"torch.{fn}({ts!r})"


@op("movement")
def stack(g):
    ts, d = _cat_list(g, True)
    return f"torch.stack({ts!r}, {d})"


@op("movement")
def contiguous_clone(g):
    x = g.tensor()
    return f"{x}.{g.pick(['contiguous()', 'clone()', 'numpy()', 'tolist()', 'ravel()'])}"


@op("movement")
def repr_item(g):
    x = g.tensor()
    fn = g.pick(["repr", "str", "item", "bool", "float", "int", "len", "list", "format"])
    if fn == "item":
        return Case(f"{x}.item()")
    if fn == "format":
        return Case(f"format({x}, '.2f')")
    return Case(f"{fn}({x})", compare=fn not in ("repr", "str"))


@op("movement")
def meta(g):
    x = g.tensor()
    return Case(f"t = {x}; _r = (t.shape, t.stride(), t.is_contiguous(), t.storage_offset(), "
                f"t.numel(), t.dim(), t.nbytes, t.element_size())", compare=False)


@op("movement")
def broadcast_tensors(g):
    x = g.tensor(max_rank=4)
    ys = [g.tensor(shape=g.bshape(x.shape)) for _ in range(g.int(0, 2))]
    return f"torch.broadcast_tensors({', '.join(map(repr, [x] + ys))})"


@op("movement")
def copy_into(g):
    x = g.tensor()
    y = g.tensor(shape=g.bshape(x.shape))
    return f"x = {x}; x.copy_({y}); _r = x"


# ---------------------------------------------------------------- indexing

def _index_item(g, size, shape_rest):
    kind = g.pick(["int", "int", "slice", "slice", "none", "ellipsis", "tensor", "list", "bool",
                   "mask", "big"])
    if kind == "int":
        return repr(g.index_int(size))
    if kind == "slice":
        def b():
            return g.pick([None, 0, 1, -1, 2, -2, size, size + 3, -size - 3, 2**63 - 1,
                           -(2**63)])
        step = g.pick([None, None, 1, 2, 3, 0, -1, 2**62])
        return f"slice({b()!r}, {b()!r}, {step!r})"
    if kind == "none":
        return "None"
    if kind == "ellipsis":
        return "..."
    if kind == "tensor":
        return repr(g.index_tensor(size, shape=g.shape(0, 2)))
    if kind == "list":
        return repr([g.index_int(size, wild=0.05) for _ in range(g.int(0, 3))])
    if kind == "bool":
        return repr(g.bool())
    if kind == "mask":
        n = g.pick([size, size, size + 1, 0])
        return repr(g.tensor(shape=(n,) + tuple(shape_rest[: g.int(0, len(shape_rest))])[:1],
                             dtype=g.pick(["bool", "bool", "uint8"])))
    return repr(g.pick(BIG_INTS))


def _index(g, x):
    k = g.int(0, x.ndim + 1)
    items = []
    for i in range(k):
        size = x.shape[i] if i < x.ndim else 1
        items.append(_index_item(g, size, x.shape[i + 1:]))
    if g.chance(0.15):  # a whole-tensor mask
        return repr(g.tensor(shape=x.shape, dtype="bool"))
    if len(items) == 1 and g.bool():
        return items[0]
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


@op("index")
def getitem(g):
    x = g.tensor(max_rank=4)
    if x.ndim and g.chance(0.2):  # one int out of range: PyTorch raises IndexError
        i = g.pick([x.shape[0], -x.shape[0] - 1, x.shape[0] + 7, 2**63 - 1, -(2**63)])
        return Case(f"{x}[{i}]", expect=(IndexError,))
    return f"{x}[{_index(g, x)}]"


@op("index")
def setitem(g):
    x = g.tensor(max_rank=4)
    idx = _index(g, x)
    v = g.pick(["scalar", "tensor", "tensor0d"])
    if v == "scalar":
        val = repr(g.scalar())
    elif v == "tensor0d":
        val = repr(g.tensor(shape=()))
    else:
        val = repr(g.tensor(shape=g.shape(0, 3, max_side=3)))
    return f"x = {x}; x[{idx}] = {val}; _r = x"


@op("index")
def setitem_accumulate(g):
    x = g.tensor(max_rank=3, dtypes=FLOATS + ["int64"])
    idx = _index(g, x)
    return f"x = {x}; x[{idx}] += {g.scalar()!r}; _r = x"


def _dim_and_size(g, x):
    d = g.dim(x.ndim)
    size = x.shape[d] if x.ndim and -x.ndim <= d < x.ndim else 1
    return d, size


@op("index")
def gather(g):
    x = g.tensor(max_rank=4)
    d, size = _dim_and_size(g, x)
    shape = tuple(g.int(0, s) if g.chance(0.8) else g.int(0, s + 2) for s in x.shape)
    if g.chance(0.1):
        shape = g.shape(0, 3)
    idx = g.index_tensor(size, shape=shape)
    return f"{x}.gather({d}, {idx}{', sparse_grad=False' if g.chance(0.1) else ''})"


@op("index")
def scatter(g):
    x = g.tensor(max_rank=4)
    d, size = _dim_and_size(g, x)
    shape = tuple(g.int(0, s) if g.chance(0.85) else g.int(0, s + 2) for s in x.shape)
    idx = g.index_tensor(size, shape=shape)
    fn = g.pick(["scatter", "scatter_", "scatter_add", "scatter_add_"])
    if fn.startswith("scatter_add") or g.bool():
        src = g.tensor(shape=tuple(s + g.int(0, 1) for s in shape), dtype=x.dtype
                       if g.chance(0.8) else None)
        kw = ""
        if fn.startswith("scatter") and not fn.startswith("scatter_add") and g.chance(0.3):
            kw = f", reduce={g.pick(['add', 'multiply', 'sum', 'bad'])!r}"
        return f"{x}.{fn}({d}, {idx}, {src}{kw})"
    return f"{x}.{fn}({d}, {idx}, {g.scalar()!r})"


@op("index")
def index_select(g):
    x = g.tensor(max_rank=4)
    d, size = _dim_and_size(g, x)
    idx = g.index_tensor(size, shape=g.pick([(g.int(0, 4),), (), (2, 2)]))
    return f"{x}.index_select({d}, {idx})"


@op("index")
def index_add(g):
    x = g.tensor(max_rank=4)
    d, size = _dim_and_size(g, x)
    n = g.int(0, 4)
    idx = g.index_tensor(size, shape=g.pick([(n,), (), (n, 1)]))
    sshape = list(x.shape)
    if x.ndim and -x.ndim <= d < x.ndim:
        sshape[d] = n if g.chance(0.85) else n + 1
    src = g.tensor(shape=sshape, dtype=x.dtype if g.chance(0.8) else None)
    alpha = f", alpha={g.scalar()!r}" if g.chance(0.3) else ""
    return f"{x}.{g.pick(['index_add', 'index_add_'])}({d}, {idx}, {src}{alpha})"


@op("index")
def index_fill(g):
    x = g.tensor(max_rank=4)
    d, size = _dim_and_size(g, x)
    idx = g.index_tensor(size, shape=g.pick([(g.int(0, 4),), ()]))
    val = repr(g.scalar()) if g.chance(0.8) else repr(g.tensor(shape=()))
    return f"{x}.{g.pick(['index_fill', 'index_fill_'])}({d}, {idx}, {val})"


@op("index")
def index_put(g):
    x = g.tensor(max_rank=4)
    k = g.int(0, x.ndim + 1)
    n = g.int(0, 3)
    idx = []
    for i in range(k):
        size = x.shape[i] if i < x.ndim else 1
        if g.chance(0.85):
            idx.append(g.index_tensor(size, shape=g.pick([(n,), (), (1,)])))
        else:
            idx.append(g.tensor(shape=x.shape[i:i + 1], dtype="bool"))
    vshape = g.pick([(), (n,), (1,), tuple(x.shape[k:]), g.shape(0, 2)])
    v = g.tensor(shape=vshape, dtype=x.dtype if g.chance(0.8) else None)
    return f"x = {x}; x.index_put_({tuple(idx)!r}, {v}, accumulate={g.bool()}); _r = x"


@op("index")
def masked_fill(g):
    x = g.tensor()
    m = g.tensor(shape=g.bshape(x.shape), dtype=g.pick(["bool"] * 5 + ["uint8", "int64"]))
    val = repr(g.scalar()) if g.chance(0.7) else repr(g.tensor(shape=g.pick([(), (1,), (2,)])))
    return f"{x}.{g.pick(['masked_fill', 'masked_fill_'])}({m}, {val})"


@op("index")
def masked_select(g):
    x = g.tensor()
    m = g.tensor(shape=g.bshape(x.shape), dtype=g.pick(["bool"] * 5 + ["uint8", "float32"]))
    return f"{x}.masked_select({m})"


@op("index")
def take(g):
    x = g.tensor()
    idx = g.index_tensor(x.numel, shape=g.shape(0, 3, max_side=3))
    return f"{x}.take({idx})"


@op("index")
def nonzero(g):
    x = g.tensor()
    fn = g.pick(["nonzero()", "nonzero(as_tuple=True)", "argwhere()", "where"])
    if fn == "where":
        return f"torch.where({x})"
    return f"{x}.{fn}"


@op("index")
def repeat_interleave(g):
    x = g.tensor(max_rank=3, max_side=3)
    d, size = _dim_and_size(g, x)
    kind = g.pick(["int", "int", "tensor", "tensor", "tensor_bad", "huge"])
    dim = "" if g.chance(0.3) else f", dim={d}"
    if kind == "huge":  # a result no machine holds: must raise, quickly
        big = g.pick([2**40, 2**62, 2**63 - 1])
        if g.bool():
            return Case(f"{x}.repeat_interleave({big}{dim})", must_raise=x.numel > 0)
        n = size if dim else x.numel
        return Case(f"{x}.repeat_interleave(torch.full(({n},), {big}){dim})",
                    must_raise=x.numel > 0)
    if kind == "int":
        return f"{x}.repeat_interleave({g.pick([0, 1, 2, 3, -1])}{dim})"
    n = size if dim else x.numel
    if kind == "tensor_bad":
        n = g.pick([n + 1, 0, 1])
    reps = g.tensor(shape=(n,), dtype=g.pick(["int64"] * 4 + ["int32", "float32"]),
                    fill=g.pick(["idx:0:3", "idx:-1:2"]))
    return f"{x}.repeat_interleave({reps}{dim})"


@op("index")
def index_with_tensor_ops(g):
    """Assignment through advanced indices, then a read: exercises index_put with broadcasting."""
    x = g.tensor(min_rank=1, max_rank=3)
    i = g.index_tensor(x.shape[0], shape=g.pick([(2,), (2, 2), ()]))
    return f"x = {x}; x[{i}] = x[{i}] * 2 if x.dtype != torch.bool else x[{i}]; _r = x"


# ---------------------------------------------------------------- linalg

def _mm_shapes(g):
    """Shapes for matmul: random ranks 0-4, mostly compatible."""
    ra, rb = g.int(0, 4), g.int(0, 4)
    n, k, m = g.int(0, 4), g.int(0, 4), g.int(0, 4)
    batch = list(g.shape(0, 2, max_side=3))
    a = {0: (), 1: (k,), 2: (n, k)}.get(ra, tuple(batch[-(ra - 2):] if batch else ()) + (n, k))
    b = {0: (), 1: (k,), 2: (k, m)}.get(rb, tuple(batch[-(rb - 2):] if batch else ()) + (k, m))
    if ra >= 3 and len(a) < ra:
        a = (1,) * (ra - len(a)) + a
    if rb >= 3 and len(b) < rb:
        b = (g.int(1, 2),) * (rb - len(b)) + b
    if g.chance(0.15):
        b = g.shape(0, 4)
    return a, b


@op("linalg")
def matmul(g):
    a, b = _mm_shapes(g)
    dt = g.pick(DTYPES)
    x = g.tensor(shape=a, dtype=dt)
    y = g.tensor(shape=b, dtype=dt if g.chance(0.8) else None)
    fn = g.pick(["matmul", "@", "torch.matmul"])
    if fn == "@":
        return f"{x} @ {y}"
    if fn == "torch.matmul":
        return f"torch.matmul({x}, {y})"
    return f"{x}.matmul({y})"


@op("linalg")
def mm_bmm_mv(g):
    fn = g.pick(["mm", "bmm", "mv", "dot", "inner", "outer", "ger"])
    n, k, m, b = (g.int(0, 4) for _ in range(4))
    shapes = {"mm": ((n, k), (k, m)), "bmm": ((b, n, k), (b, k, m)), "mv": ((n, k), (k,)),
              "dot": ((k,), (k,)), "inner": ((n, k), (m, k)), "outer": ((n,), (m,)),
              "ger": ((n,), (m,))}[fn]
    sa, sb = shapes
    if g.chance(0.2):
        sb = g.shape(0, 3)
    dt = g.pick(DTYPES)
    x = g.tensor(shape=sa, dtype=dt)
    y = g.tensor(shape=sb, dtype=dt if g.chance(0.85) else None)
    return f"{x}.{fn}({y})"


@op("linalg")
def addmm(g):
    n, k, m = g.int(0, 3), g.int(0, 3), g.int(0, 3)
    c = g.tensor(shape=g.bshape((n, m)), dtypes=FLOATS)
    a = g.tensor(shape=(n, k), dtypes=FLOATS)
    b = g.tensor(shape=(k, m), dtypes=FLOATS)
    return f"torch.addmm({c}, {a}, {b}, beta={g.scalar()!r}, alpha={g.scalar()!r})"


EINSUM = [
    ("ij,jk->ik", 2), ("ij,jk", 2), ("ii->i", 1), ("ii", 1), ("ij->ji", 1), ("bij,bjk->bik", 2),
    ("i,i->", 2), ("i,j->ij", 2), ("...ij,...jk->...ik", 2), ("ij->", 1), ("ijk->kji", 1),
    ("i...->...", 1), ("ab,ab,ab->a", 3), ("a,b,c->abc", 3), ("ij,ij->ij", 2),
    ("ij,jk->ik,", 2), ("ij->ii", 1), ("i->j", 1), ("", 1), ("->", 1), ("ij,j", 1),
    ("i j , j k -> i k", 2), ("AB,BC->AC", 2), ("..., ...->...", 2), ("i->i", 2), ("ij->i", 1),
    ("...i,...i->...", 2), ("iij->j", 1), ("ji,ij->", 2), ("a...b,b...->a...", 2),
]


@op("linalg")
def einsum(g):
    eq, n = g.pick(EINSUM)
    sizes = {}
    ops = []
    lhs = eq.split("->")[0].replace(" ", "").split(",")
    for i in range(n):
        spec = lhs[i] if i < len(lhs) else ""
        shape = []
        for c in spec.replace("...", "*"):
            if c == "*":
                shape += list(g.shape(0, 2, max_side=3))
            elif c.isalpha():
                if c not in sizes or g.chance(0.05):
                    sizes[c] = g.int(0, 3)
                shape.append(sizes[c])
        if g.chance(0.1):
            shape = list(g.shape(0, 3))
        ops.append(g.tensor(shape=tuple(shape), dtypes=FLOATS + ["int64", "bool"]))
    form = g.bool()
    args = ", ".join(map(repr, ops))
    return f"torch.einsum({eq!r}, [{args}])" if form else f"torch.einsum({eq!r}, {args})"


@op("linalg")
def tensordot_cdist(g):
    fn = g.pick(["tensordot", "cdist"])
    if fn == "cdist":
        d = g.int(0, 3)
        x = g.tensor(shape=(g.int(0, 3), d), dtypes=FLOATS)
        y = g.tensor(shape=(g.int(0, 3), d if g.chance(0.9) else d + 1), dtypes=FLOATS)
        return f"torch.cdist({x}, {y}, p={g.pick([0, 1, 2, 3.0, math.inf, -1])})"
    x = g.tensor(max_rank=3, dtypes=FLOATS)
    y = g.tensor(max_rank=3, dtypes=FLOATS)
    return f"torch.tensordot({x}, {y}, dims={g.pick([0, 1, 2, -1, 4])})"


# ---------------------------------------------------------------- nn.functional

ACTS = """relu relu6 leaky_relu elu selu celu gelu silu mish sigmoid tanh softplus hardtanh
hardswish hardsigmoid logsigmoid softsign tanhshrink hardshrink softshrink""".split()


@op("nn")
def activation(g):
    x = g.tensor(dtypes=FLOATS + ["int64"])
    fn = g.pick([a for a in ACTS if hasattr(F, a)])
    return f"F.{fn}({x})"


@op("nn")
def activation_args(g):
    x = g.tensor(dtypes=FLOATS)
    fn = g.pick(["leaky_relu", "elu", "celu", "threshold", "hardtanh", "glu", "softplus",
                 "gelu", "prelu", "rrelu"])
    if fn == "leaky_relu":
        return f"F.leaky_relu({x}, {g.scalar()!r}, inplace={g.bool()})"
    if fn in ("elu", "celu"):
        return f"F.{fn}({x}, alpha={g.scalar()!r})"
    if fn == "threshold":
        return f"F.threshold({x}, {g.scalar()!r}, {g.scalar()!r})"
    if fn == "hardtanh":
        return f"F.hardtanh({x}, {g.scalar()!r}, {g.scalar()!r})"
    if fn == "glu":
        return f"F.glu({x}, {g.dim(x.ndim)})"
    if fn == "softplus":
        return f"F.softplus({x}, beta={g.scalar()!r}, threshold={g.scalar()!r})"
    if fn == "gelu":
        return f"F.gelu({x}, approximate={g.pick(['none', 'tanh', 'bad'])!r})"
    if fn == "rrelu":
        return Case(f"F.rrelu({x}, training={g.bool()})", compare=False)
    c = x.shape[1] if x.ndim >= 2 else 1
    w = g.tensor(shape=g.pick([(1,), (c,), (c + 1,), ()]), dtypes=FLOATS)
    return f"F.prelu({x}, {w})"


@op("nn")
def layer_norm(g):
    x = g.tensor(dtypes=FLOATS, max_rank=4)
    k = g.int(0, x.ndim)
    ns = list(x.shape[x.ndim - k:]) if g.chance(0.85) else list(g.shape(0, 2))
    w = g.tensor(shape=tuple(ns) if g.chance(0.85) else g.shape(0, 2), dtypes=FLOATS)
    b = g.tensor(shape=tuple(ns), dtypes=FLOATS)
    fn = g.pick(["F.layer_norm", "torch.layer_norm", "F.rms_norm"])
    if fn == "F.rms_norm":
        wb = g.pick(["", f", {w}"])
    else:
        wb = g.pick(["", f", {w}", f", {w}, {b}", f", None, {b}"])
    return f"{fn}({x}, {ns!r}{wb}, eps={g.pick([1e-5, 0.0, -1.0, 1e10])})"


@op("nn")
def batch_norm(g):
    x = g.tensor(dtypes=FLOATS, max_rank=4, min_rank=1)
    c = x.shape[1] if x.ndim >= 2 else (x.shape[0] if x.ndim else 1)
    cc = c if g.chance(0.85) else c + 1

    def stat(fill):
        if g.chance(0.25):
            return "None"
        return repr(g.tensor(shape=(cc,), dtypes=FLOATS, fill=fill))

    rm, rv = stat("rand"), stat("pos")
    w, b = stat("rand"), stat("rand")
    training = g.bool()
    return Case(f"F.batch_norm({x}, {rm}, {rv}, {w}, {b}, training={training}, "
                f"momentum={g.pick([0.1, 0.0, 1.0, None])}, eps={g.pick([1e-5, 0.0])})")


@op("nn")
def group_instance_norm(g):
    x = g.tensor(dtypes=FLOATS, max_rank=4, min_rank=1)
    c = x.shape[1] if x.ndim >= 2 else 1
    if g.bool():
        ng = g.pick([1, 2, 3, c, 0, -1, c + 1])
        w = g.pick(["None", repr(g.tensor(shape=(c,), dtypes=FLOATS))])
        return f"F.group_norm({x}, {ng}, {w})"
    return f"F.instance_norm({x})"


def _conv_case(g, nd):
    groups = g.pick([1, 1, 1, 2, 3, 0])
    gg = max(groups, 1)
    cin = gg * g.int(0, 2) if g.chance(0.9) else g.int(0, 4)
    cout = gg * g.int(0, 2) if g.chance(0.9) else g.int(0, 4)
    k = tuple(g.int(0, 4) for _ in range(nd))
    sp = tuple(g.int(0, 6) for _ in range(nd))
    batched = g.chance(0.8)
    ishape = ((g.int(0, 2),) if batched else ()) + (cin,) + sp
    wshape = (cout, cin // gg if g.chance(0.9) else g.int(0, 3)) + k
    dt = g.pick(FLOATS + ["int64"])
    x = g.tensor(shape=ishape, dtype=dt)
    w = g.tensor(shape=wshape, dtype=dt if g.chance(0.9) else None)
    b = g.pick(["None", repr(g.tensor(shape=(cout if g.chance(0.9) else cout + 1,), dtype=dt))])

    def ints(lo, hi):
        if g.chance(0.6):
            return g.int(lo, hi)
        return tuple(g.int(lo, hi) for _ in range(nd if g.chance(0.9) else nd + 1))

    stride = ints(0, 3)
    padding = g.pick([ints(0, 2), "same", "valid", -1, "bad"])
    dilation = ints(0, 3)
    return x, w, b, stride, padding, dilation, groups


@op("nn")
def conv(g):
    nd = g.pick([1, 2])
    x, w, b, stride, padding, dilation, groups = _conv_case(g, nd)
    return (f"F.conv{nd}d({x}, {w}, {b}, stride={stride!r}, padding={padding!r}, "
            f"dilation={dilation!r}, groups={groups})")


@op("nn")
def conv_transpose(g):
    nd = g.pick([1, 2])
    x, w, b, stride, padding, dilation, groups = _conv_case(g, nd)
    if isinstance(padding, str):
        padding = 0
    outp = g.pick([0, 1, 2])
    return (f"F.conv_transpose{nd}d({x}, {w}, {b}, stride={stride!r}, padding={padding!r}, "
            f"output_padding={outp}, groups={groups}, dilation={dilation!r})")


@op("nn")
def pool(g):
    nd = g.pick([1, 2])
    kind = g.pick(["max", "max", "avg"])
    c = g.int(0, 3)
    sp = tuple(g.int(0, 6) for _ in range(nd))
    shape = ((g.int(0, 2),) if g.chance(0.8) else ()) + (c,) + sp
    x = g.tensor(shape=shape, dtypes=FLOATS + ["int64"])

    def ints(lo, hi):
        if g.chance(0.6):
            return g.int(lo, hi)
        return tuple(g.int(lo, hi) for _ in range(nd))

    ks = ints(0, 4)
    kw = f"kernel_size={ks!r}, stride={g.pick([None, ints(0, 3)])!r}, padding={ints(0, 3)!r}"
    kw += f", ceil_mode={g.bool()}"
    if kind == "max":
        kw += f", dilation={ints(0, 3)!r}, return_indices={g.bool()}"
    else:
        kw += f", count_include_pad={g.bool()}"
        if nd == 2 and g.chance(0.2):
            kw += f", divisor_override={g.pick([None, 0, 1, 3, -1])}"
    return f"F.{kind}_pool{nd}d({x}, {kw})"


@op("nn")
def adaptive_pool(g):
    nd = g.pick([1, 2])
    kind = g.pick(["max", "avg"])
    shape = ((g.int(0, 2),) if g.chance(0.8) else ()) + (g.int(0, 3),) + tuple(
        g.int(0, 6) for _ in range(nd))
    x = g.tensor(shape=shape, dtypes=FLOATS)
    out = g.pick([0, 1, 2, 3, 7, -1, None]) if g.chance(0.6) else tuple(
        g.pick([0, 1, 2, 5, None, -1]) for _ in range(nd))
    return f"F.adaptive_{kind}_pool{nd}d({x}, {out!r})"


@op("nn")
def interpolate(g):
    nd = g.pick([1, 2])
    shape = (g.int(0, 2), g.int(0, 2)) + tuple(g.int(0, 5) for _ in range(nd))
    if g.chance(0.1):
        shape = g.shape(0, 5)
    x = g.tensor(shape=shape, dtypes=FLOATS)
    mode = g.pick(["nearest", "linear", "bilinear", "bicubic", "area", "nearest-exact",
                   "trilinear", "bad"])
    must_raise = False
    if g.bool():
        size = g.pick([0, 1, 3, 7, -1]) if g.bool() else tuple(g.int(0, 6) for _ in range(nd))
        arg = f"size={size!r}"
    else:
        sf = g.pick([0.5, 1.0, 2.0, 1.7, 0.0, -1.0, math.nan, 1e12])
        arg = f"scale_factor={sf!r}"
        must_raise = sf == 1e12 and np.prod(shape) > 0 and len(shape) in (3, 4)
    ac = f", align_corners={g.bool()}" if g.chance(0.3) else ""
    return Case(f"F.interpolate({x}, {arg}, mode={mode!r}{ac})", must_raise=must_raise)


@op("nn")
def pad(g):
    x = g.tensor(max_rank=5, min_rank=1)
    n = g.pick([0, 1, 2, 2, 4, 4, 6, 3])
    pads = [g.int(-3, 3) if g.chance(0.95) else g.pick([2**40, 2**62, 2**63 - 1, -(2**62)])
            for _ in range(n)]
    mode = g.pick(["constant", "constant", "reflect", "replicate", "circular", "bad"])
    val = f", value={g.scalar()!r}" if mode == "constant" and g.bool() else ""
    shape = list(x.shape)
    for i in range(min(n // 2, len(shape))):
        shape[-1 - i] += pads[2 * i] + pads[2 * i + 1]
    numel = int(np.prod(shape, dtype=object))
    huge = numel >= 2**40 and all(s >= 0 for s in shape)
    return Case(f"F.pad({x}, {tuple(pads)!r}, mode={mode!r}{val})", must_raise=huge)


@op("nn")
def embedding(g):
    v, dm = g.int(0, 5), g.int(0, 4)
    w = g.tensor(shape=(v, dm) if g.chance(0.9) else g.shape(0, 3), dtypes=FLOATS)
    idx = g.index_tensor(v, shape=g.shape(0, 3, max_side=3))
    kw = ""
    if g.chance(0.4):
        kw += f", padding_idx={g.pick([0, -1, v, v - 1, -v - 1, None])}"
    if g.chance(0.2):
        kw += f", max_norm={g.pick([1.0, 0.0, -1.0])}"
    return f"F.embedding({idx}, {w}{kw})"


def _loss_inputs(g):
    n, c = g.int(0, 3), g.int(0, 4)
    extra = g.shape(0, 2, max_side=2)
    batched = g.chance(0.85)
    ishape = ((n,) if batched else ()) + (c,) + extra
    x = g.tensor(shape=ishape, dtypes=FLOATS)
    tshape = ((n,) if batched else ()) + extra
    return x, c, tshape, ishape


@op("nn")
def cross_entropy(g):
    x, c, tshape, ishape = _loss_inputs(g)
    probs = g.chance(0.25)
    if probs:
        t = g.tensor(shape=ishape, dtypes=FLOATS, fill="pos")
    else:
        t = g.index_tensor(c, shape=tshape if g.chance(0.9) else g.shape(0, 2))
        if g.chance(0.2):
            t = R(t.shape, t.dtype, t.seed, "idx:-100:-100", t.layout)
    kw = f", reduction={g.pick(['mean', 'sum', 'none', 'bad'])!r}"
    if g.chance(0.3):
        kw += f", ignore_index={g.pick([-100, 0, 1, -1, c])}"
    if g.chance(0.3):
        kw += f", label_smoothing={g.pick([0.0, 0.1, 1.0, -0.1, 1.5])}"
    if g.chance(0.3):
        kw += f", weight={g.tensor(shape=(c if g.chance(0.9) else c + 1,), dtypes=FLOATS)}"
    return f"F.cross_entropy({x}, {t}{kw})"


@op("nn")
def nll_loss(g):
    x, c, tshape, _ = _loss_inputs(g)
    t = g.index_tensor(c, shape=tshape if g.chance(0.9) else g.shape(0, 2))
    kw = f", reduction={g.pick(['mean', 'sum', 'none'])!r}"
    if g.chance(0.3):
        kw += f", ignore_index={g.pick([-100, 0, 1, -1, c])}"
    if g.chance(0.3):
        kw += f", weight={g.tensor(shape=(c if g.chance(0.9) else c + 1,), dtypes=FLOATS)}"
    return f"F.nll_loss({x}, {t}{kw})"


@op("nn")
def pointwise_loss(g):
    fn = g.pick(["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
                 "binary_cross_entropy_with_logits", "kl_div", "soft_margin_loss",
                 "poisson_nll_loss"])
    x = g.tensor(dtypes=FLOATS + ["int64"], max_rank=4)
    y = g.tensor(shape=g.bshape(x.shape) if g.chance(0.3) else x.shape, dtypes=FLOATS,
                 fill=g.pick(["rand", "pos", "special"]))
    red = g.pick(["mean", "sum", "none", "bad"])
    return f"F.{fn}({x}, {y}, reduction={red!r})"


@op("nn")
def one_hot(g):
    n = g.int(0, 5)
    idx = g.index_tensor(n, shape=g.shape(0, 3, max_side=3),
                         dtype=g.pick(["int64"] * 5 + ["int32", "float32", "bool"]))
    return f"F.one_hot({idx}, {g.pick([-1, 0, n, n + 1, max(n - 1, 0)])})"


@op("nn")
def dropout(g):
    x = g.tensor(dtypes=FLOATS + ["int64"])
    fn = g.pick(["dropout", "dropout", "alpha_dropout", "dropout1d", "dropout2d"])
    p = g.pick([0.0, 0.5, 1.0, -0.1, 1.5, math.nan])
    return Case(f"F.{fn}({x}, p={p}, training={g.bool()}, inplace={g.bool()})", compare=False)


@op("nn")
def cosine_normalize(g):
    x = g.tensor(dtypes=FLOATS + ["int64"], max_rank=4)
    y = g.tensor(shape=g.bshape(x.shape), dtypes=FLOATS)
    fn = g.pick(["F.cosine_similarity", "torch.cosine_similarity", "F.normalize",
                 "F.pairwise_distance"])
    d = g.dim(x.ndim)
    if fn == "F.normalize":
        return f"F.normalize({x}, p={g.pick([1, 2, 0, math.inf, -1])}, dim={d})"
    if fn == "F.pairwise_distance":
        return f"F.pairwise_distance({x}, {y})"
    return f"{fn}({x}, {y}, dim={d}, eps={g.pick([1e-8, 0.0, -1.0])})"


@op("nn")
def linear(g):
    i, o = g.int(0, 4), g.int(0, 3)
    x = g.tensor(shape=g.shape(0, 3, max_side=3) + (i,), dtypes=FLOATS)
    w = g.tensor(shape=(o, i) if g.chance(0.85) else g.shape(0, 3), dtypes=FLOATS)
    b = g.pick(["None", repr(g.tensor(shape=(o,), dtypes=FLOATS))])
    return f"F.linear({x}, {w}, {b})"


@op("nn")
def unfold_fold(g):
    if g.bool():
        x = g.tensor(shape=(g.int(0, 2), g.int(0, 2), g.int(0, 5), g.int(0, 5)), dtypes=FLOATS)
        return (f"F.unfold({x}, kernel_size={g.int(0, 3)}, dilation={g.int(0, 2)}, "
                f"padding={g.int(0, 2)}, stride={g.int(0, 2)})")
    k = g.int(0, 3)
    x = g.tensor(shape=(g.int(0, 2), g.int(0, 2) * k * k, g.int(0, 9)), dtypes=FLOATS)
    return (f"F.fold({x}, output_size={(g.int(0, 5), g.int(0, 5))!r}, kernel_size={k}, "
            f"stride={g.int(0, 2)})")


@op("nn")
def attention(g):
    b, lq, lk, e = g.int(0, 2), g.int(0, 3), g.int(0, 3), g.int(0, 3)
    q = g.tensor(shape=(b, lq, e), dtypes=FLOATS)
    k = g.tensor(shape=(b, lk, e if g.chance(0.9) else e + 1), dtypes=FLOATS)
    v = g.tensor(shape=(b, lk, g.int(0, 3)), dtypes=FLOATS)
    mask = g.pick(["None", repr(g.tensor(shape=g.bshape((lq, lk)),
                                         dtype=g.pick(["bool", "float32"])))])
    causal = g.bool() if mask == "None" else False
    return (f"F.scaled_dot_product_attention({q}, {k}, {v}, attn_mask={mask}, "
            f"is_causal={causal})")


# ---------------------------------------------------------------- creation

TOO_BIG = 2**44  # bytes: no machine allocates this; creating it must raise


def _creation_sizes(g):
    """1-4 sizes from small, negative, big and overflowing values; returns (sizes, expect)
    where expect is 'raise' (must raise), 'any' or 'ok'."""
    pool_small = [0, 1, 2, 3]
    pool_big = [2**31, 2**32, 2**40, 2**45, 2**62, 2**63 - 1]
    pool_bad = [-1, -5, -(2**63), 2**63, 2**64]
    sizes = []
    for _ in range(g.int(1, 4)):
        k = g.pick(["small", "small", "big", "bad"] if g.chance(0.6) else ["small"])
        sizes.append(g.pick({"small": pool_small, "big": pool_big, "bad": pool_bad}[k]))
    if any(s < 0 or s >= 2**63 for s in sizes):
        return sizes, "raise"
    numel = int(np.prod(sizes, dtype=object))
    if numel == 0:
        return sizes, "any"
    if numel * 8 >= TOO_BIG and numel >= TOO_BIG:
        return sizes, "raise"
    if numel * 8 > 2**24:
        sizes[0] = 0  # avoid legitimately big allocations
        return sizes, "any"
    return sizes, "ok"


@op("creation")
def factory(g):
    sizes, expect = _creation_sizes(g)
    fn = g.pick(["zeros", "ones", "empty", "rand", "randn", "full", "new_zeros", "new_ones",
                 "new_empty", "new_full"])
    dt = g.pick(DTYPES) if fn not in ("rand", "randn") or g.chance(0.2) else "float32"
    dtk = f", dtype=torch.{dt}"
    if fn == "full":
        code = f"torch.full({tuple(sizes)!r}, {g.scalar()!r}{dtk})"
    elif fn == "new_full":
        code = f"torch.zeros(1).new_full({tuple(sizes)!r}, {g.scalar()!r}{dtk})"
    elif fn.startswith("new_"):
        code = f"torch.zeros(1).{fn}({g.size_arg(sizes)}{dtk})"
    else:
        code = f"torch.{fn}({g.size_arg(sizes)}{dtk})"
    negative = any(s < 0 for s in sizes) and all(s < 2**63 for s in sizes)
    # PyTorch: "Trying to create tensor with negative dimension -1" (RuntimeError)
    return Case(code, must_raise=expect == "raise", compare=False,
                expect=(RuntimeError,) if negative else None)


@op("creation")
def full_overflow(g):
    dt = g.pick(DTYPES)
    val = g.pick([300, -1, 256, -129, 128, 2**31, 2**63, 2**64, math.nan, math.inf, 1e40, 0.5,
                  True, 65536, 70000.0])
    shape = g.pick([(2,), (), (0,), (1, 2)])
    return Case(f"torch.full({shape!r}, {val!r}, dtype=torch.{dt})", compare=False)


@op("creation")
def like(g):
    x = g.tensor()
    fn = g.pick(["zeros_like", "ones_like", "empty_like", "full_like", "rand_like",
                 "randn_like"])
    dt = g.dtype_kw(0.5)
    if fn == "full_like":
        return Case(f"torch.full_like({x}, {g.scalar()!r}{dt})", compare=False)
    return Case(f"torch.{fn}({x}{dt})", compare=False)


@op("creation")
def arange(g):
    form = g.pick(["end", "start_end", "step"])
    vals = [0, 1, 5, -3, 2.5, 1e-300, 2**31, 2**62, 2**63 - 1, -(2**63), math.nan, math.inf,
            0.1, 1e18]
    end = g.pick(vals)
    start = g.pick(vals)
    step = g.pick([1, 2, -1, 0, 0.5, 1e-300, 2**63 - 1, -(2**63), math.nan, 1e-9])
    dt = g.dtype_kw(0.3)
    if form == "end":
        code, n = f"torch.arange({end!r}{dt})", _arange_len(0, end, 1)
    elif form == "start_end":
        code, n = f"torch.arange({start!r}, {end!r}{dt})", _arange_len(start, end, 1)
    else:
        code, n = f"torch.arange({start!r}, {end!r}, {step!r}{dt})", _arange_len(start, end, step)
    if n is not None and 2**24 < n < 2**40:
        return Case(f"torch.arange({start!r}, {start!r}{dt})", compare=False)
    return Case(code, must_raise=n is not None and n >= 2**40, compare=False)


def _arange_len(start, end, step):
    try:
        if step == 0 or any(math.isnan(v) or math.isinf(v) for v in (start, end, step)):
            return None
        n = math.ceil((end - start) / step)
        return max(n, 0)
    except (OverflowError, ZeroDivisionError, ValueError):
        return None


@op("creation")
def linspace_logspace(g):
    fn = g.pick(["linspace", "logspace"])
    steps = g.pick([0, 1, 2, 5, -1, 2**31, 2**40, 2**62, 2**63 - 1])
    a, b = g.pick([0, 1, -1, math.nan, math.inf, 1e308]), g.pick([0, 1, 10, -2, math.inf])
    if 2**24 < steps < 2**40:
        steps = 3
    dt = g.dtype_kw(0.3)
    return Case(f"torch.{fn}({a!r}, {b!r}, {steps}{dt})", must_raise=steps >= 2**40,
                compare=False)


@op("creation")
def eye(g):
    vals = [0, 1, 3, -1, 2**31, 2**32, 2**62, 2**63 - 1]
    n = g.pick(vals)
    m = g.pick([None] + vals)
    numel = n * (n if m is None else m) if n >= 0 and (m is None or m >= 0) else -1
    if 2**20 < numel < 2**44:
        n, m, numel = 3, 0, 0
    code = f"torch.eye({n}{'' if m is None else f', {m}'}{g.dtype_kw(0.3)})"
    return Case(code, must_raise=numel >= 2**44, compare=False)


@op("creation")
def randint_randperm(g):
    fn = g.pick(["randint", "randint", "randperm"])
    if fn == "randperm":
        n = g.pick([0, 1, 5, -1, 2**40, 2**62, 2**63 - 1])
        return Case(f"torch.randperm({n}{g.dtype_kw(0.3)})", must_raise=n >= 2**40,
                    compare=False)
    lo = g.pick([0, -5, 3, -(2**63), 2**62, 10])
    hi = g.pick([1, 10, 3, 2**63 - 1, -(2**62), 2**63, 256])
    sizes, expect = _creation_sizes(g)
    return Case(f"torch.randint({lo}, {hi}, {tuple(sizes)!r}{g.dtype_kw(0.3)})",
                must_raise=expect == "raise", compare=False)


@op("creation")
def tensor_from_data(g):
    kind = g.pick(["nested", "scalar", "ragged", "big", "mixed", "empty", "bool"])
    data = {
        "nested": [[1, 2], [3, 4]], "scalar": g.scalar(), "ragged": [[1], [2, 3]],
        "big": [2**63 - 1, -(2**63)], "mixed": [1, 2.5, True], "empty": [[], []],
        "bool": [True, False],
    }[kind]
    if kind == "big" and g.bool():
        data = [2**64]
    dt = g.dtype_kw(0.5)
    return Case(f"torch.{g.pick(['tensor', 'as_tensor'])}({data!r}{dt})", compare=False)


@op("creation")
def from_numpy_layouts(g):
    shape = g.shape(0, 4)
    dt = g.pick([d for d in DTYPES if d != "bfloat16"] + ["float64"])
    kind = g.pick(["neg", "T", "step", "bcast", "zero_stride_empty", "readonly", "f16T"])
    arr = f"np.arange({int(np.prod(shape or (1,)))}).astype({dt!r}).reshape({shape!r})"
    if kind == "neg":
        return Case(f"torch.from_numpy({arr}[::-1])" if shape else f"torch.from_numpy({arr})",
                    compare=False)
    if kind == "T":
        return Case(f"torch.from_numpy({arr}.T)", compare=False)
    if kind == "step":
        return Case(f"torch.from_numpy({arr}[..., ::2])" if shape else
                    f"torch.from_numpy({arr})", compare=False)
    if kind == "bcast":
        return Case(f"torch.from_numpy(np.broadcast_to({arr}, (2,) + {shape!r}))",
                    compare=False)
    if kind == "zero_stride_empty":
        return Case(f"torch.from_numpy(np.zeros((0, 3), {dt!r})[:, 1:])", compare=False)
    if kind == "readonly":
        return Case(f"a = {arr}; a.setflags(write=False); _r = torch.from_numpy(a)",
                    compare=False)
    return Case("torch.from_numpy(np.zeros((3, 2), 'float16').T).sum()", compare=False)


@op("creation")
def as_strided_like_views(g):
    """Views whose extent exceeds their storage must be refused, not read out of bounds."""
    x = g.tensor(min_rank=1, max_rank=3)
    big = g.pick(BIG_INTS[:5])
    form = g.pick(["narrow", "select", "view", "unfold", "diagonal", "expand_then_contig"])
    if form == "narrow":
        return f"{x}.narrow(0, {big}, 1)"
    if form == "select":
        return f"{x}.select(-1, {big})"
    if form == "view":
        return f"{x}.view({big}, -1)"
    if form == "unfold":
        return f"{x}.unfold(0, {big}, 1)"
    if form == "diagonal":
        return f"{x}.diagonal({big})"
    return Case(f"{x}.reshape(-1)[:1].expand({big}, {big}).contiguous()",
                must_raise=x.numel > 0, compare=False)


# ---------------------------------------------------------------- autograd

AG_UNARY = """exp log sqrt rsqrt sin cos tanh sigmoid relu abs neg reciprocal square erf
log1p expm1 asin atan sinh cosh asinh atanh""".split()


def _ag_step(g, h, shape):
    """One differentiable op applied to expression `h` of `shape`; returns (code, new shape)."""
    nd = len(shape)
    kind = g.pick(["unary", "binary", "reduce", "scan", "move", "index", "matmul", "softmax",
                   "norm", "clamp", "where", "pow", "maxmin", "sort", "cat", "nn"])
    d = g.dim(nd, wild=0.03)
    valid_d = nd and -nd <= d < nd
    if kind == "unary":
        return f"{h}.{g.pick(AG_UNARY)}()", shape
    if kind == "binary":
        y = g.tensor(shape=g.bshape(shape), dtypes=FLOATS, rg=g.chance(0.3))
        o = g.pick(["+", "-", "*", "/", "**"])
        return f"({h} {o} {y})", None
    if kind == "reduce":
        fn = g.pick(["sum", "mean", "prod", "amax", "amin", "var", "std", "logsumexp", "norm",
                     "nansum"])
        if fn in ("prod",):
            return f"{h}.prod({d})", None
        if fn in ("var", "std") and g.bool():
            return f"{h}.{fn}({g.dims(nd)!r}, correction={g.pick([0, 1, 2])})", None
        return f"{h}.{fn}({g.dims(nd)!r}, keepdim={g.bool()})", None
    if kind == "scan":
        return f"{h}.{g.pick(['cumsum', 'cumprod'])}({d})", shape
    if kind == "move":
        fn = g.pick(["t", "perm", "expand", "flip", "roll", "unfold", "diagonal", "tril",
                     "repeat", "reshape", "narrow", "select", "squeeze", "unsqueeze", "getitem",
                     "split", "movedim", "flatten"])
        if fn == "t":
            return f"{h}.transpose({d}, {g.dim(nd)})", None
        if fn == "perm":
            p = list(g.draw(st.permutations(list(range(nd)))))
            return f"{h}.permute({p!r})", tuple(shape[i] for i in p)
        if fn == "expand":
            return f"{h}.expand({(g.int(1, 2),) + tuple(shape)!r})", None
        if fn == "flip":
            return f"{h}.flip({d})", shape
        if fn == "roll":
            return f"{h}.roll({g.int(-3, 3)}, {d})", shape
        if fn == "unfold":
            return f"{h}.unfold({d}, {g.int(1, 2)}, {g.int(1, 2)})", None
        if fn == "diagonal":
            return f"{h}.diagonal({g.int(-1, 1)}, {d}, {g.dim(nd)})", None
        if fn == "tril":
            return f"{h}.{g.pick(['tril', 'triu'])}({g.int(-1, 1)})", shape
        if fn == "repeat":
            return f"{h}.repeat({[g.int(1, 2) for _ in range(nd)]!r})", None
        if fn == "reshape":
            return f"{h}.reshape(-1)", None
        if fn == "narrow":
            return f"{h}.narrow({d}, 0, {shape[d] if valid_d else 0})", shape
        if fn == "select":
            return f"{h}.select({d}, {g.index_int(shape[d] if valid_d else 1, wild=0)})", None
        if fn == "squeeze":
            return f"{h}.squeeze()", None
        if fn == "unsqueeze":
            return f"{h}.unsqueeze({g.int(-nd - 1, nd)})", None
        if fn == "getitem":
            return f"{h}[{_index(g, R(shape, 'float32', 0, 'rand', 'c'))}]", None
        if fn == "split":
            return f"{h}.split({g.int(1, 2)}, {d})[{g.int(-1, 0)}]", None
        if fn == "movedim":
            return f"{h}.movedim({d}, {g.dim(nd)})", None
        return f"{h}.flatten()", None
    if kind == "index":
        size = shape[d] if valid_d else 1
        fn = g.pick(["gather", "index_select", "masked_fill", "take", "masked_select",
                     "scatter", "index_add", "repeat_interleave"])
        if fn == "gather":
            ishape = tuple(g.int(0, s) for s in shape)
            return f"{h}.gather({d}, {g.index_tensor(size, shape=ishape, dtype='int64')})", None
        if fn == "index_select":
            return f"{h}.index_select({d}, {g.index_tensor(size, shape=(2,), dtype='int64')})", None
        if fn == "masked_fill":
            m = g.tensor(shape=g.bshape(shape), dtype="bool")
            return f"{h}.masked_fill({m}, {g.scalar(wild=0.1)!r})", shape
        if fn == "take":
            return f"{h}.take({g.index_tensor(int(np.prod(shape or (1,))), shape=(3,), dtype='int64')})", None
        if fn == "masked_select":
            return f"{h}.masked_select({g.tensor(shape=shape, dtype='bool')})", None
        if fn == "scatter":
            ishape = tuple(g.int(0, s) for s in shape)
            src = g.tensor(shape=ishape, dtypes=FLOATS, rg=True)
            return (f"{h}.scatter({d}, {g.index_tensor(size, shape=ishape, dtype='int64')}, "
                    f"{src})"), shape
        if fn == "index_add":
            src_shape = list(shape)
            if valid_d:
                src_shape[d] = 2
            src = g.tensor(shape=tuple(src_shape), dtypes=FLOATS, rg=True)
            idx = g.index_tensor(size, shape=(2,), dtype="int64")
            return f"{h}.index_add({d}, {idx}, {src})", shape
        return f"{h}.repeat_interleave({g.int(0, 2)}, {d})", None
    if kind == "matmul":
        k = shape[-1] if shape else 1
        w = g.tensor(shape=g.pick([(k,), (k, g.int(0, 3)), (2, k, 2)]), dtypes=FLOATS,
                     rg=g.bool())
        return f"({h} @ {w})", None
    if kind == "softmax":
        return f"{h}.{g.pick(['softmax', 'log_softmax'])}({d})", shape
    if kind == "norm":
        return f"{h}.norm({g.pick([1, 2, 3, math.inf, -math.inf, 0])})", ()
    if kind == "clamp":
        return f"{h}.clamp({g.pick([-1, 0, None])}, {g.pick([1, 0, None])})", shape
    if kind == "where":
        c = g.tensor(shape=g.bshape(shape), dtype="bool")
        y = g.tensor(shape=g.bshape(shape), dtypes=FLOATS, rg=g.bool())
        return f"torch.where({c}, {h}, {y})", None
    if kind == "pow":
        return f"{h}.pow({g.pick([0, 1, 2, 0.5, -1, -0.5, 3])})", shape
    if kind == "maxmin":
        fn = g.pick(["max", "min"])
        if g.bool():
            return f"{h}.{fn}()", ()
        return f"{h}.{fn}({d})[0]", None
    if kind == "sort":
        if g.bool():
            return f"{h}.sort({d})[0]", shape
        return f"{h}.topk(1, {d})[0]", None
    if kind == "cat":
        return f"torch.{g.pick(['cat', 'stack'])}([{h}, {h}], {d})", None
    fn = g.pick(["layer_norm", "dropout", "pad", "interpolate", "conv1d", "max_pool1d",
                 "avg_pool1d", "cross_entropy", "mse_loss", "normalize", "gelu", "elu"])
    if fn == "layer_norm":
        return f"F.layer_norm({h}, {list(shape[-1:])!r})", shape
    if fn == "dropout":
        return f"F.dropout({h}, 0.0)", shape
    if fn == "pad":
        return f"F.pad({h}, {(g.int(-1, 2), g.int(0, 2))!r})", None
    if fn == "interpolate":
        return f"F.interpolate({h}, scale_factor=2.0)", None
    if fn == "conv1d":
        c = shape[-2] if nd >= 2 else 1
        w = g.tensor(shape=(2, c, g.int(1, 2)), dtypes=FLOATS, rg=g.bool())
        return f"F.conv1d({h}, {w}, padding={g.int(0, 1)})", None
    if fn in ("max_pool1d", "avg_pool1d"):
        return f"F.{fn}({h}, {g.int(1, 2)})", None
    if fn == "cross_entropy":
        c = shape[1] if nd >= 2 else (shape[0] if nd else 1)
        t = g.index_tensor(c, shape=(shape[0],) + tuple(shape[2:]) if nd >= 2 else (),
                           dtype="int64")
        return f"F.cross_entropy({h}, {t})", ()
    if fn == "mse_loss":
        return f"F.mse_loss({h}, {g.tensor(shape=shape, dtypes=FLOATS)})", ()
    if fn == "normalize":
        return f"F.normalize({h}, dim={d})", shape
    return f"F.{fn}({h})", shape


@op("autograd")
def backward_chain(g):
    x = g.tensor(dtypes=FLOATS, max_rank=4, rg=True,
                 fill=g.pick(["rand", "rand", "special", "zero", "pos"]))
    steps = []
    h, shape = "x", x.shape
    for i in range(g.int(1, 3)):
        code, shape = _ag_step(g, h, shape)
        steps.append(f"h{i} = {code}")
        h = f"h{i}"
        if shape is None:
            break
    end = g.pick(["sum", "sum", "grad_arg", "autograd_grad", "double"])
    if end == "sum":
        tail = f"{h}.sum().backward()"
    elif end == "grad_arg":
        tail = f"{h}.backward(torch.ones_like({h}))"
    elif end == "autograd_grad":
        tail = f"x.grad = torch.autograd.grad({h}.sum(), x, allow_unused=True)[0]"
    else:
        tail = (f"(gx,) = torch.autograd.grad({h}.sum(), x, create_graph=True); "
                f"gx.sum().backward() if gx.requires_grad else None")
    return Case(f"x = {x}; {'; '.join(steps)}; {tail}; _r = x.grad", compare="all")


@op("autograd")
def backward_inplace(g):
    x = g.tensor(dtypes=FLOATS, max_rank=3, rg=True)
    fn = g.pick(["y = x * 1; y.add_(1); y.sum().backward()",
                 "y = x.exp(); y.mul_(2); y.sum().backward()",
                 "y = x.sigmoid(); y.add_(1); y.sum().backward()",
                 "y = x[...]; y.mul_(2); y.sum().backward()",
                 "y = x.clone(); y[0] = 1; y.sum().backward()",
                 "y = x * 1; z = y.view(-1); z.zero_(); y.sum().backward()",
                 "x.add_(1)",
                 "y = x.expand(2, *x.shape) * 1; y.sum().backward()",
                 "y = x.detach(); y.add_(1); x.sum().backward()",
                 "y = x.clone(); y.unsqueeze(0).transpose(0, -1).mul_(3); y.sum().backward()"])
    # (no layout check: whether x is itself a view changes PyTorch's in-place-on-leaf-view rule)
    return Case(f"x = {x}; {fn}; _r = x.grad", compare=False)


@op("autograd")
def backward_twice(g):
    x = g.tensor(dtypes=FLOATS, max_rank=3, rg=True)
    call = g.pick(["exp()", "sigmoid()", "relu()", "softmax(0)", "cumprod(0)", "sum()"])
    retain = g.bool()
    return Case(f"x = {x}; y = x.{call}.sum(); y.backward(retain_graph={retain}); y.backward(); "
                f"_r = x.grad")


@op("autograd")
def hooks_and_retain(g):
    x = g.tensor(dtypes=FLOATS, max_rank=3, rg=True)
    k = g.pick(["h = x.register_hook(lambda g: g * 2); (x * 3).sum().backward()",
                "y = x * 2; y.retain_grad(); y.sum().backward(); _ = y.grad",
                "x.register_hook(lambda g: None); x.exp().sum().backward()",
                "x.register_hook(lambda g: g.sum()); x.exp().sum().backward()",
                "x.register_hook(lambda g: 1 / 0); x.exp().sum().backward()"])
    return Case(f"x = {x}; {k}; _r = x.grad", compare=False)


# --------------------------------------------------------------------------- running

PANIC_NAME = "PanicException"


class Runner:
    def __init__(self, log_path, case_timeout, check_layout, json_path=""):
        self.log_path = log_path
        self.json_path = json_path
        self.case_timeout = case_timeout
        self.check_layout = check_layout
        self.failures = {}  # key -> dict
        self.counts = {"cases": 0, "raised": 0, "returned": 0}
        self.shrink_error = None
        self.stats = None  # with --stats: "op: exception: message" -> count

    def _log_since(self, pos):
        if not self.log_path:
            return ""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(pos)
                return f.read(20000).decode("utf-8", "replace")
        except OSError:
            return ""

    def _log_pos(self):
        sys.stdout.flush()
        try:
            return os.fstat(1).st_size
        except OSError:
            return 0

    def execute(self, code):
        ns = namespace()
        try:
            c = compile(code, "<case>", "eval")
        except SyntaxError:
            exec(compile(code, "<case>", "exec"), ns)
            return ns.get("_r")
        return eval(c, ns)

    def record(self, kind, opname, code, message, location="", tb=""):
        msg = re.sub(r"\d+", "N", str(message))[:300]
        if kind in ("PANIC", "BASE_EXCEPTION"):
            key = (kind, msg, location)
        elif kind in ("LAYOUT", "NORAISE"):
            key = (kind, opname)
        else:
            key = (kind, opname, msg.split(":")[0])
        key = "|".join(key)
        entry = self.failures.get(key)
        if entry is None:
            self.failures[key] = {
                "kind": kind, "op": opname, "code": code, "message": str(message)[:2000],
                "location": location, "traceback": tb, "count": 1, "ops": [opname],
            }
        else:
            entry["count"] += 1
            if opname not in entry["ops"]:
                entry["ops"].append(opname)
            if len(code) < len(entry["code"]):
                entry["code"] = code
        self.save(complete=False)

    def save(self, complete, **extra):
        """Writes the failures so far (a crash later in the run must not lose them)."""
        if not self.json_path:
            return
        tmp = self.json_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"complete": complete, "counts": self.counts,
                       "failures": list(self.failures.values()), **extra}, f, indent=1)
        os.replace(tmp, self.json_path)

    def run_case(self, opname, n, case, shrink=False):
        global FORCE_CONTIGUOUS
        code = case.code
        pos = self._log_pos()
        print(f"CASE {opname} {n}: {code}", flush=True)
        self.counts["cases"] += 1
        faulthandler.dump_traceback_later(self.case_timeout, exit=True)
        failure = None
        result = None
        try:
            FORCE_CONTIGUOUS = False
            result = self.execute(code)
        except Exception as e:
            self.counts["raised"] += 1
            if self.stats is not None:
                key = f"{opname}: {type(e).__name__}: {str(e)[:90]}"
                self.stats[key] = self.stats.get(key, 0) + 1
            if case.expect and not isinstance(e, case.expect):
                failure = ("WRONG_EXC", f"{type(e).__name__}: {e}", "")
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as e:  # a Rust panic (PanicException) or another non-Exception
            kind = "PANIC" if type(e).__name__ == PANIC_NAME else "BASE_EXCEPTION"
            tail = self._log_since(pos)
            m = re.search(r"panicked at ([^\n]*?):?\n", tail)
            loc = m.group(1) if m else ""
            frames = [f for f in traceback.extract_tb(e.__traceback__)
                      if not f.filename.endswith("fuzz_ops.py")]
            tb = "".join(traceback.format_list(frames)) + f"{type(e).__name__}: {e}"
            failure = (kind, f"{type(e).__name__}: {e}", loc, tb)
        else:
            self.counts["returned"] += 1
            if case.must_raise:
                failure = ("NORAISE", f"returned {_short(result)}", "")
            elif self.check_layout and case.compare and "mk(" in code:
                failure = self._layout_check(code, result, case.compare)
        finally:
            FORCE_CONTIGUOUS = False
            faulthandler.cancel_dump_traceback_later()
        if failure:
            kind, msg, loc = failure[:3]
            tb = failure[3] if len(failure) > 3 else ""
            self.record(kind, opname, code, msg, loc, tb)
            print(f"FAIL {kind} {opname}: {msg.splitlines()[0] if msg else ''} {loc}",
                  flush=True)
            if shrink:
                raise AssertionError(f"{kind}: {msg}")

    def _layout_check(self, code, result, how):
        global FORCE_CONTIGUOUS
        if "'exp:" in code and _MUTATES.search(code):
            return None  # writes through a stride-0 view alias: layout-dependent by nature
        try:
            FORCE_CONTIGUOUS = True
            ref = self.execute(code)
        except Exception as e:
            return ("LAYOUT", f"contiguous inputs raise {type(e).__name__}: {e}", "")
        finally:
            FORCE_CONTIGUOUS = False
        a, b = _flatten(result), _flatten(ref)
        if how == "first":
            a, b = a[:1], b[:1]
        why = _compare(a, b)
        if why:
            return ("LAYOUT", why, "")
        return None


_MUTATES = re.compile(r"_\(|\] [-+*/]?= |[-+*/%&|^]= ")


def _short(x):
    s = repr(x) if not isinstance(x, torch.Tensor) else f"tensor{tuple(x.shape)} {x.dtype}"
    return s[:200]


def _flatten(x):
    if isinstance(x, torch.Tensor):
        return [x]
    if isinstance(x, (tuple, list)):
        out = []
        for v in x:
            out += _flatten(v)
        return out
    return [x]


def _tol(dtype):
    if dtype in (torch.float16, torch.bfloat16):
        return 2e-2, 0.3
    if dtype == torch.float32:
        return 1e-4, 1e-3
    return 1e-9, 1e-9


def _compare(a, b):
    """Why result lists `a` (original layout) and `b` (contiguous inputs) differ, or None."""
    if len(a) != len(b):
        return f"{len(a)} results vs {len(b)} with contiguous inputs"
    for i, (u, v) in enumerate(zip(a, b)):
        if isinstance(u, torch.Tensor) != isinstance(v, torch.Tensor):
            return f"result {i}: {type(u).__name__} vs {type(v).__name__}"
        if not isinstance(u, torch.Tensor):
            if isinstance(u, float) and isinstance(v, float) and math.isnan(u) and math.isnan(v):
                continue
            if isinstance(u, (int, float, bool)) and isinstance(v, (int, float, bool)):
                if u != v and not (isinstance(u, float) and math.isclose(u, v, rel_tol=1e-4)):
                    return f"result {i}: {u!r} vs {v!r} with contiguous inputs"
            continue
        if tuple(u.shape) != tuple(v.shape) or u.dtype != v.dtype:
            return (f"result {i}: shape {tuple(u.shape)} {u.dtype} vs {tuple(v.shape)} {v.dtype}"
                    " with contiguous inputs")
        try:
            un = u.detach().float().numpy() if u.dtype == torch.bfloat16 else u.detach().numpy()
            vn = v.detach().float().numpy() if v.dtype == torch.bfloat16 else v.detach().numpy()
        except Exception:
            continue
        if un.dtype.kind == "f":
            rtol, atol = _tol(u.dtype)
            with np.errstate(all="ignore"):
                ok = np.isclose(un, vn, rtol=rtol, atol=atol, equal_nan=True)
        else:
            ok = un == vn
        if not np.all(ok):
            bad = np.argwhere(~np.asarray(ok))
            j = tuple(int(k) for k in bad[0]) if bad.size else ()
            return (f"result {i}: {np.asarray(un)[j]!r} vs {np.asarray(vn)[j]!r} at {j} "
                    f"({int((~np.asarray(ok)).sum())} of {un.size} differ) with contiguous inputs")
    return None


def namespace():
    return {"torch": torch, "F": F, "np": np, "mk": mk, "math": math, "nan": math.nan,
            "inf": math.inf}


def select_ops(group, only=None):
    names = list(GROUPS) if group == "all" else [group]
    out = []
    for gname in names:
        for name, fn in GROUPS[gname].items():
            if only and name not in only:
                continue
            out.append((gname, name, fn))
    return out


def _make_body(fn, name, counter, runner, shrink):
    def body(data):
        counter[0] += 1
        case = _case(fn(Gen(data)))
        runner.run_case(name, counter[0], case, shrink=shrink)

    return body


def run_ops(ops, runner, examples, start=0, shrink=False, time_budget=None):
    t0 = time.monotonic()
    skipped = []
    for i, (gname, name, fn) in enumerate(ops):
        if i < start:
            continue
        if time_budget is not None and time.monotonic() - t0 > time_budget:
            skipped.append(name)
            continue
        counter = [0]
        body = _make_body(fn, name, counter, runner, shrink)
        phases = [Phase.generate, Phase.shrink] if shrink else [Phase.generate]
        test = settings(
            max_examples=max(3, round(examples * WEIGHTS.get(name, 1.0))), derandomize=True, database=None, deadline=None,
            phases=phases, suppress_health_check=list(HealthCheck), print_blob=False,
            report_multiple_bugs=False,
        )(given(st.data())(body))
        try:
            test()
        except AssertionError as e:
            if not shrink:
                raise
            runner.shrink_error = e
        print(f"DONE {gname}/{name} {counter[0]} cases", flush=True)
    return skipped


def report(runner, out, elapsed, skipped):
    fails = sorted(runner.failures.values(), key=lambda f: (f["kind"], f["op"]))
    c = runner.counts
    out.write(f"fuzz: {c['cases']} cases ({c['returned']} returned, {c['raised']} raised "
              f"ordinary exceptions) in {elapsed:.1f}s; {len(fails)} distinct failures\n")
    if skipped:
        out.write(f"time budget exhausted, not run: {', '.join(skipped)}\n")
    for f in fails:
        out.write(f"\n[{f['kind']}] op {', '.join(f['ops'])} (x{f['count']})\n")
        out.write(f"  message:  {f['message'].splitlines()[0] if f['message'] else ''}\n")
        if f["location"]:
            out.write(f"  location: {f['location']}\n")
        out.write(f"  repro:    {f['code']}\n")
        for line in _tb_tail(f.get("traceback", "")):
            out.write(f"  | {line}\n")
    out.flush()


def _tb_tail(tb, n=4):
    """The last frames of a Python traceback (where in Python the panic surfaced)."""
    lines = [ln for ln in tb.splitlines() if ln.strip()]
    return lines[-n:] if lines else []


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--group", default="all", help="op group or 'all'")
    ap.add_argument("--ops", default="", help="comma-separated op names within the group")
    ap.add_argument("--examples", type=int, default=int(os.environ.get(
        "RTORCH_FUZZ_EXAMPLES", "30")))
    ap.add_argument("--start", type=int, default=0, help="index of the first op to run")
    ap.add_argument("--log", default="", help="file for CASE lines and stderr")
    ap.add_argument("--json", default="", help="write failures as JSON here")
    ap.add_argument("--case-timeout", type=float, default=20.0)
    ap.add_argument("--time-budget", type=float, default=None, help="seconds for the group")
    ap.add_argument("--mem-gb", type=float, default=float(os.environ.get(
        "RTORCH_FUZZ_MEM_GB", "4")), help="address-space limit (0: none)")
    ap.add_argument("--check-layout", action="store_true")
    ap.add_argument("--exclude-layouts", default="", help="e.g. 'off,exp': never generate them")
    ap.add_argument("--shrink", action="store_true", help="let Hypothesis shrink a failure")
    ap.add_argument("--stats", action="store_true", help="count the ordinary exceptions")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--repro", default="", help="run one case line and print its outcome")
    args = ap.parse_args(argv)

    warnings.simplefilter("ignore")
    if args.list:
        for gname, ops in GROUPS.items():
            print(f"{gname} ({len(ops)}): {' '.join(ops)}")
        return 0
    if args.mem_gb > 0:
        import resource

        lim = int(args.mem_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (lim, lim))
    if args.repro:
        code = args.repro.split(": ", 1)[1] if args.repro.startswith("CASE ") else args.repro
        try:
            r = Runner("", 1e9, False).execute(code)
            print("returned", _short(r))
        except Exception as e:
            print(f"raised {type(e).__name__}: {e}")
        except BaseException as e:
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
            print(f"PANIC {type(e).__name__}: {e}")
            return 1
        return 0

    summary = sys.stdout
    log_path = args.log or tempfile.mkstemp(prefix="rtorch-fuzz-", suffix=".log")[1]
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    summary = os.fdopen(os.dup(1), "w")
    if not args.log:
        summary.write(f"case log: {log_path}\n")
        summary.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    sys.stdout = os.fdopen(1, "w", buffering=1)
    sys.stderr = os.fdopen(2, "w", buffering=1)
    faulthandler.enable(file=sys.stderr)

    EXCLUDE_LAYOUTS.update(k for k in args.exclude_layouts.split(",") if k)
    only = {o for o in args.ops.split(",") if o}
    ops = select_ops(args.group, only)
    runner = Runner(log_path, args.case_timeout, args.check_layout, args.json)
    if args.stats:
        runner.stats = {}
    t0 = time.monotonic()
    try:
        skipped = run_ops(ops, runner, args.examples, args.start, args.shrink, args.time_budget)
    except Exception:
        summary.write("fuzz harness error:\n" + traceback.format_exc())
        summary.flush()
        return 3
    elapsed = time.monotonic() - t0
    report(runner, summary, elapsed, skipped)
    if runner.stats:
        summary.write("\nordinary exceptions:\n")
        for k, v in sorted(runner.stats.items()):
            summary.write(f"  {v:5d}  {k}\n")
        summary.flush()
    runner.save(complete=True, elapsed=elapsed, skipped=skipped)
    return 1 if runner.failures else 0


if __name__ == "__main__":
    sys.exit(main())
