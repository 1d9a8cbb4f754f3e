"""functional_call: run a Module with some parameters/buffers replaced by given tensors."""

import contextlib

from rtorch import _C

from ._batched import BatchedTensor


def _owner(module, dotted):
    *path, leaf = dotted.split(".")
    for p in path:
        module = module._modules[p] if p in module._modules else getattr(module, p)
    return module, leaf


def _store(owner, leaf):
    for store in ("_parameters", "_buffers"):
        d = owner.__dict__.get(store)
        if d is not None and leaf in d:
            return d
    return None


@contextlib.contextmanager
def _swapped(module, values, tie_weights, strict):
    names = dict(module.named_parameters(remove_duplicate=False))
    names.update(dict(module.named_buffers(remove_duplicate=False)))
    values = dict(values)
    if tie_weights:
        # Every name bound to the same tensor as a replaced name is replaced with it.
        by_id = {}
        for name, t in names.items():
            by_id.setdefault(id(t), []).append(name)
        for name in list(values):
            if name in names:
                for other in by_id[id(names[name])]:
                    if other in values and values[other] is not values[name]:
                        raise ValueError(
                            f"functional_call got multiple values for keys ['{name}', '{other}'], "
                            "which are tied. Consider using tie_weights=False"
                        )
                    values.setdefault(other, values[name])
    if strict:
        missing = sorted(set(names) - set(values))
        unexpected = sorted(set(values) - set(names))
        if missing or unexpected:
            msgs = []
            if unexpected:
                msgs.append("Unexpected key(s): " + ", ".join(repr(k) for k in unexpected) + ".")
            if missing:
                msgs.append("Missing key(s): " + ", ".join(repr(k) for k in missing) + ".")
            raise RuntimeError(
                f"Error(s) in reparametrizing for {type(module).__name__}:\n\t" + "\n\t".join(msgs)
            )
    saved = []
    try:
        for name, value in values.items():
            owner, leaf = _owner(module, name)
            d = _store(owner, leaf)
            if d is not None:
                saved.append((d, leaf, d[leaf]))
                d[leaf] = value
            else:
                # Not a registered parameter/buffer: a plain attribute for the call.
                saved.append((owner, leaf, owner.__dict__.get(leaf, _MISSING)))
                object.__setattr__(owner, leaf, value)
        yield
    finally:
        for target, leaf, old in reversed(saved):
            if isinstance(target, dict):
                target[leaf] = old
            elif old is _MISSING:
                object.__delattr__(target, leaf)
            else:
                object.__setattr__(target, leaf, old)


_MISSING = object()


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *, tie_weights=True, strict=False):
    """Calls `module(*args, **kwargs)` with the named parameters and buffers replaced by the
    tensors of `parameter_and_buffer_dicts` (one dict or a sequence of dicts); the module
    itself is unchanged afterwards."""
    dicts = parameter_and_buffer_dicts
    if isinstance(dicts, dict):
        merged = dict(dicts)
    else:
        merged = {}
        for d in dicts:
            for k, v in d.items():
                if k in merged:
                    raise ValueError(
                        f"{k} appeared in multiple dictionaries; behavior of functional call is ambiguous"
                    )
                merged[k] = v
    for k, v in merged.items():
        if not isinstance(v, (_C.Tensor, BatchedTensor)):  # batched: an ensemble under vmap
            raise TypeError(f"functional_call: expected a Tensor for '{k}', got {type(v).__name__}")
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    with _swapped(module, merged, tie_weights, strict):
        return module(*args, **(kwargs or {}))


def stack_module_state(models):
    """(params, buffers): each named parameter/buffer of identically structured `models`
    stacked along a new leading dim (parameters detached, then requiring grad again), ready
    for vmap over functional_call."""
    models = list(models)
    if not models:
        raise RuntimeError("stack_module_state: Expected at least one model, got 0.")
    if not (all(m.training for m in models) or not any(m.training for m in models)):
        raise RuntimeError("stack_module_state: Expected all models to have the same training/eval mode.")
    first = type(models[0])
    if not all(type(m) is first for m in models):
        raise RuntimeError("stack_module_state: Expected all models to be of the same class.")
    import rtorch

    params = {
        k: rtorch.stack([dict(m.named_parameters())[k].detach() for m in models]).requires_grad_(p.requires_grad)
        for k, p in models[0].named_parameters()
    }
    buffers = {k: rtorch.stack([dict(m.named_buffers())[k] for m in models]) for k, _ in models[0].named_buffers()}
    return params, buffers


def replace_all_batch_norm_modules_(root):
    """In place: every batch norm module under `root` stops tracking running statistics
    (running_mean/running_var become None), so it always normalizes with batch statistics."""
    from rtorch.nn.modules.normalization import _BatchNorm

    for m in root.modules():
        if isinstance(m, _BatchNorm):
            m.running_mean = None
            m.running_var = None
            m.num_batches_tracked = None
            m.track_running_stats = False
    return root
