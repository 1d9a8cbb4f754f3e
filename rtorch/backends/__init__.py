"""``rtorch.backends``: flags PyTorch scripts commonly query."""

from types import SimpleNamespace

mps = SimpleNamespace(is_available=lambda: False, is_built=lambda: False)
cudnn = SimpleNamespace(enabled=False, benchmark=False, deterministic=False, is_available=lambda: False)
cuda = SimpleNamespace(is_built=lambda: False, matmul=SimpleNamespace(allow_tf32=False))
