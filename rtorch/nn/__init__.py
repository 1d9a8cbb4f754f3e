"""rtorch.nn: layers, losses, containers and initialisers with PyTorch's API."""

from . import functional, init, parallel, utils  # noqa: F401
from .modules import *  # noqa: F403
from .modules import __all__ as _modules_all
from .parameter import Buffer, Parameter, UninitializedBuffer, UninitializedParameter

__all__ = [
    "Parameter",
    "Buffer",
    "UninitializedParameter",
    "UninitializedBuffer",
    "functional",
    "init",
    "utils",
] + _modules_all
