"""SummaryWriter: event files read back with TensorBoard's own EventAccumulator."""

import importlib.util
import io
import os
import pathlib
import sys

import numpy as np
import pytest

import rtorch as torch
from rtorch import nn

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import (  # noqa: E402
    EventAccumulator,
)

from rtorch.utils.tensorboard import SummaryWriter  # noqa: E402


def _load(path):
    acc = EventAccumulator(
        str(path), size_guidance={"images": 0, "tensors": 0, "histograms": 0, "scalars": 0}
    )
    acc.Reload()
    return acc


def _png_pixels(data):
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)))


def test_scalars_steps_and_values(tmp_path):
    with SummaryWriter(tmp_path) as w:
        for step in range(4):
            w.add_scalar("train/loss", 1.0 / (step + 1), step)
        w.add_scalar("lr", torch.tensor(0.125), global_step=torch.tensor(7))
        w.add_scalar("exact", 0.1, 1, new_style=True, double_precision=True)
    acc = _load(tmp_path)
    ev = acc.Scalars("train/loss")
    assert [e.step for e in ev] == [0, 1, 2, 3]
    np.testing.assert_allclose([e.value for e in ev], [1, 0.5, 1 / 3, 0.25], rtol=1e-6)
    assert [(e.step, e.value) for e in acc.Scalars("lr")] == [(7, 0.125)]
    t = acc.Tensors("exact")[0]
    assert t.step == 1 and list(t.tensor_proto.double_val) == [0.1]
    with pytest.raises(ValueError, match="scalar"):
        SummaryWriter(tmp_path / "bad").add_scalar("x", torch.ones(2), 0)


def test_add_scalars_writes_one_run_per_curve(tmp_path):
    with SummaryWriter(tmp_path) as w:
        for step in range(3):
            w.add_scalars("loss", {"train": step * 1.0, "test": step * 2.0}, step)
    for name, scale in [("loss_train", 1.0), ("loss_test", 2.0)]:
        acc = _load(tmp_path / name)
        assert [(e.step, e.value) for e in acc.Scalars("loss")] == [
            (s, s * scale) for s in range(3)
        ]


def test_histogram_matches_numpy(tmp_path):
    values = np.random.default_rng(0).normal(size=1000).astype(np.float32)
    with SummaryWriter(tmp_path) as w:
        w.add_histogram("w", torch.from_numpy(values), 3)
        w.add_histogram("w10", values, 4, bins=10)
        w.add_histogram("tiny", values, 5, bins=100, max_bins=20)
    acc = _load(tmp_path)
    h = acc.Histograms("w")[0]
    assert h.step == 3
    hv = h.histogram_value
    assert hv.num == 1000 and sum(hv.bucket) == 1000
    np.testing.assert_allclose(hv.min, values.min(), rtol=1e-6)
    np.testing.assert_allclose(hv.max, values.max(), rtol=1e-6)
    np.testing.assert_allclose(hv.sum, values.astype(np.float64).sum(), rtol=1e-5)
    np.testing.assert_allclose(hv.sum_squares, (values.astype(np.float64) ** 2).sum(), rtol=1e-5)
    counts, edges = np.histogram(values, bins=10)
    hv10 = acc.Histograms("w10")[0].histogram_value
    # Trailing buckets hold everything; the upper limits are numpy's edges.
    np.testing.assert_array_equal(np.asarray(hv10.bucket)[-10:], counts)
    np.testing.assert_allclose(np.asarray(hv10.bucket_limit)[-10:], edges[1:], rtol=1e-6)
    hvt = acc.Histograms("tiny")[0].histogram_value
    assert len(hvt.bucket) <= 20 and sum(hvt.bucket) == 1000
    with pytest.raises(ValueError, match="empty"):
        SummaryWriter(tmp_path / "e").add_histogram("e", torch.zeros(0))


