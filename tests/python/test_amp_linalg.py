"""Autocast policies of the linear-algebra ops (float32 on the CPU list), the CUDA-only float32
entries (pow, __rpow__, __rdiv__, norms, logsumexp, rms_norm) and the list fixes (vecdot low
precision, tensordot promote on CUDA), checked by output dtypes side by side with PyTorch."""

import warnings

import numpy as np
import pytest

import rtorch as torch
from rtorch import _C


def _ops(T, low):
    """Calls on `low` inputs (and a few float32 ones), as functions of a torch-like module."""
    g = np.random.default_rng(0)

    def t(*shape, dt=None):
        return T.tensor(g.standard_normal(shape).astype(np.float32)).to(dt or low)

    a, b, v, w = t(4, 4), t(4, 2), t(4), t(4)
    spd = (a.float() @ a.float().mT + 4 * T.eye(4)).to(low)
    af = a.float()
    lu, piv = T.linalg.lu_factor(af)
    la, F = T.linalg, T.nn.functional
    tri = a.triu() + 4 * T.eye(4, dtype=low)
    return {
        "linalg.cholesky": lambda: la.cholesky(spd),
        "linalg.cholesky_ex": lambda: la.cholesky_ex(spd).L,
        "linalg.cond": lambda: la.cond(a),
        "linalg.eigh": lambda: la.eigh(spd).eigenvalues,
        "linalg.eigvalsh": lambda: la.eigvalsh(spd),
        "linalg.householder_product": lambda: la.householder_product(a, v[:2]),
        "linalg.inv": lambda: la.inv(a),
        "linalg.inv_ex": lambda: la.inv_ex(a).inverse,
        "linalg.lstsq": lambda: la.lstsq(a, b).solution,
        "linalg.matrix_rank": lambda: la.matrix_rank(a),
        "linalg.matrix_power_neg": lambda: la.matrix_power(a, -1),
        "linalg.qr": lambda: la.qr(a).R,
        "linalg.solve": lambda: la.solve(a, b),
        "linalg.svd": lambda: la.svd(a).S,
        "linalg.svdvals": lambda: la.svdvals(a),
        "linalg.tensorinv": lambda: la.tensorinv(a, 1),
        "linalg.tensorsolve": lambda: la.tensorsolve(a, v),
        "linalg.matrix_sqrth": lambda: la.matrix_sqrth(spd),
        "linalg.vecdot": lambda: la.vecdot(v, w),
        "linalg.vecdot_f32": lambda: la.vecdot(v.float(), w.float()),
        "linalg.vector_norm": lambda: la.vector_norm(v),
        "linalg.matrix_norm": lambda: la.matrix_norm(a),
        "linalg.multi_dot": lambda: la.multi_dot([a, a, b]),
        "inverse": lambda: T.inverse(a),
        "pinverse": lambda: T.pinverse(a),
        "Tensor.pinverse": lambda: a.pinverse(),
        "cholesky_solve": lambda: T.cholesky_solve(b, la.cholesky(spd.float()).to(low)),
        "cholesky_inverse": lambda: T.cholesky_inverse(la.cholesky(spd.float()).to(low)),
        "svd": lambda: T.svd(a)[1],
        "triangular_solve": lambda: T.triangular_solve(b, tri)[0],
        "lu_solve": lambda: T.lu_solve(b, lu.to(low), piv),
        "tensordot_f32": lambda: T.tensordot(af, af, 1),
        "pow": lambda: a**2,
        "pow_tensor": lambda: T.pow(a, a),
        "rpow": lambda: 2**a,
        "rdiv": lambda: 2 / a,
        "div": lambda: a / 2,
        "norm": lambda: T.norm(a),
        "logsumexp": lambda: T.logsumexp(a, 1),
        "rms_norm": lambda: F.rms_norm(a, (4,)),
        "renorm": lambda: a.renorm(2, 0, 1.0),
        "vdot": lambda: T.vdot(v, w),
    }


def _dtypes(T, low_name):
    low = getattr(T, low_name)
    ops = _ops(T, low)
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with T.autocast("cpu", dtype=low):
            for name, f in ops.items():
                out[name] = str(f().dtype).split(".")[-1]
    return out


