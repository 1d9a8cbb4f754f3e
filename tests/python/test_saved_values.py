"""grad_fn._saved_<name>: what each gradient rule saved, named as PyTorch names it."""

import numpy as np
import pytest

import rtorch as torch
import rtorch.nn.functional as F


def _np(t):
    return np.array(t.detach().tolist(), dtype=np.float64)


def _leaf(a):
    return torch.tensor(a, dtype=torch.float64, requires_grad=True)


def _saved_names(fn):
    return {a[len("_saved_") :] for a in dir(fn) if a.startswith("_saved_")}


def test_binary_and_unary_values():
    a = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -3.0]])
    b = np.array([[2.0, 4.0, -1.0], [0.5, 1.0, 3.0]])
    x, y = _leaf(a), _leaf(b)
    fn = (x * y).grad_fn
    assert fn.name() == "MulBackward0" and _saved_names(fn) == {"self", "other"}
    np.testing.assert_array_equal(_np(fn._saved_self), a)
    np.testing.assert_array_equal(_np(fn._saved_other), b)
    # A Python number is not saved as a tensor.
    fn = (x * 3).grad_fn
    assert fn._saved_self is None and fn._saved_other == 3
    assert (x + y).grad_fn._saved_alpha == 1
    fn = (x**2).grad_fn
    assert fn._saved_exponent == 2
    np.testing.assert_array_equal(_np(fn._saved_self), a)
    fn = x.exp().grad_fn
    assert _saved_names(fn) == {"result"}
    np.testing.assert_allclose(_np(fn._saved_result), np.exp(a))
    fn = x.relu().grad_fn
    np.testing.assert_array_equal(_np(fn._saved_result), np.maximum(a, 0))
    assert _saved_names(x.sin().grad_fn) == {"self"}
    assert _saved_names((-x).grad_fn) == set()  # nothing saved, no error
    fn = x.clamp(-1, 1).grad_fn
    assert (fn._saved_min, fn._saved_max) == (-1, 1)
    assert F.gelu(x, approximate="tanh").grad_fn._saved_approximate == "tanh"


def test_reductions_views_and_nn_values():
    a = np.arange(6.0).reshape(2, 3) / 7 + 0.1
    x = _leaf(a)
    fn = x.sum(1, keepdim=True).grad_fn
    assert fn.name() == "SumBackward1"
    assert (fn._saved_dim, fn._saved_keepdim, fn._saved_self_sym_sizes) == ((1,), True, (2, 3))
    assert _saved_names(x.sum().grad_fn) == {"self_sym_sizes"}
    fn = x.mean(0).grad_fn
    assert (fn._saved_dim, fn._saved_self_sym_numel) == ((0,), 6)
    fn = x.max(1)[0].grad_fn
    assert fn._saved_dim == 1 and fn._saved_indices.tolist() == [2, 2]
    fn = x.var(1).grad_fn
    assert fn._saved_correction == 1 and fn._saved_keepdim is False
    assert x.view(3, 2).grad_fn._saved_self_sym_sizes == (2, 3)
    fn = x.transpose(0, 1).grad_fn
    assert (fn._saved_dim0, fn._saved_dim1) == (0, 1)
    assert x.permute(1, 0).grad_fn._saved_dims == (1, 0)
    fn = x[1].grad_fn
    assert (fn._saved_dim, fn._saved_index, fn._saved_self_sym_sizes) == (0, 1, (2, 3))
    fn = x[:, 1:3].grad_fn
    assert (fn._saved_start, fn._saved_end, fn._saved_step) == (1, 3, 1)
    assert torch.cat([x, x], 1).grad_fn._saved_dim == 1
    fn = x.log_softmax(1).grad_fn
    shifted = a - a.max(1, keepdims=True)
    ls = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    assert fn._saved_dim == 1
    np.testing.assert_allclose(_np(fn._saved_result), ls)
    # layer_norm: the saved mean and reciprocal standard deviation of each row.
    fn = F.layer_norm(x, (3,)).grad_fn
    assert fn.name() == "NativeLayerNormBackward0"
    assert fn._saved_weight is None and fn._saved_normalized_shape == (3,)
    np.testing.assert_allclose(_np(fn._saved_result1).ravel(), a.mean(1))
    np.testing.assert_allclose(_np(fn._saved_result2).ravel(), 1 / np.sqrt(a.var(1) + 1e-5))
    # linear: addmm(bias, x, weight.t()).
    w = _leaf(np.arange(12.0).reshape(4, 3))
    fn = F.linear(x, w, _leaf(np.zeros(4))).grad_fn
    assert fn.name() == "AddmmBackward0"
    np.testing.assert_array_equal(_np(fn._saved_mat1), a)
    np.testing.assert_array_equal(_np(fn._saved_mat2), np.arange(12.0).reshape(4, 3).T)
    assert fn._saved_mat2_sym_sizes == (3, 4) and fn._saved_mat2_sym_strides == (1, 3)
    assert (fn._saved_alpha, fn._saved_beta) == (1, 1)


