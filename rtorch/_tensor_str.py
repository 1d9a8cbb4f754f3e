"""PyTorch-style ``repr`` for tensors, and the pickle rebuild hook."""

import math

_DEFAULT_DTYPES = ("float32", "int64", "bool")
_PRINT = {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80, "sci_mode": None}


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None, sci_mode=None):
    """``torch.set_printoptions``."""
    if profile == "default":
        _PRINT.update(precision=4, threshold=1000, edgeitems=3, linewidth=80)
    elif profile == "short":
        _PRINT.update(precision=2, threshold=1000, edgeitems=2, linewidth=80)
    elif profile == "full":
        _PRINT.update(precision=4, threshold=math.inf, edgeitems=3, linewidth=80)
    for k, v in dict(precision=precision, threshold=threshold, edgeitems=edgeitems, linewidth=linewidth).items():
        if v is not None:
            _PRINT[k] = v
    _PRINT["sci_mode"] = sci_mode


class _Formatter:
    """Chooses one format for all elements, as PyTorch does."""

    def __init__(self, values, kind):
        self.kind = kind
        self.int_mode = True
        self.sci_mode = False
        prec = _PRINT["precision"]
        if kind == "float":
            finite = [abs(v) for v in values if math.isfinite(v)]
            nonzero = [v for v in finite if v != 0]
            self.int_mode = all(float(v).is_integer() for v in finite)
            if nonzero:
                mx, mn = max(nonzero), min(nonzero)
                if self.int_mode:
                    self.sci_mode = mx / mn > 1000.0 or mx > 1e8
                else:
                    self.sci_mode = mx / mn > 1000.0 or mx > 1e8 or mn < 1e-4
            if _PRINT["sci_mode"] is not None:
                self.sci_mode = _PRINT["sci_mode"]
            self.prec = prec
        self.width = max((len(self._fmt(v)) for v in values), default=1)

    def _fmt(self, v):
        if self.kind == "bool":
            return "True" if v else "False"
        if self.kind == "int":
            return str(int(v))
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        if self.sci_mode:
            return f"{v:.{self.prec}e}"
        if self.int_mode:
            return f"{v:.0f}."
        return f"{v:.{self.prec}f}"

    def format(self, v):
        return self._fmt(v).rjust(self.width)


def _summarize(shape, threshold, edge):
    numel = 1
    for s in shape:
        numel *= s
    return numel > threshold


def _collect(data, shape, summarize, edge, out):
    if not shape:
        out.append(data)
        return
    n = shape[0]
    idx = list(range(n))
    if summarize and n > 2 * edge:
        idx = list(range(edge)) + list(range(n - edge, n))
    for i in idx:
        _collect(data[i], shape[1:], summarize, edge, out)


def _render(data, shape, fmt, indent, summarize, edge):
    linewidth = _PRINT["linewidth"]
    if len(shape) == 1:
        n = shape[0]
        items = [fmt.format(v) for v in data]
        if summarize and n > 2 * edge:
            items = [fmt.format(v) for v in data[:edge]] + [" ..."] + [fmt.format(v) for v in data[-edge:]]
        per_line = max(1, (linewidth - indent) // (fmt.width + 2))
        lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    n = shape[0]
    idx = list(range(n))
    dots = False
    if summarize and n > 2 * edge:
        idx = list(range(edge)) + list(range(n - edge, n))
        dots = True
    parts = [_render(data[i], shape[1:], fmt, indent + 1, summarize, edge) for i in idx]
    if dots:
        parts = parts[:edge] + ["..."] + parts[edge:]
    sep = "," + "\n" * (len(shape) - 1) + " " * (indent + 1)
    return "[" + sep.join(parts) + "]"


def _body(t, indent):
    shape = tuple(t.shape)
    dtype = str(t.dtype).replace("torch.", "")
    kind = "float" if t.is_floating_point() else ("bool" if dtype == "bool" else "int")
    data = t.detach().tolist()
    edge = _PRINT["edgeitems"]
    summarize = _summarize(shape, _PRINT["threshold"], edge)
    flat = []
    _collect(data, shape, summarize, edge, flat)
    if not shape:
        return _Formatter([data], kind).format(data).strip()
    fmt = _Formatter(flat, kind)
    return _render(data, shape, fmt, indent, summarize, edge)


def tensor_repr(t, prefix="tensor("):
    indent = len(prefix)
    shape = tuple(t.shape)
    dtype = str(t.dtype).replace("torch.", "")
    suffixes = []
    if t.is_cuda:
        suffixes.append(f"device='{t.device}'")
    if t.numel() == 0:
        body = "[]"
        if len(shape) != 1:
            suffixes.append(f"size={shape}")
        if dtype != "float32":
            suffixes.append(f"dtype=torch.{dtype}")
    else:
        body = _body(t, indent)
        if dtype not in _DEFAULT_DTYPES:
            suffixes.append(f"dtype=torch.{dtype}")
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    text = prefix + body
    for s in suffixes:
        text += ", " + s
    text += ")"
    if type(t).__name__ == "Parameter":
        return "Parameter containing:\n" + text
    return text


def _rebuild_tensor(cls, data, dtype, shape, requires_grad, device="cpu"):
    from rtorch import _C

    t = _C._tensor_from_bytes(data, dtype, list(shape))
    if device != "cpu":
        t = t.to(device)
    if cls is _C.Tensor:
        if requires_grad:
            t.requires_grad_(True)
        return t
    return _C.Tensor._make_subclass(cls, t, requires_grad)
