"""The ``device="cuda"`` API surface: ``rtorch.cuda``, device objects, moving tensors and
modules, ``map_location``, the TF32 switches, pinned memory and the CUDA library preload.

Most of it is checked here as it behaves without a GPU (what PyTorch does on a CPU-only
machine); the checks that need a device skip without one."""

import ctypes
import importlib.util
import os
import pickle
import warnings

import numpy as np
import pytest

import rtorch as torch
from rtorch import _C, nn

HAS_CUDA = torch.cuda.is_available()
BUILT_WITH_CUDA = bool(_C._cuda_is_built())
no_gpu = pytest.mark.skipif(HAS_CUDA, reason="checks the behaviour without a GPU")
needs_gpu = pytest.mark.skipif(not HAS_CUDA, reason="CUDA not available")

CUDA_FUNCTIONS = [
    "is_available", "device_count", "current_device", "set_device", "device", "device_of",
    "get_device_name", "get_device_capability", "get_device_properties", "synchronize",
    "manual_seed", "manual_seed_all", "seed", "seed_all", "initial_seed", "memory_allocated",
    "max_memory_allocated", "memory_reserved", "max_memory_reserved", "memory_stats",
    "memory_stats_as_nested_dict", "reset_peak_memory_stats", "reset_max_memory_allocated",
    "empty_cache", "Event", "Stream", "current_stream", "default_stream", "stream",
    "is_initialized", "init", "OutOfMemoryError",
]

C_NAMES = [
    "_cuda_is_built", "_cuda_is_available", "_cuda_device_count", "_cuda_current_device",
    "_cuda_set_device", "_cuda_get_device_name", "_cuda_get_device_capability",
    "_cuda_get_device_properties", "_cuda_synchronize", "_cuda_memory_stats",
    "_cuda_reset_peak", "_cuda_empty_cache", "_cuda_set_allow_tf32", "_cuda_get_allow_tf32",
    "_cuda_compile_check", "_cuda_manual_seed", "_cuda_manual_seed_all", "_cuda_initial_seed",
    "_CudaEvent", "OutOfMemoryError",
]


def unavailable_message():
    if not BUILT_WITH_CUDA:
        return "Torch not compiled with CUDA enabled"
    # Built with the backend on a machine without a usable GPU: no driver, or no device.
    return "Found no NVIDIA driver on your system|No CUDA GPUs are available|CUDA driver initialization failed"


# ---- names -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", CUDA_FUNCTIONS)
def test_cuda_module_has(name):
    assert hasattr(torch.cuda, name)


@pytest.mark.parametrize("name", C_NAMES)
def test_native_module_has(name):
    assert hasattr(_C, name)


def test_submodules_and_all():
    assert torch.cuda.memory.memory_allocated is torch.cuda.memory_allocated
    assert torch.cuda.random.manual_seed is torch.cuda.manual_seed
    assert torch.cuda.streams.Event is torch.cuda.Event
    for name in torch.cuda.__all__:
        assert hasattr(torch.cuda, name), name
    # The deprecated spellings of rtorch.amp live here too.
    assert callable(torch.cuda.amp.GradScaler) and callable(torch.cuda.amp.autocast)


# ---- behaviour without a GPU ------------------------------------------------------------


@no_gpu
def test_no_gpu_queries():
    assert torch.cuda.is_available() is False
    assert torch.cuda.device_count() == 0
    assert torch.cuda.is_initialized() is False
    assert _C._cuda_is_available() is False


