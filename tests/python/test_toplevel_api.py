"""Top-level names PyTorch programs use: accelerator, default device, legacy typed
constructors, random, anomaly mode, testing.assert_close, backends flags, determinism
switches and compile. Compared with PyTorch side by side when it is installed, and with
hand-derived expectations otherwise."""

import math
import warnings

import numpy as np
import pytest

import rtorch

LEGACY = {
    "FloatTensor": "float32",
    "DoubleTensor": "float64",
    "HalfTensor": "float16",
    "BFloat16Tensor": "bfloat16",
    "ByteTensor": "uint8",
    "CharTensor": "int8",
    "ShortTensor": "int16",
    "IntTensor": "int32",
    "LongTensor": "int64",
    "BoolTensor": "bool",
}


# ---- accelerator ----------------------------------------------------------------------------


def test_accelerator_reports_the_build_and_availability():
    acc = rtorch.accelerator
    assert acc.is_available() == rtorch.cuda.is_available()
    built = rtorch.backends.cuda.is_built()
    assert acc.current_accelerator() == (rtorch.device("cuda") if built else None)
    if not rtorch.cuda.is_available():
        assert acc.current_accelerator(check_available=True) is None
        assert acc.device_count() == 0
        with pytest.raises(RuntimeError):
            acc.current_device_index()
        with pytest.raises(RuntimeError):
            acc.set_device_index(0)
        with pytest.raises(RuntimeError):
            acc.synchronize()
    else:
        assert acc.device_count() == rtorch.cuda.device_count()
        acc.set_device_index(0)
        assert acc.current_device_index() == 0
        acc.synchronize()


def test_accelerator_matches_torch(real_torch):
    if rtorch.backends.cuda.is_built() != real_torch.backends.cuda.is_built():
        pytest.skip("rtorch and PyTorch differ in CUDA support of the build")
    if rtorch.cuda.is_available() != real_torch.cuda.is_available():
        pytest.skip("rtorch and PyTorch differ in CUDA availability")
    ours, ref = rtorch.accelerator, real_torch.accelerator
    assert ours.is_available() == ref.is_available()
    assert str(ours.current_accelerator()) == str(ref.current_accelerator())
    assert str(ours.current_accelerator(True)) == str(ref.current_accelerator(True))
    assert ours.device_count() == ref.device_count()


def test_accelerator_rejects_a_device_of_another_type():
    if not rtorch.backends.cuda.is_built():
        pytest.skip("no accelerator in this build")
    with pytest.raises(ValueError, match="doesn't match the current accelerator"):
        rtorch.accelerator.set_device_index("cpu")


# ---- default device -------------------------------------------------------------------------


def test_default_device_is_cpu_and_can_be_reset():
    assert rtorch.get_default_device() == rtorch.device("cpu")
    rtorch.set_default_device("cpu")
    assert rtorch.get_default_device() == rtorch.device("cpu")
    assert rtorch.zeros(2).device.type == "cpu"
    rtorch.set_default_device(None)
    assert rtorch.get_default_device() == rtorch.device("cpu")
    assert rtorch.zeros is rtorch._C.zeros  # the fast native factories stay in place


def test_default_device_rejects_unknown_types():
    with pytest.raises(RuntimeError, match="device type at start of device string: foo"):
        rtorch.set_default_device("foo")
    assert rtorch.get_default_device() == rtorch.device("cpu")


def test_default_cuda_device_without_cuda_raises_the_cuda_error():
    if rtorch.cuda.is_available():
        pytest.skip("CUDA is usable here")
    with pytest.raises(RuntimeError):
        rtorch.set_default_device("cuda")
    assert rtorch.get_default_device() == rtorch.device("cpu")
    assert rtorch.zeros(1).device.type == "cpu"


