"""Mixed precision: autocast op policies, state and nesting, gradients' dtypes, GradScaler,
custom_fwd/custom_bwd, and a small model trained under autocast."""

import threading
import warnings

import numpy as np
import pytest

import rtorch as torch
import rtorch.nn.functional as F


def _torch_or_skip():
    return pytest.importorskip("torch")


# Ops as functions of a torch-like module, so the same table runs on rtorch and PyTorch.
# Inputs are float32 unless the name says otherwise; `x16` marks a low-precision input.
def _inputs(T, low):
    g = np.random.default_rng(0)

    def t(*shape, dtype=None):
        return T.tensor(g.standard_normal(shape).astype(np.float32), dtype=dtype)

    x, w, b = t(4, 8), t(6, 8), t(6)
    img, cw = t(2, 3, 8, 8), t(4, 3, 3, 3)
    xl = x.to(low)
    return dict(x=x, w=w, b=b, img=img, cw=cw, xl=xl, tgt=T.tensor([0, 1, 2, 3]), t=t)


def _ops(T, a):
    Fn = T.nn.functional
    x, w, b, img, cw, xl = a["x"], a["w"], a["b"], a["img"], a["cw"], a["xl"]

    def vol(dtype):
        return img.to(dtype)[:, :, None].expand(2, 3, 2, 8, 8).contiguous()

    return {
        # lower precision on CPU and CUDA
        "matmul": lambda: x @ w.t(),
        "mm": lambda: T.mm(x, w.t()),
        "bmm": lambda: T.bmm(x[None], w.t()[None]),
        "linear": lambda: Fn.linear(x, w, b),
        "addmm": lambda: T.addmm(b, x, w.t()),
        "baddbmm": lambda: T.baddbmm(b[None, None], x[None], w.t()[None]),
        "addbmm": lambda: T.addbmm(b, x[None], w.t()[None]),
        "einsum": lambda: T.einsum("ij,kj->ik", x, w),
        "tensordot": lambda: T.tensordot(x, w, ([1], [1])),
        "conv2d": lambda: Fn.conv2d(img, cw, b[:4], padding=1),
        "conv1d": lambda: Fn.conv1d(img[:, :, 0], cw[:, :, 0]),
        "conv_transpose2d": lambda: Fn.conv_transpose2d(img, cw.transpose(0, 1)),
        "prelu": lambda: Fn.prelu(x, T.tensor([0.25])),
        "conv3d": lambda: Fn.conv3d(img[:, :, None].expand(2, 3, 3, 8, 8), cw[:, :, None], b[:4]),
        "conv_transpose3d": lambda: Fn.conv_transpose3d(img[:, :, None], cw.transpose(0, 1)[:, :, None]),
        "max_pool3d": lambda: Fn.max_pool3d(img.to(xl.dtype)[:, :, None].expand(2, 3, 2, 8, 8), 2),
        "avg_pool3d": lambda: Fn.avg_pool3d(img.to(xl.dtype)[:, :, None].expand(2, 3, 2, 8, 8), 2),
        "quantile": lambda: xl.quantile(0.5),
        "sdpa": lambda: Fn.scaled_dot_product_attention(x[None], x[None], x[None]),
        # float32 on CPU
        "mse_loss": lambda: Fn.mse_loss(xl, xl * 2),
        "l1_loss": lambda: Fn.l1_loss(xl, xl * 2),
        "smooth_l1_loss": lambda: Fn.smooth_l1_loss(xl, xl * 2),
        "huber_loss": lambda: Fn.huber_loss(xl, xl * 2),
        "cross_entropy": lambda: Fn.cross_entropy(xl, a["tgt"]),
        "nll_loss": lambda: Fn.nll_loss(xl, a["tgt"]),
        "bce": lambda: Fn.binary_cross_entropy(xl.sigmoid(), (xl * 3).sigmoid()),
        "bce_logits": lambda: Fn.binary_cross_entropy_with_logits(xl, (xl * 3).sigmoid()),
        "kl_div": lambda: Fn.kl_div(xl, xl, reduction="batchmean"),
        "prod": lambda: xl.prod(),
        "cdist": lambda: T.cdist(xl, xl),
        "trace": lambda: xl[:, :4].trace(),
        # no CPU policy: the input's dtype (or the widest) decides
        "softmax": lambda: Fn.softmax(xl, -1),
        "log_softmax": lambda: Fn.log_softmax(xl, -1),
        "layer_norm": lambda: Fn.layer_norm(xl, (8,)),
        "layer_norm_params": lambda: T.nn.LayerNorm(8)(Fn.linear(x, T.ones(8, 8))),
        "group_norm_params": lambda: Fn.group_norm(xl, 2, T.ones(8), T.zeros(8)),
        "batch_norm_stats": lambda: Fn.batch_norm(xl, T.zeros(8), T.ones(8), T.ones(8), T.zeros(8), True),
        "gru_cell": lambda: T.nn.GRUCell(8, 4)(x),
        "rnn": lambda: T.nn.RNN(8, 4)(x[:, None])[0],
        "sum": lambda: xl.sum(),
        "mean": lambda: xl.mean(),
        "exp": lambda: xl.exp(),
        "relu": lambda: Fn.relu(xl),
        "mv": lambda: T.mv(w, x[0]),
        "dot": lambda: T.dot(x[0], x[1]),
        "add_mixed": lambda: xl + x,
        "max_pool2d": lambda: Fn.max_pool2d(img, 2),
        "softmax_dtype": lambda: Fn.softmax(xl, -1, dtype=T.float64),
        # float32 on CPU, chosen by the padding mode and the padded dims
        "pad_reflect1d": lambda: Fn.pad(xl[None], (1, 2), mode="reflect"),
        "pad_reflect2d": lambda: Fn.pad(img.to(xl.dtype), (1, 1, 2, 0), mode="reflect"),
        "pad_reflect3d": lambda: Fn.pad(vol(xl.dtype), (1, 1, 1, 1, 1, 1), mode="reflect"),
        "pad_replicate1d": lambda: Fn.pad(xl[None], (2, 1), mode="replicate"),
        "pad_replicate2d": lambda: Fn.pad(img.to(xl.dtype), (1, 1, 1, 1), mode="replicate"),
        "pad_replicate3d": lambda: Fn.pad(vol(xl.dtype), (1, 0, 1, 0, 1, 0), mode="replicate"),
        "pad_constant": lambda: Fn.pad(xl, (1, 1)),
        "pad_circular": lambda: Fn.pad(img.to(xl.dtype), (1, 1, 1, 1), mode="circular"),
        "grid_sample": lambda: Fn.grid_sample(
            img.to(xl.dtype), (img[:, :2].permute(0, 2, 3, 1) * 0.4).to(xl.dtype),
            align_corners=False),
        "max_unpool1d": lambda: Fn.max_unpool1d(*Fn.max_pool1d(
            img.to(xl.dtype)[:, :, 0], 2, return_indices=True), 2),
        "max_unpool2d": lambda: Fn.max_unpool2d(*Fn.max_pool2d(
            img.to(xl.dtype), 2, return_indices=True), 2),
        "max_unpool3d": lambda: Fn.max_unpool3d(*Fn.max_pool3d(
            vol(xl.dtype), 2, return_indices=True), 2),
        "adaptive_avg_pool3d": lambda: Fn.adaptive_avg_pool3d(vol(xl.dtype), (1, 3, 3)),
        "interp_area3d": lambda: Fn.interpolate(vol(xl.dtype), size=(1, 2, 2), mode="area"),
        "interp_nearest": lambda: Fn.interpolate(img.to(xl.dtype), scale_factor=2),
        "interp_bilinear": lambda: Fn.interpolate(img.to(xl.dtype), size=(5, 5), mode="bilinear"),
        "mm_f64": lambda: x.double() @ w.double().t(),
        "mm_int": lambda: T.ones(2, 2, dtype=T.long) @ T.ones(2, 2, dtype=T.long),
    }


