"""Shared math of weight and spectral normalisation (old hook API and parametrizations)."""

import rtorch as torch

from .. import functional as F


def norm_except_dim(v, dim):
    """2-norm of `v` over every dim but `dim`, kept broadcastable; dim=-1: one global norm."""
    if dim == -1:
        return v.norm()
    dim = dim % v.dim()
    others = [d for d in range(v.dim()) if d != dim]
    if not others:
        return v.abs()
    return (v * v).sum(dim=others, keepdim=True).sqrt()


def weight_from_gv(g, v, dim):
    return v * (g / norm_except_dim(v, dim))


def as_matrix(weight, dim):
    """View `weight` as a 2-D matrix whose rows run along `dim`."""
    if dim != 0:
        weight = weight.movedim(dim, 0)
    return weight.reshape(weight.shape[0], -1)


def power_iterate(matrix, u, v, steps, eps, u_first=False):
    """Refine the singular-vector estimates `u`, `v` of `matrix` in place. The hook version
    updates `v` then `u` each step, the parametrization `u` then `v` (as PyTorch's do)."""

    def update_u():
        u.copy_(F.normalize(matrix.mv(v), dim=0, eps=eps))

    def update_v():
        v.copy_(F.normalize(matrix.t().mv(u), dim=0, eps=eps))

    order = (update_u, update_v) if u_first else (update_v, update_u)
    with torch.no_grad():
        for _ in range(steps):
            for update in order:
                update()


def random_unit(n, like):
    return F.normalize(torch.randn(n, dtype=like.dtype, device=like.device), dim=0, eps=1e-12)


def default_dim(module):
    """The output-channel dim: 1 for transposed convolutions, 0 otherwise."""
    from ..modules.conv import _ConvTransposeNd

    return 1 if isinstance(module, _ConvTransposeNd) else 0


def hook_key(module, kind, name):
    """Key of the `kind` pre-hook that normalises `name`, or None."""
    for key, hook in module._forward_pre_hooks.items():
        if type(hook) is kind and hook.name == name:
            return key
    return None