@no_gpu
@pytest.mark.parametrize(
    "call",
    [
        lambda: torch.cuda.current_device(),
        lambda: torch.cuda.init(),
        lambda: torch.cuda.synchronize(),
        lambda: torch.cuda.synchronize(0),
        lambda: torch.cuda.set_device(0),
        lambda: torch.cuda.get_device_name(),
        lambda: torch.cuda.get_device_name(0),
        lambda: torch.cuda.get_device_capability(),
        lambda: torch.cuda.get_device_properties(0),
        lambda: torch.cuda.initial_seed(),
        lambda: torch.cuda.reset_peak_memory_stats(),
        lambda: torch.cuda.reset_max_memory_allocated(),
        lambda: torch.cuda.Event(),
        lambda: torch.cuda.Event(enable_timing=True),
        lambda: torch.cuda.Stream(),
        lambda: torch.cuda.current_stream(),
        lambda: torch.cuda.default_stream(),
        lambda: torch.zeros(2, device="cuda"),
        lambda: torch.ones(2, device="cuda:0"),
        lambda: torch.empty(2, device=torch.device("cuda")),
        lambda: torch.full((2,), 1.0, device="cuda"),
        lambda: torch.tensor([1.0], device="cuda"),
        lambda: torch.as_tensor([1.0], device="cuda"),
        lambda: torch.arange(3, device="cuda"),
        lambda: torch.linspace(0, 1, 3, device="cuda"),
        lambda: torch.logspace(0, 1, 3, device="cuda"),
        lambda: torch.eye(2, device="cuda"),
        lambda: torch.rand(2, device="cuda"),
        lambda: torch.randn(2, device="cuda"),
        lambda: torch.randint(0, 5, (2,), device="cuda"),
        lambda: torch.randperm(4, device="cuda"),
        lambda: torch.normal(0.0, 1.0, (2,), device="cuda"),
        lambda: torch.zeros_like(torch.ones(2), device="cuda"),
        lambda: torch.ones_like(torch.ones(2), device="cuda"),
        lambda: torch.full_like(torch.ones(2), 3, device="cuda"),
        lambda: torch.rand_like(torch.ones(2), device="cuda"),
        lambda: torch.ones(2).cuda(),
        lambda: torch.ones(2).cuda(0),
        lambda: torch.ones(2).to("cuda"),
        lambda: torch.ones(2).to(torch.device("cuda", 0)),
        lambda: torch.ones(2).to(0),
        lambda: torch.ones(2).new_zeros(3, device="cuda"),
        lambda: nn.Linear(2, 2).cuda(),
        lambda: nn.Linear(2, 2).to("cuda"),
    ],
)
def test_no_gpu_errors(call):
    with pytest.raises(RuntimeError, match=unavailable_message()):
        call()


@no_gpu
def test_no_gpu_silent_calls():
    # Seeding and cache control are fine without a device, as in PyTorch.
    torch.cuda.manual_seed(3)
    torch.cuda.manual_seed_all(4)
    torch.cuda.seed()
    torch.cuda.seed_all()
    torch.cuda.empty_cache()
    torch.manual_seed(0)
    assert torch.cuda.memory_allocated() == 0
    assert torch.cuda.max_memory_allocated() == 0
    assert torch.cuda.memory_reserved() == 0
    assert torch.cuda.max_memory_reserved() == 0
    assert torch.cuda.memory_stats() == {}
    assert torch.cuda.memory_stats_as_nested_dict() == {}
    # The no-op forms of the device context managers.
    with torch.cuda.device(None), torch.cuda.device(-1), torch.cuda.device_of(torch.ones(1)):
        pass
    with torch.cuda.stream(None):
        pass
    torch.cuda.set_device(-1)


@pytest.mark.skipif(BUILT_WITH_CUDA, reason="message of builds without CUDA support")
def test_not_compiled_message():
    with pytest.raises(RuntimeError, match="^Torch not compiled with CUDA enabled"):
        torch.cuda.current_device()
    with pytest.raises(RuntimeError, match="^Torch not compiled with CUDA enabled"):
        torch.zeros(1, device="cuda")


def test_get_device_index_checks():
    idx = torch.cuda._get_device_index
    assert idx(2) == 2 and idx("cuda:1") == 1 and idx(torch.device("cuda", 3)) == 3
    with pytest.raises(ValueError, match="Expected a cuda device, but got: cpu"):
        idx("cpu")
    with pytest.raises(ValueError):
        idx(None)


# ---- device objects ----------------------------------------------------------------------


def test_device_repr_str_fields():
    d = torch.device("cuda")
    assert d.type == "cuda" and d.index is None
    assert repr(d) == "device(type='cuda')" and str(d) == "cuda"
    d1 = torch.device("cuda:1")
    assert d1.index == 1 and repr(d1) == "device(type='cuda', index=1)" and str(d1) == "cuda:1"
    assert torch.device("cuda", 2) == torch.device("cuda:2")
    assert torch.device(0) == torch.device("cuda:0")
    c = torch.device("cpu")
    assert c.type == "cpu" and c.index is None and repr(c) == "device(type='cpu')"
    assert str(c) == "cpu"
    assert torch.device("cpu", 0).index == 0 and str(torch.device("cpu:0")) == "cpu:0"
    assert torch.device(torch.device("cuda:1")) == torch.device("cuda:1")