LOW = {"matmul", "mm", "bmm", "linear", "addmm", "baddbmm", "addbmm", "einsum", "tensordot",
       "conv2d", "conv1d", "conv_transpose2d", "prelu", "sdpa", "conv3d", "conv_transpose3d"}
F32 = {"mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "cross_entropy", "nll_loss",
       "bce", "bce_logits", "kl_div", "prod", "cdist", "trace", "mv", "dot", "add_mixed",
       "max_pool2d", "gru_cell", "max_pool3d", "avg_pool3d", "quantile", "pad_reflect1d",
       "pad_reflect2d", "pad_replicate1d", "pad_replicate2d", "pad_replicate3d", "grid_sample",
       "max_unpool1d", "max_unpool2d", "max_unpool3d", "adaptive_avg_pool3d", "interp_area3d"}


def _expected(name, low):
    if name in LOW:
        return low
    if name in F32:
        return torch.float32
    return {"softmax_dtype": torch.float64, "mm_f64": torch.float64, "mm_int": torch.int64}.get(name, low)


@pytest.mark.parametrize("low", [torch.bfloat16, torch.float16], ids=["bf16", "f16"])
def test_cpu_op_dtypes(low):
    a = _inputs(torch, low)
    ops = _ops(torch, a)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.autocast("cpu", dtype=low):
            got = {n: f().dtype for n, f in ops.items()}
    want = {n: _expected(n, low) for n in ops}
    assert got == want
    # Outside the region nothing is cast.
    assert ops["linear"]().dtype == torch.float32


