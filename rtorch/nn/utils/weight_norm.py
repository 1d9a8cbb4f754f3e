"""Weight normalisation through a forward pre-hook (the pre-parametrization API).

The tensor `name` is replaced by parameters `name_g` (magnitude) and `name_v` (direction);
before each forward the hook recomputes ``module.<name> = name_v * name_g / ||name_v||``.
"""

from ..parameter import Parameter
from ._norms import hook_key, norm_except_dim, weight_from_gv

__all__ = ["WeightNorm", "weight_norm", "remove_weight_norm"]


class WeightNorm:
    """The pre-hook object kept in module._forward_pre_hooks."""

    def __init__(self, name, dim):
        self.name = name
        self.dim = -1 if dim is None else dim

    def compute_weight(self, module):
        g = getattr(module, self.name + "_g")
        v = getattr(module, self.name + "_v")
        return weight_from_gv(g, v, self.dim)

    @staticmethod
    def apply(module, name, dim):
        if hook_key(module, WeightNorm, name) is not None:
            raise RuntimeError(
                f"Cannot register two weight_norm hooks on the same parameter {name}"
            )
        weight = getattr(module, name, None)
        if not isinstance(weight, Parameter):
            raise ValueError(f"weight_norm expects '{name}' of {module} to be a Parameter")
        hook = WeightNorm(name, dim)
        del module._parameters[name]
        module.register_parameter(name + "_g", Parameter(norm_except_dim(weight, hook.dim)))
        module.register_parameter(name + "_v", Parameter(weight.detach()))
        setattr(module, name, hook.compute_weight(module))
        module.register_forward_pre_hook(hook)
        return hook

    def remove(self, module):
        weight = self.compute_weight(module)
        delattr(module, self.name)
        del module._parameters[self.name + "_g"]
        del module._parameters[self.name + "_v"]
        setattr(module, self.name, Parameter(weight.detach()))

    def __call__(self, module, inputs):
        module.__setattr__(self.name, self.compute_weight(module))


def weight_norm(module, name="weight", dim=0):
    """Reparametrize `name` as magnitude `name_g` times direction `name_v`."""
    WeightNorm.apply(module, name, dim)
    return module


def remove_weight_norm(module, name="weight"):
    """Fold `name_g` and `name_v` back into one parameter `name`."""
    key = hook_key(module, WeightNorm, name)
    if key is not None:
        module._forward_pre_hooks.pop(key).remove(module)
        return module
    raise ValueError(f"weight_norm of '{name}' not found in {module}")