def test_default_device_routing_passes_the_device_to_factories():
    # The routing used for a CUDA default, exercised with an explicit CPU target.
    seen = []

    def fake(*args, device=None, **kwargs):
        seen.append(device)
        return rtorch._C.zeros(1)

    target = rtorch.device("cpu")
    f = rtorch._on_default_device("zeros", fake, target)
    f(2)
    f(2, device="cpu")
    f(2, out=rtorch.zeros(1))
    g = rtorch._on_default_device("as_tensor", fake, target)
    g(rtorch.zeros(1))
    g([1.0])
    assert seen == [target, "cpu", None, None, target]
    rtorch._install_device_factories(target)
    try:
        assert rtorch.zeros is not rtorch._C.zeros
        assert rtorch.zeros(2, 3).shape == (2, 3)
        assert rtorch.tensor([1.5]).dtype == rtorch.float32
        assert rtorch.nn.Linear(2, 3).weight.device.type == "cpu"
        assert rtorch.randint(0, 3, (4,)).dtype == rtorch.int64
    finally:
        rtorch._install_device_factories(None)
    assert rtorch.zeros is rtorch._C.zeros


def test_default_cuda_device_places_new_tensors_on_cuda():
    if not rtorch.cuda.is_available():
        pytest.skip("CUDA not available")
    rtorch.set_default_device("cuda")
    try:
        assert rtorch.get_default_device() == rtorch.device("cuda", 0)
        assert rtorch.zeros(2).device.type == "cuda"
        assert rtorch.tensor([1.0, 2.0]).device.type == "cuda"
        assert rtorch.arange(3).device.type == "cuda"
        assert rtorch.nn.Linear(2, 2).weight.device.type == "cuda"
        assert rtorch.zeros(2, device="cpu").device.type == "cpu"
    finally:
        rtorch.set_default_device(None)
    assert rtorch.zeros(2).device.type == "cpu"


# ---- default dtype --------------------------------------------------------------------------


def test_default_dtype_round_trip():
    assert rtorch.get_default_dtype() == rtorch.float32
    try:
        rtorch.set_default_dtype(rtorch.float64)
        assert rtorch.get_default_dtype() == rtorch.float64
        assert rtorch.zeros(1).dtype == rtorch.float64
    finally:
        rtorch.set_default_dtype(rtorch.float32)
    assert rtorch.zeros(1).dtype == rtorch.float32


# ---- legacy typed constructors --------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(LEGACY))
def test_legacy_constructor_sizes_data_and_isinstance(name):
    cls = getattr(rtorch, name)
    dtype = getattr(rtorch, LEGACY[name])
    assert cls.dtype == dtype
    t = cls(2, 3)
    assert t.dtype == dtype and tuple(t.shape) == (2, 3)
    assert not t.float().abs().sum().item()  # zero-filled
    assert tuple(cls(rtorch.Size([4])).shape) == (4,)
    assert tuple(cls().shape) == (0,)
    d = cls([1, 0, 1])
    assert d.dtype == dtype
    assert d.tolist() == ([True, False, True] if name == "BoolTensor" else [1, 0, 1])
    assert isinstance(t, cls)
    assert isinstance(rtorch.zeros(1, dtype=dtype), cls)
    others = [n for n in LEGACY if n != name]
    assert not any(isinstance(t, getattr(rtorch, o)) for o in others)
    assert not isinstance(3, cls)
    assert repr(cls) == f"<class 'torch.{name}'>"


