"""``rtorch.backends``: the switches PyTorch scripts set and query. Each submodule reports
honestly whether rtorch has that backend (only ``cuda`` can be True)."""

from rtorch.backends import cuda, cudnn, mkl, mkldnn, mps, openmp
