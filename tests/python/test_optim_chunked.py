"""Large parameters are updated in chunks on the thread pool: every optimizer variant must give
exactly the result of the serial update, which smaller parameters get (the split is by element,
and each element's formula is unchanged)."""

import numpy as np
import pytest

import rtorch as torch

N = 70_000  # above the chunked-update size; not a multiple of the chunk length
HALF = N // 2  # each half is below it

CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.01)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01, amsgrad=True, maximize=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.9, weight_decay=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.5)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.01)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_chunked_update_equals_serial(name, kw, dtype):
    rng = np.random.default_rng(5)
    init = rng.standard_normal(N).astype(dtype)
    grads = [rng.standard_normal(N).astype(dtype) for _ in range(3)]
    big = torch.nn.Parameter(torch.from_numpy(init.copy()))
    parts = [torch.nn.Parameter(torch.from_numpy(init[:HALF].copy())),
             torch.nn.Parameter(torch.from_numpy(init[HALF:].copy()))]
    opt_big = getattr(torch.optim, name)([big], **kw)
    opt_parts = getattr(torch.optim, name)(parts, **kw)
    for g in grads:
        big.grad = torch.from_numpy(g.copy())
        parts[0].grad = torch.from_numpy(g[:HALF].copy())
        parts[1].grad = torch.from_numpy(g[HALF:].copy())
        opt_big.step()
        opt_parts.step()
    joined = np.concatenate([p.detach().numpy() for p in parts])
    np.testing.assert_array_equal(big.detach().numpy(), joined)
    assert not np.array_equal(joined, init)
