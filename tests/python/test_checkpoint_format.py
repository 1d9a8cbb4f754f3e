"""rtorch.save / rtorch.load in PyTorch's checkpoint format: round trips, files written by
PyTorch (tests/data, made by tests/data/make_torch_checkpoints.py), files read by PyTorch
when it is installed, the weights-only allow-list, and malformed or hostile files."""

import collections
import io
import os
import pickle
import zipfile

import numpy as np
import pytest

import rtorch as torch
import rtorch.nn as nn
from rtorch.serialization import add_safe_globals, clear_safe_globals, get_safe_globals

DATA = os.path.join(os.path.dirname(__file__), "..", "data")


def roundtrip(obj, **load_kwargs):
    buf = io.BytesIO()
    torch.save(obj, buf)
    return torch.load(io.BytesIO(buf.getvalue()), **load_kwargs)


def same_storage(a, b):
    return a.untyped_storage_ptr() == b.untyped_storage_ptr()


class Point:  # a user class: only loadable once allowed
    def __init__(self, x):
        self.x = x

    def __eq__(self, other):
        return isinstance(other, Point) and other.x == self.x


# ---- round trips ---------------------------------------------------------------------------


def test_written_file_is_pytorch_zip_layout():
    buf = io.BytesIO()
    torch.save({"w": torch.arange(6.0).reshape(2, 3)}, buf)
    archive = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    names = archive.namelist()
    assert names[0] == "archive/data.pkl"
    assert {"archive/version", "archive/byteorder", "archive/data/0"} <= set(names)
    assert archive.read("archive/byteorder") == b"little"
    assert np.frombuffer(archive.read("archive/data/0"), "<f4").tolist() == list(range(6))
    # storage records start on 64-byte boundaries (readers may memory-map them)
    info = archive.getinfo("archive/data/0")
    raw = buf.getvalue()
    name_len = int.from_bytes(raw[info.header_offset + 26 : info.header_offset + 28], "little")
    extra_len = int.from_bytes(raw[info.header_offset + 28 : info.header_offset + 30], "little")
    assert (info.header_offset + 30 + name_len + extra_len) % 64 == 0


@pytest.mark.parametrize(
    "dtype", ["float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8",
              "uint8", "bool"]
)
def test_dtype_roundtrip(dtype):
    dt = getattr(torch, dtype)
    t = (torch.arange(-3, 9) % 5).reshape(3, 4).to(dt)
    out = roundtrip({"t": t})["t"]
    assert out.dtype == dt and out.shape == t.shape
    assert out.tolist() == t.tolist()


def test_views_keep_sharing_strides_and_offsets():
    base = torch.arange(20.0).reshape(4, 5)
    obj = {"base": base, "row": base[2], "cols": base[:, 1::2], "t": base.t(), "alias": base}
    out = roundtrip(obj)
    assert out["base"] is out["alias"]
    for key in ("row", "cols", "t"):
        assert same_storage(out[key], out["base"])
        assert out[key].stride() == obj[key].stride()
        assert out[key].storage_offset() == obj[key].storage_offset()
        assert out[key].tolist() == obj[key].tolist()
    out["base"][2, 3] = -1.0  # writes through the shared storage
    assert out["row"][3].item() == -1.0


def test_noncontiguous_view_alone_stores_its_whole_storage():
    base = torch.arange(12.0).reshape(3, 4)
    out = roundtrip(base[:, 2])
    assert out.tolist() == [2.0, 6.0, 10.0] and out.stride() == (4,)
    assert out.storage_offset() == 2


