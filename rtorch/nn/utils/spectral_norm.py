"""Spectral normalisation through a forward pre-hook (the pre-parametrization API).

`name` becomes the parameter `name_orig` plus buffers `name_u` and `name_v` (the
singular-vector estimates); before each forward the hook sets
``module.<name> = name_orig / sigma``, refining u and v first while training.
"""

import rtorch as torch

from ..parameter import Parameter
from ._norms import as_matrix, default_dim, hook_key, power_iterate, random_unit

__all__ = ["SpectralNorm", "spectral_norm", "remove_spectral_norm"]


class SpectralNorm:
    """The pre-hook object kept in module._forward_pre_hooks."""

    def __init__(self, name="weight", n_power_iterations=1, dim=0, eps=1e-12):
        if n_power_iterations <= 0:
            raise ValueError(
                "Expected n_power_iterations to be positive, but "
                f"got n_power_iterations={n_power_iterations}"
            )
        self.name = name
        self.dim = dim
        self.n_power_iterations = int(n_power_iterations)
        self.eps = eps

    def compute_weight(self, module, do_power_iteration):
        weight = module._parameters[f"{self.name}_orig"]
        u = getattr(module, self.name + "_u")
        v = getattr(module, self.name + "_v")
        matrix = as_matrix(weight, self.dim)
        if do_power_iteration:
            power_iterate(matrix.detach(), u, v, self.n_power_iterations, self.eps)
            # Later in-place refinements must not disturb this step's backward.
            u = u.clone()
            v = v.clone()
        sigma = (u * matrix.mv(v)).sum()
        return weight / sigma

    @staticmethod
    def apply(module, name, n_power_iterations, dim, eps):
        if hook_key(module, SpectralNorm, name) is not None:
            raise RuntimeError(
                f"Cannot register two spectral_norm hooks on the same parameter {name}"
            )
        hook = SpectralNorm(name, n_power_iterations, dim, eps)
        weight = module._parameters.get(name)
        if weight is None:
            raise ValueError(f"spectral_norm expects '{name}' of {module} to be a Parameter")
        with torch.no_grad():
            matrix = as_matrix(weight, dim)
            u = random_unit(matrix.shape[0], weight)
            v = random_unit(matrix.shape[1], weight)
        del module._parameters[name]
        module.register_parameter(name + "_orig", weight)
        setattr(module, name, weight.detach())
        module.register_buffer(name + "_u", u)
        module.register_buffer(name + "_v", v)
        module.register_forward_pre_hook(hook)
        return hook

    def remove(self, module):
        with torch.no_grad():
            weight = self.compute_weight(module, False)
        delattr(module, self.name)
        delattr(module, self.name + "_u")
        delattr(module, self.name + "_v")
        delattr(module, self.name + "_orig")
        module.register_parameter(self.name, Parameter(weight.detach()))

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute_weight(module, module.training))


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Divide parameter `name` by its spectral norm before every forward."""
    if dim is None:
        dim = default_dim(module)
    SpectralNorm.apply(module, name, n_power_iterations=n_power_iterations, dim=dim, eps=eps)
    return module


def remove_spectral_norm(module, name="weight"):
    """Drop the hook and keep the current normalised value as parameter `name`."""
    key = hook_key(module, SpectralNorm, name)
    if key is not None:
        module._forward_pre_hooks.pop(key).remove(module)
        return module
    raise ValueError(f"spectral_norm of '{name}' not found in {module}")
