"""safetensors files (rtorch.utils.safetensors): layout, nested structures, dtypes, bad files."""

import collections
import io
import json
import math
import struct

import numpy as np
import pytest

import rtorch as torch
from rtorch.utils.safetensors import load_object as load
from rtorch.utils.safetensors import save_object as save

NP_DTYPES = {
    "bool": np.bool_,
    "uint8": np.uint8,
    "int8": np.int8,
    "int16": np.int16,
    "int32": np.int32,
    "int64": np.int64,
    "float16": np.float16,
    "float32": np.float32,
    "float64": np.float64,
}
CODES = {
    "bool": "BOOL", "uint8": "U8", "int8": "I8", "int16": "I16", "int32": "I32",
    "int64": "I64", "float16": "F16", "bfloat16": "BF16", "float32": "F32", "float64": "F64",
}  # fmt: skip


def roundtrip(obj, **load_kwargs):
    buf = io.BytesIO()
    save(obj, buf)
    buf.seek(0)
    return load(buf, **load_kwargs)


def read_header(raw):
    n = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8 : 8 + n]), raw[8 + n :], n


def sample(name, shape=(2, 3)):
    rng = np.random.default_rng(0)
    if name == "bool":
        arr = rng.random(shape) > 0.5
    elif name.startswith(("int", "uint")):
        info = np.iinfo(NP_DTYPES[name])
        lo, hi = max(info.min, -1000), min(info.max, 1000)
        arr = rng.integers(lo, hi, shape).astype(NP_DTYPES[name])
    else:
        arr = rng.standard_normal(shape).astype(NP_DTYPES[name])
    return arr


def assert_same(a, b):
    assert torch.is_tensor(b)
    assert a.dtype == b.dtype and tuple(a.shape) == tuple(b.shape)
    assert a.tolist() == b.tolist() or (
        a.dtype in (torch.float16, torch.bfloat16, torch.float32, torch.float64)
        and np.array_equal(np.array(a.tolist()), np.array(b.tolist()), equal_nan=True)
    )


@pytest.mark.parametrize("name", list(NP_DTYPES))
@pytest.mark.parametrize("shape", [(2, 3), (), (0, 4), (5,)])
def test_dtype_roundtrip_and_bytes(name, shape):
    arr = sample(name, shape)
    t = torch.from_numpy(arr.copy())
    assert t.dtype == getattr(torch, name)
    buf = io.BytesIO()
    save({"t": t}, buf)
    raw = buf.getvalue()
    header, data, n = read_header(raw)
    assert n % 8 == 0
    assert header["t"]["dtype"] == CODES[name] and header["t"]["shape"] == list(shape)
    begin, end = header["t"]["data_offsets"]
    assert data[begin:end] == arr.astype(arr.dtype.newbyteorder("<")).tobytes()
    assert_same(t, load(io.BytesIO(raw))["t"])


def test_bfloat16_roundtrip_and_bits():
    values = [1.0, -2.5, 0.15625, 2.0**100, float("inf")]  # exact in bfloat16
    t = torch.tensor(values, dtype=torch.bfloat16)
    buf = io.BytesIO()
    save({"b": t}, buf)
    header, data, _ = read_header(buf.getvalue())
    assert header["b"]["dtype"] == "BF16"
    # bfloat16 is the upper half of float32's bits
    f32_bits = np.array(t.tolist(), dtype=np.float32).view(np.uint32) >> 16
    assert np.frombuffer(data, dtype="<u2").tolist() == f32_bits.tolist()
    assert_same(t, roundtrip({"b": t})["b"])


def test_noncontiguous_tensor_saved_by_value():
    base = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    col = base[:, 1]
    out = roundtrip({"col": col})["col"]
    assert out.tolist() == [2.0, 5.0] and tuple(out.shape) == (2,)


def test_plain_tensor_dict_uses_keys_as_names():
    sd = {"layer.weight": torch.tensor([[1.0, 2.0]]), "layer.bias": torch.tensor([0.5])}
    buf = io.BytesIO()
    save(sd, buf)
    header, _, _ = read_header(buf.getvalue())
    assert set(header) == {"layer.weight", "layer.bias", "__metadata__"}
    meta = header["__metadata__"]
    assert meta["format"] == "pt" and all(isinstance(v, str) for v in meta.values())
    out = load(io.BytesIO(buf.getvalue()))
    assert type(out) is dict and list(out) == ["layer.weight", "layer.bias"]
    assert out["layer.weight"].tolist() == [[1.0, 2.0]]