def test_python_structure_roundtrip():
    obj = {
        "n": 3, "f": 2.5, "inf": float("inf"), "s": "text", "none": None, "b": b"\x00\xff",
        "tuple": (1, (2, 3)), "list": [1, [torch.ones(2)]],
        "od": collections.OrderedDict([("z", 1), ("a", 2)]),
        "counter": collections.Counter("aab"), "set": {1, 2}, "complex": 1 + 2j,
        "size": torch.Size([2, 3]), "device": torch.device("cpu"), "dtype": torch.bfloat16,
        7: "int key",
    }
    out = roundtrip(obj)
    assert out["list"][1][0].tolist() == [1.0, 1.0]
    for key in obj:
        if key != "list":
            assert out[key] == obj[key] and type(out[key]) is type(obj[key])


def test_requires_grad_and_parameters():
    p = nn.Parameter(torch.randn(2, 2))
    frozen = nn.Parameter(torch.randn(2), requires_grad=False)
    leaf = torch.ones(3, requires_grad=True)
    out = roundtrip({"p": p, "frozen": frozen, "leaf": leaf})
    assert isinstance(out["p"], nn.Parameter) and out["p"].requires_grad
    assert isinstance(out["frozen"], nn.Parameter) and not out["frozen"].requires_grad
    assert type(out["leaf"]) is torch.Tensor and out["leaf"].requires_grad
    assert out["p"].tolist() == p.tolist()


def test_model_and_optimizer_state_roundtrip():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    model(torch.randn(5, 3)).sum().backward()
    opt.step()
    state = roundtrip({"model": model.state_dict(), "opt": opt.state_dict()})
    fresh = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    fresh.load_state_dict(state["model"])
    for a, b in zip(fresh.state_dict().values(), model.state_dict().values()):
        assert a.tolist() == b.tolist()
    opt2 = torch.optim.Adam(fresh.parameters(), lr=0.01)
    opt2.load_state_dict(state["opt"])
    assert opt2.state_dict()["param_groups"] == opt.state_dict()["param_groups"]


def test_paths_and_mmap(tmp_path):
    path = tmp_path / "ckpt.pt"
    torch.save({"w": torch.arange(4.0)}, path)
    assert torch.load(path)["w"].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert torch.load(str(path), mmap=True)["w"].tolist() == [0.0, 1.0, 2.0, 3.0]
    with open(path, "rb") as fh:
        assert torch.load(fh)["w"].shape == (4,)
    with pytest.raises(ValueError, match="mmap=True needs a file path"):
        torch.load(io.BytesIO(path.read_bytes()), mmap=True)


def test_map_location_forms():
    t = {"w": torch.arange(3.0)}
    assert roundtrip(t, map_location="cpu")["w"].device.type == "cpu"
    assert roundtrip(t, map_location=torch.device("cpu"))["w"].device.type == "cpu"
    assert roundtrip(t, map_location={"cpu": "cpu"})["w"].tolist() == [0.0, 1.0, 2.0]
    seen = []
    out = roundtrip(t, map_location=lambda storage, loc: seen.append(loc) or storage)
    assert seen == ["cpu"] and out["w"].tolist() == [0.0, 1.0, 2.0]


def test_save_rejects_unsupported_options():
    with pytest.raises(ValueError, match="legacy"):
        torch.save({}, io.BytesIO(), _use_new_zipfile_serialization=False)
    with pytest.raises(TypeError, match="path or a binary file"):
        torch.save({}, 123)


# ---- files written by PyTorch --------------------------------------------------------------