def test_device_equality_and_hash():
    assert torch.device("cuda") != torch.device("cuda:0")
    assert torch.device("cpu") == torch.device("cpu")
    assert torch.device("cpu") != torch.device("cuda")
    assert hash(torch.device("cuda:1")) == hash(torch.device("cuda", 1))
    assert len({torch.device("cuda"), torch.device("cuda:0"), torch.device("cuda", 0)}) == 2
    for d in [torch.device("cuda"), torch.device("cuda:3"), torch.device("cpu")]:
        assert pickle.loads(pickle.dumps(d)) == d


def test_device_errors():
    with pytest.raises(RuntimeError, match="Expected one of cpu, cuda"):
        torch.device("gpu")
    with pytest.raises(RuntimeError, match="Invalid device string: 'cuda:x'"):
        torch.device("cuda:x")
    with pytest.raises(RuntimeError, match="must not include an index"):
        torch.device("cuda:1", 0)
    with pytest.raises(RuntimeError, match="Device index must not be negative"):
        torch.device("cuda", -1)
    with pytest.raises(RuntimeError, match="Device index must not be negative"):
        torch.device(-1)
    with pytest.raises(TypeError):
        torch.device(1.5)


def test_device_as_creation_argument_on_cpu():
    for dev in ["cpu", torch.device("cpu"), "cpu:0", None]:
        assert torch.zeros(2, device=dev).device == torch.device("cpu")
        assert torch.tensor([1, 2], device=dev).device.type == "cpu"
        assert torch.arange(3, device=dev).tolist() == [0, 1, 2]


# ---- tensors on the CPU ------------------------------------------------------------------


def test_tensor_device_properties_on_cpu():
    t = torch.ones(2, 3)
    assert t.device == torch.device("cpu") and t.device.index is None
    assert t.is_cpu and not t.is_cuda and t.get_device() == -1
    assert "device=" not in repr(t)


def test_to_cpu_and_copy_semantics():
    t = torch.ones(3, requires_grad=True)
    assert t.to("cpu") is t
    assert t.to(torch.device("cpu")) is t
    assert t.to("cpu", torch.float32) is t
    assert t.cpu() is t
    assert t.to(device="cpu", non_blocking=True) is t
    c = t.to("cpu", copy=True)
    assert c is not t and c.tolist() == t.tolist() and c.data_ptr() != t.data_ptr()
    d = t.to("cpu", torch.float64)
    assert d.dtype == torch.float64 and d.device.type == "cpu" and d.grad_fn is not None
    other = torch.zeros(1, dtype=torch.int32)
    assert t.detach().to(other).dtype == torch.int32
    with pytest.raises(TypeError):
        t.to("cpu", bogus=True)


def test_like_and_new_functions_keep_device_and_dtype():
    x = torch.ones(2, 3, dtype=torch.float64)
    for f in (torch.zeros_like, torch.ones_like, torch.empty_like, torch.rand_like, torch.randn_like):
        y = f(x)
        assert y.device == x.device and y.dtype == torch.float64 and y.shape == x.shape
    assert torch.full_like(x, 2).tolist() == [[2.0] * 3] * 2
    assert x.new_zeros(4).device == x.device and x.new_ones(1).dtype == torch.float64
    assert x.new_full((2,), 5).tolist() == [5.0, 5.0]
    assert x.new_tensor([1, 2]).dtype == torch.float64


def test_as_tensor_shares_on_same_device():
    t = torch.ones(3)
    assert torch.as_tensor(t, device="cpu") is t
    a = np.arange(3.0)
    s = torch.as_tensor(a, device="cpu")
    a[0] = 7
    assert s[0].item() == 7.0


def test_module_to_cpu_keeps_parameters():
    m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    params = list(m.parameters())
    assert m.to("cpu") is m and m.cpu() is m
    assert m.to(torch.device("cpu")) is m
    assert all(p is q for p, q in zip(params, m.parameters()))
    assert all(p.device.type == "cpu" for p in m.parameters())
    assert all(b.device.type == "cpu" for b in m.buffers())


def test_data_assignment_same_device_still_copies():
    p = nn.Parameter(torch.zeros(2))
    p.data = torch.ones(2)
    assert p.tolist() == [1.0, 1.0] and p.requires_grad


def _reduce_roundtrip(t):
    rebuild, args = t.__reduce_ex__(2)
    return rebuild(*args)


def test_reduce_tensor_roundtrip():
    t = torch.arange(6.0).reshape(2, 3)
    u = _reduce_roundtrip(t)
    assert u.tolist() == t.tolist() and u.device.type == "cpu"