def test_freed_after_backward_and_inplace_checked():
    x = _leaf([1.0, 2.0])
    y = x.exp()
    s = y.sum(0, keepdim=True)
    s.sum().backward(retain_graph=True)
    np.testing.assert_allclose(_np(y.grad_fn._saved_result), np.exp([1.0, 2.0]))
    s.sum().backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        _ = y.grad_fn._saved_result
    # Scalar arguments outlive backward.
    assert s.grad_fn._saved_dim == (0,) and s.grad_fn._saved_keepdim is True
    z = _leaf([1.0, 2.0]) * 1.0
    fn = (z * z).grad_fn
    with torch.no_grad():
        z.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        _ = fn._saved_self
    with pytest.raises(AttributeError, match="_saved_nothing"):
        _ = fn._saved_nothing
    assert {"_saved_self", "_saved_other", "name", "next_functions"} <= set(dir(fn))


def test_saved_tensors_share_memory():
    # The node hands out handles to the tensors its rule holds, not copies.
    x = _leaf([1.0, 2.0, 3.0])
    y = x.tanh()
    assert y.grad_fn._saved_result.data_ptr() == y.data_ptr()
    assert x.sin().grad_fn._saved_self.data_ptr() == x.data_ptr()


# Side by side with PyTorch: node names, the attribute names rtorch reports (always PyTorch's,
# a subset when the rule keeps less) and their values.
def _cases(lib, F, x, y, img, w, b):
    idx = lib.tensor([[0], [2]])
    return {
        "mul": x * y,
        "div": x / (y + 3),
        "add": x + y,
        "sub": x - y,
        "pow": x**2,
        "mm": x @ w.t(),
        "addmm": F.linear(x, w, b),
        "linear_nb": F.linear(x, w),
        "tanh": x.tanh(),
        "exp": x.exp(),
        "relu": x.relu(),
        "sigmoid": x.sigmoid(),
        "log": x.log(),
        "sqrt": x.sqrt(),
        "gelu": F.gelu(x),
        "clamp": x.clamp(-1, 1),
        "sum": x.sum(),
        "sum_dim": x.sum(1, keepdim=True),
        "mean": x.mean(),
        "mean_dim": x.mean(1),
        "prod_dim": x.prod(1),
        "amax": x.amax(1),
        "max_dim": x.max(1)[0],
        "var": x.var(1),
        "std": x.std(1),
        "norm": x.norm(dim=1),
        "logsumexp": x.logsumexp(1),
        "view": x.view(3, 2),
        "transpose": x.transpose(0, 1),
        "permute": x.permute(1, 0),
        "expand": x[:1].expand(4, 3),
        "unsqueeze": x.unsqueeze(0),
        "select": x[1],
        "slice": x[:, 1:3],
        "diagonal": x.diagonal(),
        "unfold": x.unfold(1, 2, 1),
        "cat": lib.cat([x, y], 1),
        "repeat": x.repeat(2, 1),
        "softmax": x.softmax(1),
        "log_softmax": x.log_softmax(1),
        "layer_norm": F.layer_norm(x, (3,)),
        "layer_norm_w": F.layer_norm(x, (3,), w[0], b[:3]),
        "batch_norm": F.batch_norm(
            img,
            lib.zeros(2, dtype=lib.float64),
            lib.ones(2, dtype=lib.float64),
            w[0, :2],
            training=True,
        ),
        "max_pool": F.max_pool2d(img, 2, 2),
        "conv": F.conv2d(img, w.reshape(-1)[:8].reshape(1, 2, 2, 2), b[:1], padding=1),
        "conv_nb": F.conv2d(img, w.reshape(-1)[4:12].reshape(2, 1, 2, 2), stride=2, groups=2),
        "im2col": F.unfold(img, 2),
        "col2im": F.fold(lib.cat([x, y, x, y], 1).reshape(1, 6, 4), (3, 4), (2, 3)),
        "gather": x.gather(1, idx),
        "index": x[lib.tensor([1, 0, 1])],
        "index_put": x.index_put((lib.tensor([0]),), lib.tensor([1.0], dtype=lib.float64)),
        "where": lib.where(x > 0.5, x, y),
        "cumsum": x.cumsum(1),
        "cumprod": x.cumprod(1),
        "sort": x.sort(1)[0],
        "topk": x.topk(2, 1)[0],
        "scatter_add": lib.zeros(2, 3, dtype=lib.float64).scatter_add(1, idx, x[:, :1]),
        "maximum": lib.maximum(x, y),
    }