def test_legacy_constructor_values_and_errors():
    assert rtorch.FloatTensor([1, 2]).tolist() == [1.0, 2.0]
    assert rtorch.FloatTensor((2, 3)).tolist() == [2.0, 3.0]  # a tuple is data
    assert rtorch.LongTensor([-1.7, 2.9]).tolist() == [-1, 2]
    assert rtorch.BoolTensor([0, 2]).tolist() == [False, True]
    assert rtorch.LongTensor(np.array([1.7, 2.0])).tolist() == [1, 2]
    assert tuple(rtorch.FloatTensor(2, 0).shape) == (2, 0)
    assert tuple(rtorch.FloatTensor(rtorch.Size([])).shape) == ()
    base = rtorch.arange(3.0, requires_grad=True)
    alias = rtorch.FloatTensor(base)
    assert alias.requires_grad and alias.tolist() == [0.0, 1.0, 2.0]
    with pytest.raises(TypeError):
        rtorch.FloatTensor(rtorch.arange(3))  # int64 data for a float type
    with pytest.raises(TypeError, match="must be a sequence"):
        rtorch.FloatTensor(2.5)
    with pytest.raises(TypeError):
        rtorch.FloatTensor([1], [2])
    with pytest.raises(TypeError, match="invalid data type 'str'"):
        rtorch.FloatTensor("a")
    with pytest.raises(RuntimeError, match="negative dimension"):
        rtorch.FloatTensor(-1)
    assert rtorch.FloatTensor(2, device="cpu").shape == (2,)


def test_legacy_constructors_match_torch(real_torch):
    cases = [(2, 3), ([1, 2],), ([[1.5, 2.5]],), ([True, 2.9],), ((4,),), ()]
    for name in LEGACY:
        for args in cases:
            ours, ref = getattr(rtorch, name)(*args), getattr(real_torch, name)(*args)
            assert str(ours.dtype) == str(ref.dtype)
            assert tuple(ours.shape) == tuple(ref.shape)
            if args and isinstance(args[0], (list, tuple)):
                assert ours.float().tolist() == ref.float().tolist()
        assert isinstance(rtorch.zeros(1, dtype=getattr(rtorch, LEGACY[name])), getattr(rtorch, name))
    assert isinstance(real_torch.zeros(1), real_torch.FloatTensor) == isinstance(rtorch.zeros(1), rtorch.FloatTensor)


def test_tensor_class_constructor_still_works():
    assert rtorch.Tensor is rtorch._C.Tensor
    assert tuple(rtorch.Tensor(2, 3).shape) == (2, 3)
    assert rtorch.Tensor([1, 2]).tolist() == [1.0, 2.0]
    assert rtorch.Tensor([1, 2]).dtype == rtorch.float32
    assert isinstance(rtorch.zeros(1), rtorch.Tensor)


# ---- random ---------------------------------------------------------------------------------


def test_random_module_seeds_and_states():
    g = rtorch.random.manual_seed(7)
    assert g is rtorch.default_generator is rtorch.random.default_generator
    assert rtorch.random.initial_seed() == 7 == rtorch.initial_seed()
    state = rtorch.random.get_rng_state()
    a = rtorch.rand(3)
    rtorch.random.set_rng_state(state)
    assert rtorch.equal(a, rtorch.rand(3))
    s = rtorch.random.seed()
    assert isinstance(s, int) and rtorch.random.initial_seed() == s
    with pytest.raises(TypeError):
        rtorch.random.set_rng_state([1, 2])
    with pytest.raises(TypeError):
        rtorch.random.set_rng_state(rtorch.zeros(5))


def _fork_devices():
    # Forking CUDA generators is not possible in rtorch; fork only the CPU one on a GPU host.
    return {"devices": []} if rtorch.cuda.is_available() else {}


def test_fork_rng_restores_the_cpu_stream():
    rtorch.manual_seed(3)
    with rtorch.random.fork_rng(**_fork_devices()):
        inside = rtorch.rand(4)
    after = rtorch.rand(4)
    assert rtorch.equal(inside, after)
    rtorch.manual_seed(3)
    with rtorch.random.fork_rng(enabled=False):
        rtorch.rand(4)
    assert not rtorch.equal(rtorch.rand(4), after)