def test_images_layouts_and_dtypes(tmp_path):
    chw = torch.zeros(3, 4, 5)
    chw[0] = 1.0  # pure red
    hwc = np.zeros((4, 5, 3), np.uint8)
    hwc[..., 2] = 200
    with SummaryWriter(tmp_path) as w:
        w.add_image("chw", chw, 1)
        w.add_image("hwc", hwc, 2, dataformats="HWC")
        w.add_image("gray", torch.full((4, 5), 0.5), 3, dataformats="HW")
        w.add_images("batch", torch.rand(10, 1, 4, 5), 4)
        w.add_images("nhwc", np.zeros((2, 4, 5, 3), np.uint8), 5, dataformats="NHWC")
    acc = _load(tmp_path)
    im = acc.Images("chw")[0]
    assert (im.step, im.width, im.height) == (1, 5, 4)
    px = _png_pixels(im.encoded_image_string)
    assert px.shape == (4, 5, 3) and (px[..., 0] == 255).all() and (px[..., 1:] == 0).all()
    px = _png_pixels(acc.Images("hwc")[0].encoded_image_string)
    assert (px[..., 2] == 200).all() and (px[..., :2] == 0).all()
    px = _png_pixels(acc.Images("gray")[0].encoded_image_string)
    assert px.shape == (4, 5, 3) and (px == 128).all()
    b = acc.Images("batch")[0]
    # 10 images in rows of 8: a 2×8 grid.
    assert (b.width, b.height) == (8 * 5, 2 * 4)
    assert (acc.Images("nhwc")[0].width, acc.Images("nhwc")[0].height) == (10, 4)
    w = SummaryWriter(tmp_path / "bad")
    with pytest.raises(ValueError, match="channels"):
        w.add_image("x", torch.zeros(2, 4, 4))
    with pytest.raises(ValueError, match="dataformats"):
        w.add_image("x", torch.zeros(4, 4), dataformats="CHW")
    w.close()


def test_figure(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(2, 1.5), dpi=50)
    plt.plot([0, 1], [1, 0])
    with SummaryWriter(tmp_path) as w:
        w.add_figure("fig", fig, 2)
    im = _load(tmp_path).Images("fig")[0]
    assert (im.step, im.width, im.height) == (2, 100, 75)
    assert _png_pixels(im.encoded_image_string).shape == (75, 100, 4)
    assert not plt.fignum_exists(fig.number)


def test_text_and_hparams(tmp_path):
    with SummaryWriter(tmp_path) as w:
        w.add_text("notes", "lr **0.1**", 3)
        w.add_hparams(
            {"lr": 0.1, "layers": 2, "opt": "adam", "bn": True},
            {"hparam/acc": 0.75},
            hparam_domain_discrete={"opt": ["adam", "sgd"]},
            run_name="trial",
        )
    acc = _load(tmp_path)
    t = acc.Tensors("notes/text_summary")[0]
    assert t.step == 3 and t.tensor_proto.string_val == [b"lr **0.1**"]
    run = _load(tmp_path / "trial")
    assert [e.value for e in run.Scalars("hparam/acc")] == [0.75]
    from tensorboard.plugins.hparams import plugin_data_pb2

    content = run.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(
        content["_hparams_/session_start_info"]
    ).session_start_info
    assert start.hparams["lr"].number_value == 0.1
    assert start.hparams["opt"].string_value == "adam"
    assert start.hparams["bn"].bool_value is True
    exp = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"]).experiment
    assert sorted(i.name for i in exp.hparam_infos) == ["bn", "layers", "lr", "opt"]
    opt = next(i for i in exp.hparam_infos if i.name == "opt")
    assert [v.string_value for v in opt.domain_discrete.values] == ["adam", "sgd"]
    assert [m.name.tag for m in exp.metric_infos] == ["hparam/acc"]
    with pytest.raises(ValueError, match="hyperparameter 'bad'"):
        SummaryWriter(tmp_path / "x").add_hparams({"bad": object()}, {})


