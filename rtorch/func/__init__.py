"""``torch.func``: composable function transforms (grad, vjp, jvp, jacrev, jacfwd, hessian,
vmap) and ``functional_call``."""

from ._functional_call import functional_call, replace_all_batch_norm_modules_, stack_module_state
from ._grad import (
    functionalize,
    grad,
    grad_and_value,
    hessian,
    jacfwd,
    jacrev,
    jvp,
    linearize,
    vjp,
)
from ._vmap import vmap

__all__ = [
    "functional_call", "functionalize", "grad", "grad_and_value", "hessian", "jacfwd",
    "jacrev", "jvp", "linearize", "replace_all_batch_norm_modules_", "stack_module_state",
    "vjp", "vmap",
]