def test_fork_rng_restores_on_error_and_validates_device_type():
    rtorch.manual_seed(0)
    state = rtorch.get_rng_state()
    with pytest.raises(ZeroDivisionError):
        with rtorch.random.fork_rng(**_fork_devices()):
            rtorch.rand(2)
            raise ZeroDivisionError
    assert rtorch.equal(rtorch.get_rng_state(), state)
    with pytest.raises(RuntimeError, match="device type"):
        with rtorch.random.fork_rng(device_type="foo"):
            pass


def test_fork_rng_of_cuda_devices_is_refused():
    if not rtorch.cuda.is_available():
        pytest.skip("CUDA not available")
    with pytest.raises(NotImplementedError, match="devices=\\[\\]"):
        with rtorch.random.fork_rng():
            pass


def test_fork_rng_same_contract_as_torch(real_torch):
    for lib in (rtorch, real_torch):
        lib.manual_seed(11)
        with lib.random.fork_rng(devices=[]):
            x = lib.rand(3)
        assert lib.equal(x, lib.rand(3))


# ---- anomaly mode ---------------------------------------------------------------------------


def test_anomaly_flags_context_manager_and_decorator():
    ag = rtorch.autograd
    assert not ag.is_anomaly_enabled() and not rtorch.is_anomaly_enabled()
    with pytest.warns(UserWarning, match="Anomaly Detection has been enabled"):
        with ag.detect_anomaly():
            assert rtorch.is_anomaly_enabled()
            assert rtorch.is_anomaly_check_nan_enabled()
            with ag.detect_anomaly(check_nan=False):
                assert not rtorch.is_anomaly_check_nan_enabled()
            assert rtorch.is_anomaly_check_nan_enabled()
    assert not rtorch.is_anomaly_enabled()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")

        @ag.detect_anomaly()
        def probe():
            return rtorch.is_anomaly_enabled()

    assert probe() and not rtorch.is_anomaly_enabled()

    ag.set_detect_anomaly(True)
    assert rtorch.is_anomaly_enabled()
    ag.set_detect_anomaly(False)
    assert not rtorch.is_anomaly_enabled()
    with ag.set_detect_anomaly(True):
        assert rtorch.is_anomaly_enabled()
    assert not rtorch.is_anomaly_enabled()

    @ag.set_detect_anomaly(True)
    def probe2():
        return rtorch.is_anomaly_enabled()

    assert not rtorch.is_anomaly_enabled()
    assert probe2() and not rtorch.is_anomaly_enabled()


def test_anomaly_flags_match_torch(real_torch):
    for lib in (rtorch, real_torch):
        assert lib.is_anomaly_enabled() is False
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with lib.autograd.detect_anomaly(check_nan=False):
                assert (lib.is_anomaly_enabled(), lib.is_anomaly_check_nan_enabled()) == (True, False)
        assert (lib.is_anomaly_enabled(), lib.is_anomaly_check_nan_enabled()) == (False, True)