def test_pytorch_tensors_file():
    out = torch.load(os.path.join(DATA, "torch_tensors.pt"))
    base = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert out["base"].tolist() == base.tolist()
    assert out["base"] is out["same_object"]
    assert out["row_view"].tolist() == base[1].tolist() and same_storage(out["row_view"],
                                                                         out["base"])
    assert out["strided_view"].stride() == (4, 2)
    assert out["strided_view"].tolist() == base[:, 1::2].tolist()
    assert out["transposed"].stride() == (1, 4) and same_storage(out["transposed"], out["base"])
    assert out["float64"].dtype == torch.float64
    assert out["float64"].tolist() == (np.arange(5) / 4).tolist()
    assert out["float16"].dtype == torch.float16
    assert out["float16"].tolist() == (np.arange(6) / 2).tolist()
    assert out["bfloat16"].tolist() == [-1.5, -0.5, 0.5, 1.5]
    assert out["int32"].dtype == torch.int32 and out["int32"].tolist() == list(range(-3, 3))
    assert out["int8"].tolist() == [-2, -1, 0, 1]
    assert out["uint8"].tolist() == [250, 251, 252, 253, 254, 255]
    assert out["bool"].tolist() == [True, False, True]
    assert out["scalar"].shape == () and out["scalar"].item() == 2.5
    assert out["empty"].shape == (0, 3)
    assert out["needs_grad"].requires_grad and out["needs_grad"].is_leaf
    assert isinstance(out["parameter"], nn.Parameter)
    assert out["size"] == torch.Size([2, 3]) and isinstance(out["size"], torch.Size)
    assert out["device"] == torch.device("cpu") and out["dtype"] == torch.float16
    assert out["nested"][:4] == [1, 2.5, "text", None]
    assert out["nested"][4] == (True, b"raw") and out["nested"][5]["k"].tolist() == [0, 1]
    assert list(out["ordered"].items()) == [("b", 1), ("a", 2)]
    assert out["a_set"] == {1, 3}


def test_pytorch_training_state_loads_into_rtorch_model():
    state = torch.load(os.path.join(DATA, "torch_training_state.pt"))
    assert state["epoch"] == 3
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    model.load_state_dict(state["model"])
    assert model[1].num_batches_tracked.dtype == torch.int64
    assert model[1].num_batches_tracked.item() == 1
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    opt.load_state_dict(state["optimizer"])
    assert sorted(opt.state_dict()["state"][0]) == ["exp_avg", "exp_avg_sq", "step"]
    weights = [np.arange(p.numel(), dtype=np.float32) / 10 + i for i, p in
               enumerate(model.parameters())]
    # one Adam step of lr 0.01 moved every weight by at most lr (plus rounding)
    for p, w in zip(model.parameters(), weights):
        assert np.abs(np.array(p.detach().tolist()).ravel() - w).max() <= 0.0101
    opt.step()  # the loaded state keeps training


def test_pytorch_legacy_format_file():
    out = torch.load(os.path.join(DATA, "torch_legacy_format.pt"))
    assert out["weight"].tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]] and out["step"] == 7


def test_numpy_arrays_need_trust():
    path = os.path.join(DATA, "torch_numpy.pt")
    with pytest.raises(pickle.UnpicklingError, match="_reconstruct"):
        torch.load(path)
    out = torch.load(path, weights_only=False)
    assert out["array"].dtype == np.int16 and out["array"].tolist() == [0, 1, 2, 3]


def test_unsupported_dtype_is_named():
    with pytest.raises(RuntimeError, match="torch.uint16"):
        torch.load(os.path.join(DATA, "torch_uint16.pt"))


def test_pytorch_reads_rtorch_files(tmp_path, real_torch):
    base = torch.arange(12.0).reshape(3, 4)
    model = nn.Linear(3, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.ones(1, 3)).sum().backward()
    opt.step()
    path = tmp_path / "ours.pt"
    torch.save({"base": base, "view": base[:, 1], "t": base.t(), "model": model.state_dict(),
                "opt": opt.state_dict(), "half": torch.ones(2, dtype=torch.bfloat16),
                "size": torch.Size([1, 2]), "dtype": torch.float64}, path)
    theirs = real_torch.load(path, weights_only=True)
    assert theirs["view"].tolist() == [1.0, 5.0, 9.0]
    assert theirs["view"].untyped_storage().data_ptr() == theirs["base"].untyped_storage(
    ).data_ptr()
    assert theirs["t"].stride() == (1, 4)
    assert theirs["half"].dtype == real_torch.bfloat16
    assert theirs["dtype"] is real_torch.float64 and theirs["size"] == real_torch.Size([1, 2])
    ref = real_torch.nn.Linear(3, 2)
    ref.load_state_dict(theirs["model"])
    assert ref.weight.tolist() == model.weight.tolist()
    ref_opt = real_torch.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
    ref_opt.load_state_dict(theirs["opt"])
    assert real_torch.load(path, weights_only=True, mmap=True)["base"].tolist() == base.tolist()


