"""Soundness of the nn, matmul and optimizer kernels: checked window arithmetic (huge kernels,
paddings, scale factors raise RuntimeError), empty and offset views in matmul, broadcast
cosine similarity, norm-layer gradients (float64 gradcheck), in-place optimizer steps on
the parameters' own memory, and device checks."""

import math

import numpy as np
import pytest

import rtorch as torch
import rtorch.nn.functional as F
from rtorch.autograd import gradcheck


def f64(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64).requires_grad_(True)


# ---------------------------------------------------------------- window arithmetic


def test_conv2d_kernel_larger_than_input_uses_pytorch_message():
    w = torch.zeros(1, 1, 1, 1).expand(1, 1, 2**20, 2**20)
    with pytest.raises(RuntimeError, match=r"Calculated padded input size per channel: \(5 x 5\)\. Kernel size: \(1048576 x 1048576\)\. Kernel size can't be greater than actual input size"):
        F.conv2d(torch.randn(1, 1, 5, 5), w)
    with pytest.raises(RuntimeError, match="Kernel size can't be greater"):
        torch.conv2d(torch.randn(1, 1, 5, 5), torch.randn(1, 1, 6, 6))


def test_conv2d_module_with_huge_kernel_raises_runtime_error():
    # 2**40 weights: the allocation fails as a RuntimeError instead of aborting.
    with pytest.raises(RuntimeError):
        torch.nn.Conv2d(1, 1, 2**20)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(padding=2**62),
        dict(padding=2**63 - 1),
        dict(dilation=2**62),
        dict(padding=2**62, stride=2**63),
    ],
)
def test_conv2d_huge_padding_dilation_stride_raise(kwargs):
    x, w = torch.randn(1, 1, 4, 4), torch.randn(1, 1, 3, 3)
    with pytest.raises(RuntimeError):
        torch.conv2d(x, w, **kwargs)


def test_conv2d_huge_stride_over_padding_is_one_window_of_zeros():
    # Valid in PyTorch too: one window, entirely in the zero padding.
    y = torch.conv2d(torch.randn(1, 1, 4, 4), torch.randn(1, 1, 3, 3), stride=2**63, padding=2**61)
    assert tuple(y.shape) == (1, 1, 1, 1) and y.item() == 0.0


@pytest.mark.parametrize("op", ["max", "avg", "unfold"])
@pytest.mark.parametrize("k,s,p,d", [(2**62, 1, 0, 1), (2**64 - 1, 1, 0, 1), (3, 1, 2**62, 1), (3, 1, 1, 2**62)])
def test_pooling_and_unfold_huge_arguments_raise(op, k, s, p, d):
    x = torch.randn(1, 1, 4, 4)
    if op == "avg" and d != 1:
        p = 2**63  # avg_pool2d has no dilation
    with pytest.raises(RuntimeError):
        if op == "max":
            torch.max_pool2d(x, k, s, p, d)
        elif op == "avg":
            torch._C._avg_pool2d(x, k, s, p)
        else:
            torch._C._unfold(x, k, d, p, s)


@pytest.mark.parametrize("op", ["max", "avg", "unfold"])
def test_pooling_huge_stride_is_one_window(op):
    # (4 + 2 - 3) // 2**63 + 1 == 1, as in PyTorch.
    x = torch.randn(1, 1, 4, 4)
    if op == "max":
        y = torch.max_pool2d(x, 3, 2**63, 1)
        assert y.item() == x[0, 0, :2, :2].max().item()
    elif op == "avg":
        y = torch._C._avg_pool2d(x, 3, 2**63, 1)
        assert abs(y.item() - x[0, 0, :2, :2].sum().item() / 9) < 1e-6
    else:
        y = torch._C._unfold(x, 3, 1, 1, 2**63)
        assert tuple(y.shape) == (1, 9, 1)