@pytest.mark.parametrize("low", ["bfloat16", "float16"])
def test_cpu_op_dtypes_match_pytorch(low):
    pt = _torch_or_skip()
    ours, theirs = {}, {}
    for T, out in ((torch, ours), (pt, theirs)):
        dt = getattr(T, low)
        ops = _ops(T, _inputs(T, dt))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with T.autocast("cpu", dtype=dt):
                for n, f in ops.items():
                    out[n] = str(f().dtype)
    assert ours == theirs


def test_low_precision_values_close_to_float32():
    a = _inputs(torch, torch.bfloat16)
    ref = F.conv2d(a["img"], a["cw"], padding=1)
    with torch.autocast("cpu"):
        y = F.conv2d(a["img"], a["cw"], padding=1)
        z = F.linear(a["x"], a["w"], a["b"])
    assert y.dtype == torch.bfloat16
    np.testing.assert_allclose(y.float().numpy(), ref.numpy(), rtol=0.03, atol=0.08)
    np.testing.assert_allclose(z.float().numpy(), F.linear(a["x"], a["w"], a["b"]).numpy(), rtol=0.03, atol=0.05)


def test_state_nesting_and_disable():
    assert not torch.is_autocast_enabled("cpu")
    assert torch.get_autocast_dtype("cpu") == torch.bfloat16
    assert torch.get_autocast_dtype("cuda") == torch.float16
    x, w = torch.randn(2, 3), torch.randn(3, 3)
    with torch.autocast("cpu"):
        assert torch.is_autocast_enabled("cpu") and torch.is_autocast_cpu_enabled()
        assert (x @ w).dtype == torch.bfloat16
        with torch.autocast("cpu", enabled=False):
            assert not torch.is_autocast_enabled("cpu")
            assert (x @ w).dtype == torch.float32
        with torch.autocast("cpu", dtype=torch.float16):
            assert torch.get_autocast_dtype("cpu") == torch.float16
            assert (x @ w).dtype == torch.float16
        assert torch.get_autocast_dtype("cpu") == torch.bfloat16
        assert (x @ w).dtype == torch.bfloat16
    assert not torch.is_autocast_enabled("cpu")
    with pytest.raises(ValueError, match="boom"):
        with torch.autocast("cpu"):
            raise ValueError("boom")
    assert not torch.is_autocast_enabled("cpu")