# Values PyTorch reports differently by design: a max_pool2d without a stride argument
# reports stride () in PyTorch and the stride used in rtorch.
_VALUE_EXCEPTIONS = {("max_pool", "stride")}


def _same(rt, pt):
    if pt is None or isinstance(pt, (bool, int, float, str)):
        return rt == pt
    if isinstance(pt, tuple):
        return isinstance(rt, tuple) and len(rt) == len(pt) and all(map(_same, rt, pt))
    return np.allclose(_np(rt).ravel(), pt.detach().double().numpy().ravel())


def test_side_by_side_with_pytorch():
    pt = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    data = [
        rng.uniform(0.2, 1.2, (2, 3)),
        rng.uniform(0.2, 1.2, (2, 3)),
        rng.normal(size=(1, 2, 4, 4)),
        rng.normal(size=(4, 3)),
        rng.normal(size=4),
    ]

    def inputs(lib):
        return [lib.tensor(d, dtype=lib.float64, requires_grad=True) for d in data]

    ours = _cases(torch, F, *inputs(torch))
    theirs = _cases(pt, pt.nn.functional, *inputs(pt))
    for key, out in ours.items():
        fn, ref = out.grad_fn, theirs[key].grad_fn
        assert fn.name() == ref.name(), key
        names, ref_names = _saved_names(fn), _saved_names(ref)
        assert names <= ref_names, (key, names - ref_names)
        assert names, key  # every case saves something
        for name in names:
            if (key, name) in _VALUE_EXCEPTIONS:
                continue
            a, r = getattr(fn, "_saved_" + name), getattr(ref, "_saved_" + name)
            assert _same(a, r), (key, name, a, r)
    # The common nodes report everything PyTorch does.
    full = ["mul", "add", "mm", "addmm", "tanh", "exp", "relu", "sum_dim", "mean_dim", "view",
            "transpose", "select", "softmax", "log_softmax", "layer_norm_w", "batch_norm",
            "var", "std", "logsumexp", "max_dim", "sort", "topk", "cat", "im2col", "index"]
    for key in full:
        assert _saved_names(ours[key].grad_fn) == _saved_names(theirs[key].grad_fn), key