# ---- map_location ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "map_location",
    [None, "cpu", torch.device("cpu"), {"cpu": "cpu"}, lambda t, loc: t, lambda t, loc: None],
)
def test_load_map_location_to_cpu(tmp_path, map_location):
    path = tmp_path / "x.pt"
    obj = {"w": torch.arange(4.0), "n": [torch.ones(2, dtype=torch.int64)]}
    torch.save(obj, path)
    out = torch.load(path, map_location=map_location)
    assert out["w"].tolist() == [0.0, 1.0, 2.0, 3.0] and out["w"].device.type == "cpu"
    assert out["n"][0].dtype == torch.int64


def test_load_map_location_callable_sees_location(tmp_path):
    path = tmp_path / "x.pt"
    torch.save({"a": torch.ones(2)}, path)
    seen = []
    torch.load(path, map_location=lambda t, loc: seen.append(loc))
    assert seen == ["cpu"]


@no_gpu
def test_load_to_cuda_without_gpu_fails(tmp_path):
    path = tmp_path / "x.pt"
    torch.save({"a": torch.ones(2)}, path)
    with pytest.raises(RuntimeError, match="Attempting to deserialize object on a CUDA device"):
        torch.load(path, map_location="cuda")
    with pytest.raises(RuntimeError, match="Attempting to deserialize object on a CUDA device"):
        torch.load(path, map_location={"cpu": "cuda:0"})


# ---- TF32 and matmul precision -------------------------------------------------------------


@pytest.fixture
def restore_precision():
    before = torch.get_float32_matmul_precision()
    yield
    torch.set_float32_matmul_precision(before)


def test_tf32_flags(restore_precision):
    assert torch.backends.cuda.matmul.allow_tf32 is False
    assert torch.get_float32_matmul_precision() == "highest"
    torch.backends.cuda.matmul.allow_tf32 = True
    assert _C._cuda_get_allow_tf32() is True
    assert torch.get_float32_matmul_precision() == "high"
    torch.backends.cuda.matmul.allow_tf32 = False
    assert torch.get_float32_matmul_precision() == "highest"
    assert torch.backends.cudnn.allow_tf32 is True
    torch.backends.cudnn.allow_tf32 = False
    assert torch.backends.cudnn.allow_tf32 is False
    torch.backends.cudnn.allow_tf32 = True
    assert torch.backends.cudnn.is_available() is False
    assert torch.backends.cuda.matmul.allow_fp16_reduced_precision_reduction is True
    with pytest.raises(AttributeError, match="Unknown attribute"):
        torch.backends.cuda.matmul.bogus  # noqa: B018
    with pytest.raises(AttributeError, match="Unknown attribute"):
        torch.backends.cuda.matmul.bogus = 1


def test_is_built():
    assert torch.backends.cuda.is_built() is BUILT_WITH_CUDA


@pytest.mark.parametrize("precision,tf32", [("highest", False), ("high", True), ("medium", True)])
def test_float32_matmul_precision(restore_precision, precision, tf32):
    torch.set_float32_matmul_precision(precision)
    assert torch.get_float32_matmul_precision() == precision
    assert torch.backends.cuda.matmul.allow_tf32 is tf32
    torch.set_float32_matmul_precision(precision.upper())
    assert torch.get_float32_matmul_precision() == precision


def test_float32_matmul_precision_bad_values(restore_precision):
    torch.set_float32_matmul_precision("medium")
    with pytest.warns(UserWarning, match="is not one of 'highest', 'high', or 'medium'"):
        torch.set_float32_matmul_precision("low")
    assert torch.get_float32_matmul_precision() == "medium"
    with pytest.raises(TypeError):
        torch.set_float32_matmul_precision(1)


# ---- OutOfMemoryError ----------------------------------------------------------------------


def test_out_of_memory_error_class():
    assert issubclass(torch.OutOfMemoryError, RuntimeError)
    assert torch.cuda.OutOfMemoryError is torch.OutOfMemoryError
    assert _C.OutOfMemoryError is torch.OutOfMemoryError
    with pytest.raises(torch.OutOfMemoryError, match="CUDA out of memory. Tried"):
        _C._raise_runtime_error("CUDA out of memory. Tried to allocate 2.00 GiB")
    with pytest.raises(RuntimeError) as e:
        _C._raise_runtime_error("something else")
    assert type(e.value) is RuntimeError


# ---- pinned memory ---------------------------------------------------------------------------