def test_anomaly_mode_checks_gradients_for_nan():
    x = rtorch.tensor([-1.0, 1.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rtorch.autograd.detect_anomaly():
            with pytest.raises(RuntimeError, match="nan"):
                rtorch.autograd.grad(x.sqrt().sum(), x)
            with pytest.raises(RuntimeError, match="nan"):
                x.sqrt().sum().backward(inputs=[x])
            x.grad = None
            with pytest.raises(RuntimeError, match="nan"):
                rtorch.autograd.backward(x.sqrt().sum(), inputs=[x])
            (g,) = rtorch.autograd.grad((x * 2).sum(), x)
            assert g.tolist() == [2.0, 2.0]
        with rtorch.autograd.detect_anomaly(check_nan=False):
            (g,) = rtorch.autograd.grad(x.sqrt().sum(), x)
            assert math.isnan(g[0].item())
    (g,) = rtorch.autograd.grad(x.sqrt().sum(), x)  # off: no check
    assert math.isnan(g[0].item())


# ---- testing.assert_close -------------------------------------------------------------------


def _message(lib, *args, **kwargs):
    try:
        lib.testing.assert_close(*args, **kwargs)
    except Exception as e:  # noqa: BLE001 - the exception type is part of what is compared
        return type(e).__name__, str(e)
    return "OK", ""


def _close_cases(lib):
    T, nan, inf = lib.tensor, float("nan"), float("inf")
    return [
        ((T([1.0, 2.0, 3.0]), T([1.0, 2.5, 3.0])), {}),
        ((T([[1.0, 2.0], [3.0, 4.0]]), T([[1.0, 2.0], [3.1, 4.2]])), {}),
        ((T(1.0), T(2.0)), {}),
        ((T([1, 2]), T([1, 3])), {}),
        ((T([1.0, 2.0]), T([1.0, 2.0], dtype=lib.float64)), {}),
        ((T([1.0, 2.0]), T([1.0, 2.0 + 1e-5], dtype=lib.float64)), {"check_dtype": False}),
        ((T([1.0, 2.0]), T([1.0, 2.0, 3.0])), {}),
        ((T([1.0, nan]), T([1.0, nan])), {}),
        ((T([1.0, nan]), T([1.0, nan])), {"equal_nan": True}),
        ((T([1.0, 2.0]), T([1.0, 2.5])), {"msg": "custom"}),
        ((T([1.0, 2.0]), T([1.0, 2.5])), {"msg": lambda m: "X" + m}),
        ((T([1.0, 2.0]), T([1.0, 2.5])), {"rtol": 0.1}),
        ((T([1.0, 2.0]), T([1.0, 2.5])), {"atol": 1}),
        ((T([1.0, 2.0]), T([1.0, 2.5])), {"rtol": 0, "atol": 0}),
        ((1.0, 1.0 + 1e-9), {}),
        ((1.0, 1.1), {}),
        ((1, 1.0), {}),
        ((1, 2), {}),
        ((True, False), {}),
        ((nan, nan), {}),
        ((nan, nan), {"equal_nan": True}),
        (([T(1.0), T(2.0)], [T(1.0), T(3.0)]), {}),
        (({"a": T(1.0)}, {"a": T(2.0)}), {}),
        (({"a": 1}, {"b": 1}), {}),
        (([1.0, 2.0], [1.0, 2.0, 3.0]), {}),
        (([[T([1.0, 2.0])]], [[T([1.0, 2.5])]]), {}),
        (([T(1.0)], [T(2.0)]), {"msg": lambda m: "<" + m + ">"}),
        (([T([1.0])], [T([1.0, 2.0])]), {}),
        (((T(1.0),), [T(1.0)]), {}),
        ((T([1.0, 2.0]), [1.0, 2.0]), {}),
        ((T(1.5), 1.5), {}),
        (("a", "a"), {}),
        ((T([True, False]), T([True, True])), {}),
        ((T([0.0, 0.0]), T([0.0, 1e-4])), {}),
        ((T([inf]), T([inf])), {}),
        ((T([inf]), T([-inf])), {}),
        ((lib.zeros(3, dtype=lib.float16), lib.full((3,), 1e-3, dtype=lib.float16)), {}),
        ((T([1.0, 2.0], dtype=lib.bfloat16), T([1.0, 2.01], dtype=lib.bfloat16)), {}),
        ((T([1.0, 2.0], dtype=lib.bfloat16), T([1.0, 2.1], dtype=lib.bfloat16)), {}),
        ((T([5, 7]), T([5, 9])), {}),
        ((T([1, 2], dtype=lib.uint8), T([2, 1], dtype=lib.uint8)), {}),
        ((T([1, 5]), T([1, 3])), {"rtol": 0.5, "atol": 0}),
        ((T([1, 2]), T([1.0, 2.5])), {"check_dtype": False}),
        ((T([1, 2], dtype=lib.int32), T([1, 2])), {}),
        ((T([100.0]), T([100.0002])), {}),
        ((T([0.0, 1.0]), T([1e-6, 2.0])), {}),
        ((T([1.0, nan, 3.0]), T([1.0, nan, 4.0])), {"equal_nan": True}),
        ((T([1.0, nan, 3.0]), T([1.0, nan, 4.0])), {}),
        ((T([0.1, 0.2, 0.3], dtype=lib.float64), T([0.1, 0.2, 0.30001], dtype=lib.float64)), {}),
        ((lib.ones(5, 5), lib.ones(5, 5) * 1.0001), {}),
        ((lib.zeros(2, 2, 2), lib.ones(2, 2, 2)), {}),
        ((lib.zeros(2, 3), lib.zeros(3, 2).t()), {"check_stride": True}),
        ((T(3), T(4)), {}),
        ((T([]), T([])), {}),
        ((np.array([1.0, 2.0]), np.array([1.0, 3.0])), {}),
        ((T([1.0, 2.0]), np.array([1.0, 2.0])), {}),
    ]


def test_assert_close_matches_torch_messages(real_torch):
    ours, ref = _close_cases(rtorch), _close_cases(real_torch)
    for (a, ka), (b, kb) in zip(ours, ref):
        kind, text = _message(rtorch, *a, **ka)
        # messages name the tensor class, which is rtorch.Tensor here
        text = text.replace("rtorch.Tensor", "torch.Tensor")
        assert (kind, text) == _message(real_torch, *b, **kb), (a, ka)


def test_assert_close_hand_derived():
    T = rtorch.tensor
    kind, text = _message(rtorch, T([1.0, 2.0, 3.0]), T([1.0, 2.5, 3.0]))
    assert kind == "AssertionError"
    assert text.splitlines() == [
        "Tensor-likes are not close!",
        "",
        "Mismatched elements: 1 / 3 (33.3%)",
        "Greatest absolute difference: 0.5 at index (1,) (up to 1e-05 allowed)",
        f"Greatest relative difference: {float(np.float32(0.5) / np.float32(2.5))} at index (1,) (up to 1.3e-06 allowed)",
    ]
    assert _message(rtorch, T([1, 2]), T([1, 3]))[1].startswith("Tensor-likes are not equal!")
    assert _message(rtorch, T(1.0), T(2.0))[1] == (
        "Scalars are not close!\n\nExpected 2.0 but got 1.0.\n"
        "Absolute difference: 1.0 (up to 1e-05 allowed)\n"
        "Relative difference: 0.5 (up to 1.3e-06 allowed)"
    )
    # float32 default: |d| <= 1e-5 + 1.3e-6 * |e|
    rtorch.testing.assert_close(T([1000.0]), T([1000.0 + 1e-3]))
    assert _message(rtorch, T([1.0]), T([1.0 + 3e-5]))[0] == "AssertionError"
    rtorch.testing.assert_close(T([1.0], dtype=rtorch.float64), T([1.0 + 1e-7], dtype=rtorch.float64))
    assert _message(rtorch, T([1.0], dtype=rtorch.float64), T([1.0 + 1e-6], dtype=rtorch.float64))[0] == "AssertionError"
    rtorch.testing.assert_close(T([1.0], dtype=rtorch.float16), T([1.0009765625], dtype=rtorch.float16))
    rtorch.testing.assert_close(T([1.0, 2.0]), T([1.0, 2.5]), rtol=0.0, atol=0.5)
    rtorch.testing.assert_close(T([1.0, 2.0]), T([1.0, 2.5]), rtol=0.2, atol=0.0)
    with pytest.raises(ValueError, match="got no atol"):
        rtorch.testing.assert_close(T(1.0), T(1.0), rtol=0.1)
    with pytest.raises(AssertionError, match="'dtype' do not match: torch.float32 != torch.float64"):
        rtorch.testing.assert_close(T([1.0]), T([1.0], dtype=rtorch.float64))
    rtorch.testing.assert_close(T([1.0]), T([1.0], dtype=rtorch.float64), check_dtype=False)
    with pytest.raises(AssertionError, match="^custom$"):
        rtorch.testing.assert_close(T([1.0]), T([2.0]), msg="custom")
    with pytest.raises(AssertionError, match="item \\[1\\]"):
        rtorch.testing.assert_close([T(1.0), T(2.0)], [T(1.0), T(3.0)])
    with pytest.raises(TypeError, match="No comparison pair"):
        rtorch.testing.assert_close(T([1.0]), [1.0])
    rtorch.testing.assert_close(T([float("nan")]), T([float("nan")]), equal_nan=True)
    with pytest.raises(AssertionError):
        rtorch.testing.assert_close(T([float("inf")]), T([-float("inf")]))
    rtorch.testing.assert_close(T([1.0], requires_grad=True), T([1.0]))


def test_assert_close_device_check():
    if not rtorch.cuda.is_available():
        pytest.skip("CUDA not available")
    a = rtorch.tensor([1.0, 2.0])
    with pytest.raises(AssertionError, match="'device' do not match"):
        rtorch.testing.assert_close(a, a.cuda())
    rtorch.testing.assert_close(a, a.cuda(), check_device=False)


# ---- backends, determinism, precision, compile ----------------------------------------------


def test_backend_flags_are_honest():
    b = rtorch.backends
    assert b.cudnn.is_available() is False
    assert (b.cudnn.enabled, b.cudnn.benchmark, b.cudnn.deterministic, b.cudnn.allow_tf32) == (
        True, False, False, True,
    )
    old = b.cudnn.benchmark
    b.cudnn.benchmark = True
    assert rtorch.backends.cudnn.benchmark is True
    b.cudnn.benchmark = old
    assert b.mps.is_available() is False and b.mps.is_built() is False
    assert b.mkldnn.is_available() is False and b.mkl.is_available() is False
    assert b.openmp.is_available() is False
    assert b.cuda.is_built() == bool(rtorch._C._cuda_is_built())
    assert b.cuda.matmul.allow_tf32 is False


def test_backend_defaults_match_torch(real_torch):
    for name in ("enabled", "benchmark", "deterministic", "allow_tf32"):
        assert getattr(rtorch.backends.cudnn, name) == getattr(real_torch.backends.cudnn, name)
    assert rtorch.backends.cuda.matmul.allow_tf32 == real_torch.backends.cuda.matmul.allow_tf32
    assert rtorch.backends.mps.is_available() == real_torch.backends.mps.is_available()


def test_float32_matmul_precision_round_trip():
    assert rtorch.get_float32_matmul_precision() == "highest"
    try:
        rtorch.set_float32_matmul_precision("high")
        assert rtorch.get_float32_matmul_precision() == "high"
        assert rtorch.backends.cuda.matmul.allow_tf32 is True
        rtorch.set_float32_matmul_precision("medium")
        assert rtorch.get_float32_matmul_precision() == "medium"
    finally:
        rtorch.set_float32_matmul_precision("highest")
    assert rtorch.backends.cuda.matmul.allow_tf32 is False


def test_deterministic_algorithm_switches():
    assert rtorch.are_deterministic_algorithms_enabled() is False
    try:
        rtorch.use_deterministic_algorithms(True, warn_only=True)
        assert rtorch.are_deterministic_algorithms_enabled() is True
        assert rtorch.is_deterministic_algorithms_warn_only_enabled() is True
        assert rtorch.get_deterministic_debug_mode() == 1
        rtorch.set_deterministic_debug_mode("error")
        assert rtorch.get_deterministic_debug_mode() == 2
        assert rtorch.is_deterministic_algorithms_warn_only_enabled() is False
        with pytest.raises(TypeError):
            rtorch.use_deterministic_algorithms(1)
        with pytest.raises(RuntimeError):
            rtorch.set_deterministic_debug_mode("loud")
    finally:
        rtorch.use_deterministic_algorithms(False)
    assert rtorch.get_deterministic_debug_mode() == 0


def test_deterministic_switches_match_torch(real_torch):
    for lib in (rtorch, real_torch):
        try:
            states = []
            for mode, warn in ((True, False), (True, True), (False, False)):
                lib.use_deterministic_algorithms(mode, warn_only=warn)
                states.append(
                    (
                        lib.are_deterministic_algorithms_enabled(),
                        lib.is_deterministic_algorithms_warn_only_enabled(),
                        lib.get_deterministic_debug_mode(),
                    )
                )
        finally:
            lib.use_deterministic_algorithms(False)
        assert states == [(True, False, 2), (True, True, 1), (False, False, 0)]


def test_compile_returns_the_callable_unchanged():
    model = rtorch.nn.Linear(3, 2)
    assert rtorch.compile(model) is model
    assert rtorch.compile(model, mode="max-autotune", fullgraph=True, dynamic=False) is model

    def f(x):
        return x * 2

    assert rtorch.compile(f, backend="eager") is f
    deco = rtorch.compile(fullgraph=True)
    assert deco(f) is f

    @rtorch.compile
    def g(x):
        return x + 1

    assert g(rtorch.tensor([1.0])).tolist() == [2.0]
    with pytest.raises(RuntimeError, match="Unrecognized mode=bogus"):
        rtorch.compile(f, mode="bogus")
    with pytest.raises(RuntimeError, match="Either mode or options"):
        rtorch.compile(f, mode="default", options={})
    with pytest.raises(AssertionError, match="A callable function is expected"):
        rtorch.compile(3)


def test_other_top_level_names_exist_and_work():
    with rtorch.inference_mode():
        assert rtorch.is_inference_mode_enabled()
        assert not rtorch.zeros(1, requires_grad=True).mul(2).requires_grad
    rtorch.set_printoptions(precision=2)
    try:
        assert repr(rtorch.tensor([1.23456])) == "tensor([1.23])"
    finally:
        rtorch.set_printoptions(profile="default")


def test_set_num_threads_rejects_non_positive_counts():
    for n in (0, -2):
        with pytest.raises(RuntimeError, match="Expected positive number of threads"):
            rtorch.set_num_threads(n)


def _run_isolated(code, env_extra):
    import os
    import subprocess
    import sys

    env = {
        k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "RAYON_NUM_THREADS")
    }
    env.update(env_extra)
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_thread_pool_size_follows_set_num_threads_and_omp_num_threads():
    # A fresh process: the pool is sized by the first set_num_threads (before parallel work)
    # or by OMP_NUM_THREADS, as PyTorch's intra-op pool is.
    code = (
        "import warnings, rtorch as t\n"
        "t.set_num_threads(3); a = t.get_num_threads()\n"
        "t.set_num_threads(1); b = t.get_num_threads()\n"
        "t.set_num_threads(3); c = t.get_num_threads()\n"
        "with warnings.catch_warnings(record=True) as w:\n"
        "    warnings.simplefilter('always'); t.set_num_threads(5)\n"
        "print(a, b, c, t.get_num_threads(), 'cannot be resized' in str(w[0].message))\n"
    )
    assert _run_isolated(code, {}) == "3 1 3 3 True"
    code = "import rtorch as t; print(t.get_num_threads())"
    assert _run_isolated(code, {"OMP_NUM_THREADS": "3"}) == "3"


def test_shape_is_a_size_of_exact_ints():
    x = rtorch.zeros(2, 3, 4)
    s = x.shape
    assert type(s) is rtorch.Size and s == (2, 3, 4) and repr(s) == "torch.Size([2, 3, 4])"
    assert all(type(d) is int for d in s)
    assert type(s[1:]) is rtorch.Size and s[1:] == (3, 4) and s.numel() == 24
    assert x.size() == s and hash(s) == hash((2, 3, 4))