def test_decorator_aliases_and_bad_arguments():
    @torch.autocast("cpu")
    def f(a, b):
        return a @ b

    assert f(torch.randn(2, 2), torch.randn(2, 2)).dtype == torch.bfloat16
    assert not torch.is_autocast_enabled("cpu")
    with pytest.warns(FutureWarning, match="torch.cpu.amp.autocast"):
        ctx = torch.cpu.amp.autocast()
    with ctx:
        assert torch.is_autocast_enabled("cpu")
    assert torch.amp.autocast is torch.autocast
    with pytest.warns(UserWarning, match="target dtype is not supported"):
        ctx = torch.autocast("cpu", dtype=torch.float32)
    with ctx:
        assert not torch.is_autocast_enabled("cpu")
    with pytest.raises(ValueError, match="device_type"):
        torch.autocast(1)
    with pytest.raises(RuntimeError):
        torch.autocast("xyz")
    if not torch.cuda.is_available():
        with pytest.warns(UserWarning, match="CUDA is not available"):
            ctx = torch.autocast("cuda")
        with ctx:
            assert not torch.is_autocast_enabled("cuda")
        with pytest.warns(FutureWarning, match="torch.cuda.amp.autocast"):
            torch.cuda.amp.autocast(enabled=False)
    assert torch.amp.is_autocast_available("cpu") and not torch.amp.is_autocast_available("mps")


def test_state_is_thread_local():
    seen = []
    with torch.autocast("cpu"):
        th = threading.Thread(target=lambda: seen.append(torch.is_autocast_enabled("cpu")))
        th.start()
        th.join(timeout=10)
    assert seen == [False]


def test_gradients_in_parameter_dtype():
    g = np.random.default_rng(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(4 * 6 * 6, 5),
    )
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.tensor(g.standard_normal(tuple(p.shape)).astype(np.float32) * 0.3))
    x = torch.tensor(g.standard_normal((2, 3, 6, 6)).astype(np.float32))
    t = torch.tensor([1, 3])
    loss32 = F.cross_entropy(model(x), t)
    g32 = torch.autograd.grad(loss32, list(model.parameters()))
    with torch.autocast("cpu"):
        out = model(x)
        loss = F.cross_entropy(out, t)
    assert out.dtype == torch.bfloat16 and loss.dtype == torch.float32
    loss.backward()
    for p, ref in zip(model.parameters(), g32):
        assert p.grad.dtype == torch.float32
        # bfloat16 keeps 8 bits: compare each gradient as a whole (a ReLU input near 0 may
        # flip sign and move single entries).
        err = float((p.grad - ref).norm()) / float(ref.norm())
        assert err < 0.02, err  # PyTorch's own bf16 autocast error here is 0.2-0.4 %


def test_weight_cast_cache_shares_one_cast():
    lin = torch.nn.Linear(3, 3)
    x = torch.randn(2, 3)
    with torch.autocast("cpu"):
        y = lin(lin(x))  # the cached bf16 weight serves both calls
    y.float().sum().backward()
    w, b = lin.weight.detach(), lin.bias.detach()
    x2 = x @ w.t() + b
    ones = torch.ones(2, 3)
    # d/dW of sum((x W^T + b) W^T + b) = ones^T x2 + (ones W)^T x
    expect = ones.t() @ x2 + (ones @ w).t() @ x
    np.testing.assert_allclose(lin.weight.grad.numpy(), expect.numpy(), rtol=0.05, atol=0.05)
    assert torch.is_autocast_cache_enabled()


def test_bf16_and_f16_layers_forward_backward():
    g = np.random.default_rng(1)
    for dt in (torch.bfloat16, torch.float16):
        x32 = torch.tensor(g.standard_normal((2, 3, 7, 7)).astype(np.float32), requires_grad=True)
        w32 = torch.tensor(g.standard_normal((4, 3, 3, 3)).astype(np.float32), requires_grad=True)
        x = x32.detach().to(dt).requires_grad_()
        w = w32.detach().to(dt).requires_grad_()
        for conv in (lambda a, b: F.conv2d(a, b, stride=2, padding=1),
                     lambda a, b: F.conv_transpose2d(a, b.transpose(0, 1)),
                     lambda a, b: F.linear(a.reshape(2, -1)[:, :27], b.reshape(4, 27))):
            ref = conv(x32, w32)
            gx32, gw32 = torch.autograd.grad((ref * ref).sum(), [x32, w32])
            y = conv(x, w)
            assert y.dtype == dt
            gx, gw = torch.autograd.grad((y.float() * y.float()).sum(), [x, w])
            assert gx.dtype == dt and gw.dtype == dt
            for a, b in ((y, ref), (gx, gx32), (gw, gw32)):
                scale = float(b.abs().max()) + 1e-6
                err = float((a.float() - b).abs().max()) / scale
                assert err < 0.05, err