F32 = {
    "linalg.cholesky", "linalg.cholesky_ex", "linalg.cond", "linalg.eigh", "linalg.eigvalsh",
    "linalg.householder_product", "linalg.inv", "linalg.inv_ex", "linalg.lstsq",
    "linalg.matrix_power_neg", "linalg.qr", "linalg.solve", "linalg.svd", "linalg.svdvals",
    "linalg.tensorinv", "linalg.tensorsolve", "linalg.matrix_sqrth", "inverse", "pinverse",
    "Tensor.pinverse", "cholesky_solve", "cholesky_inverse", "svd", "triangular_solve", "lu_solve",
}


@pytest.mark.parametrize("low", ["bfloat16", "float16"])
def test_cpu_linalg_runs_in_float32(low):
    got = _dtypes(torch, low)
    want = {n: "float32" if n in F32 else low for n in got}
    want["linalg.matrix_rank"] = "int64"
    want["linalg.vecdot_f32"] = low  # lower precision on both device types
    want["tensordot_f32"] = low  # lower precision on the CPU (promote on CUDA)
    assert got == want
    # Values: the float32 result of the 16-bit input.
    a = torch.tensor(np.random.default_rng(1).standard_normal((3, 3)), dtype=torch.float32)
    with torch.autocast("cpu", dtype=getattr(torch, low)):
        x = torch.linalg.inv(a.to(getattr(torch, low)))
    ref = np.linalg.inv(a.to(getattr(torch, low)).double().numpy())
    np.testing.assert_allclose(x.double().numpy(), ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("low", ["bfloat16", "float16"])
def test_cpu_dtypes_match_pytorch(low):
    pt = pytest.importorskip("torch")
    assert _dtypes(torch, low) == _dtypes(pt, low)


# What PyTorch (2.x) registers for CUDA autocast, observed by running each op on CUDA tensors.
CUDA = {
    "pow": "fp32", "rpow": "fp32", "rdiv": "fp32", "norm": "fp32", "logsumexp": "fp32",
    "linalg_vector_norm": "fp32", "linalg_matrix_norm": "fp32", "linalg_matrix_sqrth": "fp32",
    "rms_norm": "fp32", "renorm": "fp32", "linalg_vecdot": "lower_precision_fp",
    "multi_dot": "lower_precision_fp", "tensordot": "promote", "vdot": "promote",
    "linalg_inv": None, "linalg_solve": None, "linalg_svdvals": None, "linalg_eigvalsh": None,
    "trace": None, "quantile": None, "inverse": None,
    "upsample_nearest1d": "fp32", "upsample_nearest2d": "fp32", "upsample_nearest3d": "fp32",
    "_upsample_nearest_exact2d": "fp32", "upsample_linear1d": "fp32",
    "upsample_bilinear2d": "fp32", "upsample_trilinear3d": "fp32", "upsample_bicubic2d": "fp32",
    "grid_sampler": None, "reflection_pad2d": None, "max_unpool2d": None,
}


def test_cuda_policy_table():
    got = {name: _C._autocast_policy(name, "cuda") for name in CUDA}
    assert got == CUDA
    assert _C._autocast_policy("pow", "cpu") is None
    assert _C._autocast_policy("linalg_inv", "cpu") == "fp32"
    for name in ("grid_sampler", "reflection_pad1d", "replication_pad3d", "max_unpool3d",
                 "adaptive_avg_pool3d"):
        assert _C._autocast_policy(name, "cpu") == "fp32", name
    assert _C._autocast_policy("reflection_pad3d", "cpu") is None
    assert _C._autocast_policy("upsample_bilinear2d", "cpu") is None


def test_out_argument_is_not_cast():
    a = torch.eye(3, dtype=torch.bfloat16) * 2
    out = torch.empty(3, 3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        r = torch.linalg.inv(a, out=out)
    assert r is out and out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), np.eye(3) / 2)


def test_gradients_flow_through_the_cast():
    a = (torch.eye(3) * 2 + 0.1).requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = torch.linalg.inv(a.to(torch.bfloat16))
    assert y.dtype == torch.float32
    y.sum().backward()
    assert a.grad.dtype == torch.float32
    inv = np.linalg.inv(a.detach().to(torch.bfloat16).double().numpy())
    want = -(inv.T @ np.ones((3, 3)) @ inv.T)
    np.testing.assert_allclose(a.grad.double().numpy(), want, rtol=2e-2, atol=2e-2)