@no_gpu
def test_pin_memory_without_gpu():
    t = torch.ones(3)
    assert t.is_pinned() is False
    with pytest.raises(RuntimeError, match="Cannot access accelerator device when none is available"):
        t.pin_memory()
    with pytest.raises(RuntimeError, match="Cannot access accelerator device"):
        torch.tensor([1.0], pin_memory=True)
    with pytest.raises(RuntimeError, match="Cannot access accelerator device"):
        torch.zeros(2, pin_memory=True)


@no_gpu
def test_dataloader_pin_memory_warns_without_gpu():
    data = torch.utils.data.TensorDataset(torch.arange(6.0).reshape(3, 2))
    loader = torch.utils.data.DataLoader(data, batch_size=2, pin_memory=True)
    with pytest.warns(UserWarning, match="no accelerator is found, then device pinned memory"):
        batches = list(loader)
    assert [b[0].shape[0] for b in batches] == [2, 1]
    assert not batches[0][0].is_pinned()


def test_pin_memory_helper_keeps_structure(monkeypatch):
    from rtorch.utils.data import _pin_memory

    marked = []

    def fake_pin(self, device=None):
        marked.append(tuple(self.shape))
        return self

    monkeypatch.setattr(torch.Tensor, "pin_memory", fake_pin)
    import collections

    Pair = collections.namedtuple("Pair", "a b")
    data = {"x": torch.ones(2), "y": (torch.ones(3), "s"), "p": Pair(torch.ones(1), 2)}
    out = _pin_memory.pin_memory(data)
    assert isinstance(out, dict) and isinstance(out["p"], Pair) and out["y"][1] == "s"
    assert isinstance(out["y"], list)
    assert sorted(marked) == [(1,), (2,), (3,)]


# ---- the CUDA library preload --------------------------------------------------------------


def test_preload_never_raises_and_is_cached():
    from rtorch.cuda import _libs

    first = _libs.preload()
    assert set(first) == {"nvrtc-builtins", "nvrtc", "cublasLt", "cublas"}
    assert all(v is None or os.path.isfile(v) for v in first.values())
    assert _libs.preload() == first
    assert isinstance(_libs.lib_dirs(), list) and isinstance(_libs.include_dirs(), list)


def _nvrtc_wheel_lib():
    spec = importlib.util.find_spec("nvidia")
    for root in (spec.submodule_search_locations if spec else None) or []:
        for sub in ("cu13", "cuda_nvrtc"):
            path = os.path.join(root, sub, "lib", "libnvrtc.so.13")
            if os.path.isfile(path):
                return path
    return None


@pytest.mark.skipif(
    _nvrtc_wheel_lib() is None,
    reason='the nvidia-cuda-nvrtc wheel is not installed (pip install "nvidia-cuda-nvrtc==13.0.*")',
)
def test_preload_finds_and_loads_nvrtc():
    from rtorch.cuda import _libs

    found = _libs.preload()
    assert found["nvrtc"] is not None and found["nvrtc"].endswith("libnvrtc.so.13")
    assert found["nvrtc-builtins"] is not None
    assert os.path.samefile(found["nvrtc"], _nvrtc_wheel_lib())
    # Loaded globally: opening the bare soname now finds the copy already in the process.
    lib = ctypes.CDLL("libnvrtc.so.13")
    major, minor = ctypes.c_int(), ctypes.c_int()
    assert lib.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor)) == 0
    assert (major.value, minor.value) == (13, 0)


# The compile check without a GPU: tests/python/test_cuda_kernels.py (one compile per arch).


@pytest.mark.skipif(BUILT_WITH_CUDA, reason="message of builds without CUDA support")
def test_compile_check_without_cuda_feature():
    with pytest.raises(RuntimeError, match="Torch not compiled with CUDA enabled"):
        torch.cuda._compile_check("sm_90")


# ---- with a GPU ----------------------------------------------------------------------------


@needs_gpu
def test_gpu_device_queries():
    n = torch.cuda.device_count()
    assert n >= 1 and torch.cuda.is_available()
    torch.cuda.init()
    assert torch.cuda.is_initialized()
    assert 0 <= torch.cuda.current_device() < n
    name = torch.cuda.get_device_name(0)
    assert isinstance(name, str) and name
    major, minor = torch.cuda.get_device_capability(0)
    assert major >= 3 and minor >= 0
    props = torch.cuda.get_device_properties(0)
    assert props.name == name and props.total_memory > 0
    assert (props.major, props.minor) == (major, minor)
    assert "total_memory=" in repr(props)
    torch.cuda.synchronize()
    with pytest.raises(AssertionError, match="Invalid device id"):
        torch.cuda.get_device_properties(n)