def test_nested_structure_roundtrip():
    t1, t2 = torch.tensor([1, 2, 3]), torch.tensor([[0.5]])
    obj = {
        "a": [t1, {"b": t2, "c": None}],
        3: (True, False, 7, -2.5, "s", b"\x00\xff"),
        "floats": [float("inf"), float("-inf"), 1e-300, 0.1],
        "empty": {},
        "nested_tuple": ((1,), [2, (3, [])]),
        (1, "k"): "tuple key",
        None: 1,
        2.5: "float key",
    }
    out = roundtrip(obj)
    assert list(out.keys()) == list(obj.keys())
    assert out["a"][0].tolist() == [1, 2, 3] and out["a"][0].dtype == torch.int64
    assert out["a"][1]["b"].tolist() == [[0.5]] and out["a"][1]["c"] is None
    assert out[3] == (True, False, 7, -2.5, "s", b"\x00\xff")
    assert type(out[3][2]) is int and type(out[3][0]) is bool
    assert out["floats"][:2] == [math.inf, -math.inf] and out["floats"][2:] == [1e-300, 0.1]
    assert out["empty"] == {} and out["nested_tuple"] == ((1,), [2, (3, [])])
    assert out[(1, "k")] == "tuple key" and out[None] == 1 and out[2.5] == "float key"
    nan = roundtrip({"x": float("nan")})["x"]
    assert math.isnan(nan)


def test_top_level_tensor_list_and_scalars():
    t = torch.tensor([1.0, 2.0])
    assert roundtrip(t).tolist() == [1.0, 2.0]
    out = roundtrip([t, t])
    assert isinstance(out, list) and len(out) == 2 and out[1].tolist() == [1.0, 2.0]
    assert roundtrip(5) == 5 and roundtrip("x") == "x" and roundtrip(None) is None
    assert roundtrip((1, 2.0)) == (1, 2.0)


def test_ordered_dict_and_counter_preserved():
    od = collections.OrderedDict([("z", torch.tensor([1.0])), ("a", torch.tensor([2.0]))])
    out = roundtrip(od)
    assert type(out) is collections.OrderedDict and list(out) == ["z", "a"]
    c = roundtrip({"m": collections.Counter([2, 2, 5])})["m"]
    assert isinstance(c, collections.Counter) and c == collections.Counter({2: 2, 5: 1})


def test_dtype_objects_and_requires_grad():
    t = torch.tensor([1.0, 2.0], requires_grad=True)
    out = roundtrip({"dtype": torch.float16, "p": t})
    assert out["dtype"] == torch.float16
    assert out["p"].requires_grad and out["p"].tolist() == [1.0, 2.0]


def test_optimizer_state_dict_roundtrip():
    p = torch.tensor([1.0, 2.0], requires_grad=True)
    opt = torch.optim.Adam([p], lr=0.01, betas=(0.8, 0.9))
    p.grad = torch.tensor([0.1, -0.2])
    opt.step()
    sd = opt.state_dict()
    out = roundtrip(sd)
    assert list(out["state"].keys()) == [0]
    assert out["param_groups"] == sd["param_groups"]
    assert out["param_groups"][0]["betas"] == (0.8, 0.9)
    for key in ("step", "exp_avg", "exp_avg_sq"):
        assert_same(sd["state"][0][key], out["state"][0][key])
    q = torch.tensor([1.0, 2.0], requires_grad=True)
    opt2 = torch.optim.Adam([q])
    opt2.load_state_dict(out)
    assert opt2.param_groups[0]["lr"] == 0.01


def test_scheduler_state_dict_roundtrip():
    p = torch.tensor([1.0], requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.1)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[2, 2, 5])
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt)
    out = roundtrip({"multi": sched.state_dict(), "plateau": plateau.state_dict()})
    assert out["multi"]["milestones"] == collections.Counter({2: 2, 5: 1})
    assert out["plateau"]["best"] == math.inf


def test_paths_and_file_objects(tmp_path):
    obj = {"w": torch.tensor([1.0, 2.0]), "n": 3}
    path = tmp_path / "x.safetensors"
    save(obj, path)
    assert load(path)["w"].tolist() == [1.0, 2.0]
    save(obj, str(path))
    assert load(str(path))["n"] == 3
    with open(path, "wb") as f:
        save(obj, f)
    with open(path, "rb") as f:
        assert torch.load(f, map_location="cpu", weights_only=True)["n"] == 3
    with pytest.raises(TypeError):
        save(obj, 123)