def test_graph_of_a_model(tmp_path):
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    with SummaryWriter(tmp_path) as w:
        w.add_graph(model, torch.randn(5, 4))
    g = _load(tmp_path).Graph()
    nodes = {n.name: n for n in g.node}
    assert "input/input.0" in nodes and "output/output.0" in nodes
    for p in ["0/weight", "0/bias", "2/weight", "2/bias"]:
        assert f"Sequential/{p}" in nodes
        assert nodes[f"Sequential/{p}"].op == "Parameter"
    relu = [n for n in g.node if n.op == "ReluBackward0"]
    assert len(relu) == 1 and relu[0].name.startswith("Sequential/1/")
    out = nodes["output/output.0"]
    producer = nodes[out.input[0]]
    assert producer.name.startswith("Sequential/2/")
    shape = [d.size for d in producer.attr["_output_shapes"].list.shape[0].dim]
    assert shape == [5, 2]
    # Every edge names an existing node.
    assert all(i in nodes for n in g.node for i in n.input)


def test_embedding_files(tmp_path):
    mat = torch.randn(6, 3)
    with SummaryWriter(tmp_path) as w:
        w.add_embedding(mat, metadata=list("abcdef"), label_img=torch.rand(6, 1, 4, 4), global_step=2)
    folder = tmp_path / "00002" / "default"
    np.testing.assert_allclose(np.loadtxt(folder / "tensors.tsv"), mat.numpy(), rtol=1e-6)
    assert (folder / "metadata.tsv").read_text().split() == list("abcdef")
    sprite = _png_pixels((folder / "sprite.png").read_bytes())
    assert sprite.shape == (12, 12, 3)  # 3×3 grid of 4×4 images
    cfg = (tmp_path / "projector_config.pbtxt").read_text()
    assert 'tensor_path: "00002/default/tensors.tsv"' in cfg


def test_purge_step_flush_and_default_logdir(tmp_path, monkeypatch):
    with SummaryWriter(tmp_path) as w:
        for s in range(5):
            w.add_scalar("x", s, s)
    # A resumed run from step 3 hides the old steps 3 and 4.
    with SummaryWriter(tmp_path, purge_step=3) as w:
        w.add_scalar("x", 30.0, 3)
    assert [(e.step, e.value) for e in _load(tmp_path).Scalars("x")] == [
        (0, 0),
        (1, 1),
        (2, 2),
        (3, 30),
    ]
    monkeypatch.chdir(tmp_path)
    w = SummaryWriter(comment="_exp", flush_secs=1, max_queue=2)
    assert w.log_dir.startswith("runs" + os.sep) and w.log_dir.endswith("_exp")
    w.add_scalar("y", 1.0, 0)
    w.flush()
    assert [e.value for e in _load(w.get_logdir()).Scalars("y")] == [1.0]
    w.close()


def test_digits_demo_logs(tmp_path, monkeypatch):
    pytest.importorskip("sklearn")
    pytest.importorskip("tqdm")
    path = pathlib.Path(__file__).resolve().parents[2] / "examples" / "train_digits.py"
    spec = importlib.util.spec_from_file_location("train_digits", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    logs = tmp_path / "tb"
    argv = ["train_digits", "--model", "mlp", "--epochs", "2", "--plot", str(tmp_path / "p.png")]
    monkeypatch.setattr(sys, "argv", argv + ["--tensorboard", str(logs)])
    mod.main()
    acc = _load(logs)
    assert [e.step for e in acc.Scalars("loss/epoch")] == [1, 2]
    assert len(acc.Scalars("loss/batch")) == 2 * 22  # 1347 training images, batches of 64
    assert "params/1.weight" in acc.Tags()["histograms"] and acc.Tags()["graph"]
    assert [e.step for e in _load(logs / "accuracy_test").Scalars("accuracy")] == [1, 2]


def test_missing_package_names_the_extra(monkeypatch):
    for name in [m for m in sys.modules if m.startswith("rtorch.utils.tensorboard")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    with pytest.raises(ImportError, match=r"rtorch\[tensorboard\]"):
        import rtorch.utils.tensorboard  # noqa: F401
