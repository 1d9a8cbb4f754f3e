"""Ready-made parametrizations: weight_norm and spectral_norm."""

import rtorch as torch

from .. import functional as F
from ..modules.module import Module
from . import parametrize
from ._norms import as_matrix, default_dim, norm_except_dim, power_iterate, random_unit

__all__ = ["spectral_norm", "weight_norm"]


def _named_tensor(module, name):
    weight = getattr(module, name, None)
    if not isinstance(weight, torch.Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    return weight


class _WeightNorm(Module):
    """weight = g * v / ||v||, with the norm over every dim except `dim`."""

    def __init__(self, dim=0):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g, weight_v):
        return weight_v * (weight_g / norm_except_dim(weight_v, self.dim))

    def right_inverse(self, weight):
        return norm_except_dim(weight, self.dim), weight


def weight_norm(module, name="weight", dim=0):
    """Split `name` into a magnitude (original0) and a direction (original1)."""
    _named_tensor(module, name)
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)
    return module


class _SpectralNorm(Module):
    """weight / sigma, sigma the largest singular value estimated by power iteration."""

    def __init__(self, weight, n_power_iterations=1, dim=0, eps=1e-12):
        super().__init__()
        ndim = weight.dim()
        if dim >= ndim or dim < -ndim:
            raise IndexError(
                "Dimension out of range (expected to be in range of "
                f"[-{ndim}, {ndim - 1}] but got {dim})"
            )
        if n_power_iterations <= 0:
            raise ValueError(
                "Expected n_power_iterations to be positive, but "
                f"got n_power_iterations={n_power_iterations}"
            )
        self.dim = dim % ndim if ndim else 0
        self.eps = eps
        self.n_power_iterations = n_power_iterations
        if ndim > 1:
            with torch.no_grad():
                matrix = as_matrix(weight, self.dim)
                u = random_unit(matrix.shape[0], weight)
                v = random_unit(matrix.shape[1], weight)
                self.register_buffer("_u", u)
                self.register_buffer("_v", v)
                # Start from good estimates so the first forward is already accurate.
                power_iterate(matrix, self._u, self._v, 15, eps, u_first=True)

    def forward(self, weight):
        if weight.dim() == 1:
            return F.normalize(weight, dim=0, eps=self.eps)
        matrix = as_matrix(weight, self.dim)
        if self.training:
            power_iterate(
                matrix.detach(), self._u, self._v, self.n_power_iterations, self.eps, u_first=True
            )
        u = self._u.clone()
        v = self._v.clone()
        sigma = (u * matrix.mv(v)).sum()
        return weight / sigma

    def right_inverse(self, value):
        # The stored tensor is the unnormalised weight; any value is a valid preimage.
        return value


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Divide `name` by its spectral norm on every access."""
    weight = _named_tensor(module, name)
    if dim is None:
        dim = default_dim(module)
    parametrize.register_parametrization(
        module, name, _SpectralNorm(weight, n_power_iterations, dim, eps)
    )
    return module