def test_custom_fwd_bwd():
    seen = {}

    class Scale(torch.autograd.Function):
        @staticmethod
        @torch.amp.custom_fwd(device_type="cpu", cast_inputs=torch.float32)
        def forward(ctx, a, b):
            seen["fwd"] = (a.dtype, torch.is_autocast_enabled("cpu"))
            ctx.save_for_backward(b)
            return a @ b

        @staticmethod
        @torch.amp.custom_bwd(device_type="cpu")
        def backward(ctx, g):
            seen["bwd"] = torch.is_autocast_enabled("cpu")
            (b,) = ctx.saved_tensors
            return g @ b.t(), None

    class Plain(torch.autograd.Function):
        @staticmethod
        @torch.amp.custom_fwd(device_type="cpu")
        def forward(ctx, a):
            seen["plain"] = torch.is_autocast_enabled("cpu")
            return a * 2

        @staticmethod
        @torch.amp.custom_bwd(device_type="cpu")
        def backward(ctx, g):
            seen["plain_bwd"] = torch.is_autocast_enabled("cpu")
            return g * 2

    a = torch.randn(2, 2, dtype=torch.bfloat16, requires_grad=True)
    b = torch.randn(2, 2)
    with torch.autocast("cpu"):
        y = Scale.apply(a, b)
        z = Plain.apply(a)
    assert y.dtype == torch.float32
    assert seen["fwd"] == (torch.float32, False)
    (y.sum() + z.float().sum()).backward()
    assert seen["bwd"] is False and seen["plain"] is True and seen["plain_bwd"] is True
    assert a.grad.dtype == torch.bfloat16
    with pytest.raises(TypeError):
        torch.amp.custom_fwd(lambda ctx: None)


# ---- GradScaler ---------------------------------------------------------------------------
def _param_opt(value=1.0):
    p = torch.nn.Parameter(torch.full((2,), value))
    return p, torch.optim.SGD([p], lr=0.1)


def test_grad_scaler_scale_unscale_step():
    s = torch.amp.GradScaler("cpu", init_scale=8.0)
    assert s.get_scale() == 8.0 and s.is_enabled()
    p, opt = _param_opt()
    loss = s.scale((p * 2).sum())
    assert loss.dim() == 0 and float(loss) == 8.0 * 4
    loss.backward()
    np.testing.assert_allclose(p.grad.numpy(), [16.0, 16.0])
    s.unscale_(opt)
    np.testing.assert_allclose(p.grad.numpy(), [2.0, 2.0])
    with pytest.raises(RuntimeError, match="already been called"):
        s.unscale_(opt)
    assert s.step(opt) is None
    np.testing.assert_allclose(p.detach().numpy(), [0.8, 0.8], rtol=1e-6)
    with pytest.raises(RuntimeError, match="step\\(\\) has already been called"):
        s.step(opt)
    s.update()
    assert s.get_scale() == 8.0 and s._growth_tracker == 1
    # An inf gradient: the step is skipped and the scale backs off.
    s.scale(p.sum())
    p.grad = torch.tensor([float("inf"), 1.0])
    s.step(opt)
    np.testing.assert_allclose(p.detach().numpy(), [0.8, 0.8], rtol=1e-6)
    s.update()
    assert s.get_scale() == 4.0 and s._growth_tracker == 0
    p.grad = torch.tensor([float("nan"), 1.0])
    s.scale(p.sum())
    s.step(opt)
    s.update()
    assert s.get_scale() == 2.0
    assert s.scale([torch.ones(1), (torch.ones(1),)])[1][0].item() == 2.0
    with pytest.raises(RuntimeError, match="Closure"):
        s.step(opt, closure=lambda: 0)
    with pytest.raises(ValueError, match="outputs must be a Tensor"):
        s.scale(1.0)


