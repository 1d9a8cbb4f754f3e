"""``torch.finfo`` / ``torch.iinfo``: the numeric limits of rtorch's dtypes."""

import rtorch

# (bits, mantissa bits, smallest normal exponent, largest exponent) per float dtype
_FLOATS = {
    "float16": (16, 10, -14, 15),
    "bfloat16": (16, 7, -126, 127),
    "float32": (32, 23, -126, 127),
    "float64": (64, 52, -1022, 1023),
}
_INTS = {"uint8": (8, False), "int8": (8, True), "int16": (16, True), "int32": (32, True),
         "int64": (64, True)}


def _name(dtype):
    return str(dtype).rsplit(".", 1)[-1]


def _short(value):
    return f"{value:g}"


class finfo:
    """Machine limits of a floating dtype (the default dtype when called without one)."""

    def __init__(self, type=None):
        dtype = rtorch.get_default_dtype() if type is None else type
        name = _name(dtype)
        if name not in _FLOATS:
            raise TypeError("torch.finfo() requires a floating point input type. Use "
                            "torch.iinfo to handle 'torch.finfo'")
        bits, mantissa, min_exp, max_exp = _FLOATS[name]
        self.bits = bits
        self.eps = 2.0 ** -mantissa
        self.max = (2.0 - 2.0 ** -mantissa) * 2.0 ** max_exp
        self.min = -self.max
        self.smallest_normal = self.tiny = 2.0 ** min_exp
        # decimal digits the mantissa resolves, as a power of ten
        digits = int(mantissa * 0.30102999566398120)
        self.resolution = 10.0 ** -digits
        self.dtype = name

    def __eq__(self, other):
        return isinstance(other, finfo) and other.dtype == self.dtype

    def __hash__(self):
        return hash(("finfo", self.dtype))

    def __repr__(self):
        fields = (f"resolution={_short(self.resolution)}", f"min={_short(self.min)}",
                  f"max={_short(self.max)}", f"eps={_short(self.eps)}",
                  f"smallest_normal={_short(self.smallest_normal)}",
                  f"tiny={_short(self.tiny)}", f"dtype={self.dtype}")
        return f"finfo({', '.join(fields)})"


class iinfo:
    """Limits of an integer dtype."""

    def __init__(self, type):
        name = _name(type)
        if name == "bool":
            raise TypeError("torch.bool is not supported by torch.iinfo")
        if name not in _INTS:
            raise TypeError("torch.iinfo() requires an integer input type. Use torch.finfo to "
                            "handle 'torch.iinfo'")
        bits, signed = _INTS[name]
        self.bits = bits
        self.min = -(2 ** (bits - 1)) if signed else 0
        self.max = 2 ** (bits - 1) - 1 if signed else 2**bits - 1
        self.dtype = name

    def __eq__(self, other):
        return isinstance(other, iinfo) and other.dtype == self.dtype

    def __hash__(self):
        return hash(("iinfo", self.dtype))

    def __repr__(self):
        return f"iinfo(min={_short(float(self.min))}, max={_short(float(self.max))}, dtype={self.dtype})"
