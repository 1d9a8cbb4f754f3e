"""HalfCauchy lives with HalfNormal in ``half_normal``; this module keeps PyTorch's path."""

from rtorch.distributions.half_normal import HalfCauchy

__all__ = ["HalfCauchy"]
