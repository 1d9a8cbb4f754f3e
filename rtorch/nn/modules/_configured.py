"""Layers described by a table of constructor options.

Most stateless layers only remember their constructor arguments and hand them to one
functional. A subclass states that once, as class keywords::

    class LeakyReLU(Configured, fn="leaky_relu", options=[("negative_slope", 0.01), INPLACE]):
        ...

and gets a constructor with that exact signature, one attribute per option, an
extra_repr listing the options and a forward calling ``fn(*inputs, **options)``.
A string `fn` names an nn.functional function, looked up at call time (the functional
package imports this one while it initialises).
"""

import inspect

from .. import functional as F
from .module import Module

__all__ = ["Configured", "INPLACE", "REQUIRED", "KEYWORD_ONLY"]

REQUIRED = inspect.Parameter.empty
KEYWORD_ONLY = "*"  # marker inside an options list: the options after it are keyword-only
INPLACE = ("inplace", False)

_POSITIONAL = inspect.Parameter.POSITIONAL_OR_KEYWORD


def _signature(options):
    params = [inspect.Parameter("self", _POSITIONAL)]
    kind = _POSITIONAL
    for entry in options:
        if entry == KEYWORD_ONLY:
            kind = inspect.Parameter.KEYWORD_ONLY
            continue
        name, default = entry
        params.append(inspect.Parameter(name, kind, default=default))
    return inspect.Signature(params)


def _constructor(owner, signature):
    def __init__(self, *args, **kwargs):
        try:
            bound = signature.bind(self, *args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{owner.__name__}.__init__() {exc}") from None
        bound.apply_defaults()
        values = dict(bound.arguments)
        del values["self"]
        Module.__init__(self)
        for name, value in self._prepare(values).items():
            if name in self._tensor_options:
                self.register_buffer(name, value)
            else:
                setattr(self, name, value)

    __init__.__signature__ = signature
    __init__.__qualname__ = f"{owner.__qualname__}.__init__"
    return __init__


def _show(name, value):
    return f"{name}={value!r}" if isinstance(value, str) else f"{name}={value}"


class Configured(Module):
    """Base of the option-table layers (see the module docstring)."""

    _fn = None  # the callable forward calls, or the name of one in nn.functional
    _options = ()  # ((name, default), ...) in constructor order
    _shown = ()  # options printed by extra_repr, in order
    _flags = ("inplace",)  # printed only when true
    _passed = ()  # options handed to _fn as keywords
    _fixed = {}  # extra keywords for _fn
    _with_training = False  # also hand `training=self.training` to _fn
    _tensor_options = ()  # options kept as buffers (None allowed)

    def __init_subclass__(
        cls,
        fn=None,
        options=None,
        shown=None,
        passed=None,
        fixed=None,
        flags=None,
        training=None,
        tensors=None,
        **kwargs,
    ):
        super().__init_subclass__(**kwargs)
        if fn is not None:
            cls._fn = fn if isinstance(fn, str) else staticmethod(fn)
        if options is not None:
            cls._options = tuple(o for o in options if o != KEYWORD_ONLY)
            names = [name for name, _ in cls._options]
            cls.__init__ = _constructor(cls, _signature(options))
            cls._shown = tuple(names if shown is None else shown)
            cls._passed = tuple(names if passed is None else passed)
        elif shown is not None or passed is not None:
            cls._shown = tuple(cls._shown if shown is None else shown)
            cls._passed = tuple(cls._passed if passed is None else passed)
        for attr, value in (
            ("_fixed", fixed),
            ("_flags", flags),
            ("_with_training", training),
            ("_tensor_options", tensors),
        ):
            if value is not None:
                setattr(cls, attr, value)

    def _prepare(self, values):
        """Validate/normalise the bound constructor arguments; returns what is stored."""
        return values

    def _call_options(self):
        kwargs = {name: getattr(self, name) for name in self._passed}
        if self._with_training:
            kwargs["training"] = self.training
        kwargs.update(self._fixed)
        return kwargs

    def forward(self, *inputs, **named_inputs):
        fn = self._fn
        if fn is None:
            raise NotImplementedError(
                f'Module [{type(self).__name__}] is missing the required "forward" function'
            )
        if isinstance(fn, str):
            fn = getattr(F, fn)
        # Inputs passed by keyword keep the functional's names (input, target, ...).
        return fn(*inputs, **named_inputs, **self._call_options())

    def extra_repr(self):
        parts = []
        for name in self._shown:
            value = getattr(self, name)
            if name not in self._flags:
                parts.append(_show(name, value))
            elif value:
                parts.append(f"{name}=True")
        return ", ".join(parts)

    def __setstate__(self, state):
        # Pickles from older versions may lack later-added options.
        super().__setstate__(state)
        defaults = dict(self._options)
        for name in set(self._passed) - set(self._tensor_options):
            if name not in self.__dict__ and defaults.get(name, REQUIRED) is not REQUIRED:
                self.__dict__[name] = defaults[name]