def test_fold_huge_output_size_raises():
    x = torch.randn(1, 4, 1)
    with pytest.raises(RuntimeError):
        torch._C._fold(x, (2**40, 2**40), (2, 2))
    with pytest.raises(RuntimeError):
        torch._C._fold(x, (2, 2), (0, 2))


def test_conv_transpose2d_huge_arguments_raise():
    x, w = torch.randn(1, 1, 3, 3), torch.randn(1, 1, 2, 2)
    with pytest.raises(RuntimeError):
        torch.conv_transpose2d(x, w, stride=2**63)
    with pytest.raises(RuntimeError):
        torch.conv_transpose2d(x, w, output_padding=2**64 - 1)
    with pytest.raises(RuntimeError):
        torch.conv_transpose2d(x, w, padding=2**62)


@pytest.mark.parametrize("scale", [1e6, 1e12, 2.0**70])
def test_interpolate_huge_scale_factor_raises(scale):
    x = torch.randn(1, 1, 4, 4)
    with pytest.raises(RuntimeError):
        F.interpolate(x, scale_factor=scale, mode="nearest")
    with pytest.raises(RuntimeError):
        F.interpolate(x, scale_factor=scale, mode="bilinear")


def test_interpolate_huge_size_with_empty_batch_is_empty():
    x = torch.randn(0, 1, 4, 4)
    y = F.interpolate(x, scale_factor=1e9, mode="nearest")
    assert tuple(y.shape) == (0, 1, 4_000_000_000, 4_000_000_000)


def test_interpolate_still_matches_for_small_scales():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    y = F.interpolate(x, scale_factor=2, mode="nearest")
    ref = np.repeat(np.repeat(x.numpy(), 2, axis=2), 2, axis=3)
    np.testing.assert_array_equal(y.numpy(), ref)


# ---------------------------------------------------------------- matmul family


def test_matmul_empty_dims():
    for sa, sb in [((3, 0), (0, 4)), ((0, 3), (3, 4)), ((3, 4), (4, 0)), ((2, 0, 3), (2, 3, 5)), ((2, 3, 0), (0, 5))]:
        a, b = torch.randn(*sa), torch.randn(*sb)
        r = a @ b
        np.testing.assert_array_equal(r.numpy(), a.numpy() @ b.numpy())
    assert torch.mm(torch.zeros(3, 0), torch.zeros(0, 2)).numpy().tolist() == [[0.0] * 2] * 3
    assert tuple(torch.bmm(torch.zeros(0, 2, 3), torch.zeros(0, 3, 4)).shape) == (0, 2, 4)
    assert tuple(torch.einsum("ij,jk->ik", torch.zeros(2, 0), torch.zeros(0, 3)).shape) == (2, 3)


def test_matmul_empty_views_with_offset():
    a = torch.zeros(3, 0)[2:]
    b = torch.zeros(0, 4)
    assert a.storage_offset() >= 0
    r = a @ b
    assert tuple(r.shape) == (1, 4) and r.sum().item() == 0
    big = torch.randn(5, 6)
    e = big[4:, 6:]  # (1, 0) view past the end of its rows
    r = torch.mm(e, torch.zeros(0, 2))
    assert r.numpy().tolist() == [[0.0, 0.0]]
    r = torch.mm(torch.zeros(2, 3), big[:3, 6:])
    assert tuple(r.shape) == (2, 0)
    r = torch.einsum("ij,jk->ik", e, torch.zeros(0, 3))
    assert r.numpy().tolist() == [[0.0, 0.0, 0.0]]


def test_matmul_empty_grad():
    a = torch.zeros(3, 0, requires_grad=True)
    b = torch.zeros(0, 2, requires_grad=True)
    (a @ b).sum().backward()
    assert tuple(a.grad.shape) == (3, 0) and tuple(b.grad.shape) == (0, 2)