# ---- the weights-only allow-list -----------------------------------------------------------


def test_user_class_refused_then_allowed():
    buf = io.BytesIO()
    torch.save({"p": Point(3)}, buf)
    data = buf.getvalue()
    with pytest.raises(pickle.UnpicklingError, match=r"Point.*add_safe_globals"):
        torch.load(io.BytesIO(data))
    assert torch.load(io.BytesIO(data), weights_only=False)["p"] == Point(3)
    with torch.serialization.safe_globals([Point]):
        assert torch.load(io.BytesIO(data))["p"] == Point(3)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(io.BytesIO(data))  # the context ended
    try:
        add_safe_globals([Point])
        assert Point in get_safe_globals()
        assert torch.load(io.BytesIO(data))["p"] == Point(3)
    finally:
        clear_safe_globals()
    assert get_safe_globals() == []


def _checkpoint_with_pickle(payload):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("archive/data.pkl", payload)
        archive.writestr("archive/version", b"3\n")
    return buf.getvalue()


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_hostile_pickle_never_runs(monkeypatch):
    data = _checkpoint_with_pickle(pickle.dumps(_RunsCode(), protocol=2))
    calls = []
    monkeypatch.setattr(os, "system", lambda cmd: calls.append(cmd))
    with pytest.raises(pickle.UnpicklingError, match="system"):
        torch.load(io.BytesIO(data))
    assert calls == []
    with pytest.raises(pickle.UnpicklingError, match="frozenset"):
        torch.load(io.BytesIO(_checkpoint_with_pickle(pickle.dumps(frozenset([1]), protocol=2))))


@pytest.mark.parametrize(
    "make, exc, match",
    [
        (lambda good: good[: len(good) // 2], RuntimeError, "not a valid checkpoint archive"),
        (lambda good: b"garbage!" * 4, RuntimeError, "neither a PyTorch checkpoint"),
        (lambda good: _checkpoint_with_pickle(b"\x80\x02}q\x00(X"), pickle.UnpicklingError,
         "corrupt"),
        (lambda good: _checkpoint_with_pickle(b"nonsense"), pickle.UnpicklingError, "corrupt"),
        (lambda good: _drop_record(good, "archive/data/0"), RuntimeError, "no record"),
        (lambda good: _replace_record(good, "archive/data/0", b"\0" * 8), RuntimeError,
         "holds 8 bytes"),
        (lambda good: _replace_record(good, "archive/byteorder", b"middle"), RuntimeError,
         "byte order"),
    ],
)
def test_malformed_files_raise_cleanly(make, exc, match):
    buf = io.BytesIO()
    torch.save({"w": torch.arange(6.0)}, buf)
    with pytest.raises(exc, match=match):
        torch.load(io.BytesIO(make(buf.getvalue())))


def _copy_records(good, change):
    src = zipfile.ZipFile(io.BytesIO(good))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name in src.namelist():
            data = change(name, src.read(name))
            if data is not None:
                archive.writestr(name, data)
    return out.getvalue()


def _drop_record(good, record):
    return _copy_records(good, lambda name, data: None if name == record else data)


def _replace_record(good, record, new):
    return _copy_records(good, lambda name, data: new if name == record else data)


def test_geometry_outside_the_storage_is_refused():
    # a tensor whose size needs more elements than its storage declares and holds
    buf = io.BytesIO()
    torch.save({"w": torch.arange(4.0)}, buf)
    good = buf.getvalue()
    pkl = zipfile.ZipFile(io.BytesIO(good)).read("archive/data.pkl")
    bad = pkl.replace(b"K\x04\x85", b"K\x40\x85", 1)  # size (4,) -> (64,)
    assert bad != pkl
    with pytest.raises(RuntimeError, match="as_strided"):
        torch.load(io.BytesIO(_replace_record(good, "archive/data.pkl", bad)))


# ---- as_strided, which rebuilds every loaded tensor ----------------------------------------


def test_as_strided_views_storage():
    base = torch.arange(10.0)
    v = base.as_strided((2, 3), (3, 1), 1)
    assert v.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]] and same_storage(v, base)
    assert torch.as_strided(base, (3,), (2,)).tolist() == [0.0, 2.0, 4.0]
    overlap = base.as_strided((3, 3), (1, 1))
    assert overlap.tolist() == [[0.0, 1.0, 2.0], [1.0, 2.0, 3.0], [2.0, 3.0, 4.0]]