@needs_gpu
def test_gpu_tensor_device_and_conversions():
    t = torch.arange(4.0, device="cuda")
    assert t.is_cuda and not t.is_cpu and t.get_device() == 0
    assert t.device == torch.device("cuda:0") and t.device.index == 0
    assert "device='cuda:0'" in repr(t)
    assert t.tolist() == [0.0, 1.0, 2.0, 3.0] and t[1].item() == 1.0
    with pytest.raises(TypeError, match="can't convert cuda:0 device type tensor to numpy"):
        t.numpy()
    with pytest.raises(TypeError, match=r"Use Tensor.cpu\(\) to copy the tensor to host memory"):
        np.asarray(t)
    assert t.cuda() is t and t.to("cuda:0") is t
    c = t.cpu()
    assert c.device.type == "cpu" and c.tolist() == t.tolist()
    assert torch.ones(2).cuda().device == torch.device("cuda:0")
    assert torch.ones(2).to(t).device == t.device
    assert torch.zeros_like(t).device == t.device
    assert _reduce_roundtrip(t).device == t.device
    with pytest.raises(RuntimeError, match="Invalid device, must be cuda device"):
        torch.ones(1).cuda("cpu")


@needs_gpu
def test_gpu_to_is_differentiable():
    x = torch.ones(3, requires_grad=True)
    y = x.to("cuda") * 2
    y.sum().backward()
    assert x.grad.device.type == "cpu" and x.grad.tolist() == [2.0, 2.0, 2.0]


@needs_gpu
def test_gpu_module_to_keeps_parameter_identity():
    m = nn.Linear(3, 2)
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    params = list(m.parameters())
    m.to("cuda")
    assert all(p is q for p, q in zip(params, m.parameters()))
    assert all(p.is_cuda and p.requires_grad for p in m.parameters())
    loss = m(torch.ones(4, 3, device="cuda")).sum()
    loss.backward()
    opt.step()
    assert all(p.grad.is_cuda for p in m.parameters())
    m.cpu()
    assert all(p is q and p.is_cpu for p, q in zip(params, m.parameters()))
    with pytest.raises(RuntimeError, match="on the same device"):
        params[0].grad = torch.zeros(2, 3, device="cuda")


@needs_gpu
def test_gpu_pinned_memory_and_loader():
    t = torch.arange(6.0)
    p = t.pin_memory()
    assert p.is_pinned() and not t.is_pinned() and p.tolist() == t.tolist()
    assert p.pin_memory() is p
    assert torch.zeros(3, pin_memory=True).is_pinned()
    with pytest.raises(RuntimeError, match="only dense CPU tensors can be pinned"):
        t.cuda().pin_memory()
    data = torch.utils.data.TensorDataset(torch.arange(6.0).reshape(3, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        batches = list(torch.utils.data.DataLoader(data, batch_size=2, pin_memory=True))
    assert all(b[0].is_pinned() for b in batches)


@needs_gpu
def test_gpu_seeds_and_events():
    torch.manual_seed(123)
    assert torch.cuda.initial_seed() == 123
    torch.cuda.manual_seed(7)
    assert torch.cuda.initial_seed() == 7
    torch.cuda.manual_seed_all(9)
    assert torch.cuda.initial_seed() == 9
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    assert start.query()
    start.record()
    x = torch.randn(256, 256, device="cuda")
    (x @ x).sum()
    end.record()
    end.synchronize()
    assert end.query() and start.elapsed_time(end) >= 0.0
    with pytest.raises(RuntimeError, match="enable_timing=True"):
        torch.cuda.Event().elapsed_time(end)
    s = torch.cuda.current_stream()
    assert s == torch.cuda.default_stream() and s.device == torch.device("cuda:0")
    s.synchronize()
    with torch.cuda.stream(s), torch.cuda.device(0):
        assert torch.cuda.current_device() == 0


@needs_gpu
def test_gpu_load_map_location(tmp_path):
    path = tmp_path / "x.pt"
    torch.save({"a": torch.arange(3.0, device="cuda")}, path)
    assert torch.load(path)["a"].device == torch.device("cuda:0")
    assert torch.load(path, map_location="cpu")["a"].device.type == "cpu"
    assert torch.load(path, map_location={"cuda:0": "cpu"})["a"].device.type == "cpu"
    out = torch.load(path, map_location=torch.device("cpu"))["a"]
    assert out.tolist() == [0.0, 1.0, 2.0]