def test_grad_scaler_growth_and_state_dict():
    s = torch.amp.GradScaler("cpu", init_scale=4.0, growth_factor=3.0, growth_interval=2)
    p, opt = _param_opt()
    for _ in range(4):
        s.scale(p.sum()).backward()
        s.step(opt)
        s.update()
        opt.zero_grad()
    assert s.get_scale() == 36.0
    sd = s.state_dict()
    assert sd == {"scale": 36.0, "growth_factor": 3.0, "backoff_factor": 0.5, "growth_interval": 2,
                  "_growth_tracker": 0}
    s2 = torch.amp.GradScaler("cpu")
    s2.load_state_dict(sd)
    assert s2.get_scale() == 36.0 and s2.get_growth_interval() == 2
    s2.update(5.0) if s2._scale is not None else None
    with pytest.raises(RuntimeError, match="state dict is empty"):
        s2.load_state_dict({})
    with pytest.raises(AssertionError, match="growth factor"):
        torch.amp.GradScaler("cpu", growth_factor=0.5)
    with pytest.raises(AssertionError, match="_scale is None"):
        torch.amp.GradScaler("cpu").step(opt)
    off = torch.amp.GradScaler("cpu", enabled=False)
    assert off.state_dict() == {} and off.get_scale() == 1.0
    t = torch.ones(2)
    assert off.scale(t) is t


def test_grad_scaler_matches_pytorch_sequence():
    pt = _torch_or_skip()
    grads = [[1.0, 2.0], [float("inf"), 1.0], [0.5, 0.5], [0.5, 0.5], [float("nan"), 0.0], [1.0, 1.0]]
    trace = {}
    for T in (torch, pt):
        s = T.amp.GradScaler("cpu", init_scale=16.0, growth_interval=2)
        p = T.nn.Parameter(T.ones(2))
        opt = T.optim.SGD([p], lr=0.5)
        out = []
        for g in grads:
            s.scale(p.sum())
            p.grad = T.tensor(g) * s.get_scale()
            s.step(opt)
            s.update()
            out.append((s.get_scale(), [round(v, 6) for v in p.detach().tolist()]))
        trace[T.__name__] = out
    assert trace["rtorch"] == trace["torch"]


def test_cuda_grad_scaler_without_cuda_disables():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA; the no-CUDA fallback is what is tested here")
    with pytest.warns(UserWarning, match="CUDA is not available"):
        s = torch.amp.GradScaler("cuda")
    assert not s.is_enabled()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert not torch.cuda.amp.GradScaler().is_enabled()
    kinds = {(w.category, str(w.message).split(" ")[0]) for w in caught}
    assert kinds == {(FutureWarning, "`torch.cuda.amp.GradScaler(args...)`"), (UserWarning, "torch.cuda.amp.GradScaler")}


def test_training_under_autocast_with_scaler_tracks_float32():
    g = np.random.default_rng(2)
    X = torch.tensor(g.standard_normal((128, 8)).astype(np.float32))
    Y = torch.tensor((g.standard_normal((8, 1)) / 3).astype(np.float32))
    Y = torch.tanh(X @ Y) + 0.05 * torch.tensor(g.standard_normal((128, 1)).astype(np.float32))

    def train(mixed):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.Tanh(), torch.nn.Linear(32, 1))
        opt = torch.optim.Adam(model.parameters(), lr=0.02)
        scaler = torch.amp.GradScaler("cpu", enabled=mixed, init_scale=1024.0)
        losses = []
        for _ in range(60):
            opt.zero_grad()
            with torch.autocast("cpu", enabled=mixed):
                loss = F.mse_loss(model(X), Y)
            assert loss.dtype == torch.float32
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            losses.append(float(loss))
        return losses, model

    l32, _ = train(False)
    l16, m16 = train(True)
    assert all(p.dtype == torch.float32 for p in m16.parameters())
    assert l16[-1] < 0.3 * l16[0]
    assert abs(l16[-1] - l32[-1]) < 0.25 * l32[0]


def test_lstm_runs_in_low_precision():
    lstm = torch.nn.LSTM(8, 4, num_layers=2)
    x = torch.randn(5, 3, 8)
    ref, _ = lstm(x)
    with torch.autocast("cpu"):
        out, (h, c) = lstm(x)
    assert out.dtype == torch.bfloat16
    out.float().sum().backward()
    assert all(p.grad.dtype == torch.float32 for p in lstm.parameters())
    assert float((out.float() - ref).abs().max()) < 0.05