def test_as_strided_gradient_accumulates_overlaps():
    x = torch.arange(5.0, dtype=torch.float64, requires_grad=True)
    y = x.as_strided((3, 3), (1, 1))
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 2.0, 3.0, 2.0, 1.0]
    assert y.grad_fn.name() == "AsStridedBackward0"
    z = torch.randn(6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: t.as_strided((2, 2), (2, 1), 1), (z,))


def test_as_strided_errors():
    base = torch.arange(6.0)
    with pytest.raises(RuntimeError, match="as_strided"):
        base.as_strided((4,), (2,))
    with pytest.raises(RuntimeError, match="mismatch in length"):
        base.as_strided((2, 2), (1,))
    with pytest.raises(RuntimeError, match="negative strides"):
        base.as_strided((2,), (-1,), 3)
    with pytest.raises(RuntimeError, match="storage offset"):
        base.as_strided((2,), (1,), -1)
    g = torch.arange(6.0, requires_grad=True).reshape(2, 3).t()
    with pytest.raises(RuntimeError, match="contiguous"):
        g.as_strided((2,), (1,))


# ---- plain pickle ------------------------------------------------------------------------


def test_plain_pickle_of_tensors_modules_and_optimizers():
    t = torch.arange(6.0).reshape(2, 3).t()
    back = pickle.loads(pickle.dumps(t))
    assert back.tolist() == t.tolist() and type(back) is torch.Tensor
    assert torch.Tensor.__module__ == "rtorch"
    model = nn.Linear(3, 2)
    copy = pickle.loads(pickle.dumps(model))
    assert isinstance(copy.weight, nn.Parameter) and copy.weight.tolist() == model.weight.tolist()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    assert pickle.loads(pickle.dumps(opt)).param_groups[0]["lr"] == 0.1
    for dtype in (torch.float16, torch.bfloat16, torch.int64, torch.bool):
        assert pickle.loads(pickle.dumps(dtype)) is dtype
    assert pickle.loads(pickle.dumps(torch.device("cpu"))) == torch.device("cpu")


def test_whole_pytorch_module_loads_when_trusted():
    path = os.path.join(DATA, "torch_whole_module.pt")
    with pytest.raises(pickle.UnpicklingError, match="Sequential"):
        torch.load(path)
    model = torch.load(path, weights_only=False)
    assert isinstance(model, nn.Sequential) and isinstance(model[2], nn.BatchNorm1d)
    assert not model.training
    x = np.arange(6.0).reshape(2, 3) / 4
    hidden = np.maximum(x @ (np.arange(12.0).reshape(4, 3) / 10).T - 0.5, 0.0)
    expected = (hidden - 0.25) / np.sqrt(1.0 + 1e-5)
    out = model(torch.tensor(x, dtype=torch.float32))
    np.testing.assert_allclose(np.array(out.tolist()), expected, rtol=1e-5, atol=1e-6)