def test_unsupported_objects_raise():
    with pytest.raises(TypeError, match="cannot store"):
        save({"f": lambda x: x}, io.BytesIO())
    with pytest.raises(TypeError, match="cannot store"):
        save({"s": {1, 2}}, io.BytesIO())


def write_raw(header, data=b"", pad=True):
    h = json.dumps(header).encode()
    if pad:
        h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


def test_reads_foreign_safetensors_file():
    a = np.arange(6, dtype="<f4").reshape(2, 3)
    b = np.array([1, -1], dtype="<i8")
    raw = write_raw(
        {
            "b": {"dtype": "I64", "shape": [2], "data_offsets": [24, 40]},
            "a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
        },
        a.tobytes() + b.tobytes(),
        pad=False,
    )
    out = load(io.BytesIO(raw))
    assert type(out) is dict and set(out) == {"a", "b"}
    assert out["a"].tolist() == a.tolist() and out["a"].dtype == torch.float32
    assert out["b"].tolist() == [1, -1] and out["b"].dtype == torch.int64


@pytest.mark.parametrize(
    "raw,match",
    [
        (b"", "too small"),
        (b"\x01\x00", "too small"),
        (struct.pack("<Q", 1000) + b"{}", "exceeds the file size"),
        (struct.pack("<Q", 4) + b"{]x}", "not valid UTF-8 JSON"),
        (struct.pack("<Q", 2) + b"\xff\xfe", "not valid UTF-8 JSON"),
        (write_raw([1, 2]), "not a JSON object"),
        (write_raw({"t": {"dtype": "F32", "shape": [2]}}), "needs 'dtype'"),
        (write_raw({"t": {"dtype": "X9", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4),
         "unsupported dtype"),
        (write_raw({"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 4),
         "outside the data section"),
        (write_raw({"t": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8),
         "needs 12 bytes"),
        (write_raw({"t": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4),
         "invalid shape"),
        (write_raw({"__metadata__": {"a": 1}}), "__metadata__ must map strings"),
        (write_raw({"__metadata__": {"rtorch.structure": "{bad"}}), "structure metadata"),
        (write_raw({"__metadata__": {"rtorch.structure": '{"__tensor__":"nope"}'}}),
         "missing tensor"),
        (write_raw({"__metadata__": {"rtorch.structure": '{"__what__":1}'}}), "unknown tag"),
    ],
)  # fmt: skip
def test_malformed_files_raise(raw, match):
    with pytest.raises(RuntimeError, match=match):
        load(io.BytesIO(raw))


def test_truncated_file(tmp_path):
    buf = io.BytesIO()
    save({"w": torch.tensor([1.0, 2.0, 3.0])}, buf)
    raw = buf.getvalue()
    with pytest.raises(RuntimeError, match="invalid safetensors file"):
        load(io.BytesIO(raw[:-4]))


def test_safetensors_numpy_interop(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    path = tmp_path / "np.safetensors"
    arrays = {"x": np.arange(6, dtype=np.float32).reshape(2, 3), "y": np.array([1, 2], np.int64)}
    st.save_file(arrays, str(path))
    out = load(path)
    assert out["x"].tolist() == arrays["x"].tolist() and out["y"].dtype == torch.int64
    ours = tmp_path / "ours.safetensors"
    save({"a": torch.tensor([[1.0, 2.0]]), "b": torch.tensor([3], dtype=torch.int32)}, ours)
    back = st.load_file(str(ours))
    assert back["a"].tolist() == [[1.0, 2.0]] and back["b"].dtype == np.int32
    nested = tmp_path / "nested.safetensors"
    save({"state": {0: {"m": torch.tensor([1.0])}}, "lr": 0.1}, nested)
    assert list(st.load_file(str(nested))) == ["state.0.m"]


def test_safetensors_torch_reads_our_files(tmp_path):
    pytest.importorskip("torch")
    st = pytest.importorskip("safetensors.torch")
    path = tmp_path / "sd.safetensors"
    save({"w": torch.tensor([1.0, 2.0], dtype=torch.bfloat16)}, path)
    out = st.load_file(str(path))
    assert out["w"].float().tolist() == [1.0, 2.0]