@pytest.mark.parametrize(
    "fn,pattern",
    [
        (lambda: torch.mm(torch.zeros(2, 3), torch.zeros(4, 5)), r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)"),
        (lambda: torch.zeros(2, 3) @ torch.zeros(4, 5), r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)"),
        (lambda: torch.bmm(torch.zeros(2, 2, 3), torch.zeros(2, 4, 5)), r"Expected size for first two dimensions of batch2 tensor to be: \[2, 3\] but got: \[2, 4\]"),
        (lambda: torch.bmm(torch.zeros(2, 2, 3), torch.zeros(3, 3, 5)), r"Expected size for first two dimensions of batch2 tensor to be: \[2, 3\] but got: \[3, 3\]"),
        (lambda: torch.einsum("ij,jk", torch.zeros(2, 3), torch.zeros(4, 5)), "einsum"),
        (lambda: torch.einsum("...ijkl", torch.zeros(2)), "einsum"),
    ],
)
def test_matmul_shape_errors_name_shapes(fn, pattern):
    with pytest.raises(RuntimeError, match=pattern):
        fn()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64, torch.int32, torch.bfloat16, torch.float16])
def test_matmul_strided_and_broadcast_batches(dtype):
    g = torch.Generator().manual_seed(3)
    a = (torch.randn(4, 3, 5, generator=g) * 4).to(dtype)
    b = (torch.randn(5, 2, generator=g) * 4).to(dtype)
    at = a.transpose(1, 2).contiguous().transpose(1, 2)  # same values, strided
    r = at @ b
    ref = a.to(torch.float64).numpy() @ b.to(torch.float64).numpy()
    tol = {torch.bfloat16: 0.3, torch.float16: 0.05}.get(dtype, 1e-4)
    np.testing.assert_allclose(r.to(torch.float64).numpy(), ref, rtol=tol, atol=tol * 10)
    assert r.dtype == dtype


# ---------------------------------------------------------------- cosine similarity


def _cos_ref(a, b, dim, eps):
    a, b = np.broadcast_arrays(a, b)
    n1 = np.maximum(np.sqrt((a * a).sum(dim)), eps)
    n2 = np.maximum(np.sqrt((b * b).sum(dim)), eps)
    return (a * b).sum(dim) / (n1 * n2)


@pytest.mark.parametrize("fn", [torch.cosine_similarity, F.cosine_similarity])
def test_cosine_similarity_broadcasts(fn):
    x1 = torch.randn(3, 1, 4, dtype=torch.float64)
    x2 = torch.randn(1, 5, 4, dtype=torch.float64)
    r = fn(x1, x2, dim=-1)
    assert tuple(r.shape) == (3, 5)
    np.testing.assert_allclose(r.numpy(), _cos_ref(x1.numpy(), x2.numpy(), -1, 1e-8), rtol=1e-12)
    r = fn(torch.randn(2, 4, 1, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64), dim=1)
    assert tuple(r.shape) == (2, 3)


@pytest.mark.parametrize("fn", [torch.cosine_similarity, F.cosine_similarity])
def test_cosine_similarity_eps_and_grad(fn):
    x1 = torch.tensor([[1e-9, 0.0], [3.0, 4.0]], dtype=torch.float64)
    x2 = torch.tensor([[1.0, 0.0], [4.0, 3.0]], dtype=torch.float64)
    r = fn(x1, x2, dim=1, eps=1e-8)
    np.testing.assert_allclose(r.numpy(), _cos_ref(x1.numpy(), x2.numpy(), 1, 1e-8), rtol=1e-12)
    a, b = f64(3, 4), f64(3, 4, seed=1)
    assert gradcheck(lambda a, b: fn(a, b, dim=1), (a, b))
    a, b = f64(3, 1, 4), f64(1, 2, 4, seed=1)
    assert gradcheck(lambda a, b: fn(a, b, dim=-1), (a, b))


# ---------------------------------------------------------------- norm gradients


