"""``torch.autograd.Function``: custom ops with a user-written backward."""

from rtorch import _C


class FunctionCtx:
    """The ``ctx`` object passed to ``forward`` and ``backward``."""

    def __init__(self):
        self.saved_tensors = ()
        self.needs_input_grad = ()
        self.materialize_grads = True
        self._non_differentiable = set()

    def save_for_backward(self, *tensors):
        self.saved_tensors = tuple(tensors)
        self.to_save = self.saved_tensors

    def mark_non_differentiable(self, *tensors):
        self._non_differentiable.update(id(t) for t in tensors)

    def mark_dirty(self, *tensors):
        self.dirty_tensors = tensors

    def set_materialize_grads(self, value):
        self.materialize_grads = bool(value)


class Function:
    """Subclass with static ``forward(ctx, *args)`` and ``backward(ctx, *grads)``; call
    ``.apply(*args)``."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for your custom autograd.Function to use it with backward mode AD.")

    vjp = backward

    @classmethod
    def apply(cls, *args, **kwargs):
        ctx = FunctionCtx()
        ctx.needs_input_grad = tuple(isinstance(a, _C.Tensor) and a.requires_grad for a in args)
        with_grad = _C.is_grad_enabled()
        _C._set_grad_enabled(False)
        try:
            out = cls.forward(ctx, *args, **kwargs)
        finally:
            _C._set_grad_enabled(with_grad)
        single = not isinstance(out, tuple)
        outs = (out,) if single else out
        # An input returned as-is gets a fresh identity so its history is not overwritten.
        outs = tuple(o.view_as(o) if isinstance(o, _C.Tensor) and any(o is a for a in args) else o for o in outs)
        tensor_outs = [o for o in outs if isinstance(o, _C.Tensor)]
        tensor_args = [a for a in args if isinstance(a, _C.Tensor)]
        positions = [i for i, a in enumerate(args) if isinstance(a, _C.Tensor)]
        differentiable = [o for o in tensor_outs if id(o) not in ctx._non_differentiable]
        if with_grad and any(a.requires_grad for a in tensor_args) and differentiable:
            n_out = len(tensor_outs)
            shapes = [(o.shape, o.dtype, o.device) for o in tensor_outs]
            out_index = {id(o): k for k, o in enumerate(tensor_outs)}
            slots = [out_index[id(o)] for o in differentiable]

            def backward_fn(k, grad):
                import rtorch

                grads = [None] * n_out
                grads[slots[k]] = grad
                if ctx.materialize_grads:
                    grads = [
                        g if g is not None else rtorch.zeros(s, dtype=d, device=dev)
                        for g, (s, d, dev) in zip(grads, shapes)
                    ]
                res = cls.backward(ctx, *grads)
                if not isinstance(res, tuple):
                    res = (res,)
                n = len(args)
                # Extra trailing results are allowed when they are all None.
                if len(res) > n and all(r is None for r in res[n:]):
                    res = res[:n]
                if len(res) != n:
                    raise RuntimeError(f"function {cls.__name__}Backward returned an incorrect number of gradients (expected {n}, got {len(res)})")
                for i, (a, r) in enumerate(zip(args, res)):
                    if r is not None and not isinstance(a, _C.Tensor):
                        raise RuntimeError(
                            f"function {cls.__name__}Backward returned a gradient different than None at position {i + 1}, "
                            "but the corresponding forward input was not a Variable"
                        )
                return [res[i] for i in positions]

            _C._record_function(cls.__name__, tensor_args, differentiable, backward_fn)
        return outs[0] if single else outs


class once_differentiable:
    """Decorator kept for API compatibility: the backward runs without building a graph."""

    def __new__(cls, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(ctx, *args):
            prev = _C.is_grad_enabled()
            _C._set_grad_enabled(False)
            try:
                return fn(ctx, *args)
            finally:
                _C._set_grad_enabled(prev)

        return wrapper
