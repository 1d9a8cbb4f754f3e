"""``rtorch.backends``: the switches PyTorch scripts set and query."""

from types import SimpleNamespace

from rtorch.backends import cuda, cudnn

mps = SimpleNamespace(is_available=lambda: False, is_built=lambda: False)