def test_layer_norm_unbatched_weight_and_bias_grads():
    x, w, b = f64(5), f64(5, seed=1), f64(5, seed=2)
    y = F.layer_norm(x, (5,), w, b)
    g = torch.arange(5.0, dtype=torch.float64)
    y.backward(g)
    xn = x.detach().numpy()
    xhat = (xn - xn.mean()) / np.sqrt(xn.var() + 1e-5)
    np.testing.assert_allclose(w.grad.numpy(), g.numpy() * xhat, rtol=1e-10)
    np.testing.assert_allclose(b.grad.numpy(), g.numpy(), rtol=1e-12)
    assert gradcheck(lambda x, w, b: F.layer_norm(x, (5,), w, b), (x, w, b))
    x2 = f64(2, 3)
    w2, b2 = f64(2, 3, seed=1), f64(2, 3, seed=2)
    assert gradcheck(lambda x, w, b: F.layer_norm(x, (2, 3), w, b), (x2, w2, b2))


def test_layer_norm_matches_numpy_in_float32_and_noncontiguous():
    x = torch.randn(6, 8).t()  # (8, 6), strided
    w, b = torch.randn(6), torch.randn(6)
    y = F.layer_norm(x, (6,), w, b)
    xn = x.numpy().astype(np.float64)
    ref = (xn - xn.mean(1, keepdims=True)) / np.sqrt(xn.var(1, keepdims=True) + 1e-5)
    ref = ref * w.numpy() + b.numpy()
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-5, atol=1e-5)
    assert y.dtype == torch.float32


def test_norm_layers_gradcheck():
    x = f64(2, 4, 3)
    w, b = f64(4, seed=1), f64(4, seed=2)
    assert gradcheck(lambda x, w, b: F.group_norm(x, 2, w, b), (x, w, b))
    assert gradcheck(lambda x, w, b: F.instance_norm(x, weight=w, bias=b), (x, w, b))
    rm, rv = torch.zeros(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64)
    assert gradcheck(lambda x, w, b: F.batch_norm(x, rm.clone(), rv.clone(), w, b, training=True), (x, w, b))
    assert gradcheck(lambda x, w, b: F.batch_norm(x, rm, rv, w, b, training=False), (x, w, b))


def test_batch_norm_running_stats_in_place_and_versioned():
    x = torch.randn(4, 3, 5)
    rm, rv = torch.zeros(3), torch.ones(3)
    ptr_m, ptr_v = rm.data_ptr(), rv.data_ptr()
    v0 = rm._version
    F.batch_norm(x, rm, rv, training=True, momentum=0.2)
    assert rm.data_ptr() == ptr_m and rv.data_ptr() == ptr_v
    assert rm._version > v0
    xn = x.numpy().astype(np.float64)
    mean = xn.mean(axis=(0, 2))
    var = xn.var(axis=(0, 2)) * 20 / 19
    np.testing.assert_allclose(rm.numpy(), 0.2 * mean, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(rv.numpy(), 0.8 + 0.2 * var, rtol=1e-5)
    # a strided running buffer is updated through its view
    base = torch.zeros(6)
    view = base[::2]
    F.batch_norm(x, view, None, training=True, momentum=1.0)
    np.testing.assert_allclose(base.numpy()[::2], mean, rtol=1e-5, atol=1e-7)
    assert base.numpy()[1::2].tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("dim", [0, 1, 2, -1])
def test_softmax_any_dim_and_strided(dim):
    x = torch.randn(3, 4, 5, dtype=torch.float64).transpose(0, 2)
    for log in (False, True):
        y = x.log_softmax(dim) if log else x.softmax(dim)
        xn = x.numpy()
        e = np.exp(xn - xn.max(dim, keepdims=True))
        ref = e / e.sum(dim, keepdims=True)
        np.testing.assert_allclose(y.numpy(), np.log(ref) if log else ref, rtol=1e-12, atol=1e-12)
    assert tuple(torch.zeros(0, 3).softmax(0).shape) == (0, 3)


# ---------------------------------------------------------------- optimizers


def _params(shape=(3, 4), noncontig=False, seed=0):
    g = torch.Generator().manual_seed(seed)
    if noncontig:
        base = torch.randn(shape[1], shape[0], generator=g)
        p = torch.nn.Parameter(base.t())
        assert not p.is_contiguous()
    else:
        p = torch.nn.Parameter(torch.randn(*shape, generator=g))
    p.grad = torch.randn(*shape, generator=g)
    return p


OPTS = [
    (torch.optim.SGD, dict(lr=0.1)),
    (torch.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    (torch.optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.1, maximize=True)),
    (torch.optim.Adam, dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
    (torch.optim.AdamW, dict(lr=0.01)),
    (torch.optim.RMSprop, dict(lr=0.01, momentum=0.5, centered=True)),
    (torch.optim.Adagrad, dict(lr=0.1, lr_decay=0.01)),
]


@pytest.mark.parametrize("cls,kw", OPTS)
def test_optimizer_step_in_place_and_versioned(cls, kw):
    p = _params()
    ptr, v0 = p.data_ptr(), p._version
    alias = p.detach()
    opt = cls([p], **kw)
    for _ in range(3):
        before = p.detach().clone()
        opt.step()
        assert not np.array_equal(p.detach().numpy(), before.numpy())
    assert p.data_ptr() == ptr
    assert p._version > v0
    # the update went into the parameter's own memory, seen through an alias
    np.testing.assert_array_equal(alias.numpy(), p.detach().numpy())


@pytest.mark.parametrize("cls,kw", OPTS)
def test_optimizer_step_noncontiguous_matches_contiguous(cls, kw):
    a = _params(noncontig=True, seed=1)
    b = torch.nn.Parameter(a.detach().contiguous())
    b.grad = a.grad.clone()
    oa, ob = cls([a], **kw), cls([b], **kw)
    for _ in range(3):
        oa.step()
        ob.step()
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-6, atol=1e-7)
    assert not a.is_contiguous()


def test_optimizer_grad_sharing_parameter_memory():
    p = torch.nn.Parameter(torch.ones(4))
    p.grad = p.detach()  # same memory as the parameter
    torch.optim.SGD([p], lr=0.5).step()
    np.testing.assert_allclose(p.detach().numpy(), [0.5] * 4)


def test_saved_parameter_detects_optimizer_step():
    p = torch.nn.Parameter(torch.randn(3))
    y = (p * p).sum()
    p.grad = torch.ones(3)
    torch.optim.SGD([p], lr=0.1).step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_adam_matches_reference_formula():
    p = _params(seed=4)
    g = p.grad.detach().numpy().astype(np.float64)
    x = p.detach().numpy().astype(np.float64)
    opt = torch.optim.Adam([p], lr=0.01, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1)
    m = np.zeros_like(x)
    v = np.zeros_like(x)
    for t in range(1, 4):
        opt.step()
        gg = g + 0.1 * x
        m = 0.9 * m + 0.1 * gg
        v = 0.99 * v + 0.01 * gg * gg
        denom = np.sqrt(v) / math.sqrt(1 - 0.99**t) + 1e-8
        x = x - 0.01 / (1 - 0.9**t) * m / denom
    np.testing.assert_allclose(p.detach().numpy(), x, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- device checks


def test_nn_ops_accept_same_device_cpu_operands():
    x = torch.randn(2, 3, 4, 4)
    w = torch.randn(5, 3, 3, 3)
    assert tuple(F.conv2d(x, w, torch.zeros(5)).shape) == (2, 5, 2, 2)
    t = torch.tensor([0, 1])
    assert F.cross_entropy(torch.randn(2, 3), t).dim() == 0
    assert tuple(F.embedding(t, torch.randn(4, 2)).shape) == (2, 2)
